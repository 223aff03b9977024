"""Criteria judged by similarity to their wording, in two passes (issue 19): every chunk of
the corpus counted (sentences, and per criterion word those containing it), the counts
summed into the words' weights, each chunk then scored with them. The rows are the ones
the whole corpus gave in one call before (sklearn's ``TfidfVectorizer`` fitted on every
sentence and the criteria's texts, kept here as the reference), float for float, and the
command on one machine no longer reads every record for them."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from synth.review import Review, review_for
from synth.store import connect
from synth.store.records import StoreRecords
from synth.store.tags import load_assessment
from synth.tagging import criteria, workflow
from synth.tagging.criteria import (
    CRITERION_FACET,
    METHOD_SIMILARITY,
    SIMILARITY_NOTE,
    SimilarityCounts,
    SimilarityCriteria,
    _coverage,
    _present,
    _sentences,
    _words,
    load_rules,
    review_criteria,
)
from synth.tagging.tagger import TAG_COLUMNS

KEI = Path(__file__).resolve().parents[2] / "corpus" / "kei-2020"
KEY = ["record_id", "label"]


# -- the reference: the one-call computation over the whole corpus, as it was -------------


def _today_scores(sentences: list[str], queries: list[str]) -> np.ndarray:
    """Sentence x query coverage with sklearn's vectorizer fitted on every sentence and
    every query (the computation before the two passes)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer=_words, binary=True, norm=None, smooth_idf=True)
    try:
        vec.fit(sentences + queries)
    except ValueError:  # no content word anywhere
        return np.zeros((len(sentences), len(queries)))
    present = vec.transform(sentences)
    present.data[:] = 1.0
    weights = vec.transform(queries)
    total = np.asarray(weights.sum(axis=1)).ravel()
    covered = (present @ weights.T).toarray()
    return np.divide(covered, total, out=np.zeros_like(covered), where=total > 0)


def _today_units(records: Any, extracts: Any, fulltexts: Any) -> list[tuple[Any, str, str]]:
    sim = load_rules()["similarity"]
    return [
        u
        for u in _sentences(records, extracts, fulltexts, int(sim["max_sentence_chars"]))
        if len(_words(u[2])) >= int(sim["min_words"])
    ]


def _today(
    records: pd.DataFrame,
    review: Review,
    extracts: pd.DataFrame | None = None,
    fulltexts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``similarity_tags`` as it was: every record's sentences in one vectorizer."""
    sim = load_rules()["similarity"]
    wanted = [c for c in review_criteria(review) if criteria.criterion_method(c) == "similarity"]
    wanted = [c for c in wanted if c.text.strip()]
    units = _today_units(records, extracts, fulltexts)
    if not wanted or not units:
        return pd.DataFrame(columns=TAG_COLUMNS)
    scores = _today_scores([u[2] for u in units], [c.text for c in wanted])
    best: dict[tuple[Any, str], tuple[float, int]] = {}
    for i, (rid, _field, _text) in enumerate(units):
        for j, c in enumerate(wanted):
            value = float(scores[i, j])
            if value > best.get((rid, c.id), (0.0, -1))[0]:
                best[(rid, c.id)] = (value, i)
    rows = []
    for (rid, cid), (value, i) in best.items():
        if value < float(sim["min_score"]):
            continue
        _, field, sentence = units[i]
        evidence = [
            {"field": field, "sentence": sentence, "match": sentence, "cue": SIMILARITY_NOTE,
             "negated": False, "weight": round(value, 4), "method": METHOD_SIMILARITY,
             "note": SIMILARITY_NOTE}
        ]  # fmt: skip
        rows.append((rid, CRITERION_FACET, cid, round(value, 4), evidence, "similarity",
                     "similarity:idf-coverage"))  # fmt: skip
    return pd.DataFrame(rows, columns=TAG_COLUMNS)


# -- helpers ------------------------------------------------------------------------------


def _review(
    folder: Path, *, uncued: int = 3, exclusion: bool = True, extra: tuple[dict, ...] = ()
) -> Review:
    """The bundled review with the cues of its first ``uncued`` inclusion criteria and (with
    ``exclusion``) of its first exclusion removed (judged by similarity then), and
    ``extra`` criteria."""
    kei = yaml.safe_load((KEI / "review.yml").read_text("utf-8"))
    for c in kei["inclusion_criteria"][:uncued]:
        c.pop("cues", None)
    if exclusion:
        kei["exclusion_criteria"][0].pop("cues", None)
    kei["inclusion_criteria"].extend(extra)
    path = folder / "review.yml"
    path.write_text(yaml.safe_dump(kei), "utf-8")
    return review_for(path)


def _two_passes(
    chunks: list[tuple[pd.DataFrame, Any, Any]], review: Review
) -> tuple[pd.DataFrame, SimilarityCounts]:
    """Pass 1 over every chunk, the counts summed; pass 2 chunk by chunk."""
    wanted = SimilarityCriteria.of(review)
    assert wanted is not None
    total = SimilarityCounts()
    for records, ext, full in chunks:
        total += wanted.count(records, ext, full)
    weights = wanted.weigh(total)
    parts = [weights.rows(records, ext, full) for records, ext, full in chunks]
    found = [p for p in parts if len(p)]
    rows = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=TAG_COLUMNS)
    return rows, total


def _sorted(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.sort_values(KEY).reset_index(drop=True)


def _assert_same(chunked: pd.DataFrame, whole: pd.DataFrame) -> None:
    """The same rows, scores exactly and evidence, whatever their order."""
    assert len(whole)  # the comparison compares something
    pd.testing.assert_frame_equal(_sorted(chunked), _sorted(whole), check_exact=True)


def _store_chunks(con: sqlite3.Connection, size: int) -> Iterator[tuple[Any, Any, Any]]:
    """The store's chunks as ``synth tag`` on one machine reads them."""
    from synth.store.views import load_extracts

    with StoreRecords.listed(con, size) as reader:
        for part, ext, full, _ in workflow._store_chunks(reader, load_extracts(con)):
            yield part, ext, full


def _whole_store(con: sqlite3.Connection) -> tuple[Any, Any, Any]:
    """Every record, extract and full text as the command read them for similarity before."""
    from synth.fulltext.passages import tagger_inputs
    from synth.store.views import load_extracts, load_fulltexts, load_records

    return tagger_inputs(load_records(con), load_extracts(con), load_fulltexts(con))


def _generated(n: int, seed: int = 7) -> pd.DataFrame:
    from synth.corpus.synthetic import generate_records

    records, _ = generate_records(n, seed=seed)
    return records


# -- the bundled corpus -------------------------------------------------------------------


def test_the_bundled_corpus_in_chunks_gives_the_whole_corpus_rows(
    kei_imported_db: Path, tmp_path: Path
) -> None:
    """The bundled corpus (records, extracts, Markdown full texts) with its review, four
    criteria without cues, read in the store's chunks of 7 records as ``synth tag`` reads
    them: the rows of the one call over every record, score for score."""
    review = _review(tmp_path)
    con = connect(kei_imported_db)
    try:
        whole = _whole_store(con)
        chunks = list(_store_chunks(con, 7))
    finally:
        con.close()
    assert len(chunks) > 5 and len(chunks[-1][0]) < 7  # several, the last one short
    today = _today(*whole[:1], review, *whole[1:])
    assert set(today["label"]) == {"equal-relationship", "partnership-design-delivery",
                                   "collective-benefit", "unequal-relationship"}  # fmt: skip
    assert {e[0]["field"] for e in today["evidence"]} >= {"title", "extract", "fulltext"}
    chunked, counts = _two_passes(chunks, review)
    _assert_same(chunked, today)
    assert counts.units == len(_today_units(*whole))  # every sentence counted once
    # the one-call API is the two passes over the frame it is given: the rows, in order
    one_call = criteria.similarity_tags(whole[0], review, extracts=whole[1], fulltexts=whole[2])
    pd.testing.assert_frame_equal(one_call, today, check_exact=True)


# -- a generated corpus in uneven chunks --------------------------------------------------


def test_a_generated_corpus_in_uneven_chunks_gives_the_same_scores_float_for_float(
    tmp_path: Path,
) -> None:
    """2,000 generated records cut unevenly (one record, an empty chunk, hundreds): the
    rows are the whole corpus's, and every sentence's score (before rounding) is the one
    sklearn's vectorizer over every sentence gives, bit for bit."""
    similar = {"id": "patient-reported", "text": "Patient-reported outcomes in hospital care"}
    review = _review(tmp_path, extra=(similar,))
    records = _generated(2_000)
    cuts = [0, 1, 1, 350, 351, 1_200, 2_000]
    chunks = [(records.iloc[a:b], None, None) for a, b in itertools.pairwise(cuts)]
    assert any(not len(c[0]) for c in chunks)
    today = _today(records, review)
    assert "patient-reported" in set(today["label"])
    chunked, counts = _two_passes(chunks, review)
    _assert_same(chunked, today)
    pd.testing.assert_frame_equal(criteria.similarity_tags(records, review), today)
    # the scores themselves, not only rounded: weights from the summed counts
    wanted = SimilarityCriteria.of(review)
    weights = wanted.weigh(counts)
    units = list(wanted.units(records))
    index = {w: k for k, w in enumerate(wanted.vocabulary)}
    query = _present([_words(t) for t in wanted.texts], index)
    query.data *= np.asarray(weights.idf)[query.indices]
    mine = _coverage(_present([u[3] for u in units], index), query)
    reference = _today_scores([u[2] for u in units], list(wanted.texts))
    assert mine.shape == reference.shape and (reference > 0).sum() > 1_000
    assert np.array_equal(mine, reference)


# -- edge cases ---------------------------------------------------------------------------


def _records(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["record_id", "title", "abstract"])


def test_edge_cases_give_the_whole_corpus_rows(tmp_path: Path) -> None:
    """An empty chunk, a chunk with no sentence long enough to compare, a criterion whose
    words no record uses, and one of stop words only."""
    review = _review(
        tmp_path,
        uncued=1,
        extra=(
            {"id": "absent", "text": "Xylophone quokka zeppelin"},
            {"id": "stop-words", "text": "Which of these were they"},
        ),
    )
    long = _records(
        [
            ("a1", "Equal relationships between patients and staff", "Staff and service "
             "users worked as equal partners in care. People with lived experience led it."),
            ("a2", "Co-production in primary care", "Patients and professionals shared "
             "power. Design and delivery were joint."),
        ]
    )  # fmt: skip
    short = _records([("s1", "Care", None), ("s2", "Ward rounds", "Yes. No.")])
    empty = _records([])
    chunks = [(long.iloc[:1], None, None), (empty, None, None), (short, None, None),
              (long.iloc[1:], None, None)]  # fmt: skip
    whole = pd.concat([long, short], ignore_index=True)
    today = _today(whole, review)
    chunked, counts = _two_passes(chunks, review)
    _assert_same(chunked, today)
    assert not {"absent", "stop-words"} & set(chunked["label"])
    wanted = SimilarityCriteria.of(review)
    assert wanted.count(short) == SimilarityCounts()  # nothing long enough: nothing counted
    assert wanted.count(empty) == SimilarityCounts()
    assert wanted.weigh(counts).rows(short).empty and wanted.weigh(counts).rows(empty).empty
    assert "xylophone" in wanted.vocabulary and "xylophone" not in counts.words
    assert set(counts.words) <= set(wanted.vocabulary)  # only the criteria's words counted


def test_no_sentence_anywhere_and_no_content_word_in_any_criterion(tmp_path: Path) -> None:
    """No sentence long enough in the whole corpus (the one call gave no row), and
    criteria whose texts hold no content word (the vectorizer's empty vocabulary)."""
    review = _review(tmp_path, uncued=1)
    short = _records([("s1", "Care", None), ("s2", "Ward", "Yes.")])
    chunked, counts = _two_passes([(short.iloc[:1], None, None), (short.iloc[1:], None, None)],
                                  review)  # fmt: skip
    assert counts == SimilarityCounts() and chunked.empty and _today(short, review).empty
    assert criteria.similarity_tags(short, review).empty
    stop = {"id": "stop", "text": "Which of these"}  # the only criterion without cues
    only_stop = _review(tmp_path, uncued=0, exclusion=False, extra=(stop,))
    records = _generated(50)
    wanted = SimilarityCriteria.of(only_stop)
    assert wanted is not None and wanted.vocabulary == ()
    chunked, _ = _two_passes([(records.iloc[:20], None, None), (records.iloc[20:], None, None)],
                             only_stop)  # fmt: skip
    assert chunked.empty and _today(records, only_stop).empty


# -- the command on one machine -----------------------------------------------------------


def test_synth_tag_on_one_machine_counts_chunk_by_chunk_and_reads_no_record_whole(
    kei_imported_db: Path,
    copy_db: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``synth tag`` (chunks of 9 records) with criteria judged by similarity: no loader
    of every record, extract or full text is called for them (the command read the
    store whole for them before), pass 1 sees no more than a chunk at a time, and each
    record's similarity verdict has the score and evidence the one call over every record
    gives."""
    from synth.tagging.workflow import tag_store

    review = _review(tmp_path)
    db = copy_db(kei_imported_db, tmp_path / "streamed.sqlite")
    con = connect(db)
    try:
        today = _today(*_whole_store(con)[:1], review, *_whole_store(con)[1:])
    finally:
        con.close()

    def whole(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("record_ids") is not None:  # a chunk's full texts, by key
            return real_fulltexts(*args, **kwargs)
        raise AssertionError("every record read in the command")

    real_fulltexts = workflow.load_fulltexts
    monkeypatch.setattr(workflow, "load_records", whole)
    monkeypatch.setattr(workflow, "load_fulltexts", whole)
    counted: list[int] = []
    count = SimilarityCriteria.count

    def spy(self: SimilarityCriteria, records: pd.DataFrame, *args: Any) -> Any:
        counted.append(len(records))
        return count(self, records, *args)

    monkeypatch.setattr(SimilarityCriteria, "count", spy)
    con = connect(db)
    try:
        run = tag_store(con, review_path=review.path, chunk_size=9, refine=False)
        stored = load_assessment(con)
    finally:
        con.close()
    assert (
        len(counted) > 5
        and max(counted) <= 9
        and sum(counted) == sum(run.summary.decisions.values())
    )
    mine = stored[stored["criterion"].isin(SimilarityCriteria.of(review).ids)]
    assert set(mine["criterion"]) == set(today["label"])
    assert len(mine) == 4 * sum(counted)  # every record, each of the four criteria
    expected = {(r.record_id, r.label): (r.score, r.evidence) for r in today.itertuples()}
    for row in mine.itertuples():
        score, evidence = expected.get((row.record_id, row.criterion), (0.0, []))
        assert row.score == score, (row.record_id, row.criterion)
        assert row.evidence == evidence, (row.record_id, row.criterion)
    assert (mine["score"] > 0).sum() > 50  # judged, with evidence


# -- the store changed between the two passes ---------------------------------------------

#: Sentences an edit adds to a record's abstract between the passes (criterion words).
_ADDED = (
    " Patients and staff worked together as equal partners throughout."
    " Service users shared power in the design and delivery of the service."
)


def _edited_after(target: Callable[..., Any], db: Path, added: str = _ADDED) -> Callable[..., Any]:
    """``target`` (pass 1), then a record's abstract edited by another connection (``added``
    to it), as a reviewer's edit committed while the run goes on: pass 2 reads it, pass 1
    did not."""

    def counted(*args: Any, **kwargs: Any) -> Any:
        out = target(*args, **kwargs)
        other = sqlite3.connect(db)
        try:
            with other:
                (rid,) = other.execute("SELECT record_id FROM records LIMIT 1").fetchone()
                other.execute(
                    "UPDATE records_all SET abstract = coalesce(abstract, '') || ? "
                    "WHERE record_id = ?",
                    (added, rid),
                )
        finally:
            other.close()
        return out

    return counted


def test_a_record_edited_between_the_passes_is_told_and_recorded(
    kei_imported_db: Path,
    copy_db: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A record's abstract edited after pass 1 counted the store and before pass 2 scored
    it: the weights are not those of the texts judged, and the run says so (a warning,
    and ``similarity_recounted`` false with both passes' totals in its parameters); the
    same run without the edit says nothing and records nothing of it."""
    from synth.store.tags import run_params
    from synth.tagging.workflow import tag_store

    review = _review(tmp_path)
    quiet_db = copy_db(kei_imported_db, tmp_path / "quiet.sqlite")
    edited_db = copy_db(kei_imported_db, tmp_path / "edited.sqlite")
    caplog.set_level("WARNING", logger="synth.tagging.workflow")
    con = connect(quiet_db)
    try:
        run = tag_store(con, review_path=review.path, chunk_size=9, refine=False)
        quiet = run_params(con, run.run_id)
    finally:
        con.close()
    assert "similarity_recounted" not in quiet and "pass 1 counted" not in caplog.text
    monkeypatch.setattr(workflow, "_counted", _edited_after(workflow._counted, edited_db))
    con = connect(edited_db)
    try:
        run = tag_store(con, review_path=review.path, chunk_size=9, refine=False)
        params = run_params(con, run.run_id)
    finally:
        con.close()
    told = [r for r in caplog.records if "pass 1 counted" in r.getMessage()]
    assert len(told) == 1 and told[0].levelname == "WARNING"
    assert params["similarity_recounted"] is False
    first, second = params["similarity_counts"]["pass_1"], params["similarity_counts"]["pass_2"]
    assert second["sentences"] == first["sentences"] + 2  # the two sentences added
    assert second["criterion_words"] > first["criterion_words"]
    assert f"pass 1 counted {first['sentences']} sentences" in told[0].getMessage()


def test_pass_1_on_one_machine_has_its_own_progress_and_tells_of_no_extract_again(
    kei_imported_db: Path,
    copy_db: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Pass 1 reads every chunk before the tagging's bar starts: it has a bar of its own
    over the records (and a log line), and an extract naming no record is told of once
    (not by pass 1, nor per chunk)."""
    import synth.progress
    from synth.store.views import load_extracts
    from synth.tagging.workflow import tag_store

    review = _review(tmp_path)
    db = copy_db(kei_imported_db, tmp_path / "bar.sqlite")
    real = load_extracts

    def with_a_stray(con: sqlite3.Connection) -> pd.DataFrame:
        ext = real(con)
        stray = {**ext.iloc[0].to_dict(), "record_id": None, "ref": "nosuch2020"}
        return pd.concat([ext, pd.DataFrame([stray])], ignore_index=True)

    monkeypatch.setattr(workflow, "load_extracts", with_a_stray)
    bars: list[dict[str, Any]] = []
    real_bar = synth.progress.progress_bar

    def bar(*args: Any, **kwargs: Any) -> Any:
        bars.append(kwargs)
        return real_bar(*args, **kwargs)

    monkeypatch.setattr(synth.progress, "progress_bar", bar)
    passes: list[str] = []
    count = SimilarityCriteria.count

    def counting(self: SimilarityCriteria, *args: Any) -> Any:
        passes.append("count")
        return count(self, *args)

    monkeypatch.setattr(SimilarityCriteria, "count", counting)
    caplog.set_level("INFO", logger="synth")
    con = connect(db)
    try:
        run = tag_store(con, review_path=review.path, chunk_size=9, progress=True, refine=False)
    finally:
        con.close()
    chunks = len(passes)
    assert chunks > 5
    assert bars and bars[0]["desc"] == "counting criteria words"
    assert bars[0]["total"] == sum(run.summary.decisions.values())
    assert any("counting the words of 4 criteria" in r.getMessage() for r in caplog.records)
    stray = [r for r in caplog.records if "name no record" in r.getMessage()]
    # once for the run, when its extracts are matched to the store's records: not by
    # pass 1, nor per chunk by each reader of the chunk's extracts
    assert len(stray) == 1 and "nosuch2020" in stray[0].getMessage()
