"""The approach facet on literature outside co-production (approach gold set's guideline):
an abbreviation means what the record defines it as; patients as participants are not
involvement; a clinician's decision support and "treatment options" are not shared
decision making. Sentences are real ones from the peer screening sets, or close
paraphrases."""

from __future__ import annotations

import pytest

from synth.corpus.normalise import records_frame
from synth.tagging.abbreviations import (
    definitions,
    expands,
    expansions,
    is_abbreviation,
    without_other_meanings,
)
from synth.tagging.evaluate import counted_tags
from synth.tagging.tagger import tag


def _labels(facet: str, *rows: dict) -> list[set[str]]:
    """Each record's counted labels of ``facet``."""
    frame = records_frame(
        [{"record_id": f"r{i}", "source_key": f"k{i}", **row} for i, row in enumerate(rows)]
    )
    tags = counted_tags(tag(frame))
    tags = tags[tags.facet == facet]
    return [set(tags.loc[tags.record_id == f"r{i}", "label"]) for i in range(len(rows))]


# -- abbreviations ----------------------------------------------------------------------------


def test_abbreviations_and_their_definitions_are_read_both_ways_round() -> None:
    assert is_abbreviation("PPI") and is_abbreviation("P&PI") and is_abbreviation("US")
    assert not is_abbreviation("Ppi") and not is_abbreviation("involvement")
    text = "Patients took proton pump inhibitors (PPIs) daily; PPI (pump proton inhibitor) too."
    # the shortest end of the words before the bracket that spells it, as Schwartz-Hearst
    assert definitions(text, "PPI") == ["pump inhibitors", "pump proton inhibitor"]
    assert definitions("PPI was used.", "PPI") == []  # used, never defined
    # a bracket whose words do not spell the abbreviation defines nothing
    for text in ["in the UK (n = 120) and Australia (n = 80)", "in the US (2019)",
                 "studies from the UK (UK, Australia and Canada)",
                 "women in the US (CEE 0.625mg/MPA 2.5mg daily)"]:  # fmt: skip
        assert definitions(text, text.split("(")[0].split()[-1]) == [], text


def test_the_data_says_what_an_abbreviation_means() -> None:
    assert expands("PPI", "patient and public involvement")
    assert expands("EBCD", "experience-based co-design") and expands("US", "United States")
    assert not expands("IAPT", "inpatient psychiatric")
    cues = [
        ("approach", "ppi", "PPI"),
        ("approach", "ppi", "patient and public involvement"),
        ("setting", "mental-health", "IAPT"),
        ("setting", "mental-health", "inpatient psychiatric"),
    ]
    known = expansions(cues)
    assert list(known) == [("approach", "ppi", "PPI")]  # IAPT's meaning is not in the data


def test_a_hit_is_dropped_only_where_the_record_defines_it_otherwise() -> None:
    known = expansions([("approach", "ppi", "PPI"),
                        ("approach", "ppi", "patient and public involvement")])  # fmt: skip
    hit = ("approach", "ppi", "abstract", 1.2, False, "PPI", 0, "PPI", "s", "study")
    other = ["We measured prepulse inhibition (PPI) of the startle response."]
    assert without_other_meanings([hit], lambda: other, known) == []
    for own in ["Patient and public involvement (PPI) shaped the study.",
                "Involvement of patients and the public (PPI) shaped the study.",
                "Patient\u2010and\u2010public involvement (PPI) shaped it."]:  # fmt: skip
        assert without_other_meanings([hit], lambda own=own: [own], known) == [hit], own
    never = ["PPI members sat on the steering group."]
    kept = [hit]
    assert without_other_meanings(kept, lambda: never, known) is kept  # nothing defined
    unknown = ("setting", "mental-health", "abstract", 1.2, False, "IAPT", 0, "IAPT", "s", "o")
    defined = ["Improving Access to Psychological Therapies (IAPT) services took part."]
    assert without_other_meanings([unknown], lambda: defined, known) == [unknown]


def test_records_keep_an_abbreviation_only_in_its_own_meaning() -> None:
    got = _labels(
        "approach",
        {
            "title": "Developing guidelines for community child health staff",
            "abstract": "Community child health doctors and nurses recorded all contacts with "
            "children with emotional and behavioural difficulties (EBD) over a one month "
            "period. Referral pathways for EBD were examined.",
        },
        {
            "title": "Prepulse inhibition in schizophrenia",
            "abstract": "We measured prepulse inhibition (PPI) of the acoustic startle response "
            "in 40 patients. PPI was impaired in patients compared with controls.",
        },
        {
            "title": "Involving the public in research",
            "abstract": "Patient and public involvement (PPI) shaped the study. PPI members sat "
            "on the steering group.",
        },
    )
    assert got == [set(), set(), {"ppi"}]


def test_a_country_abbreviation_defined_as_something_else_names_no_country() -> None:
    got = _labels(
        "country",
        {
            "title": "Ovarian cysts in postmenopausal women",
            "abstract": "Women were examined by transvaginal ultrasound (US) in a clinic. "
            "US findings were recorded for 120 women.",
        },
        {
            "title": "Diabetes care",
            "abstract": "A cohort of adults in the United States (US) was followed for five "
            "years. US adults were surveyed.",
        },
    )
    assert got == [set(), {"United States"}]


# -- patients as participants, clinicians' decision support -----------------------------------


@pytest.mark.parametrize(
    "abstract",
    [
        "Amisulpride has been studied in trials involving patients with schizophrenia; "
        "it improved negative symptoms.",
        "National guidelines call for participation in systems to rapidly diagnose and "
        "treat myocardial infarction. Participation rates were high.",
    ],
)
def test_patients_taking_part_in_a_study_or_a_system_are_not_involvement(abstract: str) -> None:
    assert _labels("approach", {"title": "A study", "abstract": abstract}) == [set()]


def test_involvement_in_planning_a_service_still_is() -> None:
    abstract = (
        "We describe how service user involvement shaped the redesign of a mental health "
        "service: patient representatives sat on the project board."
    )
    assert _labels("approach", {"title": "Redesign", "abstract": abstract}) == [{"ppi"}]


@pytest.mark.parametrize(
    ("title", "abstract"),
    [
        (
            "Use of a Clinical Decision Support Tool to improve guideline adherence for the "
            "treatment of skin and soft tissue infections",
            "Prescribers used the tool in the emergency department.",
        ),
        (
            "Evidence-based guidelines for treating bipolar disorder",
            "The best evidence from randomized controlled trials was used to evaluate "
            "treatment options.",
        ),
    ],
)
def test_clinicians_decision_support_and_treatment_options_are_not_shared_decisions(
    title: str, abstract: str
) -> None:
    assert _labels("approach", {"title": title, "abstract": abstract}) == [set()]


def test_a_patient_decision_aid_is_still_shared_decision_making() -> None:
    title = "Use of a decision aid to support informed choice about breast screening"
    assert _labels("approach", {"title": title}) == [{"shared-decision-making"}]


def test_a_phrase_that_hides_a_word_does_not_cancel_the_label_named_outright() -> None:
    got = _labels(
        "approach",
        {
            "title": "Patient and public involvement in dementia research",
            "abstract": "We describe a panel involving patients with dementia who advised "
            "on the design of the study.",
        },
        {
            "title": "Shared decision making in primary care",
            "abstract": "Shared decision making was supported by a clinical decision support "
            "system used in the consultation.",
        },
    )
    assert got == [{"ppi"}, {"shared-decision-making"}]
    grey = _labels(
        "publication", {"title": "Using evidence to guide service improvement: a practical guide"}
    )
    assert grey == [{"grey"}]


def test_capitals_in_a_title_are_not_abbreviations_and_dashes_do_not_hide_a_definition() -> None:
    got = _labels(
        "design",
        {"title": "POSTAL SURVEY (1998) OF GENERAL PRACTITIONERS IN WALES"},
    )
    assert got == [{"quantitative"}]
    dashes = _labels(
        "approach",
        {
            "title": "Improving a cancer service",
            "abstract": "We used experience\u2010based co\u2010design (EBCD) with patients and "
            "staff. EBCD events were held in 2019.",
        },
    )
    assert dashes == [{"ebcd"}]


def test_a_country_named_with_a_sample_size_keeps_the_country() -> None:
    got = _labels(
        "country",
        {
            "title": "Nurse staffing",
            "abstract": "Hospitals in the UK (n = 120) and Australia (n = 80) took part.",
        },
    )
    assert got == [{"United Kingdom", "Australia"}]


@pytest.mark.parametrize(
    "sentence",
    [
        "Patient participation rates were 71.5% in the intervention practices.",
        "Patient participation in the trial was high.",
        "Public participation in research was encouraged by the funder.",
        "Community participation rates differed between districts.",
    ],
)
def test_participation_in_a_study_overlapping_an_involvement_cue_is_not_involvement(
    sentence: str,
) -> None:
    assert _labels("approach", {"title": "A trial", "abstract": sentence}) == [set()]


@pytest.mark.parametrize(
    "abstract",
    [
        "Caseworkers used Structured Decision Making (SDM) tools. SDM was applied to 300 families.",
        "Surrogate decision making (SDM) was studied. SDM was common among 200 families.",
        "Evidence-based design (EBD) guided the new wards. EBD principles were applied.",
    ],
)
def test_a_definition_sharing_generic_words_but_not_the_first_means_something_else(
    abstract: str,
) -> None:
    assert _labels("approach", {"title": "A study", "abstract": abstract}) == [set()]


def test_shared_decisions_defined_in_other_words_stay_shared_decision_making() -> None:
    abstract = (
        "Decisions shared by patients and doctors (SDM) were studied. SDM was observed in 40 "
        "consultations."
    )
    assert _labels("approach", {"title": "Consultations", "abstract": abstract}) == [
        {"shared-decision-making"}
    ]
