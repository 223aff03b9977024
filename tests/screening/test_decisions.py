"""Decisions as append-only events: recording, undo, groups, final state, import, settings."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from synth.screening.decisions import (
    current_decisions,
    decision_history,
    final_decisions,
    import_decisions,
    record_decision,
    retract_decision,
    valid_reasons,
)
from synth.screening.settings import load_settings, save_settings, settings_history
from synth.store import connect, import_paths
from synth.store.db import _statements, migrations
from tests.screening import group_pair, ids


@pytest.fixture
def con(kei_imported_db: Path, copy_db: Callable[..., Path]) -> Iterator[sqlite3.Connection]:
    path = copy_db(kei_imported_db)
    con = connect(path)
    yield con
    con.close()


def test_decision_is_committed_before_the_call_returns(con: sqlite3.Connection) -> None:
    (rid,) = ids(con, 1)
    event = record_decision(con, record_id=rid, reviewer="ana", decision="include", note="clear")
    assert not con.in_transaction
    other = sqlite3.connect(con.execute("PRAGMA database_list").fetchone()[2])
    row = other.execute(
        "SELECT record_id, reviewer, kind, decision, note FROM decisions WHERE event_id = ?",
        (event,),
    ).fetchone()
    assert row == (rid, "ana", "decision", "include", "clear")
    other.close()


def test_change_of_mind_is_a_new_event_and_the_latest_wins(con: sqlite3.Connection) -> None:
    a, b = ids(con, 2)
    e1 = record_decision(con, record_id=a, reviewer="ana", decision="include")
    e2 = record_decision(con, record_id=a, reviewer="ana", decision="exclude", reason="years")
    record_decision(con, record_id=b, reviewer="ana", decision="maybe")
    assert e2 > e1
    cur = current_decisions(con).set_index("record_id")
    assert cur.loc[a, "decision"] == "exclude" and cur.loc[a, "reason"] == "years"
    assert cur.loc[a, "event_id"] == e2
    assert cur.loc[b, "decision"] == "maybe"
    assert len(cur) == 2
    assert len(decision_history(con, a)) == 2  # both events kept


def test_undo_cancels_the_latest_decision_and_the_one_before_returns(
    con: sqlite3.Connection,
) -> None:
    (a,) = ids(con, 1)
    first = record_decision(con, record_id=a, reviewer="ana", decision="include")
    second = record_decision(con, record_id=a, reviewer="ana", decision="exclude")
    undo1 = retract_decision(con, record_id=a, reviewer="ana")
    cur = current_decisions(con)
    assert cur["decision"].tolist() == ["include"] and cur["event_id"].tolist() == [first]
    undo2 = retract_decision(con, record_id=a, reviewer="ana")
    assert current_decisions(con).empty  # every decision retracted: no row
    with pytest.raises(ValueError, match="no decision by ana"):
        retract_decision(con, record_id=a, reviewer="ana")
    hist = decision_history(con, a)
    assert hist["kind"].tolist() == ["decision", "decision", "retraction", "retraction"]
    assert hist["retracts"].tolist()[2:] == [second, first]
    assert hist["event_id"].tolist() == sorted([first, second, undo1, undo2])


def test_undo_touches_only_the_reviewers_own_decision(con: sqlite3.Connection) -> None:
    (a,) = ids(con, 1)
    record_decision(con, record_id=a, reviewer="ana", decision="include")
    record_decision(con, record_id=a, reviewer="ben", decision="exclude")
    retract_decision(con, record_id=a, reviewer="ana")
    assert current_decisions(con)[["reviewer", "decision"]].values.tolist() == [["ben", "exclude"]]


def test_bad_input_is_refused_with_a_clear_message(con: sqlite3.Connection) -> None:
    (a,) = ids(con, 1)
    with pytest.raises(ValueError, match="unknown record 'r-nope'"):
        record_decision(con, record_id="r-nope", reviewer="ana", decision="include")
    with pytest.raises(ValueError, match="unknown decision 'yes'"):
        record_decision(con, record_id=a, reviewer="ana", decision="yes")
    with pytest.raises(ValueError, match="unknown stage 'abstract'"):
        record_decision(con, record_id=a, reviewer="ana", decision="include", stage="abstract")
    with pytest.raises(ValueError, match="name the reviewer"):
        record_decision(con, record_id=a, reviewer=" ", decision="include")
    assert con.execute("SELECT count(*) FROM decisions").fetchone()[0] == 0
    assert not con.in_transaction


def test_reasons_are_the_reviews_criteria(con: sqlite3.Connection) -> None:
    reasons = dict(valid_reasons(con))
    # KEI's review.yml: three exclusion criteria, the general one, four inclusion criteria
    assert list(reasons)[:4] == [
        "unequal-relationship",
        "individual-benefit",
        "research-only-coproduction",
        "unclear-coproduction",
    ]
    assert reasons["years"] == "not met: Papers from 2008 - 2020"
    (a,) = ids(con, 1)
    with pytest.raises(ValueError, match=r"unknown exclusion reason 'too old'.*years"):
        record_decision(con, record_id=a, reviewer="ana", decision="exclude", reason="too old")
    # the criterion's wording is accepted and stored as its id
    text = reasons["unequal-relationship"]
    record_decision(con, record_id=a, reviewer="ana", decision="exclude", reason=text.upper())
    assert current_decisions(con)["reason"].tolist() == ["unequal-relationship"]


def test_without_a_review_definition_any_reason_is_kept(tmp_path: Path) -> None:
    bib = tmp_path / "search" / "refs.bib"
    bib.parent.mkdir()
    bib.write_text(
        "@article{a1, title={Peer support in acute wards}, author={Doe, Jane}, year={2019}}\n",
        "utf-8",
    )
    con = connect(tmp_path / "r.sqlite")
    import_paths(con, [bib])
    assert valid_reasons(con) == []
    rid = con.execute("SELECT record_id FROM records").fetchone()[0]
    record_decision(con, record_id=rid, reviewer="ana", decision="exclude", reason="wrong ward")
    assert current_decisions(con)["reason"].tolist() == ["wrong ward"]


def test_a_decision_on_any_copy_counts_for_the_groups_kept_record(
    con: sqlite3.Connection,
) -> None:
    kept, removed = group_pair(con)
    record_decision(con, record_id=removed, reviewer="ana", decision="include")
    record_decision(con, record_id=kept, reviewer="ben", decision="include")
    cur = current_decisions(con)
    assert cur["record_id"].tolist() == [kept, kept]
    final = final_decisions(con)
    assert final.to_dict("records") == [
        {"record_id": kept, "decision": "include", "reason": None, "n_reviewers": 2,
         "resolved": False}
    ]  # fmt: skip
    # ana changes her mind on the other copy: still one decision per reviewer per paper
    record_decision(con, record_id=kept, reviewer="ana", decision="exclude")
    assert len(current_decisions(con)) == 2
    assert final_decisions(con)["decision"].tolist() == ["conflict"]
    # undo on either copy undoes the latest decision on the paper
    retract_decision(con, record_id=removed, reviewer="ana")
    assert final_decisions(con)["decision"].tolist() == ["include"]
    hist = decision_history(con, removed)
    assert hist["record_id"].tolist() == [removed, kept, kept, removed]
    assert set(hist["kept_record_id"]) == {kept}


def test_final_decision_reason_is_the_one_most_reviewers_gave(con: sqlite3.Connection) -> None:
    (a,) = ids(con, 1)
    for reviewer, reason in [("ana", "years"), ("ben", "individual-benefit"), ("cat", "years")]:
        record_decision(con, record_id=a, reviewer=reviewer, decision="exclude", reason=reason)
    row = final_decisions(con).iloc[0]
    assert (row["decision"], row["reason"], row["n_reviewers"]) == ("exclude", "years", 3)


def test_stages_are_separate(con: sqlite3.Connection) -> None:
    (a,) = ids(con, 1)
    record_decision(con, record_id=a, reviewer="ana", decision="include")
    record_decision(con, record_id=a, reviewer="ana", decision="exclude", stage="full_text")
    assert final_decisions(con)["decision"].tolist() == ["include"]
    assert final_decisions(con, stage="full_text")["decision"].tolist() == ["exclude"]
    assert current_decisions(con, stage="full_text")["reviewer"].tolist() == ["ana"]
    with pytest.raises(ValueError, match="no decision by ana"):
        retract_decision(con, record_id=ids(con, 2)[1], reviewer="ana", stage="full_text")


def test_events_cannot_be_edited_or_deleted(con: sqlite3.Connection) -> None:
    (a,) = ids(con, 1)
    event = record_decision(con, record_id=a, reviewer="ana", decision="include")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE decisions SET decision = 'exclude' WHERE event_id = ?", (event,))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM decisions")
    retract_decision(con, record_id=a, reviewer="ana")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):  # one undo per event
        con.execute(
            "INSERT INTO decisions (stage, record_id, reviewer, kind, retracts, created_at)"
            " VALUES ('title_abstract', ?, 'ana', 'retraction', ?, 'x')",
            (a, event),
        )


def test_a_decision_refuses_to_join_the_callers_open_transaction(
    con: sqlite3.Connection,
) -> None:
    (a,) = ids(con, 1)
    con.execute("BEGIN")
    with pytest.raises(RuntimeError, match="open transaction"):
        record_decision(con, record_id=a, reviewer="ana", decision="include")
    con.execute("ROLLBACK")


def test_import_decisions_is_all_or_nothing(con: sqlite3.Connection) -> None:
    a, b, c = ids(con, 3)
    bad = pd.DataFrame(
        {
            "record_id": [a, "r-missing", c],
            "decision": ["include", "exclude", "perhaps"],
            "reason": [None, "years", None],
        }
    )
    with pytest.raises(ValueError, match=r"2 invalid.*row 2: unknown record.*row 3: unknown dec"):
        import_decisions(con, bad, reviewer="ana")
    assert con.execute("SELECT count(*) FROM decisions").fetchone()[0] == 0
    good = pd.DataFrame(
        {
            "record_id": [a, b, c],
            "stage": ["title_abstract", float("nan"), "full_text"],
            "decision": ["include", "exclude", "include"],
            "reason": [None, "years", ""],
            "note": ["", None, "from the spreadsheet"],
        }
    )
    assert import_decisions(con, good, reviewer="ana") == 3
    ta = current_decisions(con).set_index("record_id")
    assert ta.loc[b, "reason"] == "years" and ta.loc[a, "note"] is None
    ft = current_decisions(con, stage="full_text")
    assert ft[["record_id", "note"]].values.tolist() == [[c, "from the spreadsheet"]]


def test_migration_keeps_decisions_recorded_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    raw = sqlite3.connect(path, isolation_level=None)
    for version, _, sql in migrations()[:2]:  # a store as synth wrote it before screening
        for statement in _statements(sql):
            raw.execute(statement)
        raw.execute(f"PRAGMA user_version={version}")
    raw.execute(
        "INSERT INTO sources (sha256, name, format, size, n_records, n_failures, n_new,"
        " imported_at) VALUES ('x', 'refs.bib', 'bibtex', 1, 1, 0, 1, 't')"
    )
    raw.execute(
        "INSERT INTO records (record_id, source_id, title, source_file, source_format)"
        " VALUES ('r1', 1, 'A paper', 'refs.bib', 'bibtex')"
    )
    raw.execute(
        "INSERT INTO decisions (stage, record_id, reviewer, decision, reason, created_at)"
        " VALUES ('title_abstract', 'r1', 'ana', 'exclude', 'years', '2025-01-01')"
    )
    raw.close()
    con = connect(path)
    cur = current_decisions(con)
    assert cur[["record_id", "reviewer", "decision", "reason", "event_id"]].values.tolist() == [
        ["r1", "ana", "exclude", "years", 1]
    ]
    assert record_decision(con, record_id="r1", reviewer="ana", decision="include") == 2
    assert retract_decision(con, record_id="r1", reviewer="ana") == 3
    assert current_decisions(con)["decision"].tolist() == ["exclude"]
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM decisions")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("PRAGMA foreign_key_check").fetchall() == []


def test_settings_round_trip_and_keep_their_history(con: sqlite3.Connection) -> None:
    assert load_settings(con) is None
    first = {"classifier": "nb", "seed": 7, "random_share": 0.1, "priors": ("a", "b")}
    save_settings(con, first)
    save_settings(con, {"classifier": "logistic", "seed": 7}, name="learner")
    assert load_settings(con) == {**first, "priors": ["a", "b"]}
    save_settings(con, {"classifier": "svm", "seed": 8})
    assert load_settings(con) == {"classifier": "svm", "seed": 8}
    assert load_settings(con, "learner") == {"classifier": "logistic", "seed": 7}
    hist = settings_history(con, "default")
    assert [s["classifier"] for s in hist["settings"]] == ["nb", "svm"]
    with pytest.raises(ValueError, match="plain JSON"):
        save_settings(con, {"seed": float("nan")})
    with pytest.raises(ValueError, match="plain JSON"):
        save_settings(con, {"when": object()})
    with pytest.raises(TypeError, match="mapping"):
        save_settings(con, ["nb"])  # type: ignore[arg-type]
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM settings")
