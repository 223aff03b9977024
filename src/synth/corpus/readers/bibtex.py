"""BibTeX reader: bibtexparser v2's splitter, our own value steps, parallel for big files.

The pipeline copies bibtexparser v2's design (split -> small steps -> records, with
failed blocks kept as data), with three changes that make a 100,000-entry export fast:

1. ``@string`` macros are collected from the whole file once (:func:`_collect_macros`),
   so every part of the file resolves them the same way.
2. The text is cut into chunks at lines that start a block (``@type{``). bibtexparser's
   splitter aborts any open block at such a line anyway, so the cut changes nothing;
   the chunks are split in worker processes for large files (:func:`parse_bibtex`).
3. Values are evaluated (macros, ``#`` concatenation, month macros), LaTeX-decoded with
   a table-driven regex (:mod:`._latex`) instead of pylatexenc, and mapped to the
   canonical record keys with the tables in ``data/bibtex_fields.yml``.

Before that, CR and CRLF line ends become ``\n`` and ``% @type{`` lines (commented-out
entries) lose their ``@``. Positions, duplicate keys and crossref inheritance are
settled after the chunks merge.
Problems that do not stop a record from loading (duplicate keys, missing or cyclic
crossref targets, undefined macros, a field given twice) are noted in the record's
``extra["_warnings"]``; blocks that cannot be parsed become :class:`Failure` rows.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import bibtexparser
from bibtexparser import model as bm

from synth.corpus.model import Failure, Parsed, ReadError
from synth.corpus.readers._latex import bibtex_data, decode_latex, decode_verbatim
from synth.parallel import default_workers, gc_paused, mp_context, ordered_map

log = logging.getLogger(__name__)

#: below this many blocks a file is parsed in-process: worker start-up would cost more
PARALLEL_MIN_BLOCKS = 2000
#: blocks per chunk handed to a worker (bounds a worker's memory, balances the load:
#: at 100,000 entries on two cores 2,500 read 5.0-5.2 s, 5,000 5.3-5.7 s)
CHUNK_BLOCKS = 2500

_BLOCK_AFTER_NEWLINE = re.compile(r"\n@\w*[ \t]*[{(]")
_BLOCK_AT_START = re.compile(r"@\w*[ \t]*[{(]")
_STRING_START = re.compile(r"@string[ \t]*[{(]", re.I)
_NEXT_BLOCK = re.compile(r"\n[ \t]*@\w*[ \t]*[{(]")
_CROSSREF = re.compile(r"crossref\s*=\s*[{\"]?\s*([^\s,{}\"]+)", re.I)
_COMMENT_LINE = re.compile(r"\n[ \t]*%[^\n]*@[^\n]*")
_BRACE = re.compile(r"(?<!\\)[{}]")
_AND = re.compile(r"(\s+and\s+)", re.I)
_SEMICOLON = re.compile(r"(\s*;\s*)")
_COMMA = re.compile(r"(,)")
_SPACE = re.compile(r"([\s~]+)")
_IDENT = re.compile(r"[^\s\"#%'(),={}]+")
_FIELD_AFTER = re.compile(r"\s*([A-Za-z][\w.:+-]*)\s*=\s*(.*)", re.S)
_STRAY_FIELDS = re.compile(r"\s*,?\s*[A-Za-z][\w.:+-]*\s*=\s*[{\"\w]")
_LINK = re.compile(r"^(https?|ftp)://|^www\.", re.I)
_DASHES = re.compile(r"\s*[‐‑‒–—-]+\s*")


@dataclass(frozen=True)
class _Rules:
    """The data file's reading tables, compiled once per process."""

    canonical: dict[str, list[str]]
    column_of: dict[str, str]
    rank: dict[str, int]
    also_extra: frozenset[str]
    link_only: frozenset[str]
    names: frozenset[str]
    verbatim: frozenset[str]
    flag_true: frozenset[str]
    flag_false: frozenset[str]
    pmid_eprint_types: frozenset[str]
    months: dict[str, str]
    inherit: tuple[str, ...]
    rename: dict[str, str]
    written_types: frozenset[str]
    databases: tuple[tuple[str, re.Pattern[str]], ...]


@cache
def _rules() -> _Rules:
    d = bibtex_data()
    canonical: dict[str, list[str]] = d["canonical"]
    return _Rules(
        canonical=canonical,
        column_of={f: column for column, fields in canonical.items() for f in fields},
        rank={f: i for fields in canonical.values() for i, f in enumerate(fields)},
        also_extra=frozenset(d["also_extra"]),
        link_only=frozenset(d["link_only"]),
        names=frozenset(d["name_fields"]),
        verbatim=frozenset(d["verbatim_fields"]),
        flag_true=frozenset(d["flag_true"]),
        flag_false=frozenset(d["flag_false"]),
        pmid_eprint_types=frozenset(d["pmid_eprint_types"]),
        months=d["months"],
        inherit=tuple(d["crossref"]["inherit"]),
        rename=d["crossref"]["rename"],
        written_types=frozenset(d["write"]["types"].values()),
        databases=tuple((x["name"], re.compile(x["pattern"])) for x in d["databases"]),
    )


# --------------------------------------------------------------------------- entry points


def parse(text: str, source: str) -> Parsed:
    """Registry entry: read a BibTeX text (see :func:`parse_bibtex`)."""
    return parse_bibtex(text, source)


def parse_bibtex(text: str, source: str, workers: int | None = None) -> Parsed:
    """Read BibTeX ``text`` into raw record dicts plus failures.

    Parameters
    ----------
    text
        The decoded file.
    source
        File name used in failures.
    workers
        Worker processes. ``None`` uses all cores for files of at least
        :data:`PARALLEL_MIN_BLOCKS` blocks and reads smaller files in-process;
        ``1`` always reads in-process. Workers are forked on Linux when no other thread
        runs, else started by a fork server (Jupyter) or spawned (Windows, macOS without
        a fork server); spawned workers re-import the calling script, so a script needs
        the usual ``if __name__ == "__main__":`` guard there. If workers cannot start,
        the file is read in-process (logged as a warning).

    Returns
    -------
    Parsed
        One record per entry, in file order, with ``position`` counting failed entries
        too; one :class:`Failure` per block that could not be parsed.
    """
    if not text or text.isspace():  # (not a stripped copy of a 200 MB text)
        return Parsed(failures=[Failure(source, None, None, "file is empty", "")])
    if "\x00" in text[:65536]:
        raise ReadError(
            source,
            "holds NUL characters: probably UTF-16 text without a byte-order mark that was "
            "decoded as UTF-8; re-save it as UTF-8",
        )
    if "\r" in text:  # old Mac (CR) and Windows (CRLF) line ends: splitter and lines use \n
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _blank_commented_blocks(text)
    rules = _rules()
    macros, failures = _collect_macros(text, source)
    targets = _crossref_targets(text)
    starts = _block_starts(text)
    if workers is None:
        workers = default_workers() if len(starts) >= PARALLEL_MIN_BLOCKS else 1
    n_chunks = -(-len(starts) // CHUNK_BLOCKS)
    results: list[list[tuple[Any, ...]]] | None = None
    if workers > 1 and len(starts) > 1 and not multiprocessing.current_process().daemon:
        bounds = _chunk_bounds(text, starts, max(workers * 2, n_chunks))
        results = _run_parallel(text, bounds, macros, targets, min(workers, len(bounds)))
    if results is None:  # in-process, a chunk at a time: one chunk's blocks in memory
        bounds = _chunk_bounds(text, starts, n_chunks) if n_chunks > 1 else [(0, len(text), 0)]
        with gc_paused():
            results = [_parse_span(text, *bound, macros, targets) for bound in bounds]
    parsed = _merge(results, source, failures, rules)
    log.debug("%s: %d entries, %d failures", source, len(parsed.records), len(parsed.failures))
    head = text[:65536]
    parsed.database = next((name for name, rx in rules.databases if rx.search(head)), None)
    if not parsed.records and not parsed.failures:
        parsed.failures.append(
            Failure(
                source,
                None,
                None,
                "no BibTeX entries found (only comments, @string or @preamble blocks)",
                text[:500],
            )
        )
    return parsed


# --------------------------------------------------------------------------- chunking


def _blank_commented_blocks(text: str) -> str:
    """``% @article{...}`` is a commented-out entry (biber, JabRef): drop its ``@``.

    bibtexparser starts a block at any ``@type{``, even on a ``%`` line. Only the ``@``
    of such lines is replaced, so line numbers and every other character stay put.
    """

    def blank(m: re.Match[str]) -> str:
        return m.group().replace("@", " ")

    text = _COMMENT_LINE.sub(blank, text)
    first = text[: text.find("\n")] if "\n" in text else text
    if first.lstrip(" \t").startswith("%") and "@" in first:
        text = first.replace("@", " ") + text[len(first) :]
    return text


def _block_starts(text: str) -> list[int]:
    """Offsets of lines starting with ``@type{``: safe places to cut the text."""
    starts = [m.start() + 1 for m in _BLOCK_AFTER_NEWLINE.finditer(text)]
    if _BLOCK_AT_START.match(text):
        starts.insert(0, 0)
    return starts


def _chunk_bounds(text: str, starts: list[int], n_chunks: int) -> list[tuple[int, int, int]]:
    """``(start, end, lines before start)`` for about ``n_chunks`` runs of whole blocks."""
    step = max(1, -(-len(starts) // n_chunks))
    cuts = [0] + [starts[i] for i in range(step, len(starts), step)] + [len(text)]
    bounds: list[tuple[int, int, int]] = []
    line = 0
    for a, b in itertools.pairwise(cuts):
        bounds.append((a, b, line))
        line += text.count("\n", a, b)
    return bounds


def _run_parallel(
    text: str,
    bounds: list[tuple[int, int, int]],
    macros: dict[str, str],
    targets: frozenset[str],
    workers: int,
) -> list[list[tuple[Any, ...]]] | None:
    """Chunks parsed in worker processes and here, in order; ``None`` if processes are
    unavailable.

    This process parses chunks too (``work_here``): its own chunks' records are not
    pickled, and it does not sit on a core waiting. Forked workers have the text
    already, so each job is only where its chunk lies (``shared``); other workers get
    the chunk's text and the header of the block after it (see :func:`_parse_chunk`).
    """
    try:
        if mp_context().get_start_method() == "fork":
            spans = ((start, end, line0, macros, targets) for start, end, line0 in bounds)
            mapped = ordered_map(_parse_span, spans, workers=workers, shared=text, work_here=True)
        else:
            jobs = (
                (text[start:end], line0, macros, targets, _header_at(text, end))
                for start, end, line0 in bounds
            )
            mapped = ordered_map(
                _parse_chunk, jobs, workers=workers, preload=[__name__], work_here=True
            )
        with gc_paused():
            results = list(mapped)
    except Exception as exc:  # no processes here (sandbox, daemon): the caller reads in-process;
        # a real bug in _parse_chunk then raises again there, with its own traceback
        log.warning("BibTeX: worker processes failed (%r); reading in-process", exc)
        return None
    return results


# --------------------------------------------------------------------------- splitting


class _DropAll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextmanager
def _quiet_splitter() -> Iterator[None]:
    """bibtexparser logs a warning per aborted block; our failures report says it better."""
    logger = logging.getLogger("bibtexparser.splitter")
    drop = _DropAll()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def _split(text: str) -> list[bm.Block]:
    with _quiet_splitter():
        return bibtexparser.parse_string(text, parse_stack=[]).blocks


# --------------------------------------------------------------------------- macros


def _collect_macros(text: str, source: str) -> tuple[dict[str, str], list[Failure]]:
    """All ``@string`` macros of the file (lower-case names), evaluated in file order."""
    macros: dict[str, str] = {}
    failures: list[Failure] = []
    months = _rules().months
    done = 0
    line, counted = 1, 0
    for m in _STRING_START.finditer(text):
        if m.start() < done:
            continue
        nxt = _NEXT_BLOCK.search(text, m.end())
        done = nxt.start() if nxt else len(text)
        line += text.count("\n", counted, m.start())
        counted = m.start()
        for block in _split(text[m.start() : done]):
            inner = getattr(block, "ignore_error_block", None)
            if isinstance(inner, bm.String):
                block = inner  # a redefinition: the later one wins, as in bibtexparser
            if isinstance(block, bm.String):
                value = _evaluate(block.value, macros, months, [], "@string")
                macros[block.key.strip().lower()] = value
            elif isinstance(block, bm.ParsingFailedBlock):
                detail = getattr(block.error, "abort_reason", str(block.error))
                failures.append(
                    Failure(
                        source,
                        line,
                        None,
                        f"@string definition (line {line}) could not be parsed, so the "
                        f"macro is undefined [bibtexparser: {detail.strip()}]",
                        text[m.start() : done].strip(),
                    )
                )
    return macros, failures


def _crossref_targets(text: str) -> frozenset[str]:
    """Keys that some entry's ``crossref`` names (casefolded): their fields are kept.

    ``str.find`` for the usual spellings runs at C speed; a case-insensitive regex over a
    250 MB file takes seconds, because ``c`` is everywhere.
    """
    found: set[str] = set()
    for needle in ("rossref", "ROSSREF", "rossRef"):
        i = text.find(needle)
        while i >= 0:
            m = _CROSSREF.match(text, max(i - 1, 0))
            if m:
                found.add(m.group(1).casefold())
            i = text.find(needle, i + 1)
    return frozenset(found)


def _encloses(value: str, opener: str) -> bool:
    """True if the first character's brace (or quote) closes at the last character."""
    inner = value[1:-1]
    if opener == '"':
        if '"' not in inner:
            return True
        depth = 0
        for i, ch in enumerate(inner):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == '"' and depth == 0 and (i == 0 or inner[i - 1] != "\\"):
                return False
        return True
    if "{" not in inner and "}" not in inner:
        return not inner.endswith("\\")
    depth = 0
    last = len(value) - 1
    for m in _BRACE.finditer(value):
        depth += 1 if m.group() == "{" else -1
        if depth == 0 and m.start() != last:
            return False
        if depth < 0:
            return False
    return depth == 0


def _expression(raw: str) -> tuple[list[tuple[str, str]], str]:
    """Split a value expression into ``(kind, text)`` atoms joined by ``#``.

    Returns the atoms and whatever is left where the expression stopped making sense
    (empty for a well-formed value): a missing comma leaves ``author = {...}`` behind.
    """
    atoms: list[tuple[str, str]] = []
    i, n = 0, len(raw)
    while True:
        while i < n and raw[i].isspace():
            i += 1
        if i >= n:
            return atoms, ""
        ch = raw[i]
        if ch in '{"':
            close = "}" if ch == "{" else '"'
            depth, j = 0, i + 1
            while j < n:
                c = raw[j]
                if c == "\\":
                    j += 2
                    continue
                if c == "{":
                    depth += 1
                elif c == "}" and (depth > 0 or close != "}"):
                    depth -= 1
                elif c == close and depth == 0:
                    break
                j += 1
            if j >= n:
                return atoms, raw[i:]
            atoms.append(("text", raw[i + 1 : j]))
            i = j + 1
        else:
            m = _IDENT.match(raw, i)
            if not m:
                return atoms, raw[i:]
            word = m.group()
            atoms.append(("number" if word.isdigit() else "macro", word))
            i = m.end()
        while i < n and raw[i].isspace():
            i += 1
        if i >= n:
            return atoms, ""
        if raw[i] != "#":
            return atoms, raw[i:]
        i += 1


def _evaluate(
    raw: str,
    macros: dict[str, str],
    months: dict[str, str],
    warnings: list[str],
    name: str,
    spill: list[tuple[str, str]] | None = None,
) -> str:
    """The LaTeX text a field value stands for: delimiters off, macros in, ``#`` joined.

    A value followed by ``name = ...`` (a comma missing between two fields, which
    bibtexparser's splitter reads as one value) is cut there, and the next field is
    appended to ``spill`` so the caller reads it as a field of its own.
    """
    raw = raw.strip()
    if not raw:
        return ""
    first = raw[0]
    if first in '{"' and raw[-1] == ("}" if first == "{" else '"') and len(raw) > 1:
        # the splitter ends a value at a balanced brace, so without a `#` (concatenation)
        # or `=` (a missing comma) the first delimiter is the one closing at the end
        if ("#" not in raw and "=" not in raw) or _encloses(raw, first):
            return raw[1:-1]
    elif raw.isdigit():
        return raw
    atoms, rest = _expression(raw)
    if rest:
        m = _FIELD_AFTER.fullmatch(rest) if atoms and spill is not None else None
        if m is None:  # not an expression: keep the text as it stands rather than lose it
            warnings.append(f"field '{name}' is not a well-formed BibTeX value: {raw[:80]!r}")
            return raw
        warnings.append(
            f"a comma is missing after field '{name}'; '{m.group(1)}' read as the next field"
        )
        spill.append((m.group(1), m.group(2)))
    parts: list[str] = []
    for kind, text in atoms:
        if kind != "macro":
            parts.append(text)
            continue
        key = text.lower()
        if key in macros:
            parts.append(macros[key])
        elif key in months:
            parts.append(months[key])
        else:
            warnings.append(f"undefined @string macro '{text}' in field '{name}' (kept as text)")
            parts.append(text)
    return "".join(parts)


# --------------------------------------------------------------------------- chunk parsing

# The fast path: a well-formed ``{``-delimited entry is read with regexes that follow
# bibtexparser's splitter mark for mark (its marks: ``{ } " , =``, newlines and block
# starts; a delimiter right after a backslash is no mark). Anything they do not take
# whole goes to the splitter itself, so only text that both read the same way is read
# here. In a value at depth 0: plain text, ``{...}`` groups (nested up to _DEPTH) and
# ``"..."`` strings without braces or backslashes; a backslash at depth 0 goes to the
# splitter.
_DEPTH = 6
_IN_BRACES = r"(?:[^{}]++|(?<=\\)[{}])"


def _braced(depth: int) -> str:
    if depth == 0:
        return rf"\{{{_IN_BRACES}*+\}}"
    return rf"\{{(?:{_IN_BRACES}|{_braced(depth - 1)})*+\}}"


_VALUE = rf"(?:[^{{}}\",\\]++|{_braced(_DEPTH)}|\"[^\"{{}}\\]*+\")*+"
_FIELD_KEY = r"[^{}\",=\\]*+"
#: a whole entry: type, key, and its fields as ``name = value`` runs split by commas
_FAST_ENTRY = re.compile(
    rf"@(\w+)[ \t]*\{{([^{{}}\",=\\]*),"
    rf"((?:{_FIELD_KEY}={_VALUE},)*+(?:{_FIELD_KEY}={_VALUE})?)[ \t\n]*\}}"
)
_KEY_CHAR = r"[^{}\",=\\\s]"
#: one field of an entry ``_FAST_ENTRY`` took, name and value stripped (a run of spaces
#: inside is kept only where more follows; ``\s`` is what ``str.strip`` strips)
_FAST_FIELD = re.compile(
    rf"\s*+((?:{_KEY_CHAR}++|\s++(?={_KEY_CHAR}))*+)\s*+=\s*+"
    rf"((?:[^{{}}\",\\\s]++|\s++(?=[^\s,}}])|{_braced(_DEPTH)}|\"[^\"{{}}\\]*+\")*+)"
)
#: the splitter's block start (any ``@type`` followed by ``{`` or ``(``, anywhere)
_BLOCK_MARK = re.compile(r"@\w*[ \t]*(?=[{(])")
_NOT_ENTRIES = ("comment", "preamble", "string")


def _header_at(text: str, end: int) -> str:
    """The block start at ``end`` (``@type{``), where the next chunk begins; ``""`` at the
    end of the text. Appended to a chunk, it ends the chunk's last block as the whole
    file does: an unclosed entry is cut off there, not at the end of the file."""
    m = _BLOCK_AT_START.match(text, end)
    return m.group() if m else ""


def _parse_span(
    text: str,
    start: int,
    end: int,
    line0: int,
    macros: dict[str, str],
    targets: frozenset[str],
) -> list[tuple[Any, ...]]:
    """:func:`_parse_chunk` of ``text[start:end]`` (a forked worker holds ``text``)."""
    return _parse_chunk(text[start:end], line0, macros, targets, _header_at(text, end))


def _parse_chunk(
    chunk: str,
    line0: int,
    macros: dict[str, str],
    targets: frozenset[str],
    after: str = "",
) -> list[tuple[Any, ...]]:
    """Turn one chunk's blocks into items (runs in a worker process, or here).

    Items are ``("r", record, crossref_info)`` for entries and
    ``("f", line, kind, reason, raw)`` for blocks that could not be parsed. ``after`` is
    the header of the block after the chunk (see :func:`_header_at`). Entries the fast
    path (above) takes whole are read here; from any other block to the next line that
    starts a block, the text goes to bibtexparser's splitter (:func:`_split_region`).
    """
    rules = _rules()
    items: list[tuple[Any, ...]] = []
    previous: dict[str, Any] | None = None
    fast_entry = _FAST_ENTRY.match
    find_block = _BLOCK_MARK.search
    fields_of = _FAST_FIELD.findall
    n = len(chunk)
    pos = 0  # where the text between blocks (an implicit comment) starts
    line, counted = line0, 0  # lines before offset ``counted``
    with gc_paused():
        while True:
            m = find_block(chunk, pos)
            at = m.start() if m else n
            if previous is not None and at > pos:
                _check_stray(previous, chunk, pos, at, line + chunk.count("\n", counted, pos))
            previous = None
            if m is None:
                break
            line += chunk.count("\n", counted, at)
            counted = at
            e = fast_entry(chunk, at)
            if e is not None:
                end = e.end()
                etype = e.group(1).lower()
                if not etype.startswith(_NOT_ENTRIES) and (
                    chunk.find("@", m.end(), end) < 0 or not find_block(chunk, m.end(), end)
                ):
                    fields = fields_of(chunk, *e.span(3))
                    record, xref = _entry(
                        etype, e.group(2).strip(), fields, line + 1, macros, targets, rules
                    )
                    items.append(("r", record, xref))
                    previous = record
                    pos = end
                    continue
            nxt = _BLOCK_AFTER_NEWLINE.search(chunk, m.end())
            end = nxt.start() + 1 if nxt else n
            tail = nxt.group()[1:] if nxt else after
            prefix = chunk[chunk.rfind("\n", 0, at) + 1 : at]  # the line's start
            _split_region(chunk[at:end], tail, prefix, line, macros, targets, rules, items)
            pos = end
    return items


def _check_stray(record: dict[str, Any], chunk: str, a: int, b: int, line: int) -> None:
    """The text between an entry and the next block (the splitter's implicit comment,
    ``line`` lines before it): does it look like fields cut off by an extra ``}``?"""
    gap = chunk[a:b]
    if gap.isspace():
        return
    comment = gap.lstrip()  # as Splitter._end_implicit_comment: blank lines off
    leading = gap.count("\n", 0, len(gap) - len(comment))
    comment = comment.rstrip()
    if _STRAY_FIELDS.match(comment):
        _stray_warning(record, line + leading, comment)


def _stray_warning(record: dict[str, Any], line: int, comment: str) -> None:
    _warn(
        record,
        f"text after the entry's closing brace looks like more fields (line "
        f"{line + 1}: {comment[:60]!r}); an extra '}}'?",
    )


def _split_region(
    region: str,
    tail: str,
    prefix: str,
    line0: int,
    macros: dict[str, str],
    targets: frozenset[str],
    rules: _Rules,
    items: list[tuple[Any, ...]],
) -> None:
    """Blocks of ``region`` (``line0`` lines into the file) by bibtexparser's splitter.

    ``tail`` is the header of the block after the region: the splitter ends the
    region's last block there as it would in the whole file, and the failed block it
    makes of the header itself is dropped. ``prefix`` is the text before the region on
    its first line: a failure's text shows whole lines.

    The splitter counts no newline right after a backslash (its marks are not escaped
    characters), so lines in a region after such a line are one short; every region
    (and every entry the fast path reads) starts at its true line.
    """
    text = region + tail
    blocks = _split(text)
    count = len(blocks)
    if tail and blocks and isinstance(blocks[-1], bm.ParsingFailedBlock):
        tail_line = region.count("\n") - region.count("\\\n")  # the splitter's count
        count -= blocks[-1].start_line == tail_line  # (kept for ``_failed``)
    lines: list[str] | None = None
    previous: dict[str, Any] | None = None
    for i, block in enumerate(blocks[:count]):
        inner = getattr(block, "ignore_error_block", None)
        if isinstance(block, bm.DuplicateBlockKeyBlock | bm.DuplicateFieldKeyBlock):
            block = inner
        if isinstance(block, bm.Entry):
            fields = [(f.key, f.value) for f in block.fields]
            line = line0 + (block.start_line or 0) + 1
            etype = block.entry_type.strip().lower()
            record, xref = _entry(etype, block.key.strip(), fields, line, macros, targets, rules)
            items.append(("r", record, xref))
            previous = record
        elif isinstance(block, bm.ParsingFailedBlock):
            previous = None
            head = (block.raw or "").lstrip()[:10].lower()
            if head.startswith("@string"):
                continue  # reported once by _collect_macros
            if lines is None:
                lines = (prefix + text).split("\n")
            items.append(_failed(block, blocks, i, line0, lines))
        elif isinstance(block, bm.ImplicitComment):
            if previous is not None and _STRAY_FIELDS.match(block.comment):
                _stray_warning(previous, line0 + block.start_line, block.comment)
            previous = None
        else:  # @string (handled by _collect_macros), @comment, @preamble
            previous = None


def _failed(
    block: bm.ParsingFailedBlock, blocks: list[bm.Block], i: int, line0: int, lines: list[str]
) -> tuple[Any, ...]:
    """A failure item: where the block starts, what went wrong, and its whole raw text."""
    start = block.start_line or 0
    end = len(lines)
    for nxt in blocks[i + 1 :]:
        if not isinstance(nxt, bm.ImplicitComment) and nxt.start_line is not None:
            end = nxt.start_line
            break
    raw = "\n".join(lines[start:end]).strip()
    head = raw[:12].lower()
    kind = "comment" if head.startswith("@comment") else "entry"
    kind = "preamble" if head.startswith("@preamble") else kind
    near = line0 + start + 1 + (block.raw or "").count("\n")
    detail = getattr(block.error, "abort_reason", str(block.error)).strip()
    return ("f", line0 + start + 1, kind, _plain_reason(detail, near), raw[:5000])


def _plain_reason(detail: str, near: int) -> str:
    """A reviewer-readable reason for one of bibtexparser's abort messages."""
    if detail.startswith("Expected comma after entry key"):
        plain = "no comma after the entry key (is the key or the comma missing?)"
    elif detail.startswith("Unexpected block start") and "field-value" in detail:
        plain = (
            f"a field value is not closed (unbalanced braces or quotes) before the next "
            f"entry near line {near + 1}"
        )
    elif detail.startswith("Unexpected block start"):
        plain = (
            "the entry is not closed (unbalanced braces) before the next entry near line "
            f"{near + 1}"
        )
    elif detail.startswith("Unexpectedly reached end of file"):
        plain = "the entry is not closed before the end of the file (unbalanced braces or quotes)"
    elif detail.startswith("Expected a `=`"):
        plain = f"a field name is not followed by '=' (near line {near})"
    elif detail.startswith("Expected either a `,`"):
        plain = f"a comma is missing after a field value (near line {near})"
    else:
        plain = f"could not be parsed (near line {near})"
    return f"{plain} [bibtexparser: {detail}]"


def _warn(record: dict[str, Any], message: str) -> None:
    record.setdefault("extra", {}).setdefault("_warnings", []).append(message)


def _entry(
    etype: str,
    key: str,
    fields: list[tuple[str, str]],
    line: int,
    macros: dict[str, str],
    targets: frozenset[str],
    rules: _Rules,
) -> tuple[dict[str, Any], tuple[Any, ...] | None]:
    """One entry's record (``fields`` as the splitter gives them: names and values
    stripped), plus what crossref resolution needs if it takes part in one."""
    warnings: list[str] = []
    values: dict[str, str] = {}
    months = rules.months
    for name, raw in fields:
        name = name.lower()
        if name in values:
            warnings.append(
                f"field '{name}' is given twice; the first value is used "
                f"(the other was {raw[:80]!r})"
            )
        elif raw[:1] == "{" and raw[-1:] == "}" and "#" not in raw and "=" not in raw:
            values[name] = raw[1:-1]  # the common case, as in _evaluate
        else:
            spill: list[tuple[str, str]] = []
            values[name] = _evaluate(raw, macros, months, warnings, name, spill)
            while spill:  # fields a missing comma glued onto this one
                name, raw = spill.pop()
                if name.lower() not in values:
                    values[name.lower()] = _evaluate(raw, macros, months, warnings, name, spill)
    record = _record(etype, key, values, rules, warnings)
    record["line"] = line
    xref: tuple[Any, ...] | None = None
    if "crossref" in values or key.casefold() in targets or _aliases(values) & targets:
        xref = (etype, key, values)
    return record, xref


def _aliases(values: dict[str, str]) -> set[str]:
    ids = values.get("ids")
    return {a.strip().casefold() for a in ids.split(",") if a.strip()} if ids else set()


# --------------------------------------------------------------------------- record mapping


def _record(
    etype: str, key: str, values: dict[str, str], rules: _Rules, warnings: list[str]
) -> dict[str, Any]:
    """Canonical record keys from an entry's evaluated (still LaTeX) field values."""
    record: dict[str, Any] = {"source_key": key or None, "pub_type_raw": etype}
    extra: dict[str, Any] = {}
    used: set[str] = set()
    for column, names in _columns_of(tuple(values)):
        for name in names:
            if column in _CONVERTED:
                converted = _convert(column, name, values[name], rules, extra)
            else:
                converted = _decode_field(name, values[name], rules)
            if converted is None or converted == "" or converted == []:
                continue
            record[column] = converted
            used.add(name)
            break
    also_extra = rules.also_extra
    for name, value in values.items():
        if value and (name not in used or name in also_extra):
            decoded = _decode_field(name, value, rules)
            if decoded:  # `owner = {}` says nothing
                extra[name] = decoded
    if "pmid" not in record and extra.get("eprinttype", "").lower() in rules.pmid_eprint_types:
        record["pmid"] = extra.get("eprint")
    if etype not in rules.written_types and record["pub_type_raw"] == etype:
        extra["_entry_type"] = etype
    if warnings:
        extra["_warnings"] = list(warnings)
    record["extra"] = extra
    return record


@lru_cache(maxsize=4096)  # an export's entries mostly share a few sets of fields
def _columns_of(names: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``(column, field names)`` for an entry's field names: columns in the order of
    their first field, each column's fields the better-ranked first (e.g. journal
    before booktitle)."""
    rules = _rules()
    present: dict[str, list[str]] = {}
    for name in names:
        column = rules.column_of.get(name)
        if column is not None:
            present.setdefault(column, []).append(name)
    return tuple(
        (column, tuple(sorted(fields, key=rules.rank.__getitem__)))
        for column, fields in present.items()
    )


#: the columns :func:`_convert` treats on their own (the rest are decoded LaTeX)
_CONVERTED = frozenset({"authors", "keywords", "grey", "label_included", "url", "pages"})


def _convert(column: str, name: str, value: str, rules: _Rules, extra: dict[str, Any]) -> Any:
    if column == "authors":
        names, et_al = parse_names(value)
        if et_al:
            extra["_et_al"] = True
        return names
    if column == "keywords":
        return split_keywords(decode_latex(value))
    if column in {"grey", "label_included"}:
        flag = value.strip().strip("{}").lower()
        if flag in rules.flag_true:
            return True if column == "grey" else 1
        if flag in rules.flag_false:
            return False if column == "grey" else 0
        return None
    if column == "url":
        url = decode_verbatim(value)
        return url if name not in rules.link_only or _LINK.match(url) else None
    if column == "pages":
        return _DASHES.sub("-", decode_latex(value))
    return _decode_field(name, value, rules)


def _decode_field(name: str, value: str, rules: _Rules) -> str:
    if name in rules.verbatim:
        return decode_verbatim(value)
    if name in rules.names:
        names, et_al = parse_names(value)
        return " and ".join(names + (["others"] if et_al else []))
    return decode_latex(value)


def split_keywords(text: str) -> list[str]:
    """Keywords split on ``;`` when there are any (commas then belong to a keyword), else ``,``."""
    parts = text.split(";") if ";" in text else text.split(",")
    return [p.strip() for p in parts if p.strip()]


# --------------------------------------------------------------------------- names


def _depth(text: str) -> int:
    """Net brace depth of ``text``; escaped braces (``\\{``) do not count, as in the splitter."""
    depth = text.count("{") - text.count("}")
    if "\\{" in text or "\\}" in text:
        depth -= text.count("\\{") - text.count("\\}")
    return depth


def _split_top(text: str, pattern: re.Pattern[str]) -> list[str]:
    """Split where ``pattern`` (one capturing group, no braces) matches outside braces."""
    pieces = pattern.split(text)
    if "{" not in text:
        return pieces[::2]
    out: list[str] = []
    current = pieces[0]
    depth = _depth(current)
    for i in range(1, len(pieces), 2):
        part = pieces[i + 1]
        if depth > 0:  # the separator is inside braces: glue it back
            current += pieces[i] + part
        else:
            out.append(current)
            current = part
        depth += _depth(part)
    out.append(current)
    return out


def parse_names(value: str) -> tuple[list[str], bool]:
    """BibTeX names (``and``-separated, LaTeX) as ``"Family, Given"`` strings.

    Handles ``First von Last``, ``von Last, First``, ``von Last, Jr, First`` (given as
    ``"Family, Given, Jr"``) and ``{Corporate Name}`` (kept whole). Returns the names
    and whether the list ended in ``and others``.
    """
    value = value.strip()
    if not value:
        return [], False
    parts = _split_top(value, _AND)
    if len(parts) == 1 and ";" in value:  # "Smith, J.; Doe, A." is not BibTeX, but common
        parts = _split_top(value, _SEMICOLON)
    names: list[str] = []
    et_al = False
    for part in parts:
        part = part.strip().strip(",").strip()
        if not part:
            continue
        if part.lower() == "others":
            et_al = True
            continue
        name = _one_name(part)
        if name:
            names.append(name)
    return names, et_al


@lru_cache(maxsize=1 << 16)  # names recur across a corpus
def _one_name(text: str) -> str:
    if text[0] == "{" and text[-1] == "}" and _encloses(text, "{"):
        return decode_latex(text[1:-1])  # {World Health Organization}
    pieces = _split_top(text, _COMMA) if "{" in text else text.split(",")
    if len(pieces) >= 2:
        family = decode_latex(pieces[0])
        given = decode_latex(pieces[-1] if len(pieces) == 2 else ", ".join(pieces[2:]))
        junior = decode_latex(pieces[1]) if len(pieces) > 2 else ""
        return ", ".join(p for p in (family, given, junior) if p)
    tokens = [t for t in _split_top(text, _SPACE) if t]
    if len(tokens) == 1:
        return decode_latex(tokens[0])
    von = next((i for i, t in enumerate(tokens[:-1]) if _is_lower(t)), None)
    cut = len(tokens) - 1 if von is None else von
    family = decode_latex(" ".join(tokens[cut:]))
    given = decode_latex(" ".join(tokens[:cut]))
    return f"{family}, {given}" if given else family


def _is_lower(token: str) -> bool:
    """BibTeX's ``von`` test: the first letter is lower-case; ``{Braced}`` is caseless."""
    first = token[0]
    if first.isalpha():
        return first.islower()
    if first == "{" and not token.startswith("{\\"):
        return False
    for ch in decode_latex(token):
        if ch.isalpha():
            return ch.islower()
    return False


# --------------------------------------------------------------------------- merging


def _merge(
    results: Iterable[list[tuple[Any, ...]]], source: str, failures: list[Failure], rules: _Rules
) -> Parsed:
    """Number records and failed entries in file order; settle crossrefs and duplicates."""
    records: list[dict[str, Any]] = []
    xrefs: dict[int, tuple[Any, ...]] = {}
    out_failures = list(failures)
    position = 0
    for items in results:
        for item in items:
            if item[0] == "r":
                position += 1
                record = item[1]
                record["position"] = position
                if item[2] is not None:
                    xrefs[len(records)] = item[2]
                records.append(record)
                continue
            _, line, kind, reason, raw = item
            if kind == "entry":
                position += 1
                where = f"record {position} (line {line})"
                out_failures.append(Failure(source, line, position, f"{where}: {reason}", raw))
            else:
                out_failures.append(
                    Failure(source, line, None, f"@{kind} block (line {line}): {reason}", raw)
                )
    if xrefs:
        _resolve_crossrefs(records, xrefs, rules)
    _flag_duplicate_keys(records)
    out_failures.sort(key=lambda f: f.line or 0)
    return Parsed(records=records, failures=out_failures)


def _flag_duplicate_keys(records: list[dict[str, Any]]) -> None:
    first: dict[str, dict[str, Any]] = {}
    for record in records:
        key = record.get("source_key")
        if not key:
            continue
        folded = key.casefold()
        if folded in first:
            other = first[folded]
            _warn(
                record,
                f"duplicate key '{key}': also used by the entry at line {other['line']} "
                "(both entries kept)",
            )
        else:
            first[folded] = record


def _resolve_crossrefs(
    records: list[dict[str, Any]], xrefs: dict[int, tuple[Any, ...]], rules: _Rules
) -> None:
    """Children inherit their crossref parent's fields (chains followed, cycles cut)."""
    index: dict[str, int] = {}
    for idx, (_, key, values) in xrefs.items():
        for alias in [key, key.casefold(), *sorted(_aliases(values))]:
            index.setdefault(alias, idx)

    def target(idx: int) -> int | None:
        ref = xrefs[idx][2].get("crossref", "").strip()
        found = index.get(ref, index.get(ref.casefold()))
        return found if found is not None and found in xrefs else None

    resolved: dict[int, dict[str, str]] = {}
    notes: dict[int, list[str]] = {}
    for start in xrefs:
        path: list[int] = []
        node: int | None = start
        while node is not None and node not in resolved:
            values = xrefs[node][2]
            if "crossref" not in values:
                resolved[node] = values
                break
            parent = target(node)
            if parent is None:
                notes.setdefault(node, []).append(
                    f"crossref target '{values['crossref']}' not found; nothing inherited"
                )
                resolved[node] = values
                break
            if parent == node or parent in path:  # a cycle: nobody in it inherits
                members = [*path[path.index(parent) :], node] if parent != node else [node]
                chain = " -> ".join(xrefs[i][1] for i in [*members, parent])
                for i in members:
                    notes.setdefault(i, []).append(f"crossref cycle {chain}; nothing inherited")
                    resolved[i] = xrefs[i][2]
                break
            path.append(node)
            node = parent
        for child in reversed(path):
            if child in resolved:
                continue
            parent = target(child)
            parent_values = resolved[parent] if parent is not None else {}
            resolved[child] = _inherit(xrefs[child][2], parent_values, rules)
    for idx, (etype, key, values) in xrefs.items():
        merged = resolved.get(idx, values)
        if merged is values and idx not in notes:
            continue
        record = records[idx]
        earlier = record.get("extra", {}).get("_warnings", [])
        rebuilt = _record(etype, key, merged, rules, [*earlier, *notes.get(idx, [])])
        rebuilt["line"], rebuilt["position"] = record["line"], record["position"]
        records[idx] = rebuilt


def _inherit(child: dict[str, str], parent: dict[str, str], rules: _Rules) -> dict[str, str]:
    merged = dict(child)
    for src, dst in rules.rename.items():  # first: a parent's title beats its booktitle
        if dst not in merged and src in parent:
            merged[dst] = parent[src]
    for name in rules.inherit:
        if name not in merged and name in parent:
            merged[name] = parent[name]
    return merged
