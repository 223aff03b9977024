"""Per-theme summaries: papers, the settings and approaches they cover, representative
quotes and a short extractive summary, every sentence with its citation.

Quotes are the passages that best match the theme itself (cue score plus similarity to the
theme's definition), one per paper, the review's extracts and abstracts before full-text
sentences: with four quotes a theme no paper supplies more than a quarter of them
(``max_paper_share``). A quote appears under one theme only, unless its passage serves two
(the assignment's ``also``); the quote then names the other theme.

The summary is the passages most central to what the theme's papers say: the centroid is
taken over papers (each paper's passages averaged first), so one long full text
does not speak for the whole theme.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.preprocessing import normalize

from synth.corpus.citation import citations
from synth.tagging.describe import counted_tags, unique_record_ids
from synth.themes.codebook import ThemeCodebook, load_theme_codebook
from synth.themes.text import kept_ids, tfidf, unit_rows

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = [
    "theme_id", "group", "group_heading", "heading", "n_papers", "record_ids", "citations",
    "settings", "approaches", "quotes", "summary", "summary_items",
]  # fmt: skip
#: how much a passage's field adds when ranking quotes: the review's extracts and abstracts
#: are curated text; a full-text sentence may be a heading or a caption
FIELD_BONUS = {"extract": 0.3, "abstract": 0.2, "fulltext": 0.0, "title": -1.0}
SUMMARY_SENTENCES = 3
#: weight of a passage's similarity to the theme's definition when choosing summary passages
THEME_WEIGHT = 0.5


def summarise_themes(
    assignments: pd.DataFrame,
    records: pd.DataFrame,
    tags: pd.DataFrame | None = None,
    *,
    codebook: ThemeCodebook | None = None,
    n_quotes: int = 4,
) -> pd.DataFrame:
    """One row per codebook theme (in codebook order), themes with no papers included.

    Parameters
    ----------
    assignments
        Output of :func:`synth.themes.assign.assign_themes`.
    records
        The records (for citations; duplicates' tags count for their kept record).
    tags
        Tag rows (``record_id``, ``facet``, ``label``); facets ``setting`` and ``approach``
        give the settings and approaches a theme's papers cover.
    n_quotes
        Quotes per theme, at most one per paper.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SUMMARY_COLUMNS`. ``quotes`` and ``summary_items`` are lists of
        dicts ``{text, citation, record_id, field}`` (a quote also ``also``: the heading of
        the other theme it serves, or ""; a sentence of a PDF full text also ``page``);
        ``summary`` is the items as one text, each sentence with its citation before its
        closing punctuation.
    """
    cb = codebook or load_theme_codebook()
    keep = kept_ids(records)
    kept = records.set_index(records["record_id"].astype(str)).loc[keep].reset_index(drop=True)
    cite = citations(kept).to_dict()
    order = {rid: k for k, rid in enumerate(keep)}
    facet_papers = _facet_papers(tags, records)
    per_paper = max(1, int(cb.scoring.max_paper_share * n_quotes))
    headings = {t.id: t.heading for t in cb.themes}
    quoted: dict[str, str] = {}  # quote text -> the theme it is quoted under
    rows = []
    for theme in cb.themes:
        sub = assignments[assignments["theme_id"] == theme.id] if len(assignments) else assignments
        papers = sorted(set(sub["record_id"].astype(str)), key=lambda r: order.get(r, len(order)))
        quotes = _quotes(sub, cite, n_quotes, per_paper=per_paper, quoted=quoted, headings=headings)
        quoted.update((q["text"], theme.id) for q in quotes)
        items = _central(sub, cite, SUMMARY_SENTENCES, avoid=set(quoted))
        rows.append(
            {
                "theme_id": theme.id,
                "group": theme.group,
                "group_heading": cb.groups[theme.group],
                "heading": theme.heading,
                "n_papers": len(papers),
                "record_ids": papers,
                "citations": [cite.get(r, r) for r in papers],
                "settings": _count(facet_papers.get("setting", {}), papers),
                "approaches": _count(facet_papers.get("approach", {}), papers),
                "quotes": quotes,
                "summary": " ".join(cite_sentence(i["text"], i["citation"]) for i in items),
                "summary_items": items,
            }
        )
    out = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    out.attrs["codebook"] = cb.tag_version
    return out


def _facet_papers(
    tags: pd.DataFrame | None, records: pd.DataFrame
) -> dict[str, dict[str, set[str]]]:
    """facet -> label -> the kept record ids tagged with it."""
    if tags is None or not len(tags):
        return {}
    to_kept = unique_record_ids(records).to_dict()
    tags = counted_tags(tags)  # the one threshold rule every page counts labels by
    out: dict[str, dict[str, set[str]]] = {}
    for rid, facet, label in zip(tags["record_id"], tags["facet"], tags["label"], strict=True):
        if facet not in ("setting", "approach"):
            continue
        kept = to_kept.get(str(rid))
        if kept is not None:
            out.setdefault(facet, {}).setdefault(str(label), set()).add(kept)
    return out


def _count(label_papers: dict[str, set[str]], papers: list[str]) -> dict[str, int]:
    """label -> how many of ``papers`` carry it, largest first."""
    wanted = set(papers)
    counts = {label: len(ids & wanted) for label, ids in label_papers.items()}
    return dict(sorted(((k, v) for k, v in counts.items() if v), key=lambda kv: (-kv[1], kv[0])))


def _item(row: Any, cite: dict[str, str]) -> dict[str, Any]:
    """A quote or summary sentence; ``page`` when it is a PDF's (shown as "p. 4")."""
    rid = str(row.record_id)
    item: dict[str, Any] = {
        "text": row.text,
        "citation": cite.get(rid, rid),
        "record_id": rid,
        "field": row.field,
    }
    page = getattr(row, "page", None)
    if page is not None and not pd.isna(page):
        item["page"] = int(page)
    return item


def _quotes(
    sub: pd.DataFrame,
    cite: dict[str, str],
    n: int,
    *,
    per_paper: int,
    quoted: dict[str, str],
    headings: dict[str, str],
) -> list[dict[str, str]]:
    """The ``n`` best-ranked passages, at most ``per_paper`` from one paper, none quoted
    under another theme unless the passage serves both (its ``also``)."""
    if not len(sub) or n <= 0:
        return []
    rank = sub["score"] + sub["similarity"] + sub["field"].map(FIELD_BONUS).fillna(0.0)
    ranked = sub.assign(_rank=rank).sort_values("_rank", ascending=False, kind="stable")
    # titles are never quotes unless a theme has nothing else
    if (ranked["field"] != "title").any():
        ranked = ranked[ranked["field"] != "title"]
    also = ranked["also"] if "also" in ranked.columns else pd.Series("", index=ranked.index)
    out: list[dict[str, str]] = []
    per: dict[str, int] = {}
    seen_text: set[str] = set()
    for row, other in zip(ranked.itertuples(index=False), also.fillna(""), strict=True):
        elsewhere = quoted.get(row.text)
        if elsewhere is not None and elsewhere != other:
            continue
        if per.get(row.record_id, 0) >= per_paper or row.text in seen_text:
            continue
        out.append({**_item(row, cite), "also": headings.get(other, "") if other else ""})
        per[row.record_id] = per.get(row.record_id, 0) + 1
        seen_text.add(row.text)
        if len(out) == n:
            break
    return out


def _central(
    sub: pd.DataFrame, cite: dict[str, str], n: int, *, avoid: set[str]
) -> list[dict[str, str]]:
    """The ``n`` passages closest to the theme's paper-weighted centroid (plus half their
    similarity to the theme's definition), one per paper, preferring passages that are not
    already quotes."""
    sub = sub[sub["field"] != "title"].drop_duplicates(["record_id", "text"])
    if not len(sub):
        return []
    X = tfidf().fit_transform(sub["text"].tolist())  # sparse, rows of unit length
    codes, papers = pd.factorize(sub["record_id"].astype(str))
    rows_n = X.shape[0]
    members = sparse.csr_matrix(
        (np.ones(rows_n), (codes, np.arange(rows_n))), shape=(len(papers), rows_n)
    )
    per_paper = normalize(sparse.diags(1.0 / np.bincount(codes)) @ members @ X)
    centroid = unit_rows(np.asarray(per_paper.mean(axis=0)))[0]
    # central to what the papers say, and still about the theme itself
    rank = X @ centroid + THEME_WEIGHT * sub["similarity"].to_numpy(dtype=float)
    order = np.argsort(-rank, kind="stable")
    rows = list(sub.itertuples(index=False))
    chosen: list[int] = []
    used: set[str] = set()
    for pass_avoid in (True, False):
        for k in order:
            if len(chosen) == n:
                break
            row = rows[k]
            if row.record_id in used or (pass_avoid and row.text in avoid):
                continue
            chosen.append(int(k))
            used.add(row.record_id)
    return [_item(rows[k], cite) for k in chosen]


def cite_parts(text: str) -> tuple[str, str]:
    """(passage before the citation, what follows the citation): a passage ending in one
    full stop gives it to the citation ("It worked." -> "It worked", "."); any other ending
    (none, "?", a closing quote) is kept whole and the citation ends the sentence with "."."""
    text = " ".join(str(text).split()).rstrip(" ,;:")
    if text.endswith(".") and not text.endswith(".."):
        return text[:-1].rstrip(), "."
    return text, "."


def cite_sentence(text: str, citation: str) -> str:
    """The passage with its citation before its closing punctuation, so cited sentences
    read one after another: "It worked (Boaz et al. 2016)." """
    body, end = cite_parts(text)
    return f"{body} ({citation}){end}"
