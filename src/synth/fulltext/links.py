"""Link each stored PDF to the reference it is the full text of.

The rules, in order (thresholds in the package data file ``fulltext_links.yml``):

1. **DOI**: the DOI the reader found (first pages or metadata) equals a reference's DOI,
   both normalised (lower case, no resolver prefix): rule ``doi``, score 100.
2. **Title**: the PDF's title against every reference's title, both normalised as
   duplicates are (:func:`synth.corpus.dedupe.normalise_title`). The title score is the
   mean of rapidfuzz's ``ratio`` (a different word costs) and ``token_set_ratio`` (word
   order, or a subtitle the PDF prints on its own line, costs little), less a penalty
   for each word one title has in place of another's ("mental health" / "cancer": a
   near-miss title is another paper, however close the rest). Where the reader found no
   title, the reference's title is looked for at the top of the first page
   (``partial_ratio``). Two checks then raise or lower the score: the **year** (the
   PDF's, or one printed on its first page, within ±1 of the reference's: up; further
   apart: down) and the reference's **first author's surname** (among the PDF's authors,
   or on its first page when the reader found none: up; the PDF names its authors and
   this one is not among them: down). Unknown on either side: no change. The best
   reference links when its score after the checks reaches the threshold and its title
   alone scored at least ``min_title_score`` (the checks tip a close title over, never a
   poor one): rule ``title``.
3. **Own record**: no reference matched, so the PDF becomes a record of its own (title,
   authors, DOI, year and abstract from the PDF; ``source_format`` ``pdf``, its file as
   ``source_file``): rule ``own-record``, score the best any reference reached (how near
   the closest miss was; 0 when none came near). A later import that brings the PDF's
   reference links it there (its own record stays, grouped with the reference as a
   duplicate when dedupe finds them alike).

A PDF a reviewer linked or unlinked (``synth fulltexts link|unlink``) is never relinked.
References are the store's records that did not themselves come from a PDF. Two PDFs
may link to one record: both stay linked, and the longer text is the record's full text
(:func:`synth.store.views.load_fulltexts`).
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml
from rapidfuzz import fuzz, process

from synth.corpus.dedupe import first_author_family, normalise_title
from synth.corpus.normalise import normalise_doi, normalise_records
from synth.store import fulltexts as store

if TYPE_CHECKING:
    from synth.fulltext.pdf import PdfDocument

log = logging.getLogger(__name__)

_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")


@dataclass(frozen=True)
class LinkRules:
    """The thresholds of ``fulltext_links.yml`` (see the file for what each means)."""

    threshold: float
    min_title_score: float
    first_page_chars: int
    min_title_chars: int
    word_differs: float
    min_word_chars: int
    word_alike: float
    year_tolerance: int
    year_agrees: float
    year_differs: float
    author_agrees: float
    author_differs: float


@cache
def link_rules() -> LinkRules:
    """The linking thresholds shipped with synth (package data ``fulltext_links.yml``)."""
    text = resources.files("synth.data").joinpath("fulltext_links.yml").read_text("utf-8")
    data = yaml.safe_load(text)
    return LinkRules(**data["title"], **data["checks"])


@dataclass(frozen=True)
class PdfFacts:
    """What linking needs to know of a PDF (from a :class:`PdfDocument` or the store)."""

    pdf_id: int | None
    file: str
    sha256: str
    title: str | None
    doi: str | None
    year: int | None
    authors: tuple[str, ...]
    abstract: str | None
    first_page: str


def facts_of(doc: PdfDocument, *, file: str | None = None, pdf_id: int | None = None) -> PdfFacts:
    """A read PDF's facts (``file`` defaults to its file name)."""
    return PdfFacts(
        pdf_id=pdf_id,
        file=file or doc.path.name,
        sha256=doc.sha256,
        title=doc.title,
        doi=doc.doi,
        year=doc.year,
        authors=tuple(doc.authors),
        abstract=doc.abstract,
        first_page=doc.pages[0] if doc.pages else "",
    )


def stored_facts(con: sqlite3.Connection, pdf_ids: Iterable[int] | None = None) -> list[PdfFacts]:
    """The facts of the stored PDFs (or of those in ``pdf_ids``), in id order."""
    rows = con.execute(
        "SELECT p.pdf_id, p.file, p.sha256, p.title, p.doi, p.year, p.authors, p.abstract,"
        " coalesce(g.text, '') FROM pdf_files p"
        " LEFT JOIN pdf_pages g ON g.pdf_id = p.pdf_id AND g.page = 1 ORDER BY p.pdf_id"
    ).fetchall()
    wanted = None if pdf_ids is None else {int(i) for i in pdf_ids}
    return [
        PdfFacts(int(r[0]), r[1], r[2], r[3], r[4], r[5], tuple(json.loads(r[6])), r[7], r[8])
        for r in rows
        if wanted is None or int(r[0]) in wanted
    ]


@dataclass(frozen=True)
class Match:
    """A reference a PDF links to: by which rule, with what score, and why."""

    record_id: str
    rule: str
    score: float
    why: str


def _letters(text: str) -> str:
    """Lower-case letters only, accents folded: "Ó Súilleabháin" -> "osuilleabhain"."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in folded if c.isalnum() and c.isascii())


class References:
    """The store's references, prepared once for linking many PDFs."""

    def __init__(self, records: pd.DataFrame) -> None:
        if "is_kept" in records:  # the kept record of a group first, so it wins ties
            records = records.sort_values("is_kept", ascending=False, kind="stable")
        records = records[records["source_format"] != "pdf"].reset_index(drop=True)
        self.ids: list[str] = records["record_id"].tolist()
        self.dois: dict[str, str] = {}
        for rid, doi in zip(self.ids, records["doi"], strict=True):
            d = normalise_doi(doi) if isinstance(doi, str) else None
            if d:
                self.dois.setdefault(d, rid)
        self.titles = [normalise_title(t) if isinstance(t, str) else "" for t in records["title"]]
        self.years = [None if pd.isna(y) else int(y) for y in records["year"]]
        self.families = [first_author_family(a) for a in records["authors"]]

    @classmethod
    def from_store(cls, con: sqlite3.Connection) -> References:
        """The store's records; the kept flag as last grouped (groups are refreshed after
        linking, so a record imported with the PDFs has none yet: it only breaks ties)."""
        from synth.store.views import load_records

        records = load_records(con)
        kept = dict(con.execute("SELECT record_id, is_kept FROM duplicate_groups").fetchall())
        records["is_kept"] = [bool(kept.get(r, 1)) for r in records["record_id"]]
        return cls(records)

    def __len__(self) -> int:
        return len(self.ids)


def _title_scores(facts: PdfFacts, refs: References, rules: LinkRules) -> tuple[np.ndarray, str]:
    """Each reference's title score (0-100) and how it was found."""
    if not len(refs):
        return np.zeros(0), ""
    title = normalise_title(facts.title) if facts.title else ""
    if len(title) >= rules.min_title_chars:
        # a mean of at least min_title_score needs each score at least 2 * min - 100
        cutoff = max(0.0, 2 * rules.min_title_score - 100)
        ratio = process.cdist([title], refs.titles, scorer=fuzz.ratio, score_cutoff=cutoff)[0]
        token_set = process.cdist(
            [title], refs.titles, scorer=fuzz.token_set_ratio, score_cutoff=cutoff
        )[0]
        scores = (ratio.astype(float) + token_set.astype(float)) / 2
        how = "title"
    else:
        head = normalise_title(facts.first_page[: rules.first_page_chars])
        scores = process.cdist(
            refs.titles, [head], scorer=fuzz.partial_ratio, score_cutoff=rules.min_title_score
        )[:, 0].astype(float)
        how = "title on the first page"
    short = np.array([len(t) < rules.min_title_chars for t in refs.titles])
    scores[short] = 0.0
    return scores, how


def _year_check(facts: PdfFacts, year: int | None, rules: LinkRules) -> tuple[float, str]:
    if year is None:
        return 0.0, "year unknown"
    if facts.year is not None:
        if abs(facts.year - year) <= rules.year_tolerance:
            return rules.year_agrees, f"year {facts.year} agrees"
        return -rules.year_differs, f"year {facts.year} vs {year}"
    printed = {int(y) for y in _YEAR.findall(facts.first_page[: rules.first_page_chars * 2])}
    if any(abs(y - year) <= rules.year_tolerance for y in printed):
        return rules.year_agrees, f"year {year} on the first page"
    return 0.0, "year unknown"


def _author_check(facts: PdfFacts, family: str, rules: LinkRules) -> tuple[float, str]:
    if not family:
        return 0.0, "first author unknown"
    if facts.authors:
        if any(family in _letters(a) for a in facts.authors):
            return rules.author_agrees, f"first author {family} agrees"
        return -rules.author_differs, f"first author {family} not among the PDF's authors"
    if len(family) >= 4 and family in _letters(facts.first_page[: rules.first_page_chars * 2]):
        return rules.author_agrees, f"first author {family} on the first page"
    return 0.0, "PDF authors unknown"


def match(facts: PdfFacts, refs: References, rules: LinkRules | None = None) -> Match | None:
    """The reference ``facts``' PDF is the full text of, or None (it needs its own record).

    See the module docstring for the rules; the best candidate by title after the checks
    wins, the kept record of a duplicate group first among equals.
    """
    rules = rules or link_rules()
    doi = normalise_doi(facts.doi) if facts.doi else None
    if doi and doi in refs.dois:
        return Match(refs.dois[doi], "doi", 100.0, f"DOI {doi}")
    best = best_title(facts, refs, rules)
    if best is None:
        return None
    i, score, title_score, why = best
    if score >= rules.threshold and title_score >= rules.min_title_score:
        return Match(refs.ids[i], "title", round(score, 1), why)
    return None


def best_title(
    facts: PdfFacts, refs: References, rules: LinkRules
) -> tuple[int, float, float, str] | None:
    """(reference index, score after the checks, title score, why) of the best candidate."""
    scores, how = _title_scores(facts, refs, rules)
    if not len(scores) or scores.max() <= 0:
        return None
    candidates = np.flatnonzero(scores >= min(rules.min_title_score, scores.max()))
    best: tuple[int, float, float, str] | None = None
    title = normalise_title(facts.title) if how == "title" else ""
    for i in candidates[np.argsort(-scores[candidates], kind="stable")][:20]:
        title_score = float(scores[i])
        swapped = _swapped_words(title, refs.titles[i], rules) if title else 0
        if swapped:
            title_score = max(0.0, title_score - swapped * rules.word_differs)
            how_i = f"{how} ({swapped} word(s) differ)"
        else:
            how_i = how
        dy, year_why = _year_check(facts, refs.years[i], rules)
        da, author_why = _author_check(facts, refs.families[i], rules)
        score = min(100.0, max(0.0, title_score + dy + da))
        why = f"{how_i} {title_score:.1f}; {year_why}; {author_why}"
        if best is None or score > best[1]:
            best = (int(i), score, title_score, why)
    return best


def _swapped_words(a: str, b: str, rules: LinkRules) -> int:
    """How many words one normalised title has in place of another's: words of
    ``min_word_chars`` or more on each side with no look-alike (rapidfuzz ratio below
    ``word_alike``, or a part of it: "vices" of "services", split at a line end) on the
    other, counted on the side with fewer. A word only one title
    has (a dropped subtitle, a title cut short, a "Research article" line) is no swap;
    "mental" where the other says "cancer" is."""
    wa = {w for w in a.split() if len(w) >= rules.min_word_chars}
    wb = {w for w in b.split() if len(w) >= rules.min_word_chars}

    def lone(words: set[str], other: set[str]) -> int:
        return sum(
            1
            for w in words - other
            if not any(w in o or fuzz.ratio(w, o) >= rules.word_alike for o in other - words)
        )

    return min(lone(wa, wb), lone(wb, wa))


def own_record(facts: PdfFacts) -> pd.DataFrame:
    """The canonical record a PDF with no reference becomes (one row).

    Title, authors, DOI, year and abstract come from the PDF; ``source_format`` is
    ``pdf`` and ``source_file`` the PDF's file name, so every table shows where it came
    from; ``extra`` names the PDF (``from_pdf``: its file, ``pdf_sha256``). A PDF whose
    title was not found is titled by its file name, and ``extra`` says so.
    """
    name = PurePath(facts.file.replace("\\", "/")).name
    extra: dict[str, Any] = {"from_pdf": facts.file, "pdf_sha256": facts.sha256}
    title = facts.title
    if not title:
        title = PurePath(name).stem
        extra["title_from"] = "file name (no title found in the PDF)"
    raw = {
        "title": title,
        "authors": "; ".join(facts.authors) or None,
        "year": facts.year,
        "doi": facts.doi,
        "abstract": facts.abstract,
        "source_key": f"pdf:{facts.sha256[:16]}",
        "position": 1,
        "line": None,
        "extra": extra,
    }
    return normalise_records([raw], source_file=name, source_format="pdf")


def link_pdfs(
    con: sqlite3.Connection, pdf_ids: Iterable[int] | None = None, rules: LinkRules | None = None
) -> dict[str, int]:
    """Link the stored PDFs (or those in ``pdf_ids``) to their references; returns counts.

    Each change is an automatic link event, committed before the next PDF; a PDF whose
    link would not change gets no event (re-importing adds nothing), and a PDF a reviewer
    decided is left as the reviewer left it. Counts: ``pdfs_by_doi``, ``pdfs_by_title``,
    ``pdfs_own_record`` (PDFs newly linked each way), ``pdfs_unchanged``,
    ``pdfs_by_reviewer``.
    """
    rules = rules or link_rules()
    counts = dict.fromkeys(
        ("pdfs_by_doi", "pdfs_by_title", "pdfs_own_record", "pdfs_unchanged", "pdfs_by_reviewer"),
        0,
    )
    facts_list = stored_facts(con, pdf_ids)
    if not facts_list:
        return counts
    decided = store.reviewer_decided(con)
    refs = References.from_store(con)
    for facts in facts_list:
        assert facts.pdf_id is not None
        if facts.pdf_id in decided:
            counts["pdfs_by_reviewer"] += 1
            continue
        found = match(facts, refs, rules)
        if found is not None:
            event = store.auto_link(
                con, facts.pdf_id, found.record_id, rule=found.rule, score=found.score
            )
            key = f"pdfs_by_{found.rule}"
            log.info("%s -> %s (%s, %s)", facts.file, found.record_id, found.rule, found.why)
        else:
            best = best_title(facts, refs, rules)
            nearest = round(best[1], 1) if best is not None else 0.0
            made = store.add_own_record(con, facts.pdf_id, own_record(facts), score=nearest)
            event = made
            key = "pdfs_own_record"
            log.info(
                "%s: no reference matched (nearest %.1f); a record of its own", facts.file, nearest
            )
        counts[key if event is not None else "pdfs_unchanged"] += 1
    return counts
