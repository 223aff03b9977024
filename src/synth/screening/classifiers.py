"""Classifiers for prioritisation, each an ordinary scikit-learn estimator.

Every classifier here takes ``fit(X, y, sample_weight=None)`` and gives
``predict_proba(X)`` with columns (exclude, include), so balancing (sample weights or
resampling) and querying work the same whichever model is chosen.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from synth.screening.features import config

CLASSIFIERS = ("nb", "logistic", "svm")


class LinearSVMScorer(ClassifierMixin, BaseEstimator):
    """A linear SVM whose decision values are mapped to (0, 1) with a logistic link.

    The mapping is monotone, so the ranking is the SVM's own; Platt calibration would
    need held-out labels that the first rounds of screening do not have.
    """

    def __init__(self, C: float = 1.0, loss: str = "squared_hinge", random_state: int = 0) -> None:
        self.C = C
        self.loss = loss
        self.random_state = random_state

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LinearSVMScorer:
        from sklearn.svm import LinearSVC

        self.svm_ = LinearSVC(C=self.C, loss=self.loss, random_state=self.random_state)
        self.svm_.fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.svm_.classes_
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        return self.svm_.decision_function(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-2.0 * self.decision_function(X)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        return self.svm_.predict(X)


def linear_scores(model: Any, X: Any) -> np.ndarray | None:
    """Log-odds of inclusion as one sparse product, or None for a non-linear model.

    All three classifiers here are linear in the features (naive Bayes in log space), so
    rescoring 100,000 records is ``X @ w + b`` without scikit-learn's per-call input
    validation, which costs more than the product itself at that size. Same ranking and
    the same probabilities as ``predict_proba``.
    """
    if isinstance(model, LinearSVMScorer):
        w, b, scale = model.svm_.coef_.ravel(), float(model.svm_.intercept_[0]), 2.0
    elif hasattr(model, "feature_log_prob_"):  # multinomial naive Bayes
        flp, prior = model.feature_log_prob_, model.class_log_prior_
        w, b, scale = flp[1] - flp[0], float(prior[1] - prior[0]), 1.0
    elif hasattr(model, "coef_"):
        w, b, scale = model.coef_.ravel(), float(model.intercept_[0]), 1.0
    else:
        return None
    if list(model.classes_) != [0, 1]:
        return None
    return scale * (np.asarray(X @ w.astype(X.dtype, copy=False)).ravel() + b)


def make_classifier(name: str, seed: int = 0) -> BaseEstimator:
    """A fresh, unfitted classifier named in ``data/screening.yml``."""
    params = dict(config()["classifiers"].get(name) or {})
    if name == "nb":
        from sklearn.naive_bayes import MultinomialNB

        return MultinomialNB(**params)
    if name == "logistic":
        from sklearn.linear_model import LogisticRegression

        # liblinear's dual solver: with far more words than labelled records it fits in
        # milliseconds where the primal solvers take seconds on (near-)separable data
        return LogisticRegression(solver="liblinear", dual=True, random_state=seed, **params)
    if name == "svm":
        return LinearSVMScorer(random_state=seed, **params)
    raise ValueError(f"unknown classifier {name!r}; choose from {', '.join(CLASSIFIERS)}")
