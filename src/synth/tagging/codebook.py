"""The tagger's codebook: facets, labels and cues, loaded from YAML and validated.

The rules are data (``synth/data/codebook.yml`` by default), so a reviewer can read and
change them without touching code, and every tag row records which rules made it (the
codebook's version and the sha256 of its bytes). A malformed codebook fails on load with a
:class:`CodebookError` naming the file, the facet/label and the problem, never later in the
middle of a tagging run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from synth.datafiles import LineMap, RuleFileBuilder, load_cached, read_yaml
from synth.tagging.conditions import (
    CONDITION_KEYS,
    DEFAULT_WHEN_SCORE,
    NEVER,
    REQUIRE_KEYS,
    WHEN_KEYS,
    Condition,
)
from synth.tagging.fallbacks import FALLBACK_KEYS, Fallback
from synth.tagging.sentence_roles import ROLES

#: Where a hit can come from; evidence rows carry one of these as ``field``.
FIELDS: tuple[str, ...] = (
    "title",
    "keywords",
    "abstract",
    "extract",
    "fulltext",
    "venue",
    "metadata",
)
#: Record columns a metadata rule may test.
META_COLUMNS: tuple[str, ...] = ("pub_type", "grey", "venue", "publisher", "url", "language")
META_TESTS: tuple[str, ...] = ("equals", "in", "contains", "domain", "present")

_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TOP_KEYS = {
    "version",
    "name",
    "description",
    "field_weights",
    "scoring",
    "negation",
    "matching",
    "language",
    "metadata",
    "facets",
}
#: A facet's keys; ``gazetteer`` builds its labels from a gazetteer (``countries``), and
#: ``conditions`` say what another facet's label asks of its evidence
#: (:mod:`synth.tagging.conditions`).
_FACET_KEYS = {
    "negation",
    "definition",
    "description",
    "multi",
    "fields",
    "labels",
    "venue_cues",
    "counts_in",
    "gazetteer",
    "conditions",
    "demonyms_yield",
    "fields_yield",
    "fallback",
    "issuer_only",
}
#: A facet's ``venue_cues``: ``all`` its cues read the venue (a journal's name) as any
#: field; ``listed`` only cues that name ``venue`` in their own ``fields`` do, so a general
#: journal's name ("BMC Health Services Research") says nothing about the facet.
VENUE_CUES = ("all", "listed")
_LABEL_KEYS = {"definition", "cues", "negative", "patterns", "metadata", "outranks", "combines"}
#: Keys of a label's ``combines`` and of an ``outranks`` entry given as a mapping.
_COMBINES_KEYS = {"labels", "min_score", "at_least", "same_sentence", "roles"}
_OUTRANKS_KEYS = {"label", "min_score", "fields"}
_CUE_KEYS = {"phrase", "weight", "case", "fields", "unless"}
#: The fields a cue's ``unless`` may name: the record's own longer texts, whose presence
#: makes a title's generic words say nothing ("Improving healthcare" names no setting
#: when an abstract is there to say where).
UNLESS_FIELDS = ("abstract", "extract", "fulltext")
_META_KEYS = {"column", "weight", *META_TESTS}
_PATTERN_ATTRS = {"LOWER", "ORTH", "TEXT"}
_MAX_EXPANSIONS = 500


class CodebookError(ValueError):
    """A codebook that cannot be used; the message names the file, where, and what is wrong."""


@dataclass(frozen=True, slots=True)
class Cue:
    """One phrase that suggests (kind ``cue``) or counts against (kind ``negative``) a label."""

    facet: str
    label: str
    kind: str
    phrase: str
    weight: float = 1.0
    #: (token index, exact text) pairs that must match with case (``case: true``, ORTH)
    case: tuple[tuple[int, str], ...] = ()
    #: fields where the cue counts; None means every field of its facet
    fields: frozenset[str] | None = None
    #: the cue counts only when the record has no text in these fields (``unless``)
    unless: frozenset[str] = frozenset()

    @property
    def id(self) -> str:
        """``facet|label|kind|phrase``: the span-ruler pattern id, readable in evidence."""
        return f"{self.facet}|{self.label}|{self.kind}|{self.phrase}"


@dataclass(frozen=True, slots=True)
class MetadataRule:
    """A test on a record column (pub_type, grey, venue, publisher, url, language)."""

    facet: str
    label: str
    column: str
    test: str
    values: tuple[Any, ...]
    weight: float = 1.0

    def match(self, value: Any) -> str | None:
        """The part of ``value`` that satisfied the rule, or None."""
        if value is None or (isinstance(value, float) and value != value):
            return None
        if self.test == "present":
            text = str(value).strip()
            return text if text and bool(self.values[0]) else None
        if self.test == "equals":
            if isinstance(self.values[0], bool):
                truth = _truthy(value)
                return str(value).lower() if truth is not None and truth == self.values[0] else None
            return str(value) if str(value).lower() == str(self.values[0]).lower() else None
        text = str(value).strip().lower()
        if self.test == "in":
            return text if text in self.values else None
        if self.test == "contains":
            return next((v for v in self.values if v in text), None)
        if self.test == "domain":
            host = _host(text)
            for v in self.values:
                if host == v.lstrip(".") or host.endswith(v if v.startswith(".") else "." + v):
                    return host
            return None
        raise AssertionError(self.test)  # pragma: no cover - validated on load

    @property
    def description(self) -> str:
        vals = ", ".join(str(v) for v in self.values)
        return f"{self.column} {self.test} {vals}"


@dataclass(frozen=True)
class Label:
    facet: str
    id: str
    definition: str
    cues: tuple[Cue, ...]
    negative: tuple[Cue, ...] = ()
    metadata: tuple[MetadataRule, ...] = ()
    #: labels of the same facet this one replaces when it scores at least as high ("an
    #: EBCD paper is ebcd, not also co-design")
    outranks: tuple[str, ...] = ()
    #: outranked label -> the score from which this one replaces it whatever its score
    #: (an ``outranks`` entry ``{label, min_score}``: a community sample of adolescents
    #: is community, however often it says "adolescents")
    outranks_from: tuple[tuple[str, float], ...] = ()
    #: outranked label -> fields where this label's own hit replaces it, whatever the
    #: scores, unless it was itself replaced first (an ``outranks`` entry
    #: ``{label, fields}``: a title that calls the paper a qualitative study outweighs the
    #: trial it was nested in)
    outranks_in: tuple[tuple[str, frozenset[str]], ...] = ()
    #: labels of the same facet that, each scoring at least ``combines_min``, make this
    #: one (a survey and focus groups: mixed methods), with their evidence
    combines: tuple[str, ...] = ()
    combines_min: float = 0.5
    #: how many of ``combines`` must hold (0: all of them)
    combines_at_least: int = 0
    #: whether those must have evidence in one and the same sentence ("a hospital clinic
    #: and an urban general practice": several settings); the label then replaces them
    combines_same_sentence: bool = False
    #: with ``combines_same_sentence``: the sentence roles that sentence may have (None:
    #: any); "several settings" is read where the paper says where it worked, not where
    #: its background or conclusions mention two kinds of care
    combines_roles: frozenset[str] | None = None


@dataclass(frozen=True)
class Facet:
    id: str
    definition: str
    multi: bool
    fields: frozenset[str]
    labels: dict[str, Label]
    #: which cues read the venue: "all", or "listed" (only cues whose ``fields`` name it)
    venue_cues: str = "all"
    #: cross-facet conditions on this facet's labels (:mod:`synth.tagging.conditions`)
    conditions: tuple[Condition, ...] = ()
    #: the sentence roles (:data:`synth.tagging.sentence_roles.ROLES`) whose sentences
    #: the facet's cues count in; None: every role. Hits in the fields sentence_roles.yml
    #: makes ``study`` throughout (title, keywords, extracts, venue, metadata) always count.
    counts_in: frozenset[str] | None = None
    #: whether a negation trigger before a cue turns it against its label; off for a
    #: study's design, which a negated finding still shows ("did not significantly
    #: differ" is a quantitative result, a "non-randomised" trial still a trial)
    negation: bool = True
    #: how far (tokens between) a trigger reaches to negate this facet's cues, at most; None:
    #: each trigger's own window. A place is denied by the verb that governs it ("without
    #: referral to hospital", "did not consult a GP"), not by a denial of an effect three
    #: words before it ("lack of reminder card effect on family medicine residents")
    negation_window: int | None = None
    #: cue phrases that name a label only when nothing else does: a label whose positive
    #: evidence is all such cues is dropped when another label of the facet has other
    #: evidence (``demonyms_yield``: "Hong Kong Chinese", "Turkish immigrants in Germany")
    yielding: frozenset[str] = frozenset()
    #: fields whose hits, too, name a label only when nothing else does (``fields_yield``:
    #: a national journal's name is a guess at the country that the text's own place beats)
    yielding_fields: frozenset[str] = frozenset()
    #: the publisher field speaks for this facet only when the record has no venue: a
    #: report's publisher issued it, a journal's publisher ("Springer New York") printed it
    issuer_only: bool = False
    #: the labels a record gets when no cue of the facet speaks for it, the first that
    #: holds (:mod:`synth.tagging.fallbacks`: an abstract with no method and no figures
    #: argues; one with figures throughout measured something)
    fallbacks: tuple[Fallback, ...] = ()
    #: a gazetteer facet's eponym heads (countries.yml ``eponym_heads``): a place followed
    #: by one names an instrument or rule from there ("Framingham risk score"), no country
    eponym_heads: tuple[tuple[str, ...], ...] = ()
    #: the gazetteer's cue phrases that are places (names, cities, regions), which
    #: ``eponym_heads`` read; a body ("NICE criteria") or demonym is not an instrument's
    #: birthplace
    eponym_places: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Negation:
    """Negation triggers: a trigger at most ``window`` tokens before a cue (its own window
    if it has one), with no terminator between, negates the cue; a pseudo-negation
    ("not only") that contains a trigger cancels it."""

    window: int
    triggers: tuple[tuple[str, int], ...]  # (phrase, window)
    pseudo: tuple[str, ...]
    terminators: frozenset[str]

    def patterns(self) -> list[dict[str, str]]:
        """Span-ruler patterns for triggers and pseudo-negations (ids start ``~negation``)."""
        out = [
            {"label": "negation/trigger", "pattern": p, "id": f"~negation|trigger|{p}"}
            for p, _ in self.triggers
        ]
        out += [
            {"label": "negation/pseudo", "pattern": p, "id": f"~negation|pseudo|{p}"}
            for p in self.pseudo
        ]
        return out


@dataclass(frozen=True)
class Scoring:
    scale: float = 2.5
    min_score: float = 0.1
    max_evidence: int = 5
    max_sentence_chars: int = 400
    field_caps: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class LanguageCheck:
    english_words: frozenset[str]
    min_words: int = 25
    min_ratio: float = 0.08


@dataclass(frozen=True)
class Codebook:
    """Validated rules. ``sha256`` is the hash of the file's bytes; both it and ``version``
    go into every tag row (see :attr:`tag_version`)."""

    path: Path | None
    version: str
    sha256: str
    name: str
    description: str
    facets: dict[str, Facet]
    field_weights: dict[str, float]
    scoring: Scoring
    negation: Negation
    language: LanguageCheck
    hyphen_variants: bool = True
    keep_hyphen_after: frozenset[str] = frozenset()
    #: where an abstract's rights notice begins ("©", "Published by"): the notice names a
    #: publisher or a database, not the study, and is cut before tagging
    rights_notices: tuple[str, ...] = ()
    #: parts of a web address's host that make it a library's link resolver or proxy
    #: (``metadata.url_hosts_ignored``): its host names the reader's library, not the record
    url_hosts_ignored: tuple[str, ...] = ()
    _cue_index: dict[str, Cue] = field(default_factory=dict, repr=False, compare=False)

    def url_names_the_record(self, url: str) -> bool:
        """Whether ``url``'s host can say something about the record (its publisher's or
        issuer's site), rather than being a library's link resolver or proxy."""
        host = _host(url)
        return not any(part in host for part in self.url_hosts_ignored)

    @property
    def tag_version(self) -> str:
        """``rules:<version>:<sha256[:12]>``, the ``version`` column of every tag row."""
        return f"rules:{self.version}:{self.sha256[:12]}"

    def labels(self, facet: str) -> list[str]:
        return list(self.facets[facet].labels)

    def cues(self) -> Iterator[Cue]:
        """Every cue, negative cues included, spelling variants and pattern expansions too."""
        return iter(self._cue_index.values())

    def cue(self, cue_id: str) -> Cue | None:
        return self._cue_index.get(cue_id)

    def patterns(self) -> list[dict[str, str]]:
        """Span-ruler phrase patterns: one per cue (label ``facet/label``, id
        :attr:`Cue.id`), then the negation triggers (see :meth:`Negation.patterns`)."""
        cues = [
            {"label": f"{c.facet}/{c.label}", "pattern": c.phrase, "id": c.id}
            for c in self._cue_index.values()
        ]
        return cues + self.negation.patterns()

    def metadata_rules(self) -> list[MetadataRule]:
        return [
            rule
            for facet in self.facets.values()
            for label in facet.labels.values()
            for rule in label.metadata
        ]


def default_path() -> Path:
    return Path(str(resources.files("synth.data").joinpath("codebook.yml")))


def load_codebook(path: Path | str | None = None) -> Codebook:
    """Read and validate a codebook (default: the package's ``codebook.yml``).

    Loads are cached by path, size and modification time, so building many pipelines
    (one per worker process) reads the file once.

    Raises
    ------
    CodebookError
        The file is missing, is not valid YAML, or breaks a rule; the message names the file,
        the facet/label and the problem.
    """
    p = Path(path) if path is not None else default_path()
    return load_cached(p, parse_codebook, CodebookError, "codebook")


def parse_codebook(data: bytes | str, *, source: Path | str = "<codebook>") -> Codebook:
    """Validate codebook YAML given as bytes or text; ``source`` names it in errors."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return _Builder(raw, source).build()


# --------------------------------------------------------------------------- YAML loading


# the line-remembering loader is synth.datafiles' (shared with the extraction forms)


def _truthy(value: Any) -> bool | None:
    """True/False for yes/no-like values; None when unknown (pandas.NA and friends)."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"true", "yes", "1", "y"}:
            return True
        return False if text in {"false", "no", "0", "n"} else None
    try:
        return bool(value)
    except (TypeError, ValueError):
        return None


_HOST_RE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?([^/?#:\s]+)")


def _host(url: str) -> str:
    m = _HOST_RE.match(url.strip().lower())
    return m.group(1) if m else ""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Builder(RuleFileBuilder):
    """Turns the parsed YAML into a :class:`Codebook`, raising on the first problem."""

    error = CodebookError

    def __init__(self, raw: bytes, source: Path | str) -> None:
        super().__init__(raw, source)
        self.index: dict[str, Cue] = {}
        #: per facet, the phrases of patterns marked ``yields: true`` (see :meth:`pattern`)
        self.yields: dict[str, set[str]] = {}

    def build(self) -> Codebook:
        doc = read_yaml(self.raw, self.fail)
        if not isinstance(doc, dict):
            raise self.fail("", "the codebook must be a mapping with a `facets` key")
        self.check_keys(doc, _TOP_KEYS, "top level")
        facets_raw = doc.get("facets")
        if not isinstance(facets_raw, dict) or not facets_raw:
            raise self.fail("", "`facets` must be a non-empty mapping of facet ids to facets")
        self.check_keys(facets_raw, None, "facets")
        field_weights = self.field_weights(doc.get("field_weights"))
        matching = doc.get("matching") or {}
        if not isinstance(matching, dict):
            raise self.fail("matching", "must be a mapping")
        self.check_keys(
            matching, {"hyphen_variants", "keep_hyphen_after", "rights_notices"}, "matching"
        )
        hyphen_variants = bool(matching.get("hyphen_variants", True))
        facets = {
            fid: self.facet(fid, f, hyphen_variants, facets_raw.lines.get(fid))
            for fid, f in facets_raw.items()
        }
        self.check_conditions(facets)
        version = doc.get("version")
        if version is None or not str(version).strip():
            raise self.fail("version", "the codebook needs a `version`")
        return Codebook(
            path=self.path,
            version=str(version),
            sha256=hashlib.sha256(self.raw).hexdigest(),
            name=str(doc.get("name") or ""),
            description=str(doc.get("description") or ""),
            facets=facets,
            field_weights=field_weights,
            scoring=self.scoring(doc.get("scoring") or {}),
            negation=self.negation(doc.get("negation") or {}),
            language=self.language(doc.get("language") or {}),
            hyphen_variants=hyphen_variants,
            keep_hyphen_after=frozenset(
                str(p).lower() for p in self.str_list(matching.get("keep_hyphen_after"), "matching")
            ),
            rights_notices=tuple(self.str_list(matching.get("rights_notices"), "matching")),
            url_hosts_ignored=self.url_hosts_ignored(doc.get("metadata") or {}),
            _cue_index=self.index,
        )

    # -- sections -------------------------------------------------------------------------

    def number(self, value: Any, where: str, *, positive: bool = False) -> float:
        if not _is_number(value):
            raise self.fail(where, f"weight must be a number, got {value!r}")
        if value < 0 or (positive and value == 0):
            raise self.fail(where, f"must be {'positive' if positive else '>= 0'}, got {value!r}")
        return float(value)

    def field_weights(self, raw: Any) -> dict[str, float]:
        weights = {"title": 3.0, "keywords": 2.0, "abstract": 2.0, "extract": 1.5}
        weights |= {"fulltext": 0.5, "venue": 1.5, "metadata": 2.0}
        if raw is None:
            return weights
        if not isinstance(raw, dict):
            raise self.fail("field_weights", "must be a mapping of field to weight")
        self.check_keys(raw, set(FIELDS), "field_weights")
        for k, v in raw.items():
            weights[k] = self.number(v, f"field_weights.{k}")
        return weights

    def scoring(self, raw: Any) -> Scoring:
        if not isinstance(raw, dict):
            raise self.fail("scoring", "must be a mapping")
        keys = {"scale", "min_score", "max_evidence", "max_sentence_chars", "field_caps"}
        self.check_keys(raw, keys, "scoring")
        caps_raw = raw.get("field_caps") or {}
        if not isinstance(caps_raw, dict):
            raise self.fail("scoring.field_caps", "must be a mapping of field to cap")
        self.check_keys(caps_raw, set(FIELDS), "scoring.field_caps")
        d = Scoring()
        return Scoring(
            scale=self.number(raw.get("scale", d.scale), "scoring.scale", positive=True),
            min_score=self.number(raw.get("min_score", d.min_score), "scoring.min_score"),
            max_evidence=int(
                self.number(raw.get("max_evidence", d.max_evidence), "scoring.max_evidence")
            ),
            max_sentence_chars=int(
                self.number(
                    raw.get("max_sentence_chars", d.max_sentence_chars),
                    "scoring.max_sentence_chars",
                    positive=True,
                )
            ),
            field_caps={
                k: self.number(v, f"scoring.field_caps.{k}", positive=True)
                for k, v in caps_raw.items()
            },
        )

    def negation(self, raw: Any) -> Negation:
        if not isinstance(raw, dict):
            raise self.fail("negation", "must be a mapping")
        self.check_keys(raw, {"window", "triggers", "pseudo", "terminators"}, "negation")
        window = self.window(raw.get("window", 4), "negation.window")
        triggers: list[tuple[str, int]] = []
        for i, item in enumerate(self.list_of(raw.get("triggers"), "negation", "triggers")):
            where = f"negation, trigger {i + 1}"
            own = window
            if isinstance(item, dict):
                self.check_keys(item, {"phrase", "window"}, where)
                own = self.window(item.get("window", window), f"{where}, window")
                item = item.get("phrase")
            if not isinstance(item, str) or not item.strip():
                raise self.fail(where, f"a trigger must be a phrase, got {item!r}")
            triggers.append((" ".join(item.split()), own))
        return Negation(
            window=window,
            triggers=tuple(triggers),
            pseudo=tuple(
                " ".join(p.split()) for p in self.str_list(raw.get("pseudo"), "negation.pseudo")
            ),
            terminators=frozenset(
                t.lower() for t in self.str_list(raw.get("terminators"), "negation.terminators")
            ),
        )

    def facet_negation(self, raw: Any, where: str) -> tuple[bool, int | None]:
        """A facet's ``negation``: true, false, or ``{window: N}`` (on, with a shorter reach)."""
        if isinstance(raw, bool):
            return raw, None
        if isinstance(raw, dict):
            self.check_keys(raw, {"window"}, f"{where}, negation")
            return True, self.window(raw.get("window"), f"{where}, negation.window")
        raise self.fail(where, f"`negation` must be true, false or {{window: N}}, got {raw!r}")

    def window(self, value: Any, where: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self.fail(where, f"must be a whole number >= 0, got {value!r}")
        return value

    def url_hosts_ignored(self, raw: Any) -> tuple[str, ...]:
        """``metadata.url_hosts_ignored``: host parts of link resolvers and proxies."""
        if not isinstance(raw, dict):
            raise self.fail("metadata", "must be a mapping")
        self.check_keys(raw, {"url_hosts_ignored"}, "metadata")
        parts = self.str_list(raw.get("url_hosts_ignored"), "metadata.url_hosts_ignored")
        return tuple(str(p).strip().lower() for p in parts if str(p).strip())

    def language(self, raw: Any) -> LanguageCheck:
        if not isinstance(raw, dict):
            raise self.fail("language", "must be a mapping")
        self.check_keys(raw, {"english_words", "min_words", "min_ratio"}, "language")
        words = self.str_list(raw.get("english_words"), "language.english_words")
        return LanguageCheck(
            english_words=frozenset(w.lower() for w in words),
            min_words=int(self.number(raw.get("min_words", 25), "language.min_words")),
            min_ratio=self.number(raw.get("min_ratio", 0.08), "language.min_ratio"),
        )

    def facet(self, fid: Any, raw: Any, variants: bool, line: int | None) -> Facet:
        where = f"facet {fid!r}"
        if not isinstance(fid, str) or not _ID_RE.match(fid):
            raise self.fail(where, "facet ids must be kebab-case (a-z, 0-9, '-')", line)
        if not isinstance(raw, dict):
            raise self.fail(where, "must be a mapping with `labels`", line)
        self.check_keys(raw, _FACET_KEYS, where)
        multi = raw.get("multi", True)
        if not isinstance(multi, bool):
            raise self.fail(where, f"`multi` must be true or false, got {multi!r}")
        fields = self.str_list(raw.get("fields"), f"{where}, fields") or list(FIELDS)
        bad = [f for f in fields if f not in FIELDS]
        if bad:
            raise self.fail(where, f"unknown field {bad[0]!r} (fields: {', '.join(FIELDS)})")
        venue_cues = raw.get("venue_cues", "all")
        if venue_cues not in VENUE_CUES:
            raise self.fail(
                where, f"`venue_cues` must be one of {', '.join(VENUE_CUES)}, got {venue_cues!r}"
            )
        counts_in = self.counts_in(raw, where)
        labels = self.gazetteer_labels(fid, raw.get("gazetteer"), where)
        labels_raw = raw.get("labels")
        if labels and labels_raw is None:
            labels_raw = LineMap()
        elif not isinstance(labels_raw, dict) or not labels_raw:
            raise self.fail(where, "`labels` must be a non-empty mapping of label ids to labels")
        dups = getattr(labels_raw, "duplicates", [])
        if dups:
            key, dline, first = dups[0]
            raise self.fail(where, f"duplicate label id {key!r} (first at line {first})", dline)
        for lid, lraw in labels_raw.items():
            labels[lid] = self.label(fid, lid, lraw, variants, labels_raw.lines.get(lid))
        for lid, label in labels.items():
            outranked = (*label.outranks, *(o for o, _ in label.outranks_in))
            unread = sorted({f for _, named in label.outranks_in for f in named} - set(fields))
            if unread:
                raise self.fail(
                    f"{where}, label {lid!r}",
                    f"`outranks` names field {unread[0]!r}, not one of the facet's `fields`",
                )
            for key, named in (("outranks", outranked), ("combines", label.combines)):
                unknown = [o for o in named if o not in labels or o == lid]
                if unknown:
                    raise self.fail(
                        f"{where}, label {lid!r}",
                        f"`{key}` names {unknown[0]!r}, which is not another label of this facet",
                    )
        negation, negation_window = self.facet_negation(raw.get("negation", True), where)
        yielding = self.demonyms_yield(raw, where) | frozenset(self.yields.get(fid, ()))
        yielding_fields = self.fields_yield(raw, fields, where)
        fallbacks = self.fallback(fid, raw.get("fallback"), labels, where)
        issuer_only = raw.get("issuer_only", False)
        if not isinstance(issuer_only, bool):
            raise self.fail(where, f"`issuer_only` must be true or false, got {issuer_only!r}")
        return Facet(
            id=fid,
            definition=str(raw.get("definition") or raw.get("description") or ""),
            multi=multi,
            fields=frozenset(fields),
            labels=labels,
            venue_cues=venue_cues,
            conditions=self.conditions(fid, raw.get("conditions"), where),
            counts_in=counts_in,
            negation=negation,
            negation_window=negation_window,
            yielding=yielding,
            yielding_fields=yielding_fields,
            fallbacks=fallbacks,
            issuer_only=issuer_only,
            **self.eponyms(raw),
        )

    def fallback(
        self, fid: str, raw: Any, labels: dict[str, Label], where: str
    ) -> tuple[Fallback, ...]:
        """A facet's ``fallback`` (:mod:`synth.tagging.fallbacks`): one mapping or a list
        of them, each a label of the facet, its score, and the abstract's least words and
        least and most figures, and the score under which the facet's labels do not stop
        it (``over_weaker_than``)."""
        if raw is None:
            return ()
        items = raw if isinstance(raw, list) else [raw]
        out = []
        for i, item in enumerate(items):
            at = f"{where}, fallback" + (f" {i + 1}" if isinstance(raw, list) else "")
            if not isinstance(item, dict):
                raise self.fail(at, f"must be a mapping with `label`, got {item!r}")
            self.check_keys(item, set(FALLBACK_KEYS), at)
            label = item.get("label")
            if label not in labels:
                raise self.fail(at, f"`label` must name a label of this facet, got {label!r}")
            score = item.get("score", 0.5)
            if not _is_number(score) or not 0 < score <= 1:
                raise self.fail(at, f"`score` must be a score above 0 and at most 1, got {score!r}")
            counts: dict[str, int | None] = {}
            for key, default in (("min_words", 60), ("min_numbers", 0), ("max_numbers", None)):
                value = item.get(key, default)
                if value is not None and (
                    not isinstance(value, int) or isinstance(value, bool) or value < 0
                ):
                    raise self.fail(at, f"`{key}` must be a whole number >= 0, got {value!r}")
                counts[key] = value
            over = item.get("over_weaker_than")
            if over is not None and (
                not _is_number(over) or not 0 < over <= DEFAULT_WHEN_SCORE
            ):  # above the counted score a label that counts (and that conditions read,
                # before the fallback) would give way to a guess
                raise self.fail(
                    at,
                    f"`over_weaker_than` must be a score above 0 and at most "
                    f"{DEFAULT_WHEN_SCORE} (the counted score), got {over!r}",
                )
            out.append(
                Fallback(
                    facet=fid,
                    label=label,
                    score=float(score),
                    over_weaker_than=None if over is None else float(over),
                    **counts,
                )
            )
        return tuple(out)

    def demonyms_yield(self, raw: dict, where: str) -> frozenset[str]:
        """A gazetteer facet's ``demonyms_yield: true``: its demonym cues (the gazetteer's
        places of kind ``demonym``) give way to a place of another country."""
        value = raw.get("demonyms_yield", False)
        if not isinstance(value, bool):
            raise self.fail(where, f"`demonyms_yield` must be true or false, got {value!r}")
        if not value:
            return frozenset()
        if raw.get("gazetteer") != "countries":
            raise self.fail(where, "`demonyms_yield` needs `gazetteer: countries`")
        from synth.tagging.countries import gazetteer

        return frozenset(p.phrase for p in gazetteer().places if p.kind == "demonym")

    @staticmethod
    def eponyms(raw: dict) -> dict[str, Any]:
        """A gazetteer facet's ``eponym_heads`` (of its gazetteer's file) and the place
        phrases they follow (not its bodies or demonyms); nothing for another facet."""
        if raw.get("gazetteer") != "countries":
            return {}
        from synth.tagging.countries import gazetteer

        gaz = gazetteer()
        places = frozenset(p.phrase for p in gaz.places if p.kind not in ("body", "demonym"))
        return {"eponym_heads": gaz.eponym_heads, "eponym_places": places}

    def fields_yield(self, raw: dict, fields: Any, where: str) -> frozenset[str]:
        """A facet's ``fields_yield``: fields of the facet whose hits give way, as
        demonyms do, to a label the record's other fields name."""
        value = raw.get("fields_yield") or []
        if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
            raise self.fail(where, f"`fields_yield` must be a list of fields, got {value!r}")
        unknown = [f for f in value if f not in fields]
        if unknown:
            raise self.fail(
                where, f"`fields_yield` names {unknown[0]!r}, not one of the facet's `fields`"
            )
        return frozenset(value)

    def gazetteer_labels(self, fid: str, name: Any, where: str) -> dict[str, Label]:
        """A facet's labels built from a gazetteer (``gazetteer: countries``: one label per
        country, see :mod:`synth.tagging.countries`), their cues registered like any other."""
        if name is None:
            return {}
        if name not in GAZETTEERS:
            raise self.fail(where, f"unknown gazetteer {name!r} (known: {', '.join(GAZETTEERS)})")
        try:
            labels = _gazetteer_labels(name, fid)
        except ValueError as exc:  # the gazetteer's own data file is broken
            raise self.fail(where, str(exc)) from exc
        for label in labels.values():
            for cue in (*label.cues, *label.negative):
                self.add(cue)
        return dict(labels)

    def conditions(self, fid: str, raw: Any, where: str) -> tuple[Condition, ...]:
        """A facet's ``conditions`` (:mod:`synth.tagging.conditions`): a list of
        ``{when: {facet, labels, min_score}, require: {min_score, or_fields} | never}``. The facet
        and labels ``when`` names are checked once every facet is read
        (:meth:`check_conditions`)."""
        out = []
        for i, item in enumerate(self.list_of(raw, where, "conditions")):
            at = f"{where}, condition {i + 1}"
            if not isinstance(item, dict):
                raise self.fail(at, f"must be a mapping with `when` and `require`, got {item!r}")
            self.check_keys(item, set(CONDITION_KEYS), at)
            when, require = item.get("when"), item.get("require")
            if require == NEVER:  # the labels go whenever `when` holds
                require = {}
            elif not isinstance(require, dict) or not require:
                require = None
            if not isinstance(when, dict) or require is None:
                raise self.fail(
                    at,
                    "needs `when` (facet, labels) and `require` (min_score and/or "
                    f"or_fields), both mappings, or `require: {NEVER}`",
                )
            self.check_keys(when, set(WHEN_KEYS), f"{at}, when")
            self.check_keys(require, set(REQUIRE_KEYS), f"{at}, require")
            facet = when.get("facet")
            labels = self.str_list(when.get("labels"), f"{at}, when.labels")
            if not isinstance(facet, str) or not labels:
                raise self.fail(at, "`when` needs a `facet` and a non-empty list of `labels`")
            if facet == fid:
                raise self.fail(at, "`when.facet` must name another facet than this one")
            absent = when.get("absent", False)
            if not isinstance(absent, bool):
                raise self.fail(at, f"`when.absent` must be true or false, got {absent!r}")
            limited = None
            if "labels" in item:
                limited = frozenset(self.str_list(item.get("labels"), f"{at}, labels"))
                if not limited:
                    raise self.fail(at, "`labels` must list labels of this facet")
            fields = self.str_list(require.get("or_fields"), f"{at}, require.or_fields")
            bad = [f for f in fields if f not in FIELDS]
            if bad:
                raise self.fail(
                    at, f"`require.or_fields` names {bad[0]!r}, not a field ({', '.join(FIELDS)})"
                )
            roles = None
            if "or_roles" in require:
                roles = self.str_list(require.get("or_roles"), f"{at}, require.or_roles")
                bad = [r for r in roles if r not in ROLES]
                if not roles or bad:
                    raise self.fail(
                        at,
                        f"`require.or_roles` must list sentence roles ({', '.join(ROLES)}), "
                        f"got {require.get('or_roles')!r}",
                    )
            out.append(
                Condition(
                    facet=fid,
                    when_facet=facet,
                    when_labels=frozenset(labels),
                    when_score=self.unit(when, DEFAULT_WHEN_SCORE, f"{at}, when.min_score"),
                    min_score=self.unit(require, float("inf"), f"{at}, require.min_score"),
                    or_fields=frozenset(fields),
                    when_absent=absent,
                    labels=limited,
                    or_roles=None if roles is None else frozenset(roles),
                )
            )
        return tuple(out)

    def unit(self, raw: dict, default: float, where: str) -> float:
        """``raw["min_score"]`` as a score between 0 and 1, or ``default``."""
        if "min_score" not in raw:
            return default
        value = raw["min_score"]
        if not _is_number(value) or not 0 <= value <= 1:
            raise self.fail(where, f"must be a score between 0 and 1, got {value!r}")
        return float(value)

    def check_conditions(self, facets: dict[str, Facet]) -> None:
        """Every condition's ``when`` names another facet of the codebook and its labels;
        a condition on a single-label facet's labels is told so (``when_best``)."""
        for fid, facet in facets.items():
            for i, cond in enumerate(facet.conditions):
                at = f"facet {fid!r}, condition {i + 1}"
                other = facets.get(cond.when_facet)
                if other is None:
                    raise self.fail(
                        at,
                        f"`when.facet` names {cond.when_facet!r}, not a facet of this codebook "
                        f"({', '.join(facets)})",
                    )
                unknown = sorted(cond.when_labels - set(other.labels))
                if unknown:
                    raise self.fail(
                        at,
                        f"`when.labels` names {unknown[0]!r}, not a label of facet "
                        f"{cond.when_facet!r}",
                    )
                own = sorted((cond.labels or frozenset()) - set(facet.labels))
                if own:
                    raise self.fail(at, f"`labels` names {own[0]!r}, not a label of facet {fid!r}")
            if facet.conditions:  # a single-label facet's condition reads its best label
                facets[fid] = dataclasses.replace(
                    facet,
                    conditions=tuple(
                        dataclasses.replace(c, when_best=not facets[c.when_facet].multi)
                        for c in facet.conditions
                    ),
                )

    def label(self, fid: str, lid: Any, raw: Any, variants: bool, line: int | None) -> Label:
        where = f"facet {fid!r}, label {lid!r}"
        if not isinstance(lid, str) or not _ID_RE.match(lid):
            raise self.fail(where, "label ids must be kebab-case (a-z, 0-9, '-')", line)
        if not isinstance(raw, dict):
            raise self.fail(where, "must be a mapping with `definition` and `cues`", line)
        self.check_keys(raw, _LABEL_KEYS, where)
        cues: list[Cue] = []
        for i, item in enumerate(self.list_of(raw.get("cues"), where, "cues")):
            cues.extend(self.cue(fid, lid, "cue", item, f"{where}, cue {i + 1}", variants))
        for i, pat in enumerate(self.list_of(raw.get("patterns"), where, "patterns")):
            cues.extend(self.pattern(fid, lid, pat, f"{where}, pattern {i + 1}"))
        negative: list[Cue] = []
        for i, item in enumerate(self.list_of(raw.get("negative"), where, "negative")):
            at = f"{where}, negative cue {i + 1}"
            if isinstance(item, dict) and "pattern" in item:  # a token pattern against it
                negative.extend(self.pattern(fid, lid, item, at, kind="negative"))
            else:
                negative.extend(self.cue(fid, lid, "negative", item, at, variants))
        metadata = tuple(
            self.meta_rule(fid, lid, r, f"{where}, metadata rule {i + 1}")
            for i, r in enumerate(self.list_of(raw.get("metadata"), where, "metadata"))
        )
        if not cues and not metadata:
            raise self.fail(where, "label has no cues (give `cues`, `patterns` or `metadata`)")
        return Label(
            facet=fid,
            id=lid,
            definition=str(raw.get("definition") or ""),
            cues=tuple(cues),
            negative=tuple(negative),
            metadata=metadata,
            **self.outranks(raw.get("outranks"), where),
            **self.combines(raw.get("combines"), where),
        )

    def outranks(self, raw: Any, where: str) -> dict[str, Any]:
        """A label's ``outranks``: label ids (replaced when this label scores at least as
        high), ``{label, min_score}`` (replaced once this label scores ``min_score``) or
        ``{label, fields}`` (replaced when this label has a hit of its own in one of
        ``fields``; of two that name each other so, the better scored stays)."""
        names: list[str] = []
        from_score: dict[str, float] = {}
        in_fields: dict[str, frozenset[str]] = {}
        for i, item in enumerate(self.list_of(raw, where, "outranks")):
            at = f"{where}, outranks {i + 1}"
            if isinstance(item, dict):
                self.check_keys(item, _OUTRANKS_KEYS, at)
                label = item.get("label")
                if not isinstance(label, str) or ("min_score" in item) == ("fields" in item):
                    raise self.fail(at, "a mapping needs `label` and one of `min_score`, `fields`")
                if "fields" in item:
                    named = item["fields"]
                    if (
                        not isinstance(named, list)
                        or not named
                        or any(f not in FIELDS for f in named)
                    ):
                        raise self.fail(
                            f"{at}, fields", f"must be a list of fields ({', '.join(FIELDS)})"
                        )
                    in_fields[label] = frozenset(named)
                    continue
                names.append(label)
                from_score[label] = self.unit(item, 0.0, f"{at}, min_score")
            elif isinstance(item, str):
                names.append(item)
            else:
                raise self.fail(
                    at,
                    f"must be a label id, {{label, min_score}} or {{label, fields}}, got {item!r}",
                )
        return {
            "outranks": tuple(names),
            "outranks_from": tuple(from_score.items()),
            "outranks_in": tuple(in_fields.items()),
        }

    def combines(self, raw: Any, where: str) -> dict[str, Any]:
        """A label's ``combines``: ``{labels: [...], min_score}`` (default 0.5), optionally
        ``at_least: N`` (N of the labels, default all) and ``same_sentence: true``."""
        if raw is None:
            return {}
        at = f"{where}, combines"
        if not isinstance(raw, dict):
            raise self.fail(at, f"must be a mapping with `labels` and `min_score`, got {raw!r}")
        self.check_keys(raw, _COMBINES_KEYS, at)
        labels = self.str_list(raw.get("labels"), f"{at}.labels")
        if len(labels) < 2:
            raise self.fail(at, "`labels` must name at least two labels of this facet")
        at_least = raw.get("at_least", 0)
        if at_least != 0 and (
            isinstance(at_least, bool)
            or not isinstance(at_least, int)
            or not 2 <= at_least <= len(labels)
        ):
            raise self.fail(
                at, f"`at_least` must be a whole number from 2 to {len(labels)}, got {at_least!r}"
            )
        same = raw.get("same_sentence", False)
        if not isinstance(same, bool):
            raise self.fail(at, f"`same_sentence` must be true or false, got {same!r}")
        roles = None
        if "roles" in raw:
            roles = frozenset(self.str_list(raw.get("roles"), f"{at}.roles"))
            bad = sorted(roles - set(ROLES))
            if bad or not same:
                raise self.fail(
                    at,
                    f"`roles` names {bad[0]!r}, not a sentence role ({', '.join(ROLES)})"
                    if bad
                    else "`roles` needs `same_sentence: true`",
                )
        return {
            "combines": tuple(labels),
            "combines_min": self.unit(raw, 0.5, at),
            "combines_at_least": at_least,
            "combines_same_sentence": same,
            "combines_roles": roles,
        }

    def counts_in(self, raw: dict, where: str) -> frozenset[str] | None:
        """A facet's ``counts_in``: a non-empty list of sentence roles, or None (all)."""
        if "counts_in" not in raw:
            return None
        line = getattr(raw, "lines", {}).get("counts_in")
        value = raw["counts_in"]
        if not isinstance(value, list) or not value:
            raise self.fail(
                where,
                f"`counts_in` must be a non-empty list of sentence roles ({', '.join(ROLES)}), "
                f"got {value!r}",
                line,
            )
        bad = [r for r in value if r not in ROLES]
        if bad:
            raise self.fail(
                where,
                f"`counts_in` names {bad[0]!r}, not a sentence role ({', '.join(ROLES)})",
                line,
            )
        return frozenset(value)

    def list_of(self, value: Any, where: str, key: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(where, f"`{key}` must be a list, got {type(value).__name__}")
        return value

    def cue_fields(self, raw: Any, where: str) -> frozenset[str]:
        """A cue's or a pattern's ``fields``: a non-empty list of known fields."""
        fl = self.str_list(raw, f"{where}, fields")
        bad = [f for f in fl if f not in FIELDS]
        if bad or not fl:
            raise self.fail(where, f"unknown field {bad[0] if bad else None!r}")
        return frozenset(fl)

    def cue(
        self, fid: str, lid: str, kind: str, item: Any, where: str, variants: bool
    ) -> list[Cue]:
        weight, case, fields, unless = 1.0, False, None, frozenset()
        if isinstance(item, dict):
            self.check_keys(item, _CUE_KEYS, where)
            phrase = item.get("phrase")
            if "weight" in item:
                weight = self.number(item["weight"], f"{where}, weight")
            case = item.get("case", False)
            if not isinstance(case, bool):
                raise self.fail(where, f"`case` must be true or false, got {case!r}")
            if "fields" in item:
                fields = self.cue_fields(item["fields"], where)
            if "unless" in item:
                ul = self.str_list(item["unless"], f"{where}, unless")
                bad = [f for f in ul if f not in UNLESS_FIELDS]
                if bad or not ul:
                    raise self.fail(
                        where,
                        f"`unless` names {bad[0] if bad else None!r}: it takes "
                        f"{', '.join(UNLESS_FIELDS)}",
                    )
                unless = frozenset(ul)
        else:
            phrase = item
        if not isinstance(phrase, str) or not phrase.strip():
            hint = " (quote yes/no/on/off in YAML)" if isinstance(phrase, bool) else ""
            raise self.fail(
                where,
                f"a cue must be a phrase (string) or a mapping with `phrase`, got {item!r}{hint}",
            )
        phrase = " ".join(phrase.split())
        if "|" in phrase:
            raise self.fail(where, f"cue {phrase!r} may not contain '|'")
        spellings = [phrase]
        if variants and "-" in phrase and not case:
            spellings += _hyphen_variants(phrase)
        out = []
        for spelling in spellings:
            exact = tuple(enumerate(_words_exact(spelling))) if case else ()
            out.extend(self.add(Cue(fid, lid, kind, spelling, weight, exact, fields, unless)))
        return out

    def add(self, cue: Cue) -> list[Cue]:
        """Register a cue once: the same phrase twice in one label is one cue."""
        if cue.id in self.index:
            return []
        self.index[cue.id] = cue
        return [cue]

    def pattern(self, fid: str, lid: str, pattern: Any, where: str, kind: str = "cue") -> list[Cue]:
        """A token pattern, or ``{pattern, weight, yields, fields}``: ``weight`` counts it
        less (or more); ``yields: true`` makes its phrases give way, as demonyms do, to
        another label of the facet with evidence of another kind (who the patients are
        yields to the place named for them: "patients with depression in primary care");
        ``fields`` limits where it counts, as a cue's do. Of kind ``negative`` (an item of a
        label's ``negative`` list) its phrases count against the label ("impact of (the)
        guidelines" against a guideline)."""
        weight, yields, fields = 1.0, False, None
        if isinstance(pattern, dict):
            self.check_keys(pattern, {"pattern", "weight", "yields", "fields"}, where)
            if "pattern" not in pattern:
                raise self.fail(where, "a weighted pattern needs its `pattern` (a token list)")
            if "weight" in pattern:
                weight = self.number(pattern["weight"], where)
            yields = pattern.get("yields", False)
            if not isinstance(yields, bool):
                raise self.fail(where, f"`yields` must be true or false, got {yields!r}")
            if yields and kind != "cue":
                raise self.fail(where, "`yields` is for cues, not for a negative pattern")
            if "fields" in pattern:
                fields = self.cue_fields(pattern["fields"], where)
            pattern = pattern["pattern"]
        if not isinstance(pattern, list) or not pattern:
            raise self.fail(where, f"a token pattern must be a non-empty list, got {pattern!r}")
        errors = _spacy_pattern_errors(pattern)
        if errors:
            raise self.fail(where, f"bad token pattern: {errors[0]}")
        options: list[list[tuple[str, bool] | None]] = []
        for i, token in enumerate(pattern):
            spec = {str(k).upper(): v for k, v in token.items()}
            op = spec.pop("OP", None)
            if op not in (None, "?"):
                raise self.fail(
                    where, f"token {i + 1}: operator {op!r} (only '?' can be expanded to phrases)"
                )
            if len(spec) != 1 or next(iter(spec)) not in _PATTERN_ATTRS:
                raise self.fail(
                    where,
                    f"token {i + 1}: use exactly one of LOWER, ORTH, TEXT (got "
                    f"{', '.join(spec) or 'none'}); other attributes cannot run as phrases",
                )
            attr, value = next(iter(spec.items()))
            if isinstance(value, dict):
                if set(value) != {"IN"} or not isinstance(value["IN"], list):
                    raise self.fail(where, f"token {i + 1}: only {{IN: [...]}} is supported")
                values = value["IN"]
            else:
                values = [value]
            if not values or not all(isinstance(v, str) and v.strip() for v in values):
                raise self.fail(where, f"token {i + 1}: values must be non-empty strings")
            exact = attr != "LOWER"
            opts: list[tuple[str, bool] | None] = [(v, exact) for v in values]
            if op == "?":
                opts.append(None)
            options.append(opts)
        total = 1
        for opts in options:
            total *= len(opts)
        if total > _MAX_EXPANSIONS:
            raise self.fail(
                where, f"pattern expands to {total} phrases (at most {_MAX_EXPANSIONS})"
            )
        out: list[Cue] = []
        for combo in itertools.product(*options):
            tokens = [t for t in combo if t is not None]
            if not tokens:
                continue
            phrase = _join_tokens([t[0] for t in tokens])
            exact = tuple((j, t[0]) for j, t in enumerate(tokens) if t[1])
            cue = Cue(fid, lid, kind, phrase, weight, exact, fields)
            known = self.index.get(cue.id)
            mine = self.yields.get(fid, set())
            if known is not None and (
                known.weight != weight or known.fields != fields or yields != (phrase in mine)
            ):
                raise self.fail(
                    where,
                    f"{phrase!r} is already a {kind} of this label (weight {known.weight:g}); "
                    "a pattern may not give it another weight or fields, or make it yield",
                )
            if yields:
                self.yields.setdefault(fid, set()).add(phrase)
            out.extend(self.add(cue))
        return out

    def meta_rule(self, fid: str, lid: str, raw: Any, where: str) -> MetadataRule:
        if not isinstance(raw, dict):
            raise self.fail(where, f"must be a mapping with `column` and a test, got {raw!r}")
        self.check_keys(raw, _META_KEYS, where)
        column = raw.get("column")
        if column not in META_COLUMNS:
            raise self.fail(where, f"`column` must be one of {', '.join(META_COLUMNS)}")
        tests = [t for t in META_TESTS if t in raw]
        if len(tests) != 1:
            raise self.fail(where, f"give exactly one test of: {', '.join(META_TESTS)}")
        test = tests[0]
        value = raw[test]
        if test in ("in", "contains", "domain"):
            values = tuple(v.lower() for v in self.str_list(value, f"{where}, {test}"))
            if not values:
                raise self.fail(where, f"`{test}` needs at least one value")
        else:
            values = (value,)
        weight = self.number(raw.get("weight", 1.0), f"{where}, weight")
        return MetadataRule(fid, lid, column, test, values, weight)


# --------------------------------------------------------------------------- helpers


def _phrase_tokens(phrases: list[str], nlp: Any) -> list[list[str]]:
    """The tokens of each phrase as ``nlp``'s tokenizer makes them. Words of letters only,
    with no tokenizer exception, are their own tokens; only the other phrases go through the
    tokenizer (its new words cost a vocabulary entry each: thousands of place names)."""
    special = {k.lower() for k in nlp.tokenizer.rules}
    out: list[list[str] | None] = []
    rest: list[str] = []
    for phrase in phrases:
        words = phrase.split(" ")
        if all(w.isalpha() and w.lower() not in special for w in words):
            out.append(words)
        else:
            out.append(None)
            rest.append(phrase)
    done = iter([[t.text for t in doc] for doc in nlp.tokenizer.pipe(rest)])
    return [words if words is not None else next(done) for words in out]


#: Gazetteers a facet can be built from (``gazetteer: <name>``).
GAZETTEERS = ("countries",)


@lru_cache(maxsize=8)
def _gazetteer_labels(name: str, fid: str) -> dict[str, Label]:
    """The labels of gazetteer ``name`` for facet ``fid``, built once per process: a place
    is a cue matched with its capitals (each capitalised token exact), a blocker a zero
    -weight negative cue that hides the country words nested in it (a deployment blocker,
    ``Gazetteer.against``, one that also counts against its country, weight 1)."""
    from synth.tagging.countries import gazetteer
    from synth.tagging.pipeline import _blank

    gaz = gazetteer()
    phrases = [p.phrase for p in gaz.places] + list(gaz.blockers)
    tokens = _phrase_tokens(phrases, _blank())
    exact = [tuple((i, t) for i, t in enumerate(toks) if t != t.lower()) for toks in tokens]
    cues: dict[str, list[Cue]] = {code: [] for code in gaz.labels}
    negative: dict[str, list[Cue]] = {code: [] for code in gaz.labels}
    owner: dict[str, str] = {}
    for place, case in zip(gaz.places, exact, strict=False):
        fields = frozenset(place.fields) if place.fields else None
        label = gaz.labels[place.code]
        cues[place.code].append(Cue(fid, label, "cue", place.phrase, place.weight, case, fields))
        owner[place.phrase] = place.code
    first = next(iter(gaz.labels))
    for phrase, toks, case in zip(
        gaz.blockers, tokens[len(gaz.places) :], exact[len(gaz.places) :], strict=True
    ):
        spans = [toks[i:j] for i in range(len(toks)) for j in range(len(toks), i, -1)]
        found = [owner.get(" ".join(t)) or owner.get("".join(t)) for t in spans]
        code = next((c for c in found if c), first)
        weight = 1.0 if phrase in gaz.against else 0.0
        negative[code].append(Cue(fid, gaz.labels[code], "negative", phrase, weight, case, None))
    out = {}
    for code, label in gaz.labels.items():
        domains = gaz.domains.get(code, ())
        meta = (MetadataRule(fid, label, "url", "domain", domains, 1.0),) if domains else ()
        out[label] = Label(
            facet=fid,
            id=label,
            definition=f"{label} (ISO {code}): named, or a place or health-system body in it.",
            cues=tuple(cues[code]),
            negative=tuple(negative[code]),
            metadata=meta,
        )
    return out


def _words_exact(phrase: str) -> list[str]:
    """The tokens spaCy's English tokenizer makes of a phrase (for case-sensitive cues)."""
    from synth.tagging.pipeline import tokenizer_words  # spaCy is needed only here

    return tokenizer_words(phrase)


def _join_tokens(tokens: list[str]) -> str:
    out = ""
    for tok in tokens:
        if out and not (tok == "-" or out.endswith("-")):
            out += " "
        out += tok
    return out


def _hyphen_variants(phrase: str) -> list[str]:
    """``co-design`` -> ``co design``, ``codesign``: each hyphen spaced, and closed up
    after a short prefix (co, non, re: "codesign", not "experiencebased")."""
    parts = phrase.split("-")
    if len(parts) > 4:  # 3 hyphens -> 27 spellings; beyond that list them by hand
        return []
    options = []
    for before in parts[:-1]:
        last_word = before.rsplit(" ", 1)[-1]
        options.append(["-", " ", ""] if 0 < len(last_word) <= 3 else ["-", " "])
    out = []
    for joins in itertools.product(*options):
        if all(j == "-" for j in joins):
            continue
        text = parts[0]
        for j, part in zip(joins, parts[1:], strict=True):
            text += j + part
        if text.strip() and "  " not in text:
            out.append(text)
    return out


def _spacy_pattern_errors(pattern: list[Any]) -> list[str]:
    """spaCy's own validation of a token pattern (unknown attributes, bad operators ...)."""
    if not all(isinstance(t, dict) for t in pattern):
        return [f"each token must be a mapping, got {pattern!r}"]
    from spacy.schemas import validate_token_pattern

    return [str(e) for e in validate_token_pattern(pattern)]


# --------------------------------------------------------------------------- review criteria

#: The facet a review's criteria are tagged in: its labels are the review's criterion ids.
CRITERION_FACET = "criterion"
#: Fields a criterion cue reads: the record's own text, never its venue or metadata.
CRITERION_FIELDS: tuple[str, ...] = ("title", "keywords", "abstract", "extract", "fulltext")


def check_cue(item: Any, where: str, *, source: Path | str = "review.yml") -> None:
    """Raise :class:`CodebookError` ("<source>: <where>, weight: ...") when ``item`` is not a
    cue as the codebook reads one: a phrase, or a mapping with ``phrase`` and optional
    ``weight``, ``case``, ``fields``. The one check of a cue's form, for a codebook's labels
    and a review's criteria alike (``synth.review`` checks review.yml's cues with it)."""
    _Builder(b"", source).cue(CRITERION_FACET, "check", "cue", item, where, False)


def with_criteria(
    codebook: Codebook, criteria: Iterable[Any], *, source: Path | str = "review.yml"
) -> Codebook:
    """The codebook with a ``criterion`` facet built from a review's criteria and their cues.

    Criteria belong to a review, not to the shared codebook: each criterion (anything with
    ``id``, ``text``, ``cues``, ``negative`` and ``is_years``, e.g. :class:`synth.review.
    Criterion`) that gives cues becomes a label of the same id, built by the same builder as
    a codebook file's labels (hyphen variants, ``case``, ``weight``, ``fields``, negative
    cues). It replaces any ``criterion`` facet the codebook has. Date ranges and criteria
    without cues get no label (the latter are judged by similarity to their wording,
    :mod:`synth.tagging.criteria`). ``source`` (the review file) names the file in errors;
    the hash and so :attr:`Codebook.tag_version` cover the criteria's cues too.
    """
    specs: dict[str, dict[str, Any]] = {}
    for c in criteria:
        if c.is_years or not c.cues:
            continue
        specs[c.id] = {
            "definition": c.text or c.id,
            "cues": list(c.cues),
            "negative": list(c.negative),
        }
    facets = {f: v for f, v in codebook.facets.items() if f != CRITERION_FACET}
    if not specs and len(facets) == len(codebook.facets):
        return codebook
    index = {k: cue for k, cue in codebook._cue_index.items() if cue.facet != CRITERION_FACET}
    raw = json.dumps(specs, sort_keys=True, ensure_ascii=False).encode("utf-8")
    builder = _Builder(raw, source)
    builder.index = index
    if specs:
        labels = {
            lid: builder.label(CRITERION_FACET, lid, spec, codebook.hyphen_variants, None)
            for lid, spec in specs.items()
        }
        facets[CRITERION_FACET] = Facet(
            id=CRITERION_FACET,
            definition="The review's inclusion and exclusion criteria, with its own cues.",
            multi=True,
            fields=frozenset(CRITERION_FIELDS),
            labels=labels,
            venue_cues="listed",
        )
    digest = hashlib.sha256(codebook.sha256.encode("ascii") + b"\0" + raw).hexdigest()
    return dataclasses.replace(codebook, facets=facets, sha256=digest, _cue_index=index)
