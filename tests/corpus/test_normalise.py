"""The normaliser: one place for DOIs, years, names, types and stable ids."""

from __future__ import annotations

import pytest

from synth.corpus.model import RECORD_COLUMNS
from synth.corpus.normalise import (
    canonical_pub_type,
    normalise_doi,
    normalise_records,
    normalise_year,
    record_id,
)


@pytest.mark.parametrize(
    ("raw", "doi"),
    [
        ("10.1111/hex.12039", "10.1111/hex.12039"),
        ("https://doi.org/10.1111/HEX.12039", "10.1111/hex.12039"),
        ("http://dx.doi.org/10.1136/bmjqs-2015-004315.", "10.1136/bmjqs-2015-004315"),
        ("doi: 10.1177/0840470416645601", "10.1177/0840470416645601"),
        (
            "https://www.scopus.com/inward/record.uri?eid=2&doi=10.1186%2fs13012-018-0784-z&x=1",
            "10.1186/s13012-018-0784-z",
        ),
        ("not a doi", None),
        ("10.1000/}", None),
        (None, None),
        ("", None),
    ],
)
def test_doi_forms_normalise_to_one(raw: str | None, doi: str | None) -> None:
    assert normalise_doi(raw) == doi


@pytest.mark.parametrize(
    ("raw", "year"),
    [("2013", 2013), ("2013/05/01", 2013), (2019, 2019), ("Spring 2008", 2008), ("n.d.", None)],
)
def test_years(raw: object, year: int | None) -> None:
    assert normalise_year(raw) == year


def test_pub_types_map_per_format_and_unknown_is_other() -> None:
    assert canonical_pub_type("ris", "JOUR") == "journal-article"
    assert canonical_pub_type("ris", "RPRT") == "report"
    assert canonical_pub_type("bibtex", "techreport") == "report"
    assert canonical_pub_type("csv", "Article") == "journal-article"
    assert canonical_pub_type("medline", "Journal Article; Review") == "journal-article"
    assert canonical_pub_type("ris", "WEIRD") == "other"
    assert canonical_pub_type("ris", None) is None


def test_records_get_canonical_columns_types_and_grey_flag() -> None:
    raw = [
        {"title": "  Co-design\n in  care ", "authors": "Boyd, H; Old, A", "year": "2012",
         "pub_type_raw": "JOUR", "doi": "https://doi.org/10.1000/X", "keywords": "a; b",
         "position": 1, "line": 1, "source_key": "boyd2012"},
        {"title": "Always Events toolkit", "pub_type_raw": "RPRT", "position": 2, "line": 9},
        {"title": "Odd", "pub_type_raw": "ZZZ", "position": 3, "line": 20},
    ]  # fmt: skip
    df = normalise_records(raw, source_file="x.ris", source_format="ris")
    assert list(df.columns) == RECORD_COLUMNS
    first = df.iloc[0]
    assert first.title == "Co-design in care"
    assert first.authors == ["Boyd, H", "Old, A"]
    assert first.year == 2012
    assert first.doi == "10.1000/x"
    assert first.keywords == ["a", "b"]
    assert first.grey is False or first.grey == False  # noqa: E712
    assert bool(df.iloc[1].grey) is True
    assert df.iloc[2].pub_type == "other"
    assert df.iloc[2].extra == {"pub_type_raw": "ZZZ"}


def test_record_ids_are_stable_and_distinct_for_repeated_entries() -> None:
    raw = [{"title": "Same", "year": 2010, "position": i, "line": i} for i in (1, 2)]
    a = normalise_records(raw, source_file="f.ris", source_format="ris")
    b = normalise_records(raw, source_file="f.ris", source_format="ris")
    assert list(a.record_id) == list(b.record_id)
    assert a.record_id.nunique() == 2
    assert record_id("f.ris", None, "Same", 2010) == a.record_id[0]


def test_repeated_untitled_entries_get_distinct_ids() -> None:
    raw = [{"abstract": "no title here", "position": i, "line": i} for i in (1, 2, 3)]
    df = normalise_records(raw, source_file="f.csv", source_format="csv")
    assert df.record_id.is_unique


def test_a_repeat_never_takes_the_id_of_an_entry_keyed_like_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # k1 twice and an entry whose own key is k1#2 (same title and year): k1's repeat would
    # have been given k1#2's id, and the store kept one of the two records
    from synth.store import connect, import_paths

    entries = [("k1", "Title 1"), ("k2", "Title 2"), ("k1", "Title 1"), ("k1#2", "Title 1")]
    raw = [
        {"source_key": k, "title": t, "year": 2001, "position": i, "line": i}
        for i, (k, t) in enumerate(entries, 1)
    ]
    df = normalise_records(raw, source_file="f.ris", source_format="ris")
    assert df.record_id.is_unique
    assert df.record_id[3] == record_id("f.ris", "k1#2", "Title 1", 2001)  # its own id kept
    text = "".join(f"TY  - JOUR\nID  - {k}\nTI  - {t}\nPY  - 2001\nER  - \n\n" for k, t in entries)
    (tmp_path / "f.ris").write_text(text, encoding="utf-8")
    con = connect(tmp_path / "review.sqlite")
    import_paths(con, [tmp_path / "f.ris"], dedupe=False)
    assert con.execute("SELECT count(*) FROM records_all").fetchone()[0] == 4
    con.close()
