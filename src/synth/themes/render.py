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


def _cited(text: Any, citation: Any) -> str:
    return f"{_e(text)} (<cite>{_e(citation)}</cite>)"


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
            text = " ".join(_cited(i.get("text"), i.get("citation")) for i in items)
            parts.append(f'<p class="summary">{text}</p>')
        for q in _list(row.get("quotes")):
            parts.append(
                f"<blockquote>{_e(q.get('text'))}<br>— <cite>{_e(q.get('citation'))}</cite>"
                f' <span class="meta">[{_e(q.get("field"))}]</span></blockquote>'
            )
        papers = "; ".join(_e(c) for c in _list(row.get("citations")))
        parts.append(f"<details><summary>Papers ({n})</summary><p>{papers}</p></details>")
        parts.append("</section>")
    parts.append("</div>")
    return "\n".join(parts)


def render_topics(topics: pd.DataFrame) -> str:
    """Emergent topics as an HTML table: top terms, papers, weight and the closest theme;
    topics close to no theme are marked as not in the codebook."""
    head = "<tr><th>Topic</th><th>Top terms</th><th>Papers</th><th>Share</th><th>Codebook</th></tr>"
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
            f"<tr><td>{_e(t.get('topic'))}</td><td>{terms}</td><td>{shown}</td>"
            f"<td>{share:.0%}</td><td>{where}</td></tr>"
        )
    if not rows:
        return f'{_STYLE}<div class="synth-themes"><p>Too little text to find topics.</p></div>'
    return f'{_STYLE}<div class="synth-themes"><table>{head}{"".join(rows)}</table></div>'
