"""Turn a file's bytes into text without guessing silently wrong.

Order of evidence: a byte-order mark; an encoding the file declares (JabRef's
``% Encoding:`` header, an XML prolog); strict UTF-8; UTF-16 without a BOM (NUL-byte
pattern); then charset-normalizer's best guess among the encodings that decode the
bytes cleanly. The result says which rule decided, so a guess is never mistaken for
a certainty: callers log a warning when ``how == "guessed"``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from synth.corpus.model import ReadError

_BOMS: list[tuple[bytes, str]] = [
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]

_DECLARED = [
    re.compile(rb"^%\s*Encoding:\s*([A-Za-z0-9_.:-]+)", re.M),  # JabRef header
    re.compile(rb"<\?xml[^>]*encoding=[\"']([A-Za-z0-9_.:-]+)[\"']"),
    re.compile(rb"^\s*@comment\{jabref-meta:\s*encoding:\s*([A-Za-z0-9_.:-]+)", re.M),
]

#: control bytes that never occur in text exports (tab, LF, CR, FF excluded)
_CONTROL = bytes(b for b in range(1, 32) if b not in (9, 10, 12, 13))


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str
    how: str  # "bom", "declared", "utf-8", "utf-16-pattern", "guessed", "empty"


def _lookup(name: str) -> str | None:
    try:
        return codecs.lookup(name.decode("ascii") if isinstance(name, bytes) else name).name
    except (LookupError, UnicodeDecodeError):
        return None


def _declared(head: bytes) -> str | None:
    for pattern in _DECLARED:
        m = pattern.search(head)
        if m:
            return _lookup(m.group(1))
    return None


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text of mostly ASCII has a NUL in every other byte."""
    sample = data[:4096]
    if len(sample) < 4 or len(sample) % 2:
        sample = sample[: len(sample) - len(sample) % 2]
    if len(sample) < 4:
        return None
    even_nul = sample[0::2].count(0) / (len(sample) / 2)
    odd_nul = sample[1::2].count(0) / (len(sample) / 2)
    if odd_nul > 0.3 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.3 and odd_nul < 0.05:
        return "utf-16-be"
    return None


def looks_binary(data: bytes) -> bool:
    """True for bytes that are not a text export (images, archives, random junk)."""
    sample = data[:8192]
    if not sample:
        return False
    # a stray NUL inside one record is that record's problem, not the whole file's
    controls = sum(sample.count(bytes([c])) for c in _CONTROL) + sample.count(0)
    return controls / len(sample) > 0.02


def marked_encoding(head: bytes) -> str | None:
    """The encoding a file's first bytes name or show before any guess: a byte-order
    mark's, a declared one (JabRef's ``% Encoding:``), or UTF-16 without a mark; None when
    they show none (plain UTF-8 or a legacy single-byte encoding). :func:`decode_bytes`
    tries these first, in this order; a reader that decodes a file in pieces of UTF-8
    must not take one that has any."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    return _declared(head[:2048]) or _utf16_without_bom(head)


def decode_bytes(data: bytes, path: object = "<bytes>") -> Decoded:
    """Decode ``data``; raise :class:`ReadError` naming ``path`` when it is not text."""
    if not data:
        return Decoded("", "utf-8", "empty")
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                return Decoded(data[len(bom) :].decode(name), name, "bom")
            except UnicodeDecodeError as exc:
                raise ReadError(path, f"starts with a {name} byte-order mark but {exc}") from exc
    declared = _declared(data[:2048])
    if declared:
        try:
            return Decoded(data.decode(declared), declared, "declared")
        except UnicodeDecodeError:
            pass  # a wrong declaration is common (JabRef files re-saved); fall through
    # NUL bytes are valid UTF-8, so UTF-16 without a BOM must be recognised first
    utf16 = _utf16_without_bom(data)
    if utf16:
        try:
            return Decoded(data.decode(utf16), utf16, "utf-16-pattern")
        except UnicodeDecodeError:
            pass
    try:
        return Decoded(data.decode("utf-8"), "utf-8", "utf-8")
    except UnicodeDecodeError:
        pass
    if looks_binary(data):
        raise ReadError(path, "is binary, not a text export (NUL or control bytes)")
    return _guess(data, path)


#: non-letters that Western text really uses (typographic quotes, dashes, NBSP, symbols)
_WESTERN_PUNCT = frozenset(
    "\u00a0\u2018\u2019\u201a\u201c\u201d\u201e\u2013\u2014\u2022\u2026"
    "\u00a9\u00ae\u00b0\u00a3\u20ac\u00a7\u00b7\u00b1\u00bd\u00bc\u00e6\u2122\u00b5"
)


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


class _Western:
    """The tally behind :func:`_plausible_western`, fed a text in consecutive pieces (a
    run of non-ASCII characters may span two)."""

    def __init__(self) -> None:
        self.run = self.odd = self.total = 0  # run: non-ASCII characters ending the text

    def feed(self, text: str) -> None:
        run = 0
        for m in _NON_ASCII.finditer(text):
            before = self.run if m.start() == 0 else 0
            chars = m.group()
            self.total += len(chars)
            short = max(0, min(len(chars), 2 - before))  # the characters of a run below 3
            self.odd += len(chars) - short
            self.odd += sum(1 for ch in chars[:short] if not (ch.isalpha() or ch in _WESTERN_PUNCT))
            run = before + len(chars) if m.end() == len(text) else 0
        if text:
            self.run = run

    @property
    def plausible(self) -> bool:
        return self.total == 0 or self.odd / self.total < 0.1


def _plausible_western(text: str) -> bool:
    """Windows-1252 decodes any byte; this tells real Western text from mis-decoded CJK.

    Real text has its accented letters inside words (rarely three in a row) and uses
    only a few symbols; GBK or Shift-JIS read as cp1252 gives runs like ``¿\xadÈö²âÊÔ``.
    """
    tally = _Western()
    tally.feed(text)
    return tally.plausible


def _all_han(text: str) -> bool:
    """Decoded as Chinese, every non-ASCII character is a Han ideograph or CJK punctuation."""
    wide = [c for c in text if ord(c) >= 128]
    return bool(wide) and all(
        "\u4e00" <= c <= "\u9fff" or "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef"
        for c in wide
    )


def _guess(data: bytes, path: object) -> Decoded:
    """Not UTF-8: Windows-1252 if it reads as Western text, else GB18030 if it reads as
    Chinese, else charset-normalizer's best guess. Tiny files defeat statistical
    detectors, so the common cases are decided by these explicit rules first."""
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    if text is not None and _plausible_western(text):
        return Decoded(text, "cp1252", "guessed")
    try:
        han = data.decode("gb18030")
    except UnicodeDecodeError:
        han = None
    if han is not None and _all_han(han):
        return Decoded(han, "gb18030", "guessed")
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    candidates = [best.encoding] if best is not None and best.encoding else []
    for name in [*candidates, "cp1252", "latin-1"]:
        try:
            return Decoded(data.decode(name), codecs.lookup(name).name, "guessed")
        except (UnicodeDecodeError, LookupError):
            continue
    raise ReadError(path, "cannot be decoded as text in any known encoding")  # pragma: no cover


def piecewise_encoding(blocks: Callable[[], Iterable[bytes]]) -> tuple[str, str, int] | None:
    """:func:`decode_bytes`' encoding and rule for the file whose bytes ``blocks()``
    yields (each call from its start), found without holding it whole, with how many
    bytes its byte-order mark takes; for the files that can then be decoded in pieces cut
    after any line feed: UTF-8 (with a byte-order mark or none) and the single-byte
    Windows-1252 guessed (any byte is a whole character). None for the rest, which a
    caller decodes whole: UTF-16 and UTF-32 (two or four bytes a character), a declared
    encoding, binary bytes, a file the rules guess to be GB18030 or leave to
    charset-normalizer (it reads a sample of the whole), or bytes no rule decodes."""
    head = b""
    for block in blocks():
        head += block
        if len(head) >= 8192:
            break
    if not head:
        return None
    bom = len(codecs.BOM_UTF8)
    if head.startswith(codecs.BOM_UTF8):
        return ("utf-8", "bom", bom) if _decodes(blocks(), "utf-8", bom) else None
    if marked_encoding(head) is not None:
        return None
    if _decodes(blocks(), "utf-8"):
        return "utf-8", "utf-8", 0
    if looks_binary(head):
        return None
    tally = _Western()
    try:
        for block in blocks():
            tally.feed(block.decode("cp1252"))  # one byte, one character: any cut is whole
    except UnicodeDecodeError:
        return None  # (bytes cp1252 leaves undefined: GB18030 or charset-normalizer's)
    return ("cp1252", "guessed", 0) if tally.plausible else None


def _decodes(blocks: Iterable[bytes], encoding: str, skip: int = 0) -> bool:
    """Whether the bytes ``blocks`` join into (the first ``skip`` left out) decode."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        for block in blocks:
            if skip:
                block, skip = block[skip:], max(0, skip - len(block))
            decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True
