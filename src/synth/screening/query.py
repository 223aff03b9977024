"""Query strategies: in which order the unlabelled records are shown next.

A strategy turns relevance scores of the unlabelled rows into an order (positions into
that array). "max" shows the likeliest includes first (what saves screening work);
"uncertainty" the records the model is least sure about (what teaches it fastest);
"mixed" is max with a share of random picks, so a reviewer also sees records the model
would otherwise bury.
"""

from __future__ import annotations

import numpy as np

QUERIES = ("max", "uncertainty", "mixed")


def query_order(
    scores: np.ndarray,
    name: str,
    *,
    random_share: float = 0.0,
    rng: np.random.Generator,
) -> np.ndarray:
    """Order of the rows of ``scores`` (relevance in [0, 1]) under strategy ``name``.

    Ties keep the original row order (a stable sort), so a run is reproducible.
    """
    scores = np.asarray(scores, dtype=float)
    if name == "max":
        order = np.argsort(-scores, kind="stable")
    elif name == "uncertainty":
        order = np.argsort(np.abs(scores - 0.5), kind="stable")
    elif name == "mixed":
        order = np.argsort(-scores, kind="stable")
    else:
        raise ValueError(f"unknown query {name!r}; choose from {', '.join(QUERIES)}")
    if random_share > 0 and len(order) > 1:
        order = _mix_random(order, random_share, rng)
    return order


def _mix_random(order: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Interleave random picks: each slot is, with probability ``share``, a random row.

    The picks are drawn from the rows not yet placed, so the result is still a
    permutation of ``order``.
    """
    n = len(order)
    random_slot = rng.random(n) < share
    k = int(random_slot.sum())
    if k == 0:
        return order
    picks = rng.choice(n, size=k, replace=False)  # positions in `order`, any rank
    picked = np.zeros(n, dtype=bool)
    picked[picks] = True
    rest = order[~picked]
    out = np.empty(n, dtype=order.dtype)
    out[random_slot] = order[picks]
    out[~random_slot] = rest
    return out
