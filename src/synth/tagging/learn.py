"""The learnable layer: refine the rule tagger's scores from what reviewers confirm.

The rules (codebook cues) are precise but brittle: a paper that never says "acute" can
still be about a ward. :class:`TagRefiner` learns, per facet, from the records' text and
the rule scores together, trained on reviewer-confirmed labels and, while those are few,
on the rules' own confident output (:func:`pseudo_labels`, :func:`combine`).
:mod:`synth.tagging.refiner_cv` measures whether the layer beats the rules alone on
held-out folds (:func:`cross_validate_refiner` is a per-label diagnostic).

Design: one estimator refines either ONE label (``y`` 1-D: 0/1 for a (facet, label)
pair, or the label names of a single-choice facet such as ``publication``) or a whole
multi-label facet (``y`` a 2-D 0/1 indicator, one column per label, e.g. ``setting``):
then one logistic regression is fitted per label column on shared TF-IDF features, and
``predict_proba`` returns one positive-class probability per label.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

log = logging.getLogger(__name__)

#: Text columns the refiner reads when present (see :func:`feature_frame`).
DEFAULT_TEXT_COLUMNS: tuple[str, ...] = ("title", "abstract", "keywords", "venue", "extracts")
#: Rule-score columns are named ``rule_score`` (one label) or ``rule_score:<label>``.
SCORE_PREFIX = "rule_score"
#: Columns of :func:`cross_validate_refiner`'s result.
CV_COLUMNS: list[str] = [
    "facet",
    "label",
    "fold",
    "k",
    "n_train",
    "n_test",
    "positives",
    "f1_rules",
    "f1_refiner",
    "note",
]


class TagRefiner(ClassifierMixin, BaseEstimator):
    """TF-IDF of the record's text stacked with the rule score(s) -> logistic regression.

    Parameters
    ----------
    text_columns
        Columns of ``X`` joined into one document per record; those absent from ``X`` are
        skipped. List cells (keywords) are joined with spaces.
    score_columns
        Numeric columns used as features next to the text. ``None``: every column whose
        name starts with ``rule_score``. A missing rule score (no tag) counts as 0.
    ngram_range, min_df, max_features, sublinear_tf
        Passed to :class:`~sklearn.feature_extraction.text.TfidfVectorizer`.
    score_weight
        Multiplier of the score columns (TF-IDF rows have unit length, so 1.0 lets one
        confident rule count about as much as a whole document's words).
    C, class_weight, max_iter, random_state
        Passed to :class:`~sklearn.linear_model.LogisticRegression`; ``class_weight`` is
        "balanced" by default because positive labels are rare in a review.
    tfidf
        A :class:`SharedTfidf` already fitted on the records' text (see
        :func:`shared_tfidf`): used as it is instead of fitting a vectorizer on ``X``, and
        the four vectorizer parameters above are then its, not these.

    Notes
    -----
    ``X`` is a DataFrame with text and rule-score columns (see :func:`feature_frame`).
    A frame with neither (or a plain numeric array) is read as numeric features only,
    which is also how scikit-learn's estimator checks exercise the contract.

    ``y`` 1-D: one label (binary or single-choice multi-class). ``y`` 2-D 0/1 (a
    DataFrame whose columns are label names, or an array): multi-label, one logistic
    regression per column; a column with a single value is predicted as that constant.
    A single-column 2-D ``y`` is treated as 1-D. A 2-D float ``y`` may hold NaN where a
    label is unknown for a record (the rules unsure and no reviewer verdict): each label's
    regression is then fitted on its known rows only (see :mod:`synth.tagging.refine`).
    """

    def __init__(
        self,
        text_columns: Sequence[str] = DEFAULT_TEXT_COLUMNS,
        score_columns: Sequence[str] | None = None,
        *,
        ngram_range: tuple[int, int] = (1, 2),
        min_df: int | float = 1,
        max_features: int | None = None,
        sublinear_tf: bool = True,
        score_weight: float = 1.0,
        C: float = 1.0,
        class_weight: str | dict | None = "balanced",
        max_iter: int = 1000,
        random_state: int | None = None,
        tfidf: SharedTfidf | None = None,
    ) -> None:
        self.text_columns = text_columns
        self.score_columns = score_columns
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.score_weight = score_weight
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.random_state = random_state
        self.tfidf = tfidf

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True  # numeric input may be sparse
        return tags

    # ------------------------------------------------------------------ fit

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> TagRefiner:
        """Learn the vocabulary and one logistic regression (per label when multi-label).

        Parameters
        ----------
        X
            DataFrame with text and ``rule_score`` columns, or a numeric array.
        y
            Reviewer-confirmed labels: 1-D (one label) or 2-D 0/1 (multi-label).
        sample_weight
            Optional per-record weights (e.g. confirmed labels above pseudo-labels).

        Returns
        -------
        TagRefiner
            ``self``, fitted.
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        features = self._features(X, reset=True)
        y_arr = _as_target(y)
        if y_arr.shape[0] != features.shape[0]:
            raise ValueError(f"X has {features.shape[0]} rows but y has {y_arr.shape[0]} labels")
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=float)
        self._y_dtype = y_arr.dtype

        if y_arr.ndim == 2 and _has_missing(y_arr):
            self._fit_masked(features, y, y_arr, sample_weight)
        elif y_arr.ndim == 2:
            if type_of_target(y_arr) != "multilabel-indicator":
                raise ValueError(
                    "a 2-D y must be a 0/1 label indicator (one column per label), "
                    f"got {type_of_target(y_arr)}"
                )
            self.multilabel_ = True
            names = list(y.columns) if isinstance(y, pd.DataFrame) else list(range(y_arr.shape[1]))
            self.classes_ = np.asarray(names, dtype=object if isinstance(y, pd.DataFrame) else int)
            self.estimators_ = [
                self._fit_one(features, y_arr[:, j], sample_weight) for j in range(y_arr.shape[1])
            ]
        else:
            check_classification_targets(y_arr)
            self.multilabel_ = False
            model = self._new_model().fit(features, y_arr, sample_weight=sample_weight)
            self.estimators_ = [model]
            self.classes_ = model.classes_
        fitted = [m for m in self.estimators_ if not isinstance(m, int)]
        self.n_iter_ = np.asarray([int(np.max(m.n_iter_)) for m in fitted] or [0], dtype=np.int32)
        return self

    def _fit_masked(
        self, features: sparse.csr_matrix, y: Any, y_arr: np.ndarray, sample_weight: Any
    ) -> None:
        """Multi-label with unknown entries (NaN): each label learns from its known rows.

        This is how rule output and reviewers' verdicts combine: a record can be a
        confident negative for one label and unknown (the rules unsure, no reviewer) for
        another. A label with no known row is predicted as 0.
        """
        Y = np.asarray(y_arr, dtype=float)
        known = ~np.isnan(Y)
        if not np.isin(Y[known], (0.0, 1.0)).all():
            raise ValueError("a 2-D y with missing entries must hold 0, 1 or NaN")
        self.multilabel_ = True
        self._y_dtype = np.dtype(int)
        names = list(y.columns) if isinstance(y, pd.DataFrame) else list(range(Y.shape[1]))
        self.classes_ = np.asarray(names, dtype=object if isinstance(y, pd.DataFrame) else int)
        self.estimators_ = []
        for j in range(Y.shape[1]):
            rows = np.flatnonzero(known[:, j])
            if not len(rows):
                self.estimators_.append(0)
                continue
            sw = None if sample_weight is None else sample_weight[rows]
            self.estimators_.append(self._fit_one(features[rows], Y[rows, j].astype(int), sw))

    def _new_model(self) -> LogisticRegression:
        return LogisticRegression(
            C=self.C,
            class_weight=self.class_weight,
            max_iter=self.max_iter,
            random_state=self.random_state,
        )

    def _fit_one(
        self, features: sparse.csr_matrix, y: np.ndarray, sample_weight: np.ndarray | None
    ) -> LogisticRegression | int:
        """One label column: a model, or the constant when the column has one value."""
        values = np.unique(y)
        if len(values) == 1:
            return int(values[0])
        return self._new_model().fit(features, y, sample_weight=sample_weight)

    # ------------------------------------------------------------------ predict

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n, n_classes); multi-label: P(label) per column (n, k)."""
        check_is_fitted(self)
        features = self._features(X, reset=False)
        if not self.multilabel_:
            return self.estimators_[0].predict_proba(features)
        cols = [
            np.full(features.shape[0], float(m))
            if isinstance(m, int)
            else m.predict_proba(features)[:, 1]
            for m in self.estimators_
        ]
        return np.column_stack(cols)

    def decision_function(self, X: Any) -> np.ndarray:
        """Logistic-regression margins; multi-label: one column per label (constants ±1)."""
        check_is_fitted(self)
        features = self._features(X, reset=False)
        if not self.multilabel_:
            return self.estimators_[0].decision_function(features)
        cols = [
            np.full(features.shape[0], 1.0 if m else -1.0)
            if isinstance(m, int)
            else m.decision_function(features)
            for m in self.estimators_
        ]
        return np.column_stack(cols)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted label; multi-label: a 0/1 indicator (n, k), 1 where P(label) > 0.5."""
        check_is_fitted(self)
        if not self.multilabel_:
            return self.estimators_[0].predict(self._features(X, reset=False))
        return (self.predict_proba(X) > 0.5).astype(self._y_dtype)

    # ------------------------------------------------------------------ features

    def _features(self, X: Any, *, reset: bool) -> sparse.csr_matrix:
        """Text (TF-IDF) and score columns as one sparse matrix."""
        if reset:
            self._frame_mode = self._detect_frame_mode(X)
        if not self._frame_mode:
            arr = validate_data(self, X, reset=reset, accept_sparse="csr", dtype=float)
            return sparse.csr_matrix(arr) * float(self.score_weight)

        if not isinstance(X, pd.DataFrame):
            raise ValueError(
                "TagRefiner was fitted on a DataFrame with text/rule-score columns "
                f"{list(self.feature_names_in_)}; pass a DataFrame with those columns"
            )
        if reset:
            self.text_columns_ = [c for c in self.text_columns if c in X.columns]
            self.score_columns_ = self._score_columns(X)
            self.feature_names_in_ = np.asarray(
                self.text_columns_ + self.score_columns_, dtype=object
            )
            self.n_features_in_ = len(self.feature_names_in_)
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks the columns the refiner was fitted on: {missing}")

        parts: list[sparse.csr_matrix] = []
        if self.text_columns_:
            docs = _documents(X, self.text_columns_)
            if reset and self.tfidf is not None:
                self.vectorizer_ = self.tfidf
                parts.append(self.tfidf.transform(docs))
            elif reset:
                self.vectorizer_ = TfidfVectorizer(
                    ngram_range=tuple(self.ngram_range),
                    min_df=self.min_df,
                    max_features=self.max_features,
                    sublinear_tf=self.sublinear_tf,
                    strip_accents="unicode",
                )
                try:
                    parts.append(self.vectorizer_.fit_transform(docs))
                except ValueError:  # every document empty: learn from the scores alone
                    log.warning(
                        "no words in the text columns %s: using scores only", self.text_columns_
                    )
                    self.vectorizer_ = None
            elif self.vectorizer_ is not None:
                parts.append(self.vectorizer_.transform(docs))
        elif reset:
            self.vectorizer_ = None
        if self.score_columns_:
            nums = X[self.score_columns_].apply(pd.to_numeric, errors="coerce").fillna(0.0)
            parts.append(sparse.csr_matrix(nums.to_numpy(dtype=float) * float(self.score_weight)))
        if not parts:
            raise ValueError(
                "no usable features: the text columns are empty and there are no scores"
            )
        return sparse.hstack(parts, format="csr")

    def _detect_frame_mode(self, X: Any) -> bool:
        if not isinstance(X, pd.DataFrame):
            return False
        has_text = any(c in X.columns for c in self.text_columns)
        return has_text or bool(self._score_columns(X))

    def _score_columns(self, X: pd.DataFrame) -> list[str]:
        if self.score_columns is not None:
            cols = list(self.score_columns)
            missing = [c for c in cols if c not in X.columns]
            if missing:
                raise ValueError(f"score columns not in X: {missing}")
            return cols
        return [c for c in X.columns if str(c).startswith(SCORE_PREFIX)]


class SharedTfidf:
    """One TF-IDF, fitted once on every record's text, for several refiners to share.

    Refining three facets fits three refiners on (subsets of) the same records and applies
    them to all of them: each would learn much the same vocabulary and analyse every text
    twice, which was most of the time ``synth tag`` took on a large review. The vocabulary
    and IDF come from all the records, labelled or not (as screening tools fit their
    features); the labels still come only from the rows each refiner is fitted on.

    Texts seen when fitting are looked up, not analysed again; others are transformed.
    It does not change once built, so copies (scikit-learn's ``clone``) share it.
    """

    def __init__(self, docs: Sequence[str], **params: Any) -> None:
        self.vectorizer = TfidfVectorizer(**params)
        self.matrix = self.vectorizer.fit_transform(docs).tocsr()
        self._rows = {doc: i for i, doc in enumerate(docs)}

    def transform(self, docs: Sequence[str]) -> sparse.csr_matrix:
        rows = [self._rows.get(doc, -1) for doc in docs]
        unseen = [i for i, r in enumerate(rows) if r < 0]
        if not unseen:
            return self.matrix[rows]
        out = sparse.lil_matrix((len(docs), self.matrix.shape[1]))
        seen = [i for i, r in enumerate(rows) if r >= 0]
        if seen:
            out[seen] = self.matrix[[rows[i] for i in seen]]
        out[unseen] = self.vectorizer.transform([docs[i] for i in unseen])
        return out.tocsr()

    def get_feature_names_out(self) -> np.ndarray:
        return self.vectorizer.get_feature_names_out()

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedTfidf:
        return self


def shared_tfidf(X: pd.DataFrame, **refiner_params: Any) -> SharedTfidf | None:
    """A :class:`SharedTfidf` over ``X``'s text as ``TagRefiner(**refiner_params)`` would
    vectorise it; None when ``X`` has no text columns or no words in them."""
    refiner = TagRefiner(**refiner_params)
    columns = [c for c in refiner.text_columns if c in X.columns]
    if not columns:
        return None
    try:
        return SharedTfidf(
            _documents(X, columns),
            ngram_range=tuple(refiner.ngram_range),
            min_df=refiner.min_df,
            max_features=refiner.max_features,
            sublinear_tf=refiner.sublinear_tf,
            strip_accents="unicode",
        )
    except ValueError:  # no words at all: each refiner falls back to the scores
        return None


def _has_missing(y: np.ndarray) -> bool:
    return y.dtype.kind == "f" and bool(np.isnan(y).any())


def _as_target(y: Any) -> np.ndarray:
    arr = y.to_numpy() if isinstance(y, pd.DataFrame | pd.Series) else np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.ravel()
    if arr.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D or 2-D, got shape {arr.shape}")
    return arr


def _documents(X: pd.DataFrame, columns: Iterable[str]) -> list[str]:
    """One string per row: the text columns joined; lists joined with spaces; NaN -> ''."""
    cols = [X[c].map(_cell_text) for c in columns]
    joined = cols[0]
    for c in cols[1:]:
        joined = joined + " . " + c
    return joined.tolist()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple | np.ndarray):
        return " ".join(str(v) for v in value if v is not None)
    if isinstance(value, float) and np.isnan(value):
        return ""
    if value is pd.NA:
        return ""
    return str(value)


# ---------------------------------------------------------------------- building X and y


def feature_frame(
    records: pd.DataFrame,
    tags: pd.DataFrame,
    facet: str,
    *,
    label: str | None = None,
    labels: Sequence[str] | None = None,
    extracts: pd.DataFrame | None = None,
    fulltexts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The refiner's ``X``: one row per record (index ``record_id``).

    Columns: ``title``, ``abstract``, ``keywords`` (joined), ``venue``, ``extracts`` (the
    record's extract passages joined, matched by ``ref`` to ``source_key`` or DOI),
    ``fulltext`` if full texts are given (not in the refiner's default text columns:
    long texts would drown the title; add it to ``text_columns`` to use it), and the
    rule scores of ``facet``: ``rule_score`` for one ``label``, else one
    ``rule_score:<label>`` column per label (``labels``, default: those in the tags).
    A record without a tag scores 0.
    """
    ids = records["record_id"]
    X = pd.DataFrame(index=pd.Index(ids.to_numpy(), name="record_id"))
    for col in ("title", "abstract", "keywords", "venue"):
        values = records[col] if col in records.columns else pd.Series([""] * len(records))
        X[col] = [_cell_text(v) for v in values]
    X["extracts"] = _extract_text(records, extracts)
    if fulltexts is not None and not fulltexts.empty:
        texts = fulltexts.groupby("record_id")["text"].agg(lambda s: "\n".join(map(_cell_text, s)))
        X["fulltext"] = X.index.map(texts).fillna("")
    scores = _scores(tags, facet)
    if label is not None:
        col = scores[label] if label in scores.columns else pd.Series(dtype=float)
        X[SCORE_PREFIX] = X.index.map(col).fillna(0.0).astype(float)
    else:  # one frame of score columns, not one insert each (a gazetteer has hundreds)
        wanted = labels if labels is not None else list(scores.columns)
        table = scores.reindex(columns=list(wanted)).reindex(X.index).fillna(0.0).astype(float)
        table.columns = [f"{SCORE_PREFIX}:{lab}" for lab in wanted]
        X = pd.concat([X, table], axis=1)
    return X


def _extract_text(records: pd.DataFrame, extracts: pd.DataFrame | None) -> list[str]:
    if extracts is None or extracts.empty:
        return [""] * len(records)
    if "record_id" in extracts.columns and extracts["record_id"].notna().any():
        # the store's extracts name their record: use that, and refs for the rest
        linked = extracts[extracts["record_id"].notna()]
        by_id = linked.groupby("record_id")["text"].agg(lambda s: "\n".join(map(_cell_text, s)))
        rest = extracts[extracts["record_id"].isna()]
        refs = _extract_text(records, rest.drop(columns="record_id")) if len(rest) else None
        ids = records["record_id"].tolist()
        return [
            "\n".join(t for t in (by_id.get(rid, ""), refs[i] if refs else "") if t)
            for i, rid in enumerate(ids)
        ]
    by_ref = extracts.groupby("ref")["text"].agg(lambda s: "\n".join(map(_cell_text, s)))
    keys = records["source_key"] if "source_key" in records.columns else [None] * len(records)
    dois = records["doi"] if "doi" in records.columns else [None] * len(records)
    out = []
    for key, doi in zip(keys, dois, strict=True):
        text = by_ref.get(key) if isinstance(key, str) else None
        if text is None and isinstance(doi, str):
            text = by_ref.get(doi)
        out.append(text or "")
    return out


def _scores(tags: pd.DataFrame, facet: str) -> pd.DataFrame:
    """record_id × label table of the best tag score of ``facet``."""
    if tags is None or tags.empty:
        return pd.DataFrame()
    sub = tags[tags["facet"] == facet]
    if sub.empty:
        return pd.DataFrame()
    return sub.pivot_table(index="record_id", columns="label", values="score", aggfunc="max")


def pseudo_labels(
    tags: pd.DataFrame,
    records: pd.DataFrame,
    facet: str,
    *,
    label: str | None = None,
    labels: Sequence[str] | None = None,
    high: float = 0.8,
    low: float = 0.1,
    extracts: pd.DataFrame | None = None,
    fulltexts: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.Series | pd.DataFrame]:
    """Training data from the rules' confident output, for when reviewers have confirmed few.

    A rule score ``>= high`` is a positive, no tag or a score ``<= low`` a negative;
    records in between are left out (the rules are unsure, so they teach nothing).
    With ``label``: ``y`` is a 0/1 Series. Without: ``y`` is a 0/1 DataFrame with one
    column per label of ``facet`` and a record is kept only when every label is
    confident.

    Returns
    -------
    (X, y)
        ``X`` from :func:`feature_frame` and ``y``, both indexed by ``record_id``.
    """
    if not 0 <= low < high <= 1:
        raise ValueError(f"need 0 <= low < high <= 1, got low={low}, high={high}")
    X = feature_frame(
        records, tags, facet, label=label, labels=labels, extracts=extracts, fulltexts=fulltexts
    )
    score_cols = (
        [SCORE_PREFIX]
        if label is not None
        else [c for c in X.columns if c.startswith(SCORE_PREFIX + ":")]
    )
    if not score_cols:
        raise ValueError(f"no rule scores for facet {facet!r}: no tags and no labels given")
    S = X[score_cols]
    confident = ((high <= S) | (low >= S)).all(axis=1)
    X = X[confident]
    Y = (S[confident] >= high).astype(int)
    if label is not None:
        y: pd.Series | pd.DataFrame = Y[SCORE_PREFIX].rename(label)
    else:
        y = Y.rename(columns=lambda c: c.split(":", 1)[1])
    log.info(
        "pseudo-labels for %s%s: %d of %d records confident",
        facet,
        f"/{label}" if label else "",
        int(confident.sum()),
        len(confident),
    )
    return X, y


def combine(
    confirmed: tuple[pd.DataFrame, pd.Series | pd.DataFrame],
    pseudo: tuple[pd.DataFrame, pd.Series | pd.DataFrame],
) -> tuple[pd.DataFrame, pd.Series | pd.DataFrame]:
    """Reviewer-confirmed ``(X, y)`` plus the pseudo-labelled records they do not cover.

    Both are indexed by ``record_id``. A confirmed label always overrides the pseudo
    one for the same record; when a record was confirmed more than once the last row
    wins (decisions are appended events, so the last is the current one). Confirmed rows
    come first in the result.
    """
    Xc, yc = confirmed
    Xp, yp = pseudo
    if len(Xc) != len(yc) or len(Xp) != len(yp):
        raise ValueError("each of confirmed and pseudo must be (X, y) of the same length")
    if not Xc.index.equals(yc.index) or not Xp.index.equals(yp.index):
        raise ValueError("X and y must share their record_id index")
    last = ~Xc.index.duplicated(keep="last")
    Xc, yc = Xc[last], yc[last]
    if isinstance(yc, pd.DataFrame) != isinstance(yp, pd.DataFrame):
        raise ValueError("confirmed and pseudo labels must both be 1-D or both multi-label")
    if isinstance(yc, pd.DataFrame):
        missing = [c for c in yc.columns if c not in yp.columns]
        if missing:
            raise ValueError(f"pseudo labels lack the confirmed label columns {missing}")
        yp = yp[list(yc.columns)]
    keep = ~Xp.index.isin(Xc.index)
    X = pd.concat([Xc, Xp[keep]])
    y = pd.concat([yc, yp[keep]])
    if isinstance(y, pd.Series):
        y = y.rename(yc.name)
    return X, y


def gold_labels(
    gold: pd.DataFrame,
    records: pd.DataFrame,
    facet: str,
    *,
    label: str,
    unknown: Sequence[str] = ("unclear",),
) -> pd.Series:
    """0/1 for ``label`` on every record the gold file codes in ``facet`` (index record_id).

    Gold rows (``key, facet, label``) are mapped to records by ``records.source_key``.
    A record with no gold row for the facet, or only ``unknown`` ones (the coder could
    not tell: that is not a negative), is left out; a key with no record is logged and
    dropped.
    """
    sub = gold[(gold["facet"] == facet) & ~gold["label"].isin(list(unknown))]
    key_to_id = dict(zip(records["source_key"], records["record_id"], strict=True))
    unknown_keys = sorted(set(sub["key"]) - set(key_to_id))
    if unknown_keys:
        log.warning("gold keys with no record: %s", ", ".join(map(str, unknown_keys[:10])))
    sub = sub[sub["key"].isin(key_to_id)]
    coded = list(dict.fromkeys(sub["key"].map(key_to_id)))
    positive = set(sub.loc[sub["label"] == label, "key"].map(key_to_id))
    y = pd.Series([int(r in positive) for r in coded], index=pd.Index(coded, name="record_id"))
    return y.rename(label)


def confirmed_labels(overrides: pd.DataFrame, facet: str, *, label: str) -> pd.Series:
    """Reviewers' verdicts on one tag as 0/1 labels (index record_id).

    ``overrides`` has ``record_id, facet, label, verdict`` in event order (the store's
    tag overrides): ``confirm`` and ``set`` give 1, ``reject`` gives 0, and the last
    event per record wins. Use with :func:`feature_frame` and :func:`combine`.
    """
    sub = overrides[(overrides["facet"] == facet) & (overrides["label"] == label)]
    sub = sub[sub["verdict"].isin(["confirm", "set", "reject"])]
    last = sub.groupby("record_id", sort=False).tail(1)
    values = (last["verdict"] != "reject").astype(int).to_numpy()
    return pd.Series(values, index=pd.Index(last["record_id"], name="record_id"), name=label)


# ---------------------------------------------------------------------- evaluation


def cross_validate_refiner(
    records: pd.DataFrame,
    tags: pd.DataFrame,
    gold: pd.DataFrame,
    facet: str,
    *,
    cv: int = 5,
    random_state: int = 0,
    extracts: pd.DataFrame | None = None,
    fulltexts: pd.DataFrame | None = None,
    rule_threshold: float = 0.5,
    refiner_params: dict[str, Any] | None = None,
    unknown: Sequence[str] = ("unclear",),
    pseudo: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """Stratified k-fold F1 per label of ``facet``: rules alone vs a refiner (text + score).

    A per-label diagnostic (one binary refiner per label, its own prediction against the
    rules at ``rule_threshold``). Whether a facet is refined is decided by
    :mod:`synth.tagging.refiner_cv`, which measures the layer as ``synth tag`` runs it
    (one refiner per facet, combined with the rules as ``current_tags`` combines them).

    For each label in the gold file, the records coded for the facet are split into
    ``k`` stratified folds (shuffled with ``random_state``); on each test fold the rules
    predict the label when the tag score ``>= rule_threshold`` and a :class:`TagRefiner`
    fitted on the other folds predicts from the text and that score.

    Gold labels in ``unknown`` ("unclear": the coder could not tell) are neither
    evaluated nor counted as negatives (see :func:`gold_labels`).

    ``pseudo=(high, low)`` adds, to every training fold, the rules' confident output
    (see :func:`pseudo_labels`) on the records the gold does not label for this facet
    (never on test records): the setting of a review with few confirmed labels.

    With a small corpus ``k`` is reduced to the number of positives (or negatives) when
    those are fewer than ``cv``; a label with fewer than 2 of either is skipped, with
    the reason in ``note``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CV_COLUMNS`: one row per label and fold, a ``fold == "mean"`` row
        per label, and a ``label == "(macro)"`` row averaging the labels' means.
    """
    params = dict(refiner_params or {})
    params.setdefault("random_state", random_state)
    rows: list[dict[str, Any]] = []
    means: list[dict[str, Any]] = []
    gold = gold[(gold["facet"] == facet) & ~gold["label"].isin(list(unknown))]
    known = gold["key"].isin(set(records["source_key"]))
    if not known.all():  # warn once here rather than once per label
        log.warning(
            "gold keys with no record: %s", ", ".join(map(str, gold.loc[~known, "key"][:10]))
        )
        gold = gold[known]
    for label in sorted(gold.loc[gold["facet"] == facet, "label"].dropna().unique()):
        y = gold_labels(gold, records, facet, label=label, unknown=unknown)
        X_all = feature_frame(
            records, tags, facet, label=label, extracts=extracts, fulltexts=fulltexts
        )
        X = X_all.loc[y.index]
        extra = _pseudo_pool(X_all, y.index, label, pseudo)
        n_pos, n_neg = int(y.sum()), int((y == 0).sum())
        k = min(cv, n_pos, n_neg)
        base = {"facet": facet, "label": label, "k": k}
        if k < 2:
            note = f"skipped: {n_pos} positive(s), {n_neg} negative(s); too few for 2 folds"
            rows.append(base | {"fold": "mean", "positives": n_pos, "note": note})
            continue
        notes = [f"k reduced from {cv} to {k} ({min(n_pos, n_neg)} in the smaller class)"] * (
            k < cv
        )
        if extra is not None:
            notes.append(f"+{len(extra[1])} pseudo-labelled ({int(extra[1].sum())} positive)")
        note = "; ".join(notes)
        folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=random_state)
        fold_rows = []
        for i, (train, test) in enumerate(folds.split(X, y), start=1):
            y_test = y.iloc[test]
            rules_pred = (X[SCORE_PREFIX].iloc[test] >= rule_threshold).astype(int)
            X_train, y_train = X.iloc[train], y.iloc[train]
            if extra is not None:
                X_train, y_train = combine((X_train, y_train), extra)
            model = TagRefiner(**params).fit(X_train, y_train)
            fold_rows.append(
                base
                | {
                    "fold": i,
                    "n_train": len(y_train),
                    "n_test": len(test),
                    "positives": int(y_test.sum()),
                    "f1_rules": f1_score(y_test, rules_pred, zero_division=0),
                    "f1_refiner": f1_score(y_test, model.predict(X.iloc[test]), zero_division=0),
                    "note": note,
                }
            )
        mean = base | {
            "fold": "mean",
            "n_train": np.mean([r["n_train"] for r in fold_rows]),
            "n_test": np.mean([r["n_test"] for r in fold_rows]),
            "positives": n_pos,
            "f1_rules": np.mean([r["f1_rules"] for r in fold_rows]),
            "f1_refiner": np.mean([r["f1_refiner"] for r in fold_rows]),
            "note": note,
        }
        rows.extend([*fold_rows, mean])
        means.append(mean)
    if means:
        rows.append(
            {
                "facet": facet,
                "label": "(macro)",
                "fold": "mean",
                "f1_rules": float(np.mean([m["f1_rules"] for m in means])),
                "f1_refiner": float(np.mean([m["f1_refiner"] for m in means])),
                "note": f"mean over {len(means)} label(s)",
            }
        )
    out = pd.DataFrame(rows, columns=CV_COLUMNS)
    for col in ("k", "positives"):
        out[col] = out[col].astype("Int64")
    return out


def _pseudo_pool(
    X_all: pd.DataFrame, labelled: pd.Index, label: str, pseudo: tuple[float, float] | None
) -> tuple[pd.DataFrame, pd.Series] | None:
    """Confident rule output on the records outside the labelled set, or None."""
    if pseudo is None:
        return None
    high, low = pseudo
    if not 0 <= low < high <= 1:
        raise ValueError(f"pseudo needs (high, low) with 0 <= low < high <= 1, got {pseudo}")
    pool = X_all[~X_all.index.isin(labelled)]
    score = pool[SCORE_PREFIX]
    confident = (score >= high) | (score <= low)
    return pool[confident], (score[confident] >= high).astype(int).rename(label)
