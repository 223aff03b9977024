"""Find duplicate records across exports: identifiers first, then titles, always with evidence.

Duplicates are grouped, never deleted: every record keeps its row and each group names
the record that is kept (the most complete one). Every merge is explained by a pair row
(rule, title similarity, year difference, whether the first authors agree, a note), and
near-misses that were kept apart are listed with the reason, so a reviewer can check both.
Thresholds and word lists are data: ``synth/data/dedupe.yml``.

Stages
------
1. **DOI**: the same DOI after normalisation (case, ``https://doi.org/``, ``doi:``).
   Overruled only by clear evidence of two documents: a notice word (erratum, reply ...)
   in one title only *and* another year, volume or page (an erratum filed under its
   paper's DOI), or unrelated titles *and* first authors (chapters sharing a book DOI).
2. **PMID**: the same PubMed id, with the same safeguards.
3. **Title + year + first author**. Titles are normalised (HTML entities and tags,
   LaTeX, accents, case, punctuation); the main title before a colon is kept too.
   Candidate pairs come from blocking keys, all computed with numpy and C-level string
   methods so 100,000 records take seconds: the exact title; the title's tokens dealt
   into three position groups (two typos leave one group intact); the first and the
   last 20 characters; sorted neighbourhoods. A big block is walked in a window after
   sorting it by first author and year, so candidates grow linearly. Candidates are
   scored with ``rapidfuzz.process.cpdist`` and accepted by rules:

   - title similarity >= ``threshold`` (90) with equal years; >= 95 with years one
     apart (online-first vs print issue) *and* the same first author, or with a year
     missing;
   - a title reduced to its main title (subtitle dropped by a database) matches;
   - vetoes: different DOIs; different numbers ("Part 1"/"Part 2", "Phase II"); a
     notice or protocol word in one title only ("Erratum", "protocol"); a word in one
     title only that is no typo of a word in the other ("in Kenya"/"in Peru"); a
     different first author (family name or initial); a different volume or first
     page; short or generic titles ("Editorial") unless everything agrees. A word or
     subtitle difference is forgiven when volume, first page, year and first author
     all agree, and a title cut short by an export when it keeps 50 characters.

Decisions worth knowing
-----------------------
- *Preprint and published version* (exactly one DOI from a preprint server, listed in
  the YAML) are merged when titles, years (±1) and first authors agree: for screening
  they are reports of one study; the pair's note says "preprint and published version".
- *Errata, replies, retraction notices and protocols* are never merged with the paper
  they concern, even with the paper's DOI when their year or pages differ.
- *Transitivity*: groups are connected components (union-find) of accepted pairs,
  applied strongest first. A union is refused if it would join two groups holding
  different DOIs, or records a reviewer said differ (``cannot_link``), so a DOI-less
  record or a preprint cannot chain two papers together.
"""

from __future__ import annotations

import html
import logging
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import yaml
from rapidfuzz import fuzz, process

from synth.corpus.model import LIST_COLUMNS
from synth.corpus.normalise import normalise_doi, normalise_pmid
from synth.progress import progress_bar

log = logging.getLogger(__name__)

#: Columns of :attr:`DedupeResult.groups`.
GROUP_COLUMNS = ["record_id", "group_id", "is_kept", "completeness"]
#: Columns of :attr:`DedupeResult.pairs` and :attr:`DedupeResult.rejected`.
PAIR_COLUMNS = [
    "record_a",
    "record_b",
    "rule",
    "score",
    "title_score",
    "author_match",
    "year_diff",
    "note",
]

_SEQUENCES = (list, tuple, np.ndarray)
_REC = "\x1f"  # joins titles into one string, so C-level str/bytes methods do the work
_SEP = "\x1e"  # marks where a subtitle starts
#: Where a subtitle starts: "Main: sub", "Main? sub", "Main - sub", "Main. Sub".
_SEPARATORS = (": ", "? ", "! ", " - ", " – ", " — ", " -- ", " --- ", ". ")
# [ \t] rather than \s: \s also matches the separators above
_TAG_RE = re.compile(r"</?[a-zA-Z][^<>\x1e\x1f]{0,80}>")
_LATEX_ACCENT_RE = re.compile(
    r"\\[`'^\"~=.][ \t]*\{?[ \t]*([a-zA-Z])[ \t]*\}?"
    r"|\\[uvHcdbtrk](?:[ \t]+|[ \t]*\{[ \t]*)([a-zA-Z])[ \t]*\}?"
)
_LATEX_CMD_RE = re.compile(r"\\([a-zA-Z]+)\*?")
_NONWORD_RE = re.compile(r"[^\w\x1e]+|_+")
_COMBINING_RE = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_RANGE_RE = re.compile(r"\d\s*[-–]+\s*[a-zA-Z]*\d")
_DIGITS_RE = re.compile(r"\d+")
_FOLD = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "đ": "d",
        "Đ": "D",
        "ı": "i",
        "þ": "th",
        "ð": "d",
        "–": "-",
        "—": "-",
        "‐": "-",
        "‑": "-",
        "−": "-",
        "’": "'",
        "‘": "'",
        "“": '"',
        "”": '"',
        "…": "...",
        "\u00a0": " ",
    }
)


@cache
def _ascii_table() -> bytes:
    """``bytes.translate`` table: letters lower-cased, digits and markers kept, rest a space."""
    table = bytearray(b" " * 256)
    for c in b"abcdefghijklmnopqrstuvwxyz0123456789\x1e\x1f":
        table[c] = c
    for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        table[c] = c + 32
    return bytes(table)


@cache
def dedupe_rules() -> dict[str, Any]:
    """Thresholds, vocabularies and blocking settings (package data ``dedupe.yml``)."""
    text = resources.files("synth.data").joinpath("dedupe.yml").read_text("utf-8")
    data = yaml.safe_load(text)
    data.pop("synthetic", None)
    return data


@dataclass
class DedupeResult:
    """Duplicate groups and the evidence for them.

    Attributes
    ----------
    groups
        One row per input record, in input order: ``record_id``, ``group_id`` (the kept
        record's id), ``is_kept``, ``completeness`` (the score that chose the kept record).
    pairs
        The matched pairs behind the groups, one row per pair with its strongest
        evidence (:data:`PAIR_COLUMNS`, ``record_a < record_b``). ``rule`` is ``doi``,
        ``pmid`` or ``title+year+author``; ``score`` is the title similarity the decision
        used (0-100; 100 for identifiers), ``title_score`` the similarity of the full
        normalised titles; ``author_match`` is True, False or None (no authors on one
        side); ``year_diff`` is NaN when a year is missing; ``note`` says what was
        unusual ("subtitle dropped on one side", "years one apart", "preprint and
        published version" ...).
    rejected
        Pairs that looked alike (title similarity above the threshold, or a shared
        identifier) but were kept apart, with the reason in ``note``: a veto ("different
        DOIs", "different numbers in the titles (1 / 2)"), a reviewer's cannot-link or
        split. Both records may still share a group through other records.
    timings
        Seconds per stage.
    counts
        Candidate pairs per blocking key, pairs scored, pairs accepted.
    """

    groups: pd.DataFrame
    pairs: pd.DataFrame
    rejected: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def n_duplicates(self) -> int:
        """Records that are not the kept record of their group."""
        return int((~self.groups["is_kept"]).sum())

    def split(self, record_ids: Iterable[str]) -> DedupeResult:
        """Shorthand for :func:`split_group`."""
        return split_group(self, record_ids)


# -- normalisation -----------------------------------------------------------------------


def normalise_title(text: Any) -> str:
    """A title reduced to what identifies it.

    ``"Co-Production &amp; {PPI}: a <i>Review</i>."`` becomes
    ``"co production and ppi a review"``: HTML entities unescaped, HTML tags and LaTeX
    commands and braces dropped, accents stripped, case folded, punctuation turned into
    spaces, whitespace collapsed.
    """
    return _fold_titles([text])[0].replace(_SEP, " ")


def _strip_markup(text: str, *, braces: bool = True) -> str:
    """HTML entities and tags, LaTeX accents and commands (and braces, ``$``) removed."""
    if "&" in text:
        text = html.unescape(text)
    if "<" in text:
        text = _TAG_RE.sub(" ", text)
    if "\\" in text:
        letters = dedupe_rules()["title"]["latex_letters"]
        text = _LATEX_ACCENT_RE.sub(lambda m: m.group(1) or m.group(2), text)
        text = _LATEX_CMD_RE.sub(lambda m: letters.get(m.group(1), " "), text)
    if braces and ("{" in text or "}" in text or "$" in text):
        text = text.replace("{", "").replace("}", "").replace("$", "")
    return text


def _to_ascii(texts: list[str]) -> tuple[str, dict[int, str]]:
    """Texts joined by :data:`_REC`, accents folded to ASCII; other scripts set aside.

    Returns the joined ASCII string (set-aside texts left empty) and the texts in
    other scripts (Greek, Cyrillic, CJK ...) by position, for the slower unicode path.
    """
    big = _REC.join(texts)
    if big.isascii():
        return big, {}
    parts = big.split(_REC)
    other: dict[int, str] = {}
    seen: dict[str, str] = {}
    for k, t in enumerate(parts):
        if not t.isascii():
            folded = seen.get(t)
            if folded is None:
                folded = seen[t] = _COMBINING_RE.sub(
                    "", unicodedata.normalize("NFKD", t.translate(_FOLD))
                )
            if not folded.isascii():
                other[k], folded = folded, ""
            parts[k] = folded
    return _REC.join(parts), other


def _fold_titles(titles: Iterable[Any]) -> list[str]:
    """Normalised titles, with :data:`_SEP` where the first subtitle starts.

    All titles are joined into one string so that unescaping, accent folding and
    punctuation removal run as a handful of C-level passes (``bytes.translate``)
    instead of per-title regular expressions: this is most of a big dedupe's time.
    """
    texts = [t if isinstance(t, str) else "" for t in titles]
    joined = _REC.join(texts)
    if joined.count(_REC) != max(len(texts) - 1, 0) or _SEP in joined:
        texts = [t.replace(_REC, " ").replace(_SEP, " ") for t in texts]
        joined = _REC.join(texts)
    if "&" in joined or "<" in joined or "\\" in joined:  # only titles with markup
        texts = [
            _strip_markup(t, braces=False) if "&" in t or "<" in t or "\\" in t else t
            for t in texts
        ]
    big, other_scripts = _to_ascii(texts)
    data = big.encode("ascii").translate(None, b"{}$")  # "{Uganda.} A" has a subtitle
    for sep in _SEPARATORS:
        if sep.isascii() and sep.encode() in data:
            data = data.replace(sep.encode(), b"\x1e")
    data = data.replace(b"&", b" and ")
    data = b" ".join(data.translate(_ascii_table()).split())
    for old, new in (
        (b" \x1e", b"\x1e"),
        (b"\x1e ", b"\x1e"),
        (b" \x1f", b"\x1f"),
        (b"\x1f ", b"\x1f"),
    ):
        data = data.replace(old, new)
    while b"\x1e\x1e" in data:
        data = data.replace(b"\x1e\x1e", b"\x1e")
    out = data.decode("ascii").split(_REC)
    for k, t in other_scripts.items():
        t = t.replace("{", "").replace("}", "").replace("$", "").replace("&", " and ")
        for sep in _SEPARATORS:
            t = t.replace(sep, _SEP)
        # str.split() would also split on the marker: fold each segment on its own
        segments = (" ".join(_NONWORD_RE.sub(" ", seg.casefold()).split()) for seg in t.split(_SEP))
        out[k] = _SEP.join(seg for seg in segments if seg)
    return [t.strip(_SEP) if t[:1] == _SEP or t[-1:] == _SEP else t for t in out]


def _fold_names(names: list[str]) -> list[str]:
    """Names reduced to lower-case letters and digits, accents folded (in bulk)."""
    big, other = _to_ascii(names)
    out = big.encode("ascii").translate(None, _non_alnum()).lower().decode("ascii").split(_REC)
    for k, t in other.items():
        out[k] = "".join(_NONWORD_RE.sub(" ", t.casefold()).split())
    return out


def first_author_family(authors: Any) -> str:
    """The first author's family name, folded to letters.

    ``"Ó Súilleabháin, S."``, MEDLINE's ``"O Suilleabhain S"`` and ``"Seán Ó Súilleabháin"``
    all give ``"osuilleabhain"``; placeholders such as "Anonymous" give ``""``.
    """
    return _first_author(authors)[0]


def _first_author(authors: Any) -> tuple[str, str]:
    """(folded family name, first initial) of the first author; ``""`` when unknown."""
    return _parse_authors([_first_author_text(authors)])[0]


def _first_author_text(authors: Any) -> str:
    if isinstance(authors, str):
        first: Any = authors.split(";")[0]
    elif isinstance(authors, _SEQUENCES) and len(authors):
        first = authors[0]
    else:
        return ""
    return first if isinstance(first, str) else ""


def _parse_authors(names: list[str]) -> list[tuple[str, str]]:
    """(family, initial) of many names: ``Family, Given``, ``Family GA`` or ``Given Family``.

    Each distinct name is parsed once: the same authors recur across a search.
    """
    unique = list(dict.fromkeys(names))
    parsed = dict(zip(unique, _parse_unique_authors(unique), strict=True))
    return [parsed[name] for name in names]


def _parse_unique_authors(names: list[str]) -> list[tuple[str, str]]:
    family, given, whole = [], [], []
    joined = _REC.join(names)
    markup = any(c in joined for c in "&\\{<")
    for name in names:
        if markup and ("&" in name or "\\" in name or "{" in name or "<" in name):
            name = _strip_markup(name)
        if _REC in name:
            name = name.replace(_REC, " ")
        fam, comma, giv = name.partition(",")
        if comma:
            whole.append("")
        else:
            parts = name.split()
            if len(parts) >= 2 and _is_initials(parts[-1]):
                fam, giv = " ".join(parts[:-1]), parts[-1]
            elif len(parts) >= 2:
                fam, giv = parts[-1], parts[0]
            else:
                fam, giv = name, ""
            whole.append(name)  # "No authors listed" is a placeholder only as a whole
        family.append(fam)
        given.append(giv.lstrip(" .-'")[:3])
    placeholders = _placeholders()
    out = []
    for fam, giv, full in zip(
        _fold_names(family), _fold_names(given), _fold_names(whole), strict=True
    ):
        if not fam or fam in placeholders or (full and full in placeholders):
            out.append(("", ""))
        else:
            out.append((fam, giv[:1]))
    return out


@cache
def _non_alnum() -> bytes:
    """ASCII bytes that are neither letters nor digits (the record separator is kept)."""
    return bytes(c for c in range(128) if not chr(c).isalnum() and c != 0x1F)


def _is_initials(token: str) -> bool:
    bare = token.replace(".", "").replace("-", "")
    return 0 < len(bare) <= 3 and bare.isalpha() and bare.isupper()


@cache
def _generic_titles() -> frozenset[str]:
    titles = _fold_titles(dedupe_rules()["title"]["generic_titles"])
    return frozenset(t.replace(_SEP, " ") for t in titles)


@cache
def _placeholders() -> frozenset[str]:
    return frozenset(_fold_names(list(dedupe_rules()["authors"]["placeholders"])))


@cache
def _preprint_re() -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in dedupe_rules()["doi"]["preprint_patterns"]))


# -- features ----------------------------------------------------------------------------


@dataclass
class _Features:
    """Per-record arrays the matching needs, computed once (object arrays hold strings)."""

    ids: np.ndarray  # record ids
    norm: np.ndarray  # normalised title ("" if none)
    main: np.ndarray  # normalised main title when it can stand for the title, else ""
    ntok: np.ndarray  # tokens in the normalised title
    main_ntok: np.ndarray  # tokens in the main title (0 if none)
    tok_id: np.ndarray  # every title's tokens (as ids), title after title
    owner: np.ndarray  # the record each token belongs to
    numbers: np.ndarray  # the numbers in the title, as a sorted string
    main_numbers: np.ndarray  # the numbers in the main title
    sub_marked: np.ndarray  # bool: the subtitle numbers a part ("Part 2", "Phase II")
    sub_numbers: np.ndarray  # bool: the subtitle holds any number ("a 12-month follow-up")
    notice: np.ndarray  # bit mask of distinguishing words (erratum, reply, protocol ...)
    generic: np.ndarray  # bool: a title that never identifies a paper ("Editorial")
    year: np.ndarray  # -1 if missing
    family: np.ndarray  # first author's folded family name ("" if none)
    initial: np.ndarray  # first author's first initial ("" if none)
    doi: np.ndarray  # normalised DOI ("" if none)
    preprint: np.ndarray  # bool: the DOI is a preprint server's
    pmid: np.ndarray  # "" if none
    volume: np.ndarray  # digits of the volume ("" if none)
    page: np.ndarray  # digits of the first page ("" if none)
    page_kind: np.ndarray  # 1 a page range, 2 a single page or article number, 0 none
    vocab: np.ndarray | None = None  # the tokens tok_id numbers (in the order first met)

    def __len__(self) -> int:
        return len(self.ids)


def _objects(values: list[Any]) -> np.ndarray:
    """A 1-d object array (``np.array`` would build 2-d arrays from lists of lists)."""
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def _column(records: pd.DataFrame, name: str) -> list[Any]:
    return records[name].tolist() if name in records.columns else [None] * len(records)


def _features(records: pd.DataFrame) -> _Features:
    n = len(records)
    folded = _fold_titles(_column(records, "title"))
    norm = [t.replace(_SEP, " ") if _SEP in t else t for t in folded]
    main_raw = [t.partition(_SEP)[0] if _SEP in t else "" for t in folded]
    rules = dedupe_rules()
    generic_titles = _generic_titles()
    min_main = int(rules["matching"]["min_main_title_tokens"])
    main = [
        m if m and m.count(" ") + 1 >= min_main and m not in generic_titles else ""
        for m in main_raw
    ]
    ntok = np.fromiter((t.count(" ") + 1 if t else 0 for t in norm), np.int64, n)
    main_ntok = np.fromiter((t.count(" ") + 1 if t else 0 for t in main), np.int64, n)
    tokens = " ".join(t for t in norm if t).split(" ") if ntok.any() else []
    owner = np.repeat(np.arange(n, dtype=np.int64), ntok)
    tok_id, vocabulary = pd.factorize(_objects(tokens))
    numbers, main_numbers, sub_marked, sub_numbers, notice = _title_numbers(
        folded, norm, main, owner, tok_id, vocabulary
    )
    generic = np.fromiter((t in generic_titles for t in norm), bool, n)

    year_col = records["year"] if "year" in records.columns else pd.Series([None] * n)
    year = pd.to_numeric(year_col.astype(object), errors="coerce").fillna(-1).to_numpy()
    year = year.astype(np.int64)

    dois = [
        v if type(v) is str and v.startswith("10.") and v.islower() and " " not in v else _doi(v)
        for v in _column(records, "doi")
    ]
    pre = _preprint_re()
    preprint = np.fromiter((bool(d) and pre.match(d) is not None for d in dois), bool, n)
    pmids = [_pmid(v) for v in _column(records, "pmid")]
    volume = _first_numbers(_column(records, "volume"))
    pages = _column(records, "pages")
    page = _first_numbers(pages)
    kind = np.fromiter(
        (
            0 if not p else 1 if "-" in str(v) and _RANGE_RE.search(str(v)) else 2
            for p, v in zip(page, pages, strict=True)
        ),
        np.int64,
        n,
    )
    firsts = [
        v[0] if type(v) is list and v and type(v[0]) is str else _first_author_text(v)
        for v in _column(records, "authors")
    ]
    authors = _parse_authors(firsts)

    return _Features(
        ids=_objects([str(x) for x in _column(records, "record_id")]),
        norm=_objects(norm),
        main=_objects(main),
        ntok=ntok,
        main_ntok=main_ntok,
        tok_id=tok_id.astype(np.int64),
        owner=owner,
        numbers=_objects(numbers),
        main_numbers=_objects(main_numbers),
        sub_marked=sub_marked,
        sub_numbers=sub_numbers,
        notice=notice,
        generic=generic,
        year=year,
        family=_objects([x[0] for x in authors]),
        initial=_objects([x[1] for x in authors]),
        doi=_objects(dois),
        preprint=preprint,
        pmid=_objects(pmids),
        volume=_objects(volume),
        page=_objects(page),
        page_kind=kind,
        vocab=vocabulary,
    )


def _title_numbers(
    folded: list[str],
    norm: list[str],
    main: list[str],
    owner: np.ndarray,
    tok_id: np.ndarray,
    vocabulary: Any,
) -> tuple[list[str], list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Numbers (digits, roman numerals, "part one") and distinguishing words per title.

    Only the few titles holding a digit or one of the listed words are looked at in
    Python; the rest are ruled out by one pass over all tokens and one numpy scan.
    """
    t_rules = dedupe_rules()["title"]
    roman = {str(k): str(v) for k, v in t_rules["roman_numerals"].items()}
    markers = frozenset(t_rules["number_markers"])
    words = {str(k): str(v) for k, v in t_rules["number_words"].items()}
    notice_bits = {w: 1 << k for k, w in enumerate(t_rules["distinguishing_words"])}

    n = len(norm)
    numbers, main_numbers = [""] * n, [""] * n
    sub_marked = np.zeros(n, dtype=bool)
    sub_numbers = np.zeros(n, dtype=bool)
    notice = np.zeros(n, dtype=np.int64)
    # per vocabulary entry: its notice bit, and whether it is a roman numeral, a marker
    # word or a number word; then per token by indexing with the token ids
    vocab = list(vocabulary)
    bits = np.array([notice_bits.get(t, 0) for t in vocab], dtype=np.int64)[tok_id]
    hits = np.flatnonzero(bits)
    np.bitwise_or.at(notice, owner[hits], bits[hits])
    is_roman = np.array([t in roman for t in vocab], dtype=bool)[tok_id]
    is_marker = np.array([t in markers for t in vocab], dtype=bool)[tok_id]
    is_word = np.array([t in words for t in vocab], dtype=bool)[tok_id]
    after_marker = np.zeros(len(tok_id), dtype=bool)  # "in" mistyped "ix" is no number
    after_marker[1:] = is_marker[:-1] & (is_word | is_roman)[1:] & (owner[1:] == owner[:-1])
    flagged = set(owner[after_marker].tolist())
    raw = np.frombuffer(_REC.join(norm).encode("ascii", "replace"), dtype=np.uint8)
    digits = np.flatnonzero((raw >= 48) & (raw <= 57))
    if len(digits):
        flagged.update(
            _sorted_unique(np.searchsorted(np.flatnonzero(raw == 0x1F), digits)).tolist()
        )

    def scan(text: str) -> tuple[set[str], bool]:
        """Numbers in a title; ``marked`` when one follows a marker word ("part 2")."""
        found = {str(int(d)) for d in _DIGITS_RE.findall(text)}
        marked, prev = False, ""
        for tok in text.split():  # roman numerals and number words only after a marker
            if prev in markers and (tok[:1].isdigit() or tok in roman or tok in words):
                marked = True
                found.add(words.get(tok, roman.get(tok, "")))
            prev = tok
        found.discard("")
        return found, marked

    for k in flagged:
        found, _ = scan(norm[k])
        if not found:
            continue
        numbers[k] = " ".join(sorted(found))
        if main[k]:
            head, _ = scan(main[k])
            main_numbers[k] = " ".join(sorted(head))
            sub_found, marked = scan(folded[k].partition(_SEP)[2].replace(_SEP, " "))
            sub_numbers[k] = bool(sub_found)
            # "X, part: 2" - the marker may also end the main title
            sub_marked[k] = marked or (bool(sub_found) and main[k].rsplit(" ", 1)[-1] in markers)
    return numbers, main_numbers, sub_marked, sub_numbers, notice


def _doi(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return ""
    if value.startswith("10.") and value.islower() and " " not in value:
        return value  # already canonical, as normalise_records leaves it
    return normalise_doi(value) or ""


def _pmid(value: Any) -> str:
    if isinstance(value, str) and value.isdigit():
        return value.lstrip("0") or "0"
    if value is None or _isna(value):
        return ""
    return normalise_pmid(str(value)) or ""


def _isna(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _first_numbers(values: list[Any]) -> list[str]:
    """:func:`_first_digits` of many values; plain numbers ("12", "120-131") take a fast path."""
    heads = [v.partition("-")[0] if type(v) is str else "" for v in values]
    out = [(h.lstrip("0") or "0") if h.isdigit() else "" for h in heads]
    for k, v in enumerate(values):
        # pd.NA (a string[python] or string[pyarrow] column's missing value) has no truth
        if not out[k] and v is not None and v is not pd.NA and v == v:
            out[k] = _first_digits(v)
    return out


def _first_digits(value: Any) -> str:
    if isinstance(value, str):
        head = value.partition("-")[0]
        if head.isdigit():
            return head.lstrip("0") or "0"
    elif value is None or _isna(value):
        return ""
    else:
        value = str(value)
    m = _DIGITS_RE.search(value)
    return str(int(m.group(0))) if m else ""


# -- blocking ------------------------------------------------------------------------------


def _keyed_pairs(
    entity: np.ndarray, key: np.ndarray, secondary: np.ndarray, window: int
) -> np.ndarray:
    """Pairs of entities sharing a key, as ``lo << 32 | hi`` codes.

    All pairs inside blocks of up to ``window`` entries; inside bigger blocks only the
    pairs within ``window`` places after sorting by ``secondary`` (a sorted neighbourhood
    within the block), so a common key cannot make the pair count quadratic.
    """
    if len(entity) < 2:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((secondary, key))
    e, k = entity[order], key[order]
    out = []
    for d in range(1, window):
        if d >= len(k):
            break
        same = k[:-d] == k[d:]
        if not same.any():
            break  # blocks are contiguous: none has more than d entries
        out.append(_codes(e[:-d][same], e[d:][same]))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting (numpy 2's hash-based unique is far slower on int64 here)."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def _codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lo = np.minimum(a, b).astype(np.int64)
    hi = np.maximum(a, b).astype(np.int64)
    return ((lo << 32) | hi)[lo != hi]


def _rank(values: list[str]) -> np.ndarray:
    """Sort rank of strings (numpy's C sort of fixed-width bytes; ties keep input order)."""
    arr = _sort_bytes(values)
    rank = np.empty(len(arr), dtype=np.int64)
    rank[np.argsort(arr, kind="stable")] = np.arange(len(arr))
    return rank


def _sort_bytes(values: list[str]) -> np.ndarray:
    """What :func:`_rank` sorts: each string as ASCII bytes (``?`` for other letters), cut
    at 200 bytes."""
    width = max((len(v) for v in values), default=1) or 1
    return np.array([v.encode("ascii", "replace") for v in values], dtype=f"S{min(width, 200)}")


def _token_group_keys(f: _Features, parts: int) -> tuple[np.ndarray, np.ndarray]:
    """Pigeonhole keys: each title's tokens dealt into ``parts`` groups by position.

    Two typos touch at most two tokens, so with three groups at least one group of a
    typo'd title still equals the original's. Main titles get their own keys, so a
    title with a dropped subtitle (and a typo) still meets the full title. Keys are
    64-bit hashes of the token ids in order, computed with numpy, not in Python.
    """
    groups = _token_groups(f, parts, f.tok_id.astype(np.uint64) + np.uint64(1))
    if not groups:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
    return np.concatenate([g[1] for g in groups]), np.concatenate([g[2] for g in groups])


def _token_groups(
    f: _Features, parts: int, value: np.ndarray
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Each non-empty token group of :func:`_token_group_keys` as (slot, records, keys):
    slot ``g`` the full titles' group ``g``, ``parts + g`` the main titles'. ``value``
    is each token's 64-bit value (its id + 1 here; the cluster path's a hash of the
    token, the same in every partition)."""
    if len(f.tok_id) == 0:
        return []
    starts = np.concatenate([[0], np.cumsum(f.ntok)[:-1]])
    pos = np.arange(len(value), dtype=np.int64) - starts[f.owner]
    powers = _hash_powers()
    mult = powers[np.minimum(pos // parts, len(powers) - 1)]
    weight = value * mult
    group = pos % parts
    in_main = pos < f.main_ntok[f.owner]
    out = []
    for use_main in (False, True):
        for g in range(parts):
            # tokens are in title order, so each title's group is one contiguous run
            sel = (group == g) & in_main if use_main else group == g
            owner = f.owner[sel]
            if len(owner) == 0:
                continue
            first = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
            h = np.add.reduceat(weight[sel], first)
            key = h * np.uint64(0x9E3779B97F4A7C15) + np.uint64(g)
            out.append((use_main * parts + g, owner[first], key))
    return out


@cache
def _hash_powers() -> np.ndarray:
    """Powers of the 64-bit FNV prime: a token's place in its group changes the hash."""
    return np.array([pow(0x100000001B3, k, 2**64) for k in range(64)], dtype=np.uint64)


def _candidates(
    f: _Features, counts: dict[str, int], sources: dict[str, np.ndarray] | None = None
) -> np.ndarray:
    """Candidate pairs for title matching, from complementary blocking keys.

    1. the same title (spaces removed), or a main title equal to another full title
       (catches case, punctuation, markup and spacing differences, dropped subtitles);
    2. the same tokens in one of three position groups (typos, with or without a
       dropped subtitle);
    3. the same first or last characters (typos elsewhere, moved token boundaries);
    4. sorted neighbourhoods of the title and of the reversed title (the rest).

    Big blocks are walked in a window after sorting by first author and year, so
    candidates grow linearly with the records, not quadratically. ``sources``, if
    given, receives each key's pairs (to measure what each key contributes).
    """
    b = dedupe_rules()["blocking"]
    window, sn_window = int(b["window"]), int(b["neighbourhood_window"])
    n = len(f)
    idx = np.arange(n, dtype=np.int64)
    titled = idx[f.norm != ""]
    with_main = idx[f.main != ""]
    compact = [t.replace(" ", "") for t in f.norm]
    main_compact = [f.main[i].replace(" ", "") for i in with_main]
    # inside a big block, sort by first author, then year: duplicates share the first
    # author more reliably than the year (online-first vs print, missing years)
    fam_rank = pd.factorize(f.family, sort=True)[0]
    secondary = fam_rank * 10_000 + (f.year + 1)
    found: list[np.ndarray] = []

    def add(name: str, pairs: np.ndarray) -> None:
        found.append(pairs)
        counts[f"blocking_{name}"] = len(pairs)
        if sources is not None:
            sources[name] = pairs

    # 1. exact title, and main title <-> full title
    ent = np.concatenate([titled, with_main])
    keys = pd.factorize(_objects([compact[i] for i in titled] + main_compact))[0]
    add("exact_title", _keyed_pairs(ent, keys, secondary[ent], window))

    # 2. token groups
    ent, hashes = _token_group_keys(f, int(b["token_groups"]))
    keys = pd.factorize(hashes)[0]
    add("token_groups", _keyed_pairs(ent, keys, secondary[ent], int(b["token_window"])))

    # 3. the first and the last characters of the title (or main title): typos in the
    # middle of a title, or token boundaries moved ("i nimproving")
    affix, token_window = int(b["affix_chars"]), int(b["token_window"])
    strings = [compact[i] for i in titled] + main_compact
    ent = np.concatenate([titled, with_main])
    for name, affixes in (
        ("start", [t[:affix] for t in strings]),
        ("end", [t[-affix:] for t in strings]),
    ):
        codes = pd.factorize(_objects(affixes))[0]
        add(f"title_{name}", _keyed_pairs(ent, codes, secondary[ent], token_window))

    # 4. sorted neighbourhoods: title and reversed title
    zeros = np.zeros(len(titled), dtype=np.int64)
    add(
        "neighbourhood_title",
        _keyed_pairs(titled, zeros, _rank([compact[i] for i in titled]), sn_window),
    )
    rev = _rank([compact[i][::-1] for i in titled])
    add("neighbourhood_reversed", _keyed_pairs(titled, zeros, rev, sn_window))

    codes = _sorted_unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
    counts["candidates"] = len(codes)
    return codes


# -- scoring -----------------------------------------------------------------------------


def _ratios(left: np.ndarray, right: np.ndarray, scorer: Any = fuzz.ratio) -> np.ndarray:
    """Pairwise similarities (0-100) of two equally long string arrays, in C."""
    if len(left) == 0:
        return np.zeros(0, dtype=np.float64)
    return process.cpdist(list(left), list(right), scorer=scorer, workers=1).astype(np.float64)


def _author_match(f: _Features, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 same first author, 0 different, -1 unknown (one side has no authors).

    Family names match when equal after folding, when rapidfuzz says so (typos,
    transliterations) or when one ends with the other ("Berg" / "van der Berg");
    then first initials must not differ ("Khoury, A." is not "Khoury, P.").
    """
    fa, fb = f.family[a], f.family[b]
    known = (fa != "") & (fb != "")
    same = known & (fa == fb)
    check = np.flatnonzero(known & ~same)
    if len(check):
        threshold = float(dedupe_rules()["matching"]["author_threshold"])
        close = _ratios(fa[check], fb[check]) >= threshold
        for k, (x, y) in enumerate(zip(fa[check], fb[check], strict=True)):
            if not close[k] and min(len(x), len(y)) >= 4 and (x.endswith(y) or y.endswith(x)):
                close[k] = True
        same[check] = close
    ia, ib = f.initial[a], f.initial[b]
    same &= (ia == "") | (ib == "") | (ia == ib)
    return np.where(~known, -1, np.where(same, 1, 0)).astype(np.int64)


def _year_diff(f: _Features, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ya, yb = f.year[a], f.year[b]
    return np.where((ya >= 0) & (yb >= 0), np.abs(ya - yb), -1)


def _bibliographic(f: _Features, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(conflict, agreement) of volume and first page where both records have them.

    A page range and an article number ("e0123") are not compared: databases give
    either for the same paper.
    """
    va, vb, pa, pb = f.volume[a], f.volume[b], f.page[a], f.page[b]
    conflict = ((va != "") & (vb != "") & (va != vb)) | (
        (pa != "") & (pb != "") & (f.page_kind[a] == f.page_kind[b]) & (pa != pb)
    )
    agree = (va != "") & (va == vb) & (pa != "") & (pa == pb)
    return conflict, agree


@dataclass
class _Pairs:
    """Matched or rejected pairs as parallel arrays (record indices, not ids)."""

    a: np.ndarray
    b: np.ndarray
    rule: str
    score: np.ndarray
    title_score: np.ndarray
    author: np.ndarray
    year_diff: np.ndarray
    note: np.ndarray

    @classmethod
    def empty(cls, rule: str) -> _Pairs:
        ints = np.zeros(0, dtype=np.int64)
        floats = np.zeros(0)
        return cls(ints, ints, rule, floats, floats, ints, ints, _objects([]))

    def take(self, mask: np.ndarray) -> _Pairs:
        return _Pairs(
            self.a[mask],
            self.b[mask],
            self.rule,
            self.score[mask],
            self.title_score[mask],
            self.author[mask],
            self.year_diff[mask],
            self.note[mask],
        )

    def __len__(self) -> int:
        return len(self.a)


def _notice_words(mask: int) -> str:
    words = dedupe_rules()["title"]["distinguishing_words"]
    return ", ".join(w for k, w in enumerate(words) if mask & (1 << k))


def _identifier_pairs(
    f: _Features, key: np.ndarray, rule: str, completeness: np.ndarray, constrained: np.ndarray
) -> tuple[_Pairs, _Pairs]:
    """Records sharing an identifier, each linked to the best record holding it.

    The best record (not under a reviewer's cannot-link, no erratum/reply word, most
    complete) is the centre of the star, so a notice that carries its parent's DOI, or
    a record a reviewer split off, cannot cut the others apart. A shared
    identifier is overruled only by clear evidence of two documents: a notice word in
    one title only *and* a different year, volume or page (an erratum filed under its
    paper's DOI), or unrelated titles *and* first authors (chapters of one book).
    """
    idx = np.flatnonzero(key != "")
    if len(idx) < 2:
        return _Pairs.empty(rule), _Pairs.empty(rule)
    codes = pd.factorize(key[idx])[0]
    order = np.lexsort((-completeness[idx], f.notice[idx] != 0, constrained[idx], codes))
    idx, codes = idx[order], codes[order]
    first = np.r_[True, codes[1:] != codes[:-1]]
    centre = idx[np.maximum.accumulate(np.where(first, np.arange(len(idx)), 0))]
    a, b = centre[~first], idx[~first]
    title_score = np.full(len(a), np.nan)
    both = (f.norm[a] != "") & (f.norm[b] != "")
    title_score[both] = _ratios(f.norm[a][both], f.norm[b][both])
    overlap = np.full(len(a), 100.0)
    overlap[both] = _ratios(f.norm[a][both], f.norm[b][both], fuzz.token_set_ratio)
    author = _author_match(f, a, b)
    dy = _year_diff(f, a, b)
    conflict, _ = _bibliographic(f, a, b)
    floor = float(dedupe_rules()["matching"]["doi_title_floor"])
    note = _objects([""] * len(a))
    label = "DOI" if rule == "doi" else "PMID"
    for k in np.flatnonzero((f.notice[a] != f.notice[b]) & (conflict | (dy > 0))):
        words = _notice_words(int(f.notice[a[k]] ^ f.notice[b[k]]))
        note[k] = f"same {label}, but a notice about the paper ({words}; other year or pages)"
    for k in np.flatnonzero((note == "") & both & (overlap < floor) & (author == 0)):
        note[k] = f"same {label}, but unrelated titles and first authors (e.g. book chapters)"
    pairs = _Pairs(a, b, rule, np.full(len(a), 100.0), title_score, author, dy, note)
    bad = note != ""
    accepted = pairs.take(~bad)
    accepted.note = _objects([""] * len(accepted))
    return accepted, pairs.take(bad)


def _words_differ(x: str, y: str, notice: int) -> tuple[str, bool]:
    """How two similar titles differ in their words.

    Returns the first word of four or more letters that one title has and the other
    lacks even as a typo or a split/joined form (``""`` if none: the titles differ by
    typos only), and whether a notice word present in one title only is really
    missing from the other (``False`` when the other has it misspelt: "protocl").
    """
    xs, ys = set(x.split()), set(y.split())
    only_x, only_y = xs - ys, ys - xs
    lone = ""
    for mine, theirs in ((only_x, ys), (only_y, xs)):
        for word in sorted(mine):
            if len(word) < 4 or word.isdigit():
                continue
            if not any(  # a typo, or a word split or joined ("primar ycare", "health care")
                (len(other) >= 4 and (word in other or other in word))
                or fuzz.ratio(word, other) >= 75
                for other in theirs
            ):
                lone = word
                break
        if lone:
            break
    really = True
    if notice:
        missing = [w for w in _notice_words(notice).split(", ") if w]
        really = any(
            not any(fuzz.ratio(w, t) >= 80 for t in (only_y if w in xs else only_x))
            for w in missing
        )
    return lone, really


def _worth_scoring(
    f: _Features, a: np.ndarray, b: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(which candidate pairs can match at all, year difference, a's main title may stand
    for b's title, b's for a's): years at most one apart and lengths close enough."""
    length = np.fromiter((len(t) for t in f.norm), np.int64, len(f))
    main_len = np.fromiter((len(t) for t in f.main), np.int64, len(f))
    return _worth_scoring_by_length(f.year, length, main_len, a, b, threshold)


def _worth_scoring_by_length(
    year: np.ndarray,
    length: np.ndarray,
    main_len: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    threshold: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_worth_scoring` from the records' years and title and main title lengths
    (all it reads: the Dask path filters candidates with these alone)."""
    ya, yb = year[a], year[b]
    dy = np.where((ya >= 0) & (yb >= 0), np.abs(ya - yb), -1)

    def reachable(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Indel ratio can reach the threshold only if the lengths are close enough."""
        return 200.0 * np.minimum(x, y) >= threshold * (x + y)

    la, lb, ma, mb = length[a], length[b], main_len[a], main_len[b]
    sub_a = (ma > 0) & (mb == 0)  # a's main title may stand for b's whole title
    sub_b = (mb > 0) & (ma == 0)
    keep = (dy <= 1) & (la > 0) & (lb > 0)
    keep &= reachable(la, lb) | (sub_a & reachable(ma, lb)) | (sub_b & reachable(la, mb))
    return keep, dy, sub_a, sub_b


def _title_pairs(
    f: _Features, codes: np.ndarray, threshold: float, counts: dict[str, int]
) -> tuple[_Pairs, _Pairs]:
    """Score candidate pairs and apply the title + year + first-author rules."""
    m = dedupe_rules()["matching"]
    strong = max(float(m["strong_title_threshold"]), threshold)
    a = (codes >> 32).astype(np.int64)
    b = (codes & 0xFFFFFFFF).astype(np.int64)
    keep, dy, sub_a, sub_b = _worth_scoring(f, a, b, threshold)
    a, b, dy, sub_a, sub_b = a[keep], b[keep], dy[keep], sub_a[keep], sub_b[keep]
    counts["scored"] = len(a)

    full = _ratios(f.norm[a], f.norm[b])
    sub = np.zeros(len(a))
    sub[sub_a] = _ratios(f.main[a[sub_a]], f.norm[b[sub_a]])
    sub[sub_b] = _ratios(f.norm[a[sub_b]], f.main[b[sub_b]])
    score = np.maximum(full, sub)
    hit = score >= threshold
    a, b, dy, full, sub, score = a[hit], b[hit], dy[hit], full[hit], sub[hit], score[hit]
    sub_a, sub_b = sub_a[hit], sub_b[hit]
    used_sub = sub > full
    side = np.where(used_sub & sub_a, a, b)  # the record whose subtitle was dropped
    other = np.where(used_sub & sub_a, b, a)
    author = _author_match(f, a, b)

    numbers_differ = np.where(
        used_sub, f.main_numbers[side] != f.numbers[other], f.numbers[a] != f.numbers[b]
    )
    da, db = f.doi[a], f.doi[b]
    dois_differ = (da != "") & (db != "") & (da != db)
    preprint_pair = dois_differ & (f.preprint[a] ^ f.preprint[b])
    bib_conflict, bib_same = _bibliographic(f, a, b)
    compared = np.where(used_sub, f.main[side], f.norm[other])
    short_chars = int(m["short_title_chars"])
    short = (np.minimum(f.ntok[a], f.ntok[b]) < int(m["short_title_tokens"])) | np.fromiter(
        (len(t) < short_chars for t in compared), bool, len(a)
    )
    strict = (dy == 0) & (author == 1)
    exact = (score >= 100.0) & strict
    # word-level differences: a whole word swapped ("in Kenya" / "in Peru") is a
    # different paper unless volume, page, year and first author all agree
    lone = _objects([""] * len(a))
    notice_xor = f.notice[a] ^ f.notice[b]
    notice_real = notice_xor != 0
    cut = np.zeros(len(a), dtype=bool)  # one title is the other cut short by a database
    min_cut = int(m["truncated_title_chars"])
    for k in range(len(a)):
        x = f.norm[other[k]] if used_sub[k] else f.norm[a[k]]
        y = f.main[side[k]] if used_sub[k] else f.norm[b[k]]
        lone[k], really = _words_differ(x, y, int(notice_xor[k]))
        notice_real[k] = notice_real[k] and really
        short_one, long_one = (x, y) if len(x) <= len(y) else (y, x)
        cut[k] = len(short_one) >= min_cut and long_one.startswith(short_one)
    vouched = bib_same & strict  # the bibliographic record says it is one paper
    cut &= (dy == 0) & (author != 0)

    note = _objects([""] * len(a))

    def veto(mask: np.ndarray, reason: Any) -> None:
        for k in np.flatnonzero(mask & (note == "")):
            note[k] = reason(k) if callable(reason) else reason

    veto(dois_differ & ~preprint_pair, lambda k: f"different DOIs ({da[k]} / {db[k]})")
    veto(
        notice_real & ~(used_sub & vouched),
        lambda k: (
            f"a notice or protocol word in one title only ({_notice_words(int(notice_xor[k]))})"
        ),
    )
    veto(
        numbers_differ,
        lambda k: (
            f"different numbers in the titles ({f.numbers[a[k]] or '-'} / {f.numbers[b[k]] or '-'})"
        ),
    )
    veto(
        used_sub & f.sub_marked[side] & ~vouched,
        "the shorter title lacks a numbered part (Part 2, Phase II)",
    )
    veto(
        bib_conflict,
        lambda k: (
            f"different volume or first page ({f.volume[a[k]]}:{f.page[a[k]]}"
            f" / {f.volume[b[k]]}:{f.page[b[k]]})"
        ),
    )
    veto(
        author == 0,
        lambda k: (
            "different first authors ("
            f"{f.family[a[k]]} {f.initial[a[k]]} / {f.family[b[k]]} {f.initial[b[k]]})"
        ),
    )
    veto((lone != "") & ~vouched & ~cut, lambda k: f"a word in one title only ({lone[k]})")
    veto(
        (f.generic[a] | f.generic[b]) & ~(exact & bib_same),
        "generic title without the same volume and page",
    )
    veto(short & ~exact, "short title: needs the exact title, same year and first author")
    veto(
        used_sub & f.sub_numbers[side] & ~strict,
        "dropped subtitle has numbers: needs the same year and first author",
    )
    veto(
        (dy == 1) & ~((score >= strong) & (author == 1)),
        f"years one apart: needs title >= {strong:g} and the same first author",
    )
    veto(
        (dy < 0) & ~((score >= strong) & (author != 0)),
        f"a year is missing: needs title >= {strong:g}",
    )

    accepted = note == ""
    for k in np.flatnonzero(accepted):
        bits = []
        if used_sub[k]:
            bits.append("subtitle dropped on one side")
        elif cut[k] and lone[k]:
            bits.append("one title cut short")
        if dy[k] == 1:
            bits.append("years one apart")
        elif dy[k] < 0:
            bits.append("year missing")
        if author[k] < 0:
            bits.append("authors missing")
        if preprint_pair[k]:
            bits.append("preprint and published version")
        note[k] = "; ".join(bits)
    pairs = _Pairs(a, b, "title+year+author", score, full, author, dy, note)
    order = np.argsort(-score, kind="stable")
    pairs = pairs.take(order)
    accepted = accepted[order]
    counts["title_matches"] = int(accepted.sum())
    return pairs.take(accepted), pairs.take(~accepted)


# -- grouping ------------------------------------------------------------------------------


class _UnionFind:
    """Union-find that refuses unions a group could not survive.

    A union is refused when it would put two records a reviewer said differ into one
    group (``cannot``: record -> records it may never join), or when both groups carry
    DOIs and none is shared (``dois``: record -> its DOI, preprints left out), so a
    DOI-less record or a preprint cannot chain two different papers together.
    """

    def __init__(self, n: int, cannot: dict[int, set[int]], dois: dict[int, str]) -> None:
        self.parent = list(range(n))
        self.cannot = cannot  # root -> records that may never join its group
        self.dois = {k: {d} for k, d in dois.items()}  # root -> DOIs in its group

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> str:
        """``""`` if joined (or already one group), else why the union was refused."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ""
        ca, cb = self.cannot.get(ra), self.cannot.get(rb)
        if (ca and any(self.find(x) == rb for x in ca)) or (
            cb and any(self.find(x) == ra for x in cb)
        ):
            return "kept apart: a reviewer said these records differ"
        da, db = self.dois.get(ra), self.dois.get(rb)
        if da and db and da.isdisjoint(db):
            return "kept apart: the groups hold different DOIs"
        self.parent[rb] = ra
        if cb:
            self.cannot[ra] = (ca or set()) | self.cannot.pop(rb)
        if db:
            self.dois[ra] = (da or set()) | self.dois.pop(rb)
        return ""

    def roots(self) -> np.ndarray:
        return np.fromiter(
            (self.find(x) for x in range(len(self.parent))), np.int64, len(self.parent)
        )


def _union(
    f: _Features,
    records: pd.DataFrame,
    cannot: dict[int, set[int]],
    constrained: np.ndarray,
    parts: list[_Pairs],
) -> tuple[np.ndarray, list[_Pairs], list[_Pairs]]:
    """Join accepted pairs into groups: (group root per record, joined, refused pairs).

    Strongest evidence first (``parts`` in order: DOI, PMID, titles by score). Pairs
    touching a record under a reviewer's cannot-link come last, most alike first, so a
    new copy joins the side of a split it resembles most and the split holds.
    """
    dois = {k: d for k, d in enumerate(f.doi.tolist()) if d and not f.preprint[k]}
    return _join(len(f), dois, cannot, constrained, parts, lambda a, b: _affinity(records, a, b))


def _join(
    n: int,
    dois: dict[int, str],
    cannot: dict[int, set[int]],
    constrained: np.ndarray,
    parts: list[_Pairs],
    affinity: Any,
) -> tuple[np.ndarray, list[_Pairs], list[_Pairs]]:
    """:func:`_union` given the records' DOIs (preprints left out) and the tie-breaker
    ``affinity(a, b)`` of the pairs under a cannot-link: the Dask path joins here too."""
    uf = _UnionFind(n, cannot, dois)
    stages = []
    for late in (False, True):
        for part in parts:
            touch = constrained[part.a] | constrained[part.b]
            part = part.take(touch if late else ~touch)
            if late and len(part) > 1:
                part = part.take(np.argsort(-affinity(part.a, part.b), kind="stable"))
            stages.append(part)
    accepted, refused = [], []
    for part in stages:
        why = _objects(
            [uf.union(x, y) for x, y in zip(part.a.tolist(), part.b.tolist(), strict=True)]
        )
        ok = why == ""
        accepted.append(part.take(ok))
        if not ok.all():
            bad = part.take(~ok)
            bad.note = why[~ok]
            refused.append(bad)
    return uf.roots(), accepted, refused


def _affinity(records: pd.DataFrame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How alike two records are as exported (raw title, authors, venue): a tie-breaker."""
    cols = {c: _column(records, c) for c in ("title", "authors", "venue", "year")}
    out = np.zeros(len(a))
    for k, (x, y) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
        tx, ty = cols["title"][x], cols["title"][y]
        out[k] = fuzz.ratio(tx, ty) if isinstance(tx, str) and isinstance(ty, str) else 0
        for col in ("authors", "venue", "year"):
            vx, vy = cols[col][x], cols[col][y]
            if isinstance(vx, list | str | int) and type(vx) is type(vy) and vx == vy:
                out[k] += 100
    return out


#: The fields whose presence weighs in a record's completeness: DOI, abstract and PMID
#: with their own weights (dedupe.yml), the rest with ``field``'s. A reader of the store's
#: records for deduplication reads these (synth.distributed.dedupe).
COMPLETENESS_FIELDS: tuple[str, ...] = (
    "doi", "abstract", "pmid", "title", "authors", "year", "venue", "volume", "issue",
    "pages", "publisher", "url", "keywords", "language", "pub_type",
)  # fmt: skip
_OWN_WEIGHT = ("doi", "abstract", "pmid")


def _completeness(records: pd.DataFrame) -> np.ndarray:
    """How complete each record is: DOI, abstract and PMID weigh most, then every field."""
    w = dedupe_rules()["completeness"]
    weights = {c: w[c] if c in _OWN_WEIGHT else w["field"] for c in COMPLETENESS_FIELDS}
    total = np.zeros(len(records), dtype=np.int64)
    for col, weight in weights.items():
        if col in records.columns:
            total += int(weight) * _present(records[col])
    return total


def _present(column: pd.Series) -> np.ndarray:
    """1 where a value is there: not missing, not an empty string or list."""
    if column.name in LIST_COLUMNS:
        values = column.to_numpy(dtype=object, na_value=None)
        return np.fromiter(
            (len(v) > 0 if isinstance(v, _SEQUENCES) else 0 for v in values),
            np.int64,
            len(values),
        )
    present = column.notna().to_numpy().copy()
    if isinstance(column.dtype, pd.StringDtype):
        # lengths from the column's own storage (Arrow's in C): no string is built, where
        # the values as objects copy every abstract
        present &= column.str.len().fillna(0).to_numpy(dtype=np.int64) > 0
    elif column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
        present &= column.to_numpy(dtype=object, na_value=None) != ""
    return present.astype(np.int64)


#: Every column :func:`dedupe` reads: a record's id, the fields it scores (title, year,
#: authors, DOI, PMID, volume, pages), those :func:`_affinity` compares (venue) and those
#: only weighed in :func:`_completeness` for being there. What :func:`dedupe_inputs` keeps.
DEDUPE_COLUMNS: tuple[str, ...] = ("record_id", *COMPLETENESS_FIELDS)
_PRESENT_LIST: list[str] = ["x"]
_ABSENT_LIST: list[str] = []


def dedupe_inputs(records: pd.DataFrame) -> pd.DataFrame:
    """``records`` cut to what :func:`dedupe` reads of them, with the same result: only
    :data:`DEDUPE_COLUMNS`, and the abstract and keywords (read only by
    :func:`_completeness`, for being there: :func:`_present`) reduced to a placeholder
    where present, None or an empty list where not. A fraction of the records to send to
    another process (at 100,000 records the abstracts are 150 MB of text).

    Relies on nothing but :func:`_completeness` reading these two columns: a rule that
    reads an abstract's or keyword's text must stop reducing it here.
    """
    slim = records[[c for c in DEDUPE_COLUMNS if c in records.columns]]
    if "abstract" in slim.columns:
        has = _present(slim["abstract"]) > 0
        slim = slim.assign(abstract=np.where(has, "x", None))
    if "keywords" in slim.columns:  # one list object each way: pickled once
        has = _present(slim["keywords"]) > 0
        slim = slim.assign(keywords=[_PRESENT_LIST if h else _ABSENT_LIST for h in has.tolist()])
    return slim


def _groups_frame(ids: np.ndarray, roots: np.ndarray, completeness: np.ndarray) -> pd.DataFrame:
    """One row per record: its group (named by the kept record) and whether it is kept."""
    n = len(ids)
    size = np.bincount(roots, minlength=n)
    group_id = ids.copy()
    is_kept = np.ones(n, dtype=bool)
    members: dict[int, list[int]] = {}
    for k in np.flatnonzero(size[roots] > 1).tolist():
        members.setdefault(int(roots[k]), []).append(k)
    for group in members.values():
        kept = min(group, key=lambda k: (-completeness[k], ids[k]))
        for k in group:
            group_id[k] = ids[kept]
            is_kept[k] = k == kept
    return pd.DataFrame(
        {"record_id": ids, "group_id": group_id, "is_kept": is_kept, "completeness": completeness},
        columns=GROUP_COLUMNS,
    )


def _pairs_frame(ids: np.ndarray, parts: list[_Pairs]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty_pairs()
    author = np.concatenate([p.author for p in parts])
    year = np.concatenate([p.year_diff for p in parts]).astype(np.float64)
    year[year < 0] = np.nan
    frame = pd.DataFrame(
        {
            "record_a": ids[np.concatenate([p.a for p in parts])],
            "record_b": ids[np.concatenate([p.b for p in parts])],
            "rule": np.concatenate([np.full(len(p), p.rule, dtype=object) for p in parts]),
            "score": np.round(np.concatenate([p.score for p in parts]), 2),
            "title_score": np.round(np.concatenate([p.title_score for p in parts]), 2),
            "author_match": _objects([None if x < 0 else bool(x) for x in author.tolist()]),
            "year_diff": year,
            "note": np.concatenate([p.note for p in parts]),
        },
        columns=PAIR_COLUMNS,
    )
    swap = frame["record_a"].to_numpy(dtype=object) > frame["record_b"].to_numpy(dtype=object)
    if swap.any():
        frame.loc[swap, ["record_a", "record_b"]] = frame.loc[
            swap, ["record_b", "record_a"]
        ].to_numpy()
    return frame


def _empty_pairs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_a": pd.Series([], dtype=object),
            "record_b": pd.Series([], dtype=object),
            "rule": pd.Series([], dtype=object),
            "score": pd.Series([], dtype=np.float64),
            "title_score": pd.Series([], dtype=np.float64),
            "author_match": pd.Series([], dtype=object),
            "year_diff": pd.Series([], dtype=np.float64),
            "note": pd.Series([], dtype=object),
        },
        columns=PAIR_COLUMNS,
    )


def _cannot_links(
    ids: list[str], cannot_link: Iterable[tuple[str, str]]
) -> tuple[dict[int, set[int]], np.ndarray]:
    """A reviewer's cannot-links by record position, and which records they touch."""
    position = {rid: k for k, rid in enumerate(ids)}
    cannot: dict[int, set[int]] = {}
    for x, y in cannot_link:
        i, j = position.get(str(x)), position.get(str(y))
        if i is None or j is None or i == j:
            log.debug("cannot-link pair %s / %s: not both among the records", x, y)
            continue
        cannot.setdefault(i, set()).add(j)
        cannot.setdefault(j, set()).add(i)
    constrained = np.zeros(len(ids), dtype=bool)
    constrained[list(cannot)] = True
    return cannot, constrained


def _result_frames(
    ids: np.ndarray,
    roots: np.ndarray,
    completeness: np.ndarray,
    accepted: list[_Pairs],
    rejected_parts: list[_Pairs],
    counts: dict[str, int],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(groups, pairs, rejected) of a :class:`DedupeResult` from the joined groups; their
    totals go into ``counts``."""
    groups = _groups_frame(ids, roots, completeness)
    pairs = _pairs_frame(ids, accepted)
    rejected = _pairs_frame(ids, rejected_parts)
    # one row per pair: the strongest evidence (DOI, PMID, title) and, if the pair was
    # matched at all, no rejection row besides it
    pairs = pairs.drop_duplicates(["record_a", "record_b"]).reset_index(drop=True)
    rejected = rejected.drop_duplicates(["record_a", "record_b"])
    matched = set(zip(pairs["record_a"], pairs["record_b"], strict=True))
    keep = [
        (x, y) not in matched
        for x, y in zip(rejected["record_a"], rejected["record_b"], strict=True)
    ]
    rejected = rejected[np.array(keep, dtype=bool)].reset_index(drop=True)
    counts.update(
        pairs_doi=int((pairs["rule"] == "doi").sum()),
        pairs_pmid=int((pairs["rule"] == "pmid").sum()),
        pairs_title=int((pairs["rule"] == "title+year+author").sum()),
        rejected=len(rejected),
        groups=int(groups["group_id"].nunique()),
        duplicates=int((~groups["is_kept"]).sum()),
    )
    return groups, pairs, rejected


# -- public entry points -------------------------------------------------------------------


def dedupe(
    records: pd.DataFrame,
    *,
    threshold: float | None = None,
    progress: bool = False,
    cannot_link: Iterable[tuple[str, str]] = (),
) -> DedupeResult:
    """Group duplicate records; every record keeps its row and its group's evidence.

    Parameters
    ----------
    records
        Canonical records (:data:`synth.corpus.model.RECORD_COLUMNS`); only
        ``record_id`` is required, other missing columns count as empty.
    threshold
        Title similarity (0-100) needed for same-year records; default from
        ``dedupe.yml`` (90). Weaker evidence (years one apart, a missing year) needs at
        least ``strong_title_threshold`` (95).
    progress
        Show a progress bar over the stages.
    cannot_link
        Pairs of record ids a reviewer has said are different papers. They are never
        placed in one group, not even through a third record matching both.

    Returns
    -------
    DedupeResult
    """
    if "record_id" not in records.columns:
        raise KeyError("records need a record_id column")
    ids_list = [str(x) for x in records["record_id"].tolist()]
    if len(set(ids_list)) != len(ids_list):
        repeated = sorted(k for k, v in Counter(ids_list).items() if v > 1)
        raise ValueError(f"record ids must be unique; repeated: {', '.join(repeated[:5])}")
    rules = dedupe_rules()["matching"]
    threshold = float(rules["title_threshold"] if threshold is None else threshold)
    if not ids_list:
        empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in GROUP_COLUMNS})
        empty = empty.astype({"is_kept": bool, "completeness": np.int64})
        return DedupeResult(empty, _empty_pairs(), _empty_pairs(), {}, {"records": 0})
    timings: dict[str, float] = {}
    counts: dict[str, int] = {"records": len(records)}
    bar = progress_bar(total=5, desc="dedupe", disable=not progress, leave=False)
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 4)
        clock = now
        bar.update(1)
        bar.set_postfix_str(stage)

    cannot, constrained = _cannot_links(ids_list, cannot_link)

    f = _features(records)
    completeness = _completeness(records)
    lap("features")
    doi_ok, doi_bad = _identifier_pairs(f, f.doi, "doi", completeness, constrained)
    pmid_ok, pmid_bad = _identifier_pairs(f, f.pmid, "pmid", completeness, constrained)
    lap("identifiers")
    codes = _candidates(f, counts)
    lap("blocking")
    title_ok, title_bad = _title_pairs(f, codes, threshold, counts)
    lap("scoring")

    roots, accepted, refused = _union(f, records, cannot, constrained, [doi_ok, pmid_ok, title_ok])
    groups, pairs, rejected = _result_frames(
        f.ids, roots, completeness, accepted, [*refused, doi_bad, pmid_bad, title_bad], counts
    )
    lap("grouping")
    bar.close()
    timings["total"] = round(sum(timings.values()), 4)
    log.info(
        "dedupe: %d records, %d duplicates in %.2f s (%s)",
        len(records),
        counts["duplicates"],
        timings["total"],
        ", ".join(f"{k} {v:.2f}s" for k, v in timings.items() if k != "total"),
    )
    return DedupeResult(groups, pairs, rejected, timings, counts)


def split_group(result: DedupeResult, record_ids: Iterable[str]) -> DedupeResult:
    """Take ``record_ids`` out of their group: a reviewer's correction (a pure function).

    The named records form a group of their own. The rest of the old group is regrouped
    from the pairs left between its members, so a group that only held together through
    a split record falls apart as it should. Pairs across the split move to ``rejected``.
    """
    ids = list(dict.fromkeys(str(r) for r in record_ids))
    if not ids:
        raise ValueError("name at least one record id to split off")
    groups = result.groups
    known = set(groups["record_id"])
    missing = [r for r in ids if r not in known]
    if missing:
        raise KeyError(f"not among the deduplicated records: {', '.join(missing)}")
    rows = groups[groups["record_id"].isin(ids)]
    gids = rows["group_id"].unique().tolist()
    if len(gids) > 1:
        raise ValueError(
            f"records from different groups ({', '.join(map(str, gids))}); "
            "split one group at a time"
        )
    in_group = groups["group_id"] == gids[0]
    members = groups.loc[in_group, "record_id"].tolist()
    split = set(ids)
    rest = [r for r in members if r not in split]
    if not rest:
        return replace(result)  # the whole group: nothing to split

    pairs = result.pairs
    pa, pb = pairs["record_a"], pairs["record_b"]
    crossing = (pa.isin(split) & pb.isin(rest)) | (pb.isin(split) & pa.isin(rest))
    moved = pairs[crossing].copy()
    moved["note"] = "split by a reviewer"
    new_pairs = pairs[~crossing].reset_index(drop=True)
    new_rejected = (
        pd.concat([result.rejected, moved], ignore_index=True)
        if len(moved)
        else result.rejected.copy()
    )

    # regroup the rest from the pairs among its members
    local = {r: k for k, r in enumerate(rest)}
    uf = _UnionFind(len(rest), {}, {})
    inside = new_pairs[pa[~crossing].isin(local).to_numpy() & pb[~crossing].isin(local).to_numpy()]
    for x, y in zip(inside["record_a"], inside["record_b"], strict=True):
        uf.union(local[x], local[y])
    roots = uf.roots()
    completeness = dict(zip(groups["record_id"], groups["completeness"], strict=True))

    def best(group: list[str]) -> str:
        return min(group, key=lambda r: (-completeness[r], r))

    new_group: dict[str, str] = {}
    kept_split = best(ids)
    new_group.update({r: kept_split for r in ids})
    by_root: dict[int, list[str]] = {}
    for r, root in zip(rest, roots.tolist(), strict=True):
        by_root.setdefault(root, []).append(r)
    for group in by_root.values():
        kept = best(group)
        new_group.update({r: kept for r in group})

    new_groups = groups.copy()
    member_ids = new_groups.loc[in_group, "record_id"]
    new_groups.loc[in_group, "group_id"] = member_ids.map(new_group).to_numpy()
    new_groups.loc[in_group, "is_kept"] = (member_ids.map(new_group) == member_ids).to_numpy()
    counts = dict(result.counts)
    counts["duplicates"] = int((~new_groups["is_kept"]).sum())
    counts["groups"] = int(new_groups["group_id"].nunique())
    return DedupeResult(new_groups, new_pairs, new_rejected, dict(result.timings), counts)


def cannot_links_for_split(
    result: DedupeResult, record_ids: Iterable[str]
) -> list[tuple[str, str]]:
    """The cannot-link pairs that make a split survive a later :func:`dedupe` run."""
    ids = list(dict.fromkeys(str(r) for r in record_ids))
    groups = result.groups
    gid = groups.loc[groups["record_id"].isin(ids), "group_id"].unique().tolist()
    members = groups.loc[groups["group_id"].isin(gid), "record_id"].tolist()
    split = set(ids)
    return [(x, y) for x in ids for y in members if y not in split]
