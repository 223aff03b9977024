"""Duplicate groups in the store: recomputed from the records and reviewers' split events.

Groups are derived data (rebuilt after every import), while a reviewer's "these are not
the same paper" is an appended event that every later rebuild honours as a cannot-link.
Imports may run at once: each regroups from every committed record. Records committed by
an import killed before its regrouping are grouped by the next import or the next read
of the groups (:func:`ensure_groups`). Records are read through the ``records`` view, so
only files imported completely are grouped: a file still being written, or left half
written by a killed import, is in no group and makes no group stale.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pandas as pd

from synth import __version__
from synth.corpus.dedupe import dedupe
from synth.store.batches import ShortTransactions, turn
from synth.store.db import now, transaction
from synth.store.views import load_records

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)


def cannot_links(con: sqlite3.Connection) -> list[tuple[str, str]]:
    """Pairs reviewers have split and not since re-joined (latest event wins)."""
    state: dict[tuple[str, str], str] = {}
    for row in con.execute("SELECT kind, record_a, record_b FROM group_events ORDER BY event_id"):
        key = tuple(sorted((row["record_a"], row["record_b"])))
        state[key] = row["kind"]  # type: ignore[index]
    return [k for k, kind in state.items() if kind == "split"]  # type: ignore[misc]


#: Tries at grouping outside the write lock while other imports keep committing records;
#: the last try holds the lock from reading the records to writing their groups.
ATTEMPTS = 3


def refresh_duplicates(
    con: sqlite3.Connection,
    *,
    progress: bool = False,
    records: pd.DataFrame | None = None,
    client: Client | None = None,
    grouped: Any = None,
) -> dict[str, int]:
    """Re-run deduplication over every committed record and update the derived groups.

    The records are read in one snapshot and grouped without holding the write lock (a
    large store takes a while). The groups of records never grouped before are written
    first, in short transactions (:func:`_write_new_groups`); then, under the lock, the
    rows that changed, only if no record or group event was committed meanwhile (by
    another import); else it starts again from the new records. So two imports at once
    both end with the groups of all records, and neither a regroup after a small import
    nor the first grouping of a large one holds the lock long.

    ``records`` may be passed when the caller holds exactly the store's records already
    (a first import), to save reading them back; it is ignored if the store has others.
    Groupings of one store take turns (:func:`grouping_turn`).

    With a Dask ``client`` (:func:`synth.distributed.cluster_client`) the records are
    deduplicated on its workers (:func:`synth.distributed.dedupe.dedupe_on_cluster`):
    the same groups and pairs, written the same way; without one, in this process.

    ``grouped`` (an import's grouping of ``records`` started while it stored them:
    :class:`synth.store.imports.EarlyGroups`) gives the result of ``dedupe`` when asked
    with the very ``records`` and the cannot-links it was started with, else None.
    """
    with grouping_turn(con, wait=True):
        return _refresh(con, progress=progress, records=records, client=client, grouped=grouped)


def _refresh(
    con: sqlite3.Connection,
    *,
    progress: bool,
    records: pd.DataFrame | None,
    client: Client | None = None,
    grouped: Any = None,
) -> dict[str, int]:
    for attempt in range(ATTEMPTS):
        locked = attempt == ATTEMPTS - 1
        con.execute("BEGIN IMMEDIATE" if locked else "BEGIN")
        try:
            stamp = _stamp(con)
            # on a cluster the records are read a partition at a time as they are sent
            # (DedupeRecords), in this transaction's snapshot: it ends when they are all out
            streamed = client is not None and (records is None or len(records) != stamp[0])
            if not streamed and (records is None or len(records) != stamp[0]):
                records = load_records(con)
            links = cannot_links(con)
            stored = _stored(con)
            if not locked and not streamed:
                con.execute("COMMIT")
            if client is None:
                result = grouped.take(records, links) if grouped is not None else None
                if result is None:
                    result = dedupe(records, cannot_link=links, progress=progress)
            else:
                from synth.distributed.dedupe import DedupeRecords, dedupe_on_cluster

                source = DedupeRecords(con) if streamed else records
                result = dedupe_on_cluster(source, client, cannot_link=links)
                if not locked and con.in_transaction:
                    con.execute("COMMIT")
            changes = _changes(stored, result.groups, result.pairs)
            if not locked:
                changes = _write_new_groups(con, changes, stored)
                con.execute("BEGIN IMMEDIATE")
                latest = _stamp(con)
                if latest[:2] != stamp[:2]:  # records committed since: group them too
                    con.execute("ROLLBACK")
                    records = None
                    continue
                if latest != stamp:  # another import grouped these same records meanwhile
                    con.execute("ROLLBACK")
                    return {"duplicate_pairs": len(result.pairs)}
            _write_changes(con, changes, stamp, len(result.pairs))
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        return {"duplicate_pairs": len(result.pairs)}
    raise AssertionError("unreachable: the last attempt holds the lock")  # pragma: no cover


def _stamp(con: sqlite3.Connection) -> tuple[int, int, int]:
    """What the groups are computed from (records and group events, both only appended)
    and the last grouping written (each write adds a ``dedupe`` run)."""
    row = con.execute(
        "SELECT (SELECT count(*) FROM records),"
        " (SELECT coalesce(max(event_id), 0) FROM group_events),"
        " (SELECT coalesce(max(run_id), 0) FROM runs WHERE kind='dedupe')"
    ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])


_Rows = dict[Any, tuple[Any, ...]]


def _stored(con: sqlite3.Connection) -> tuple[_Rows, _Rows]:
    """The groups and pairs in the store, keyed like the tables."""
    groups = {
        r[0]: (r[1], r[2])
        for r in con.execute("SELECT record_id, group_id, is_kept FROM duplicate_groups")
    }
    pairs = {
        (r[0], r[1]): tuple(r[2:])
        for r in con.execute(
            "SELECT record_a, record_b, rule, score, title_score, author_match, year_diff"
            " FROM duplicate_pairs"
        )
    }
    return groups, pairs


def _changes(
    stored: tuple[_Rows, _Rows], groups: pd.DataFrame, pairs: pd.DataFrame
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(group rows to write, pair keys to delete, pair rows to write) to turn the stored
    tables into the new ones."""
    old_groups, old_pairs = stored
    new_groups = {r.record_id: (r.group_id, int(bool(r.is_kept))) for r in groups.itertuples()}
    new_pairs = {
        (p.record_a, p.record_b): (
            p.rule, _f(p.score), _f(p.title_score),
            None if p.author_match is None else int(bool(p.author_match)),
            None if p.year_diff is None or p.year_diff != p.year_diff else int(p.year_diff),
        )
        for p in pairs.itertuples()
    }  # fmt: skip
    group_rows = [(k, *v) for k, v in new_groups.items() if old_groups.get(k) != v]
    gone = [k for k in old_pairs if k not in new_pairs]
    pair_rows = [(*k, *v) for k, v in new_pairs.items() if old_pairs.get(k) != v]
    return group_rows, gone, pair_rows


_INSERT_GROUP = (
    "INSERT OR REPLACE INTO duplicate_groups (record_id, group_id, is_kept) VALUES (?,?,?)"
)
_INSERT_PAIR = (
    "INSERT OR REPLACE INTO duplicate_pairs (record_a, record_b, rule, score, title_score,"
    " author_match, year_diff) VALUES (?,?,?,?,?,?,?)"
)


def _write_new_groups(
    con: sqlite3.Connection,
    changes: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]],
    stored: tuple[_Rows, _Rows],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Write the groups made only of records that had no group yet, and their pairs, in
    short transactions; return the other changes, to be written in one.

    The first grouping after a large import writes a row per record: in one transaction
    it held the write lock for seconds (3.5 s for 200,000 records). Such rows may be
    seen before the rest: they touch no group a reader saw, and until they are written
    their records read as not grouped yet, as they did since their file was imported. A
    change to a stored row (a record moving, a kept record giving way to a new one) is
    seen with all the others at once.
    """
    old_groups = stored[0]
    group_rows, gone, pair_rows = changes
    touched = {gid for rid, gid, _ in group_rows if rid in old_groups}
    touched |= {gid for gid, _ in old_groups.values()}
    fresh = sorted((r for r in group_rows if r[1] not in touched), key=lambda r: r[1])
    fresh_ids = {r[0] for r in fresh}
    fresh_pairs = [p for p in pair_rows if p[0] in fresh_ids and p[1] in fresh_ids]
    if not fresh:
        return changes
    with ShortTransactions(con) as w:
        w.executemany(_INSERT_GROUP, fresh)
        w.executemany(_INSERT_PAIR, fresh_pairs)
    rest_groups = [r for r in group_rows if r[0] not in fresh_ids]
    rest_pairs = [p for p in pair_rows if not (p[0] in fresh_ids and p[1] in fresh_ids)]
    return rest_groups, gone, rest_pairs


def _write_changes(
    con: sqlite3.Connection,
    changes: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]],
    stamp: tuple[int, int, int],
    n_pairs: int,
) -> None:
    """Apply :func:`_changes` (inside the caller's write transaction) and note what the
    groups were computed from, so :func:`groups_stale` can tell."""
    group_rows, gone, pair_rows = changes
    con.executemany(_INSERT_GROUP, group_rows)
    con.executemany("DELETE FROM duplicate_pairs WHERE record_a=? AND record_b=?", gone)
    con.executemany(_INSERT_PAIR, pair_rows)
    params = {"records": stamp[0], "group_events": stamp[1], "pairs": n_pairs}
    con.execute(
        "INSERT INTO runs (kind, started_at, finished_at, params, version)"
        " VALUES ('dedupe', ?, ?, ?, ?)",
        (now(), now(), json.dumps(params), __version__),
    )


def groups_stale(con: sqlite3.Connection) -> bool:
    """Whether committed records or reviewers' split events are not in the groups yet:
    an import or split killed between its commit and the regrouping that follows."""
    n_records, last_event, _ = _stamp(con)
    (n_grouped,) = con.execute("SELECT count(*) FROM duplicate_groups").fetchone()
    if n_grouped != n_records:  # every record has a row once grouped
        return True
    row = con.execute(
        "SELECT params FROM runs WHERE kind='dedupe' ORDER BY run_id DESC LIMIT 1"
    ).fetchone()
    return row is not None and json.loads(row[0]).get("group_events", 0) < last_event


def ensure_groups(con: sqlite3.Connection, *, progress: bool = False) -> bool:
    """Regroup if :func:`groups_stale`; True if it did.

    Not while another process is grouping (an import between its commit and its
    regrouping: it will finish the job), nor in a store that cannot be written (read-only,
    or the caller is inside a transaction); those are left as they are, with a warning.
    """
    if not groups_stale(con):
        return False
    if con.in_transaction:
        log.warning("duplicate groups are out of date; not regrouped inside a transaction")
        return False
    with grouping_turn(con, wait=False) as mine:
        if not mine:
            log.warning("duplicate groups are being updated by another import")
            return False
        if not groups_stale(con):  # that import finished meanwhile
            return False
        log.warning("duplicate groups are out of date (an import was interrupted): regrouping")
        try:
            _refresh(con, progress=progress, records=None)
        except sqlite3.OperationalError as exc:
            log.warning("could not regroup duplicates (%s); groups may be incomplete", exc)
            return False
    return True


@contextmanager
def grouping_turn(con: sqlite3.Connection, *, wait: bool) -> Iterator[bool]:
    """Hold the store's grouping lock (``<store>-grouping.lock``, see
    :func:`synth.store.batches.turn`): True once held, False if another process is grouping.
    Where no file lock can be taken, groupings simply do not take turns (True).
    """
    with turn(con, "grouping", wait=wait) as held:
        yield held is not False


def _f(value: object) -> float | None:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if v != v else v


def split_records(
    con: sqlite3.Connection,
    record_ids: Iterable[str],
    *,
    reviewer: str,
    note: str | None = None,
) -> dict[str, int]:
    """Take ``record_ids`` out of their duplicate group: a reviewer's correction.

    Each split record gets a cannot-link event against every other member of its
    current group; groups are then rebuilt, so the correction survives later imports.
    """
    ids = list(dict.fromkeys(record_ids))
    if not ids:
        raise ValueError("name at least one record id to split")
    placeholders = ",".join("?" for _ in ids)
    known = {
        r[0]
        for r in con.execute(
            f"SELECT record_id FROM duplicate_groups WHERE record_id IN ({placeholders})", ids
        )
    }
    missing = [i for i in ids if i not in known]
    if missing:
        raise KeyError(f"not in any duplicate group: {', '.join(missing)}")
    events = []
    stamp = now()
    for rid in ids:
        (group,) = con.execute(
            "SELECT group_id FROM duplicate_groups WHERE record_id=?", (rid,)
        ).fetchone()
        members = [
            r[0]
            for r in con.execute(
                "SELECT record_id FROM duplicate_groups WHERE group_id=? AND record_id<>?",
                (group, rid),
            )
        ]
        events += [("split", rid, other, reviewer, note, stamp) for other in members]
    with transaction(con):
        con.executemany(
            "INSERT INTO group_events (kind, record_a, record_b, reviewer, note, created_at)"
            " VALUES (?,?,?,?,?,?)",
            events,
        )
    refresh_duplicates(con)
    return {"events": len(events)}


def link_extracts(con: sqlite3.Connection) -> dict[str, int]:
    """Resolve each extract's ``ref`` (a record's key, or a DOI) to a record id.

    Extracts and records of files still being imported are not seen (the ``extracts`` and
    ``records`` views); the import of such a file links its extracts once it is complete.
    """
    with transaction(con):
        con.execute(
            "UPDATE extracts_all SET record_id = COALESCE("
            " (SELECT r.record_id FROM records r WHERE r.source_key = extracts_all.ref"
            "  ORDER BY r.source_id LIMIT 1),"
            " (SELECT r.record_id FROM records r WHERE r.doi = lower(extracts_all.ref)"
            "  ORDER BY r.source_id LIMIT 1))"
            " WHERE record_id IS NULL AND source_id IN (SELECT source_id FROM sources)"
        )
    (unlinked,) = con.execute("SELECT count(*) FROM extracts WHERE record_id IS NULL").fetchone()
    return {"extracts_unlinked": int(unlinked)}
