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


@pytest.mark.parametrize("fmt_file", ["ris"])
def test_chunked_read_equals_single_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt_file: str
) -> None:
    body = [RECORD.format(n=i) for i in range(300)]
    body.insert(250, BROKEN)  # a failure deep in a later chunk
    body.insert(260, RECORD.format(n=5))  # a repeat of an early record: a distinct source record
    path = tmp_path / f"big.{fmt_file}"
    path.write_text("".join(body), encoding="utf-8")

    monkeypatch.setattr(chunked, "PARALLEL_MIN_CHARS", 10**12)
    single = read_file(path)
    monkeypatch.setattr(chunked, "PARALLEL_MIN_CHARS", 1)
    monkeypatch.setattr(chunked, "CHUNK_CHARS", 5_000)
    monkeypatch.setattr(chunked, "default_workers", lambda: 2)
    assert len(chunked.chunk_bounds(path.read_text(), "ris", 5_000)) > 5
    parallel = read_file(path)

    assert parallel.records.equals(single.records)
    assert parallel.failures.equals(single.failures)
    assert len(parallel.records) == 301 and parallel.records.record_id.is_unique
    failure = parallel.failures.iloc[0]
    assert failure.record == 251
    assert failure.reason.startswith(f"record 251 (line {failure.line})")
    assert path.read_text().splitlines()[failure.line - 1].startswith("AU  - Nobody")
