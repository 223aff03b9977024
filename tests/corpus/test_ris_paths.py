"""The RIS reader's two paths agree, and it reads the dialects issue 19 measured.

A record of canonical tag lines takes the fast path (one ``findall``); any other goes
line by line. Both must give the same record, whatever the repeats and the spacing.
The peer files are the exports where ``rispy`` loses or merges records or fields
(``benchmarks/bench_ris_dialects.py`` prints the whole table).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from synth.corpus import read_file
from synth.corpus.readers import ris

RECORD = [
    "TY  - JOUR",
    "AU  - Smith, Jane ",
    "A1  - Smith, Jane",
    "AU  - Doe, John\u00a0",
    "TI  -   A title with edge spaces  ",
    "KW  - one; two",
    "KW  - three",
    "N1  - first note",
    "N1  - ",
    "N1  - second note",
    "UR  - http://a.example/x; http://b.example/y",
    "PY  - 2020///",
    "M3  - odd tag\t",
    "ER  - ",
]


def _strip_place(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in {"line", "position"}} for r in records]


def test_fast_and_line_by_line_paths_give_the_same_record():
    fast = ris.parse("\n".join(RECORD) + "\n", "fast.ris")
    # a blank line inside the record sends it to the line-by-line reader, content unchanged
    slow_lines = [*RECORD[:5], "", *RECORD[5:]]
    slow = ris.parse("\n".join(slow_lines) + "\n", "slow.ris")
    assert len(fast.records) == len(slow.records) == 1
    assert _strip_place(fast.records) == _strip_place(slow.records)
    rec = fast.records[0]
    assert rec["authors"] == ["Smith, Jane", "Doe, John"]
    assert rec["title"] == "A title with edge spaces"
    assert rec["keywords"] == ["one", "two", "three"]
    assert rec["extra"]["N1"] == ["first note", "second note"]


def test_many_records_on_the_fast_path_keep_order_and_repeats():
    text = "\n".join(
        line.replace("A title", f"Title {i}") for i in range(50) for line in [*RECORD, ""]
    )
    parsed = ris.parse(text, "many.ris")
    assert [r["title"] for r in parsed.records] == [
        f"Title {i} with edge spaces" for i in range(50)
    ]
    assert [r["position"] for r in parsed.records] == list(range(1, 51))
    assert [r["line"] for r in parsed.records] == [1 + 15 * i for i in range(50)]
    assert all(r["extra"]["N1"] == ["first note", "second note"] for r in parsed.records)


@pytest.mark.peer
def test_ovid_tags_after_er_stay_with_their_record(peer_data: Path):
    # rispy skips everything between ER and the next TY: NL is lost on every record
    result = read_file(peer_data / "formats" / "asreview-demo-data" / "ovid_psycinfo.ris")
    assert len(result.records) == 6
    assert all(e.get("NL") for e in result.records["extra"])


@pytest.mark.peer
def test_single_space_tag_file_is_read(peer_data: Path):
    # "TY - JOUR": rispy finds no record in it
    result = read_file(peer_data / "formats" / "pybtexnbib-ris" / "multikey.ris")
    assert len(result.records) == 2
    assert result.records["title"].notna().all()
    assert all(len(a) >= 3 for a in result.records["authors"])


@pytest.mark.peer
def test_missing_er_keeps_both_records(peer_data: Path):
    # a TY with no ER before it starts a new record; rispy merges them into one
    result = read_file(peer_data / "formats" / "jabref" / "RisImporterTest1.ris")
    assert len(result.records) == 2
    warnings = [e.get("ris_warning", "") for e in result.records["extra"]]
    assert any("no ER before the next TY (line 39)" in w for w in warnings)
