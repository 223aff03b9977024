"""What the extraction-and-appraisal report page shows, built here so its notebook stays
thin: the characteristics of the included studies (the form's key fields, citation
linked), the appraisal figures of each tool used, and the extraction progress.

Everything comes from the store's derived values (:mod:`synth.extraction.values`, the
tables of :mod:`synth.extraction.tables`), so the page, the app and ``synth export`` agree.
Corpus text is escaped wherever it reaches HTML. With nothing extracted yet the page says
so, and how to start, instead of showing empty tables.
"""

from __future__ import annotations

import html
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from synth.report.overview import PAGE_TABLE_ROWS, Selection


@dataclass
class ExtractionView:
    """The page's data for the papers a report covers."""

    record_ids: list[str]
    extraction: Any  # the extraction form
    tools: dict[str, Any]  # appraisal tools used, id -> form
    characteristics: pd.DataFrame
    appraisals: pd.DataFrame  # resolved appraisal values of the selected papers, with form_id
    progress: pd.DataFrame
    citations: dict[str, str] = field(default_factory=dict)

    @property
    def extracted(self) -> int:
        """Papers with at least one extraction value."""
        return int(self.progress["extracted_by"].map(bool).sum()) if len(self.progress) else 0

    @property
    def appraised(self) -> int:
        """Papers with at least one appraisal value."""
        return int(self.progress["appraised_by"].map(bool).sum()) if len(self.progress) else 0


def extraction_view(
    con: sqlite3.Connection, selection: Selection, *, extraction: Any = None
) -> ExtractionView:
    """Gather the page's data for ``selection``'s papers (``extraction``: the form, a
    path or a packaged form's name, default the packaged co-production form: the review's
    own form, so the values saved with ``synth extract open --form`` are the ones shown)."""
    from synth.corpus.citation import citations
    from synth.extraction.cerqual import appraisal_values
    from synth.extraction.forms import Form, appraisal_tools, default_form, load_form
    from synth.extraction.values import progress

    if extraction is None:
        form = default_form()
    else:
        form = extraction if isinstance(extraction, Form) else load_form(extraction)
    tools = appraisal_tools()
    ids = selection.record_ids
    cites = citations(selection.records).to_dict() if len(selection.records) else {}
    values = appraisal_values(con)
    if len(values):
        from synth.tagging.describe import unique_record_ids

        kept = unique_record_ids(selection.all_records).to_dict()
        values = values.assign(record_id=values["record_id"].map(lambda r: kept.get(r, r)))
        values = values[values["record_id"].isin(set(ids))]
    # the tools used, the one with the most papers first
    papers = values.groupby("form_id")["record_id"].nunique() if len(values) else pd.Series()
    used = {t: tools[t] for t in sorted(papers.index, key=lambda t: (-papers[t], t)) if t in tools}
    return ExtractionView(
        record_ids=ids,
        extraction=form,
        tools=used,
        characteristics=characteristics(con, ids, form),
        appraisals=values.reset_index(drop=True),
        progress=progress(con, form, tools, ids),
        citations=cites,
    )


def characteristics(con: sqlite3.Connection, record_ids: list[str], form: Any) -> pd.DataFrame:
    """The characteristics of the included studies
    (:func:`synth.extraction.tables.characteristics_table`) for ``record_ids``, one row per
    paper, ``record_id`` first: the papers extracted first, then those still to extract
    (empty cells); no rows at all while nothing is extracted (the page says so)."""
    from synth.extraction.tables import characteristics_table, included_papers

    table = characteristics_table(con, form)
    papers = included_papers(con)  # the table's rows, in the same order
    table.insert(0, "record_id", papers["record_id"].astype(str).to_numpy())
    table = table[table["record_id"].isin(set(record_ids))]
    fields = [c for c in table.columns if c not in ("record_id", "citation", "link")]
    filled = table[fields].map(bool).any(axis=1) if fields else table["record_id"].map(bool)
    if not filled.any():
        return table.iloc[0:0].reset_index(drop=True)
    return pd.concat([table[filled], table[~filled]]).reset_index(drop=True)


def render_status(view: ExtractionView) -> str:
    """One paragraph: how many papers are extracted and appraised, or that none is yet
    and how to start (escaped HTML)."""
    n = len(view.record_ids)
    if not view.extracted and not view.appraised:
        return (
            '<p class="synth-note"><strong>No paper has been extracted or appraised yet.</strong> '
            f"The {n} included papers wait for data extraction and critical appraisal: open "
            "the extraction app with <code>synth extract open --db STORE --reviewer NAME</code>; "
            "this page fills in as values are saved.</p>"
        )
    tools = ", ".join(html.escape(t.title) for t in view.tools.values()) or "none yet"
    return (
        f"<p>{view.extracted} of {n} included papers extracted with "
        f"<em>{html.escape(view.extraction.title)}</em>; {view.appraised} appraised "
        f"(tools: {tools}).</p>"
    )


def render_characteristics(view: ExtractionView, *, max_rows: int = PAGE_TABLE_ROWS) -> str:
    """The characteristics table as escaped HTML, each citation a link to its paper where
    it has a web address (http/https only)."""
    table = view.characteristics
    if not len(table):
        return '<p class="synth-note">No characteristics extracted yet.</p>'
    columns = [c for c in table.columns if c not in ("record_id", "link")]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    rows = []
    for row in table.head(max_rows).to_dict("records"):
        cells = []
        for c in columns:
            text = html.escape(str(row.get(c) or ""))
            if c == "citation" and row.get("link"):
                text = f'<a href="{html.escape(str(row["link"]), quote=True)}">{text}</a>'
            cells.append(f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = (
        f'<p class="synth-note">first {max_rows} of {len(table)} papers; '
        "<code>synth export extraction</code> writes every one</p>"
        if len(table) > max_rows
        else ""
    )
    return (
        f'<table class="synth-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{more}"
    )


def appraisal_figures(view: ExtractionView) -> list[Any]:
    """For each tool used: its traffic light per paper and domain (and overall), its
    stacked bar per domain, and the item plot the domain judgements come from."""
    from synth.report.appraisal_figures import domain_bars, item_traffic_light, traffic_light

    figs = []
    for form in view.tools.values():
        figs.append(traffic_light(view.appraisals, form, view.citations))
        figs.append(domain_bars(view.appraisals, form))
        figs.append(item_traffic_light(view.appraisals, form, view.citations))
    return figs


def progress_tables(view: ExtractionView) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(papers per status, the papers in progress) as the page shows them (plain text:
    show them with :func:`synth.report.display.show_table`, which escapes)."""
    from synth.extraction.values import progress_summary

    table = view.progress
    summary = progress_summary(table)
    started = table[table["status"] != "not started"]
    shown = pd.DataFrame(
        {
            "paper": started["record_id"].map(lambda r: view.citations.get(r, r)),
            "status": started["status"],
            "extracted by": started["extracted_by"].map(lambda v: ", ".join(v or ())),
            "fields": [
                f"{d}/{t}"
                for d, t in zip(started["fields_done"], started["fields_total"], strict=True)
            ],
            "appraised by": started["appraised_by"].map(lambda v: ", ".join(v or ())),
            "tool": started["tool"],
        }
    )
    return summary, shown.reset_index(drop=True)


def agreement_table(con: sqlite3.Connection, view: ExtractionView) -> pd.DataFrame:
    """Agreement between extractors per field of the extraction form and each tool used:
    the fields some paper was answered on by two or more reviewers, how many of those
    papers they agreed on before any consensus, and the share (plain text: show it with
    :func:`synth.report.display.show_table`). Empty while nobody extracts in pairs."""
    from synth.extraction.values import agreement

    parts = []
    for form in (view.extraction, *view.tools.values()):
        table = agreement(con, form)
        table = table[table["papers"] > 0]
        parts.append(
            pd.DataFrame(
                {
                    "form": form.title,
                    "field": table["label"],
                    "papers with two extractors": table["papers"],
                    "agreeing": table["agreeing"],
                    "share": table["share"].map(lambda x: f"{x:.0%}"),
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def page_summary(view: ExtractionView) -> dict[str, Any]:
    """The numbers the page shows, for its summary cell (and the tests)."""
    statuses = view.progress["status"].value_counts().to_dict() if len(view.progress) else {}
    return {
        "papers": len(view.record_ids),
        "extracted": view.extracted,
        "appraised": view.appraised,
        "characteristics_rows": len(view.characteristics),
        "characteristics_extracted": view.extracted,
        "tools": sorted(view.tools),
        "appraisal_values": len(view.appraisals),
        "progress": {str(k): int(v) for k, v in statuses.items()},
    }
