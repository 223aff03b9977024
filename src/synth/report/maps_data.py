"""The numbers behind the evidence maps: which papers sit in which cell.

Kept apart from the figures so a test (or a reader of a report) can check every count
against the tags directly, and so the same counting feeds the map, its hover lists and
the linked paper table.

Counting rules: a paper counts once per label it carries (a paper tagged with two settings
sits in two rows); duplicates count once, as their group's kept record (their tags count
for it); a paper with no label of a facet goes to :data:`UNTAGGED`, so nothing drops out
of a map silently.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import Any

import pandas as pd
import yaml

from synth.corpus.citation import citations
from synth.tagging.describe import COUNTED_SCORE, counted_tags

log = logging.getLogger(__name__)

#: The row/column of papers with no label of that facet.
UNTAGGED = "(not tagged)"
MATRIX_COLUMNS = ["row", "col", "n", "record_ids", "citations"]


@dataclass(frozen=True)
class Corpus:
    """Records (one row per unique paper, indexed by record id), their tags mapped onto
    those records, and each paper's short citation."""

    records: pd.DataFrame
    tags: pd.DataFrame
    citation: pd.Series

    @cached_property
    def cite(self) -> dict[str, str]:
        """record id -> citation as a dict: counting looks one up per paper per cell, and a
        Series lookup costs microseconds (at 10,000 papers the map made a million)."""
        return dict(zip(self.citation.index, self.citation, strict=True))

    @cached_property
    def _labels(self) -> dict[str, dict[str, list[str]]]:
        return {}

    def labels_of(self, facet: str) -> dict[str, list[str]]:
        """record id -> the facet's labels on it (highest score first). Worked out once
        per facet, since every matrix asks for its two axes: read it, do not change it."""
        out = self._labels.get(facet)
        if out is None:
            t = self.tags[self.tags["facet"] == facet].sort_values("score", ascending=False)
            out = {}
            for rid, label in zip(t["record_id"], t["label"], strict=True):
                out.setdefault(rid, []).append(label)
            self._labels[facet] = out
        return out

    def main_label(self, facet: str) -> pd.Series:
        """record id -> the facet's best-scoring label, :data:`UNTAGGED` if none."""
        labels = self.labels_of(facet)
        return pd.Series(
            [labels.get(rid, [UNTAGGED])[0] for rid in self.records.index],
            index=self.records.index,
            dtype=object,
        )


def prepare(
    records: pd.DataFrame, tags: pd.DataFrame, *, threshold: float = COUNTED_SCORE
) -> Corpus:
    """Unique papers and their tags, ready to count.

    Parameters
    ----------
    records
        Records with ``record_id`` (and ``group_id``/``is_kept`` from
        ``load_records(con, with_groups=True)`` if deduplicated).
    tags
        Tag rows (``record_id, facet, label, score, evidence``) as from ``current_tags``.
    threshold
        Tags below this score are left out (as the corpus description and the evaluation
        count), so a map never counts a passing mention as a paper's label.
    """
    from synth.tagging.describe import unique_record_ids

    mapping = unique_record_ids(records)
    kept_ids = set(mapping.to_numpy())
    recs = records[records["record_id"].astype(str).isin(kept_ids)]
    recs = recs.drop_duplicates("record_id").copy()
    recs["record_id"] = recs["record_id"].astype(str)
    cites = citations(recs)
    recs = recs.set_index("record_id", drop=False)
    t = counted_tags(tags, threshold).copy()
    if "score" not in t.columns:
        t["score"] = 1.0
    if "evidence" not in t.columns:
        t["evidence"] = [[] for _ in range(len(t))]
    t["record_id"] = t["record_id"].astype(str).map(mapping)
    dropped = int(t["record_id"].isna().sum())
    if dropped:
        log.info("%d tag rows belong to records not in this set; left out", dropped)
    t = t.dropna(subset=["record_id"])
    t = t.sort_values("score", ascending=False, kind="stable")
    t = t.drop_duplicates(["record_id", "facet", "label"]).reset_index(drop=True)
    return Corpus(recs, t, cites)


@cache
def _codebook_labels() -> dict[str, list[str]]:
    """Facet -> label ids in the package codebook's order.

    Read straight from the YAML (with libyaml when present): figures need only the order,
    and a full :func:`synth.tagging.codebook.load_codebook` validates every cue with spaCy.
    """
    text = resources.files("synth.data").joinpath("codebook.yml").read_text("utf-8")
    doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    facets = doc.get("facets") if isinstance(doc, dict) else None
    if not isinstance(facets, dict):
        return {}
    return {
        str(f): [str(lab) for lab in (body or {}).get("labels") or {}]
        for f, body in facets.items()
        if isinstance(body, dict)
    }


def label_order(facet: str, seen: Iterable[str] = ()) -> list[str]:
    """A facet's labels in codebook order, then labels only the tags know (sorted)."""
    ordered = list(_codebook_labels().get(facet, []))
    extra = sorted({s for s in seen if s not in ordered and s != UNTAGGED})
    return [*ordered, *extra]


def _axis(corpus: Corpus, facet: str, untagged: bool) -> tuple[list[str], dict[str, list[str]]]:
    labels = corpus.labels_of(facet)
    order = label_order(facet, (lab for labs in labels.values() for lab in labs))
    if untagged and any(rid not in labels for rid in corpus.records.index):
        order.append(UNTAGGED)
    assigned = {rid: labels.get(rid, [UNTAGGED]) for rid in corpus.records.index}
    return order, assigned


def cells(
    corpus: Corpus,
    rows: str,
    cols: str,
    *,
    only: Iterable[str] | None = None,
    untagged: bool = True,
) -> pd.DataFrame:
    """The matrix of a prepared corpus, optionally counting only the record ids in ``only``."""
    row_order, row_of = _axis(corpus, rows, untagged)
    col_order, col_of = _axis(corpus, cols, untagged)
    keep = None if only is None else set(only)
    cite = corpus.cite
    members: dict[tuple[str, str], list[str]] = {}
    for rid in corpus.records.index:
        if keep is not None and rid not in keep:
            continue
        for r in row_of[rid]:
            for c in col_of[rid]:
                members.setdefault((r, c), []).append(rid)
    out = []
    for r in row_order:
        for c in col_order:
            ids, cited = _by_citation(cite, members.get((r, c), []))
            out.append((r, c, len(ids), ids, cited))
    df = pd.DataFrame(out, columns=MATRIX_COLUMNS)
    df["n"] = df["n"].astype(int)
    return df


def _by_citation(cite: dict[str, str], ids: Iterable[str]) -> tuple[list[str], list[str]]:
    """``ids`` sorted by their citations, and those citations."""
    ordered = sorted(ids, key=cite.__getitem__)
    return ordered, [cite[i] for i in ordered]


def evidence_matrix(
    records: pd.DataFrame,
    tags: pd.DataFrame,
    *,
    rows: str = "setting",
    cols: str = "approach",
    untagged: bool = True,
) -> pd.DataFrame:
    """Papers per (row label, column label), long form, empty cells included.

    Parameters
    ----------
    records, tags
        As for :func:`prepare`.
    rows, cols
        Tag facets for the two axes.
    untagged
        Add a :data:`UNTAGGED` row/column for papers with no label of that facet (only when
        there are such papers).

    Returns
    -------
    pandas.DataFrame
        Columns ``row, col, n, record_ids, citations``: every pair of labels in codebook
        order (so gaps show as ``n == 0``); ids and citations sorted by citation.
    """
    return cells(prepare(records, tags), rows, cols, untagged=untagged)


def counts_by_label(corpus: Corpus, facet: str, *, untagged: bool = True) -> pd.DataFrame:
    """Papers per label of one facet: ``label, n, record_ids, citations`` (labels in
    codebook order, empty labels left out)."""
    order, assigned = _axis(corpus, facet, untagged)
    cite = corpus.cite
    rows = []
    for label in order:
        ids, cited = _by_citation(cite, (rid for rid, labs in assigned.items() if label in labs))
        if ids:
            rows.append((label, len(ids), ids, cited))
    return pd.DataFrame(rows, columns=["label", "n", "record_ids", "citations"])


def best_evidence(evidence: Any, *, max_chars: int = 170) -> tuple[str, str] | None:
    """The strongest evidence item's (sentence, field), shortened to ``max_chars``.

    Tag evidence is stored strongest first; reviewer-set tags have none.
    """
    if not isinstance(evidence, list):
        return None
    for item in evidence:
        if isinstance(item, dict) and item.get("sentence") and not item.get("negated"):
            text = " ".join(str(item["sentence"]).split())
            if len(text) > max_chars:
                text = text[: max_chars - 1].rstrip() + "…"
            return text, str(item.get("field") or "")
    return None


def year_band_members(corpus: Corpus) -> dict[str, list[str]]:
    """Year-band name -> record ids, bands in palette order, empty bands left out."""
    from synth.report.palette import load_palette

    pal = load_palette()
    out: dict[str, list[str]] = {name: [] for _, _, name in pal.year_bands}
    years = corpus.records["year"] if "year" in corpus.records.columns else None
    for rid in corpus.records.index:
        band = pal.year_band(None if years is None else years[rid])
        if band is not None:
            out[band].append(rid)
    return {k: v for k, v in out.items() if v}


def label_members(corpus: Corpus, facet: str) -> dict[str, list[str]]:
    """Label -> record ids carrying it (codebook order, empty labels left out)."""
    df = counts_by_label(corpus, facet, untagged=False)
    return dict(zip(df["label"], df["record_ids"], strict=True))
