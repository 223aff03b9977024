"""A corpus the theme codebook does not fit (issue 15, point 5): the page says so plainly
and leads with emergent topics named by their distinctive terms."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import synth.store as store
from synth.themes import (
    assign_themes,
    codebook_fit,
    coverage_table,
    emergent_topics,
    render_fit,
    render_topics,
)
from synth.themes.coverage import NO_SUBJECT


def _synthetic() -> pd.DataFrame:
    """Three topics; "hospital" is in half the papers of every topic, many times over."""
    words = {
        "d": "insulin glucose diabetes metformin",
        "a": "asthma inhaler lung bronchial",
        "f": "fracture bone orthopaedic cast",
    }
    rows = []
    for key, text in words.items():
        for i in range(8):
            common = " hospital" * 30 if i % 2 else ""
            rows.append((f"{key}{i}", f"Study {i} of {text}", f"{text} {text}{common} ward {i}."))
    return pd.DataFrame(rows, columns=["record_id", "title", "abstract"])


def test_topics_are_named_by_distinctive_terms() -> None:
    topics = emergent_topics(_synthetic(), n_topics=3, n_terms=4, seed=0)
    assert len(topics) == 3
    for t in topics.itertuples():
        assert "hospital" not in t.top_terms, t.top_terms  # shared by every topic
        assert t.label == ", ".join(t.top_terms[:3])
    labels = [set(t.top_terms) for t in topics.itertuples()]
    assert all(not (a & b) for i, a in enumerate(labels) for b in labels[i + 1 :])
    # each topic is named by its own words
    assert {frozenset(x) for x in labels} == {
        frozenset(w.split()) for w in ("insulin glucose diabetes metformin",
        "asthma inhaler lung bronchial", "fracture bone orthopaedic cast")
    }  # fmt: skip


@pytest.mark.peer
def test_real_exports_on_another_topic(peer_data: Path, tmp_path: Path) -> None:
    """Drug-class trials (Cohen 2006, ADHD): the co-production codebook does not fit."""
    con = store.connect(tmp_path / "adhd.sqlite")
    store.import_paths(con, [peer_data / "screening" / "cohen2006_ADHD.csv"])
    records = store.load_records(con, with_groups=True)
    extracts, fulltexts = store.load_extracts(con), store.load_fulltexts(con)
    con.close()
    a = assign_themes(records, extracts, fulltexts)
    cov = coverage_table(a, records, extracts, fulltexts)
    fit = codebook_fit(cov)
    assert fit.with_text > 500 and fit.share < 0.3 and not fit.fits
    # the papers left out say why, and none is hidden
    assert len(cov) == int(records["is_kept"].astype(bool).sum())
    assert (cov["status"] == NO_SUBJECT).sum() > 500
    html = render_fit(fit)
    assert "does not fit this corpus" in html and "emergent topics" in html
    topics = emergent_topics(records, extracts, fulltexts, n_topics=10)
    assert len(topics) == 10
    terms = [w for t in topics["top_terms"] for w in t]
    # no word names two topics (before: "risperidone", "clonidine", "disorder", ... did)
    assert len(terms) == len(set(terms)), sorted(w for w in set(terms) if terms.count(w) > 1)
    assert topics["label"].is_unique
    assert "Topic (named by its distinctive terms)" in render_topics(topics)
