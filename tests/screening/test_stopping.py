"""Stopping evidence: recall curve, consecutive excludes, Callaghan & Müller-Hansen."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import hypergeom

from synth.screening.stopping import (
    callaghan_mueller_hansen,
    consecutive_excludes,
    hypergeom_cdf,
    p_value_trace,
    recall_curve,
    stopping_figure,
)


def test_recall_curve_and_run_of_excludes() -> None:
    y = [1, 0, 1, 0, 0, 0]
    c = recall_curve(y, n_relevant=4)
    assert c["found"].tolist() == [1, 1, 2, 2, 2, 2]
    assert c["recall"].tolist() == [0.25, 0.25, 0.5, 0.5, 0.5, 0.5]
    assert recall_curve(y)["recall"].iloc[-1] == 1.0  # share of those found so far
    assert consecutive_excludes(y) == 3
    assert consecutive_excludes([0, 0]) == 2
    assert consecutive_excludes([0, 1]) == 0
    assert consecutive_excludes([]) == 0


def test_all_includes_found_early_then_enough_excludes_can_stop() -> None:
    # 2,000 records; 100 includes among the first 150 screened, then 1,000 excludes.
    y = [1, 0, 1] * 50 + [0] * 1000
    est = callaghan_mueller_hansen(y, 2000)
    assert est.found == 100 and est.n_screened == 1150
    assert est.can_stop and est.p_value < 0.05
    assert est.estimated_remaining == 0.0
    lo, hi = est.remaining_ci
    assert lo == 0 and 0 < hi < 10
    # hand check of one window: the last 1,000 (no include) drawn from the 850 + 1,000
    # records not screened before them; under H0 there are floor(100 / 0.95) + 1 = 106
    # includes, 6 of them in that urn; P(none of the 6 among 1,000 draws from 1,850)
    # = prod (850 - i) / (1850 - i), i = 0..5 = 0.0094
    by_hand = math.prod((850 - i) / (1850 - i) for i in range(6))
    assert hypergeom.cdf(0, 1850, 6, 1000) == pytest.approx(by_hand)
    assert est.p_value == pytest.approx(by_hand)  # the whole run of excludes is the best window
    # after 600 excludes the same window gives prod (1250 - i) / (1850 - i) = 0.095: not yet
    early = callaghan_mueller_hansen(y[:750], 2000)
    assert not early.can_stop
    assert early.p_value == pytest.approx(math.prod((1250 - i) / (1850 - i) for i in range(6)))


def test_too_few_excludes_after_the_last_include_cannot_stop() -> None:
    y = [1, 0, 1] * 50 + [0] * 30
    est = callaghan_mueller_hansen(y, 2000)
    assert not est.can_stop and est.p_value > 0.05


def test_includes_still_appearing_cannot_stop() -> None:
    y = ([1] + [0] * 9) * 60  # one include in every ten, right to the end
    est = callaghan_mueller_hansen(y, 2000)
    assert not est.can_stop
    assert est.p_value > 0.5
    # about one in ten of the 1,400 unseen records is expected to be relevant
    assert est.remaining_ci[1] > 50


def test_few_includes_need_most_of_the_corpus() -> None:
    # With 10 includes, one missed include already breaks 95 % recall: 610 excludes in a
    # row out of 2,000 do not rule that out (P = 1 - 610/1990 for the whole window).
    y = [1] * 10 + [0] * 610
    est = callaghan_mueller_hansen(y, 2000)
    assert not est.can_stop
    assert est.p_value == pytest.approx(1 - 610 / 1990)


def test_edges() -> None:
    assert callaghan_mueller_hansen([1, 0, 0], 3).can_stop  # everything screened
    start = callaghan_mueller_hansen([], 100)
    assert not start.can_stop and start.p_value == 1.0
    with pytest.raises(ValueError, match="n_total"):
        callaghan_mueller_hansen([0, 1, 0], 2)


def test_figure_and_trace() -> None:
    y = [1, 0, 1] * 50 + [0] * 1000
    trace = p_value_trace(y, 2000, points=20)
    assert len(trace) == 20 and trace["p_value"].iloc[-1] < 0.05
    assert trace["p_value"].iloc[0] > 0.5
    fig = stopping_figure(y, 2000)
    assert "can stop" in fig.layout.title.text
    assert "1000 excludes in a row" in fig.layout.title.text
    assert len(fig.data) == 3


def test_hypergeometric_cdf_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        total = int(rng.integers(1, 3000))
        relevant = int(rng.integers(0, total + 1))
        draws = int(rng.integers(0, total + 1))
        k = int(rng.integers(-1, min(relevant, draws) + 2))
        assert hypergeom_cdf(k, total, relevant, draws)[0] == pytest.approx(
            hypergeom.cdf(k, total, relevant, draws), abs=1e-9
        )


def test_only_windows_ending_before_an_include_need_testing() -> None:
    # the minimum over the tested windows equals the minimum over every window
    rng = np.random.default_rng(2)
    for _ in range(20):
        n_seen = int(rng.integers(20, 400))
        y = (rng.random(n_seen) < np.linspace(0.4, 0.01, n_seen)).astype(int)
        n_total = n_seen + int(rng.integers(0, 2000))
        found, rev = int(y.sum()), y[::-1]
        n = np.arange(1, n_seen + 1)
        k = np.cumsum(rev)
        urn = n_total - n_seen + n
        k_urn = math.floor(found / 0.95) + 1 - (found - k)
        ok = k_urn <= urn
        every = np.zeros(n_seen)
        every[ok] = hypergeom.cdf(k[ok], urn[ok], k_urn[ok], n[ok])
        est = callaghan_mueller_hansen(y, n_total)
        assert est.p_value == pytest.approx(every.min(), abs=1e-9)
