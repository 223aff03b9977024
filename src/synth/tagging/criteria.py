"""Check each record against the review's inclusion and exclusion criteria.

The tagger's ``criterion`` facet says *where* the text speaks to a criterion; this module
turns that into a status per record and criterion (met / not met / unclear) and then into
a suggested screening decision with a one-sentence explanation. Suggestions are only
suggestions: a reviewer confirms or overrides them in the store, where overrides are
appended as events.

Thresholds and the pairs of opposite criteria are data (``synth/data/criteria_rules.yml``).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from synth.review import EXCLUSION, INCLUSION, Criterion, Review
from synth.tagging.codebook import CRITERION_FACET, Codebook, CodebookError, with_criteria

log = logging.getLogger(__name__)

#: Columns of :func:`assess`'s result.
ASSESSMENT_COLUMNS: list[str] = ["record_id", "criterion", "kind", "status", "score", "evidence"]
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
    return _validate_rules(yaml.safe_load(Path(path).read_text("utf-8")), str(path))


@cache
def _default_rules() -> dict[str, Any]:
    text = resources.files("synth.data").joinpath(_RULES_FILE).read_text("utf-8")
    return _validate_rules(yaml.safe_load(text), _RULES_FILE)


def _validate_rules(rules: Any, name: str) -> dict[str, Any]:
    if not isinstance(rules, dict):
        raise CriteriaError(f"{name}: expected a mapping at the top level")
    rules.setdefault("exclusion_met_threshold", rules.get("met_threshold"))
    for key in ("met_threshold", "exclusion_met_threshold", "clear_threshold", "negated_share"):
        value = rules.get(key)
        if not isinstance(value, int | float) or not 0 <= value <= 1:
            raise CriteriaError(f"{name}: {key} must be a number between 0 and 1, got {value!r}")
    opposites = rules.setdefault("opposites", {})
    if not isinstance(opposites, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in opposites.items()
    ):
        raise CriteriaError(f"{name}: opposites must map criterion ids to criterion ids")
    fields = rules.setdefault("exclusion_not_from_fields_alone", [])
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise CriteriaError(f"{name}: exclusion_not_from_fields_alone must be a list of fields")
    rules.setdefault("explanation", {}).setdefault("max_quote", 120)
    return rules


# --------------------------------------------------------------------------- criteria


def review_criteria(review: Review) -> list[Criterion]:
    """The review's inclusion then exclusion criteria, in review.yml order.

    A criterion with ``year_min``/``year_max`` is a date range (``years`` in KEI); every
    other criterion is judged from the tagger's ``criterion`` tags with the same id. The
    general exclusion (``exclusion_general``) is a reason a reviewer gives, not assessed.
    """
    return [*review.inclusion_criteria, *review.exclusion_criteria]


def review_criterion_tags(tags: pd.DataFrame, review: Review | None) -> pd.DataFrame:
    """``tags`` with only the criterion tags the review asks about.

    The codebook's criterion cues are written for one review's criteria; without a review
    (``None`` or the empty review) no criterion tag is kept, and with one only the labels
    that are its text criteria, so no page shows a criterion the review does not have.
    """
    wanted = {c.id for c in review_criteria(review) if not c.is_years} if review else set()
    criterion = (tags["facet"] == CRITERION_FACET).to_numpy(dtype=bool)
    drop = criterion & ~tags["label"].isin(wanted).to_numpy(dtype=bool)
    if not drop.any():
        return tags
    return tags[~drop].reset_index(drop=True)


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


# --------------------------------------------------------------------------- assess


def assess(
    records: pd.DataFrame,
    tags: pd.DataFrame,
    review: Review,
    *,
    rules: Mapping[str, Any] | None = None,
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
        evidence``.

    Notes
    -----
    The date criterion (one with ``year_min``/``year_max``) is *met* when
    ``year_min <= year <= year_max`` (bounds inclusive, either may be absent), *not_met*
    when the year is outside, *unclear* when the record has no year; its score is 1, 0 or
    NaN and its evidence a dict ``{field: "year", year, year_min, year_max}``.

    A text criterion takes the score and evidence of its ``criterion`` tag row(s) (score 0
    and no evidence when the tagger found no cue). Its status is:

    * **met** when ``score >= met_threshold`` (``exclusion_met_threshold`` for an
      exclusion criterion: stricter, since a wrong exclusion loses a study) and less
      than ``negated_share`` of the evidence weight is negated; an exclusion criterion
      whose evidence all comes from ``exclusion_not_from_fields_alone`` (the title) stays
      unclear;
    * **not_met** when at least ``negated_share`` of the evidence weight is negated
      ("not an equal partnership"), or when the opposite criterion (the pairs in
      ``opposites``, e.g. equal-relationship / unequal-relationship) clearly holds:
      it is met by the rule above and its score is ``>= clear_threshold``;
    * **unclear** otherwise: a weak score or no evidence is never read as "not met",
      because absence of a cue in a title is not evidence of absence.

    If a criterion and its opposite both score as met, both stay met: the conflict is
    shown to the reviewer (and :func:`suggest` excludes, as any met exclusion does).
    """
    rules = load_rules() if rules is None else rules
    criteria = review_criteria(review)
    opposites = _opposites(criteria, rules)
    text_criteria = [c for c in criteria if not c.is_years]
    found = _criterion_tags(tags, {c.id for c in text_criteria})
    for c in text_criteria:
        if not any(key[1] == c.id for key in found):
            log.debug("no criterion tags for %s: every record is unclear or opposite-driven", c.id)

    met_at = {
        INCLUSION: float(rules["met_threshold"]),
        EXCLUSION: float(rules.get("exclusion_met_threshold", rules["met_threshold"])),
    }
    clear_at = float(rules["clear_threshold"])
    not_enough = {
        INCLUSION: frozenset(),
        EXCLUSION: frozenset(rules.get("exclusion_not_from_fields_alone") or ()),
    }
    neg_share = float(rules["negated_share"])

    rows: list[tuple[Any, ...]] = []
    years = records["year"] if "year" in records.columns else pd.Series([None] * len(records))
    for rid, year in zip(records["record_id"], years, strict=True):
        own: dict[str, tuple[float, list[dict[str, Any]], str]] = {}
        for c in text_criteria:
            score, evidence = found.get((rid, c.id), (0.0, []))
            status = _own_status(score, evidence, met_at[c.kind], neg_share, not_enough[c.kind])
            own[c.id] = (score, evidence, status)
        for c in criteria:
            if c.is_years:
                rows.append((rid, c.id, c.kind, *_year_status(year, c)))
                continue
            score, evidence, status = own[c.id]
            if status == UNCLEAR and c.id in opposites:
                o_score, _, o_status = own[opposites[c.id]]
                if o_status == MET and o_score >= clear_at:
                    status = NOT_MET
            rows.append((rid, c.id, c.kind, status, score, evidence))
    out = pd.DataFrame(rows, columns=ASSESSMENT_COLUMNS)
    out["score"] = out["score"].astype(float)
    return out


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
    score: float,
    evidence: list[dict[str, Any]],
    met_at: float,
    neg_share: float,
    not_enough: frozenset[str] = frozenset(),
) -> str:
    """Status from the criterion's own tag, before looking at its opposite.

    ``not_enough``: fields whose evidence alone cannot make the criterion met (for an
    exclusion, the title: it names what a paper is about, not what it did).
    """
    if evidence and negated_fraction(evidence) >= neg_share:
        return NOT_MET
    if score >= met_at:
        if not_enough and not any(
            e.get("field") not in not_enough and not e.get("negated") for e in evidence
        ):
            return UNCLEAR
        return MET
    return UNCLEAR


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
    max_quote = int(rules.get("explanation", {}).get("max_quote", 120))
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
        parts = [f"{r.criterion} met{_quote(r, max_quote)}" for r in text_incl]
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
            parts.append(f"{r.criterion} unclear (weak evidence, score {r.score:.2f})")
        else:
            parts.append(f"{r.criterion} unclear (no evidence)")
    if not incl:
        parts.append("the review states no inclusion criteria")
    return "unclear", None, "Unclear: " + "; ".join(parts) + "; needs a reviewer."


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
