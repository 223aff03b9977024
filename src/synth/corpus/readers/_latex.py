"""LaTeX to Unicode for BibTeX field values, in one table-driven regex pass.

bibtexparser's ``LatexDecodingMiddleware`` runs pylatexenc, which builds a node tree
for every value; on a 100,000-entry file that costs more than splitting the file.
BibTeX values use a small corner of LaTeX (accents, a few symbols, formatting commands,
protection braces, dashes, ties), and one regex with dispatch tables covers it. The
tables live in ``data/bibtex_fields.yml`` (section ``latex``), so a missing symbol is a
one-line data change.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import yaml

_BASE = r"(?:\\[ij](?![A-Za-z])|[A-Za-z])"
_VERBATIM = re.compile(r"\\(?:url|nolinkurl|path)\s*|\\([_%&#$~{}\\^ ])|[{}]")


@cache
def bibtex_data() -> dict[str, Any]:
    """The BibTeX data file shared by the reader, the writer and this decoder."""
    text = resources.files("synth.data").joinpath("bibtex_fields.yml").read_text("utf-8")
    return yaml.safe_load(text)


class _Decoder:
    """Compiled pattern plus dispatch tables, built once from the data file."""

    def __init__(self, table: dict[str, Any]) -> None:
        accents: dict[str, str] = table["accents"]
        self.accents = accents
        self.symbols: dict[str, str] = table["symbols"]
        self.formatting = frozenset(table["formatting"])
        self.control = {str(k): v for k, v in table["control_symbols"].items()}
        symbol_accents = "".join(re.escape(a) for a in accents if not a.isalpha())
        letter_accents = "".join(a for a in accents if a.isalpha())
        # longest first, so that --- wins over --
        ligatures = sorted(table["ligatures"], key=len, reverse=True)
        self.literals = {**table["ligatures"], "{": "", "}": "", "$": ""}
        #: what makes a value need the substitution at all (literal branches: C-speed scan)
        self.trigger = re.compile("|".join(re.escape(t) for t in ["\\", *self.literals]))
        drop = "|".join(sorted(map(re.escape, table["drop_with_argument"]), key=len, reverse=True))
        # Every top-level branch starts with a literal character, so the regex engine
        # skips plain text at C speed; after the backslash, each branch is one named
        # group, so ``m.lastgroup`` names it.
        self.pattern = re.compile(
            r"\\(?:"
            r"(?P<URL>(?:url|nolinkurl|path)\s*\{(?P<url>[^{}]*)\})"
            rf"|(?P<DROP>(?:{drop})(?![A-Za-z])\s*\{{[^{{}}]*\}})"
            rf"|(?P<ACC>(?P<acc>[{symbol_accents}])\s*"
            rf"(?:\{{\s*(?P<ab>{_BASE})\s*\}}|(?P<ab2>{_BASE})))"
            rf"|(?P<LACC>(?P<lacc>[{letter_accents}])"
            rf"(?:\s*\{{\s*(?P<lb>{_BASE})\s*\}}|\s+(?P<lb2>{_BASE})))"
            r"|(?P<WORD>(?P<word>[A-Za-z]+)(?P<ws>\s*))"
            r"|(?P<SYM>(?P<sym>[^A-Za-z]))"
            r")"
            r"|\$(?:(?P<MATH>[^$]+)\$)?"
            # the commonest braced forms, {\'e}, {\c c} and {DNA}, in one match each
            rf"|\{{(?:(?P<BACC>\\(?P<bacc>[{symbol_accents}])\s*"
            rf"(?:\{{\s*(?P<bb>{_BASE})\s*\}}|(?P<bb2>{_BASE})))\s*\}}"
            rf"|(?P<BLACC>\\(?P<blacc>[{letter_accents}])"
            rf"(?:\s*\{{\s*(?P<bl>{_BASE})\s*\}}|\s+(?P<bl2>{_BASE})))\s*\}}"
            r"|(?P<BWORD>[^{}\\$~]*)\})"
            + "".join(f"|{re.escape(lig)}" for lig in ligatures)
            + r"|\{|\}"
        )
        self._accented: dict[tuple[str, str], str] = {}

    def _accent(self, accent: str, base: str) -> str:
        char = self._accented.get((accent, base))
        if char is None:
            plain = base[1] if base.startswith("\\") else base  # \'\i: a dotless i takes it
            char = unicodedata.normalize("NFC", plain + self.accents[accent])
            self._accented[(accent, base)] = char
        return char

    def _replace(self, m: re.Match[str]) -> str:
        kind = m.lastgroup
        if kind is None:  # a ligature (dash, quotes), a tie, a brace or a lone $
            return self.literals[m.group(0)]
        if kind == "WORD":
            name = m.group("word")
            if name in self.symbols:
                return self.symbols[name]
            return "" if name in self.formatting else m.group("ws")
        if kind == "BWORD":
            inner = m.group("BWORD")
            if "--" in inner or "``" in inner or "''" in inner:  # ligatures inside
                return self.pattern.sub(self._replace, inner)
            return inner
        if kind == "BACC":
            return self._accent(m.group("bacc"), m.group("bb") or m.group("bb2"))
        if kind == "BLACC":
            return self._accent(m.group("blacc"), m.group("bl") or m.group("bl2"))
        if kind == "ACC":
            return self._accent(m.group("acc"), m.group("ab") or m.group("ab2"))
        if kind == "LACC":
            return self._accent(m.group("lacc"), m.group("lb") or m.group("lb2"))
        if kind == "SYM":
            char = m.group("sym")
            return self.control.get(char, char)
        if kind == "URL":
            return decode_verbatim(m.group("url"))
        if kind == "MATH":
            inner = m.group("MATH").replace("^", "").replace("_", "")
            return self.pattern.sub(self._replace, inner)
        return ""  # DROP

    def decode(self, text: str) -> str:
        return self.pattern.sub(self._replace, text)


@cache
def _decoder() -> _Decoder:
    return _Decoder(bibtex_data()["latex"])


#: values up to this length (names, journals, publishers, keywords) repeat across a
#: corpus, so their decoding is cached; abstracts and titles are not worth caching
_SHORT = 64


def _decode(text: str) -> str:
    decoder = _decoder()
    if decoder.trigger.search(text):  # plain text skips the substitution
        text = decoder.decode(text)
    return _one_spaced(text)


def _one_spaced(text: str) -> str:
    """Runs of whitespace as one space, none at the ends (``" ".join(text.split())``).

    Printable text holds no whitespace but the space (tabs, newlines and the other
    spaces ``split`` splits on are not printable), so printable text without two spaces
    in a row or one at an end is returned as it is, without building a copy.
    """
    if text and text[0] != " " and text[-1] != " " and "  " not in text and text.isprintable():
        return text
    return " ".join(text.split())


_decode_short = lru_cache(maxsize=1 << 16)(_decode)


def decode_latex(text: str) -> str:
    """Unicode text for a BibTeX value: accents, symbols, dashes, ties and braces undone.

    ``{\\"o}`` -> ö, ``\\c{c}`` -> ç, ``\\&`` -> &, ``--`` -> –, ``{DNA}`` -> DNA,
    ``\\emph{x}`` -> x; runs of whitespace become one space.

    Examples
    --------
    >>> decode_latex(r"Sch{\\"o}n and {\\c C}elik: {DNA} \\& {RNA}, 1990--2000")
    'Schön and Çelik: DNA & RNA, 1990–2000'
    """
    if len(text) <= _SHORT:
        return _decode_short(text)
    return _decode(text)


def decode_verbatim(text: str) -> str:
    """A URL-like value: ``\\url{}`` and braces removed, ``\\_``-style escapes undone.

    Ties (``~``), dashes and ``%`` stay as they are, because in URLs, DOIs and file
    paths they are literal characters.
    """
    if "\\" in text or "{" in text or "}" in text:
        text = _VERBATIM.sub(lambda m: m.group(1) or "", text)
    return _one_spaced(text)
