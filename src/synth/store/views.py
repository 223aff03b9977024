"""DataFrame views of the review store: the store is the truth, frames are read from it.

``sources``, ``records``, ``record_sightings``, ``import_failures``, ``extracts`` and
``fulltexts`` are themselves SQL views showing only files imported completely (migration
0005), so nothing here can see a file that is still being written or was left half
written by a killed import.
"""

from __future__ import annotations

import json
import sqlite3

import pandas as pd

from synth.corpus.model import RECORD_COLUMNS


def load_records(con: sqlite3.Connection, *, with_groups: bool = False) -> pd.DataFrame:
    """All records in canonical columns (plus ``group_id``/``is_kept`` if asked; groups
    an interrupted import left out of date are brought up to date first)."""
    if with_groups:
        from synth.store.duplicates import ensure_groups  # it reads records through here

        ensure_groups(con)
    cols = ", ".join(f"r.{c}" for c in RECORD_COLUMNS)
    sql = f"SELECT {cols}"
    if with_groups:
        sql += ", g.group_id, g.is_kept"
    sql += " FROM records r"
    if with_groups:
        sql += " LEFT JOIN duplicate_groups g ON g.record_id = r.record_id"
    sql += " ORDER BY r.source_id, r.position, r.record_id"
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    columns = {name: [row[i] for row in rows] for i, name in enumerate(names)}
    loads = json.loads
    for name in ("authors", "keywords", "extra"):
        columns[name] = [loads(v) for v in columns[name]]
    df = pd.DataFrame({c: columns[c] for c in RECORD_COLUMNS}, columns=RECORD_COLUMNS)
    for name in ("year", "position", "line", "label_included"):
        df[name] = pd.array(columns[name], dtype="Int64")
    df["grey"] = pd.array(
        [None if v is None else bool(v) for v in columns["grey"]], dtype="boolean"
    )
    if with_groups:
        df["group_id"] = columns["group_id"]
        df["is_kept"] = pd.array(
            [None if v is None else bool(v) for v in columns["is_kept"]], dtype="boolean"
        )
    return df


def load_failures(con: sqlite3.Connection) -> pd.DataFrame:
    """The failures report: errors (not imported) and warnings (imported, to check).

    ``line`` and ``record`` are nullable integers, as the readers reported them.
    """
    df = pd.read_sql_query(
        "SELECT file, line, record, reason, raw, severity FROM import_failures ORDER BY failure_id",
        con,
    )
    for name in ("line", "record"):
        df[name] = pd.array([None if pd.isna(v) else int(v) for v in df[name]], dtype="Int64")
    return df


def load_extracts(con: sqlite3.Connection) -> pd.DataFrame:
    return pd.read_sql_query(
        "SELECT extract_id, ref, record_id, page, kind, section, text, source_file, line"
        " FROM extracts ORDER BY source_file, line",
        con,
    )


def load_fulltexts(con: sqlite3.Connection) -> pd.DataFrame:
    """Every record's full text, one row per record: the one place later stages read them.

    ``source`` is ``markdown`` (a full text imported as Markdown) or ``pdf`` (the text of
    a PDF now linked to the record; ``pdf_id`` names it, so page-aware code can read its
    pages with :func:`synth.store.fulltexts.load_pages`). A record with both keeps its
    Markdown text: a reviewer prepared that one for this record, where the PDF's is read
    by machine. A record with two PDFs gets the longer text.
    """
    from synth.store.fulltexts import linked_pdf_texts

    markdown = pd.read_sql_query("SELECT record_id, text, chars FROM fulltexts", con)
    markdown["source"] = "markdown"
    markdown["pdf_id"] = pd.array([None] * len(markdown), dtype="Int64")
    pdfs = linked_pdf_texts(con)
    pdfs = pdfs[~pdfs["record_id"].isin(markdown["record_id"])]
    pdfs = pdfs.assign(source="pdf", pdf_id=pdfs["pdf_id"].astype("Int64"))
    columns = ["record_id", "text", "chars", "source", "pdf_id"]
    if pdfs.empty:
        return markdown[columns]
    both = pd.concat([markdown[columns], pdfs[columns]], ignore_index=True)
    both["chars"] = both["chars"].astype("int64")
    return both


def load_sources(con: sqlite3.Connection) -> pd.DataFrame:
    return pd.read_sql_query("SELECT * FROM sources ORDER BY source_id", con)


def load_pairs(con: sqlite3.Connection) -> pd.DataFrame:
    """Duplicate pairs with both titles, so a reviewer can judge each link."""
    return pd.read_sql_query(
        "SELECT p.*, g.group_id, a.title AS title_a, b.title AS title_b,"
        " a.year AS year_a, b.year AS year_b, a.source_file AS file_a, b.source_file AS file_b"
        " FROM duplicate_pairs p"
        " JOIN records a ON a.record_id = p.record_a JOIN records b ON b.record_id = p.record_b"
        " LEFT JOIN duplicate_groups g ON g.record_id = p.record_a"
        " ORDER BY g.group_id, p.score",
        con,
    )
