"""Open a review store: a SQLite file in WAL mode, migrated to the current schema.

The schema lives in numbered SQL files under ``migrations/``; ``PRAGMA user_version``
records how many have been applied, so an old review file is upgraded in place (each
migration in its own transaction) and a newer one is refused rather than damaged.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class StoreError(Exception):
    """A review store that cannot be opened or used; the message says which and why."""


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


def now() -> str:
    """UTC timestamp with microseconds: events sort by it, and by id within one instant."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def connect(path: Path | str, *, migrate: bool = True, timeout: float = 60.0) -> sqlite3.Connection:
    """Open (creating if needed) the review store at ``path``.

    WAL mode lets reviewers read while another writes; ``busy_timeout`` makes a second
    writer wait its turn instead of failing; ``synchronous=FULL`` means a committed
    decision survives a crash or power cut.
    """
    path = Path(path)
    if path.exists() and path.is_dir():
        raise StoreError(f"{path}: is a folder; --db needs a file such as data/review.sqlite")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a synth review store ({exc})") from exc
    con.row_factory = sqlite3.Row
    con.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("PRAGMA foreign_keys=ON")
    if migrate:
        upgrade(con, path)
    return con


def upgrade(con: sqlite3.Connection, path: Path | str = "<store>") -> int:
    """Apply the migrations this file lacks; returns the resulting version."""
    current = con.execute("PRAGMA user_version").fetchone()[0]
    target = schema_version()
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
