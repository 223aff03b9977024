"""Every figure a report page shows, by a stable name, from the function that shows it.

A page's summary cell publishes ``figures`` (name -> count, or None for a number the
review does not report); ``synth review run`` writes them into ``manifest.json`` under
``pages.<page>.figures``. Names are stable across pages (``papers``, ``grey_literature``,
``by_setting.acute-care``, ``criterion.years.met``, ``prisma.included``), so a figure shown
on two pages can be checked to agree: :func:`check_figures` does, with the identities
between figures (papers = journal + grey + books + not tagged, the banner's included =
PRISMA's included, ...). Each function here reads the very table or counts its page shows,
so a page cannot show one number and record another.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

#: Figure value of a number the review does not report ("not reported", never 0).
NOT_REPORTED = None
#: Publication label -> figure name (the journal/grey split every page shows).
PUBLICATION_FIGURES = {
    "journal": "journal_articles",
    "grey": "grey_literature",
    "book": "books",
    "(not tagged)": "publication_not_tagged",
}
#: Figures a page's ``papers`` splits into: (parts, prefix of further parts or None).
PAPER_SPLITS = (
    (tuple(PUBLICATION_FIGURES.values()), "publication_other."),
    (("themes.papers_in_a_theme", "themes.papers_in_no_theme"), None),
)
#: Figures two different tables show under two names: (name, the same count's other name).
SAME_COUNT = (
    ("included", "prisma.included"),
    ("by_publication.journal", "journal_articles"),
    ("by_publication.grey", "grey_literature"),
    ("by_publication.book", "books"),
)


def number(value: Any) -> int | float | None:
    """A count as JSON: an int (or float), None for a missing one (NaN, NA, None)."""
    if value is None or value is pd.NA:
        return NOT_REPORTED
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return NOT_REPORTED if math.isnan(value) else (int(value) if value.is_integer() else value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    raise TypeError(f"a figure is a number or None, not {value!r}")


def selection_figures(selection: Any) -> dict[str, Any]:
    """The banner every page shows (:meth:`Selection.describe`): papers covered, unique
    records, and papers included at the full-text stage (None when no full-text decision
    defines "included": PRISMA's included box counts full-text includes only)."""
    included = selection.included if selection.included_stage == "full_text" else NOT_REPORTED
    return {
        "papers": len(selection.records),
        "unique_records": selection.n_unique,
        "included": number(included),
    }


def dedup_figures(table: pd.DataFrame) -> dict[str, Any]:
    """The deduplication table (:func:`synth.report.overview.dedup_summary`)."""
    names = {
        "records read": "records_read",
        "in duplicate groups": "in_duplicate_groups",
        "duplicates removed": "duplicates_removed",
        "unique records": "unique_records",
    }
    return {names[s]: number(n) for s, n in zip(table["step"], table["records"], strict=True)}


def publication_figures(records: pd.DataFrame, tags: pd.DataFrame) -> dict[str, Any]:
    """Journal articles, grey literature, books and papers with no publication type, from
    :func:`synth.report.overview.publication_of` (the type table, the publication chart
    and the years chart all count by it)."""
    from synth.report.overview import publication_of

    counts = publication_of(records, tags).value_counts()
    out = {name: int(counts.get(label, 0)) for label, name in PUBLICATION_FIGURES.items()}
    for label, n in counts.items():
        if label not in PUBLICATION_FIGURES:
            out[f"publication_other.{label}"] = int(n)
    return out


def label_figures(counts: pd.DataFrame) -> dict[str, Any]:
    """``by_<facet>.<label>``: papers per label, from a label table
    (:func:`synth.report.overview.label_counts`) or a chart's ``label, n`` counts."""
    if "facet" in counts.columns:
        return {
            f"by_{f}.{lab}": number(n)
            for f, lab, n in zip(counts["facet"], counts["label"], counts["papers"], strict=True)
        }
    return {}


def chart_figures(records: pd.DataFrame, tags: pd.DataFrame, facet: str) -> dict[str, Any]:
    """``by_<facet>.<label>`` as a bar chart of one facet draws them
    (:func:`synth.report.maps_data.counts_by_label`, ``(not tagged)`` included)."""
    from synth.report.maps_data import counts_by_label, prepare

    df = counts_by_label(prepare(records, tags), facet)
    return {f"by_{facet}.{lab}": number(n) for lab, n in zip(df["label"], df["n"], strict=True)}


def criteria_figures(table: pd.DataFrame) -> dict[str, Any]:
    """``criterion.<id>.<status>`` from the criteria table
    (:func:`synth.report.overview.criteria_summary`): the one count of papers per
    criterion."""
    statuses = [c for c in table.columns if c not in {"criterion", "kind"}]
    return {
        f"criterion.{row['criterion']}.{status}": number(row[status])
        for _, row in table.iterrows()
        for status in statuses
    }


def description_figures(description: pd.DataFrame) -> dict[str, Any]:
    """``described.<figure>.<category>``: synth's column of the corpus description
    (:func:`synth.tagging.describe.describe_corpus`)."""
    return {
        f"described.{fig}.{cat}": number(n)
        for fig, cat, n in zip(
            description["figure"], description["category"], description["ours"], strict=True
        )
    }


def prisma_figures(counts: Any) -> dict[str, Any]:
    """``prisma.<box>`` (and ``prisma.<box>.<source or reason>``) from the counts the
    diagram draws (:func:`synth.screening.prisma.prisma_counts`); a box the review does not
    report stays None. Texts (the reasons' wording) are not figures and are left out."""
    flow = counts.to_dict() if hasattr(counts, "to_dict") else dict(counts)
    return flat_figures("prisma", flow)


def flat_figures(prefix: str, value: Any) -> dict[str, Any]:
    """``value``'s counts under dotted names (nested mappings give ``prefix.key...``);
    None stays None ("not reported"); texts and lists are not figures and are skipped."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(flat_figures(f"{prefix}.{key}", inner))
        return out
    if value is None or value is pd.NA or isinstance(value, int | float):
        return {prefix: number(value)}
    if hasattr(value, "item") and not isinstance(value, str):
        return {prefix: number(value)}
    return {}


def matrix_figures(matrix: pd.DataFrame, name: str = "map") -> dict[str, Any]:
    """``<name>.<row>|<col>``: papers per cell of an evidence matrix
    (:func:`synth.report.maps_data.evidence_matrix`), and the papers it places."""
    out = {
        f"{name}.{r}|{c}": number(n)
        for r, c, n in zip(matrix["row"], matrix["col"], matrix["n"], strict=True)
    }
    out[f"{name}.papers"] = len({rid for ids in matrix["record_ids"] for rid in ids})
    return out


def merged(*parts: Mapping[str, Any]) -> dict[str, Any]:
    """One page's figures from its parts; a name given twice must agree."""
    out: dict[str, Any] = {}
    for part in parts:
        for name, value in part.items():
            if name in out and out[name] != value:
                raise ValueError(f"figure {name!r} shown as {out[name]} and as {value}")
            out[name] = value
    return out


# ----------------------------------------------------------------------- the checks


def _sum(values: Iterable[Any]) -> int | None:
    values = list(values)
    return None if any(v is None for v in values) else sum(values)


def check_figures(pages: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Every disagreement between the figures of a report's pages, as sentences (empty:
    all agree). ``pages``: page name -> its figures, as in ``manifest.json``.

    - a name on two pages has one value there (None, "not reported", is skipped);
    - on each page, papers = journal articles + grey literature + books + not tagged,
      and = papers in a theme + papers in no theme (:data:`PAPER_SPLITS`);
    - a count two tables show under two names agrees (:data:`SAME_COUNT`): the banner's
      included = PRISMA's included, the label table's grey = the grey literature figure;
    - not compared: the store's ``unique_records`` (background documents included) and
      PRISMA's ``prisma.unique_records`` (identified records only): two counts, two names;
      the flow's own arithmetic is :meth:`synth.screening.prisma.PrismaCounts.identities`.
    - a criterion counted in a label table = the criteria table's ``met``.
    """
    problems, value = _same_everywhere(pages)
    for page, figures in pages.items():
        for parts, prefix in PAPER_SPLITS:
            problems += _adds_up(page, figures, parts, prefix)
    return problems + _identities(value)


def _same_everywhere(pages: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], dict[str, Any]]:
    """Names whose value differs between pages, and each name's (first) value."""
    problems: list[str] = []
    seen: dict[str, tuple[str, Any]] = {}
    for page, figures in pages.items():
        for name, value in figures.items():
            if value is None:
                continue
            if name in seen and seen[name][1] != value:
                first, was = seen[name]
                problems.append(f"{name}: {was} on {first} but {value} on {page}")
            seen.setdefault(name, (page, value))
    return problems, {name: v for name, (_, v) in seen.items()}


def _adds_up(
    page: str, figures: Mapping[str, Any], parts: tuple[str, ...], prefix: str | None
) -> list[str]:
    """``papers`` = the sum of ``parts`` (and of names starting with ``prefix``)."""
    if not all(n in figures for n in parts):
        return []
    values = [figures[n] for n in parts]
    if prefix:
        values += [v for k, v in figures.items() if k.startswith(prefix)]
    total, papers = _sum(values), figures.get("papers")
    if total is None or papers is None or total == papers:
        return []
    return [f"{page}: papers {papers} but {' + '.join(parts)} = {total}"]


def _identities(value: Mapping[str, Any]) -> list[str]:
    problems = []
    for a, b in SAME_COUNT:
        if value.get(a) is not None and value.get(b) is not None and value[a] != value[b]:
            problems.append(f"{a} {value[a]} but {b} {value[b]}")
    for name, n in value.items():
        if name.startswith("by_criterion."):
            met = value.get(f"criterion.{name.removeprefix('by_criterion.')}.met")
            if met is not None and met != n:
                problems.append(f"{name} {n} in a label table but {met} meet it by the criteria")
    return problems
