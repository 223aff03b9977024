"""PRISMA 2020 flow-diagram counts, derived from the review store alone.

Nothing here is typed in by hand: sources and their records give "identified",
duplicate groups give "duplicates removed", and the reviewers' standing decisions
(:func:`~synth.screening.decisions.final_decisions`) give every screening box.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from synth.screening.decisions import final_decisions, valid_reasons

NO_REASON = "no reason given"


@dataclass
class PrismaCounts:
    """The numbers in a PRISMA 2020 flow diagram (new review, databases and registers).

    Arithmetic that holds by construction::

        identified - duplicates_removed == screened + awaiting_screening
        screened == sum(excluded_screening) + (records going on) + conflicts_screening
        sought_full_text == not_retrieved + assessed_full_text + awaiting_full_text
        assessed_full_text == sum(excluded_full_text) + included + maybe_full_text
                              + conflicts_full_text
    """

    identified_by_source: dict[str, int]
    identified: int
    read_failures: int
    duplicates_removed: int
    screened: int
    excluded_screening: dict[str, int]
    awaiting_screening: int
    conflicts_screening: int
    sought_full_text: int
    not_retrieved: int
    assessed_full_text: int
    excluded_full_text: dict[str, int]
    awaiting_full_text: int
    included: int
    conflicts_full_text: int = 0
    maybe_full_text: int = 0
    reason_texts: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready) of every count."""
        return asdict(self)


def _kept_ids(con: sqlite3.Connection) -> set[str]:
    """Records that stay after deduplication: kept in their group, or in no group."""
    return {
        r[0]
        for r in con.execute(
            "SELECT record_id FROM records r WHERE NOT EXISTS (SELECT 1 FROM duplicate_groups"
            " g WHERE g.record_id = r.record_id AND g.is_kept = 0)"
        )
    }


def _with_fulltext(con: sqlite3.Connection) -> set[str]:
    """Kept records whose group has a full text (on any of its records)."""
    sql = (
        "SELECT COALESCE((SELECT min(k.record_id) FROM duplicate_groups g"
        " JOIN duplicate_groups k ON k.group_id = g.group_id AND k.is_kept = 1"
        " WHERE g.record_id = f.record_id), f.record_id) FROM fulltexts f"
    )
    return {r[0] for r in con.execute(sql)}


def _reasons(frame: Any) -> dict[str, int]:
    excluded = frame[frame["decision"] == "exclude"]
    counts = Counter(r if isinstance(r, str) and r else NO_REASON for r in excluded["reason"])
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def prisma_counts(con: sqlite3.Connection) -> PrismaCounts:
    """PRISMA 2020 counts from the store.

    Definitions:

    - **identified_by_source**: records read from each imported file that yielded
      records (or failed ones), keyed by the file's database when known (Scopus, PubMed,
      ...; files from one database are summed), else by the file name. ``identified``
      is their sum. Records that could not be read are ``read_failures`` (failed
      records plus unreadable files), not counted as identified.
    - **duplicates_removed**: identified records that are not kept: records read again
      under an id already stored, plus records not kept in their duplicate group. So
      ``identified - duplicates_removed`` is the number of distinct records to screen.
    - **screened**: kept records with a standing title/abstract decision (conflicts
      included); ``awaiting_screening`` the kept records without one;
      ``excluded_screening`` final exclusions by reason id (``reason_texts`` maps ids
      to the review's wording; "no reason given" when none).
    - **sought_full_text**: records whose final title/abstract decision is include or
      maybe (unclear goes on to full text), plus any record with a full-text decision.
    - **not_retrieved**: sought records without a full-text decision whose duplicate
      group has no full text in the store.
    - **assessed_full_text**: sought records with a standing full-text decision;
      ``excluded_full_text`` by reason; ``included`` the final full-text includes;
      ``awaiting_full_text`` the retrieved records nobody has assessed yet.
    """
    sources: Counter[str] = Counter()
    read_again = 0
    for row in con.execute(
        "SELECT name, database, n_records, n_failures, n_new FROM sources ORDER BY source_id"
    ):
        name, database, n_records, n_failures, n_new = row
        if n_records or n_failures:
            sources[database or name] += int(n_records)
            read_again += int(n_records) - int(n_new)
    (read_failures,) = con.execute(
        "SELECT count(*) FROM import_failures WHERE severity = 'error'"  # warnings were read
    ).fetchone()
    (not_kept,) = con.execute("SELECT count(*) FROM duplicate_groups WHERE is_kept = 0").fetchone()
    kept = _kept_ids(con)

    screening = final_decisions(con, stage="title_abstract")
    screening = screening[screening["record_id"].isin(kept)]
    full = final_decisions(con, stage="full_text")
    full = full[full["record_id"].isin(kept)]
    onward = set(screening.loc[screening["decision"].isin(["include", "maybe"]), "record_id"])
    sought = onward | set(full["record_id"])
    retrieved = _with_fulltext(con)
    not_retrieved = len((sought - set(full["record_id"])) - retrieved)
    assessed = len(full)

    texts = dict(valid_reasons(con))
    used = set(_reasons(screening)) | set(_reasons(full))
    return PrismaCounts(
        identified_by_source=dict(sources),
        identified=sum(sources.values()),
        read_failures=int(read_failures),
        duplicates_removed=read_again + int(not_kept),
        screened=len(screening),
        excluded_screening=_reasons(screening),
        awaiting_screening=len(kept) - len(screening),
        conflicts_screening=int((screening["decision"] == "conflict").sum()),
        sought_full_text=len(sought),
        not_retrieved=not_retrieved,
        assessed_full_text=assessed,
        excluded_full_text=_reasons(full),
        awaiting_full_text=len(sought) - assessed - not_retrieved,
        included=int((full["decision"] == "include").sum()),
        conflicts_full_text=int((full["decision"] == "conflict").sum()),
        maybe_full_text=int((full["decision"] == "maybe").sum()),
        reason_texts={k: v for k, v in texts.items() if k in used},
    )
