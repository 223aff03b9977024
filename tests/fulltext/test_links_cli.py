"""`synth fulltexts link|unlink|list` and `synth export fulltexts` through the CLI: a
reviewer's link is an event the export shows, and bad input is one clear error."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synth.cli import app
from synth.fulltext.links import link_pdfs
from synth.store import connect, import_paths, load_records
from synth.store import fulltexts as ft
from tests.pdf_fixtures import pdf_doc
from tests.store.test_fulltext_links import BIB

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    bib = tmp_path / "refs.bib"
    bib.write_text(BIB, encoding="utf-8")
    path = tmp_path / "review.sqlite"
    con = connect(path)
    import_paths(con, [bib])
    ft.store_pdf(con, pdf_doc("a1", doi="10.1000/coprod.2019.7", year=2019), "pdfs/smith.pdf", 10)
    ft.store_pdf(con, pdf_doc("b2", title="Gardening for the absent-minded"), "garden.pdf", 10)
    link_pdfs(con)
    con.close()
    return path


def _export(db: Path, tmp_path: Path) -> dict[str, dict[str, str]]:
    out = tmp_path / "out" / "fulltexts.csv"
    result = runner.invoke(app, ["export", "fulltexts", "--db", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 2 PDFs" in result.output
    with out.open(encoding="utf-8", newline="") as fh:
        return {row["file"]: row for row in csv.DictReader(fh)}


def _record(db: Path, key: str) -> str:
    con = connect(db)
    records = load_records(con)
    con.close()
    return str(records.loc[records["source_key"] == key, "record_id"].iloc[0])


def test_export_lists_each_pdf_with_its_link(db: Path, tmp_path: Path) -> None:
    rows = _export(db, tmp_path)
    smith = rows["pdfs/smith.pdf"]
    assert smith["record_id"] == _record(db, "Smith2019")
    assert (smith["rule"], float(smith["score"]), smith["reviewer"]) == ("doi", 100.0, "")
    assert (smith["pages"], smith["characters"], smith["year"]) == (
        "2",
        "25",
        "2019",
    )  # "First page.\n\nSecond page."
    assert smith["used"] == "yes" and smith["record_title"].startswith("Co-producing")
    garden = rows["garden.pdf"]
    assert garden["rule"] == "own-record" and garden["title"] == "Gardening for the absent-minded"
    header = list(next(iter(rows.values())))
    for column in ("file", "record_id", "title", "doi", "year", "pages", "characters",
                   "abstract", "rule", "score", "reviewer"):  # fmt: skip
        assert column in header


def test_link_and_unlink_through_the_cli_are_events_the_export_shows(
    db: Path, tmp_path: Path
) -> None:
    brown = _record(db, "Brown2021")
    result = runner.invoke(
        app,
        ["fulltexts", "link", "--db", str(db), "--pdf", "garden.pdf", "--record", brown,
         "--reviewer", "ann", "--note", "the PDF's title page is wrong"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"linked garden.pdf (PDF 2) to {brown} by ann" in result.output
    row = _export(db, tmp_path)["garden.pdf"]
    assert (row["record_id"], row["rule"], row["reviewer"]) == (brown, "manual", "ann")
    assert row["note"] == "the PDF's title page is wrong"

    result = runner.invoke(
        app, ["fulltexts", "unlink", "--db", str(db), "--pdf", "1", "--reviewer", "bob"]
    )
    assert result.exit_code == 0, result.output
    row = _export(db, tmp_path)["pdfs/smith.pdf"]
    assert (row["record_id"], row["rule"], row["reviewer"], row["used"]) == (
        "",
        "manual",
        "bob",
        "",
    )

    listed = runner.invoke(app, ["fulltexts", "list", "--db", str(db)])
    assert listed.exit_code == 0, listed.output
    assert "garden.pdf" in listed.output and "manual" in listed.output


def test_unknown_pdf_or_record_is_one_clear_error(db: Path, tmp_path: Path) -> None:
    unknown_pdf = runner.invoke(
        app,
        ["fulltexts", "link", "--db", str(db), "--pdf", "nope.pdf", "--record", "r1",
         "--reviewer", "ann"],
    )  # fmt: skip
    assert unknown_pdf.exit_code == 2
    assert "nope.pdf: no such PDF in the store" in unknown_pdf.output
    unknown_record = runner.invoke(
        app,
        ["fulltexts", "link", "--db", str(db), "--pdf", "garden.pdf", "--record", "r-nope",
         "--reviewer", "ann"],
    )  # fmt: skip
    assert unknown_record.exit_code == 2
    assert "r-nope: no such record" in unknown_record.output
    missing = runner.invoke(app, ["fulltexts", "list", "--db", str(tmp_path / "none.sqlite")])
    assert missing.exit_code == 2 and "no such review store" in missing.output
    assert not (tmp_path / "none.sqlite").exists()
    for result in (unknown_pdf, unknown_record, missing):
        assert "Traceback" not in result.output
    assert _export(db, tmp_path)["garden.pdf"]["rule"] == "own-record"  # nothing written


def test_markup_in_a_pdfs_title_or_file_name_is_shown_as_it_is(tmp_path: Path) -> None:
    """A title or file name holding rich markup (``[/i]``, ``[i]``) is text: the tables and
    messages show it as it is, never a markup error."""
    path = tmp_path / "review.sqlite"
    bib = tmp_path / "refs[i].bib"
    bib.write_text(BIB, encoding="utf-8")
    imported = runner.invoke(app, ["import", str(bib), "--db", str(path), "--no-progress"])
    assert imported.exit_code == 0, imported.output
    assert "refs[i].bib" in imported.output  # the import summary table
    con = connect(path)
    ft.store_pdf(con, pdf_doc("c3", title="[b]Lo[/i]"), "x[/b].pdf", 10)
    con.close()
    listed = runner.invoke(app, ["fulltexts", "list", "--db", str(path)])
    assert listed.exit_code == 0, listed.output
    assert "[b]Lo[/i]" in listed.output and "x[/b].pdf" in listed.output
    smith = _record(path, "Smith2019")
    link = ["--db", str(path), "--pdf", "x[/b].pdf", "--reviewer", "[/u]ann"]
    linked = runner.invoke(app, ["fulltexts", "link", *link, "--record", smith])
    assert linked.exit_code == 0, linked.output
    assert f"linked x[/b].pdf (PDF 1) to {smith} by [/u]ann" in linked.output
    unlinked = runner.invoke(app, ["fulltexts", "unlink", *link])
    assert unlinked.exit_code == 0, unlinked.output
    assert "unlinked x[/b].pdf (PDF 1) by [/u]ann" in unlinked.output
    wrong = runner.invoke(app, ["fulltexts", "link", *link, "--record", "[/i]"])
    assert wrong.exit_code == 2 and "[/i]: no such record" in wrong.output


def test_export_fulltexts_neutralises_formulas_from_a_pdf(tmp_path: Path) -> None:
    """A PDF's title, file name and a reviewer's note are someone's text: `synth export
    fulltexts` writes them so a spreadsheet shows them, never runs them."""
    path = tmp_path / "review.sqlite"
    con = connect(path)
    pdf_id, _ = ft.store_pdf(con, pdf_doc("f1", title='=HYPERLINK("x")'), "+cmd.pdf", 10)
    ft.unlink(con, pdf_id, reviewer="ann", note="@SUM(1)")
    con.close()
    out = tmp_path / "fulltexts.csv"
    result = runner.invoke(app, ["export", "fulltexts", "--db", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8", newline="") as fh:
        (row,) = csv.DictReader(fh)
    assert (row["title"], row["file"], row["note"]) == (
        '\'=HYPERLINK("x")',
        "'+cmd.pdf",
        "'@SUM(1)",
    )
