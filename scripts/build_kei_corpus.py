#!/usr/bin/env python
"""Build the bundled corpus ``corpus/kei-2020/`` from the seed texts.

The KEI review "Co-production & Quality Improvement" (NHS England and NHS Improvement,
September 2020) is the seed of the bundled review. This script parses its plain text into

* ``references.bib``: the 64 references of its reference list,
* ``extracts/<key>.md``: every passage of the review that cites one of them,
* ``review.yml``: questions, criteria, the figures the review states, and its themes,
* ``fulltexts/<key>.md``: the four other seed texts as full-text documents,
* ``README.md``: what the corpus is and the counts this build produced.

Nothing the text holds is typed by hand: ``scripts/kei_seed_metadata.yml`` holds only the
facts the texts do not state and the ids the build attaches to what it parses. The output is
deterministic, so ``tests/test_kei_corpus_build.py`` can require that a fresh build equals the
committed files byte for byte (the committed files are never edited by hand).

Usage::

    python scripts/build_kei_corpus.py [--seeds DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

log = logging.getLogger("build_kei_corpus")

ROOT = Path(__file__).resolve().parent.parent
METADATA = Path(__file__).resolve().with_name("kei_seed_metadata.yml")
#: The cues for each criterion (the review gives the criteria, not the words to find them by)
CRITERIA_CUES = Path(__file__).resolve().with_name("kei_criteria_cues.yml")
DEFAULT_SEEDS = ROOT.parent / "shared" / "seeds"
DEFAULT_OUT = ROOT / "corpus" / "kei-2020"

MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
QUOTE_PAIRS = {"”": "“", "’": "‘", '"': '"'}
QUOTE_CHARS = "'\"‘’“”"
HONORIFICS = {"dr", "prof", "professor", "mr", "mrs", "ms", "miss", "sir"}

# -- small text helpers -------------------------------------------------------------------

_WS = re.compile(r"\s+")
_INITIALS = re.compile(r"^[A-Z]\.?(?:[\s-]*[A-Z]\.?)*$")
_VANCOUVER = re.compile(r"^([A-Z][\w'’-]+(?:\s[A-Z][\w'’-]+)*)\s([A-Z]{1,3})\.?$")
_YEAR_PAREN = re.compile(r"\(\s*((?:19|20)\d\d)[a-z]?\s*\)")
_YEAR_COMMA = re.compile(r",\s*((?:19|20)\d\d)[a-z]?[.,]\s")
_VANCOUVER_AUTHORS = re.compile(
    r"^((?:[A-Z][\w'’-]+(?:\s[A-Z][\w'’-]+)*\s[A-Z]{1,3},\s*)*[A-Z][\w'’-]+\s[A-Z]{1,3})\.\s"
)
_DOI = re.compile(r"10\.\d{4,9}/[^\s<>\[\]()&\"']+")
_LINK_START = re.compile(
    r"\[From\s*<|<|https?://|\bwww\.|Retrieved from|Available at|\bURL:|\bdoi\s*[:/]",
    re.IGNORECASE,
)
_URL = re.compile(r"(?:https?://|\bwww\.)[^\s<>\]\)]+")


def squash(text: str) -> str:
    """Collapse runs of whitespace: the seeds wrap lines and pad with spaces at random."""
    return _WS.sub(" ", text).strip()


def ascii_letters(text: str) -> str:
    """Lower-case ASCII letters only, for keys and for comparing names across styles."""
    decomposed = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^a-z]", "", decomposed.encode("ascii", "ignore").decode().lower())


def strip_outer_quotes(text: str) -> str:
    """Drop one pair of wrapping quote marks (titles are quoted in some citation styles)."""
    text = text.strip(" ,.")
    if text[:1] in QUOTE_CHARS:
        text = text[1:]
    if text[-1:] in QUOTE_CHARS:
        text = text[:-1]
    return text.strip(" ,")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_seed(path: Path) -> str:
    """Seed text with ``\\n`` line ends and no BOM (the seeds are UTF-8)."""
    text = path.read_text(encoding="utf-8-sig")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def json_str(value: str) -> str:
    """A double-quoted YAML scalar (JSON strings are valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


# -- references ----------------------------------------------------------------------------


@dataclass
class Author:
    """One author as the reference list gives it; ``corporate`` names keep their own form."""

    family: str
    given: str = ""
    corporate: bool = False

    def bibtex(self) -> str:
        if self.corporate:
            return "{" + escape_latex(self.family) + "}"
        name = escape_latex(self.family)
        return f"{name}, {escape_latex(self.given)}" if self.given else name

    def display(self) -> str:
        if self.corporate or not self.given:
            return self.family
        return f"{self.family}, {self.given}"


@dataclass
class Reference:
    """One parsed entry of the review's reference list."""

    order: int
    raw: str
    authors: list[Author] = field(default_factory=list)
    et_al: bool = False
    year: int | None = None
    month: int | None = None
    title: str = ""
    journal: str = ""
    volume: str = ""
    number: str = ""
    pages: str = ""
    institution: str = ""
    address: str = ""
    doi: str = ""
    url: str = ""
    grey: bool = False
    entry_type: str = "misc"
    key: str = ""

    @property
    def families(self) -> list[str]:
        return [ascii_letters(a.family) for a in self.authors]


@dataclass
class OrgTable:
    """Corporate authors: key stems and the short forms the review cites them by."""

    stems: dict[str, str]  # ascii name -> key stem
    cited: dict[str, str]  # ascii short form -> ascii name

    @classmethod
    def from_meta(cls, rows: Iterable[dict[str, Any]]) -> OrgTable:
        stems: dict[str, str] = {}
        cited: dict[str, str] = {}
        for row in rows:
            name = ascii_letters(row["name"])
            stems[name] = row["key"]
            for short in row.get("cited_as", []):
                cited[ascii_letters(short)] = name
        return cls(stems, cited)

    def stem(self, name: str) -> str:
        plain = re.sub(r"^the\s+", "", name, flags=re.IGNORECASE)
        return self.stems.get(ascii_letters(name), ascii_letters(plain))


def reference_lines(text: str, after: str, furniture: Sequence[str]) -> list[str]:
    """The reference list: every non-blank line after the marker line, less page headers."""
    lines = text.split("\n")
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == after)
    except StopIteration as exc:
        raise SystemExit(f"reference list marker not found: {after!r}") from exc
    skip = {f.strip() for f in furniture}
    return [
        line.strip() for line in lines[start + 1 :] if line.strip() and line.strip() not in skip
    ]


def find_doi(raw: str) -> str:
    """The DOI an entry gives anywhere: ``doi:``, doi.org, publisher or URL-encoded Scopus links."""
    found: list[str] = []
    for match in _DOI.finditer(unquote(raw)):
        doi = match.group(0).rstrip(".,;:")
        if doi.lower() not in {d.lower() for d in found}:
            found.append(doi)
    if len(found) > 1:
        log.warning("several DOIs in one reference, keeping the first: %s", found)
    return found[0] if found else ""


def find_url(raw: str) -> str:
    """The entry's link, without ``<...>``, ``<<...>>`` or markdown-link wrapping."""
    match = _URL.search(raw)
    return match.group(0).rstrip(".,;") if match else ""


def parse_author_list(segment: str) -> tuple[list[Author], bool]:
    """Authors in any of the list's styles; returns the authors and whether "et al." ended it."""
    seg = segment.strip().rstrip(",")
    et_al = bool(re.search(r"\bet al\.?", seg))
    seg = re.sub(r"\s*\bet al\.?", "", seg).strip().rstrip(",")
    if "," not in seg and not _personal_pair(seg):  # "CQC", "NHS Institute for ... & ..."
        return [Author(seg.rstrip("."), corporate=True)], et_al
    if ";" in seg:  # bepress: "Marshall, Claire; ...; and Lee, Helen"
        authors = []
        for part in seg.split(";"):
            part = re.sub(r"^\s*and\s+", "", part).strip()
            if part:
                authors.append(_family_first(part))
        return authors, et_al
    seg = re.sub(r",?\s+(?:and|&)\s+", ", ", seg)
    tokens = [t.strip() for t in seg.split(",") if t.strip()]
    if any(_INITIALS.match(t) for t in tokens):  # Harvard/APA: "Family, I. I."
        authors = []
        i = 0
        while i < len(tokens):
            family = tokens[i]
            given = tokens[i + 1] if i + 1 < len(tokens) and _INITIALS.match(tokens[i + 1]) else ""
            authors.append(_fix_doubled_given(Author(family, given)))
            i += 2 if given else 1
        return authors, et_al
    if all(_VANCOUVER.match(t.rstrip(".")) for t in tokens):  # "Boyd H, McKernon S"
        authors = []
        for t in tokens:
            m = _VANCOUVER.match(t.rstrip("."))
            assert m is not None
            authors.append(Author(m.group(1), " ".join(f"{c}." for c in m.group(2))))
        return authors, et_al
    # Taylor & Francis: "Sara Donetto, Paola Pierri, ... & Glenn Robert"
    authors = []
    for t in tokens:
        words = t.split()
        authors.append(Author(words[-1], " ".join(words[:-1])))
    return authors, et_al


def _personal_pair(seg: str) -> bool:
    """ "Ann Roe & Tim Ode": two or more given-family names joined without a comma."""
    parts = re.split(r"\s+(?:&|and)\s+", seg.strip().rstrip("."))
    name = re.compile(r"^[A-Z][a-z'’-]+(?:\s[A-Z][a-z'’-]+){1,2}$")
    return len(parts) > 1 and all(name.match(p) for p in parts)


def _family_first(part: str) -> Author:
    """ "Goraya, FRCGP, Dr Anita" -> Goraya, Anita (post-nominals and honorifics dropped)."""
    bits = [b.strip() for b in part.split(",") if b.strip()]
    family = bits[0]
    given = bits[-1] if len(bits) > 1 else ""
    words = [w for w in given.split() if w.lower().rstrip(".") not in HONORIFICS]
    return Author(family, " ".join(words))


def _fix_doubled_given(author: Author) -> Author:
    """ "Sara Donetto, S." lists the given name twice: keep family "Donetto", given "Sara"."""
    words = author.family.split()
    initials = re.findall(r"[A-Z]", author.given)
    if (
        len(words) == 2
        and len(initials) == 1
        and words[0][:1] == initials[0]
        and words[0][1:].islower()
    ):
        log.warning(
            "reference author %r read as given name %r + family %r (the list repeats the initial)",
            f"{author.family}, {author.given}",
            words[0],
            words[1],
        )
        return Author(words[1], words[0])
    return author


def split_authors_year(body: str) -> tuple[str, int | None, str]:
    """Split ``authors (year) rest``; styles put the year in parentheses, after a comma, or last."""
    m = _YEAR_PAREN.search(body)
    if m:
        return body[: m.start()], int(m.group(1)), body[m.end() :]
    m = _YEAR_COMMA.search(body)
    if m:
        return body[: m.start()], int(m.group(1)), body[m.end() :]
    m = _VANCOUVER_AUTHORS.match(body)
    if m:  # "Doyle C, Lennox L, Bell D. Title. *Journal* 2013"
        return m.group(1), None, body[m.end() :]
    m = re.search(r"\s['‘\"“]", body)
    if m:  # no year at all: "Luxford, K., ... and Delbanco, T. 'Title'."
        return body[: m.start()], None, body[m.start() :]
    raise ValueError(f"cannot find authors/year in {body!r}")


def parse_numbers(after: str, ref: Reference) -> None:
    """Volume, issue and pages from what follows the journal name, in the list's styles."""
    text = after.strip()
    m = re.match(r"^\(([^)\d][^)]*)\)\s*,?", text)  # "(Toronto, Ont.), 21(SP), ..."
    if m:
        ref.journal = f"{ref.journal} ({m.group(1)})"
        text = text[m.end() :]
    text = text.strip(" ,.:")
    patterns = [
        # a bare year after the journal: "*BMJ Open* 2013"
        r"^(?P<year>(?:19|20)\d\d)$",
        # Vancouver: "2012;125(1357):76–87", "2010 Summer; 26(4):3-14"
        r"^(?P<year>\d{4})(?:\s+\w+)?;\s*(?P<vol>\d+)\((?P<iss>[^)]+)\):(?P<pages>[\w–-]+)",
        # bepress: "Vol. 6 : Iss. 1 , Article 19"
        r"^Vol\.\s*(?P<vol>\d+)\s*:\s*Iss\.\s*(?P<iss>\d+)\s*,\s*Article\s+(?P<pages>\d+)",
        # Taylor & Francis: "18:2, 227-248"
        r"^(?P<vol>\d+):(?P<iss>\d+),\s*(?P<pages>[\w–-]+)",
        # Wiley: "16: e36–e47"
        r"^(?P<vol>\d+):\s+(?P<pages>[\w–-]+)",
        # Harvard/APA: "29(5), pp. 176-182", "15 (4)", "11 Suppl 1, pp. S6-13", "5, 5 (2019)"
        r"^(?P<vol>\d+)\s*(?:\((?P<iss>[^)]+)\)|(?P<supp>Suppl\.?\s*\d+))?"
        r"(?:,\s*(?:pp?\.\s*)?(?P<pages>[A-Za-z]?\d+(?:[–-][A-Za-z]?\d+)?))?",
    ]
    for pattern in patterns:
        m = re.match(pattern, text)
        if not m:
            continue
        groups = m.groupdict()
        if groups.get("year") and ref.year is None:
            ref.year = int(groups["year"])
        ref.volume = groups.get("vol") or ""
        ref.number = groups.get("iss") or groups.get("supp") or ""
        ref.pages = re.sub(r"[–-]+", "--", groups.get("pages") or "")
        return


def parse_grey_rest(rest: str, ref: Reference) -> None:
    """Title, place and publisher of a report-like entry (no journal)."""
    text = squash(rest).strip(" ,")
    m = re.search(r"\s*\(([A-Z][a-z]+)\s+(\d{4})\)\s*$", text)  # "(September 2018)"
    if m and m.group(1).lower() in MONTHS:
        ref.month = MONTHS.index(m.group(1).lower()) + 1
        text = text[: m.start()]
    m = re.search(
        r"\.\s+(?P<addr>[A-Z][^.:]*?):\s*(?P<pub>[^;.]+?)(?:;\s*\d{4}:\d+)?\.?\s*$",
        text,
    )
    if m:  # "London: King's College London.", "Camden, ME: The Picker Institute; 2012:21."
        ref.address, ref.institution = m.group("addr").strip(), m.group("pub").strip()
        text = text[: m.start()]
    else:
        sentences = re.split(r"(?<=[.?!])\s+", text)
        last = sentences[-1].rstrip(".")
        if len(sentences) > 1 and len(last.split()) <= 4 and last[:1].isupper():
            ref.institution = last  # "Title. NHS Wales."
            text = " ".join(sentences[:-1])
    ref.title = strip_outer_quotes(text)


def parse_reference(raw: str, order: int) -> Reference:
    """One reference-list line, in any of the eight citation styles the review mixes."""
    ref = Reference(order=order, raw=raw)
    ref.doi = find_doi(raw)
    ref.url = find_url(raw)
    cut = _LINK_START.search(raw)
    body = squash(raw[: cut.start()] if cut else raw)
    marked = bool(re.search(r"Retrieved from|Available at", raw))
    author_seg, ref.year, rest = split_authors_year(body)
    ref.authors, ref.et_al = parse_author_list(author_seg)
    rest = rest.strip(" .,")
    italic = re.search(r"\*([^*]+)\*", rest)
    if italic:
        ref.title = strip_outer_quotes(rest[: italic.start()])
        ref.journal = squash(italic.group(1))
        parse_numbers(rest[italic.end() :], ref)
        ref.entry_type = "article"
        return ref
    parse_grey_rest(rest, ref)
    corporate = any(a.corporate for a in ref.authors)
    ref.grey = marked or corporate or bool(ref.institution)
    if ref.grey:
        ref.entry_type = "techreport"
        if not ref.institution:
            ref.institution = ref.authors[0].family if corporate else ""
    return ref


def assign_keys(refs: list[Reference], orgs: OrgTable) -> None:
    """``familyYEAR`` keys; every member of a clash gets a letter in list order (a, b, ...)."""
    bases: list[str] = []
    for ref in refs:
        first = ref.authors[0]
        stem = orgs.stem(first.family) if first.corporate else ascii_letters(first.family)
        if not ref.year:
            log.warning("reference %d in the list gives no year: its key ends in 'nd'", ref.order)
        bases.append(f"{stem}{ref.year if ref.year else 'nd'}")
    counts = Counter(bases)
    seen: Counter[str] = Counter()
    for ref, base in zip(refs, bases, strict=True):
        if counts[base] > 1:
            ref.key = base + "abcdefghijklmnopqrstuvwxyz"[seen[base]]
            seen[base] += 1
        else:
            ref.key = base


def escape_latex(text: str) -> str:
    """Escape the characters BibTeX/LaTeX treat specially in ordinary fields."""
    out = []
    for ch in text:
        if ch in "&%$#_":
            out.append("\\" + ch)
        elif ch == "\\":
            out.append("\\textbackslash{}")
        elif ch == "~":
            out.append("\\textasciitilde{}")
        elif ch == "^":
            out.append("\\textasciicircum{}")
        elif ch in "{}":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def verbatim(text: str) -> str:
    """URL and DOI fields are verbatim; only braces would break the entry."""
    if "{" in text or "}" in text:
        raise ValueError(f"brace in verbatim field: {text!r}")
    return text


def bibtex_entry(ref: Reference) -> str:
    """One entry, fields in a fixed order so the file is byte-stable."""
    authors = [a.bibtex() for a in ref.authors] + (["others"] if ref.et_al else [])
    fields: list[tuple[str, str]] = [("author", " and ".join(authors))]
    fields.append(("title", escape_latex(ref.title)))
    if ref.journal:
        fields.append(("journal", escape_latex(ref.journal)))
    if ref.institution:
        fields.append(("institution", escape_latex(ref.institution)))
    if ref.address:
        fields.append(("address", escape_latex(ref.address)))
    if ref.year:
        fields.append(("year", str(ref.year)))
    if ref.month:
        fields.append(("month", str(ref.month)))
    for name in ("volume", "number", "pages"):
        value = getattr(ref, name)
        if value:
            fields.append((name, escape_latex(value)))
    if ref.doi:
        fields.append(("doi", verbatim(ref.doi)))
    if ref.url:
        fields.append(("url", verbatim(ref.url)))
    if ref.grey:
        fields.append(("grey", "true"))
    fields.append(("x-kei-order", str(ref.order)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@{ref.entry_type}{{{ref.key},\n{body},\n}}\n"


def write_bibtex(refs: list[Reference], seed_name: str) -> str:
    header = (
        f"% The reference list of the KEI review (seed {seed_name}), {len(refs)} entries.\n"
        "% Generated by scripts/build_kei_corpus.py; do not edit (rebuild instead).\n"
    )
    return header + "\n" + "\n".join(bibtex_entry(r) for r in refs)


# -- the review body: sections, blocks, citations ----------------------------------------------


@dataclass
class Block:
    """A paragraph, bullet or heading-like line of the review body, with its section."""

    line: int  # 1-based line in the seed
    text: str
    kind: str  # "para", "bullet", "subbullet", "numbered"
    section: str


def body_blocks(text: str, meta: dict[str, Any]) -> list[Block]:
    """Split the review body (before the reference list) into blocks under their sections.

    A paragraph broken by a page break (next block starts lower-case) is joined again.
    """
    sections = list(meta["sections"])
    furniture = set(meta["furniture_lines"])
    found: set[str] = set()
    blocks: list[Block] = []
    current = ""
    for i, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip()
        stripped = line.strip()
        if stripped == meta["reference_list_after"]:
            break
        if not stripped or stripped in furniture:
            continue
        if stripped in sections:
            current = stripped
            found.add(stripped)
            continue
        if not current:
            continue
        if re.match(r"^ +- ", line):
            kind, content = "subbullet", stripped[2:]
        elif stripped.startswith("- "):
            kind, content = "bullet", stripped[2:]
        elif re.match(r"^\d+\.\s", stripped):
            kind, content = "numbered", stripped
        else:
            kind, content = "para", stripped
        if kind == "para" and stripped[:1].islower() and blocks and blocks[-1].kind == "para":
            blocks[-1].text += " " + stripped
            continue
        blocks.append(Block(i, content.strip(), kind, current))
    missing = [s for s in sections if s not in found]
    if missing:
        raise SystemExit(f"section headings not found in the review text: {missing}")
    return blocks


def section_blocks(blocks: list[Block], section: str) -> list[Block]:
    return [b for b in blocks if b.section == section]


_CITE_MD = re.compile(r"\(\s*\[([^\]]+)\]\(#\)\s*\)")
_CITE_PAREN = re.compile(r"\(\s*\*?([^()*]+?)\*?\s*\)")
_CITE_ITEM = re.compile(r"^(?P<who>[A-Za-z][\w&'’ .-]*?)\s+(?P<year>(?:19|20)\d\d)$")


@dataclass
class Citation:
    """One cited item inside a citation parenthesis, e.g. ``Lord & Gale 2014``."""

    who: str
    year: int
    start: int  # span of the whole parenthesis in the block text
    end: int

    @property
    def label(self) -> str:
        return f"{self.who} {self.year}"


def find_citations(text: str) -> list[Citation]:
    """Every author-year citation in a block.

    The review writes them as ``(*A et al 2013*)``, ``([A 2017](#))`` or ``(A 2016)``, and
    several in one parenthesis are separated by ``;``.
    """
    found: list[Citation] = []
    spans: list[tuple[int, int, str]] = []
    for m in _CITE_MD.finditer(text):
        spans.append((m.start(), m.end(), m.group(1)))
    for m in _CITE_PAREN.finditer(text):
        if not any(s <= m.start() < e for s, e, _ in spans):
            spans.append((m.start(), m.end(), m.group(1)))
    for start, end, inner in sorted(spans):
        items = [squash(part) for part in inner.split(";")]
        parsed = [_CITE_ITEM.match(item) for item in items]
        if not items or not all(parsed):
            continue
        for m in parsed:
            assert m is not None
            found.append(Citation(m.group("who").strip(), int(m.group("year")), start, end))
    return found


def cited_families(who: str) -> list[str]:
    who = re.sub(r"\s+et\s+al\.?$", "", who.strip())
    return [ascii_letters(p) for p in re.split(r"\s*(?:&|\band\b)\s*", who) if p.strip()]


def resolve_citation(
    cite: Citation, refs: list[Reference], orgs: OrgTable, aliases: dict[str, Any]
) -> Reference | None:
    """The reference a citation names: family name(s) or organisation + year.

    Falls back to a unique family-name match one year off (with a warning), because the
    review cites at least one paper under a different year than its reference list gives.
    """
    alias = aliases.get(cite.who)
    title_part = ""
    year = cite.year
    if alias:
        families = [ascii_letters(alias["author"])]
        year = int(alias.get("year", year))
        title_part = alias.get("title_contains", "")
    else:
        families = cited_families(cite.who)
        if len(families) == 1 and families[0] in orgs.cited:
            families = [orgs.cited[families[0]]]

    def matches(ref: Reference) -> bool:
        names = ref.families
        if not names or names[0] != families[0]:
            return False
        if len(families) > 1 and (len(names) < 2 or names[1] != families[1]):
            return False
        return not title_part or title_part.lower() in ref.title.lower()

    hits = [r for r in refs if r.year == year and matches(r)]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        log.warning("citation %r is ambiguous: %s", cite.label, [r.key for r in hits])
        return None
    near = [r for r in refs if r.year and abs(r.year - year) == 1 and matches(r)]
    if len(near) == 1:
        log.warning(
            "citation %r resolved to %s: the reference list gives year %s",
            cite.label,
            near[0].key,
            near[0].year,
        )
        return near[0]
    log.warning("citation %r matches no reference", cite.label)
    return None


@dataclass
class Extract:
    """A passage of the review attributed to one reference."""

    ref: str
    kind: str
    section: str
    text: str
    line: int


def clean_passage(text: str) -> str:
    """Strip markdown emphasis/link wrapping and leftover punctuation from a cut passage."""
    text = re.sub(r"\[([^\]]+)\]\(#\)", r"\1", text)
    text = text.replace("*", "")
    text = squash(text)
    return text.lstrip(".,;: ").strip()


def split_quote(passage: str) -> tuple[str, str]:
    """``("quote", inner)`` if the passage ends with a quotation, else ``("finding", passage)``."""
    if not passage or passage[-1] not in QUOTE_PAIRS:
        return "finding", passage
    close = passage[-1]
    opening = QUOTE_PAIRS[close]
    if close == opening:  # straight quotes: the previous one opens
        start = passage.rfind(opening, 0, len(passage) - 1)
    else:
        depth = 0
        start = -1
        for i in range(len(passage) - 2, -1, -1):
            if passage[i] == close and close != "’":
                depth += 1
            elif passage[i] == opening:
                if depth == 0:
                    start = i
                    break
                depth -= 1
    if start < 0:
        return "finding", passage
    return "quote", passage[start + 1 : -1].strip()


def build_extracts(
    blocks: list[Block], refs: list[Reference], orgs: OrgTable, aliases: dict[str, Any]
) -> tuple[list[Extract], list[str]]:
    """One extract per (passage, cited reference); the passage is the block text since the
    previous citation in the same block, so a block citing twice yields two passages."""
    extracts: list[Extract] = []
    unresolved: list[str] = []
    for block in blocks:
        groups: dict[tuple[int, int], list[Citation]] = {}
        for cite in find_citations(block.text):
            groups.setdefault((cite.start, cite.end), []).append(cite)
        prev_end = 0
        for (start, end), cites in groups.items():
            passage = clean_passage(block.text[prev_end:start])
            prev_end = end
            for cite in cites:
                ref = resolve_citation(cite, refs, orgs, aliases)
                if ref is None:
                    unresolved.append(f"line {block.line}: {cite.label}")
                elif not passage:
                    log.warning("citation %r on line %d has no passage", cite.label, block.line)
                else:
                    kind, text = split_quote(passage)
                    extracts.append(Extract(ref.key, kind, block.section, text, block.line))
    return extracts, unresolved


def extract_files(extracts: list[Extract]) -> dict[str, str]:
    """``extracts/<key>.md`` contents: the reference's extracts in document order."""
    by_ref: dict[str, list[Extract]] = {}
    for ex in extracts:
        by_ref.setdefault(ex.ref, []).append(ex)
    files: dict[str, str] = {}
    for key in sorted(by_ref):
        docs = []
        for ex in by_ref[key]:
            docs.append(
                "---\n"
                f"kind: {ex.kind}\n"
                f"ref: {ex.ref}\n"
                f"section: {json_str(ex.section)}\n"
                "---\n"
                f"{ex.text}\n"
            )
        files[f"{key}.md"] = "\n".join(docs)
    return files


# -- review.yml ----------------------------------------------------------------------------------


def parse_header(text: str) -> dict[str, Any]:
    """Title, subtitle, author, team and date from the review's cover page."""
    lines = [squash(line) for line in text.split("\n")]
    nonblank = [line for line in lines if line]
    title, subtitle = nonblank[0], nonblank[1]
    joined = "\n".join(lines)
    m = re.search(r"Produced by:\s*(.+?)\n\n", joined, re.S)
    if not m:
        raise SystemExit("review: 'Produced by:' line not found")
    produced = squash(m.group(1)).rstrip(".")
    person, _, team = produced.partition(",")
    words = [w for w in person.split() if w.lower().rstrip(".") not in HONORIFICS]
    m = re.search(r"^(" + "|".join(MONTHS) + r")\s+(\d{4})$", joined, re.I | re.M)
    if not m:
        raise SystemExit("review: publication month not found")
    return {
        "title": title,
        "subtitle": subtitle,
        "author": f"{words[-1]}, {' '.join(words[:-1])}",
        "organisation": team.strip(),
        "year": int(m.group(2)),
        "month": MONTHS.index(m.group(1).lower()) + 1,
    }


def parse_criteria(blocks: list[Block], meta: dict[str, Any]) -> dict[str, Any]:
    """Inclusion and exclusion criteria: the lead line and the bullets under each heading."""
    groups: dict[str, dict[str, Any]] = {}
    current = None
    for b in blocks:
        m = re.match(r"^(Inclusion|Exclusion) criteria$", b.text)
        if m and b.kind == "para":
            current = groups.setdefault(m.group(1).lower(), {"lead": "", "items": []})
        elif current is not None and b.kind == "para" and not current["lead"]:
            current["lead"] = b.text
        elif current is not None and b.kind == "bullet":
            current["items"].append(b.text)
    inc, exc = groups["inclusion"], groups["exclusion"]
    if len(inc["items"]) != len(meta["inclusion_ids"]):
        raise SystemExit(f"inclusion criteria: text has {len(inc['items'])} bullets")
    if len(exc["items"]) != len(meta["exclusion_ids"]):
        raise SystemExit(f"exclusion criteria: text has {len(exc['items'])} bullets")
    cues = criteria_cues(meta["inclusion_ids"] + meta["exclusion_ids"])
    inclusion = []
    for cid, text in zip(meta["inclusion_ids"], inc["items"], strict=True):
        item: dict[str, Any] = {"id": cid, "text": text}
        years = re.search(r"\b((?:19|20)\d\d)\s*[-–]\s*((?:19|20)\d\d)\b", text)
        if years:
            item["year_min"], item["year_max"] = int(years.group(1)), int(years.group(2))
        if cid in cues:  # cues on a date range: review.py rejects them
            item["cues"] = cues[cid]
        inclusion.append(item)
    exclusion = [
        {"id": cid, "text": text, **({"cues": cues[cid]} if cid in cues else {})}
        for cid, text in zip(meta["exclusion_ids"], exc["items"], strict=True)
    ]
    general = re.sub(r"\s*[-–]\s*e\.g\.?\s*$", "", exc["lead"]).strip()
    return {
        "inclusion_preamble": inc["lead"],
        "inclusion_criteria": inclusion,
        "exclusion_general": {"id": meta["exclusion_general_id"], "text": general},
        "exclusion_criteria": exclusion,
    }


def criteria_cues(ids: Sequence[str], path: Path = CRITERIA_CUES) -> dict[str, Any]:
    """The cues of each criterion (``kei_criteria_cues.yml``); an id that is not one of the
    review's criteria stops the build rather than being silently dropped."""
    cues = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = sorted(set(cues) - set(ids))
    if unknown:
        raise SystemExit(f"{path.name}: {unknown[0]!r} is not a criterion id ({', '.join(ids)})")
    return cues


def count_list(text: str) -> dict[str, int]:
    """ "37 in UK, 11 in USA and Canada, ... and 13 from other countries" -> {label: count}."""
    out: dict[str, int] = {}
    for part in re.split(r"[,;]", text):
        part = re.sub(r"^\s*and\s+", "", part).strip()
        m = re.match(r"^(\d+)\s+(?:(?:in|from)\s+)?(.+)$", part)
        if not m:
            raise SystemExit(f"stated figures: cannot read {part!r}")
        out[m.group(2).strip()] = int(m.group(1))
    return out


def parse_stated_figures(blocks: list[Block], all_blocks: list[Block]) -> dict[str, Any]:
    """The corpus figures exactly as the review states them (claims, not results)."""
    figures: dict[str, Any] = {}
    statements: list[dict[str, str]] = []
    names = {
        "publication": "by_publication_type",
        "literature": "by_literature_type",
        "service": "by_service_setting",
    }
    for b in blocks:
        if b.kind != "bullet":
            if b.text.startswith("*"):
                figures["grey_literature_definition"] = b.text.lstrip("*").strip()
            continue
        m = re.match(r"^(\d+) papers selected after (.+?):\s*(.+)$", b.text)
        if m:
            figures["papers_included"] = int(m.group(1))
            figures["selection_stage"] = m.group(2)
            figures["by_country"] = count_list(m.group(3))
            statements.append({"figure": "by_country", "text": b.text})
            continue
        m = re.match(r"^Type of (\w+):\s*(.+)$", b.text)
        if m:
            name = names[m.group(1).lower()]
            figures[name] = count_list(m.group(2))
            statements.append({"figure": name, "text": b.text})
    approaches: dict[str, int] = {}
    for b in all_blocks:
        m = re.search(r"EBCD was the topic of interest for (\d+) of the papers", b.text)
        if m:
            approaches["EBCD"] = int(m.group(1))
        m = re.search(r"(\d+) papers discussed the Always Events? approach", b.text)
        if m:
            approaches["Always Events"] = int(m.group(1))
        if m or "EBCD was the topic" in b.text:
            statements.append({"figure": "by_approach", "text": b.text})
    figures["by_approach"] = approaches
    figures["statements"] = statements
    return figures


def parse_principles(blocks: list[Block]) -> dict[str, Any]:
    lead = next(b.text for b in blocks if b.kind == "para")
    items = [re.sub(r"^\d+\.\s*", "", b.text) for b in blocks if b.kind == "numbered"]
    return {"lead": lead, "items": items}


def parse_themes(
    blocks: list[Block],
    all_blocks: list[Block],
    extracts: list[Extract],
    meta: dict[str, Any],
) -> list[dict[str, Any]]:
    """The themes framework from the summary slide: group headings, theme headings, bullets.

    A heading followed by bullets is a theme; one followed by another heading is a group.
    """
    items = [b for b in blocks if not b.text.startswith("Summary overview")]
    parsed: list[dict[str, Any]] = []
    for i, b in enumerate(items):
        if b.kind == "bullet":
            if not parsed or not parsed[-1]["themes"]:
                raise SystemExit(f"themes: bullet before any theme heading (line {b.line})")
            parsed[-1]["themes"][-1]["recommendations"].append(b.text)
            continue
        nxt = items[i + 1] if i + 1 < len(items) else None
        if nxt is not None and nxt.kind == "bullet":
            if not parsed:
                raise SystemExit(f"themes: theme before any group (line {b.line})")
            parsed[-1]["themes"].append({"heading": b.text, "line": b.line, "recommendations": []})
        else:
            parsed.append({"heading": b.text, "themes": []})
    spec = meta["theme_groups"]
    if len(parsed) != len(spec):
        raise SystemExit(f"themes: text has {len(parsed)} groups, metadata {len(spec)}")
    groups = []
    for got, want in zip(parsed, spec, strict=True):
        if len(got["themes"]) != len(want["themes"]):
            raise SystemExit(f"themes: group {want['id']} has {len(got['themes'])} themes")
        details = _detail_regions(all_blocks, want["detail_section"], len(want["themes"]))
        themes = []
        for theme, tspec, (heading, lines) in zip(
            got["themes"], want["themes"], details, strict=True
        ):
            if not theme["heading"].startswith(tspec["starts"]):
                raise SystemExit(f"themes: {tspec['id']} heading is {theme['heading']!r}")
            cited: list[str] = []
            for ex in extracts:
                inside = ex.section == want["detail_section"] and lines[0] <= ex.line < lines[1]
                if inside and ex.ref not in cited:
                    cited.append(ex.ref)
            themes.append(
                {
                    "id": tspec["id"],
                    "heading": theme["heading"],
                    "recommendations": theme["recommendations"],
                    "detail_heading": heading,
                    "cited_refs": cited,
                }
            )
        groups.append(
            {
                "id": want["id"],
                "heading": got["heading"],
                "detail_section": want["detail_section"],
                "themes": themes,
            }
        )
    return groups


def _detail_regions(blocks: list[Block], section: str, n: int) -> list[tuple[str, tuple[int, int]]]:
    """Headings (and line ranges) that discuss each theme on the group's detail slides."""
    own = section_blocks(blocks, section)
    if not own:
        raise SystemExit(f"themes: detail section {section!r} is empty")
    end = own[-1].line + 1
    numbered = [b for b in own if b.kind == "numbered"]
    if not numbered:
        if n != 1:
            raise SystemExit(f"themes: {section!r} has no numbered headings for {n} themes")
        return [(own[0].text, (own[0].line, end))]
    if len(numbered) != n:
        raise SystemExit(f"themes: {section!r} has {len(numbered)} numbered headings, want {n}")
    out = []
    for i, b in enumerate(numbered):
        stop = numbered[i + 1].line if i + 1 < n else end
        out.append((re.sub(r"^\d+\.\s*", "", b.text), (b.line, stop)))
    return out


def build_review(
    text: str,
    blocks: list[Block],
    extracts: list[Extract],
    meta: dict[str, Any],
    seed: Path,
    n_refs: int,
    background: Sequence[str] = (),
) -> dict[str, Any]:
    """review.yml: parsed from the review text, plus the reporting facts in ``meta``;
    ``background`` are the corpus files that are not identified records."""
    header = parse_header(text)
    questions = [b.text for b in section_blocks(blocks, meta["sections"][0]) if b.kind == "bullet"]
    review: dict[str, Any] = {
        "id": "kei-2020",
        "title": header["title"],
        "subtitle": header["subtitle"],
        "author": header["author"],
        "organisation": header["organisation"],
        "year": header["year"],
        "month": header["month"],
        "source": {"seed": seed.name, "sha256": sha256(seed)},
        "references": {"file": "references.bib", "entries": n_refs},
        # The review reports only its full-text selection (see kei_seed_metadata.yml).
        "reported_stages": list(meta["reported_stages"]),
        # The reference list is the review's included set: every paper in it was selected
        # after full-text review. `synth review run` records that as the published review's
        # own decisions, so PRISMA counts are derived from the store like any review's.
        "published_decisions": {
            "reviewer": f"{header['author']} ({header['year']}, published review)",
            "include_file": "references.bib",
            "stages": list(meta["reported_stages"]),
        },
        "sources": {
            "references.bib": meta["reference_list_kind"],
            **{name: "background" for name in background},
        },
        "search_note": squash(meta["search_note"]),
        "questions": questions,
    }
    review.update(parse_criteria(section_blocks(blocks, "How the papers were selected"), meta))
    review["scope"] = {"out_of_scope": dict(meta["out_of_scope"])}
    review["stated_figures"] = parse_stated_figures(
        section_blocks(blocks, "Numbers and types of papers gathered"), blocks
    )
    review["principles"] = parse_principles(
        section_blocks(blocks, "Overview of available literature")
    )
    summary = meta["sections"][7]
    review["themes"] = parse_themes(section_blocks(blocks, summary), blocks, extracts, meta)
    return review


# -- full texts ---------------------------------------------------------------------------------


@dataclass
class FullText:
    key: str
    title: str
    authors: list[str]
    year: int | None
    organisation: str
    pub_type: str
    grey: bool
    url: str
    text: str
    seed: str

    def render(self) -> str:
        lines = [
            "---",
            "kind: fulltext",
            f"key: {self.key}",
            f"title: {json_str(self.title)}",
            f"authors: [{', '.join(json_str(a) for a in self.authors)}]",
            *([f"year: {self.year}"] if self.year else []),
            f"organisation: {json_str(self.organisation)}",
            f"pub_type: {self.pub_type}",
            f"grey: {'true' if self.grey else 'false'}",
        ]
        if self.url:
            lines.append(f"url: {json_str(self.url)}")
        lines.append("---")
        return "\n".join(lines) + "\n" + self.text.strip("\n").rstrip() + "\n"


def squeeze_blank_lines(lines: list[str]) -> list[str]:
    """Collapse runs of more than two blank lines left where furniture was removed."""
    out: list[str] = []
    blank = 0
    for line in lines:
        blank = blank + 1 if not line.strip() else 0
        if blank <= 2:
            out.append(line)
    return out


def person_name(name: str) -> str:
    """ "Dr Alan Willson" -> "Willson, Alan"."""
    words = [w for w in name.split() if w.lower().rstrip(".") not in HONORIFICS]
    return f"{words[-1]}, {' '.join(words[:-1])}"


def short_review(text: str, spec: dict[str, Any], refs: list[Reference]) -> dict[str, Any]:
    """Willson's short review: title on line 1, "A short review by <name>, <organisation>"."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    by = next((line for line in lines if line.startswith("A short review by ")), None)
    if by is None:
        raise SystemExit("short review: byline not found")
    name, _, organisation = by.removeprefix("A short review by ").partition(",")
    return {
        "title": lines[0],
        "authors": [person_name(name)],
        "organisation": organisation.strip(),
        "url": "",
        "text": text,
    }


def cambridge_element(text: str, spec: dict[str, Any], refs: list[Reference]) -> dict[str, Any]:
    """A Cambridge Element: drop the rotated download watermark and the running heads.

    The watermark ("https://doi.org/...Published online by Cambridge University Press") is
    broken into two-letter lines; a block is removed only if its fragments join to exactly
    that string, so no body text can go with it. Running heads carry the page number:
    odd pages the Element's title, even pages the series.
    """
    lines = text.split("\n")
    url_counts = Counter(ln.strip() for ln in lines if ln.strip().startswith("https://doi.org/"))
    if not url_counts:
        raise SystemExit("element: no DOI watermark line found")
    url = url_counts.most_common(1)[0][0]
    drop: set[int] = set()
    publisher = ""
    for i, line in enumerate(lines):
        if line.strip() != url:
            continue
        j = i
        while j > 0 and len(lines[j - 1].strip()) <= 3:
            j -= 1
        for k in range(j, i):
            frags = [ln for ln in lines[k:i] if ln.strip()]
            m = re.fullmatch(re.escape(url) + r"\s*Published online by (.+)", "".join(frags))
            if m and frags[0] == lines[k]:
                publisher = m.group(1).strip()
                drop.update(range(k, i + 1))
                break
    heads: dict[str, Counter[str]] = {"odd": Counter(), "even": Counter()}
    head_lines: list[int] = []
    for i, line in enumerate(lines):
        m = re.fullmatch(r"(\d{1,3}) ?([A-Z][A-Za-z -]+[a-z])", line.strip())
        if m:
            heads["odd" if int(m.group(1)) % 2 else "even"][m.group(2)] += 1
            head_lines.append(i)
    title = heads["odd"].most_common(1)[0][0]
    series = heads["even"].most_common(1)[0][0]
    for i in head_lines:
        m = re.fullmatch(r"\d{1,3} ?(.+)", lines[i].strip())
        if m and m.group(1) in {title, series}:
            drop.add(i)
    log.info("element: removed %d watermark/running-head lines", len(drop))
    kept = squeeze_blank_lines([ln for i, ln in enumerate(lines) if i not in drop])
    return {
        "title": title,
        "authors": list(spec["authors"]),
        "organisation": publisher,
        "url": url,
        "text": "\n".join(kept),
    }


def nhs_wales_guide(text: str, spec: dict[str, Any], refs: list[Reference]) -> dict[str, Any]:
    """The 1000 Lives guide: drop the running title and the web-address page footers.

    The guide is the review's reference ``same_as``; it shares that reference's key and
    takes its authors, year and URL from it (the guide's own cover is not in the seed).
    """
    lines = text.split("\n")
    counts = Counter(ln.strip() for ln in lines if ln.strip())
    title = next(t for t, _ in counts.most_common() if not t.startswith("www."))
    hosts = Counter(
        re.sub(r"\s?\d*$", "", ln.strip())
        for ln in lines
        if re.fullmatch(r"www\.\S+?\s?\d*", ln.strip())
    )
    footer = re.compile(re.escape(hosts.most_common(1)[0][0]) + r"\s?\d*")
    drop = {i for i, ln in enumerate(lines) if ln.strip() == title or footer.fullmatch(ln.strip())}
    ref = _reference_for(spec["same_as"], refs)
    if ascii_letters(ref.title) != ascii_letters(title):
        raise SystemExit(f"guide title {title!r} differs from reference {ref.key}: {ref.title!r}")
    kept = squeeze_blank_lines([ln for i, ln in enumerate(lines) if i not in drop])
    return {
        "key": ref.key,
        "title": title,
        "authors": [a.display() for a in ref.authors],
        "year": ref.year,
        "organisation": spec["organisation"],
        "url": ref.url,
        "text": "\n".join(kept),
    }


def blog_post(text: str, spec: dict[str, Any], refs: list[Reference]) -> dict[str, Any]:
    """A blog page: date and byline on top, title in "N Responses to “title”".

    The comment form at the end and the commenters' e-mail addresses (avatar alt text)
    are page furniture and are removed.
    """
    lines = text.split("\n")
    nonblank = [ln.strip() for ln in lines if ln.strip()]
    m = re.fullmatch(r"([A-Z][a-z]{2})\s+(\d{1,2})((?:19|20)\d\d)", nonblank[0])
    if not m:
        raise SystemExit(f"blog: date line not understood: {nonblank[0]!r}")
    year = int(m.group(3))
    author = nonblank[1]
    m = re.search(r"Responses? to “([^”]+)”", text)
    if not m:
        raise SystemExit("blog: title not found")
    title = m.group(1).strip()
    end = next((i for i, ln in enumerate(lines) if ln.strip() == "Leave a Reply"), len(lines))
    kept = []
    for ln in lines[:end]:
        kept.append(re.sub(r"^(\s*(?:\d+\.|•)\s*)[\w.+-]+@[\w.-]+'\s*$", r"\1", ln).rstrip())
    return {
        "title": title,
        "authors": [person_name(author)],
        "year": year,
        "organisation": spec["organisation"],
        "url": "",
        "text": "\n".join(squeeze_blank_lines(kept)),
    }


FULLTEXT_PARSERS = {
    "short_review": short_review,
    "cambridge_element": cambridge_element,
    "nhs_wales_guide": nhs_wales_guide,
    "blog_post": blog_post,
}


def _reference_for(label: str, refs: list[Reference]) -> Reference:
    m = _CITE_ITEM.match(label)
    if not m:
        raise SystemExit(f"not a citation: {label!r}")
    ref = resolve_citation(
        Citation(m.group("who"), int(m.group("year")), 0, 0), refs, OrgTable({}, {}), {}
    )
    if ref is None:
        raise SystemExit(f"{label!r} names no reference")
    return ref


def build_fulltexts(
    seeds: Path, specs: list[dict[str, Any]], refs: list[Reference]
) -> list[FullText]:
    """Each seed through its layout parser; keys are familyYEAR, unique across the corpus."""
    taken = {r.key for r in refs}
    out: list[FullText] = []
    for spec in specs:
        path = seeds / spec["seed"]
        got = FULLTEXT_PARSERS[spec["parser"]](read_seed(path), spec, refs)
        year = got.get("year") or spec.get("year")
        if not year:
            log.warning(
                "%s: no year in the text or the metadata: its key ends in 'nd'", spec["seed"]
            )
        key = got.get("key")
        if not key:
            base = ascii_letters(got["authors"][0].split(",")[0]) + (str(year) if year else "nd")
            key = base
            for letter in "abcdefghijklmnopqrstuvwxyz":
                if key not in taken:
                    break
                key = base + letter
        taken.add(key)
        out.append(
            FullText(
                key=key,
                title=got["title"],
                authors=got["authors"],
                year=int(year) if year else None,
                organisation=got["organisation"] or spec.get("organisation", ""),
                pub_type=spec["pub_type"],
                grey=bool(spec["grey"]),
                url=got["url"],
                text=got["text"],
                seed=spec["seed"],
            )
        )
    return out


# -- README and the build --------------------------------------------------------------------


def render_readme(
    review: dict[str, Any],
    refs: list[Reference],
    extracts: list[Extract],
    files: dict[str, str],
    fulltexts: list[FullText],
    unresolved: list[str],
    seeds: list[tuple[str, str]],
    notes: list[str],
) -> str:
    """The corpus README: provenance, formats, and the counts this build produced."""
    stated = review["stated_figures"]
    stated_types = stated["by_publication_type"]
    month = MONTHS[review["month"] - 1].capitalize()
    family, _, given = review["author"].partition(", ")
    note_lines = "\n".join(f"- {note}" for note in notes) or "- none"
    kinds = Counter(e.kind for e in extracts)
    types = Counter(r.entry_type for r in refs)
    grey = sum(r.grey for r in refs)
    with_doi = sum(bool(r.doi) for r in refs)
    rows = [
        ("references (`references.bib`)", len(refs)),
        ("- journal articles (`@article`)", types["article"]),
        ("- grey literature (`@techreport`, `grey = {true}`)", grey),
        ("- other (`@misc`: no journal, no sign of grey literature)", types["misc"]),
        ("- with a DOI", with_doi),
        ("extracts", len(extracts)),
        ("- quotes", kinds["quote"]),
        ("- findings", kinds["finding"]),
        ("references with extracts (`extracts/*.md`)", len(files)),
        ("citations the build could not resolve", len(unresolved)),
        ("full texts (`fulltexts/*.md`)", len(fulltexts)),
    ]
    table = "\n".join(f"| {name} | {count} |" for name, count in rows)
    seed_rows = "\n".join(f"| `{name}` | `{digest[:16]}` |" for name, digest in seeds)
    ft_rows = "\n".join(
        f"| `{ft.key}` | {ft.title} | {ft.pub_type} | {'yes' if ft.grey else 'no'} | `{ft.seed}` |"
        for ft in fulltexts
    )
    return f"""# Bundled review: KEI 2020, co-production and quality improvement

This folder is generated. Do not edit it by hand: change the build and rebuild.

The review is *{review["title"]}: {review["subtitle"]}*, by {given} {family},
{review["organisation"]}, {month} {review["year"]}.
The {len(refs)} papers of its reference list are the corpus; the review itself is described in
`review.yml`, not listed in `references.bib`.

## Where it comes from

Everything is parsed from the seed texts in `../shared/seeds/` by
`scripts/build_kei_corpus.py`. The only hand-written input is `scripts/kei_seed_metadata.yml`:
facts the texts do not state (for example the authors and year of the Cambridge Element, whose
title page is not in its seed) and the ids given to the criteria and themes the build parses.

| seed | sha256 (first 16) |
|---|---|
{seed_rows}

Rebuild (deterministic: the same seeds give byte-identical files):

```
python scripts/build_kei_corpus.py [--seeds ../shared/seeds] [--out corpus/kei-2020]
```

`tests/test_kei_corpus_build.py` rebuilds into a temporary folder and requires the result to
equal this folder byte for byte.

## Files

- `references.bib`: the review's reference list, in list order (`x-kei-order`, 1-based).
  Keys are `familyYEAR` in lower-case ASCII (corporate authors use a short stem, e.g. `ndti`,
  `nhsi`, `cqc`); keys that clash get letters in list order (`ndti2016a`, `ndti2016b`); an
  entry with no year uses `nd`. Authors are `Family, Given` as the list gives them (initials
  mostly), corporate authors braced (`{{National Development Team for Inclusion}}`), `and others`
  for "et al.". DOIs are recovered wherever the text has one: `doi:` labels, doi.org links and
  DOIs inside publisher and URL-encoded Scopus links. Journal papers (a journal in italics) are
  `@article`; reports, guides, toolkits and briefings (no journal, and "Retrieved from"/
  "Available at", a corporate author or a named publisher) are `@techreport` with
  `grey = {{true}}`. LaTeX specials are escaped in text fields; `url` and `doi` are verbatim.
- `extracts/<key>.md`: every passage of the review that cites a reference, one file per cited
  reference, its passages in document order. Each passage is a document with YAML front matter:

  ```
  ---
  kind: quote            # quote (in quotation marks) or finding (attributed to the paper)
  ref: bombard2018       # the BibTeX key
  section: "Creating the conditions for genuine co-production at point of care"
  ---
  The passage text, without the citation parenthesis.
  ```

  A passage citing two papers gives one document per paper. For a quote the text is the
  quoted words without the quotation marks.
- `review.yml`: title, author, organisation, date, the review questions, inclusion criteria
  (with `year_min`/`year_max`), exclusion criteria (three, plus the general "unclear
  understanding" clause in `exclusion_general`), `stated_figures` (the corpus figures **as the
  review states them**: claims to check the corpus against, not results), the six core
  principles, and the themes framework: groups, themes, each theme's recommendations as the
  summary slide states them, the heading that discusses it in detail, and the references cited
  there (`cited_refs`).
- `fulltexts/<key>.md`: the four other seed texts, each with front matter (`kind: fulltext`,
  `key`, `title`, `authors`, `year`, `organisation`, `pub_type`, `grey`, `url` if known) and the
  text. Only page furniture is removed (the Cambridge download watermark and running heads, the
  guide's running title and web-address footers, the blog's comment form and commenters'
  e-mail addresses); the rest is verbatim, line breaks included. The guide is the review's
  reference `spencer2013` and shares its key.

| key | title | type | grey | seed |
|---|---|---|---|---|
{ft_rows}

## Counts this build produced

| what | count |
|---|---|
{table}

The review states {stated["papers_included"]} papers, \
{stated_types.get("journal articles")} journal articles and \
{stated_types.get("grey literature")} grey literature (`stated_figures` in `review.yml`). The
build classifies each reference only from the list's own signals (a journal in italics; or
"Retrieved from"/"Available at", a corporate author or a named publisher), which gives the
counts above; the two need not agree.

## Build notes

What the build warned about (it also prints these):

{note_lines}
"""


@dataclass
class BuildResult:
    """What a build wrote and what it could not resolve."""

    files: dict[str, str]
    references: int
    extracts: int
    fulltexts: int
    unresolved: list[str]


def build(seeds: Path, meta_path: Path = METADATA) -> BuildResult:
    """Parse the seeds into the corpus files (relative path -> text); writes nothing."""
    collector = _Collector()
    log.addHandler(collector)
    try:
        return _build(seeds, meta_path, collector.messages)
    finally:
        log.removeHandler(collector)


def _build(seeds: Path, meta_path: Path, notes: list[str]) -> BuildResult:
    meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
    rmeta = meta["review"]
    seed = seeds / rmeta["seed"]
    text = read_seed(seed)
    orgs = OrgTable.from_meta(meta.get("organisations", []))
    aliases = meta.get("citation_aliases", {})

    lines = reference_lines(text, rmeta["reference_list_after"], rmeta["furniture_lines"])
    refs = [parse_reference(line, i) for i, line in enumerate(lines, start=1)]
    assign_keys(refs, orgs)
    for ref in refs:
        if ref.entry_type == "misc":
            log.warning(
                "reference %s (%d in the list) has no journal in italics and no sign of grey "
                "literature: written as @misc without `grey`",
                ref.key,
                ref.order,
            )
    blocks = body_blocks(text, rmeta)
    extracts, unresolved = build_extracts(blocks, refs, orgs, aliases)
    ex_files = extract_files(extracts)
    fulltexts = build_fulltexts(seeds, meta["fulltexts"], refs)
    keys = {r.key for r in refs}
    background = [f"fulltexts/{ft.key}.md" for ft in fulltexts if ft.key not in keys]
    review = build_review(text, blocks, extracts, rmeta, seed, len(refs), background)

    files: dict[str, str] = {"references.bib": write_bibtex(refs, seed.name)}
    files["review.yml"] = (
        "# Generated by scripts/build_kei_corpus.py from the KEI review text; do not edit.\n"
        + yaml.safe_dump(review, sort_keys=False, allow_unicode=True, width=100)
    )
    for name, body in ex_files.items():
        files[f"extracts/{name}"] = body
    for ft in fulltexts:
        files[f"fulltexts/{ft.key}.md"] = ft.render()
    seed_names = sorted([rmeta["seed"]] + [s["seed"] for s in meta["fulltexts"]])
    digests = [(name, sha256(seeds / name)) for name in seed_names]
    files["README.md"] = render_readme(
        review, refs, extracts, ex_files, fulltexts, unresolved, digests, notes
    )
    return BuildResult(files, len(refs), len(extracts), len(fulltexts), unresolved)


class _Collector(logging.Handler):
    """Keeps the build's warnings so the README can list them."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def write(result: BuildResult, out: Path) -> None:
    """Write the files; stale generated ``*.md`` in extracts/ and fulltexts/ are removed."""
    for sub in ("extracts", "fulltexts"):
        folder = out / sub
        if folder.is_dir():
            for old in folder.glob("*.md"):
                if f"{sub}/{old.name}" not in result.files:
                    old.unlink()
    for name, body in result.files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8", newline="\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=Path, default=DEFAULT_SEEDS, help="seed texts folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="also log info messages")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.seeds.is_dir():
        log.error("seed folder not found: %s", args.seeds)
        return 2
    result = build(args.seeds)
    write(result, args.out)
    print(
        f"wrote {len(result.files)} files to {args.out}: {result.references} references, "
        f"{result.extracts} extracts, {result.fulltexts} full texts, "
        f"{len(result.unresolved)} unresolved citations"
    )
    for item in result.unresolved:
        log.warning("unresolved citation: %s", item)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
