"""The report's HTML pages: one shell around each notebook, the index, and offline safety.

Pages load one shared ``plotly.min.js`` beside them (a relative ``<script src>``), so each
page stays small and opens with no network. Anything in a page that would fetch from
elsewhere (a CDN script, a stylesheet, an image, a frame) is removed before writing:
links a reader clicks (``<a href>``) stay, resources a browser loads by itself do not.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PLOTLY_JS = "plotly.min.js"

#: Tags a browser fetches by itself, and the attribute holding the address.
_RESOURCE = re.compile(
    r"<(script|link|img|iframe|embed|source|audio|video|object)\b[^>]*?\b(src|href|data)\s*=\s*"
    r"(\"[^\"]*\"|'[^']*'|[^\s>]+)[^>]*>(?:\s*</\1>)?",
    re.IGNORECASE,
)
_CSS_IMPORT = re.compile(r"@import\s+url\([^)]*\)\s*;?|url\(\s*['\"]?(?:https?:)?//[^)]*\)", re.I)


def _is_remote(address: str) -> bool:
    address = html.unescape(address.strip("\"'")).strip().lower()
    return address.startswith(("http:", "https:", "//", "ftp:", "ws:", "wss:"))


def remote_resources(page: str) -> list[str]:
    """Addresses of everything in ``page`` a browser would fetch from the network."""
    found = [m.group(3).strip("\"'") for m in _RESOURCE.finditer(page) if _is_remote(m.group(3))]
    found += [m.group(0) for m in _CSS_IMPORT.finditer(page)]
    return found


def strip_remote(page: str) -> str:
    """``page`` without tags that load from the network (CDN scripts, fonts, MathJax)."""

    def drop(m: re.Match[str]) -> str:
        if _is_remote(m.group(3)):
            log.info("removed a remote %s (%s) from a report page", m.group(1), m.group(3)[:80])
            return ""
        return m.group(0)

    return _CSS_IMPORT.sub("", _RESOURCE.sub(drop, page))


def write_plotly_js(out_dir: Path) -> Path:
    """Write the one shared ``plotly.min.js`` (plotly's own bundle) beside the pages."""
    from plotly.offline import get_plotlyjs

    path = out_dir / PLOTLY_JS
    data = get_plotlyjs().encode("utf-8")
    if (
        not path.is_file()
        or hashlib.sha256(path.read_bytes()).digest() != hashlib.sha256(data).digest()
    ):
        path.write_bytes(data)
    return path


_CSS = """
:root { --ink: #1b1b1b; --muted: #555; --rule: #d0d0d0; --accent: #0b5394; }
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); margin: 0; background: #fff; }
header.synth-nav { border-bottom: 1px solid var(--rule); padding: .6rem 1.5rem;
  background: #f7f7f7; }
header.synth-nav a { color: var(--accent); margin-right: 1rem; text-decoration: none; }
header.synth-nav a[aria-current] { font-weight: 600; color: var(--ink); }
main { max-width: 1150px; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1, h2, h3 { line-height: 1.25; }
a { color: var(--accent); }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border-bottom: 1px solid var(--rule); padding: .3rem .6rem; text-align: left;
  vertical-align: top; }
th { background: #f2f2f2; }
.synth-caption { font-weight: 600; margin: 1rem 0 .2rem; }
.synth-note, .synth-filters { color: var(--muted); font-size: .9rem; }
.output_subarea, .output_html { overflow-x: auto; max-width: 100%; }
/* a drawn diagram (the PRISMA flow) scales to the page instead of hiding its right side */
.output_html svg[viewBox] { max-width: 100%; height: auto; }
.output_stderr { display: none; }
pre { white-space: pre-wrap; }
ul.evidence { margin: 0; padding-left: 1rem; }
.plotly-graph-div { margin: .5rem 0 1.5rem; }
.anchor-link { display: none; }
footer { color: var(--muted); font-size: .85rem; border-top: 1px solid var(--rule);
  margin-top: 2rem; padding-top: .5rem; }
@media print { header.synth-nav { display: none; } main { max-width: none; } }
"""


@dataclass(frozen=True)
class PageLink:
    """An entry of the index and of each page's navigation bar."""

    href: str
    title: str
    description: str = ""


def _nav(links: Sequence[PageLink], current: str | None) -> str:
    items = ['<a href="index.html">Contents</a>']
    for link in links:
        here = ' aria-current="page"' if link.href == current else ""
        items.append(f'<a href="{html.escape(link.href)}"{here}>{html.escape(link.title)}</a>')
    return '<header class="synth-nav"><nav>' + "".join(items) + "</nav></header>"


def page_html(
    body: str,
    *,
    title: str,
    review_title: str,
    links: Sequence[PageLink] = (),
    current: str | None = None,
    footer: str = "",
    plotly: bool = True,
    nonce: str | None = None,
) -> str:
    """A whole page: shell, navigation, the notebook's body, and the shared plotly.js.

    With ``nonce`` the page carries a Content-Security-Policy (see :func:`csp`).
    """
    nonce = nonce or new_nonce()
    head_js = (
        f'<script src="{PLOTLY_JS}" charset="utf-8" nonce="{nonce}"></script>' if plotly else ""
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp(nonce)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · {html.escape(review_title)}</title>
<style>{_CSS}</style>
{head_js}
</head>
<body>
{_nav(links, current)}
<main>
{body}
</main>
<footer><main>{html.escape(footer)}</main></footer>
</body>
</html>
"""
    return strip_remote(page)


def index_html(
    *,
    review_title: str,
    subtitle: str | None,
    pages: Sequence[PageLink],
    extras: Sequence[PageLink],
    footer: str = "",
) -> str:
    """The report's front page: the review's title and a link to every page and file."""
    items = "\n".join(
        f'<li><a href="{html.escape(p.href)}">{html.escape(p.title)}</a>'
        + (
            f'<br><span class="synth-note">{html.escape(p.description)}</span>'
            if p.description
            else ""
        )
        + "</li>"
        for p in pages
    )
    files = "\n".join(
        f'<li><a href="{html.escape(p.href)}">{html.escape(p.title)}</a>'
        + (
            f' — <span class="synth-note">{html.escape(p.description)}</span>'
            if p.description
            else ""
        )
        + "</li>"
        for p in extras
    )
    sub = f'<p class="synth-note">{html.escape(subtitle)}</p>' if subtitle else ""
    body = (
        f"<h1>{html.escape(review_title)}</h1>{sub}"
        f'<h2>Report</h2><ol class="synth-pages">{items}</ol>'
        f'<h2>Files</h2><ul class="synth-files">{files}</ul>'
    )
    return page_html(
        body, title="Contents", review_title=review_title, links=pages, footer=footer, plotly=False
    )


def write_page(path: Path, page: str) -> int:
    """Write a page (UTF-8); returns its size in bytes."""
    data = page.encode("utf-8")
    path.write_bytes(data)
    return len(data)


def new_nonce() -> str:
    """A fresh random nonce for a page's Content-Security-Policy."""
    import secrets

    return secrets.token_urlsafe(18)


def csp(nonce: str) -> str:
    """The pages' policy: only scripts carrying this run's nonce run; nothing is fetched.

    The nonce goes only on scripts synth itself writes (the shared plotly.js and each
    figure's ``Plotly.newPlot`` call), so markup that slipped into a page could not run.
    """
    return (
        "default-src 'none'; "
        f"script-src 'nonce-{nonce}'; "
        "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def _script_json(value: Any) -> str:
    """JSON safe inside a ``<script>``: no ``<``, ``>``, ``&`` or line separators."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, sub in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                      ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(char, sub)
    return text


def figure_html(spec: Mapping[str, Any], *, nonce: str, div_id: str) -> str:
    """A plotly figure (its JSON spec) as a div plus a nonce'd ``Plotly.newPlot`` call
    (and, for an evidence map linked to the page's table, the link's script)."""
    from synth.report.map_links import figure_script

    layout = spec.get("layout") or {}
    height = layout.get("height")
    height_px = int(height) if isinstance(height, int | float) else 450
    data = _script_json(spec.get("data") or [])
    lay = _script_json(layout)
    config = _script_json(spec.get("config") or {"displaylogo": False, "responsive": True})
    return (
        f'<div id="{html.escape(div_id)}" class="plotly-graph-div" '
        f'style="height:{height_px}px; width:100%;"></div>'
        f'<script nonce="{nonce}">'
        f"Plotly.newPlot({_script_json(div_id)}, {data}, {lay}, {config});"
        f"{figure_script(spec, div_id)}</script>"
    )
