"""A facet's fallback label (synth.tagging.fallbacks): an abstract that names no method and
reports no figure argues, so its design is a position paper (labelling guideline,
``tests/fixtures/abstracts-gold/labelling-guideline.md`` section 5)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from synth.corpus.normalise import records_frame
from synth.tagging.codebook import CodebookError, load_codebook
from synth.tagging.fallbacks import FALLBACK_CUE, count_figures
from synth.tagging.tagger import tag

COMMENTARY = (
    "Hospitals across the country are being asked to involve patients in the redesign of "
    "their services, yet the language of partnership often hides who holds the power to "
    "decide. Staff are trained to listen, but the agenda, the budget and the timetable "
    "remain theirs. Patients and carers are invited late, to comment on plans already made. "
    "If co-design is to mean more than consultation, organisations must share the framing "
    "of the problem itself, and accept that the answer may not be the one they expected. "
    "Leaders have a particular responsibility here."
)


def _design_rows(title: str, abstract: str | None) -> list[tuple[str, float, list]]:
    row = {"record_id": "r1", "source_key": "k1", "title": title, "abstract": abstract}
    tags = tag(records_frame([row]))
    tags = tags[tags.facet == "design"]
    return [(r.label, r.score, r.evidence) for r in tags.itertuples()]


def test_an_abstract_with_no_method_and_no_figures_is_a_position_paper() -> None:
    rows = _design_rows("Who holds the pen in co-design?", COMMENTARY)
    assert [(label, score) for label, score, _ in rows] == [("position-paper", 0.5)]
    (ev,) = rows[0][2]
    assert ev["cue"] == FALLBACK_CUE
    assert ev["field"] == "abstract"
    assert "no design named" in ev["sentence"] and "no figures" in ev["sentence"]


def test_an_abstract_that_reports_a_few_figures_gets_no_fallback() -> None:
    # the same argument with a result in it reports data: no method named, no design guessed
    abstract = COMMENTARY + " Of 212 staff asked, 64% said patients joined after plans were set."
    assert _design_rows("Who holds the pen in co-design?", abstract) == []


def test_an_abstract_that_reports_figures_throughout_measured_something() -> None:
    abstract = (
        "All orders for inpatient drug levels during two 3-month periods were included. After "
        "the reminders were introduced, 13% of all tests ordered were cancelled. For orders "
        "that appeared redundant the cancellation rate was 27%, for the others 4%. The rate "
        "held after 4 years, and total testing volume fell by 19.5% since the change. Staff "
        "found the reminders helpful and asked for them to be kept on every ward."
    )
    rows = _design_rows("Reminders at order entry", abstract)
    assert [(label, score) for label, score, _ in rows] == [("quantitative", 0.5)]
    assert "reports 6 figure(s)" in rows[0][2][0]["sentence"]


def test_a_title_alone_gets_no_fallback() -> None:
    assert _design_rows("Who holds the pen in co-design?", None) == []
    assert _design_rows("Who holds the pen in co-design?", "Patients must share power.") == []


def test_a_named_method_wins_over_the_fallback() -> None:
    abstract = (
        "This systematic review asks how the language of partnership is used when hospitals "
        "involve patients in the redesign of services. We searched the literature on "
        "co-design and experience-based co-design in acute care and synthesised what "
        "authors report about power, framing and who decides the agenda, the budget and the "
        "timetable of the work, and what patients and carers are invited to comment on."
    )
    labels = [label for label, _, _ in _design_rows("Partnership in co-design", abstract)]
    assert labels == ["review"]


@pytest.mark.parametrize(
    ("text", "figures"),
    [
        ("Since the 1990s and again in 2004, reforms have asked for partnership.", 0),
        ("Audit and feedback is widely recognised.1 Reminders help too.2,3 Not always.", 0),
        ("Of 212 staff, 64% agreed (p = 0.03).", 3),
        ("Twelve wards took part over 18 months.", 1),
        ("COVID-19 changed how services met patients.", 0),
        ("As others found [1,2], and again [3-5], co-design helps [6].", 0),
    ],
)
def test_years_reference_marks_and_names_with_digits_are_not_figures(
    text: str, figures: int
) -> None:
    assert count_figures(text) == figures


_MINI = """\
version: '1'
name: t
facets:
  design:
    multi: false
    {fallback}
    labels:
      review:
        cues: [systematic review]
      position-paper:
        cues: [we argue]
"""


@pytest.mark.parametrize(
    ("fallback", "problem"),
    [
        ("fallback: {label: essay}", r"`label` must name a label of this facet, got 'essay'"),
        ("fallback: {label: review, score: 0}", r"`score` must be a score above 0"),
        ("fallback: {label: review, min_words: -1}", r"`min_words` must be a whole number"),
        ("fallback: {label: review, max_numbers: 1.5}", r"`max_numbers` must be a whole number"),
        ("fallback: {label: review, when: always}", r"when"),
        ("fallback: position-paper", r"must be a mapping with `label`"),
        ("fallback: [{label: review}, {label: essay}]", r"fallback 2: `label` must name"),
        ("fallback: {label: review, min_numbers: many}", r"`min_numbers` must be a whole"),
        ("fallback: {label: review, over_weaker_than: 0}", r"`over_weaker_than` must be a score"),
        ("fallback: {label: review, over_weaker_than: x}", r"`over_weaker_than` must be a score"),
    ],
)
def test_a_bad_fallback_is_a_clear_error(tmp_path: Path, fallback: str, problem: str) -> None:
    path = tmp_path / "codebook.yml"
    path.write_text(_MINI.format(fallback=fallback), encoding="utf-8")
    with pytest.raises(CodebookError, match=problem) as err:
        load_codebook(path)
    assert str(err.value).startswith(f"{path}: facet 'design'")


def test_the_fallback_is_the_codebooks(tmp_path: Path) -> None:
    # without a fallback in the codebook, the same commentary gets no design at all
    path = tmp_path / "codebook.yml"
    row = {"record_id": "r1", "source_key": "k1", "title": "Who decides?", "abstract": COMMENTARY}
    path.write_text(_MINI.format(fallback=""), encoding="utf-8")
    assert tag(records_frame([row]), codebook=load_codebook(path)).empty
    path.write_text(_MINI.format(fallback="fallback: {label: review}"), encoding="utf-8")
    tags = tag(records_frame([row]), codebook=load_codebook(path))
    assert tags[["facet", "label", "score"]].values.tolist() == [["design", "review", 0.5]]


def test_a_commentary_with_a_rights_notice_is_read_without_it() -> None:
    # the notice's year and words are no figures and no method: the fallback reads the
    # abstract the tagger reads, without its closing notice
    notice = " © 2010 The Authors. Published by Elsevier Ltd on behalf of 12 societies."
    rows = _design_rows("Who holds the pen in co-design?", COMMENTARY + notice)
    assert [(label, score) for label, score, _ in rows] == [("position-paper", 0.5)]


def _weak_review(tmp_path: Path, fallback: str, multi: bool = False) -> pd.DataFrame:
    # one passing "systematic review" (a cue of weight 0.5: about 0.37) and no figure
    mini = _MINI.replace(
        "cues: [systematic review]", "cues: [{{phrase: systematic review, weight: 0.5}}]"
    )
    if multi:
        mini = mini.replace("multi: false", "multi: true")
    abstract = COMMENTARY + " As a systematic review would show, they rarely do."
    row = {"record_id": "r1", "source_key": "k1", "title": "Who decides?", "abstract": abstract}
    path = tmp_path / "codebook.yml"
    path.write_text(mini.format(fallback=fallback), encoding="utf-8")
    tags = tag(records_frame([row]), codebook=load_codebook(path))
    return tags[tags.facet == "design"]


def test_a_fallback_is_read_over_weak_labels_only_where_the_codebook_says(
    tmp_path: Path,
) -> None:
    ((label, score),) = _weak_review(tmp_path, "")[["label", "score"]].values.tolist()
    assert label == "review" and score < 0.45  # found weakly, or this test is void
    for key, expected in (
        ("", ["review"]),  # the weak label stops a fallback without the key
        (", over_weaker_than: 0.45", ["position-paper"]),  # below the bound: it gives way
        (f", over_weaker_than: {score:.4f}", ["review"]),  # not below the bound: it stands
    ):
        design = _weak_review(tmp_path, f"fallback: {{label: position-paper, max_numbers: 0{key}}}")
        assert design["label"].tolist() == expected, key


def test_a_fallback_over_its_own_weak_label_raises_it_and_keeps_its_cues(tmp_path: Path) -> None:
    for multi in (False, True):
        design = _weak_review(
            tmp_path, "fallback: {label: review, max_numbers: 0, over_weaker_than: 0.45}", multi
        )
        # one row of the label (never a weak one and a fallback's beside it), at the
        # fallback's score, whose evidence gives the reason and then the weak cue
        assert design[["label", "score"]].values.tolist() == [["review", 0.5]], multi
        (evidence,) = design["evidence"]
        assert evidence[0]["cue"] == FALLBACK_CUE
        assert "systematic review" in {e["match"].lower() for e in evidence[1:]}


def test_a_fallback_above_the_counted_score_is_refused(tmp_path: Path) -> None:
    # a label counted (and read by conditions, which run before the fallback) never gives
    # way to a guess
    path = tmp_path / "codebook.yml"
    fallback = "fallback: {label: review, over_weaker_than: 0.6}"
    path.write_text(_MINI.format(fallback=fallback), encoding="utf-8")
    with pytest.raises(CodebookError, match=r"at most 0.5 \(the counted score\)"):
        load_codebook(path)


PROPOSAL = (
    "Control software often intertwines what a machine must do with how its parts are "
    "wired together, which makes it hard to verify and harder to reuse. This paper proposes "
    "an execution architecture that keeps the two apart: functions that change the state of "
    "the machine are written on their own, and the rules by which they interact are kept by "
    "an engine that checks them while the system runs. The architecture is illustrated with "
    "the controller of a conveyor, and its consequences for testing are discussed."
)


def test_a_weak_cue_of_the_fallbacks_own_label_does_not_stop_it() -> None:
    # "This paper proposes" says, weakly, what the fallback concludes from an abstract with
    # no method and no figure: the two agree, so the paper is a position paper, the weak
    # cue kept in the evidence after the fallback's reason
    rows = _design_rows("An execution architecture for control systems", PROPOSAL)
    assert [(label, score) for label, score, _ in rows] == [("position-paper", 0.5)]
    evidence = rows[0][2]
    assert evidence[0]["cue"] == FALLBACK_CUE
    # the reason says what was found (a reviewer reads it), not "no design named"
    assert evidence[0]["sentence"].startswith("no design named but position-paper, weakly,")
    assert "reports no figures" in evidence[0]["sentence"]
    assert "this paper proposes" in {e["match"].lower() for e in evidence[1:]}


def test_a_weak_cue_of_another_label_still_stops_the_fallback() -> None:
    # a weak hint of another design than the fallback's own ("a review of" is a weak review
    # cue) says the paper may be something else: no guess either way
    abstract = PROPOSAL.replace(
        "and its consequences for testing are discussed.",
        "and a review of similar architectures follows.",
    )
    rows = _design_rows("An execution architecture for control systems", abstract)
    assert [label for label, _, _ in rows] == ["review"]  # the weak row, this test's premise
    assert [label for label, score, _ in rows if score >= 0.5] == []
