"""A PDF's title, authors, DOI, year and sections, from its first pages and metadata.

What the page prints wins over the metadata dictionary when both exist, because producers
fill the dictionary with file names ("Microsoft Word - draft.docx"), the person who made
the file, or a short running title; a metadata title is used when a line of the first page
says the same, or when the page offers no title of its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz

from synth.fulltext.pdf_layout import Line, rules

_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+)", re.IGNORECASE)
_DOI_BREAK = re.compile(r"-\n(?=\w)")
_DOI_TRAIL = ".,;:)]}'\u2019\u201d"
_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20\d\d)(?!\d)")
_COPYRIGHT_YEAR = re.compile(r"(?:©|\(c\)|copyright)\s*(19[5-9]\d|20\d\d)", re.IGNORECASE)
_PDF_DATE = re.compile(r"^(?:D:)?(\d{4})")
_NORMAL = re.compile(r"[^\w]+")
_AUTHOR_JOIN = re.compile(r"\s*(?:;|\band\b|&)\s*")
# possessive quantifiers: a long line of capitals that fails to match ("Medicine,
# UNIVERSITY OF CALIFORNIA SAN DIEGO (USA)") fails at once instead of backtracking
# exponentially
_INVERTED = re.compile(r"^([A-Z][\w'\u2019-]+),\s+((?:[A-Z][\w'\u2019-]*+\.?+\s*+)++)$")
_NAME_WORD = re.compile(
    r"^(?:[A-Z][a-z\u00c0-\u024f'\u2019\u00b4`-]*\.?|[A-Z]\.(?:-?[A-Z]\.)*|von|van|de|der|da|di|del|la|le)$"
)
_AFFILIATION_MARKS = re.compile(r"[\d*\u2020\u2021\u00a7\u00b6]+")
_TITLE_MARKS = re.compile(r"[\s\u2217*\u2020\u2021\u00a7\u00b6]+$")  # footnote marks
_LETTERS = re.compile(r"[^\W\d_]{4}")  # a title line has a word of four letters
_TITLE_REGION = 0.45  # the title sits in the top 45% of the first page
_TITLE_SIZE = 1.15  # ... in a font at least 15% taller than the page's body text


@dataclass(frozen=True)
class Front:
    """What the first pages say about the document."""

    title: str | None
    authors: tuple[str, ...]
    doi: str | None
    year: int | None


def _normal(text: str) -> str:
    return " ".join(_NORMAL.sub(" ", text.lower()).split())


@lru_cache(maxsize=1)
def _implausible() -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in rules()["implausible_titles"])


def plausible_title(title: str | None) -> bool:
    """Not empty, not a file name or a placeholder such as 'Microsoft Word - x.doc'."""
    if not title or len(_normal(title)) < 3:
        return False
    return not any(p.search(title.strip()) for p in _implausible())


def find_doi(texts: Sequence[str]) -> str | None:
    """The first DOI printed on the first pages (a DOI broken at a line-end hyphen is
    rejoined)."""
    for text in texts:
        if "10." not in text:  # every DOI starts so (and joining at a hyphen makes none)
            continue
        text = _DOI_BREAK.sub("-", text)
        match = _DOI.search(text, text.index("10."))
        if match:
            return match.group(1).rstrip(_DOI_TRAIL)
    return None


def _font_title(lines: Sequence[Line], height: float) -> str | None:
    """The largest-font lines near the top of page 1, when larger than the body text."""
    sized = [ln for ln in lines if ln.size > 0 and _LETTERS.search(ln.text)]
    if not sized:
        return None
    body = sorted(ln.size for ln in sized)[len(sized) // 2]
    top = [ln for ln in sized if ln.top >= height * (1 - _TITLE_REGION)]
    if not top:
        return None
    largest = max(ln.size for ln in top)
    if largest < body * _TITLE_SIZE:
        return None
    picked: list[str] = []
    for line in lines:  # the first run of largest-font lines, in reading order
        if line in top and line.size >= largest * 0.92:
            picked.append(line.text)
        elif picked:
            break
    return " ".join(picked) if picked else None


def _centred_title(lines: Sequence[Line], width: float) -> str | None:
    """Where every line has one size: the centred lines that open page 1 (a left-aligned
    first line, as on a page of references, means there is no title)."""
    placed = [ln for ln in lines if ln.x1 > ln.x0]
    if not placed:
        return None
    margin = min(ln.x0 for ln in placed)
    picked: list[str] = []
    for line in lines[:4]:
        centre = (line.x0 + line.x1) / 2
        indented = line.x0 > margin + 0.05 * width
        if line.x1 > line.x0 and indented and abs(centre - width / 2) < 0.05 * width:
            picked.append(line.text)
        else:
            break
    return " ".join(picked) if picked and len(" ".join(picked).split()) >= 3 else None


def _title_on_page(title: str, normals: Sequence[str]) -> bool:
    """Whether one to three consecutive lines near the top of page 1 (``normals``: the
    first 40, normalised) say ``title``."""
    wanted = _normal(title)
    texts = normals
    for start in range(len(texts)):
        for count in (1, 2, 3):
            window = " ".join(texts[start : start + count])
            if fuzz.ratio(wanted, window, score_cutoff=90) >= 90:
                return True
    return False


def _name_words(line: str) -> list[list[str]]:
    """Each name's words: "A and B", "A, B & C", "Last, First and Last, F." all read."""
    found = []
    for part in _AUTHOR_JOIN.split(line):
        inverted = _INVERTED.match(part.strip())
        if inverted:
            found.append([*inverted.group(2).split(), inverted.group(1)])
        else:
            found.extend(piece.split() for piece in part.split(","))
    return [words for words in found if words]


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    return frozenset(w.lower() for w in rules()["not_name_words"])


def _names(line: str) -> list[str]:
    """The author names on a line, or [] when it is not a line of names."""
    stop = _stop_words()
    text = line.split("\u2022")[0]  # "Roberto Baldoni • Universita di Roma"
    text = _AFFILIATION_MARKS.sub(" ", text)
    names = []
    for words in _name_words(text):
        if not 2 <= len(words) <= 5 or any(w.lower().strip(".,") in stop for w in words):
            return []
        if not all(_NAME_WORD.match(w) for w in words):
            return []
        names.append(" ".join(words))
    return names


def _page_authors(
    lines: Sequence[Line], title: str | None, normals: Sequence[str]
) -> tuple[str, ...]:
    """Names on the lines after the title (skipping affiliation lines), up to 'Abstract';
    none without a title to start from (``normals``: the first 40 lines normalised)."""
    texts = [ln.text for ln in lines[:40]]
    if not title:
        return ()
    wanted, start = _normal(title), 0
    for i, normal in enumerate(normals):
        if len(normal) > 3 and normal in wanted:
            start = i + 1
    if start == 0:
        return ()
    found: list[str] = []
    misses = 0
    for text, normal in zip(texts[start : start + 15], normals[start : start + 15], strict=True):
        if normal.startswith(("abstract", "summary", "keywords")):
            break
        names = _names(text)
        if names:
            found.extend(n for n in names if n not in found)
            misses = 0
        elif found:
            misses += 1
            if misses > 4:
                break
    return tuple(found)


def _meta_authors(author: str) -> tuple[str, ...]:
    author = author.strip()
    if not author:
        return ()
    parts = [p.strip() for p in re.split(r";|\band\b|,|&", author) if p.strip()]
    if ";" not in author and any(len(p.split()) < 2 for p in parts):
        parts = [p.strip() for p in re.split(r";|\band\b|&", author) if p.strip()]
    return tuple(parts)


def _year(lines: Sequence[Line], page1: str, creation: str, normals: Sequence[str]) -> int | None:
    """A year printed above the abstract, else a copyright year on page 1, else the file's
    creation date (``normals``: the first lines normalised)."""
    for line, normal in zip(lines[:25], normals, strict=False):
        if normal.startswith(("abstract", "summary")):
            break
        match = _YEAR.search(_DOI.sub(" ", line.text) if "10." in line.text else line.text)
        if match:
            return int(match.group(1))
    match = _COPYRIGHT_YEAR.search(page1)
    if match:
        return int(match.group(1))
    match = _PDF_DATE.match(creation or "")
    return int(match.group(1)) if match else None


def front_matter(
    first_lines: Sequence[Line],
    size: tuple[float, float],
    first_pages: Sequence[str],
    metadata: dict[str, str],
) -> Front:
    """Title, authors, DOI and year from page 1's lines (with font sizes; ``size`` is the
    page's width and height), the first pages' text and the metadata dictionary."""
    width, height = size
    # the first 40 lines normalised, once for the three steps that read them
    normals = [_normal(ln.text) for ln in first_lines[:40]]
    meta_title = (metadata.get("Title") or "").strip()
    font_title = _font_title(first_lines, height) or _centred_title(first_lines, width)
    if plausible_title(meta_title) and _title_on_page(meta_title, normals):
        title: str | None = meta_title
    elif font_title:
        title = font_title
    elif plausible_title(meta_title):
        title = meta_title
    else:
        title = None
    title = _TITLE_MARKS.sub("", title) if title else None
    page1 = first_pages[0] if first_pages else ""
    authors = _meta_authors(metadata.get("Author") or "")
    if not (authors and _on_page(_normal(authors[0].split()[-1]), page1)):
        authors = _page_authors(first_lines, font_title or title, normals) or authors
    return Front(
        title=title,
        authors=authors,
        doi=find_doi(first_pages),
        year=_year(first_lines, page1, metadata.get("CreationDate", ""), normals),
    )


def _on_page(name: str, page: str) -> bool:
    """``name in _normal(page)`` for a normalised name; for one word (word characters
    only) that is ``name in page.lower()``, since normalising keeps every run of word
    characters as it is (the whole page is not normalised for one name)."""
    if " " in name:
        return name in _normal(page)
    return name in page.lower()


# ------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class Section:
    """A part of the text from one heading to the next: ``name`` is one of abstract,
    introduction, methods, results, discussion, conclusion, references, other."""

    name: str
    page: int  # 1-based page where it starts
    text: str


_NUMBER = r"(?:(?:\d{1,2}|[IVXLC]{1,6}|[A-Z])\.?\s+)?"
_GENERIC = re.compile(r"^(?:\d{1,2}|[IVX]{1,5})\.?\s+([A-Z][^.!?:]{2,70})$")
_INLINE = re.compile(
    r"^(abstract|summary|keywords|key words|index terms)"
    r"\s*(?:[\u2014\u2013:.-]+\s*|\s+(?=[A-Z]))(\S.*)$",
    re.IGNORECASE,
)
_FRONT_INLINE = 2  # inline "Abstract—text" headings are looked for on the first two pages


@lru_cache(maxsize=1)
def _headings() -> tuple[re.Pattern[str], dict[str, str]]:
    names = {}
    for name, words in rules()["headings"].items():
        for word in words:
            names.setdefault(word.lower(), name)
    alternatives = "|".join(re.escape(w) for w in sorted(names, key=len, reverse=True))
    pattern = re.compile(rf"^{_NUMBER}({alternatives})\s*[:.]?$", re.IGNORECASE)
    return pattern, names


def _heading(line: str, front: bool) -> tuple[str, str] | None:
    """(section name, text after the heading on its line) when ``line`` is a heading."""
    if not (line[:1].isupper() or line[:1].isdigit()):
        return None  # headings start with a capital or a number
    if len(line) > 90:
        if not front:
            return None
        match = None
    else:
        pattern, names = _headings()
        match = pattern.match(line)
    if match:
        word = " ".join(match.group(1).lower().split())
        if word not in names:  # a letter equal only in the pattern's sense of case (ſ, K)
            word = next(w for w in names if re.fullmatch(re.escape(w), match.group(1), re.I))
        return names[word], ""
    if front:
        inline = _INLINE.match(line)
        if inline:
            word = " ".join(inline.group(1).lower().split())
            return _headings()[1].get(word, "other"), inline.group(2)
    generic = _GENERIC.match(line)
    if generic:
        words = generic.group(1).split()
        capitalised = sum(1 for w in words if w[:1].isupper())
        if len(words) <= 8 and capitalised >= 0.6 * len(words):
            return "other", ""
    return None


def find_sections(pages: Sequence[str]) -> tuple[Section, ...]:
    """The sections, from the headings the text allows (numbered or not, any case)."""
    found: list[tuple[str, int, list[str]]] = []
    for number, page in enumerate(pages, start=1):
        front = number <= _FRONT_INLINE
        for line in page.split("\n"):
            first = line.lstrip()[:1]
            # (most lines start with neither: the test of _heading, without the call)
            heading = _heading(line.strip(), front) if first.isupper() or first.isdigit() else None
            if heading is not None:
                name = heading[0]
                if name == "abstract" and (
                    number > _FRONT_INLINE or any(f[0] == name for f in found)
                ):
                    name = "other"  # a later "Summary" is not the abstract
                found.append((name, number, [heading[1]] if heading[1] else []))
            elif found:
                found[-1][2].append(line)
    return tuple(
        Section(name, page, "\n".join(body).strip().replace("\n\n\n", "\n\n"))
        for name, page, body in found
    )


def abstract_of(sections: Sequence[Section]) -> str | None:
    """The Abstract section's text; when no heading ended it, its first paragraph."""
    for section in sections:
        if section.name == "abstract" and section.text:
            text = section.text
            if len(text) > 4000:
                text = text.split("\n\n")[0]
            return " ".join(text.split())
    return None
