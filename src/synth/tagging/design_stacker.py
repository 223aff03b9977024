"""A learned layer for the DESIGN facet over corpus-independent, structural features.

The rule tagger names a paper's design from its method words; where it names none, or the
wrong one, the gold label is usually not even among its candidates (a narrative review of a
drug class, a commentary, a guideline that names no method). The TF-IDF refiner
(:mod:`synth.tagging.learn`) did not help there: its words are topic words, and topics
differ between corpora. This layer reads only how an abstract is WRITTEN, which should
carry over: the rules' design scores, how many figures, percentages, p-values and sample
sizes it reports, past against present tense, "we", the headings of a structured
abstract, its length, the title's shape (a colon, a question, "review", "update"), and
counts of arguing, advising, single-case, qualitative and review wording. The word lists
and patterns are data, ``synth/data/design_stacker.yml``.

:class:`DesignStacker` is a scikit-learn estimator: ``fit(X, y)`` with ``X`` the frame
:func:`stacker_input` makes of records and their rule tag rows, and ``y`` the gold design
labels (``not-applicable`` allowed: no design); ``predict`` / ``predict_proba``.
:func:`stacked_design_rows` puts its predictions back as tag rows (all records, or only
those whose rules found no design or only a weak one), to be scored like any tags.
``scripts/design_stacker_cv.py`` cross-validates it against the rules alone.

Measured (issue 16, 5 stratified folds over read sets 1+3, seeds 0-2): it does not earn
its place. Deciding every record lowers design macro-F1 by 0.06-0.14 and micro-F1 by about
0.05; deciding only the records the rules leave without a design (or below 0.5) changes
macro-F1 by -0.025 to +0.002 and micro by nothing. It is not wired into ``synth tag``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from synth.tagging.describe import COUNTED_SCORE
from synth.tagging.evaluate import NOT_APPLICABLE
from synth.tagging.fallbacks import FALLBACK_CUE, count_figures

FACET = "design"
#: Columns of :func:`stacker_input` holding the rules' design score of each label.
RULE_PREFIX = "rule:"
#: The column of :func:`stacker_input` saying the rules' design row is a fallback's.
RULE_FALLBACK = "rule_fallback"
#: Tag rows :func:`stacked_design_rows` writes carry this source.
SOURCE = "design-stacker"
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\[(])")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


@dataclass(frozen=True)
class FeatureLists:
    """``design_stacker.yml`` compiled: one regex per phrase group, pattern and heading."""

    past: re.Pattern[str]
    present: re.Pattern[str]
    first_plural: re.Pattern[str]
    headings: dict[str, re.Pattern[str]]
    phrases: dict[str, re.Pattern[str]]
    patterns: dict[str, re.Pattern[str]]
    title_patterns: dict[str, re.Pattern[str]]


def _spaced(phrase: str) -> str:
    """``phrase`` escaped for a regex, any run of white space between its words."""
    return re.escape(phrase.strip().lower()).replace(r"\ ", r"\s+")


#: A heading of a structured abstract: at its start or a sentence's, then ":" or ".".
_HEADING = r"(?:^|[.!?]\s+|\n)\s*{}\s*[:.]"


def _words(phrases: Sequence[str]) -> re.Pattern[str]:
    """One case-insensitive regex matching any of ``phrases`` as whole words (longest first)."""
    alts = sorted({p.strip().lower() for p in phrases if p.strip()}, key=len, reverse=True)
    body = "|".join(_spaced(p) for p in alts)
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", re.IGNORECASE)


def parse_feature_lists(doc: dict[str, Any]) -> FeatureLists:
    """Compile a ``design_stacker.yml`` document (see that file for its parts)."""
    flags = re.IGNORECASE
    headings = {h: re.compile(_HEADING.format(_spaced(h)), flags) for h in doc["headings"]}
    return FeatureLists(
        past=_words(doc["tense"]["past"]),
        present=_words(doc["tense"]["present"]),
        first_plural=_words(doc["first_plural"]),
        headings=headings,
        phrases={name: _words(words) for name, words in doc["phrases"].items()},
        patterns={name: re.compile(p, flags) for name, p in doc["patterns"].items()},
        title_patterns={name: re.compile(p, flags) for name, p in doc["title_patterns"].items()},
    )


@cache
def feature_lists() -> FeatureLists:
    """The package's word lists and patterns (``synth/data/design_stacker.yml``)."""
    text = resources.files("synth.data").joinpath("design_stacker.yml").read_text("utf-8")
    return parse_feature_lists(yaml.safe_load(text))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def text_features(title: str, abstract: str, lists: FeatureLists | None = None) -> dict[str, float]:
    """The structural features of one record's title and abstract (names -> values).

    Counts are ``log(1 + n)``; tense and "we" are shares of the abstract's sentences;
    headings and title patterns are 0/1."""
    lists = lists or feature_lists()
    title, abstract = _text(title), _text(abstract)
    both = f"{title}. {abstract}"
    words = len(_WORD.findall(abstract))
    sentences = [s for s in _SENTENCE.split(abstract.strip()) if s] if abstract.strip() else []
    n = max(len(sentences), 1)
    out: dict[str, float] = {
        "has_abstract": float(words > 0),
        "abstract_words": float(np.log1p(words)),
        "sentences": float(np.log1p(len(sentences))),
        "title_words": float(np.log1p(len(_WORD.findall(title)))),
        "figures": float(np.log1p(count_figures(abstract))),
        "past_share": sum(bool(lists.past.search(s)) for s in sentences) / n,
        "present_share": sum(bool(lists.present.search(s)) for s in sentences) / n,
        "we_share": sum(bool(lists.first_plural.search(s)) for s in sentences) / n,
    }
    out["past_minus_present"] = out["past_share"] - out["present_share"]
    found = [name for name, rx in lists.headings.items() if rx.search(abstract)]
    out["headings"] = float(np.log1p(len(found)))
    for name in lists.headings:
        out[f"heading:{name}"] = float(name in found)
    for name, rx in lists.phrases.items():
        out[f"words:{name}"] = float(np.log1p(len(rx.findall(both))))
    for name, rx in lists.patterns.items():
        out[f"pattern:{name}"] = float(np.log1p(len(rx.findall(abstract))))
    for name, rx in lists.title_patterns.items():
        out[f"title:{name}"] = float(bool(rx.search(title)))
    return out


def stacker_input(
    records: pd.DataFrame, tags: pd.DataFrame, labels: Sequence[str] | None = None
) -> pd.DataFrame:
    """The stacker's ``X``: one row per record (``record_id, title, abstract``), with the
    rules' design score of each label (``rule:<label>``, 0 where the rules gave it no row)
    and whether the rules' design row is a fallback's (``rule_fallback``).

    ``labels``: the design labels to give columns (default: the package codebook's)."""
    if labels is None:
        from synth.tagging.codebook import load_codebook

        labels = list(load_codebook().facets[FACET].labels)
    out = pd.DataFrame(
        {
            "record_id": records["record_id"].astype(str).to_numpy(),
            "title": [_text(t) for t in records.get("title", pd.Series([""] * len(records)))],
            "abstract": [_text(a) for a in records.get("abstract", pd.Series([""] * len(records)))],
        }
    )
    rows = tags[tags["facet"] == FACET].assign(record_id=lambda t: t["record_id"].astype(str))
    scores = rows.pivot_table(index="record_id", columns="label", values="score", aggfunc="max")
    for label in labels:
        col = scores[label] if label in scores.columns else pd.Series(dtype=float)
        out[f"{RULE_PREFIX}{label}"] = out["record_id"].map(col).fillna(0.0).to_numpy(float)
    fell_back = {
        str(rid)
        for rid, evidence in zip(rows["record_id"], rows["evidence"], strict=True)
        if any(isinstance(e, dict) and e.get("cue") == FALLBACK_CUE for e in evidence or [])
    } if "evidence" in rows.columns else set()  # fmt: skip
    out[RULE_FALLBACK] = out["record_id"].isin(fell_back).astype(float)
    return out


def feature_matrix(X: pd.DataFrame, lists: FeatureLists | None = None) -> pd.DataFrame:
    """Every feature of :func:`stacker_input`'s rows: the rule columns as they are (and
    the best rule score, and whether no rule score reaches the counted 0.5), then
    :func:`text_features`."""
    rule_cols = [c for c in X.columns if c.startswith(RULE_PREFIX)]
    rules = X[[*rule_cols, RULE_FALLBACK]].astype(float).reset_index(drop=True)
    best = rules[rule_cols].max(axis=1) if rule_cols else pd.Series(0.0, index=rules.index)
    rules["rule_best"] = best
    rules["rule_none"] = (best < COUNTED_SCORE).astype(float)
    text = pd.DataFrame(
        [text_features(t, a, lists) for t, a in zip(X["title"], X["abstract"], strict=True)]
    )
    return pd.concat([rules, text], axis=1)


class DesignStacker(ClassifierMixin, BaseEstimator):
    """Structural features + rule scores -> a design label (a logistic regression on
    standardised features, classes balanced).

    Parameters
    ----------
    C
        Inverse regularisation strength of the logistic regression.
    class_weight
        Passed to it; "balanced" so that the rare designs (case study, guideline) count.
    random_state
        Its seed (the solver is deterministic; kept for the contract).
    """

    def __init__(
        self, C: float = 0.3, class_weight: str | None = "balanced", random_state: int = 0
    ) -> None:
        self.C = C
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Sequence[str]) -> DesignStacker:
        features = feature_matrix(X)
        y = np.asarray([str(v) for v in y])
        if len(y) != len(features):
            raise ValueError(f"X has {len(features)} rows, y {len(y)}")
        if len(set(y)) < 2:
            raise ValueError("need at least two design labels to learn from")
        self.feature_names_ = list(features.columns)
        self.model_ = make_pipeline(
            StandardScaler(),
            LogisticRegression(
                C=self.C, class_weight=self.class_weight, max_iter=5000,
                random_state=self.random_state,
            ),
        )  # fmt: skip
        self.model_.fit(features.to_numpy(float), y)
        self.classes_ = self.model_.classes_
        return self

    def _features(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "model_")
        features = feature_matrix(X)
        missing = [c for c in self.feature_names_ if c not in features.columns]
        if missing:
            raise ValueError(f"X lacks features it was fitted with: {missing[:5]}")
        return features[self.feature_names_].to_numpy(float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Rows: records of ``X``; columns: :attr:`classes_`."""
        features = self._features(X)  # raises NotFittedError before fit
        return self.model_.predict_proba(features)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        proba = self.predict_proba(X)  # raises NotFittedError before fit
        return self.classes_[np.argmax(proba, axis=1)]


def weak_records(X: pd.DataFrame, below: float = COUNTED_SCORE) -> pd.Series:
    """Whether each row's rules found no design, or only ones scoring below ``below``."""
    rule_cols = [c for c in X.columns if c.startswith(RULE_PREFIX)]
    return X[rule_cols].max(axis=1) < below


def stacked_design_rows(
    tags: pd.DataFrame,
    X: pd.DataFrame,
    labels: Sequence[str],
    scores: Sequence[float],
    *,
    only_weak_below: float | None = None,
) -> pd.DataFrame:
    """``tags`` with the design of ``X``'s records decided by the stacker: their rule
    design rows replaced by one row of the predicted label (``labels``, with ``scores``
    its probability; ``not-applicable``: no design row), source :data:`SOURCE`. With
    ``only_weak_below``, only the records whose rules found no design scoring at least
    that (:func:`weak_records`) are decided; the others keep the rules' rows."""
    decide = pd.Series(True, index=X.index)
    if only_weak_below is not None:
        decide = weak_records(X, only_weak_below)
    ids = set(X.loc[decide, "record_id"].astype(str))
    keep = ~((tags["facet"] == FACET) & tags["record_id"].astype(str).isin(ids))
    new = [
        {"record_id": rid, "facet": FACET, "label": lab, "score": float(s),
         "evidence": [], "source": SOURCE}
        for rid, lab, s, d in zip(X["record_id"].astype(str), labels, scores, decide, strict=True)
        if d and lab != NOT_APPLICABLE
    ]  # fmt: skip
    return pd.concat([tags[keep], pd.DataFrame(new, columns=list(tags.columns))], ignore_index=True)


def stratified_folds(labels: Sequence[str], k: int = 5, seed: int = 0) -> np.ndarray:
    """Each record's fold (0..k-1), stratified by its label and dealt by ``seed``: every
    record is tested in exactly one fold, and the same labels, ``k`` and ``seed`` always
    give the same folds."""
    labels = np.asarray([str(v) for v in labels])
    fold = np.full(len(labels), -1)
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for f, (_, test) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        fold[test] = f
    return fold
