"""The appraisal summary as figures, for each appraisal tool the review used: a
traffic-light plot per paper and domain (a column per domain of the tool, then the paper's
overall judgement), a stacked bar per domain (the share of papers at each level), and the
item plot behind them (a column per item, each cell the paper's answer).

A domain's level (low, some, high concern, not assessed) follows from its items' answers,
and the overall level from the domains', by the rules of ``appraisal.yml``
(:mod:`synth.extraction.appraisal`), robvis-like; the items stay reachable (the hover of a
domain cell counts its answers, and the item plot shows each).

Plotly, offline (the page's shared plotly.js). Colour-blind safe and readable in greyscale:
each answer and each level has its colour *and* its symbol written in the cell (+, ?, −),
its legend marker and its fill pattern (``palette.yml``'s ``judgements``). Citations,
domain and item labels are escaped (:func:`synth.report.maps.esc`): plotly reads a subset
of HTML in labels, and a title is data. The traffic lights are heat maps, not scatters: one
small integer per cell, so 500 papers stay a few tens of kB.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from synth.extraction.appraisal import (
    MEANINGS,
    OVERALL,
    JudgementRules,
    domain_judgements,
    load_judgement_rules,
)
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
    from synth.extraction.values import answer_meaning

    return _MEANING.get(answer_meaning(value) or "", "not-answered")


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
    wide = wide.reindex(columns=items).astype(object).fillna("not-answered")
    cites = citations or {}
    wide.index = [str(cites.get(r, r)) for r in wide.index]
    return wide.sort_index(kind="stable")


def item_traffic_light(
    values: pd.DataFrame, form: Any, citations: Mapping[str, str] | None = None,
    *, max_papers: int = MAX_PAPERS,
) -> Any:  # fmt: skip
    """The items behind the domain judgements: a row per paper, a column per item some
    paper answered, in form order, so the items of a domain (the form's section) stand
    together; the hover names the domain and the item; each cell coloured and marked with
    its answer's symbol."""
    import plotly.graph_objects as go

    pal = load_palette()
    styles = pal.judgements
    matrix = answered_items(appraisal_matrix(values, form, citations))
    shown = matrix.head(max_papers)
    code = {c: k for k, c in enumerate(CATEGORIES)}
    z = [[code[c] for c in row] for row in shown.itertuples(index=False)]
    text = [[styles[c]["symbol"] for c in row] for row in shown.itertuples(index=False)]
    n = len(CATEGORIES)
    scale = _colour_scale([styles[c]["colour"] for c in CATEGORIES])
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
    _add_legend(fig, [(styles[c]["name"], styles[c]) for c in CATEGORIES], pal)
    _grid_layout(fig, f"{form.title}: each item", len(shown), len(matrix), pal)
    return fig


def answered_items(matrix: pd.DataFrame) -> pd.DataFrame:
    """Only the items some paper answered: MMAT's criteria for one design are blank for
    papers of another, and a column nobody answered says nothing."""
    keep = [c for c in matrix.columns if (matrix[c] != "not-answered").any()]
    return matrix[keep]


def judgement_matrix(
    values: pd.DataFrame, form: Any, citations: Mapping[str, str] | None = None,
    rules: JudgementRules | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """(levels, hovers): papers appraised with ``form`` (rows, by citation) x the domains
    some paper was judged on (form order), then ``overall``; each cell a level of
    ``appraisal.yml``, and beside it the cell's hover text (the level's name and how many
    of its answers were yes, unclear, no)."""
    rules = rules or load_judgement_rules()
    judged = domain_judgements(values, form, rules)
    if not len(judged):
        return pd.DataFrame(columns=[OVERALL]), pd.DataFrame(columns=[OVERALL])
    used = set(judged.loc[judged["level"] != "not-assessed", "domain"])
    columns = [d for d in form.sections if d in used] + [OVERALL]
    hover = [
        f"{rules.name(level)} ("
        + ", ".join(f"{n} {w}" for n, w in zip(counts, _ANSWER_WORDS, strict=True) if n)
        + ")"
        if any(counts) else rules.name(level)
        for level, *counts in judged[["level", *MEANINGS]].itertuples(index=False)
    ]  # fmt: skip
    judged = judged.assign(hover=hover)
    levels = judged.pivot(index="record_id", columns="domain", values="level")
    hovers = judged.pivot(index="record_id", columns="domain", values="hover")
    cites = citations or {}
    out = []
    for wide in (levels, hovers):
        wide = wide.reindex(columns=columns)
        wide.index = [str(cites.get(r, r)) for r in wide.index]
        out.append(wide)
    order = pd.Series(out[0].index).argsort(kind="stable").to_numpy()
    return out[0].iloc[order], out[1].iloc[order]


#: What the meanings of a domain's answers are called in its hover (MEANINGS' order).
_ANSWER_WORDS = ("yes", "unclear", "no")


def _level_styles(rules: JudgementRules) -> dict[str, dict[str, str]]:
    """Each level's palette style (colour, symbol, marker, pattern), levels best first."""
    styles = load_palette().judgements
    return {level: styles[spec["style"]] for level, spec in rules.levels.items()}


def _column_label(domain: str, form: Any) -> str:
    """A domain's column label; the overall column's, clear of a domain so named."""
    if domain != OVERALL:
        return esc(domain)
    return "Overall" if "Overall" not in form.sections else "Overall (all domains)"


def traffic_light(
    values: pd.DataFrame, form: Any, citations: Mapping[str, str] | None = None,
    *, max_papers: int = MAX_PAPERS, rules: JudgementRules | None = None,
) -> Any:  # fmt: skip
    """The traffic-light plot of one tool, per paper and domain: a row per paper, a column
    per domain some paper was judged on (form order) and the overall column, each cell
    coloured and marked with its level's symbol; the hover names the level and counts the
    domain's answers (each item: :func:`item_traffic_light`)."""
    import plotly.graph_objects as go

    rules = rules or load_judgement_rules()
    pal = load_palette()
    styles = _level_styles(rules)
    levels, hovers = judgement_matrix(values, form, citations, rules)
    shown, tips = levels.head(max_papers), hovers.head(max_papers)
    code = {level: k for k, level in enumerate(styles)}
    z = [[code[c] for c in row] for row in shown.itertuples(index=False)]
    text = [[styles[c]["symbol"] for c in row] for row in shown.itertuples(index=False)]
    n = len(styles)
    scale = _colour_scale([s["colour"] for s in styles.values()])
    x = [_column_label(d, form) for d in shown.columns]
    fig = go.Figure(
        go.Heatmap(
            z=z, x=x, y=[esc(c) for c in shown.index], text=text, texttemplate="%{text}",
            textfont={"size": 14}, zmin=-0.5, zmax=n - 0.5, colorscale=scale, showscale=False,
            xgap=2, ygap=2, customdata=[[esc(t) for t in row] for row in tips.to_numpy()],
            hovertemplate="%{y}<br>%{x}: %{customdata}<extra></extra>",
        )
    )  # fmt: skip
    _add_legend(fig, [(rules.name(level), s) for level, s in styles.items()], pal)
    if len(x) > 1:  # the overall column stands apart from the domains
        fig.add_vline(x=len(x) - 1.5, line={"color": pal.neutral["outline"], "width": 2})
    _grid_layout(fig, f"{form.title}: judgement per domain", len(shown), len(levels), pal)
    return fig


def _colour_scale(colours: list[str]) -> list[list[Any]]:
    """A heatmap colour scale of even steps, one flat colour per code (0, 1, ...)."""
    n = len(colours)
    scale: list[list[Any]] = []
    for k, colour in enumerate(colours):
        scale += [[k / n, colour], [(k + 1) / n, colour]]
    return scale


def _add_legend(fig: Any, entries: list[tuple[str, Mapping[str, str]]], pal: Any) -> None:
    """The legend of a grid: per (name, palette style), its marker, symbol and name."""
    import plotly.graph_objects as go

    for name, s in entries:
        fig.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="markers", name=esc(f"{s['symbol']} {name}".strip()),
                marker={"symbol": s["marker"], "size": 12, "color": s["colour"],
                        "line": {"color": pal.neutral["outline"], "width": 1}},
            )
        )  # fmt: skip


def _grid_layout(fig: Any, title: str, shown: int, papers: int, pal: Any) -> None:
    """A paper-per-row grid's layout: the title (saying when only the first ``shown`` of
    ``papers`` are drawn), a height by its rows, the palette's font and colours, the column
    labels on top and the legend below."""
    text = esc(title)
    if papers > shown:
        text += f" (first {shown} of {papers} papers; the export has every one)"
    fig.update_layout(
        title={"text": text, "y": 0.99, "yref": "container", "yanchor": "top"},
        height=max(260, 190 + ROW_PX * shown),
        font={"family": pal.font_family, "size": pal.font_size, "color": pal.neutral["text"]},
        plot_bgcolor=pal.neutral["background"], paper_bgcolor=pal.neutral["background"],
        xaxis={"side": "top", "tickangle": -45, "showgrid": False},
        yaxis={"autorange": "reversed", "showgrid": False, "automargin": True},
        legend={"orientation": "h", "y": -0.02, "yanchor": "top"},
        margin={"t": 170, "l": 10, "r": 10, "b": 40},
    )  # fmt: skip


def domain_counts(
    values: pd.DataFrame, form: Any, rules: JudgementRules | None = None
) -> pd.DataFrame:
    """Per domain some paper was judged on (rows, form order, then ``overall``): papers at
    each level (columns, best first)."""
    rules = rules or load_judgement_rules()
    levels, _ = judgement_matrix(values, form, rules=rules)
    counts = {d: levels[d].value_counts() for d in levels.columns}
    out = pd.DataFrame(counts, columns=list(levels.columns)).T
    out = out.reindex(columns=list(rules.levels)).fillna(0).astype(int)
    out.index.name = "domain"
    return out


def domain_bars(values: pd.DataFrame, form: Any, rules: JudgementRules | None = None) -> Any:
    """A stacked bar per domain (and overall): the share of the tool's papers at each
    level, each part coloured, patterned and labelled with its number of papers."""
    import plotly.graph_objects as go

    rules = rules or load_judgement_rules()
    pal = load_palette()
    styles = _level_styles(rules)
    counts = domain_counts(values, form, rules)
    papers = int(counts.sum(axis=1).max()) if len(counts) else 0
    y = [_column_label(d, form) for d in counts.index]
    fig = go.Figure()
    for level, s in styles.items():
        n = counts[level].tolist()
        if not any(n):
            continue
        name = esc(rules.name(level))
        fig.add_trace(
            go.Bar(
                x=[100 * k / papers for k in n], y=y, orientation="h",
                name=esc(f"{s['symbol']} {rules.name(level)}".strip()), customdata=n,
                text=[str(v) if v else "" for v in n], textposition="inside",
                insidetextanchor="middle",
                marker={"color": s["colour"], "line": {"color": pal.neutral["outline"], "width": 1},
                        "pattern": {"shape": s["pattern"], "fillmode": "overlay",
                                    "fgcolor": pal.neutral["outline"], "solidity": 0.2}},
                hovertemplate=(f"%{{y}}<br>{name}: %{{customdata}} of {papers} papers "
                               "(%{x:.0f}%)<extra></extra>"),
            )
        )  # fmt: skip
    fig.update_layout(
        title={"text": esc(f"{form.title}: papers per level, per domain")}, barmode="stack",
        height=max(220, 120 + 30 * len(y)),
        font={"family": pal.font_family, "size": pal.font_size, "color": pal.neutral["text"]},
        plot_bgcolor=pal.neutral["background"], paper_bgcolor=pal.neutral["background"],
        xaxis={"title": {"text": f"share of the {papers} papers (%)"}, "range": [0, 100],
               "gridcolor": pal.neutral["grid"]},
        yaxis={"autorange": "reversed", "automargin": True},
        legend={"orientation": "h", "y": -0.25, "yanchor": "top"},
        margin={"t": 60, "l": 10, "r": 10, "b": 40},
    )  # fmt: skip
    return fig
