"""What the tagger does for speed changes no tag.

The pipeline's tokenizer keeps far more chunks than spaCy's default cache (issue 16's
speed target: on real abstracts spaCy's 10,000 chunks are full after a few hundred
records, and every chunk left out goes through the affix expressions again); a chunk
served from that cache must tokenize exactly as a fresh one. The cue ruler enters its
phrase matcher's keys in the vocab without lexical attributes (faster to build); it must
match exactly as spaCy's ``SpanRuler`` with the same patterns.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy

from synth.corpus.reading import read
from synth.tagging.codebook import load_codebook
from synth.tagging.pipeline import CUE_RULER, CUE_SPANS_KEY, TOKENIZER_CACHE_SIZE, build_nlp
from synth.tagging.sentence_roles import load_sentence_roles

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


def test_pattern_keys_enter_the_vocab_without_lexical_attributes() -> None:
    """The phrase matcher's keys (``repr((label, id))``, one per pattern) are never
    tokens; computing their shape, like_num ... was half of building the pipeline."""
    nlp = build_nlp()
    entry = next(p for p in nlp.get_pipe(CUE_RULER).patterns if isinstance(p["pattern"], str))
    key = repr((entry["label"], entry.get("id", "")))
    assert key in nlp.vocab
    assert nlp.vocab[key].shape == 0  # never computed
    assert nlp.vocab["Leeds"].shape_ == "Xxxxx"  # a pattern word's lexeme is whole
    assert nlp.vocab["leeds"].is_lower


def test_the_cue_ruler_matches_as_spacys_span_ruler(kei_texts: list[str]) -> None:
    cb = load_codebook()
    patterns = cb.patterns() + load_sentence_roles().patterns()
    ours = build_nlp(cb, write_spans=True)
    stock = spacy.blank("en")
    ruler = stock.add_pipe(
        "span_ruler", config={"spans_key": CUE_SPANS_KEY, "phrase_matcher_attr": "LOWER"}
    )
    ruler.add_patterns(patterns)
    texts = kei_texts[:150]  # titles and abstracts
    for a, b in zip(ours.pipe(texts), stock.pipe(texts), strict=True):
        spans = {(s.start, s.end, s.label_, s.id_) for s in a.spans[CUE_SPANS_KEY]}
        assert spans == {(s.start, s.end, s.label_, s.id_) for s in b.spans[CUE_SPANS_KEY]}
