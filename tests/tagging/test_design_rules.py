"""The design facet: one label, from what the paper itself did (labelling guideline,
``tests/fixtures/abstracts-gold/labelling-guideline.md`` section 5)."""

from __future__ import annotations

import pytest

from synth.corpus.normalise import records_frame
from synth.tagging.codebook import load_codebook
from synth.tagging.tagger import tag


def design(title: str, abstract: str, keywords: list[str] | None = None) -> list[str]:
    """The design labels the package codebook gives a record (scores counted at 0.5)."""
    row = {"record_id": "r1", "source_key": "k1", "title": title, "abstract": abstract}
    if keywords is not None:
        row["keywords"] = keywords
    tags = tag(records_frame([row]))
    tags = tags[(tags.facet == "design") & (tags.score >= 0.5)]
    return tags["label"].tolist()


def evidence(title: str, abstract: str, label: str) -> list[dict]:
    tags = tag(records_frame([{"record_id": "r1", "title": title, "abstract": abstract}]))
    rows = tags[(tags.facet == "design") & (tags.label == label)]
    return rows["evidence"].iloc[0] if len(rows) else []


def test_design_is_one_label_and_counts_only_the_papers_own_sentences() -> None:
    facet = load_codebook().facets["design"]
    assert facet.multi is False
    assert facet.counts_in == frozenset({"study", "other"})


def test_what_organisations_prefer_does_not_make_a_discussion_paper_quantitative() -> None:
    labels = design(
        "Co-design and the evidence that counts",
        "Many health service organisations prefer quantitative analysis of routine data "
        "when they judge improvement work. This paper argues that co-designed services "
        "need other kinds of evidence as well, and discusses what those could be.",
    )
    assert labels == ["position-paper"]


def test_previous_randomized_trials_in_the_background_do_not_make_a_review_quantitative() -> None:
    abstract = (
        "Previous randomized controlled trials showed that exercise programmes reduce falls "
        "in older people (odds ratio 0.7, 95% CI 0.5 to 0.9). Here we review the evidence "
        "for falls prevention in care homes."
    )
    assert design("Falls prevention in care homes", abstract) == ["review"]


def test_a_design_cue_in_a_methods_sentence_counts() -> None:
    abstract = (
        "BACKGROUND: Nausea after surgery is common. METHODS: Eighty adults having day "
        "surgery were randomly assigned to ginger or placebo. RESULTS: Nausea was less "
        "frequent with ginger. CONCLUSIONS: Ginger may help."
    )
    assert design("Ginger for nausea after day surgery", abstract) == ["quantitative"]
    sentences = [e["sentence"] for e in evidence("Ginger", abstract, "quantitative")]
    assert any(s.startswith("METHODS: Eighty adults") for s in sentences)


def test_a_background_section_names_no_design() -> None:
    abstract = (
        "BACKGROUND: Randomised controlled trials, cohort studies and surveys of discharge "
        "planning are rare. METHODS: Twenty ward nurses took part in semi-structured "
        "interviews. RESULTS: Nurses valued early planning."
    )
    assert design("Nurses' views of discharge planning", abstract) == ["qualitative"]


@pytest.mark.parametrize(
    ("title", "abstract", "keywords", "label"),
    [
        (  # a randomised trial is quantitative
            "Olanzapine versus placebo in acute mania",
            "In a 3-week, double-blind study, 139 patients with bipolar I disorder were "
            "randomized to olanzapine or placebo.",
            None,
            "quantitative",
        ),
        (  # an instrument validated by measurement is quantitative
            "A short scale of patient trust",
            "The scale was completed by 412 outpatients. Internal consistency was high "
            "(alpha 0.91) and test-retest reliability was good.",
            None,
            "quantitative",
        ),
        (  # a protocol takes the planned design
            "Walking for older people: protocol of a cluster randomised controlled trial",
            "This protocol describes a trial in which 20 practices will be randomised.",
            None,
            "quantitative",
        ),
        (  # a review that pools trials is a review
            "Antihistamines for chronic urticaria",
            "We conducted a systematic review and meta-analysis of 12 randomized controlled "
            "trials; the pooled odds ratio was 2.1 (95% CI 1.4 to 3.2).",
            None,
            "review",
        ),
        (  # indexed under trials "as topic": a paper about trials, not one
            "Newer drugs for type 2 diabetes",
            "This article reviews the pharmacology, efficacy and safety of the newer agents.",
            ["Humans", "Randomized Controlled Trials as Topic"],
            "review",
        ),
        (
            "Managing pain after knee replacement: a consensus statement",
            "A panel of surgeons, anaesthetists and physiotherapists agreed recommendations "
            "for practice.",
            None,
            "guideline-toolkit",
        ),
        (
            "Ventricular rupture after a minor fall",
            "We report a case of a 54-year-old woman who presented with chest pain.",
            None,
            "case-study",
        ),
        (  # a single case report
            "Angioedema after an antihistamine in a patient with renal failure",
            "A 71 year old man developed facial swelling two days after starting treatment.",
            None,
            "case-study",
        ),
        (
            "Implementing evidence-based practice on a research ward",
            "This quasi-experimental mixed methods study used questionnaires (n = 120) and "
            "focus groups with nurses.",
            None,
            "mixed-methods",
        ),
    ],
)
def test_design_labels_follow_the_guideline(title, abstract, keywords, label) -> None:
    assert design(title, abstract, keywords) == [label]


def test_a_clinical_regression_is_no_regression_analysis() -> None:
    labels = design(
        "Left ventricular hypertrophy in hypertension",
        "Regression of left ventricular hypertrophy lowers cardiovascular risk. Drug "
        "classes differ in how quickly they achieve it.",
    )
    assert "quantitative" not in labels
    trial = design(
        "Predictors of relapse",
        "Relapse within a year was modelled by logistic regression in 300 patients.",
    )
    assert trial == ["quantitative"]


def test_a_negated_statistical_finding_is_still_a_quantitative_result() -> None:
    # design cues are not negated (codebook: design.negation false): "did not
    # significantly improve" reports a measurement, as "non-randomised" names a trial
    abstract = (
        "Prescribers in ten dispensaries took part in group discussions. Prescriptions "
        "were audited before and after. Injection prescribing did not significantly "
        "improve three months later (P>0.05)."
    )
    assert design("Group discussions to reduce injection prescribing", abstract) == ["quantitative"]


def test_a_meta_analysis_of_trials_is_a_review_however_often_it_names_trials() -> None:
    abstract = (
        "This meta-analysis was conducted to determine whether drug treatment of "
        "hypertension protects the kidney. Randomised, controlled trials were identified "
        "through a MEDLINE search. Patients randomised to treatment had a relative risk of "
        "0.97 (95% confidence interval 0.78-1.21)."
    )
    title = "Does treating hypertension protect the kidney? A meta-analysis of 10 randomised trials"
    assert design(title, abstract) == ["review"]
    # a title calling the paper a review, with trials all through its text
    drug = (
        "Nicorandil significantly improved exercise tolerance in early trials. In "
        "randomised, double-blind, placebo-controlled trials it matched the nitrates."
    )
    assert design("Nicorandil: an updated review of its use in angina", drug) == ["review"]


def test_review_in_a_title_that_is_no_review_and_a_chart_review_stay_studies() -> None:
    consultations = design(
        "Young people's participation in asthma review consultations",
        "We video-recorded 40 consultations and surveyed the patients (n = 40) afterwards.",
    )
    assert consultations == ["quantitative"]
    charts = design(
        "Seizures during clozapine treatment",
        "We reviewed the medical charts and pharmacy records of 1,418 inpatients; seizures "
        "were associated with dose (odds ratio 2.3).",
    )
    assert charts == ["quantitative"]


def test_a_survey_with_focus_groups_is_mixed_methods_unnamed() -> None:
    abstract = (
        "DESIGN: A Likert scale survey of nurses before and six months after the "
        "programme, with focus groups. RESULTS: Statistically significant gains were seen. "
        "In the focus groups nurses described more confidence in starting conversations."
    )
    assert design("Advance care planning on hospital wards", abstract) == ["mixed-methods"]


def test_one_passing_mention_of_interviews_in_a_trial_does_not_make_it_mixed() -> None:
    labels = design(
        "Osteoarthritis guidelines in primary care: protocol for a stepped wedge cluster "
        "randomized controlled trial",
        "Methods/design A cluster randomized controlled trial with stepped wedge design in "
        "12 municipalities. Semi-structured interviews will explore implementation. "
        "The primary outcome is the proportion of patients treated as the guidelines say.",
    )
    assert labels == ["quantitative"]


def test_an_overview_of_others_reviews_opening_a_commentary_does_not_make_it_a_review() -> None:
    labels = design(
        "Changing clinical behaviour by making guidelines specific",
        "The problems of getting people to act on guidelines are widely recognised. An "
        "overview of 41 systematic reviews found that the most promising approach mixes "
        "several interventions. We examine the importance of precise behavioural "
        "recommendations and suggest how some current guidelines could be improved.",
    )
    assert labels == ["position-paper"]


def test_an_opening_that_reports_the_study_counts() -> None:
    labels = design(
        "Clozapine effects on glucose metabolic rate in striatum and frontal cortex",
        "Eighteen patients with schizophrenia had cerebral metabolic rates assessed during a "
        "double-blind, placebo-controlled crossover study of clozapine. We have previously "
        "observed low metabolic rates in the basal ganglia of such patients.",
    )
    assert labels == ["quantitative"]


def test_a_paper_that_calls_itself_case_reports_is_a_case_study_whatever_trial_it_names() -> None:
    labels = design(
        "Development of depression during placebo-controlled trials of bupropion for "
        "smoking cessation: case reports",
        "Three smokers developed depressive symptoms while taking part in double-blind "
        "placebo-controlled trials; each case is described with its course.",
    )
    assert labels == ["case-study"]


def test_a_cluster_analysis_is_quantitative() -> None:
    labels = design(
        "Patterns of emotion regulation",
        "Using cluster analysis, we examined whether women with and without trauma exposure "
        "show distinct patterns of emotion regulation.",
    )
    assert labels == ["quantitative"]


def test_clinical_interviews_in_a_cohort_do_not_make_it_mixed_methods() -> None:
    abstract = (
        "A prospective study of 2,368 adults followed for two years. Telephone interviews "
        "assessed symptoms at each wave; latent growth models described their course."
    )
    assert design(
        "The course of post-traumatic stress", abstract, ["Interview, Psychological"]
    ) == ["quantitative"]


def test_a_background_heading_without_a_colon_still_marks_other_work() -> None:
    # exports that lost the headings' line breaks: "Background A 2004 review ..."
    abstract = (
        "Background A 2004 systematic review found little evidence on implementing "
        "guidelines. Methods The design of the study is a cluster randomised trial of "
        "210 practices."
    )
    assert design("Improving care for low-back pain: the ALIGN trial", abstract) == ["quantitative"]


def test_an_authors_own_argument_is_a_position_paper() -> None:
    abstract = (
        "Many investigators do not comply with the guidance on protecting research "
        "participants. This article describes the nature of the problem and has suggested "
        "a strategy for organisations; nurses must take a lead."
    )
    assert design("Protecting the rights of research participants", abstract) == ["position-paper"]


def test_qualitative_as_an_adjective_makes_no_mixed_methods_study() -> None:
    abstract = (
        "Chronic amphetamine users were significantly impaired on the set-shifting task "
        "compared with controls (analysis of variance). Qualitative differences, as well as "
        "some commonalities, were found between the two groups."
    )
    assert design("Profiles of cognitive dysfunction in drug users", abstract) == ["quantitative"]
    protocol = (
        "Our mixed-methods approach will include interrupted time-series analysis of "
        "attendance and staff interviews."
    )
    assert design("Integrating addiction treatment into primary care", protocol) == [
        "mixed-methods"
    ]


def test_a_review_of_qualitative_studies_and_surveys_stays_a_review() -> None:
    # review outranks mixed methods from its own 0.65, as it outranks the designs it pools
    abstract = (
        "Qualitative studies with semi-structured interviews, focus groups and thematic "
        "analysis described delays; surveys and questionnaires in cohort studies found "
        "that readmission was significantly associated with poor information."
    )
    assert design("Patient experience of hospital discharge: a review", abstract) == ["review"]


def test_an_interview_studys_selection_criteria_make_it_no_review() -> None:
    abstract = (
        "Semi-structured interviews were held with 24 nurses. Selection criteria were at "
        "least two years on the ward. Data collection and analysis were concurrent, and "
        "themes were identified by thematic analysis."
    )
    assert design("Nurses' views of handover", abstract) == ["qualitative"]


def test_an_evaluation_report_is_grey_literature() -> None:
    title = "Evaluation of a nurse-led discharge service: report of the first year"
    abstract = "We compared readmissions before and after the service started."
    journal = tag(
        records_frame(
            [{"record_id": "j", "title": title, "abstract": abstract, "venue": "BMJ Open",
              "pub_type": "journal-article"}]
        )
    )  # fmt: skip
    grey = tag(
        records_frame(
            [{"record_id": "g", "title": title, "abstract": abstract, "pub_type": "report",
              "grey": True, "publisher": "NHS England"}]
        )
    )  # fmt: skip
    counted = {
        rid: set(t.loc[(t.facet == "design") & (t.score >= 0.5), "label"])
        for rid, t in (("j", journal), ("g", grey))
    }
    assert "evaluation-report" not in counted["j"]
    assert counted["g"] == {"evaluation-report"}


def test_a_journals_programme_evaluation_is_no_evaluation_report() -> None:
    # said outright and often, it is still a paper in a journal's research format
    abstract = (
        "This final report presents the independent evaluation of a regional falls "
        "prevention programme. The programme evaluation drew on the views of staff and "
        "managers; the evaluation report closes with "
        "recommendations for the scale-up and spread of the programme."
    )
    tags = tag(
        records_frame(
            [{"record_id": "j", "title": "Preventing falls in older people", "abstract":
              abstract, "venue": "Age and Ageing", "pub_type": "journal-article"}]
        )
    )  # fmt: skip
    assert "evaluation-report" not in set(
        tags.loc[(tags.facet == "design") & (tags.score >= 0.5), "label"]
    )


@pytest.mark.parametrize(
    "title",
    [
        "Advances in the medical management of acute coronary syndromes",
        "Treatment of scleroderma: an update",
        "Current concepts and new developments in the treatment of psoriatic arthritis",
    ],
)
def test_a_title_naming_its_topics_state_is_a_narrative_review(title: str) -> None:
    abstract = (
        "Many agents have been proposed for this condition, but their use rests more on "
        "clinical experience than on evidence. Newer drugs act on the inflammation itself, "
        "and their place beside the older treatments is discussed, with their harms."
    )
    assert design(title, abstract) == ["review"]


def test_a_medical_interview_studied_by_measurement_is_no_qualitative_study() -> None:
    abstract = (
        "METHODS: Female patients (N = 54) completed the alexithymia scale before and after a "
        "medical interview with one of seven physicians, and salivary cortisol was measured "
        "24 h later. RESULTS: Cortisol rose after the medical interview in patients with "
        "alexithymia (p < 0.05)."
    )
    title = "Salivary cortisol response after a medical interview"
    assert design(title, abstract) == ["quantitative"]


def test_a_guide_for_practitioners_and_an_expert_consensus_are_guidance() -> None:
    guide = (
        "Meeting a key need, this is the first comprehensive guide to running a schoolwide "
        "reading support programme. It helps teachers plan each step and gives worksheets "
        "for their training sessions."
    )
    consensus = (
        "Few trials guide clinicians in behavioural emergencies, so we surveyed 50 experts "
        "and present an expert consensus on the first choice of treatment in each situation."
    )
    assert design("Reading support in schools", guide) == ["guideline-toolkit"]
    title = "Treatment of behavioural emergencies: an expert consensus"
    assert design(title, consensus) == ["guideline-toolkit"]


def test_a_topic_state_title_gives_way_to_the_method_the_paper_names() -> None:
    abstract = (
        "We randomly assigned 24 wards to the new staffing model or usual staffing and "
        "compared falls and pressure ulcers over 12 months."
    )
    assert design("Advances in nurse staffing: a randomised trial", abstract) == ["quantitative"]


def test_a_guideline_a_trial_implements_is_what_it_studied_not_what_it_is() -> None:
    title = "Implementing a clinical practice guideline for knee pain in general practice"
    abstract = (
        "Knee pain is common and general practitioners' care often departs from the "
        "evidence. Sixty practices were randomised to a theory-based implementation "
        "programme or to passive dissemination, and imaging referrals were compared over "
        "12 months."
    )
    assert design(title, abstract) == ["quantitative"]
    # a guideline itself is still guidance
    assert design("A clinical practice guideline for knee pain in adults", "") == [
        "guideline-toolkit"
    ]


def test_a_title_that_calls_the_paper_qualitative_outweighs_the_trial_it_sits_in() -> None:
    abstract = (
        "Semi-structured qualitative interviews were conducted at participants' one-year "
        "follow-up after a recently completed phase 2 clinical trial. Interviews from 19 of "
        "24 participants were analysed with interpretative phenomenological analysis. Scores "
        "on the Clinician Administered PTSD Scale fell by 40% in the randomized trial."
    )
    assert design(
        "Perceived benefits of psychotherapy: qualitative follow-up study of a clinical trial",
        abstract,
    ) == ["qualitative"]
    # without the title's word the trial and the interviews make it mixed methods
    assert design("Perceived benefits of psychotherapy", abstract) == ["mixed-methods"]
    # a title that calls it mixed methods keeps that, whatever else it names
    assert design(
        "Qualitative and survey findings: a mixed-methods study of a clinical trial", abstract
    ) == ["mixed-methods"]


def test_an_abstract_that_says_it_combines_both_methods_is_mixed_whatever_its_title() -> None:
    abstract = (
        "PURPOSE: We assessed physician responses to a community-level intervention. "
        "METHODS: This study was a mixed qualitative and quantitative evaluation of a "
        "randomized controlled community-wide educational intervention in 16 communities. "
        "After the intervention, we conducted a mailed physician survey and interviews."
    )
    title = "Physician responses to a community-level trial promoting judicious antibiotic use"
    assert design(title, abstract) == ["mixed-methods"]
    # in a title the phrase is as often a laboratory method's
    regression = "Prescribing rates were modelled by multilevel regression in 120 hospitals."
    assert design("Qualitative and quantitative analysis of hospital prescribing", regression) == [
        "quantitative"
    ]


def test_authors_measuring_something_is_a_quantitative_study() -> None:
    # an abstract cut short after its aim names no method and reports no figure; the
    # fallback would call it a position paper, but the authors say they measured
    got = design(
        "Inequities in care for young children in a rural district",
        "Few studies have looked at socioeconomic inequities in health in rural Africa, "
        "where most poor families live far from any clinic and pay for their care. We "
        "assessed differences in health care by sex and socioeconomic status for young "
        "children living in a poor rural district, as a basis for planning by the "
        "district's health management team and by the families and village leaders who "
        "share its work.",
    )
    assert got == ["quantitative"]
    # a systematic review that calculated pooled figures stays a review
    review = design(
        "Diagnostic accuracy of a screening test: a systematic review",
        "We searched three databases and included 14 studies. We calculated pooled "
        "sensitivity and specificity.",
    )
    assert review == ["review"]
    # analysing documents or comparing models measures nothing: not quantitative alone
    documents = design(
        "Patient involvement in national health policy",
        "We analysed 42 policy documents from five European countries to identify how "
        "patient involvement is framed.",
    )
    assert "quantitative" not in documents


def test_a_grey_report_of_an_evaluation_outranks_its_methods_a_final_report_alone_not() -> None:
    def grey(title: str, abstract: str) -> list[str]:
        row = {"record_id": "g", "title": title, "abstract": abstract, "pub_type": "report",
               "grey": True, "publisher": "A charity"}  # fmt: skip
        tags = tag(records_frame([row]))
        return tags.loc[(tags.facet == "design") & (tags.score >= 0.5), "label"].tolist()

    assert grey(
        "Evaluation of a men's shed programme: final report",
        "We compared loneliness scores before and after members joined.",
    ) == ["evaluation-report"]
    assert grey(
        "Experiences of unpaid carers: final report",
        "This report presents a qualitative study of 40 unpaid carers, interviewed at home; "
        "interviews were analysed thematically.",
    ) == ["qualitative"]


@pytest.mark.parametrize(
    "title",
    [
        "Working group report on hypertension in pregnancy",
        "Report of the expert panel on the principles of HIV therapy",
        "Evidence-based software engineering: a report from the workshop held in 2007",
    ],
)
def test_a_report_in_a_title_alone_names_no_evaluation_report(title: str) -> None:
    # guideline 5: an evaluation report reports an evaluation; a panel's, a working
    # group's or a workshop's report (grey by its title word) evaluates nothing
    abstract = "The panel met twice and agreed on the principles set out here."
    assert "evaluation-report" not in design(title, abstract)
    # the title that says what was evaluated still names one
    assert design("Evaluation of a community falls service: a report", "") == ["evaluation-report"]


@pytest.mark.parametrize(
    "title",
    [
        "Clinical practice guidelines for moderate dementia",
        "Scandinavian clinical practice guidelines for the treatment of panic disorder",
        "Society guidelines for management of patients with atrial fibrillation",
    ],
)
def test_guidelines_for_a_care_task_in_a_title_are_guidance_whatever_literature_it_searched(
    title: str,
) -> None:
    # how a guideline was made (a literature search, meta-analyses) is not what it is
    abstract = (
        "METHODS: A literature review was conducted and the evidence was graded. "
        "RESULTS: Recommendations cover assessment, drug treatment and follow-up."
    )
    assert design(title, abstract) == ["guideline-toolkit"]


@pytest.mark.parametrize(
    "title",
    [
        "Guidelines for the treatment of the late effects of childhood cancer",
        "Clinical guidelines for improving adherence to antiretroviral therapy",
        "A toolkit for reducing the impact of falls in care homes",
        "Consensus statement on the management of the adverse effects of antipsychotics",
    ],
)
def test_a_guideline_about_effects_or_adherence_is_still_a_guideline(title: str) -> None:
    # the negatives below are tied to the guideline word ("impact of guidelines"), not to
    # what a guideline may be about
    abstract = (
        "These guidelines were developed by an expert panel. The panel reviewed the "
        "literature and graded the evidence; recommendations are made for clinicians."
    )
    assert design(title, abstract) == ["guideline-toolkit"]


@pytest.mark.parametrize(
    ("title", "abstract", "label"),
    [
        # a review of guidelines says so in its title
        ("A review of clinical guidelines for the management of postpartum haemorrhage",
         "We compared the recommendations of 12 national guidelines.", "review"),
        ("Clinical practice guidelines for the management of pain in children: a systematic "
         "review", "We searched five databases and appraised the guidelines found.", "review"),
        # a study of guidelines' use, effect or appraisal (a title alone, or a survey)
        ("Adherence to clinical practice guidelines for the management of asthma in general "
         "practice", "", None),
        ("Why do GPs not follow clinical guidelines for the treatment of hypertension?", "",
         None),
        ("Impact of clinical practice guidelines for the management of low back pain", "", None),
        ("Risk factors in diabetes: how well do we follow the guidelines for treatment?", "",
         None),
        ("Prescribing guidelines for the treatment of depression: what do general "
         "practitioners think?", "A survey of 500 GPs was conducted; 61% had read the "
         "guidelines.", "quantitative"),
    ],
)  # fmt: skip
def test_a_title_that_reviews_or_studies_guidelines_for_a_care_task_is_no_guideline(
    title: str, abstract: str, label: str | None
) -> None:
    assert design(title, abstract) == ([label] if label else [])


# Computing and software-engineering research (gold set 6, its guideline's reading): a
# method, system or model evaluated by experiment or on data is quantitative (guideline 5:
# "modelling of data"); one only proposed is a conceptual paper.
@pytest.mark.parametrize(
    ("title", "abstract", "label"),
    [
        (
            "Fast matching of noisy sensor traces",
            "This paper presents an algorithm for aligning sensor traces recorded at different "
            "rates. Experimental results on three public collections show that it outperforms "
            "dynamic time warping while using less memory.",
            "quantitative",
        ),
        (
            "Pair reviews of requirements documents",
            "We propose a reading technique for requirements documents. The technique was "
            "compared with ad hoc reading in a controlled experiment with 48 students.",
            "quantitative",
        ),
        (
            "Effort estimation with a neural network",
            "In this paper we train a neural network on the effort records of finished "
            "projects and report its prediction accuracy against expert estimates.",
            "quantitative",
        ),
        (
            "Requirements of modelling tools: a literature survey",
            "Our objective is to list the quality attributes that modelling tools must have, "
            "identified with a literature survey of journals and conference proceedings.",
            "review",
        ),
    ],
)
def test_a_method_evaluated_by_experiment_is_quantitative_a_literature_survey_a_review(
    title: str, abstract: str, label: str
) -> None:
    assert design(title, abstract) == [label]


def test_a_literature_survey_in_a_title_is_no_questionnaire_survey() -> None:
    # computing says "survey" for a review of the literature; a bare survey is a questionnaire
    assert design("Model-driven testing: a literature survey", "") == ["review"]
    assert design("Burnout among ward nurses: a national survey", "") == ["quantitative"]


def test_a_camera_viewpoint_is_no_viewpoint_article() -> None:
    abstract = (
        "We present a method for estimating body pose from a single camera. The approach is "
        "evaluated through tracking over extended motion trials; the results suggest it is "
        "robust to movement speed and camera viewpoint."
    )
    assert "position-paper" not in design("Pose estimation from motion primitives", abstract)
    assert design("Viewpoint: who owns the waiting list?", "") == ["position-paper"]


def test_others_empirical_evidence_does_not_make_a_discussion_paper_quantitative() -> None:
    # "empirically" and "experimental evidence" speak of what is known, not of what the
    # paper measured (a reviewer's finding on Nagtegaal 2019's discussion papers)
    for abstract in (
        "The influence of guidelines on medical decisions has been empirically demonstrated "
        "in several settings. Yet the ways in which guidelines shape the reasoning of "
        "physicians remain poorly understood, and this discussion considers what a guideline "
        "is for.",
        "How guidance enters clinical reasoning is disputed: there is little experimental "
        "evidence on it. This essay considers three accounts.",
    ):
        assert "quantitative" not in design("Guidelines and decisions", abstract), abstract
