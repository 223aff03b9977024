"""Open a review store: a SQLite file in WAL mode, migrated to the current schema.

The schema lives in numbered SQL files under ``migrations/``; ``PRAGMA user_version``
records how many have been applied, so an old review file is upgraded in place (each
migration in its own transaction) and a newer one is refused rather than damaged.

Threads: Jupyter runs a widget's callback on whichever thread the kernel handles that
message on, not always the one that ran the cell which opened the store. So a connection
from :func:`connect` may be used from any thread (``check_same_thread=False``), one thread at
a time: its re-entrant ``lock`` is held for every write transaction (:func:`transaction`) and
by callers whose statements belong together (:func:`serialised`).
"""

from __future__ import annotations

import functools
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class StoreError(Exception):
    """A review store that cannot be opened or used; the message says which and why."""


class StoreConnection(sqlite3.Connection):
    """A review-store connection any thread may use; ``lock`` makes them take turns."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lock = threading.RLock()


def serialised(con: sqlite3.Connection) -> AbstractContextManager[object]:
    """Hold ``con``'s lock (a plain ``sqlite3`` connection has none: it is one thread's)."""
    lock = getattr(con, "lock", None)
    return lock if lock is not None else nullcontext()


F = TypeVar("F", bound=Callable[..., Any])


def in_turn(method: F) -> F:
    """Decorate an app's action to run holding its store connection's lock (``self.con``:
    widget callbacks come from any thread, and take turns on the one connection)."""

    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        with serialised(self.con):
            return method(self, *args, **kwargs)

    return run  # type: ignore[return-value]


@contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, committed on leaving: what it wrote is on disk when we return.

    ``BEGIN IMMEDIATE`` takes the write lock up front, so a second writer waits
    (``busy_timeout``) rather than failing half-way through; the connection's own lock
    keeps another thread of this process from interleaving statements with it.
    """
    with serialised(con):
        if con.in_transaction:
            raise RuntimeError(
                "this connection is inside an open transaction; this write commits its own"
            )
        con.execute("BEGIN IMMEDIATE")
        try:
            yield
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise


#: Page cache (KiB) a bulk load of records works in: the records' id, DOI, PMID and key
#: indexes take rows in no order, and past SQLite's default 2 MB each insert reads and
#: spills index pages again (200,000 records: the load's system CPU about halved).
BULK_CACHE_KIB = 256 * 1024


@contextmanager
def bulk_cache(con: sqlite3.Connection) -> Iterator[None]:
    """A large page cache on ``con`` while a file's records are written (an import, one
    machine or a cluster), the connection's own restored after; what is stored is the
    same, only fewer pages are read and written again. Memory is taken as pages are
    used, up to :data:`BULK_CACHE_KIB`.

    The write-ahead log keeps SQLite's checkpoint every 1,000 pages, so each of a large
    import's commits checkpoints after it has released the write lock: that time adds to
    the pause in which a waiting reviewer's write gets in (checkpointing every 10,000 pages
    instead saved about 0.3 s at 100,000 records, but a reviewer's worst wait for the lock
    rose from 0.33-0.43 s to 0.63-0.73 s and its own commits did the checkpoints)."""
    (before,) = con.execute("PRAGMA cache_size").fetchone()
    con.execute(f"PRAGMA cache_size={-BULK_CACHE_KIB}")
    try:
        yield
    finally:
        with suppress(sqlite3.Error):  # (a failing store: its error is the one to see)
            con.execute(f"PRAGMA cache_size={int(before)}")


@cache
def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migration shipped with the package, in order."""
    folder = resources.files("synth.store").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        m = _MIGRATION_NAME.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort()
    for expected, (version, name, _) in enumerate(found, start=1):
        if version != expected:
            raise StoreError(f"migration {name} is out of sequence (expected {expected:04d})")
    return found


def schema_version() -> int:
    """The schema version this synth writes."""
    return len(migrations())


def require_name(value: Any, what: str) -> str:
    """``value`` stripped, or a ValueError asking for ``what`` (the reviewer, the form ...):
    every event is recorded under a name, and a blank one says nobody."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"name the {what} (a non-empty string), not {value!r}")
    return value.strip()


#: How many ids one ``IN (...)`` takes (SQLite bounds the number of parameters).
IN_CHUNK = 500


def id_chunks(ids: Iterable[Any], size: int = IN_CHUNK) -> Iterator[list[Any]]:
    """The ids, sorted, in lists of at most ``size``: one ``IN (...)`` query each, so a
    few records are looked up by key instead of a whole table read."""
    ordered = sorted(ids)
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def in_marks(chunk: list[Any]) -> str:
    """The ``?,?,...`` of an ``IN (...)`` over one chunk of :func:`id_chunks`."""
    return ",".join("?" * len(chunk))


def now() -> str:
    """UTC timestamp with microseconds: events sort by it, and by id within one instant."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def connect(path: Path | str, *, migrate: bool = True, timeout: float = 60.0) -> sqlite3.Connection:
    """Open (creating if needed) the review store at ``path``.

    WAL mode lets reviewers read while another writes; ``busy_timeout`` makes a second
    writer wait its turn instead of failing; ``synchronous=FULL`` means a committed
    decision survives a crash or power cut. Any thread may use the connection (see the
    module docstring). A file SQLite cannot open, or a database of something else, is a
    :class:`StoreError` naming the file.
    """
    path = Path(path)
    if path.exists() and path.is_dir():
        raise StoreError(f"{path}: is a folder; --db needs a file such as data/review.sqlite")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = sqlite3.connect(
            path,
            timeout=timeout,
            isolation_level=None,
            check_same_thread=False,
            factory=StoreConnection,
        )
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the review store ({exc})") from exc
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.row_factory = sqlite3.Row
        con.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA foreign_keys=ON")
    except sqlite3.DatabaseError as exc:
        con.close()
        raise StoreError(f"{path}: not a synth review store ({exc})") from exc
    if migrate:
        try:
            upgrade(con, path)
        except sqlite3.DatabaseError as exc:
            con.close()
            raise StoreError(f"{path}: the review store could not be upgraded ({exc})") from exc
        except BaseException:
            con.close()
            raise
    return con


def upgrade(con: sqlite3.Connection, path: Path | str = "<store>") -> int:
    """Apply the migrations this file lacks; returns the resulting version."""
    current = con.execute("PRAGMA user_version").fetchone()[0]
    target = schema_version()
    if current == 0:
        foreign = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        if foreign:
            raise StoreError(
                f"{path}: a SQLite database, but not a synth review store (it has tables "
                f"{', '.join(sorted(foreign)[:5])} and no synth schema version); "
                "choose another --db file"
            )
    if current > target:
        raise StoreError(
            f"{path}: schema version {current} is newer than this synth understands ({target}); "
            "upgrade synth"
        )
    for version, name, sql in migrations()[current:]:
        log.info("%s: applying migration %s", path, name)
        con.execute("BEGIN IMMEDIATE")
        try:
            # re-check inside the write lock: another process may have migrated meanwhile
            if con.execute("PRAGMA user_version").fetchone()[0] >= version:
                con.execute("ROLLBACK")
                continue
            for statement in _statements(sql):
                con.execute(statement)
            con.execute(f"PRAGMA user_version={version}")
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return con.execute("PRAGMA user_version").fetchone()[0]


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (``executescript`` would commit on its own)."""
    out: list[str] = []
    buf: list[str] = []
    for line in sql.splitlines():
        if line.strip().startswith("--") and not buf:
            continue
        buf.append(line)
        candidate = "\n".join(buf)
        if sqlite3.complete_statement(candidate):
            out.append(candidate.strip())
            buf = []
    if "\n".join(buf).strip():
        out.append("\n".join(buf).strip())
    return out
