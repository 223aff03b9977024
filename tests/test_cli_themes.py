"""synth export themes: the theme assignments of a store as CSV (issue 15, point 5)."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from synth.cli import app
from synth.themes import load_theme_codebook
from synth.themes.export import THEME_EXPORT_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
KEI = ROOT / "corpus" / "kei-2020"
runner = CliRunner()


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_export_themes_writes_every_assignment(kei_imported_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "themes.csv"
    result = runner.invoke(
        app, ["export", "themes", "--db", str(kei_imported_db), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = _read(out)
    assert f"wrote {len(rows)} theme assignments" in result.output
    assert rows and list(rows[0]) == THEME_EXPORT_COLUMNS
    ids = set(load_theme_codebook().ids)
    assert {r["theme_id"] for r in rows} == ids  # every theme has passages in the bundled corpus
    assert {r["source"] for r in rows} <= {"extract", "abstract", "fulltext"}
    extracts = [r for r in rows if r["source"] == "extract"]
    # the review's extracts carry the section of the review they come from
    assert extracts and all(r["section"] for r in extracts)
    assert all(r["passage"] and 0 < float(r["score"]) <= 1 for r in rows)
    # a passage serving two themes names the other one, in both rows
    both = [r for r in rows if r["also"]]
    for r in both:
        assert any(o["passage"] == r["passage"] and o["theme_id"] == r["also"] for o in both), r


def test_export_themes_neutralises_formulas(tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "refs.bib").write_text(
        "@article{a2020,\n  title = {A study},\n  author = {Doe, Jane},\n  year = {2020},\n"
        "  abstract = {=HYPERLINK(1) Senior leadership gave the co-production project the time and"
        " resources it needed.}\n}\n",
        encoding="utf-8",
    )
    db = tmp_path / "s.sqlite"
    assert (
        runner.invoke(app, ["import", str(corpus), "--db", str(db), "--no-progress"]).exit_code == 0
    )
    out = tmp_path / "t.csv"
    result = runner.invoke(app, ["export", "themes", "--db", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = _read(out)
    assert rows and all(not r["passage"].startswith("=") for r in rows)
    assert any("HYPERLINK" in r["passage"] for r in rows)


def test_bad_codebook_is_one_clear_error(kei_imported_db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "themes.yml"
    bad.write_text("version: 1\ngroups: {g: G}\nthemes: [{id: Bad Id}]\n", encoding="utf-8")
    result = runner.invoke(
        app,
        ["export", "themes", "--db", str(kei_imported_db), "--out", str(tmp_path / "x.csv"),
         "--themes", str(bad)],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "themes.yml" in result.output and "kebab-case" in result.output
    assert "Traceback" not in result.output
