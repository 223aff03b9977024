"""Reading and importing give exactly what they gave before the import was made faster.

``import_digests.json`` beside this file holds, per input, a digest of every column of
the records read (values and dtype), of the failures report, and of every row an import
writes to a fresh store (records, sightings, failures, duplicate groups and pairs). It
was written by this module (``python tests/corpus/test_import_unchanged.py``) at the
commit before the RIS import was vectorised (issue 19); any change to what is read or
stored shows here as the column or table that differs.

Inputs: a generated corpus written as RIS and BibTeX, a RIS copy of it dirtied the ways
real exports are (CRLF, missing ERs, binary junk, wrapped and padded values, decomposed
accents, untitled records, repeats, tags after ER), read in one piece and in chunks on
two workers, and imported twice over (a second file of the same name re-seeing records);
and, marked ``peer``, every export in ``../shared/peer-data/formats``.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "import_digests.json"
PEER_FORMATS = HERE.parents[1].parent / "shared" / "peer-data" / "formats"
N_GENERATED = 1_500
#: chunks of over 200 records (what a reader samples to name the file's database)
CHUNK_CHARS = 600_000


def _canon(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, list | tuple):
        return [_canon(v) for v in value]
    if isinstance(value, dict):
        return [[str(k), _canon(v)] for k, v in value.items()]  # key order counts
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    return [type(value).__name__, value if isinstance(value, str | int | float) else repr(value)]


def _sha(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def frame_digest(df: pd.DataFrame) -> dict[str, str]:
    """Per column: its dtype and values, and the row count and column order."""
    out = {"_columns": _sha([list(map(str, df.columns)), len(df)])}
    for col in df.columns:
        out[str(col)] = _sha([str(df[col].dtype), [_canon(v) for v in df[col].tolist()]])
    return out


def read_digest(path: Path) -> dict[str, Any]:
    from synth.corpus import ReadError, read_file

    try:
        result = read_file(path)
    except ReadError as exc:
        return {"error": exc.reason}
    return {
        "format": result.format,
        "database": result.database,
        "records": frame_digest(result.records),
        "failures": frame_digest(result.failures),
    }


#: what an import writes, minus what differs on every run (times, this machine's paths)
STORE_QUERIES = {
    "sources": "SELECT source_id, sha256, name, format, database, encoding, encoding_how,"
    " size, n_records, n_failures, n_warnings, n_new, complete FROM sources_all"
    " ORDER BY source_id",
    "records": "SELECT * FROM records_all ORDER BY record_id",
    "records_order": "SELECT record_id FROM records ORDER BY source_id, position, record_id",
    "sightings": "SELECT * FROM record_sightings_all ORDER BY record_id, source_id, position",
    "failures": "SELECT source_id, file, line, record, reason, raw, severity"
    " FROM import_failures_all ORDER BY failure_id",
    "groups": "SELECT * FROM duplicate_groups ORDER BY record_id",
    "pairs": "SELECT * FROM duplicate_pairs ORDER BY record_a, record_b",
}


def store_digest(db: Path) -> dict[str, str]:
    con = sqlite3.connect(db)
    try:
        out = {}
        for name, sql in STORE_QUERIES.items():
            rows = con.execute(sql).fetchall()
            out[name] = _sha([len(rows), [[_canon(v) for v in row] for row in rows]])
        return out
    finally:
        con.close()


# -- the generated inputs ------------------------------------------------------------------


def _dirty_ris(text: str) -> str:
    """The generated RIS, dirtied record by record the ways real exports are."""
    records = text.split("\nER  - \n")
    out: list[str] = ["Exported by some database\nwith a preamble line\n\n"]
    for i, rec in enumerate(records):
        if not rec.strip():
            continue
        rec = rec.strip("\n")
        lines = rec.split("\n")
        k = i % 23
        if k == 1:  # padded, tabbed and decomposed values, a non-breaking space
            lines = [
                ln.replace("TI  - ", "TI  -   ", 1).replace("e", "e\u0301", 2) + " \t "
                if ln.startswith("TI  - ")
                else ln.replace(" ", "\u00a0", 1)
                if ln.startswith("T2  - ")
                else ln
                for ln in lines
            ]
        elif k == 2:  # an abstract wrapped over lines, a title with a line break in it
            lines = [
                ln[:40] + "\n   " + ln[40:] if ln.startswith(("AB  - ", "N2  - ")) else ln
                for ln in lines
            ]
        elif k == 3:  # no title (kept when it has a DOI or PMID)
            lines = [ln for ln in lines if not ln.startswith(("TI  - ", "T1  - "))]
        elif k == 4:  # no title and no identifier: a failure row
            lines = [
                ln
                for ln in lines
                if not ln.startswith(("TI  - ", "T1  - ", "DO  - ", "AN  - ", "UR  - ", "N1  - "))
            ]
        elif k == 5:  # binary junk
            lines.insert(2, "N1  - junk \x01\x02 here")
        elif k == 6:  # keywords and authors in one line, odd year and DOI forms
            lines += [
                "KW  - alpha; beta ;gamma",
                "KW  - delta, epsilon",
                "AU  - Smith, J. and Jones, K.",
                "Y1  - c. 1998/05//",
                "UR  - https://doi.org/10.1234/ABC.def.",
                "M1  - PMID: 1234567",
            ]
        elif k == 7:  # an empty record
            lines = ["TY  - JOUR"]
        elif k == 8:  # a repeat of the record before: a second source record
            lines = records[i - 1].strip("\n").split("\n")
        elif k == 9:  # irregular spacing and an unknown tag
            lines = [ln.replace("  - ", " - ", 1) if ln[:2] in ("PY", "VL") else ln for ln in lines]
            lines.append("ZZ  - an unknown tag")
        elif k == 10:  # a stray value line and empty tags
            lines += ["AB  - ", "SP  - ", "EP  - 12", "DA  - 2001///"]
        out.append("\n".join(lines))
        if k == 11:  # missing ER: closed by the next TY
            out.append("\n\n")
        elif k == 12:  # Ovid tags after ER
            out.append("\nER  - \nNL  - a note after the end\n\n")
        else:
            out.append("\nER  - \n\n")
    return "".join(out).replace("\n", "\r\n")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_inputs(tmp_path_factory.mktemp("generated"))


def make_inputs(folder: Path) -> dict[str, Path]:
    from synth.corpus.synthetic import generate_records
    from synth.corpus.writers.bibtex import write_bibtex
    from synth.corpus.writers.ris import write_ris

    records, _ = generate_records(N_GENERATED, seed=19)
    paths = {"ris": folder / "clean" / "records.ris", "bib": folder / "clean" / "records.bib"}
    paths["ris"].parent.mkdir()
    write_ris(records, paths["ris"])
    write_bibtex(records, paths["bib"])
    dirty = folder / "dirty" / "records.ris"
    dirty.parent.mkdir()
    dirty.write_bytes(_dirty_ris(paths["ris"].read_text("utf-8")).encode("utf-8"))
    paths["dirty"] = dirty
    # the same name in another folder, half of it again: its records are seen again
    again = folder / "again" / "records.ris"
    again.parent.mkdir()
    text = paths["ris"].read_text("utf-8")
    again.write_text(text[: len(text) // 2].rsplit("\nER  - \n", 1)[0] + "\nER  - \n", "utf-8")
    paths["again"] = again
    return paths


def _inputs(paths: dict[str, Path]) -> dict[str, str]:
    return {k: hashlib.sha256(p.read_bytes()).hexdigest()[:20] for k, p in sorted(paths.items())}


def _chunked(monkeypatch: pytest.MonkeyPatch) -> None:
    from synth.corpus import chunked

    monkeypatch.setattr(chunked, "PARALLEL_MIN_CHARS", 1)
    monkeypatch.setattr(chunked, "CHUNK_CHARS", CHUNK_CHARS)
    monkeypatch.setattr(chunked, "default_workers", lambda: 2)


def generated_digests(paths: dict[str, Path], tmp: Path) -> dict[str, Any]:
    from synth.store import connect, import_paths

    out: dict[str, Any] = {"inputs": _inputs(paths)}
    for key in ("ris", "bib", "dirty", "again"):
        out[f"read:{key}"] = read_digest(paths[key])
    db = tmp / "store.sqlite"
    con = connect(db)
    try:
        import_paths(con, [paths["dirty"], paths["bib"]])
        import_paths(con, [paths["again"], paths["ris"]])
    finally:
        con.close()
    out["store"] = store_digest(db)
    return out


def _golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text("utf-8"))


def _compare(got: dict[str, Any], want: dict[str, Any], where: str) -> None:
    diffs = []
    for key in sorted(set(got) | set(want)):
        a, b = got.get(key), want.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += [f"{key}.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif a != b:
            diffs.append(f"{key}: {a!r} != {b!r}")
    assert not diffs, f"{where}: differs from before in {diffs}"


def test_generated_corpus_reads_and_imports_as_before(generated, tmp_path, monkeypatch):
    want = _golden()["generated"]
    got_inputs = _inputs(generated)
    if got_inputs != want["inputs"]:
        pytest.fail("the generated inputs changed (synthetic.py or a writer): rewrite the digests")
    got = generated_digests(generated, tmp_path)
    _compare(got, want, "generated, one process")


def test_generated_corpus_read_in_chunks_reads_and_imports_as_before(
    generated, tmp_path, monkeypatch
):
    from synth.corpus import chunked

    _chunked(monkeypatch)
    assert len(chunked.chunk_bounds(generated["dirty"].read_text("utf-8"), "ris", CHUNK_CHARS)) > 3
    got = generated_digests(generated, tmp_path)
    _compare(got, _golden()["generated_chunked"], "generated, read in chunks on two workers")


def _peer_files() -> list[str]:
    if not PEER_FORMATS.is_dir():
        return []
    return sorted(str(p.relative_to(PEER_FORMATS)) for p in PEER_FORMATS.rglob("*") if p.is_file())


@pytest.mark.peer
def test_peer_exports_read_as_before(peer_data):
    want = _golden()["peer"]
    names = _peer_files()
    assert names, "no peer exports found"
    missing = sorted(set(want) - set(names))
    assert not missing, f"peer exports gone: {missing}"
    for name in names:
        if name in want:
            _compare(read_digest(PEER_FORMATS / name), want[name], name)


@pytest.mark.peer
def test_peer_ris_exports_import_as_before(peer_data, tmp_path):
    from synth.store import connect, import_paths

    want = _golden()["peer_store"]
    for folder, digest in want.items():
        db = tmp_path / f"{folder}.sqlite"
        con = connect(db)
        try:
            import_paths(con, [PEER_FORMATS / folder])
        finally:
            con.close()
        _compare(store_digest(db), digest, f"{folder} imported")


#: folders of real RIS exports imported whole (their other files with them)
PEER_STORE_FOLDERS = [
    "asreview-demo-data",
    "rispy",
    "jabref",
    "pybtexnbib-ris",
    "screening-ptsd-vandeschoot-included-ris",
]


def write_golden() -> None:  # pragma: no cover - run by hand at a known-good commit
    import tempfile

    mp = pytest.MonkeyPatch()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "inputs").mkdir()
        (folder / "one").mkdir()
        paths = make_inputs(folder / "inputs")
        one = generated_digests(paths, folder / "one")
        (folder / "chunks").mkdir()
        _chunked(mp)
        two = generated_digests(paths, folder / "chunks")
        mp.undo()
        peer = {name: read_digest(PEER_FORMATS / name) for name in _peer_files()}
        stores = {}
        for name in PEER_STORE_FOLDERS:
            db = folder / f"{name}.sqlite"
            from synth.store import connect, import_paths

            con = connect(db)
            import_paths(con, [PEER_FORMATS / name])
            con.close()
            stores[name] = store_digest(db)
    GOLDEN.write_text(
        json.dumps(
            {"generated": one, "generated_chunked": two, "peer": peer, "peer_store": stores},
            indent=1,
        )
        + "\n",
        "utf-8",
    )


if __name__ == "__main__":  # pragma: no cover
    if re.fullmatch(r"--write", " ".join(sys.argv[1:])):
        import logging

        logging.disable(logging.WARNING)
        write_golden()
    else:
        print("usage: python tests/corpus/test_import_unchanged.py --write")


def _count_calls(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.parametrize("start", ["fork", "forkserver"])
def test_groups_found_beside_the_insert_are_the_same(generated, tmp_path, monkeypatch, start):
    """A first import into an empty store groups its records in another process while it
    writes them: the same store as grouping them after, in this process."""
    import multiprocessing

    import synth.parallel
    import synth.store.duplicates
    import synth.store.imports

    monkeypatch.setattr(synth.store.imports, "EARLY_GROUPS_MIN_RECORDS", 0)
    monkeypatch.setattr(synth.store.imports, "default_workers", lambda: 2)
    context = multiprocessing.get_context(start)
    monkeypatch.setattr(synth.parallel, "mp_context", lambda preload=(): context)
    here = _count_calls(monkeypatch, synth.store.duplicates, "dedupe")
    started = _count_calls(monkeypatch, synth.store.imports, "EarlyGroups")
    got = generated_digests(generated, tmp_path)
    _compare(got, _golden()["generated"], f"grouped beside the insert ({start})")
    # the first import (an empty store) grouped elsewhere; the second, here
    assert len(started) == 1 and len(here) == 1


def _grouped_here_when(
    grouping: Any, start: str, generated: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Import the generated corpus with ``grouping`` as the process's work, started by
    ``start`` (fork: a monkeypatched function runs in it; a fork server pickles it by name):
    the store is as before and this process grouped both imports itself."""
    import multiprocessing

    import synth.parallel
    import synth.store.duplicates
    import synth.store.imports

    context = multiprocessing.get_context(start)
    monkeypatch.setattr(synth.parallel, "mp_context", lambda preload=(): context)
    monkeypatch.setattr(synth.store.imports, "EARLY_GROUPS_MIN_RECORDS", 0)
    monkeypatch.setattr(synth.store.imports, "default_workers", lambda: 2)
    monkeypatch.setattr(synth.store.imports, "_group_elsewhere", grouping)
    here = _count_calls(monkeypatch, synth.store.duplicates, "dedupe")
    got = generated_digests(generated, tmp_path)
    _compare(got, _golden()["generated"], f"grouped here ({grouping.__name__}, {start})")
    assert len(here) == 2


def test_a_grouping_process_that_dies_is_done_again_here(generated, tmp_path, monkeypatch):
    def dies(*args: Any) -> None:
        import os

        os._exit(3)

    # forked: the full suite's live threads would otherwise choose a fork server
    _grouped_here_when(dies, "fork", generated, tmp_path, monkeypatch)


def test_a_grouping_started_for_records_not_all_new_is_not_used(generated, tmp_path, monkeypatch):
    """The last file turns out to be one imported before (same bytes, another name, so
    other record ids: the grouping itself succeeds): the records grouped beside the insert
    are not the store's, so it groups them here, as it does with no grouping beside the
    insert."""
    import shutil

    import synth.store.duplicates
    import synth.store.imports
    from synth.store import connect, import_paths

    folder = tmp_path / "twice"
    (folder / "b").mkdir(parents=True)
    shutil.copy(generated["ris"], folder / "a.ris")
    shutil.copy(generated["ris"], folder / "b" / "c.ris")
    digests = []
    for early in (False, True):
        monkeypatch.setattr(synth.store.imports, "EARLY_GROUPS_MIN_RECORDS", 0 if early else 10**9)
        monkeypatch.setattr(synth.store.imports, "default_workers", lambda: 2)
        here = _count_calls(monkeypatch, synth.store.duplicates, "dedupe")
        started = _count_calls(monkeypatch, synth.store.imports, "EarlyGroups")
        db = tmp_path / f"store-{early}.sqlite"
        con = connect(db)
        try:
            report = import_paths(con, [folder])
        finally:
            con.close()
        assert list(report.files["status"]) == ["imported", "unchanged (imported before)"]
        assert len(started) == int(early) and len(here) == 1
        digests.append(store_digest(db))
    assert digests[0] == digests[1]


def _import_with_and_without_early_groups(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    paths: list[Path],
    meanwhile: Any = None,
    **settings: Any,
) -> list[dict[str, Any]]:
    """Store digests of importing ``paths`` into an empty store without and with the
    grouping beside the insert (forked, so monkeypatched code runs in it);
    ``meanwhile(db, result)`` runs after each file is stored, before the grouping is
    taken. Asserts the grouping was started (or not) and how often this process grouped."""
    import multiprocessing

    import synth.parallel
    import synth.store.duplicates
    import synth.store.imports
    from synth.store import connect, import_paths

    context = multiprocessing.get_context("fork")
    monkeypatch.setattr(synth.parallel, "mp_context", lambda preload=(): context)
    monkeypatch.setattr(synth.store.imports, "default_workers", lambda: 2)
    for name, value in settings.items():
        monkeypatch.setattr(synth.store.imports, name, value)
    digests = []
    for early in (False, True):
        monkeypatch.setattr(synth.store.imports, "EARLY_GROUPS_MIN_RECORDS", 0 if early else 10**9)
        db = tmp_path / f"store-{early}.sqlite"
        real_store = synth.store.imports.store_file
        if meanwhile is not None:

            def store(
                con: sqlite3.Connection, result: Any, db: Path = db, real: Any = real_store
            ) -> dict[str, Any]:
                row = real(con, result)
                meanwhile(db, result)
                return row

            monkeypatch.setattr(synth.store.imports, "store_file", store)
        started = _count_calls(monkeypatch, synth.store.imports, "EarlyGroups")
        con = connect(db)
        try:
            import_paths(con, paths)
        finally:
            con.close()
        monkeypatch.setattr(synth.store.imports, "store_file", real_store)
        assert len(started) == int(early)
        digests.append(store_digest(db))
    return digests


def test_a_cannot_link_written_while_grouping_beside_the_insert_is_kept(
    generated, tmp_path, monkeypatch
):
    """A reviewer splits two records after the grouping began with no cannot-links: its
    result is not used, and the pair stays apart as with no grouping beside the insert."""
    from synth.corpus.dedupe import dedupe
    from synth.store import connect

    def split_a_pair(db: Path, result: Any) -> None:
        pair = dedupe(result.records).pairs.iloc[0]
        con = connect(db)
        try:
            with con:
                con.execute(
                    "INSERT INTO group_events (kind, record_a, record_b, reviewer, created_at)"
                    " VALUES ('split', ?, ?, 'test', '2026-01-01')",
                    (pair["record_a"], pair["record_b"]),
                )
        finally:
            con.close()

    without, early = _import_with_and_without_early_groups(
        monkeypatch, tmp_path, [generated["ris"]], split_a_pair
    )
    assert early == without


def test_records_another_import_commits_meanwhile_are_grouped_too(generated, tmp_path, monkeypatch):
    """Another import stores (and groups) a file while this one's grouping runs beside
    its insert: the store holds more than those records, so the result is not used."""
    from synth.store import connect, import_paths

    def import_another(db: Path, result: Any) -> None:
        if result.path == generated["ris"]:
            con = connect(db)
            try:
                import_paths(con, [generated["bib"]])
            finally:
                con.close()

    without, early = _import_with_and_without_early_groups(
        monkeypatch, tmp_path, [generated["ris"]], import_another
    )
    assert early == without


def _hangs(*args: Any) -> None:
    import time

    time.sleep(10**6)


def test_a_grouping_process_that_hangs_is_stopped_and_done_here(
    generated, tmp_path, monkeypatch, caplog
):
    """A grouping process alive but stuck: past the deadline it is stopped and the
    records grouped here; the same store as with none."""
    import logging

    import synth.store.duplicates
    import synth.store.imports

    here = _count_calls(monkeypatch, synth.store.duplicates, "dedupe")
    with caplog.at_level(logging.WARNING, logger="synth.store.imports"):
        without, early = _import_with_and_without_early_groups(
            monkeypatch, tmp_path, [generated["ris"]], _group_elsewhere=_hangs,
            EARLY_GROUPS_SECONDS=0.5, EARLY_GROUPS_SECONDS_PER_RECORD=0.0,
        )  # fmt: skip
    assert early == without
    assert len(here) == 2  # with and without: both grouped here
    assert "no result in 0 s; stopped" in caplog.text


def test_a_grouping_process_that_dies_is_named_with_its_exit_code(
    generated, tmp_path, monkeypatch, caplog
):
    import logging

    def dies(*args: Any) -> None:
        import os

        os._exit(3)

    with caplog.at_level(logging.WARNING, logger="synth.store.imports"):
        without, early = _import_with_and_without_early_groups(
            monkeypatch, tmp_path, [generated["ris"]], _group_elsewhere=dies
        )
    assert early == without
    assert "exit code 3" in caplog.text


def _import_in(db: str, path: str, done: Any) -> None:
    import synth.store.imports
    from synth.store import connect, import_paths

    synth.store.imports.EARLY_GROUPS_MIN_RECORDS = 0
    synth.store.imports.default_workers = lambda: 2
    con = connect(db)
    try:
        import_paths(con, [path])
        done.send("ok")
    except Exception as exc:
        done.send(repr(exc))
    finally:
        con.close()


def test_an_import_inside_a_daemonic_process_groups_in_it(generated, tmp_path):
    """A pool's worker (a daemonic process) may start no process: the grouping is not
    started beside the insert, and the import completes as with none."""
    import multiprocessing

    from synth.store import connect, import_paths

    context = multiprocessing.get_context("fork")
    recv, send = context.Pipe(duplex=False)
    db = tmp_path / "in-daemon.sqlite"
    proc = context.Process(
        target=_import_in, args=(str(db), str(generated["ris"]), send), daemon=True
    )
    proc.start()
    send.close()
    assert recv.recv() == "ok"
    proc.join()
    con = connect(tmp_path / "here.sqlite")
    try:
        import_paths(con, [generated["ris"]])
    finally:
        con.close()
    assert store_digest(db) == store_digest(tmp_path / "here.sqlite")


def test_a_grouping_process_that_cannot_start_is_done_here(generated, tmp_path, monkeypatch):
    """Whatever stops the process from starting (here: a fork server cannot pickle what
    it is given), the import groups in this process: the same store, no error."""

    def local(*args: Any) -> None:  # a local function: no name a fork server can pickle
        raise AssertionError("never runs")

    _grouped_here_when(local, "forkserver", generated, tmp_path, monkeypatch)
