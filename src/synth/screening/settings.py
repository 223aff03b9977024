"""Named settings saved in the review store, so a screening run can be reproduced.

A save appends a row (the table refuses updates), so the settings a past run used stay
on record; :func:`load_settings` returns the latest save under a name.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

import pandas as pd

from synth.store.db import now, transaction


def _encode(settings: Mapping[str, Any]) -> str:
    if not isinstance(settings, Mapping):
        raise TypeError(f"settings must be a mapping, not {type(settings).__name__}")
    try:
        return json.dumps(dict(settings), sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"settings must be plain JSON values (str, number, list, dict): {exc}"
        ) from exc


def save_settings(con: sqlite3.Connection, settings: dict, *, name: str = "default") -> None:
    """Store ``settings`` (JSON values only: tuples come back as lists) under ``name``."""
    if not name or not isinstance(name, str):
        raise ValueError("settings need a name (a non-empty string)")
    value = _encode(settings)
    with transaction(con):
        con.execute(
            "INSERT INTO settings (name, value, saved_at) VALUES (?,?,?)", (name, value, now())
        )


def load_settings(con: sqlite3.Connection, name: str = "default") -> dict | None:
    """The settings last saved under ``name``, or None if never saved."""
    row = con.execute(
        "SELECT value FROM settings WHERE name = ? ORDER BY settings_id DESC LIMIT 1", (name,)
    ).fetchone()
    return None if row is None else json.loads(row[0])


def settings_history(con: sqlite3.Connection, name: str | None = None) -> pd.DataFrame:
    """Every save (``settings_id, name, saved_at, settings``), oldest first."""
    sql = "SELECT settings_id, name, saved_at, value FROM settings"
    params: tuple[str, ...] = ()
    if name is not None:
        sql += " WHERE name = ?"
        params = (name,)
    rows = con.execute(sql + " ORDER BY settings_id", params).fetchall()
    return pd.DataFrame(
        [(r[0], r[1], r[2], json.loads(r[3])) for r in rows],
        columns=["settings_id", "name", "saved_at", "settings"],
    )
