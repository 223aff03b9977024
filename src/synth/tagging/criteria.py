"""Check each record against the review's inclusion and exclusion criteria.

The tagger's ``criterion`` facet (built from the cues each criterion carries in the
review's review.yml, :func:`with_review_cues`) says *where* the text speaks to a
criterion, and a criterion without cues is compared with its own wording
(:func:`similarity_tags`); this module turns that into a status per record and
criterion (met / not met / unclear) and then into a suggested screening decision with a
one-sentence explanation. Suggestions are only
suggestions: a reviewer confirms or overrides them in the store, where overrides are
appended as events.

Thresholds and the pairs of opposite criteria are data (``synth/data/criteria_rules.yml``).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import math
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from synth.review import EXCLUSION, INCLUSION, Criterion, Review
from synth.tagging.codebook import CRITERION_FACET, Codebook, CodebookError, with_criteria
from synth.tagging.tagger import extracts_by_record

log = logging.getLogger(__name__)

#: Columns of :func:`assess`'s result.
ASSESSMENT_COLUMNS: list[str] = [
    "record_id", "criterion", "kind", "status", "score", "evidence", "method",
]  # fmt: skip
#: Columns of :func:`suggest`'s result.
SUGGESTION_COLUMNS: list[str] = ["record_id", "decision", "reason", "explanation"]

MET, NOT_MET, UNCLEAR = "met", "not_met", "unclear"
_RULES_FILE = "criteria_rules.yml"


class CriteriaError(ValueError):
    """The review's criteria or the criteria rules file cannot be used; says which and why."""


# --------------------------------------------------------------------------- rules (data)


def load_rules(path: Path | None = None) -> dict[str, Any]:
    """Load and validate the thresholds file (default: package ``criteria_rules.yml``).

    Returns a fresh copy each time so a caller can tweak a threshold for one run without
    changing the cached default.
    """
    if path is None:
        return copy.deepcopy(_default_rules())
    try:
        own = yaml.safe_load(Path(path).read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CriteriaError(f"{path}: cannot read the criteria rules ({exc})") from exc
    if not isinstance(own, dict):
        raise CriteriaError(f"{path}: expected a mapping at the top level")
    return _validate_rules(_over_package_rules(own), str(path))


@cache
def _package_rules_raw() -> dict[str, Any]:
    """The package's ``criteria_rules.yml`` as read: the one source of every threshold."""
    text = resources.files("synth.data").joinpath(_RULES_FILE).read_text("utf-8")
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise CriteriaError(f"{_RULES_FILE}: expected a mapping at the top level")
    return raw


@cache
def _default_rules() -> dict[str, Any]:
    return _validate_rules(copy.deepcopy(_package_rules_raw()), _RULES_FILE)


def _over_package_rules(own: dict[str, Any]) -> dict[str, Any]:
    """A team's rules file over the package's: a key it leaves out keeps the package's
    value (a nested mapping such as ``similarity`` key by key), so no threshold has a
    second default in the code."""
    merged = copy.deepcopy(_package_rules_raw())
    for key, value in own.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "opposites":
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _validate_rules(rules: Any, name: str) -> dict[str, Any]:
    if not isinstance(rules, dict):
        raise CriteriaError(f"{name}: expected a mapping at the top level")
    for key in ("met_threshold", "exclusion_met_threshold", "clear_threshold", "negated_share"):
        value = rules.get(key)
        if not isinstance(value, int | float) or not 0 <= value <= 1:
            raise CriteriaError(f"{name}: {key} must be a number between 0 and 1, got {value!r}")
    opposites = rules.get("opposites")
    if not isinstance(opposites, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in opposites.items()
    ):
        raise CriteriaError(f"{name}: opposites must map criterion ids to criterion ids")
    fields = rules.get("exclusion_not_from_fields_alone")
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise CriteriaError(f"{name}: exclusion_not_from_fields_alone must be a list of fields")
    quote = (rules.get("explanation") or {}).get("max_quote")
    if isinstance(quote, bool) or not isinstance(quote, int) or quote < 10:
        raise CriteriaError(f"{name}: explanation.max_quote must be a whole number >= 10")
    for key in ("met_min_passages", "exclusion_min_passages"):
        value = rules.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CriteriaError(f"{name}: {key} must be a whole number >= 1, got {value!r}")
    passage = rules.get("passage_fields")
    if not isinstance(passage, list) or not passage or not all(isinstance(f, str) for f in passage):
        raise CriteriaError(f"{name}: passage_fields must be a non-empty list of fields")
    absent = rules.get("exclusion_absent_is_not_met")
    if not isinstance(absent, bool):
        raise CriteriaError(f"{name}: exclusion_absent_is_not_met must be true or false")
    _validate_similarity(rules.get("similarity"), name)
    _validate_negation(rules.get("negation"), name)
    return rules


def _validate_negation(neg: Any, name: str) -> None:
    """``negation``: the words that negate a cue after it, the clause boundaries, the roles."""
    from synth.tagging.sentence_roles import ROLES

    if not isinstance(neg, dict):
        raise CriteriaError(f"{name}: negation must be a mapping")
    unknown = sorted(set(neg) - _NEGATION_KEYS)
    if unknown:
        raise CriteriaError(f"{name}: negation.{unknown[0]}: unknown key")
    lists = ("after", "after_predicates", "after_alone", "after_subject", "between",
             "clause_boundaries", "roles")  # fmt: skip
    for key in lists:
        value = neg.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise CriteriaError(
                f"{name}: negation.{key} must be a list of words or phrases, got {value!r}"
                " (quote yes/no/on/off in YAML)"
            )
    bad = [r for r in neg["roles"] if r not in ROLES]
    if bad:
        raise CriteriaError(
            f"{name}: negation.roles: {bad[0]!r} is not a sentence role ({', '.join(ROLES)})"
        )
    for key in ("after_window", "before_window"):
        window = neg.get(key)
        if isinstance(window, bool) or not isinstance(window, int) or window < 0:
            raise CriteriaError(f"{name}: negation.{key} must be a whole number >= 0")


_NEGATION_KEYS = {
    "after", "after_predicates", "after_alone", "after_subject", "after_window", "between",
    "before_window", "clause_boundaries", "roles",
}  # fmt: skip


def _validate_similarity(sim: Any, name: str) -> None:
    """``similarity``: thresholds for criteria judged by similarity to their wording."""
    if not isinstance(sim, dict):
        raise CriteriaError(f"{name}: similarity must be a mapping")
    for key in ("met_threshold", "min_score"):
        value = sim.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise CriteriaError(
                f"{name}: similarity.{key} must be a number between 0 and 1, got {value!r}"
            )
    words = sim.get("min_words")
    if isinstance(words, bool) or not isinstance(words, int) or words < 1:
        raise CriteriaError(f"{name}: similarity.min_words must be >= 1, got {words!r}")
    chars = sim.get("max_sentence_chars")
    if isinstance(chars, bool) or not isinstance(chars, int) or chars < 20:
        raise CriteriaError(f"{name}: similarity.max_sentence_chars must be >= 20, got {chars!r}")


# --------------------------------------------------------------------------- criteria


def review_criteria(review: Review) -> list[Criterion]:
    """The review's inclusion then exclusion criteria, in review.yml order.

    A criterion with ``year_min``/``year_max`` is a date range (``years`` in KEI); every
    other criterion is judged from the tagger's ``criterion`` tags with the same id (built
    from its cues) or, without cues, by :func:`similarity_tags`. The
    general exclusion (``exclusion_general``) is a reason a reviewer gives, not assessed.
    """
    return [*review.inclusion_criteria, *review.exclusion_criteria]


def with_review_cues(codebook: Codebook, review: Review) -> Codebook:
    """The codebook whose ``criterion`` facet is the review's criteria with their cues.

    The shared codebook carries no criteria: each review gives cues for its own in
    review.yml (:func:`synth.tagging.codebook.with_criteria` builds the facet), and a
    criterion without cues is judged by similarity to its wording (:func:`similarity_tags`).
    Without a review there is no criterion facet, so no criterion tags.
    """
    try:
        return with_criteria(codebook, review_criteria(review), source=review.path or "review.yml")
    except CodebookError as exc:
        raise CriteriaError(str(exc)) from exc


def _opposites(criteria: list[Criterion], rules: Mapping[str, Any]) -> dict[str, str]:
    """Symmetric map criterion -> opposite criterion, limited to this review's ids."""
    ids = {c.id for c in criteria}
    pairs = dict(rules.get("opposites", {}))
    pairs.update({c.id: c.opposite for c in criteria if c.opposite})
    out: dict[str, str] = {}
    for a, b in pairs.items():
        if a in ids and b in ids:
            out[a] = b
            out.setdefault(b, a)
    return out


# --------------------------------------------------------------------------- similarity

#: What a verdict reached without cues says of itself (evidence ``note``, explanations).
SIMILARITY_NOTE = "by similarity to the criterion's wording; no cues given"
#: ``method`` of a criterion's verdict: from the tagger's cues, by similarity, or the year.
METHOD_CUES, METHOD_SIMILARITY, METHOD_YEAR = "cues", "similarity", "year"
#: Text fields read for similarity, in the order a reader meets them.
_TEXT_FIELDS = ("title", "keywords", "abstract")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"“‘'(\[]?[A-Z0-9])|(?<=[.!?];)\s+|\n\s*\n")


def criterion_method(c: Criterion) -> str:
    """How a criterion is judged: ``year`` (a date range), ``cues``, or ``similarity``."""
    if c.is_years:
        return METHOD_YEAR
    return METHOD_CUES if c.has_cues else METHOD_SIMILARITY


def similarity_tags(
    records: pd.DataFrame,
    review: Review,
    *,
    extracts: pd.DataFrame | None = None,
    fulltexts: pd.DataFrame | None = None,
    rules: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Criterion rows for the review's criteria that give no cues, by similarity of wording.

    Each sentence of a record (title, keywords, abstract, extracts, full text) is compared
    with the criterion's text: the share of the criterion's content words, weighted by
    TF-IDF inverse document frequency, that the sentence contains (words lower-cased,
    -ise spelt -ize, plurals singular: "randomised trials" is "randomized trial"). The
    record's score is its best sentence's, which is the evidence (``method: similarity``
    and a ``note`` saying no cues were given). The rows have the tagger's columns
    (``source`` "similarity") so :func:`assess` reads them as it reads cue rows; they are
    not stored as tags.

    The word weights are those of the records given: their sentences counted
    (:meth:`SimilarityCriteria.count`), then scored (:meth:`SimilarityWeights.rows`), the
    two passes a run in chunks makes over a corpus, counting every chunk first and scoring
    each with the counts summed: the rows are the same.
    """
    from synth.tagging.tagger import TAG_COLUMNS

    wanted = SimilarityCriteria.of(review, rules)
    if wanted is None:  # every criterion has cues (or is a date range): nothing to compare
        return pd.DataFrame(columns=TAG_COLUMNS)
    counts = wanted.count(records, extracts, fulltexts)
    return wanted.weigh(counts).rows(records, extracts, fulltexts)


@dataclass(frozen=True)
class SimilarityCounts:
    """What the word weights of similarity need from a part of a corpus (pass 1): its
    sentences long enough to be compared (``units``), and per word of the criteria the
    number of those sentences that contain it (``words``; a word in none left out).
    Small whatever the corpus (a number per criterion word); parts are summed (``+``)."""

    units: int = 0
    words: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def __add__(self, other: SimilarityCounts) -> SimilarityCounts:
        words = dict(self.words)
        for word, n in other.words.items():
            words[word] = words.get(word, 0) + n
        return SimilarityCounts(self.units + other.units, words)

    def totals(self) -> dict[str, int]:
        """The sentences counted and the criterion words found in them, summed (what a
        run's parameters record when the two passes disagree)."""
        return {"sentences": self.units, "criterion_words": sum(self.words.values())}


@contextlib.contextmanager
def unmatched_extracts_quiet() -> Iterator[None]:
    """Pass 1 reads a part's extracts as its tagging does, which warns of those naming no
    record (:func:`synth.tagging.tagger.extracts_by_record`): this thread's warning of
    them left out meanwhile, so that it is not given once more per part."""
    import threading

    me = threading.get_ident()

    def told(record: logging.LogRecord) -> bool:
        return record.thread != me or "name no record" not in str(record.msg)

    logger = logging.getLogger("synth.tagging.tagger")
    logger.addFilter(told)
    try:
        yield
    finally:
        logger.removeFilter(told)


@dataclass(frozen=True)
class SimilarityCriteria:
    """The review's criteria judged by similarity to their wording (no cues, not a date
    range, some text), with the ``similarity`` rules that read them: what both passes
    over a corpus need. Their words' weights are the inverse document frequency
    (sklearn's ``TfidfVectorizer(smooth_idf=True)``) over every sentence of the corpus
    and the criteria's texts, idf(w) = ln((1 + n) / (1 + df(w))) + 1, and only the
    criteria's own words are weighed (a sentence's score is the weighted share of the
    criterion's words it contains): so a part of the corpus is first counted
    (:meth:`count`, :class:`SimilarityCounts`), the parts' counts summed and weighed
    (:meth:`weigh`), and each part then scored with the weights (:class:`SimilarityWeights`)."""

    ids: tuple[str, ...]
    texts: tuple[str, ...]
    #: the content words of the criteria's texts (:func:`_words`), sorted
    vocabulary: tuple[str, ...]
    max_chars: int
    min_words: int
    min_score: float

    @classmethod
    def of(
        cls, review: Review, rules: Mapping[str, Any] | None = None
    ) -> SimilarityCriteria | None:
        """The review's criteria judged by similarity; None when it has none."""
        sim = (load_rules() if rules is None else rules)["similarity"]
        wanted = [c for c in review_criteria(review) if criterion_method(c) == METHOD_SIMILARITY]
        wanted = [c for c in wanted if c.text.strip()]
        if not wanted:
            return None
        words = sorted({w for c in wanted for w in _words(c.text)})
        return cls(
            ids=tuple(c.id for c in wanted),
            texts=tuple(c.text for c in wanted),
            vocabulary=tuple(words),
            max_chars=int(sim["max_sentence_chars"]),
            min_words=int(sim["min_words"]),
            min_score=float(sim["min_score"]),
        )

    def units(
        self,
        records: pd.DataFrame,
        extracts: pd.DataFrame | None = None,
        fulltexts: pd.DataFrame | None = None,
    ) -> Iterator[tuple[Any, str, str, list[str]]]:
        """(record_id, field, sentence, its content words) of every sentence of the
        records' texts with at least ``min_words`` content words: what is compared."""
        for rid, field, sentence in _sentences(records, extracts, fulltexts, self.max_chars):
            words = _words(sentence)
            if len(words) >= self.min_words:
                yield rid, field, sentence, words

    def count(
        self,
        records: pd.DataFrame,
        extracts: pd.DataFrame | None = None,
        fulltexts: pd.DataFrame | None = None,
    ) -> SimilarityCounts:
        """Pass 1 over a part of the corpus (records with their extracts and full texts):
        its sentences compared, and per criterion word those that contain it."""
        wanted = frozenset(self.vocabulary)
        units = 0
        found: dict[str, int] = {}
        with unmatched_extracts_quiet():  # the tagging of the same part says so, once
            for *_, words in self.units(records, extracts, fulltexts):
                units += 1
                for word in wanted.intersection(words):
                    found[word] = found.get(word, 0) + 1
        return SimilarityCounts(units, found)

    def weigh(self, counts: SimilarityCounts) -> SimilarityWeights:
        """The criteria's word weights from the whole corpus's counts (every part's
        summed), as sklearn's ``TfidfVectorizer(smooth_idf=True)`` fitted on every
        sentence and the criteria's texts gives them, float for float."""
        queries = [set(_words(t)) for t in self.texts]
        df = np.array(
            [counts.words.get(w, 0) + sum(w in q for q in queries) for w in self.vocabulary],
            dtype=np.float64,
        )
        df += 1.0  # as sklearn: smoothing, in its order of operations
        idf = np.full_like(df, fill_value=counts.units + len(self.texts) + 1)
        idf /= df
        np.log(idf, out=idf)
        idf += 1.0
        return SimilarityWeights(self, counts.units, tuple(float(x) for x in idf))


@dataclass(frozen=True)
class SimilarityWeights:
    """The criteria judged by similarity with their words' weights over the whole corpus
    (:meth:`SimilarityCriteria.weigh`): what scores any part of it (pass 2, :meth:`rows`).
    Small: a number per criterion word; sent once to each worker of a cluster."""

    criteria: SimilarityCriteria
    #: the sentences compared in the whole corpus (none: no row anywhere)
    units: int
    #: the inverse document frequency of each word of ``criteria.vocabulary``
    idf: tuple[float, ...]

    def rows(
        self,
        records: pd.DataFrame,
        extracts: pd.DataFrame | None = None,
        fulltexts: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Pass 2: the criterion rows of these records (a part of the corpus, with their
        extracts and full texts), exactly those :func:`similarity_tags` gives them over
        the whole corpus."""
        return self.scored(records, extracts, fulltexts)[0]

    def scored(
        self,
        records: pd.DataFrame,
        extracts: pd.DataFrame | None = None,
        fulltexts: pd.DataFrame | None = None,
    ) -> tuple[pd.DataFrame, SimilarityCounts]:
        """Pass 2 (:meth:`rows`) with the counts of what it read, as pass 1 counts them
        (:meth:`SimilarityCriteria.count`): summed over the parts scored, they are pass 1's
        unless the texts changed between the passes (the weights then are not those of
        the texts judged)."""
        from synth.tagging.tagger import TAG_COLUMNS

        wanted = self.criteria
        index = {w: k for k, w in enumerate(wanted.vocabulary)}
        # only a sentence with a word of the criteria scores above 0 (and may be a
        # record's best): the others are not kept, nor any sentence's other words
        units: list[tuple[Any, str, str]] = []
        found: list[list[str]] = []
        seen = 0
        seen_words: dict[str, int] = {}
        for rid, field, sentence, words in wanted.units(records, extracts, fulltexts):
            seen += 1
            if theirs := [w for w in words if w in index]:
                for word in set(theirs):
                    seen_words[word] = seen_words.get(word, 0) + 1
                if self.units:
                    units.append((rid, field, sentence))
                    found.append(theirs)
        counts = SimilarityCounts(seen, seen_words)
        if not units:
            return pd.DataFrame(columns=TAG_COLUMNS), counts
        present = _present(found, index)
        weights = _present([_words(t) for t in wanted.texts], index)
        weights.data *= np.asarray(self.idf, dtype=np.float64)[weights.indices]
        scores = _coverage(present, weights)
        version = "similarity:idf-coverage"
        best: dict[tuple[Any, str], tuple[float, int]] = {}
        for i, (rid, *_) in enumerate(units):
            for j, cid in enumerate(wanted.ids):
                value = float(scores[i, j])
                key = (rid, cid)
                if value > best.get(key, (0.0, -1))[0]:
                    best[key] = (value, i)
        rows = []
        for (rid, cid), (value, i) in best.items():
            if value < wanted.min_score:
                continue
            _, field, sentence = units[i]
            evidence = [
                {"field": field, "sentence": sentence, "match": sentence, "cue": SIMILARITY_NOTE,
                 "negated": False, "weight": round(value, 4), "method": METHOD_SIMILARITY,
                 "note": SIMILARITY_NOTE}
            ]  # fmt: skip
            rows.append(
                (rid, CRITERION_FACET, cid, round(value, 4), evidence, "similarity", version)
            )
        return pd.DataFrame(rows, columns=TAG_COLUMNS), counts


def _sentences(
    records: pd.DataFrame,
    extracts: pd.DataFrame | None,
    fulltexts: pd.DataFrame | None,
    max_chars: int,
) -> list[tuple[Any, str, str]]:
    """(record_id, field, sentence) for every sentence of every record's text."""
    return [
        (rid, field, part[:max_chars])
        for rid, field, text in _texts_of(records, extracts, fulltexts)
        for part in (" ".join(p.split()) for p in _SENTENCE_END.split(text))
        if len(part) >= 3
    ]


def _texts_of(
    records: pd.DataFrame, extracts: pd.DataFrame | None, fulltexts: pd.DataFrame | None
) -> Iterator[tuple[Any, str, str]]:
    """(record_id, field, text) of each non-empty title, keyword list (joined by "; "),
    abstract, extract and full text: the texts criteria read, in one place."""

    def clean(text: Any) -> str | None:
        if isinstance(text, list | tuple):
            text = "; ".join(str(t) for t in text)
        return text.strip() if isinstance(text, str) and text.strip() else None

    for field in _TEXT_FIELDS:
        if field in records.columns:
            for rid, text in zip(records["record_id"], records[field], strict=True):
                if (cleaned := clean(text)) is not None:
                    yield rid, field, cleaned
    for rid, texts in extracts_by_record(records, extracts).items():
        for text in texts:
            if (cleaned := clean(text)) is not None:
                yield rid, "extract", cleaned
    if fulltexts is not None and len(fulltexts) and "text" in fulltexts.columns:
        for rid, text in zip(fulltexts["record_id"], fulltexts["text"], strict=True):
            if (cleaned := clean(text)) is not None:
                yield rid, "fulltext", cleaned


_WORD = re.compile(r"\b\w\w+\b")
_ISE = re.compile(r"(?<=\w\w)is(e|ed|es|ing|ation|ations)$")


def _words(text: str) -> list[str]:
    """Content words, lower case, with British -ise spelt -ize and a plural -s dropped, so
    "randomised trials" and "randomized trial" share their words."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    out = []
    for word in _WORD.findall(text.lower()):
        if word in ENGLISH_STOP_WORDS:
            continue
        word = _ISE.sub(r"iz\1", word)
        if word.endswith("ies") and len(word) > 4:
            word = word[:-3] + "y"
        elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
            word = word[:-1]
        out.append(word)
    return out


def _present(texts: list[list[str]], index: Mapping[str, int]) -> Any:
    """Text x word of ``index``: 1.0 where the text has the word (a binary count matrix,
    its columns sorted, as sklearn's ``CountVectorizer(binary=True)`` gives one)."""
    from scipy import sparse

    indptr = [0]
    indices: list[int] = []
    for words in texts:
        indices.extend(sorted({index[w] for w in words if w in index}))
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float64)
    shape = (len(texts), len(index))
    return sparse.csr_array(
        (data, np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int32)),
        shape=shape,
    )


def _coverage(present: Any, weights: Any) -> np.ndarray:
    """Sentence x query: the share of the query's content words (weighted by inverse
    document frequency over the corpus's sentences) that the sentence contains.

    Coverage rather than cosine: a long sentence that says everything the criterion says
    is not penalised for saying more, and a word every sentence uses ("study") counts less
    than the words that make the criterion ("primary care"). ``present`` (sentence x
    word, binary) and ``weights`` (query x word, each word's idf) over the queries' words
    alone, in sklearn's (alphabetical) order: the sums are the ones a vectorizer over
    every word gives, float for float (no other word adds to them).
    """
    total = np.asarray(weights.sum(axis=1)).ravel()
    covered = (present @ weights.T).toarray()
    return np.divide(covered, total, out=np.zeros_like(covered), where=total > 0)


# --------------------------------------------------------------------------- negation

#: Words and punctuation as the negation window counts them ("didn't" is "did", "n't").
_TOKEN = re.compile(r"\w+(?=n['’]t\b)|n['’]t\b|\w+(?:[-'’]\w+)*|[^\w\s]")
#: How far after a cue a denial is looked for, in characters (the window is in words).
_AFTER_CHARS = 200
#: ``negation`` of an evidence item negated by a word after its cue (not by the tagger).
NEGATED_AFTER = "after"


def _tokens(text: str) -> list[str]:
    return [t.lower().replace("’", "'") for t in _TOKEN.findall(text)]


def _phrases(words: Collection[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(dict.fromkeys(tuple(_tokens(w)) for w in words if _tokens(w)))


def _starts(tokens: list[str], i: int, phrases: tuple[tuple[str, ...], ...]) -> bool:
    return any(tuple(tokens[i : i + len(p)]) == p for p in phrases)


def _ends(tokens: list[str], end: int, phrases: tuple[tuple[str, ...], ...]) -> bool:
    return any(end >= len(p) and tuple(tokens[end - len(p) : end]) == p for p in phrases)


@dataclass(frozen=True)
class NegationReader:
    """Negation on both sides of a criterion's cue, from shared data: the codebook's
    triggers, pseudo-negations and terminators (``codebook.yml`` ``negation``, which the
    tagger reads before a cue) and the criteria rules' ``negation`` (the triggers that also
    deny a cue they follow, the window, the clause boundaries, the sentence roles)."""

    after: tuple[tuple[str, ...], ...]
    predicates: tuple[tuple[str, ...], ...]
    alone: tuple[tuple[str, ...], ...]
    window: int
    between: frozenset[str]
    #: the only words that may stand between a cue and the negation that denies it (the
    #: verb of which the cue is the subject: "involvement was not reported"; "events in
    #: the placebo group were not reported" denies the events, not the placebo)
    subject: frozenset[str]
    triggers: tuple[tuple[str, ...], ...]
    before: int
    ends: tuple[tuple[str, ...], ...]
    pseudo: tuple[tuple[str, ...], ...]
    #: every trigger, before or after a cue (a text without one has no negated cue)
    words: tuple[str, ...]
    roles: frozenset[str]
    #: the words of ``after`` and ``after_alone`` (no denial after a cue without one)
    hints: tuple[str, ...] = ()

    @classmethod
    def of(cls, rules: Mapping[str, Any], codebook: Codebook) -> NegationReader:
        neg = rules["negation"]
        triggers = [phrase for phrase, _ in codebook.negation.triggers]
        known = {tuple(_tokens(t)) for t in triggers}
        for key in ("after", "after_alone"):
            stray = [w for w in neg[key] if tuple(_tokens(w)) not in known]
            if stray:
                raise CriteriaError(
                    f"{_RULES_FILE}: negation.{key}: {stray[0]!r} is not one of the codebook's "
                    f"negation triggers ({', '.join(triggers)})"
                )
        return cls(
            after=_phrases(neg["after"]),
            predicates=_phrases(neg["after_predicates"]),
            alone=_phrases(neg["after_alone"]),
            window=int(neg["after_window"]),
            between=frozenset(w for b in neg["between"] for w in _tokens(b)),
            subject=frozenset(w for b in neg["after_subject"] for w in _tokens(b)),
            triggers=_phrases(triggers),
            before=int(neg["before_window"]),
            ends=_phrases([*codebook.negation.terminators, *neg["clause_boundaries"]]),
            pseudo=_phrases(codebook.negation.pseudo),
            words=tuple({t.lower() for t in (*triggers, *neg["after_alone"])}),
            roles=frozenset(neg["roles"]),
            hints=tuple({w for p in (*neg["after"], *neg["after_alone"]) for w in _tokens(p)}),
        )

    def negated_after(self, sentence: str, match: str) -> bool:
        """Whether the cue ``match`` is denied after it in ``sentence`` ("patient involvement
        was not reported"): each time the sentence names it, one of ``after`` follows
        within ``window`` words of the same clause (not as a pseudo-negation) with one of
        ``after_predicates`` next (past words of ``between``), or one of ``after_alone``
        follows."""
        low, cue = _plain_quotes(sentence.lower()), _plain_quotes(match.lower().strip())
        if not cue:
            return False
        at, seen = low.find(cue), False
        while at >= 0:
            rest = low[at + len(cue) : at + len(cue) + _AFTER_CHARS]
            if not any(w in rest for w in self.hints) or not self._denies(_tokens(rest)):
                return False
            seen = True
            at = low.find(cue, at + len(cue))
        return seen

    def _denies(self, tokens: list[str]) -> bool:
        for i in range(min(len(tokens), self.window + 1)):
            if _starts(tokens, i, self.ends) or _starts(tokens, i, self.pseudo):
                return False
            if _starts(tokens, i, self.alone):
                return True
            trigger = next((p for p in self.after if tuple(tokens[i : i + len(p)]) == p), None)
            if trigger is not None and any(t not in self.subject for t in tokens[:i]):
                return False  # the cue is not the subject the negation speaks of
            if trigger is not None:  # the first negation decides: a denial, or a finding
                j = i + len(trigger)
                while j < len(tokens) and tokens[j] in self.between:
                    j += 1
                return _starts(tokens, j, self.predicates)
        return False

    def denied_before(self, sentence: str, match: str) -> bool:
        """Whether a trigger of the codebook stands at most ``before_window`` words before
        the cue ``match``, in its clause ("No placebo comparison was used", "without a
        placebo control"): the tagger's negation reaches further, which scores a cue
        against its label, but "There was no change in the placebo group" does not say
        the study had no placebo."""
        low, cue = sentence.lower(), match.lower().strip()
        at = low.find(cue) if cue else -1
        while at >= 0:
            tokens = _tokens(low[max(0, at - _AFTER_CHARS) : at])
            for k in range(min(len(tokens), self.before + 1)):
                end = len(tokens) - k
                if _ends(tokens, end, self.triggers):
                    return True
                if _ends(tokens, end, self.ends):
                    break
            at = low.find(cue, at + len(cue))
        return False

    def may_negate(self, text: str) -> bool:
        """A cheap first look: whether ``text`` holds any trigger word at all."""
        text = _plain_quotes(text)
        return any(w in text for w in self.words)


def _plain_quotes(text: str) -> str:
    """Typographic apostrophes as ASCII ones, so "weren’t" holds the trigger "n't"."""
    return text.replace("’", "'").replace("‘", "'")


def _read_after(
    score: float, evidence: list[dict[str, Any]], reader: NegationReader
) -> tuple[float, list[dict[str, Any]]]:
    """A tag row's evidence with cues denied after them marked negated (``negation:
    after``, weight turned against the criterion), and its score cut by the share of its
    supporting weight they carried."""
    out, before, lost = [], 0.0, 0.0
    for e in evidence:
        w = _signed(e)
        if e.get("negated") or w <= 0 or e.get("method") == METHOD_SIMILARITY:
            out.append(e)
            continue
        before += w
        if reader.negated_after(str(e.get("sentence") or ""), str(e.get("match") or "")):
            lost += w
            e = {**e, "negated": True, "weight": -w, "negation": NEGATED_AFTER}
        out.append(e)
    if lost and before:
        score = round(score * (before - lost) / before, 4)
    return score, out


def criterion_rows(
    records: pd.DataFrame,
    tags: pd.DataFrame,
    review: Review,
    codebook: Codebook,
    *,
    extracts: pd.DataFrame | None = None,
    fulltexts: pd.DataFrame | None = None,
    rules: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The rows :func:`assess` judges the review's criteria from (tagger columns).

    * the tagger's ``criterion`` rows, each cue denied after it ("co-design was not used")
      marked negated (:class:`NegationReader`);
    * for a criterion with cues that the tagger gives a record no row for, the sentences
      where its cues are all negated (before or after), in the roles ``negation.roles``
      allows: the tagger keeps no row whose hits net to nothing, so "no patients were
      involved" would otherwise leave the criterion with no evidence at all. Such a row
      scores 0 and all its evidence is negated, so the criterion is not met;
    * :func:`similarity_tags` rows for the criteria without cues.

    ``codebook`` is the one the tags were made with (:func:`with_review_cues`): its cues
    and its negation.
    """
    from synth.tagging.tagger import TAG_COLUMNS

    rules = load_rules() if rules is None else rules
    reader = NegationReader.of(rules, codebook)
    own = pd.DataFrame(columns=TAG_COLUMNS)
    if tags is not None and len(tags) and "facet" in tags.columns:
        own = tags[tags["facet"] == CRITERION_FACET].copy()
    read = [
        _read_after(float(s), list(e) if isinstance(e, list | tuple) else [], reader)
        for s, e in zip(own["score"], own["evidence"], strict=True)
    ]
    own["score"] = [s for s, _ in read]
    own["evidence"] = [e for _, e in read]
    have = set(zip(own["record_id"], own["label"], strict=True))
    denied = _denied_rows(records, have, review, codebook, reader, extracts, fulltexts)
    similar = similarity_tags(records, review, extracts=extracts, fulltexts=fulltexts, rules=rules)
    parts = [p for p in (own, denied, similar) if len(p)]
    if not parts:
        return pd.DataFrame(columns=TAG_COLUMNS)
    return pd.concat(parts, ignore_index=True)[TAG_COLUMNS]


def _denied_rows(
    records: pd.DataFrame,
    have: set[tuple[Any, str]],
    review: Review,
    codebook: Codebook,
    reader: NegationReader,
    extracts: pd.DataFrame | None,
    fulltexts: pd.DataFrame | None,
) -> pd.DataFrame:
    """Rows for (record, criterion with cues) the tagger left out whose cues are found
    only negated, each in a sentence with no cue of the criterion that is not."""
    from synth.tagging.pipeline import SEGMENTS_KEY, TEXT_KEY, build_nlp, hit_dicts
    from synth.tagging.tagger import TAG_COLUMNS

    facet = codebook.facets.get(CRITERION_FACET)
    ids = [c.id for c in review_criteria(review) if criterion_method(c) == METHOD_CUES]
    if facet is None or not ids:
        return pd.DataFrame(columns=TAG_COLUMNS)
    phrases = {
        lid: tuple({c.phrase.lower() for c in label.cues})
        for lid, label in facet.labels.items()
        if lid in ids
    }
    texts = []  # (record, field, text) that may hold a negated cue of a missing criterion
    for rid, field, text in _record_texts(records, extracts, fulltexts):
        low = text.lower()
        if not reader.may_negate(low):
            continue
        if any((rid, lid) not in have and any(p in low for p in ps) for lid, ps in phrases.items()):
            texts.append((rid, field, text))
    if not texts:
        return pd.DataFrame(columns=TAG_COLUMNS)
    nlp = build_nlp(_criteria_only(codebook), write_spans=False)

    def docs() -> Any:
        for rid, field, text in texts:
            doc = nlp.make_doc(text)
            doc.user_data[TEXT_KEY] = text
            doc.user_data[SEGMENTS_KEY] = [(0, len(text), field)]
            yield doc, rid

    found: dict[tuple[Any, str], dict[str, list[dict[str, Any]]]] = {}
    for doc, rid in nlp.pipe(docs(), as_tuples=True):
        for hit in hit_dicts(doc):
            key = (rid, hit["label"])
            if key not in have and hit["label"] in phrases:
                found.setdefault(key, {}).setdefault(hit["sentence"], []).append(hit)
    rows = []
    most = codebook.scoring.max_evidence
    for (rid, lid), sentences in found.items():
        evidence = [e for hits in sentences.values() for e in _denied_in(hits, reader)][:most]
        if evidence:
            rows.append((rid, CRITERION_FACET, lid, 0.0, evidence, "rule", codebook.tag_version))
    return pd.DataFrame(rows, columns=TAG_COLUMNS)


def _denied_in(hits: list[dict[str, Any]], reader: NegationReader) -> list[dict[str, Any]]:
    """The evidence of one sentence's hits of one criterion when every cue in it is
    negated (by the tagger before it, or after it) in a role that counts; else none."""
    out: list[dict[str, Any]] = []
    for h in hits:
        if h["role"] is not None and h["role"] not in reader.roles:
            return []
        weight = float(h["weight"])
        if weight < 0 and not h["negated"]:
            continue  # a negative term: it says the sentence is about something else
        negation = None
        if h["negated"] and not reader.denied_before(h["sentence"], h["match"]):
            continue  # negated from afar: likely a finding about it ("no change with placebo")
        if not h["negated"]:
            if not reader.negated_after(h["sentence"], h["match"]):
                return []  # a cue that holds: the sentence is not a denial
            negation, weight = NEGATED_AFTER, -abs(weight)
        ev = {"field": h["field"], "sentence": h["sentence"], "match": h["match"],
              "cue": h["cue"], "negated": True, "weight": weight}  # fmt: skip
        if negation:
            ev["negation"] = negation
        if all((e["sentence"], e["cue"]) != (ev["sentence"], ev["cue"]) for e in out):
            out.append(ev)
    return out


def _criteria_only(codebook: Codebook) -> Codebook:
    """The codebook with only its criterion facet (and its negation): a second look at a
    few texts need not match every country and setting again."""
    cues = {c.id: c for c in codebook.cues() if c.facet == CRITERION_FACET}
    facets = {CRITERION_FACET: codebook.facets[CRITERION_FACET]}
    return dataclasses.replace(codebook, facets=facets, _cue_index=cues)


def _record_texts(
    records: pd.DataFrame, extracts: pd.DataFrame | None, fulltexts: pd.DataFrame | None
) -> list[tuple[Any, str, str]]:
    """(record_id, field, text) of every title, keyword list, abstract, extract and
    paragraph of a full text (one paragraph at a time: a full text may exceed what spaCy
    takes as one text)."""
    out: list[tuple[Any, str, str]] = []
    for rid, field, text in _texts_of(records, extracts, fulltexts):
        if field != "fulltext":
            out.append((rid, field, text))
            continue
        for part in re.split(r"\n\s*\n", text):
            if part := part[:_MAX_PART].strip():
                out.append((rid, field, part))
    return out


#: A full text's paragraph longer than this is read only this far (spaCy's limit is 1e6).
_MAX_PART = 100_000


# --------------------------------------------------------------------------- assess


def assess(
    records: pd.DataFrame,
    tags: pd.DataFrame,
    review: Review,
    *,
    rules: Mapping[str, Any] | None = None,
    with_text: Collection[Any] | None = None,
) -> pd.DataFrame:
    """Status of every record against every criterion of the review.

    Parameters
    ----------
    records
        Canonical records (``record_id`` and ``year`` are used).
    tags
        The tagger's output; only rows with ``facet == "criterion"`` are read, and their
        ``label`` is the criterion id.
    review
        The review definition (:func:`synth.review.load_review`).
    rules
        Thresholds (default: :func:`load_rules`).

    Returns
    -------
    pandas.DataFrame
        One row per record × criterion: ``record_id, criterion, kind, status, score,
        evidence, method`` (``cues``, ``similarity`` or ``year``).

    Notes
    -----
    The date criterion (one with ``year_min``/``year_max``) is *met* when
    ``year_min <= year <= year_max`` (bounds inclusive, either may be absent), *not_met*
    when the year is outside, *unclear* when the record has no year; its score is 1, 0 or
    NaN and its evidence a dict ``{field: "year", year, year_min, year_max}``.

    A text criterion takes the score and evidence of its ``criterion`` tag row(s) (score 0
    and no evidence when nothing was found): the tagger's rows from the review's cues, or
    :func:`similarity_tags` rows for a criterion without cues (``method`` says which).
    Its own status is given by :func:`_own_status` (cues) or :func:`_similarity_status`
    (similarity: an inclusion may be met, an exclusion never), then weighed against its
    opposite criterion (the pairs in ``opposites``) by :func:`_against_opposite`: an
    exclusion is never met against an opposite inclusion met at least as strongly.
    ``with_text`` are the records whose text allows a judgement (default: those with an
    abstract; :func:`records_with_text` adds extracts and full texts): only there does
    the absence of every cue of an exclusion make it *not met*. A weak score or no
    evidence is otherwise *unclear*, never "not met": absence of a cue in a title is not
    evidence of absence.
    """
    rules = load_rules() if rules is None else rules
    criteria = review_criteria(review)
    opposites = _opposites(criteria, rules)
    text_criteria = [c for c in criteria if not c.is_years]
    found = _criterion_tags(tags, {c.id for c in text_criteria})
    for c in text_criteria:
        if not any(key[1] == c.id for key in found):
            log.debug("no criterion tags for %s: every record is unclear or opposite-driven", c.id)
    limits = _Limits.of(rules)
    method = {c.id: criterion_method(c) for c in criteria}
    if with_text is None:
        with_text = records_with_text(records)
    with_text = set(with_text)

    rows: list[tuple[Any, ...]] = []
    years = records["year"] if "year" in records.columns else pd.Series([None] * len(records))
    for rid, year in zip(records["record_id"], years, strict=True):
        own: dict[str, tuple[float, list[dict[str, Any]], str]] = {}
        for c in text_criteria:
            score, evidence = found.get((rid, c.id), (0.0, []))
            if method[c.id] == METHOD_SIMILARITY:
                status = _similarity_status(score, c.kind, limits.similarity_met)
            else:
                status = _own_status(score, evidence, c.kind, limits, rid in with_text)
            own[c.id] = (score, evidence, status)
        final = {
            c.id: _against_opposite(c, own, opposites[c.id], limits)
            if c.id in opposites
            else own[c.id][2]
            for c in text_criteria
        }
        for c in criteria:
            if c.is_years:
                rows.append((rid, c.id, c.kind, *_year_status(year, c), METHOD_YEAR))
                continue
            score, evidence, _ = own[c.id]
            rows.append((rid, c.id, c.kind, final[c.id], score, evidence, method[c.id]))
    out = pd.DataFrame(rows, columns=ASSESSMENT_COLUMNS)
    out["score"] = out["score"].astype(float)
    return out


def records_with_text(
    records: pd.DataFrame,
    extracts: pd.DataFrame | None = None,
    fulltexts: pd.DataFrame | None = None,
) -> set[Any]:
    """Records whose text allows a judgement: an abstract, an extract or a full text.

    A title (and keywords) name what a paper is about; only a record with some of the
    paper's own text can show that an exclusion does not apply.
    """
    out: set[Any] = set()
    if "abstract" in records.columns:
        has = records["abstract"].map(lambda t: isinstance(t, str) and bool(t.strip()))
        out |= set(records.loc[has.astype(bool), "record_id"])
    out |= set(extracts_by_record(records, extracts))
    if fulltexts is not None and len(fulltexts) and "text" in fulltexts.columns:
        has = fulltexts["text"].map(lambda t: isinstance(t, str) and bool(t.strip()))
        out |= set(fulltexts.loc[has.astype(bool), "record_id"])
    return out


def without_similarity(review: Review) -> Review:
    """``review`` with only the criteria not judged by similarity: what a chunk of records
    is judged by from its own tags, the criteria judged by similarity being scored with
    their words' weights over every record (:class:`SimilarityWeights`, given to
    :func:`judge_chunk`)."""
    return dataclasses.replace(
        review,
        inclusion_criteria=tuple(
            c for c in review.inclusion_criteria if criterion_method(c) != METHOD_SIMILARITY
        ),
        exclusion_criteria=tuple(
            c for c in review.exclusion_criteria if criterion_method(c) != METHOD_SIMILARITY
        ),
    )


def judge_chunk(
    records: pd.DataFrame,
    tags: pd.DataFrame,
    review: Review,
    codebook: Codebook,
    *,
    by_cues: Review,
    similarity: SimilarityWeights | None = None,
    extracts: pd.DataFrame | None = None,
    fulltexts: pd.DataFrame | None = None,
    rules: Mapping[str, Any] | None = None,
    seen: Callable[[SimilarityCounts], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A chunk of records judged against the review's criteria: ``(assessment,
    suggestions)`` as :func:`assess` and :func:`suggest` give them for the whole corpus.
    ``seen`` is given the counts of the sentences scored by similarity
    (:meth:`SimilarityWeights.scored`), to compare with pass 1's.

    The chunk's criterion rows are read from its ``tags`` (their evidence as lists, PDF
    pages added) for the criteria of ``by_cues`` (:func:`without_similarity`); those of
    the criteria judged by similarity are scored here (:meth:`SimilarityWeights.rows`)
    with ``similarity``, their words' weights over every record of the corpus (counted
    first: :class:`SimilarityCriteria`), the rows :func:`similarity_tags` gives the
    chunk's records over the whole corpus. Called where the chunk was tagged: one
    machine's command, or a cluster's worker (:mod:`synth.distributed.tagging`)."""
    rows = criterion_rows(
        records, tags, by_cues, codebook, extracts=extracts, fulltexts=fulltexts, rules=rules
    )
    if similarity is not None:
        mine, counts = similarity.scored(records, extracts, fulltexts)
        if seen is not None:
            seen(counts)
        rows = pd.concat([p for p in (rows, mine) if len(p)] or [rows], ignore_index=True)
    with_text = records_with_text(records, extracts, fulltexts)
    assessment = assess(records, rows, review, rules=rules, with_text=with_text)
    return assessment, suggest(assessment, rules=rules)


@dataclass(frozen=True)
class _Limits:
    """The thresholds of ``criteria_rules.yml`` that :func:`assess` applies."""

    met_at: dict[str, float]
    min_passages: dict[str, int]
    passage_fields: frozenset[str]
    clear_at: float
    neg_share: float
    absent_is_not_met: bool
    similarity_met: float

    @classmethod
    def of(cls, rules: Mapping[str, Any]) -> _Limits:
        return cls(
            met_at={
                INCLUSION: float(rules["met_threshold"]),
                EXCLUSION: float(rules["exclusion_met_threshold"]),
            },
            min_passages={
                INCLUSION: int(rules["met_min_passages"]),
                EXCLUSION: int(rules["exclusion_min_passages"]),
            },
            passage_fields=frozenset(rules["passage_fields"])
            - frozenset(rules["exclusion_not_from_fields_alone"]),
            clear_at=float(rules["clear_threshold"]),
            neg_share=float(rules["negated_share"]),
            absent_is_not_met=bool(rules["exclusion_absent_is_not_met"]),
            similarity_met=float(rules["similarity"]["met_threshold"]),
        )


def passages(evidence: list[dict[str, Any]], fields: frozenset[str]) -> int:
    """Independent passages of the paper's own text (``fields``) that support a criterion:
    distinct sentences, counted no higher than the distinct cues they use, so a word
    repeated ("the research community" twice) is one passage, not two."""
    support = [
        e for e in evidence if e.get("field") in fields and not e.get("negated") and _signed(e) > 0
    ]
    sentences = {(e.get("field"), e.get("sentence") or e.get("match")) for e in support}
    cues = {str(e.get("cue") or e.get("match") or "").lower() for e in support}
    return min(len(sentences), len(cues))


def _signed(ev: Mapping[str, Any]) -> float:
    try:
        return float(ev.get("weight", 1.0))
    except (TypeError, ValueError):
        return 1.0


def _against_opposite(
    c: Criterion,
    own: Mapping[str, tuple[float, list[dict[str, Any]], str]],
    opposite: str,
    limits: _Limits,
) -> str:
    """A criterion's status once its opposite is known.

    * An exclusion met while its opposite inclusion is met at least as strongly is a
      conflict: both are unclear, and a reviewer reads the paper (never a suggested
      exclusion against evidence for inclusion).
    * An exclusion not met on its own is *not met* when its opposite inclusion is met
      more strongly than the exclusion's own (weak) evidence.
    * An inclusion is *not met* when its opposite exclusion is met and clearly holds
      (score ``>= clear_threshold``).
    """
    score, _, mine = own[c.id]
    o_score, _, o_status = own[opposite]
    if c.kind == EXCLUSION:
        if mine == MET and o_status == MET and o_score >= score:
            return UNCLEAR
        if mine == UNCLEAR and o_status == MET and o_score > score:
            return NOT_MET
        return mine
    if mine == MET and o_status == MET and score >= o_score:
        return UNCLEAR
    if mine == UNCLEAR and o_status == MET and o_score >= limits.clear_at:
        return NOT_MET
    return mine


def _criterion_tags(
    tags: pd.DataFrame, ids: set[str]
) -> dict[tuple[Any, str], tuple[float, list[dict[str, Any]]]]:
    """(record_id, criterion) -> (best score, all evidence dicts) from the criterion tags."""
    if tags is None or tags.empty or "facet" not in tags.columns:
        return {}
    sub = tags[(tags["facet"] == CRITERION_FACET) & tags["label"].isin(ids)]
    evidence = sub["evidence"] if "evidence" in sub.columns else pd.Series([None] * len(sub))
    out: dict[tuple[Any, str], tuple[float, list[dict[str, Any]]]] = {}
    for rid, label, score, ev in zip(
        sub["record_id"], sub["label"], sub["score"], evidence, strict=True
    ):
        s = 0.0 if score is None or pd.isna(score) else float(score)
        ev_list = [e for e in (ev if isinstance(ev, list | tuple) else []) if isinstance(e, dict)]
        prev = out.get((rid, label))
        if prev is not None:  # several rows (e.g. several sources): keep best score, all evidence
            s, ev_list = max(s, prev[0]), prev[1] + ev_list
        out[(rid, label)] = (s, ev_list)
    return out


def _weight(ev: Mapping[str, Any]) -> float:
    w = ev.get("weight", 1.0)
    try:
        w = float(w)
    except (TypeError, ValueError):
        return 1.0
    return w if math.isfinite(w) and w > 0 else 1.0


def negated_fraction(evidence: list[dict[str, Any]]) -> float:
    """Share of the evidence weight carried by negated hits (0 when there is no evidence)."""
    total = sum(_weight(e) for e in evidence)
    if total == 0:
        return 0.0
    return sum(_weight(e) for e in evidence if e.get("negated")) / total


def _own_status(
    score: float, evidence: list[dict[str, Any]], kind: str, limits: _Limits, has_text: bool
) -> str:
    """Status from the criterion's own cues, before looking at its opposite.

    * **not_met** when at least ``negated_share`` of the evidence weight is negated;
    * an inclusion is **met** at ``met_threshold``, or when ``met_min_passages``
      distinct sentences of the paper's own text (``passage_fields``) support it (a full
      text's hits saturate below the threshold however often it says so);
    * an exclusion is **met** only at ``exclusion_met_threshold`` *and* with
      ``exclusion_min_passages`` sentences of the paper's own text (never from a title);
    * an exclusion is **not_met** on a record with text that allows a judgement (abstract,
      extract, full text) where none of its cues is found: nothing in the text gives the
      reason to exclude (``exclusion_absent_is_not_met``);
    * **unclear** otherwise: some evidence, too weak to decide, or a title only.
    """
    if evidence and negated_fraction(evidence) >= limits.neg_share:
        return NOT_MET
    found = passages(evidence, limits.passage_fields)
    if kind == INCLUSION:
        if score >= limits.met_at[kind] or found >= limits.min_passages[kind]:
            return MET
        return UNCLEAR
    if score >= limits.met_at[kind] and found >= limits.min_passages[kind]:
        return MET
    supporting = [e for e in evidence if not e.get("negated") and _signed(e) > 0]
    if has_text and limits.absent_is_not_met and not supporting:
        return NOT_MET
    return UNCLEAR


def _similarity_status(score: float, kind: str, met_at: float) -> str:
    """A criterion without cues: similarity may make an inclusion met, never an exclusion
    (excluding needs the review's own cues), and never says "not met"."""
    return MET if kind == INCLUSION and score >= met_at else UNCLEAR


def _year_status(year: Any, c: Criterion) -> tuple[str, float, dict[str, Any]]:
    y = None if year is None or pd.isna(year) else int(year)
    evidence = {"field": "year", "year": y, "year_min": c.year_min, "year_max": c.year_max}
    if y is None:
        return UNCLEAR, math.nan, evidence
    too_early = c.year_min is not None and y < c.year_min
    too_late = c.year_max is not None and y > c.year_max
    if too_early or too_late:
        return NOT_MET, 0.0, evidence
    return MET, 1.0, evidence


# --------------------------------------------------------------------------- suggest


def suggest(assessment: pd.DataFrame, *, rules: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """A screening suggestion per record from its criteria assessment.

    Rules, in order:

    1. **exclude** when the date criterion is not met (reason: its id, ``"years"`` in
       KEI: the year is a fact, so it is the reason a reviewer would record first), or
       when any exclusion criterion is met (reason: the first such criterion, in
       review.yml order);
    2. **include** when every inclusion criterion is met and no exclusion criterion is;
    3. **unclear** otherwise (reason ``None``): an inclusion criterion is unclear or
       not met, so a reviewer has to read the paper.

    A text inclusion criterion that is *not met* does not exclude on its own: the
    rules can see a negated phrase, not the whole paper.

    Returns
    -------
    pandas.DataFrame
        ``record_id, decision, reason, explanation``, one row per record, in the order the
        records first appear in ``assessment``.
    """
    rules = load_rules() if rules is None else rules
    max_quote = int(rules["explanation"]["max_quote"])
    by_record: dict[Any, list[Any]] = {}
    for row in assessment.itertuples(index=False):
        by_record.setdefault(row.record_id, []).append(row)
    out = [(rid, *_decide(rows, max_quote)) for rid, rows in by_record.items()]
    return pd.DataFrame(out, columns=SUGGESTION_COLUMNS)


def _is_years(row: Any) -> bool:
    return isinstance(row.evidence, dict) and row.evidence.get("field") == "year"


def _decide(rows: list[Any], max_quote: int) -> tuple[str, str | None, str]:
    years = [r for r in rows if _is_years(r)]
    text_incl = [r for r in rows if r.kind == INCLUSION and not _is_years(r)]
    excl_met = [r for r in rows if r.kind == EXCLUSION and r.status == MET]
    years_out = [r for r in years if r.status == NOT_MET]

    if years_out or excl_met:
        parts = [_year_phrase(r) for r in years_out]
        parts += [f"{r.criterion} is met{_quote(r, max_quote)}" for r in excl_met]
        reason = years_out[0].criterion if years_out else excl_met[0].criterion
        return "exclude", reason, "Exclude: " + "; ".join(parts) + "."

    incl = [r for r in rows if r.kind == INCLUSION]
    if incl and all(r.status == MET for r in incl):
        parts = [f"{r.criterion} met{_how(r)}{_quote(r, max_quote)}" for r in text_incl]
        parts += [_year_phrase(r) for r in years]
        return "include", None, "Include: " + "; ".join(parts) + "; no exclusion criterion met."

    missing = [r for r in incl if r.status != MET]
    parts = []
    for r in missing:
        if _is_years(r):
            parts.append("no publication year")
        elif r.status == NOT_MET:
            parts.append(f"{r.criterion} not met{_quote(r, max_quote, negated=True)}")
        elif r.evidence:
            parts.append(f"{r.criterion} unclear{_how(r)} (weak evidence, score {r.score:.2f})")
        else:
            parts.append(f"{r.criterion} unclear{_how(r)} (no evidence)")
    if not incl:
        parts.append("the review states no inclusion criteria")
    return "unclear", None, "Unclear: " + "; ".join(parts) + "; needs a reviewer."


def _how(row: Any) -> str:
    """`` by similarity to the criterion's wording; no cues given`` for such a verdict."""
    by_similarity = getattr(row, "method", None) == METHOD_SIMILARITY or any(
        isinstance(e, dict) and e.get("method") == METHOD_SIMILARITY for e in row.evidence or []
    )
    return f" ({SIMILARITY_NOTE})" if by_similarity else ""


def _year_phrase(row: Any) -> str:
    ev = row.evidence
    lo, hi = ev.get("year_min"), ev.get("year_max")
    span = f"{lo if lo is not None else '…'}–{hi if hi is not None else '…'}"
    if row.status == MET:
        return f"published {ev['year']}, within {span}"
    if row.status == NOT_MET:
        return f"published {ev['year']}, outside {span} ({row.criterion})"
    return "no publication year"


def _quote(row: Any, max_quote: int, *, negated: bool = False) -> str:
    """`` (0.82: “…sentence…” [field])`` from the strongest evidence of that polarity."""
    evidence = [e for e in (row.evidence or []) if bool(e.get("negated")) == negated]
    score = "" if row.score is None or pd.isna(row.score) else f"{row.score:.2f}"
    if not evidence:
        return f" (score {score})" if score else ""
    best = max(evidence, key=_weight)
    text = _snippet(str(best.get("sentence") or best.get("match") or ""), best, max_quote)
    field = best.get("field") or "text"
    head = f"{score}: " if score and not negated else ""
    return f" ({head}“{text}” [{field}])"


def _snippet(sentence: str, ev: Mapping[str, Any], max_quote: int) -> str:
    """The sentence, or a window of it around the matched phrase when it is too long."""
    sentence = " ".join(sentence.split())
    if len(sentence) <= max_quote:
        return sentence
    match = str(ev.get("match") or ev.get("cue") or "")
    at = sentence.lower().find(match.lower()) if match else -1
    start = 0 if at < 0 else max(0, at + len(match) // 2 - max_quote // 2)
    end = min(len(sentence), start + max_quote)
    start = max(0, end - max_quote)
    return (
        ("…" if start else "") + sentence[start:end].strip() + ("…" if end < len(sentence) else "")
    )
