"""PDFs in the review store: their text by page, and which record each is the full text of.

A PDF read by :mod:`synth.fulltext.pdf` is stored once per content (:func:`store_pdf`,
one transaction: a PDF is seen whole or not at all). Which record it belongs to is an
append-only event log (``fulltext_link_events``, migration 0008), written in its own
``BEGIN IMMEDIATE`` transaction and committed before the writing function returns, like
the screening decisions and the extraction events:

- synth's linker (:mod:`synth.fulltext.links`) writes automatic events, ``reviewer`` None,
  with the rule that matched (``doi``, ``title``, ``own-record``) and its score;
- a reviewer writes ``manual`` events (:func:`link`, :func:`unlink`).

The current link of a PDF (:func:`current_links`) is its latest reviewer event if it has
one, else its latest automatic event: a reviewer's decision outranks anything the linker
does later, and the linker does not write for a PDF a reviewer decided.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import pandas as pd

from synth.store.db import id_chunks, in_marks, now, require_name, transaction

if TYPE_CHECKING:
    from synth.fulltext.pdf import PdfDocument

log = logging.getLogger(__name__)

#: The rules a link can carry; ``manual`` is a reviewer's.
RULES: tuple[str, ...] = ("doi", "title", "manual", "own-record")
AUTOMATIC_RULES: tuple[str, ...] = ("doi", "title", "own-record")

LINK_COLUMNS = [
    "pdf_id", "file", "record_id", "action", "rule", "score", "reviewer", "note", "created_at",
    "event_id",
]  # fmt: skip


# ---------------------------------------------------------------- the PDFs


def store_pdf(con: sqlite3.Connection, doc: PdfDocument, file: str, size: int) -> tuple[int, bool]:
    """Store one read PDF (its pages and sections too); returns ``(pdf_id, new)``.

    A PDF whose content (sha256) is in the store already is not stored again: its id is
    returned with ``new`` False, whatever name it has now.
    """
    with transaction(con):
        found = con.execute("SELECT pdf_id FROM pdf_files WHERE sha256=?", (doc.sha256,)).fetchone()
        if found is not None:
            return int(found[0]), False
        text = doc.text
        cur = con.execute(
            "INSERT INTO pdf_files (sha256, file, size, pages, chars, title, doi, year, authors,"
            " abstract, imported_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                doc.sha256, file, int(size), len(doc.pages), len(text), doc.title, doc.doi,
                doc.year, json.dumps(list(doc.authors), ensure_ascii=False), doc.abstract, now(),
            ),
        )  # fmt: skip
        pdf_id = int(cur.lastrowid)  # type: ignore[arg-type]
        con.executemany(
            "INSERT INTO pdf_pages (pdf_id, page, text) VALUES (?,?,?)",
            ((pdf_id, i, page) for i, page in enumerate(doc.pages, start=1)),
        )
        con.executemany(
            "INSERT INTO pdf_sections (pdf_id, position, name, page, text) VALUES (?,?,?,?,?)",
            ((pdf_id, i, s.name, s.page, s.text) for i, s in enumerate(doc.sections, start=1)),
        )
    log.debug("stored PDF %s as %s (%d pages)", file, pdf_id, len(doc.pages))
    return pdf_id, True


def load_pdfs(con: sqlite3.Connection) -> pd.DataFrame:
    """Every stored PDF: id, file, size, pages, characters and what the reader found
    (``authors`` a list)."""
    df = pd.read_sql_query(
        "SELECT pdf_id, sha256, file, size, pages, chars, title, doi, year, authors, abstract,"
        " imported_at FROM pdf_files ORDER BY pdf_id",
        con,
    )
    df["authors"] = [json.loads(a) for a in df["authors"]]
    df["year"] = pd.array([None if pd.isna(v) else int(v) for v in df["year"]], dtype="Int64")
    return df


def pdf_text(con: sqlite3.Connection, pdf_id: int) -> str:
    """A PDF's text, its pages joined by a blank line (as ``PdfDocument.text``)."""
    rows = con.execute(
        "SELECT text FROM pdf_pages WHERE pdf_id=? ORDER BY page", (int(pdf_id),)
    ).fetchall()
    return "\n\n".join(r[0] for r in rows)


def load_pages(con: sqlite3.Connection, pdf_id: int) -> pd.DataFrame:
    """A PDF's pages (``page`` 1-based, ``text``), for code that names the page."""
    return pd.read_sql_query(
        "SELECT page, text FROM pdf_pages WHERE pdf_id=? ORDER BY page", con, params=(int(pdf_id),)
    )


def load_sections(con: sqlite3.Connection, pdf_id: int | None = None) -> pd.DataFrame:
    """The sections found in the PDFs (or in one): pdf_id, name, page, text, in order."""
    sql = "SELECT pdf_id, name, page, text FROM pdf_sections"
    params: tuple[Any, ...] = ()
    if pdf_id is not None:
        sql += " WHERE pdf_id=?"
        params = (int(pdf_id),)
    return pd.read_sql_query(sql + " ORDER BY pdf_id, position", con, params=params)


def find_pdf(con: sqlite3.Connection, file_or_id: str | int) -> int:
    """The id of the PDF named by its id, its stored file path or its file name.

    Raises ValueError naming what was given when no PDF, or more than one, fits.
    """
    given = str(file_or_id).strip()
    if given.isdigit():
        row = con.execute("SELECT pdf_id FROM pdf_files WHERE pdf_id=?", (int(given),)).fetchone()
        if row is not None:
            return int(row[0])
    rows = con.execute("SELECT pdf_id, file FROM pdf_files").fetchall()
    exact = [int(r[0]) for r in rows if r[1] == given]
    if len(exact) == 1:
        return exact[0]
    name = given.replace("\\", "/").rsplit("/", 1)[-1]
    by_name = [int(r[0]) for r in rows if r[1].replace("\\", "/").rsplit("/", 1)[-1] == name]
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        files = ", ".join(r[1] for r in rows if int(r[0]) in by_name)
        raise ValueError(f"{given}: more than one PDF has that name ({files}); give its path or id")
    raise ValueError(
        f"{given}: no such PDF in the store (give a PDF's id or file as `synth fulltexts list`"
        " shows it)"
    )


# ---------------------------------------------------------------- link events


def _record_exists(con: sqlite3.Connection, record_id: str) -> None:
    if con.execute("SELECT 1 FROM records WHERE record_id=?", (record_id,)).fetchone() is None:
        raise ValueError(f"{record_id}: no such record in the store")


def _insert_event(
    con: sqlite3.Connection,
    pdf_id: int,
    record_id: str | None,
    action: str,
    rule: str,
    score: float | None,
    reviewer: str | None,
    note: str | None,
) -> int:
    cur = con.execute(
        "INSERT INTO fulltext_link_events (pdf_id, record_id, action, rule, score, reviewer,"
        " note, created_at) VALUES (?,?,?,?,?,?,?,?)",
        (int(pdf_id), record_id, action, rule, score, reviewer, note, now()),
    )
    return int(cur.lastrowid)  # type: ignore[arg-type]


def link(
    con: sqlite3.Connection,
    pdf_id: int,
    record_id: str,
    *,
    reviewer: str,
    note: str | None = None,
) -> int:
    """A reviewer links a PDF to a record (rule ``manual``); committed; returns the event id.

    Raises ValueError for an unknown PDF or record, or a nameless reviewer.
    """
    reviewer = require_name(reviewer, "reviewer")
    with transaction(con):
        _pdf_exists(con, pdf_id)
        _record_exists(con, record_id)
        return _insert_event(con, pdf_id, record_id, "link", "manual", None, reviewer, note)


def unlink(con: sqlite3.Connection, pdf_id: int, *, reviewer: str, note: str | None = None) -> int:
    """A reviewer says a PDF is the full text of no record; committed; returns the event id.

    The linker will not link it again on a later import (a reviewer's event outranks it).
    """
    reviewer = require_name(reviewer, "reviewer")
    with transaction(con):
        _pdf_exists(con, pdf_id)
        return _insert_event(con, pdf_id, None, "unlink", "manual", None, reviewer, note)


def auto_link(
    con: sqlite3.Connection, pdf_id: int, record_id: str, *, rule: str, score: float | None
) -> int | None:
    """The linker's link of a PDF (rule ``doi``, ``title`` or ``own-record``), committed.

    Writes nothing (returns None) when a reviewer has decided the PDF's link, or when its
    current automatic link is already this record by this rule.
    """
    if rule not in AUTOMATIC_RULES:
        raise ValueError(f"unknown linking rule {rule!r}: one of {', '.join(AUTOMATIC_RULES)}")
    with transaction(con):
        _pdf_exists(con, pdf_id)
        if not _needs_event(con, pdf_id, record_id, rule):
            return None
        return _insert_event(con, pdf_id, record_id, "link", rule, score, None, None)


def _needs_event(con: sqlite3.Connection, pdf_id: int, record_id: str | None, rule: str) -> bool:
    """Whether the linker should write: no reviewer decided, and the link would change."""
    last = con.execute(
        "SELECT record_id, rule, reviewer FROM fulltext_link_events WHERE pdf_id=?"
        " ORDER BY (reviewer IS NOT NULL) DESC, event_id DESC LIMIT 1",
        (int(pdf_id),),
    ).fetchone()
    return last is None or (last[2] is None and (last[0], last[1]) != (record_id, rule))


def add_own_record(
    con: sqlite3.Connection, pdf_id: int, record: pd.DataFrame, *, score: float | None = None
) -> str | None:
    """Make a PDF no reference matched a record of its own and link it (rule ``own-record``).

    ``record`` is one canonical record row (``source_format`` ``pdf``). The record gets a
    ``sources`` row of its own (the PDF file, format ``pdf``), so it is counted, deduplicated
    and exported like any imported record. One transaction; returns the record id, or None
    when a reviewer has decided the PDF's link (nothing is written then).
    """
    from synth.store.imports import INSERT_RECORD, record_rows

    (record_id,) = record["record_id"].tolist()
    with transaction(con):
        pdf = con.execute(
            "SELECT sha256, file, size FROM pdf_files WHERE pdf_id=?", (int(pdf_id),)
        ).fetchone()
        if pdf is None:
            raise ValueError(f"PDF {pdf_id}: no such PDF in the store")
        if not _needs_event(con, pdf_id, record_id, "own-record"):
            return None
        sha256, file, size = pdf
        found = con.execute(
            "SELECT source_id FROM sources_all WHERE sha256=?", (sha256,)
        ).fetchone()
        if found is None:
            cur = con.execute(
                "INSERT INTO sources_all (sha256, name, path, format, database, size, n_records,"
                " n_failures, n_warnings, n_new, imported_at, complete)"
                " VALUES (?,?,?,'pdf',NULL,?,1,0,0,1,?,1)",
                (sha256, file.replace("\\", "/").rsplit("/", 1)[-1], file, size, now()),
            )
            source_id = int(cur.lastrowid)  # type: ignore[arg-type]
        else:
            source_id = int(found[0])
        con.executemany(INSERT_RECORD, record_rows(record, source_id))
        title_from = record["extra"].iloc[0].get("title_from")
        if title_from and found is None:  # the failures report says the title is a stand-in
            con.execute(
                "INSERT INTO import_failures_all (source_id, file, line, record, reason, raw,"
                " severity) VALUES (?, ?, NULL, 1, ?, '', 'warning')",
                (
                    source_id, file,
                    f"no title found in the PDF: its record is titled "
                    f"{record['title'].iloc[0]!r} after the file; link the PDF to its "
                    "reference with `synth fulltexts link`",
                ),
            )  # fmt: skip
        _insert_event(con, pdf_id, record_id, "link", "own-record", score, None, None)
    return record_id


def _pdf_exists(con: sqlite3.Connection, pdf_id: int) -> None:
    if con.execute("SELECT 1 FROM pdf_files WHERE pdf_id=?", (int(pdf_id),)).fetchone() is None:
        raise ValueError(f"PDF {pdf_id}: no such PDF in the store")


def reviewer_decided(con: sqlite3.Connection) -> set[int]:
    """PDFs a reviewer has linked or unlinked: the linker leaves them alone."""
    rows = con.execute(
        "SELECT DISTINCT pdf_id FROM fulltext_link_events WHERE reviewer IS NOT NULL"
    )
    return {int(r[0]) for r in rows}


def _links_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Link rows with None (not NaN) where a text is missing, and the columns in order."""
    for col in ("record_id", "action", "rule", "reviewer", "note", "created_at"):
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    df["score"] = df["score"].astype(float)
    df["event_id"] = pd.array([None if pd.isna(v) else int(v) for v in df["event_id"]], "Int64")
    return df[LINK_COLUMNS]


def link_events(con: sqlite3.Connection) -> pd.DataFrame:
    """Every link event in commit order (the audit trail), with the PDF's file."""
    return _links_frame(
        pd.read_sql_query(
            "SELECT e.pdf_id, p.file, e.record_id, e.action, e.rule, e.score, e.reviewer, e.note,"
            " e.created_at, e.event_id FROM fulltext_link_events e"
            " JOIN pdf_files p ON p.pdf_id = e.pdf_id ORDER BY e.event_id",
            con,
        )
    )


#: The standing event of each PDF: its latest reviewer event, else its latest automatic.
CURRENT_SQL = (
    "SELECT e.* FROM fulltext_link_events e WHERE e.event_id = (SELECT x.event_id FROM"
    " fulltext_link_events x WHERE x.pdf_id = e.pdf_id"
    " ORDER BY (x.reviewer IS NOT NULL) DESC, x.event_id DESC LIMIT 1)"
)


#: The records with a full text: a Markdown one (``fulltexts``) or a PDF now linked to them.
#: The one query for "full texts retrieved" (PRISMA) and the store's totals.
FULLTEXT_RECORDS_SQL = (
    "SELECT record_id FROM fulltexts UNION"
    f" SELECT record_id FROM ({CURRENT_SQL}) WHERE action = 'link'"
)


def current_links(con: sqlite3.Connection) -> pd.DataFrame:
    """One row per stored PDF: its standing link (``record_id`` None when unlinked or
    never linked; ``action`` None when never linked), with the PDF's file."""
    return _links_frame(
        pd.read_sql_query(
            "SELECT p.pdf_id, p.file, c.record_id, c.action, c.rule, c.score, c.reviewer, c.note,"
            f" c.created_at, c.event_id FROM pdf_files p LEFT JOIN ({CURRENT_SQL}) c"
            " ON c.pdf_id = p.pdf_id ORDER BY p.pdf_id",
            con,
        )
    )


def linked_pdf_texts(con: sqlite3.Connection) -> pd.DataFrame:
    """The PDF full text of each record a PDF is now linked to: ``record_id``, ``pdf_id``,
    ``chars``, ``text``. Two PDFs linked to one record: the longer text is the record's
    (the other is more likely a short version, an erratum or a supplement); equal: the
    one stored first."""
    chosen = chosen_pdfs(con)
    data = [(rid, pid, chars, pdf_text(con, pid)) for rid, (pid, chars) in chosen.items()]
    return pd.DataFrame(data, columns=["record_id", "pdf_id", "chars", "text"])


def chosen_pdfs(
    con: sqlite3.Connection, record_ids: Collection[str] | None = None
) -> dict[str, tuple[int, int]]:
    """record_id -> (pdf_id, chars) of the PDF whose text is the record's (the longest);
    with ``record_ids``, only those records' (their PDFs looked up by key)."""
    sql = (
        f"SELECT c.record_id, p.pdf_id, p.chars FROM ({CURRENT_SQL}) c"
        " JOIN pdf_files p ON p.pdf_id = c.pdf_id WHERE c.action = 'link'"
    )
    if record_ids is None:
        rows = con.execute(sql).fetchall()
    else:
        wanted = set(record_ids)
        rows = [
            row
            for chunk in id_chunks(wanted)
            for row in con.execute(
                f"{sql} AND c.pdf_id IN (SELECT pdf_id FROM fulltext_link_events"
                f" WHERE record_id IN ({in_marks(chunk)}))",
                chunk,
            )
            if row[0] in wanted
        ]
    chosen: dict[str, tuple[int, int]] = {}
    for record_id, pdf_id, chars in sorted(rows, key=lambda r: (r[0], -r[2], r[1])):
        chosen.setdefault(record_id, (int(pdf_id), int(chars)))
    return chosen


#: Columns of :func:`fulltexts_table` (``synth export fulltexts``, ``synth fulltexts list``).
TABLE_COLUMNS = [
    "pdf_id", "file", "record_id", "title", "doi", "year", "pages", "characters", "abstract",
    "rule", "score", "reviewer", "note", "record_title", "used",
]  # fmt: skip


def fulltexts_table(con: sqlite3.Connection) -> pd.DataFrame:
    """One row per stored PDF: what the reader found in it (title, DOI, year, pages,
    characters, abstract) and its current link (record, rule, score, the reviewer who set
    it), with the linked record's title to check the link against, and ``used``: whether
    its text is the record's full text (``yes``; ``no: Markdown full text``; ``no: a
    longer PDF``; empty when the PDF is linked to no record)."""
    pdfs = load_pdfs(con)
    links = current_links(con).set_index("pdf_id")
    titles = dict(con.execute("SELECT record_id, title FROM records").fetchall())
    markdown = {r[0] for r in con.execute("SELECT record_id FROM fulltexts")}
    chosen = chosen_pdfs(con)
    rows = []
    for pdf in pdfs.itertuples():
        link = links.loc[pdf.pdf_id]
        rid = link["record_id"]
        if rid is None:
            used = ""
        elif rid in markdown:
            used = "no: Markdown full text"
        else:
            used = "yes" if chosen[rid][0] == pdf.pdf_id else "no: a longer PDF"
        rows.append(
            {
                "pdf_id": pdf.pdf_id, "file": pdf.file, "record_id": rid, "title": pdf.title,
                "doi": pdf.doi, "year": pdf.year, "pages": pdf.pages, "characters": pdf.chars,
                "abstract": pdf.abstract, "rule": link["rule"], "score": link["score"],
                "reviewer": link["reviewer"], "note": link["note"],
                "record_title": titles.get(rid) if rid is not None else None, "used": used,
            }
        )  # fmt: skip
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    table["year"] = pd.array([None if pd.isna(v) else int(v) for v in table["year"]], "Int64")
    return table
