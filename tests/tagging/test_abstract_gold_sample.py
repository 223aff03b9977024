"""The real-abstract gold sample names the same peer records it was drawn from."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "fixtures" / "abstracts-gold" / "sample.csv"
SAMPLE_2 = ROOT / "tests" / "fixtures" / "abstracts-gold-2" / "sample.csv"
SAMPLE_3 = ROOT / "tests" / "fixtures" / "abstracts-gold-3" / "sample.csv"
SAMPLE_4 = ROOT / "tests" / "fixtures" / "abstracts-gold-4" / "sample.csv"
SAMPLE_5 = ROOT / "tests" / "fixtures" / "abstracts-gold-5" / "sample.csv"
SAMPLE_6 = ROOT / "tests" / "fixtures" / "abstracts-gold-6" / "sample.csv"
SAMPLE_7 = ROOT / "tests" / "fixtures" / "abstracts-gold-7" / "sample.csv"
APPROACH_SAMPLE = ROOT / "tests" / "fixtures" / "approach-gold" / "sample.csv"

pytestmark = pytest.mark.peer


def _sampler():  # type: ignore[no-untyped-def]
    module = load_script("scripts/sample_abstract_gold.py")
    if not module.PEER.is_dir():
        pytest.skip(f"peer data not found at {module.PEER}")
    return module


def _rows(path: Path = SAMPLE) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_sample_names_records_with_abstracts_in_peer_data() -> None:
    sampler = _sampler()
    rows = _rows()
    assert len(rows) == 300 == len({r["gold_id"] for r in rows})
    assert Counter(r["dataset"] for r in rows) == Counter(sampler.PLAN)  # counts per dataset
    for dataset in sampler.PLAN:
        found = dict(sampler.candidates(dataset))
        for row in (r for r in rows if r["dataset"] == dataset):
            assert row["key"] in found, (dataset, row["key"])
            assert sampler.title_hash(found[row["key"]]) == row["title_sha1"], row


def test_the_sampler_draws_the_committed_sample() -> None:
    sampler = _sampler()
    drawn = [(r["dataset"], r["key"], r["title_sha1"]) for r in sampler.sample()]
    assert drawn == [(r["dataset"], r["key"], r["title_sha1"]) for r in _rows()]


def test_set_2_is_drawn_as_committed_and_shares_no_title_with_set_1() -> None:
    sampler = _sampler()
    rows = _rows(SAMPLE_2)
    drawn = [(r["dataset"], r["key"], r["title_sha1"]) for r in sampler.sample(2)]
    assert drawn == [(r["dataset"], r["key"], r["title_sha1"]) for r in rows]
    titles = [r["title_sha1"] for r in rows]
    assert len(titles) == len(set(titles))  # no title twice
    assert not set(titles) & {r["title_sha1"] for r in _rows()}
    for dataset, n in sampler.PLAN_2.items():
        assert 0 < sum(r["dataset"] == dataset for r in rows) <= n, dataset


def test_set_3_is_drawn_as_committed_and_shares_no_title_with_sets_1_and_2() -> None:
    sampler = _sampler()
    rows = _rows(SAMPLE_3)
    drawn = [(r["dataset"], r["key"], r["title_sha1"]) for r in sampler.sample(3)]
    assert drawn == [(r["dataset"], r["key"], r["title_sha1"]) for r in rows]
    titles = [r["title_sha1"] for r in rows]
    assert len(titles) == len(set(titles)) == 303
    earlier = {r["title_sha1"] for r in _rows()} | {r["title_sha1"] for r in _rows(SAMPLE_2)}
    assert not set(titles) & earlier
    gold = _rows(SAMPLE_3.parent / "gold.csv")
    assert [g["gold_id"] for g in gold] == [r["gold_id"] for r in rows]  # every record labelled


def test_set_4_is_drawn_as_committed_and_shares_no_title_with_sets_1_to_3() -> None:
    sampler = _sampler()
    rows = _rows(SAMPLE_4)
    drawn = [(r["dataset"], r["key"], r["title_sha1"]) for r in sampler.sample(4)]
    assert drawn == [(r["dataset"], r["key"], r["title_sha1"]) for r in rows]
    titles = [r["title_sha1"] for r in rows]
    assert len(titles) == len(set(titles)) == 300
    earlier = {r["title_sha1"] for path in (SAMPLE, SAMPLE_2, SAMPLE_3) for r in _rows(path)}
    assert not set(titles) & earlier
    gold = _rows(SAMPLE_4.parent / "gold.csv")
    assert [g["gold_id"] for g in gold] == [r["gold_id"] for r in rows]  # every record labelled


def test_set_5_is_drawn_as_committed_and_shares_no_title_with_sets_1_to_4() -> None:
    sampler = _sampler()
    rows = _rows(SAMPLE_5)
    drawn = [(r["dataset"], r["key"], r["title_sha1"]) for r in sampler.sample(5)]
    assert drawn == [(r["dataset"], r["key"], r["title_sha1"]) for r in rows]
    titles = [r["title_sha1"] for r in rows]
    assert len(titles) == len(set(titles)) == 300
    earlier = {
        r["title_sha1"] for path in (SAMPLE, SAMPLE_2, SAMPLE_3, SAMPLE_4) for r in _rows(path)
    }
    assert not set(titles) & earlier
    assert Counter(r["dataset"] for r in rows) == Counter(sampler.PLAN_5)
    gold = _rows(SAMPLE_5.parent / "gold.csv")
    assert [g["gold_id"] for g in gold] == [r["gold_id"] for r in rows]  # every record labelled


@pytest.mark.parametrize(
    ("which", "path", "size"),
    [(6, SAMPLE_6, 150), (7, SAMPLE_7, 198)],
    ids=["set 6, software engineering", "set 7, health services and drug trials"],
)
def test_sets_6_and_7_are_drawn_as_committed_apart_from_every_other_set(
    which: int, path: Path, size: int
) -> None:
    sampler = _sampler()
    rows = _rows(path)
    drawn = [(r["dataset"], r["key"], r["title_sha1"]) for r in sampler.sample(which)]
    assert drawn == [(r["dataset"], r["key"], r["title_sha1"]) for r in rows]
    titles = [r["title_sha1"] for r in rows]
    assert len(titles) == len(set(titles)) == size
    earlier = (SAMPLE, SAMPLE_2, SAMPLE_3, SAMPLE_4, SAMPLE_5, SAMPLE_6)[: which - 1]
    others = {r["title_sha1"] for p in (*earlier, APPROACH_SAMPLE) for r in _rows(p)}
    assert not set(titles) & others
    assert Counter(r["dataset"] for r in rows) == Counter(sampler.SETS[which][0])
    gold = _rows(path.parent / "gold.csv")
    assert [g["gold_id"] for g in gold] == [r["gold_id"] for r in rows]  # every record labelled


def test_the_approach_set_is_drawn_as_committed_apart_from_the_other_sets() -> None:
    approach = load_script("scripts/sample_approach_gold.py")
    if not approach.PEER.is_dir():
        pytest.skip(f"peer data not found at {approach.PEER}")
    path = APPROACH_SAMPLE
    rows = _rows(path)
    drawn = [(r["dataset"], r["key"], r["title_sha1"]) for r in approach.sample()]
    assert drawn == [(r["dataset"], r["key"], r["title_sha1"]) for r in rows]
    titles = [r["title_sha1"] for r in rows]
    assert len(titles) == len(set(titles)) == 300
    others = {r["title_sha1"] for s in (SAMPLE, SAMPLE_2, SAMPLE_3, SAMPLE_4, SAMPLE_5)
              for r in _rows(s)}  # fmt: skip
    assert not set(titles) & others
    for dataset, (n_broad, n_rest) in approach.PLAN.items():
        assert sum(r["dataset"] == dataset for r in rows) == n_broad + n_rest, dataset
    gold = _rows(path.parent / "gold.csv")
    assert [g["gold_id"] for g in gold] == [r["gold_id"] for r in rows]  # every record labelled
