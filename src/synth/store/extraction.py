"""Data extraction and appraisal values as append-only events; current values by query.

Every saved field is one ``extraction_events`` row (migration 0006), written in its own
``BEGIN IMMEDIATE`` transaction and committed before :func:`record_value` returns: a
value the app shows as saved survives a killed kernel, and two extractors writing from
two kernels queue for the write lock (``busy_timeout``) instead of losing events. A
change of mind is a new event; the latest event (by id, the commit order) wins.

Values are stored as JSON, so a number stays a number and a multiple choice a list.
What a value means, and whether it still fits its form, is for
:mod:`synth.extraction.values`: the store keeps any field of any form, so editing a form
never makes a saved value disappear.

As with screening decisions, an event keeps the record the reviewer saw, and the frames
here carry the *kept* record of its duplicate group, so a value follows the paper when a
later import regroups its copies.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from synth.screening.decisions import _kept_id, _kept_map, _members
from synth.store.db import now, require_name, transaction

log = logging.getLogger(__name__)

#: ``value``: a reviewer's own value; ``consensus``: the value the extractors settled on.
KINDS: tuple[str, ...] = ("value", "consensus")
#: ``reviewer``: typed by the reviewer; ``accepted-suggestion``: the tagger's pre-filled
#: value accepted as it was.
SOURCES: tuple[str, ...] = ("reviewer", "accepted-suggestion")

EVENT_COLUMNS = [
    "event_id", "record_id", "kept_record_id", "form_id", "field_id", "value", "reviewer",
    "kind", "source", "created_at",
]  # fmt: skip
CURRENT_COLUMNS = [
    "record_id", "form_id", "field_id", "reviewer", "value", "source", "created_at", "event_id",
]  # fmt: skip
CONSENSUS_COLUMNS = [
    "record_id", "form_id", "field_id", "value", "reviewer", "created_at", "event_id",
]  # fmt: skip

_FIELDS = "event_id, record_id, form_id, field_id, value, reviewer, kind, source, created_at"


# ---------------------------------------------------------------- values as JSON


def _plain(value: Any) -> Any:
    """A value as JSON can hold it: numpy scalars as Python ones, tuples/sets as lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def is_blank(value: Any) -> bool:
    """None, NaN, pd.NA and whitespace-only text: no value (an emptied widget gives any)."""
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def encode_value(value: Any) -> str | None:
    """JSON text for the store; None for a blank value (a cleared field).

    Raises ValueError for what JSON cannot hold (an infinite number, an object).
    """
    if is_blank(value):
        return None
    try:
        return json.dumps(_plain(value), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"cannot store {value!r} ({type(value).__name__}) as a field value: {exc}"
        ) from exc


def decode_value(text: str | None) -> Any:
    """The value stored as JSON text (None: cleared)."""
    return None if text is None else json.loads(text)


def _frame(data: list[tuple[Any, ...]], columns: list[str]) -> pd.DataFrame:
    """Rows as a frame whose ``value`` column keeps each value as it is (pandas would turn
    a cleared None among texts into NaN, and a list of choices into an object it infers)."""
    df = pd.DataFrame(data, columns=columns)
    i = columns.index("value")
    df["value"] = pd.Series([r[i] for r in data], index=df.index, dtype=object)
    df["event_id"] = df["event_id"].astype("int64")
    return df


# ---------------------------------------------------------------- writing


def record_value(
    con: sqlite3.Connection,
    record_id: str,
    form_id: str,
    field_id: str,
    value: Any,
    reviewer: str,
    *,
    kind: str = "value",
    source: str = "reviewer",
) -> int:
    """Record one field's value on one record and commit it; returns the event id.

    ``value`` is anything JSON holds (text, a number, a list of choices); a blank value
    (None, NaN, empty text) records that the reviewer cleared the field. ``kind`` is
    ``value`` (the reviewer's own) or ``consensus`` (the settled value, ``reviewer``
    being who settled it). Raises ValueError for an unknown kind or source, a nameless
    reviewer, form or field, a record not in the store, or a value JSON cannot hold.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: choose one of {', '.join(KINDS)}")
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}: choose one of {', '.join(SOURCES)}")
    reviewer = require_name(reviewer, "reviewer")
    form_id = require_name(form_id, "form")
    field_id = require_name(field_id, "field")
    encoded = encode_value(value)
    with transaction(con):
        _kept_id(con, record_id)
        cur = con.execute(
            "INSERT INTO extraction_events (record_id, form_id, field_id, value, reviewer,"
            " kind, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (record_id, form_id, field_id, encoded, reviewer, kind, source, now()),
        )
        event_id = int(cur.lastrowid)  # type: ignore[arg-type]
    log.debug("extraction %s: %s %s/%s on %s", event_id, reviewer, form_id, field_id, record_id)
    return event_id


# ---------------------------------------------------------------- reading


def _rows(
    con: sqlite3.Connection,
    form_id: str | None,
    kind: str | None = None,
    record_id: str | None = None,
) -> list[tuple[Any, ...]]:
    """Events in commit order (``_FIELDS`` order), optionally of one form and kind, and
    of one paper (``record_id``: any copy of it; every copy's events are read)."""
    sql = f"SELECT {_FIELDS} FROM extraction_events"
    where: list[str] = []
    params: list[Any] = []
    if record_id is not None:
        members = _members(con, _kept_id(con, record_id))
        where.append(f"record_id IN ({','.join('?' for _ in members)})")
        params += members
    if form_id is not None:
        where.append("form_id = ?")
        params.append(form_id)
    if kind is not None:
        where.append("kind = ?")
        params.append(kind)
    if where:
        sql += " WHERE " + " AND ".join(where)
    cur = con.cursor()
    cur.row_factory = None  # plain tuples
    return cur.execute(sql + " ORDER BY event_id", params).fetchall()


def load_events(con: sqlite3.Connection, form_id: str | None = None) -> pd.DataFrame:
    """Every extraction event in the order it was committed (the audit trail).

    ``record_id`` is the record the reviewer saw, ``kept_record_id`` the paper it counts
    for; ``value`` is decoded from JSON (None: cleared).
    """
    kept = _kept_map(con)
    data = [
        (r[0], r[1], kept.get(r[1], r[1]), r[2], r[3], decode_value(r[4]), *r[5:])
        for r in _rows(con, form_id)
    ]
    return _frame(data, EVENT_COLUMNS)


def current_values(
    con: sqlite3.Connection, form_id: str | None = None, record_id: str | None = None
) -> pd.DataFrame:
    """Each reviewer's standing value per (paper, form, field): their latest ``value`` event.

    ``record_id`` is the kept record; given one (any copy), only that paper's values. A
    field the reviewer cleared last has a row with ``value`` None (they looked and left it
    empty); a field they never touched has none. Rows are in the order the standing values
    were saved.
    """
    kept = _kept_map(con)
    latest: dict[tuple[str, str, str, str], tuple[Any, ...]] = {}
    for r in _rows(con, form_id, "value", record_id):
        rec = kept.get(r[1], r[1])
        latest[(rec, r[2], r[3], r[5])] = (r[0], rec, *r[2:])
    rows = sorted(latest.values())
    data = [(r[1], r[2], r[3], r[5], decode_value(r[4]), r[7], r[8], r[0]) for r in rows]
    return _frame(data, CURRENT_COLUMNS)


def current_consensus(
    con: sqlite3.Connection, form_id: str | None = None, record_id: str | None = None
) -> pd.DataFrame:
    """The standing consensus per (paper, form, field): the latest ``consensus`` event
    (given ``record_id``, any copy of a paper: that paper's only).

    ``value`` None means the reviewers settled on "no value" for the field.
    """
    kept = _kept_map(con)
    latest: dict[tuple[str, str, str], tuple[Any, ...]] = {}
    for r in _rows(con, form_id, "consensus", record_id):
        rec = kept.get(r[1], r[1])
        latest[(rec, r[2], r[3])] = (r[0], rec, *r[2:])
    rows = sorted(latest.values())
    data = [(r[1], r[2], r[3], decode_value(r[4]), r[5], r[8], r[0]) for r in rows]
    return _frame(data, CONSENSUS_COLUMNS)
