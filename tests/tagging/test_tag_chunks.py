"""``tag_store`` on one machine streams a chunk of records at a time (issue 19): the run it
stores is the one the whole corpus in one chunk stores, row for row, and a run that fails
or is killed between chunks is never the current one."""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from synth.store import connect
from synth.store.tags import RUN_TABLES, current_tags, latest_run, run_params
from synth.tagging.workflow import tag_store

KEI = Path(__file__).resolve().parents[2] / "corpus" / "kei-2020"
#: The stored run, sorted: the tables a streamed run must write as the whole run does.
TABLES = RUN_TABLES


def stored_run(con: sqlite3.Connection, run_id: int) -> dict[str, pd.DataFrame]:
    return {name: pd.read_sql_query(sql, con, params=(run_id,)) for name, sql in TABLES.items()}


def tagged(db: Path, **kwargs: Any) -> tuple[dict[str, pd.DataFrame], dict[str, Any], Any]:
    """Tag the store at ``db``: its stored run, the run's parameters, the TagRun."""
    con = connect(db)
    try:
        run = tag_store(con, **kwargs)
        assert latest_run(con) == run.run_id
        return stored_run(con, run.run_id), run_params(con, run.run_id), run
    finally:
        con.close()


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Values as objects, missing ones None (a chunk whose reasons are all None holds them
    as objects, another as strings: the same values, which the store holds alike)."""
    frame = frame.astype(object)  # and categories (the chunks' rows in memory) as values
    return frame.where(frame.notna(), None)


def old_summary(tags: pd.DataFrame, suggestions: pd.DataFrame | None) -> tuple[Any, ...]:
    """What ``synth tag`` printed, as it computed it from every record's rows before the
    run kept only counts (:class:`synth.tagging.workflow.TagSummary`)."""
    counts = (
        tags.groupby(["facet", "label"]).size().rename("records").reset_index()
        if len(tags)
        else pd.DataFrame(columns=["facet", "label", "records"])
    )
    with_evidence = tags["record_id"].nunique() if len(tags) else 0
    dec = None if suggestions is None else suggestions["decision"].value_counts().to_dict()
    return counts, len(tags), with_evidence, dec


def assert_summary_of(run: Any, tags: pd.DataFrame, suggestions: pd.DataFrame | None) -> None:
    """``run``'s summary is what the old summary computed from ``tags`` (its rule rows)
    and ``suggestions``."""
    counts, n, with_evidence, dec = old_summary(tags, suggestions)
    pd.testing.assert_frame_equal(run.summary.per_label(), counts)
    assert (run.summary.tags, run.summary.records, run.summary.decisions) == (
        n, with_evidence, dec,
    )  # fmt: skip


def assert_same_run(whole: tuple, chunked: tuple) -> None:
    (tables, params, run), (tables2, params2, run2) = whole, chunked
    for name, frame in tables.items():
        assert len(frame), name  # the comparison compares something
        pd.testing.assert_frame_equal(frame, tables2[name], obj=name)
    assert params == params2
    # one chunk: its rows in hand; several: none held, their counts the whole run's
    assert run.tags is not None and run.suggestions is not None
    assert run2.tags is None and run2.assessment is None and run2.suggestions is None
    assert_summary_of(run, run.tags, run.suggestions)
    assert run2.summary == run.summary
    assert run.failures == run2.failures


def test_the_bundled_corpus_tagged_in_chunks_stores_the_same_run(
    kei_imported_db: Path, copy_db: Callable[..., Path], tmp_path: Path
) -> None:
    """The bundled corpus (records with extracts, full texts and PDF pages; the review's
    criteria beside it) in chunks of 9 records against one chunk."""
    whole = tagged(copy_db(kei_imported_db, tmp_path / "whole.sqlite"), chunk_size=10_000)
    chunked = tagged(copy_db(kei_imported_db, tmp_path / "chunked.sqlite"), chunk_size=9)
    assert whole[1]["records"] > 5 * 9  # several chunks, the last one short
    assert_same_run(whole, chunked)


def _generated_store(folder: Path, n: int, *, review: bool = True) -> Path:
    """``n`` generated records in a store, with a review whose criteria are KEI's (cues)
    and one without cues, judged by similarity to its wording across all records (with
    ``review=False`` none beside them: no criteria)."""
    from synth.corpus.synthetic import generate_records
    from synth.corpus.writers.ris import write_ris
    from synth.store import import_paths

    records, _ = generate_records(n, seed=7)
    write_ris(records, folder / "records.ris")
    if review:
        kei = yaml.safe_load((KEI / "review.yml").read_text("utf-8"))
        similar = {"id": "patient-reported", "text": "Patient-reported outcomes in hospital care"}
        review_yml = {
            "inclusion_criteria": [*kei["inclusion_criteria"], similar],
            "exclusion_criteria": kei["exclusion_criteria"],
        }
        (folder / "review.yml").write_text(yaml.safe_dump(review_yml), "utf-8")
    db = folder / "generated.sqlite"
    con = connect(db)
    try:
        import_paths(con, [folder / "records.ris"])
    finally:
        con.close()
    return db


@pytest.mark.slow
def test_a_generated_corpus_tagged_in_chunks_stores_the_same_run(tmp_path: Path) -> None:
    """A few thousand generated records over four chunks (the last one short) against one
    chunk, with a criterion judged by similarity (its word weights from every record)."""
    db = _generated_store(tmp_path, 2_000)
    review = tmp_path / "review.yml"
    shutil.copyfile(db, tmp_path / "chunked.sqlite")
    whole = tagged(db, review_path=review, chunk_size=5_000)
    chunked = tagged(tmp_path / "chunked.sqlite", review_path=review, chunk_size=600)
    assessment = whole[0]["criteria_assessments"]
    by_similarity = assessment[assessment["criterion"] == "patient-reported"]
    assert (by_similarity["status"] == "met").any()  # the similarity criterion is judged
    assert_same_run(whole, chunked)


def test_extracts_known_by_ref_are_matched_once_per_run_not_per_chunk(
    kei_imported_db: Path,
    copy_db: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The bundled corpus's extracts known only by their ``ref`` (as when imported before
    their records), and one naming no record, in chunks of 9 against one chunk: each
    extract reaches the records it names whatever their chunk (the same run), and only
    the one naming no record is warned of, once per run, by its ref, file and line."""
    from synth.store.views import load_extracts
    from synth.tagging import workflow

    files: list[str] = []

    def by_ref(con: sqlite3.Connection) -> pd.DataFrame:
        ext = load_extracts(con)
        assert ext["record_id"].notna().all() and ext["ref"].notna().all()
        stray = {**ext.iloc[0].to_dict(), "ref": "nosuch2020", "line": 999}
        files.append(stray["source_file"])
        ext = pd.concat([ext, pd.DataFrame([stray])], ignore_index=True).astype(object)
        ext["record_id"] = None
        return ext

    monkeypatch.setattr(workflow, "load_extracts", by_ref)
    caplog.set_level("WARNING", logger="synth")
    runs, told = [], []
    for name, size in (("whole", 10_000), ("chunked", 9)):
        caplog.clear()
        runs.append(tagged(copy_db(kei_imported_db, tmp_path / f"{name}.sqlite"), chunk_size=size))
        told.append([r.getMessage() for r in caplog.records if "name no record" in r.getMessage()])
    assert runs[0][1]["records"] > 5 * 9
    assert_same_run(*runs)
    for messages in told:
        assert len(messages) == 1, messages
        assert f"nosuch2020 ({files[0]}, line 999)" in messages[0]
    with_text = runs[0][0]["tags"]["evidence"].str.contains('"field": "extract')
    assert with_text.any()  # the extracts were read


def test_a_run_that_fails_between_chunks_leaves_the_previous_one_current(
    kei_imported_db: Path, copy_db: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from synth.tagging import criteria

    con = connect(copy_db(kei_imported_db))
    first = tag_store(con, chunk_size=10_000).run_id
    before = current_tags(con)
    real, calls = criteria.suggest, []

    def failing_second_chunk(assessment: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
        calls.append(len(assessment))
        if len(calls) == 2:  # the first chunk is written by now
            raise RuntimeError("the store's disk is full")
        return real(assessment, **kwargs)

    monkeypatch.setattr(criteria, "suggest", failing_second_chunk)
    with pytest.raises(RuntimeError, match="disk is full"):
        tag_store(con, chunk_size=20)
    assert latest_run(con) == first
    pd.testing.assert_frame_equal(current_tags(con), before)
    for table in TABLES:  # what the failed run wrote is removed again
        (left,) = con.execute(f"SELECT count(*) FROM {table} WHERE run_id > ?", (first,)).fetchone()
        assert left == 0, table
    con.close()


def tag_in_chunks(path: str) -> None:
    """Child: tag the store a few records at a time (the test kills it midway)."""
    con = connect(path)
    tag_store(con, chunk_size=4)


@pytest.mark.slow
def test_a_run_killed_between_chunks_is_never_the_current_one(
    kei_imported_db: Path, copy_db: Callable[..., Path]
) -> None:
    path = copy_db(kei_imported_db)
    con = connect(path)
    first = tag_store(con, chunk_size=10_000).run_id
    before = current_tags(con)
    child = mp.get_context("spawn").Process(target=tag_in_chunks, args=(str(path),))
    child.start()
    deadline = time.monotonic() + 300
    # kill it once a chunk of its rows is committed
    sql = "SELECT count(DISTINCT record_id) FROM suggestions WHERE run_id > ?"
    while con.execute(sql, (first,)).fetchone()[0] == 0:
        assert child.is_alive(), "the tagging run ended before it could be killed"
        assert time.monotonic() < deadline, "the tagging run wrote nothing"
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.join(30)
    (written,) = con.execute(sql, (first,)).fetchone()
    (records,) = con.execute("SELECT count(*) FROM records").fetchone()
    assert 0 < written < records  # killed midway, between chunks
    assert latest_run(con) == first
    pd.testing.assert_frame_equal(current_tags(con), before)
    # the next run is whole, and current
    again = tag_store(con, chunk_size=20).run_id
    assert latest_run(con) == again
    assert stored_run(con, again)["suggestions"].shape[0] == records
    con.close()


def test_synth_tags_summary_is_the_same_in_chunks(
    kei_imported_db: Path,
    copy_db: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``synth tag`` prints its records per label, tags and suggested decisions from the
    chunks' rows as from the whole run's."""
    from typer.testing import CliRunner

    from synth.cli import app, console, frame_table
    from synth.store.tags import load_run_tags, load_suggestions
    from synth.tagging import workflow

    printed = []
    for name, chunk in (("whole", 10_000), ("chunked", 9)):
        monkeypatch.setattr(workflow, "CHUNK_RECORDS", chunk)
        db = copy_db(kei_imported_db, tmp_path / f"{name}.sqlite")
        result = CliRunner().invoke(app, ["tag", "--db", str(db), "--no-progress"])
        assert result.exit_code == 0, result.output
        printed.append(result.output.replace(f"{name}.sqlite", "X"))
        # what it printed when it summed every record's rows, from the stored run
        con = connect(db)
        try:
            tags = load_run_tags(con)
            counts, n, with_evidence, dec = old_summary(tags, load_suggestions(con))
            run_id = latest_run(con)
        finally:
            con.close()
        assert (tags["source"] == "rule").all()
        with console.capture() as table:
            console.print(frame_table(counts, title=f"Tagging run {run_id}: records per label"))
        assert table.get() in result.output
        assert f"\n{n} tags with evidence on {with_evidence} records\n" in result.output
        decisions = ", ".join(f"{k} {v}" for k, v in sorted(dec.items()))
        assert f"\nsuggested decisions: {decisions}\n" in result.output
    assert "suggested decisions: " in printed[0]
    assert printed[0] == printed[1]
