"""The small views the report notebooks share: which papers a report covers, and counts.

Every notebook of a run applies the same filters (stage, included only, years, settings)
through :func:`select_records`, so the overview, the themes and the maps always talk
about the same set of papers, and each page says which set that is.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

import pandas as pd

from synth.store.tags import current_tags
from synth.store.views import load_records
from synth.tagging.describe import counted_tags

log = logging.getLogger(__name__)

#: Papers listed in a report page's table: the page must stay small (< 1 MB) to open
#: quickly; the self-contained evidence map and ``synth export`` carry every paper. (A
#: row with its evidence quotes is about 1.5 kB; at 10,000 papers the evidence-map page's
#: figures take another 0.6 MB.)
PAGE_TABLE_ROWS = 200


@dataclass
class Selection:
    """The papers a report covers: unique records after the run's filters, and their tags."""

    records: pd.DataFrame
    tags: pd.DataFrame
    all_records: pd.DataFrame
    filters: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    #: Unique records included at ``included_stage`` before the year/setting filters
    #: (None: no decisions, so no stage defines "included").
    included: int | None = None
    included_stage: str | None = None

    @property
    def record_ids(self) -> list[str]:
        return self.records["record_id"].astype(str).tolist()

    @property
    def with_duplicates(self) -> pd.DataFrame:
        """The selected records plus their duplicates (whose extracts and full texts count
        for the kept record), with ``is_kept``/``group_id``."""
        from synth.tagging.describe import unique_record_ids

        counted_as = unique_record_ids(self.all_records)
        keep = set(self.record_ids)
        ids = self.all_records["record_id"].astype(str)
        mask = ids.map(lambda r: counted_as.get(r) in keep)
        return self.all_records[mask.to_numpy(dtype=bool)].reset_index(drop=True)

    @property
    def n_unique(self) -> int:
        """Unique records (kept in their duplicate group), as the deduplication table."""
        return int(_kept_mask(self.all_records).sum())

    def describe(self) -> str:
        """One sentence saying which papers the page shows (for the top of each page)."""
        n_unique = self.n_unique
        f = self.filters
        applied = []
        if f.get("included_only"):
            applied.append(f"included at the {str(f.get('stage', '')).replace('_', '-')} stage")
        lo, hi = f.get("year_min"), f.get("year_max")
        if lo is not None or hi is not None:
            applied.append(
                f"published {lo if lo is not None else '…'}–{hi if hi is not None else '…'}"
            )
        if f.get("settings"):
            applied.append("settings: " + ", ".join(map(str, f["settings"])))
        text = f"{len(self.records)} of {n_unique} unique records"
        if applied:
            text += " (" + "; ".join(applied) + ")"
        return ". ".join([text, *self.notes]) + "."


def _kept_mask(records: pd.DataFrame) -> pd.Series:
    if "is_kept" not in records.columns:
        return pd.Series(True, index=records.index)
    return records["is_kept"].astype("boolean").fillna(True).astype(bool)


def included_ids(con: sqlite3.Connection, stage: str) -> tuple[set[str] | None, str]:
    """Record ids whose standing decision at ``stage`` is include, and which stage was used.

    With no decision at ``full_text`` the title-abstract includes stand in; with no
    decision at all, None (the caller shows every unique record and says so).
    """
    from synth.screening.decisions import final_decisions

    stages = [stage] + (["title_abstract"] if stage == "full_text" else [])
    for st in stages:
        final = final_decisions(con, stage=st)
        if len(final):
            return set(final.loc[final["decision"] == "include", "record_id"].astype(str)), st
    return None, stage


def select_records(
    con: sqlite3.Connection,
    *,
    stage: str = "full_text",
    included_only: bool = True,
    year_min: int | None = None,
    year_max: int | None = None,
    settings: Sequence[str] | None = None,
) -> Selection:
    """The unique records a report covers, with their current tags.

    Parameters
    ----------
    con
        The review store.
    stage
        Screening stage whose decisions define "included" (``title_abstract`` or
        ``full_text``).
    included_only
        Keep only records included at ``stage``. A store with no screening decisions yet
        (e.g. a corpus that is itself the included set) keeps every unique record, and the
        selection's notes say so.
    year_min, year_max
        Publication-year bounds (inclusive); records without a year drop out when a bound
        is set.
    settings
        Setting labels (the tagger's ``setting`` facet); a record stays if any of its
        setting tags is listed.
    """
    all_records = load_records(con, with_groups=True)
    tags = current_tags(con)
    records = all_records[_kept_mask(all_records)]
    notes: list[str] = []
    included, included_stage = None, None
    if included_only:
        ids, used = included_ids(con, stage)
        if ids is None:
            notes.append("No screening decisions are recorded yet, so every unique record is shown")
        else:
            if used != stage:
                wanted, shown = stage.replace("_", "-"), used.replace("_", "-")
                notes.append(f"No {wanted} decisions yet: {shown} includes shown")
            records = records[records["record_id"].astype(str).isin(ids)]
            included, included_stage = len(records), used
    years = pd.to_numeric(records["year"], errors="coerce")
    if year_min is not None:
        records = records[years.loc[records.index] >= int(year_min)]
    if year_max is not None:
        records = records[years.loc[records.index] <= int(year_max)]
    if settings:
        strong = counted_tags(tags)
        with_setting = strong[(strong["facet"] == "setting") & strong["label"].isin(list(settings))]
        records = records[records["record_id"].isin(set(with_setting["record_id"]))]
    records = records.reset_index(drop=True)
    keep = set(records["record_id"])
    filters = {
        "stage": stage,
        "included_only": bool(included_only),
        "year_min": year_min,
        "year_max": year_max,
        "settings": list(settings or []),
    }
    return Selection(
        records=records,
        tags=pooled_tags(tags, all_records, keep),
        all_records=all_records,
        filters=filters,
        notes=notes,
        included=included,
        included_stage=included_stage,
    )


def pooled_tags(tags: pd.DataFrame, all_records: pd.DataFrame, keep: set[str]) -> pd.DataFrame:
    """Tags of the kept records, a duplicate's tags counted for its kept record (once).

    Pooled by :func:`synth.tagging.describe.pool_tags` (one label kept in a single-label
    facet such as the publication type).
    """
    from synth.tagging.describe import pool_tags, unique_record_ids

    return pool_tags(tags, unique_record_ids(all_records), keep)


def table_records(
    records: pd.DataFrame, limit: int = PAGE_TABLE_ROWS
) -> tuple[pd.DataFrame, str | None]:
    """The papers a page's table lists (newest first when there are more than ``limit``),
    and a note saying how many were left out (None when all are listed)."""
    if len(records) <= limit:
        return records, None
    years = pd.to_numeric(records["year"], errors="coerce").fillna(-1)
    order = records.assign(_y=years).sort_values(["_y", "title"], ascending=[False, True])
    shown = order.drop(columns="_y").head(limit)
    note = (
        f"The table lists the {limit} most recent of {len(records)} papers; "
        "the evidence map file and `synth export records` hold them all."
    )
    return shown, note


def import_summary(con: sqlite3.Connection, root: str | Path | None = None) -> pd.DataFrame:
    """One row per imported file (most records first): the file, format, database,
    records, failures, new records.

    The file is its path relative to ``root`` (the corpus folder), else to the folder all
    imported files share, so two files of one name in different folders
    (``extracts/spencer2013.md``, ``fulltexts/spencer2013.md``) stay apart."""
    df = pd.read_sql_query(
        "SELECT name, path, format, database, n_records AS records, n_failures AS failures,"
        " n_new AS new FROM sources ORDER BY n_records DESC, name",
        con,
    )
    files = _relative_paths(df["path"].tolist(), df["name"].tolist(), root)
    return df.drop(columns=["name", "path"]).assign(file=files)[
        ["file", "format", "database", "records", "failures", "new"]
    ]


def _relative_paths(paths: list[Any], names: list[str], root: str | Path | None) -> list[str]:
    """Each path relative to ``root`` (else to the common folder), in POSIX form; the
    file's name when its path is unknown or outside that folder."""
    known = [PurePath(str(p)) for p in paths if isinstance(p, str) and p]
    if root is not None:
        base: PurePath | None = PurePath(Path(root).resolve())
    elif known:
        base = PurePath(os.path.commonpath([str(p.parent) for p in known]))
    else:
        base = None
    out = []
    for path, name in zip(paths, names, strict=True):
        shown = name
        if isinstance(path, str) and path and base is not None:
            try:
                shown = PurePath(path).relative_to(base).as_posix()
            except ValueError:
                shown = name
        out.append(shown)
    return out


def dedup_summary(records: pd.DataFrame) -> pd.DataFrame:
    """Records read, records in duplicate groups (groups of two or more: every record has
    a group, most of them alone), duplicates removed, unique records (from
    ``load_records(with_groups)``)."""
    kept = _kept_mask(records)
    if "group_id" in records.columns:
        groups = records["group_id"]
        sizes = groups.map(groups.value_counts())
        grouped = groups.notna() & (sizes.fillna(0) >= 2)
    else:
        grouped = kept & False
    rows = [
        ("records read", len(records)),
        ("in duplicate groups", int(grouped.sum())),
        ("duplicates removed", int((~kept).sum())),
        ("unique records", int(kept.sum())),
    ]
    return pd.DataFrame(rows, columns=["step", "records"])


def publication_of(records: pd.DataFrame, tags: pd.DataFrame) -> pd.Series:
    """record id -> its publication type (the tagger's ``publication`` label: journal,
    grey, book; ``(not tagged)`` without one), as the publication and years charts count:
    the one classification behind every journal/grey figure of the report."""
    from synth.report.maps_data import UNTAGGED, counts_by_label, prepare

    corpus = prepare(records, tags)
    by_label = counts_by_label(corpus, "publication", untagged=False)
    out = pd.Series(UNTAGGED, index=corpus.records.index, dtype=object)
    for label, ids in zip(by_label["label"], by_label["record_ids"], strict=True):
        out.loc[list(ids)] = label
    return out


def type_counts(records: pd.DataFrame, tags: pd.DataFrame) -> pd.DataFrame:
    """Unique records per publication type (the tagger's label, as the charts count) and
    the entry type their file gave (``pub_type``)."""
    from synth.report.maps_data import UNTAGGED

    literature = publication_of(records, tags)
    ids = records["record_id"].astype(str)
    entry = records["pub_type"] if "pub_type" in records.columns else pd.Series(index=records.index)
    df = records.assign(
        pub_type=entry.astype(object).where(entry.notna(), "(unknown)"),
        literature=ids.map(literature).fillna(UNTAGGED).to_numpy(),
    )
    out = df.groupby(["literature", "pub_type"]).size().rename("records").reset_index()
    return out.sort_values(["literature", "records"], ascending=[False, False], ignore_index=True)


def label_counts(
    records: pd.DataFrame, tags: pd.DataFrame, facets: Sequence[str] | None = None
) -> pd.DataFrame:
    """Papers per facet and label (tags at or above the threshold), most papers first.

    The ``criterion`` facet is left out: its tags are cues that a text speaks to a
    criterion, not whether a paper meets it; :func:`criteria_summary` is the one count
    of papers per criterion (a label table once said 6 met one that the criteria said 1).
    """
    from synth.tagging.criteria import CRITERION_FACET

    strong = counted_tags(tags)
    strong = strong[strong["record_id"].isin(set(records["record_id"]))]
    strong = strong[strong["facet"] != CRITERION_FACET]
    if facets is not None:
        strong = strong[strong["facet"].isin(list(facets))]
    if strong.empty:
        return pd.DataFrame(columns=["facet", "label", "papers", "by reviewer"])
    by_rev = strong["source"].fillna("").str.startswith("reviewer:")
    out = (
        strong.assign(by_reviewer=by_rev)
        .groupby(["facet", "label"])
        .agg(papers=("record_id", "nunique"), by_reviewer=("by_reviewer", "sum"))
        .reset_index()
        .rename(columns={"by_reviewer": "by reviewer"})
    )
    return out.sort_values(
        ["facet", "papers", "label"], ascending=[True, False, True], ignore_index=True
    )


def criteria_summary(assessment: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """Per criterion, how many of the papers meet it, do not, or are unclear."""
    if assessment is None or assessment.empty:
        return pd.DataFrame(columns=["criterion", "kind"])
    sub = assessment[assessment["record_id"].isin(set(records["record_id"]))]
    table = sub.pivot_table(
        index=["criterion", "kind"],
        columns="status",
        values="record_id",
        aggfunc="count",
        fill_value=0,
    )
    table.columns = [str(c) for c in table.columns]
    return table.reset_index().sort_values(
        ["kind", "criterion"], ascending=[False, True], ignore_index=True
    )


def suggestion_counts(suggestions: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """Suggested decisions (include, exclude, unclear) over the papers, with the reasons."""
    if suggestions is None or suggestions.empty:
        return pd.DataFrame(columns=["decision", "reason", "papers"])
    sub = suggestions[suggestions["record_id"].isin(set(records["record_id"]))]
    out = (
        sub.assign(reason=sub["reason"].fillna(""))
        .groupby(["decision", "reason"])
        .size()
        .rename("papers")
        .reset_index()
    )
    return out.sort_values("papers", ascending=False, ignore_index=True)
