"""The setting facet names where a study happens (the real-abstract gold's labelling
guideline, section 3), never what or whom it is about: a condition (PTSD, depression) is
not a mental health service, children are not a paediatric ward, generic words (health
care, patients, treatment) name no setting, and a paper is given one setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth.corpus.normalise import records_frame
from synth.tagging.codebook import CodebookError, load_codebook
from synth.tagging.describe import counted_tags
from synth.tagging.tagger import tag


def _settings(*papers: tuple[str, str], codebook: Path | None = None) -> list[set[str]]:
    """The setting labels counted (score >= the counted threshold) for records with these
    (title, abstract) pairs, in their order (tagged with ``codebook``, default synth's)."""
    rows = [
        {"record_id": f"r{i}", "source_key": f"k{i}", "title": t, "abstract": a}
        for i, (t, a) in enumerate(papers)
    ]
    tags = counted_tags(tag(records_frame(rows), codebook=load_codebook(codebook)))
    out: list[set[str]] = [set() for _ in papers]
    setting = tags[tags.facet == "setting"]
    for rid, label in zip(setting["record_id"], setting["label"], strict=True):
        out[int(rid[1:])].add(label)
    return out


def _one(title: str, abstract: str) -> set[str]:
    return _settings((title, abstract))[0]


def test_a_population_cohort_with_ptsd_is_community_not_mental_health() -> None:
    got = _one(
        "Trajectories of posttraumatic stress after a natural disaster",
        "Postal surveys were sent to a population-based sample of adults one, three and six "
        "years after the tsunami to assess posttraumatic stress disorder (PTSD), depression "
        "and anxiety. Most survivors showed a resilient trajectory.",
    )
    assert got == {"community"}


def test_veterans_followed_in_the_community_are_community() -> None:
    got = _one(
        "Latent profiles of PTSD and depression symptoms in veterans",
        "We used survey data from 283 previously deployed veterans to identify patterns of "
        "PTSD and major depressive disorder and their health related functioning.",
    )
    assert got == {"community"}


def test_psychiatric_inpatients_are_mental_health() -> None:
    got = _one(
        "Risperidone versus clozapine in treatment-resistant schizophrenia",
        "In a double-blind multicentre study, 86 inpatients with chronic schizophrenia were "
        "randomly assigned to risperidone or clozapine for eight weeks.",
    )
    assert got == {"mental-health"}  # psychiatric inpatients, not acute care


def test_a_mental_health_service_is_mental_health() -> None:
    got = _one(
        "Peer support in a community mental health team",
        "Service users of two community mental health teams were interviewed.",
    )
    assert got == {"mental-health"}


def test_an_online_self_help_intervention_is_community() -> None:
    got = _one(
        "An internet-delivered self-help programme for mild depression",
        "Adults with mild depression were randomised to an internet-delivered self-help "
        "programme used at home or to a waiting list.",
    )
    assert got == {"community"}


def test_a_school_programme_is_community_not_paediatrics() -> None:
    got = _one(
        "A physical activity programme in primary schools: cluster randomised trial",
        "Sixty primary schools were randomised; children aged 8 to 9 years took part in "
        "lessons delivered by their teachers.",
    )
    assert got == {"community"}


def test_a_medical_school_is_no_setting() -> None:
    got = _one(
        "Teaching prescribing",
        "Third year students at a medical school were taught about drug promotion.",
    )
    assert got == set()


def test_surgery_is_acute_care_but_dental_surgery_is_not() -> None:
    got = _settings(
        (
            "Clonidine for preventing shivering after anaesthesia",
            "Ninety patients undergoing elective abdominal surgery under general anaesthesia "
            "were randomised; shivering was judged after surgery.",
        ),
        (
            "Ketoprofen in dental surgery",
            "Forty patients scheduled for dental surgery were randomised to two analgesics.",
        ),
    )
    assert got == [{"acute-care"}, set()]


def test_a_drug_trial_with_no_place_named_has_no_setting() -> None:
    got = _one(
        "Amlodipine versus placebo in hypertension",
        "Patients with hypertension were randomised to receive amlodipine or placebo for "
        "twelve weeks. Treatment was well tolerated and clinical outcomes improved. Hospital "
        "admissions were recorded as a secondary outcome.",
    )
    assert got == set()


def test_conditions_and_ages_alone_name_no_setting() -> None:
    got = _settings(
        ("Depression and anxiety", "Depression and anxiety disorders were common."),
        ("Schizophrenia", "Symptoms of schizophrenia and bipolar disorder were measured."),
        ("Older people", "Older people with dementia and their carers were asked."),
        ("Outcomes", "Mental health problems were more frequent in this sample."),
    )
    assert got == [set(), set(), set(), set()]


def test_indexing_terms_of_age_give_no_setting() -> None:
    rows = [
        {
            "record_id": "r0",
            "source_key": "k0",
            "title": "Ibuprofen for pain",
            "abstract": "Participants took ibuprofen or placebo.",
            "keywords": ["Adolescent", "Adult", "Pregnancy", "Humans"],
        }
    ]
    tags = counted_tags(tag(records_frame(rows)))
    assert tags[tags.facet == "setting"].empty


def test_healthcare_alone_is_not_multiple_settings() -> None:
    got = _one(
        "Incident reporting by nurses",
        "Patient safety remains a challenge in healthcare and health care services. We "
        "interviewed 30 nurses about incident reporting.",
    )
    assert "multiple-mixed" not in got
    assert got == set()


def test_a_paper_gets_one_setting() -> None:
    """Both golds label one setting per paper: the best-scoring label is kept."""
    rows = [
        {
            "record_id": "r0",
            "source_key": "k0",
            "title": "Asthma care for children in primary care practices",
            "abstract": "Forty primary care practices took part; children with asthma were "
            "followed for a year and emergency department attendances were counted.",
        }
    ]
    tags = tag(records_frame(rows))
    setting = tags[tags.facet == "setting"]
    # one label; care for children takes precedence over primary care (guideline 3)
    assert setting["label"].tolist() == ["paediatrics-maternity"]


# -- reviews, commentaries and guidelines (codebook `conditions`) ---------------------------


def test_a_review_not_limited_to_a_setting_gets_none() -> None:
    got = _one(
        "Exercise therapy for chronic low back pain: a systematic review",
        "We searched MEDLINE and Embase for randomised trials of exercise therapy in adults "
        "with chronic low back pain, including trials run in hospitals, and pooled them in a "
        "meta-analysis.",
    )
    assert got == set()


def test_a_review_of_trials_in_primary_care_is_primary_care() -> None:
    got = _one(
        "Interventions to improve antibiotic prescribing in primary care: a systematic review",
        "We searched five databases for randomised trials of interventions aimed at general "
        "practitioners.",
    )
    assert got == {"primary-care"}


def test_a_commentary_in_a_setting_specific_journal_keeps_its_setting() -> None:
    rows = [
        {
            "record_id": "r0",
            "source_key": "k0",
            "title": "Why co-production matters: a commentary",
            "abstract": "In this commentary we argue that service users should be involved "
            "in care planning, as in some hospitals.",
            "venue": "Mental Health Review Journal",
        }
    ]
    tags = counted_tags(tag(records_frame(rows)))
    assert set(tags.loc[tags.facet == "setting", "label"]) == {"mental-health"}


_MINI = """\
version: '1'
name: t
facets:
  setting:
    {conditions}
    labels:
      acute-care:
        cues: [hospital, hospitals]
  design:
    labels:
      review:
        cues: [systematic review]
      trial:
        cues: [randomised trial]
"""
_REVIEW_CONDITION = (
    "conditions:\n      - when: {facet: design, labels: [review]}\n"
    "        require: {min_score: 0.75, or_fields: [title]}"
)


def _mini(tmp_path: Path, conditions: str) -> Path:
    """:data:`_MINI` with setting's ``conditions``, as a codebook file."""
    path = tmp_path / "codebook.yml"
    path.write_text(_MINI.format(conditions=conditions), encoding="utf-8")
    return path


def _mini_settings(tmp_path: Path, conditions: str, title: str, abstract: str) -> set[str]:
    return _settings((title, abstract), codebook=_mini(tmp_path, conditions))[0]


def test_the_condition_is_the_codebooks(tmp_path: Path) -> None:
    """The same review keeps its passing setting without the condition, loses it with it;
    a trial (no condition applies) keeps it; a title naming the setting is enough."""
    review = ("Drug X: a systematic review", "Trials run in hospitals were pooled.")
    trial = ("Drug X: a randomised trial", "Patients in hospitals were randomised.")
    titled = ("Drug X in hospitals: a systematic review", "Trials were pooled.")
    assert _mini_settings(tmp_path, "", *review) == {"acute-care"}
    assert _mini_settings(tmp_path, _REVIEW_CONDITION, *review) == set()
    assert _mini_settings(tmp_path, _REVIEW_CONDITION, *trial) == {"acute-care"}
    assert _mini_settings(tmp_path, _REVIEW_CONDITION, *titled) == {"acute-care"}
    # `require: never` drops the label whenever `when` holds, the title's too
    never = "conditions: [{when: {facet: design, labels: [review]}, require: never}]"
    assert _mini_settings(tmp_path, never, *titled) == set()
    assert _mini_settings(tmp_path, never, *trial) == {"acute-care"}


_CHAINED = """\
version: '1'
name: t
facets:
  setting:
    conditions:
      - when: {facet: design, labels: [review]}
        require: {min_score: 0.75, or_fields: [title]}
    labels:
      acute-care:
        cues: [hospitals]
  design:
    multi: false
    conditions:
      - when: {facet: publication, labels: [grey], absent: true}
        labels: [report]
        require: never
    labels:
      report:
        outranks: [{label: trial, min_score: 0.5}]
        cues: [final report]
      review:
        cues: [systematic review]
      trial:
        cues: [randomised trial]
  publication:
    labels:
      grey:
        cues: [{phrase: white paper, fields: [title]}]
"""


def test_a_condition_reads_the_label_its_facet_ends_with(tmp_path: Path) -> None:
    """A journal paper's 'report' is dropped by design's own condition; the setting's
    condition then reads the label the paper ends with, not the dropped report."""
    path = tmp_path / "codebook.yml"
    path.write_text(_CHAINED, encoding="utf-8")

    def labels(paper: tuple[str, str]) -> tuple[set[str], set[str]]:
        """The paper's design and setting labels."""
        rows = [{"record_id": "r0", "source_key": "k0", "title": paper[0], "abstract": paper[1]}]
        tags = counted_tags(tag(records_frame(rows), codebook=load_codebook(path)))
        return tuple(set(tags.loc[tags.facet == f, "label"]) for f in ("design", "setting"))

    abstract = (
        "This final report presents a systematic review. Trials run in hospitals were pooled."
    )
    assert labels(("Drug X: final report", abstract)) == ({"review"}, set())
    # as grey literature the report stands, and so does the setting it names
    grey = labels(("Drug X: final report, a white paper", abstract))
    assert grey[1] == {"acute-care"}
    # the report had outranked a trial: with the report gone the paper is the trial
    # again (outranked anew), not the weaker review, and keeps its setting
    trial = (
        "Drug X: final report of a randomised trial",
        "We ran a randomised trial in hospitals. We also read one systematic review.",
    )
    assert labels(trial) == ({"trial"}, {"acute-care"})


@pytest.mark.parametrize(
    ("conditions", "problem"),
    [
        ("conditions: {when: x}", r"`conditions` must be a list"),
        ("conditions: [5]", r"condition 1: must be a mapping with `when` and `require`"),
        (
            "conditions: [{when: {facet: design, labels: [review]}}]",
            r"condition 1: needs `when` \(facet, labels\) and `require`",
        ),
        (
            "conditions: [{when: {facet: design, labels: [review]}, require: sometimes}]",
            r"condition 1: needs `when` \(facet, labels\) and `require`.*`require: never`",
        ),
        (
            "conditions: [{when: {facet: design, labels: [review], where: x}, "
            "require: {min_score: 0.8}}]",
            r"condition 1, when \(line 5\): unknown key 'where'",
        ),
        (
            "conditions: [{when: {facet: design, labels: [review]}, require: {score: 0.8}}]",
            r"condition 1, require \(line 5\): unknown key 'score'",
        ),
        (
            "conditions: [{when: {facet: designs, labels: [review]}, require: {min_score: 0.8}}]",
            r"condition 1: `when.facet` names 'designs', not a facet of this codebook",
        ),
        (
            "conditions: [{when: {facet: design, labels: [reviews]}, require: {min_score: 0.8}}]",
            r"condition 1: `when.labels` names 'reviews', not a label of facet 'design'",
        ),
        (
            "conditions: [{when: {facet: setting, labels: [acute-care]}, "
            "require: {min_score: 0.8}}]",
            r"`when.facet` must name another facet",
        ),
        (
            "conditions: [{when: {facet: design, labels: [review]}, require: {min_score: 2}}]",
            r"require.min_score: must be a score between 0 and 1, got 2",
        ),
        (
            "conditions: [{when: {facet: design, labels: [review]}, "
            "require: {or_fields: [heading]}}]",
            r"`require.or_fields` names 'heading', not a field",
        ),
        (
            "conditions: [{when: {facet: design, labels: [review]}, "
            "require: {or_fields: [abstract], or_roles: [methods]}}]",
            r"`require.or_roles` must list sentence roles \(study, background",
        ),
        (
            "conditions: [{when: {facet: design, labels: [review], absent: maybe}, "
            "require: {min_score: 0.8}}]",
            r"`when.absent` must be true or false",
        ),
        (
            "conditions: [{when: {facet: design, labels: [review]}, labels: [wards], "
            "require: {min_score: 0.8}}]",
            r"`labels` names 'wards', not a label of facet 'setting'",
        ),
    ],
)
def test_a_bad_condition_is_a_clear_error(tmp_path: Path, conditions: str, problem: str) -> None:
    path = _mini(tmp_path, conditions)
    with pytest.raises(CodebookError, match=problem) as err:
        load_codebook(path)
    assert str(err.value).startswith(f"{path}: facet 'setting'")


def test_children_studied_outside_care_are_a_community_population() -> None:
    # community outranks paediatrics from its own 0.6 (codebook): the paediatric setting
    # is the care of children, not a word for children
    survivors = _one(
        "Trajectories of post-traumatic stress among adolescents after an earthquake",
        "A total of 1573 adolescent survivors of the earthquake were followed up at 6, 12 "
        "and 24 months; adolescents completed questionnaires at school.",
    )
    assert survivors == {"community"}


def test_care_for_children_takes_precedence_over_primary_and_acute_care() -> None:
    assert _one(
        "Interventions for adolescent depression in primary care",
        "Primary care settings may be critical venues for identifying depression in "
        "adolescents. We reviewed brief treatments for adolescents delivered in primary care.",
    ) == {"paediatrics-maternity"}


def test_the_psychiatric_hospitals_index_term_is_mental_health_not_acute_care() -> None:
    # MeSH "Hospitals, Psychiatric": its "Hospitals" is nested in the longer cue
    rows = [
        {
            "record_id": "r0",
            "title": "Seizures during clozapine treatment",
            "abstract": "We reviewed the charts of 100 patients starting clozapine in hospital.",
            "keywords": ["Hospitals, Psychiatric", "Humans"],
        }
    ]
    tags = counted_tags(tag(records_frame(rows)))
    assert set(tags.loc[tags.facet == "setting", "label"]) == {"mental-health"}


def test_a_trials_early_responders_are_no_first_responders() -> None:
    assert "community" not in _one(
        "Olanzapine in exacerbations of bipolar disorder",
        "Twenty-five bipolar disorder outpatients received olanzapine. Time to response was "
        "bimodal, with five early and ten late responders.",
    )


def test_a_trial_that_mentions_a_toolkit_keeps_its_setting() -> None:
    # the setting's condition on reviews, commentaries and guidelines reads the best
    # design label only: this pre-post study is quantitative, its toolkit a detail
    assert _one(
        "Improving depression care through an online learning collaborative",
        "This pre-post study examined screening for depression in primary care. Physicians "
        "completed a practice survey and a chart audit; the intervention included an online "
        "toolkit. Participants used the questionnaire more often afterwards.",
    ) == {"primary-care"}


def test_two_kinds_of_care_named_where_the_paper_worked_are_several_settings() -> None:
    got = _settings(
        (
            "Prevalence of chlamydia in women having cervical smear tests",
            "OBJECTIVE To determine the prevalence of infection. SETTING A hospital based "
            "colposcopy clinic and an urban general practice in Glasgow. SUBJECTS 197 women "
            "attending their general practitioner and 101 attending the colposcopy clinic.",
        ),
        (
            "Within-patient correlation of antihypertensive effects",
            "Seventy-two untreated hypertensive patients were recruited from six general "
            "practices and from the hospital outpatient clinic.",
        ),
    )
    assert got == [{"multiple-mixed"}, {"multiple-mixed"}]


def test_two_kinds_of_care_named_only_in_background_or_advice_are_not_several() -> None:
    got = _one(
        "Medical care of type 2 diabetes in general practice",
        "Diabetes care is shared between hospitals and general practitioners in many "
        "countries. We audited the records of 400 patients in 12 general practices.",
    )
    assert got == {"primary-care"}


def test_care_for_children_in_hospital_and_general_practice_is_paediatrics() -> None:
    got = _one(
        "Managing childhood asthma",
        "METHODS: Children with asthma were recruited from a hospital paediatric clinic "
        "and from general practices; their parents completed a questionnaire.",
    )
    assert got == {"paediatrics-maternity"}


def test_groups_followed_where_they_live_are_community() -> None:
    got = _settings(
        (
            "Long-term trajectories of PTSD in former political prisoners",
            "Former political prisoners, first interviewed in 1995, were re-assessed fourteen "
            "years later.",
        ),
        (
            "PTSD among displaced workers after an attack: a follow-up study",
            "Sixty-five immigrants who lost their jobs were interviewed twice.",
        ),
    )
    assert got == [{"community"}, {"community"}]


def test_a_hospital_specialtys_clinic_and_a_tertiary_centre_are_acute_care() -> None:
    got = _settings(
        (
            "Indications for cholesterol-lowering medication",
            "We compared several sets of guidelines in a series of patients referred to a "
            "lipid clinic.",
        ),
        (
            "Laboratory tests' utilization",
            "METHODS: We analysed 384 medical records at a tertiary center.",
        ),
    )
    assert got == [{"acute-care"}, {"acute-care"}]


def test_pain_after_oral_surgery_is_no_hospitals() -> None:
    got = _one(
        "Valdecoxib relieves pain after oral surgery",
        "Patients with moderate postoperative dental pain after third molar extraction were "
        "randomised to valdecoxib or rofecoxib.",
    )
    assert got == set()


def test_a_state_hospital_and_people_with_psychosis_are_mental_health() -> None:
    got = _settings(
        ("Seizures associated with clozapine treatment in a state psychiatric hospital", ""),
        (
            "Preventing criminal recidivism",
            "We followed adults with psychotic disorders released from prison for two years.",
        ),
    )
    assert got == [{"mental-health"}, {"mental-health"}]


def test_a_community_sample_of_young_people_is_community() -> None:
    got = _one(
        "Profiles of childhood trauma in late adolescence",
        "METHOD: A community sample of 806 adolescents and young adults participated. "
        "Adolescents reported their trauma histories since childhood.",
    )
    assert got == {"community"}


def test_a_state_hospital_outside_the_us_is_a_general_hospital() -> None:
    got = _one(
        "Antibiotic use in inpatients",
        "We audited 400 inpatients at a state hospital in Ankara, Turkey.",
    )
    assert got == {"acute-care"}


def test_a_titles_generic_health_care_speaks_only_when_there_is_no_abstract() -> None:
    title = "Improving health care through co-design with patients"
    abstract = (
        "We describe how staff and patients worked together to choose and test changes, "
        "and what they learned about sharing decisions over the course of the work."
    )
    # a title alone is all there is to read: health care in general is the setting
    assert _one(title, "") == {"multiple-mixed"}
    # with an abstract that names no place, the title's generic words decide nothing
    assert _one(title, abstract) == set()


def test_specialist_centres_units_and_hospitalized_patients_are_acute_care() -> None:
    found = _settings(
        ("Therapy for type 1 diabetes",
         "Design: randomized trial. Setting: 8 diabetes centers in London and Manchester. "
         "Patients: 344 adults with type 1 diabetes were randomly assigned."),
        ("Early mobilisation after stroke",
         "We compared very early mobilisation with usual stroke-unit care in a randomised "
         "trial of 2104 patients."),
        ("Wearable monitors", "We recruited 120 hospitalized adults and measured vital signs."),
        ("General surgeons and antibiotic stewardship",
         "Data were collected on 100 patients before and after an education programme for "
         "the surgical team."),
    )  # fmt: skip
    assert found == [{"acute-care"}] * 4


def test_people_where_they_live_and_work_are_a_community_population() -> None:
    found = _settings(
        ("Anger and blood pressure",
         "Subjects were 4374 men and women aged 30-74 years from rural and urban communities."),
        ("Victimization in adolescence",
         "Participants included a national longitudinal sample of adolescents (N = 3,604)."),
        ("Distress among inmates", "Fifty inmates completed a battery of questionnaires."),
        ("Stress in police work",
         "We followed 180 urban police officers through four years of active duty."),
    )  # fmt: skip
    assert found == [{"community"}] * 4


def test_a_mental_health_system_and_psychotherapy_are_mental_health_care() -> None:
    found = _settings(
        ("Costs of antipsychotics",
         "In a large, public mental health system, 108 persons were randomly assigned to "
         "one of three medications."),
        ("Change during therapy",
         "Participants were 207 adults with PTSD who received cognitive processing therapy, "
         "a trauma-focused psychotherapy, weekly for 12 weeks."),
    )  # fmt: skip
    assert found == [{"mental-health"}] * 2


def test_community_health_centres_are_primary_care_clinics() -> None:
    found = _settings(
        ("Nurse practitioners and cardiovascular risk",
         "Patients were randomised in two urban community health centers that serve "
         "low-income adults."),
        ("Audit of rural health centres",
         "We audited the records of 12 rural health centres and their 30 nurses."),
    )  # fmt: skip
    assert found == [{"primary-care"}] * 2


def test_a_setting_named_only_as_background_is_not_the_studys() -> None:
    # what others did or found is background (sentence roles): it names no setting for a
    # paper that names none of its own
    got = _one(
        "Light treatment of seasonal affective disorder",
        "We discuss the dose, timing and side effects of light treatment and its place "
        "beside drugs. Previous studies in community settings and in psychiatric outpatient "
        "clinics have shown that bright light helps most patients within two weeks.",
    )
    assert got == set()


def test_medlines_age_check_tags_name_no_paediatric_care() -> None:
    # "Infant" and "Infant, Newborn" among MeSH keywords say who was in the studies, not
    # where care was given; the words in the title or abstract still do
    rows = [
        {"record_id": "r0", "source_key": "k0", "title": "New antihistamines: an overview",
         "abstract": "Second-generation antihistamines cause less sedation than the older "
                     "drugs. Their interactions and cardiac effects are discussed.",
         "keywords": ["Humans", "Infant", "Infant, Newborn", "Histamine H1 Antagonists"]},
        {"record_id": "r1", "source_key": "k1", "title": "Sedation of newborns after surgery",
         "abstract": "We audited the sedation of 80 infants on a surgical ward.",
         "keywords": ["Infant, Newborn"]},
    ]  # fmt: skip
    tags = counted_tags(tag(records_frame(rows)))
    setting = tags[tags.facet == "setting"]
    assert "paediatrics-maternity" not in set(setting.loc[setting.record_id == "r0", "label"])
    assert set(setting.loc[setting.record_id == "r1", "label"]) == {"paediatrics-maternity"}


def test_a_denial_reaches_the_place_it_governs_not_one_beyond_the_effect() -> None:
    # setting's negation reaches two words: "lack of" governs the effect, not where it was
    # looked for, while "without referral to hospital" denies the hospital
    found = _settings(
        ("Lack of reminder card effect on family medicine residents' guideline knowledge",
         "A reminder card was attached to the charts of one group of residents for six "
         "months; knowledge and attitude scores did not change."),
        ("No fall in waits in general practice after online booking",
         "Appointments booked online were compared with telephone bookings for a year."),
        ("Managing chest pain in general practice",
         "Most patients with chest pain were managed by their general practitioner without "
         "referral to hospital."),
        ("Use of online symptom checkers",
         "Adults who used an online symptom checker at home and did not consult a general "
         "practitioner were followed for a month."),
    )  # fmt: skip
    assert found[:3] == [{"primary-care"}] * 3
    assert "primary-care" not in found[3]


def test_a_place_named_for_patients_outweighs_who_the_patients_are() -> None:
    # guideline 3: the place decides (the patient patterns yield to it); "patients with
    # depression" alone are in psychiatric care, and a hospital ward for psychiatric
    # patients is a psychiatric one (mental health outranks acute care)
    found = _settings(
        ("Improving depression care through an online learning collaborative",
         "This study examined a practice improvement programme for screening and managing "
         "patients with depression in primary care."),
        ("Relapse after stopping antidepressants",
         "We followed 120 patients with major depression for two years after they stopped "
         "their antidepressant."),
        ("Deprescribing antipsychotics in dementia",
         "Patients receiving antipsychotics for agitation were identified in 12 nursing "
         "homes. Patients taking risperidone were switched first; patients treated with "
         "haloperidol were tapered over a month."),
        ("Ziprasidone in schizoaffective disorder",
         "A total of 115 hospitalized patients with schizoaffective disorder were randomly "
         "assigned to ziprasidone or placebo."),
    )  # fmt: skip
    assert found == [{"primary-care"}, {"mental-health"}, {"social-care"}, {"mental-health"}]


def test_patients_given_an_antipsychotic_are_in_psychiatric_care() -> None:
    found = _settings(
        ("Weight gain on clozapine",
         "Body weight was recorded for 12 weeks in 40 patients treated with clozapine and "
         "18 patients treated with haloperidol."),
        ("Liver enzymes during antipsychotic treatment",
         "Transaminases were measured monthly in patients receiving olanzapine."),
        # the drug alone is a pharmacology paper's subject, and healthy volunteers are in no
        # service
        ("Caffeine and clozapine pharmacokinetics",
         "Twelve healthy volunteers took a single dose of clozapine with and without "
         "caffeine."),
    )  # fmt: skip
    assert found == [{"mental-health"}, {"mental-health"}, set()]


def test_pharmacies_dispensaries_and_doctors_offices_are_primary_care() -> None:
    found = _settings(
        ("Pharmacist care for reactive airways disease",
         "Randomized controlled trial conducted at 36 community drugstores in one city."),
        ("Treatment of sexually transmitted diseases",
         "Staff at rural health centres and dispensaries were trained in syndromic "
         "management."),
        ("Tobacco cessation advice",
         "We surveyed dentists about the advice they give in the dental office."),
        # shops, not care
        ("Cannabis dispensary staff advice",
         "Staff at 50 recreational cannabis dispensaries were asked by mystery shoppers "
         "about cannabis use in pregnancy."),
        ("Tobacco sales to minors",
         "Underage buyers attempted purchases at convenience stores, gas stations and "
         "drugstores."),
    )  # fmt: skip
    assert found[:3] == [{"primary-care"}] * 3
    assert all("primary-care" not in f for f in found[3:])


def test_hospital_clinics_with_community_based_outpatient_clinics_are_several_settings() -> None:
    found = _settings(
        ("Provider alerts and blood pressure control",
         "Cluster randomised trial. Setting: 2 hospital-based clinics and 8 community-based "
         "outpatient clinics of one regional health care system."),
        # "community-based clinics" alone are as often an NGO's
        ("HIV self-testing uptake",
         "Free HIV tests were distributed through community-based clinics run by a "
         "non-governmental organisation at market places."),
    )  # fmt: skip
    assert found[0] == {"multiple-mixed"}
    assert "primary-care" not in found[1]


def test_patients_having_an_operation_are_in_hospital() -> None:
    found = _settings(
        ("Nursing care after coronary procedures",
         "We developed guidance for the nursing care of people undergoing percutaneous "
         "coronary intervention."),
        ("Wound infection audit",
         "We reviewed the records of 300 patients who underwent elective hip arthroplasty."),
        # an operation in a woman's history is no hospital stay of this study
        ("Hysterectomy and later cardiovascular disease",
         "In a population-based cohort of 20,000 women followed for 25 years, women who had "
         "hysterectomy had a higher risk of heart disease."),
        # an operation in a sentence about others is no setting of this paper's
        ("Nicorandil and the heart",
         "Previous studies in patients undergoing angioplasty suggested cardioprotection. We "
         "describe the drug's pharmacology."),
    )  # fmt: skip
    assert found[:2] == [{"acute-care"}] * 2
    assert "acute-care" not in found[2] and found[3] == set()


def test_ptsd_treatment_programmes_are_mental_health_care() -> None:
    found = _settings(
        ("Symptom change during cognitive processing therapy for veterans",
         "Symptoms were assessed weekly in 120 veterans attending a PTSD treatment program."),
        # delivered over the internet and used at home, it is a community intervention
        ("Online trauma-focused therapy",
         "An internet-delivered trauma-focused therapy was used at home by disaster "
         "survivors recruited from the general population."),
    )  # fmt: skip
    assert found == [{"mental-health"}, {"community"}]


def test_mental_health_in_a_title_gives_way_to_a_setting_the_record_names() -> None:
    # the words name an outcome or a field; a population studied for it is not in a
    # mental health service (gold sets 3 and 7), a service the record names still is
    got = _settings(
        (
            "Mental health of soldiers across five years",
            "Soldiers completed surveys before deployment and at two follow-ups three years "
            "apart; trajectories of symptoms were modelled.",
        ),
        (
            "Combatant status, sexual violence and mental health outcomes after a civil war",
            "A household survey of 1,600 adults was conducted across the country's regions.",
        ),
        (
            "Co-production in mental health: peer workers in community mental health teams",
            "Peer workers and staff of four teams were interviewed about their roles.",
        ),
        (  # a state's department of mental health runs services (the cue, not the title)
            "Can community clinicians learn dialectical behaviour therapy?",
            "We evaluated the conceptual mastery of 109 clinicians trained through a State "
            "Department of Mental Health training initiative.",
        ),
    )
    assert got == [{"community"}, {"community"}, {"mental-health"}, {"mental-health"}]


def test_a_mental_health_service_named_with_a_word_between_and_a_researchers_department() -> None:
    got = _settings(
        # a review's findings on the title rule: these are services, named in the text
        (
            "The START trial: carers of people with dementia",
            "Three mental health community services and one outpatient service took part.",
        ),
        (
            "Mental health consumer and provider perspectives on recovery",
            "We interviewed twenty people about what recovery means to them.",
        ),
        # the authors' university department is where they work, not a service studied
        (
            "Violence and health in an American city",
            "Researchers of the Department of Mental Health at a school of public health "
            "surveyed 1,600 adults in their households.",
        ),
    )
    assert got == [{"mental-health"}, {"mental-health"}, {"community"}]
