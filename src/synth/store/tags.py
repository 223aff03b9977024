"""Tags, criteria assessments and suggestions in the store, and reviewers' overrides.

A tagging run appends a ``runs`` row and its tags: rule rows (``source="rule"``, version
``rules:<codebook version>:<sha>``) and, when refined, model rows beside them
(``source="model"``, version ``TagRefiner/<scikit-learn>/<hash>``). The current view is the
latest run with every reviewer override applied on top (latest override per
record/facet/label wins); :func:`current_tags` shows it, with the refiner's choice of which
machine row stands for a tag (:func:`synth.tagging.refine.best_rows`).
Overrides are events: re-tagging adds a run and never touches them. A run is written in
short transactions (all at once, :func:`save_tagging`, or a chunk of records at a time,
:class:`TaggingWriter`) and read only once finished (:func:`latest_run`), so a killed run
is never the current one, and the next run removes its rows (:func:`discard_killed_runs`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sqlite3
from collections.abc import Iterable
from itertools import repeat
from types import TracebackType
from typing import Any

import pandas as pd

from synth import __version__
from synth.store.batches import (
    ShortTransactions,
    delete_in_batches,
    fcntl,
    lock_path,
    store_file_path,
    turn,
)
from synth.store.db import now, transaction

log = logging.getLogger(__name__)

TAG_COLUMNS = ["record_id", "facet", "label", "score", "evidence", "source", "version"]
VERDICTS = ("confirm", "reject", "set")
#: What :func:`current_tags` can show (see there).
SOURCES = ("best", "all", "rule", "model")

_dumps = json.JSONEncoder(ensure_ascii=False, default=str).encode


def start_run(con: sqlite3.Connection, kind: str, params: dict[str, Any]) -> int:
    cur = con.execute(
        "INSERT INTO runs (kind, started_at, params, version) VALUES (?,?,?,?)",
        (kind, now(), _dumps(params), __version__),
    )
    return int(cur.lastrowid)


def save_tagging(
    con: sqlite3.Connection,
    tags: pd.DataFrame,
    *,
    params: dict[str, Any],
    assessment: pd.DataFrame | None = None,
    suggestions: pd.DataFrame | None = None,
) -> int:
    """Store one tagging run (tags, assessment, suggestions).

    A large run is written in short transactions (:mod:`synth.store.batches`), so
    reviewers can record decisions meanwhile; readers see the run only once its ``runs``
    row is marked finished, last. A run that fails is removed again; one killed midway
    stays unfinished, and the previous finished run remains the current one, until the
    next run removes its rows (:func:`discard_killed_runs`).
    :class:`TaggingWriter` writes a run part by part with the same guarantees.
    """
    with TaggingWriter(con, params) as writer:
        writer.add(tags, assessment=assessment, suggestions=suggestions)
    return writer.run_id


class TaggingWriter:
    """One tagging run written part by part: a chunk of records' tags, assessment and
    suggestions at a time (:func:`synth.tagging.workflow.tag_store`), so no part of the
    run need be in memory at once.

    Entering starts the run (an unfinished ``runs`` row); :meth:`add` writes a part in
    short transactions; leaving without an error marks the run finished, last, with
    ``params`` updated by :meth:`finish_params` (what is known only at the end, such as
    the failures). An error removes what the run wrote; a process killed midway leaves
    the run unfinished: either way the previous finished run stays the current one.
    Entering first removes the rows of runs so left (:func:`discard_killed_runs`).
    """

    def __init__(self, con: sqlite3.Connection, params: dict[str, Any]) -> None:
        self.con = con
        self.params = params
        self.run_id = 0
        self._updated: dict[str, Any] = {}
        self._lock: _RunLock | None = None

    def __enter__(self) -> TaggingWriter:
        discard_killed_runs(self.con)
        with transaction(self.con):
            # the owner (pid and host) is information only; whether the run is still
            # going is told by its lock (run_lock), taken before the row is committed
            self.run_id = start_run(self.con, "tag", {**self.params, OWNER: _owner()})
            self._lock = _RunLock.take(self.con, self.run_id)
        return self

    def add(
        self,
        tags: pd.DataFrame,
        *,
        assessment: pd.DataFrame | None = None,
        suggestions: pd.DataFrame | None = None,
    ) -> None:
        """Write one part of the run (unseen until the run is finished; an error here
        removes the whole run when it reaches the ``with`` block's end)."""
        with ShortTransactions(self.con) as w:
            _write_part(w, self.run_id, tags, assessment, suggestions)

    def finish_params(self, **updated: Any) -> None:
        """Parameters to record when the run finishes (over those it started with)."""
        self._updated.update(updated)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if kind is not None:
                if _discard_run(self.con, self.run_id):
                    _drop_owner(self.con, self.run_id)  # failed, not killed (F4)
                elif self._lock is not None:
                    self._lock.keep_file()  # rows left: the next run removes them
                return
            try:
                with transaction(self.con):
                    cur = self.con.execute(  # without its owner: a finished run is nobody's
                        "UPDATE runs SET params=?, finished_at=? WHERE run_id=?"
                        " AND finished_at IS NULL AND json_extract(params, '$.discarded') IS NULL",
                        (_dumps({**self.params, **self._updated}), now(), self.run_id),
                    )
                    if cur.rowcount != 1:
                        raise RunDiscardedError(
                            f"tagging run {self.run_id} was discarded by another run while it"
                            " was written (taken for killed), so its rows are incomplete;"
                            " it is left unfinished: run the tagging again"
                        )
            except BaseException:
                _discard_run(self.con, self.run_id)
                raise
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None


class RunDiscardedError(RuntimeError):
    """A tagging run cannot finish: another run discarded it as killed meanwhile."""


def _write_part(
    w: ShortTransactions,
    run_id: int,
    tags: pd.DataFrame,
    assessment: pd.DataFrame | None,
    suggestions: pd.DataFrame | None,
) -> None:
    # the columns as lists, zipped: a row at a time from ``itertuples`` over pyarrow-backed
    # text columns took most of this step's time at scale (issue 19)
    w.executemany(
        "INSERT INTO tags (run_id, record_id, facet, label, score, evidence, source,"
        " version) VALUES (?,?,?,?,?,?,?,?)",
        zip(
            repeat(run_id), _column(tags, "record_id"), _column(tags, "facet"),
            _column(tags, "label"), [float(x) for x in _column(tags, "score")],
            evidence_json(tags["evidence"]), _column(tags, "source"), _column(tags, "version"),
        ),
    )  # fmt: skip
    if assessment is not None:
        w.executemany(
            "INSERT INTO criteria_assessments (run_id, record_id, criterion, kind,"
            " status, score, evidence) VALUES (?,?,?,?,?,?,?)",
            zip(
                repeat(run_id), _column(assessment, "record_id"),
                _column(assessment, "criterion"), _column(assessment, "kind"),
                _column(assessment, "status"),
                [None if pd.isna(x) else float(x) for x in _column(assessment, "score")],
                evidence_json(assessment["evidence"]),
            ),
        )  # fmt: skip
    if suggestions is not None:
        w.executemany(
            "INSERT INTO suggestions (run_id, record_id, decision, reason, explanation)"
            " VALUES (?,?,?,?,?)",
            zip(
                repeat(run_id), _column(suggestions, "record_id"),
                _column(suggestions, "decision"), _column(suggestions, "reason"),
                _column(suggestions, "explanation"),
            ),
        )  # fmt: skip


def evidence_json(cells: Iterable[Any]) -> list[str]:
    """Evidence cells as the store keeps them: JSON text as given (a cluster's partitions
    come back so, written by the same encoder: not parsed only to be written again), lists
    encoded."""
    values = cells.tolist() if isinstance(cells, pd.Series) else cells
    return [e if isinstance(e, str) else _dumps(e) for e in values]


def _column(frame: pd.DataFrame, name: str) -> list[Any]:
    """A column's values as Python objects (what ``itertuples`` gave, without its cost)."""
    return frame[name].tolist()


def _discard_run(con: sqlite3.Connection, run_id: int) -> bool:
    """Remove what a failed run wrote (its ``runs`` row stays, unfinished, as a record);
    False if the store failed meanwhile."""
    try:
        _delete_rows(con, run_id)
    except sqlite3.Error:  # the store itself is failing: the unfinished run stays unseen
        log.warning("could not remove the rows of failed tagging run %s", run_id)
        return False
    return True


def _delete_rows(con: sqlite3.Connection, run_id: int) -> int:
    """Delete a run's rows in short transactions (a reviewer's write never waits long)."""
    return sum(
        delete_in_batches(con, table, "run_id=?", (run_id,))
        for table in ("tags", "criteria_assessments", "suggestions")
    )


def _drop_owner(con: sqlite3.Connection, run_id: int) -> None:
    try:
        with transaction(con):
            params = run_params(con, run_id)
            if params.pop(OWNER, None) is not None:
                con.execute("UPDATE runs SET params=? WHERE run_id=?", (_dumps(params), run_id))
    except sqlite3.Error:
        log.warning("could not record failed tagging run %s as failed", run_id)


class _RunLock:
    """A tagging run's lock: the store's lock ``tagrun-<run id>``
    (:func:`synth.store.batches.turn`: a file beside the store,
    ``<store>-tagrun-<run id>.lock``), held by the writing process from the run's start
    until it finishes or fails, then its file removed. The operating system releases it
    when its holder dies, even by ``kill -9``, whatever PID namespace or container it ran
    in, so a run whose lock can be taken is one whose writer is gone
    (:func:`discard_killed_runs`)."""

    def __init__(self, path: str, held: contextlib.ExitStack) -> None:
        self.path = path
        self._held = held
        self._remove = True

    @classmethod
    def take(cls, con: sqlite3.Connection, run_id: int) -> _RunLock | None:
        """The new run's lock (None where none can be taken: a read-only folder, an
        in-memory store; such a run is never taken for killed)."""
        return cls._without_waiting(con, run_id, existing=False)

    @classmethod
    def try_dead(cls, con: sqlite3.Connection, run_id: int) -> _RunLock | None:
        """The lock of a run whose writer is gone (None if held, or no such file: a run
        recorded before locks were is never taken for killed)."""
        return cls._without_waiting(con, run_id, existing=True)

    @classmethod
    def _without_waiting(
        cls, con: sqlite3.Connection, run_id: int, *, existing: bool
    ) -> _RunLock | None:
        path = run_lock_path(con, run_id)
        if path is None or (existing and not os.path.exists(path)):
            return None
        held = contextlib.ExitStack()
        if held.enter_context(turn(con, f"{RUN_LOCK}{run_id}", wait=False)):
            return cls(path, held)
        held.close()
        return None

    def keep_file(self) -> None:
        self._remove = False

    def release(self) -> None:
        if self._remove:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        self._held.close()  # releases the lock


#: The name of a tagging run's lock (:func:`synth.store.batches.turn`), before its id.
RUN_LOCK = "tagrun-"


def run_lock_path(con: sqlite3.Connection, run_id: int) -> str | None:
    """Where tagging run ``run_id``'s lock file is (None for an in-memory store)."""
    path = store_file_path(con)
    return None if path is None else lock_path(path, f"{RUN_LOCK}{run_id}")


#: The key of an unfinished tagging run's params naming the process that writes it.
OWNER = "owner"


def _owner() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def discard_killed_runs(con: sqlite3.Connection) -> int:
    """Remove the rows of unfinished tagging runs whose writer is gone (killed midway)
    and return how many were removed.

    A run's writer holds the run's lock file (:class:`_RunLock`) while it lives; a run is
    taken for killed only if that lock can be taken without waiting. A run still going
    in another process, container or PID namespace holds it and is left alone, and so is
    one with no lock file (recorded before locks were, or a failed run, already removed).
    The runs are marked ``discarded`` in one short transaction (checking again that they
    are unfinished), then their rows are deleted in short transactions
    (:func:`synth.store.batches.delete_in_batches`), so a reviewer's write never waits
    long; a crash midway leaves the lock file, and the next run removes the rest. Their
    ``runs`` rows stay, unfinished, as a record. An in-memory store has no lock files and
    nothing here is done.
    """
    if store_file_path(con) is None or fcntl is None:
        return 0
    held: dict[int, _RunLock] = {}
    try:
        for (run_id,) in con.execute(
            "SELECT run_id FROM runs WHERE kind='tag' AND finished_at IS NULL"
        ).fetchall():
            lock = _RunLock.try_dead(con, run_id)
            if lock is not None:
                held[run_id] = lock
        if not held:
            return 0
        killed: list[int] = []
        with transaction(con):
            for run_id, lock in held.items():
                params = run_params(con, run_id)
                params.pop(OWNER, None)
                params.setdefault("discarded", now())
                cur = con.execute(
                    "UPDATE runs SET params=? WHERE run_id=? AND finished_at IS NULL",
                    (_dumps(params), run_id),
                )
                if cur.rowcount == 1:
                    killed.append(run_id)
                else:  # finished meanwhile: its lock file is its writer's to remove
                    lock.keep_file()
        removed = sum(_delete_rows(con, run_id) for run_id in killed)
        if killed:
            log.info(
                "removed %d rows of %d tagging run(s) killed midway (%s)",
                removed, len(killed), ", ".join(str(r) for r in killed),
            )  # fmt: skip
        return removed
    except BaseException:
        for lock in held.values():
            lock.keep_file()  # (its rows are removed by the next run)
        raise
    finally:
        for lock in held.values():
            lock.release()


#: A tagging run's stored tables, sorted, its run id left out: what two versions of the
#: code, or a streamed and a whole run, must store alike.
RUN_TABLES = {
    "tags": "SELECT record_id, facet, label, score, evidence, source, version FROM tags"
    " WHERE run_id=? ORDER BY record_id, facet, label, source",
    "criteria_assessments": "SELECT record_id, criterion, kind, status, score, evidence"
    " FROM criteria_assessments WHERE run_id=? ORDER BY record_id, criterion",
    "suggestions": "SELECT record_id, decision, reason, explanation FROM suggestions"
    " WHERE run_id=? ORDER BY record_id",
}


def run_params(con: sqlite3.Connection, run_id: int) -> dict[str, Any]:
    """The parameters a run recorded (``{}`` when it has none or they do not parse)."""
    row = con.execute("SELECT params FROM runs WHERE run_id=?", (run_id,)).fetchone()
    try:
        params = json.loads(row[0]) if row and row[0] else {}
    except (TypeError, ValueError):
        return {}
    return params if isinstance(params, dict) else {}


def latest_run(con: sqlite3.Connection, kind: str = "tag") -> int | None:
    row = con.execute(
        "SELECT max(run_id) FROM runs WHERE kind=? AND finished_at IS NOT NULL", (kind,)
    ).fetchone()
    return row[0]


def latest_run_summary(con: sqlite3.Connection, kind: str = "tag") -> pd.DataFrame:
    """The latest finished run of ``kind`` (:func:`latest_run`, the one the current tags
    are read from): its run_id, kind, started_at and version, one row (none if no run
    has finished). An unfinished, failed, killed or discarded run is never it."""
    return pd.read_sql_query(
        "SELECT run_id, kind, started_at, version FROM runs WHERE run_id=?",
        con,
        params=(latest_run(con, kind),),
    )


def load_run_tags(
    con: sqlite3.Connection, run_id: int | None = None, *, parse_evidence: bool = True
) -> pd.DataFrame:
    """The tags one run wrote (default: the latest), evidence parsed (or, with
    ``parse_evidence=False``, left as the stored JSON text: callers that drop most rows
    parse only the ones they keep, see :func:`parsed_evidence`)."""
    run_id = run_id if run_id is not None else latest_run(con)
    if run_id is None:
        return pd.DataFrame(columns=TAG_COLUMNS)
    df = pd.read_sql_query(
        f"SELECT {', '.join(TAG_COLUMNS)} FROM tags WHERE run_id=? ORDER BY tag_id",
        con,
        params=(run_id,),
    )
    if parse_evidence:
        df["evidence"] = parsed_evidence(df["evidence"])
    return df


def parsed_evidence(cells: Iterable[Any]) -> list[list[dict[str, Any]]]:
    """Evidence cells as lists: JSON text parsed, lists kept, anything else empty."""
    return [
        json.loads(e) if isinstance(e, str) else (e if isinstance(e, list) else []) for e in cells
    ]


def add_override(
    con: sqlite3.Connection,
    record_id: str,
    facet: str,
    label: str,
    verdict: str,
    *,
    reviewer: str,
    note: str | None = None,
) -> int:
    """A reviewer confirms, rejects or sets a tag: an appended event, committed at once."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    if not con.execute("SELECT 1 FROM records WHERE record_id=?", (record_id,)).fetchone():
        raise KeyError(f"no record {record_id!r} in this store")
    cur = con.execute(
        "INSERT INTO tag_overrides (record_id, facet, label, verdict, reviewer, note,"
        " created_at) VALUES (?,?,?,?,?,?,?)",
        (record_id, facet, label, verdict, reviewer, note, now()),
    )
    return int(cur.lastrowid)


def load_overrides(con: sqlite3.Connection) -> pd.DataFrame:
    return pd.read_sql_query("SELECT * FROM tag_overrides ORDER BY event_id", con)


def current_tags(
    con: sqlite3.Connection,
    run_id: int | None = None,
    *,
    source: str = "best",
    confident: float | None = None,
) -> pd.DataFrame:
    """The latest run's tags with reviewers' overrides applied.

    Parameters
    ----------
    con
        The store.
    run_id
        A tagging run (default: the latest).
    source
        Which machine rows to show under the reviewers' verdicts:

        - ``"best"`` (default, what evaluation, descriptions and exports see): one row per
          (record, facet, label): the model's when it is confident (score >= ``confident``)
          and scores above the rules (or the rules missed the label), else the rules'.
          The rules are the floor: the model adds and raises, never removes; only a
          reviewer removes. A model row keeps the rule row's evidence sentences.
        - ``"all"``: rule and model rows side by side (``source`` tells them apart).
        - ``"rule"`` or ``"model"``: only that layer.
    confident
        The model probability from which ``"best"`` prefers the model (default
        :data:`synth.tagging.refine.MODEL_CONFIDENT`).

    Returns
    -------
    pandas.DataFrame
        :data:`TAG_COLUMNS`. ``reject`` removes a tag, ``confirm`` keeps it as the
        reviewer's, ``set`` adds it (score 1) if no machine row has it; a reviewed tag is
        one row, ``source`` ``reviewer:<name>``, whatever the machine rows said.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
    # evidence is parsed after choosing the rows: "best" drops most model rows, and
    # parsing is most of the time this takes on a large review
    tags = load_run_tags(con, run_id, parse_evidence=False)
    if source == "best":
        if (tags["source"] == "model").any():
            # the refiner's choice of rows (imported only when it ran: it loads scikit-learn)
            from synth.tagging.refine import MODEL_CONFIDENT, best_rows

            tags = best_rows(tags, MODEL_CONFIDENT if confident is None else confident)
    elif source != "all":
        tags = tags[tags["source"] == source].reset_index(drop=True)
    tags["evidence"] = parsed_evidence(tags["evidence"])
    overrides = load_overrides(con)
    if overrides.empty:
        return tags
    key = ["record_id", "facet", "label"]
    last = overrides.groupby(key, sort=False).tail(1)
    # one row per reviewed tag: the first machine row (rules before model) stands for it
    reviewed = tags.merge(last[key], on=key, how="left", indicator=True)["_merge"] == "both"
    tags = pd.concat(
        [tags[~reviewed.to_numpy()], tags[reviewed.to_numpy()].drop_duplicates(key)],
    ).sort_index()
    merged = tags.merge(last[[*key, "verdict", "reviewer"]], on=key, how="outer")
    merged = merged[merged["verdict"].fillna("") != "reject"].copy()
    by_reviewer = merged["verdict"].isin(["confirm", "set"])
    merged.loc[by_reviewer, "source"] = "reviewer:" + merged.loc[by_reviewer, "reviewer"]
    added = merged["score"].isna()
    merged.loc[added, "score"] = 1.0
    merged.loc[added, "version"] = "reviewer"
    merged["evidence"] = [e if isinstance(e, list) else [] for e in merged["evidence"]]
    return merged[TAG_COLUMNS].reset_index(drop=True)


def load_assessment(con: sqlite3.Connection, run_id: int | None = None) -> pd.DataFrame:
    run_id = run_id if run_id is not None else latest_run(con)
    df = pd.read_sql_query(
        "SELECT record_id, criterion, kind, status, score, evidence FROM criteria_assessments"
        " WHERE run_id=? ORDER BY record_id, kind DESC, criterion",
        con,
        params=(run_id,),
    )
    df["evidence"] = [json.loads(e) for e in df["evidence"]]
    return df


def load_suggestions(con: sqlite3.Connection, run_id: int | None = None) -> pd.DataFrame:
    run_id = run_id if run_id is not None else latest_run(con)
    return pd.read_sql_query(
        "SELECT record_id, decision, reason, explanation FROM suggestions WHERE run_id=?"
        " ORDER BY record_id",
        con,
        params=(run_id,),
    )
