"""Screening metrics against orderings worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from synth.screening import metrics


def _order(n: int, include_positions: list[int]) -> list[int]:
    """0/1 labels of n records with includes at the given 1-based positions."""
    y = [0] * n
    for p in include_positions:
        y[p - 1] = 1
    return y


def test_twenty_records_by_hand() -> None:
    # 20 records, 4 includes screened 1st, 3rd, 7th and 12th.
    y = _order(20, [1, 3, 7, 12])
    # 95 % of 4 includes needs all 4 (ceil(3.8) = 4): reached after 12 records, so
    # TN + FN = 8 unscreened; WSS@95 = 8/20 - 0.05 = 0.35.
    assert metrics.wss(y) == pytest.approx(0.35)
    assert metrics.wss(y, 1.0) == pytest.approx(0.40)
    # 10 % of 20 = the first 2 records: 1 of 4 includes.
    assert metrics.recall_at(y) == pytest.approx(0.25)
    # 50 % of 20 = first 10 records: 3 of 4.
    assert metrics.recall_at(y, 0.5) == pytest.approx(0.75)
    assert metrics.n_to_last_include(y) == 12
    assert metrics.n_to_recall(y, 0.5) == 3


def test_ninety_five_percent_of_twenty_is_nineteen_includes() -> None:
    # 100 records, 20 includes: the first 19 at the top, the last one at the very end.
    y = _order(100, [*range(1, 20), 100])
    # 0.95 * 20 = 19 exactly (in floating point 18.999...96): 19 includes after 19 records.
    assert metrics.n_to_recall(y, 0.95) == 19
    assert metrics.wss(y) == pytest.approx(81 / 100 - 0.05)
    assert metrics.n_to_last_include(y) == 100
    assert metrics.wss(y, 1.0) == pytest.approx(0.0)
    assert metrics.recall_at(y) == pytest.approx(10 / 20)


def test_random_order_saves_nothing_and_perfect_order_saves_most() -> None:
    perfect = _order(1000, list(range(1, 51)))
    # 48 includes (ceil(47.5)) after 48 records: 952/1000 - 0.05
    assert metrics.wss(perfect) == pytest.approx(0.902)
    assert metrics.recall_at(perfect) == 1.0
    worst = _order(1000, list(range(951, 1001)))
    assert metrics.wss(worst) == pytest.approx((1000 - 998) / 1000 - 0.05)
    assert metrics.recall_at(worst) == 0.0
    rng = np.random.default_rng(0)
    spread = [metrics.wss(rng.permutation(perfect)) for _ in range(200)]
    assert abs(float(np.mean(spread))) < 0.03


def test_summary_and_recall_values() -> None:
    y = _order(10, [2, 5])
    s = metrics.screening_metrics(y)
    assert s["n_records"] == 10 and s["n_includes"] == 2
    assert s["n_to_last_include"] == 5 and s["n_to_95%"] == 5
    assert s["wss@95"] == pytest.approx(0.45)
    assert s["recall@10%"] == 0.0  # first record only
    assert metrics.recall_values(y).tolist() == [0, 0.5, 0.5, 0.5, 1, 1, 1, 1, 1, 1]


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="no includes"):
        metrics.wss([0, 0, 0])
    with pytest.raises(ValueError, match="0/1"):
        metrics.wss([0, 2, 1])
    with pytest.raises(ValueError, match="recall"):
        metrics.n_to_recall([1, 0], 0)
