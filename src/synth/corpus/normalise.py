"""Turn readers' raw record dicts into canonical, typed records.

Every reader hands its dicts here, so cleaning rules (DOIs, years, author lists,
publication types, stable ids) live in one place and behave the same for every format.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import unquote

import numpy as np
import pandas as pd
import yaml

from synth.corpus.model import LIST_COLUMNS, RECORD_COLUMNS

_DOI_RE = re.compile(r"10\.\d{4,9}/[^\s\"<>]+", re.I)
_DOI_PARAM_RE = re.compile(r"[?&]doi=([^&#\s]+)", re.I)
_YEAR_RE = re.compile(r"(?<!\d)(1[6-9]\d\d|20\d\d)(?!\d)")
_PMID_RE = re.compile(r"^\d{1,9}$")
_is_nfc = unicodedata.is_normalized
_AUTHOR_SPLIT = re.compile(r"\s*;\s*|\s+and\s+|\n+", re.I)


@cache
def pub_type_table() -> dict[str, Any]:
    """The canonical publication types and per-format mappings (package data)."""
    text = resources.files("synth.data").joinpath("pub_types.yml").read_text("utf-8")
    return yaml.safe_load(text)


def canonical_pub_type(fmt: str, raw: Any) -> str | None:
    if isinstance(raw, str):
        return _canonical_pub_type(fmt, raw)
    return _canonical_pub_type_uncached(fmt, raw)


@cache
def _canonical_pub_type(fmt: str, raw: str) -> str | None:
    return _canonical_pub_type_uncached(fmt, raw)


def _canonical_pub_type_uncached(fmt: str, raw: Any) -> str | None:
    """Map a format's own type code (``JOUR``, ``@article``, ``Journal Article``) to ours."""
    if raw is None or (isinstance(raw, float) and pd.isna(raw)):
        return None
    table = pub_type_table()
    code = clean_text(str(raw))
    if not code:
        return None
    code = code.lower()
    if code in table["canonical"]:
        return code
    family = "tabular" if fmt in {"csv", "tsv", "xlsx"} else fmt
    mapping = table["formats"].get(family, {})
    if code in mapping:
        return mapping[code]
    for part in re.split(r"[;,|]", code):  # "Journal Article; Review" -> first known part
        part = part.strip()
        if part in mapping:
            return mapping[part]
    return "other"


def is_grey(pub_type: str | None) -> bool:
    return pub_type in _grey_types()


def clean_text(value: Any) -> str | None:
    """Collapse whitespace and drop empty values; NFC-normalise so equal text compares equal.

    Called a few dozen times per record, so the common case (a plain str) is kept short.
    """
    if value is None or value is pd.NA:
        return None
    if type(value) is not str:
        if isinstance(value, float) and value != value:
            return None
        if isinstance(value, list | tuple):
            value = " ".join(str(v) for v in value if v is not None)
        else:
            value = str(value)
    if not value.isascii() and not unicodedata.is_normalized("NFC", value):
        value = unicodedata.normalize("NFC", value)
    if not value:
        return None
    # already clean (the common case): no runs of spaces, no tabs/newlines, no edge spaces
    if value[0] != " " and value[-1] != " " and "  " not in value and value.isprintable():
        return value
    return " ".join(value.split()) or None


def normalise_doi(value: Any) -> str | None:
    """``https://doi.org/10.1/ABC.`` and ``doi:10.1/abc`` both become ``10.1/abc``."""
    text = clean_text(value)
    if not text:
        return None
    query = _DOI_PARAM_RE.search(text)
    if query:  # a link such as https://www.scopus.com/...&doi=10.1186%2fs13012-018-0784-z&...
        text = query.group(1)
    text = unquote(text)
    m = _DOI_RE.search(text)
    if not m:
        return None
    doi = m.group(0).rstrip(".,;)]}>")
    if doi.count("(") < doi.count(")"):
        doi = doi.rstrip(")")
    if doi.endswith("/"):  # "10.1000/}" leaves nothing after the prefix: not a DOI
        return None
    return doi.lower()


def normalise_year(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 1500 <= value <= 2100 else None
    m = _YEAR_RE.search(str(value))
    return int(m.group(1)) if m else None


def normalise_pmid(value: Any) -> str | None:
    text = clean_text(value)
    if not text:
        return None
    text = re.sub(r"^(pmid|pubmed)[:\s]*", "", text, flags=re.I)
    text = text.split()[0] if text.split() else ""
    return text if _PMID_RE.match(text) else None


def split_list(value: Any, splitter: re.Pattern[str] = _AUTHOR_SPLIT) -> list[str]:
    """A list stays a list; a string is split on ``;``, `` and `` or newlines."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return []
    items = value if isinstance(value, list | tuple) else splitter.split(str(value))
    # clean text (most names and keywords) passes through clean_column without a call
    return [text for text in (t.strip(" ,;") for t in clean_column(items) if t) if text]


_KEYWORD_SPLIT = re.compile(r"\s*[;\n]\s*")


def split_keywords(value: Any) -> list[str]:
    if isinstance(value, str) and ";" not in value and "\n" not in value and "," in value:
        return split_list(value, re.compile(r"\s*,\s*"))
    return split_list(value, _KEYWORD_SPLIT)


def record_id(source_file: str, source_key: str | None, title: str | None, year: Any) -> str:
    """A stable id: same file name, key, title and year give the same id on every import."""
    basis = "\x1f".join([source_file, source_key or "", (title or "").casefold(), str(year or "")])
    return "r" + hashlib.sha1(basis.encode("utf-8")).hexdigest()[:15]


def normalise_records(
    raw: list[dict[str, Any]],
    *,
    source_file: str,
    source_format: str,
    database: str | None = None,
    disambiguate: bool = True,
) -> pd.DataFrame:
    """Canonical DataFrame (columns :data:`RECORD_COLUMNS`) from a reader's raw dicts.

    With ``disambiguate=False`` a repeated entry keeps its own id: a chunk of a file read
    in chunks, whose repeats are numbered over the whole file (:func:`disambiguate_ids`).

    Works a column at a time (each field of every record, then the next field), with the
    common value (``None``, or text already clean) passed through inline and only the
    rest sent to the per-value cleaners; the frame is built from the columns, not from a
    dict per record. The same values as cleaning record by record, measured 2-3x faster.
    """
    n = len(raw)
    if not n:
        return records_frame([])
    gets = [r.get for r in raw]

    def column(key: str) -> list[Any]:
        return [get(key) for get in gets]

    titles = clean_column(column("title"))
    years = [_year(v) for v in column("year")]
    raw_types = [r.get("pub_type_raw", r.get("pub_type")) for r in raw]
    types = _pub_types(source_format, raw_types)
    extras: list[dict[str, Any]] = []
    for rec, raw_type, pub_type in zip(raw, raw_types, types, strict=True):
        extra = dict(rec.get("extra") or {})
        if raw_type is not None and pub_type == "other":
            extra.setdefault("pub_type_raw", str(raw_type))
        extras.append(extra)
    grey_types = _grey_types()
    greys = [
        (pub_type in grey_types)
        if grey is None or (type(grey) is not bool and pd.isna(grey))
        else bool(grey)
        for grey, pub_type in zip(column("grey"), types, strict=True)
    ]
    keys = clean_column(column("source_key"))
    ids = [
        record_id(source_file, key, title, year)
        for key, title, year in zip(keys, titles, years, strict=True)
    ]
    databases = clean_column(column("database"))
    if database is not None:
        databases = [d or database for d in databases]
    columns: dict[str, list[Any]] = {
        "record_id": ids,
        "title": titles,
        "authors": [[] if v is None else split_list(v) for v in column("authors")],
        "year": years,
        "venue": clean_column(column("venue")),
        "volume": clean_column(column("volume")),
        "issue": clean_column(column("issue")),
        "pages": clean_column(column("pages")),
        "publisher": clean_column(column("publisher")),
        "doi": [None if v is None else normalise_doi(v) for v in column("doi")],
        "pmid": [None if v is None else normalise_pmid(v) for v in column("pmid")],
        "url": clean_column(column("url")),
        "abstract": clean_column(column("abstract")),
        "keywords": [[] if v is None else split_keywords(v) for v in column("keywords")],
        "language": clean_column(column("language")),
        "pub_type": types,
        "grey": greys,
        "label_included": [None if v is None else _label(v) for v in column("label_included")],
        "source_key": keys,
        "source_file": [source_file] * n,
        "source_format": [source_format] * n,
        "database": databases,
        "position": [get("position", i) for i, get in enumerate(gets, start=1)],
        "line": column("line"),
        "extra": extras,
    }
    frame = _columns_frame(columns, n)
    return disambiguate_ids(frame) if disambiguate else frame


def clean_column(values: list[Any]) -> list[str | None]:
    """:func:`clean_text` of every value: ``None`` and text with nothing to clean (NFC,
    printable, no space at an edge or twice) are kept as they are without a call."""
    return [
        v
        if v is None
        or (
            type(v) is str
            and v.isprintable()
            and v
            and v[0] != " "
            and v[-1] != " "
            and "  " not in v
            and (v.isascii() or _is_nfc("NFC", v))
        )
        else clean_text(v)
        for v in values
    ]


def _year(value: Any) -> int | None:
    if type(value) is str:  # the common case: no float/NA checks
        m = _YEAR_RE.search(value)
        return int(m.group(1)) if m else None
    return normalise_year(value)


def _pub_types(fmt: str, raw_types: list[Any]) -> list[str | None]:
    """:func:`canonical_pub_type` of each raw type, each distinct text mapped once."""
    seen: dict[str, str | None] = {}
    out: list[str | None] = []
    for raw in raw_types:
        if type(raw) is str:
            pub_type = seen.get(raw, _MISSING)
            if pub_type is _MISSING:
                pub_type = seen[raw] = canonical_pub_type(fmt, raw)
            out.append(pub_type)  # type: ignore[arg-type]
        else:
            out.append(canonical_pub_type(fmt, raw))
    return out


_MISSING: Any = object()


@cache
def _grey_types() -> frozenset[str]:
    return frozenset(pub_type_table()["grey"])


def disambiguate_ids(df: pd.DataFrame) -> pd.DataFrame:
    """The same entry twice in one file is still two source records: the n-th repeat of an
    id gets ``#n`` in its key basis (or the next free number, when an entry of the file
    has that id already: one keyed ``k1#2`` beside ``k1`` twice would otherwise share it,
    and the store would keep one of the two). Run over a whole file (also one read in
    chunks)."""
    repeats = df.groupby("record_id", sort=False).cumcount()
    if not repeats.any():
        return df
    df = df.copy()
    taken = set(df["record_id"])
    for i in repeats[repeats > 0].index:
        row = df.loc[i]
        source_key = row.source_key if isinstance(row.source_key, str) else ""
        title = row.title if isinstance(row.title, str) else None
        year = None if pd.isna(row.year) else int(row.year)
        n = repeats[i] + 1
        new_id = record_id(row.source_file, f"{source_key}#{n}", title, year)
        while new_id in taken:
            n += 1
            new_id = record_id(row.source_file, f"{source_key}#{n}", title, year)
        taken.add(new_id)
        df.at[i, "record_id"] = new_id
    return df


def _label(value: Any) -> int | None:
    """1 included, 0 excluded; anything else (ASReview's -1, blank, "maybe") is unlabelled."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip().lower()
    if text in {"1", "1.0", "true", "yes", "include", "included", "y"}:
        return 1
    if text in {"0", "0.0", "false", "no", "exclude", "excluded", "n"}:
        return 0
    return None


def records_frame(rows: list[dict[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """A DataFrame with exactly the canonical columns and dtypes (also for zero rows)."""
    df = pd.DataFrame(rows, columns=RECORD_COLUMNS)
    for col in ("year", "position", "line", "label_included"):
        df[col] = pd.array(df[col].tolist(), dtype="Int64")
    df["grey"] = df["grey"].astype("boolean")
    for col in LIST_COLUMNS:
        df[col] = [v if isinstance(v, list) else [] for v in df[col]]
    df["extra"] = [v if isinstance(v, dict) else {} for v in df["extra"]]
    return df


def _columns_frame(columns: dict[str, list[Any]], n: int) -> pd.DataFrame:
    """:func:`records_frame` of rows given as columns (lists, one value per row), with
    the same dtypes: list and dict columns hold lists and dicts already."""
    typed = {
        "year": pd.array(columns["year"], dtype="Int64"),
        "position": pd.array(columns["position"], dtype="Int64"),
        "line": pd.array(columns["line"], dtype="Int64"),
        "label_included": pd.array(columns["label_included"], dtype="Int64"),
        "grey": pd.array(columns["grey"], dtype="boolean"),
    }
    objects = {"authors", "keywords", "extra"}
    data = {}
    for col in RECORD_COLUMNS:
        if col in typed:
            data[col] = typed[col]
        elif col in objects:
            values = np.empty(n, dtype=object)
            values[:] = columns[col]
            data[col] = values
        else:
            data[col] = columns[col]
    return pd.DataFrame(data, columns=RECORD_COLUMNS)
