"""Where each part of a PDF full text is (its pages, its sections), for every later stage.

:func:`synth.store.views.load_fulltexts` gives a PDF's text (its pages joined by a blank
line) with ``page_starts`` (the offset in ``text`` where each page begins) and
``sections`` (``(name, start, end)`` spans of ``text``). From these:

- the tagger reads the abstract and the methods section first and the rest with the
  codebook's lower full-text weight (:func:`tagger_inputs`; which section counts as which
  field is data, ``synth/data/fulltext_passages.yml``), and every evidence sentence found
  in a PDF names its page (:func:`add_pages`);
- the themes give each full-text sentence its page (:class:`PagedText`);
- the screening and extraction apps show the text page by page (:func:`page_pieces`).

Markdown full texts have no pages: their rows have ``page_starts`` None and pass through
unchanged.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import Any

import pandas as pd
import yaml

#: pages of a PDF's text are joined by this (``PdfDocument.text``, ``pdf_text``)
PAGE_JOIN = "\n\n"
#: text before the first heading (title, authors, affiliations)
FRONT = "front"
_ELLIPSIS = "…"
_RULES = "fulltext_passages.yml"
_OPENING = 30  # characters of a sentence's opening looked for when it is not found whole
#: the tagger fields a PDF section can be read as
FIELDS_READ = ("abstract", "extract", "fulltext")
_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-"})


@cache
def rules() -> dict[str, Any]:
    """``synth/data/fulltext_passages.yml``: the field each PDF section is read as."""
    text = resources.files("synth.data").joinpath(_RULES).read_text("utf-8")
    data = yaml.safe_load(text) or {}
    sections = data.get("sections") or {}
    default = data.get("default", "fulltext")
    fields = {*FIELDS_READ, "skip"}
    bad = [f for f in (*sections.values(), default) if f not in fields]
    if bad:
        raise ValueError(f"{_RULES}: {bad[0]!r} is not one of {', '.join(sorted(fields))}")
    return {"sections": dict(sections), "default": default}


def field_of(section: str, *, has_abstract: bool) -> str | None:
    """The tagger field a PDF section is read as; None: not read (the references, or the
    PDF's abstract when the record has an abstract of its own, read already)."""
    field = rules()["sections"].get(section, rules()["default"])
    if field == "skip" or (field == "abstract" and has_abstract):
        return None
    return field


# ---------------------------------------------------------------- pages


def page_starts(lengths: Sequence[int]) -> tuple[int, ...]:
    """Offsets where each page starts in the pages joined by :data:`PAGE_JOIN`."""
    starts, offset = [], 0
    for n in lengths:
        starts.append(offset)
        offset += int(n) + len(PAGE_JOIN)
    return tuple(starts)


def page_at(starts: Sequence[int], offset: int) -> int:
    """The 1-based page holding character ``offset`` (``PdfDocument.page_of`` uses it)."""
    return max(1, bisect.bisect_right(starts, max(offset, 0)))


def page_pieces(text: str, starts: Sequence[int] | None) -> Iterator[tuple[int | None, int, str]]:
    """``(page, offset, text)`` of each page (one piece, page None, without pages)."""
    if not starts:
        yield None, 0, text
        return
    bounds = [*starts, len(text) + len(PAGE_JOIN)]
    for number, (lo, hi) in enumerate(itertools.pairwise(bounds), start=1):
        yield number, lo, text[lo : max(lo, hi - len(PAGE_JOIN))]


def has_pages(value: Any) -> bool:
    """Whether a ``page_starts`` cell holds pages (None/NaN for a Markdown text)."""
    return isinstance(value, tuple | list) and len(value) > 0


# ---------------------------------------------------------------- sections


def section_spans(
    text: str, starts: Sequence[int], sections: Sequence[tuple[str, int, str]]
) -> tuple[tuple[str, int, int], ...]:
    """``(name, start, end)`` spans of ``text`` for the stored sections (``name``, first
    page, body text), in order, and :data:`FRONT` for the text before the first one.

    A section's body is found in the text from its first page on (its first line: the
    stored body joins its lines as the page does); it ends where the next section's
    heading line begins. A section whose body is empty or not found merges into the one
    before it."""
    found: list[tuple[str, int]] = []
    cursor = 0
    for name, page, body in sections:
        first = body.strip().split("\n", 1)[0].strip()
        if not first:
            continue
        lo = max(cursor, starts[min(max(int(page), 1), len(starts)) - 1] if starts else 0)
        at = text.find(first, lo)
        if at < 0:
            continue
        found.append((name, at))
        cursor = at + len(first)
    spans: list[tuple[str, int, int]] = []
    begin = 0
    name = FRONT
    for next_name, body_at in found:
        end = _heading_start(text, body_at)
        if end > begin:
            spans.append((name, begin, end))
        name, begin = next_name, body_at
    if len(text) > begin:
        spans.append((name, begin, len(text)))
    return tuple(spans)


def _heading_start(text: str, body_at: int) -> int:
    """Where the heading line of a body starting at ``body_at`` begins: its own line when
    the heading is inline ("Abstract—text"), else the line before."""
    line = text.rfind("\n", 0, body_at) + 1
    if line == body_at and body_at > 0:
        return text.rfind("\n", 0, body_at - 1) + 1
    return line


# ---------------------------------------------------------------- locating sentences


@dataclass
class PagedText:
    """A PDF text with its whitespace collapsed (as the tagger and the themes read it),
    where a sentence quoted from it can be looked up for its page."""

    text: str
    starts: tuple[int, ...]

    @cached_property
    def _normal(self) -> tuple[str, list[int]]:
        pieces: list[str] = []
        norm_starts: list[int] = []
        offset = 0
        for _, _, page in page_pieces(self.text, self.starts):
            norm = " ".join(page.split())
            norm_starts.append(offset)
            if norm:  # a blank page adds no space: the text reads as if collapsed whole
                pieces.append(norm)
                offset += len(norm) + 1
        return " ".join(pieces), norm_starts

    def normal_offset(self, raw: int) -> int:
        """Where raw offset ``raw`` of :attr:`text` falls in :attr:`normal`."""
        before = self.text[:raw]
        norm = " ".join(before.split())
        return len(norm) + (1 if norm and before[-1:].isspace() else 0)

    @property
    def normal(self) -> str:
        """The text with every run of whitespace one space, pages joined by a space."""
        return self._normal[0]

    @cached_property
    def _folded(self) -> str:
        return self.normal.translate(_DASHES)

    def page_of_normal(self, offset: int) -> int:
        """The page of an offset in :attr:`normal`."""
        return page_at(self._normal[1], offset)

    def find(self, sentence: str, start: int = 0) -> int:
        """Offset in :attr:`normal` of ``sentence`` (whitespace collapsed; a sentence the
        tagger clipped with "…" by its longest piece); -1 when it is not in the text."""
        piece = max((" ".join(p.split()) for p in sentence.split(_ELLIPSIS)), key=len, default="")
        if not piece:
            return -1
        at = self._find(piece, start)
        if at < 0:  # a sentence the tagger read across a section left out: where it starts
            at = self._longest_opening(piece, start)
        return at

    def _longest_opening(self, piece: str, start: int) -> int:
        """Where the longest opening of ``piece`` (whole words, at least
        :data:`_OPENING` characters) stands; -1 if none does. Openings found get longer
        as long as they are found, so a binary search over word ends does."""
        ends = [i for i, ch in enumerate(piece) if ch == " " and i >= _OPENING]
        lo, hi, best = 0, len(ends) - 1, -1
        while lo <= hi:
            mid = (lo + hi) // 2
            at = self._find(piece[: ends[mid]], start)
            if at >= 0:
                best, lo = at, mid + 1
            else:
                hi = mid - 1
        return best

    def _find(self, piece: str, start: int) -> int:
        at = self.normal.find(piece, start)
        if at < 0:
            at = self._folded.find(piece.translate(_DASHES), start)
        return at

    def page_of(self, sentence: str) -> int | None:
        """The page ``sentence`` is on (where it starts), or None when it is not found."""
        at = self.find(sentence)
        return None if at < 0 else self.page_of_normal(at)


# ---------------------------------------------------------------- the tagger


#: The columns of a PDF text that :func:`add_pages` reads to place evidence on its page.
PAGE_COLUMNS = ("record_id", "text", "page_starts", "sections")


def pdf_rows(fulltexts: pd.DataFrame | None) -> pd.DataFrame:
    """The rows of ``fulltexts`` that are PDF texts with pages."""
    if fulltexts is None or fulltexts.empty or "page_starts" not in fulltexts.columns:
        return pd.DataFrame(columns=list(PAGE_COLUMNS))
    return fulltexts[fulltexts["page_starts"].map(has_pages)]


def tagger_inputs(
    records: pd.DataFrame, extracts: pd.DataFrame | None, fulltexts: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
    """``(records, extracts, fulltexts)`` for :func:`synth.tagging.tag` with each PDF
    full text split by its sections (:func:`field_of`): its abstract as the record's
    abstract when it has none, its methods as an extract of the paper (the paper's own
    study, read at the extract weight), the rest as the full text (the codebook's lower
    weight); the references are not read. Records without a PDF text are untouched (the
    frames are returned as given when there is none). The full texts returned hold the
    rest only: give :func:`add_pages` the full texts as loaded."""
    pdfs = pdf_rows(fulltexts)
    if pdfs.empty:
        return records, extracts, fulltexts
    has_abstract = _has_abstract(records)
    abstracts: dict[str, str] = {}
    added: list[dict[str, Any]] = []
    rest: dict[Any, str] = {}
    for row in pdfs.itertuples(index=False):
        own = has_abstract.get(row.record_id, False)
        parts: dict[str, list[str]] = {}
        for name, lo, hi in _spans(row):
            field = field_of(name, has_abstract=own)
            if field is not None:
                parts.setdefault(field, []).append(row.text[lo:hi])
        if "abstract" in parts:
            abstracts[row.record_id] = " ".join(" ".join(parts.pop("abstract")).split())
        for text in parts.pop("extract", []):
            added.append({"record_id": row.record_id, "kind": "pdf", "text": text})
        rest[row.record_id] = PAGE_JOIN.join(parts.get("fulltext", []))
    if abstracts:
        records = records.copy()
        fill = records["record_id"].map(abstracts)
        records["abstract"] = fill.where(fill.notna(), records.get("abstract"))
    if added:
        extracts = pd.concat(
            [e for e in (extracts, pd.DataFrame(added)) if e is not None and len(e)],
            ignore_index=True,
        )
    fulltexts = fulltexts.copy()  # type: ignore[union-attr]
    fulltexts["text"] = [
        rest.get(rid, text) if has_pages(starts) else text
        for rid, text, starts in zip(
            fulltexts["record_id"], fulltexts["text"], fulltexts["page_starts"], strict=True
        )
    ]
    return records, extracts, fulltexts


def _has_abstract(records: pd.DataFrame) -> dict[Any, bool]:
    if "abstract" not in records.columns:
        return {}
    return {
        rid: isinstance(a, str) and bool(a.strip())
        for rid, a in zip(records["record_id"], records["abstract"], strict=True)
    }


def _spans(row: Any) -> tuple[tuple[str, int, int], ...]:
    spans = row.sections
    if isinstance(spans, tuple | list) and spans:
        return tuple(spans)
    return ((FRONT, 0, len(row.text)),)


def add_pages(tags: pd.DataFrame, fulltexts: pd.DataFrame | None) -> pd.DataFrame:
    """``tags`` with ``page`` (and ``section``) on each evidence item whose sentence
    stands in the record's PDF text: where a reviewer finds it ("p. 4"). Evidence of
    records without a PDF text is not touched (nor copied)."""
    pdfs = pdf_rows(fulltexts)
    if pdfs.empty or tags.empty:
        return tags
    texts = {
        row.record_id: (PagedText(row.text, tuple(row.page_starts)), row)
        for row in pdfs.itertuples(index=False)
    }
    wanted = tags["record_id"].isin(list(texts))
    if not wanted.any():
        return tags
    tags = tags.copy()
    tags.loc[wanted, "evidence"] = pd.Series(
        [
            _paged(evidence, *texts[rid])
            for rid, evidence in zip(
                tags.loc[wanted, "record_id"], tags.loc[wanted, "evidence"], strict=True
            )
        ],
        index=tags.index[wanted],
        dtype=object,
    )
    return tags


_PAGED_FIELDS = frozenset({"abstract", "extract", "fulltext"})


def _paged(evidence: Any, paged: PagedText, row: Any) -> Any:
    if not isinstance(evidence, list):
        return evidence
    out = []
    for item in evidence:
        if isinstance(item, dict) and item.get("field") in _PAGED_FIELDS:
            at = paged.find(str(item.get("sentence") or ""))
            if at >= 0:
                item = {**item, "page": paged.page_of_normal(at)}
                section = _section_at(paged, row, at)
                if section:
                    item["section"] = section
        out.append(item)
    return out


def _section_at(paged: PagedText, row: Any, normal_at: int) -> str | None:
    """The name of the section holding an offset of the collapsed text."""
    spans = _spans(row)
    if len(spans) == 1 and spans[0][0] == FRONT:
        return None
    starts = paged.__dict__.setdefault(
        "_section_starts", [paged.normal_offset(lo) for _, lo, _ in spans]
    )
    return spans[max(0, bisect.bisect_right(starts, normal_at) - 1)][0]
