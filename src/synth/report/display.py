"""What the report notebooks call to show things, so the same output works in two places.

In JupyterLab a figure renders from its ``application/vnd.plotly.v1+json`` bundle; in the
rendered HTML page nbconvert picks the ``text/html`` part: a ``<div>`` and a
``Plotly.newPlot`` call that use the one shared ``plotly.min.js`` the page loads, so no
page carries its own 4.8 MB copy of plotly.js. Tables are escaped HTML: a title is data.
A notebook's machine-readable summary is published under its own MIME type, which the
tests read back from the executed notebook and the HTML page leaves out.
"""

from __future__ import annotations

import html
import json
import math
import uuid
from collections.abc import Mapping
from typing import Any

import pandas as pd

PLOTLY_MIME = "application/vnd.plotly.v1+json"
#: MIME type of a notebook's summary (tests read it; HTML rendering drops the cell).
SUMMARY_MIME = "application/vnd.synth.summary+json"
#: Cell tag marking the summary cell, removed from the HTML page.
SUMMARY_TAG = "synth-summary"
#: Plotly config for report figures: no link to plotly's cloud, no logo.
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "showSendToCloud": False}


def _display(bundle: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
    from IPython.display import display

    display(bundle, raw=True, metadata=metadata or {})


def figure_bundle(fig: Any, *, div_id: str | None = None) -> dict[str, Any]:
    """The MIME bundle of a plotly figure: plotly JSON for JupyterLab, div + script for HTML.

    The HTML part relies on a global ``Plotly`` (the page's shared ``plotly.min.js``);
    plotly writes ``<`` inside the JSON as ``\\u003c`` so no corpus string closes the script.
    """
    import plotly.io as pio

    spec = json.loads(pio.to_json(fig, validate=False))
    height = fig.layout.height
    height_px = int(height) if height is not None and not math.isnan(height) else 450
    div = pio.to_html(
        fig,
        include_plotlyjs=False,
        include_mathjax=False,
        full_html=False,
        config=PLOT_CONFIG,
        default_height=f"{height_px}px",
        div_id=div_id or f"plot-{uuid.uuid4().hex[:12]}",
        validate=False,
    )
    spec["config"] = PLOT_CONFIG
    return {
        PLOTLY_MIME: spec,
        "text/html": div,
        "text/plain": f"<plotly figure, {len(fig.data)} traces>",
    }


def show_figure(fig: Any, *, div_id: str | None = None) -> None:
    """Display a plotly figure (interactive in JupyterLab and in the rendered page)."""
    _display(figure_bundle(fig, div_id=div_id))


def table_html(
    df: pd.DataFrame,
    *,
    caption: str | None = None,
    max_rows: int | None = None,
    index: bool = False,
) -> str:
    """A DataFrame as an escaped HTML table (cells, headers and caption are escaped)."""
    shown = df if max_rows is None else df.head(max_rows)
    shown = shown.map(_cell) if len(shown.columns) else shown
    body = shown.to_html(
        index=index, escape=True, na_rep="", border=0, classes="synth-table", render_links=False
    )
    parts = []
    if caption:
        parts.append(f'<p class="synth-caption">{html.escape(caption)}</p>')
    parts.append(body)
    if max_rows is not None and len(df) > max_rows:
        parts.append(f'<p class="synth-note">first {max_rows} of {len(df)} rows</p>')
    return "\n".join(parts)


def _cell(value: Any) -> Any:
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, list | tuple | set):
        return "; ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def show_table(
    df: pd.DataFrame,
    *,
    caption: str | None = None,
    max_rows: int | None = None,
    index: bool = False,
) -> None:
    """Display a DataFrame as an escaped HTML table (plain text in a console)."""
    _display(
        {
            "text/html": table_html(df, caption=caption, max_rows=max_rows, index=index),
            "text/plain": df.head(max_rows).to_string() if max_rows else df.to_string(),
        }
    )


def show_html(fragment: str) -> None:
    """Display an HTML fragment that is already safe (built by synth with escaped strings)."""
    _display({"text/html": fragment, "text/plain": "<html fragment>"})


def show_text(text: str, *, tag: str = "p") -> None:
    """Display a line of plain text (escaped) as a paragraph or heading."""
    if tag not in {"p", "h2", "h3", "h4", "pre"}:
        raise ValueError(f"tag must be p, h2, h3, h4 or pre, not {tag!r}")
    _display({"text/html": f"<{tag}>{html.escape(text)}</{tag}>", "text/plain": text})


def publish_summary(summary: Mapping[str, Any]) -> None:
    """Publish a notebook's summary (numbers the tests check) as JSON under SUMMARY_MIME.

    Put this in the notebook's last cell, tagged ``synth-summary``: the HTML page drops
    that cell, the executed notebook keeps the JSON for :func:`read_summary`.
    """
    data = json.loads(json.dumps(dict(summary), default=_jsonable))
    _display({SUMMARY_MIME: data, "text/plain": json.dumps(data, sort_keys=True)})


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, set | tuple):
        return list(value)
    if value is pd.NA:
        return None
    return str(value)


def read_summary(nb: Any) -> dict[str, Any] | None:
    """The summary a notebook published (from an executed ``nbformat`` notebook), or None."""
    found: dict[str, Any] | None = None
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data") or {}
            if SUMMARY_MIME in data:
                found = dict(data[SUMMARY_MIME])
    return found
