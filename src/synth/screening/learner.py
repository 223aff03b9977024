"""Prioritisation by active learning: which unscreened record should a reviewer see next.

Three swappable parts, each following scikit-learn's contract, composed by
:class:`Prioritiser`: a classifier (:mod:`~synth.screening.classifiers`), a class
balance (:mod:`~synth.screening.balance`) and a query strategy
(:mod:`~synth.screening.query`), over features from :mod:`~synth.screening.features`.
:class:`LearnerSettings` names the choice of each part; it is a plain dict when saved
with the project, so a run can be reproduced from the store.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from synth.screening.balance import BALANCES, sample_weights
from synth.screening.classifiers import CLASSIFIERS, linear_scores, make_classifier
from synth.screening.features import build_features, config
from synth.screening.query import QUERIES, query_order

__all__ = [
    "LearnerSettings",
    "Prioritiser",
    "build_features",
    "model_names",
    "prior_labels",
    "settings_for",
]

log = logging.getLogger(__name__)


def _choices() -> dict[str, tuple[str, ...]]:
    return {
        "features": tuple(config()["features"]),
        "classifier": CLASSIFIERS,
        "query": QUERIES,
        "balance": BALANCES,
    }


@dataclass(frozen=True)
class LearnerSettings:
    """The model a screening run uses: one name per part, and the seed.

    Defaults are the tuned default model of ``data/screening.yml`` (TF-IDF word 1-2 grams
    on title, abstract and keywords; linear SVM; includes weighted 9.8 : 1; most relevant
    first). Unknown names raise ``ValueError`` listing the choices.
    """

    features: str = "tfidf"
    classifier: str = "svm"
    query: str = "max"
    random_share: float = 0.0
    balance: str = "weighted"
    use_tags: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        for part, choices in _choices().items():
            value = getattr(self, part)
            if value not in choices:
                raise ValueError(f"unknown {part} {value!r}; choose from {', '.join(choices)}")
        if not 0.0 <= float(self.random_share) <= 1.0:
            raise ValueError(f"random_share must be within [0, 1], not {self.random_share!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (what the project saves)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LearnerSettings:
        """Settings from a saved dict; unknown keys raise ``ValueError`` naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"unknown learner setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        return cls(**d)


def model_names() -> list[str]:
    """Named presets (``--model NAME``) from ``data/screening.yml``."""
    return list(config()["models"])


def settings_for(model: str = "default", *, seed: int = 0) -> LearnerSettings:
    """The preset ``model`` on top of the defaults, with ``seed``."""
    presets = config()["models"]
    if model not in presets:
        raise ValueError(f"unknown model {model!r}; choose from {', '.join(presets)}")
    values = {**config()["defaults"], **(presets[model] or {}), "seed": seed}
    return LearnerSettings.from_dict(values)


class Prioritiser:
    """Classifier + balance + query strategy, refitted on the labels so far.

    Parameters
    ----------
    settings
        Which parts to use and the seed of every random choice (balancing resamples,
        random query share, the cold-start order).
    """

    def __init__(self, settings: LearnerSettings) -> None:
        self.settings = settings
        self.rng = np.random.default_rng(settings.seed)
        self.model_: Any = None

    @property
    def random_share(self) -> float:
        """The share of random picks: the setting, or the "mixed" default when unset."""
        if self.settings.random_share > 0 or self.settings.query != "mixed":
            return float(self.settings.random_share)
        return float(config()["query"]["mixed"].get("random_share", 0.0))

    def fit(self, X: Any, y: Any) -> Prioritiser:
        """Fit the classifier on labelled rows ``X`` with labels ``y`` (0/1, both present)."""
        y = np.asarray(y, dtype=int)
        if len(np.unique(y)) < 2:
            raise ValueError("need at least one include and one exclude to fit")
        w = sample_weights(y, self.settings.balance, self.rng)
        keep = w > 0
        model = make_classifier(self.settings.classifier, seed=self.settings.seed)
        model.fit(X[keep] if not keep.all() else X, y[keep], sample_weight=w[keep])
        self.model_ = model
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """(n, 2) probabilities of exclude and include (SVM: a monotone link of its score)."""
        if self.model_ is None:
            raise RuntimeError("Prioritiser is not fitted; call fit() or rank() first")
        p = np.asarray(self.model_.predict_proba(X), dtype=float)
        classes = list(self.model_.classes_)
        return p[:, [classes.index(0), classes.index(1)]]

    def relevance(self, X: Any) -> np.ndarray:
        """Probability of inclusion per row."""
        if self.model_ is None:
            raise RuntimeError("Prioritiser is not fitted; call fit() or rank() first")
        z = linear_scores(self.model_, X)
        if z is None:
            return self.predict_proba(X)[:, 1]
        return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))

    def rank(self, X: Any, labelled: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Refit on the labelled rows and order the unlabelled ones.

        Parameters
        ----------
        X
            Feature rows of every record (``build_features``).
        labelled
            Boolean mask of the rows with a decision.
        y
            Labels (0/1) for every row; only the labelled rows are read.

        Returns
        -------
        order, relevance
            Row indices of the unlabelled records in query order, and the relevance of
            every row. Without both an include and an exclude among the labels there is
            nothing to fit: rows are ordered by similarity to the includes if there are
            any, else at random (seeded), and relevance is that similarity (or 0.5).
        """
        labelled = np.asarray(labelled, dtype=bool)
        y = np.asarray(y)
        unlabelled = np.flatnonzero(~labelled)
        y_lab = y[labelled].astype(int)
        if y_lab.size and len(np.unique(y_lab)) == 2:
            self.fit(X[labelled], y_lab)
            scores = self.relevance(X)
            order = query_order(
                scores[unlabelled],
                self.settings.query,
                random_share=self.random_share,
                rng=self.rng,
            )
            return unlabelled[order], scores
        scores = self._cold_start_scores(X, labelled, y)
        if scores is None:
            scores = np.full(X.shape[0], 0.5)
            return self.rng.permutation(unlabelled), scores
        order = np.argsort(-scores[unlabelled], kind="stable")
        return unlabelled[order], scores

    @staticmethod
    def _cold_start_scores(X: Any, labelled: np.ndarray, y: np.ndarray) -> np.ndarray | None:
        """Cosine similarity to the mean of the known includes (rows are L2-normalised)."""
        inc = np.flatnonzero(labelled & (np.asarray(y) == 1))
        if inc.size == 0:
            return None
        centroid = np.asarray(X[inc].mean(axis=0)).ravel()
        norm = np.linalg.norm(centroid)
        if norm == 0:
            return None
        return np.clip(np.asarray(X @ (centroid / norm)).ravel(), 0.0, 1.0)


def prior_labels(
    records: pd.DataFrame,
    *,
    known_includes: Iterable[str] = (),
    known_excludes: Iterable[str] = (),
    suggestions: pd.DataFrame | None = None,
) -> pd.Series:
    """Cold-start labels: ``record_id -> 1/0`` for the records known before screening.

    The reviewer's known includes and excludes win. When the reviewer gave none, the
    tagger's suggestions (``record_id``, ``decision`` in include/exclude/unclear) stand in
    for them; "unclear" suggestions are left out. Ids not among ``records`` are ignored
    (with a warning), so a stale list cannot break a run.
    """
    ids = set(records["record_id"])
    inc, exc = set(known_includes), set(known_excludes)
    both = inc & exc
    if both:
        raise ValueError(f"record(s) marked both include and exclude: {', '.join(sorted(both))}")
    labels: dict[str, int] = {}
    if inc or exc:
        labels.update(dict.fromkeys(inc, 1))
        labels.update(dict.fromkeys(exc, 0))
    elif suggestions is not None and not suggestions.empty:
        for rid, decision in zip(suggestions["record_id"], suggestions["decision"], strict=True):
            if decision == "include":
                labels[rid] = 1
            elif decision == "exclude":
                labels[rid] = 0
    missing = sorted(set(labels) - ids)
    if missing:
        log.warning(
            "%d prior record id(s) not among the records, ignored: %s",
            len(missing),
            ", ".join(missing[:5]),
        )
    order = [rid for rid in records["record_id"] if rid in labels]
    return pd.Series(
        [labels[r] for r in order],
        index=pd.Index(order, name="record_id"),
        dtype="int64",
        name="prior",
    )
