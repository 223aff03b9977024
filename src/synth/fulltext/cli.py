"""``synth fulltexts``: list the PDFs in a review store and correct their links.

``synth fulltexts link --db FILE --pdf FILE_OR_ID --record RECORD_ID --reviewer NAME``
links a PDF to a record, ``synth fulltexts unlink --db FILE --pdf FILE_OR_ID --reviewer
NAME`` says it is the full text of no record; each is an append-only event that outranks
the automatic linking on every later import. ``synth fulltexts list --db FILE`` shows each
PDF with its current link.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

fulltexts_app = typer.Typer(
    help="List the PDFs in a review store and correct which record each is the full text of.",
    no_args_is_help=True,
)

DbOption = Annotated[Path, typer.Option("--db", help="The review store (a SQLite file).")]
PdfOption = Annotated[
    str, typer.Option("--pdf", help="The PDF: its id or file, as `synth fulltexts list` shows.")
]
ReviewerOption = Annotated[str, typer.Option(help="Your name: the event is recorded under it.")]
NoteOption = Annotated[str | None, typer.Option(help="Why (kept with the event).")]


def _store(db: Path):  # type: ignore[no-untyped-def]
    """The existing review store (never a new empty one for a mistyped path)."""
    from synth.store import connect

    if not db.is_file():
        raise FileNotFoundError(
            f"{db}: no such review store; import records and PDFs into it first"
        )
    return connect(db)


@fulltexts_app.command("link")
def link_cmd(
    db: DbOption,
    pdf: PdfOption,
    record: Annotated[str, typer.Option("--record", help="The record's id.")],
    reviewer: ReviewerOption,
    note: NoteOption = None,
) -> None:
    """Link a PDF to a record: its text becomes the record's full text."""
    from synth.cli import clear_errors, console
    from synth.store import fulltexts as ft

    with clear_errors():
        con = _store(db)
        try:
            pdf_id = ft.find_pdf(con, pdf)
            ft.link(con, pdf_id, record, reviewer=reviewer, note=note)
            file = con.execute("SELECT file FROM pdf_files WHERE pdf_id=?", (pdf_id,)).fetchone()[0]
        finally:
            con.close()
        console.print(
            f"linked {file} (PDF {pdf_id}) to {record} by {reviewer}", highlight=False, markup=False
        )


@fulltexts_app.command("unlink")
def unlink_cmd(
    db: DbOption, pdf: PdfOption, reviewer: ReviewerOption, note: NoteOption = None
) -> None:
    """Say a PDF is the full text of no record (later imports leave it so)."""
    from synth.cli import clear_errors, console
    from synth.store import fulltexts as ft

    with clear_errors():
        con = _store(db)
        try:
            pdf_id = ft.find_pdf(con, pdf)
            ft.unlink(con, pdf_id, reviewer=reviewer, note=note)
            file = con.execute("SELECT file FROM pdf_files WHERE pdf_id=?", (pdf_id,)).fetchone()[0]
        finally:
            con.close()
        console.print(
            f"unlinked {file} (PDF {pdf_id}) by {reviewer}", highlight=False, markup=False
        )


@fulltexts_app.command("list")
def list_cmd(db: DbOption) -> None:
    """Each PDF with its pages, characters, title and current link (rule, score, reviewer)."""
    from synth.cli import clear_errors, console, frame_table
    from synth.store.fulltexts import fulltexts_table

    with clear_errors():
        con = _store(db)
        try:
            table = fulltexts_table(con)
        finally:
            con.close()
        if table.empty:
            console.print("no PDFs in the store; `synth import` a PDF or a folder of them")
            return
        shown = table[
            ["pdf_id", "file", "pages", "characters", "title", "record_id", "rule", "score",
             "reviewer", "used"]
        ].assign(title=table["title"].str.slice(0, 60))  # fmt: skip
        console.print(frame_table(shown, title=f"PDFs in {db}"))
