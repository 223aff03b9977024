"""Themes on the bundled KEI corpus: coverage, recall of the review's own citations,
summaries, emergent topics and escaped HTML."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
import yaml

import synth.store as store
from synth.themes import (
    SUMMARY_COLUMNS,
    TOPIC_COLUMNS,
    assign_themes,
    emergent_topics,
    load_theme_codebook,
    render_theme_summary,
    render_topics,
    summarise_themes,
)
from synth.themes.evaluate import agreement, cited_pairs

ROOT = Path(__file__).resolve().parents[2]
KEI = ROOT / "corpus" / "kei-2020"
log = logging.getLogger(__name__)

#: the issue's targets for the (theme, paper) pairs against the review's own per-theme
#: citations (issue 15, point 5); the figures are computed by the pipeline, never typed in
MIN_RECALL = 0.9
MIN_PRECISION = 0.7
MIN_THEME_RECALL = 0.5


@pytest.fixture(scope="module")
def kei(kei_imported_db: Path) -> dict[str, pd.DataFrame]:
    """The session's imported KEI store, read (never written)."""
    con = store.connect(kei_imported_db)
    data = {
        "records": store.load_records(con, with_groups=True),
        "extracts": store.load_extracts(con),
        "fulltexts": store.load_fulltexts(con),
    }
    con.close()
    data["included"] = _included(data["records"])
    data["assignments"] = assign_themes(data["included"], data["extracts"], data["fulltexts"])
    return data


def _included(records: pd.DataFrame) -> pd.DataFrame:
    """The review's included papers (its published include file) with their duplicates:
    the records its report's thematic page covers; background documents are not among them."""
    review = yaml.safe_load((KEI / "review.yml").read_text("utf-8"))
    include = review["published_decisions"]["include_file"]
    groups = set(records.loc[records["source_file"].astype(str).str.endswith(include), "group_id"])
    return records[records["group_id"].isin(groups)].reset_index(drop=True)


def _cited(records: pd.DataFrame) -> dict[str, set[str]]:
    """theme id -> record ids of the papers the review cites for it (kept records)."""
    review = yaml.safe_load((KEI / "review.yml").read_text("utf-8"))
    kept = records[records["is_kept"].astype(bool)]
    by_key = dict(zip(kept["source_key"], kept["record_id"], strict=True))
    return {
        t["id"]: {by_key[k] for k in t["cited_refs"]} for g in review["themes"] for t in g["themes"]
    }


def test_every_theme_gets_papers(kei) -> None:
    a = kei["assignments"]
    n = a.groupby("theme_id")["record_id"].nunique()
    assert set(n.index) == set(load_theme_codebook().ids)
    assert (n >= 1).all(), n
    kept = set(kei["included"].loc[kei["included"]["is_kept"].astype(bool), "record_id"])
    assert set(a["record_id"]) <= kept
    assert set(a["field"]) <= {"extract", "abstract", "fulltext"}  # a title alone is no evidence
    assert set(a["method"]) == {"cue", "similarity"}


def test_precision_and_recall_against_the_review(kei) -> None:
    """Issue 15, point 5: the (theme, paper) pairs against the papers the review cites per
    theme, over every included paper: recall >= 0.9 and precision >= 0.7 (were about 0.9
    and 0.36 with every cue hit and similarity match kept)."""
    reference = cited_pairs(KEI / "review.yml", kei["included"])
    got = agreement(kei["assignments"], reference)
    log.info(
        "theme agreement: precision %.3f recall %.3f (false %s, missed %s)",
        got.precision, got.recall, sorted(got.false_pairs), sorted(got.missed_pairs),
    )  # fmt: skip
    assert got.recall >= MIN_RECALL, sorted(got.missed_pairs)
    assert got.precision >= MIN_PRECISION, sorted(got.false_pairs)


def test_recall_of_the_papers_the_review_cites(kei) -> None:
    a = kei["assignments"]
    found = total = 0
    per_theme = {}
    for theme, cited in _cited(kei["records"]).items():
        got = set(a.loc[a["theme_id"] == theme, "record_id"]) & cited
        per_theme[theme] = (len(got), len(cited))
        found += len(got)
        total += len(cited)
    log.info("recall per theme: %s", per_theme)
    assert found / total >= MIN_RECALL, per_theme
    for theme, (hit, n) in per_theme.items():
        assert hit / n >= MIN_THEME_RECALL, (theme, per_theme)


def test_summary(kei) -> None:
    records = kei["records"]
    key = dict(zip(records["source_key"], records["record_id"], strict=True))
    tags = pd.DataFrame(
        [
            (key["boaz2016"], "setting", "acute-care"),
            (key["bombard2018"], "setting", "multiple-mixed"),
            (key["boaz2016"], "approach", "ebcd"),
            (key["boaz2016"], "country", "United Kingdom"),  # not a facet summaries count
        ],
        columns=["record_id", "facet", "label"],
    )
    s = summarise_themes(kei["assignments"], records, tags, n_quotes=2)
    assert list(s.columns) == SUMMARY_COLUMNS
    assert s["theme_id"].tolist() == load_theme_codebook().ids
    assert s.attrs["codebook"].startswith("themes:")
    row = s.set_index("theme_id").loc["make-it-easy-to-contribute"]
    assert row["n_papers"] == len(row["record_ids"]) == len(row["citations"])
    assert row["settings"] == {"acute-care": 1, "multiple-mixed": 1}
    assert row["approaches"] == {"ebcd": 1}
    for r in s.itertuples():
        assert 0 < len(r.quotes) <= 2
        assert len({q["record_id"] for q in r.quotes}) == len(r.quotes)  # one per paper
        assert all(q["field"] != "title" for q in r.quotes)
        assert 1 <= len(r.summary_items) <= 3
        for item in r.summary_items:
            assert f"({item['citation']})" in r.summary
    # citations read like the review's
    quotes = s.set_index("theme_id").loc["value-all-forms-of-evidence", "quotes"]
    assert {"McNally et al. 2015", "Lord and Gale 2014"} & {q["citation"] for q in quotes}


def test_emergent_topics_are_deterministic(kei) -> None:
    args = (kei["records"], kei["extracts"], kei["fulltexts"])
    a = emergent_topics(*args, n_topics=5, n_terms=6, seed=3)
    b = emergent_topics(*args, n_topics=5, n_terms=6, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == TOPIC_COLUMNS
    assert len(a) == 5 and a["topic"].tolist() == [1, 2, 3, 4, 5]
    assert a["weight"].is_monotonic_decreasing
    assert a["weight"].sum() == pytest.approx(1.0)
    assert all(0 < len(t) <= 6 for t in a["top_terms"])
    assert all(p for p in a["papers"])
    assert a["in_codebook"].dtype == bool
    # something the codebook does not cover surfaces (the named approaches: EBCD, toolkits)
    assert not a["in_codebook"].all()


HOSTILE = "<script>alert('x')</script>"


def test_hostile_text_is_escaped() -> None:
    records = pd.DataFrame(
        {
            "record_id": ["h1", "h2"],
            "title": [f"Leadership {HOSTILE}", "<img src=x onerror=alert(1)> facilitation"],
            "authors": [["<b>Evil</b>, A."], ["Doe, J."]],
            "year": [2020, 2021],
        }
    )
    extracts = pd.DataFrame(
        {
            "record_id": ["h1"],
            "text": [f"Senior leadership gave co-production its resources. {HOSTILE}"],
        }
    )
    a = assign_themes(records, extracts)
    s = summarise_themes(a, records)
    html = render_theme_summary(s)
    assert "<script>" not in html and "<img" not in html and "<b>Evil" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "&lt;b&gt;Evil&lt;/b&gt;" in html
    topics = pd.DataFrame(
        [
            {"topic": 1, "top_terms": [HOSTILE], "papers": ["<i>P</i> 2020"], "record_ids": ["h1"],
             "weight": 1.0, "theme_id": "<x>", "theme_similarity": 0.0, "in_codebook": False},
        ]
    )  # fmt: skip
    t = render_topics(topics)
    assert "<script>" not in t and "<i>P" not in t and "<x>" not in t
    assert "not in the codebook" in t


def test_render_kei(kei) -> None:
    s = summarise_themes(kei["assignments"], kei["records"])
    html = render_theme_summary(s)
    for heading in s["group_heading"].unique():
        assert f"<h3>{heading}</h3>" in html
    assert html.count('<section class="theme"') == len(s)
    assert "Bombard et al. 2018" in html


# --- issue 15, point 5: a synthesis that covers the papers ---------------------------------


@pytest.fixture(scope="module")
def summary(kei) -> pd.DataFrame:
    return summarise_themes(kei["assignments"], kei["included"])


def test_quotes_are_spread_distinct_and_sentences(kei, summary) -> None:
    cb = load_theme_codebook()
    by_text: dict[str, list[tuple[str, str]]] = {}
    for r in summary.itertuples():
        papers = [q["record_id"] for q in r.quotes]
        assert len(r.quotes) <= 4
        # no paper supplies more than a quarter of a theme's quotes (one each with four)
        assert max(papers.count(p) for p in papers) <= max(1, len(papers) // 4), r.theme_id
        for q in r.quotes:
            by_text.setdefault(q["text"], []).append((r.theme_id, q["also"]))
            if q["field"] != "extract":  # the review's own extracts are kept as given
                assert cb.quality.problem(q["text"]) is None, q
    headings = {t.id: t.heading for t in cb.themes}
    for text, where in by_text.items():
        if len(where) > 1:  # under two themes only when it serves both, and says so
            assert len(where) == 2, (text, where)
            (t1, also1), (t2, also2) = where
            assert (also1, also2) == (headings[t2], headings[t1]), (text, where)
    # one guide no longer supplies most quotes
    sources = [q["record_id"] for r in summary.itertuples() for q in r.quotes]
    assert max(sources.count(s) for s in sources) / len(sources) <= 0.25


def test_summary_sentences_do_not_run_together(summary) -> None:
    from synth.themes.summarise import cite_sentence

    html = render_theme_summary(summary)
    for r in summary.itertuples():
        assert r.summary == " ".join(
            cite_sentence(i["text"], i["citation"]) for i in r.summary_items
        )
        for i in r.summary_items:
            # each sentence ends with its citation and a full stop before the next begins
            assert f"({i['citation']})." in r.summary
            assert f"(<cite>{i['citation']}</cite>)." in html.replace("&amp;", "&")


def test_coverage_table_lists_every_included_paper(kei, summary) -> None:
    from synth.themes import coverage_table, render_coverage
    from synth.themes.coverage import NO_TEXT

    cov = coverage_table(kei["assignments"], kei["included"], kei["extracts"], kei["fulltexts"])
    kept = kei["included"][kei["included"]["is_kept"].astype(bool)]
    assert cov["record_id"].tolist() == kept["record_id"].tolist()  # 64 papers, none hidden
    assert len(cov) == 64
    assigned = set(kei["assignments"]["record_id"])
    for r in cov.itertuples():
        assert bool(r.themes) == (r.record_id in assigned)
        assert r.status.startswith("in ") if r.themes else r.status.startswith("no theme")
    # papers the review only lists by title are in no theme, and the table says why
    assert (cov["status"] == NO_TEXT).sum() > 0
    # a theme's papers and the coverage table agree
    for s in summary.itertuples():
        in_theme = {r.record_id for r in cov.itertuples() if s.heading in r.themes}
        assert in_theme == set(s.record_ids), s.theme_id
    html = render_coverage(cov)
    none = int((cov["themes"].map(len) == 0).sum())
    assert (
        f"{64 - none} of 64 included papers are in at least one theme; {none} are in none" in html
    )


def test_findings_per_review_question(kei) -> None:
    from synth.themes import findings_by_question, render_questions

    questions = yaml.safe_load((KEI / "review.yml").read_text("utf-8"))["questions"]
    f = findings_by_question(questions, kei["assignments"], kei["included"])
    assert f["question"].drop_duplicates().tolist() == questions  # every question, in order
    a = kei["assignments"]
    for r in f.itertuples():
        assert r.theme_id, r.question  # the bundled review's questions each reach a theme
        assert set(r.record_ids) == set(a.loc[a["theme_id"] == r.theme_id, "record_id"])
        assert r.evidence in set(a.loc[a["theme_id"] == r.theme_id, "text"])
    success = f[f["question"] == "What makes co-production successful?"]
    assert (success["link"].str.startswith("cue:")).sum() >= 3
    html = render_questions(f)
    assert html.count("<h4>") == len(questions)


def test_what_the_evidence_does_not_cover_is_derived(kei, summary) -> None:
    from synth.themes import coverage_table, evidence_gaps, render_gaps

    cov = coverage_table(kei["assignments"], kei["included"], kei["extracts"], kei["fulltexts"])
    records = kei["included"]
    designs = {"qualitative": 2, "review": 1, "(not tagged)": 61}
    g = evidence_gaps(summary, cov, records, kei["extracts"], kei["fulltexts"], designs=designs)
    few = load_theme_codebook().scoring.few_papers
    assert g["thin_themes"] == [
        (r.heading, r.n_papers) for r in summary.itertuples() if r.n_papers < few
    ]
    assert g["designs"] == designs
    assert 0 < g["outcomes"] <= g["with_text"] and g["with_text"] + g["title_only"] == 64
    html = render_gaps(g)
    assert f"{g['outcomes']} of the {g['with_text']} papers" in html
    assert "evidence map" in html
