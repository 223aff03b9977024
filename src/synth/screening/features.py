"""Feature matrices for screening prioritisation: TF-IDF over a record's text.

The matrix is built once per corpus (all records, labelled or not: TF-IDF needs no labels)
and reused on every refit, so a decision costs a classifier fit, never a re-vectorisation.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

if TYPE_CHECKING:
    from scipy import sparse

    from synth.screening.learner import LearnerSettings

log = logging.getLogger(__name__)


@cache
def config() -> dict[str, Any]:
    """The screening parts and their parameters (``data/screening.yml``, read once)."""
    text = resources.files("synth.data").joinpath("screening.yml").read_text("utf-8")
    return yaml.safe_load(text)


def _as_text(value: Any) -> str:
    """One field as text: lists (keywords) are joined, missing values are empty."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, np.ndarray)):
        return "; ".join(str(v) for v in value if v is not None)
    if isinstance(value, float) and np.isnan(value):
        return ""
    return str(value)


def record_texts(records: pd.DataFrame, fields: list[str] | tuple[str, ...]) -> list[str]:
    """The text the model reads per record: the named fields joined, in records order.

    Missing columns count as empty so a bare title/abstract frame works too.
    """
    parts = [
        records[f].map(_as_text) if f in records else pd.Series([""] * len(records)) for f in fields
    ]
    if not parts:
        return [""] * len(records)
    joined = parts[0].to_numpy(dtype=object)
    for p in parts[1:]:
        joined = joined + ". " + p.to_numpy(dtype=object)
    return [str(t) for t in joined]


def build_features(
    records: pd.DataFrame,
    settings: LearnerSettings,
    tags: pd.DataFrame | None = None,
) -> sparse.csr_matrix:
    """TF-IDF rows for ``records`` (same order), optionally with the tagger's features.

    Parameters
    ----------
    records
        Canonical records (``title``, ``abstract``, ``keywords`` as available).
    settings
        Names the feature set (``settings.features``) and whether to add tags.
    tags
        Tag rows (``record_id``, ``facet``, ``label``, ``score``) from the tagger; used
        when ``settings.use_tags`` is on. Each (facet, label) becomes one column holding
        the tag's score, scaled by ``tag_weight`` so the text still dominates.
    """
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer

    params = config()["features"][settings.features]
    texts = record_texts(records, params["fields"])
    n = len(texts)
    if n == 0:
        return sparse.csr_matrix((0, 0))
    max_df = params.get("max_df", 1.0)
    min_df = params.get("min_df", 1)
    large = config().get("large_corpus") or {}
    if large and n >= large["records"]:
        min_df = max(min_df, large["min_df"])
    vec = TfidfVectorizer(
        ngram_range=tuple(params.get("ngram_range", (1, 1))),
        min_df=min_df,
        # a max_df share would drop every word of a tiny corpus: only apply it to sizable ones
        max_df=max_df if n >= 50 else 1.0,
        sublinear_tf=params.get("sublinear_tf", False),
        stop_words=params.get("stop_words"),
        strip_accents="unicode",
        dtype=np.float32,
    )
    try:
        X = vec.fit_transform(texts)
    except ValueError:  # every text empty (or only stop words): no vocabulary
        log.warning("no words to learn from in %d records; features are empty", n)
        X = sparse.csr_matrix((n, 1), dtype=np.float32)
    if settings.use_tags and tags is not None and not tags.empty:
        X = sparse.hstack([X, tag_matrix(records, tags) * config()["tag_weight"]], format="csr")
    X = X.tocsr()
    # liblinear needs sorted column indices; sorting once here saves re-sorting the
    # labelled rows on every refit (a quarter of a decision's time at 10,000 records)
    X.sort_indices()
    return X


def tag_matrix(records: pd.DataFrame, tags: pd.DataFrame) -> sparse.csr_matrix:
    """One column per (facet, label) tag holding its score (1 when the tagger gave none)."""
    from scipy import sparse

    index = {rid: i for i, rid in enumerate(records["record_id"])}
    t = tags[tags["record_id"].isin(index)]
    if t.empty:
        return sparse.csr_matrix((len(records), 0), dtype=np.float32)
    keys = (t["facet"].astype(str) + "=" + t["label"].astype(str)).to_numpy()
    cols, col_idx = np.unique(keys, return_inverse=True)
    rows = t["record_id"].map(index).to_numpy()
    score = t["score"] if "score" in t else pd.Series(1.0, index=t.index)
    vals = pd.to_numeric(score, errors="coerce").fillna(1.0).clip(0, 1).to_numpy(np.float32)
    m = sparse.csr_matrix((vals, (rows, col_idx)), shape=(len(records), len(cols)))
    m.sum_duplicates()
    return m
