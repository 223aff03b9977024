"""Encoding detection: every rule that decides, and the failures it must refuse."""

from __future__ import annotations

import codecs

import pytest

from synth.corpus.encoding import decode_bytes, looks_binary, marked_encoding
from synth.corpus.model import ReadError

TEXT = "TY  - JOUR\nTI  - Müller & Søren: co-design in Málaga — a “quoted” study\nER  - \n"


@pytest.mark.parametrize(
    ("data", "encoding", "how"),
    [
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8", "bom"),
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16-le", "bom"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16-be", "bom"),
        (TEXT.encode("utf-8"), "utf-8", "utf-8"),
        (TEXT.encode("utf-16-le"), "utf-16-le", "utf-16-pattern"),
        (TEXT.encode("utf-16-be"), "utf-16-be", "utf-16-pattern"),
    ],
)
def test_unicode_encodings_decode_exactly(data: bytes, encoding: str, how: str) -> None:
    decoded = decode_bytes(data)
    assert decoded.text == TEXT
    assert decoded.encoding == codecs.lookup(encoding).name
    assert decoded.how == how


def test_windows_1252_is_decoded_with_its_smart_quotes() -> None:
    text = "TI  - “Patient partners” in Málaga – Müller’s co-design\n" * 5
    decoded = decode_bytes(text.encode("cp1252"))
    assert decoded.how == "guessed"
    assert decoded.text == text


def test_latin1_accents_are_not_mangled() -> None:
    text = "@article{a, author = {Gérard Müller and Søren Ødegård}, title = {Santé}}\n" * 3
    decoded = decode_bytes(text.encode("latin-1"))
    assert "Gérard Müller" in decoded.text
    assert "Søren Ødegård" in decoded.text


def test_declared_encoding_wins_over_guessing() -> None:
    text = "% Encoding: windows-1252\n@article{a, title = {Café “co-design”}}\n"
    decoded = decode_bytes(text.encode("cp1252"))
    assert decoded.how == "declared"
    assert "Café “co-design”" in decoded.text


def test_wrong_declaration_falls_back_to_utf8() -> None:
    text = "% Encoding: US-ASCII\n@article{a, title = {Café}}\n"
    decoded = decode_bytes(text.encode("utf-8"))
    assert decoded.how == "utf-8"
    assert "Café" in decoded.text


def test_binary_junk_is_refused_naming_the_file() -> None:
    junk = bytes(range(256)) * 40
    with pytest.raises(ReadError, match=r"junk\.ris: is binary"):
        decode_bytes(junk, "junk.ris")


def test_png_is_binary() -> None:
    assert looks_binary(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100))


def test_empty_bytes_decode_to_empty_text() -> None:
    assert decode_bytes(b"").text == ""


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (codecs.BOM_UTF8 + b"TY  - JOUR\n", "utf-8"),
        (codecs.BOM_UTF16_LE + "TY  - JOUR\n".encode("utf-16-le"), "utf-16-le"),
        ("TY  - JOUR\nTI  - Caf\u00e9\n".encode("utf-16-le"), "utf-16-le"),
        (b"% Encoding: windows-1252\n@article{a, title={Caf\xe9}}\n", "windows-1252"),
        ("TY  - JOUR\nTI  - Caf\u00e9\n".encode(), None),
    ],
)
def test_marked_encoding_is_what_decode_bytes_takes_before_any_guess(
    head: bytes, expected: str | None
) -> None:
    got = marked_encoding(head)
    assert (got is None) == (expected is None)
    if expected is not None:
        assert codecs.lookup(got).name == codecs.lookup(expected).name
        assert decode_bytes(head).encoding == got
