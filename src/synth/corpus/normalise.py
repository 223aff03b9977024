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

import pandas as pd
import yaml

from synth.corpus.model import LIST_COLUMNS, RECORD_COLUMNS

_DOI_RE = re.compile(r"10\.\d{4,9}/[^\s\"<>]+", re.I)
_DOI_PARAM_RE = re.compile(r"[?&]doi=([^&#\s]+)", re.I)
_YEAR_RE = re.compile(r"(?<!\d)(1[6-9]\d\d|20\d\d)(?!\d)")
_PMID_RE = re.compile(r"^\d{1,9}$")
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
    return pub_type in set(pub_type_table()["grey"])


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
    out: list[str] = []
    for item in items:
        text = clean_text(item)
        if text:
            text = text.strip(" ,;")
            if text:
                out.append(text)
    return out


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
) -> pd.DataFrame:
    """Canonical DataFrame (columns :data:`RECORD_COLUMNS`) from a reader's raw dicts."""
    rows: list[dict[str, Any]] = []
    for i, rec in enumerate(raw, start=1):
        extra = dict(rec.get("extra") or {})
        title = clean_text(rec.get("title"))
        year = normalise_year(rec.get("year"))
        raw_type = rec.get("pub_type_raw", rec.get("pub_type"))
        pub_type = canonical_pub_type(source_format, raw_type)
        if raw_type is not None and pub_type == "other":
            extra.setdefault("pub_type_raw", str(raw_type))
        grey = rec.get("grey")
        grey = bool(grey) if grey is not None and not pd.isna(grey) else is_grey(pub_type)
        key = clean_text(rec.get("source_key"))
        rid = record_id(source_file, key, title, year)
        label = rec.get("label_included")
        rows.append(
            {
                "record_id": rid,
                "title": title,
                "authors": split_list(rec.get("authors")),
                "year": year,
                "venue": clean_text(rec.get("venue")),
                "volume": clean_text(rec.get("volume")),
                "issue": clean_text(rec.get("issue")),
                "pages": clean_text(rec.get("pages")),
                "publisher": clean_text(rec.get("publisher")),
                "doi": normalise_doi(rec.get("doi")),
                "pmid": normalise_pmid(rec.get("pmid")),
                "url": clean_text(rec.get("url")),
                "abstract": clean_text(rec.get("abstract")),
                "keywords": split_keywords(rec.get("keywords")),
                "language": clean_text(rec.get("language")),
                "pub_type": pub_type,
                "grey": grey,
                "label_included": _label(label),
                "source_key": key,
                "source_file": source_file,
                "source_format": source_format,
                "database": clean_text(rec.get("database")) or database,
                "position": rec.get("position", i),
                "line": rec.get("line"),
                "extra": extra,
            }
        )
    return disambiguate_ids(records_frame(rows))


def disambiguate_ids(df: pd.DataFrame) -> pd.DataFrame:
    """The same entry twice in one file is still two source records: the n-th repeat of an
    id gets ``#n`` in its key basis. Run over a whole file (also one read in chunks)."""
    repeats = df.groupby("record_id", sort=False).cumcount()
    if not repeats.any():
        return df
    df = df.copy()
    for i in repeats[repeats > 0].index:
        row = df.loc[i]
        source_key = row.source_key if isinstance(row.source_key, str) else ""
        title = row.title if isinstance(row.title, str) else None
        year = None if pd.isna(row.year) else int(row.year)
        key = f"{source_key}#{repeats[i] + 1}"
        df.at[i, "record_id"] = record_id(row.source_file, key, title, year)
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
