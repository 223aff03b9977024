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
    assert ("r2", "leadership", "title", "cue", "senior manager*") in got
    assert ("r3", "facilitation", "extract", "cue", "power dynamic*") in got
    # "Patient leadership" is hidden by the negative phrase; the abstract's own
    # "Leadership from the board" still counts
    leadership_r1 = out[(out.record_id == "r1") & (out.theme_id == "leadership")]
    assert leadership_r1["field"].tolist() == ["abstract"]
    assert leadership_r1["text"].tolist() == ["Leadership from the board kept it going."]
    assert "r4" not in set(out.record_id)
    assert (out.loc[out.method == "cue", "score"] == 0.5).all()


def test_weights_and_min_score(codebook) -> None:
    records = pd.DataFrame({"record_id": ["a"], "title": ["Money and resources"]})
    out = assign_themes(records, pd.DataFrame(columns=["record_id", "text"]), codebook=codebook)
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
            "• Facilitation kept the momentum. •\n\n"
            "Smith J, Jones K (2019) Facilitation in practice. doi:10.1/x\n",
        }
    )
    passages = build_passages(records, None, fulltexts, codebook=codebook)
    ft = passages[passages.field == "fulltext"]["text"].tolist()
    assert "Methods A trained facilitator ran every session." in ft
    assert "Facilitation kept the momentum." in ft  # bullets stripped
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
