"""A gold set that labels the approach facet (tests/fixtures/approach-gold): loaded, scored,
weighted and compared like the setting/country/design sets, on its own facet only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synth.tagging.abstract_gold import (
    TaggedGold,
    combined,
    load_gold_long,
    summary_figures,
)

ROOT = Path(__file__).resolve().parents[2]


def _gold_dir(tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    """A gold.csv of (gold_id, approach) rows; dataset and key are placeholders."""
    folder = tmp_path / "approach-gold"
    folder.mkdir()
    pd.DataFrame(
        [{"gold_id": g, "dataset": "d.csv", "key": g, "approach": a} for g, a in rows]
    ).to_csv(folder / "gold.csv", index=False)
    return folder


def test_approach_labels_split_and_none_is_no_label(tmp_path: Path) -> None:
    folder = _gold_dir(tmp_path, [("a001", "ppi;co-design"), ("a002", "none"), ("a003", "ebcd")])
    gold = load_gold_long(folder)
    assert set(gold["facet"]) == {"approach"}
    got = gold.groupby("gold_id")["label"].agg(lambda ls: sorted(ls)).to_dict()
    assert got == {"a001": ["co-design", "ppi"], "a002": ["not-applicable"], "a003": ["ebcd"]}


def test_a_gold_file_with_no_facet_column_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    pd.DataFrame([{"gold_id": "a1", "dataset": "d.csv", "key": "1", "topic": "x"}]).to_csv(
        folder / "gold.csv", index=False
    )
    with pytest.raises(ValueError, match=r"bad/gold\.csv: no facet column"):
        load_gold_long(folder)


def _tagged(rows: list[tuple[str, str, str]]) -> TaggedGold:
    """(gold_id, gold approach label, predicted label or '') rows, one facet: approach."""
    gold = pd.DataFrame(
        [(g, "d.csv", g, "approach", lab) for g, lab, _ in rows],
        columns=["gold_id", "dataset", "key", "facet", "label"],
    )
    tags = pd.DataFrame(
        [(g, "approach", p, 0.9, [], "rule", "rules:x") for g, _, p in rows if p],
        columns=["record_id", "facet", "label", "score", "evidence", "source", "version"],
    )
    return TaggedGold(gold, pd.DataFrame({"record_id": sorted({r[0] for r in rows})}), tags)


ROWS = [
    ("a1", "ppi", "ppi"),
    ("a1", "co-design", ""),  # missed
    ("a2", "not-applicable", "ppi"),  # "involving patients with ..." given PPI
    ("a3", "shared-decision-making", "shared-decision-making"),
    ("a4", "not-applicable", ""),
]


def test_an_approach_set_is_scored_on_the_approach_alone() -> None:
    tagged = _tagged(ROWS)
    assert tagged.facets == ("approach",)
    result = tagged.score()
    assert list(result.summary()["facet"]) == ["approach"]
    assert "country_accuracy_where_named" not in result.summary()
    figures = summary_figures(result)
    assert list(figures) == ["approach macro-F1", "approach micro-F1"]
    # micro: tp 2 (a1 ppi, a3 sdm) + 1 (a4 none), fp 1 (a2 ppi), fn 2 (a1 co-design, a2 none)
    assert figures["approach micro-F1"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 2))
    assert "Real-abstract gold set: 4 records" in result.to_text()
    assert "country named" not in result.to_text()


def test_weighting_and_the_paired_comparison_cover_the_approach() -> None:
    tagged = _tagged(ROWS)
    table = tagged.weighted_figures(np.ones((1, 4)))
    assert list(table.columns) == ["approach macro-F1", "approach micro-F1"]
    assert table.iloc[0]["approach micro-F1"] == pytest.approx(
        summary_figures(tagged.score())["approach micro-F1"]
    )
    better = _tagged([(g, lab, "" if g == "a2" else p) for g, lab, p in ROWS])
    diff = better.bootstrap_difference(tagged, 200, seed=1).set_index("figure")
    assert diff.loc["approach micro-F1", "difference"] > 0
    assert better.changed_records(tagged) == {"approach": 1}


def test_sets_labelling_different_facets_are_not_pooled() -> None:
    other = TaggedGold(
        pd.DataFrame(
            [("g1", "d.csv", "g1", "setting", "acute-care")],
            columns=["gold_id", "dataset", "key", "facet", "label"],
        ),
        pd.DataFrame({"record_id": ["g1"]}),
        pd.DataFrame(columns=["record_id", "facet", "label", "score"]),
    )
    with pytest.raises(ValueError, match="label different facets"):
        combined({"approach": _tagged(ROWS), "set1": other})
