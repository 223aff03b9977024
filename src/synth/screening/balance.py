"""Class balancing: a handful of includes among hundreds of excludes would teach a
classifier to say "exclude" to everything, so the training rows are re-weighted.

Each strategy maps the labelled rows to per-row sample weights (a weight of 0 drops a
row); resampling with replacement is expressed as integer weights (copies), which every
classifier here accepts and which is cheaper than stacking copied rows.
"""

from __future__ import annotations

import numpy as np

from synth.screening.features import config

BALANCES = ("none", "weighted", "double")


def sample_weights(y: np.ndarray, name: str, rng: np.random.Generator) -> np.ndarray:
    """Weights for the labelled rows ``y`` (0/1) under the balance strategy ``name``."""
    y = np.asarray(y, dtype=int)
    params = (config()["balance"].get(name) or {}) if name in BALANCES else None
    if params is None:
        raise ValueError(f"unknown balance {name!r}; choose from {', '.join(BALANCES)}")
    n_one = int(y.sum())
    n_zero = len(y) - n_one
    if name == "none" or n_one == 0 or n_zero == 0:
        return np.ones(len(y), dtype=float)
    if name == "weighted":
        share = float(params.get("include_share", 0.5))
        return np.where(y == 1, share * len(y) / n_one, (1 - share) * len(y) / n_zero)
    return _double(y, n_one, n_zero, params, rng)


def _double(
    y: np.ndarray, n_one: int, n_zero: int, p: dict[str, float], rng: np.random.Generator
) -> np.ndarray:
    """ASReview's "double" balance, as copy counts per row.

    Includes get a sampling weight ``a * (n_one / n_zero) ** -alpha`` (more copies the
    rarer they are), excludes ``1 - (1 - b) * (1 + ln n) ** -beta``; the training set keeps
    its size ``n`` and is split between the classes in proportion to those weights, each
    class filled by whole copies plus a random remainder.
    """
    n = n_one + n_zero
    w_one = p["a"] * (n_one / n_zero) ** (-p["alpha"])
    w_zero = 1 - (1 - p["b"]) * (1 + np.log(n)) ** (-p["beta"])
    expected = w_one * n_one * n / (w_one * n_one + w_zero * n_zero)
    # random rounding keeps the expected share exact over many refits
    n_one_train = int(np.floor(expected) + (rng.random() < expected - np.floor(expected)))
    n_one_train = max(1, min(n - 2, n_one_train))
    weights = np.zeros(n, dtype=float)
    for cls, k in ((1, n_one_train), (0, n - n_one_train)):
        idx = np.flatnonzero(y == cls)
        copies, rest = divmod(k, len(idx))
        weights[idx] = copies
        if rest:
            weights[rng.choice(idx, rest, replace=False)] += 1
    return weights
