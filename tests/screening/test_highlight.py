"""The record panel's HTML: corpus text is escaped, evidence and cues are marked in place."""

from __future__ import annotations

import pandas as pd

from synth.screening.highlight import Span, chips_html, evidence_spans, highlight, record_html

HOSTILE_TITLE = "<script>alert(1)</script> and <img src=x onerror=alert(1)>"

ABSTRACT = (
    "We used experience-based co-design with patients and staff in two wards. "
    "Patients & carers worked as equal partners. It was not a self-management programme."
)


def _tags(*rows: tuple[str, str, list[dict]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"record_id": "r1", "facet": f, "label": lab, "score": 0.9, "evidence": ev,
             "source": "rule", "version": "t"}
            for f, lab, ev in rows
        ]
    )  # fmt: skip


def _ev(field: str, sentence: str, match: str, negated: bool = False) -> dict:
    return {"field": field, "sentence": sentence, "match": match, "cue": match.lower(),
            "negated": negated, "weight": 1.0}  # fmt: skip


def test_hostile_title_and_abstract_are_escaped() -> None:
    record = {"title": HOSTILE_TITLE, "abstract": HOSTILE_TITLE, "authors": ["<b>Evil</b>, A"],
              "venue": "<iframe>", "year": 2020, "keywords": ["<svg onload=x>"]}  # fmt: skip
    out = record_html(record, style=False)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "&lt;img src=x onerror=alert(1)&gt;" in out
    for raw in ("<script", "<img", "<iframe", "<svg", "<b>Evil"):
        assert raw not in out


def test_hostile_evidence_and_tags_are_escaped() -> None:
    sentence = "Co-design <img src=x onerror=alert(1)> with patients."
    tags = _tags(("approach<script>", "ebcd\"'><x>", [_ev("fulltext", sentence, "Co-design")]))
    out = record_html({"title": "t", "abstract": None}, tags=tags, style=False)
    assert "<img" not in out and "<script" not in out and "<x>" not in out
    assert "&lt;img src=x onerror=alert(1)&gt;" in out
    assert "&lt;script&gt;" in out and "&quot;&#x27;&gt;&lt;x&gt;" in out


def test_cue_and_sentence_marked_in_the_abstract() -> None:
    sentence = "We used experience-based co-design with patients and staff in two wards."
    tags = _tags(("approach", "ebcd", [_ev("abstract", sentence, "experience-based co-design")]))
    out = record_html({"title": "A study", "abstract": ABSTRACT}, tags=tags, style=False)
    assert (
        '<mark class="synth-scr-cue synth-scr-ev" title="approach: ebcd · cue '
        '“experience-based co-design”">experience-based co-design</mark>'
    ) in out
    assert '<mark class="synth-scr-ev" title="approach: ebcd">We used </mark>' in out
    # the '&' in the abstract is escaped, outside and inside marks alike
    assert "Patients &amp; carers" in out


def test_criterion_cue_negated_and_case_insensitive() -> None:
    assessment = pd.DataFrame(
        [{"record_id": "r1", "criterion": "individual-benefit", "kind": "exclusion",
          "status": "not_met", "score": 0.0,
          "evidence": [_ev("abstract", "It was not a self-management programme.",
                           "SELF-MANAGEMENT", negated=True)]}]
    )  # fmt: skip
    out = record_html(
        {"title": "t", "abstract": ABSTRACT},
        assessment=assessment,
        criteria={"individual-benefit": "Activities for their own benefit"},
        style=False,
    )
    assert 'class="synth-scr-neg synth-scr-ev"' in out
    assert ">self-management</mark>" in out
    assert "✗ not met" in out and "Activities for their own benefit" in out


def test_truncated_sentence_still_found() -> None:
    spans = evidence_spans(ABSTRACT, [_ev("abstract", "… Patients & carers worked as", "carers")],
                           "setting: social-care")  # fmt: skip
    kinds = {s.kind for s in spans}
    assert kinds == {"ev", "cue"}
    cue = next(s for s in spans if s.kind == "cue")
    assert ABSTRACT[cue.start : cue.end] == "carers"


def test_overlapping_spans_split_into_pieces() -> None:
    text = "a <b> c"
    out = highlight(text, [Span(0, 5, "ev", "x"), Span(2, 7, "cue", "y")])
    assert out == (
        '<mark class="synth-scr-ev" title="x">a </mark>'
        '<mark class="synth-scr-cue synth-scr-ev" title="y">&lt;b&gt;</mark>'
        '<mark class="synth-scr-cue synth-scr-ev" title="y"> c</mark>'
    )


def test_evidence_beyond_the_abstract_listed_once() -> None:
    sentence = "Staff and patients co-designed the ward routines."
    tags = _tags(
        ("approach", "co-design", [_ev("fulltext", sentence, "co-designed")]),
        ("criterion", "partnership", [_ev("fulltext", sentence, "co-designed")]),
    )
    out = record_html({"title": "t"}, tags=tags, style=False)
    assert "Evidence beyond the abstract (1)" in out
    assert "approach: co-design, criterion: partnership" in out
    assert "No abstract in the record." in out


def test_chips_one_per_tag_with_reviewer_mark() -> None:
    tags = _tags(("country", "UK", []), ("country", "UK", []), ("setting", "acute", []))
    tags.loc[2, "source"] = "reviewer:ann"
    out = chips_html(tags)
    assert out.count('class="synth-scr-chip"') == 2
    assert "<b>setting</b>: acute ✓" in out


def test_year_criterion_and_doi_link() -> None:
    assessment = pd.DataFrame(
        [{"record_id": "r1", "criterion": "years", "kind": "inclusion", "status": "met",
          "score": 1.0, "evidence": {"field": "year", "year": 2014, "year_min": 2008,
                                     "year_max": 2020}}]
    )  # fmt: skip
    out = record_html({"title": "t", "doi": '10.1/x"><script>'}, assessment=assessment)
    assert "year 2014 in 2008–2020" in out
    assert 'href="https://doi.org/10.1/x%22%3E%3Cscript%3E"' in out
    assert "<script>" not in out
