"""Replay a labelled dataset as if a reviewer screened it in the model's order.

This is how screening prioritisation is evaluated (ASReview's "simulation mode"): start
from a few prior records (one random include and one random exclude), then repeatedly
refit the model, show the top-ranked unlabelled record, and reveal its true label. The
order in which the includes turn up gives WSS@95, recall@10 % and the records needed to
find every include (:mod:`synth.screening.metrics`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synth.screening import metrics
from synth.screening.features import build_features, config
from synth.screening.learner import LearnerSettings, Prioritiser

if TYPE_CHECKING:
    import plotly.graph_objects as go

log = logging.getLogger(__name__)

#: progress(screened, found): called after every simulated decision
Progress = Callable[[int, int], None]


@dataclass
class SimulationResult:
    """One simulated screening run and its metrics.

    ``order`` and ``labels`` cover every record except the priors, in screening order;
    records the run never reached (it stops at the last include) follow in the order of
    the last ranking. Metrics are computed on ``labels`` (priors left out, as ASReview).
    """

    dataset: str
    settings: dict[str, Any]
    seed: int
    priors: list[str]
    prior_labels: list[int]
    order: list[str]
    labels: list[int]
    n_screened: int  # decisions the simulation made before it stopped (priors excluded)
    metrics: dict[str, float | int]
    n_refits: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, **kwargs: Any) -> str:
        """JSON text of the whole result (settings, priors, order, labels, metrics)."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text: str) -> SimulationResult:
        return cls(**json.loads(text))

    def recall_curve(self) -> pd.DataFrame:
        """Screened count, includes found and recall after each record."""
        y = np.asarray(self.labels, dtype=int)
        found = np.cumsum(y)
        return pd.DataFrame(
            {
                "screened": np.arange(1, len(y) + 1),
                "found": found,
                "recall": found / max(1, int(y.sum())),
            }
        )

    def figure(self, title: str | None = None) -> go.Figure:
        """Plotly recall curve against random screening, with WSS@95 marked."""
        return recall_figure(
            {self.settings.get("classifier", "model"): self.labels},
            title=title or f"{self.dataset}: recall curve (seed {self.seed})",
        )


def recall_figure(curves: dict[str, Any], *, title: str = "Recall curve") -> go.Figure:
    """Recall curves (name -> labels in order) against random screening.

    Every curve must hold the same records; the dotted diagonal is the expected recall
    when screening in random order, and the marker shows where 95 % recall is reached.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    n = 0
    for name, labels in curves.items():
        y = np.asarray(labels, dtype=int)
        n = len(y)
        rec = metrics.recall_values(y)
        x = np.arange(1, n + 1)
        fig.add_trace(go.Scatter(x=x, y=rec, mode="lines", name=str(name)))
        k = metrics.n_to_recall(y, 0.95)
        fig.add_trace(
            go.Scatter(
                x=[k],
                y=[rec[k - 1]],
                mode="markers",
                name=f"{name}: 95 % after {k} (WSS@95 {metrics.wss(y):.3f})",
            )
        )
    fig.add_trace(go.Scatter(x=[0, n], y=[0, 1], mode="lines", name="random", line={"dash": "dot"}))
    fig.update_layout(
        title=title,
        xaxis_title="records screened",
        yaxis_title="recall (share of includes found)",
        yaxis_range=[0, 1.02],
        template="plotly_white",
    )
    return fig


def retrain_due(n_screened: int, since_fit: int, retrain_every: int | str) -> bool:
    """Whether to refit now: every ``retrain_every`` decisions, or the data's schedule."""
    if retrain_every == "auto":
        s = config()["schedule"]
        step = 1 if n_screened < s["every_until"] else s["then_every"]
    else:
        step = int(retrain_every)
    return since_fit >= max(1, step)


def choose_priors(
    y: np.ndarray, n_included: int, n_excluded: int, rng: np.random.Generator
) -> np.ndarray:
    """Row indices of random prior includes and excludes (as ASReview's --n-prior-*)."""
    inc, exc = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if n_included > len(inc) or n_excluded > len(exc):
        raise ValueError(
            f"asked for {n_included} prior includes and {n_excluded} excludes; "
            f"the data hold {len(inc)} and {len(exc)}"
        )
    return np.concatenate(
        [rng.choice(inc, n_included, replace=False), rng.choice(exc, n_excluded, replace=False)]
    )


def simulate(
    records: pd.DataFrame,
    settings: LearnerSettings,
    *,
    n_prior_included: int = 1,
    n_prior_excluded: int = 1,
    seed: int | None = None,
    retrain_every: int | str = 1,
    stop_at_last_include: bool = True,
    dataset: str = "",
    tags: pd.DataFrame | None = None,
    progress: Progress | None = None,
) -> SimulationResult:
    """Simulate screening ``records`` (with ``label_included``) in the model's order.

    Parameters
    ----------
    records
        Canonical records; rows without a label are left out (with a warning).
    settings
        The model (its ``seed`` seeds the model's own random choices).
    n_prior_included, n_prior_excluded
        Random prior records labelled before the first fit.
    seed
        Seed of the prior choice; defaults to ``settings.seed``.
    retrain_every
        Refit after this many decisions, or ``"auto"`` for the schedule in
        ``data/screening.yml`` (every decision up to 5,000, then in batches).
    stop_at_last_include
        Stop once every include is found (the remaining order cannot change the metrics).
    """
    labelled_rows = records["label_included"].notna()
    if not labelled_rows.all():
        log.warning("%d record(s) without a label left out", int((~labelled_rows).sum()))
        records = records[labelled_rows]
    records = records.reset_index(drop=True)
    y = records["label_included"].astype(int).to_numpy()
    seed = settings.seed if seed is None else seed
    t0 = time.perf_counter()
    X = build_features(records, settings, tags)
    priors = choose_priors(y, n_prior_included, n_prior_excluded, np.random.default_rng(seed))
    labelled = np.zeros(len(y), dtype=bool)
    labelled[priors] = True
    n_relevant = int(y.sum())
    found = int(y[priors].sum())
    model = Prioritiser(settings)
    order: list[int] = []
    ranking: np.ndarray = np.empty(0, dtype=int)
    pos = since_fit = n_refits = 0
    while not labelled.all() and not (stop_at_last_include and found == n_relevant):
        if pos >= len(ranking) or retrain_due(len(order), since_fit, retrain_every) or not order:
            ranking, _ = model.rank(X, labelled, y)
            pos, since_fit = 0, 0
            n_refits += 1
        row = int(ranking[pos])
        pos += 1
        if labelled[row]:
            continue
        labelled[row] = True
        order.append(row)
        found += int(y[row])
        since_fit += 1
        if progress is not None:
            progress(len(order), found)
    n_screened = len(order)
    # the rest, in the last ranking's order (then any row that ranking did not cover)
    rest = [int(r) for r in ranking[pos:] if not labelled[r]]
    labelled[rest] = True
    rest += [int(r) for r in np.flatnonzero(~labelled)]
    order += rest
    ids = records["record_id"].astype(str).to_numpy()
    labels = y[order]
    return SimulationResult(
        dataset=dataset,
        settings=settings.to_dict(),
        seed=int(seed),
        priors=[str(ids[i]) for i in priors],
        prior_labels=[int(y[i]) for i in priors],
        order=[str(ids[i]) for i in order],
        labels=[int(v) for v in labels],
        n_screened=n_screened,
        metrics=metrics.screening_metrics(labels),
        n_refits=n_refits,
        seconds=round(time.perf_counter() - t0, 3),
        extra={
            "n_prior_included": n_prior_included,
            "n_prior_excluded": n_prior_excluded,
            "retrain_every": retrain_every,
        },
    )
