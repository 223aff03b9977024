"""``synth screen status`` from the command line: clear errors, and only the counts asked for."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synth.cli import app
from synth.screening.decisions import record_decision
from synth.screening.queue import ScreeningQueue
from synth.store import connect
from tests.screening import ids

runner = CliRunner()


def _not_sqlite(tmp_path: Path) -> Path:
    bad = tmp_path / "notes.sqlite"
    bad.write_text("my screening notes, not a database\n" * 100, encoding="utf-8")
    return bad


def _foreign_sqlite(tmp_path: Path) -> Path:
    other = tmp_path / "zotero.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE records (x)")
    con.commit()
    con.close()
    return other


@pytest.mark.parametrize("make", [_not_sqlite, _foreign_sqlite])
@pytest.mark.parametrize(
    "command", [["screen", "status"], ["failures"], ["tag", "describe"]], ids=" ".join
)
def test_a_file_that_is_not_a_review_store_is_one_clear_error(
    tmp_path: Path, make, command: list[str]
) -> None:
    db = make(tmp_path)
    result = runner.invoke(app, [*command, "--db", str(db)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert f"{db.name}: " in result.output and "not a synth review store" in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_single_screening_reports_no_missing_second_screening(
    kei_imported_db: Path, copy_db: Callable[..., Path]
) -> None:
    db = copy_db(kei_imported_db)
    con = connect(db)
    try:
        queue = ScreeningQueue(con, reviewer="ann", background=False)  # the default: single
        for record_id in ids(con, 13):
            queue.decide(record_id, "include")
        queue.close()
    finally:
        con.close()
    single = runner.invoke(app, ["screen", "status", "--db", str(db)])
    assert single.exit_code == 0, single.output
    assert "without a second screening" not in single.output
    assert "title_abstract: 0 open conflicts" in single.output
    assert "no second screening asked for" in single.output

    con = connect(db)
    try:  # a reviewer opens the review in dual mode: now every record needs two screenings
        ScreeningQueue(con, reviewer="bob", mode="dual", background=False).close()
        record_decision(con, record_id=ids(con, 14)[-1], reviewer="bob", decision="exclude")
    finally:
        con.close()
    dual = runner.invoke(app, ["screen", "status", "--db", str(db)])
    assert dual.exit_code == 0, dual.output
    assert "title_abstract: 0 open conflicts, 14 records without a second screening" in (
        dual.output
    )
    assert "no second screening asked for" not in dual.output


def status_decisions(output: str) -> dict[tuple[str, str], list[int]]:
    """(stage, reviewer) -> [decisions, include, exclude, maybe] from the status table."""
    found = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│┃| ").split("│")]
        if len(cells) == 6 and cells[0] in ("title_abstract", "full_text"):
            found[(cells[0], cells[1])] = [int(c) for c in cells[2:]]
    return found


def test_status_counts_each_reviewers_standing_decisions(
    kei_imported_db: Path, copy_db: Callable[..., Path]
) -> None:
    db = copy_db(kei_imported_db)
    con = connect(db)
    try:
        records = ids(con, 6)
        for record_id, decision in zip(
            records[:4], ["include", "exclude", "maybe", "include"], strict=True
        ):
            record_decision(con, record_id=record_id, reviewer="ann", decision=decision)
        # a change of mind counts once, as the standing decision
        record_decision(con, record_id=records[0], reviewer="ann", decision="exclude")
        record_decision(con, record_id=records[5], reviewer="bob", decision="include")
    finally:
        con.close()
    result = runner.invoke(app, ["screen", "status", "--db", str(db)])
    assert result.exit_code == 0, result.output
    table = status_decisions(result.output)
    assert table[("title_abstract", "ann")] == [4, 1, 2, 1]
    assert table[("title_abstract", "bob")] == [1, 1, 0, 0]
