"""tag(): the output contract, evidence, scoring by field, negation, odd inputs, scale, KEI."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest

from synth.corpus.normalise import records_frame
from synth.tagging.codebook import load_codebook
from synth.tagging.tagger import EVIDENCE_KEYS, TAG_COLUMNS, tag

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "fixtures" / "tagging" / "mini_codebook.yml"
KEI = ROOT / "corpus" / "kei-2020"


@pytest.fixture(scope="module")
def mini():
    return load_codebook(MINI)


def records(*rows: dict) -> pd.DataFrame:
    out = []
    for i, row in enumerate(rows, start=1):
        out.append({"record_id": f"r{i}", "source_key": f"key{i}", **row})
    return records_frame(out)


def row_of(tags: pd.DataFrame, record_id: str, facet: str, label: str) -> pd.Series | None:
    hit = tags[(tags.record_id == record_id) & (tags.facet == facet) & (tags.label == label)]
    assert len(hit) <= 1
    return hit.iloc[0] if len(hit) else None


# -- contract -------------------------------------------------------------------------------


def test_output_contract(mini) -> None:
    recs = records(
        {
            "title": "Experience-based co-design in an English hospital",
            "pub_type": "journal-article",
        }
    )
    tags = tag(recs, codebook=mini)
    assert list(tags.columns) == TAG_COLUMNS
    assert set(tags.source) == {"rule"}
    assert set(tags.version) == {mini.tag_version}
    assert tags.score.between(0, 1).all() and tags.score.dtype == float
    for evidence in tags.evidence:
        assert isinstance(evidence, list) and evidence
        for item in evidence:
            assert tuple(item) == EVIDENCE_KEYS
    ebcd = row_of(tags, "r1", "approach", "ebcd")
    assert ebcd is not None
    assert ebcd.evidence == [
        {
            "field": "title",
            "sentence": "Experience-based co-design in an English hospital",
            "match": "Experience-based co-design",
            "cue": "experience-based co-design",
            "negated": False,
            "weight": 3.0,
        }
    ]


def test_empty_input_gives_empty_frame_with_columns(mini) -> None:
    tags = tag(records(), codebook=mini)
    assert list(tags.columns) == TAG_COLUMNS and tags.empty


def test_records_need_an_id(mini) -> None:
    with pytest.raises(ValueError, match="record_id"):
        tag(pd.DataFrame({"title": ["x"]}), codebook=mini)


# -- evidence and scores --------------------------------------------------------------------


def test_evidence_is_the_sentence_with_the_cue(mini) -> None:
    recs = records(
        {
            "title": "Improving care",
            "abstract": "Background: care was fragmented. We used trigger films with staff in "
            "Wales. Results: staff and patients agreed on priorities.",
        }
    )
    tags = tag(recs, codebook=mini)
    ebcd = row_of(tags, "r1", "approach", "ebcd")
    assert [e["sentence"] for e in ebcd.evidence] == ["We used trigger films with staff in Wales."]
    uk = row_of(tags, "r1", "country", "uk")
    assert uk.evidence[0]["match"] == "Wales" and uk.evidence[0]["field"] == "abstract"


def test_title_hit_outscores_a_passing_mention_in_a_full_text(mini) -> None:
    filler = "The ward team met weekly to review the audit data and the action plan. " * 400
    recs = records(
        {"title": "Co-design of a discharge service"},
        {"title": "Improving discharge"},
        {"title": "Improving discharge"},
    )
    fulltexts = pd.DataFrame(
        {
            "record_id": ["r2", "r3"],
            "text": [
                filler + "Co-design was mentioned once. " + filler,
                (filler + "Co-design again. ") * 50,  # fifty passing mentions
            ],
        }
    )
    tags = tag(recs, fulltexts=fulltexts, codebook=mini)
    title = row_of(tags, "r1", "approach", "co-design").score
    once = row_of(tags, "r2", "approach", "co-design").score
    often = row_of(tags, "r3", "approach", "co-design").score
    assert title > often > once > 0
    assert row_of(tags, "r3", "approach", "co-design").evidence[0]["field"] == "fulltext"


def test_more_evidence_scores_higher(mini) -> None:
    recs = records(
        {"abstract": "We used co-design."},
        {
            "title": "Co-design",
            "abstract": "We used co-design, and the co-designed service worked.",
        },
    )
    tags = tag(recs, codebook=mini)
    assert (
        row_of(tags, "r2", "approach", "co-design").score
        > row_of(tags, "r1", "approach", "co-design").score
    )


def test_negated_cue_counts_against(mini) -> None:
    recs = records(
        {"abstract": "The service was not co-designed."},
        {"title": "Co-design in primary care", "abstract": "Later stages were not co-designed."},
        {"title": "Co-design in primary care", "abstract": "Later stages were co-designed."},
        {"abstract": "We looked at care without self-management support."},
    )
    tags = tag(recs, codebook=mini)
    assert row_of(tags, "r1", "approach", "co-design") is None
    against = row_of(tags, "r2", "approach", "co-design")
    assert against.score < row_of(tags, "r3", "approach", "co-design").score
    assert any(e["negated"] and e["weight"] < 0 for e in against.evidence)
    assert row_of(tags, "r4", "approach", "self-management") is None


def test_multi_label_and_single_label_facets(mini) -> None:
    recs = records(
        {
            "title": "Experience-based co-design and co-design toolkit",
            "abstract": "Sites in England and in New South Wales, Australia took part.",
            "pub_type": "journal-article",
            "grey": True,
        }
    )
    tags = tag(recs, codebook=mini)
    countries = set(tags[tags.facet == "country"].label)
    assert countries == {"uk", "australia"}
    publication = tags[tags.facet == "publication"]
    assert len(publication) == 1  # single-label facet: the best label only
    assert publication.iloc[0].label == "grey"


def test_a_named_method_outranks_its_umbrella_label(mini) -> None:
    recs = records(
        {"title": "Experience-based co-design: a kind of co-design"},
        {"title": "Co-design of services", "abstract": "One unit also tried EBCD."},
    )
    tags = tag(recs, codebook=mini)
    assert set(tags[tags.record_id == "r1"].label) == {"ebcd"}
    assert {"ebcd", "co-design"} <= set(tags[tags.record_id == "r2"].label)


def test_metadata_tags_carry_metadata_evidence(mini) -> None:
    recs = records(
        {"title": "A study", "pub_type": "journal-article", "url": "https://www.nhs.uk/x"},
        {"title": "A study", "venue": "BMJ Open"},
    )
    tags = tag(recs, codebook=mini)
    journal = row_of(tags, "r1", "publication", "journal")
    assert journal.evidence[0]["field"] == "metadata"
    assert journal.evidence[0]["match"] == "journal-article"
    uk = row_of(tags, "r1", "country", "uk")
    assert uk.evidence[0]["field"] == "metadata" and uk.evidence[0]["match"] == "www.nhs.uk"
    venue = row_of(tags, "r2", "country", "uk")
    assert venue.evidence[0]["field"] == "venue" and venue.evidence[0]["match"] == "BMJ"


def test_keywords_and_extracts_are_fields(mini) -> None:
    recs = records({"title": "A study", "keywords": ["co-design", "nursing"]})
    extracts = pd.DataFrame(
        {"ref": ["key1"], "text": ["Staff in\nWales co-designed the\nservice."]}
    )
    tags = tag(recs, extracts=extracts, codebook=mini)
    codesign = row_of(tags, "r1", "approach", "co-design")
    fields = {e["field"]: e for e in codesign.evidence}
    assert fields["keywords"]["sentence"] == "co-design"
    assert fields["extract"]["sentence"] == "Staff in Wales co-designed the service."


def test_extracts_map_by_source_key_doi_or_record_id(mini) -> None:
    recs = records(
        {"title": "One", "source_key": "smith2019", "doi": "10.1000/abc"},
        {"title": "Two"},
    )
    extracts = pd.DataFrame(
        {
            "ref": ["Smith2019", "https://doi.org/10.1000/ABC", None, "nobody2000"],
            "record_id": [None, None, "r2", None],
            "text": ["Work in Wales.", "Work in Australia.", "We used EBCD.", "Lost in the US."],
        }
    )
    tags = tag(recs, extracts=extracts, codebook=mini)
    assert {"uk", "australia"} <= set(tags[tags.record_id == "r1"].label)
    assert row_of(tags, "r2", "approach", "ebcd") is not None
    assert "usa" not in set(tags.label)


# -- odd inputs -----------------------------------------------------------------------------


def test_empty_and_missing_text(mini) -> None:
    recs = records(
        {"title": None, "abstract": None},
        {"title": "", "abstract": "   "},
        {"title": float("nan"), "abstract": float("nan"), "keywords": []},
    )
    tags = tag(recs, codebook=mini)
    assert tags.empty


def test_missing_columns_are_fine(mini) -> None:
    tags = tag(pd.DataFrame({"record_id": ["a"], "title": ["EBCD in Wales"]}), codebook=mini)
    assert set(tags.label) == {"ebcd", "uk"}


def test_non_english_text_gives_few_tags_and_a_note(mini) -> None:
    spanish = (
        "Antecedentes: la coproducción de servicios de salud con pacientes y familias es cada "
        "vez más común en los hospitales. Métodos: realizamos entrevistas semiestructuradas con "
        "profesionales y usuarios durante dos años. Resultados: los participantes valoraron la "
        "colaboración y la confianza mutua entre todos."
    )
    english = (
        "Background: the co-design of services with patients and families is common in the "
        "hospitals of the region. Methods: we interviewed staff and service users over two "
        "years and analysed the data with the team."
    )
    recs = records({"abstract": spanish}, {"abstract": english}, {"title": "x", "language": "fre"})
    tags = tag(recs, codebook=mini)
    assert tags[tags.record_id == "r1"].empty
    notes = {n["record_id"]: n["note"] for n in tags.attrs["notes"]}
    assert set(notes) == {"r1", "r3"}
    assert "non-English" in notes["r1"] and "fre" in notes["r3"]


def test_a_hundred_page_full_text(mini) -> None:
    rng = random.Random(7)
    vocabulary = ["the", "patients", "staff", "ward", "service", "improvement", "team",
                  "meeting", "data", "audit", "care", "plan", "discharge", "nurses", "families",
                  "quality", "safety", "experience", "process", "change", "redesign"]  # fmt: skip
    sentences = []
    for i in range(20_000):  # ~300,000 words
        words = [rng.choice(vocabulary) for _ in range(15)]
        if i % 997 == 0:
            words[5:5] = ["experience-based", "co-design"]
        if i % 1499 == 0:
            words[3:3] = ["in", "England"]
        sentences.append(" ".join([words[0].capitalize(), *words[1:]]) + ".")
    text = "\n\n".join(" ".join(sentences[i : i + 8]) for i in range(0, len(sentences), 8))
    assert len(text.split()) > 290_000
    recs = records({"title": "A long report"})
    fulltexts = pd.DataFrame({"record_id": ["r1"], "text": [text]})
    tags = tag(recs, fulltexts=fulltexts, codebook=mini)
    ebcd = row_of(tags, "r1", "approach", "ebcd")
    assert ebcd is not None and 0 < ebcd.score < 0.5  # capped: full text alone stays modest
    assert len(ebcd.evidence) == mini.scoring.max_evidence
    assert all("experience-based co-design" in e["sentence"] for e in ebcd.evidence)
    assert row_of(tags, "r1", "country", "uk") is not None


def test_broken_line_hyphens_in_full_texts_are_joined(mini) -> None:
    recs = records({"title": "Report"})
    text = (
        "Staff and patients used co-\n\ndesign together. The improv-\ning service is in Wal-\nes."
    )
    tags = tag(recs, fulltexts=pd.DataFrame({"record_id": ["r1"], "text": [text]}), codebook=mini)
    codesign = row_of(tags, "r1", "approach", "co-design")
    assert codesign.evidence[0]["sentence"] == "Staff and patients used co-design together."
    wales = row_of(tags, "r1", "country", "uk").evidence[0]
    assert wales["sentence"] == "The improving service is in Wales."


# -- processes ------------------------------------------------------------------------------


def test_two_processes_give_the_same_tags_as_one() -> None:
    from synth.corpus.synthetic import generate_records

    recs, _ = generate_records(400, seed=3)
    one = tag(recs, n_process=1)
    two = tag(recs, n_process=2)
    assert len(one) > 400
    pd.testing.assert_frame_equal(one, two)


# -- the bundled KEI corpus -----------------------------------------------------------------


@pytest.fixture(scope="module")
def kei() -> tuple[pd.DataFrame, pd.DataFrame]:
    from synth.corpus import read
    from synth.review import load_review
    from synth.tagging.criteria import with_review_cues

    result = read(KEI)
    # the criterion facet is the review's criteria with their cues, as synth tag builds it
    codebook = with_review_cues(load_codebook(), load_review(KEI / "review.yml"))
    tags = tag(
        result.records, extracts=result.extracts, fulltexts=result.fulltexts, codebook=codebook
    )
    return result.records, tags


def kei_labels(kei, key: str, facet: str) -> set[str]:
    records, tags = kei
    ids = set(records.loc[records.source_key == key, "record_id"])
    assert ids, key
    return set(tags[tags.record_id.isin(ids) & (tags.facet == facet)].label)


def test_every_kei_record_gets_a_publication_tag_with_evidence(kei) -> None:
    records, tags = kei
    publication = tags[tags.facet == "publication"]
    assert set(publication.record_id) == set(records.record_id)
    assert publication.record_id.is_unique
    assert all(len(e) > 0 for e in publication.evidence)
    grey = set(records.loc[records.grey.fillna(False).astype(bool), "record_id"])
    assert set(publication[publication.label == "grey"].record_id) == grey


@pytest.mark.parametrize(
    ("key", "facet", "label"),
    [
        # "Improvements in neonatal care; using experience-based co-design"
        ("gustavsson2014", "setting", "paediatrics-maternity"),
        ("gustavsson2014", "approach", "ebcd"),
        # "... Using experience-based co-design ... in breast and lung cancer services"
        ("tsianakas2012", "approach", "ebcd"),
        ("tsianakas2012", "setting", "acute-care"),
        # "Co-production in mental health: A literature review"
        ("slay2013", "setting", "mental-health"),
        ("slay2013", "design", "review"),
        # "Engaging patients to improve quality of care: A systematic review"
        ("bombard2018", "design", "review"),
        # "Always Events® Toolkit"
        ("ihi2016", "approach", "always-events"),
        ("ihi2016", "design", "guideline-toolkit"),
        # "... quality improvement in Norway: Rhetoric or reality?"
        ("wiig2013", "country", "Norway"),
        # "... cystic fibrosis care in France"
        ("bertrand2018", "country", "France"),
        # N Z Med J
        ("boyd2012", "country", "New Zealand"),
        # Healthcare quarterly (Toronto, Ont.)
        ("canfield2018", "country", "Canada"),
        # "NHS England Always Events® program ..."
        ("marshall2019", "country", "United Kingdom"),
        ("marshall2019", "approach", "always-events"),
        # "... in UK primary care"
        ("litchfield2018", "setting", "primary-care"),
        ("litchfield2018", "country", "United Kingdom"),
        # "Position Paper: Are mainstream mental health services ready ..."
        ("ndti2016b", "design", "position-paper"),
        # "... a service user-led research project"
        ("curwen2019", "criterion", "research-only-coproduction"),
        # "Experience Based Design Guide and Tools ..."
        ("nhsi2009", "approach", "ebcd"),
    ],
)
def test_kei_facts_visible_in_titles_and_venues(kei, key: str, facet: str, label: str) -> None:
    assert label in kei_labels(kei, key, facet)


def test_kei_extract_evidence(kei) -> None:
    records, tags = kei
    ids = set(records.loc[records.source_key == "bombard2018", "record_id"])
    equal = tags[
        tags.record_id.isin(ids)
        & (tags.facet == "criterion")
        & (tags.label == "equal-relationship")
    ]
    assert len(equal) == 1
    evidence = equal.iloc[0].evidence
    assert {e["field"] for e in evidence} == {"extract"}
    assert {"mutual respect", "equal partnership"} <= {e["match"] for e in evidence}
    assert evidence[0]["sentence"].startswith("External facilitation catalysed receptive contexts")


def test_kei_full_text_book_is_tagged_from_its_text(kei) -> None:
    assert "book" in kei_labels(kei, "robert2022", "publication")
    assert {"co-design", "co-production", "ebcd"} <= kei_labels(kei, "robert2022", "approach")


# -- one record never takes the run down ----------------------------------------------------


def _long_abstract(n_chars: int) -> str:
    """Whole sentences past ``n_chars``: one cue in the middle, one in the last sentence."""
    filler = "Staff and patients met every week to review the audit data together. "
    n = n_chars // len(filler) + 2
    sentences = [filler] * n
    sentences[n // 2] = "The service is in England. "
    sentences[-1] = "Finally the team used experience-based co-design."
    return "".join(sentences)


def _small_corpus(n: int, *, at: int, abstract: str) -> pd.DataFrame:
    """``n`` short records about co-design in Wales; record ``r{at}`` gets ``abstract``."""
    rows = [
        {"title": f"Co-design of ward {i} in Wales", "abstract": "Nurses co-design care."}
        for i in range(1, n + 1)
    ]
    rows[at - 1] = {"title": "A very long report", "abstract": abstract}
    return records(*rows)


@pytest.mark.parametrize("n_process", [1, 2])
def test_a_record_over_a_million_characters_is_tagged_in_pieces(mini, n_process: int) -> None:
    """spaCy refuses a text over 1,000,000 characters (E088); the long record is tagged in
    pieces, with its evidence sentences and fields intact, and every other record too."""
    abstract = _long_abstract(1_200_000)
    assert len(abstract) > 1_200_000
    recs = _small_corpus(120, at=110, abstract=abstract)
    tags = tag(recs, codebook=mini, n_process=n_process)
    assert tags.attrs["failures"] == []
    ebcd = row_of(tags, "r110", "approach", "ebcd")
    assert ebcd is not None
    assert [e["sentence"] for e in ebcd.evidence] == [
        "Finally the team used experience-based co-design."
    ]
    assert ebcd.evidence[0]["field"] == "abstract"
    uk = row_of(tags, "r110", "country", "uk")
    assert uk is not None and uk.evidence[0]["sentence"] == "The service is in England."
    others = [f"r{i}" for i in range(1, 121) if i != 110]
    tagged = set(tags.loc[tags.facet == "approach", "record_id"])
    assert set(others) <= tagged
    assert row_of(tags, "r1", "country", "uk").evidence[0]["field"] == "title"


class _Unprintable:
    """A title that raises when tagging turns it into text (a record no code expected)."""

    def __str__(self) -> str:
        raise RuntimeError("this title cannot be read")


@pytest.mark.parametrize("n_process", [1, 2])
def test_a_record_that_raises_is_reported_and_the_rest_are_tagged(mini, n_process) -> None:
    recs = _small_corpus(120, at=1, abstract="Co-design.")
    recs["title"] = recs["title"].astype(object)
    for i in (7, 115):  # one in each of the two processes' spans
        recs.at[i - 1, "title"] = _Unprintable()
    tags = tag(recs, codebook=mini, n_process=n_process)
    failures = tags.attrs["failures"]
    assert [f["record_id"] for f in failures] == ["r7", "r115"]
    assert all("this title cannot be read" in f["error"] for f in failures)
    assert not tags.record_id.isin(["r7", "r115"]).any()
    others = {f"r{i}" for i in range(1, 121)} - {"r7", "r115"}
    assert set(tags.loc[tags.facet == "approach", "record_id"]) == others
