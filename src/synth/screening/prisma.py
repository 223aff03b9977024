"""PRISMA 2020 flow-diagram counts, derived from the review store, as the review reports them.

Nothing here is typed in by hand: sources and their records give "identified" (split as
PRISMA 2020 does: databases and registers | other methods), duplicate groups give
"duplicates removed", and the reviewers' standing decisions
(:func:`~synth.screening.decisions.final_decisions`) give the screening boxes. The review's
definition (``review.yml``, :mod:`synth.review`) says which stages it reports and what
kind of source each file is: a number the review does not report is ``None`` ("not
reported"), never 0 and never invented. The published review's list of its included
studies (``published_decisions.include_file``) is not a search result: its records take
part in the flow but are not identified records (``included_list``).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from synth.review import STAGES, Review, find_review, review_for
from synth.screening.decisions import current_decisions, final_decisions, valid_reasons

NO_REASON = "no reason given"
#: How the stages are named to a reader.
STAGE_NAMES = {"title_abstract": "title/abstract", "full_text": "full text"}
#: Source kinds counted in each PRISMA 2020 identification column.
DATABASE_KINDS = ("database", "register")
OTHER_KINDS = ("other_methods",)
#: The other-methods bucket of PDFs no reference matched (each became a record of its
#: own), unless a ``review.yml`` ``sources`` glob says what kind of source they are.
UNMATCHED_PDFS = "full texts without a reference"


@dataclass
class PrismaCounts:
    """The numbers in a PRISMA 2020 flow diagram; ``None`` is "not reported".

    Identities (checked by :meth:`identities`; one with a ``None`` term is not checked)::

        identified == sum(identified_by_source) + sum(identified_other_methods)
        identified + sum(included_list) - duplicates_removed - read_failures == unique_records
        unique_records == screened + awaiting_screening         (title/abstract reported)
        unique_records == sought_full_text                      (full text only reported)
        screened == sum(excluded_screening) + passed_screening + conflicts_screening
        sought_full_text == not_retrieved + assessed_full_text + awaiting_full_text
        assessed_full_text == sum(excluded_full_text) + included + maybe_full_text
                              + conflicts_full_text

    ``identified`` counts every record found in an identified source, read or not (a
    record that could not be read was identified, then removed before screening).
    Background documents and full texts attached to a reference are not identified
    records (``not_identified``, per file) and are not duplicates either. The published
    review's list of its included studies (``included_list``, per file) is in the flow but
    not identified: when it is all there is, the search is not reported (``identified``,
    ``duplicates_removed`` and ``unique_records`` None).
    """

    identified_by_source: dict[str, int]
    identified: int | None
    read_failures: int
    duplicates_removed: int | None
    screened: int | None
    excluded_screening: dict[str, int] | None
    awaiting_screening: int | None
    conflicts_screening: int | None
    sought_full_text: int | None
    not_retrieved: int | None
    assessed_full_text: int | None
    excluded_full_text: dict[str, int] | None
    awaiting_full_text: int | None
    included: int | None
    conflicts_full_text: int | None = 0
    maybe_full_text: int | None = 0
    reason_texts: dict[str, str] = field(default_factory=dict)
    #: records identified by other methods (hand search, citation chasing, websites ...)
    identified_other_methods: dict[str, int] = field(default_factory=dict)
    #: records of background documents and attached full texts, per file (not identified)
    not_identified: dict[str, int] = field(default_factory=dict)
    #: records of the published review's list of its included studies, per file (in the
    #: flow, not identified: that list is what the review kept, not what it searched)
    included_list: dict[str, int] = field(default_factory=dict)
    #: distinct identified records left after duplicates and unreadable records
    unique_records: int | None = None
    #: records whose standing title/abstract decision sends them on (include or maybe)
    passed_screening: int | None = None
    #: what the diagram says besides numbers (not a count: left out of :meth:`to_dict`):
    #: ``reported_stages``, ``stages_without_decisions``, ``search_note``
    notes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready) of every count; None where the review does not report it."""
        out = asdict(self)
        out.pop("notes")
        return out

    def identities(self) -> list[str]:
        """The identities of the class docstring that fail, as sentences (empty: all hold)."""
        failed = []
        for name, left, right in self._identity_terms():
            if left is None or right is None:
                continue
            if left != right:
                failed.append(f"{name}: {left} != {right}")
        return failed

    def _identity_terms(self) -> list[tuple[str, int | None, int | None]]:
        ta = self.screened is not None
        return [
            ("identified = databases and registers + other methods", self.identified,
             sum(self.identified_by_source.values()) + sum(self.identified_other_methods.values())),
            ("identified + included list - duplicates removed - unreadable = unique records",
             None if self.duplicates_removed is None else _add(self.identified or 0,
             sum(self.included_list.values()), -self.duplicates_removed, -self.read_failures),
             self.unique_records),
            ("unique records = screened + awaiting screening", self.unique_records,
             _add(self.screened, self.awaiting_screening) if ta else None),
            ("unique records = reports sought (full text only reported)",
             None if ta else self.unique_records, self.sought_full_text),
            ("screened = excluded + passed on + conflicts", self.screened,
             _add(_total(self.excluded_screening), self.passed_screening,
                  self.conflicts_screening)),
            ("sought = not retrieved + assessed + awaiting assessment", self.sought_full_text,
             _add(self.not_retrieved, self.assessed_full_text, self.awaiting_full_text)),
            ("assessed = excluded + included + maybe + conflicts", self.assessed_full_text,
             _add(_total(self.excluded_full_text), self.included, self.maybe_full_text,
                  self.conflicts_full_text)),
        ]  # fmt: skip


def _add(*values: int | None) -> int | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def _total(counts: dict[str, int] | None) -> int | None:
    return None if counts is None else sum(counts.values())


# --------------------------------------------------------------------------- identification


@dataclass
class _Identification:
    databases: Counter[str]
    other: Counter[str]
    background: Counter[str]
    included_list: Counter[str]
    failures: int
    units: set[str]  # kept record id of each distinct record's group in the flow

    @property
    def identified(self) -> int | None:
        """Records found by the search; None (not reported) when the published review's
        list of its included studies is all there is."""
        found = sum(self.databases.values()) + sum(self.other.values())
        return None if not found and self.included_list else found

    def column(self, kind: str, included_list: bool) -> Counter[str]:
        """The counter a file of this kind is counted in."""
        if included_list:
            return self.included_list
        return self.databases if kind in DATABASE_KINDS else self.other


def _source_kinds(
    con: sqlite3.Connection, review: Review
) -> dict[int, tuple[str, bool, str | None]]:
    """source_id -> (PRISMA source kind by the review's ``sources`` globs, whether it is
    the published review's list of its included studies, the bucket it is counted under
    when not its database or name).

    A PDF no reference matched (a ``sources`` row of format ``pdf``, its own record) was
    not found by a database search: unless a glob lists it, it is counted under other
    methods, all such PDFs in one bucket (:data:`UNMATCHED_PDFS`).
    """
    corpus = review.path.parent if review.path is not None else None
    out: dict[int, tuple[str, bool, str | None]] = {}
    for sid, name, path, fmt in con.execute("SELECT source_id, name, path, format FROM sources"):
        file = path or name
        listed = review.listed_kind(file, corpus)
        unmatched_pdf = listed is None and fmt == "pdf"
        out[int(sid)] = (
            "other_methods" if unmatched_pdf else review.source_kind(file, corpus),
            review.is_include_file(file, corpus),
            UNMATCHED_PDFS if unmatched_pdf else None,
        )
    return out


def _identification(con: sqlite3.Connection, review: Review) -> _Identification:
    """Records found per source column, and the distinct records in the flow.

    A record read twice under one id (a file imported again, or the same record twice in
    a file) is one distinct record. A file that could not be read at all has no
    ``sources`` row: its failure counts as one record found and not read. The published
    review's list of its included studies is counted apart (by file name), in the flow.
    """
    kinds = _source_kinds(con, review)
    out = _Identification(Counter(), Counter(), Counter(), Counter(), 0, set())
    identified: set[int] = set()
    for sid, name, database, n_records, n_failures in con.execute(
        "SELECT source_id, name, database, n_records, n_failures FROM sources ORDER BY source_id"
    ):
        if not (n_records or n_failures):
            continue
        kind, listed, bucket = kinds[int(sid)]
        if kind == "background" and not listed:
            out.background[name] += int(n_records)
            continue
        identified.add(int(sid))
        key = name if listed else bucket or database or name
        out.column(kind, listed)[key] += int(n_records) + int(n_failures)
        out.failures += int(n_failures)
    corpus = review.path.parent if review.path is not None else None
    for (file,) in con.execute(  # a file that could not be read at all: one failure
        "SELECT file FROM import_failures WHERE source_id IS NULL AND severity = 'error'"
        " AND lower(file) NOT LIKE '%.pdf'"  # an unreadable PDF is a full text, not a record
    ):
        kind, listed = review.source_kind(file, None), review.is_include_file(file, corpus)
        if kind != "background" or listed:
            out.column(kind, listed)[Path(file).name] += 1
            out.failures += 1
    rows = con.execute(
        "SELECT r.record_id, r.source_id, COALESCE((SELECT min(k.record_id) FROM"
        " duplicate_groups g JOIN duplicate_groups k ON k.group_id = g.group_id AND"
        " k.is_kept = 1 WHERE g.record_id = r.record_id), r.record_id) FROM records r"
    )
    out.units = {kept for _, sid, kept in rows if int(sid) in identified}
    return out


def _with_fulltext(con: sqlite3.Connection) -> set[str]:
    """Kept records whose group has a full text (on any of its records): a Markdown full
    text or a PDF now linked (:data:`synth.store.fulltexts.FULLTEXT_RECORDS_SQL`)."""
    from synth.store.fulltexts import FULLTEXT_RECORDS_SQL

    sql = (
        "SELECT COALESCE((SELECT min(k.record_id) FROM duplicate_groups g"
        " JOIN duplicate_groups k ON k.group_id = g.group_id AND k.is_kept = 1"
        f" WHERE g.record_id = f.record_id), f.record_id) FROM ({FULLTEXT_RECORDS_SQL}) f"
    )
    return {r[0] for r in con.execute(sql)}


def _reasons(frame: pd.DataFrame) -> dict[str, int]:
    excluded = frame[frame["decision"] == "exclude"]
    counts = Counter(r if isinstance(r, str) and r else NO_REASON for r in excluded["reason"])
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _count(frame: pd.DataFrame, decision: str) -> int:
    return int((frame["decision"] == decision).sum())


# --------------------------------------------------------------------------- the counts


def _review(con: sqlite3.Connection, review: Review | None) -> Review:
    return review if review is not None else review_for(find_review(con))


def _published_only(con: sqlite3.Connection, review: Review, stage: str) -> bool:
    """Whether every decision at ``stage`` is the published review's own (its list of
    includes): then the review's exclusions there, and how many it assessed, are unknown."""
    published = review.published_decisions
    if not published or stage not in published["stages"]:
        return False
    reviewers = set(current_decisions(con, stage=stage)["reviewer"])
    return bool(reviewers) and reviewers == {published["reviewer"]}


def prisma_counts(con: sqlite3.Connection, review: Review | None = None) -> PrismaCounts:
    """PRISMA 2020 counts from the store, as ``review`` reports them.

    ``review`` defaults to the ``review.yml`` beside the imported files (none: the store
    alone, both stages, and ``notes["stages_without_decisions"]`` names the stages nobody
    has decided anything at yet).

    Definitions:

    - **identified_by_source** (databases and registers) and
      **identified_other_methods**: records found in each identified file (read, plus
      those that could not be read), keyed by the file's database when known (Scopus,
      PubMed, ...; files from one database are summed), else by the file name; which
      column a file is in is ``Review.source_kind`` (PDFs no reference matched, each its
      own record, are other methods, one bucket :data:`UNMATCHED_PDFS`, unless a
      ``sources`` glob lists them). ``identified`` is their sum.
      Background documents and full texts attached to a reference are
      ``not_identified``. Records that could not be read are ``read_failures``.
    - **included_list**: records of the published review's list of its included
      studies (``published_decisions.include_file``, matched as ``Review.source_kind``
      matches files), per file: in the flow (their full-text decisions give
      ``included``) but not identified records. When no identified source remains, the
      search is not reported: ``identified``, ``duplicates_removed`` and
      ``unique_records`` are None.
    - **duplicates_removed**: records in the flow that are not distinct records: read
      again under an id already stored, or merged into another record's duplicate group.
      ``unique_records`` = identified + included list - duplicates removed - unreadable.
    - **screened** (title/abstract reported): unique records with a standing
      title/abstract decision (conflicts included); ``awaiting_screening`` the rest;
      ``excluded_screening`` final exclusions by reason id (``reason_texts`` maps ids to
      the review's wording; "no reason given" when none); ``passed_screening`` the
      includes and maybes (unclear goes on to full text).
    - **sought_full_text**: records passed on from title/abstract plus any record with a
      full-text decision; every unique record when title/abstract is not reported.
    - **not_retrieved**: sought records without a full-text decision whose duplicate
      group has no full text in the store.
    - **assessed_full_text**: sought records with a standing full-text decision;
      ``excluded_full_text`` by reason; ``included`` the final full-text includes;
      ``awaiting_full_text`` the retrieved records nobody has assessed yet.

    A stage the review does not report is None throughout. At a stage whose only
    decisions are the published review's list of includes, only ``included`` is known.
    """
    review = _review(con, review)
    ident = _identification(con, review)
    units = ident.units
    frames = {s: final_decisions(con, stage=s) for s in STAGES}
    frames = {s: f[f["record_id"].isin(units)] for s, f in frames.items()}
    reported = set(review.reported_stages)
    ta, ft = frames["title_abstract"], frames["full_text"]
    identified = ident.identified
    in_flow = (identified or 0) + sum(ident.included_list.values())
    counts = PrismaCounts(
        identified_by_source=dict(ident.databases),
        identified_other_methods=dict(ident.other),
        not_identified=dict(ident.background),
        included_list=dict(ident.included_list),
        identified=identified,
        read_failures=ident.failures,
        duplicates_removed=None if identified is None else in_flow - ident.failures - len(units),
        unique_records=None if identified is None else len(units),
        screened=None, excluded_screening=None, awaiting_screening=None,
        conflicts_screening=None, sought_full_text=None, not_retrieved=None,
        assessed_full_text=None, excluded_full_text=None, awaiting_full_text=None,
        included=None, conflicts_full_text=None, maybe_full_text=None,
        notes=_notes(review, frames),
    )  # fmt: skip
    onward: set[str] = set()
    if "title_abstract" in reported:
        onward = set(ta.loc[ta["decision"].isin(["include", "maybe"]), "record_id"])
        counts.screened = len(ta)
        counts.excluded_screening = _reasons(ta)
        counts.awaiting_screening = len(units) - len(ta)
        counts.conflicts_screening = _count(ta, "conflict")
        counts.passed_screening = len(onward)
        counts.included = _count(ta, "include")  # unless full text is reported too
    if "full_text" in reported:
        _full_text(con, counts, ft, onward if "title_abstract" in reported else units, review)
    texts = dict(valid_reasons(con))
    used = set(counts.excluded_screening or {}) | set(counts.excluded_full_text or {})
    counts.reason_texts = {k: v for k, v in texts.items() if k in used}
    return counts


def _full_text(
    con: sqlite3.Connection, counts: PrismaCounts, ft: pd.DataFrame, onward: set[str],
    review: Review,
) -> None:  # fmt: skip
    """Fill the full-text boxes: ``onward`` are the records sent on to full text."""
    counts.included = _count(ft, "include")
    if _published_only(con, review, "full_text"):
        counts.notes["published_only"] = ["full_text"]
        return  # the review lists what it included, not what it assessed or excluded
    sought = onward | set(ft["record_id"])
    not_retrieved = len((sought - set(ft["record_id"])) - _with_fulltext(con))
    counts.sought_full_text = len(sought)
    counts.not_retrieved = not_retrieved
    counts.assessed_full_text = len(ft)
    counts.excluded_full_text = _reasons(ft)
    counts.awaiting_full_text = len(sought) - len(ft) - not_retrieved
    counts.conflicts_full_text = _count(ft, "conflict")
    counts.maybe_full_text = _count(ft, "maybe")


def _notes(review: Review, frames: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """What the diagram says in words: the stages reported, those without decisions
    (no review.yml), how the review says it searched; ``published_only`` is added where
    the only decisions are the published review's list of includes."""
    notes: dict[str, Any] = {"reported_stages": list(review.reported_stages)}
    if review.path is None:
        notes["stages_without_decisions"] = [s for s in STAGES if frames[s].empty]
    if review.search_note:
        notes["search_note"] = review.search_note
    return notes


def say(value: int | None, fmt: Callable[[int], str] = str) -> str:
    """A count as text; None (a number the review does not report) as "not reported"."""
    return "not reported" if value is None else fmt(value)
