"""Sentence roles (study / background / other) and a facet's ``counts_in``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import spacy

from synth.corpus.normalise import records_frame
from synth.tagging.codebook import CodebookError, load_codebook, parse_codebook
from synth.tagging.pipeline import SEGMENTS_KEY, TEXT_KEY, build_nlp
from synth.tagging.sentence_roles import (
    SentenceRolesError,
    load_sentence_roles,
    parse_sentence_roles,
)
from synth.tagging.tagger import tag

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "fixtures" / "tagging" / "mini_codebook.yml"
COUNTRY_HEAD = "  country:\n    definition: Country.\n"


def mini_with(counts_in: str) -> str:
    """The mini codebook's text with ``counts_in`` set on its country facet."""
    text = MINI.read_text("utf-8")
    assert COUNTRY_HEAD in text
    return text.replace(COUNTRY_HEAD, f"{COUNTRY_HEAD}    counts_in: {counts_in}\n")


@pytest.fixture(scope="module")
def nlp() -> spacy.Language:
    return build_nlp(load_codebook(MINI))


def roles(doc: spacy.tokens.Doc) -> dict[str, str]:
    """Matched text -> the role of its sentence."""
    return {h["match"]: h["role"] for h in doc._.synth_labels}


def records(*rows: dict) -> pd.DataFrame:
    return records_frame(
        [{"record_id": f"r{i}", "source_key": f"k{i}", **row} for i, row in enumerate(rows, 1)]
    )


def labels(tags: pd.DataFrame, facet: str) -> set[str]:
    return set(tags.loc[tags.facet == facet, "label"])


# -- roles ---------------------------------------------------------------------------------


def test_structured_abstract_heading_carries_to_the_sentences_after_it(nlp) -> None:
    doc = nlp(
        "BACKGROUND: Patient involvement is expected across the NHS. Few services in "
        "Australia have tried co-design. METHODS: Two mental health services in England "
        "took part. Staff and patients co-designed a new discharge plan. RESULTS: Services "
        "in Wales adopted the plan. CONCLUSIONS: The approach is feasible."
    )
    found = roles(doc)
    assert found["NHS"] == "background"
    assert found["Australia"] == "background"  # no marker: the heading above decides
    assert found["England"] == "study"
    assert found["co-designed"] == "study"
    assert found["Wales"] == "study"


def test_title_case_heading_with_a_colon_counts_and_a_word_in_a_sentence_does_not(nlp) -> None:
    doc = nlp(
        "Background: Co-design is widely promoted in England. Methods: Parents in Wales "
        "co-designed the service. Background noise on the ward in Australia was measured."
    )
    found = roles(doc)
    assert found["England"] == "background"
    assert found["Wales"] == "study"
    # "Background noise" starts a sentence but is no heading: the Methods section goes on
    assert found["Australia"] == "study"


def test_unstructured_abstract_roles_come_from_marker_phrases(nlp) -> None:
    doc = nlp(
        "Previous studies in the United States have shown that co-design improves services. "
        "We used experience-based co-design with parents in Wales. "
        "Hospitals in Australia were invited."
    )
    found = roles(doc)
    assert found["United States"] == "background"
    assert found["co-design"] == "background"
    assert found["experience-based co-design"] == "study"
    assert found["Wales"] == "study"
    assert found["Australia"] == "other"  # neither marker nor heading


def test_an_unstructured_abstracts_opening_before_its_first_study_sentence_is_opening(
    nlp,
) -> None:
    doc = nlp(
        "Co-design is promoted across Australia. Services in the United States rarely "
        "evaluate it. We worked with parents in Wales. Clinics in England joined later."
    )
    found = roles(doc)
    assert found["Australia"] == "opening"
    assert found["United States"] == "opening"
    assert found["Wales"] == "study"
    assert found["England"] == "other"  # after the first study sentence: undecided


def test_an_opening_sentence_that_reports_what_was_done_is_not_opening(nlp) -> None:
    doc = nlp(
        "Parents in Australia were invited to co-design the ward. "
        "We describe what changed in England."
    )
    assert roles(doc)["Australia"] == "other"  # "were": it reports the study


def test_anothers_study_and_the_present_time_are_not_the_papers_own(nlp) -> None:
    doc = nlp(
        "At the present time, co-design is rare in Australia. "
        "In the study by Smith, parents in England took part. "
        "This case study follows one ward in Wales."
    )
    found = roles(doc)
    assert found["Australia"] == "opening"
    assert found["England"] == "opening"
    assert found["Wales"] == "study"


def test_no_study_sentence_means_no_opening(nlp) -> None:
    doc = nlp("Co-design is promoted across Australia. Services in England rarely use it.")
    assert set(roles(doc).values()) == {"other"}


def test_a_heading_decides_before_the_opening_rule(nlp) -> None:
    doc = nlp("BACKGROUND: Co-design is common in Australia. METHODS: We recruited in Wales.")
    assert roles(doc)["Australia"] == "background"


def test_a_study_marker_outweighs_a_background_marker_in_one_sentence(nlp) -> None:
    doc = nlp("Unlike previous studies, we recruited parents in England.")
    assert roles(doc)["England"] == "study"


def test_title_keywords_and_extracts_are_the_papers_own(nlp) -> None:
    title = "Guidelines recommend co-design in Wales"
    extract = "Previous studies in England were cited."
    text = f"{title}\n\n{extract}"
    doc = nlp.make_doc(text)
    doc.user_data[TEXT_KEY] = text
    doc.user_data[SEGMENTS_KEY] = [(0, len(title), "title"), (len(title) + 2, len(text), "extract")]
    for _, proc in nlp.pipeline:
        doc = proc(doc)
    found = roles(doc)
    assert found["Wales"] == "study" and found["co-design"] == "study"
    assert found["England"] == "study"


# -- counts_in -----------------------------------------------------------------------------


ABSTRACT = (
    "Previous studies in Australia have shown that co-design improves services. "
    "We co-designed a discharge plan with parents in Wales."
)


def test_counts_in_keeps_a_facet_to_the_sentences_of_its_roles() -> None:
    cb = parse_codebook(mini_with("[study]"), source="mini-counts-in.yml")
    assert cb.facets["country"].counts_in == frozenset({"study"})
    tags = tag(records({"title": "Discharge planning", "abstract": ABSTRACT}), codebook=cb)
    assert labels(tags, "country") == {"uk"}  # Australia is only in a background sentence
    ev = tags.loc[tags.facet == "country", "evidence"].iloc[0]
    assert [e["match"] for e in ev] == ["Wales"]


def test_counts_in_default_leaves_facets_unchanged() -> None:
    rec = records({"title": "Discharge planning", "abstract": ABSTRACT})
    plain = tag(rec, codebook=load_codebook(MINI))
    limited = tag(rec, codebook=parse_codebook(mini_with("[study]"), source="mini.yml"))
    assert plain.facet.tolist().count("country") == 2
    assert labels(plain, "country") == {"uk", "australia"}  # no counts_in: every role counts
    cols = ["record_id", "facet", "label", "score"]
    # the approach facet sets no counts_in: its background co-design still counts, unchanged
    pd.testing.assert_frame_equal(
        plain.loc[plain.facet == "approach", cols].reset_index(drop=True),
        limited.loc[limited.facet == "approach", cols].reset_index(drop=True),
    )
    evidence = plain.loc[plain.facet == "approach", "evidence"].iloc[0]
    assert any(e["match"] == "co-design" for e in evidence)


def test_title_hits_count_whatever_the_facets_counts_in() -> None:
    cb = parse_codebook(mini_with("[background]"), source="mini.yml")
    tags = tag(records({"title": "Co-design in Wales", "abstract": ABSTRACT}), codebook=cb)
    assert labels(tags, "country") == {"uk", "australia"}
    uk = tags.loc[(tags.facet == "country") & (tags.label == "uk"), "evidence"].iloc[0]
    assert [e["field"] for e in uk] == ["title"]  # the abstract's study sentence does not


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("[methods]", "`counts_in` names 'methods', not a sentence role"),
        ("study", "`counts_in` must be a non-empty list"),
        ("[]", "`counts_in` must be a non-empty list"),
    ],
)
def test_a_bad_counts_in_is_a_clear_error_naming_the_file_and_facet(value, says) -> None:
    with pytest.raises(CodebookError) as err:
        parse_codebook(mini_with(value), source="my-codebook.yml")
    message = str(err.value)
    assert message.startswith("my-codebook.yml: facet 'country'")
    assert says in message


# -- the rules file ------------------------------------------------------------------------

GOOD = """
fields: {title: study}
headings: {background: [background]}
markers: {study: [we], background: [previous studies]}
"""


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (GOOD.replace("{study: [we]", "{results: [we]"), "markers.results: unknown role"),
        (GOOD.replace("{title: study}", "{title: methods}"), "fields.title: must be one of"),
        (GOOD.replace("{title: study}", "{summary: study}"), "fields.summary: unknown field"),
        (GOOD.replace("[background]}", "[]}"), "headings.background: must be a non-empty list"),
        (GOOD.replace("[we]", "[we, 3]"), "markers.study[2]: must be a phrase"),
        (GOOD + "roles: [study]\n", "roles: unknown key"),
        (GOOD + "before_study: opening\n", "before_study: must be a mapping"),
        (GOOD + "before_study: {role: first}\n", "before_study.role: must be one of"),
        (GOOD + "before_study: {role: opening, unless: was}\n", "before_study.unless: must be"),
        ("markers: [we\n", "YAML syntax error"),
    ],
)
def test_a_bad_sentence_roles_file_is_a_clear_error_naming_it(tmp_path, text, says) -> None:
    bad = tmp_path / "sentence_roles.yml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(SentenceRolesError) as err:
        load_sentence_roles(bad)
    assert str(err.value).startswith(str(bad))
    assert says in str(err.value)


def test_a_missing_sentence_roles_file_names_it(tmp_path) -> None:
    with pytest.raises(SentenceRolesError, match=r"nowhere\.yml: cannot read"):
        load_sentence_roles(tmp_path / "nowhere.yml")


def test_rules_given_as_text_are_used_by_the_pipeline() -> None:
    rules = parse_sentence_roles(GOOD)
    nlp = build_nlp(load_codebook(MINI), roles=rules)
    found = roles(nlp("Hospitals in England took part. We worked in Wales."))
    assert found == {"England": "other", "Wales": "study"}


def test_roles_after_a_stock_span_ruler() -> None:
    """Behind spaCy's own span_ruler (cue patterns only) the component matches the role
    phrases itself."""
    cb = load_codebook(MINI)
    nlp = spacy.blank("en")
    nlp.add_pipe("span_ruler", config={"spans_key": "synth_cues"}).add_patterns(cb.patterns())
    nlp.add_pipe("synth_sentence_roles_v1")
    nlp.add_pipe("synth_doc_labels_v1").use_codebook(cb)
    found = roles(nlp("Previous studies in England were small. We worked in Wales."))
    assert found == {"England": "background", "Wales": "study"}


def test_the_package_rules_load() -> None:
    rules = load_sentence_roles()
    assert rules.fields["title"] == "study"
    assert "we" in rules.markers["study"] and "methods" in rules.headings["study"]


def test_the_fields_that_always_count_come_from_the_rules_file() -> None:
    """The fields whose hits count whatever a facet's ``counts_in`` are those the file makes
    the paper's own throughout: one source, not a list in code beside it."""
    from synth.tagging import sentence_roles

    assert parse_sentence_roles(GOOD).paper_fields == {"title"}
    more = GOOD.replace("{title: study}", "{title: study, keywords: study, abstract: other}")
    assert parse_sentence_roles(more).paper_fields == {"title", "keywords"}
    package = load_sentence_roles()
    assert package.paper_fields == sentence_roles.ALWAYS_COUNT_FIELDS
    assert package.paper_fields == {f for f, role in package.fields.items() if role == "study"}
