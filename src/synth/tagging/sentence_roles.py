"""Sentence roles: whether a sentence speaks of the paper's own study or of other work.

A design cue in "Previous randomized trials showed ..." says nothing about what the paper
did; one in "Patients were randomised to ..." does. The rules (markers, structured-abstract
headings, the role of whole fields) are data, ``synth/data/sentence_roles.yml``; this
module loads and validates them and decides a sentence's role from the markers and
headings found in it. The spaCy component that finds them is ``synth_sentence_roles_v1``
(:mod:`synth.tagging.pipeline`); a codebook facet's ``counts_in`` names the roles whose
sentences its cues count in.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from synth.datafiles import load_cached

#: The roles a sentence can have.
ROLES: tuple[str, ...] = ("study", "background", "other", "opening")
STUDY, BACKGROUND, OTHER, OPENING = ROLES
#: the marker kind of :attr:`SentenceRoles.reported` words (not a role a sentence gets)
REPORTED = "reported"
#: ``ALWAYS_COUNT_FIELDS`` (module attribute, read on first use: :func:`__getattr__`) is
#: the package file's :attr:`SentenceRoles.paper_fields`.
_TOP_KEYS = {"fields", "default", "headings", "markers", "before_study"}
_MARKER_ROLES = (STUDY, BACKGROUND)


class SentenceRolesError(ValueError):
    """Sentence-role rules that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class SentenceRoles:
    """Validated sentence-role rules (see ``synth/data/sentence_roles.yml``)."""

    path: Path | None
    #: field -> the role of every sentence in it
    fields: dict[str, str]
    default: str
    #: role -> heading phrases (lower case)
    headings: dict[str, tuple[str, ...]]
    #: role -> marker phrases (lower case)
    markers: dict[str, tuple[str, ...]]
    #: the role of an undecided sentence that ends before its segment's first study
    #: marker (an unstructured abstract's opening), or None to leave it :attr:`default`
    before_study: str | None = None
    #: words that show such a sentence reports what was done ("was", "were"): it keeps
    #: :attr:`default` (matched as markers of the pseudo-role ``reported``)
    reported: tuple[str, ...] = ()

    @property
    def paper_fields(self) -> frozenset[str]:
        """Fields whose hits count in every facet whatever its ``counts_in``: those the
        file makes the paper's own throughout (``fields: {title: study, ...}``)."""
        return frozenset(name for name, role in self.fields.items() if role == STUDY)

    def patterns(self) -> list[dict[str, str]]:
        """Phrase patterns of the markers and headings, for the cue ruler to match in the
        same pass as the cues (ids ``~role|marker|<role>|<phrase>``, ``~role|heading|...``):
        a second matcher over every token would cost a tenth of tokenising."""
        markers = {**self.markers, REPORTED: self.reported} if self.reported else self.markers
        return [
            {"label": f"role/{kind}", "pattern": phrase, "id": f"~role|{kind}|{role}|{phrase}"}
            for kind, table in (("marker", markers), ("heading", self.headings))
            for role, phrases in table.items()
            for phrase in phrases
        ]

    def role(
        self,
        marks: Marks | None,
        start: int,
        end: int,
        segment_start: int,
        segment_end: int | None = None,
    ) -> str:
        """The role of the sentence ``text[start:end]`` from the marks found in its doc:
        a study marker in it, else a background marker, else the last heading before its
        end within its segment, else (with :attr:`before_study` set and ``segment_end``
        given) ``before_study`` when a study marker follows it in its segment, else
        :attr:`default`.

        The last rule reads an unstructured abstract the way it is written: what comes
        before the authors first speak of their own work ("We ...", "This study ...") is
        its background, so "Systematic reviews are required to ..." opening a commentary
        does not make it a review."""
        if marks is None:
            return self.default
        found = marks.marker_roles(start, end)
        if STUDY in found:
            return STUDY
        if BACKGROUND in found:
            return BACKGROUND
        heading = marks.heading_before(end, segment_start)
        if heading:
            return heading
        if (
            self.before_study is not None
            and segment_end is not None
            and REPORTED not in found
            and marks.first_of(STUDY, segment_start, segment_end) >= end
        ):
            return self.before_study
        return self.default


@dataclass(frozen=True, slots=True)
class Marks:
    """Where a doc's markers and headings are: character offsets, sorted, and roles."""

    marker_starts: list[int]
    marker_roles_: list[str]
    heading_starts: list[int]
    heading_roles: list[str]

    def marker_roles(self, start: int, end: int) -> set[str]:
        """Roles of the markers that start in ``[start, end)``."""
        lo = bisect_left(self.marker_starts, start)
        hi = bisect_left(self.marker_starts, end, lo)
        return set(self.marker_roles_[lo:hi]) if hi > lo else set()

    def first_of(self, role: str, start: int, end: int) -> int:
        """Where the first marker of ``role`` in ``[start, end)`` starts (-1: none)."""
        lo = bisect_left(self.marker_starts, start)
        hi = bisect_left(self.marker_starts, end, lo)
        roles = self.marker_roles_
        for i in range(lo, hi):
            if roles[i] == role:
                return self.marker_starts[i]
        return -1

    def heading_before(self, end: int, floor: int) -> str | None:
        """The role of the last heading starting before ``end`` and at or after ``floor``."""
        i = bisect_right(self.heading_starts, end - 1) - 1
        if i < 0 or self.heading_starts[i] < floor:
            return None
        return self.heading_roles[i]


def default_path() -> Path:
    return Path(str(resources.files("synth.data").joinpath("sentence_roles.yml")))


def __getattr__(name: str) -> Any:
    """``ALWAYS_COUNT_FIELDS``: the package file's :attr:`SentenceRoles.paper_fields`, read
    on first use, not on import (parsing needs :mod:`synth.tagging.codebook`, which
    imports this module)."""
    if name == "ALWAYS_COUNT_FIELDS":
        value = globals()[name] = load_sentence_roles().paper_fields
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_sentence_roles(path: Path | str | None = None) -> SentenceRoles:
    """Read and validate sentence-role rules (default: the package's file).

    Raises
    ------
    SentenceRolesError
        The file is missing, not YAML, or breaks a rule; the message names the file and
        the key.
    """
    p = Path(path) if path is not None else default_path()
    return load_cached(p, parse_sentence_roles, SentenceRolesError, "sentence roles")


def parse_sentence_roles(
    data: bytes | str, *, source: Path | str = "<sentence roles>"
) -> SentenceRoles:
    """Validate sentence-role YAML given as bytes or text; ``source`` names it in errors."""
    from synth.tagging.codebook import FIELDS  # codebook imports ROLES from here

    def fail(key: str, problem: str) -> SentenceRolesError:
        return SentenceRolesError(f"{source}: {key}: {problem}")

    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        doc = yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        raise SentenceRolesError(f"{source}: not UTF-8 text ({exc.reason})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SentenceRolesError(f"{source}:{at} YAML syntax error: {problem}") from None
    if not isinstance(doc, dict):
        raise SentenceRolesError(f"{source}: must be a mapping with `headings` and `markers`")
    unknown = [k for k in doc if k not in _TOP_KEYS]
    if unknown:
        raise fail(
            str(unknown[0]), f"unknown key (expected one of: {', '.join(sorted(_TOP_KEYS))})"
        )

    def role(value: Any, key: str) -> str:
        if value not in ROLES:
            raise fail(key, f"must be one of {', '.join(ROLES)}, got {value!r}")
        return value

    fields_raw = doc.get("fields") or {}
    if not isinstance(fields_raw, dict):
        raise fail("fields", "must be a mapping of field to role")
    fields = {}
    for name, value in fields_raw.items():
        if name not in FIELDS:
            raise fail(f"fields.{name}", f"unknown field (fields: {', '.join(FIELDS)})")
        fields[name] = role(value, f"fields.{name}")
    default = role(doc.get("default", OTHER), "default")
    before_study, reported = None, ()
    raw_before = doc.get("before_study")
    if raw_before is not None:
        if not isinstance(raw_before, dict) or set(raw_before) - {"role", "unless"}:
            raise fail("before_study", "must be a mapping with `role` and optional `unless`")
        before_study = role(raw_before.get("role"), "before_study.role")
        unless = raw_before.get("unless") or []
        if not isinstance(unless, list) or not all(
            isinstance(w, str) and w.strip() for w in unless
        ):
            raise fail("before_study.unless", "must be a list of words or phrases")
        reported = tuple(dict.fromkeys(" ".join(w.lower().split()) for w in unless))

    def phrases(section: str) -> dict[str, tuple[str, ...]]:
        raw = doc.get(section)
        if not isinstance(raw, dict) or not raw:
            raise fail(section, "must be a non-empty mapping of role to a list of phrases")
        out = {}
        for name, items in raw.items():
            key = f"{section}.{name}"
            if name not in _MARKER_ROLES:
                raise fail(key, f"unknown role (use {' or '.join(_MARKER_ROLES)})")
            if not isinstance(items, list) or not items:
                raise fail(key, "must be a non-empty list of phrases")
            for i, item in enumerate(items):
                if not isinstance(item, str) or not item.strip():
                    raise fail(f"{key}[{i + 1}]", f"must be a phrase (string), got {item!r}")
            out[name] = tuple(dict.fromkeys(" ".join(p.lower().split()) for p in items))
        return out

    return SentenceRoles(
        path=Path(source) if isinstance(source, Path) else None,
        fields=fields,
        default=default,
        headings=phrases("headings"),
        markers=phrases("markers"),
        before_study=before_study,
        reported=reported,
    )
