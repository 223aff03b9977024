"""What the cluster import's client leaves to its workers, and the page cache of a load:
a chunk cut from the file's bytes is sent as those bytes, and the worker decodes it and
counts its record marks (the client only cuts); its lines are counted in the bytes as in
the text; :func:`synth.store.db.bulk_cache` gives a load a large page cache and gives the
connection its own back, also when the load fails."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synth.corpus import detect
from synth.distributed import importing
from synth.distributed.importing import _byte_chunks, _Bytes, _lean_tasks, _Plan, _read_chunk
from synth.store import connect
from synth.store.db import BULK_CACHE_KIB, bulk_cache

RIS = "".join(
    f"TY  - JOUR\nTI  - Étude {i} sur l’œuvre de Gödel\nAU  - Müller, Zoë\n"
    f"PY  - {1990 + i % 30}\nAB  - Une ligne\n  qui continue ç à è\nER  - \n\n"
    for i in range(60)
)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_chunks_go_as_bytes_and_the_workers_decode_and_count_them(
    tmp_path: Path, newline: str
) -> None:
    text = RIS.replace("\n", newline)
    path = tmp_path / "export.ris"
    path.write_bytes(text.encode("utf-8"))
    way = _Bytes("utf-8", 0, newline == "\r\n")
    plan = _Plan(0, path, fmt="ris")
    tasks = list(_lean_tasks(plan, "ris", way, _byte_chunks(path, "ris", 300, way)))
    assert plan.chunks == len(tasks) > 5
    assert all(isinstance(chunk, bytes) for *_, chunk in tasks)
    whole = RIS  # the text read_file reads (universal newlines)
    marks = found = 0
    line0 = 0
    for fn, _, spec, chunk in tasks:
        assert fn is _read_chunk
        assert spec.line0 == line0  # counted in the bytes: the decoded text's lines
        piece = way.text(chunk)
        line0 += piece.count("\n")
        out = _read_chunk(spec, chunk)
        assert "error" not in out and "chunk_error" not in out, out
        marks += out["marks"][0]
        records = pq.read_table(pa.BufferReader(out["records"]))
        found += records.num_rows
        # the worker's records are those of the decoded text sent as it was before
        assert records.equals(pq.read_table(pa.BufferReader(_read_chunk(spec, piece)["records"])))
    assert marks == detect.mark_counts(whole, "ris")[0] == found == 60


def test_a_bulk_load_has_a_large_page_cache_and_gives_the_connection_its_own_back(
    tmp_path: Path,
) -> None:
    con = connect(tmp_path / "review.sqlite")
    try:
        con.execute("PRAGMA cache_size=-1234")
        with bulk_cache(con):
            assert con.execute("PRAGMA cache_size").fetchone()[0] == -BULK_CACHE_KIB
        assert con.execute("PRAGMA cache_size").fetchone()[0] == -1234
        with pytest.raises(RuntimeError, match="load failed"), bulk_cache(con):
            raise RuntimeError("load failed")
        assert con.execute("PRAGMA cache_size").fetchone()[0] == -1234
    finally:
        con.close()


def test_the_client_cuts_without_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tasks of a file cut from its bytes are made without one decode on the client."""
    path = tmp_path / "export.ris"
    path.write_bytes(RIS.encode("utf-8"))
    way = _Bytes("utf-8", 0, False)

    def no_decoding(self: _Bytes, data: bytes) -> str:
        raise AssertionError("the client decoded a chunk")

    monkeypatch.setattr(importing._Bytes, "text", no_decoding)
    plan = _Plan(0, path, fmt="ris")
    tasks = list(_lean_tasks(plan, "ris", way, _byte_chunks(path, "ris", 300, way)))
    assert len(tasks) > 5
