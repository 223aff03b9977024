"""The record-mark count behind the shortfall warning: its fast forms (``str.count`` for a
fixed mark, a literal tail checked back to its line start) count exactly what the mark's
own pattern finds, on awkward text and on the peer exports."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from synth.corpus import detect

PEER = Path(__file__).resolve().parents[3] / "shared" / "peer-data" / "formats"
FORMATS = ("ris", "bibtex", "medline", "endnote", "wos")

#: pieces that sit on the edges of the marks: line breaks the pattern's ``^`` does not
#: take (CR, U+2028), whitespace ``\s`` takes (no-break space, U+001C), case-folded
#: letters ``re.I`` lets through (long s, Kelvin sign), and the marks' own parts
PIECES = [
    "TY", "T", "Y", " ", "  ", "\t", "\n", "-", "\u00a0", "\x1c", "\r", "\u2028", "@",
    "article", "ARTICLE", "{", "(", "comment", "string", "@Comment{", "\u017f", "\u212a",
    "PMID-", "PMID", "%0 ", "%0", "PT J", "ER", "x", "a",
]  # fmt: skip


def pattern_count(text: str, fmt: str) -> int:
    """What the mark's pattern itself finds (the count before the fast forms)."""
    return sum(1 for _ in detect._RECORD_MARKS[fmt][0].finditer(text))


def fast_count(text: str, fmt: str) -> int:
    return detect._count_marks(text, fmt, detect._RECORD_MARKS[fmt][0])


@pytest.mark.parametrize("fmt", FORMATS)
def test_fast_count_matches_the_pattern_on_random_text(fmt: str) -> None:
    rng = random.Random(f"marks-{fmt}")
    for _ in range(5000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 24)))
        assert fast_count(text, fmt) == pattern_count(text, fmt), repr(text)


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        ("ris", "TY  - JOUR\nER  - \n  TY - BOOK\n\n\nTY-GEN\n   TY  - X\nxTY  - Y\n", 3),
        ("ris", "\n\nTY  - JOUR", 1),  # the leading \s{0,2} may take line breaks
        ("ris", "a\rTY  - JOUR", 0),  # ^ follows \n only
        ("bibtex", "@article{a,\n\t @Book (b,\n@comment{c}\nx @misc{d}\n@STRING{e}\n", 2),
        ("medline", "PMID- 1\nPMID- 2\n PMID- 3\nxPMID- 4", 2),
        ("endnote", "%0 Journal\n%0 Book\n%0Book\n", 2),
    ],
)
def test_fast_count_on_known_text(fmt: str, text: str, expected: int) -> None:
    assert fast_count(text, fmt) == expected == pattern_count(text, fmt)


@pytest.mark.skipif(not PEER.is_dir(), reason="peer-data not present")
def test_fast_count_matches_the_pattern_on_peer_exports() -> None:
    files = [p for p in sorted(PEER.rglob("*")) if p.is_file() and p.stat().st_size < 5e6]
    assert files
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        for fmt in FORMATS:
            assert fast_count(text, fmt) == pattern_count(text, fmt), (path.name, fmt)
