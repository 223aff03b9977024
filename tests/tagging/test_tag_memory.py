"""A long ``synth tag`` run on one machine does not keep every word of the corpus (issue 19):
once the tagger's pipeline has learned :data:`synth.tagging.pipeline.VOCAB_GROWTH` words
beyond those it was built with, each chunk it tags forgets the words new to it, and the
run it stores is the same."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from synth.tagging import pipeline, tagger
from synth.tagging.codebook import load_codebook
from synth.tagging.pipeline import SEGMENTS_KEY, TEXT_KEY, build_nlp, chunk_words, hit_dicts
from tests.tagging.test_tag_chunks import assert_same_run, tagged

TEXTS = [
    "A co-design study with patients in primary care in Kenya. Zorblatt scores rose.",
    "Qualitative interviews (n=37) on the Quixotine-7 scale; no co-production reported.",
    "We did not use co-design. Frobnitzal outcomes in Norway's hospitals.",
]


def _hits(nlp: object, texts: list[str]) -> list[list[dict[str, object]]]:
    out = []
    for text in texts:
        doc = nlp.make_doc(text)  # type: ignore[attr-defined]
        doc.user_data[TEXT_KEY] = text
        doc.user_data[SEGMENTS_KEY] = [(0, len(text), "abstract")]
        for _, proc in nlp.pipeline:  # type: ignore[attr-defined]
            doc = proc(doc)
        out.append(hit_dicts(doc))
    return out


def test_a_chunk_forgets_its_new_words_once_the_pipeline_has_learned_enough() -> None:
    nlp = build_nlp(load_codebook(), write_spans=False)
    kept = _hits(build_nlp(load_codebook(), write_spans=False), TEXTS)
    words = len(nlp.vocab.strings)
    with chunk_words(nlp):  # few words learned yet: they are kept
        assert _hits(nlp, TEXTS[:1]) == kept[:1]
    assert "Zorblatt" in nlp.vocab.strings
    learned = len(nlp.vocab.strings)
    assert learned > words
    for _ in range(2):  # enough learned: a chunk's new words are gone after it
        with chunk_words(nlp, growth=1):
            assert _hits(nlp, TEXTS) == kept
        assert len(nlp.vocab.strings) == learned
        assert "Quixotine" not in nlp.vocab.strings and "Frobnitzal" not in nlp.vocab.strings
    assert "Zorblatt" in nlp.vocab.strings  # learned before: kept


def test_chunks_that_forget_their_words_store_the_same_run(
    kei_imported_db: Path,
    copy_db: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bundled corpus in chunks of 9 records, each forgetting its new words (the
    pipeline built for the run), against one chunk: the same run, and the pipeline's
    vocabulary after the run is the one it was built with."""
    whole = tagged(copy_db(kei_imported_db, tmp_path / "whole.sqlite"), chunk_size=10_000)
    monkeypatch.setattr(pipeline, "VOCAB_GROWTH", 0)
    monkeypatch.setattr(tagger, "_ENGINES", {})
    chunked = tagged(copy_db(kei_imported_db, tmp_path / "chunked.sqlite"), chunk_size=9)
    assert whole[1]["records"] > 5 * 9
    assert_same_run(whole, chunked)
    (engine,) = tagger._ENGINES.values()
    built = build_nlp(engine.cb, write_spans=False)
    assert len(engine.nlp.vocab.strings) == len(built.vocab.strings)
