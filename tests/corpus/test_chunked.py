"""Chunked parallel reading gives exactly what reading in one piece gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth.corpus import chunked, read_file

RECORD = """TY  - JOUR
AU  - Locock, Louise
TI  - Co-design of a {n} service with patients and staff
T2  - Health Expectations
PY  - 2014
DO  - 10.1000/hex.{n}
AB  - Staff and patients co-designed changes over six months.
ER  - 

"""
BROKEN = "AU  - Nobody\nTI  - a record that never says its type\nER  - \n\n"


def _one_piece_and_chunked(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple:
    """``path`` read in one piece, then in more than five chunks on two workers."""
    monkeypatch.setattr(chunked, "PARALLEL_MIN_CHARS", 10**12)
    single = read_file(path)
    monkeypatch.setattr(chunked, "PARALLEL_MIN_CHARS", 1)
    monkeypatch.setattr(chunked, "CHUNK_CHARS", 5_000)
    monkeypatch.setattr(chunked, "default_workers", lambda: 2)
    assert len(chunked.chunk_bounds(path.read_text(), "ris", 5_000)) > 5
    return single, read_file(path)


@pytest.mark.parametrize("fmt_file", ["ris"])
def test_chunked_read_equals_single_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt_file: str
) -> None:
    body = [RECORD.format(n=i) for i in range(300)]
    body.insert(250, BROKEN)  # a failure deep in a later chunk
    body.insert(260, RECORD.format(n=5))  # a repeat of an early record: a distinct source record
    path = tmp_path / f"big.{fmt_file}"
    path.write_text("".join(body), encoding="utf-8")

    single, parallel = _one_piece_and_chunked(path, monkeypatch)

    assert parallel.records.equals(single.records)
    assert parallel.failures.equals(single.failures)
    assert len(parallel.records) == 301 and parallel.records.record_id.is_unique
    failure = parallel.failures.iloc[0]
    assert failure.record == 251
    assert failure.reason.startswith(f"record 251 (line {failure.line})")
    assert path.read_text().splitlines()[failure.line - 1].startswith("AU  - Nobody")


def _wos_file(n: int) -> str:
    """Web of Science text with what real files hold: several FN ... EF exports
    concatenated, records missing their ER, runs of bare ER lines, text between records."""
    parts = ["FN Clarivate Analytics Web of Science\nVR 1.0\n"]
    for i in range(n):
        end = "" if i % 7 == 3 else "ER\n"  # closed by the next PT instead
        parts.append(f"PT J\nAU Bate, Paul\nTI Co-design study {i}\nPY 2019\n{end}\n")
        if i % 50 == 49:
            parts.append("EF\n\nFN Clarivate Analytics Web of Science\nVR 1.0\n")
        if i % 90 == 45:
            parts.append("ER\n\nER\n\n")
        if i % 120 == 60:
            parts.append("note between records\n\n")
    parts.append("EF\n")
    return "".join(parts)


def test_wos_chunks_cut_between_records_and_read_each_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "savedrecs.txt"
    text = _wos_file(400)
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(chunked, "PARALLEL_MIN_CHARS", 10**12)
    single = read_file(path)
    monkeypatch.setattr(chunked, "PARALLEL_MIN_CHARS", 1)
    monkeypatch.setattr(chunked, "CHUNK_CHARS", 2_000)
    monkeypatch.setattr(chunked, "default_workers", lambda: 2)
    bounds = chunked.chunk_bounds(text, "wos")
    assert len(bounds) > 10
    assert all(text[a:b].lstrip().startswith("PT J\n") for a, b in bounds[1:])
    parallel = read_file(path)

    assert single.format == parallel.format == "wos"
    assert parallel.records.equals(single.records)
    assert parallel.failures.equals(single.failures)
    titles = parallel.records.title.tolist()
    assert titles == [f"Co-design study {i}" for i in range(400)]
    assert parallel.records.position.tolist() == list(range(1, 401))
    lines = text.split("\n")
    assert {lines[n - 1] for n in parallel.records.line} == {"PT J"}
    assert parallel.failures.reason.str.contains("outside any record").sum() == 3


def test_a_record_seen_three_times_gets_the_ids_of_a_one_piece_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twice in the first chunk and once more in a later one: three distinct ids, the
    same as reading the file in one piece (numbering each chunk's repeats and then the
    whole file's gave the third the second's id, and the store kept only one of them)."""
    body = [RECORD.format(n=i) for i in range(300)]
    body.insert(1, RECORD.format(n=0))
    body.append(RECORD.format(n=0))
    path = tmp_path / "big.ris"
    path.write_text("".join(body), encoding="utf-8")
    single, parallel = _one_piece_and_chunked(path, monkeypatch)
    assert parallel.records.record_id.is_unique and len(parallel.records) == 302
    assert parallel.records.equals(single.records)
