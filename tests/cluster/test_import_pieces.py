"""The pieces the cluster import cuts a large tagged export into from its bytes: the
encoding found without holding the file whole is the one :func:`decode_bytes` finds for
the whole; CR LF line ends are cut as LF ones; a byte-order mark is left out once; and
the chunks, decoded, join into the text :func:`synth.corpus.reading.read_file` reads."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from synth.corpus import chunked
from synth.corpus.encoding import decode_bytes, piecewise_encoding
from synth.corpus.reading import universal_newlines
from synth.distributed import importing
from synth.distributed.importing import _byte_chunks, _Bytes, _crlf_only

RIS = "".join(
    f"TY  - JOUR\nTI  - Étude {i} sur l’œuvre de Gödel — “quoted”\nAU  - Müller, Zoë\n"
    f"PY  - {1990 + i % 30}\nAB  - Une ligne\n  qui continue ç à è\nER  - \n\n"
    for i in range(60)
)


def _pieces(data: bytes, size: int) -> object:
    """``blocks`` for :func:`piecewise_encoding`: ``data`` in pieces of ``size`` bytes."""

    def blocks() -> Iterator[bytes]:
        for at in range(0, len(data), size):
            yield data[at : at + size]

    return blocks


def _decision(data: bytes) -> tuple[str, str, int] | None:
    """What :func:`decode_bytes` decides for the whole, where pieces can follow it."""
    decoded = decode_bytes(data)
    if decoded.how == "bom":
        return (decoded.encoding, "bom", 3) if decoded.encoding == "utf-8" else None
    if decoded.how == "utf-8" or (decoded.how == "guessed" and decoded.encoding == "cp1252"):
        return decoded.encoding, decoded.how, 0
    return None


@pytest.mark.parametrize(
    "data",
    [
        RIS.encode("utf-8"),
        b"\xef\xbb\xbf" + RIS.encode("utf-8"),
        RIS.replace("\n", "\r\n").encode("cp1252"),
        RIS.encode("utf-16"),  # a BOM: whole
        RIS.encode("utf-16-le"),  # the NUL pattern: whole
        "TY  - JOUR\nTI  - 测试中文标题的记录\nER  - \n".encode("gb18030") * 40,  # GB18030
        b"TY  - JOUR\nTI  - \x81\x8d\x90 three undefined in cp1252\nER  - \n" * 30,
        b"% Encoding: ISO-8859-1\n" + RIS.encode("latin-1", "replace"),  # declared: whole
        b"\x00\x01\x02\x03" * 4000,  # binary: the whole path says why
        b"\xef\xbb\xbfTY  - JOUR\nTI  - \xff not UTF-8 after its mark\nER  - \n" * 40,
    ],
    ids=[
        "utf-8",
        "bom",
        "cp1252",
        "utf-16",
        "utf-16-le",
        "gb18030",
        "undefined",
        "declared",
        "binary",
        "bad-bom",
    ],
)
@pytest.mark.parametrize("size", [1, 7, 4096, 10**7])
def test_the_encoding_found_in_pieces_is_the_whole_files(data: bytes, size: int) -> None:
    try:
        expected = _decision(data)
    except Exception:  # the whole path raises (binary, a bad mark): the pieces leave it whole
        expected = None
    assert piecewise_encoding(_pieces(data, size)) == expected  # type: ignore[arg-type]


def test_a_cp1252_file_whose_accents_span_two_pieces_is_judged_as_a_whole() -> None:
    """Three accented letters in a row make a run that is odd (mis-decoded CJK); a run
    cut by a piece's end still counts as one."""
    text = "TY  - JOUR\nTI  - ÀÉÎ\nER  - \n" * 50 + "TY  - JOUR\nTI  - Éa\nER  - \n" * 20
    data = text.encode("cp1252")
    decoded = decode_bytes(data)
    assert (decoded.encoding, decoded.how) != ("cp1252", "guessed")
    for size in (1, 2, 3, 5, 11):
        assert piecewise_encoding(_pieces(data, size)) is None  # type: ignore[arg-type]


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "export.ris"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("block", [1, 2, 3, 64, 2**20])
def test_crlf_found_across_blocks_and_a_cr_alone_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(importing, "BLOCK_BYTES", block)
    lf = RIS.encode()
    crlf = RIS.replace("\n", "\r\n").encode()
    mixed = "".join(
        line + ("\r\n" if i % 3 else "\n") for i, line in enumerate(RIS.split("\n"))
    ).encode()
    assert _crlf_only(_write(tmp_path, lf)) is False
    assert _crlf_only(_write(tmp_path, crlf)) is True
    assert _crlf_only(_write(tmp_path, mixed)) is True
    assert _crlf_only(_write(tmp_path, RIS.replace("\n", "\r").encode())) is None
    assert _crlf_only(_write(tmp_path, crlf + b"\r")) is None  # a CR alone at the end
    assert _crlf_only(_write(tmp_path, crlf.replace(b"\r\n", b"\r", 1))) is None


@pytest.mark.parametrize("fmt", sorted(chunked.CUT))
def test_the_cr_lf_cuts_are_the_lf_cuts(fmt: str) -> None:
    """Every cut the pattern finds in a file's LF text it finds at the same line in the
    CR LF bytes, and no other."""
    texts = {
        "ris": RIS,
        "medline": "".join(f"PMID- {i}\nTI  - Title {i}\n      more\n\n" for i in range(40)),
        "wos": "FN Clarivate\nVR 1.0\n"
        + "".join(f"PT J\nTI Title {i}\nER\n\n" for i in range(40))
        + "EF\n",
        "endnote": "".join(f"%0 Journal Article\n%T Title {i}\n\n" for i in range(40)),
    }
    text = texts[fmt]
    lf = [text.count("\n", 0, m.end()) for m in chunked.CUT[fmt].finditer(text)]
    data = text.replace("\n", "\r\n").encode()
    cr = [data.count(b"\n", 0, m.end()) for m in importing._CUT_BYTES[True][fmt].finditer(data)]
    assert lf == cr and len(lf) >= 30


@pytest.mark.parametrize(
    ("encoding", "newline", "bom"),
    [
        ("utf-8", "\r\n", False),
        ("utf-8", "\n", True),
        ("utf-8", "\r\n", True),
        ("cp1252", "\r\n", False),
        ("cp1252", "\n", False),
    ],
)
@pytest.mark.parametrize("block", [5, 333, 2**20])
@pytest.mark.parametrize("size", [1, 90, 1_000])
def test_chunks_decoded_join_into_the_whole_files_text(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    encoding: str,
    newline: str,
    bom: bool,
    block: int,
    size: int,
) -> None:
    monkeypatch.setattr(importing, "BLOCK_BYTES", block)
    data = (b"\xef\xbb\xbf" if bom else b"") + RIS.replace("\n", newline).encode(encoding)
    path = _write(tmp_path, data)
    way = _Bytes(encoding, 3 if bom else 0, newline == "\r\n")
    chunks = list(_byte_chunks(path, "ris", size, way))
    assert chunks[-1][1] == len(data)
    texts = [way.text(c) for c, _ in chunks]
    assert "".join(texts) == universal_newlines(decode_bytes(data).text)
    assert all(t.startswith("TY  - ") for t in texts)  # each cut between two records
    assert len(chunks) > (1 if size >= 1_000 else 10)


def test_random_line_ends_and_blank_lines_cut_between_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(7)
    monkeypatch.setattr(importing, "BLOCK_BYTES", 97)
    lines = RIS.split("\n")
    data = "".join(line + rng.choice(["\n", "\r\n"]) * rng.choice([1, 1, 2]) for line in lines)
    path = _write(tmp_path, data.encode())
    way = _Bytes("utf-8", 0, True)
    texts = [way.text(c) for c, _ in _byte_chunks(path, "ris", 200, way)]
    assert "".join(texts) == universal_newlines(data)
    assert len(texts) > 10 and all(t.startswith("TY  - ") for t in texts)
