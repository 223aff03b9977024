"""Confidence in each review finding, in the manner of GRADE-CERQual.

A finding is a theme of the thematic synthesis (:mod:`synth.themes`): its heading, the
papers behind it and the passages that put them there. For each finding synth suggests a
level for the four CERQual components and an overall confidence, each with its reason:

- methodological limitations, from the appraisals of the papers behind the finding
  (the resolved values of the appraisal forms, :mod:`synth.extraction.values`);
- coherence, from how directly the papers support the finding (the theme's own cue
  phrases against text similarity alone);
- adequacy, from how many papers there are and how rich their data (passages per paper);
- relevance, from how well the papers' settings match the review's question (the tagger's
  setting labels against ``review.yml``'s scope).

The thresholds are data (``synth/data/cerqual.yml``). The reviewer confirms or changes each
level: every judgement is an append-only event (migration 0007), committed before
:func:`record_judgement` returns, and :func:`summary_of_findings` shows the reviewer's
judgement where one is set, else the suggestion.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from synth.store.db import now, require_name, transaction

COMPONENTS = ("methodological_limitations", "coherence", "adequacy", "relevance")
LEVELS = ("no or very minor concerns", "minor concerns", "moderate concerns", "serious concerns")
OVERALL = ("high", "moderate", "low", "very low")
#: A component synth cannot judge yet (no paper behind the finding is appraised).
NOT_ASSESSED = "not assessed"
COMPONENT_NAMES = {
    "methodological_limitations": "Methodological limitations",
    "coherence": "Coherence",
    "adequacy": "Adequacy",
    "relevance": "Relevance",
    "overall": "Confidence",
}
FINDING_COLUMNS = ["finding_id", "finding", "record_ids", "passages", "direct"]
SUGGESTION_COLUMNS = [
    "finding_id", "finding", "papers", "record_ids",
    *[c for comp in COMPONENTS for c in (comp, f"{comp}_why")], "overall", "overall_why",
]  # fmt: skip
JUDGEMENT_COLUMNS = [
    "event_id", "finding_id", "component", "level", "reviewer", "note", "created_at",
]  # fmt: skip
SOF_COLUMNS = [
    "finding_id", "finding", "papers", *COMPONENTS, "overall", "explanation", "judged",
    "judged_by",
]  # fmt: skip


class CerqualRulesError(ValueError):
    """A CERQual rules file that cannot be used; the message names the file and the key."""


# ------------------------------------------------------------------------------- rules


@cache
def _package_rules() -> dict[str, Any]:
    text = resources.files("synth.data").joinpath("cerqual.yml").read_text("utf-8")
    return parse_rules(yaml.safe_load(text), "cerqual.yml")


def load_rules(path: str | Path | None = None) -> dict[str, Any]:
    """The CERQual rules: the package's ``cerqual.yml``, or a review team's own file."""
    if path is None:
        return _package_rules()
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CerqualRulesError(f"{path}: cannot read the CERQual rules ({exc})") from exc
    return parse_rules(data, str(path))


def parse_rules(data: Any, source: str) -> dict[str, Any]:
    """Check the rules (every level named is a CERQual level; thresholds are numbers)."""
    if not isinstance(data, dict):
        raise CerqualRulesError(f"{source}: expected a mapping of CERQual rules")
    for key in ("answers", *COMPONENTS, "overall"):
        if not isinstance(data.get(key), dict):
            raise CerqualRulesError(f"{source}: '{key}' is missing or not a mapping")
    for answer, meaning in data["answers"].items():
        if not isinstance(answer, str):
            raise CerqualRulesError(
                f"{source}: answers: {answer!r} is not text (quote yes/no: YAML reads them "
                "as true/false)"
            )
        if meaning not in ("none", "concern", "unclear", "ignore"):
            raise CerqualRulesError(
                f"{source}: answers.{answer}: {meaning!r} is not one of none, concern, "
                "unclear, ignore"
            )
    for comp in COMPONENTS:
        levels = data[comp].get("levels")
        if not isinstance(levels, list) or not levels:
            raise CerqualRulesError(f"{source}: {comp}.levels must be a list of rules")
        for k, rule in enumerate(levels):
            where = f"{source}: {comp}.levels[{k}]"
            if not isinstance(rule, dict) or rule.get("level") not in LEVELS:
                raise CerqualRulesError(f"{where}: 'level' must be one of {', '.join(LEVELS)}")
            for name, value in rule.items():
                if name != "level" and not isinstance(value, int | float):
                    raise CerqualRulesError(f"{where}: {name} must be a number, not {value!r}")
        if set(levels[-1]) != {"level"}:
            raise CerqualRulesError(f"{source}: {comp}.levels: the last rule must be a bare level")
    steps = data["overall"].get("steps") or {}
    if set(steps) != set(LEVELS):
        raise CerqualRulesError(f"{source}: overall.steps must give a step for each of {LEVELS}")
    return data


def _first(levels: list[dict[str, Any]], values: Mapping[str, float]) -> str:
    """The first rule whose every threshold the values reach (``min_*``/``*_share``:
    at least; a bare rule always holds)."""
    for rule in levels:
        if all(values.get(k, 0.0) >= v for k, v in rule.items() if k != "level"):
            return str(rule["level"])
    return str(levels[-1]["level"])


# ------------------------------------------------------------------------------ findings


def theme_findings(summary: pd.DataFrame, assignments: pd.DataFrame) -> pd.DataFrame:
    """The review's findings: one per theme with papers (from
    :func:`synth.themes.summarise_themes` and :func:`synth.themes.assign_themes`).

    Columns :data:`FINDING_COLUMNS`: ``passages`` maps each paper to its distinct passages
    under the theme; ``direct`` lists the papers with a passage holding a theme cue.
    """
    rows = []
    for theme in summary.itertuples(index=False):
        papers = [str(r) for r in theme.record_ids]
        if not papers:
            continue
        sub = assignments[assignments["theme_id"] == theme.theme_id] if len(assignments) else None
        passages: dict[str, int] = {}
        direct: list[str] = []
        if sub is not None and len(sub):
            passages = sub.groupby(sub["record_id"].astype(str))["text"].nunique().to_dict()
            cue = sub[sub["method"] == "cue"]
            direct = sorted(set(cue["record_id"].astype(str)) & set(papers))
        rows.append((theme.theme_id, theme.heading, papers, passages, direct))
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def appraisal_values(con: sqlite3.Connection) -> pd.DataFrame:
    """Every appraisal tool's resolved values (B's :func:`resolved_values`), one frame
    with ``form_id``: the input of methodological limitations and of the appraisal plots."""
    from synth.extraction.forms import appraisal_tools
    from synth.extraction.values import resolved_values

    frames = []
    for form_id, form in appraisal_tools().items():
        values = resolved_values(con, form)
        if len(values):
            frames.append(values.assign(form_id=form_id))
    if not frames:
        return pd.DataFrame(columns=["record_id", "form_id", "field_id", "value", "status"])
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- components


def _kept(records: pd.DataFrame | None) -> dict[str, str]:
    """record id -> the kept record of its duplicate group (empty: ids are kept ids)."""
    if records is None or not len(records):
        return {}
    from synth.tagging.describe import unique_record_ids

    return {str(k): str(v) for k, v in unique_record_ids(records).to_dict().items()}


def paper_limitations(
    values: pd.DataFrame, records: pd.DataFrame | None = None, rules: dict | None = None
) -> pd.DataFrame:
    """Per appraised paper: items answered, concerns, unclear answers, its concern share
    and its rating (few, some, serious); a duplicate's appraisal counts for its kept paper."""
    from synth.extraction.values import answer_meaning

    rules = rules or load_rules()
    ml = rules["methodological_limitations"]
    kept = _kept(records)
    counts: dict[str, list[int]] = {}
    if len(values):
        for rid, value in zip(values["record_id"], values["value"], strict=True):
            what = answer_meaning(value, rules)
            if what is None or what == "ignore":
                continue
            c = counts.setdefault(kept.get(str(rid), str(rid)), [0, 0, 0])
            c[0] += 1
            c[1] += what == "concern"
            c[2] += what == "unclear"
    rows = []
    for rid, (items, concerns, unclear) in counts.items():
        share = (concerns + ml["unclear_weight"] * unclear) / items
        rating = (
            "serious"
            if share >= ml["paper_serious"]
            else "some"
            if share >= ml["paper_some"]
            else "few"
        )
        rows.append((rid, items, concerns, unclear, share, rating))
    return pd.DataFrame(
        rows, columns=["record_id", "items", "concerns", "unclear", "share", "rating"]
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def limitations_level(papers: list[str], per_paper: pd.DataFrame, rules: dict) -> tuple[str, str]:
    """(level, why) of methodological limitations from the appraised papers' ratings."""
    ml = rules["methodological_limitations"]
    rated = per_paper[per_paper["record_id"].isin(papers)]
    n, appraised = len(papers), len(rated)
    if not appraised:
        return NOT_ASSESSED, f"none of the {_plural(n, 'paper')} is appraised yet"
    serious = int((rated["rating"] == "serious").sum())
    some = int((rated["rating"] == "some").sum())
    level = _first(
        ml["levels"],
        {
            "serious_share": serious / appraised,
            "some_or_serious_share": (serious + some) / appraised,
        },
    )
    why = (
        f"{appraised} of {_plural(n, 'paper')} appraised: {serious} with serious, {some} with "
        f"some, {appraised - serious - some} with few methodological concerns"
    )
    if appraised / n < ml["min_appraised_share"] and LEVELS.index(level) < 2:
        level = "moderate concerns"
        why += "; most of the evidence is not appraised yet"
    return level, why


def coherence_level(papers: list[str], direct: Iterable[str], rules: dict) -> tuple[str, str]:
    """(level, why) of coherence: the share of papers that speak to the theme in its own
    cue phrases rather than by text similarity alone."""
    d = len(set(direct) & set(papers))
    share = d / len(papers)
    level = _first(rules["coherence"]["levels"], {"direct_share": share})
    return level, (
        f"{d} of {_plural(len(papers), 'paper')} support the finding in the theme's own "
        f"terms; {len(papers) - d} only by text similarity"
    )


def adequacy_level(papers: list[str], passages: Mapping[str, int], rules: dict) -> tuple[str, str]:
    """(level, why) of adequacy: how many papers, how many passages each (median)."""
    counts = sorted(int(passages.get(r, 0)) for r in papers)
    median = float(pd.Series(counts).median()) if counts else 0.0
    level = _first(rules["adequacy"]["levels"], {"min_papers": len(papers), "min_passages": median})
    return level, (
        f"{_plural(len(papers), 'paper')}, a median of {median:g} passages each "
        f"({sum(counts)} in all)"
    )


def paper_relevance(
    tags: pd.DataFrame, review: Any, records: pd.DataFrame | None, rules: dict
) -> dict[str, str]:
    """kept record id -> direct, partial or indirect (see ``cerqual.yml``'s relevance)."""
    from synth.tagging.describe import counted_tags

    kept = _kept(records)
    out_of_scope = set(getattr(review, "out_of_scope", {}) or {})
    hidden = set(getattr(review, "hidden_labels", ()) or ())
    partial = set(rules["relevance"].get("partial_settings") or ())
    labels: dict[str, set[str]] = {}
    if tags is not None and len(tags):
        counted = counted_tags(tags)
        for rid, facet, label in zip(
            counted["record_id"], counted["facet"], counted["label"], strict=True
        ):
            labels.setdefault(kept.get(str(rid), str(rid)), set()).add(f"{facet}:{label}")
    out: dict[str, str] = {}
    for rid, have in labels.items():
        if have & (out_of_scope | hidden):
            out[rid] = "indirect"
        elif any(x.startswith("setting:") and x[8:] not in partial for x in have):
            out[rid] = "direct"
        else:
            out[rid] = "partial"
    return out


def relevance_level(
    papers: list[str], relevance: Mapping[str, str], rules: dict
) -> tuple[str, str]:
    """(level, why) of relevance: the share of papers whose setting is in the review's
    scope, with nothing it rules out."""
    kinds = [relevance.get(r, "partial") for r in papers]
    direct, indirect = kinds.count("direct"), kinds.count("indirect")
    level = _first(rules["relevance"]["levels"], {"direct_share": direct / len(papers)})
    return level, (
        f"{direct} of {_plural(len(papers), 'paper')} in a setting within the review's scope, "
        f"{len(papers) - direct - indirect} with no setting known, {indirect} partly out of scope"
    )


def overall_level(levels: Mapping[str, str], rules: dict) -> tuple[str, str]:
    """(overall confidence, why): from high, down by the steps of each component."""
    ov = rules["overall"]
    taken = []
    total = 0.0
    for comp in COMPONENTS:
        level = levels[comp]
        step = ov["not_assessed_steps"] if level == NOT_ASSESSED else ov["steps"][level]
        if step:
            total += step
            taken.append(f"{COMPONENT_NAMES[comp].lower()} ({level}: {_steps(step)})")
    steps = min(len(OVERALL) - 1, math.floor(total + 1e-9))
    overall = OVERALL[steps]
    if not taken:
        return overall, "high: no or very minor concerns in any component"
    down = "no step down" if not steps else f"down {_plural(steps, 'step')}"
    return overall, f"{overall}: from high, {down} for " + "; ".join(taken)


def _steps(step: float) -> str:
    """A component's share of the way down: "1 step", "½ step", "1½ steps"."""
    whole, half = int(step), step - int(step) >= 0.5
    text = (str(whole) if whole else "") + ("½" if half else "")
    return f"{text} step{'s' if step > 1 else ''}"


# ------------------------------------------------------------------------------ suggest


def suggest_confidence(
    con: sqlite3.Connection | None,
    findings: pd.DataFrame,
    appraisal_values: pd.DataFrame,
    records: pd.DataFrame | None,
    *,
    tags: pd.DataFrame | None = None,
    review: Any = None,
    rules: dict | None = None,
) -> pd.DataFrame:
    """Per finding (:func:`theme_findings`): each component's suggested level and why,
    and the suggested overall confidence and why. Columns :data:`SUGGESTION_COLUMNS`.

    ``tags`` and ``review`` default to the store's current tags and the review definition
    it was imported with (``con`` may be None when both are given).
    """
    rules = rules or load_rules()
    if tags is None and con is not None:
        from synth.store.tags import current_tags

        tags = current_tags(con)
    if review is None and con is not None:
        from synth.review import find_review, review_for

        review = review_for(find_review(con))
    per_paper = paper_limitations(appraisal_values, records, rules)
    relevance = paper_relevance(tags, review, records, rules)
    rows = []
    for f in findings.itertuples(index=False):
        papers = list(f.record_ids)
        if not papers:
            continue
        got = {
            "methodological_limitations": limitations_level(papers, per_paper, rules),
            "coherence": coherence_level(papers, f.direct, rules),
            "adequacy": adequacy_level(papers, f.passages, rules),
            "relevance": relevance_level(papers, relevance, rules),
        }
        overall, why = overall_level({c: got[c][0] for c in COMPONENTS}, rules)
        row: dict[str, Any] = {
            "finding_id": f.finding_id, "finding": f.finding, "papers": len(papers),
            "record_ids": papers,
        }  # fmt: skip
        for comp, (level, reason) in got.items():
            row[comp], row[f"{comp}_why"] = level, reason
        row["overall"], row["overall_why"] = overall, why
        rows.append(row)
    return pd.DataFrame(rows, columns=SUGGESTION_COLUMNS)


# ----------------------------------------------------------------------------- judgements


def _check(component: str, level: str | None) -> None:
    if component not in (*COMPONENTS, "overall"):
        raise ValueError(
            f"unknown CERQual component {component!r}: choose one of "
            f"{', '.join((*COMPONENTS, 'overall'))}"
        )
    allowed = OVERALL if component == "overall" else LEVELS
    if level is not None and level not in allowed:
        raise ValueError(
            f"{level!r} is not a level of {component}: choose one of {', '.join(allowed)}"
        )


def record_judgement(
    con: sqlite3.Connection,
    finding_id: str,
    component: str,
    level: str | None,
    reviewer: str,
    note: str = "",
) -> int:
    """Record a reviewer's judgement of one component (or ``overall``) of a finding and
    commit it; returns its event id. ``level=None`` clears it (the suggestion stands)."""
    _check(component, level)
    reviewer = require_name(reviewer, "reviewer")
    require_name(finding_id, "finding (its theme id)")
    with transaction(con):
        cur = con.execute(
            "INSERT INTO finding_judgements (finding_id, component, level, reviewer, note,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (str(finding_id), component, level, reviewer, note or None, now()),
        )
    return int(cur.lastrowid)  # type: ignore[arg-type]


def load_judgements(con: sqlite3.Connection) -> pd.DataFrame:
    """Every judgement event, oldest first. Columns :data:`JUDGEMENT_COLUMNS`."""
    rows = con.execute(
        f"SELECT {', '.join(JUDGEMENT_COLUMNS)} FROM finding_judgements ORDER BY event_id"
    ).fetchall()
    return pd.DataFrame([tuple(r) for r in rows], columns=JUDGEMENT_COLUMNS)


def current_judgements(con: sqlite3.Connection) -> pd.DataFrame:
    """The standing judgement per (finding, component): the latest event, whoever made it;
    a cleared one (NULL level) is left out."""
    events = load_judgements(con)
    latest = events.drop_duplicates(["finding_id", "component"], keep="last")
    return latest[latest["level"].notna()].reset_index(drop=True)


def summary_of_findings(con: sqlite3.Connection, suggested: pd.DataFrame) -> pd.DataFrame:
    """The summary-of-findings table: each finding with its components and overall
    confidence, the reviewer's judgement where set, else the suggestion (a reviewer's
    component levels without an overall one give a recomputed overall). ``judged`` lists
    what the reviewer set; ``explanation`` says why. Columns :data:`SOF_COLUMNS`."""
    rules = load_rules()
    standing = current_judgements(con)
    by_finding = {fid: part for fid, part in standing.groupby("finding_id")}
    rows = []
    for s in suggested.itertuples(index=False):
        part = by_finding.get(s.finding_id)
        judged = {} if part is None else dict(zip(part["component"], part["level"], strict=True))
        who = [] if part is None else sorted(set(part["reviewer"]))
        levels = {c: judged.get(c, getattr(s, c)) for c in COMPONENTS}
        if "overall" in judged:
            overall = judged["overall"]
            why = f"{overall}: the reviewer's judgement" + _note(part, "overall")
        elif any(c in judged for c in COMPONENTS):
            overall, why = overall_level(levels, rules)
        else:
            overall, why = s.overall, s.overall_why
        reasons = [
            f"{COMPONENT_NAMES[c]}: "
            + (
                f"the reviewer's judgement{_note(part, c)}"
                if c in judged
                else getattr(s, f"{c}_why")
            )
            for c in COMPONENTS
        ]
        why = f"{why}. " + ". ".join(reasons) + "."
        row = {"finding_id": s.finding_id, "finding": s.finding, "papers": s.papers, **levels}
        row.update(
            overall=overall, explanation=why, judged=[c for c in (*COMPONENTS, "overall")
                                                       if c in judged], judged_by=who,
        )  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows, columns=SOF_COLUMNS)


def _note(part: pd.DataFrame | None, component: str) -> str:
    """ " (note)" of the standing judgement of ``component``, or ""."""
    if part is None:
        return ""
    notes = part.loc[part["component"] == component, "note"]
    note = notes.iloc[0] if len(notes) else None
    return f" ({note})" if isinstance(note, str) and note.strip() else ""


def sof_table(sof: pd.DataFrame) -> pd.DataFrame:
    """The summary of findings as a reader sees it: readable headers, a reviewer's
    judgement marked with an asterisk (escape it when shown: the findings are data)."""
    out = pd.DataFrame({"Finding": sof["finding"], "Papers": sof["papers"]})
    for comp in (*COMPONENTS, "overall"):
        mark = sof["judged"].map(lambda j, c=comp: "*" if c in j else "")
        out[COMPONENT_NAMES[comp]] = sof[comp].astype(str) + mark
    out["Explanation"] = sof["explanation"]
    return out


def review_suggestions(
    con: sqlite3.Connection,
    *,
    themes: Path | str | None = None,
    review: Path | str | None = None,
) -> pd.DataFrame:
    """synth's suggestions (:func:`suggest_confidence`) for the review's findings: the
    themes of the included papers (``themes``: a theme codebook, default synth's own) and
    the store's appraisals; ``review``: a review.yml (default the store's own). What the
    summary-of-findings export and the findings panel start from."""
    from synth.report.overview import select_records
    from synth.review import review_for
    from synth.store import load_extracts, load_fulltexts
    from synth.themes import assign_themes, load_theme_codebook, summarise_themes

    selection = select_records(con)
    codebook = load_theme_codebook(themes)
    papers = selection.with_duplicates
    assignments = assign_themes(papers, load_extracts(con), load_fulltexts(con), codebook=codebook)
    summary = summarise_themes(assignments, papers, selection.tags, codebook=codebook)
    review_def = review_for(review) if review else None  # None: the store's own review.yml
    return suggest_confidence(
        con, theme_findings(summary, assignments), appraisal_values(con), papers,
        tags=selection.tags, review=review_def,
    )  # fmt: skip


def findings_confidence(
    con: sqlite3.Connection,
    summary: pd.DataFrame,
    assignments: pd.DataFrame,
    records: pd.DataFrame,
    *,
    tags: pd.DataFrame | None = None,
    review: Any = None,
) -> pd.DataFrame:
    """The synthesis page's summary of findings in one call: the themes' findings, the
    store's appraisals, suggested confidence, the reviewer's judgements over it."""
    findings = theme_findings(summary, assignments)
    suggested = suggest_confidence(
        con, findings, appraisal_values(con), records, tags=tags, review=review
    )
    return summary_of_findings(con, suggested)
