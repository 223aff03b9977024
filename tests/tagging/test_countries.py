"""The country facet built from the gazetteer (synth.tagging.countries): one label per
country, named as a reader knows it, found by name, demonym, place or health-system body."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from synth.tagging import tag
from synth.tagging.codebook import load_codebook
from synth.tagging.countries import CountriesError, gazetteer, iso_code


def countries(*texts: str, field: str = "abstract") -> list[set[str]]:
    """The country labels the default codebook gives each text (score >= 0.5)."""
    rows = [{"record_id": f"r{i}", field: text} for i, text in enumerate(texts)]
    if field != "title":
        for row in rows:
            row["title"] = "A study"
    tags = tag(pd.DataFrame(rows))
    found = tags[(tags.facet == "country") & (tags.score >= 0.5)]
    return [set(found.loc[found.record_id == f"r{i}", "label"]) for i in range(len(texts))]


def test_a_country_by_its_name_is_that_country_never_other_country() -> None:
    got = countries(
        "Patients were recruited from three hospitals in Nigeria.",
        "We surveyed nurses in Taiwan.",
        "A cohort of adults in Iran was followed for two years.",
    )
    assert got == [{"Nigeria"}, {"Taiwan"}, {"Iran"}]


def test_a_demonym_names_its_country() -> None:
    assert countries("Dutch general practitioners completed the questionnaire.") == [
        {"Netherlands"}
    ]


def test_a_us_state_a_city_and_a_canadian_province() -> None:
    got = countries(
        "We interviewed veterans in Ohio about their care.",
        "Clinics in Seattle took part.",
        "Home care clients in Ontario were followed for a year.",
    )
    assert got == [{"United States"}, {"United States"}, {"Canada"}]


def test_national_health_system_bodies() -> None:
    got = countries(
        "Three NHS trusts took part in the evaluation.",
        "Patients were treated at the VA between 2005 and 2010.",
        "We analysed claims of Medicare beneficiaries.",
        "The data come from Alberta Health Services.",
    )
    assert got == [{"United Kingdom"}, {"United States"}, {"United States"}, {"Canada"}]


def test_australias_medicare_by_its_own_institutions_is_australia() -> None:
    got = countries(
        "Claims data from Medicare Australia were analysed.",
        "We counted Medicare Benefits Schedule items for mental health care plans.",
        "Medicare Locals commissioned the after-hours services we evaluated.",
        "We analysed claims of Medicare beneficiaries.",
    )
    assert got == [{"Australia"}, {"Australia"}, {"Australia"}, {"United States"}]


def test_new_south_wales_is_australia_not_wales() -> None:
    assert countries("Emergency departments in New South Wales were audited.") == [{"Australia"}]


def test_an_organisation_named_after_a_country_is_not_a_study_location() -> None:
    got = countries(
        "Guidelines from the American Heart Association recommend statins for these patients.",
        "Severity was graded by the New York Heart Association class.",
        "The trial followed the Declaration of Helsinki.",
        "A Spanish version of the scale was validated.",
    )
    assert got == [set(), set(), set(), set()]


def test_a_country_named_only_as_background_is_not_the_studys() -> None:
    got = countries(
        "Previous studies in the United States found high rates of burnout. "
        "We interviewed 40 nurses in Sweden.",
        "BACKGROUND: In Germany these drugs were registered in 1990. "
        "METHODS: We followed 57 women for ten years.",
    )
    assert got == [{"Sweden"}, set()]
    # the title names the paper itself: it counts whatever the sentence roles say
    assert countries("Burnout among nurses in Sweden", field="title") == [{"Sweden"}]


def test_a_country_in_an_abstracts_opening_is_the_studys() -> None:
    # the opening (before "We ...") is not background for countries: it sets the scene
    got = countries(
        "Malaria is a major public health problem in Nigeria. We determined the "
        "antimalarial prescribing pattern in state hospitals in Lagos."
    )
    assert got == [{"Nigeria"}]


def test_where_troops_served_is_not_where_they_are_studied() -> None:
    got = countries(
        "We followed 743 Danish soldiers deployed to Afghanistan in 2009.",
        "Iraq/Afghanistan veterans of the Korean War era were interviewed in Ohio.",
        "A household survey in Kabul, Afghanistan.",
    )
    assert got == [{"Denmark"}, {"United States"}, {"Afghanistan"}]


def test_ordinary_words_that_are_also_places_are_not_matched() -> None:
    got = countries(
        "Reading the charts, nurses found errors. Mobile phones were used to remind patients.",
        "Male and female participants took oral medication.",
    )
    assert got == [set(), set()]
    # capitalised keywords (MeSH "Male", "Oral") are not Maldives or Kazakhstan either
    rec = pd.DataFrame([{"record_id": "k", "title": "A trial", "keywords": "Male; Oral; Humans"}])
    assert "country" not in set(tag(rec).facet)


def test_several_countries_in_one_paper() -> None:
    got = countries("A randomised trial in Denmark, Sweden and Norway.")
    assert got == [{"Denmark", "Sweden", "Norway"}]


def test_every_country_label_is_a_country_with_an_iso_code() -> None:
    labels = load_codebook().labels("country")
    assert len(labels) > 240  # every country pycountry knows
    assert "other-country" not in labels and "europe" not in labels
    assert iso_code("United Kingdom") == "GB" and iso_code("United States") == "US"
    assert iso_code("Hong Kong") == "HK" and iso_code("South Korea") == "KR"
    assert all(len(iso_code(label) or "") == 2 for label in labels)
    assert iso_code("unclear") is None


def test_a_country_web_domain_names_it() -> None:
    rec = pd.DataFrame(
        [{"record_id": "u", "title": "Guide", "url": "https://www.example.org.au/x"}]
    )
    tags = tag(rec)
    assert set(tags.loc[tags.facet == "country", "label"]) == {"Australia"}


def test_a_library_link_resolver_names_the_readers_library_not_the_record() -> None:
    # RIS exports from a library's database carry its OpenURL resolver as the record's
    # web address (the PTSD exports in peer-data point at a Dutch university's): its
    # host says where the reader is, not where the work was done
    resolver = "http://sfx.library.uu.nl/utrecht?sid=EMBASE&issn=01456008&atitle=Subtypes"
    proxy = "https://www-ncbi-nlm-nih-gov.ezproxy.library.example.ac.uk/pubmed/1"
    rec = pd.DataFrame(
        [
            {"record_id": "sfx", "title": "Subtypes of alcohol dependence", "url": resolver},
            {"record_id": "proxy", "title": "A cohort", "url": proxy},
            {"record_id": "own", "title": "A report", "url": "https://www.rivm.nl/x.pdf"},
        ]
    )
    tags = tag(rec)
    country = tags[tags.facet == "country"]
    assert set(country.loc[country.record_id == "sfx", "label"]) == set()
    assert set(country.loc[country.record_id == "proxy", "label"]) == set()
    assert set(country.loc[country.record_id == "own", "label"]) == {"Netherlands"}


def test_a_bad_url_hosts_ignored_names_the_codebook_key(tmp_path: Path) -> None:
    from synth.tagging.codebook import CodebookError, default_path

    text = default_path().read_text(encoding="utf-8")
    bad = tmp_path / "codebook.yml"
    bad.write_text(text.replace("url_hosts_ignored: [sfx,", "url_hosts_ignored: [3,", 1))
    with pytest.raises(CodebookError, match=r"metadata.url_hosts_ignored: must be a list"):
        load_codebook(bad)


def test_a_broken_countries_file_names_the_file_and_entry(tmp_path: Path) -> None:
    bad = tmp_path / "countries.yml"
    bad.write_text("countries:\n  XX:\n    names: [Nowhere]\n", encoding="utf-8")
    with pytest.raises(CountriesError, match=r"countries.yml: countries: 'XX' is not an ISO"):
        gazetteer(str(bad))
    bad.write_text("countries:\n  GB:\n    names: [UK, 3]\n", encoding="utf-8")
    with pytest.raises(CountriesError, match=r"GB names 2: must be a phrase, got 3"):
        gazetteer(str(bad))


def test_exported_tags_carry_the_country_iso_code(tmp_path: Path) -> None:
    from synth.exporting import export_tags
    from synth.store import connect, import_paths
    from synth.tagging.workflow import tag_store

    src = tmp_path / "records.csv"
    pd.DataFrame(
        [
            {"title": "Nurse staffing in NHS hospitals", "abstract": "We surveyed 30 wards."},
            {"title": "Clinic visits in Lagos", "abstract": "A cohort of 200 adults."},
            {"title": "Co-design of a ward", "abstract": "Patients and staff met weekly."},
        ]
    ).to_csv(src, index=False)
    con = connect(tmp_path / "store.sqlite")
    import_paths(con, [src])
    tag_store(con, refine=False)
    export_tags(con, tmp_path / "tags.csv")
    con.close()
    out = pd.read_csv(tmp_path / "tags.csv", dtype=str, keep_default_na=False)
    country = out[out.facet == "country"]
    assert dict(zip(country.label, country.code, strict=True)) == {
        "United Kingdom": "GB",
        "Nigeria": "NG",
    }
    assert (out.loc[out.facet != "country", "code"] == "").all()


def _record_countries(**row: object) -> set[str]:
    tags = tag(pd.DataFrame([{"record_id": "r", **row}]))
    found = tags[(tags.facet == "country") & (tags.score >= 0.5)]
    return set(found["label"])


def test_a_deployment_place_counts_against_its_bare_mentions_too() -> None:
    # the record says its soldiers were deployed to Afghanistan: its keyword
    # "Afghanistan" means the deployment, not the study's country
    got = _record_countries(
        title="Community integration after deployment to Afghanistan of Danish soldiers",
        abstract="Danish soldiers were surveyed before and after a six-month deployment.",
        keywords=["Afghanistan", "Denmark", "Soldiers"],
    )
    assert got == {"Denmark"}


def test_a_review_takes_a_country_from_its_title_or_issuer_not_an_index_term() -> None:
    # a review is done in no country (guideline 4): MeSH's "United States" on a drug
    # review is where its authors sit, a country in its title is the review's limit
    indexed = _record_countries(
        title="Troglitazone in type II diabetes mellitus: a review",
        abstract="This article reviews the pharmacology, efficacy and safety of troglitazone.",
        keywords=["Humans", "United States", "Thiazoles"],
    )
    assert indexed == set()
    limited = _record_countries(
        title="Co-production in NHS mental health services in England: a scoping review",
        abstract="We searched five databases for studies of co-production.",
    )
    assert limited == {"United Kingdom"}
    issued = _record_countries(
        title="A guide to co-design", abstract="A toolkit for teams.", url="https://x.org.au/g"
    )
    assert issued == {"Australia"}


def test_a_review_that_names_trials_more_often_than_itself_takes_no_index_country() -> None:
    # the condition reads the design the record ends with (review, once outranking is
    # done), not the quantitative label its trial words scored higher before it
    got = _record_countries(
        title="Rizatriptan in migraine: a review",
        abstract="In randomised, double-blind, placebo-controlled trials, rizatriptan was "
        "significantly more effective than placebo (p < 0.01). In crossover trials it was "
        "well tolerated, and significantly more patients were pain free than with "
        "naratriptan.",
        keywords=["Humans", "United States"],
    )
    assert got == set()


def test_a_people_named_where_another_countrys_place_is_studied_there() -> None:
    got = countries(
        "Hong Kong Chinese women were randomised to oestradiol or placebo.",
        "We interviewed displaced Chinese workers after the World Trade Center attack.",
        "We compared Australian and Scottish patients with chronic heart failure.",
        "Dutch general practitioners completed the questionnaire.",
    )
    assert got == [
        {"Hong Kong"},
        {"United States"},
        {"Australia", "United Kingdom"},
        {"Netherlands"},
    ]


def test_a_binational_registry_or_college_names_neither_country() -> None:
    got = countries(
        "We randomised 300 women in Melbourne. Trial registration: Australian New Zealand "
        "Clinical Trials Registry ACTRN12613000693729.",
    )
    assert got == [{"Australia"}]


def test_an_abstracts_rights_notice_names_no_country() -> None:
    study = (
        "We followed 120 adults with burns for two years and measured their distress at "
        "three, six, twelve and twenty-four months. Distress fell in most, rose in a few, "
        "and stayed high in those whose burns covered their hands or face."
    )
    found = countries(
        study + " © 2010 by the American Burn Association.",
        study + " Published by Oxford University Press on behalf of the Society of Pediatric "
        "Psychology. All rights reserved.",
        study + " Patients were treated at a burn centre in Ohio.",
    )
    assert found == [set(), set(), {"United States"}]


def test_a_journals_publisher_names_no_country_but_a_reports_issuer_does() -> None:
    rows = pd.DataFrame(
        [
            {"record_id": "r0", "title": "A meta-analysis of trials",
             "venue": "Heart Failure Reviews", "publisher": "Springer New York"},
            {"record_id": "r1", "title": "Guidance on patient safety", "publisher": "NHS England"},
        ]
    )  # fmt: skip
    tags = tag(rows)
    found = tags[(tags.facet == "country") & (tags.score >= 0.5)]
    assert found[["record_id", "label"]].values.tolist() == [["r1", "United Kingdom"]]


def test_instruments_named_after_places_and_where_veterans_served_name_no_country() -> None:
    found = countries(
        "Sleep was measured with the Pittsburgh Sleep Quality Index in 300 nurses.",
        "Pain was rated on the Australian/Canadian Osteoarthritis Hand Index by 80 adults.",
        "Veterans of Iraq and Afghanistan seen at Ohio clinics were surveyed.",
    )
    assert found == [set(), set(), {"United States"}]


def test_the_world_trade_centre_in_either_spelling_is_the_united_states() -> None:
    found = countries(
        "Police registrants of the World Trade Centre Health Registry were surveyed.",
        "World Trade Center responders were followed for 13 years.",
    )
    assert found == [{"United States"}, {"United States"}]


def test_a_regional_health_service_names_its_country() -> None:
    found = countries(
        "A cluster randomized trial in primary care in the Basque Health Service.",
        "Practices of the Catalan Institute of Health took part.",
    )
    assert found == [{"Spain"}, {"Spain"}]


def test_an_enumeration_or_a_copyright_word_early_in_an_abstract_is_no_rights_notice() -> None:
    found = countries(
        "We interviewed (a) 20 nurses; (b) 35 doctors; (c) 12 managers in Ohio hospitals "
        "about the redesign, and report what they said about sharing decisions with patients.",
        "Copyright law limits what patients may share. We surveyed 300 patients in Ohio about "
        "the records they keep and what they would give researchers.",
    )
    assert found == [{"United States"}, {"United States"}]


def test_a_national_journals_name_gives_way_to_the_place_the_abstract_names() -> None:
    rows = pd.DataFrame(
        [
            {"record_id": "r0", "title": "Trajectories of trauma symptoms in service members",
             "venue": "British Journal of Psychiatry",
             "abstract": "We followed a cohort of 5,000 soldiers from Texas for three years."},
            {"record_id": "r1", "title": "Working in partnership with service users",
             "venue": "British Journal of Healthcare Management"},
        ]
    )  # fmt: skip
    tags = tag(rows)
    found = tags[(tags.facet == "country") & (tags.score >= 0.5)]
    assert found[["record_id", "label"]].values.tolist() == [
        ["r0", "United States"],  # not also the United Kingdom from the journal's name
        ["r1", "United Kingdom"],  # the journal's nation when the text names none
    ]


def test_a_us_federally_qualified_health_centre_is_the_united_states() -> None:
    found = countries(
        "Patients at federally-qualified community health centers were randomly assigned.",
        "We recruited adults from six federally qualified health centers.",
    )
    assert found == [{"United States"}, {"United States"}]


def test_classifications_and_scores_named_after_a_place_or_nation_name_no_country() -> None:
    found = countries(
        "Diagnosis of acute pancreatitis was based on the revised Atlanta classification.",
        "Patients meeting the Rome III criteria for irritable bowel syndrome were enrolled.",
        "Length of stay rose with the Japanese severity score (P=0.03).",
        # a nation's guidelines still name it: studies of adherence are mostly done there
        "We audited adherence to the Dutch guidelines among 120 general practitioners.",
    )
    assert found == [set(), set(), set(), {"Netherlands"}]


def test_any_instrument_rule_or_declaration_named_after_a_place_names_no_country() -> None:
    # not listed one by one: a place followed by an eponym head of countries.yml
    # (directly or after a few capitalised words) is where the instrument comes from
    found = countries(
        "Cardiovascular risk was estimated with the Framingham risk score in 40 practices.",
        "Quality of life was assessed with total Nottingham Health Profile scores.",
        "Symptoms were rated weekly on the Bunney-Hamburg Rating Scale.",
        "Pain fell by 23% on the Arhus Index after six weeks of treatment.",
        "The Nuremberg Code and medical research",
        "Patients with ankylosing spondylitis by the modified New York criteria were enrolled.",
    )
    assert found == [set()] * 6


def test_a_place_followed_by_other_words_or_a_body_before_a_head_still_names_it() -> None:
    found = countries(
        # the place itself, then a verb or a comma: no instrument
        "Patients in Boston scored higher on every scale than those elsewhere.",
        "We recruited 40 practices in Leeds, scored by two raters.",
        # a health-system body is no instrument's birthplace ("NICE criteria")
        "Patients meeting NICE criteria were referred from 12 practices.",
        # a corpus named after a city is left to count (gold set 6's reading)
        "Emotions were classified in the Geneva Multimodal Emotion Portrayal corpus.",
    )
    assert found == [
        {"United States"},
        {"United Kingdom"},
        {"United Kingdom"},
        {"Switzerland"},
    ]


def test_an_ordinary_word_that_a_gazetteer_holds_as_a_city_names_no_country() -> None:
    # geonames has a city "Commonwealth" in the Philippines and Salem in India and the US
    found = countries(
        "Only three editors knew the Commonwealth guidelines for reporting suicide.",
        "Inpatients of the state hospital in Salem were followed for a year.",
    )
    assert found == [set(), set()]


def test_an_eponym_ends_at_a_sentence_a_heading_a_line_or_a_spaced_dash() -> None:
    # a review's finding: the words after a place were read across these boundaries
    found = countries(
        "Adults were surveyed in the U.K. Scores were higher in women.",
        "Adults were surveyed in the U.S. The Health Index fell by 3 points.",
        "SETTING Leeds MAIN OUTCOME MEASURES Scores on the anxiety scale.",
        "Patients were seen in England RESULTS Scores were high.",
        "Practices in Leeds\nRESULTS Scores rose.",
        "Data came from Germany - Questionnaire data were analysed.",
        # a place's own law holds there ("code" is no eponym head)
        "We studied how the Ohio Revised Code shapes involuntary treatment.",
    )
    assert found == [
        {"United Kingdom"},
        {"United States"},
        {"United Kingdom"},
        {"United Kingdom"},
        {"United Kingdom"},
        {"Germany"},
        {"United States"},
    ]


def test_a_title_in_title_case_reads_its_places_as_places() -> None:
    titles = ["Primary Care In Canada Scores Poorly On Access", "The Nuremberg Code and research"]
    assert countries(*titles, field="title") == [{"Canada"}, set()]
