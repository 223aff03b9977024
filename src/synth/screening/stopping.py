"""When to stop screening: the evidence a reviewer needs to decide.

Prioritised screening finds most includes early, but nobody knows how many remain
unseen. Three kinds of evidence, from the labels in the order they were screened:

* the recall curve so far (includes found against records screened: it flattens);
* the run of consecutive excludes at the end (a simple heuristic, no guarantee);
* the statistical stopping rule of Callaghan & Müller-Hansen (2020, *Systematic
  Reviews* 9:273): treat the last ``n`` screened records as if drawn at random from
  the records not screened before them, and test the null hypothesis that recall is
  still below the target with a hypergeometric test. Prioritisation puts likely
  includes first, so the unseen records are *less* likely relevant than that sample
  and the test is conservative. An estimate of the relevant records still unseen
  comes with it, with an exact (hypergeometric) interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import plotly.graph_objects as go


@dataclass(frozen=True)
class StopEstimate:
    """The stopping test's outcome.

    ``p_value`` is the smallest p over all windows (the last 1, 2, ... n screened records)
    of the test of H0 "recall < target_recall"; ``can_stop`` when it is below ``alpha``.
    ``estimated_remaining`` and ``remaining_ci`` estimate the includes among the records
    not screened yet, from the window that gave the smallest p (``window`` records,
    ``window_includes`` of them includes).
    """

    p_value: float
    can_stop: bool
    estimated_remaining: float
    remaining_ci: tuple[int, int]
    method: str
    target_recall: float
    alpha: float
    n_screened: int
    n_total: int
    found: int
    window: int
    window_includes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _labels(labels_in_order: Sequence[int]) -> np.ndarray:
    y = np.asarray(list(labels_in_order), dtype=int)
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise ValueError("labels_in_order must be a flat sequence of 0/1")
    return y


def recall_curve(labels_in_order: Sequence[int], n_relevant: int | None = None) -> pd.DataFrame:
    """Includes found after each screened record.

    Columns: ``screened`` (1..n), ``label``, ``found`` and ``recall``: found divided by
    ``n_relevant`` when it is known (a simulation), else by the includes found so far
    (the curve's shape: how recently the includes stopped coming).
    """
    y = _labels(labels_in_order)
    found = np.cumsum(y)
    denom = n_relevant if n_relevant is not None else (int(found[-1]) if len(y) else 0)
    recall = found / denom if denom else np.zeros(len(y))
    return pd.DataFrame(
        {"screened": np.arange(1, len(y) + 1), "label": y, "found": found, "recall": recall}
    )


def consecutive_excludes(labels_in_order: Sequence[int]) -> int:
    """Excludes screened since the last include (all of them if there was none)."""
    y = _labels(labels_in_order)
    hits = np.flatnonzero(y == 1)
    return int(len(y) - hits[-1] - 1) if hits.size else len(y)


def _log_comb(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.special import gammaln

    return gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)


def hypergeom_cdf(k: Any, total: Any, relevant: Any, draws: Any) -> np.ndarray:
    """P(X <= k) for X ~ Hypergeometric(total, relevant, draws), vectorised.

    Sums the probability mass in log space, term by term (``k + 1`` terms per case):
    scipy's ``hypergeom.cdf`` takes about a millisecond per call at 100,000 records,
    which a p-value trace over thousands of windows cannot afford.
    """
    k, total, relevant, draws = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.int64) for v in (k, total, relevant, draws))
    )
    k, total, relevant, draws = (v.ravel() for v in (k, total, relevant, draws))
    out = np.ones(k.shape, dtype=float)
    lo = np.maximum(0, draws - (total - relevant))  # fewest relevant any draw can hold
    hi = np.minimum(k, np.minimum(relevant, draws))
    todo = np.flatnonzero(hi < np.minimum(relevant, draws))  # else the cdf is 1
    out[k < lo] = 0.0
    todo = todo[k[todo] >= lo[todo]]
    if todo.size == 0:
        return out
    counts = hi[todo] - lo[todo] + 1
    case = np.repeat(np.arange(todo.size), counts)
    starts = np.cumsum(counts) - counts
    i = lo[todo][case] + (np.arange(case.size) - starts[case])
    t, r, d = total[todo], relevant[todo], draws[todo]
    first = _log_comb(r, lo[todo]) + _log_comb(t - r, d - lo[todo]) - _log_comb(t, d)
    # later terms by the ratio pmf(i + 1) / pmf(i) = (K - i)(n - i) / ((i + 1)(N - K - n + i + 1))
    tc, rc, dc = t[case], r[case], d[case]
    with np.errstate(divide="ignore"):  # log 0 only at a case's last term, replaced below
        step = np.log((rc - i) * (dc - i)) - np.log((i + 1) * (tc - rc - dc + i + 1))
    step = np.where(i == hi[todo][case], 0.0, step)  # the last term of a case has no next
    cum = np.cumsum(step)
    before = np.concatenate([[0.0], cum])[starts]  # sum of steps before each case starts
    shifted = np.concatenate([[0.0], cum[:-1]]) - before[case]
    logp = first[case] + shifted
    out[todo] = np.minimum(1.0, np.add.reduceat(np.exp(logp), starts))
    return out


def _window_p_values(y: np.ndarray, n_total: int, target_recall: float) -> pd.DataFrame:
    """p of H0 "recall < target" for the windows of the last n screened records.

    With k includes in a window fixed, p only falls as the window grows by excludes
    (one more exclude drawn from an urn one exclude larger), so the smallest p is always
    at a window that stops just before an include or takes in every record; only those
    windows (one more than the includes found) are tested.
    """
    n_seen = len(y)
    r_seen = int(y.sum())
    rev = y[::-1]
    n_all = np.arange(1, n_seen + 1)  # window sizes (last n screened)
    k_all = np.cumsum(rev)  # includes in each window
    ends = np.append(rev[1:] == 1, True)  # the next older record is an include, or none
    n, k = n_all[ends], k_all[ends]
    urn = n_total - n_seen + n  # records not screened before the window
    # fewest includes in total that would leave recall below the target
    k_total = math.floor(r_seen / target_recall) + 1
    k_urn = k_total - (r_seen - k)  # includes the urn would hold under H0
    possible = k_urn <= urn
    p = np.zeros(len(n))
    p[possible] = hypergeom_cdf(k[possible], urn[possible], k_urn[possible], n[possible])
    return pd.DataFrame({"window": n, "includes": k, "p": p})


def _interval(k: int, n: int, urn: int, alpha: float) -> tuple[int, int]:
    """Exact interval for the includes in an urn of ``urn`` from ``k`` in ``n`` draws.

    The bounds are the fewest and most includes K the draw does not reject at
    ``alpha / 2`` on either side; both tails are monotone in K, so each bound is a
    binary search.
    """
    first, last = k, urn - (n - k)

    def upper_tail(big_k: int) -> float:  # P(X >= k), rises with K
        return 1.0 if k == 0 else 1.0 - float(hypergeom_cdf(k - 1, urn, big_k, n)[0])

    def lower_tail(big_k: int) -> float:  # P(X <= k), falls with K
        return float(hypergeom_cdf(k, urn, big_k, n)[0])

    a, b = first, last  # smallest K with upper_tail > alpha/2
    while a < b:
        mid = (a + b) // 2
        a, b = (a, mid) if upper_tail(mid) > alpha / 2 else (mid + 1, b)
    lo = a
    a, b = first, last  # largest K with lower_tail > alpha/2
    while a < b:
        mid = (a + b + 1) // 2
        a, b = (mid, b) if lower_tail(mid) > alpha / 2 else (a, mid - 1)
    return lo, a


def callaghan_mueller_hansen(
    labels_in_order: Sequence[int],
    n_total: int,
    *,
    target_recall: float = 0.95,
    alpha: float = 0.05,
) -> StopEstimate:
    """Callaghan & Müller-Hansen's (2020) hypergeometric stopping rule.

    For every window of the last ``n`` screened records (k includes among them), the
    window is taken as a random sample from the ``N - n_screened + n`` records not screened
    before it. Under H0 the corpus holds at least ``K = floor(found / target) + 1``
    includes, ``K - (found - k)`` of them in that urn; p is the hypergeometric probability
    of drawing ``k`` or fewer. The smallest p over windows is reported (as the authors'
    reference implementation does; only windows that can hold the minimum are computed,
    see ``_window_p_values``); stop when it is below ``alpha``.

    Parameters
    ----------
    labels_in_order
        0/1 labels of the records screened so far, in screening order.
    n_total
        Records in the corpus (screened and not).
    """
    y = _labels(labels_in_order)
    n_seen, found = len(y), int(y.sum())
    if n_total < n_seen:
        raise ValueError(f"n_total ({n_total}) is smaller than the records screened ({n_seen})")
    if not 0 < target_recall < 1 or not 0 < alpha < 1:
        raise ValueError("target_recall and alpha must be within (0, 1)")
    method = f"Callaghan & Müller-Hansen 2020 (target recall {target_recall:g}, alpha {alpha:g})"
    unseen = n_total - n_seen
    if n_seen == 0:
        return StopEstimate(
            1.0,
            False,
            float("nan"),
            (0, n_total),
            method,
            target_recall,
            alpha,
            0,
            n_total,
            0,
            0,
            0,
        )
    if unseen == 0:
        return StopEstimate(
            0.0,
            True,
            0.0,
            (0, 0),
            method,
            target_recall,
            alpha,
            n_seen,
            n_total,
            found,
            n_seen,
            found,
        )
    tests = _window_p_values(y, n_total, target_recall)
    best = tests.iloc[int(np.argmin(tests["p"].to_numpy()))]
    window, k, p = int(best["window"]), int(best["includes"]), float(best["p"])
    lo, hi = _interval(k, window, unseen + window, alpha)
    return StopEstimate(
        p_value=p,
        can_stop=bool(p < alpha),
        estimated_remaining=k * unseen / window,
        remaining_ci=(lo - k, hi - k),
        method=method,
        target_recall=target_recall,
        alpha=alpha,
        n_screened=n_seen,
        n_total=n_total,
        found=found,
        window=window,
        window_includes=k,
    )


def p_value_trace(
    labels_in_order: Sequence[int], n_total: int, *, target_recall: float = 0.95, points: int = 40
) -> pd.DataFrame:
    """The stopping test's p-value at up to ``points`` moments of the screening so far."""
    y = _labels(labels_in_order)
    if len(y) == 0:
        return pd.DataFrame({"screened": [], "p_value": []})
    at = np.unique(np.linspace(1, len(y), min(points, len(y))).round().astype(int))
    p = [float(_window_p_values(y[:i], n_total, target_recall)["p"].min()) for i in at]
    return pd.DataFrame({"screened": at, "p_value": p})


def stopping_figure(
    labels_in_order: Sequence[int],
    n_total: int,
    *,
    target_recall: float = 0.95,
    alpha: float = 0.05,
) -> go.Figure:
    """Includes found so far, the estimated total with its interval, and the test's p."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    y = _labels(labels_in_order)
    curve = recall_curve(y)
    est = callaghan_mueller_hansen(y, n_total, target_recall=target_recall, alpha=alpha)
    trace = p_value_trace(y, n_total, target_recall=target_recall)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(x=curve["screened"], y=curve["found"], mode="lines", name="includes found"),
        secondary_y=False,
    )
    if n_total > len(y) and len(y):
        lo, hi = est.found + est.remaining_ci[0], est.found + est.remaining_ci[1]
        fig.add_trace(
            go.Scatter(
                x=[len(y), len(y)],
                y=[lo, hi],
                mode="lines+markers",
                name=f"estimated total includes {lo}-{hi}",
            ),
            secondary_y=False,
        )
    fig.add_trace(
        go.Scatter(
            x=trace["screened"],
            y=trace["p_value"],
            mode="lines",
            name="p (H0: recall below target)",
            line={"dash": "dot"},
        ),
        secondary_y=True,
    )
    fig.add_hline(y=alpha, line_dash="dash", secondary_y=True, annotation_text=f"alpha {alpha:g}")
    verdict = "can stop" if est.can_stop else "keep screening"
    fig.update_layout(
        title=(
            f"{len(y)} of {n_total} screened, {est.found} includes; "
            f"{consecutive_excludes(y)} excludes in a row; {verdict} "
            f"(p = {est.p_value:.3g} for recall ≥ {target_recall:.0%})"
        ),
        xaxis_title="records screened",
        template="plotly_white",
    )
    fig.update_yaxes(title_text="includes found", secondary_y=False)
    fig.update_yaxes(title_text="p-value", range=[0, 1], secondary_y=True)
    return fig
