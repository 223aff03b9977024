"""synth.review: the review definition is read in one place and validated on load."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml

from synth.review import (
    NO_REVIEW_NOTE,
    SOURCE_KINDS,
    STAGES,
    empty_review,
    find_review,
    load_review,
    review_for,
)

ROOT = Path(__file__).resolve().parents[1]
KEI = ROOT / "corpus" / "kei-2020"

MINIMAL = {
    "id": "mini",
    "inclusion_criteria": [
        {"id": "adults", "text": "Adults", "cues": ["adult", "adults"]},
        {"id": "years", "text": "2010 on", "year_min": 2010},
    ],
    "exclusion_criteria": [{"id": "children", "text": "Children only"}],
}


def _write(tmp_path: Path, data: object, name: str = "review.yml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data, "utf-8")
    return path


def test_bundled_review_loads() -> None:
    review = load_review(KEI / "review.yml")
    assert review.path == KEI / "review.yml"
    assert review.id == "kei-2020"
    assert len(review.questions) == 4
    assert [c.id for c in review.inclusion_criteria][-1] == "years"
    years = review.criterion("years")
    assert years is not None and years.is_years and (years.year_min, years.year_max) == (2008, 2020)
    assert review.criterion("individual-benefit").kind == "exclusion"
    assert review.exclusion_general is not None
    assert review.exclusion_general.id == "unclear-coproduction"
    assert review.stated_figures["papers_included"] == 64
    assert review.published_decisions["include_file"] == "references.bib"
    assert review.has_criteria


def test_empty_review_is_the_no_file_case() -> None:
    review = empty_review()
    assert review.path is None and review.id is None and not review.has_criteria
    assert review.reported_stages == STAGES
    assert review.published_decisions is None and review.out_of_scope == {}
    assert review_for(None) == review
    assert "review.yml" in NO_REVIEW_NOTE


def test_new_keys_and_defaults(tmp_path: Path) -> None:
    data = dict(
        MINIMAL,
        reported_stages=["full_text"],
        published_decisions={"reviewer": "Author", "include_file": "refs.bib"},
        sources={"refs.bib": "database", "handsearch/*": "other_methods", "bg/*.md": "background"},
        scope={
            "out_of_scope": {"approach:self-management": "children"},
            "hidden": ["setting:community"],
        },
    )
    review = review_for(_write(tmp_path, data))
    assert review.reported_stages == ("full_text",)
    # published decisions default to the stages the review reports
    assert review.published_decisions["stages"] == ["full_text"]
    assert review.out_of_scope == {"approach:self-management": "children"}
    assert review.hidden_labels == ("setting:community",)
    assert review.criterion("adults").cues == ("adult", "adults")
    corpus = tmp_path
    assert review.source_kind(str(corpus / "refs.bib"), corpus) == "database"
    assert review.source_kind(str(corpus / "handsearch" / "a" / "x.ris"), corpus) == "other_methods"
    assert review.source_kind(str(corpus / "bg" / "notes.md"), corpus) == "background"
    # unlisted: reference exports are database records, Markdown full texts/extracts are not
    assert review.source_kind(str(corpus / "other.ris"), corpus) == "database"
    assert review.source_kind(str(corpus / "fulltexts" / "paper.md"), corpus) == "background"
    assert review.source_kind("refs.bib") == "database"
    assert set(review.sources.values()) <= set(SOURCE_KINDS)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"inclusion_criteria": [{"id": "a"}, {"id": "b"}, {"text": "no id"}]},
            r"inclusion_criteria\[2\]\.id: missing",
        ),
        ({"inclusion_critera": []}, r"inclusion_critera: unknown key"),
        ({"exclusion_criteria": "none"}, r"exclusion_criteria: expected a list"),
        (
            {"exclusion_criteria": [{"id": "x", "weight": 2}]},
            r"exclusion_criteria\[0\]\.weight: unknown key",
        ),
        (
            {"inclusion_criteria": [{"id": "y", "year_min": "2010"}]},
            r"inclusion_criteria\[0\]\.year_min: expected a whole number",
        ),
        ({"exclusion_criteria": [{"id": "adults"}]}, r"criterion id 'adults' is used twice"),
        ({"reported_stages": ["abstract"]}, r"reported_stages\[0\]: 'abstract' is not a stage"),
        ({"reported_stages": []}, r"reported_stages: name at least one stage"),
        ({"sources": {"refs.bib": "pubmed"}}, r"sources\.refs\.bib: 'pubmed' is not a source kind"),
        (
            {"scope": {"out_of_scope": {"approach:sdm": "adults"}}},
            r"scope\.out_of_scope\.approach:sdm: 'adults' is not an exclusion criterion",
        ),
        (
            {"scope": {"out_of_scope": {"self-management": "children"}}},
            r"scope\.out_of_scope\.self-management: .* write facet:label",
        ),
        ({"scope": {"hidden": "setting:community"}}, r"scope\.hidden: expected a list"),
        ({"scope": {"outside": []}}, r"scope\.outside: unknown key"),
        (
            {"published_decisions": {"include_file": "refs.bib"}},
            r"published_decisions\.reviewer: missing",
        ),
        (
            {
                "reported_stages": ["full_text"],
                "published_decisions": {
                    "reviewer": "A",
                    "include_file": "r.bib",
                    "stages": ["title_abstract"],
                },
            },
            r"published_decisions\.stages: 'title_abstract' is not a stage the review reports",
        ),
        ({"questions": "one question"}, r"questions: expected a list"),
        ({"year": "2020"}, r"year: expected a whole number"),
        ({"report": ["db"]}, r"report: expected a mapping"),
    ],
)
def test_bad_definitions_name_file_and_key(tmp_path: Path, change: dict, message: str) -> None:
    path = _write(tmp_path, {**MINIMAL, **change})
    with pytest.raises(ValueError, match=message) as info:
        load_review(path)
    assert str(info.value).startswith(f"{path}: ")


def test_unreadable_or_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the review definition"):
        load_review(_write(tmp_path, "a: [unclosed\n"))
    with pytest.raises(ValueError, match="expected a mapping"):
        load_review(_write(tmp_path, "- a list\n"))
    with pytest.raises(ValueError, match="cannot read"):
        load_review(tmp_path / "missing.yml")
    # an empty file is an empty (valid) definition
    assert not load_review(_write(tmp_path, "")).has_criteria


def test_find_review_beside_or_above_imported_files(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "refs").mkdir(parents=True)
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE sources (path TEXT)")
    con.execute("INSERT INTO sources VALUES (?)", (str(corpus / "refs" / "a.ris"),))
    assert find_review(con) is None
    _write(corpus, MINIMAL)
    assert find_review(con) == (corpus / "review.yml").resolve()


# -- criterion cues ---------------------------------------------------------------------------


def test_criterion_cues_take_the_codebooks_forms(tmp_path: Path) -> None:
    data = {
        "inclusion_criteria": [
            {
                "id": "primary-care",
                "text": "Studies in primary care",
                "cues": {
                    "phrases": ["general practice", {"phrase": "GP", "case": True, "weight": 0.7}],
                    "negative": [{"phrase": "emergency department", "fields": ["abstract"]}],
                },
            },
            {"id": "adults", "text": "Adults", "cues": ["adults"]},
        ]
    }
    review = load_review(_write(tmp_path, data))
    primary = review.criterion("primary-care")
    assert primary.cues == ("general practice", {"phrase": "GP", "case": True, "weight": 0.7})
    assert primary.negative == ({"phrase": "emergency department", "fields": ["abstract"]},)
    assert review.criterion("adults").cues == ("adults",) and review.criterion("adults").has_cues


@pytest.mark.parametrize(
    ("cues", "problem"),
    [
        ({"phrases": ["x"], "terms": ["y"]}, "cues.terms: unknown key; known: phrases, negative"),
        ([{"phrase": "x", "weight": -1}], "cues[0], weight: must be >= 0, got -1"),
        ([{"phrase": "x", "fields": ["venu"]}], "cues[0]: unknown field 'venu'"),
        ([{"phrase": "x", "colour": "red"}], "cues[0]: unknown key 'colour'"),
        ([{"weight": 2}], "cues[0]: a cue must be a phrase (string) or a mapping with `phrase`"),
        (
            ["ok", True],
            "cues[1]: a cue must be a phrase (string) or a mapping with `phrase`, "
            "got True (quote yes/no",
        ),
        ({"negative": ["hospital"]}, "negative terms need at least one phrase"),
        ("primary care", "expected a list of phrases or a mapping with phrases/negative"),
    ],
)
def test_a_bad_cue_names_the_file_and_the_criterion(tmp_path: Path, cues, problem) -> None:
    data = {"exclusion_criteria": [{"id": "secondary-care", "text": "Hospitals", "cues": cues}]}
    path = _write(tmp_path, data)
    with pytest.raises(ValueError) as info:
        load_review(path)
    message = str(info.value)
    assert message.startswith(f"{path}: exclusion_criteria[0] (secondary-care).cues")
    assert problem in message
