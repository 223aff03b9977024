"""RIS writer: canonical records to a ``.ris`` file EndNote, Zotero and Mendeley import.

Every schema field has a standard RIS tag (``data/ris_tags.yml``, ``writer:``), so a
reference manager sees title, authors, journal, pages, DOI and so on where it expects
them. What RIS has no tag for (synth's record id, the grey flag, a screening label, the
file a record came from, a ``pub_type`` the TY code cannot carry, and ``extra`` fields
of non-RIS sources) goes into one note per record, ``N1  - synth: {json}``: notes survive
every reference manager, and :mod:`synth.corpus.readers.ris` takes this one back apart,
so a file written here reads back into the same records.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from synth.corpus.normalise import canonical_pub_type
from synth.corpus.readers._tagged import tag_table

_RIS_TAG = re.compile(r"^[A-Z][A-Z0-9]$")
_WS = re.compile(r"\s+")
_TAG_LIKE = re.compile(r"^[ \t\ufeff]{0,2}[A-Z][A-Z0-9][ \t]{0,3}-(?:[ \t]|$)")
#: extra keys synth's reader derives itself; written fresh, never copied from extra
_OWN_EXTRA = ("synth_", "ris_warning")
#: marks "the TY code reads back as this pub_type": nothing to add to the note
_SAME = object()


@cache
def _item_tags() -> frozenset[str]:
    return frozenset(tag_table("ris")["continuation_items"])


@cache
def _writer() -> dict[str, Any]:
    from rispy.config import TYPE_OF_REFERENCE_MAPPING  # the TY codes RIS defines

    table = dict(tag_table("ris")["writer"])
    table["valid_types"] = frozenset(TYPE_OF_REFERENCE_MAPPING)
    return table


def write_ris(
    records: pd.DataFrame,
    path_or_buffer: str | Path | TextIO,
    *,
    include_extra: bool = True,
    newline: str = "\n",
) -> None:
    """Write canonical ``records`` (columns of ``RECORD_COLUMNS``) as RIS.

    Parameters
    ----------
    records
        Canonical records; ``authors``/``keywords`` are lists, ``extra`` a dict.
    path_or_buffer
        A file path (written as UTF-8) or an open text buffer.
    include_extra
        Also write each record's ``extra`` fields (RIS tags as tags, anything else in
        the synth note), so a round trip loses nothing. Off gives a lean file.
    newline
        Line ending; RIS's specification says ``"\\r\\n"``, every tool reads ``"\\n"``.
    """
    text = newline.join(_lines(records.to_dict("records"), include_extra))
    if isinstance(path_or_buffer, str | Path):
        with Path(path_or_buffer).open("w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    else:
        path_or_buffer.write(text)


def _lines(rows: Iterable[dict[str, Any]], include_extra: bool) -> Iterable[str]:
    for row in rows:
        yield from format_record(row, include_extra=include_extra)
        yield ""


def format_record(row: dict[str, Any], *, include_extra: bool = True) -> list[str]:
    """The RIS lines (``TY`` to ``ER``) of one canonical record."""
    w = _writer()
    tags: dict[str, str] = w["tags"]
    extra = row.get("extra") if isinstance(row.get("extra"), dict) else {}
    source_format = _text(row.get("source_format"))
    code, note_type = _type_code(_text(row.get("pub_type")), extra, source_format)
    out = [_line("TY", code)]

    def put(column: str, value: Any = None) -> None:
        value = row.get(column) if value is None else value
        for item in _values(value):
            out.append(_line(tags[column], item))

    put("title")
    put("authors")
    year = row.get("year")
    if not _missing(year):
        out.append(_line(tags["year"], str(int(year))))
    for column in ("venue", "volume", "issue"):
        put(column)
    out += _pages(_text(row.get("pages")))
    for column in ("publisher", "doi"):
        put(column)
    pmid = _text(row.get("pmid"))
    if pmid:
        out.append(_line(w["pmid_tag"], f"{pmid}[pmid]"))
    for column in ("url", "abstract", "keywords", "language", "source_key", "database"):
        put(column)

    leftovers: dict[str, Any] = {}
    if include_extra:
        for key, value in extra.items():
            if key.startswith(_OWN_EXTRA) or _missing_any(value):
                continue
            if source_format == "ris" and _RIS_TAG.match(key):
                out += [_text_lines(key, v) for v in _values(value)]
            else:
                leftovers[key] = value
    note = _note(row, note_type, leftovers)
    if note:
        out.append(_line(w["note_tag"], w["note_prefix"] + " " + note))
    out.append("ER  - ")
    return [line for line in out if line]


def _type_code(
    pub_type: str | None, extra: dict[str, Any], source_format: str | None
) -> tuple[str, str | object | None]:
    """TY code for ``pub_type``, and the pub_type to put in the note if TY can't carry it."""
    w = _writer()
    raw = str(extra.get("pub_type_raw") or "").strip().upper()
    if (pub_type in (None, "other")) and source_format == "ris" and raw in w["valid_types"]:
        code = raw  # a RIS type synth has no name for (PAT, MAP ...): give it back as it was
    else:
        code = w["type_codes"].get(pub_type or "other", w["default_type"])
    read_back = canonical_pub_type("ris", code)
    return code, (pub_type if read_back != pub_type else _SAME)


def _note(row: dict[str, Any], pub_type: str | object | None, leftovers: dict[str, Any]) -> str:
    note: dict[str, Any] = {}
    for key in ("record_id", "source_file", "source_format"):
        value = _text(row.get(key))
        if value:
            note[key] = value
    for key in ("position", "line"):
        value = row.get(key)
        if not _missing(value):
            note[key] = int(value)
    grey = row.get("grey")
    if not _missing(grey):
        note["grey"] = bool(grey)
    label = row.get("label_included")
    if not _missing(label):
        note["label_included"] = int(label)
    if pub_type is not _SAME:
        note["pub_type"] = pub_type  # null too: "no type" must not come back as "other"
    if leftovers:
        note["extra"] = _jsonable(leftovers)
    return json.dumps(note, ensure_ascii=False, sort_keys=True) if note else ""


def _pages(pages: str | None) -> list[str]:
    """``"12-34"`` as ``SP``/``EP`` (what reference managers want); anything else in SP."""
    if not pages:
        return []
    first, sep, last = pages.partition("-")
    if sep and first.strip() and last.strip() and "-" not in last and first != last:
        return [_line("SP", first.strip()), _line("EP", last.strip())]
    return [_line("SP", pages)]


def _line(tag: str, value: Any) -> str:
    text = _WS.sub(" ", str(value)).strip()  # RIS values are one line each
    return f"{tag}  - {text}" if text else ""


def _text_lines(tag: str, value: str) -> str:
    """A source field as it was: wrapped lines stay lines (untagged continuation lines,
    which the reader joins back), unless a line would pass for a tag or the tag's
    continuations mean new items (KW, AU)."""
    parts = [p.strip() for p in value.strip().split("\n")]
    parts = [p for p in parts if p]
    if not parts:
        return ""
    if len(parts) == 1 or tag in _item_tags() or any(_TAG_LIKE.match(p) for p in parts[1:]):
        return f"{tag}  - " + " ".join(parts)
    return "\n".join([f"{tag}  - {parts[0]}", *parts[1:]])


def _values(value: Any) -> list[str]:
    if _missing_any(value):
        return []
    items = value if isinstance(value, list | tuple) else [value]
    if hasattr(value, "tolist") and not isinstance(value, str):
        items = value.tolist()
    out = []
    for item in items:
        if _missing_any(item):
            continue
        text = item if isinstance(item, str) else _scalar(item)
        if text.strip():
            out.append(text)
    return out


def _scalar(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(_jsonable(value), ensure_ascii=False, sort_keys=True)
    return str(value)


def _jsonable(value: Any) -> Any:
    """Plain JSON types from pandas/numpy values (NA -> None, int64 -> int)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, str):
        return _jsonable(value.tolist())
    if _missing(value):
        return None
    if isinstance(value, str | bool | int | float):
        return value
    return str(value)


def _text(value: Any) -> str | None:
    if _missing_any(value):
        return None
    text = str(value).strip()
    return text or None


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _missing_any(value: Any) -> bool:
    """Missing, or an empty container/string."""
    if _missing(value):
        return True
    if isinstance(value, str | list | tuple | dict):
        return len(value) == 0
    return False
