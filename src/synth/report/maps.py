"""Evidence maps: where the papers are (setting × approach), and what kind they are.

Every figure is a plain :class:`plotly.graph_objects.Figure` that still works as static
HTML: filters are ``updatemenus`` buttons toggling precomputed traces, so no Python
kernel is needed to use them. Corpus strings (citations, titles) reach plotly only
escaped, because plotly renders a subset of HTML in hover labels and text. Colours come
from ``palette.yml`` (colour-blind-safe, and readable when printed in grey).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pandas as pd
import plotly.graph_objects as go

from synth.report.map_links import META_KEY, link_data
from synth.report.maps_data import (
    UNTAGGED,
    Corpus,
    axis_counts,
    best_evidence,
    cells,
    counts_by_label,
    evidence_matrix,
    hidden_labels,
    label_members,
    out_of_scope,
    prepare,
    year_band_members,
)
from synth.report.palette import Palette, load_palette

if TYPE_CHECKING:
    from synth.review import Review

__all__ = [
    "MAP_DIV_ID",
    "PLOT_CONFIG",
    "MapLinks",
    "countries_figure",
    "design_by_setting_figure",
    "evidence_map_figure",
    "evidence_map_with_links",
    "evidence_matrix",
    "map_key",
    "paper_rows",
    "paper_table_html",
    "publication_figure",
    "years_figure",
]

#: The HTML id of the evidence map's plot div in the standalone file.
MAP_DIV_ID = "evidence-map"
#: plotly config for every figure synth writes: no "Share chart" upload to Plotly Cloud
#: (plotly.js 3 shows one by default; it would send the corpus off the machine), no logo
#: link, images saved as SVG. Pass it as ``config=`` to ``to_html``/``show``.
PLOT_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "showSendToCloud": False,
    "showEditInChartStudio": False,
    "plotlyServerURL": "",
    "showLink": False,
    "responsive": True,
    "scrollZoom": False,
    "modeBarButtonsToRemove": [
        "sendChartToCloud", "select2d", "lasso2d", "zoom2d", "pan2d", "autoScale2d",
    ],
    "toImageButtonOptions": {"format": "svg", "filename": "synth-figure"},
}  # fmt: skip
#: Citations listed in one hover label before "… and N more" (each bubble of each filter
#: trace carries its list: at 10,000 papers, 15 made the map 0.45 MB).
HOVER_MAX = 10
_MAX_BUBBLE_PX = 46


def esc(value: Any) -> str:
    """Escape a corpus string for HTML and for plotly's label markup: a title is data.

    Quotes become numeric references (``&#34;``, ``&#39;``), the only form both an HTML
    attribute and plotly's entity decoder (which knows no ``&quot;``) read back as quotes.
    """
    text = html.escape("" if value is None else str(value), quote=False)
    return text.replace('"', "&#34;").replace("'", "&#39;")


def _name(pal: Palette, facet: str, label: str) -> str:
    return esc("Not tagged" if label == UNTAGGED else pal.label_name(facet, label))


def _hover_list(cites: Sequence[str], limit: int = HOVER_MAX) -> str:
    shown = [esc(c) for c in cites[:limit]]
    if len(cites) > limit:
        shown.append(f"… and {len(cites) - limit} more")
    return "<br>".join(shown)


def _wrap(text: str, width: int = 18) -> str:
    """Break a long (already escaped) tick label onto lines of about ``width`` characters."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


def _papers(n: int) -> str:
    return f"{n} paper" if n == 1 else f"{n} papers"


def _base_layout(pal: Palette, title: str, **kw: Any) -> dict[str, Any]:
    """Layout shared by every figure: no plotly template (it is big and not print-safe)."""
    return dict(
        template=None,
        title={"text": esc(title), "x": 0.0, "xanchor": "left", "font": {"size": 17}},
        font={"family": pal.font_family, "size": pal.font_size, "color": pal.neutral["text"]},
        paper_bgcolor=pal.neutral["background"],
        plot_bgcolor=pal.neutral["background"],
        hoverlabel={"bgcolor": "#FFFFFF", "bordercolor": pal.neutral["outline"],
                    "font": {"color": pal.neutral["text"]}, "align": "left"},
        **kw,
    )  # fmt: skip


def _text_colours(values: Sequence[float], cmax: float) -> list[str]:
    """Dark text on light fills, white on dark ones (the scale darkens with the count)."""
    return ["#fff" if cmax and v / cmax > 0.45 else "#111" for v in values]


# --------------------------------------------------------------------------- evidence map


def _filters(corpus: Corpus, pal: Palette) -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """The map's dropdowns: (menu title, [(option, record ids)]) for publication, design,
    year band; options with no papers are left out."""
    menus = []
    pubs = label_members(corpus, "publication")
    if pubs:
        menus.append(
            ("Publication", [(pal.label_name("publication", k), v) for k, v in pubs.items()])
        )
    designs = label_members(corpus, "design")
    if designs:
        menus.append(
            ("Study design", [(pal.label_name("design", k), v) for k, v in designs.items()])
        )
    bands = year_band_members(corpus)
    if bands:
        menus.append(("Years", list(bands.items())))
    return menus  # fmt: skip


def _bubble_trace(
    matrix: pd.DataFrame,
    pal: Palette,
    rows: str,
    cols: str,
    *,
    name: str,
    cmax: int,
    visible: bool,
    criteria: dict[str, str] | None = None,
) -> go.Scatter:
    """Bubbles of the non-empty cells. Positions are category indices (the axes carry
    the names as tick text), so the many filter traces do not repeat every label. A bubble
    in an out-of-scope cell is faded and its hover names the criterion (``criteria``:
    criterion id -> its hover line)."""
    m = matrix[matrix["n"] > 0]
    row_pos = {r: i for i, r in enumerate(dict.fromkeys(matrix["row"]))}
    col_pos = {c: i for i, c in enumerate(dict.fromkeys(matrix["col"]))}
    scope = list(m["out_of_scope"]) if "out_of_scope" in m.columns else [""] * len(m)
    criteria = criteria or {}
    hover = [
        f"{_name(pal, rows, r)} × {_name(pal, cols, c)}: <b>{_papers(n)}</b><br>"
        + (f"<i>{criteria.get(out, esc(out))}</i><br>" if out else "")
        + _hover_list(cites)
        for r, c, n, cites, out in zip(
            m["row"], m["col"], m["n"], m["citations"], scope, strict=True
        )
    ]
    sizeref = 2.0 * max(cmax, 1) / (_MAX_BUBBLE_PX**2)
    return go.Scatter(
        x=[col_pos[c] for c in m["col"]],
        y=[row_pos[r] for r in m["row"]],
        mode="markers+text",
        name=esc(name),
        visible=visible,
        text=[str(n) for n in m["n"]],
        textfont={"color": _text_colours(list(m["n"]), cmax), "size": 12},
        textposition="middle center",
        hovertext=hover,
        hoverinfo="text",
        marker={
            "size": list(m["n"]),
            "sizemode": "area",
            "sizeref": sizeref,
            "sizemin": 12,
            "color": list(m["n"]),
            "coloraxis": "coloraxis",
            "opacity": [0.45 if out else 1.0 for out in scope],
            "line": {"color": pal.neutral["outline"], "width": 1},
        },
        showlegend=False,
    )


@dataclass(frozen=True)
class MapLinks:
    """Which papers stand behind each bubble of an evidence map, each id said once, for a
    page that links bubbles to its table.

    ``cells`` maps a cell's position ``(x, y)`` to the record ids of the all-papers bubble
    there; ``members[t]`` are the record ids filter trace ``t`` counts. A filter trace's
    bubble at a cell holds exactly that cell's ids that are among its members, so a page
    intersects the two instead of carrying every filter's ids for every bubble (at 10,000
    papers those were most of the file)."""

    cells: dict[tuple[int, int], list[str]]
    members: dict[int, list[str]]


def evidence_map_figure(
    records: pd.DataFrame,
    tags: pd.DataFrame,
    *,
    rows: str = "setting",
    cols: str = "approach",
    filters: bool = True,
    title: str | None = None,
    table_ids: Iterable[str] | None = None,
    review: Review | None = None,
) -> go.Figure:
    """The setting × approach bubble map: bubble area and colour = number of papers.

    Every label pair has a grid dot, so an empty cell reads as a gap, not as a missing row.
    Hover lists the cell's papers (escaped citations). With ``filters``, dropdowns
    (publication type, study design, year band) switch to precomputed traces; choosing in
    one dropdown resets the others to "All papers", so the dropdowns never disagree with
    what is drawn. The figure carries no record ids (see :func:`evidence_map_with_links`)
    unless ``table_ids`` names the papers a page's table lists: then ``layout.meta``
    carries which of them each bubble holds (each id once), and the report page links a
    click on a bubble to its table (:mod:`synth.report.map_links`).

    With ``review`` (:func:`synth.review.review_for`), labels its own criteria exclude are
    drawn as out of scope: a grey band over their row or column, named "out of scope" with
    the criterion in the tick label, an annotation and every hover, and their empty cells
    marked × rather than drawn as gaps; labels it hides are not drawn (:func:`map_key` says
    which, and how many papers carry only those). Without one nothing is out of scope.

    Trace order: 0 = grid of all cells, 1 = all papers, then one trace per filter option in
    menu order.
    """
    fig, links = evidence_map_with_links(
        records, tags, rows=rows, cols=cols, filters=filters, title=title, review=review
    )
    if table_ids is not None:
        fig.update_layout(meta={META_KEY: link_data(fig, links, keep=table_ids)})
    return fig


def evidence_map_with_links(
    records: pd.DataFrame,
    tags: pd.DataFrame,
    *,
    rows: str = "setting",
    cols: str = "approach",
    filters: bool = True,
    title: str | None = None,
    review: Review | None = None,
) -> tuple[go.Figure, MapLinks]:
    """:func:`evidence_map_figure` and the :class:`MapLinks` of its bubbles."""
    pal = load_palette()
    corpus = prepare(records, tags)
    full = cells(corpus, rows, cols, review=review)
    row_order = list(dict.fromkeys(full["row"]))
    col_order = list(dict.fromkeys(full["col"]))
    row_out, col_out = out_of_scope(review, rows), out_of_scope(review, cols)
    row_names = [_name(pal, rows, r) + (OUT_MARK if r in row_out else "") for r in row_order]
    col_names = [
        _wrap(_name(pal, cols, c)) + ("<br>" + OUT_MARK.strip() if c in col_out else "")
        for c in col_order
    ]
    cmax = int(full["n"].max()) if len(full) else 0
    n_papers = len(corpus.records)
    criteria = {c: _criterion_line(review, c) for c in {*row_out.values(), *col_out.values()}}

    traces: list[go.Scatter] = [
        _grid_trace(full, pal),
        _bubble_trace(
            full, pal, rows, cols, name="All papers", cmax=cmax, visible=True, criteria=criteria
        ),
    ]
    row_pos = {r: i for i, r in enumerate(row_order)}
    col_pos = {c: i for i, c in enumerate(col_order)}
    nonzero = full[full["n"] > 0]
    links = MapLinks(
        cells={
            (col_pos[c], row_pos[r]): list(ids)
            for r, c, ids in zip(nonzero["row"], nonzero["col"], nonzero["record_ids"], strict=True)
        },
        members={},
    )
    menus_spec = _filters(corpus, pal) if filters else []
    spans: list[tuple[int, int]] = []  # first, last trace index of each menu's options
    for _, options in menus_spec:
        first = len(traces)
        for option, ids in options:
            m = cells(corpus, rows, cols, only=ids, review=review)
            links.members[len(traces)] = list(ids)
            traces.append(
                _bubble_trace(
                    m, pal, rows, cols, name=option, cmax=cmax, visible=False, criteria=criteria
                )
            )
        spans.append((first, len(traces) - 1))

    fig = go.Figure(traces)
    total = len(traces)
    updatemenus = []
    for k, ((menu_title, options), (first, _)) in enumerate(zip(menus_spec, spans, strict=True)):
        reset = {f"updatemenus[{j}].active": 0 for j in range(len(menus_spec)) if j != k}
        all_vis = [i <= 1 for i in range(total)]
        buttons = [
            {
                "label": f"{esc(menu_title)}: all",
                "method": "update",
                "args": [{"visible": all_vis}, reset],
            }
        ]
        for j, (option, ids) in enumerate(options):
            vis = [i == 0 or i == first + j for i in range(total)]
            buttons.append(
                {
                    "label": f"{esc(option)} ({len(ids)})",
                    "method": "update",
                    "args": [{"visible": vis}, reset],
                }
            )
        updatemenus.append(
            {
                "type": "dropdown",
                "buttons": buttons,
                "active": 0,
                "direction": "down",
                "showactive": True,
                "x": k * 0.27,
                "xanchor": "left",
                "y": 1.0,
                "yanchor": "bottom",
                "pad": {"t": 4, "b": 8},
                "bgcolor": "#FFFFFF",
                "bordercolor": pal.neutral["muted"],
                "font": {"size": 12},
            }
        )

    axis = {
        "type": "linear",
        "tickmode": "array",
        "showgrid": True,
        "gridcolor": pal.neutral["grid"],
        "zeroline": False,
        "showline": True,
        "linecolor": pal.neutral["grid"],
        "mirror": True,
        "ticks": "",
        "fixedrange": True,
    }
    heading = title or (
        f"Evidence map: {pal.facet_name(rows).lower()} × {pal.facet_name(cols).lower()}"
        f" ({_papers(n_papers)}; bubble size = number of papers)"
    )
    top = (110 if updatemenus else 70) + 22
    layout = _base_layout(pal, heading)
    layout["title"]["subtitle"] = {"text": esc(KEY_TEXT), "font": {"size": 12}}
    bands = _scope_bands(pal, review, row_order, col_order, rows, cols)
    fig.update_layout(
        **layout,
        shapes=bands["shapes"],
        annotations=bands["annotations"],
        height=top + 90 + 56 * max(len(row_order), 1),
        margin={"l": 10, "r": 20, "t": top, "b": 10},
        xaxis={**axis, "tickvals": list(range(len(col_names))), "ticktext": col_names,
               "range": [-0.6, len(col_names) - 0.4], "side": "bottom", "tickangle": 0,
               "title": {"text": esc(pal.facet_name(cols))}, "automargin": True},
        yaxis={**axis, "tickvals": list(range(len(row_names))), "ticktext": row_names,
               "range": [len(row_names) - 0.5, -0.5],
               "title": {"text": esc(pal.facet_name(rows))}, "automargin": True},
        updatemenus=updatemenus,
        coloraxis={"cmin": 0, "cmax": max(cmax, 1), "colorscale": pal.colorscale(),
                   "showscale": False},
        hovermode="closest",
        dragmode=False,
    )  # fmt: skip
    return fig, links


#: What the map's marks mean (its subtitle; :func:`map_key` says it in full on the page).
KEY_TEXT = (
    "Grey dot: no papers in an in-scope cell, no evidence here · grey band with ×: out of "
    "scope by the review's own criteria, not a gap · Not tagged: papers with no label on "
    "that axis"
)
#: Added to the tick label of a label the review's criteria exclude.
OUT_MARK = " (out of scope)"


def _criterion_line(review: Review | None, crit_id: str) -> str:
    """The hover line naming the criterion that rules a label out of scope (escaped)."""
    crit = review.criterion(crit_id) if review is not None else None
    text = f": {crit.text}" if crit is not None and crit.text else ""
    return _wrap(esc(f"Out of scope: excluded by the review's criterion {crit_id}{text}"), 60)


def _grid_trace(matrix: pd.DataFrame, pal: Palette) -> go.Scatter:
    """A mark in every cell: a grey dot (an in-scope cell with no papers reads as a gap:
    no evidence here), × where the review's criteria rule the cell out (not a gap). It
    takes no hover: a hover-able point under a bubble would swallow the bubble's label;
    the band's annotation and the bubbles name the criterion."""
    row_pos = {r: i for i, r in enumerate(dict.fromkeys(matrix["row"]))}
    col_pos = {c: i for i, c in enumerate(dict.fromkeys(matrix["col"]))}
    out = [bool(o) for o in matrix["out_of_scope"]]
    colour = [pal.neutral["muted"] if o else pal.neutral["empty"] for o in out]
    return go.Scatter(
        x=[col_pos[c] for c in matrix["col"]],
        y=[row_pos[r] for r in matrix["row"]],
        mode="markers",
        marker={"size": [9 if o else 5 for o in out], "color": colour,
                "symbol": ["x-thin-open" if o else "circle" for o in out],
                "line": {"color": colour, "width": 1.5}},
        hoverinfo="skip",
        showlegend=False,
        name="cells",
    )  # fmt: skip


def _scope_bands(
    pal: Palette,
    review: Review | None,
    row_order: list[str],
    col_order: list[str],
    rows: str,
    cols: str,
) -> dict[str, list[dict[str, Any]]]:
    """A grey band over each out-of-scope row and column, and an annotation on it naming
    the criterion (its hover gives the criterion's text)."""
    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    for facet, order, vertical in ((cols, col_order, True), (rows, row_order, False)):
        for label, crit in out_of_scope(review, facet).items():
            if label not in order:
                continue
            i = order.index(label)
            span = {"x0": i - 0.5, "x1": i + 0.5, "xref": "x", "y0": 0, "y1": 1, "yref": "paper"}
            if not vertical:
                span = {"y0": i - 0.5, "y1": i + 0.5, "yref": "y", "x0": 0, "x1": 1,
                        "xref": "paper"}  # fmt: skip
            shapes.append({"type": "rect", "layer": "below", "line": {"width": 0},
                           "fillcolor": pal.neutral["out_of_scope"], "name": "out-of-scope",
                           **span})  # fmt: skip
            at = (
                {"x": i, "xref": "x", "y": 0, "yref": "paper", "yanchor": "bottom"}
                if vertical
                else {"x": 1, "xref": "paper", "xanchor": "right", "y": i, "yref": "y"}
            )
            notes.append({"text": f"out of scope:<br>{esc(crit)}", "showarrow": False,
                          "font": {"size": 10, "color": pal.neutral["text"]},
                          "bgcolor": pal.neutral["out_of_scope"],
                          "hovertext": _criterion_line(review, crit), "name": "out-of-scope",
                          **at})  # fmt: skip
    return {"shapes": shapes, "annotations": notes}


def map_key(
    records: pd.DataFrame,
    tags: pd.DataFrame,
    review: Review | None = None,
    *,
    rows: str = "setting",
    cols: str = "approach",
) -> list[str]:
    """What the evidence map's marks mean, as plain sentences for its page (escape them):
    empty cells, the review's out-of-scope labels with their criteria, its hidden labels
    and why, and how many papers each axis counts as "not tagged" or only hidden."""
    pal = load_palette()
    corpus = prepare(records, tags)
    lines = [
        "An empty in-scope cell (a grey dot) means no evidence here: no paper in this set "
        "carries both labels."
    ]
    for facet in dict.fromkeys((rows, cols)):
        name = pal.facet_name(facet).lower()
        by_crit: dict[str, list[str]] = {}
        for label, crit in out_of_scope(review, facet).items():
            by_crit.setdefault(crit, []).append(pal.label_name(facet, label))
        for crit, labels in by_crit.items():
            c = review.criterion(crit) if review is not None else None
            text = f' ("{c.text}")' if c is not None and c.text else ""
            lines.append(
                f"Out of scope ({name}): {', '.join(labels)}, excluded by the review's own "
                f"criterion {crit}{text}. Drawn as a grey band with ×, not as evidence gaps."
            )
        hidden = hidden_labels(review, facet)
        counts = axis_counts(corpus, facet, review)
        if hidden:
            lines.append(
                f"Not drawn ({name}): {', '.join(pal.label_name(facet, h) for h in hidden)},"
                " outside the review's frame (review.yml scope.hidden); "
                f"papers with only these labels, not on the map: {counts['hidden_only']}."
            )
        lines.append(
            f"Not tagged ({name}): {_papers(counts['not_tagged'])} of {counts['papers']} "
            f'have no {name} label and are counted in the "Not tagged" '
            f"{'row' if facet == rows else 'column'}; {counts['tagged']} have one."
        )
    return lines


# --------------------------------------------------------------------------- other figures


def design_by_setting_figure(records: pd.DataFrame, tags: pd.DataFrame) -> go.Figure:
    """Heat map of study design (rows) by setting (columns); empty cells left blank."""
    pal = load_palette()
    corpus = prepare(records, tags)
    m = cells(corpus, "design", "setting")
    row_order = list(dict.fromkeys(m["row"]))
    col_order = list(dict.fromkeys(m["col"]))
    by_cell = {
        (r, c): (n, cites)
        for r, c, n, cites in zip(m["row"], m["col"], m["n"], m["citations"], strict=True)
    }
    z, text, hover = [], [], []
    for r in row_order:
        zr, tr, hr = [], [], []
        for c in col_order:
            n, cites = by_cell[(r, c)]
            zr.append(n if n else None)
            tr.append(str(n) if n else "")
            hr.append(
                f"<b>{_name(pal, 'design', r)}</b> × <b>{_name(pal, 'setting', c)}</b><br>"
                f"{_papers(n)}" + (f"<br>{_hover_list(cites)}" if n else "")
            )
        z.append(zr)
        text.append(tr)
        hover.append(hr)
    cmax = int(m["n"].max()) if len(m) else 1
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[_wrap(_name(pal, "setting", c)) for c in col_order],
            y=[_name(pal, "design", r) for r in row_order],
            text=text,
            texttemplate="%{text}",
            hovertext=hover,
            hoverinfo="text",
            colorscale=pal.colorscale(),
            zmin=0,
            zmax=max(cmax, 1),
            xgap=2,
            ygap=2,
            colorbar={"title": {"text": "papers"}, "thickness": 12},
        )
    )
    fig.update_layout(
        **_base_layout(pal, f"Study design by setting ({_papers(len(corpus.records))})"),
        height=140 + 40 * len(row_order),
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        # long setting names wrap; plotly turns them only as far as needed to stay apart
        xaxis={"type": "category", "autotickangles": [0, 30, 45, 60, 90], "automargin": True,
               "fixedrange": True,
               "title": {"text": pal.facet_name("setting")}, "showgrid": False},
        yaxis={"type": "category", "autorange": "reversed", "automargin": True,
               "fixedrange": True, "title": {"text": pal.facet_name("design")},
               "showgrid": False},
    )  # fmt: skip
    fig.update_layout(plot_bgcolor=pal.neutral["box"])
    return fig


def _bar_figure(
    corpus: Corpus, facet: str, pal: Palette, title: str, *, horizontal: bool
) -> go.Figure:
    """One bar per label, each its own trace: plotly ignores a pattern's ink when the
    colours come as one per-bar list, so a shared trace drew grey literature otherwise than
    the years chart does. Every bar takes its fill from :meth:`Palette.series_marker`."""
    counts = counts_by_label(corpus, facet)
    if horizontal:
        counts = counts.sort_values("n", ascending=True, kind="stable")
    names = [_name(pal, facet, lab) for lab in counts["label"]]
    fig = go.Figure()
    for i, (lab, name, n, cites) in enumerate(
        zip(counts["label"], names, counts["n"], counts["citations"], strict=True)
    ):
        # publication types each have their colour and pattern; other facets one colour
        style = pal.series_marker(
            facet, lab, i if facet == "publication" else 0, empty=lab == UNTAGGED
        )
        fig.add_bar(
            x=[int(n)] if horizontal else [name],
            y=[name] if horizontal else [int(n)],
            name=name,
            orientation="h" if horizontal else "v",
            text=[str(n)],
            textposition="outside",
            hovertext=[f"<b>{name}</b><br>{_papers(n)}<br>{_hover_list(cites)}"],
            hoverinfo="text",
            marker=style,
        )
    value_axis = {
        "title": {"text": "papers"},
        "gridcolor": pal.neutral["grid"],
        "rangemode": "tozero",
        "fixedrange": True,
        "automargin": True,
    }
    cat_axis = {"type": "category", "automargin": True, "fixedrange": True,
                "categoryorder": "array", "categoryarray": names}  # fmt: skip
    fig.update_layout(
        **_base_layout(pal, title),
        barmode="overlay",  # one bar per category: no side-by-side slots
        height=max(300, 120 + 28 * len(counts)) if horizontal else 380,
        margin={"l": 10, "r": 30, "t": 60, "b": 10},
        xaxis=value_axis if horizontal else cat_axis,
        yaxis=cat_axis if horizontal else value_axis,
        showlegend=False,
    )
    return fig


def countries_figure(records: pd.DataFrame, tags: pd.DataFrame) -> go.Figure:
    """Papers per country (a paper about two countries counts for both)."""
    pal = load_palette()
    corpus = prepare(records, tags)
    return _bar_figure(
        corpus, "country", pal, f"Countries ({_papers(len(corpus.records))})", horizontal=True
    )


def publication_figure(records: pd.DataFrame, tags: pd.DataFrame) -> go.Figure:
    """Journal articles, grey literature and books: colour and pattern per type."""
    pal = load_palette()
    corpus = prepare(records, tags)
    return _bar_figure(
        corpus,
        "publication",
        pal,
        f"Journal articles and grey literature ({_papers(len(corpus.records))})",
        horizontal=False,
    )


#: At most this many year labels on the years axis.
MAX_YEAR_TICKS = 20


def year_step(n_years: int, most: int = MAX_YEAR_TICKS) -> int:
    """Years between two labels of the years axis: 1, 2, 5, 10, 20, ... so that at most
    ``most`` labels show (36 labels at 10,000 papers ran into each other)."""
    step = 1
    for step in (s * 10**k for k in range(4) for s in (1, 2, 5)):
        if n_years <= most * step:
            break
    return step


def years_figure(records: pd.DataFrame, tags: pd.DataFrame) -> go.Figure:
    """Papers per publication year, stacked by publication type (colour and pattern)."""
    pal = load_palette()
    corpus = prepare(records, tags)
    pub = corpus.main_label("publication")
    year_col = corpus.records["year"] if "year" in corpus.records.columns else None
    years = pd.to_numeric(
        year_col if year_col is not None else pd.Series(pd.NA, index=corpus.records.index),
        errors="coerce",
    )
    df = pd.DataFrame({"year": years, "pub": pub, "cite": corpus.citation[corpus.records.index]})
    df = df.dropna(subset=["year"])
    df["year"] = df["year"].astype(int)
    span = list(range(int(df["year"].min()), int(df["year"].max()) + 1)) if len(df) else []
    present = set(df["pub"])
    order = [lab for lab in [*label_members(corpus, "publication"), UNTAGGED] if lab in present]
    fig = go.Figure()
    for i, lab in enumerate(order):
        sub = df[df["pub"] == lab]
        groups = {y: sorted(g["cite"]) for y, g in sub.groupby("year")}
        name = _name(pal, "publication", lab)
        fig.add_bar(
            x=span,
            y=[len(groups.get(y, [])) for y in span],
            name=name,
            hovertext=[
                f"<b>{y}</b> · {name}<br>{_papers(len(groups.get(y, [])))}"
                + (f"<br>{_hover_list(groups[y])}" if groups.get(y) else "")
                for y in span
            ],
            hoverinfo="text",
            marker=pal.series_marker("publication", lab, i, empty=lab == UNTAGGED),
        )
    missing = int(len(corpus.records) - len(df))
    title = f"Publication years ({_papers(len(df))}"
    title += f"; {missing} without a year)" if missing else ")"
    fig.update_layout(
        **_base_layout(pal, title),
        barmode="stack",
        height=380,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        # automargin: the margins grow to hold the tick labels (10 px cut them off); the
        # angle is plotly's, which turns the labels only when they would collide
        xaxis={"title": {"text": "year"}, "tickmode": "linear", "tick0": 0,
               "dtick": year_step(len(span)), "tickformat": "d", "automargin": True,
               "fixedrange": True},
        yaxis={"title": {"text": "papers"}, "gridcolor": pal.neutral["grid"], "fixedrange": True,
               "rangemode": "tozero", "automargin": True},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
    )  # fmt: skip
    return fig


# --------------------------------------------------------------------------- paper table


def _safe_href(url: Any, doi: Any) -> str | None:
    """An http(s) link for a paper, or None: ``javascript:`` and other schemes never link."""
    if isinstance(doi, str) and doi.strip():
        return "https://doi.org/" + doi.strip()
    if isinstance(url, str):
        try:
            scheme = urlsplit(url.strip()).scheme.lower()
        except ValueError:
            return None
        if scheme in ("http", "https"):
            return url.strip()
    return None


@dataclass(frozen=True)
class PaperRow:
    """One paper of the paper table, as plain (unescaped) text: the HTML table escapes it,
    the standalone map's packed table sets it as ``textContent``."""

    record_id: str
    citation: str
    title: str
    href: str | None  # its DOI or http(s) URL only
    year: str
    venue: str
    labels: tuple[str, ...]  # per facet of :data:`TABLE_FACETS`, label names joined by "; "
    quotes: tuple[tuple[str, str | None, str], ...]  # (label name, quote or None, field)


#: The facets the paper table shows, in column order.
TABLE_FACETS = ("setting", "approach", "design")


def paper_table_head() -> list[str]:
    """The paper table's column headings."""
    pal = load_palette()
    return ["Citation", "Title", "Year", "Venue", *[pal.facet_name(f) for f in TABLE_FACETS],
            "Evidence"]  # fmt: skip


def paper_rows(records: pd.DataFrame, tags: pd.DataFrame) -> list[PaperRow]:
    """The papers in citation order, each with its labels and, per label, its strongest
    evidence sentence (a sentence quoted once per paper; a title only named)."""
    pal = load_palette()
    corpus = prepare(records, tags)
    labels = {f: corpus.labels_of(f) for f in TABLE_FACETS}
    evidence = {
        (t.record_id, t.facet, t.label): t.evidence
        for t in corpus.tags[corpus.tags["facet"].isin(TABLE_FACETS)].itertuples()
    }
    recs = corpus.records.assign(_cite=corpus.citation[corpus.records.index].to_numpy())
    recs = recs.sort_values("_cite", key=lambda s: s.str.lower(), kind="stable")
    out = []
    for rid, rec in recs.iterrows():
        year = rec.get("year")
        venue = rec.get("venue")
        if not isinstance(venue, str) or not venue.strip():
            venue = rec.get("publisher") if isinstance(rec.get("publisher"), str) else ""
        names: list[str] = []
        quotes: list[tuple[str, str | None, str]] = []
        seen: set[str] = set()
        for f in TABLE_FACETS:
            labs = labels[f].get(rid, [])
            names.append("; ".join(pal.label_name(f, lab) for lab in labs))
            for lab in labs:
                best = best_evidence(evidence.get((rid, f, lab)))
                if best is None or best[0] in seen:
                    continue
                seen.add(best[0])
                # the title is in its own column: name it, do not repeat it
                quote = None if best[1] == "title" else best[0]
                quotes.append((pal.label_name(f, lab), quote, best[1]))
        out.append(
            PaperRow(
                record_id=str(rid),
                citation=str(rec["_cite"]),
                title=str(rec.get("title") or "(no title)"),
                href=_safe_href(rec.get("url"), rec.get("doi")),
                year="" if year is None or pd.isna(year) else str(int(year)),
                venue=str(venue or ""),
                labels=tuple(names),
                quotes=tuple(quotes),
            )
        )
    return out


def paper_table_html(records: pd.DataFrame, tags: pd.DataFrame, *, table_id: str = "papers") -> str:
    """The papers as an HTML table, every corpus string escaped.

    Columns: citation, title (linked to its DOI or http(s) URL only), year, venue, setting,
    approach, design and, per tag of those facets, its strongest evidence sentence. Each row
    has ``id="paper-<record id>"`` and ``data-record`` so a click on the map can find it.
    """
    return render_paper_table(paper_rows(records, tags), table_id=table_id)


def render_paper_table(rows: Sequence[PaperRow], *, table_id: str = "papers") -> str:
    """:func:`paper_table_html` of rows already made (an empty ``rows`` gives the head)."""
    out = [
        f'<table class="synth-papers" id="{esc(table_id)}">',
        "<thead><tr>" + "".join(f'<th scope="col">{esc(h)}</th>' for h in paper_table_head())
        + "</tr></thead>",
        "<tbody>",
    ]  # fmt: skip
    for row in rows:
        title = esc(row.title)
        if row.href:
            title = f'<a href="{esc(row.href)}" rel="noopener noreferrer">{title}</a>'
        cols = [
            f"<td>{esc(row.citation)}</td>",
            f"<td>{title}</td>",
            f"<td>{row.year}</td>",
            f"<td>{esc(row.venue)}</td>",
            *[f"<td>{esc(names)}</td>" for names in row.labels],
        ]
        quotes = [
            f"<li><b>{esc(name)}</b>{'' if quote is None else f': “{esc(quote)}”'}"
            f' <span class="field">({esc(field)})</span></li>'
            for name, quote, field in row.quotes
        ]
        cols.append(
            f'<td><ul class="evidence">{"".join(quotes)}</ul></td>' if quotes else "<td></td>"
        )
        rid = esc(row.record_id)
        out.append(f'<tr id="paper-{rid}" data-record="{rid}">{"".join(cols)}</tr>')
    out.append("</tbody></table>")
    return "\n".join(out)


def figure_height(fig: go.Figure) -> int:
    """The layout height a figure asks for (for embedding it in a page)."""
    h = fig.layout.height
    return int(h) if h is not None and not math.isnan(h) else 450
