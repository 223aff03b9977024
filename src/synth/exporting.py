"""Export the store's records for spreadsheets and reference managers.

CSV carries the canonical columns plus each record's duplicate group; RIS and BibTeX
round-trip every schema field through synth's own readers (CSV too: the tabular reader
knows synth's export header). Cells that a spreadsheet would run as a formula are
neutralised (:mod:`synth.corpus.writers.csv`): a title is data, never a formula.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd

from synth.corpus.writers.csv import neutralise_formula, write_csv
from synth.store.views import load_records

EXPORT_FORMATS = ("csv", "ris", "bibtex")

__all__ = ["export_fulltexts", "export_records", "export_tags", "neutralise_formula", "write_csv"]


def format_for(path: Path, fmt: str | None) -> str:
    if fmt:
        fmt = fmt.lower()
        fmt = {"bib": "bibtex"}.get(fmt, fmt)
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"unknown export format {fmt!r}; choose one of {EXPORT_FORMATS}")
        return fmt
    suffix = path.suffix.lower()
    guessed = {".csv": "csv", ".ris": "ris", ".bib": "bibtex", ".bibtex": "bibtex"}.get(suffix)
    if not guessed:
        raise ValueError(f"{path}: cannot tell the format from {suffix!r}; pass --format")
    return guessed


def export_records(
    con: sqlite3.Connection, out: Path | str, *, fmt: str | None = None, kept_only: bool = False
) -> int:
    """Write the store's records to ``out``; returns how many were written."""
    out = Path(out)
    fmt = format_for(out, fmt)
    records = load_records(con, with_groups=True)
    if kept_only:
        records = records[records["is_kept"].fillna(True).astype(bool)].reset_index(drop=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        write_csv(records, out)
    elif fmt == "ris":
        from synth.corpus.writers.ris import write_ris

        write_ris(records, out)
    else:
        from synth.corpus.writers.bibtex import write_bibtex

        write_bibtex(records, out)
    return len(records)


def export_fulltexts(con: sqlite3.Connection, out: Path | str) -> int:
    """The stored PDFs and their links as CSV (:func:`synth.store.fulltexts.fulltexts_table`:
    file, record, what the reader found, the link's rule, score and reviewer)."""
    from synth.corpus.writers.csv import write_table
    from synth.store.fulltexts import fulltexts_table

    table = fulltexts_table(con)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_table(table, out)
    return len(table)


#: ``code``: a country row's ISO 3166-1 alpha-2 code (synth.tagging.countries), else empty.
TAG_EXPORT_COLUMNS = [
    "record_id", "facet", "label", "code", "score", "evidence", "source", "version",
]  # fmt: skip


def _evidence_text(evidence: list[dict[str, Any]]) -> str:
    """Evidence as a reader wants it in a cell: each sentence with its field (and the
    page of a PDF's: ``[fulltext, p. 4]``) and cue."""
    parts = []
    for e in evidence:
        neg = " (negated)" if e.get("negated") else ""
        page = e.get("page")
        where = f"{e.get('field')}, p. {page}" if isinstance(page, int) else e.get("field")
        parts.append(f"[{where}] {e.get('sentence') or e.get('match')}{neg}")
    return " | ".join(parts)


def export_tags(con: sqlite3.Connection, out: Path | str) -> int:
    """The current tags (latest run, reviewers' overrides applied) as CSV."""
    from synth.store.tags import current_tags

    tags = current_tags(con).copy()
    tags["evidence"] = [_evidence_text(e) for e in tags["evidence"]]
    tags["code"] = _country_codes(tags)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_csv(tags[TAG_EXPORT_COLUMNS], out)
    return len(tags)


def _country_codes(tags: pd.DataFrame) -> list[str]:
    """The ISO code of each country row ("United Kingdom" -> "GB"); empty for other rows."""
    if not len(tags):
        return []
    from synth.tagging.countries import label_codes

    codes = label_codes()
    return [
        codes.get(label, "") if facet == "country" else ""
        for facet, label in zip(tags["facet"], tags["label"], strict=True)
    ]


#: Columns of :func:`criteria_table` (``synth export criteria``).
CRITERIA_EXPORT_COLUMNS = [
    "record_id", "title", "criterion", "kind", "verdict", "method", "score", "evidence",
    "suggested_decision", "suggested_reason",
]  # fmt: skip


def criteria_table(con: sqlite3.Connection, run_id: int | None = None) -> pd.DataFrame:
    """One row per (record, criterion) of a tagging run (default: the latest finished),
    for a reviewer's spreadsheet: the verdict with its evidence as text, beside the
    record's suggested decision and its reason.

    Empty (with :data:`CRITERIA_EXPORT_COLUMNS`) when there is no finished run or the run
    assessed no criteria (tagged without a review.yml): the caller says which.
    """
    from synth.store.tags import latest_run, load_assessment, load_suggestions

    run_id = run_id if run_id is not None else latest_run(con)
    if run_id is None:
        return pd.DataFrame(columns=CRITERIA_EXPORT_COLUMNS)
    assessment = load_assessment(con, run_id)
    suggestions = load_suggestions(con, run_id)
    titles = pd.read_sql_query("SELECT record_id, title FROM records", con)
    reason = [
        f"{r}: {e}" if isinstance(r, str) and r else (e or "")
        for r, e in zip(suggestions["reason"], suggestions["explanation"], strict=True)
    ]
    suggested = pd.DataFrame(
        {
            "record_id": suggestions["record_id"],
            "suggested_decision": suggestions["decision"],
            "suggested_reason": reason,
        }
    )
    out = assessment.merge(titles, on="record_id", how="left").merge(
        suggested, on="record_id", how="left"
    )
    out = out.rename(columns={"status": "verdict"})
    methods = _criteria_methods(con, run_id)
    out["method"] = [
        _criterion_method(c, e, methods)
        for c, e in zip(out["criterion"], out["evidence"], strict=True)
    ]
    out["evidence"] = [_criterion_evidence_text(e) for e in out["evidence"]]
    return out[CRITERIA_EXPORT_COLUMNS].reset_index(drop=True)


def _criteria_methods(con: sqlite3.Connection, run_id: int) -> dict[str, str]:
    """How the run judged each criterion (``cues``, ``similarity``, ``year``), as
    :func:`synth.tagging.workflow.tag_store` records it in the run's parameters."""
    from synth.store.tags import run_params

    methods = run_params(con, run_id).get("criteria_methods")
    return dict(methods) if isinstance(methods, dict) else {}


def _criterion_method(criterion: str, evidence: Any, methods: dict[str, str]) -> str:
    """``cues`` / ``similarity`` / ``year`` for one verdict: the run's record of it, else
    what its evidence says (a run stored before methods were recorded, when every
    criterion had cues or was the date range)."""
    from synth.tagging.criteria import METHOD_CUES, METHOD_YEAR

    if criterion in methods:
        return str(methods[criterion])
    return METHOD_YEAR if isinstance(evidence, dict) else METHOD_CUES


def _criterion_evidence_text(evidence: Any) -> str:
    """A criterion's evidence in one cell: the publication year for the date criterion,
    else each sentence with its field, as ``synth export tags`` writes tag evidence; a
    sentence found by similarity says so (no cues given)."""
    if isinstance(evidence, dict):  # the date criterion (see synth.tagging.criteria.assess)
        year = evidence.get("year")
        lo, hi = evidence.get("year_min"), evidence.get("year_max")
        span = f"{lo if lo is not None else '…'}–{hi if hi is not None else '…'}"
        return f"[year] {year if year is not None else 'no year'} (criterion: {span})"
    items = evidence if isinstance(evidence, list) else []
    text = _evidence_text(items)
    notes = {str(e["note"]) for e in items if isinstance(e, dict) and e.get("note")}
    return f"{text} ({'; '.join(sorted(notes))})" if notes else text
