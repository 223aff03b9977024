"""Dual screening: kappa and agreement by hand, blinding, conflicts and their resolution."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from synth.screening.decisions import (
    current_decisions,
    decision_history,
    final_decisions,
    record_decision,
    retract_decision,
)
from synth.screening.reviewers import (
    agreement,
    blinded_view,
    cohens_kappa,
    conflicts,
    missing_second_screening,
    percent_agreement,
    resolve_conflict,
)
from synth.store import connect
from tests.screening import ids

# Ten records, three categories, hand-computed:
#   agree on 7 of 10 -> p_o = 0.7
#   A uses include 3, exclude 5, maybe 2; B the same -> p_e = (9 + 25 + 4) / 100 = 0.38
#   kappa = (0.7 - 0.38) / (1 - 0.38) = 0.32 / 0.62 = 16/31
A = ["include", "include", "include", "exclude", "exclude", "exclude", "exclude", "maybe",
     "maybe", "exclude"]  # fmt: skip
B = ["include", "include", "exclude", "exclude", "exclude", "exclude", "maybe", "maybe",
     "include", "exclude"]  # fmt: skip


@pytest.fixture
def con(kei_imported_db: Path, copy_db: Callable[..., Path]) -> Iterator[sqlite3.Connection]:
    con = connect(copy_db(kei_imported_db))
    yield con
    con.close()


def test_kappa_three_categories_by_hand() -> None:
    assert percent_agreement(A, B) == pytest.approx(0.7)
    assert cohens_kappa(A, B) == pytest.approx(16 / 31)
    assert cohens_kappa(B, A) == pytest.approx(16 / 31)  # symmetric


def test_kappa_two_by_two_table() -> None:
    # yes/yes 20, yes/no 5, no/yes 10, no/no 15: p_o = 35/50 = 0.7;
    # A says yes 25/50, B 30/50 -> p_e = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = 0.2/0.5 = 0.4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert percent_agreement(a, b) == pytest.approx(0.7)
    assert cohens_kappa(a, b) == pytest.approx(0.4)


def test_kappa_edges() -> None:
    # perfect agreement using both categories: kappa 1
    assert cohens_kappa(["include", "exclude"] * 3, ["include", "exclude"] * 3) == 1.0
    # systematic disagreement on a balanced pair: p_o 0, p_e 0.5 -> -1
    assert cohens_kappa(["include", "exclude"], ["exclude", "include"]) == pytest.approx(-1.0)
    # degenerate: both exclude everything -> p_e = 1, kappa undefined; agreement is 100%
    everything = ["exclude"] * 12
    assert math.isnan(cohens_kappa(everything, everything))
    assert percent_agreement(everything, everything) == 1.0
    # A excludes all 12, B one include: p_o = 11/12, p_e = (12 * 11) / 144 = 11/12 -> 0
    assert cohens_kappa(everything, ["include", *everything[1:]]) == pytest.approx(0.0)
    assert math.isnan(cohens_kappa([], []))
    assert math.isnan(percent_agreement([], []))
    with pytest.raises(ValueError, match="differ in length"):
        cohens_kappa(["include"], [])


def test_kappa_matches_scikit_learn() -> None:
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    import random

    rng = random.Random(3)
    for _ in range(20):
        n = rng.randint(5, 60)
        a = [rng.choice(["include", "exclude", "maybe"]) for _ in range(n)]
        b = [x if rng.random() < 0.6 else rng.choice(["include", "exclude"]) for x in a]
        assert cohens_kappa(a, b) == pytest.approx(sklearn_metrics.cohen_kappa_score(a, b))


def screen(con: sqlite3.Connection, records: list[str], reviewer: str, decisions: list[str]):
    for rid, decision in zip(records, decisions, strict=True):
        reason = "years" if decision == "exclude" else None
        record_decision(con, record_id=rid, reviewer=reviewer, decision=decision, reason=reason)


def test_agreement_is_computed_on_the_records_both_screened(con: sqlite3.Connection) -> None:
    records = ids(con, 14)
    screen(con, records[:10], "ana", A)
    screen(con, records[:10], "ben", B)
    screen(con, records[10:14], "ana", ["include"] * 4)  # only ana: not in the pair's table
    screen(con, records[:2], "ana", ["exclude", "include"])  # changed mind: latest counts
    # ana now: exclude, include, include, ... -> agree with ben on 6 of 10
    a_now = ["exclude", "include", *A[2:]]
    got = agreement(con)
    assert got.columns.tolist() == [
        "stage", "reviewer_a", "reviewer_b", "n_both", "percent_agreement", "kappa",
    ]  # fmt: skip
    row = got.iloc[0]
    assert (row.reviewer_a, row.reviewer_b, row.n_both) == ("ana", "ben", 10)
    assert row.percent_agreement == pytest.approx(percent_agreement(a_now, B)) == 0.6
    assert row.kappa == pytest.approx(cohens_kappa(a_now, B))
    # full-text decisions are a separate stage
    record_decision(
        con, record_id=records[0], reviewer="cat", decision="include", stage="full_text"
    )
    assert len(agreement(con)) == 1
    ft = agreement(con, stage="full_text")
    assert ft.empty
    screen(con, records[:10], "cat", B)
    pairs = agreement(con)
    assert pairs[["reviewer_a", "reviewer_b"]].values.tolist() == [
        ["ana", "ben"], ["ana", "cat"], ["ben", "cat"],
    ]  # fmt: skip
    ben_cat = pairs.iloc[2]
    assert ben_cat.percent_agreement == 1.0 and ben_cat.kappa == 1.0
    only = agreement(con, reviewers=("cat", "ana"))
    assert only[["reviewer_a", "reviewer_b", "n_both"]].values.tolist() == [["cat", "ana", 10]]
    none = agreement(con, reviewers=("ana", "dan"))
    assert none.n_both.tolist() == [0] and math.isnan(none.kappa.iloc[0])


def test_blinded_view_shows_only_the_reviewers_own_decisions(con: sqlite3.Connection) -> None:
    r1, r2, r3 = ids(con, 3)
    record_decision(con, record_id=r1, reviewer="ana", decision="include")
    before = blinded_view(con, reviewer="ana", stage="title_abstract")
    record_decision(con, record_id=r1, reviewer="ben", decision="exclude")
    record_decision(con, record_id=r2, reviewer="ben", decision="include")
    after = blinded_view(con, reviewer="ana", stage="title_abstract")
    assert after.equals(before)  # ben's work (even on ana's record) does not show
    assert after.columns.tolist() == current_decisions(con).columns.tolist()
    assert set(blinded_view(con, reviewer="ben", stage="title_abstract").record_id) == {r1, r2}
    assert blinded_view(con, reviewer="cat", stage="title_abstract").empty
    assert r3 not in set(current_decisions(con).record_id)


def test_conflicts_list_and_resolution(con: sqlite3.Connection) -> None:
    r1, r2, r3 = ids(con, 3)
    screen(con, [r1, r2, r3], "ana", ["include", "exclude", "include"])
    screen(con, [r1, r2, r3], "ben", ["exclude", "exclude", "maybe"])
    found = conflicts(con)
    assert found.columns.tolist() == ["record_id", "title", "year", "ana", "ben"]
    assert found[["record_id", "ana", "ben"]].values.tolist() == [
        [r1, "include", "exclude"],
        [r3, "include", "maybe"],
    ]
    title = con.execute("SELECT title FROM records WHERE record_id = ?", (r1,)).fetchone()[0]
    assert found.title.iloc[0] == title
    assert final_decisions(con).set_index("record_id").loc[r1, "decision"] == "conflict"

    with pytest.raises(ValueError, match=r"no conflict to resolve.*agree"):
        resolve_conflict(con, record_id=r2, stage="title_abstract", decision="include",
                         reviewer="cat")  # fmt: skip
    with pytest.raises(ValueError, match="unknown exclusion reason"):
        resolve_conflict(con, record_id=r1, stage="title_abstract", decision="exclude",
                         reason="meh", reviewer="cat")  # fmt: skip
    event = resolve_conflict(con, record_id=r1, stage="title_abstract", decision="exclude",
                             reason="years", reviewer="cat", note="discussed")  # fmt: skip
    assert conflicts(con).record_id.tolist() == [r3]
    final = final_decisions(con).set_index("record_id")
    assert final.loc[r1, ["decision", "reason", "resolved"]].tolist() == ["exclude", "years", True]
    with_resolved = conflicts(con, include_resolved=True).set_index("record_id")
    assert with_resolved.loc[r1, ["resolved", "resolution"]].tolist() == [True, "exclude"]
    assert with_resolved.loc[r3, "resolved"] == False  # noqa: E712
    hist = decision_history(con, r1)
    assert hist.loc[hist.event_id == event, ["kind", "reviewer", "note"]].values.tolist() == [
        ["resolution", "cat", "discussed"]
    ]
    # a later resolution replaces it; undoing it brings the conflict back
    resolve_conflict(con, record_id=r1, stage="title_abstract", decision="include", reviewer="dan")
    assert final_decisions(con).set_index("record_id").loc[r1, "decision"] == "include"
    retract_decision(con, record_id=r1, reviewer="dan", resolution=True)
    assert final_decisions(con).set_index("record_id").loc[r1, "decision"] == "exclude"
    retract_decision(con, record_id=r1, reviewer="dan", resolution=True)
    assert r1 in set(conflicts(con).record_id)
    # the reviewers come to agree: agreement stands, the conflict is gone
    record_decision(con, record_id=r1, reviewer="ben", decision="include")
    assert final_decisions(con).set_index("record_id").loc[r1, "decision"] == "include"
    assert r1 not in set(conflicts(con).record_id)


def test_no_conflicts_gives_an_empty_table(con: sqlite3.Connection) -> None:
    assert conflicts(con).empty
    assert agreement(con).empty
    assert missing_second_screening(con).empty


def test_missing_second_screening(con: sqlite3.Connection) -> None:
    r1, r2, r3, r4 = ids(con, 4)
    screen(con, [r1, r2, r3], "ana", ["include", "exclude", "maybe"])
    screen(con, [r1], "ben", ["include"])
    screen(con, [r4], "ben", ["exclude"])
    retract_decision(con, record_id=r3, reviewer="ana")  # retracted: no longer screened
    missing = missing_second_screening(con)
    assert missing[["record_id", "n_reviewers", "reviewers", "missing"]].values.tolist() == [
        [r2, 1, "ana", 1],
        [r4, 1, "ben", 1],
    ]
    three = missing_second_screening(con, required=3).set_index("record_id")
    assert three.loc[r1, ["reviewers", "missing"]].tolist() == ["ana, ben", 1]
    assert missing_second_screening(con, stage="full_text").empty
