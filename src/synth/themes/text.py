"""Text helpers shared by theme assignment, summaries and topics: sentences and TF-IDF.

Sentences come from spaCy's blank English pipeline with the rule-based sentencizer (no
model to download; the tagger uses the same tokenizer). TF-IDF uses a light suffix
stripper so "facilitation", "facilitators" and "facilitated" meet in one term: the corpus
is small, and without it similarity misses passages that say the same thing in another
word form.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import cache, lru_cache

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

_WORD_RE = re.compile(r"[a-z][a-z'’-]*[a-z]|[a-z]")
_SUFFIXES = (
    "isation", "ization", "ations", "ation", "ities", "ity", "ments", "ment", "ness",
    "ings", "ing", "ators", "ator", "ated", "ates", "ate", "ies", "ied", "ers", "er",
    "ed", "es", "s", "ly",
)  # fmt: skip
_MIN_STEM = 4
_SPACE_RE = re.compile(r"\s+")
#: passages that are reference-list entries or links, not prose
_REFERENCE_RE = re.compile(r"https?://|www\.|\bdoi\b|\bet al\.,? \(?(?:19|20)\d\d")
_YEAR_RE = re.compile(r"\b(?:19|20)\d\d\b")


@cache
def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            stem = word[: -len(suffix)]
            return stem + "y" if suffix in ("ies", "ied") else stem
    return word


@lru_cache(maxsize=500_000)
def _term(word: str) -> str:
    """The TF-IDF term of a lower-case word, or "" for a stop word or a very short one."""
    w = word.replace("-", "").replace("'", "").replace("’", "")
    if len(w) < 3 or w in ENGLISH_STOP_WORDS:
        return ""
    return _stem(w)


def analyse(text: str) -> list[str]:
    """Lower-cased, stop-word-free, suffix-stripped words; hyphens and apostrophes dropped
    inside a word ("co-production" -> "coproduction")."""
    return [t for w in _WORD_RE.findall(text.lower()) if (t := _term(w))]


def tfidf(*, min_df: int = 1, max_df: float = 1.0) -> TfidfVectorizer:
    """A TF-IDF vectoriser with :func:`analyse` and sub-linear term counts."""
    return TfidfVectorizer(analyzer=analyse, sublinear_tf=True, min_df=min_df, max_df=max_df)


def normalise_space(text: str) -> str:
    """One space for every run of whitespace (full texts are hard-wrapped PDF text)."""
    return _SPACE_RE.sub(" ", text.replace("\xa0", " ")).strip()


@cache
def _sentencizer():  # -> spacy.Language; spaCy is imported only when sentences are needed
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def sentences(texts: Iterable[str], *, batch_size: int = 64) -> list[list[str]]:
    """Each text split into sentences (spaCy's blank English sentencizer)."""
    nlp = _sentencizer()
    prepared = [normalise_space(t) for t in texts]
    out: list[list[str]] = []
    for text, doc in zip(prepared, nlp.pipe(prepared, batch_size=batch_size), strict=True):
        # slicing the text by character offsets is several times cheaper than Span.text
        sents = (text[s.start_char : s.end_char].strip() for s in doc.sents)
        out.append([s for s in sents if s])
    return out


def looks_like_reference(sentence: str) -> bool:
    """A reference-list entry or a bare link, which should not be a theme's quote."""
    return bool(_REFERENCE_RE.search(sentence)) or len(_YEAR_RE.findall(sentence)) >= 2


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def kept_ids(records: pd.DataFrame) -> list[str]:
    """The ids of the records that count: kept records when ``is_kept`` is present."""
    if "is_kept" not in records.columns:
        return records["record_id"].astype(str).tolist()
    kept = records["is_kept"].astype("boolean").fillna(True).to_numpy(dtype=bool)
    return records.loc[kept, "record_id"].astype(str).tolist()


def surface_forms(texts: Iterable[str]) -> dict[str, str]:
    """term -> the word form the texts use most for it, to show readable terms ("facilitation",
    not the stem "facilit")."""
    words = Counter(w for text in texts for w in _WORD_RE.findall(text.lower()))
    counts: dict[str, dict[str, int]] = {}
    for w, n in words.items():
        term = _term(w)
        if term:
            counts.setdefault(term, {})[w] = n
    return {term: max(sorted(forms), key=forms.__getitem__) for term, forms in counts.items()}
