"""BibTeX reader: a file read in chunks (and by the fast path) reads as in one piece."""

from __future__ import annotations

import random
import re

import pytest

from synth.corpus.readers import bibtex
from synth.corpus.readers.bibtex import parse_bibtex


def _plain(n: int, broken: int | None = None) -> str:
    parts = []
    for i in range(n):
        if i == broken:
            parts.append("@article{broken, title = {never {closed},\n}\n")
        else:
            parts.append(f"@article{{k{i}, title = {{Title {i}}}}}\n")
    return "".join(parts)


def _no_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every block to bibtexparser's splitter, as before the fast path."""
    monkeypatch.setattr(bibtex, "_FAST_ENTRY", re.compile(r"(?!)"))


@pytest.mark.parametrize("workers", [1, 2])
def test_an_unclosed_entry_at_a_chunk_end_fails_as_in_one_piece(monkeypatch, workers):
    text = _plain(40, broken=9)
    whole = parse_bibtex(text, "t.bib", workers=1)
    monkeypatch.setattr(bibtex, "CHUNK_BLOCKS", 10)  # block 9 ends the first chunk
    chunked = parse_bibtex(text, "t.bib", workers=workers)
    assert chunked.failures == whole.failures
    assert chunked.records == whole.records
    [failure] = chunked.failures
    assert failure.line == 10 and failure.record == 10
    assert "not closed (unbalanced braces or quotes) before the next entry" in failure.reason
    assert failure.raw == "@article{broken, title = {never {closed},\n}"


@pytest.mark.parametrize("workers", [1, 2])
def test_macros_and_crossrefs_cross_chunk_borders(monkeypatch, workers):
    entries = [f"@article{{e{i}, title = {{Entry {i}}}, journal = jn}}\n" for i in range(12)]
    entries[1] = "@incollection{child, title = {Early child}, crossref = {late}}\n"
    entries[11] = "@article{lastchild, title = {Late child}, crossref = {early}}\n"
    text = (
        "@string{jn = {Journal of Macros}}\n"
        "@proceedings{early, title = {Early Proceedings}, publisher = {ACM}, year = 1999}\n"
        + "".join(entries)
        + "@book{late, title = {Late Book}, publisher = {Wiley}, year = 2020}\n"
    )
    whole = parse_bibtex(text, "t.bib", workers=1)
    monkeypatch.setattr(bibtex, "CHUNK_BLOCKS", 3)
    assert len(bibtex._chunk_bounds(text, bibtex._block_starts(text), 5)) == 5
    chunked = parse_bibtex(text, "t.bib", workers=workers)
    assert chunked.records == whole.records and chunked.failures == whole.failures == []
    by_key = {r["source_key"]: r for r in chunked.records}
    assert by_key["e10"]["venue"] == "Journal of Macros"  # macro from the first chunk
    assert by_key["child"]["venue"] == "Late Book"  # parent in the last chunk
    assert by_key["child"]["publisher"] == "Wiley"
    assert by_key["lastchild"]["publisher"] == "ACM"  # parent in the first chunk
    assert [r["line"] for r in chunked.records] == list(range(2, 16))


def test_a_backslash_at_a_line_end_does_not_shift_later_lines():
    """bibtexparser counts no newline right after a backslash (``\\\\`` ends a LaTeX
    line); the lines of later entries and failures are still the file's."""
    text = (
        "@article{a, title = {First line\\\\\nsecond line}}\n"
        "@article{b, title = {B}}\n"
        "@article{c, title = {never closed\n"
        "@article{d, title = {D}}\n"
    )
    parsed = parse_bibtex(text, "t.bib", workers=1)
    assert [(r["source_key"], r["line"]) for r in parsed.records] == [
        ("a", 1),
        ("b", 3),
        ("d", 5),
    ]
    [failure] = parsed.failures
    assert failure.line == 4 and failure.raw == "@article{c, title = {never closed"


TRICKY = r"""% a header line with an @ sign: me@example.org
@string{jn = {Journal of {Tricky} Values}}
@article{nested, title = {a {b {c {d {e {f {g {h} g} f} e} d} c} b} a}, year = 2001}
@article{nested6, title = {a {b {c {d {e {f {g} f} e} d} c} b} a}}
@article{escaped, title = {Braces \{ and \} and \\{x\\} escaped}, note = {50\% of \$}}
@article{quoted, title = "Quoted, with = and # inside", author = "Doe, J. and Roe, R."}
@article{quotedbraces, title = "Quoted {with} braces", note = "Sch\"on"}
@article{quoteinbraces, title = {A {"} quote}, note = "a {"} b"}
@article{emails, title = {Mail me@example.org or LeQua @ {CLEF}}, author = {Ann Lee}}
@article{inner,
  title = {A value that breaks
  @misc{cut, title = {the entry above is cut here}}
@article{concat, journal = jn # { Vol. } # "2", month = mar, year = 1999, pages = 12--15}
@article{missingcomma, title = {A} author = {B, C}, year = {2000}}
@article{twice, title = {First}, title = {Second}, TITLE = {Third}}
@article{empty, title = {}, note = , abstract = {  }}
@article{key with spaces , title = {Spaced key}}
@misc{nofields}
@misc{, title = {No key}}
@article{stray, title = {A}}, author = {Lost, Author}}
@comment{a comment with {braces} and @article{inside}}
@preamble{"\newcommand{\noop}[1]{}"}
@article(paren, title = {Paren (delimited)}, year = 2002)
@article{sameline1, title = {One}} @book{sameline2, title = {Two}}
  @book{indented, title = {Indented}, year = 2003}
@article{depth0, title = \emph{Emphasised}, year = 2004}
@article{equals, title = {a = b}, url = {http://x.org/?a=1&b=2}}
@article{multiline,
  title     = {Over
               several
               lines},
  author    = {M{\"u}ller, J{\"o}rg and {World Health Organization}},
  journaltitle = {Journ},
  file.name = {x.pdf},
  x:y+z     = {colon},
}
@commentary{notanentry, title = {splitter reads it as a comment}}
@article{nbsp, title = {Non-breaking}, year = 2005}
@article{trailing, title = {T},   }
@article{unclosedquote, title = "never closed, year = 2006}
@article{afterquote, title = {After}}
@book{eof, title = {Cut off at the end of the file"""


def _both(monkeypatch: pytest.MonkeyPatch, text: str):
    fast = parse_bibtex(text, "t.bib", workers=1)
    with monkeypatch.context() as m:
        _no_fast_path(m)
        slow = parse_bibtex(text, "t.bib", workers=1)
    return fast, slow


def test_the_fast_path_reads_as_the_splitter_does(monkeypatch):
    fast, slow = _both(monkeypatch, TRICKY)
    assert fast.records == slow.records
    assert fast.failures == slow.failures
    keys = {r["source_key"] for r in fast.records}
    assert {"nested", "escaped", "quoted", "emails", "concat", "sameline2", "indented"} <= keys


def test_plain_entries_never_reach_the_splitter(monkeypatch):
    calls: list[str] = []
    split = bibtex._split
    monkeypatch.setattr(bibtex, "_split", lambda text: calls.append(text) or split(text))
    text = "@string{jn = {J}}\n" + "".join(
        f'@article{{k{i},\n  author = {{M{{\\"u}}ller, J.}},\n  title = {{On {{DNA}} {i}}},\n'
        f'  journal = jn,\n  year = {2000 + i},\n  note = "a, b = c",\n}}\n\n'
        for i in range(50)
    )
    parsed = parse_bibtex(text, "t.bib", workers=1)
    assert len(parsed.records) == 50
    assert calls and all(c.startswith("@string{jn") for c in calls)  # only the @string


_MARKS = [
    *'{}",=@\\\n #()%',
    "@article{",
    "\n@book{x,",
    "\n  @misc(",
    '{"}',
    "\\{",
    "}}",
    "{{",
    ", title = {x}",
    "@string{a = {b}}",
    " and others",
]


def test_damaged_entries_read_as_the_splitter_reads_them(monkeypatch):
    """Randomly damaged copies of TRICKY: the fast path takes only what it reads as the
    splitter does (texts with a backslash at a line end aside: see above)."""
    rng = random.Random(19)
    checked = 0
    for _ in range(300):
        a = rng.randrange(len(TRICKY) - 1500)
        chars = list(TRICKY[a : a + 1500])
        for _ in range(rng.randint(1, 5)):
            i = rng.randrange(len(chars))
            op = rng.random()
            if op < 0.4:
                del chars[i]
            elif op < 0.8:
                chars.insert(i, rng.choice(_MARKS))
            else:
                chars[i] = rng.choice(_MARKS)
        text = "".join(chars)
        if "\\\n" in text:
            continue
        fast, slow = _both(monkeypatch, text)
        assert (fast.records, fast.failures) == (slow.records, slow.failures), text
        checked += 1
    assert checked > 200


@pytest.mark.parametrize("pad", ["", " " * 70])  # short values are cached, long ones not
def test_whitespace_runs_become_one_space(pad):
    from synth.corpus.readers._latex import decode_latex, decode_verbatim

    for text in ["a\tb", "a\n b", "a\xa0b", "a\u2009\u2009b", " a b ", "a  b", "a\x1cb"]:
        assert decode_latex(pad + text + pad) == " ".join(text.split())
        assert decode_verbatim(pad + text + pad) == " ".join(text.split())
    assert decode_latex(pad + "x" + pad + "y") == ("x y" if pad else "xy")
