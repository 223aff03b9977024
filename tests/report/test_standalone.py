"""The self-contained evidence map: hostile corpus strings stay data, nothing is fetched,
and the file stays under the e-mail budget."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from html.parser import HTMLParser

import pytest

from synth.report.standalone import MAX_BYTES, evidence_map_html, script_json, write_evidence_map

from .conftest import HOSTILE

STUB_JS = "window.Plotly = {newPlot: function () { return Promise.resolve(); }};"


class Page(HTMLParser):
    """Collects elements, attributes and script bodies the way a browser tokenises them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._in_script: dict[str, str | None] | None = None
        self._buf: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script, self._buf = dict(attrs), []

    def handle_endtag(self, tag):
        if tag == "script" and self._in_script is not None:
            self.scripts.append((self._in_script, "".join(self._buf)))
            self._in_script = None

    def handle_data(self, data):
        if self._in_script is not None:
            self._buf.append(data)


def parse(page: str) -> Page:
    p = Page()
    p.feed(page)
    p.close()
    return p


@pytest.fixture
def page(map_records, map_tags) -> str:
    return evidence_map_html(
        map_records, map_tags, title="Map <script>x</script>", plotlyjs=STUB_JS
    )


def _unpacked(body: str) -> str:
    return gzip.decompress(base64.b64decode(body)).decode("utf-8")


def test_only_our_script_runs_and_plotly_travels_packed(page):
    p = parse(page)
    kinds = [(a.get("type"), a.get("id")) for a, _ in p.scripts]
    assert kinds == [
        ("application/octet-stream", "plotly-js"),  # data: a browser never runs it
        ("application/json", "evidence-map-data"),
        (None, None),
    ]
    assert _unpacked(p.scripts[0][1]) == STUB_JS
    assert re.fullmatch(r"[A-Za-z0-9+/=]+", p.scripts[0][1])  # nothing that could close it
    from synth.report.map_links import CORE_JS
    from synth.report.maps import MAP_DIV_ID
    from synth.report.standalone import _LINK_JS

    assert p.scripts[2][1] == CORE_JS + _LINK_JS % {"div": MAP_DIV_ID}  # ours, as written


def test_no_markup_from_the_corpus(page):
    p = parse(page)
    allowed = {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "p",
               "main", "div", "section", "button", "table", "thead", "tbody", "tr", "th", "td",
               "a", "ul", "li", "b", "span", "script"}  # fmt: skip
    assert {t for t, _ in p.tags} <= allowed
    for tag, attrs in p.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        assert "src" not in attrs
        href = (attrs.get("href") or "").strip().lower()
        assert not href or href.startswith("https://"), href
    # the hostile title shows as text
    assert "&lt;script&gt;window.__pwned = 1; alert(1)&lt;/script&gt;" in page
    assert "<title>Map &lt;script&gt;x&lt;/script&gt;</title>" in page


def test_json_block_cannot_close_its_script(page):
    p = parse(page)
    body = p.scripts[1][1]
    assert "<" not in body and ">" not in body and "&" not in body
    blob = json.loads(body)  # the whole figure survived the tokeniser in one piece
    hover = "\n".join(h for tr in blob["figure"]["data"][1:] for h in tr.get("hovertext", []))
    assert "O&#39;Brien 2021" in hover
    assert blob["rows"][0] == "Acute care"
    assert all("<" not in c for c in blob["cols"])


def test_script_json_round_trips_hostile_strings():
    data = {"t": [HOSTILE["close"], "a\u2028b\u2029c", "<!-- x -->", "&amp;"]}
    text = script_json(data)
    assert not re.search(r"[<>&\u2028\u2029]", text)
    assert "</" not in text
    assert json.loads(text) == data


def test_csp_allows_exactly_our_scripts_and_no_network(page):
    p = parse(page)
    meta = next(
        a for t, a in p.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    )
    csp = meta["content"]
    assert "default-src 'none'" in csp
    allowed = [body for attrs, body in p.scripts if attrs.get("type") is None]
    allowed.append(_unpacked(p.scripts[0][1]))  # plotly.js, once the page has unpacked it
    for body in allowed:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert csp.count("'sha256-") == 2
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert "connect-src" not in csp  # falls back to default-src 'none'


def test_real_file_under_budget_with_plotly_inside(tmp_path, map_records, map_tags):
    from plotly.offline import get_plotlyjs

    out = write_evidence_map(tmp_path / "sub" / "map.html", map_records, map_tags)
    data = out.read_bytes()
    assert len(data) < MAX_BYTES / 2  # plotly.js packed: room for hundreds of papers
    text = data.decode("utf-8")
    packed = parse(text).scripts[0][1]
    assert _unpacked(packed) == get_plotlyjs()
    assert text.count("<script") == 3
    assert "cdn.plot.ly" not in text.split("<script>", 1)[0]
    assert not re.search(r"<script[^>]+src=", text)
    assert "mathjax" not in text.lower().split("<script>", 1)[0]


@pytest.mark.slow
def test_kei_file_under_budget(tmp_path, kei_store):
    records, tags = kei_store
    out = write_evidence_map(tmp_path / "evidence-map.html", records, tags)
    size = out.stat().st_size
    assert size < MAX_BYTES, f"{size:,} bytes"
    page = out.read_text(encoding="utf-8")
    assert page.count('<tr id="paper-') == records["is_kept"].fillna(True).sum()


def test_a_page_over_budget_packs_its_table(map_records, map_tags, page):
    """Over ``max_bytes`` the table and the map's data travel gzip-packed (the page script
    draws the table from text): the HTML then holds no corpus string of the table at all,
    and the packed rows are the rows of the plain table."""
    from synth.report.maps import paper_rows

    packed = evidence_map_html(
        map_records, map_tags, title="Map <script>x</script>", plotlyjs=STUB_JS, max_bytes=1
    )
    p = parse(packed)
    kinds = [(a.get("type"), a.get("id")) for a, _ in p.scripts]
    assert kinds == [
        ("application/octet-stream", "plotly-js"),
        ("application/octet-stream", "papers-data"),
        ("application/octet-stream", "evidence-map-data"),  # the map's data packed too
        (None, None),
    ]
    plain_blob = json.loads(parse(page).scripts[1][1])
    assert json.loads(_unpacked(p.scripts[2][1]))["cells"] == plain_blob["cells"]
    body = p.scripts[1][1]
    assert re.fullmatch(r"[A-Za-z0-9+/=]+", body)
    rows = json.loads(_unpacked(body))
    expected = paper_rows(map_records, map_tags)
    assert [r[0] for r in rows] == [e.record_id for e in expected]
    assert rows[0][1:6] == [expected[0].citation, expected[0].title, expected[0].href,
                            expected[0].year, expected[0].venue]  # fmt: skip
    assert any(HOSTILE["close"] in r[2] for r in rows)  # raw text, set as textContent
    assert 'id="table-note"' in packed and "travels packed" in packed
    table = packed[packed.index('<table class="synth-papers"') : packed.index("</table>")]
    assert "<tr" not in table.split("<tbody>", 1)[1] and "__pwned" not in table
    # the plain page (under budget) has no packed table and lists every paper as HTML
    assert 'id="papers-data"' not in page and page.count('<tr id="paper-') == len(expected)
