"""BibTeX writer: canonical records to a UTF-8 ``.bib`` that JabRef, Zotero and biber import.

Unicode is written as is (biber, JabRef and Zotero read UTF-8), and only what would
break parsing or LaTeX is escaped (``{ } % # & $ _ ~ ^ \\``). Column-to-field choices,
the entry type for each ``pub_type`` and synth's provenance fields (``x-synth-*``) come
from ``data/bibtex_fields.yml``, the same table the reader uses, so that a file written
here reads back into the same record: every schema field, including ``pub_type`` and
``grey``, survives the round trip.
"""

from __future__ import annotations

import json
import logging
import math
import re
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from synth.corpus.model import LIST_COLUMNS
from synth.corpus.normalise import canonical_pub_type, is_grey
from synth.corpus.readers._latex import bibtex_data

log = logging.getLogger(__name__)

_VALID_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_:.+/-]*\Z")
_VALID_TYPE = re.compile(r"[a-z][a-z0-9_-]*\Z")
_FIELD_CHARS = re.compile(r"[^a-z0-9_:.+-]+")
_TEXT_SPECIALS = re.compile(r"[\\{}%#&$_~^]|-(?=-)|`(?=`)|'(?=')")
_TEXT_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "%": r"\%",
    "#": r"\#",
    "&": r"\&",
    "$": r"\$",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    # the reader turns -- into an en dash and `` '' into quotes: keep runs literal
    "-": "-{}",
    "`": "`{}",
    "'": "'{}",
}
_VERBATIM_SPECIALS = re.compile(r"[\\{}]")
_PAGE_DASH = re.compile(r"\s*[‐‑‒–—-]+\s*")
_ASCII_WORD = re.compile(r"[^a-z0-9]+")
_AND_WORD = re.compile(r"\sand\s", re.I)


def write_bibtex(records: pd.DataFrame, path_or_buffer: str | Path | TextIO) -> None:
    """Write canonical ``records`` as BibTeX.

    Parameters
    ----------
    records
        Canonical records (columns of ``RECORD_COLUMNS``; ``authors``/``keywords`` lists,
        ``extra`` dicts). Other columns are ignored.
    path_or_buffer
        A file path (written as UTF-8) or an open text stream.

    Notes
    -----
    The key is the record's ``source_key`` when that is a valid BibTeX key not used by
    an earlier record, else a generated ``familyYEARword`` key made unique with a letter
    suffix. ``extra`` fields are written back under their own names (synth's notes,
    keys starting with ``_``, are not), followed by ``x-synth-*`` provenance fields.
    """
    rows = records.to_dict("records")
    keys = assign_keys(rows)
    header = f"% Encoding: UTF-8\n% {len(rows)} records exported by synth\n\n"
    body = "".join(format_entry(row, key) for row, key in zip(rows, keys, strict=True))
    if hasattr(path_or_buffer, "write"):
        path_or_buffer.write(header + body)  # type: ignore[union-attr]
        return
    with open(path_or_buffer, "w", encoding="utf-8", newline="\n") as fh:  # type: ignore[arg-type]
        fh.write(header + body)


# --------------------------------------------------------------------------- keys


def assign_keys(rows: list[dict[str, Any]]) -> list[str]:
    """One unique key per row: its valid ``source_key``, else ``familyYEARword``."""
    taken: set[str] = set()
    keys: list[str | None] = [None] * len(rows)
    for i, row in enumerate(rows):
        key = _text(row.get("source_key"))
        if key and _VALID_KEY.match(key) and key.casefold() not in taken:
            keys[i] = key
            taken.add(key.casefold())
    for i, row in enumerate(rows):
        if keys[i] is None:
            keys[i] = _unique(make_key(row), taken)
    return [k for k in keys if k is not None]


def make_key(row: dict[str, Any]) -> str:
    """``familyYEARword`` from the first author, the year and the first title word."""
    authors = _list(row.get("authors"))
    family = _ascii_word(authors[0].split(",")[0]) if authors else ""
    year = row.get("year")
    year_text = "nd" if _missing(year) else str(int(year))
    stopwords = set(bibtex_data()["write"]["key_stopwords"])
    word = ""
    for token in (_text(row.get("title")) or "").split():
        candidate = _ascii_word(token)
        if candidate and candidate not in stopwords:
            word = candidate
            break
    return f"{family or 'anon'}{year_text}{word}"


def _unique(base: str, taken: set[str]) -> str:
    candidates: Iterable[str] = (base, *(base + c for c in "abcdefghijklmnopqrstuvwxyz"))
    for key in candidates:
        if key.casefold() not in taken:
            taken.add(key.casefold())
            return key
    n = 2
    while f"{base}{n}".casefold() in taken:
        n += 1
    taken.add(f"{base}{n}".casefold())
    return f"{base}{n}"


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _ASCII_WORD.sub("", folded.lower())


# --------------------------------------------------------------------------- entries


def format_entry(row: dict[str, Any], key: str) -> str:
    """One ``@type{key, field = {value}, ...}`` block for a canonical record."""
    data = bibtex_data()
    write = data["write"]
    extra = row.get("extra") if isinstance(row.get("extra"), dict) else {}
    pub_type = _text(row.get("pub_type"))
    etype = _entry_type(pub_type, extra, write)
    fields: list[tuple[str, str]] = []
    written: set[str] = set()
    shadowed: set[str] = set()

    def add(name: str, value: str | None) -> None:
        if value and name not in written:
            fields.append((name, value))
            written.add(name)

    for column in write["order"]:
        value = row.get(column)
        if column in LIST_COLUMNS:
            if not _list(value):
                continue
        elif _missing(value) or (isinstance(value, str) and not value.strip()):
            continue
        if column == "grey":
            if value:
                add("grey", "true")
            elif is_grey(pub_type):  # says "not grey" although the type usually is
                add("grey", "false")
            continue
        name, dropped = _target_field(column, etype, extra, data)
        if dropped:
            shadowed.add(dropped)
        add(name, _format_value(column, value, extra))
    skip = set(write["skip"]) | set(write["provenance"].values())
    for raw_name, value in extra.items():
        name = _field_name(str(raw_name))
        if raw_name in skip or str(raw_name).startswith("_") or name in shadowed:
            continue
        if name in written:
            log.debug("%s: extra field %r clashes with a written field; skipped", key, raw_name)
            continue
        add(name, _extra_value(name, value, data))
    _add_provenance(row, key, etype, pub_type, extra, write["provenance"], add)
    lines = [f"@{etype}{{{key},"]
    lines += [f"  {name} = {{{value}}}," for name, value in fields]
    lines.append("}\n\n")
    return "\n".join(lines)


def _entry_type(pub_type: str | None, extra: dict[str, Any], write: dict[str, Any]) -> str:
    original = _text(extra.get("_entry_type"))
    if (
        original
        and _VALID_TYPE.match(original)
        and canonical_pub_type("bibtex", original) == (pub_type or "other")
    ):
        return original  # mastersthesis, inbook, conference ... as the source had it
    return write["types"].get(pub_type, write["default_type"]) if pub_type else "misc"


def _target_field(
    column: str, etype: str, extra: dict[str, Any], data: dict[str, Any]
) -> tuple[str, str | None]:
    """The field a column is written to, and an extra field to drop so it reads back.

    On reading, a column takes the best-ranked of its candidate fields; a field the
    record's extra already holds (say ``series`` beside ``booktitle``) must not outrank
    the one chosen here.
    """
    candidates: list[str] = data["canonical"].get(column, [column])
    preferred = data["write"]["field_by_type"].get(etype, {}).get(column, candidates[0])
    present = [candidates.index(c) for c in candidates if c in extra]
    if not present:
        return preferred, None
    allowed = candidates[: min(present)]
    if preferred in allowed:
        return preferred, None
    if allowed:
        return allowed[0], None
    return candidates[0], candidates[0]  # extra holds the top field itself: ours wins


def _format_value(column: str, value: Any, extra: dict[str, Any]) -> str:
    if column == "authors":
        names = [_format_name(n) for n in _list(value)]
        if extra.get("_et_al"):
            names.append("others")
        return " and ".join(n for n in names if n)
    if column == "keywords":
        return _format_keywords(_list(value))
    if column in {"doi", "url", "pmid"}:
        return escape_verbatim(str(value))
    if column == "pages":
        return _PAGE_DASH.sub("--", escape_text(str(value), dashes=False))
    if column == "year":
        return str(int(value))
    return escape_text(str(value))


def _format_keywords(words: list[str]) -> str:
    """Keywords as synth's reader splits them back: on ``;`` if there is one, else ``,``.

    So a list holding a comma is ``;``-separated, and a single keyword with a comma ends
    in ``;`` (``{health, public;}``), or the reader would split it at the comma.
    """
    texts = [escape_text(w) for w in words]
    if not any("," in w for w in words):
        return ", ".join(texts)
    return "; ".join(texts) + (";" if len(texts) == 1 else "")


def _format_name(name: str) -> str:
    """``Family, Given[, Jr]`` as BibTeX (``Family, Jr, Given``); others in braces.

    A name BibTeX would read differently (no comma but spaces: a corporate name; empty
    or extra comma parts) is braced whole, and a part holding the word "and" is braced,
    so the name reads back exactly as it is.
    """
    name = " ".join(str(name).split())
    parts = [p.strip() for p in name.split(",")]
    if len(parts) == 1 or len(parts) > 3 or not all(parts):
        text = escape_text(name)
        return f"{{{text}}}" if " " in name or "," in name else text
    pieces = [escape_text(p) for p in parts]
    pieces = [
        f"{{{t}}}" if _AND_WORD.search(f" {p} ") else t for p, t in zip(parts, pieces, strict=True)
    ]
    if len(pieces) == 3:  # ours: Family, Given, Jr -> BibTeX: Family, Jr, Given
        return f"{pieces[0]}, {pieces[2]}, {pieces[1]}"
    return f"{pieces[0]}, {pieces[1]}"


def _extra_value(name: str, value: Any, data: dict[str, Any]) -> str | None:
    if _missing(value):
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list | tuple):
        text = "; ".join(str(v) for v in value if not _missing(v))
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    if name in data["verbatim_fields"]:
        return escape_verbatim(text)
    return escape_text(text)


def _add_provenance(
    row: dict[str, Any],
    key: str,
    etype: str,
    pub_type: str | None,
    extra: dict[str, Any],
    names: dict[str, str],
    add: Callable[[str, str | None], None],
) -> None:
    """``x-synth-*`` fields; a value from an earlier synth export (in extra) wins."""
    for column, field in names.items():
        if field in extra and not _missing(extra[field]):
            add(field, escape_verbatim(str(extra[field])))
            continue
        value = row.get(column)
        if column == "source_key" and (_missing(value) or value == key):
            continue
        if column == "pub_type" and (
            not pub_type or canonical_pub_type("bibtex", etype) == pub_type
        ):
            continue  # the entry type alone reads back as this pub_type
        if _missing(value) or value == "":
            continue
        add(field, escape_verbatim(str(int(value) if isinstance(value, float) else value)))


# --------------------------------------------------------------------------- escaping


def escape_text(text: str, *, dashes: bool = True) -> str:
    """Text for a braced BibTeX value: specials escaped, Unicode kept, one line.

    With ``dashes=False`` runs of hyphens are left alone (pages: ``12--20``).
    """
    text = " ".join(text.split())
    if dashes:
        return _TEXT_SPECIALS.sub(lambda m: _TEXT_ESCAPES[m.group()], text)
    return _TEXT_SPECIALS.sub(lambda m: "-" if m.group() == "-" else _TEXT_ESCAPES[m.group()], text)


def escape_verbatim(text: str) -> str:
    """A URL-like value: only braces and backslashes escaped (``%``, ``~``, ``#`` kept)."""
    text = " ".join(text.split())
    text = _VERBATIM_SPECIALS.sub(lambda m: "\\" + m.group(), text)
    return text + " " if text.endswith("\\") else text


def _field_name(name: str) -> str:
    cleaned = _FIELD_CHARS.sub("-", name.strip().lower()).strip("-")
    return cleaned if cleaned[:1].isalpha() else f"x-{cleaned or 'field'}"


# --------------------------------------------------------------------------- values


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _text(value: Any) -> str | None:
    if _missing(value):
        return None
    text = str(value).strip()
    return text or None


def _list(value: Any) -> list[str]:
    if _missing(value):
        return []
    if isinstance(value, str):
        return [value]
    try:
        return [str(v) for v in value if not _missing(v) and str(v).strip()]
    except TypeError:
        return [str(value)]
