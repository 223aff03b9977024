"""The review's own definition (``review.yml``): one home, below tagging, screening and the report.

A review definition holds the questions, criteria, stated figures, the published review's
own decisions, which screening stages the review reports, where its sources came from
(PRISMA 2020: databases and registers vs. other methods), its scope on the codebook's maps
and the run settings of its report. Every part of synth reads it through
:func:`load_review` (or :func:`review_for`), which validates it against the schema below
and raises a :class:`ValueError` naming the file and the key when it is wrong, e.g.
``review.yml: inclusion_criteria[2].id: missing``. The file is optional everywhere:
:func:`empty_review` stands for "no review.yml". The schema is documented, key by key,
in ``docs/review-yml.md``.
"""

from __future__ import annotations

import fnmatch
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: Screening stages, in order (the store's ``decisions.stage`` values).
STAGES: tuple[str, ...] = ("title_abstract", "full_text")
#: Where a file's records come from, as PRISMA 2020 splits identification: databases,
#: registers, other methods (hand search, citation chasing, websites, organisations);
#: ``background`` is not an identified record (a background document, or a full text or
#: extract that belongs to a reference identified elsewhere).
SOURCE_KINDS: tuple[str, ...] = ("database", "register", "other_methods", "background")
#: Suffixes of full texts and extracts: unlisted files with these are not identified records.
ATTACHED_SUFFIXES: tuple[str, ...] = (".md", ".markdown")

#: What a run without a review definition leaves out, and how to add one (the CLI, the
#: tagging warning and the report pages all say this).
NO_REVIEW_NOTE = (
    "No review.yml: the review's criteria are not assessed (no criterion tags, no suggested "
    "decisions) and there are no stated figures to compare with. To add them, put a "
    "review.yml with questions, inclusion_criteria, exclusion_criteria and stated_figures "
    "(like corpus/kei-2020/review.yml) in the corpus folder, or pass --review FILE."
)

INCLUSION, EXCLUSION = "inclusion", "exclusion"
_CRITERION_KEYS = {"id", "text", "cues", "year_min", "year_max", "opposite"}


@dataclass(frozen=True)
class Criterion:
    """One inclusion or exclusion criterion, with the cues the review gives for it."""

    id: str
    text: str
    kind: str  # "inclusion" | "exclusion"
    #: phrases that show a text speaks to the criterion, in the codebook's cue forms (a
    #: phrase, or a mapping with ``phrase`` and optional ``weight``, ``case``, ``fields``)
    cues: tuple[str | dict[str, Any], ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    #: the criterion this one is the opposite of (optional; see criteria_rules.yml)
    opposite: str | None = None
    #: phrases that count against the criterion (``cues.negative``), same forms as ``cues``
    negative: tuple[str | dict[str, Any], ...] = ()

    @property
    def has_cues(self) -> bool:
        """Whether the review gives cues for it (else it is judged by similarity)."""
        return bool(self.cues)

    @property
    def is_years(self) -> bool:
        """A date-range criterion, decided from the year field rather than from text."""
        return self.year_min is not None or self.year_max is not None


@dataclass(frozen=True)
class Review:
    """A validated review definition; ``path`` None is the empty review (no review.yml)."""

    path: Path | None
    id: str | None
    title: str | None
    questions: tuple[str, ...]
    inclusion_criteria: tuple[Criterion, ...]
    exclusion_criteria: tuple[Criterion, ...]
    exclusion_general: Criterion | None
    stated_figures: dict[str, Any]
    published_decisions: dict[str, Any] | None
    reported_stages: tuple[str, ...]
    sources: dict[str, str]
    out_of_scope: dict[str, str]
    hidden_labels: tuple[str, ...]
    report: dict[str, Any]
    raw: dict[str, Any] = field(repr=False)
    #: how the review says it searched (key ``search_note``), e.g. that it does not say
    search_note: str | None = None

    @property
    def has_criteria(self) -> bool:
        """Whether the review states any inclusion or exclusion criterion."""
        return bool(self.inclusion_criteria or self.exclusion_criteria or self.exclusion_general)

    @property
    def criteria(self) -> tuple[Criterion, ...]:
        """Inclusion, then exclusion criteria, then the general exclusion, in file order."""
        general = (self.exclusion_general,) if self.exclusion_general else ()
        return self.inclusion_criteria + self.exclusion_criteria + general

    def criterion(self, id: str) -> Criterion | None:
        """The criterion with this id, or None."""
        return next((c for c in self.criteria if c.id == id), None)

    def source_kind(self, source_file: str, corpus: Path | None = None) -> str:
        """The PRISMA source kind of a corpus file (one of :data:`SOURCE_KINDS`).

        A ``sources`` glob with a ``/`` matches the path relative to ``corpus`` (``*``
        crosses folders: ``fulltexts/*`` is everything below ``fulltexts``), one without
        matches the file's name; the first matching glob wins. An unlisted full text or
        extract (Markdown) is ``background`` (not an identified record), any other file
        ``database``.
        """
        listed = self.listed_kind(source_file, corpus)
        if listed is not None:
            return listed
        return "background" if Path(source_file).suffix.lower() in ATTACHED_SUFFIXES else "database"

    def listed_kind(self, source_file: str, corpus: Path | None = None) -> str | None:
        """The source kind the first matching ``sources`` glob gives a corpus file, or
        None when no glob matches it (the caller's default applies)."""
        for pattern, kind in self.sources.items():
            if file_matches(pattern, source_file, corpus):
                return kind
        return None

    def is_include_file(self, source_file: str, corpus: Path | None = None) -> bool:
        """Whether a corpus file is the published review's list of its included studies
        (``published_decisions.include_file``), matched as :meth:`source_kind` matches."""
        published = self.published_decisions
        return bool(published) and file_matches(published["include_file"], source_file, corpus)


def file_matches(pattern: str, source_file: str, corpus: Path | None = None) -> bool:
    """Whether a corpus file matches a ``review.yml`` file glob: one with a ``/`` matches
    the path relative to ``corpus`` (``*`` crosses folders), one without the file's name."""
    path = Path(source_file)
    rel = path.name
    if corpus is not None:
        try:
            rel = path.resolve().relative_to(Path(corpus).resolve()).as_posix()
        except (OSError, ValueError):
            rel = path.name
    return fnmatch.fnmatchcase(rel if "/" in pattern else path.name, pattern)


# --------------------------------------------------------------------------- loading


def empty_review() -> Review:
    """The review of a corpus without review.yml: nothing stated, both stages reported."""
    return _build({}, None)


def review_for(path: Path | str | None) -> Review:
    """:func:`load_review` of ``path``, or the empty review when there is none."""
    return load_review(path) if path else empty_review()


def load_review(path: Path | str) -> Review:
    """Read and validate a review definition; a ValueError names the file and the key."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the review definition ({exc})") from exc
    return parse_review({} if data is None else data, path)


def parse_review(data: Any, path: Path | str | None = None) -> Review:
    """Validate an already parsed review definition (``path`` names it in errors)."""
    path = Path(path) if path is not None else None
    if not isinstance(data, dict):
        raise ValueError(
            f"{path or 'review.yml'}: expected a mapping of keys (a review definition)"
        )
    return _build(data, path)


def find_review(con: sqlite3.Connection) -> Path | None:
    """The ``review.yml`` beside (or above) the files imported into this store, if any."""
    seen: set[Path] = set()
    for (path,) in con.execute("SELECT DISTINCT path FROM sources WHERE path IS NOT NULL"):
        folder = Path(path).resolve().parent
        for candidate in (folder, *folder.parents):
            if candidate in seen:
                break
            seen.add(candidate)
            review = candidate / "review.yml"
            if review.is_file():
                return review
    return None


# --------------------------------------------------------------------------- schema


class _Where:
    """Builds "file: key: problem" messages."""

    def __init__(self, path: Path | None) -> None:
        self.name = str(path) if path is not None else "review.yml"

    def error(self, key: str, problem: str) -> ValueError:
        return ValueError(f"{self.name}: {key}: {problem}")


def _text(value: Any, key: str, w: _Where, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise w.error(key, "missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise w.error(key, f"expected text, got {type(value).__name__}")
    return str(value)


def _int(value: Any, key: str, w: _Where) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise w.error(key, f"expected a whole number, got {value!r}")
    return value


def _mapping(value: Any, key: str, w: _Where) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise w.error(key, f"expected a mapping, got {type(value).__name__}")
    return value


def _texts(value: Any, key: str, w: _Where) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise w.error(key, f"expected a list, got {type(value).__name__}")
    return tuple(_text(v, f"{key}[{i}]", w, required=True) or "" for i, v in enumerate(value))


def _stages(value: Any, key: str, w: _Where) -> tuple[str, ...]:
    stages = _texts(value, key, w)
    for i, stage in enumerate(stages):
        if stage not in STAGES:
            raise w.error(f"{key}[{i}]", f"{stage!r} is not a stage; use {', '.join(STAGES)}")
    if len(set(stages)) != len(stages):
        raise w.error(key, "a stage is listed twice")
    return stages


def _criterion(value: Any, key: str, kind: str, w: _Where) -> Criterion:
    spec = _mapping(value, key, w)
    unknown = sorted(set(spec) - _CRITERION_KEYS)
    if unknown:
        raise w.error(
            f"{key}.{unknown[0]}", f"unknown key; known: {', '.join(sorted(_CRITERION_KEYS))}"
        )
    year_min = _int(spec.get("year_min"), f"{key}.year_min", w)
    year_max = _int(spec.get("year_max"), f"{key}.year_max", w)
    if year_min is not None and year_max is not None and year_min > year_max:
        raise w.error(f"{key}.year_min", f"{year_min} is after year_max {year_max}")
    cid = _text(spec.get("id"), f"{key}.id", w, required=True) or ""
    cues, negative = _criterion_cues(spec.get("cues"), f"{key} ({cid}).cues", w)
    if (cues or negative) and (year_min is not None or year_max is not None):
        raise w.error(
            f"{key} ({cid}).cues", "a date-range criterion is decided from the year; drop its cues"
        )
    if negative and not cues:
        raise w.error(f"{key} ({cid}).cues", "negative terms need at least one phrase beside them")
    return Criterion(
        id=cid,
        text=" ".join((_text(spec.get("text"), f"{key}.text", w) or "").split()),
        kind=kind,
        cues=cues,
        year_min=year_min,
        year_max=year_max,
        opposite=_text(spec.get("opposite"), f"{key}.opposite", w),
        negative=negative,
    )


_CUES_KEYS = ("phrases", "negative")


def _criterion_cues(value: Any, key: str, w: _Where) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """``cues``: a list of cues, or a mapping ``{phrases: [...], negative: [...]}``.

    Each cue is a phrase or a mapping ``{phrase, weight, case, fields}`` (the codebook's cue
    forms, ``docs/criteria-cues.md``), checked here so a bad one names the criterion.
    """
    if value is None:
        return (), ()
    if isinstance(value, list):
        return _cue_list(value, key, w), ()
    if not isinstance(value, dict):
        raise w.error(
            key,
            f"expected a list of phrases or a mapping with phrases/negative, "
            f"got {type(value).__name__}",
        )
    unknown = sorted(str(k) for k in value if k not in _CUES_KEYS)
    if unknown:
        raise w.error(f"{key}.{unknown[0]}", f"unknown key; known: {', '.join(_CUES_KEYS)}")
    return (
        _cue_list(value.get("phrases"), f"{key}.phrases", w),
        _cue_list(value.get("negative"), f"{key}.negative", w),
    )


def _cue_list(value: Any, key: str, w: _Where) -> tuple[Any, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise w.error(key, f"expected a list of phrases, got {type(value).__name__}")
    return tuple(_cue(item, f"{key}[{i}]", w) for i, item in enumerate(value))


def _cue(item: Any, key: str, w: _Where) -> str | dict[str, Any]:
    """One cue: a phrase, or a mapping ``{phrase, weight, case, fields}``, checked by the
    codebook's own check of a cue (:func:`synth.tagging.codebook.check_cue`, which builds
    the criterion facet from these cues), so a bad one names the file and the criterion."""
    from synth.tagging.codebook import check_cue

    check_cue(item, key, source=w.name)  # a CodebookError is a ValueError
    return dict(item) if isinstance(item, dict) else " ".join(item.split())


def _criteria(value: Any, key: str, kind: str, w: _Where) -> tuple[Criterion, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise w.error(key, f"expected a list of criteria, got {type(value).__name__}")
    return tuple(_criterion(v, f"{key}[{i}]", kind, w) for i, v in enumerate(value))


def _published(value: Any, reported: tuple[str, ...], w: _Where) -> dict[str, Any] | None:
    if value is None:
        return None
    key = "published_decisions"
    spec = _mapping(value, key, w)
    unknown = sorted(set(spec) - {"reviewer", "include_file", "stages"})
    if unknown:
        raise w.error(f"{key}.{unknown[0]}", "unknown key; known: include_file, reviewer, stages")
    stages = _stages(spec.get("stages"), f"{key}.stages", w) or reported
    for stage in stages:
        if stage not in reported:
            raise w.error(
                f"{key}.stages",
                f"{stage!r} is not a stage the review reports (reported_stages: "
                f"{', '.join(reported)}); published decisions are recorded only there",
            )
    return {
        "reviewer": " ".join(
            (_text(spec.get("reviewer"), f"{key}.reviewer", w, required=True) or "").split()
        ),
        "include_file": _text(spec.get("include_file"), f"{key}.include_file", w, required=True),
        "stages": list(stages),
    }


def _sources(value: Any, w: _Where) -> dict[str, str]:
    out: dict[str, str] = {}
    for pattern, kind in _mapping(value, "sources", w).items():
        if not isinstance(pattern, str) or not pattern.strip():
            raise w.error("sources", f"{pattern!r} is not a file glob")
        if kind not in SOURCE_KINDS:
            raise w.error(
                f"sources.{pattern}",
                f"{kind!r} is not a source kind; use {', '.join(SOURCE_KINDS)}",
            )
        out[pattern] = kind
    return out


def _scope(
    value: Any, criteria: tuple[Criterion, ...], w: _Where
) -> tuple[dict[str, str], tuple[str, ...]]:
    spec = _mapping(value, "scope", w)
    unknown = sorted(set(spec) - {"out_of_scope", "hidden"})
    if unknown:
        raise w.error(f"scope.{unknown[0]}", "unknown key; known: hidden, out_of_scope")
    exclusions = {c.id for c in criteria if c.kind == EXCLUSION}
    out: dict[str, str] = {}
    for label, criterion in _mapping(spec.get("out_of_scope"), "scope.out_of_scope", w).items():
        key = f"scope.out_of_scope.{label}"
        _check_label(label, key, w)
        if criterion not in exclusions:
            known = ", ".join(sorted(exclusions)) or "none"
            raise w.error(key, f"{criterion!r} is not an exclusion criterion id (known: {known})")
        out[label] = str(criterion)
    hidden = _texts(spec.get("hidden"), "scope.hidden", w)
    for i, label in enumerate(hidden):
        _check_label(label, f"scope.hidden[{i}]", w)
    return out, hidden


def _check_label(label: Any, key: str, w: _Where) -> None:
    facet, _, name = str(label).partition(":")
    if not isinstance(label, str) or not facet or not name:
        raise w.error(
            key,
            f"{label!r} is not a codebook label; write facet:label, e.g. approach:self-management",
        )


def _check_unique(criteria: tuple[Criterion, ...], w: _Where) -> None:
    seen: set[str] = set()
    for c in criteria:
        if c.id in seen:
            raise w.error(f"{c.kind}_criteria", f"criterion id {c.id!r} is used twice")
        seen.add(c.id)


def _free(kind: type, name: str) -> Callable[[Any, str, _Where], Any]:
    """A checker for a key whose content other parts read (only its type is checked here)."""

    def check(value: Any, key: str, w: _Where) -> Any:
        if value is not None and not isinstance(value, kind):
            raise w.error(key, f"expected {name}, got {type(value).__name__}")
        return value

    return check


#: Top-level keys and the checker of each (kept in step with docs/review-yml.md).
TOP_LEVEL: dict[str, Callable[[Any, str, _Where], Any]] = {
    "id": _text,
    "name": _text,
    "slug": _text,
    "title": _text,
    "subtitle": _text,
    "author": _text,
    "organisation": _text,
    "year": _int,
    "month": _int,
    "source": _free(dict, "a mapping"),
    "references": _free(dict, "a mapping"),
    "published_decisions": _free(dict, "a mapping"),
    "questions": _texts,
    "inclusion_preamble": _text,
    "inclusion_criteria": _free(list, "a list of criteria"),
    "exclusion_general": _free(dict, "a mapping"),
    "exclusion_criteria": _free(list, "a list of criteria"),
    "stated_figures": _free(dict, "a mapping"),
    "principles": _free(dict, "a mapping"),
    "themes": _free(list, "a list of themes"),
    "report": _free(dict, "a mapping"),
    "reported_stages": _stages,
    "sources": _free(dict, "a mapping of file globs to source kinds"),
    "search_note": _text,
    "scope": _free(dict, "a mapping"),
}


def _build(data: Mapping[str, Any], path: Path | None) -> Review:
    w = _Where(path)
    for key in data:
        if key not in TOP_LEVEL:
            raise w.error(str(key), f"unknown key; known: {', '.join(sorted(TOP_LEVEL))}")
        TOP_LEVEL[key](data[key], str(key), w)
    inclusion = _criteria(data.get("inclusion_criteria"), "inclusion_criteria", INCLUSION, w)
    exclusion = _criteria(data.get("exclusion_criteria"), "exclusion_criteria", EXCLUSION, w)
    general = data.get("exclusion_general")
    general_c = (
        _criterion(general, "exclusion_general", EXCLUSION, w) if general is not None else None
    )
    every = inclusion + exclusion + ((general_c,) if general_c else ())
    _check_unique(every, w)
    reported = (
        _stages(data.get("reported_stages"), "reported_stages", w)
        if "reported_stages" in data
        else STAGES
    )
    if not reported:
        raise w.error("reported_stages", "name at least one stage the review reports")
    out_of_scope, hidden = _scope(data.get("scope"), every, w)
    return Review(
        path=path,
        id=_text(data.get("id"), "id", w),
        title=_text(data.get("title"), "title", w),
        questions=_texts(data.get("questions"), "questions", w),
        inclusion_criteria=inclusion,
        exclusion_criteria=exclusion,
        exclusion_general=general_c,
        stated_figures=dict(data.get("stated_figures") or {}),
        published_decisions=_published(data.get("published_decisions"), reported, w),
        reported_stages=reported,
        sources=_sources(data.get("sources"), w),
        out_of_scope=out_of_scope,
        hidden_labels=hidden,
        report=dict(data.get("report") or {}),
        raw=dict(data),
        search_note=_text(data.get("search_note"), "search_note", w),
    )
