"""The CLI end to end: import, summary table, exports, failures, duplicate splitting."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from synth.cli import app
from synth.corpus import read_file

runner = CliRunner()

RIS = """TY  - JOUR
AU  - Armstrong, Natalie
AU  - Herbert, Georgia
TI  - Optimizing patient involvement in quality improvement
T2  - Health Expectations
PY  - 2013
VL  - 16
SP  - e36
EP  - e47
DO  - 10.1111/hex.12039
AB  - We describe how patients took part in quality improvement.
KW  - patient involvement
KW  - quality improvement
ER  - 

TY  - RPRT
AU  - Spencer, Mike
TI  - =HYPERLINK("http://evil.example","Co-producing services")
PB  - NHS Wales
PY  - 2013
ER  - 
"""


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.ris").write_text(RIS, encoding="utf-8")
    (src / "b.ris").write_text(RIS.split("ER  - ")[0] + "ER  - \n", encoding="utf-8")
    return src, tmp_path / "review.sqlite"


def test_import_prints_summary_and_is_idempotent(tmp_path: Path) -> None:
    src, db = _setup(tmp_path)
    result = runner.invoke(app, ["import", str(src), "--db", str(db), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "TOTAL" in result.output
    assert "3 records from 2 files" in result.output
    assert "1 duplicates" in result.output
    again = runner.invoke(app, ["import", str(src), "--db", str(db), "--no-progress"])
    assert again.exit_code == 0
    assert "unchanged" in again.output and "3 records from 2 files" in again.output


def test_export_csv_has_groups_and_neutralised_formulas(tmp_path: Path) -> None:
    src, db = _setup(tmp_path)
    runner.invoke(app, ["import", str(src), "--db", str(db), "--no-progress"])
    out = tmp_path / "records.csv"
    result = runner.invoke(app, ["export", "records", "--db", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert {"record_id", "title", "group_id", "is_kept"} <= set(df.columns)
    assert len(df) == 3
    assert df.loc[df.doi == "10.1111/hex.12039", "group_id"].nunique() == 1
    formula = df.loc[df.title.str.contains("HYPERLINK"), "title"].item()
    assert formula.startswith("'=")


def test_ris_and_bibtex_exports_round_trip(tmp_path: Path) -> None:
    src, db = _setup(tmp_path)
    runner.invoke(app, ["import", str(src / "a.ris"), "--db", str(db), "--no-progress"])
    original = read_file(src / "a.ris").records
    fields = ["title", "authors", "year", "venue", "volume", "pages", "publisher", "doi",
              "abstract", "keywords", "pub_type", "grey"]  # fmt: skip
    for suffix in (".ris", ".bib"):
        out = tmp_path / f"export{suffix}"
        result = runner.invoke(app, ["export", "records", "--db", str(db), "--out", str(out)])
        assert result.exit_code == 0, result.output
        back = read_file(out).records
        assert back[fields].to_dict("records") == original[fields].to_dict("records"), suffix


def test_bad_input_gives_one_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "review.sqlite"
    missing = runner.invoke(app, ["import", str(tmp_path / "nope.ris"), "--db", str(db)])
    assert missing.exit_code == 2
    assert "nope.ris: no such file" in missing.output
    assert "Traceback" not in missing.output
    out = tmp_path / "x.docx"
    bad = runner.invoke(app, ["export", "records", "--db", str(db), "--out", str(out)])
    assert bad.exit_code == 2 and "pass --format" in bad.output


def test_failures_and_split(tmp_path: Path) -> None:
    src, db = _setup(tmp_path)
    (src / "broken.ris").write_text("AU  - X\nTI  - no type\nER  - \n", encoding="utf-8")
    runner.invoke(app, ["import", str(src), "--db", str(db), "--no-progress"])
    fails = runner.invoke(app, ["failures", "--db", str(db)])
    assert "broken.ris" in fails.output
    pairs_csv = tmp_path / "pairs.csv"
    runner.invoke(app, ["duplicates", "pairs", "--db", str(db), "--out", str(pairs_csv)])
    pairs = pd.read_csv(pairs_csv)
    assert len(pairs) == 1 and pairs.rule.item() == "doi"
    split = runner.invoke(
        app, ["duplicates", "split", pairs.record_b.item(), "--db", str(db), "--reviewer", "ana"]
    )
    assert split.exit_code == 0, split.output
    runner.invoke(app, ["duplicates", "pairs", "--db", str(db), "--out", str(pairs_csv)])
    assert pd.read_csv(pairs_csv).empty


def test_failures_report_shows_line_and_record_numbers(tmp_path: Path) -> None:
    src, db = _setup(tmp_path)
    (src / "blank.ris").write_text(
        "TY  - JOUR\nTI  - Kept\nER  - \n\nTY  - JOUR\nAU  - Nameless, A.\nER  - \n",
        encoding="utf-8",
    )
    runner.invoke(app, ["import", str(src), "--db", str(db), "--no-progress"])
    shown = runner.invoke(app, ["failures", "--db", str(db)])
    assert shown.exit_code == 0, shown.output
    assert "b'" not in shown.output and "\\x" not in shown.output
    assert "record 2 (line 5): no title and no DOI/PMID" in shown.output
    out = tmp_path / "failures.csv"
    runner.invoke(app, ["failures", "--db", str(db), "--out", str(out)])
    report = pd.read_csv(out)
    assert report[["file", "line", "record", "severity"]].values.tolist() == [
        ["blank.ris", 5, 2, "error"]
    ]


def test_import_exits_2_when_nothing_could_be_read(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "binary.ris").write_bytes(bytes(range(256)) * 20)
    (src / "empty.bib").write_text("", encoding="utf-8")
    (src / "blank.ris").write_text("TY  - JOUR\nER  - \n", encoding="utf-8")
    db = tmp_path / "review.sqlite"
    result = runner.invoke(app, ["import", str(src), "--db", str(db), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "TOTAL" in result.output  # the summary still says what happened to each file
    assert "nothing could be read: none of the 3 file(s) given" in result.output
    assert "Traceback" not in result.output
    # one file given by name, unreadable: the same
    one = runner.invoke(app, ["import", str(src / "binary.ris"), "--db", str(db), "--no-progress"])
    assert one.exit_code == 2 and "nothing could be read" in one.output


def test_import_exits_2_for_a_folder_with_no_importable_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.docx").write_bytes(b"not an export")
    db = tmp_path / "review.sqlite"
    result = runner.invoke(app, ["import", str(empty), "--db", str(db), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "no importable file in the folder(s) given" in result.output


def test_import_exits_0_when_some_files_were_read(tmp_path: Path) -> None:
    src, db = _setup(tmp_path)
    (src / "binary.ris").write_bytes(bytes(range(256)) * 20)
    result = runner.invoke(app, ["import", str(src), "--db", str(db), "--no-progress"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # rich wraps long lines
    assert "3 records from 2 files" in said
    assert "1 failures and 0 warnings reported" in said
    assert "binary.ris" in said
