"""CSV writer: records as a UTF-8 table spreadsheets open safely and synth reads back.

A cell that a spreadsheet would run as a formula gets a leading ``'`` (shown as text).
What counts as a formula is decided on the cell's NFKC form with leading whitespace
removed, because spreadsheets also run ``＝1+1`` (fullwidth) and `` \\t=1+1``. The
prefix is reversible: a cell that already starts with ``'`` before something needing
it gets a second one, so :func:`restore_formula` gives back exactly what was written,
and the tabular reader applies it to files this writer made (it knows them by their
header, see ``data/column_aliases.yml``).

List cells are ``"; "``-joined; a list that would not split back the same (an item
holding ``;`` or an unbalanced parenthesis) is written as a Python list literal instead,
which the tabular reader also understands.
"""

from __future__ import annotations

import csv
import json
import unicodedata
from pathlib import Path
from typing import Any

import pandas as pd

from synth.corpus.model import RECORD_COLUMNS

#: first characters (after NFKC and leading whitespace) that make a spreadsheet formula
_FORMULA_START = ("=", "+", "-", "@")
#: characters that start a formula on their own, before any whitespace is stripped
_CONTROL_START = ("\t", "\r", "\n")
_LIST_SEPARATOR = "; "


def _runs_as_formula(value: str) -> bool:
    if value.startswith(_CONTROL_START):
        return True
    text = value if value.isascii() else unicodedata.normalize("NFKC", value)
    return text.lstrip().startswith(_FORMULA_START)


def _needs_prefix(value: str) -> bool:
    """A formula, or a ``'`` before one (so that the prefix can be undone exactly)."""
    while value.startswith("'"):
        value = value[1:]
    return _runs_as_formula(value)


def neutralise_formula(value: str) -> str:
    """Prefix a cell that starts like a formula with ``'`` so spreadsheets show it as text."""
    return "'" + value if _needs_prefix(value) else value


def restore_formula(value: str) -> str:
    """Undo :func:`neutralise_formula` (only ever applied to files synth wrote)."""
    if value.startswith("'") and _needs_prefix(value[1:]):
        return value[1:]
    return value


def list_cell(items: list[Any]) -> str:
    """One cell for a list: ``"a; b"``, or a list literal when an item holds ``;``."""
    texts = [str(v) for v in items]
    joined = _LIST_SEPARATOR.join(texts)
    if (
        any(";" in t or t.count("(") != t.count(")") for t in texts)  # the reader keeps
        or (joined.startswith("[") and joined.endswith("]"))  # "(a; b)" together
    ):
        return repr(texts)
    return joined


def cell(value: Any) -> str:
    """A record value as a safe CSV cell (missing -> empty, dicts as JSON)."""
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, float) and pd.isna(value):
        return ""
    if isinstance(value, list):
        return neutralise_formula(list_cell(value))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
    return neutralise_formula(str(value))


def write_csv(records: pd.DataFrame, path: Path | str) -> None:
    """Canonical columns (then any extra columns, e.g. ``group_id``) as UTF-8 CSV."""
    columns = [c for c in RECORD_COLUMNS if c in records] + [
        c for c in records.columns if c not in RECORD_COLUMNS
    ]
    write_table(records[columns], path)


def write_table(table: pd.DataFrame, path: Path | str) -> None:
    """Any table (failures, duplicate pairs, tags) as UTF-8 CSV with safe cells.

    Every CSV synth writes goes through here: a failure row's raw text or a pair's
    title is someone else's data and must not run as a formula either.
    """
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([str(c) for c in table.columns])
        for row in table.itertuples(index=False):
            writer.writerow([cell(v) for v in row])
