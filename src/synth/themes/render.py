"""HTML fragments of the thematic summary and the emergent topics, for the notebooks.

Every string that comes from the corpus or the codebook (headings, quotes, citations,
labels, terms) goes through :func:`html.escape`: a quote is data, never markup. The
fragments carry their own small stylesheet, scoped by the ``synth-themes`` class.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

import pandas as pd

from synth.themes.summarise import cite_parts

_STYLE = """<style>
.synth-themes{font-family:system-ui,sans-serif;line-height:1.45;max-width:60rem}
.synth-themes h3{margin:1.4em 0 .3em;border-bottom:1px solid #999}
.synth-themes h4{margin:1em 0 .2em}
.synth-themes .meta{color:#444;font-size:.9em}
.synth-themes .chip{display:inline-block;border:1px solid #777;border-radius:.8em;
  padding:0 .5em;margin:.1em .2em .1em 0;font-size:.85em}
.synth-themes blockquote{margin:.4em 0 .4em 1em;padding-left:.6em;border-left:3px solid #555}
.synth-themes cite{font-style:normal;font-weight:600}
.synth-themes table{border-collapse:collapse}
.synth-themes td,.synth-themes th{border:1px solid #aaa;padding:.2em .5em;vertical-align:top}
.synth-themes .new{font-weight:700}
</style>"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _chips(counts: Mapping[str, int] | None) -> str:
    if not counts:
        return '<span class="meta">none tagged</span>'
    return "".join(f'<span class="chip">{_e(k)} ({int(v)})</span>' for k, v in counts.items())


def _page(item: Mapping[str, Any]) -> str:
    """ ", p. 4" after a quote's citation when the passage is from a PDF's page."""
    page = item.get("page")
    return f", p.&nbsp;{int(page)}" if isinstance(page, int) else ""


def _citation(item: Mapping[str, Any]) -> str:
    """A summary sentence's citation, with its page when it is from a PDF: "Kriha 2018,
    p. 4"."""
    page = item.get("page")
    cite = str(item.get("citation") or "")
    return f"{cite}, p. {int(page)}" if isinstance(page, int) else cite


def _cited(text: Any, citation: Any) -> str:
    """A sentence with its citation before the closing full stop (one rule with the plain
    text summary: :func:`synth.themes.summarise.cite_parts`)."""
    body, end = cite_parts(str(text or ""))
    return f"{_e(body)} (<cite>{_e(citation)}</cite>){_e(end)}"


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, Iterable) and not isinstance(value, str | bytes) else []


def render_theme_summary(summary: pd.DataFrame) -> str:
    """The thematic summary as HTML: themes under their groups, each with its number of
    papers, settings and approaches, extractive summary, quotes and the list of papers."""
    parts = [_STYLE, '<div class="synth-themes">']
    group = None
    for row in summary.to_dict("records"):
        if row.get("group") != group:
            group = row.get("group")
            parts.append(f"<h3>{_e(row.get('group_heading') or group)}</h3>")
        n = int(row.get("n_papers") or 0)
        parts.append(f'<section class="theme" id="theme-{_e(row.get("theme_id"))}">')
        parts.append(f"<h4>{_e(row.get('heading'))}</h4>")
        parts.append(f'<p class="meta">{n} paper{"" if n == 1 else "s"}</p>')
        if not n:
            parts.append("<p>No passage in the corpus was assigned to this theme.</p></section>")
            continue
        parts.append(f'<p class="meta">Settings: {_chips(row.get("settings"))}</p>')
        parts.append(f'<p class="meta">Approaches: {_chips(row.get("approaches"))}</p>')
        items = _list(row.get("summary_items"))
        if items:
            text = " ".join(_cited(i.get("text"), _citation(i)) for i in items)
            parts.append(f'<p class="summary">{text}</p>')
        for q in _list(row.get("quotes")):
            also = q.get("also")
            note = f' <span class="meta">— also serves: {_e(also)}</span>' if also else ""
            parts.append(
                f"<blockquote>{_e(q.get('text'))}<br>— <cite>{_e(q.get('citation'))}</cite>"
                f"{_page(q)}"
                f' <span class="meta">[{_e(q.get("field"))}]</span>{note}</blockquote>'
            )
        papers = "; ".join(_e(c) for c in _list(row.get("citations")))
        parts.append(f"<details><summary>Papers ({n})</summary><p>{papers}</p></details>")
        parts.append("</section>")
    parts.append("</div>")
    return "\n".join(parts)


def render_topics(topics: pd.DataFrame) -> str:
    """Emergent topics as an HTML table: top terms, papers, weight and the closest theme;
    topics close to no theme are marked as not in the codebook."""
    head = (
        "<tr><th>Topic (named by its distinctive terms)</th><th>Distinctive terms</th>"
        "<th>Papers</th><th>Share</th><th>Codebook</th></tr>"
    )
    rows = []
    for t in topics.to_dict("records"):
        papers = _list(t.get("papers"))
        shown = "; ".join(_e(p) for p in papers[:12])
        if len(papers) > 12:
            shown += f" … (+{len(papers) - 12})"
        sim = float(t.get("theme_similarity") or 0.0)
        theme = f"<code>{_e(t.get('theme_id'))}</code>"
        if t.get("in_codebook"):
            where = f"close to {theme} ({sim:.2f})"
        else:
            where = f'<span class="new">not in the codebook</span> (nearest {theme}, {sim:.2f})'
        terms = _e(", ".join(map(str, _list(t.get("top_terms")))))
        share = float(t.get("weight") or 0.0)
        rows.append(
            f"<tr><td>{_e(t.get('topic'))}: <strong>{_e(t.get('label'))}</strong></td>"
            f"<td>{terms}</td><td>{shown}</td>"
            f"<td>{share:.0%}</td><td>{where}</td></tr>"
        )
    if not rows:
        return f'{_STYLE}<div class="synth-themes"><p>Too little text to find topics.</p></div>'
    return f'{_STYLE}<div class="synth-themes"><table>{head}{"".join(rows)}</table></div>'


def _wrap(body: str) -> str:
    return f'{_STYLE}<div class="synth-themes">{body}</div>'


def render_fit(fit: Any) -> str:
    """The codebook-fit sentence (a :class:`synth.themes.coverage.Fit`); a warning when the
    codebook does not fit the corpus."""
    cls = "fit" if fit.fits else "fit misfit"
    return _wrap(f'<p class="{cls}"><strong>{_e(fit.describe())}</strong></p>')


def render_coverage(coverage: pd.DataFrame) -> str:
    """Every included paper and the themes it is in; papers in no theme listed as such."""
    head = "<tr><th>Paper</th><th>Themes</th><th>Passages</th><th>Status</th></tr>"
    rows = []
    for r in coverage.to_dict("records"):
        themes = "; ".join(_e(t) for t in _list(r.get("themes"))) or "—"
        rows.append(
            f'<tr data-record="{_e(r.get("record_id"))}"><td>{_e(r.get("citation"))}</td>'
            f"<td>{themes}</td><td>{int(r.get('n_passages') or 0)}</td>"
            f"<td>{_e(r.get('status'))}</td></tr>"
        )
    n = len(coverage)
    none = int((coverage["themes"].map(len) == 0).sum()) if n else 0
    lead = (
        f"<p>{n - none} of {n} included papers are in at least one theme; {none} are in none.</p>"
    )
    return _wrap(f'{lead}<table class="coverage">{head}{"".join(rows)}</table>')


def render_questions(findings: pd.DataFrame) -> str:
    """For each review question, the themes and papers that speak to it, with the link
    (question cue or similarity) and the passage closest to the question."""
    if not len(findings):
        return _wrap("<p>The review states no questions (review.yml `questions`).</p>")
    parts = []
    for question, part in findings.groupby("question", sort=False):
        parts.append(f"<h4>{_e(question)}</h4>")
        if not part["theme_id"].astype(bool).any():
            parts.append("<p>No theme speaks to this question.</p>")
            continue
        items = []
        for r in part.to_dict("records"):
            papers = _list(r.get("papers"))
            ev = ""
            if r.get("evidence"):
                ev = f"<br><q>{_cited(r.get('evidence'), r.get('evidence_citation'))}</q>"
            items.append(
                f"<li><strong>{_e(r.get('heading'))}</strong>"
                f' <span class="meta">({_e(r.get("link"))}; similarity'
                f" {float(r.get('similarity') or 0):.2f}; {len(papers)} paper"
                f"{'' if len(papers) == 1 else 's'}: {'; '.join(_e(p) for p in papers)})</span>"
                f"{ev}</li>"
            )
        parts.append(f"<ul>{''.join(items)}</ul>")
    return _wrap("".join(parts))


def render_gaps(gaps: Mapping[str, Any]) -> str:
    """What the evidence does not cover, from :func:`synth.themes.coverage.evidence_gaps`;
    empty in-scope cells of the evidence map are on the map page."""
    thin = _list(gaps.get("thin_themes"))
    few = int(gaps.get("few_papers") or 0)
    items = []
    if thin:
        listed = "; ".join(f"{_e(h)} ({int(n)})" for h, n in thin)
        items.append(f"<li>Themes with fewer than {few} papers: {listed}.</li>")
    else:
        items.append(f"<li>Every theme has at least {few} papers.</li>")
    designs = gaps.get("designs") or {}
    items.append(f"<li>Study designs (tags): {_chips(designs)}</li>")
    items.append(
        f"<li>{int(gaps.get('outcomes') or 0)} of the {int(gaps.get('with_text') or 0)} papers"
        " with text beyond a title report an outcome (a sentence naming what changed);"
        f" {int(gaps.get('title_only') or 0)} of {int(gaps.get('papers') or 0)} papers have"
        " only a title, so whether they do cannot be read here.</li>"
    )
    items.append(
        "<li>Settings and approaches with no papers in the review's scope: see the empty"
        " in-scope cells of the evidence map (page 04).</li>"
    )
    return _wrap(f'<ul class="gaps">{"".join(items)}</ul>')
