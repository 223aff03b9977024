"""Exports read back through synth's own readers into the same records.

Hostile and awkward values on purpose: formulas (also fullwidth and after whitespace),
commas in authors and keywords, Unicode, newlines, quotes, list-looking cells.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from synth.corpus import read_file
from synth.corpus.normalise import normalise_records
from synth.corpus.writers.bibtex import write_bibtex
from synth.corpus.writers.csv import neutralise_formula, restore_formula, write_csv
from synth.corpus.writers.ris import write_ris
from synth.exporting import export_records
from synth.store import connect, import_paths

#: the canonical columns a record's content lives in (ids, file and position are the new
#: file's own)
CONTENT = [
    "title", "authors", "year", "venue", "volume", "issue", "pages", "publisher", "doi",
    "pmid", "url", "abstract", "keywords", "language", "pub_type", "grey", "label_included",
    "source_key", "database",
]  # fmt: skip

RAW: list[dict[str, Any]] = [
    {
        "title": "=1+1 formula title",
        "authors": [
            "World Health Organization, Regional Office for Europe",
            "Smith, John",
            "Doe, Jane, Jr",
        ],
        "year": 2020,
        "venue": "@journal",
        "volume": "+3",
        "issue": "-2",
        "pages": "12-20",
        "publisher": "\uff1d1+1 Press",  # fullwidth equals sign
        "doi": "10.1000/abc",
        "pmid": "123456",
        "url": "https://x.org/a?b=1&c=%20",
        "abstract": 'Line one\nline two; with, punctuation \uff20SUM(A1) and "quotes"',
        "keywords": ["health, public", "co-design", "\uff0bx", "Patient Participation (MeSH)"],
        "language": "eng",
        "pub_type": "report",
        "grey": True,
        "label_included": 1,
        "source_key": "k1",
    },
    {
        "title": "\t=cmd|' /C calc'!A0",
        "authors": ["M\u00fcller, J\u00f6rg", "{Braced} and Name"],
        "year": 1999,
        "keywords": ["public, health"],  # one keyword holding a comma
        "pub_type": "journal-article",
        "grey": False,
        "source_key": "k2",
        "label_included": 0,
    },
    {
        "title": "'quoted start, and ''=double",
        "authors": ["O'Brien, Pat", "M\u00e9decins Sans Fronti\u00e8res"],
        "keywords": ["[x]"],
        "pub_type": "other",
        "source_key": "k3",
        "extra": {"pub_type_raw": "ZZZ"},
    },
    {
        "title": "Unicode \u6f22\u5b57 \u2014 r\u00e9sum\u00e9 \u201cquotes\u201d \U0001f600",
        "authors": [],
        "keywords": [],
        "pub_type": "thesis",
        "grey": True,
        "source_key": "k4",
    },
]


def _original() -> pd.DataFrame:
    rows = [{**r, "database": "Scopus"} for r in RAW]  # one export, one database
    return normalise_records(rows, source_file="orig.ris", source_format="ris")


def _content(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if not isinstance(v, list) and pd.isna(v) else v) for k, v in row.items()}
        for row in df[CONTENT].to_dict("records")
    ]


@pytest.mark.parametrize(
    ("name", "write"),
    [("export.csv", write_csv), ("export.ris", write_ris), ("export.bib", write_bibtex)],
)
def test_export_reads_back_into_the_same_records(tmp_path: Path, name: str, write) -> None:
    original = _original()
    assert original.title[0] == "=1+1 formula title"  # the normaliser kept the hostile value
    path = tmp_path / name
    write(original, path)
    again = read_file(path)
    assert again.failures.empty, again.failures.reason.tolist()
    assert _content(again.records) == _content(original)


def test_csv_export_keeps_pub_type_and_extra_and_not_the_prefix(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    write_csv(_original(), path)
    again = read_file(path).records
    assert again.pub_type.tolist() == ["report", "journal-article", "other", "thesis"]
    assert again.extra[2]["pub_type_raw"] == "ZZZ"
    assert "pub_type" not in again.extra[0] and "extra" not in again.extra[0]
    assert again.database.tolist() == ["Scopus"] * 4
    assert again.title[1] == "=cmd|' /C calc'!A0"


def test_csv_cells_never_start_a_formula(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    write_csv(_original(), path)
    import csv

    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["title"] == "'=1+1 formula title"
    assert rows[0]["publisher"] == "'\uff1d1+1 Press"
    assert rows[0]["venue"] == "'@journal"
    for row in rows:
        for value in row.values():
            assert not neutralise_formula(value).startswith("''") or value.startswith("'")
            assert value == neutralise_formula(restore_formula(value))


@pytest.mark.parametrize(
    "value",
    [
        "=1+1",
        "\uff1d1+1",  # fullwidth =
        "\uff0bA1",  # fullwidth +
        "\uff0d2",  # fullwidth -
        "\uff20SUM(A1)",  # fullwidth @
        " =1+1",
        "\u3000=1+1",  # ideographic space
        "\t=1",
        "\r=1",
        "\n=1",
        "\ufe661",  # small equals sign
    ],
)
def test_lookalike_formulas_are_neutralised(value: str) -> None:
    assert neutralise_formula(value) == "'" + value
    assert restore_formula(neutralise_formula(value)) == value


@pytest.mark.parametrize("value", ["plain", "'plain", "''plain", "'=x", "''=x", "", "'", "a=b"])
def test_neutralising_is_undone_exactly(value: str) -> None:
    assert restore_formula(neutralise_formula(value)) == value


def test_a_prime_in_someone_elses_csv_is_data(tmp_path: Path) -> None:
    path = tmp_path / "theirs.csv"
    path.write_text("Title,Year\n'=not ours,2020\n", encoding="utf-8")
    assert read_file(path).records.title.tolist() == ["'=not ours"]


def test_store_export_reads_back(tmp_path: Path) -> None:
    source = tmp_path / "orig.ris"
    write_ris(_original(), source)
    con = connect(tmp_path / "review.db")
    import_paths(con, [source])
    imported = read_file(source).records
    for fmt in ("csv", "ris", "bib"):
        out = tmp_path / "out" / f"records.{fmt}"
        assert export_records(con, out) == len(RAW)
        again = read_file(out)
        assert again.failures.empty, (fmt, again.failures.reason.tolist())
        assert _content(again.records) == _content(imported), fmt
    con.close()
