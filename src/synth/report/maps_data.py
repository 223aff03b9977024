"""The numbers behind the evidence maps: which papers sit in which cell.

Kept apart from the figures so a test (or a reader of a report) can check every count
against the tags directly, and so the same counting feeds the map, its hover lists and
the linked paper table.

Counting rules: a paper counts once per label it carries (a paper tagged with two settings
sits in two rows); duplicates count once, as their group's kept record (their tags count
for it); a paper with no label of a facet goes to :data:`UNTAGGED`, so nothing drops out
of a map silently.

Scope: a :class:`synth.review.Review` says which labels its own criteria exclude
(``out_of_scope``: their cells are marked with the criterion, never read as gaps) and
which lie outside its frame (``hidden_labels``: not drawn; a paper whose every label on
an axis is hidden is counted as such, see :func:`axis_counts`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from synth.corpus.citation import citations
from synth.tagging.describe import COUNTED_SCORE, counted_tags

if TYPE_CHECKING:
    from synth.review import Review

log = logging.getLogger(__name__)

#: The row/column of papers with no label of that facet.
UNTAGGED = "(not tagged)"
#: ``out_of_scope``: the exclusion criterion id that rules a cell's row or column label
#: out of the review's scope ("" for an in-scope cell).
MATRIX_COLUMNS = ["row", "col", "n", "record_ids", "citations", "out_of_scope"]


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


def out_of_scope(review: Review | None, facet: str) -> dict[str, str]:
    """Label -> the exclusion criterion id that rules it out of ``review``'s scope."""
    if review is None:
        return {}
    prefix = f"{facet}:"
    scope = review.out_of_scope.items()
    return {key[len(prefix) :]: crit for key, crit in scope if key.startswith(prefix)}


def hidden_labels(review: Review | None, facet: str) -> list[str]:
    """The facet's labels ``review`` hides from maps (outside its frame), in file order."""
    if review is None:
        return []
    prefix = f"{facet}:"
    return [key[len(prefix) :] for key in review.hidden_labels if key.startswith(prefix)]


def _axis(
    corpus: Corpus, facet: str, untagged: bool, review: Review | None = None
) -> tuple[list[str], dict[str, list[str]]]:
    """An axis's labels in order, and each paper's labels on it: :data:`UNTAGGED` for a
    paper with none, ``[]`` for one whose every label is hidden by the review."""
    labels = corpus.labels_of(facet)
    hidden = set(hidden_labels(review, facet))
    order = label_order(facet, (lab for labs in labels.values() for lab in labs))
    order = [lab for lab in order if lab not in hidden]
    if untagged and any(rid not in labels for rid in corpus.records.index):
        order.append(UNTAGGED)
    assigned = {
        rid: [lab for lab in labels.get(rid, [UNTAGGED]) if lab not in hidden]
        for rid in corpus.records.index
    }
    return order, assigned


def axis_counts(corpus: Corpus, facet: str, review: Review | None = None) -> dict[str, int]:
    """How a map axis places the papers: ``tagged`` (a drawn label), ``not_tagged`` (no
    label of the facet: the "not tagged" row/column), ``hidden_only`` (only labels the
    review hides). The three add up to ``papers``, so the map never hides a paper silently."""
    _, assigned = _axis(corpus, facet, True, review)
    not_tagged = sum(1 for labs in assigned.values() if labs == [UNTAGGED])
    hidden_only = sum(1 for labs in assigned.values() if not labs)
    return {
        "papers": len(assigned),
        "tagged": len(assigned) - not_tagged - hidden_only,
        "not_tagged": not_tagged,
        "hidden_only": hidden_only,
    }


def cells(
    corpus: Corpus,
    rows: str,
    cols: str,
    *,
    only: Iterable[str] | None = None,
    untagged: bool = True,
    review: Review | None = None,
) -> pd.DataFrame:
    """The matrix of a prepared corpus, optionally counting only the record ids in ``only``;
    ``review``'s hidden labels left out and its out-of-scope labels marked."""
    row_order, row_of = _axis(corpus, rows, untagged, review)
    col_order, col_of = _axis(corpus, cols, untagged, review)
    row_out, col_out = out_of_scope(review, rows), out_of_scope(review, cols)
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
            scope = row_out.get(r) or col_out.get(c) or ""
            out.append((r, c, len(ids), ids, cited, scope))
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
    review: Review | None = None,
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
    review
        The review definition (:func:`synth.review.review_for`): its hidden labels are
        left out, its out-of-scope labels' cells name their criterion in ``out_of_scope``.

    Returns
    -------
    pandas.DataFrame
        Columns ``row, col, n, record_ids, citations, out_of_scope``: every pair of labels
        in codebook order (so gaps show as ``n == 0``); ids and citations sorted by
        citation; ``out_of_scope`` the criterion id excluding the cell, or "".
    """
    return cells(prepare(records, tags), rows, cols, untagged=untagged, review=review)


def scope_figures(
    corpus: Corpus,
    review: Review | None = None,
    *,
    rows: str = "setting",
    cols: str = "approach",
    name: str = "map",
) -> dict[str, int]:
    """The figures a map shows besides its cells, for a page's summary: per axis the papers
    not tagged and those with only hidden labels, the papers not placed on the map at all
    (``<name>.hidden_only``: papers + placed = all), and the papers under each out-of-scope
    label (``<name>.out_of_scope.<facet>:<label>``)."""
    out: dict[str, int] = {}
    for facet in dict.fromkeys((rows, cols)):
        counts = axis_counts(corpus, facet, review)
        out[f"{name}.not_tagged.{facet}"] = counts["not_tagged"]
        out[f"{name}.hidden_only.{facet}"] = counts["hidden_only"]
        members = label_members(corpus, facet)
        for label in out_of_scope(review, facet):
            out[f"{name}.out_of_scope.{facet}:{label}"] = len(members.get(label, []))
    placed = [_axis(corpus, facet, True, review)[1] for facet in dict.fromkeys((rows, cols))]
    out[f"{name}.hidden_only"] = sum(
        1 for rid in corpus.records.index if any(not axis[rid] for axis in placed)
    )
    return out


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
    """The strongest evidence item's (sentence, field), shortened to ``max_chars``; the
    field names the page of a sentence from a PDF ("fulltext, p. 4").

    Tag evidence is stored strongest first; reviewer-set tags have none.
    """
    if not isinstance(evidence, list):
        return None
    for item in evidence:
        if isinstance(item, dict) and item.get("sentence") and not item.get("negated"):
            text = " ".join(str(item["sentence"]).split())
            if len(text) > max_chars:
                text = text[: max_chars - 1].rstrip() + "…"
            field = str(item.get("field") or "")
            page = item.get("page")
            return text, f"{field}, p. {int(page)}" if isinstance(page, int) else field
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
