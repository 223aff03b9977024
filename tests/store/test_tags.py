"""Tagging runs in the store: tags, overrides as events, migration of older stores."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from synth.store import connect, import_paths, schema_version
from synth.store.db import _statements, migrations
from synth.store.tags import add_override, current_tags, load_run_tags, save_tagging

RIS = """TY  - JOUR
TI  - Improvements in neonatal care; using experience-based co-design
PY  - 2014
ER  - 

TY  - RPRT
TI  - Always Events toolkit
PY  - 2016
ER  - 
"""


@pytest.fixture
def con(tmp_path: Path) -> sqlite3.Connection:
    (tmp_path / "a.ris").write_text(RIS, encoding="utf-8")
    con = connect(tmp_path / "r.sqlite")
    import_paths(con, [tmp_path / "a.ris"])
    return con


def _ids(con: sqlite3.Connection) -> list[str]:
    return [r[0] for r in con.execute("SELECT record_id FROM records ORDER BY position")]


def _tags(ids: list[str], label: str = "ebcd") -> pd.DataFrame:
    evidence = [{"field": "title", "sentence": "using experience-based co-design", "cue": "ebcd"}]
    return pd.DataFrame(
        [
            {
                "record_id": ids[0],
                "facet": "approach",
                "label": label,
                "score": 0.9,
                "evidence": evidence,
                "source": "rule",
                "version": "rules:1:abc",
            },
            {
                "record_id": ids[0],
                "facet": "setting",
                "label": "paediatrics-maternity",
                "score": 0.8,
                "evidence": evidence,
                "source": "rule",
                "version": "rules:1:abc",
            },
        ]
    )


def test_runs_append_and_overrides_survive_retagging(con: sqlite3.Connection) -> None:
    ids = _ids(con)
    save_tagging(con, _tags(ids), params={"codebook": "abc"})
    assert len(load_run_tags(con)) == 2
    add_override(con, ids[0], "setting", "paediatrics-maternity", "reject", reviewer="ana")
    add_override(con, ids[1], "approach", "always-events", "set", reviewer="ana")
    add_override(con, ids[0], "approach", "ebcd", "confirm", reviewer="ben")

    def view() -> set[tuple[str, str, str, str]]:
        cur = current_tags(con)
        return set(zip(cur.record_id, cur.facet, cur.label, cur.source, strict=True))

    expected = {
        (ids[0], "approach", "ebcd", "reviewer:ben"),
        (ids[1], "approach", "always-events", "reviewer:ana"),
    }
    assert view() == expected
    save_tagging(con, _tags(ids), params={"codebook": "abc"})  # re-tag: a new run
    assert view() == expected
    assert con.execute("SELECT count(*) FROM runs WHERE kind='tag'").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM tag_overrides").fetchone()[0] == 3


def test_a_rules_only_run_is_shown_whole(con: sqlite3.Connection) -> None:
    """Without model rows (the refiner off, or no facet refined) the best view is every rule
    row, and it does not load the refiner to say so."""
    import subprocess
    import sys

    ids = _ids(con)
    save_tagging(con, _tags(ids), params={"codebook": "abc"})
    best = current_tags(con)
    assert list(best.label) == ["ebcd", "paediatrics-maternity"]
    assert set(best.source) == {"rule"} and best.evidence.iloc[0][0]["cue"] == "ebcd"
    assert len(current_tags(con, source="all")) == len(current_tags(con, source="rule")) == 2
    db = con.execute("PRAGMA database_list").fetchone()[2]
    check = (
        "import sys; from synth.store import connect; from synth.store.tags import current_tags;"
        f" assert len(current_tags(connect({db!r}))) == 2; assert 'sklearn' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", check], check=True)


def test_override_of_an_unknown_record_or_verdict_is_refused(con: sqlite3.Connection) -> None:
    with pytest.raises(KeyError, match="no record"):
        add_override(con, "nope", "setting", "x", "set", reviewer="ana")
    with pytest.raises(ValueError, match="verdict"):
        add_override(con, _ids(con)[0], "setting", "x", "maybe", reviewer="ana")


def test_a_version_1_store_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    raw = sqlite3.connect(path, isolation_level=None)
    version, _, sql = migrations()[0]
    for statement in _statements(sql):
        raw.execute(statement)
    raw.execute(f"PRAGMA user_version={version}")
    raw.execute(
        "INSERT INTO sources (sha256, name, format, size, n_records, n_failures, n_new,"
        " imported_at) VALUES ('x', 'a.ris', 'ris', 1, 1, 0, 1, 'then')"
    )
    raw.execute(
        "INSERT INTO records (record_id, source_id, title, source_file, source_format)"
        " VALUES ('r1', 1, 'Kept through the upgrade', 'a.ris', 'ris')"
    )
    raw.close()
    con = connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == schema_version() >= 2
    assert con.execute("SELECT title FROM records").fetchone()[0] == "Kept through the upgrade"
    assert con.execute("SELECT count(*) FROM criteria_assessments").fetchone()[0] == 0
