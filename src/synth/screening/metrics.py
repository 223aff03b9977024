"""Metrics of a screening order: how early the includes come.

All functions take ``labels_in_order``: the 0/1 labels of the records in the order they
were (or would be) screened, covering every record counted in N. Simulations leave the
prior records out (they were labelled before the model ranked anything), as ASReview's
own metrics do by default.

Definitions
-----------
Let N be the number of records, R the number of includes among them, and n(k) the
number of records screened (1-based position) when the k-th include is found.

* **recall@s** (default s = 10 %): includes among the first ``floor(s * N)`` records,
  divided by R.
* **WSS@r** (work saved over sampling, default r = 95 %, Cohen et al. 2006):
  ``(TN + FN) / N - (1 - r)`` at the point where recall first reaches r, i.e. with
  k = ceil(r * R) includes found after n(k) records: ``WSS@r = (N - n(k)) / N - (1 - r)``.
  (TN + FN = the N - n(k) records not screened.) This is ASReview's definition; its
  insights extension reads the curve at k = floor(r * R) instead, which gives the same
  number whenever r * R is a whole number (R = 20, 80, 140, ...).
* **records to find all includes** (``n_to_last_include``): n(R), the position of the last
  include.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

_EPS = 1e-9  # 0.95 * 20 is 18.999999999999996 in floating point


def _labels(labels_in_order: Sequence[int]) -> np.ndarray:
    y = np.asarray(labels_in_order, dtype=int)
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise ValueError("labels_in_order must be a flat sequence of 0/1")
    return y


def includes_needed(n_relevant: int, recall: float) -> int:
    """How many includes make recall reach ``recall`` (ceil(recall * R), at least 1)."""
    if not 0 < recall <= 1:
        raise ValueError(f"recall must be within (0, 1], not {recall}")
    return max(1, math.ceil(recall * n_relevant - _EPS))


def n_to_recall(labels_in_order: Sequence[int], recall: float = 1.0) -> int:
    """Records screened when recall first reaches ``recall`` (n(ceil(recall * R)))."""
    y = _labels(labels_in_order)
    r = int(y.sum())
    if r == 0:
        raise ValueError("no includes among the labels: recall is undefined")
    k = includes_needed(r, recall)
    return int(np.searchsorted(np.cumsum(y), k) + 1)


def n_to_last_include(labels_in_order: Sequence[int]) -> int:
    """Records screened to find every include (position of the last include)."""
    return n_to_recall(labels_in_order, 1.0)


def wss(labels_in_order: Sequence[int], recall: float = 0.95) -> float:
    """Work saved over sampling at ``recall``: ``(N - n(k)) / N - (1 - recall)``."""
    y = _labels(labels_in_order)
    n = len(y)
    return (n - n_to_recall(y, recall)) / n - (1 - recall)


def recall_at(labels_in_order: Sequence[int], share: float = 0.10) -> float:
    """Recall after screening the first ``floor(share * N)`` records."""
    y = _labels(labels_in_order)
    r = int(y.sum())
    if r == 0:
        raise ValueError("no includes among the labels: recall is undefined")
    k = math.floor(share * len(y) + _EPS)
    return float(y[:k].sum()) / r


def recall_values(labels_in_order: Sequence[int]) -> np.ndarray:
    """Recall after each screened record (length N)."""
    y = _labels(labels_in_order)
    r = int(y.sum())
    return np.cumsum(y) / r if r else np.zeros(len(y))


def screening_metrics(labels_in_order: Sequence[int]) -> dict[str, float | int]:
    """The summary a simulation reports: N, R, WSS@95, WSS@100, recall@10 %, n to last include."""
    y = _labels(labels_in_order)
    return {
        "n_records": len(y),
        "n_includes": int(y.sum()),
        "wss@95": wss(y, 0.95),
        "wss@100": wss(y, 1.0),
        "recall@10%": recall_at(y, 0.10),
        "n_to_95%": n_to_recall(y, 0.95),
        "n_to_last_include": n_to_last_include(y),
    }
