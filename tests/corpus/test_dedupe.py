"""Deduplication: identifiers, titles with year and first author, vetoes, groups, splits."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from synth.corpus.dedupe import (
    GROUP_COLUMNS,
    PAIR_COLUMNS,
    DedupeResult,
    cannot_links_for_split,
    dedupe,
    first_author_family,
    normalise_title,
    split_group,
)
from synth.corpus.model import RECORD_COLUMNS
from synth.corpus.normalise import records_frame
from synth.corpus.synthetic import generate_records

TITLE = "Co-producing a discharge intervention with carers of people living with dementia"
ABSTRACT = (
    "Background: Carers of people living with dementia report poor discharge planning. "
    "Methods: We co-designed an intervention with carers in three acute hospitals."
)


def rec(rid: str, title: str | None = TITLE, **fields: Any) -> dict[str, Any]:
    """A canonical record as a reader and the normaliser would leave it."""
    row: dict[str, Any] = {
        "record_id": rid,
        "title": title,
        "authors": ["García, José", "Ní Bhriain, Aoife"],
        "year": 2019,
        "venue": "Health Expectations",
        "source_file": "scopus.ris",
        "source_format": "ris",
    }
    row.update(fields)
    return row


def run(*rows: dict[str, Any], **kwargs: Any) -> DedupeResult:
    return dedupe(records_frame(list(rows)), **kwargs)


def together(result: DedupeResult, *ids: str) -> bool:
    groups = result.groups.set_index("record_id")["group_id"]
    return len({groups[i] for i in ids}) == 1


def pair(result: DedupeResult, a: str, b: str, frame: str = "pairs") -> pd.Series:
    pairs = getattr(result, frame)
    hit = pairs[
        ((pairs["record_a"] == a) & (pairs["record_b"] == b))
        | ((pairs["record_a"] == b) & (pairs["record_b"] == a))
    ]
    assert len(hit) == 1, f"no single {frame} row for {a}/{b}:\n{pairs}"
    return hit.iloc[0]


# -- normalisation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Co-Production &amp; {PPI}: a <i>Review</i>.", "co production and ppi a review"),
        ("Qu{\\'e}bec's {\\\"u}ber-{HIV} study", "quebec s uber hiv study"),
        ("Patients’ experience – “in” primary care…", "patients experience in primary care"),
        ("São Paulo: Ó Súilleabháin and Łukasik", "sao paulo o suilleabhain and lukasik"),
        ("  EXPLORING\tco-design  ", "exploring co design"),
        ("Ελληνικά: τίτλος", "ελληνικα τιτλοσ"),
        (None, ""),
        ("", ""),
    ],
)
def test_titles_normalise_to_comparable_text(raw: str | None, expected: str) -> None:
    assert normalise_title(raw) == expected


@pytest.mark.parametrize(
    ("authors", "family"),
    [
        (["Ó Súilleabháin, S."], "osuilleabhain"),
        (["O Suilleabhain S"], "osuilleabhain"),  # MEDLINE style
        (["Nguyễn, Thi Huong", "Smith, J."], "nguyen"),
        ("van der Berg, Anneke; Smith, John", "vanderberg"),
        (["José García"], "garcia"),
        (["[No authors listed]"], ""),
        (["Anonymous"], ""),
        ([], ""),
        (None, ""),
    ],
)
def test_first_author_family_names(authors: Any, family: str) -> None:
    assert first_author_family(authors) == family


# -- identifiers -------------------------------------------------------------------------


def test_same_doi_in_different_case_and_prefix_is_one_paper() -> None:
    result = run(
        rec("a", doi="10.1111/HEX.12039"),
        rec("b", title=TITLE.upper(), doi="https://doi.org/10.1111/hex.12039"),
        rec("c", title=f"[{TITLE}]", doi="doi:10.1111/hex.12039", year=None),
        rec("d", title="An unrelated paper on quality improvement in care homes", doi=None),
    )
    assert together(result, "a", "b", "c")
    assert not together(result, "a", "d")
    by_doi = result.pairs[result.pairs["rule"] == "doi"]
    assert len(by_doi) == 2  # each copy linked to the most complete one
    assert set(by_doi["record_a"]) | set(by_doi["record_b"]) == {"a", "b", "c"}
    assert (by_doi["score"] == 100).all()


def test_same_pmid_is_one_paper() -> None:
    result = run(
        rec("a", pmid="31234567"),
        rec("b", title=TITLE + ": a qualitative study", pmid="31234567", authors=[]),
    )
    assert together(result, "a", "b")
    assert pair(result, "a", "b")["rule"] == "pmid"


def test_erratum_filed_under_its_papers_doi_stays_apart() -> None:
    result = run(
        rec("paper", doi="10.1111/hex.12039", volume="22", pages="120-131"),
        rec(
            "erratum",
            title=f"Erratum: {TITLE}",
            doi="10.1111/hex.12039",
            year=2020,
            volume="23",
            pages="410",
        ),
    )
    assert not together(result, "paper", "erratum")
    assert "notice" in pair(result, "paper", "erratum", "rejected")["note"]


# -- titles ------------------------------------------------------------------------------


def test_title_with_typos_matches_with_evidence() -> None:
    typo = TITLE.replace("discharge", "dischrage").replace("dementia", "dementai")
    result = run(rec("a", doi="10.1111/hex.12039"), rec("b", title=typo, authors=["Garcia, J."]))
    assert together(result, "a", "b")
    evidence = pair(result, "a", "b")
    assert evidence["rule"] == "title+year+author"
    assert 90 <= evidence["score"] < 100
    assert evidence["author_match"] is True
    assert evidence["year_diff"] == 0


def test_case_punctuation_markup_and_dropped_subtitle_match() -> None:
    result = run(
        rec("a", title=TITLE + ": a mixed-methods evaluation"),
        rec(
            "b",
            title="{Co}-producing a discharge intervention with carers of people "
            "living with dementia - a mixed methods evaluation.",
        ),
        rec("c", title=TITLE.upper()),
        rec("d", title=TITLE.replace(" with carers", " <i>with</i> carers")),
    )
    assert together(result, "a", "b", "c", "d")
    notes = " ".join(result.pairs["note"])
    assert "subtitle dropped" in notes


def test_same_title_years_apart_is_not_merged() -> None:
    result = run(
        rec("a", year=2012),
        rec("b", year=2019, authors=["Okafor, Chinedu"]),
        rec("c", year=2014),  # same authors, two years later: a different paper
    )
    assert not together(result, "a", "b")
    assert not together(result, "a", "c")


def test_numbered_parts_are_not_merged() -> None:
    result = run(
        rec("p1", title=TITLE + ": Part 1", pages="1-10"),
        rec("p2", title=TITLE + ": Part 2", pages="11-20"),
        rec("p3", title=TITLE + ". Part II: methods"),
        rec("p4", title=TITLE + ". Part one: methods"),
    )
    assert not together(result, "p1", "p2")
    assert not together(result, "p2", "p4")
    assert together(result, "p3", "p2") is False
    reasons = " ".join(result.rejected["note"])
    assert "different numbers" in reasons


def test_protocol_and_trial_report_are_not_merged() -> None:
    main = "A peer-led self-management programme for people with psychosis"
    result = run(
        rec("protocol", title=f"{main}: protocol for a randomised controlled trial", year=2018),
        rec("report", title=f"{main}: a randomised controlled trial", year=2019),
        rec(
            "short",
            title="A protocol for a peer-led self-management programme for people with psychosis",
            year=2019,
        ),
    )
    assert not together(result, "protocol", "report")
    assert not together(result, "short", "report")


def test_one_word_swapped_is_another_paper() -> None:
    base = "Co-producing mental health services with young people in {}: a realist evaluation"
    result = run(
        rec("kenya", title=base.format("Kenya"), pages="100-110"),
        rec("peru", title=base.format("Peru"), pages="e0123"),
    )
    assert not together(result, "kenya", "peru")
    assert "a word in one title only" in pair(result, "kenya", "peru", "rejected")["note"]


def test_generic_titles_need_more_than_the_title() -> None:
    result = run(
        rec("e1", title="Editorial", volume="12", pages="1"),
        rec("e2", title="Editorial", volume="12", pages="77"),
        rec("e3", title="Editorial", volume=None, pages=None),
    )
    assert not together(result, "e1", "e2")
    assert not together(result, "e1", "e3")


def test_year_one_apart_needs_a_strong_title_and_the_same_first_author() -> None:
    result = run(
        rec("online", year=2019, volume=None, pages=None),
        rec("print", year=2020, volume="23", pages="1-12"),
        rec("other", year=2020, authors=["Okafor, Chinedu"], title=TITLE + "."),
    )
    assert together(result, "online", "print")
    assert "years one apart" in pair(result, "online", "print")["note"]
    assert not together(result, "online", "other")


def test_different_dois_veto_a_title_match_but_not_a_preprint() -> None:
    result = run(
        rec("a", doi="10.1111/hex.12039"),
        rec("b", doi="10.1186/s40900-019-0001-2"),
        rec("preprint", doi="10.1101/2019.01.15.19000123", year=2018, venue="medRxiv"),
    )
    assert not together(result, "a", "b")
    assert "different DOIs" in pair(result, "a", "b", "rejected")["note"]
    assert together(result, "a", "preprint")
    assert "preprint" in pair(result, "a", "preprint")["note"]


def test_threshold_is_a_parameter() -> None:
    typo = TITLE.replace("discharge", "dischrage").replace("dementia", "dementai")
    rows = [rec("a"), rec("b", title=typo)]
    assert together(run(*rows), "a", "b")
    assert not together(run(*rows, threshold=99), "a", "b")


# -- groups, kept records, reviewer constraints -------------------------------------------


def test_kept_record_is_the_most_complete() -> None:
    result = run(
        rec("r1"),
        rec("r3", doi="10.1111/hex.12039", abstract=ABSTRACT, pages="1-12"),
        rec("r2", title=TITLE + "."),
    )
    groups = result.groups.set_index("record_id")
    assert groups["group_id"].nunique() == 1
    assert groups.loc["r3", "is_kept"]
    assert (groups["group_id"] == "r3").all()
    assert groups.loc["r3", "completeness"] > groups.loc["r1", "completeness"]


def test_ties_are_broken_by_record_id() -> None:
    result = run(rec("b"), rec("a"), rec("c"))
    assert set(result.groups["group_id"]) == {"a"}
    assert result.groups.set_index("record_id").loc["a", "is_kept"]


def test_groups_keep_every_record_in_input_order() -> None:
    rows = [rec("z"), rec("y", title="Another paper entirely about hospices"), rec("x")]
    result = run(*rows)
    assert list(result.groups.columns) == GROUP_COLUMNS
    assert list(result.groups["record_id"]) == ["z", "y", "x"]
    assert result.n_duplicates == 1
    assert list(result.pairs.columns) == PAIR_COLUMNS


def test_cannot_link_holds_even_through_a_third_record() -> None:
    rows = [
        rec("a", doi="10.1111/hex.12039"),
        rec("b", doi="10.1111/hex.12039", title=TITLE + "."),
        rec("c", title=TITLE.replace("carers", "carrers")),
    ]
    assert together(run(*rows), "a", "b", "c")
    result = run(*rows, cannot_link=[("a", "c")])
    assert not together(result, "a", "c")
    assert together(result, "a", "b")
    refused = result.rejected[result.rejected["note"].str.contains("reviewer")]
    assert len(refused) >= 1


def test_a_new_copy_joins_the_side_of_a_split_it_resembles() -> None:
    """A reviewer split the BibTeX record off; a later export of the RIS record arrives."""
    ris = rec("ris", doi="10.1111/hex.12039", authors=["Armstrong, Natalie"])
    bib = rec("bib", title=TITLE.title(), doi="https://doi.org/10.1111/HEX.12039",
              authors=["Armstrong, N."])  # fmt: skip
    copy = rec("copy", doi="10.1111/hex.12039", authors=["Armstrong, Natalie"])
    result = run(ris, bib, copy, cannot_link=[("bib", "ris")])
    assert together(result, "ris", "copy")
    assert not together(result, "bib", "ris")


def test_split_group_is_pure_and_regroups_the_rest() -> None:
    rows = [
        rec("a", doi="10.1111/hex.12039"),
        rec("b", doi="10.1111/hex.12039", title=TITLE.replace("dementia", "dementai")),
        rec("c", title=TITLE.replace("dementia", "dementai") + "."),
    ]
    result = run(*rows)
    assert together(result, "a", "b", "c")
    split = split_group(result, ["c"])
    assert together(result, "a", "b", "c")  # the input is not changed
    assert not together(split, "c", "a") and not together(split, "c", "b")
    assert together(split, "a", "b")
    assert split.groups.set_index("record_id").loc["c", "is_kept"]
    assert (split.rejected["note"] == "split by a reviewer").sum() >= 1
    assert split.n_duplicates == 1
    assert set(cannot_links_for_split(result, ["c"])) == {("c", "a"), ("c", "b")}
    assert result.split(["c"]).groups.equals(split.groups)


def test_split_breaks_a_chain_held_by_the_split_record() -> None:
    rows = [
        rec("a", doi="10.1111/hex.12039", title="Peer support in prisons: a qualitative study"),
        rec("b", doi="10.1111/hex.12039", title=TITLE + ": a qualitative study"),
        rec("c", title=TITLE + ": a qualitative study", doi=None),
    ]
    result = run(*rows)
    assert together(result, "a", "b", "c")
    split = split_group(result, ["b"])
    assert not together(split, "a", "c")  # they only met through b


def test_split_group_errors() -> None:
    result = run(rec("a"), rec("b"), rec("x", title="Another paper entirely about hospices"))
    with pytest.raises(KeyError):
        split_group(result, ["nope"])
    with pytest.raises(ValueError):
        split_group(result, ["a", "x"])
    with pytest.raises(ValueError):
        split_group(result, [])
    assert split_group(result, ["a", "b"]).groups.equals(result.groups)


# -- edge cases ----------------------------------------------------------------------------


def test_empty_input() -> None:
    result = dedupe(records_frame([]))
    assert list(result.groups.columns) == GROUP_COLUMNS
    assert result.groups.empty and result.pairs.empty and result.rejected.empty
    assert list(result.pairs.columns) == PAIR_COLUMNS


def test_records_without_titles_match_only_by_identifier() -> None:
    result = run(
        rec("a", title=None, doi="10.1111/hex.12039"),
        rec("b", title=None, doi="10.1111/HEX.12039"),
        rec("c", title=None, authors=[], year=None),
        rec("d", title="", authors=[], year=None),
        rec("e", title=TITLE),
    )
    assert together(result, "a", "b")
    assert not together(result, "c", "d")
    assert len(result.groups) == 5


def test_only_record_id_is_required() -> None:
    frame = pd.DataFrame({"record_id": ["a", "b"], "title": [TITLE, TITLE.lower()]})
    result = dedupe(frame)
    assert together(result, "a", "b")
    assert "authors missing" in pair(result, "a", "b")["note"]


def test_repeated_record_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        run(rec("a"), rec("a"))


def test_progress_bar_and_timings() -> None:
    result = run(rec("a"), rec("b"), progress=True)
    assert {"features", "blocking", "scoring", "grouping", "total"} <= set(result.timings)
    assert result.counts["records"] == 2


# -- planted duplicates --------------------------------------------------------------------


def grouped_pairs(result: DedupeResult) -> set[frozenset[str]]:
    found: set[frozenset[str]] = set()
    for _, members in result.groups.groupby("group_id")["record_id"]:
        found.update(frozenset(p) for p in combinations(sorted(members), 2))
    return found


def test_planted_duplicates_are_found_and_near_misses_kept_apart() -> None:
    records, planted = generate_records(5000, seed=1)
    assert list(records.columns) == RECORD_COLUMNS
    result = dedupe(records)
    found = grouped_pairs(result)
    hits = len(found & planted)
    assert hits / len(planted) >= 0.99  # recall
    assert hits / len(found) >= 0.995  # precision
    assert len(result.rejected) > 0  # the planted near-misses were seen, and refused


# -- real data -----------------------------------------------------------------------------


@pytest.mark.peer
def test_kitchenham_labelled_duplicates(peer_data: Path) -> None:
    """Kitchenham 2010 marks 6 duplicate pairs; one pair is dated 2007 and 2015."""
    raw = pd.read_csv(peer_data / "screening" / "Kitchenham_2010.csv")
    rows = [
        {"record_id": str(r.record_id), "title": r.title, "abstract": r.abstract,
         "year": None if pd.isna(r.year) else int(r.year)}
        for r in raw.itertuples()
    ]  # fmt: skip
    result = dedupe(records_frame(rows))
    labelled = raw.dropna(subset=["duplicate_record_id"])
    assert len(labelled) == 6
    years = raw.set_index("record_id")["year"]
    for a, b in zip(
        labelled["record_id"], labelled["duplicate_record_id"].astype(int), strict=True
    ):
        if abs(years[a] - years[b]) <= 1:
            assert together(result, str(a), str(b)), (a, b)
        else:  # 2007 vs 2015, no authors to vouch for it: kept apart on purpose
            assert not together(result, str(a), str(b))
