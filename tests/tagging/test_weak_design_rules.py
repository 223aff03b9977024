"""Two rules read off a weak design (issue 16, judged on gold sets 1 and 3 with the paired
comparison): figures throughout outweigh one weak design cue (the quantitative fallback),
and a design found only weakly as a review does not hide the study's own country. The
sentences are paraphrases of read-set abstracts (tests/fixtures/abstracts-gold-3, g014
and g056)."""

from __future__ import annotations

from synth.corpus.normalise import records_frame
from synth.tagging.fallbacks import FALLBACK_CUE
from synth.tagging.tagger import tag

# set 3's g014 (iridology): its only design cue is "prevalence" (about 0.37, not counted),
# but it reports a figure in nearly every sentence: guideline 5, quantitative ("trials,
# cohort and case-control studies, surveys, ... before-after measurements, modelling of
# data")
IRIDOLOGY = (
    "In alternative health care iridology is used as a diagnostic aid. The diagnosis of gall "
    "bladder disease was used to study its validity and interperformer consistency. Stereo "
    "colour slides were made of the right eye of 39 patients with this disease and 39 control "
    "subjects of the same sex and age. The slides were presented in a random order to five "
    "leading iridologists without supplementary information. The prevalence of the disease "
    "was estimated at 56%. The median validity was 51% with 54% sensitivity and 52% "
    "specificity. The median interperformer consistency was 60%. This study showed that "
    "iridology is not a useful diagnostic aid."
)
# set 3's g056: a factorial experiment among GPs from England, one of whose arms was given
# a systematic literature review: one "literature review" (about 0.7) makes a weak review,
# and the study's country is England's (guideline 4: where the study was done)
FACTORIAL = (
    "OBJECTIVE: To assess the effect of design features and clinical and social cues on the "
    "extent of disagreement among participants in a formal consensus development process. "
    "METHODS: Factorial design involving 16 groups consisting of 135 general practitioners "
    "and 42 mental health professionals from England. The groups differed in three design "
    "features: provision of a systematic literature review (versus not provided), group "
    "composition, and assumptions about the healthcare resources available. RESULTS: None "
    "of the design features significantly affected the extent of disagreement within groups "
    "(all p>0.3)."
)


def _tags(title: str, abstract: str):  # type: ignore[no-untyped-def]
    row = {"record_id": "r1", "source_key": "k1", "title": title, "abstract": abstract}
    return tag(records_frame([row]))


def test_figures_throughout_outweigh_one_weak_design_cue() -> None:
    tags = _tags("Looking for gall bladder disease in the patient's iris", IRIDOLOGY)
    design = tags[tags.facet == "design"]
    # the weak "prevalence" label is raised: one design row, at the fallback's score, its
    # evidence the fallback's reason and then the weak cue a reviewer may want to see
    assert design[["label", "score"]].values.tolist() == [["quantitative", 0.5]]
    first, *cues = design.iloc[0]["evidence"]
    assert first["cue"] == FALLBACK_CUE and "figure(s)" in first["sentence"]
    assert first["sentence"].startswith("no design found at 0.5 or more")  # not "named"
    assert any("prevalence" in e["sentence"] for e in cues)


def test_a_weak_cue_still_stops_the_fallback_read_from_no_figures() -> None:
    # no figure at all and one weak method cue: no position-paper guessed over the hint
    abstract = (
        "Physical activity counselling by medical professionals has a long history, and the "
        "perspective taken on it has changed with each generation of clinicians. Early advice "
        "was moral, later advice epidemiological, and the present emphasis is on behaviour "
        "change and the skills it needs. This essay-like account traces those shifts and asks "
        "what counselling in the consulting room can still add to policies aimed at whole "
        "populations, and what doctors need to be taught for it."
    )
    tags = _tags("An evolving perspective on physical activity counselling", abstract)
    design = tags[tags.facet == "design"]
    assert not design.empty
    assert FALLBACK_CUE not in {e["cue"] for ev in design["evidence"] for e in ev}


def test_a_weakly_found_review_keeps_the_studys_country() -> None:
    tags = _tags(
        "An experimental study of determinants of the extent of disagreement within clinical "
        "guideline development groups",
        FACTORIAL,
    )
    design = tags[tags.facet == "design"].set_index("label")["score"]
    assert design.get("review", 0) < 0.8  # a weak review at most
    countries = tags[(tags.facet == "country") & (tags.score >= 0.5)]["label"].tolist()
    assert countries == ["United Kingdom"]


def test_a_surely_found_review_still_drops_a_passing_country() -> None:
    abstract = (
        "This systematic review summarises trials of reminders to clinicians. We searched "
        "MEDLINE and EMBASE and included 24 randomised trials; a meta-analysis pooled their "
        "effects. One trial, run in Norway, reported the largest effect. Reminders improved "
        "adherence by a median of 4%."
    )
    tags = _tags("Reminders for clinicians: a systematic review", abstract)
    design = tags[tags.facet == "design"].set_index("label")["score"]
    assert design["review"] >= 0.8
    assert tags[(tags.facet == "country") & (tags.score >= 0.5)].empty


# read-set abstracts of this kind (set 1's g148, a drug review "available in France"; a
# reviewer's counter-examples to a rule that kept every abstract country of a weak review)
def test_a_weakly_found_review_takes_no_country_from_its_background() -> None:
    tags = _tags(
        "Rizatriptan in migraine: a review",
        "Rizatriptan has been available in France since 1999 for the acute treatment of "
        "migraine attacks. Its pharmacology, efficacy and tolerability in adults are "
        "described. Across placebo-controlled trials it relieved headache within two hours "
        "more often than placebo, and it was well tolerated.",
    )
    design = tags[tags.facet == "design"].set_index("label")["score"]
    assert 0.5 <= design["review"] < 0.8  # found from its title only: weakly
    assert tags[(tags.facet == "country") & (tags.score >= 0.5)].empty


def test_a_weakly_found_review_keeps_a_country_it_names_as_its_own() -> None:
    tags = _tags(
        "Reminders for clinicians: a review",
        "Reminders are widely used to change what clinicians do. We describe trials of "
        "reminders conducted in Ontario and their effects on prescribing and on test "
        "ordering, which were small but consistent.",
    )
    design = tags[tags.facet == "design"].set_index("label")["score"]
    assert 0.5 <= design["review"] < 0.8
    countries = tags[(tags.facet == "country") & (tags.score >= 0.5)]["label"].tolist()
    assert countries == ["Canada"]
