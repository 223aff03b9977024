"""Negation read on both sides of a criterion's cue.

A criterion whose only cues in a record are negated ("No placebo comparison was used.") is
not met, with that sentence as its negated evidence, although the tagger keeps no row for
it; a cue denied after it ("cardiac failure were not reported") is negated too, within its
clause only, and a finding about the cue ("Placebo did not produce significant changes")
is not a denial.

The sentences are real: abstracts of the screening data sets in ``../shared/peer-data``
(cohen2006 drug reviews) and a seed text of ``../shared/seeds``, quoted short, and an
extract of the bundled KEI corpus.
"""

from __future__ import annotations

import pandas as pd
import pytest

from synth.corpus.normalise import records_frame
from synth.review import parse_review
from synth.tagging.codebook import load_codebook
from synth.tagging.criteria import (
    NEGATED_AFTER,
    CriteriaError,
    NegationReader,
    assess,
    criterion_rows,
    load_rules,
    records_with_text,
    suggest,
    with_review_cues,
)
from synth.tagging.tagger import tag

# cohen2006 abstracts (../shared/peer-data/screening)
NO_PLACEBO = "No placebo comparison was used."
NON_RANDOMISED = (
    "An open-label, non-randomized, pilot study has been performed in inpatients in need of "
    "treatment with an antipsychotic and an antidepressant."
)
WITHOUT_PLACEBO = (
    "Patients were randomly assigned to a typical clinical procedures evaluation that was "
    "nonblind and without a placebo control."
)
PLACEBO_FINDING = "Placebo did not produce significant changes."
NO_CHANGE_WITH_PLACEBO = "There was no change in the placebo group."
CARDIAC_NOT_REPORTED = (
    "Clinical episodes of cardiac failure were not reported, and ejection fraction did not change."
)
NOT_INCLUDED = (
    "Although there was no advantage in any of the four regimens with respect to the primary "
    "outcome measures, pulmonary and cardiac patients were not included in the study."
)
BMD_OTHER_CLAUSE = (
    "The NA-EE2 treatments produced a dose-related significant increase in BMD that was not "
    "present with unopposed EE2 treatment."
)
BACKGROUND_LACK = (
    "BACKGROUND: The delivery of mental health services in rural China has been notably "
    "limited due to lack of qualified mental health professionals among other impeding factors."
)
# a seed text (../shared/seeds)
VENNIK = (
    "Also, when healthcare professionals thought they already had enough input from patients "
    "on how to make improvements, patients were not involved (Vennik et al 2016)."
)
# an extract of lord2014 in the bundled corpus
LORD = (
    "Studies show many clinical and managerial staff did not perceive people with lived "
    "experience and their families as well placed, at a strategic level, to assist in major "
    "redesign initiatives"
)

REVIEW = {
    "inclusion_criteria": [
        {"id": "placebo-controlled", "text": "Placebo-controlled trials",
         "cues": ["placebo", "placebo-controlled", "placebo control"]},
        {"id": "randomised", "text": "Randomised trials",
         "cues": ["randomised", "randomized", "randomly assigned"]},
        {"id": "cardiac", "text": "Patients with heart disease",
         "cues": ["cardiac patients", "cardiac failure", "heart failure"]},
        {"id": "bone-density", "text": "Bone mineral density as an outcome",
         "cues": ["BMD", "bone mineral density"]},
        {"id": "mental-health-staff", "text": "Care by mental health professionals",
         "cues": ["mental health professionals"]},
        {"id": "lived-experience", "text": "People with lived experience as partners",
         "cues": ["lived experience"]},
    ],
    "exclusion_criteria": [
        {"id": "children", "text": "Studies of children", "cues": ["children", "paediatric"]},
    ],
}  # fmt: skip


def _records(*abstracts: str) -> pd.DataFrame:
    return records_frame(
        [
            {"record_id": f"r{i}", "year": 2005, "title": "A trial", "abstract": a}
            for i, a in enumerate(abstracts, start=1)
        ]
    )


def _assess(records: pd.DataFrame, extracts: pd.DataFrame | None = None) -> pd.DataFrame:
    """The real path of ``synth tag``: the review's cues in the codebook, the tagger, the
    criterion rows (negation on both sides), then the assessment."""
    review = parse_review(REVIEW, "my-review/review.yml")
    codebook = with_review_cues(load_codebook(), review)
    tags = tag(records, extracts=extracts, codebook=codebook)
    judged = criterion_rows(records, tags, review, codebook, extracts=extracts)
    return assess(records, judged, review, with_text=records_with_text(records, extracts))


def _row(out: pd.DataFrame, record_id: str, criterion: str) -> pd.Series:
    row = out[(out.record_id == record_id) & (out.criterion == criterion)]
    assert len(row) == 1
    return row.iloc[0]


# -- a criterion whose only cues are negated --------------------------------------------------


def test_a_criterion_whose_only_cue_is_negated_is_not_met_with_that_evidence() -> None:
    out = _assess(_records(NO_PLACEBO, WITHOUT_PLACEBO, NON_RANDOMISED))
    row = _row(out, "r3", "randomised")
    assert row["status"] == "not_met" and row["evidence"][0]["match"] == "randomized"
    for rid, sentence in (("r1", NO_PLACEBO), ("r2", WITHOUT_PLACEBO)):
        row = _row(out, rid, "placebo-controlled")
        assert row["status"] == "not_met"
        assert [e["sentence"] for e in row["evidence"]] == [sentence]
        assert all(e["negated"] and e["weight"] < 0 for e in row["evidence"])
    # an inclusion not met never excludes: the suggestion names it, quoting the sentence
    explanation = suggest(out).set_index("record_id").loc["r1", "explanation"]
    assert "placebo-controlled not met (“No placebo comparison was used.”" in explanation
    assert set(suggest(out).decision) == {"unclear"}


def test_a_cue_negated_from_afar_is_not_a_denial() -> None:
    """The tagger's negation reaches four words ("no change in the placebo group"): that
    scores the cue against its label, but a study with a placebo group had a placebo."""
    out = _assess(_records(NO_CHANGE_WITH_PLACEBO))
    row = _row(out, "r1", "placebo-controlled")
    assert row["status"] == "unclear" and row["evidence"] == []
    # the bundled corpus: "did not perceive people with lived experience" (an extract)
    records = records_frame([{"record_id": "lord", "title": "Staff views"}])
    out = _assess(records, pd.DataFrame({"record_id": ["lord"], "text": [LORD]}))
    assert _row(out, "lord", "lived-experience")["status"] == "unclear"


def test_a_negated_cue_in_a_background_sentence_says_nothing_of_this_paper() -> None:
    out = _assess(_records(BACKGROUND_LACK))
    row = _row(out, "r1", "mental-health-staff")
    assert row["status"] == "unclear" and row["evidence"] == []


def test_a_negated_exclusion_cue_is_not_met_and_never_excludes() -> None:
    out = _assess(_records("No children were enrolled. " + NO_PLACEBO))
    row = _row(out, "r1", "children")
    assert row["status"] == "not_met"
    assert suggest(out).iloc[0]["decision"] != "exclude"


# -- negation after the cue -------------------------------------------------------------------


def test_a_cue_denied_after_it_is_negated() -> None:
    out = _assess(_records(CARDIAC_NOT_REPORTED, NOT_INCLUDED))
    for rid in ("r1", "r2"):
        row = _row(out, rid, "cardiac")
        assert row["status"] == "not_met", row["evidence"]
        assert row["score"] == 0
        (evidence,) = row["evidence"]
        assert evidence["negated"] and evidence["negation"] == NEGATED_AFTER


def test_a_finding_about_the_cue_is_not_a_denial() -> None:
    out = _assess(_records(PLACEBO_FINDING))
    row = _row(out, "r1", "placebo-controlled")
    assert row["status"] == "met"
    assert not any(e["negated"] for e in row["evidence"])


def test_a_negation_in_another_clause_does_not_reach_the_cue() -> None:
    # "BMD that was not present with ...": "that" opens another clause
    out = _assess(_records(BMD_OTHER_CLAUSE))
    assert _row(out, "r1", "bone-density")["status"] == "met"


@pytest.mark.parametrize(
    ("sentence", "match", "denied"),
    [
        (CARDIAC_NOT_REPORTED, "cardiac failure", True),
        (NOT_INCLUDED, "cardiac patients", True),
        ("Intraoperative awareness was not reported.", "intraoperative awareness", True),
        ("However, a comparison between those three interventions has not been reported.",
         "interventions", True),
        (VENNIK[VENNIK.index("patients were"):], "patients", True),
        # "input from patients" holds: one mention denied is not a denial of the cue
        (VENNIK, "patients", False),
        (PLACEBO_FINDING, "placebo", False),
        (BMD_OTHER_CLAUSE, "bmd", False),
        ("RESULTS Intervention did not affect reported condom use.", "intervention", False),
        ("Participants were not blinded to treatment allocation.", "participants", False),
        # the cue must be what the negation speaks of, not a modifier of another noun
        ("Adverse events in the placebo group were not reported.", "placebo", False),
        ("Patients in the placebo arm did not participate in follow-up.", "placebo", False),
        # a typographic apostrophe negates as a plain one does
        ("Service users weren\u2019t involved in the redesign.", "service users", True),
    ],
)  # fmt: skip
def test_negation_after_a_cue_reads_its_clause(sentence: str, match: str, denied: bool) -> None:
    reader = NegationReader.of(load_rules(), load_codebook())
    assert reader.negated_after(sentence, match) is denied


def test_the_negation_words_are_data(tmp_path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text("negation: {after: [not, nope]}\n", "utf-8")
    with pytest.raises(CriteriaError, match=r"negation\.after: 'nope' is not one of the codebook"):
        NegationReader.of(load_rules(rules), load_codebook())
    rules.write_text("negation: {roles: [study, results]}\n", "utf-8")
    with pytest.raises(CriteriaError, match=r"rules\.yml: negation\.roles: 'results'"):
        load_rules(rules)
    # without "that" among the clause boundaries, and with it among the words a denied
    # subject may stand before, the BMD sentence reads as a denial
    rules.write_text(
        "negation: {clause_boundaries: [which], after_subject: [that, was]}\n", "utf-8"
    )
    reader = NegationReader.of(load_rules(rules), load_codebook())
    assert reader.negated_after(BMD_OTHER_CLAUSE, "BMD")
