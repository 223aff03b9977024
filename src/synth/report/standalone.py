"""The evidence map as ONE self-contained HTML file a reviewer can e-mail.

plotly.js travels inside the file gzip-compressed (base64, 2.0 MB instead of 4.8 MB: the
difference between a map of a few dozen papers and one of several hundred fitting the
e-mail budget) in a non-executed data block; the figure travels as escaped JSON in
another. One small inline script unpacks plotly.js in the browser (``DecompressionStream``,
in every current browser), runs it, draws the map and links it to the paper table (click a
bubble -> its papers). The table is plain HTML and works without it, unless the page would
pass the budget that way (thousands of papers): then the table rows and the figure travel
packed too, and the script draws the rows from text (``textContent``, never markup). A
Content-Security-Policy in the page allows only that script and plotly.js itself (by their
sha256) and no network at all, so even a corpus string that slipped past escaping could
neither run nor phone home.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from synth.report.map_links import CORE_JS, link_data
from synth.report.maps import (
    MAP_DIV_ID,
    PLOT_CONFIG,
    esc,
    evidence_map_with_links,
    figure_height,
    map_key,
    paper_rows,
    render_paper_table,
)

if TYPE_CHECKING:
    from synth.review import Review

log = logging.getLogger(__name__)

#: The size the standalone file must stay under (bytes): small enough to e-mail.
MAX_BYTES = 5_000_000

_CSS = """
body{font-family:Helvetica,Arial,'Liberation Sans',sans-serif;color:#222;margin:0 auto;
max-width:1400px;padding:0 1.2rem 2rem;line-height:1.4}
h1{font-size:1.5rem;margin:1rem 0 .2rem}h2{font-size:1.2rem;margin:1.5rem 0 .3rem}
.meta,.help{color:#555;margin:.2rem 0}
.plot{width:100%;border:1px solid #d9d9d9}
#selection-bar{display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
button{font:inherit;padding:.2rem .7rem;border:1px solid #6b6b6b;background:#fff;cursor:pointer}
table.synth-papers{border-collapse:collapse;width:100%;font-size:.85rem}
.synth-papers th,.synth-papers td{border-bottom:1px solid #d9d9d9;padding:.35rem .4rem;
text-align:left;vertical-align:top}
.synth-papers thead th{position:sticky;top:0;background:#f2f2f2}
.synth-papers tr.hit{background:#fff3b0}
.synth-papers ul.evidence{margin:0;padding-left:1rem}.synth-papers .field{color:#6b6b6b}
@media print{.plot{border:0}.synth-papers thead th{position:static}}
"""

# Unpacks plotly.js (and a packed paper table), draws the map and links it to the table
# (with map_links.CORE_JS, the same link as on the report page). Reads only data-*
# attributes and the data blocks; writes with textContent, the hidden property and DOM
# nodes, never innerHTML.
_LINK_JS = """(function () {
  "use strict";
  var blobNode = document.getElementById("evidence-map-data");
  var blob = blobNode.type === "application/json" ? JSON.parse(blobNode.textContent) : null;
  var gd = document.getElementById("%(div)s");
  var paperTable = synthPaperTable(document.getElementById("papers"),
    document.getElementById("selection-caption"), document.getElementById("show-all"));
  function unpack(id) {  // gzip+base64 text from a data block
    var packed = atob(document.getElementById(id).textContent);
    var bytes = new Uint8Array(packed.length);
    for (var i = 0; i < packed.length; i += 1) { bytes[i] = packed.charCodeAt(i); }
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text();
  }
  // A packed table: [id, citation, title, href, year, venue, [labels], [[name, quote, field]]]
  function buildTable(data) {
    var fragment = document.createDocumentFragment();
    data.forEach(function (r) {
      var tr = document.createElement("tr");
      tr.id = "paper-" + r[0];
      tr.setAttribute("data-record", r[0]);
      function cell(text) {
        var td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
        return td;
      }
      cell(r[1]);
      var title = cell(r[3] ? "" : r[2]);
      if (r[3]) {  // a DOI or http(s) link only (checked when the file was made)
        var a = document.createElement("a");
        a.href = r[3];
        a.rel = "noopener noreferrer";
        a.textContent = r[2];
        title.appendChild(a);
      }
      cell(r[4]);
      cell(r[5]);
      r[6].forEach(cell);
      var evidence = cell("");
      if (r[7].length) {
        var ul = document.createElement("ul");
        ul.className = "evidence";
        r[7].forEach(function (q) {
          var li = document.createElement("li");
          var name = document.createElement("b");
          var field = document.createElement("span");
          name.textContent = q[0];
          field.className = "field";
          field.textContent = "(" + q[2] + ")";
          li.appendChild(name);
          li.appendChild(document.createTextNode(
            q[1] === null ? " " : ": \\u201c" + q[1] + "\\u201d "));
          li.appendChild(field);
          ul.appendChild(li);
        });
        evidence.appendChild(ul);
      }
      fragment.appendChild(tr);
    });
    document.querySelector("#papers tbody").appendChild(fragment);
  }
  function tableReady() {
    paperTable.showAll();
    document.body.setAttribute("data-table-ready", "1");
  }
  function unavailable(why) {
    gd.style.height = "auto";
    gd.textContent = "The map cannot be drawn in this browser (" + why + "). " +
      (packedTable ? "Nor can the table of papers: " : "The table of papers below works; ") +
      "open this file in a current Chrome, Edge, Firefox or Safari to see the map.";
    document.body.setAttribute("data-plot-error", why);
  }
  function draw() {
    Plotly.newPlot(gd, blob.figure.data, blob.figure.layout, blob.config).then(function () {
      synthLinkBubbles(gd, blob, paperTable, function () {
        document.getElementById("selection").scrollIntoView({block: "start"});
      });
      document.body.setAttribute("data-plot-ready", "1");
    });
  }
  var packedTable = document.getElementById("papers-data") !== null;
  if (!packedTable) { tableReady(); }
  if (typeof DecompressionStream !== "function") {
    unavailable("it cannot unpack the plotting library");
    return;
  }
  var table = packedTable ? unpack("papers-data").then(function (text) {
    buildTable(JSON.parse(text));
    tableReady();
  }) : Promise.resolve();
  var data = blob ? Promise.resolve(blob) : unpack("evidence-map-data").then(JSON.parse);
  Promise.all([table, unpack("plotly-js"), data]).then(function (done) {
    blob = done[2];
    var script = document.createElement("script");  // allowed by its hash in the CSP
    script.textContent = done[1];
    document.head.appendChild(script);
    if (typeof Plotly === "undefined") {
      unavailable("the plotting library did not start");
      return;
    }
    draw();
  }, function (err) { unavailable(String(err)); });
})();
"""


def script_json(data: Any) -> str:
    """JSON that is safe inside a ``<script>`` element: ``<``, ``>``, ``&``, ``/`` and the
    JavaScript line separators are written as ``\\u`` escapes (still the same JSON), so no
    string in it can close the element or open a comment."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for ch, rep in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("/", "\\u002f"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(ch, rep)
    return text


def _csp_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def evidence_map_html(
    records: pd.DataFrame,
    tags: pd.DataFrame,
    *,
    title: str = "Evidence map",
    rows: str = "setting",
    cols: str = "approach",
    plotlyjs: str | None = None,
    max_bytes: int = MAX_BYTES,
    review: Review | None = None,
) -> str:
    """The standalone page as a string (see :func:`write_evidence_map`).

    The paper table is plain HTML (it works without scripts) unless that would make the
    page larger than ``max_bytes``: then it travels gzip-packed like plotly.js and the page
    script draws it. ``plotlyjs`` replaces the packed plotly.js (tests use a stub to stay
    fast). ``review`` marks its out-of-scope labels and hides its hidden ones
    (:func:`synth.report.maps.evidence_map_figure`); the page's key says what each mark
    means (:func:`synth.report.maps.map_key`).
    """
    from synth import __version__

    fig, links = evidence_map_with_links(records, tags, rows=rows, cols=cols, review=review)
    key = "".join(
        f'<p class="help map-key">{esc(line)}</p>\n'
        for line in map_key(records, tags, review, rows=rows, cols=cols)
    )
    fig_dict = json.loads(fig.to_json())  # plotly's encoder turns numpy/pandas into JSON
    papers = paper_rows(records, tags)
    blob = {
        "figure": fig_dict,
        "config": {
            **PLOT_CONFIG,
            "toImageButtonOptions": {"format": "svg", "filename": "evidence-map"},
        },
        **link_data(fig, links),
    }
    if plotlyjs is None:
        from plotly.offline import get_plotlyjs

        plotlyjs = get_plotlyjs()
    packed = _pack(plotlyjs)
    link_js = CORE_JS + _LINK_JS % {"div": MAP_DIV_ID}
    csp = (
        "default-src 'none'; "
        f"script-src {_csp_hash(plotlyjs)} {_csp_hash(link_js)}; "
        "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    n_papers = len(papers)
    height = figure_height(fig)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")

    def page(table: str, packed_table: str | None) -> str:
        if packed_table is None:
            note = data = ""
            map_data = (
                f'<script type="application/json" id="evidence-map-data">{script_json(blob)}'
                "</script>\n"
            )
        else:  # a big map: its table and data travel packed
            note = (
                '<p class="help" id="table-note">To keep this file small enough to e-mail,'
                f" the table of its {n_papers} papers travels packed inside it and is drawn"
                " when the page opens.</p>\n"
            )
            data = (
                '<script type="application/octet-stream" id="papers-data"'
                f' data-encoding="gzip+base64">{packed_table}</script>\n'
            )
            map_data = (
                '<script type="application/octet-stream" id="evidence-map-data"'
                f' data-encoding="gzip+base64">{_pack(json.dumps(blob, ensure_ascii=False))}'
                "</script>\n"
            )
        return "".join(
            [
                '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
                f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n',
                '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
                f'<meta name="generator" content="synth {esc(__version__)}">\n',
                f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n",
                f"<header><h1>{esc(title)}</h1>\n",
                f'<p class="meta">{n_papers} papers · made by synth {esc(__version__)} on {stamp}'
                " · opens offline</p></header>\n<main>\n",
                '<p class="help">Hover a bubble for its papers; click it to list them in the table'
                " below. The dropdowns filter the map by publication type, study design or"
                " years.</p>\n",
                key,
                f'<div id="{MAP_DIV_ID}" class="plot" style="height:{height}px"></div>\n',
                '<section id="selection">\n<h2>Papers</h2>\n',
                note,
                '<div id="selection-bar">',
                '<p id="selection-caption" aria-live="polite"></p>',
                '<button id="show-all" type="button" hidden>Show all papers</button></div>\n',
                table,
                "\n</section>\n</main>\n",
                '<script type="application/octet-stream" id="plotly-js"',
                ' data-encoding="gzip+base64">',
                packed,
                "</script>\n",
                data,
                map_data,
                f"<script>{link_js}</script>\n</body>\n</html>\n",
            ]
        )

    static = page(render_paper_table(papers, table_id="papers"), None)
    if len(static.encode("utf-8")) <= max_bytes:
        return static
    rows_data = [
        [p.record_id, p.citation, p.title, p.href, p.year, p.venue, list(p.labels),
         [list(q) for q in p.quotes]]
        for p in papers
    ]  # fmt: skip
    text = json.dumps(rows_data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return page(render_paper_table([], table_id="papers"), _pack(text))


def _pack(text: str) -> str:
    """gzip + base64: what the page script's ``unpack`` reads."""
    return base64.b64encode(gzip.compress(text.encode("utf-8"), 9, mtime=0)).decode("ascii")


def write_evidence_map(
    path: Path | str,
    records: pd.DataFrame,
    tags: pd.DataFrame,
    *,
    title: str = "Evidence map",
    rows: str = "setting",
    cols: str = "approach",
    review: Review | None = None,
) -> Path:
    """Write the self-contained evidence map (map, dropdown filters, linked paper table),
    with ``review``'s scope marked (see :func:`evidence_map_html`).

    The file needs no network when viewed: plotly.js is packed inside it, and its
    Content-Security-Policy forbids every fetch. A page that would exceed :data:`MAX_BYTES`
    packs its paper table; a warning is logged if it is still over.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(path)
    page = evidence_map_html(records, tags, title=title, rows=rows, cols=cols, review=review)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = page.encode("utf-8")
    path.write_bytes(data)
    if len(data) > MAX_BYTES:
        log.warning("%s is %.2f MB, over the %.1f MB e-mail budget", path, len(data) / 1e6,
                    MAX_BYTES / 1e6)  # fmt: skip
    else:
        log.info("wrote %s (%.2f MB)", path, len(data) / 1e6)
    return path
