"""Emergent topics: what the papers talk about that the theme codebook may not cover.

Non-negative matrix factorisation (scikit-learn's NMF) over one TF-IDF document per paper
(title, abstract, extracts and full text). A topic is named by its distinctive terms
(class-based TF-IDF over the topics' term weights: frequent in this topic relative to the
others), so a word every topic shares never names one. Each topic is compared with every
theme's profile in the same term space; a topic close to no theme is flagged as new,
which is the point: the codebook shows what the review looked for, the topics what the
papers themselves emphasise.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.decomposition import NMF

from synth.corpus.citation import citations
from synth.tagging.describe import unique_record_ids
from synth.themes.codebook import ThemeCodebook, load_theme_codebook
from synth.themes.text import kept_ids, surface_forms, tfidf, unit_rows

log = logging.getLogger(__name__)

TOPIC_COLUMNS = [
    "topic", "label", "top_terms", "papers", "record_ids", "weight", "theme_id", "theme_similarity",
    "in_codebook",
]  # fmt: skip
#: a paper belongs to a topic when the topic holds at least this share of its weight
PAPER_SHARE = 0.25


def emergent_topics(
    records: pd.DataFrame,
    extracts: pd.DataFrame | None = None,
    fulltexts: pd.DataFrame | None = None,
    *,
    n_topics: int = 6,
    n_terms: int = 8,
    seed: int = 0,
    codebook: ThemeCodebook | None = None,
    overlap_threshold: float = 0.2,
) -> pd.DataFrame:
    """Topics over the papers in ``records`` (pass the included records to model only those).

    Parameters
    ----------
    records
        Records; only kept ones count when ``is_kept`` is present.
    extracts, fulltexts
        Extra text per record (``record_id``, ``text``); a duplicate's text counts for its
        kept record.
    n_topics, n_terms
        Topics wanted (fewer when the corpus is too small) and terms shown per topic.
    seed
        NMF ``random_state``; the same inputs and seed give the same topics.
    overlap_threshold
        Cosine between a topic's terms and a theme's profile at or above which the topic
        counts as covered by the codebook (``in_codebook``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TOPIC_COLUMNS`, largest topic first: ``top_terms`` (readable words),
        ``papers`` (citations) and ``record_ids`` in order of weight, ``weight`` the topic's
        share of the corpus, ``theme_id``/``theme_similarity`` the closest theme.
    """
    cb = codebook or load_theme_codebook()
    ids, docs = _documents(records, extracts, fulltexts)
    empty = pd.DataFrame(columns=TOPIC_COLUMNS)
    if len(docs) < 3:
        log.info("emergent topics: %d documents with text, too few to model", len(docs))
        return empty
    vec = tfidf(min_df=2, max_df=0.6)
    try:
        X = vec.fit_transform(docs)
    except ValueError:  # no term in two documents
        return empty
    k = max(1, min(n_topics, X.shape[0] - 1, X.shape[1]))
    model = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=1000)
    W = model.fit_transform(X)
    H = model.components_
    terms = vec.get_feature_names_out()
    readable = surface_forms(docs)
    themes = _theme_vectors(vec, cb)
    sims = unit_rows(H) @ themes.T if len(themes) else np.zeros((k, 0))
    cite = citations(
        records.set_index(records["record_id"].astype(str)).loc[ids].reset_index(drop=True)
    )
    totals = W.sum(axis=1, keepdims=True)
    totals[totals == 0] = 1.0
    share = W / totals
    distinct = distinctive_weights(H)
    rows = []
    for t in range(k):
        top = [j for j in np.argsort(-distinct[t], kind="stable")[:n_terms] if distinct[t, j] > 0]
        words = [readable.get(terms[j], terms[j]) for j in top]
        members = [
            d
            for d in np.argsort(-W[:, t], kind="stable")
            if share[d, t] >= PAPER_SHARE and W[d, t] > 0
        ]
        best = int(np.argmax(sims[t])) if sims.shape[1] else -1
        best_sim = float(sims[t, best]) if best >= 0 else 0.0
        rows.append(
            {
                "topic": 0,
                "label": ", ".join(words[:3]),
                "top_terms": words,
                "papers": [cite[ids[d]] for d in members],
                "record_ids": [ids[d] for d in members],
                "weight": float(W[:, t].sum() / max(W.sum(), 1e-12)),
                "theme_id": cb.themes[best].id if best >= 0 else None,
                "theme_similarity": best_sim,
                "in_codebook": best_sim >= overlap_threshold,
            }
        )
    out = pd.DataFrame(rows, columns=TOPIC_COLUMNS)
    out = out.sort_values("weight", ascending=False, kind="stable").reset_index(drop=True)
    out["topic"] = range(1, len(out) + 1)
    return out


def distinctive_weights(H: np.ndarray) -> np.ndarray:
    """Class-based TF-IDF of each term in each topic: its share of the topic's weight times
    log(1 + 1 / its share summed over all topics). A term weighing the same in every topic
    scores low in all; terms that rank among the top of every topic score 0; a term counts
    only for the topic it is most distinctive of, so no two topics share a name."""
    totals = H.sum(axis=1, keepdims=True)
    totals[totals == 0] = 1.0
    tf = H / totals
    spread = tf.sum(axis=0)
    spread[spread == 0] = 1.0
    out = tf * np.log1p(1.0 / spread)
    if H.shape[0] > 1:
        top = max(1, min(20, H.shape[1] // 10))
        ranks = np.argsort(-H, axis=1, kind="stable")[:, :top]
        counts = np.bincount(ranks.ravel(), minlength=H.shape[1])
        out[:, counts == H.shape[0]] = 0.0
        # a term names only the topic it is most distinctive of
        owner = np.argmax(out, axis=0)
        out[np.arange(H.shape[0])[:, None] != owner[None, :]] = 0.0
    return out


def _documents(
    records: pd.DataFrame, extracts: pd.DataFrame | None, fulltexts: pd.DataFrame | None
) -> tuple[list[str], list[str]]:
    """(kept record ids, one text per record) for the records that have any text."""
    keep = kept_ids(records)
    to_kept = unique_record_ids(records).to_dict()
    parts: dict[str, list[str]] = {rid: [] for rid in keep}
    rows = records.set_index(records["record_id"].astype(str)).loc[keep]
    for col in ("title", "abstract"):
        if col in rows.columns:
            for rid, text in rows[col].items():
                if isinstance(text, str):
                    parts[rid].append(text)
    for extra in (extracts, fulltexts):
        if extra is None or not len(extra):
            continue
        for rid, text in zip(extra["record_id"], extra["text"], strict=True):
            kept = to_kept.get(str(rid))
            if kept in parts and isinstance(text, str):
                parts[kept].append(text)
    ids = [rid for rid in keep if parts[rid]]
    return ids, ["\n".join(parts[rid]) for rid in ids]


def _theme_vectors(vec, cb: ThemeCodebook) -> np.ndarray:
    """Each theme's profile (heading, definition, recommendations, cues) in the topic space."""
    rows = [vec.transform([" ".join(t.profile_texts())]).toarray()[0] for t in cb.themes]
    return unit_rows(np.vstack(rows)) if rows else np.zeros((0, len(vec.vocabulary_)))
