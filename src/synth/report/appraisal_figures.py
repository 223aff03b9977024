"""The appraisal summary as figures: a traffic-light plot (paper x domain) and a stacked
bar per domain, for each appraisal tool the review used.

Plotly, offline (the page's shared plotly.js). Colour-blind safe and readable in greyscale:
each answer has its colour *and* its symbol written in the cell (+, ?, −), its legend
marker and its fill pattern (``palette.yml``'s ``judgements``). Citations and item labels
are escaped (:func:`synth.report.maps.esc`): plotly reads a subset of HTML in labels, and
a title is data. The traffic light is a heat map, not a scatter: one small integer per
cell, so 500 papers stay a few tens of kB.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from synth.report.maps import esc
from synth.report.palette import load_palette

#: The answer categories in the order they are drawn (best first).
CATEGORIES = ("yes", "unclear", "no", "not-answered")
#: What the CERQual rules' answer meanings are, as a category here.
_MEANING = {"none": "yes", "unclear": "unclear", "concern": "no"}
#: Rows of a traffic-light plot (its page stays small; the export carries every paper).
MAX_PAPERS = 200
ROW_PX = 22


def answer_category(value: Any) -> str:
    """The category of an appraisal answer (``cerqual.yml``'s answers): yes, unclear, no,
    or not-answered (blank, cleared, not applicable, or off the scale)."""
    from synth.extraction.cerqual import load_rules

    if isinstance(value, list | tuple):
        value = value[0] if len(value) == 1 else None
    if value is None or (isinstance(value, float) and value != value):
        return "not-answered"
    meanings = {str(k).casefold(): v for k, v in load_rules()["answers"].items()}
    return _MEANING.get(meanings.get(str(value).strip().casefold(), ""), "not-answered")


def appraisal_matrix(
    values: pd.DataFrame, form: Any, citations: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Papers appraised with ``form`` (rows, by citation) x its items (columns, in form
    order): each cell an answer category. ``values``: record_id, field_id, value (and
    form_id, filtered to this form when present)."""
    if "form_id" in values.columns:
        values = values[values["form_id"] == form.id]
    items = list(form.fields)
    if not len(values):
        return pd.DataFrame(columns=items)
    cats = values.assign(category=values["value"].map(answer_category))
    wide = cats.pivot_table(
        index="record_id", columns="field_id", values="category", aggfunc="last"
    )
    wide = wide.reindex(columns=items).fillna("not-answered")
    cites = citations or {}
    wide.index = [str(cites.get(r, r)) for r in wide.index]
    return wide.sort_index(kind="stable")


def traffic_light(
    values: pd.DataFrame, form: Any, citations: Mapping[str, str] | None = None,
    *, max_papers: int = MAX_PAPERS,
) -> Any:  # fmt: skip
    """The traffic-light plot of one tool: a row per paper, a column per item in form order,
    so the items of a domain (the form's section) stand together; the hover names the
    domain and the item; each cell coloured and marked with its answer's symbol."""
    import plotly.graph_objects as go

    pal = load_palette()
    styles = pal.judgements
    matrix = answered_items(appraisal_matrix(values, form, citations))
    shown = matrix.head(max_papers)
    code = {c: k for k, c in enumerate(CATEGORIES)}
    z = [[code[c] for c in row] for row in shown.itertuples(index=False)]
    text = [[styles[c]["symbol"] for c in row] for row in shown.itertuples(index=False)]
    n = len(CATEGORIES)
    scale = []
    for k, c in enumerate(CATEGORIES):
        scale += [[k / n, styles[c]["colour"]], [(k + 1) / n, styles[c]["colour"]]]
    labels = [esc(f"{form.fields[f].section} — {form.fields[f].label}") for f in shown.columns]
    ids = [esc(f) for f in shown.columns]
    fig = go.Figure(
        go.Heatmap(
            z=z, x=ids, y=[esc(c) for c in shown.index], text=text, texttemplate="%{text}",
            textfont={"size": 14}, zmin=-0.5, zmax=n - 0.5, colorscale=scale, showscale=False,
            xgap=2, ygap=2, customdata=[labels] * len(z) if len(z) <= 60 else None,
            hovertemplate=(
                "%{y}<br>%{customdata}: %{text}<extra></extra>" if len(z) <= 60
                else "%{y}<br>%{x}: %{text}<extra></extra>"
            ),
        )
    )  # fmt: skip
    for c in CATEGORIES:  # the legend: marker, symbol and name of each answer
        s = styles[c]
        fig.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="markers", name=esc(f"{s['symbol']} {s['name']}"),
                marker={"symbol": s["marker"], "size": 12, "color": s["colour"],
                        "line": {"color": pal.neutral["outline"], "width": 1}},
            )
        )  # fmt: skip
    title = esc(form.title)
    if len(matrix) > len(shown):
        title += f" (first {len(shown)} of {len(matrix)} papers; the export has every one)"
    fig.update_layout(
        title={"text": title, "y": 0.99, "yref": "container", "yanchor": "top"},
        height=max(260, 190 + ROW_PX * len(shown)),
        font={"family": pal.font_family, "size": pal.font_size, "color": pal.neutral["text"]},
        plot_bgcolor=pal.neutral["background"], paper_bgcolor=pal.neutral["background"],
        xaxis={"side": "top", "tickangle": -45, "showgrid": False},
        yaxis={"autorange": "reversed", "showgrid": False, "automargin": True},
        legend={"orientation": "h", "y": -0.02, "yanchor": "top"},
        margin={"t": 170, "l": 10, "r": 10, "b": 40},
    )  # fmt: skip
    return fig


def answered_items(matrix: pd.DataFrame) -> pd.DataFrame:
    """Only the items some paper answered: MMAT's criteria for one design are blank for
    papers of another, and a column nobody answered says nothing."""
    keep = [c for c in matrix.columns if (matrix[c] != "not-answered").any()]
    return matrix[keep]


def domain_counts(values: pd.DataFrame, form: Any) -> pd.DataFrame:
    """Per item of ``form`` some paper answered (rows, form order): papers per answer
    category (columns)."""
    matrix = answered_items(appraisal_matrix(values, form))
    counts = {f: matrix[f].value_counts() for f in matrix.columns}
    out = pd.DataFrame(counts).T.reindex(columns=list(CATEGORIES)).fillna(0).astype(int)
    out.index.name = "field_id"
    return out


def domain_bars(values: pd.DataFrame, form: Any) -> Any:
    """A stacked bar per item of ``form``: how many papers answered yes, can't tell, no
    (or left it), each part coloured, patterned and labelled with its count."""
    import plotly.graph_objects as go

    pal = load_palette()
    counts = domain_counts(values, form)
    y = [esc(form.fields[f].label) for f in counts.index]
    fig = go.Figure()
    for c in CATEGORIES:
        s = pal.judgements[c]
        n = counts[c].tolist()
        if not any(n):
            continue
        fig.add_trace(
            go.Bar(
                x=n, y=y, orientation="h", name=esc(f"{s['symbol']} {s['name']}"),
                text=[str(v) if v else "" for v in n], textposition="inside",
                insidetextanchor="middle",
                marker={"color": s["colour"], "line": {"color": pal.neutral["outline"], "width": 1},
                        "pattern": {"shape": s["pattern"], "fillmode": "overlay",
                                    "fgcolor": pal.neutral["outline"], "solidity": 0.2}},
                hovertemplate=f"%{{y}}<br>{esc(s['name'])}: %{{x}} papers<extra></extra>",
            )
        )  # fmt: skip
    fig.update_layout(
        title={"text": esc(f"{form.title}: answers per item")}, barmode="stack",
        height=max(220, 120 + 30 * len(y)),
        font={"family": pal.font_family, "size": pal.font_size, "color": pal.neutral["text"]},
        plot_bgcolor=pal.neutral["background"], paper_bgcolor=pal.neutral["background"],
        xaxis={"title": {"text": "papers"}, "gridcolor": pal.neutral["grid"]},
        yaxis={"autorange": "reversed", "automargin": True},
        legend={"orientation": "h", "y": -0.15, "yanchor": "top"},
        margin={"t": 60, "l": 10, "r": 10, "b": 40},
    )  # fmt: skip
    return fig
