"""Duplicate groups when imports run at once, and when one is killed before grouping.

Groups are derived from every committed record; whatever the order or overlap of the
imports, the store must end with the groups a serial import gives. Importers are
separate processes (``spawn``), as two ``synth import`` commands would be.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from pathlib import Path

import pytest

from synth.corpus.dedupe import dedupe
from synth.corpus.reading import read_file
from synth.corpus.synthetic import generate_records
from synth.corpus.writers.ris import write_ris
from synth.store import connect, duplicates, import_paths, load_records, refresh_duplicates
from synth.store.imports import store_file


@pytest.fixture(scope="module")
def two_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two RIS exports of one search, with duplicates within and across the files."""
    folder = tmp_path_factory.mktemp("exports")
    records, _ = generate_records(2400, dup_rate=0.1, seed=14)
    shuffled = records.sample(frac=1.0, random_state=14).reset_index(drop=True)
    a, b = folder / "pubmed.ris", folder / "scopus.ris"
    write_ris(shuffled.iloc[::2], a)
    write_ris(shuffled.iloc[1::2], b)
    return a, b


def groups(path: Path) -> set[frozenset[str]]:
    """The store's duplicate groups as sets of record ids; every record must be in one."""
    con = connect(path)
    records = load_records(con, with_groups=True)
    con.close()
    missing = int(records["group_id"].isna().sum())
    assert missing == 0, f"{missing} of {len(records)} records are in no duplicate group"
    return {frozenset(ids) for _, ids in records.groupby("group_id")["record_id"]}


@pytest.fixture(scope="module")
def serial(two_files: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> set:
    path = tmp_path_factory.mktemp("serial") / "review.sqlite"
    con = connect(path)
    for file in two_files:
        import_paths(con, [file])
    con.close()
    found = groups(path)
    assert sum(len(g) > 1 for g in found) > 50  # the files do hold duplicates
    return found


def import_file(path: str, file: str, start) -> None:
    """Child: import one file once the other importer is ready too."""
    con = connect(path)
    start.wait(60)
    import_paths(con, [file])
    con.close()


def test_two_imports_at_once_give_the_groups_of_a_serial_import(
    two_files: tuple[Path, Path], serial: set, tmp_path: Path
) -> None:
    path = tmp_path / "review.sqlite"
    connect(path).close()  # created and migrated before the race
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(2)
    procs = [ctx.Process(target=import_file, args=(str(path), str(f), start)) for f in two_files]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
        assert p.exitcode == 0
    assert groups(path) == serial


def import_killed_before_grouping(path: str, file: str) -> None:
    """Child: import ``file`` and die by SIGKILL right after its records are committed."""
    from synth.store import imports

    def kill(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    imports.refresh_duplicates = kill  # the step after the file's commit
    imports.import_paths(connect(path), [file])


def test_an_import_killed_before_grouping_leaves_no_record_ungrouped(
    two_files: tuple[Path, Path], serial: set, tmp_path: Path
) -> None:
    path = tmp_path / "review.sqlite"
    con = connect(path)
    import_paths(con, [two_files[0]])
    con.close()
    child = mp.get_context("spawn").Process(
        target=import_killed_before_grouping, args=(str(path), str(two_files[1]))
    )
    child.start()
    child.join(300)
    assert child.exitcode == -signal.SIGKILL
    con = connect(path)
    (n,) = con.execute("SELECT count(*) FROM records").fetchone()
    assert n == sum(len(g) for g in serial)  # the killed import's records are committed
    con.close()
    # the next reader of the groups finds them complete: regrouped, not half-stale
    assert groups(path) == serial


def test_records_committed_while_grouping_are_grouped_too(
    two_files: tuple[Path, Path], serial: set, tmp_path: Path, monkeypatch
) -> None:
    """Another import commits its file while this one groups: the groups cover both."""
    path = tmp_path / "review.sqlite"
    con = connect(path)
    import_paths(con, [two_files[0]])
    other = connect(path)
    seen: list[int] = []

    def dedupe_while_another_import_commits(records, **kwargs):
        seen.append(len(records))
        if len(seen) == 1:
            store_file(other, read_file(two_files[1]))
        return dedupe(records, **kwargs)

    monkeypatch.setattr(duplicates, "dedupe", dedupe_while_another_import_commits)
    refresh_duplicates(con)
    n = sum(len(g) for g in serial)
    assert seen == [n // 2, n]  # grouped again, with the records committed meanwhile
    (grouped,) = con.execute("SELECT count(*) FROM duplicate_groups").fetchone()
    assert grouped == n
    assert groups(path) == serial


def test_a_reader_leaves_the_regrouping_to_an_import_under_way(
    two_files: tuple[Path, Path], serial: set, tmp_path: Path
) -> None:
    """Between an import's commit and its grouping, readers do not all regroup too; once
    no import is grouping (it finished, or died), the next reader regroups."""
    path = tmp_path / "review.sqlite"
    con = connect(path)
    import_paths(con, [two_files[0]])
    store_file(con, read_file(two_files[1]))  # committed, not grouped yet
    reader = connect(path)
    with duplicates.grouping_turn(con, wait=True):  # the import is grouping
        assert not duplicates.ensure_groups(reader)
        assert duplicates.groups_stale(reader)
    assert duplicates.ensure_groups(reader)
    assert not duplicates.groups_stale(reader)
    assert groups(path) == serial
