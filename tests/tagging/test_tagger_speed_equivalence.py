"""What the tagger does for speed changes no tag.

The pipeline's tokenizer keeps far more chunks than spaCy's default cache (issue 16's
speed target: on real abstracts spaCy's 10,000 chunks are full after a few hundred
records, and every chunk left out goes through the affix expressions again); a chunk
served from that cache must tokenize exactly as a fresh one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy

from synth.corpus.reading import read
from synth.tagging.pipeline import TOKENIZER_CACHE_SIZE, build_nlp

KEI = Path(__file__).resolve().parents[2] / "corpus" / "kei-2020"


@pytest.fixture(scope="module")
def kei_texts() -> list[str]:
    """Titles, abstracts and full texts of the bundled corpus (real papers)."""
    if not KEI.exists():
        pytest.skip(f"bundled corpus not found at {KEI}")
    result = read(KEI)
    texts = [t for t in result.records["title"].tolist() if isinstance(t, str)]
    texts += [a for a in result.records["abstract"].tolist() if isinstance(a, str)]
    texts += result.fulltexts["text"].tolist()
    return texts


def _tokens(nlp: spacy.language.Language, text: str) -> list[tuple[str, str]]:
    return [(t.text, t.whitespace_) for t in nlp.make_doc(text)]


def test_the_pipeline_tokenizer_keeps_a_corpus_worth_of_chunks() -> None:
    default = spacy.blank("en").tokenizer.max_cache_size
    assert build_nlp().tokenizer.max_cache_size >= TOKENIZER_CACHE_SIZE > default


def test_chunks_served_from_the_cache_tokenize_as_fresh_ones(kei_texts: list[str]) -> None:
    nlp = build_nlp()
    fresh = spacy.blank("en")
    fresh.tokenizer.max_cache_size = 0  # every chunk through the affix rules
    first = [_tokens(nlp, t) for t in kei_texts]  # fills the cache
    again = [_tokens(nlp, t) for t in kei_texts]  # served from it
    plain = [_tokens(fresh, t) for t in kei_texts]
    assert len({chunk for t in kei_texts for chunk in t.split()}) > 5_000  # distinct chunks
    assert first == plain
    assert again == plain
