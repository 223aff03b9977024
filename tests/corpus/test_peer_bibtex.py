"""Real .bib files from ../shared/peer-data (bibtexparser v1 and JabRef test data), in place.

Expected entry counts are computed here with a regex over the bytes decoded by Python's
own codecs, never taken from synth's output: a line starting with ``@type{`` that is not
``@string``, ``@comment`` or ``@preamble``. Each file must load exactly that many
entries (records plus failed entries), or explain itself in a failures row.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import pytest

from synth.corpus import read_file

PEER_FORMATS = Path(__file__).resolve().parents[2].parent / "shared" / "peer-data" / "formats"
BIB_FILES = sorted(str(p.relative_to(PEER_FORMATS)) for p in PEER_FORMATS.rglob("*.bib"))

_ENTRY = re.compile(r"^\s*@(?!string|comment|preamble)\w+\s*[{(]", re.I | re.M)

#: A value each file holds, read by eye from the file: checks that decoding is right for
#: UTF-8 (with and without BOM or header), UTF-16 BE/LE (with and without BOM, CR line
#: ends), Windows-1252 (declared, undeclared, wrongly declared), MacRoman and GBK.
KNOWN_TEXT = {
    "bibtexparser-v1/encoding.bib": (0, "authors", ["César, Jean"]),
    "bibtexparser-v1/article_with_special_characters.bib": (0, "authors", ["Césarü, Jean"]),
    "bibtexparser-v1/book_bom.bib": (0, "title", "Dynamics of Polymeric Liquid"),
    "bibtexparser-v1/gbk_test.bib": (0, "authors", ["凯撒"]),
    "bibtexparser-v1/string.bib": (
        0,
        "venue",
        "Proceedings of the IEEE Symposium on Security and Privacy",
    ),
    "bibtexparser-v1/features2.bib": (0, "extra", {"note": "Email: John.Doe@example.com"}),
    "jabref/encoding-utf-8-with-header.bib": (0, "title", "Ü ist ein Umlaut"),
    "jabref/encoding-utf-8-without-header.bib": (0, "title", "Ü ist ein Umlaut"),
    "jabref/encoding-utf-16BE-with-header.bib": (0, "title", "Ü ist ein Umlaut"),
    "jabref/encoding-utf-16BE-without-header.bib": (0, "title", "Ü ist ein Umlaut"),
    "jabref/test.bib": (
        1,
        "authors",
        [
            "Boström, Gustav",
            "Wäyrynen, Jaana",
            "Bodén, Marine",
            "Beznosov, Konstantin",
            "Kruchten, Philippe",
        ],
    ),
    **{
        f"jabref/tiny-{v}.bib": (
            0,
            "authors",
            ["Verwilghen, D.", "Busoni, V.", "van Galen, G.", "Wilke, M."],
        )
        for v in ("BE-noBOM", "BE-withBOM", "LE-noBOM", "LE-withBOM")
    },
}


def expected_entries(data: bytes) -> int:
    """Entries in a file, counted without synth: Python's codecs and one regex."""
    if data.startswith(codecs.BOM_UTF8):
        text = data[3:].decode("utf-8")
    elif data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        text = data.decode("utf-16")
    elif data.count(b"\x00") > len(data) // 4:  # UTF-16 without a BOM
        text = data.decode("utf-16-be" if data[0] == 0 else "utf-16-le")
    else:
        text = data.decode("latin-1")  # the regex only looks at ASCII
    return len(_ENTRY.findall(text.replace("\r\n", "\n").replace("\r", "\n")))


@pytest.mark.peer
@pytest.mark.parametrize("name", BIB_FILES)
def test_peer_bib_loads_every_entry(peer_data, name):
    path = peer_data / "formats" / name
    expected = expected_entries(path.read_bytes())
    result = read_file(path)
    assert result.format == "bibtex"
    failed_entries = int(result.failures["record"].notna().sum())
    assert len(result.records) + failed_entries == expected
    if expected == 0:  # an empty or comments-only file says so
        reasons = " ".join(result.failures["reason"])
        assert "file is empty" in reasons or "no BibTeX entries found" in reasons
    # every failure names a line and says what is wrong
    for failure in result.failures.itertuples():
        assert failure.reason and (failure.line is not None or failure.record is None)


@pytest.mark.peer
@pytest.mark.parametrize("name", [n for n in sorted(KNOWN_TEXT) if n in BIB_FILES])
def test_peer_bib_decodes_known_text(peer_data, name):
    records = read_file(peer_data / "formats" / name).records
    index, column, value = KNOWN_TEXT[name]
    got = records.iloc[index][column]
    if isinstance(value, dict):
        assert value.items() <= got.items()
    else:
        assert got == value


#: Windows-1252 files whose one entry has no title and no DOI/PMID: it is a failure row
#: (issue 14), and the decoded text must be right in the raw text that row shows
KNOWN_FAILED_TEXT = {
    "jabref/encoding-windows-1252-with-header.bib": "25° C",
    "jabref/encoding-windows-1252-without-header.bib": "25° C",
    "jabref/encoding-windows-1252-but-utf-8-declared--decoding-fails.bib": "Test\u00a0I. Last",
}


@pytest.mark.peer
@pytest.mark.parametrize("name", sorted(KNOWN_FAILED_TEXT))
def test_peer_bib_untitled_entry_is_a_failure_with_decoded_text(peer_data, name):
    result = read_file(peer_data / "formats" / name)
    assert result.records.empty
    (failure,) = result.failures.itertuples()
    assert failure.reason == "record 1 (line 3): no title and no DOI/PMID"
    assert failure.severity == "error"
    assert KNOWN_FAILED_TEXT[name] in failure.raw


@pytest.mark.peer
def test_peer_crossrefs_inherit(peer_data):
    records = read_file(peer_data / "formats" / "bibtexparser-v1" / "crossref_entries.bib").records
    by_key = records.set_index("source_key")
    assert by_key.loc["cr1", "venue"] == "Graphs of the Continent"
    assert by_key.loc["cr1", "publisher"] == "Grimble"
    assert by_key.loc["cr1", "year"] == 1974
    assert by_key.loc["cr6", "venue"] == "Manual booktitle"  # its own booktitle wins
    assert by_key.loc["cr6", "publisher"] == "Publisher of proceeding"


@pytest.mark.peer
def test_peer_crossref_problems_are_reported(peer_data):
    folder = peer_data / "formats" / "bibtexparser-v1"
    cycle = read_file(folder / "crossref_cascading_cycle.bib").records
    assert all("crossref cycle" in " ".join(e["_warnings"]) for e in cycle["extra"])
    missing = read_file(folder / "crossref_missing_entries.bib").records
    assert missing.iloc[0]["extra"]["_warnings"] == [
        "crossref target 'missing1' not found; nothing inherited"
    ]


@pytest.mark.peer
def test_peer_jabref_database_is_recognised(peer_data):
    assert read_file(peer_data / "formats" / "jabref" / "Chocolate.bib").database == "JabRef"
