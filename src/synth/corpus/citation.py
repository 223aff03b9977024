"""Short in-text citations ("Bombard et al. 2018") for maps, quotes and reports.

One home for the citation style, so a paper is named the same way in every table,
hover label and quote a reader sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd


def _family(author: str) -> str:
    """The family name of an author written "Family, Given" (or as one organisation name)."""
    author = author.strip()
    if "," in author:
        return author.split(",", 1)[0].strip()
    return author


def _year(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return "n.d."
    try:
        return str(int(value))
    except (TypeError, ValueError):
        return "n.d."


def short_citation(record: Mapping[str, Any]) -> str:
    """'Family Year', 'A and B Year' or 'A et al. Year'; falls back to the venue or the title.

    Works on a dict or a DataFrame row with ``authors`` (list of "Family, Given"),
    ``year``, ``venue``, ``publisher`` and ``title``; a missing year reads "n.d.".
    """
    authors = record.get("authors")
    names = [_family(a) for a in authors if isinstance(a, str) and a.strip()] if authors else []
    if len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    elif names:
        who = f"{names[0]} et al."
    else:
        who = ""
        for field in ("publisher", "venue", "title"):
            value = record.get(field)
            if isinstance(value, str) and value.strip():
                who = value.strip()
                break
        if len(who) > 40:
            who = who[:39].rstrip() + "…"
        who = who or "Anonymous"
    return f"{who} {_year(record.get('year'))}"


def citations(records: pd.DataFrame) -> pd.Series:
    """``short_citation`` for every row, indexed by ``record_id``; clashes get a, b suffixes."""
    cites = [short_citation(row) for row in records.to_dict("records")]
    seen: dict[str, int] = {}
    for c in cites:
        seen[c] = seen.get(c, 0) + 1
    counters: dict[str, int] = {}
    out = []
    for c in cites:
        if seen[c] > 1:
            k = counters.get(c, 0)
            counters[c] = k + 1
            out.append(f"{c}{chr(ord('a') + k)}" if k < 26 else f"{c} ({k + 1})")
        else:
            out.append(c)
    return pd.Series(out, index=records["record_id"].to_list(), name="citation")
