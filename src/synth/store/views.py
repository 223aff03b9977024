"""DataFrame views of the review store: the store is the truth, frames are read from it.

``sources``, ``records``, ``record_sightings``, ``import_failures``, ``extracts`` and
``fulltexts`` are themselves SQL views showing only files imported completely (migration
0005), so nothing here can see a file that is still being written or was left half
written by a killed import.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

import pandas as pd

from synth.corpus.model import RECORD_COLUMNS
from synth.store.db import id_chunks, in_marks
from synth.store.records import RECORD_ORDER


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
    sql += RECORD_ORDER  # the order every chunked reader of the store keeps
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


#: Columns of :func:`load_fulltexts`.
FULLTEXT_COLUMNS = [
    "record_id", "text", "chars", "source", "pdf_id", "page_starts", "sections", "from_record",
]  # fmt: skip


def load_fulltexts(
    con: sqlite3.Connection,
    *,
    groups: bool = True,
    record_ids: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Every record's full text, one row per record: the one place later stages read them.

    ``source`` is ``markdown`` (a full text imported as Markdown) or ``pdf`` (the text of
    a PDF now linked to the record; ``pdf_id`` names it). A PDF's row has
    ``page_starts`` (where each page begins in ``text``, its pages joined by a blank line)
    and ``sections`` (``(name, start, end)`` spans of ``text``), from which
    :mod:`synth.fulltext.passages` names a passage's page and section; None for Markdown.
    A record with both keeps its Markdown text: a reviewer prepared that one for this
    record, where the PDF's is read by machine. A record with two PDFs gets the longer text.

    With ``groups`` (the default) the kept record of a duplicate group that has no full
    text of its own gets a member's (Markdown first, then the longest), ``from_record``
    naming the member: a PDF linked to a duplicate is the kept record's full text too,
    for the screening and extraction apps, the themes and the tagger alike.
    ``record_ids`` reads only those records' texts (an app showing one record).
    """
    from synth.store.fulltexts import chosen_pdfs, pdf_text

    wanted = None if record_ids is None else set(record_ids)
    members = _group_members(con, wanted) if groups else {}
    look = None if wanted is None else wanted | {m for ms in members.values() for m in ms}
    sql, params = "SELECT record_id, text, chars FROM fulltexts", []
    if look is not None and len(look) <= 500:  # a few records' texts: not every text read
        params = sorted(look)
        sql += f" WHERE record_id IN ({','.join('?' * len(params))})"
    markdown = {
        rid: (text, chars)
        for rid, text, chars in con.execute(sql, params)
        if look is None or rid in look
    }
    chosen = chosen_pdfs(con, look)
    rows: dict[str, dict] = {}
    for rid, (text, chars) in markdown.items():
        rows[rid] = _fulltext_row(rid, text, chars, "markdown", None, None, None)
    pages = _page_lengths(con, [p for r, (p, _) in chosen.items() if r not in markdown])
    spans = _section_rows(con, list(pages))
    for rid, (pdf_id, _) in chosen.items():
        if rid in markdown:
            continue
        text = pdf_text(con, pdf_id)
        rows[rid] = _pdf_row(rid, text, pdf_id, pages[pdf_id], spans.get(pdf_id, []))
    for kept, group in members.items():
        if kept in rows:
            continue
        have = [rows[m] for m in group if m in rows]
        if have:
            best = min(have, key=lambda r: (r["source"] != "markdown", -r["chars"]))
            rows[kept] = {**best, "record_id": kept, "from_record": best["record_id"]}
    if wanted is not None:
        rows = {rid: row for rid, row in rows.items() if rid in wanted}
    df = pd.DataFrame(list(rows.values()), columns=FULLTEXT_COLUMNS)
    df["chars"] = df["chars"].astype("int64")
    df["pdf_id"] = pd.array([None if pd.isna(v) else int(v) for v in df["pdf_id"]], "Int64")
    for name in ("page_starts", "sections", "from_record"):  # None, not NaN, where none
        df[name] = pd.Series([r[name] for r in rows.values()], index=df.index, dtype=object)
    return df


def _fulltext_row(
    rid: str, text: str, chars: int, source: str, pdf_id: int | None, starts: Any, spans: Any
) -> dict[str, Any]:
    return {
        "record_id": rid, "text": text, "chars": int(chars), "source": source,
        "pdf_id": pdf_id, "page_starts": starts, "sections": spans, "from_record": None,
    }  # fmt: skip


def _pdf_row(
    rid: str, text: str, pdf_id: int, lengths: list[int], sections: list[tuple[str, int, str]]
) -> dict[str, Any]:
    from synth.fulltext.passages import page_starts, section_spans

    starts = page_starts(lengths)
    spans = section_spans(text, starts, sections)
    return _fulltext_row(rid, text, len(text), "pdf", pdf_id, starts, spans)


def _page_lengths(con: sqlite3.Connection, pdf_ids: list[int]) -> dict[int, list[int]]:
    """pdf_id -> the length in characters of each of its pages, in order."""
    out: dict[int, list[int]] = {int(p): [] for p in pdf_ids}
    if not out:
        return out
    where, params = _in_ids(list(out))
    for pdf_id, n in con.execute(
        f"SELECT pdf_id, length(text) FROM pdf_pages{where} ORDER BY pdf_id, page", params
    ):
        if int(pdf_id) in out:
            out[int(pdf_id)].append(int(n))
    return out


def _in_ids(pdf_ids: list[int]) -> tuple[str, list[int]]:
    """A ``WHERE pdf_id IN (...)`` for a few PDFs; none for many (all rows read, the
    caller keeps its own: SQLite bounds the number of parameters)."""
    if len(pdf_ids) > 500:
        return "", []
    return f" WHERE pdf_id IN ({','.join('?' * len(pdf_ids))})", [int(p) for p in pdf_ids]


def _section_rows(con: sqlite3.Connection, pdf_ids: list[int]) -> dict[int, list]:
    """pdf_id -> its stored sections ``(name, first page, body)``, in order."""
    out: dict[int, list] = {}
    if not pdf_ids:
        return out
    where, params = _in_ids(pdf_ids)
    wanted = {int(p) for p in pdf_ids}
    for pdf_id, name, page, text in con.execute(
        f"SELECT pdf_id, name, page, text FROM pdf_sections{where} ORDER BY pdf_id, position",
        params,
    ):
        if int(pdf_id) in wanted:
            out.setdefault(int(pdf_id), []).append((name, int(page), text))
    return out


def _group_members(con: sqlite3.Connection, wanted: set[str] | None) -> dict[str, list[str]]:
    """kept record id -> the other members of its duplicate group (only groups of the
    ``wanted`` kept records when given: looked up by key, never the whole table read)."""
    sql = (
        "SELECT k.record_id, g.record_id FROM duplicate_groups k JOIN duplicate_groups g"
        " ON g.group_id = k.group_id AND g.is_kept = 0 WHERE k.is_kept = 1"
    )
    order = " ORDER BY k.record_id, g.record_id"
    if wanted is None:
        rows = con.execute(sql + order).fetchall()
    else:  # the chunks are in id order: so are their rows
        rows = [
            row
            for chunk in id_chunks(wanted)
            for row in con.execute(f"{sql} AND k.record_id IN ({in_marks(chunk)}){order}", chunk)
        ]
    out: dict[str, list[str]] = {}
    for kept, member in rows:
        out.setdefault(kept, []).append(member)
    return out


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
