"""synth.themes.assign: cues and similarity on a small hand-made corpus."""

from __future__ import annotations

import pandas as pd
import pytest

from synth.themes.assign import ASSIGN_COLUMNS, assign_themes, build_passages
from synth.themes.codebook import parse_theme_codebook

CODEBOOK = """
version: "t1"
scoring: {similarity_threshold: 0.3, min_cue_score: 0.3}
groups:
  org: Organisation
  poc: Point of care
themes:
  - id: leadership
    group: org
    heading: Senior leadership commitment
    definition: Board and senior managers sponsor the work and give it resources.
    cues: [leadership, senior manager*, {phrase: resources, weight: 0.5}]
    negative: [patient leadership]
  - id: facilitation
    group: poc
    heading: Facilitation and power dynamics
    definition: >-
      Facilitators manage group dynamics and the power imbalance between patients and
      clinicians.
    cues: [facilitat*, power dynamic*]
"""


@pytest.fixture
def codebook():
    return parse_theme_codebook(CODEBOOK, source="test.yml")


@pytest.fixture
def titled():
    """The codebook with titles counted as evidence (``title_evidence: 1``)."""
    return parse_theme_codebook(
        CODEBOOK.replace("min_cue_score: 0.3}", "min_cue_score: 0.3, title_evidence: 1}"),
        source="test.yml",
    )


@pytest.fixture
def records() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_id": ["r1", "r2", "r3", "r4"],
            "title": [
                "Patient leadership in service redesign",
                "Senior managers and co-design",
                "A trial of group work",
                "Senior managers and co-design",  # r4 duplicates r2
            ],
            "abstract": [
                "Patients led the project. Leadership from the board kept it going.",
                None,
                "Clinicians held more sway than patients, so a neutral chair balanced the group.",
                None,
            ],
            "group_id": ["r1", "g2", "r3", "g2"],
            "is_kept": pd.array([True, True, True, False], dtype="boolean"),
        }
    )


@pytest.fixture
def extracts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_id": ["r4", "r3"],
            "text": [
                "External facilitation created mutual respect between patients and staff.",
                "Power dynamics in the group shaped who spoke.",
            ],
            "section": ["anything", "anything"],
        }
    )


def test_cue_rows(codebook, records, extracts) -> None:
    out = assign_themes(records, extracts, codebook=codebook)
    assert list(out.columns) == ASSIGN_COLUMNS
    got = {(r.record_id, r.theme_id, r.field, r.method, r.cue) for r in out.itertuples()}
    # the duplicate r4's extract counts for its kept record r2
    assert ("r2", "facilitation", "extract", "cue", "facilitat*") in got
    assert not any(field == "title" for _, _, field, _, _ in got)  # a title alone is no evidence
    assert ("r3", "facilitation", "extract", "cue", "power dynamic*") in got
    # "Patient leadership" is hidden by the negative phrase; the abstract's own
    # "Leadership from the board" still counts
    leadership_r1 = out[(out.record_id == "r1") & (out.theme_id == "leadership")]
    assert leadership_r1["field"].tolist() == ["abstract"]
    assert leadership_r1["text"].tolist() == ["Leadership from the board kept it going."]
    assert "r4" not in set(out.record_id)
    assert (out.loc[out.method == "cue", "score"] == 0.5).all()


def test_titles_count_when_the_codebook_says_so(titled, records, extracts) -> None:
    out = assign_themes(records, extracts, codebook=titled)
    got = {(r.record_id, r.theme_id, r.field, r.method, r.cue) for r in out.itertuples()}
    assert ("r2", "leadership", "title", "cue", "senior manager*") in got


def test_weights_and_min_score(titled) -> None:
    records = pd.DataFrame({"record_id": ["a"], "title": ["Money and resources"]})
    out = assign_themes(records, pd.DataFrame(columns=["record_id", "text"]), codebook=titled)
    # one cue of weight 0.5 scores 1 - 0.5 ** 0.5 = 0.29, under min_cue_score 0.3
    assert out[out.method == "cue"].empty


def test_similarity_catches_passages_without_a_cue(codebook, records, extracts) -> None:
    extra = pd.DataFrame(
        {
            "record_id": ["r1"],
            "text": ["Clinicians and patients: the imbalance of power shaped group dynamics."],
        }
    )
    out = assign_themes(records, pd.concat([extracts, extra]), codebook=codebook)
    row = out[(out.record_id == "r1") & (out.theme_id == "facilitation")]
    assert row["method"].tolist() == ["similarity"]
    assert row["cue"].tolist() == [""]
    assert float(row["score"].iloc[0]) >= 0.3
    assert (out["similarity"].between(0, 1.0001)).all()


def test_fulltext_sentences_and_references(codebook, records) -> None:
    fulltexts = pd.DataFrame(
        {
            "record_id": ["r3"],
            "text": "Methods\n\nA trained\nfacilitator ran every\nsession.\n\n"
            "• Facilitation kept the momentum going for the whole year. •\n\n"
            "Smith J, Jones K (2019) Facilitation in practice. doi:10.1/x\n",
        }
    )
    passages = build_passages(records, None, fulltexts, codebook=codebook)
    ft = passages[passages.field == "fulltext"]["text"].tolist()
    assert "Methods A trained facilitator ran every session." in ft
    assert "Facilitation kept the momentum going for the whole year." in ft  # bullets stripped
    assert not any("doi" in t for t in ft)  # reference-list entries left out


def test_section_is_not_used(codebook, records, extracts) -> None:
    """The review's own section of an extract would leak the answer; it must not matter."""
    a = assign_themes(records, extracts, codebook=codebook)
    b = assign_themes(records, extracts.assign(section="Leadership"), codebook=codebook)
    pd.testing.assert_frame_equal(a, b)


def test_empty_inputs(codebook) -> None:
    records = pd.DataFrame({"record_id": pd.Series([], dtype=str), "title": []})
    out = assign_themes(records, pd.DataFrame(columns=["record_id", "text"]), codebook=codebook)
    assert out.empty and list(out.columns) == ASSIGN_COLUMNS


def test_one_best_theme_unless_a_clear_second(codebook) -> None:
    """A passage goes to its best theme; to a second one only when that scores nearly as
    well, and then both rows name the other theme (issue 15, point 5)."""
    records = pd.DataFrame({"record_id": ["a", "b"], "title": ["x", "y"]})
    extracts = pd.DataFrame(
        {
            "record_id": ["a", "b"],
            "text": [
                # two facilitation cues against one leadership cue: facilitation only
                "Leadership let facilitators manage the power dynamics of every meeting.",
                # one cue each: the passage serves both
                "Leadership and facilitation both mattered to the patients in the group.",
            ],
        }
    )
    out = assign_themes(records, extracts, codebook=codebook)
    a = out[out.record_id == "a"]
    assert a["theme_id"].tolist() == ["facilitation"] and a["also"].tolist() == [""]
    b = out[out.record_id == "b"].set_index("theme_id")["also"].to_dict()
    assert b == {"leadership": "facilitation", "facilitation": "leadership"}


def test_quality_filter_rejects_non_sentences(codebook, records) -> None:
    """Heading runs, figure labels, reference-list lines and fragments are no passages;
    the rules are data in the codebook (``quality``)."""
    text = (
        "Figure 3 Facilitation of the group by the senior managers of the trust.\n\n"
        "Facilitation And Leadership In The Redesign Of Services Today.\n\n"
        "Smith, J., Jones, K., Brown, A. Facilitation in practice for the group.\n\n"
        "and facilitation mattered to all of them.\n\n"
        "A trained facilitator ran every session with patients and staff together."
    )
    cb = parse_theme_codebook(
        CODEBOOK
        + """
quality:
  min_words: 6
  reject:
    - {pattern: '^(?i:fig(?:ure)?|table)\\s*[0-9]+', reason: figure label}
    - {pattern: '(?:[A-Z][a-z]+,\\s(?:[A-Z]\\.\\s?)+,?\\s*){2,}', reason: reference line}
    - {pattern: '^[a-z]', reason: fragment}
""",
        source="test.yml",
    )
    ft = pd.DataFrame({"record_id": ["r3"], "text": [text]})
    got = build_passages(records, None, ft, codebook=cb)
    assert got.loc[got.field == "fulltext", "text"].tolist() == [
        "A trained facilitator ran every session with patients and staff together."
    ]
    assert cb.quality.problem("Figure 3 Facilitation of the group by the senior managers.") == (
        "figure label"
    )


def test_bad_quality_rule_names_the_rule() -> None:
    from synth.themes.codebook import ThemeCodebookError

    bad = CODEBOOK + "\nquality:\n  reject:\n    - {pattern: '(', reason: broken}\n"
    with pytest.raises(ThemeCodebookError, match=r"test.yml: quality.reject 1: pattern"):
        parse_theme_codebook(bad, source="test.yml")


def test_a_paper_counts_under_its_main_themes(codebook) -> None:
    """A long text touching a theme once in passing is not counted under it."""
    records = pd.DataFrame({"record_id": ["g"], "title": ["A guide"]})
    body = " ".join(
        [
            f"Facilitators supported group number {i} through every session of the work."
            for i in range(6)
        ]
        + ["The board gave the leadership it needed for the whole of the programme."]
    )
    out = assign_themes(
        records, None, pd.DataFrame({"record_id": ["g"], "text": [body]}), codebook=codebook
    )
    assert set(out["theme_id"]) == {"facilitation"}
