"""Every CSV the CLI writes neutralises formulas: failure rows and duplicate pairs too."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from synth.cli import app

runner = CliRunner()

#: a broken row whose raw text is a formula, and two copies of a record titled with one
HOSTILE = (
    "Title,Year,DOI\n"
    '"=HYPERLINK(""http://evil.example"",""x"")",2020,10.1000/a\n'
    '"=HYPERLINK(""http://evil.example"",""x"")",2020,10.1000/a\n'
    "=1+1,2021,10.1000/b,one field too many\n"
)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_failures_and_pairs_csv_neutralise_formulas(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "hostile.csv").write_text(HOSTILE, encoding="utf-8")
    db = tmp_path / "review.sqlite"
    imported = runner.invoke(
        app, ["import", str(tmp_path / "in"), "--db", str(db), "--no-progress"]
    )
    assert imported.exit_code == 0, imported.output

    failures = tmp_path / "failures.csv"
    result = runner.invoke(app, ["failures", "--db", str(db), "--out", str(failures)])
    assert result.exit_code == 0, result.output
    [row] = _rows(failures)
    assert row["raw"] == "'=1+1,2021,10.1000/b,one field too many\n"
    assert row["line"] == "4"

    pairs = tmp_path / "pairs.csv"
    result = runner.invoke(app, ["duplicates", "pairs", "--db", str(db), "--out", str(pairs)])
    assert result.exit_code == 0, result.output
    [pair] = _rows(pairs)
    assert pair["title_a"].startswith("'=HYPERLINK(")
    assert pair["title_b"].startswith("'=HYPERLINK(")
