"""The evidence map linked to its paper table: click a bubble, the table lists its papers.

One home for both places a map meets a table: the standalone ``evidence-map.html``
(:mod:`synth.report.standalone`) and the report page ``04_evidence_map.html``, whose
figure carries its links in ``layout.meta`` and gets :func:`figure_script` appended to its
``Plotly.newPlot`` call (under the page's nonce, so it runs under the page's
Content-Security-Policy like the figure itself). The script reads only data blocks,
``data-*`` attributes and plotly's event data; it writes with ``textContent``, ``hidden``
and DOM nodes, never markup, so no corpus string can become code.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synth.report.maps import MapLinks

#: Key in a figure's ``layout.meta`` holding its links to the page's paper table.
META_KEY = "synth_table_links"
#: The HTML id of the paper table a map is linked to (:func:`maps.paper_table_html`).
TABLE_ID = "papers"

# Defines synthPaperTable (show some rows of the table, or all) and synthLinkBubbles (a
# click on a bubble shows its papers). ``links``: see :func:`link_data`.
CORE_JS = """
function synthPaperTable(table, caption, reset) {
  function papers(n) { return n === 1 ? "1 paper" : n + " papers"; }
  function rows() { return Array.prototype.slice.call(table.querySelectorAll("tbody tr")); }
  function showAll() {
    var all = rows();
    all.forEach(function (tr) { tr.hidden = false; tr.classList.remove("hit"); });
    caption.textContent = "All " + papers(all.length) + ".";
    reset.hidden = true;
  }
  // ``total``: the bubble's papers, when the table lists only some of them
  function show(ids, what, total) {
    var want = {};
    ids.forEach(function (id) { want[id] = true; });
    var shown = 0;
    rows().forEach(function (tr) {
      var hit = want[tr.getAttribute("data-record")] === true;
      tr.hidden = !hit;
      tr.classList.toggle("hit", hit);
      if (hit) { shown += 1; }
    });
    caption.textContent = typeof total === "number" && total > shown ?
      what + ": " + papers(total) + ", " + shown + " of them in this table." :
      what + ": " + papers(shown) + ".";
    reset.hidden = false;
  }
  reset.addEventListener("click", showAll);
  return {show: show, showAll: showAll};
}
function synthLinkBubbles(gd, links, table, shown) {
  // A bubble's papers: its cell's papers, and for a filter's bubble only the filter's.
  var kept = {};
  function bubblePapers(curve, x, y) {
    var found = links.cells[x + "," + y] || [];
    var members = links.members[String(curve)];
    if (members && !kept[curve]) {
      kept[curve] = {};
      members.forEach(function (i) { kept[curve][i] = true; });
    }
    var out = [];
    found.forEach(function (i) {
      if (!members || kept[curve][i] === true) { out.push(links.papers[i]); }
    });
    return out;
  }
  gd.on("plotly_click", function (ev) {
    var p = ev && ev.points && ev.points[0];
    if (!p || p.curveNumber < 1) { return; }  // 0: the grid of empty cells
    var ids = bubblePapers(p.curveNumber, p.x, p.y);
    var sizes = p.data && p.data.marker && p.data.marker.size;
    var total = sizes && typeof sizes[p.pointNumber] === "number" ?
      sizes[p.pointNumber] : ids.length;  // a bubble's size is its number of papers
    if (total === 0) { return; }
    var what = (links.rows[p.y] || "") + " \\u00d7 " + (links.cols[p.x] || "");
    var trace = links.filters[p.curveNumber];
    if (trace) { what += " (" + trace + ")"; }
    table.show(ids, what, total);
    shown();
  });
  window.synthShowPapers = table.show;
  window.synthBubblePapers = bubblePapers;
  gd.setAttribute("data-map-linked", "1");
}
"""

# On a report page: once the page is parsed (the table comes after the figure), put a
# caption and a "Show all papers" button above the table and link the map to it.
_PAGE_JS = """
(function () {
  function init() {
    var gd = document.getElementById(%(div)s);
    var tableEl = document.getElementById(%(table)s);
    var links = gd && gd.layout && gd.layout.meta && gd.layout.meta[%(key)s];
    if (!links || !tableEl || typeof gd.on !== "function") { return; }
    var bar = document.createElement("div");
    bar.id = "selection-bar";
    var caption = document.createElement("p");
    caption.id = "selection-caption";
    caption.setAttribute("aria-live", "polite");
    var reset = document.createElement("button");
    reset.id = "show-all";
    reset.type = "button";
    reset.hidden = true;
    reset.textContent = "Show all papers";
    bar.appendChild(caption);
    bar.appendChild(reset);
    tableEl.parentNode.insertBefore(bar, tableEl);
    var table = synthPaperTable(tableEl, caption, reset);
    table.showAll();
    synthLinkBubbles(gd, links, table, function () { bar.scrollIntoView({block: "start"}); });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
"""


def link_data(fig: Any, links: MapLinks, *, keep: Iterable[str] | None = None) -> dict[str, Any]:
    """The bubbles' papers of map ``fig`` for the page script, each record id written once.

    ``papers`` lists the ids, ``cells`` maps ``"x,y"`` to the positions in ``papers`` of
    the all-papers bubble there, ``members`` maps a filter trace's index to its papers'
    positions (the script intersects the two); ``rows``, ``cols`` and ``filters`` name
    the cells and traces as plain text (the script sets them as ``textContent``). With
    ``keep``, only those ids: a page whose table lists some papers carries only theirs
    (the bubble's size still gives its whole count).
    """
    wanted = None if keep is None else {str(k) for k in keep}
    papers = sorted(
        {r for ids in links.cells.values() for r in ids if wanted is None or r in wanted},
        key=str,
    )
    at = {rid: i for i, rid in enumerate(papers)}
    return {
        "papers": papers,
        "cells": {
            f"{x},{y}": [at[r] for r in ids if r in at] for (x, y), ids in links.cells.items()
        },
        "members": {
            str(t): sorted(at[r] for r in ids if r in at) for t, ids in links.members.items()
        },
        "rows": [_plain(t) for t in fig.layout.yaxis.ticktext or ()],
        "cols": [_plain(t.replace("<br>", " ")) for t in fig.layout.xaxis.ticktext or ()],
        "filters": [None, None, *[_plain(t.name or "") for t in fig.data[2:]]],
    }


def _plain(text: str) -> str:
    """Undo :func:`synth.report.maps.esc` for strings only ever set as textContent."""
    return html.unescape(text)


def page_script(div_id: str, *, table_id: str = TABLE_ID) -> str:
    """The script linking the map in ``div_id`` to the page's table ``table_id``."""
    return CORE_JS + _PAGE_JS % {
        "div": json.dumps(div_id),
        "table": json.dumps(table_id),
        "key": json.dumps(META_KEY),
    }


def figure_script(spec: Mapping[str, Any], div_id: str) -> str:
    """What a report page runs after drawing figure ``spec`` in ``div_id``: the table link
    for a map that carries one (``layout.meta``), else nothing."""
    meta = (spec.get("layout") or {}).get("meta")
    if isinstance(meta, Mapping) and META_KEY in meta:
        return page_script(div_id)
    return ""
