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
from dataclasses import dataclass
from pathlib import Path

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
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13))


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
    if b"\x00" in sample:
        return True
    controls = sum(sample.count(bytes([c])) for c in _CONTROL)
    return controls / len(sample) > 0.02


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
    try:
        return Decoded(data.decode("utf-8"), "utf-8", "utf-8")
    except UnicodeDecodeError:
        pass
    utf16 = _utf16_without_bom(data)
    if utf16:
        try:
            return Decoded(data.decode(utf16), utf16, "utf-16-pattern")
        except UnicodeDecodeError:
            pass
    if looks_binary(data):
        raise ReadError(path, "is binary, not a text export (NUL or control bytes)")
    return _guess(data, path)


def _guess(data: bytes, path: object) -> Decoded:
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    candidates: list[str] = []
    if best is not None and best.encoding:
        candidates.append(best.encoding)
    # Windows-1252 is by far the commonest non-UTF-8 export encoding; Latin-1 decodes anything.
    candidates += ["cp1252", "latin-1"]
    for name in candidates:
        try:
            return Decoded(data.decode(name), codecs.lookup(name).name, "guessed")
        except (UnicodeDecodeError, LookupError):
            continue
    raise ReadError(path, "cannot be decoded as text in any known encoding")  # pragma: no cover


def read_text(path: Path) -> Decoded:
    """Read and decode a file, turning OS errors into a :class:`ReadError` naming it."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise ReadError(path, "no such file") from exc
    except IsADirectoryError as exc:
        raise ReadError(path, "is a folder, not a file") from exc
    except OSError as exc:
        raise ReadError(path, f"cannot be read ({exc.strerror or exc})") from exc
    return decode_bytes(data, path)
