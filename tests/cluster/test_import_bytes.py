"""Real exports saved as Windows saves them (CR LF line ends, a UTF-8 byte-order mark,
Windows-1252) are cut from their bytes by ``synth import --cluster``, never decoded whole
on the client, and stored as the single-machine import stores them: the same records in
the same order, the same fields, the same failures report, the same sources.

The peer files are converted in a temporary folder (never copied into the project) and
read in small chunks so that each is cut several times.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from synth.store import connect, import_paths
from synth.store.imports import ImportReport
from tests.cluster.test_import_cluster import _assert_same_store

pytestmark = [pytest.mark.slow, pytest.mark.peer]

#: larger exports, read in chunks of 10,000 bytes
LARGE = [
    "asreview-demo-data/scopus.ris",
    "asreview-demo-data/baseline_zotero.ris",  # CR LF already
    "asreview-demo-data/web_of_science.txt",  # RIS from Web of Science
    "asreview-demo-data/pubmed_endnote.txt",
]
#: smaller MEDLINE, EndNote and Web of Science exports, read in chunks of 300 bytes
SMALL = [
    # MEDLINE and EndNote: no peer file has a blank line between two records (where a cut
    # goes), so one, three times over (the same record thrice: its ids numbered file-wide)
    "pybtexnbib-ris/marcelis-20301770.nbib*3",
    "jabref/Endnote.book.example.enw*3",
    "jabref/IsiImporterTestWOS.isi",
    "jabref/IsiImporterTest2.isi",
    "jabref/IsiImporterTestInspec.isi",
    "rispy/example_wos.ris",  # two records, the first of 9,000 bytes
]
#: what each converted copy is: its encoding, its line end, whether a UTF-8 BOM leads
VARIANTS = {
    "crlf": ("utf-8", "\r\n", False),
    "bom": ("utf-8", "\n", True),
    "bom-crlf": ("utf-8", "\r\n", True),
    "cp1252": ("cp1252", "\r\n", False),
    "cp1252-lf": ("cp1252", "\n", False),
    "mixed": ("utf-8", None, False),  # CR LF and LF in turn
}


def _convert(text: str, encoding: str, newline: str | None, bom: bool) -> bytes:
    lines = text.split("\n")
    if newline is None:
        body = "".join(line + ("\r\n" if i % 2 else "\n") for i, line in enumerate(lines[:-1]))
        body += lines[-1]
    else:
        body = newline.join(lines)
    return (b"\xef\xbb\xbf" if bom else b"") + body.encode(encoding, "replace")


def _converted(peer_data: Path, files: list[str], folder: Path, variants: dict) -> list[Path]:
    """Each peer file as each variant, in ``folder``."""
    folder.mkdir()
    out = []
    for spec in files:
        rel, _, times = spec.partition("*")
        source = peer_data / "formats" / rel
        raw = source.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("utf-8")
        text = raw.replace("\r\n", "\n")
        if times:
            text = "\n".join([text.rstrip("\n") + "\n"] * int(times))
        for name, (encoding, newline, bom) in variants.items():
            path = folder / f"{source.stem}.{name}{source.suffix}"
            path.write_bytes(_convert(text, encoding, newline, bom))
            out.append(path)
    return out


def _import(db: Path, paths: list[Path], **kwargs: object) -> ImportReport:
    con = connect(db)
    try:
        return import_paths(con, paths, **kwargs)  # type: ignore[arg-type]
    finally:
        con.close()


def _sources(db: Path) -> pd.DataFrame:
    con = sqlite3.connect(db)
    try:
        return pd.read_sql("SELECT * FROM sources_all ORDER BY rowid", con)
    finally:
        con.close()


def _both(
    tmp_path: Path,
    paths: list[Path],
    client: object,
    chunk_chars: int,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> tuple[ImportReport, set[str], dict[str, int]]:
    """The single-machine import and the cluster's (compared table for table), the files
    the client held whole on the cluster path, and the chunks each file was read in."""
    import synth.distributed.importing as importing

    single = _import(tmp_path / "single.sqlite", paths)
    whole: set[str] = set()
    decoded, read_bytes = importing._decoded, Path.read_bytes

    def decoding(data: bytes, path: Path) -> tuple[str, str, str]:
        whole.add(path.name)
        return decoded(data, path)

    def reading(path: Path) -> bytes:
        whole.add(path.name)
        return read_bytes(path)

    caplog.clear()
    with monkeypatch.context() as m, caplog.at_level(logging.INFO, "synth.distributed.importing"):
        m.setattr(importing, "_decoded", decoding)
        m.setattr(Path, "read_bytes", reading)
        cluster = _import(
            tmp_path / "cluster.sqlite", paths, client=client, chunk_chars=chunk_chars
        )
    _assert_same_store(tmp_path / "single.sqlite", tmp_path / "cluster.sqlite")
    assert_frame_equal(single.files, cluster.files)
    assert_frame_equal(single.failures, cluster.failures)
    assert single.totals == cluster.totals
    chunks = {r.args[0]: r.args[1] for r in caplog.records if "chunks on the cluster" in r.msg}
    return single, whole, chunks


def _guess_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        Path(r.args[0]).name
        for r in caplog.records
        if r.name == "synth.distributed.importing" and "not UTF-8" in r.msg
    ]


@pytest.mark.parametrize(
    ("files", "chunk_chars"), [(LARGE, 10_000), (SMALL, 300)], ids=["large", "small"]
)
def test_crlf_bom_and_cp1252_exports_are_cut_from_their_bytes_as_stored_whole(
    client: object,
    peer_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    files: list[str],
    chunk_chars: int,
) -> None:
    paths = _converted(peer_data, files, tmp_path / "exports", VARIANTS)
    single, whole, chunks = _both(tmp_path, paths, client, chunk_chars, monkeypatch, caplog)
    names = {p.name for p in paths}
    # every copy cut, none held whole by the client
    assert whole.isdisjoint(names), sorted(whole & names)
    assert set(chunks) == names, sorted(names - set(chunks))
    assert all(n >= 2 for n in chunks.values()), chunks
    # the Windows-1252 copies (with a letter outside ASCII) were guessed as the whole
    # file's reading guesses them, and said so once each
    sources = _sources(tmp_path / "single.sqlite")
    guessed = set(sources.loc[sources["encoding_how"] == "guessed", "name"])
    assert guessed and all(".cp1252" in n for n in guessed)
    assert set(sources.loc[sources["name"].str.contains(".cp1252"), "encoding"]) <= {
        "cp1252",
        "utf-8",
    }
    assert sorted(_guess_warnings(caplog)) == sorted(guessed)
    assert single.totals["records"] > 0


def test_utf16_and_cr_alone_are_still_read_whole_and_stored_the_same(
    client: object,
    peer_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """UTF-16 (two bytes a character) and old Mac line ends (CR alone) are decoded whole
    on the client, then cut as text: the same store all the same."""
    folder = tmp_path / "exports"
    folder.mkdir()
    text = (peer_data / "formats" / LARGE[1]).read_bytes().decode("utf-8").replace("\r\n", "\n")
    paths = [folder / "zotero.utf16.ris", folder / "zotero.mac.ris"]
    paths[0].write_bytes(text.encode("utf-16"))
    paths[1].write_bytes(text.replace("\n", "\r").encode("utf-8"))
    _, whole, chunks = _both(tmp_path, paths, client, 20_000, monkeypatch, caplog)
    assert whole == {p.name for p in paths}
    assert set(chunks) == whole and all(n >= 2 for n in chunks.values())


def test_the_shortfall_warning_of_a_file_cut_from_its_bytes_is_the_whole_files(
    client: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A RIS whose abstracts hold lines like ``TY-quoted`` (continuations to the reader,
    record marks to the count): far fewer records than marks, the reader's warning, from
    the marks counted while cutting, the text not read again."""
    folder = tmp_path / "exports"
    folder.mkdir()
    text = "".join(
        f"TY  - JOUR\nTI  - Record {i}\nAB  - An abstract\n  TY-quoted\nTY-again\n"
        f" TY -thrice\nER  - \n\n"
        for i in range(300)
    )
    paths = [folder / "marks.lf.ris", folder / "marks.crlf.ris"]
    paths[0].write_bytes(text.encode())
    paths[1].write_bytes(text.replace("\n", "\r\n").encode())
    single, whole, chunks = _both(tmp_path, paths, client, 2_000, monkeypatch, caplog)
    assert not whole and set(chunks) == {p.name for p in paths}
    reasons = single.failures["reason"].tolist()
    assert sum("some records were probably not read" in r for r in reasons) == 2
