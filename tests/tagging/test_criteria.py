"""Criteria assessment and screening suggestions from hand-made records and criterion tags."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from synth.review import load_review, parse_review
from synth.tagging.criteria import (
    ASSESSMENT_COLUMNS,
    SUGGESTION_COLUMNS,
    CriteriaError,
    assess,
    load_rules,
    negated_fraction,
    review_criteria,
    suggest,
)

ROOT = Path(__file__).resolve().parents[2]
KEI = ROOT / "corpus" / "kei-2020"

# The KEI criteria, as review.yml states them (texts shortened; a cue each, so they are
# judged from the criterion tags below, not by similarity).
REVIEW = parse_review(
    {
        "inclusion_criteria": [
            {"id": "equal-relationship", "text": "Equal relationship", "cues": ["equal"]},
            {
                "id": "partnership-design-delivery",
                "text": "Designed/delivered in partnership",
                "cues": ["co-design"],
            },
            {"id": "collective-benefit", "text": "Benefits whole communities", "cues": ["whole"]},
            {"id": "years", "text": "Papers from 2008 - 2020", "year_min": 2008, "year_max": 2020},
        ],
        "exclusion_criteria": [
            {"id": "unequal-relationship", "text": "Relationship not equal", "cues": ["unequal"]},
            {
                "id": "individual-benefit",
                "text": "Individuals for their own benefit",
                "cues": ["self-care"],
            },
            {
                "id": "research-only-coproduction",
                "text": "Only the research is co-produced",
                "cues": ["co-produced research"],
            },
        ],
    }
)
INCLUSION_TEXT = ["equal-relationship", "partnership-design-delivery", "collective-benefit"]


def ev(
    sentence: str,
    match: str,
    *,
    negated: bool = False,
    field: str = "abstract",
    weight: float = 2.0,
) -> dict[str, Any]:
    return {
        "field": field,
        "sentence": sentence,
        "match": match,
        "cue": match.lower(),
        "negated": negated,
        "weight": weight,
    }


def also(first: dict[str, Any], sentence: str, match: str) -> list[dict[str, Any]]:
    """``first`` and a second sentence with another cue: two passages, which an exclusion
    needs besides its score (``exclusion_min_passages``)."""
    return [first, {**first, "sentence": sentence, "match": match, "cue": match.lower()}]


def tag_row(record_id: str, label: str, score: float, *evidence: dict[str, Any]) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "facet": "criterion",
        "label": label,
        "score": score,
        "evidence": list(evidence),
        "source": "rule",
        "version": "rules:test:000000000000",
    }


def tags_frame(*rows: dict[str, Any]) -> pd.DataFrame:
    cols = ["record_id", "facet", "label", "score", "evidence", "source", "version"]
    return pd.DataFrame(list(rows), columns=cols)


def records_frame(**years: int | None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_id": list(years),
            "title": [f"Paper {k}" for k in years],
            "year": pd.array(list(years.values()), dtype="Int64"),
        }
    )


def status(assessment: pd.DataFrame, record_id: str, criterion: str) -> str:
    row = assessment[(assessment.record_id == record_id) & (assessment.criterion == criterion)]
    assert len(row) == 1
    return row.iloc[0]["status"]


def all_met(record_id: str) -> list[dict[str, Any]]:
    """Criterion tags meeting every text inclusion criterion."""
    return [
        tag_row(record_id, c, 0.9, ev(f"Patients and staff shared {c}.", "shared"))
        for c in INCLUSION_TEXT
    ]


# -- the review's criteria --------------------------------------------------------------


def test_review_criteria_read_from_kei_review_yml() -> None:
    criteria = review_criteria(load_review(KEI / "review.yml"))
    assert [(c.id, c.kind) for c in criteria] == [
        ("equal-relationship", "inclusion"),
        ("partnership-design-delivery", "inclusion"),
        ("collective-benefit", "inclusion"),
        ("years", "inclusion"),
        ("unequal-relationship", "exclusion"),
        ("individual-benefit", "exclusion"),
        ("research-only-coproduction", "exclusion"),
    ]
    years = criteria[3]
    assert years.is_years and (years.year_min, years.year_max) == (2008, 2020)


def test_criterion_without_id_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"inclusion_criteria\[1\]\.id: missing"):
        parse_review({"inclusion_criteria": [{"id": "a"}, {"text": "no id"}]})


# -- assess ----------------------------------------------------------------------------


def test_every_record_gets_every_criterion() -> None:
    records = records_frame(a=2010, b=2015)
    out = assess(records, tags_frame(), REVIEW)
    assert list(out.columns) == ASSESSMENT_COLUMNS
    assert len(out) == 2 * 7
    kinds = out.drop_duplicates("criterion").set_index("criterion")["kind"]
    assert kinds["years"] == "inclusion"
    assert kinds["individual-benefit"] == "exclusion"


def test_years_bounds_are_inclusive_and_missing_is_unclear() -> None:
    records = records_frame(y2007=2007, y2008=2008, y2014=2014, y2020=2020, y2021=2021, ynone=None)
    out = assess(records, tags_frame(), REVIEW)
    years = out[out.criterion == "years"].set_index("record_id")
    assert years["status"].to_dict() == {
        "y2007": "not_met",
        "y2008": "met",
        "y2014": "met",
        "y2020": "met",
        "y2021": "not_met",
        "ynone": "unclear",
    }
    assert years.loc["y2008", "score"] == 1.0
    assert years.loc["y2021", "score"] == 0.0
    assert pd.isna(years.loc["ynone", "score"])
    assert years.loc["y2021", "evidence"] == {
        "field": "year",
        "year": 2021,
        "year_min": 2008,
        "year_max": 2020,
    }


def test_text_criterion_met_unclear_and_absent() -> None:
    strong = ev("Service users and clinicians worked as equal partners.", "equal partners")
    weak = ev("Staff consulted patients.", "consulted", field="fulltext", weight=0.5)
    tags = tags_frame(
        tag_row("a", "equal-relationship", 0.86, strong),
        tag_row("b", "equal-relationship", 0.3, weak),
    )
    out = assess(records_frame(a=2015, b=2015, c=2015), tags, REVIEW)
    assert status(out, "a", "equal-relationship") == "met"
    assert status(out, "b", "equal-relationship") == "unclear"
    assert status(out, "c", "equal-relationship") == "unclear"  # no cue is not "not met"
    row = out[(out.record_id == "a") & (out.criterion == "equal-relationship")].iloc[0]
    assert row["score"] == pytest.approx(0.86)
    assert row["evidence"] == [strong]
    absent = out[(out.record_id == "c") & (out.criterion == "equal-relationship")].iloc[0]
    assert absent["score"] == 0.0 and absent["evidence"] == []


def test_other_facets_and_other_labels_are_ignored() -> None:
    tags = tags_frame(tag_row("a", "equal-relationship", 0.9, ev("x", "x")))
    extra = tags.copy()
    extra["facet"] = "approach"  # same label id, wrong facet
    out = assess(records_frame(a=2015), extra, REVIEW)
    assert status(out, "a", "equal-relationship") == "unclear"


def test_negated_evidence_makes_not_met() -> None:
    negated = ev(
        "This was not an equal partnership: staff made the decisions.",
        "equal partnership",
        negated=True,
    )
    tags = tags_frame(tag_row("a", "equal-relationship", 0.2, negated))
    out = assess(records_frame(a=2015), tags, REVIEW)
    assert status(out, "a", "equal-relationship") == "not_met"


def test_negation_must_carry_most_of_the_weight() -> None:
    positive = ev(
        "Patients and staff were equal partners.", "equal partners", field="title", weight=3
    )
    negated = ev("Not an equal partnership at first.", "equal partnership", negated=True, weight=1)
    tags = tags_frame(tag_row("a", "equal-relationship", 0.8, positive, negated))
    out = assess(records_frame(a=2015), tags, REVIEW)
    assert negated_fraction([positive, negated]) == pytest.approx(0.25)
    assert status(out, "a", "equal-relationship") == "met"


def test_opposite_exclusion_that_clearly_holds_makes_inclusion_not_met() -> None:
    selfcare = also(
        ev("Patients used an app to self-manage their own asthma.", "self-manage"),
        "Each patient learnt self-care at home.",
        "self-care",
    )
    tags = tags_frame(
        tag_row("clear", "individual-benefit", 0.9, *selfcare),
        tag_row("weak", "individual-benefit", 0.6, *selfcare),
    )
    out = assess(records_frame(clear=2015, weak=2015), tags, REVIEW)
    assert status(out, "clear", "individual-benefit") == "met"
    assert status(out, "clear", "collective-benefit") == "not_met"
    # 0.6 is below the exclusion threshold (0.8) and clear_threshold (0.7): both unclear
    assert status(out, "weak", "individual-benefit") == "unclear"
    assert status(out, "weak", "collective-benefit") == "unclear"
    # criteria with no opposite are untouched
    assert status(out, "clear", "equal-relationship") == "unclear"


def test_inclusion_met_makes_a_weaker_opposite_exclusion_not_met() -> None:
    equal = ev("Equal partners.", "equal")
    unequal = ev("Some staff kept an unequal say.", "unequal", field="fulltext", weight=0.5)
    tags = tags_frame(
        tag_row("a", "equal-relationship", 0.6, equal),
        tag_row("b", "equal-relationship", 0.6, equal),
        tag_row("b", "unequal-relationship", 0.65, unequal),
    )
    out = assess(records_frame(a=2015, b=2015), tags, REVIEW)
    assert status(out, "a", "equal-relationship") == "met"  # 0.6 >= met_threshold 0.5
    assert status(out, "a", "unequal-relationship") == "not_met"  # its opposite is met
    # the exclusion's own evidence (0.65) outweighs its met opposite (0.6): left open
    assert status(out, "b", "unequal-relationship") == "unclear"


def test_an_inclusion_is_met_by_two_passages_with_different_cues() -> None:
    """A full text's hits saturate below met_threshold however often it says so; two of its
    sentences with different cues meet an inclusion, one word repeated does not."""
    first = ev("Citizens and patients are equal partners in a service.", "equal partners",
               field="fulltext", weight=0.5)  # fmt: skip
    two = [first, {**first, "sentence": "Staff work together with patients.",
                   "match": "work together", "cue": "work together"}]  # fmt: skip
    repeated = [first, {**first, "sentence": "Patients as equal partners, again."}]
    tags = tags_frame(
        tag_row("two", "equal-relationship", 0.3, *two),
        tag_row("repeated", "equal-relationship", 0.3, *repeated),
        tag_row("title", "equal-relationship", 0.3, {**first, "field": "title"}, two[1]),
    )
    out = assess(records_frame(two=2015, repeated=2015, title=2015), tags, REVIEW)
    assert load_rules()["met_min_passages"] == 2
    assert status(out, "two", "equal-relationship") == "met"
    assert status(out, "repeated", "equal-relationship") == "unclear"
    assert status(out, "title", "equal-relationship") == "unclear"  # a title is no passage


def test_an_exclusion_none_of_whose_cues_is_in_the_text_is_not_met() -> None:
    records = records_frame(abstract=2015, title_only=2015)
    records["abstract"] = ["Staff and patients redesigned the ward together.", None]
    out = assess(records, tags_frame(), REVIEW)
    assert status(out, "abstract", "individual-benefit") == "not_met"
    assert status(out, "title_only", "individual-benefit") == "unclear"
    assert status(out, "abstract", "equal-relationship") == "unclear"  # inclusions: never


def test_an_exclusion_and_its_stronger_opposite_both_met_is_a_conflict() -> None:
    """Exclusions need strong evidence: never suggested against stronger evidence for the
    inclusion it contradicts; both are unclear, and a reviewer reads the paper."""
    equal = also(ev("Staff and patients worked as equal partners.", "equal"), "Equal say.", "say")
    unequal = also(
        ev("At first the relationship was unequal.", "unequal"), "Power imbalance.", "imbalance"
    )
    tags = tags_frame(
        *all_met("tie")[1:],
        tag_row("tie", "equal-relationship", 0.9, *equal),
        tag_row("tie", "unequal-relationship", 0.85, *unequal),
        *all_met("excl")[1:],
        tag_row("excl", "equal-relationship", 0.6, equal[0]),
        tag_row("excl", "unequal-relationship", 0.85, *unequal),
    )
    out = assess(records_frame(tie=2015, excl=2015), tags, REVIEW)
    assert status(out, "tie", "equal-relationship") == "unclear"
    assert status(out, "tie", "unequal-relationship") == "unclear"
    assert status(out, "excl", "unequal-relationship") == "met"  # 0.85 > 0.6: it stands
    decisions = suggest(out).set_index("record_id")["decision"]
    assert decisions.to_dict() == {"tie": "unclear", "excl": "exclude"}


def test_exclusion_needs_stronger_evidence_than_inclusion() -> None:
    hit = ev("Hierarchy in health care quality teams.", "Hierarchy", field="title", weight=3)
    tags = tags_frame(
        tag_row("a", "unequal-relationship", 0.7, hit),
        tag_row("b", "collective-benefit", 0.7, hit),
    )
    out = assess(records_frame(a=2015, b=2015), tags, REVIEW)
    assert load_rules()["exclusion_met_threshold"] == 0.8
    assert status(out, "a", "unequal-relationship") == "unclear"  # 0.7 < 0.8
    assert status(out, "a", "equal-relationship") == "unclear"  # so its opposite is open
    assert status(out, "b", "collective-benefit") == "met"  # 0.7 >= 0.5
    assert suggest(out).set_index("record_id").loc["a", "decision"] == "unclear"


def test_a_title_alone_never_meets_an_exclusion() -> None:
    """A title names what a paper is about: "rhetoric and practice" of co-production is
    a paper about unequal relationships, not a report of one. Excluding needs a sentence
    of the paper's own text; the same cue in an abstract sentence still excludes."""
    title = ev("Co-production in healthcare: rhetoric and practice of power imbalance.",
               "power imbalance", field="title", weight=3)  # fmt: skip
    sentence = also(ev("Service users were only consulted; staff held every decision.",
                       "only consulted"), "Users were passive recipients.",
                    "passive recipients")  # fmt: skip
    tags = tags_frame(
        tag_row("title_only", "unequal-relationship", 0.91, title),
        tag_row("one_sentence", "unequal-relationship", 0.91, title, sentence[0]),
        tag_row("with_text", "unequal-relationship", 0.91, title, *sentence),
        tag_row("title_inclusion", "collective-benefit", 0.91, title),
    )
    records = records_frame(
        title_only=2015, one_sentence=2015, with_text=2015, title_inclusion=2015
    )
    out = assess(records, tags, REVIEW)
    assert load_rules()["exclusion_not_from_fields_alone"] == ["title"]
    assert load_rules()["exclusion_min_passages"] == 2
    assert status(out, "title_only", "unequal-relationship") == "unclear"
    assert status(out, "one_sentence", "unequal-relationship") == "unclear"
    assert status(out, "with_text", "unequal-relationship") == "met"
    assert status(out, "title_inclusion", "collective-benefit") == "met"  # inclusions may
    decisions = suggest(out).set_index("record_id")["decision"]
    assert decisions["title_only"] == "unclear" and decisions["with_text"] == "exclude"


def test_exclusion_fields_must_be_a_list(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "met_threshold: 0.5\nclear_threshold: 0.7\nnegated_share: 0.5\n"
        "exclusion_not_from_fields_alone: title\n",
        "utf-8",
    )
    with pytest.raises(CriteriaError, match="exclusion_not_from_fields_alone"):
        load_rules(rules)


def test_opposite_works_both_ways() -> None:
    tags = tags_frame(tag_row("a", "equal-relationship", 0.95, ev("Equal partners.", "equal")))
    out = assess(records_frame(a=2015), tags, REVIEW)
    assert status(out, "a", "unequal-relationship") == "not_met"


def test_review_can_name_its_own_opposite() -> None:
    review = parse_review(
        {
            "inclusion_criteria": [
                {"id": "whole-service", "opposite": "single-patient", "cues": ["service"]}
            ],
            "exclusion_criteria": [{"id": "single-patient", "cues": ["care plan"]}],
        }
    )
    plan = also(ev("One patient's care plan.", "care plan"), "Her own health.", "own health")
    tags = tags_frame(tag_row("a", "single-patient", 0.9, *plan))
    out = assess(records_frame(a=2015), tags, review)
    assert status(out, "a", "whole-service") == "not_met"


def test_thresholds_come_from_the_rules() -> None:
    rules = load_rules()
    assert rules["met_threshold"] == 0.5 and rules["clear_threshold"] == 0.7
    tags = tags_frame(tag_row("a", "equal-relationship", 0.9, ev("Equal partners.", "equal")))
    records = records_frame(a=2015)
    assert status(assess(records, tags, REVIEW), "a", "equal-relationship") == "met"
    rules["met_threshold"] = 0.95
    assert (
        status(assess(records, tags, REVIEW, rules=rules), "a", "equal-relationship") == "unclear"
    )
    assert load_rules()["met_threshold"] == 0.5  # the cached default is untouched


def test_malformed_rules_file_names_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yml"
    bad.write_text("met_threshold: 1.5\nclear_threshold: 0.7\nnegated_share: 0.5\n", "utf-8")
    with pytest.raises(CriteriaError, match=r"rules\.yml: met_threshold"):
        load_rules(bad)
    good = tmp_path / "good.yml"
    good.write_text("met_threshold: 0.4\nclear_threshold: 0.7\nnegated_share: 0.5\n", "utf-8")
    rules = load_rules(good)
    assert rules["met_threshold"] == 0.4
    # every key the file leaves out is the package file's (one source, no code default)
    package = load_rules()
    assert rules["exclusion_met_threshold"] == package["exclusion_met_threshold"]
    assert rules["opposites"] == package["opposites"]
    assert rules["explanation"]["max_quote"] == package["explanation"]["max_quote"]


def test_a_rules_file_leaving_out_a_threshold_keeps_the_package_files(tmp_path: Path) -> None:
    """``met_min_passages`` had a code default (3) beside the file's (2): a team's file
    that left it out silently got the other one."""
    package = yaml.safe_load(
        (ROOT / "src" / "synth" / "data" / "criteria_rules.yml").read_text("utf-8")
    )
    own = tmp_path / "rules.yml"
    own.write_text(
        "met_threshold: 0.6\nclear_threshold: 0.7\nnegated_share: 0.5\n"
        "similarity: {min_words: 4}\n",
        "utf-8",
    )
    rules = load_rules(own)
    assert rules["met_min_passages"] == package["met_min_passages"]
    assert rules["exclusion_min_passages"] == package["exclusion_min_passages"]
    assert rules["similarity"]["min_words"] == 4  # a nested key overrides only itself
    assert rules["similarity"]["met_threshold"] == package["similarity"]["met_threshold"]
    assert load_rules()["met_min_passages"] == package["met_min_passages"]


def test_several_rows_for_one_criterion_keep_best_score_and_all_evidence() -> None:
    e1, e2 = ev("First.", "first"), ev("Second.", "second", field="extract")
    tags = tags_frame(
        tag_row("a", "collective-benefit", 0.4, e1), tag_row("a", "collective-benefit", 0.7, e2)
    )
    out = assess(records_frame(a=2015), tags, REVIEW)
    row = out[out.criterion == "collective-benefit"].iloc[0]
    assert row["score"] == pytest.approx(0.7) and row["evidence"] == [e1, e2]
    assert row["status"] == "met"


# -- suggest ---------------------------------------------------------------------------


def decide(records: pd.DataFrame, tags: pd.DataFrame) -> pd.DataFrame:
    out = suggest(assess(records, tags, REVIEW))
    assert list(out.columns) == SUGGESTION_COLUMNS
    return out.set_index("record_id")


def test_include_when_all_inclusion_met_and_no_exclusion() -> None:
    out = decide(records_frame(a=2012), tags_frame(*all_met("a")))
    assert out.loc["a", "decision"] == "include"
    assert out.loc["a", "reason"] is None
    text = out.loc["a", "explanation"]
    assert text.startswith("Include:")
    for c in INCLUSION_TEXT:
        assert c in text
    assert "published 2012, within 2008–2020" in text
    assert "“Patients and staff shared collective-benefit.” [abstract]" in text


def test_exclude_on_met_exclusion_names_it_and_quotes_evidence() -> None:
    selfcare = also(
        ev("Patients used an app to self-manage their own asthma.", "self-manage"),
        "The app supported self-care.",
        "self-care",
    )
    tags = tags_frame(*all_met("a"), tag_row("a", "individual-benefit", 0.95, *selfcare))
    out = decide(records_frame(a=2015), tags)
    assert out.loc["a", "decision"] == "exclude"
    assert out.loc["a", "reason"] == "individual-benefit"
    assert out.loc["a", "explanation"] == (
        "Exclude: individual-benefit is met (0.95: “Patients used an app to self-manage "
        "their own asthma.” [abstract])."
    )


def test_exclude_on_years_even_when_text_criteria_are_met() -> None:
    out = decide(records_frame(old=2003, new=2022), tags_frame(*all_met("old"), *all_met("new")))
    assert out["decision"].to_dict() == {"old": "exclude", "new": "exclude"}
    assert out["reason"].to_dict() == {"old": "years", "new": "years"}
    assert "published 2022, outside 2008–2020 (years)" in out.loc["new", "explanation"]


def test_years_is_the_reason_before_a_met_exclusion() -> None:
    research = also(
        ev("Patients co-produced the evaluation only.", "co-produced the evaluation"),
        "Patients were research partners.",
        "research partners",
    )
    tags = tags_frame(tag_row("a", "research-only-coproduction", 0.9, *research))
    out = decide(records_frame(a=2021), tags)
    assert out.loc["a", "reason"] == "years"
    assert "research-only-coproduction is met" in out.loc["a", "explanation"]


def test_unclear_when_an_inclusion_criterion_lacks_evidence() -> None:
    # a: collective-benefit has no tag; b: every text criterion met, but no year
    out = decide(records_frame(a=2015, b=None), tags_frame(*all_met("a")[:2], *all_met("b")))
    assert out.loc["a", "decision"] == "unclear" and out.loc["a", "reason"] is None
    assert "collective-benefit unclear (no evidence)" in out.loc["a", "explanation"]
    assert out.loc["b", "decision"] == "unclear"
    assert "no publication year" in out.loc["b", "explanation"]


def test_negated_inclusion_is_unclear_not_exclude() -> None:
    negated = ev(
        "Patients were not equal partners in the redesign.", "equal partners", negated=True
    )
    tags = tags_frame(*all_met("a")[1:], tag_row("a", "equal-relationship", 0.1, negated))
    out = decide(records_frame(a=2015), tags)
    assert out.loc["a", "decision"] == "unclear"
    assert (
        "equal-relationship not met "
        "(“Patients were not equal partners in the redesign.” [abstract])"
    ) in out.loc["a", "explanation"]


def test_long_evidence_is_quoted_around_the_match() -> None:
    sentence = "Background words " * 20 + "the patients self-managed their diabetes" + " tail" * 30
    tags = tags_frame(
        tag_row(
            "a",
            "individual-benefit",
            0.9,
            *also(ev(sentence, "self-managed"), "Self-care.", "self-care"),
        )
    )
    text = decide(records_frame(a=2015), tags).loc["a", "explanation"]
    quote = text.split("“", 1)[1].split("”", 1)[0]
    assert "self-managed" in quote
    assert quote.startswith("…") and quote.endswith("…")
    assert len(quote) <= load_rules()["explanation"]["max_quote"] + 2


def test_suggest_keeps_record_order() -> None:
    records = records_frame(z=2015, a=2015, m=2015)
    out = suggest(assess(records, tags_frame(), REVIEW))
    assert out["record_id"].tolist() == ["z", "a", "m"]


# -- end to end on the bundled corpus ---------------------------------------------------


def test_kei_corpus_end_to_end() -> None:
    try:
        tagger = importlib.import_module("synth.tagging.tagger")
    except ImportError as exc:  # written in parallel by another part of the project
        pytest.skip(f"synth.tagging.tagger is not importable yet ({exc})")
    from synth.corpus import read

    result = read(KEI)
    records = result.records
    review = load_review(KEI / "review.yml")
    tags = tagger.tag(records, extracts=result.extracts, fulltexts=result.fulltexts)
    out = assess(records, tags, review)
    assert len(out) == len(records) * 7
    assert set(out["status"]) <= {"met", "not_met", "unclear"}
    decisions = suggest(out).set_index("record_id")
    assert len(decisions) == len(records)
    by_key = dict(zip(records["source_key"], records["record_id"], strict=True))
    # robert2022 is outside the review's 2008-2020 window; the two n.d. papers have no year
    assert decisions.loc[by_key["robert2022"], ["decision", "reason"]].tolist() == [
        "exclude",
        "years",
    ]
    for key in ("willsonnd", "luxfordnd"):
        assert decisions.loc[by_key[key], "decision"] != "include"
    assert decisions["explanation"].str.len().gt(0).all()


# -- criterion tags exist only against a review's criteria ----------------------------------

RIS_ABOUT_CRITERIA = (
    "TY  - JOUR\nTI  - Service improvement with whole communities as equal partners\n"
    "AB  - Staff and patients worked as equal partners on a quality improvement initiative "
    "that brought benefits for all.\nPY  - 2015\nER  - \n"
)


def _tagged_store(folder: Path, review: str | None) -> list[str]:
    """Import one record whose text has criterion cues, tag it, and return the facets of
    its current tags; ``review`` is written as review.yml beside the export when given."""
    from synth.store import connect, import_paths
    from synth.store.tags import current_tags
    from synth.tagging.workflow import tag_store

    folder.mkdir()
    (folder / "refs.ris").write_text(RIS_ABOUT_CRITERIA, "utf-8")
    if review is not None:
        (folder / "review.yml").write_text(review, "utf-8")
    con = connect(folder / "store.sqlite")
    try:
        import_paths(con, [folder / "refs.ris"])
        run = tag_store(con, refine=False)
        assert (run.assessment is None) == (review is None)
        return current_tags(con)["facet"].tolist()
    finally:
        con.close()


def test_no_criterion_tags_without_a_review(tmp_path: Path, caplog) -> None:
    """The warning says criteria are not assessed, so no criterion tag may be stored."""
    facets = _tagged_store(tmp_path / "none", None)
    assert "approach" in facets or "setting" in facets  # the record was tagged
    assert "criterion" not in facets
    assert "No review.yml" in caplog.text and "criteria are not assessed" in caplog.text


def test_criterion_tags_only_for_the_reviews_criteria(tmp_path: Path) -> None:
    review = yaml.safe_dump(
        {"inclusion_criteria": [{"id": "equal-relationship", "text": "Equal", "cues": ["equal"]}]}
    )
    from synth.store import connect
    from synth.store.tags import current_tags

    _tagged_store(tmp_path / "one", review)
    con = connect(tmp_path / "one" / "store.sqlite")
    tags = current_tags(con)
    con.close()
    assert set(tags.loc[tags.facet == "criterion", "label"]) == {"equal-relationship"}
    # the full KEI review keeps the criteria it names (collective-benefit among them)
    kei = (KEI / "review.yml").read_text("utf-8")
    _tagged_store(tmp_path / "kei", kei)
    con = connect(tmp_path / "kei" / "store.sqlite")
    tags = current_tags(con)
    con.close()
    assert {"equal-relationship", "collective-benefit"} <= set(
        tags.loc[tags.facet == "criterion", "label"]
    )


def test_reviews_own_cues_tag_its_criteria(tmp_path: Path) -> None:
    """Any review's criterion is tagged from the cues its review.yml gives."""
    from synth.store import connect
    from synth.store.tags import current_tags, load_assessment

    review = yaml.safe_dump(
        {
            "inclusion_criteria": [
                {
                    "id": "quality-initiative",
                    "text": "A QI initiative",
                    "cues": ["quality improvement initiative"],
                }
            ]
        }
    )
    _tagged_store(tmp_path / "cues", review)
    con = connect(tmp_path / "cues" / "store.sqlite")
    tags = current_tags(con)
    assessment = load_assessment(con)
    con.close()
    row = tags[(tags.facet == "criterion") & (tags.label == "quality-initiative")]
    assert len(row) == 1 and row.iloc[0]["score"] > 0.5
    assert assessment.set_index("criterion").loc["quality-initiative", "status"] == "met"


def test_the_criterion_facet_is_the_reviews_criteria_with_their_cues() -> None:
    """The shared codebook has no criteria; a review's cues build the facet, nothing else."""
    from synth.tagging.codebook import load_codebook
    from synth.tagging.criteria import with_review_cues

    codebook = load_codebook()
    assert "criterion" not in codebook.facets
    review = parse_review(
        {
            "inclusion_criteria": [
                {"id": "equal-relationship", "cues": ["co-equal", "equal partners"]},
                {"id": "no-cues", "text": "Judged by similarity to this wording"},
            ]
        }
    )
    merged = with_review_cues(codebook, review)
    assert list(merged.facets["criterion"].labels) == ["equal-relationship"]
    phrases = {c.phrase for c in merged.facets["criterion"].labels["equal-relationship"].cues}
    assert {"co-equal", "co equal", "equal partners"} <= phrases  # hyphen variants as usual
    assert merged.sha256 != codebook.sha256  # the rules that tagged are the merged ones
    assert with_review_cues(codebook, parse_review({})) is codebook
