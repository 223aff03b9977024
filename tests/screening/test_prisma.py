"""PRISMA 2020 counts derived from the store: sources, duplicates, both screening stages."""

from __future__ import annotations

import csv
import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from synth.screening.decisions import record_decision
from synth.screening.prisma import NO_REASON, PrismaCounts, prisma_counts
from synth.screening.reviewers import resolve_conflict
from synth.store import connect, import_paths
from tests.screening import KEI, group_pair, ids, kei_store


@pytest.fixture
def con(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    con = connect(kei_store(tmp_path, tmp_path_factory.getbasetemp() / "kei-template"))
    yield con
    con.close()


def check_arithmetic(p: PrismaCounts) -> None:
    """The identities the flow diagram relies on."""
    assert p.identified == sum(p.identified_by_source.values())
    assert p.identified - p.duplicates_removed == p.screened + p.awaiting_screening
    assert p.sought_full_text == p.not_retrieved + p.assessed_full_text + p.awaiting_full_text
    assert p.assessed_full_text == (
        sum(p.excluded_full_text.values()) + p.included + p.maybe_full_text + p.conflicts_full_text
    )


def test_kei_store_before_screening(con: sqlite3.Connection) -> None:
    n_bib = len(re.findall(r"^@\w+\{", (KEI / "references.bib").read_text("utf-8"), re.M))
    fulltexts = sorted(p.name for p in (KEI / "fulltexts").glob("*.md"))
    p = prisma_counts(con)
    # every full-text file also yields its paper's record; the extract files yield none
    assert p.identified_by_source == {"references.bib": n_bib, **dict.fromkeys(fulltexts, 1)}
    assert p.identified == n_bib + len(fulltexts) == 68
    assert p.read_failures == 0
    assert p.duplicates_removed == 1  # spencer2013: in references.bib and fulltexts/
    assert p.screened == 0 and p.awaiting_screening == 67
    assert p.excluded_screening == {} and p.included == 0
    check_arithmetic(p)


def test_kei_store_through_both_stages(con: sqlite3.Connection) -> None:
    kept_spencer, removed_spencer = group_pair(con)
    with_text = [
        r[0]
        for r in con.execute(
            "SELECT f.record_id FROM fulltexts f JOIN duplicate_groups g USING (record_id)"
            " WHERE g.is_kept = 1 AND f.record_id <> ? ORDER BY f.record_id",
            (kept_spencer,),
        )
    ]
    f1, f3, f4 = with_text  # three more papers whose full text is in the store
    f2 = kept_spencer
    b1, b2, b3, b4, b5, b6, b7, b8, b9 = ids(con, 9)

    def both(rid: str, ana: str, ben: str, reason: str | None = None, seen: str | None = None):
        record_decision(con, record_id=seen or rid, reviewer="ana", decision=ana, reason=reason)
        record_decision(con, record_id=rid, reviewer="ben", decision=ben, reason=reason)

    for rid in (f1, f3, b1):
        both(rid, "include", "include")
    both(f2, "include", "include", seen=removed_spencer)  # ana saw the other copy
    both(b2, "maybe", "maybe")
    both(b3, "exclude", "exclude", "years")
    both(b4, "exclude", "exclude", "years")
    both(b5, "exclude", "exclude", "individual-benefit")
    both(b6, "exclude", "exclude")
    both(b7, "include", "exclude")  # unresolved conflict
    both(b8, "include", "exclude")
    resolve_conflict(con, record_id=b8, stage="title_abstract", decision="exclude",
                     reason="unclear-coproduction", reviewer="cat")  # fmt: skip
    record_decision(con, record_id=b9, reviewer="ana", decision="include")  # one reviewer so far

    ft = "full_text"
    record_decision(con, record_id=f1, reviewer="ana", decision="include", stage=ft)
    record_decision(con, record_id=f2, reviewer="ana", decision="exclude", stage=ft,
                    reason="research-only-coproduction")  # fmt: skip
    record_decision(con, record_id=b2, reviewer="ana", decision="include", stage=ft)
    # a paper added straight at full text (no title/abstract decision) is sought too
    record_decision(con, record_id=f4, reviewer="ana", decision="include", stage=ft)

    p = prisma_counts(con)
    assert p.identified == 68 and p.duplicates_removed == 1
    assert p.screened == 12  # f1-f3 and b1-b9; f2 once although two copies were screened
    assert p.awaiting_screening == 67 - 12
    assert p.conflicts_screening == 1
    assert p.excluded_screening == {
        "years": 2, "individual-benefit": 1, NO_REASON: 1, "unclear-coproduction": 1,
    }  # fmt: skip
    assert next(iter(p.excluded_screening)) == "years"  # largest first
    # onward: f1 f2 f3 b1 (include), b2 (maybe), b9 (one include) + f4 (full-text decision)
    assert p.sought_full_text == 7
    assert p.not_retrieved == 2  # b1, b9: no full text, no full-text decision
    assert p.assessed_full_text == 4  # f1, f2, b2 (assessed elsewhere), f4
    assert p.awaiting_full_text == 1  # f3: its full text is here, nobody has assessed it
    assert p.excluded_full_text == {"research-only-coproduction": 1}
    assert p.included == 3
    assert p.reason_texts["years"] == "not met: Papers from 2008 - 2020"
    assert set(p.reason_texts) == {
        "years", "individual-benefit", "unclear-coproduction", "research-only-coproduction",
    }  # fmt: skip
    check_arithmetic(p)
    d = p.to_dict()
    assert d["included"] == 3 and d["identified_by_source"]["references.bib"] == 64


FAILING_RIS = """TY  - JOUR
TI  - Peer workers on acute mental health wards
PY  - 2018
ER  - 

TI  - A record whose TY line was lost
PY  - 2019
ER  - 
"""

DUPLICATE_RIS = """TY  - JOUR
TI  - Engaging service users in the design of digital health tools
AU  - Berg, L.
PY  - 2021
DO  - 10.1145/3411764.3445000
ER  - 
"""


def test_sources_by_database_duplicates_and_read_failures(tmp_path: Path, fixtures: Path) -> None:
    search = tmp_path / "search"
    search.mkdir()
    shutil.copy(fixtures / "tagged" / "scopus.ris", search / "scopus.ris")
    (search / "hand-search.ris").write_text(FAILING_RIS, "utf-8")
    (search / "citation-chasing.ris").write_text(DUPLICATE_RIS, "utf-8")
    (search / "broken.ris").write_bytes(bytes(range(256)) * 50)  # not a text file at all
    con = connect(tmp_path / "r.sqlite")
    import_paths(con, [search])
    p = prisma_counts(con)
    n_scopus = (search / "scopus.ris").read_text("utf-8").count("\nER  -")
    assert p.identified_by_source == {
        "Scopus": n_scopus,  # the database the export names, not its file name
        "hand-search.ris": 1,
        "citation-chasing.ris": 1,
    }
    assert p.read_failures == 2  # the record without TY, and the binary file
    assert p.duplicates_removed == 1  # the conference paper found twice
    assert p.awaiting_screening == n_scopus + 2 - 1
    check_arithmetic(p)


def test_the_same_file_read_twice_counts_its_records_as_duplicates(tmp_path: Path) -> None:
    a = tmp_path / "a" / "refs.ris"
    a.parent.mkdir()
    a.write_text(FAILING_RIS, "utf-8")
    con = connect(tmp_path / "r.sqlite")
    import_paths(con, [a])
    a.write_text(FAILING_RIS + "\n", "utf-8")  # re-exported: new bytes, same records
    import_paths(con, [a])
    p = prisma_counts(con)
    assert p.identified == 2 and p.duplicates_removed == 1 and p.awaiting_screening == 1
    check_arithmetic(p)


@pytest.mark.peer
def test_peer_exports_identified_per_database(tmp_path: Path, peer_data: Path) -> None:
    demo = peer_data / "formats" / "asreview-demo-data"
    files = ["embase.ris", "ovid_psycinfo.ris", "proquest.ris", "embase.csv"]
    con = connect(tmp_path / "r.sqlite")
    import_paths(con, [demo / f for f in files])
    p = prisma_counts(con)

    def ris(name: str) -> int:  # a record ends with an ER line
        return len(re.findall(r"^ER  -", (demo / name).read_text("utf-8"), re.M))

    with (demo / "embase.csv").open(encoding="utf-8", newline="") as fh:
        n_csv = sum(1 for _ in csv.DictReader(fh))
    assert p.identified_by_source == {
        "Embase": ris("embase.ris") + n_csv,
        "Ovid": ris("ovid_psycinfo.ris"),
        "ProQuest": ris("proquest.ris"),
    }
    assert p.read_failures == 0
    (removed,) = con.execute("SELECT count(*) FROM duplicate_groups WHERE is_kept=0").fetchone()
    assert p.duplicates_removed == removed
    check_arithmetic(p)
