"""Describe a corpus from its tags, next to the figures its review states.

A review states its corpus in figures ("37 in UK, 11 in USA and Canada ..."). Regenerating
those figures from synth's tags shows, category by category, where the tags (or the review)
disagree. The grouping of tag labels into the review's categories is data
(``synth/data/kei_figure_groups.yml``); the stated numbers come only from the review's
``stated_figures`` (``review.yml``); our numbers come only from the tags.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

log = logging.getLogger(__name__)

DESCRIPTION_COLUMNS = ["figure", "category", "stated", "ours", "difference"]
#: category row for unique records in none of a figure's categories
REMAINDER = "(none of these)"


@cache
def _default_groups() -> dict[str, Any]:
    text = resources.files("synth.data").joinpath("kei_figure_groups.yml").read_text("utf-8")
    return _check_groups(yaml.safe_load(text), "kei_figure_groups.yml")


def load_figure_groups(path: Path | str | None = None) -> dict[str, Any]:
    """Load a figure-groups file (default: the KEI review's, in package data)."""
    if path is None:
        return _default_groups()
    path = Path(path)
    return _check_groups(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))


def _check_groups(data: Any, name: str) -> dict[str, Any]:
    if not isinstance(data, dict) or not isinstance(data.get("figures"), list):
        raise ValueError(f"{name}: expected a mapping with a 'figures' list")
    for fig in data["figures"]:
        for key in ("figure", "facet", "categories"):
            if key not in fig:
                raise ValueError(f"{name}: figure {fig.get('figure', '?')!r} has no {key!r}")
        for cat in fig["categories"]:
            labels = cat.get("labels")
            if "category" not in cat or not (labels == "other" or isinstance(labels, list)):
                raise ValueError(
                    f"{name}: figure {fig['figure']!r}: each category needs 'category' and "
                    "'labels' (a list, or 'other')"
                )
    return data


def unique_record_ids(records: pd.DataFrame) -> pd.Series:
    """Map every record id to the id it counts as: its duplicate group's kept record.

    Without ``is_kept`` every record counts as itself. With it, records not kept count as the
    kept record of their ``group_id`` (so a duplicate's tags still count, once), and a record
    with no group information counts as itself.
    """
    ids = records["record_id"].astype(str)
    mapping = pd.Series(ids.to_numpy(), index=ids.to_numpy())
    if "is_kept" not in records.columns:
        return mapping
    kept = records["is_kept"].astype("boolean").fillna(True).to_numpy(dtype=bool)
    if "group_id" in records.columns:
        groups = records["group_id"]
        keeper: dict[Any, str] = {}
        for rid, gid, is_kept in zip(ids, groups, kept, strict=True):
            if pd.notna(gid) and is_kept:
                keeper.setdefault(gid, rid)
        for rid, gid, is_kept in zip(ids, groups, kept, strict=True):
            if not is_kept and pd.notna(gid) and gid in keeper:
                mapping[rid] = keeper[gid]
    # a record not kept whose group has no kept member is dropped: it is counted nowhere
    lost = [rid for rid, is_kept in zip(ids, kept, strict=True) if not is_kept]
    lost = [rid for rid in lost if mapping[rid] == rid]
    return mapping.drop(lost)


#: A tag counts as a paper's label from this score on: in the corpus description, the
#: evaluation, the report's tables and the evidence maps alike (lower rows are kept and
#: shown as suggestions, but are not counted).
COUNTED_SCORE = 0.5


def counted_tags(tags: pd.DataFrame, threshold: float = COUNTED_SCORE) -> pd.DataFrame:
    """The tag rows that count as labels: score at or above ``threshold`` (a missing or
    unreadable score counts as 0; a frame without a ``score`` column counts every row)."""
    if "score" not in tags.columns:
        return tags
    return tags[pd.to_numeric(tags["score"], errors="coerce").fillna(0.0) >= threshold]


@cache
def single_label_facets() -> frozenset[str]:
    """Facets the package codebook marks ``multi: false`` (publication type): a paper has
    one label of these even when its duplicates' tags are pooled, so that its counts add up
    to the number of papers on every page."""
    text = resources.files("synth.data").joinpath("codebook.yml").read_text("utf-8")
    doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    facets = doc.get("facets") if isinstance(doc, dict) else None
    if not isinstance(facets, dict):
        return frozenset()
    return frozenset(
        str(f)
        for f, body in facets.items()
        if isinstance(body, dict) and body.get("multi") is False
    )


def pool_tags(
    tags: pd.DataFrame, counted_as: pd.Series, keep: set[str] | None = None
) -> pd.DataFrame:
    """Tags moved onto the record each counts as (:func:`unique_record_ids`), once per
    label: the one home for pooling a duplicate group's tags, so every page counts alike.

    Where a record and its duplicate carry one label, the higher-scoring row stays; in a
    single-label facet (:func:`single_label_facets`) only the best-scoring label stays.
    Rows of records not counted (or not in ``keep``) are left out.
    """
    target = tags["record_id"].astype(str).map(counted_as)
    wanted = target.notna() if keep is None else target.isin(keep)
    pooled = tags.assign(record_id=target)[wanted.to_numpy(dtype=bool)]
    score = pd.to_numeric(pooled["score"], errors="coerce") if "score" in pooled else 1.0
    pooled = pooled.assign(_score=pd.Series(score, index=pooled.index).fillna(0.0))
    pooled = pooled.sort_values("_score", ascending=False, kind="stable")
    pooled = pooled.drop_duplicates(["record_id", "facet", "label"])
    single = pooled["facet"].isin(list(single_label_facets())).to_numpy(dtype=bool)
    second = pooled.duplicated(["record_id", "facet"]).to_numpy(dtype=bool)
    pooled = pooled[~(single & second)].drop(columns="_score")
    return pooled.sort_index().reset_index(drop=True)


def describe_corpus(
    records: pd.DataFrame,
    tags: pd.DataFrame,
    review: dict[str, Any],
    *,
    groups: dict[str, Any] | None = None,
    threshold: float = COUNTED_SCORE,
) -> pd.DataFrame:
    """Count unique records per review category from the tags, next to the stated figures.

    Parameters
    ----------
    records
        The corpus records (``record_id``; with ``is_kept``/``group_id`` from the store,
        duplicates count once).
    tags
        Tag rows ``record_id, facet, label`` (``score`` optional; rows below ``threshold``
        are ignored). Gold labels in the same shape work too.
    review
        The review description (``review.yml``): ``stated_figures`` gives the stated numbers.
    groups
        The label grouping (default: :func:`load_figure_groups`).

    Returns
    -------
    pandas.DataFrame
        ``figure, category, stated, ours, difference`` (``difference = ours - stated``);
        per figure also a ``(none of these)`` row: unique records in no category.
    """
    groups = groups if groups is not None else load_figure_groups()
    stated_all = review.get("stated_figures") or {}
    counted_as = unique_record_ids(records)
    unique_ids = set(counted_as)
    labels = _labels_by_record(tags, counted_as, threshold)

    rows: list[dict[str, Any]] = []
    total = groups.get("total")
    if total:
        rows.append(
            _row(
                total["figure"], total["category"], stated_all.get(total["figure"]), len(unique_ids)
            )
        )
    for fig in groups["figures"]:
        stated = stated_all.get(fig["figure"])
        stated = stated if isinstance(stated, dict) else {}
        ignore = set(fig.get("ignore") or [])
        facet_labels = labels.get(fig["facet"], {})
        listed = {lab for c in fig["categories"] if c["labels"] != "other" for lab in c["labels"]}
        in_any: set[str] = set()
        for cat in fig["categories"]:
            if cat["labels"] == "other":
                hits = {r for r, ls in facet_labels.items() if (ls - listed - ignore)}
            else:
                hits = {r for r, ls in facet_labels.items() if ls & set(cat["labels"])}
            in_any |= hits
            rows.append(
                _row(fig["figure"], cat["category"], stated.get(cat["category"]), len(hits))
            )
        for name in stated:
            if name not in {c["category"] for c in fig["categories"]}:
                log.warning("%s: stated category %r has no label grouping", fig["figure"], name)
                rows.append(_row(fig["figure"], name, stated[name], None))
        remainder = _stated_remainder(stated, stated_all.get(total["figure"]) if total else None)
        rows.append(_row(fig["figure"], REMAINDER, remainder, len(unique_ids - in_any)))
    df = pd.DataFrame(rows, columns=DESCRIPTION_COLUMNS)
    for col in ("stated", "ours", "difference"):
        df[col] = pd.array(df[col].tolist(), dtype="Int64")
    return df


def _labels_by_record(
    tags: pd.DataFrame, counted_as: pd.Series, threshold: float
) -> dict[str, dict[str, set[str]]]:
    """facet -> unique record id -> its labels (a duplicate group's labels are pooled)."""
    tags = counted_tags(tags, threshold)
    unknown = int(tags["record_id"].astype(str).map(counted_as).isna().sum())
    pooled = pool_tags(tags, counted_as)
    out: dict[str, dict[str, set[str]]] = {}
    for rid, facet, label in zip(
        pooled["record_id"], pooled["facet"], pooled["label"], strict=True
    ):
        out.setdefault(facet, {}).setdefault(rid, set()).add(str(label))
    if unknown:
        log.warning("%d tag row(s) name records that are not counted (unknown or dropped)", unknown)
    return out


def _stated_remainder(stated: dict[str, Any], total: Any) -> int | None:
    numbers = list(stated.values())
    if not isinstance(total, int) or not numbers or not all(isinstance(n, int) for n in numbers):
        return None
    return total - sum(numbers)


def _row(figure: str, category: str, stated: Any, ours: int | None) -> dict[str, Any]:
    stated = stated if isinstance(stated, int) and not isinstance(stated, bool) else None
    diff = ours - stated if ours is not None and stated is not None else None
    return {
        "figure": figure,
        "category": category,
        "stated": stated,
        "ours": ours,
        "difference": diff,
    }


def format_description(df: pd.DataFrame) -> str:
    """The description as a plain aligned table, one block per figure (``-`` for no value)."""
    if df.empty:
        return "(no figures)\n"
    shown = df.copy()
    for col in ("stated", "ours", "difference"):
        shown[col] = [
            "-" if pd.isna(v) else (f"{int(v):+d}" if col == "difference" else str(int(v)))
            for v in shown[col]
        ]
    blocks = []
    for figure, part in shown.groupby("figure", sort=False):
        body = part.drop(columns=["figure"]).to_string(index=False)
        blocks.append(f"{figure}\n{body}")
    return "\n\n".join(blocks) + "\n"
