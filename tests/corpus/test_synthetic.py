"""The synthetic-records generator: canonical records, realistic variety, planted pairs."""

from __future__ import annotations

import re
from collections import Counter

import pandas as pd
import pytest

from synth.corpus.dedupe import normalise_title
from synth.corpus.model import RECORD_COLUMNS
from synth.corpus.synthetic import generate_records


@pytest.fixture(scope="module")
def sample() -> tuple[pd.DataFrame, set[frozenset[str]]]:
    return generate_records(4000, dup_rate=0.05, seed=3)


def test_canonical_columns_and_types(sample: tuple[pd.DataFrame, set]) -> None:
    records, _ = sample
    assert list(records.columns) == RECORD_COLUMNS
    assert len(records) == 4000
    assert records["record_id"].is_unique
    assert str(records["year"].dtype) == "Int64"
    assert all(isinstance(a, list) for a in records["authors"])
    assert all(isinstance(k, list) for k in records["keywords"])
    assert records["source_file"].notna().all() and records["position"].notna().all()


def test_same_seed_same_records() -> None:
    a, pa = generate_records(300, seed=11)
    b, pb = generate_records(300, seed=11)
    c, _ = generate_records(300, seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert pa == pb
    assert not a["title"].equals(c["title"])


def test_realistic_fields(sample: tuple[pd.DataFrame, set]) -> None:
    records, _ = sample
    years = records["year"].dropna()
    assert years.between(1989, 2025).all()  # 1990-2024, online-first copies one off
    n_authors = records["authors"].map(len)
    assert n_authors.min() >= 1 and n_authors.max() <= 12
    assert 0.6 < records["doi"].notna().mean() < 0.8
    words = records["abstract"].dropna().str.split().map(len)
    assert 150 <= words.median() <= 250
    assert any(not a.isascii() for names in records["authors"] for a in names)  # accents
    vocabulary = " ".join(records["title"].str.lower())
    for phrase in ("co-production", "quality improvement", "primary care", "patient experience"):
        assert phrase in vocabulary


def test_abstracts_have_an_open_vocabulary(sample: tuple[pd.DataFrame, set]) -> None:
    """Like real abstracts (peer screening sets: ~12 distinct words per record, half of
    them seen once, ~4% of tokens with a digit), not a few hundred template words, which
    a tokenizer answers from its cache and a benchmark would flatter."""
    records, _ = sample
    originals = records["abstract"].dropna().drop_duplicates()
    words = [w.lower() for text in originals for w in text.split()]
    counts = Counter(words)
    once = sum(1 for c in counts.values() if c == 1)
    assert len(counts) / len(originals) > 5
    assert once / len(counts) > 0.4
    with_digit = sum(1 for w in words if any(ch.isdigit() for ch in w))
    assert 0.01 < with_digit / len(words) < 0.1


def test_detail_numbers_agree() -> None:
    """A subgroup is no larger than its group; a confidence interval holds its estimate."""
    records, _ = generate_records(2000, dup_rate=0.0, hard_rate=0.0, seed=4)
    text = " ".join(records["abstract"].dropna())
    took_part = re.findall(r"Of (\d+) eligible people, (\d+) \(", text)
    ci = re.findall(r"changed by (-?[\d.]+) points \(95% CI (-?[\d.]+) to (-?[\d.]+);", text)
    assert len(took_part) > 50 and len(ci) > 50
    assert all(int(b) <= int(a) for a, b in took_part)
    assert all(float(lo) <= float(est) <= float(hi) for est, lo, hi in ci)


def test_planted_pairs_are_real_record_pairs(sample: tuple[pd.DataFrame, set]) -> None:
    records, planted = sample
    ids = set(records["record_id"])
    assert all(len(p) == 2 and p <= ids for p in planted)
    in_pairs = {r for p in planted for r in p}
    assert 0.08 < len(in_pairs) / len(records) < 0.12  # 5% copies and their originals


def test_duplicates_look_like_real_exports(sample: tuple[pd.DataFrame, set]) -> None:
    records, planted = sample
    rec = records.set_index("record_id")
    kinds = {"same title": 0, "title differs": 0, "doi form": 0, "year apart": 0, "initials": 0}
    for a, b in (sorted(p) for p in planted):
        x, y = rec.loc[a], rec.loc[b]
        if x.title == y.title:
            kinds["same title"] += 1
        else:
            kinds["title differs"] += 1
        if isinstance(x.doi, str) and isinstance(y.doi, str) and x.doi != y.doi:
            kinds["doi form"] += 1  # "https://doi.org/..." or upper case on one side
        if pd.notna(x.year) and pd.notna(y.year) and x.year != y.year:
            kinds["year apart"] += 1
        if x.authors[:1] != y.authors[:1]:
            kinds["initials"] += 1
    assert all(count > 0 for count in kinds.values()), kinds


def test_near_identical_distinct_papers_are_planted(sample: tuple[pd.DataFrame, set]) -> None:
    records, planted = sample
    norm = records.assign(norm=records["title"].map(normalise_title))
    in_pairs = {r for p in planted for r in p}
    distinct = norm[~norm["record_id"].isin(in_pairs)]
    titles = " ".join(distinct["title"])
    assert "Part 2" in titles or "Part II" in titles or "Phase 2" in titles or "Study 2" in titles
    assert "protocol" in titles.lower()
    # the same normalised title on two distinct papers (years apart, other authors)
    assert distinct["norm"].duplicated().any()


def test_sizes_and_arguments() -> None:
    empty, planted = generate_records(0)
    assert empty.empty and list(empty.columns) == RECORD_COLUMNS and planted == set()
    small, _ = generate_records(7, dup_rate=0.5, seed=1)
    assert len(small) == 7
    with pytest.raises(ValueError):
        generate_records(-1)
    with pytest.raises(ValueError):
        generate_records(10, dup_rate=1.5)
