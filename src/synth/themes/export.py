"""Theme assignments as a flat table for ``synth export themes``: one row per (paper,
theme, passage), with where the passage comes from, so a reviewer can check every
assignment in a spreadsheet (cells neutralised by :func:`synth.corpus.writers.csv.write_table`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

from synth.tagging.describe import unique_record_ids
from synth.themes.codebook import ThemeCodebook, load_theme_codebook

THEME_EXPORT_COLUMNS = [
    "record_id", "theme_id", "theme", "passage", "source", "section", "page", "score",
    "method", "cue", "also",
]  # fmt: skip


def theme_rows(
    assignments: pd.DataFrame,
    records: pd.DataFrame,
    extracts: pd.DataFrame | None = None,
    *,
    codebook: ThemeCodebook | None = None,
) -> pd.DataFrame:
    """The assignments with the theme's heading, the source field (extract, abstract,
    fulltext, title) and, for the review's extracts, their section and page; for a
    sentence of a PDF full text, its page."""
    cb = codebook or load_theme_codebook()
    where: dict[tuple[str, str], tuple[str, str]] = {}
    if extracts is not None and len(extracts):
        to_kept = unique_record_ids(records).to_dict()
        for row in extracts.to_dict("records"):
            kept = to_kept.get(str(row.get("record_id")), str(row.get("record_id")))
            text = " ".join(str(row.get("text") or "").split())
            section = row.get("section")
            page = row.get("page")
            where.setdefault(
                (kept, text),
                ("" if pd.isna(section) else str(section), "" if pd.isna(page) else str(page)),
            )
    headings = {t.id: t.heading for t in cb.themes}
    rows = []
    for r in assignments.itertuples(index=False):
        section, page = (
            where.get((str(r.record_id), r.text), ("", "")) if r.field == "extract" else ("", "")
        )
        pdf_page = getattr(r, "page", None)
        if not page and pdf_page is not None and not pd.isna(pdf_page):
            page = str(int(pdf_page))  # a sentence of a PDF full text: its page
        rows.append(
            (
                r.record_id, r.theme_id, headings.get(r.theme_id, r.theme_id), r.text, r.field,
                section, page, round(float(r.score), 4), r.method, r.cue, r.also,
            )
        )  # fmt: skip
    return pd.DataFrame(rows, columns=THEME_EXPORT_COLUMNS)


def export_themes(
    con: sqlite3.Connection,
    out: Path | str,
    *,
    codebook_path: Path | str | None = None,
    included_only: bool = True,
) -> int:
    """Assign the included papers' passages to themes (as the thematic page does) and
    write them as CSV; returns the number of rows."""
    from synth.corpus.writers.csv import write_table
    from synth.report.overview import select_records
    from synth.store import load_extracts, load_fulltexts
    from synth.themes.assign import assign_themes

    cb = load_theme_codebook(codebook_path)
    papers = select_records(con, included_only=included_only).with_duplicates
    extracts = load_extracts(con)
    assignments = assign_themes(papers, extracts, load_fulltexts(con), codebook=cb)
    table = theme_rows(assignments, papers, extracts, codebook=cb)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_table(table, out)
    return len(table)
