"""PRISMA 2020 counts derived from the store, as the review reports them: sources split into
databases and registers | other methods, duplicates, unreadable records, both screening
stages, "not reported" (None) for what the review does not report, and the identities."""

from __future__ import annotations

import csv
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from synth.review import Review, load_review, parse_review
from synth.screening.decisions import record_decision
from synth.screening.prisma import NO_REASON, UNMATCHED_PDFS, PrismaCounts, prisma_counts
from synth.screening.published import record_published_decisions
from synth.screening.queue import screening_settings
from synth.screening.reviewers import resolve_conflict
from synth.store import connect, import_paths
from tests.screening import KEI, group_pair, ids

FULLTEXTS = sorted(p.name for p in (KEI / "fulltexts").glob("*.md"))


def both_stages_review() -> Review:
    """The bundled review as if it reported both stages and had searched its full texts
    too (so the store's full texts are identified records): the flow of a working review."""
    data = yaml.safe_load((KEI / "review.yml").read_text("utf-8"))
    data.pop("reported_stages")
    data.pop("published_decisions")
    data["sources"] = {"references.bib": "database", "fulltexts/*": "database"}
    return parse_review(data, KEI / "review.yml")


@pytest.fixture
def con(kei_imported_db: Path, copy_db: Callable[..., Path]) -> Iterator[sqlite3.Connection]:
    con = connect(copy_db(kei_imported_db))
    yield con
    con.close()


def check_arithmetic(p: PrismaCounts) -> None:
    """The identities the flow diagram relies on, written out here and checked by the
    counts themselves (PrismaCounts.identities)."""
    assert p.identities() == []
    if p.identified is None:  # the search is not reported: nothing invented after it
        assert p.included_list and not p.identified_by_source and not p.identified_other_methods
        assert p.duplicates_removed is None and p.unique_records is None
    else:
        assert p.identified == sum(p.identified_by_source.values()) + sum(
            p.identified_other_methods.values()
        )
        assert p.unique_records == (
            p.identified + sum(p.included_list.values()) - p.duplicates_removed - p.read_failures
        )
    if p.screened is not None:
        assert p.unique_records == p.screened + p.awaiting_screening
        assert p.screened == (
            sum(p.excluded_screening.values()) + p.passed_screening + p.conflicts_screening
        )
    if p.sought_full_text is not None:
        assert p.sought_full_text == (p.not_retrieved + p.assessed_full_text + p.awaiting_full_text)
        assert p.assessed_full_text == (
            sum(p.excluded_full_text.values()) + p.included + p.maybe_full_text
            + p.conflicts_full_text
        )  # fmt: skip


def bib_entries() -> int:
    return len(re.findall(r"^@\w+\{", (KEI / "references.bib").read_text("utf-8"), re.M))


def test_kei_store_before_screening(con: sqlite3.Connection) -> None:
    """The bundled review reports only full text, and its full texts are background.
    references.bib is the review's list of its 64 included studies, not search results:
    its records are in the flow, but the search is not reported (None, not 64)."""
    p = prisma_counts(con)  # the review.yml beside the imported files
    assert p.included_list == {"references.bib": bib_entries()} and bib_entries() == 64
    assert p.identified_by_source == {} and p.identified_other_methods == {}
    assert p.identified is None and p.to_dict()["identified"] is None
    assert p.to_dict()["included_list"] == {"references.bib": 64}
    # the full texts (and a reference's own bundled full text) are not identified records
    assert p.not_identified == dict.fromkeys(FULLTEXTS, 1)
    assert p.read_failures == 0
    # no search reported: duplicates removed by it and records left are not invented
    assert p.duplicates_removed is None and p.unique_records is None
    # title/abstract is not reported: not 0, and no records "awaiting screening"
    assert p.screened is None and p.awaiting_screening is None
    assert p.excluded_screening is None and p.conflicts_screening is None
    assert p.sought_full_text == 64 and p.included == 0  # the list's records are the flow
    assert p.notes["reported_stages"] == ["full_text"]
    check_arithmetic(p)


def test_bundled_review_reports_64_included_after_full_text(con: sqlite3.Connection) -> None:
    review = load_review(KEI / "review.yml")
    assert record_published_decisions(con, review) == bib_entries()
    p = prisma_counts(con, review)
    assert p.included == 64
    # the review says nothing of what it screened, sought, assessed or excluded
    for box in ("screened", "excluded_screening", "awaiting_screening", "sought_full_text",
                "not_retrieved", "assessed_full_text", "excluded_full_text",
                "awaiting_full_text", "maybe_full_text", "conflicts_full_text"):  # fmt: skip
        assert getattr(p, box) is None, box
        assert p.to_dict()[box] is None, box
    assert p.notes["published_only"] == ["full_text"]
    # its reference list is what it included, not what it found: identification and
    # duplicates are not reported, never 64 and 0
    assert p.included_list == {"references.bib": 64}
    assert p.identified is None and p.duplicates_removed is None and p.unique_records is None
    assert sum(p.not_identified.values()) == len(FULLTEXTS)
    check_arithmetic(p)


def test_without_review_yml_the_store_says_which_stages_have_no_decisions(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "plain"
    corpus.mkdir()
    (corpus / "refs.ris").write_text(DUPLICATE_RIS, "utf-8")
    con = connect(tmp_path / "r.sqlite")
    import_paths(con, [corpus])
    (rid,) = con.execute("SELECT record_id FROM records").fetchone()
    record_decision(con, record_id=rid, reviewer="ana", decision="include")
    p = prisma_counts(con)
    assert p.screened == 1 and p.passed_screening == 1 and p.awaiting_screening == 0
    assert p.notes["stages_without_decisions"] == ["full_text"]
    assert p.not_retrieved == 1 and p.assessed_full_text == 0
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

    p = prisma_counts(con, both_stages_review())
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
        "hand-search.ris": 2,  # one record read, one that could not be
        "citation-chasing.ris": 1,
        "broken.ris": 1,  # a file that could not be read at all is one failure
    }
    assert p.read_failures == 2  # the record without TY, and the binary file
    assert p.identified == n_scopus + 4
    assert p.duplicates_removed == 1  # the conference paper found twice
    # identified - duplicates - unreadable = screened + awaiting (was 2 short: the
    # unreadable records were removed from a total that never counted them)
    assert p.awaiting_screening == n_scopus + 2 - 1 == p.identified - 1 - 2
    check_arithmetic(p)

    # the same files, the review naming two of them as other methods (PRISMA 2020's column)
    (search / "review.yml").write_text(
        "sources:\n  hand-search.ris: other_methods\n  citation-chasing.ris: other_methods\n",
        "utf-8",
    )
    p = prisma_counts(con)
    assert p.identified_by_source == {"Scopus": n_scopus, "broken.ris": 1}
    assert p.identified_other_methods == {"hand-search.ris": 2, "citation-chasing.ris": 1}
    assert p.identified == n_scopus + 4 and p.awaiting_screening == n_scopus + 1
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
    assert p.identified == 4 and p.read_failures == 2  # each import: one read, one failed
    assert p.duplicates_removed == 1 and p.awaiting_screening == 1
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


@pytest.mark.peer
def test_peer_export_folder_identities(tmp_path: Path, peer_data: Path) -> None:
    """A folder of real exports (some records unreadable, many duplicates) copied at test
    time: identified - duplicates - unreadable = screened + awaiting, file by file summed."""
    corpus = tmp_path / "exports"
    shutil.copytree(peer_data / "formats" / "asreview-demo-data", corpus)
    con = connect(tmp_path / "r.sqlite")
    import_paths(con, [corpus])
    p = prisma_counts(con)
    read, failed = con.execute("SELECT sum(n_records), sum(n_failures) FROM sources").fetchone()
    (unreadable_files,) = con.execute(
        "SELECT count(*) FROM import_failures WHERE source_id IS NULL AND severity = 'error'"
    ).fetchone()
    assert failed > 0 and p.duplicates_removed > 0  # the case a real report got wrong
    assert p.read_failures == failed + unreadable_files
    assert p.identified == read + p.read_failures
    (distinct,) = con.execute(
        "SELECT count(*) FROM records r WHERE NOT EXISTS (SELECT 1 FROM duplicate_groups g"
        " WHERE g.record_id = r.record_id AND g.is_kept = 0)"
    ).fetchone()
    assert p.unique_records == distinct == p.screened + p.awaiting_screening
    assert p.identified - p.duplicates_removed - p.read_failures == p.awaiting_screening
    check_arithmetic(p)


SYNTHETIC_REVIEW = """\
questions: ["Does co-production change care?"]
exclusion_criteria:
  - {id: E1, text: Not about co-production}
  - {id: E2, text: Research only}
sources:
  scopus.ris: database
  trials.ris: register
  citation-chasing.ris: other_methods
  background/*: background
"""


def _ris(prefix: str, n: int, *, dois: list[str] | None = None) -> str:
    dois = dois or [f"10.5555/{prefix}.{i}" for i in range(n)]
    return "".join(
        f"TY  - JOUR\nTI  - {prefix} study number {i} of co-produced {prefix} services\n"
        f"AU  - Author{i}, {prefix.title()}\nPY  - {2010 + i % 10}\nDO  - {doi}\nER  - \n\n"
        for i, doi in enumerate(dois)
    )


def test_synthetic_review_both_stages_dual_screening(tmp_path: Path) -> None:
    """Decisions at both stages by two reviewers (dual mode): exclusions with reasons, a
    maybe, an unresolved and a resolved conflict, a decision made on a duplicate's other
    copy, a register and other methods, an unreadable record and a background text."""
    corpus = tmp_path / "synthetic"
    (corpus / "background").mkdir(parents=True)
    (corpus / "review.yml").write_text(SYNTHETIC_REVIEW, "utf-8")
    (corpus / "scopus.ris").write_text(_ris("scopus", 10), "utf-8")
    # two of the register's trials are scopus papers (same DOI, title, authors, year)
    trials = _ris("trials", 3) + _ris("scopus", 2) + "TI  - a record whose TY was lost\nER  - \n"
    (corpus / "trials.ris").write_text(trials, "utf-8")
    (corpus / "citation-chasing.ris").write_text(_ris("chased", 2) + _ris("scopus", 1), "utf-8")
    (corpus / "background" / "guide.md").write_text(
        '---\nkind: fulltext\nkey: guide2019\ntitle: "A practice guide to co-production"\n'
        "pub_type: report\ngrey: true\n---\nA practice guide to co-production.\n",
        "utf-8",
    )
    con = connect(tmp_path / "r.sqlite")
    import_paths(con, [corpus])
    screening_settings(con, mode="dual")

    def rid(source: str, i: int) -> str:
        doi = f"10.5555/{source}.{i}"
        row = con.execute(
            "SELECT record_id FROM records WHERE lower(doi) = ? ORDER BY source_file = 'scopus.ris'"
            " DESC LIMIT 1",
            (doi,),
        ).fetchone()
        assert row is not None, doi
        return row[0]

    s = [rid("scopus", i) for i in range(10)]
    t = [rid("trials", i) for i in range(3)]
    (copy_of_s0,) = con.execute(
        "SELECT record_id FROM records WHERE lower(doi) = '10.5555/scopus.0'"
        " AND source_file = 'citation-chasing.ris'"
    ).fetchone()

    def dual(r: str, ana: str, ben: str, reason: str | None = None, stage: str = "title_abstract",
             seen: str | None = None) -> None:  # fmt: skip
        record_decision(con, record_id=seen or r, reviewer="ana", decision=ana,
                        reason=reason if ana == "exclude" else None, stage=stage)  # fmt: skip
        record_decision(con, record_id=r, reviewer="ben", decision=ben,
                        reason=reason if ben == "exclude" else None, stage=stage)  # fmt: skip

    dual(s[0], "include", "include", seen=copy_of_s0)  # ana saw the chased copy
    for r in s[1:4]:
        dual(r, "include", "include")
    dual(s[4], "maybe", "maybe")
    dual(s[5], "exclude", "exclude", "E1")
    dual(s[6], "exclude", "exclude", "E1")
    dual(s[7], "exclude", "exclude", "E2")
    dual(s[8], "include", "exclude", "E1")  # unresolved conflict
    dual(s[9], "include", "exclude", "E1")
    resolve_conflict(con, record_id=s[9], stage="title_abstract", decision="exclude",
                     reason="E1", reviewer="cat")  # fmt: skip
    dual(t[0], "exclude", "exclude")  # no reason given
    ft = "full_text"
    dual(s[0], "include", "include", stage=ft)
    dual(s[1], "exclude", "exclude", "E2", stage=ft)
    dual(s[2], "include", "exclude", "E2", stage=ft)  # conflict at full text
    dual(s[3], "maybe", "maybe", stage=ft)  # s[4] (a maybe) has no full text: not retrieved

    p = prisma_counts(con)
    assert p.identified_by_source == {"scopus.ris": 10, "trials.ris": 6}  # database, register
    assert p.identified_other_methods == {"citation-chasing.ris": 3}
    assert p.not_identified == {"guide.md": 1}  # a background text: not identified
    assert p.identified == 19 and p.read_failures == 1
    assert p.duplicates_removed == 3  # two trials and one chased record are scopus papers
    assert p.unique_records == 15
    assert p.screened == 11 and p.awaiting_screening == 4
    assert p.conflicts_screening == 1 and p.passed_screening == 5
    assert p.excluded_screening == {"E1": 3, "E2": 1, NO_REASON: 1}
    assert p.sought_full_text == 5 and p.not_retrieved == 1 and p.awaiting_full_text == 0
    assert p.assessed_full_text == 4
    assert p.excluded_full_text == {"E2": 1}
    assert p.included == 1 and p.maybe_full_text == 1 and p.conflicts_full_text == 1
    assert set(p.reason_texts) == {"E1", "E2"}
    check_arithmetic(p)


def test_published_include_list_beside_a_database_export(tmp_path: Path) -> None:
    """A reviewer imports search results beside the published review's list of its
    included studies (matched by its path relative to the corpus, as ``sources`` globs
    are): identified counts only the export, the list is its own entry in the flow, and
    identified + included list - duplicates removed - unreadable = unique records."""
    corpus = tmp_path / "update"
    (corpus / "published").mkdir(parents=True)
    (corpus / "review.yml").write_text(
        "exclusion_criteria:\n  - {id: E1, text: Not about co-production}\n"
        "published_decisions:\n  reviewer: Published review\n"
        "  include_file: published/included.ris\n  stages: [full_text]\n",
        "utf-8",
    )
    (corpus / "published" / "included.ris").write_text(_ris("kept", 5), "utf-8")
    # the search finds 6 new papers, 2 of the published list's, and one unreadable record
    search = _ris("search", 6) + _ris("kept", 2) + "TI  - a record whose TY was lost\nER  - \n"
    (corpus / "scopus.ris").write_text(search, "utf-8")
    con = connect(tmp_path / "r.sqlite")
    import_paths(con, [corpus])
    review = load_review(corpus / "review.yml")
    assert record_published_decisions(con, review) == 5
    new = [
        r[0]
        for r in con.execute(
            "SELECT record_id FROM records WHERE doi LIKE '10.5555/search.%' ORDER BY doi"
        )
    ]
    for rid in new[:4]:
        record_decision(con, record_id=rid, reviewer="ana", decision="include")
    record_decision(con, record_id=new[4], reviewer="ana", decision="exclude", reason="E1")
    record_decision(con, record_id=new[0], reviewer="ana", decision="include", stage="full_text")

    p = prisma_counts(con)
    assert p.identified_by_source == {"scopus.ris": 9} and p.identified == 9  # the export only
    assert p.included_list == {"included.ris": 5}
    assert p.to_dict()["included_list"] == {"included.ris": 5}
    assert p.read_failures == 1
    assert p.duplicates_removed == 2  # the two published papers the search found again
    assert p.unique_records == 11 == 9 + 5 - 2 - 1
    assert p.screened == 5 and p.awaiting_screening == 6  # the list's 5 were never screened
    assert p.included == 6  # the published 5 and the one new paper included at full text
    check_arithmetic(p)


UNMATCHED_BIB = """@article{Smith2019,
  author = {Smith, Anna},
  title = {Co-producing mental health services with service users: a realist review},
  year = {2019},
}
"""


def _unmatched_pdf_store(tmp_path: Path) -> sqlite3.Connection:
    """refs.bib plus one PDF no reference matches (it becomes a record of its own)."""
    from synth.fulltext.links import link_pdfs
    from synth.store import fulltexts as ft
    from tests.pdf_fixtures import pdf_doc

    (tmp_path / "refs.bib").write_text(UNMATCHED_BIB, "utf-8")
    con = connect(tmp_path / "r.sqlite")
    import_paths(con, [tmp_path / "refs.bib"])
    doc = pdf_doc("u1", title="Bread baking in medieval monasteries")
    ft.store_pdf(con, doc, str(tmp_path / "pdfs" / "unrelated.pdf"), 1)
    assert link_pdfs(con)["pdfs_own_record"] == 1
    return con


def test_a_pdf_no_reference_matched_is_identified_by_other_methods(tmp_path: Path) -> None:
    """A PDF no reference matched was not found by a database search: it is counted under
    other methods, in one bucket, not as a database named after its file."""
    con = _unmatched_pdf_store(tmp_path)
    p = prisma_counts(con)
    assert p.identified_by_source == {"refs.bib": 1}
    assert p.identified_other_methods == {UNMATCHED_PDFS: 1}
    assert p.identified == 2
    check_arithmetic(p)


def test_a_review_glob_says_what_kind_of_source_its_pdfs_are(tmp_path: Path) -> None:
    con = _unmatched_pdf_store(tmp_path)
    review = parse_review({"sources": {"pdfs/*": "database"}}, tmp_path / "review.yml")
    p = prisma_counts(con, review)
    assert p.identified_by_source == {"refs.bib": 1, "unrelated.pdf": 1}
    assert p.identified_other_methods == {}
    check_arithmetic(p)
