"""The spaCy side: the cue ruler and ``synth_doc_labels_v1`` on our pipeline and on yours."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import spacy

from synth.tagging.codebook import load_codebook
from synth.tagging.pipeline import (
    CUE_SPANS_KEY,
    DOC_LABELS,
    SEGMENTS_KEY,
    TEXT_KEY,
    _clip,
    _sentence_bounds,
    build_nlp,
)

MINI = Path(__file__).resolve().parent.parent / "fixtures" / "tagging" / "mini_codebook.yml"


@pytest.fixture(scope="module")
def nlp() -> spacy.Language:
    return build_nlp(load_codebook(MINI))


def labels(doc: spacy.tokens.Doc) -> list[tuple[str, str, str, bool]]:
    return [(h["facet"], h["label"], h["match"], h["negated"]) for h in doc._.synth_labels]


def test_build_nlp_is_a_blank_english_pipeline_with_the_three_components(nlp) -> None:
    assert nlp.lang == "en"
    assert nlp.pipe_names == ["synth_cue_ruler_v1", "synth_sentence_roles_v1", DOC_LABELS]


def test_cue_gives_label_with_its_sentence(nlp) -> None:
    doc = nlp(
        "Background: services were redesigned. We used experience-based co-design (EBCD) "
        "with parents. Results were positive."
    )
    hits = doc._.synth_labels
    ebcd = [h for h in hits if h["label"] == "ebcd"]
    assert [h["match"] for h in ebcd] == ["experience-based co-design", "EBCD"]
    assert ebcd[0]["sentence"] == "We used experience-based co-design (EBCD) with parents."
    assert ebcd[0]["field"] == "abstract" and ebcd[0]["weight"] == 2.0
    assert ebcd[0]["cue"] == "experience-based co-design"


def test_nested_cue_of_the_same_facet_is_dropped(nlp) -> None:
    doc = nlp("We used experience-based co-design in New South Wales.")
    found = labels(doc)
    assert ("approach", "ebcd", "experience-based co-design", False) in found
    assert not any(label == "co-design" for _, label, _, _ in found)
    assert ("country", "australia", "New South Wales", False) in found
    assert not any(label == "uk" for _, label, _, _ in found)


@pytest.mark.parametrize(
    ("text", "label", "negated"),
    [
        ("The service was not co-designed.", "co-design", True),
        ("Excluding self-management, we studied wards.", "self-management", True),
        ("The plan was made without co-design by staff.", "co-design", True),
        ("A non-co-designed service.", "co-design", True),
        ("Not only co-design but also coaching.", "co-design", False),
        ("It was not funded, but co-design followed.", "co-design", False),
        ("No funding was needed. Co-design followed.", "co-design", False),
    ],
)
def test_negation(nlp, text: str, label: str, negated: bool) -> None:
    hit = next(h for h in nlp(text)._.synth_labels if h["label"] == label)
    assert hit["negated"] is negated
    assert (hit["weight"] < 0) is negated


def test_negative_cue_counts_against_its_label(nlp) -> None:
    doc = nlp("Self-management is not the focus of this paper.")
    hits = [h for h in doc._.synth_labels if h["label"] == "self-management"]
    assert [(h["cue"], h["weight"] < 0) for h in hits] == [
        ("self-management is not the focus", True)
    ]


def test_case_sensitive_cue(nlp) -> None:
    assert ("country", "usa", "US", False) in labels(nlp("Hospitals in the US."))
    assert not labels(nlp("This helped us a lot."))


def test_cue_limited_to_a_field(nlp) -> None:
    doc = nlp.make_doc("The BMJ published it.")
    doc.user_data[TEXT_KEY] = "The BMJ published it."
    doc.user_data[SEGMENTS_KEY] = [(0, len(doc.text), "abstract")]
    assert not labels(nlp(doc))
    doc = nlp.make_doc("BMJ Open")
    doc.user_data[SEGMENTS_KEY] = [(0, 8, "venue")]
    assert labels(nlp(doc)) == [("country", "uk", "BMJ", False)]


def test_segments_name_fields_and_bound_sentences(nlp) -> None:
    text = "Co-design in England\n\nWe interviewed staff in Wales"
    doc = nlp.make_doc(text)
    doc.user_data[TEXT_KEY] = text
    doc.user_data[SEGMENTS_KEY] = [(0, 20, "title"), (22, len(text), "abstract")]
    hits = {h["match"]: h for h in nlp(doc)._.synth_labels}
    assert hits["England"]["field"] == "title"
    assert hits["England"]["sentence"] == "Co-design in England"
    assert hits["England"]["weight"] == 3.0
    assert hits["Wales"]["field"] == "abstract"
    assert hits["Wales"]["sentence"] == "We interviewed staff in Wales"


def test_factory_runs_after_a_stock_span_ruler_in_your_own_pipeline() -> None:
    cb = load_codebook(MINI)
    mine = spacy.blank("en")
    mine.add_pipe("sentencizer")
    ruler = mine.add_pipe(
        "span_ruler", config={"spans_key": CUE_SPANS_KEY, "phrase_matcher_attr": "LOWER"}
    )
    ruler.add_patterns(cb.patterns())
    mine.add_pipe(DOC_LABELS, config={"codebook": str(MINI)})
    doc = mine("Wards were redesigned. The team did not use co-design in the UK!")
    found = {(h["label"], h["negated"], h["sentence"]) for h in doc._.synth_labels}
    assert found == {
        ("co-design", True, "The team did not use co-design in the UK!"),
        ("uk", False, "The team did not use co-design in the UK!"),
    }


def test_spans_are_written_for_displacy_and_friends() -> None:
    nlp = build_nlp(load_codebook(MINI), write_spans=True)
    doc = nlp("EBCD in Australia")
    assert [(s.text, s.label_) for s in doc.spans[CUE_SPANS_KEY]] == [
        ("EBCD", "approach/ebcd"),
        ("Australia", "country/australia"),
    ]
    quiet = build_nlp(load_codebook(MINI), write_spans=False)
    doc = quiet("EBCD in Australia")
    assert CUE_SPANS_KEY not in doc.spans
    assert [h["label"] for h in doc._.synth_labels] == ["ebcd", "australia"]


def test_pipeline_with_sentencizer_uses_its_sentences() -> None:
    nlp = build_nlp(load_codebook(MINI), sentencizer=True)
    doc = nlp("First part. Then co-design happened here.")
    assert [s.text for s in doc.sents] == ["First part.", "Then co-design happened here."]
    assert doc._.synth_labels[0]["sentence"] == "Then co-design happened here."


def test_empty_doc(nlp) -> None:
    assert nlp("")._.synth_labels == []


def test_sentence_bounds_skip_abbreviations() -> None:
    text = "Staff, e.g. nurses, took part. Then patients joined! Did it work? Yes."
    starts = _sentence_bounds(text, 0, len(text))
    sentences = [text[a:b].strip() for a, b in itertools.pairwise(starts)]
    assert sentences == [
        "Staff, e.g. nurses, took part.",
        "Then patients joined!",
        "Did it work?",
        "Yes.",
    ]


def test_long_sentences_are_cut_around_the_match() -> None:
    words = [f"w{i}" for i in range(200)]
    words[150] = "MATCH"
    sentence = " ".join(words)
    cut = _clip(sentence, 120, sentence.index("MATCH"))
    assert len(cut) <= 124 and "MATCH" in cut
    assert cut.startswith("… ") and cut.endswith(" …")
    assert _clip("  a\n  b  ", 100, 3) == "a b"
