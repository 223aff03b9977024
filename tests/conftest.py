"""Shared fixtures: paths are built from this file, never from the working directory."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
FIXTURES = TESTS / "fixtures"
PEER = ROOT.parent / "shared" / "peer-data"
KEI = ROOT / "corpus" / "kei-2020"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def peer_data() -> Path:
    """The real exports beside the project; tests using it are marked ``peer``."""
    if not PEER.is_dir():
        pytest.skip(f"peer data not found at {PEER} (it sits beside the project in CI)")
    return PEER


# ---------------------------------------------------------------- the bundled KEI store
# Built once per test session and shared: read a store as it is; a test that writes to one
# takes its own copy first (``copy_db``), so no test sees another's changes.


@pytest.fixture(scope="session")
def kei_imported_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled KEI corpus imported (``synth import corpus/kei-2020``), untagged."""
    from synth.store import connect, import_paths

    if not KEI.is_dir():
        pytest.skip(f"bundled corpus not found at {KEI}")
    db = tmp_path_factory.mktemp("kei-imported") / "kei.sqlite"
    con = connect(db)
    try:
        import_paths(con, [KEI])
    finally:
        con.close()
    return db


@pytest.fixture(scope="session")
def kei_tagged_db(kei_imported_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """:func:`kei_imported_db` tagged as ``synth tag --db`` tags it (the review.yml beside
    the imported files, the refiner as ``synth/data/refine.yml`` says)."""
    from synth.store import connect
    from synth.tagging.workflow import tag_store

    db = tmp_path_factory.mktemp("kei-tagged") / "kei.sqlite"
    shutil.copyfile(kei_imported_db, db)
    con = connect(db)
    try:
        tag_store(con)
    finally:
        con.close()
    return db


@pytest.fixture
def copy_db(tmp_path: Path) -> Callable[..., Path]:
    """``copy_db(store, target=None)``: a private copy of a (closed) shared store, at
    ``target`` (default ``review.sqlite`` in the test's tmp_path), for a test that writes."""

    def copy(store: Path, target: Path | None = None) -> Path:
        target = target if target is not None else tmp_path / "review.sqlite"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(store, target)
        return target

    return copy


@pytest.fixture
def bib_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """An open store (``review.sqlite`` in tmp_path) holding the test module's ``BIB`` (a
    BibTeX text) imported as ``refs.bib``; closed after the test."""
    from synth.store import connect, import_paths

    bib = tmp_path / "refs.bib"
    bib.write_text(request.module.BIB, encoding="utf-8")
    con = connect(tmp_path / "review.sqlite")
    import_paths(con, [bib])
    yield con
    con.close()


def record_id(con: sqlite3.Connection, key: str) -> str:
    """The id of the stored record read from the BibTeX entry ``key``."""
    from synth.store import load_records

    records = load_records(con)
    return str(records.loc[records["source_key"] == key, "record_id"].iloc[0])
