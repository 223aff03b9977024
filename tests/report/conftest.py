"""Fixtures for report tests: a headless chromium session (see tests/browser.py), a small
tagged corpus with hostile strings, and the bundled KEI corpus imported and tagged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.browser import start_browser

ROOT = Path(__file__).resolve().parents[2]
KEI = ROOT / "corpus" / "kei-2020"

#: Payloads that would run (and set window.__pwned) if any corpus string became markup.
HOSTILE = {
    "script": "<script>window.__pwned = 1; alert(1)</script>",
    "img": '<img src=x onerror="window.__pwned = 2; alert(1)">',
    "close": "</script><script>window.__pwned = 4; alert(2)</script>",
    "svg": '<svg onload="window.__pwned = 5"></svg> & \'quotes\' "here"',
}
JS_URL = "javascript:window.__pwned = 3; alert(1)"
#: Short enough to be a whole citation (no authors: the citation falls back to the title).
HOSTILE_CITATION = "<img src=x onerror=__pwned=6>"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless chromium WebDriver shared by a test module (skips without chromium,
    fails instead when ``SYNTH_REQUIRE_BROWSER=1``)."""
    with start_browser() as driver:
        yield driver


def _ev(sentence: str, field: str = "abstract", match: str = "") -> list[dict[str, Any]]:
    return [
        {"field": field, "sentence": sentence, "match": match, "cue": match.lower(),
         "negated": False, "weight": 1.0}
    ]  # fmt: skip


def _rec(rid: str, title: str, authors: list[str], year: int | None, **kw: Any) -> dict:
    base = {
        "record_id": rid, "title": title, "authors": authors, "year": year,
        "venue": None, "publisher": None, "doi": None, "url": None, "abstract": None,
        "group_id": rid, "is_kept": True,
    }  # fmt: skip
    base.update(kw)
    return base


@pytest.fixture
def map_records() -> pd.DataFrame:
    return make_map_records()


@pytest.fixture
def map_tags() -> pd.DataFrame:
    return make_map_tags()


def make_map_records() -> pd.DataFrame:
    """Eleven records: realistic ones, four with hostile titles, one duplicate (not kept)."""
    rows = [
        _rec(
            "r01",
            "Experience-based co-design in an emergency department",
            ["Iedema, Rick", "Merrick, Eamon"],
            2010,
            venue="BMJ Quality & Safety",
            doi="10.1136/qshc.2009.036665",
        ),
        _rec(
            "r02",
            "Co-producing mental health services with service users",
            ["Gillard, Steve"],
            2012,
            venue="Mental Health Review Journal",
            url="https://example.org/paper",
        ),
        _rec(
            "r03",
            "Patient and public involvement in primary care quality improvement",
            ["Baker, G. Ross", "Fancott, Carol", "Judd, Maria"],
            2016,
            venue="Healthcare Management Forum",
        ),
        _rec(
            "r04",
            "A guide to co-production for commissioners",
            [],
            2018,
            publisher="Social Care Institute for Excellence",
            grey=True,
        ),
        _rec(
            "r05", HOSTILE["script"], ["Mallory, Eve"], 2019, venue="Journal of <b>Bold</b> Claims"
        ),
        _rec("r06", HOSTILE["img"], ["Trudy, Ann", "Sybil, Ann"], 2021, url=JS_URL),
        _rec("r07", HOSTILE["close"], ["O'Brien, Niamh"], 2021, url="  JavaScript:alert(1)"),
        _rec("r08", HOSTILE["svg"], ["Mallory, Eve"], None),
        # r09 duplicates r01: its tags count for r01, it never counts itself
        _rec(
            "r09",
            "Experience based codesign in an emergency dept",
            ["Iedema, R."],
            2010,
            group_id="r01",
            is_kept=False,
        ),
        _rec(
            "r10",
            "Shared decision-making in paediatric clinics",
            ["Wong, Li"],
            2015,
            venue="Patient Education and Counseling",
        ),
        _rec("r11", HOSTILE_CITATION, [], 2020),
    ]
    df = pd.DataFrame(rows)
    df["year"] = pd.array(df["year"], dtype="Int64")
    df["is_kept"] = pd.array(df["is_kept"], dtype="boolean")
    return df


def make_map_tags() -> pd.DataFrame:
    """Tags for :func:`make_map_records` (r09's tags belong to r01's group)."""
    t = [
        (
            "r01",
            "setting",
            "acute-care",
            0.9,
            _ev(
                "Staff and patients in an emergency department co-designed care.",
                "abstract",
                "emergency department",
            ),
        ),
        (
            "r01",
            "approach",
            "ebcd",
            0.95,
            _ev("We used experience-based co-design.", "title", "experience-based co-design"),
        ),
        ("r01", "design", "qualitative", 0.6, _ev("Interviews were analysed thematically.")),
        ("r01", "publication", "journal", 0.9, []),
        ("r01", "country", "Australia", 0.7, []),
        ("r09", "approach", "co-design", 0.5, _ev("A codesign project.")),
        ("r09", "setting", "acute-care", 0.5, []),
        ("r02", "setting", "mental-health", 0.9, _ev("Mental health services were co-produced.")),
        ("r02", "approach", "co-production", 0.9, _ev("Co-production with service users.")),
        ("r02", "design", "case-study", 0.5, []),
        ("r02", "publication", "journal", 0.9, []),
        ("r02", "country", "United Kingdom", 0.9, []),
        ("r03", "setting", "primary-care", 0.8, _ev("General practices took part.")),
        ("r03", "approach", "ppi", 0.8, _ev("Patient and public involvement shaped the project.")),
        ("r03", "approach", "co-design", 0.4, _ev("Patients co-designed the materials.")),
        ("r03", "publication", "journal", 0.9, []),
        ("r03", "country", "Canada", 0.8, []),
        ("r04", "setting", "social-care", 0.7, _ev("Social care commissioners.")),
        ("r04", "setting", "community", 0.5, _ev("Community services.")),
        (
            "r04",
            "approach",
            "co-production",
            0.9,
            _ev("A guide to co-production.", "title", "co-production"),
        ),
        ("r04", "design", "guideline-toolkit", 0.8, []),
        ("r04", "publication", "grey", 0.9, []),
        ("r04", "country", "United Kingdom", 0.9, []),
        ("r05", "setting", "acute-care", 0.5, _ev(HOSTILE["script"] + " in hospital.")),
        ("r05", "approach", "co-design", 0.5, _ev(HOSTILE["img"])),
        ("r05", "publication", "journal", 0.9, []),
        ("r06", "setting", "acute-care", 0.5, []),
        ("r06", "approach", "co-production", 0.5, _ev(HOSTILE["close"])),
        ("r06", "publication", "grey", 0.9, []),
        ("r06", "country", "United Kingdom", 0.9, []),
        ("r07", "setting", "mental-health", 0.5, []),
        ("r07", "publication", "grey", 0.9, []),
        ("r08", "approach", "co-production", 0.5, []),
        ("r10", "setting", "paediatrics-maternity", 0.8, []),
        ("r10", "approach", "shared-decision-making", 0.9, []),
        ("r10", "design", "quantitative", 0.6, []),
        ("r10", "publication", "journal", 0.9, []),
        ("r10", "country", "United States", 0.6, []),
        ("r11", "setting", "community", 0.6, []),
        ("r11", "approach", "always-events", 0.6, _ev(HOSTILE_CITATION)),
    ]
    df = pd.DataFrame(t, columns=["record_id", "facet", "label", "score", "evidence"])
    df["source"] = "rule"
    df["version"] = "rules:test"
    return df


@pytest.fixture(scope="session")
def kei_store(kei_tagged_db: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The bundled KEI corpus imported, deduplicated and tagged (the session's
    ``kei_tagged_db``): (records, tags)."""
    from synth.store import connect, load_records
    from synth.store.tags import current_tags

    con = connect(kei_tagged_db)
    try:
        return load_records(con, with_groups=True), current_tags(con)
    finally:
        con.close()


def figure_page(outputs: list[Any], out_dir: Path, name: str = "figures.html") -> Path:
    """Figures (and HTML fragments) on a report page, made as a report notebook's page is
    made: a figure shown as ``show_figure`` shows it (:func:`display.figure_bundle`), a
    string as ``show_html`` does, the outputs rendered by
    :func:`synth.report.notebooks.render_body` into :func:`synth.report.pages.page_html`,
    beside the shared plotly.js. No kernel runs."""
    import nbformat

    from synth.report.display import figure_bundle
    from synth.report.notebooks import render_body
    from synth.report.pages import new_nonce, page_html, write_plotly_js

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={"text/html": out} if isinstance(out, str) else figure_bundle(out),
        )
        for out in outputs
    ]
    nb.cells.append(cell)
    nonce = new_nonce()
    out_dir.mkdir(parents=True, exist_ok=True)
    write_plotly_js(out_dir)
    page = page_html(render_body(nb, nonce), title=name, review_title="test", nonce=nonce)
    path = out_dir / name
    path.write_text(page, encoding="utf-8")
    return path


def synthetic_publications(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` synthetic records (:mod:`synth.corpus.synthetic`) and a publication-type tag
    for each (journal, grey or book), enough for the years and publication charts."""
    import numpy as np

    from synth.corpus.synthetic import generate_records

    records, _ = generate_records(n, seed=seed)
    rng = np.random.default_rng(seed)
    labels = rng.choice(["journal", "grey", "book"], size=len(records), p=[0.7, 0.25, 0.05])
    tags = pd.DataFrame(
        {"record_id": records["record_id"], "facet": "publication", "label": labels,
         "score": 0.9}
    )  # fmt: skip
    return records, tags


#: The exclusion criterion :func:`make_scope_review` rules labels out of scope with; its
#: text carries markup, which must reach every page as text.
SCOPE_CRITERION = "individual-benefit"
SCOPE_TEXT = "Activities for the individual's own benefit <b>only</b> " + HOSTILE["img"]


def make_scope_review() -> Any:
    """A review definition like the bundled one's scope: self-management and shared
    decision-making ruled out by an exclusion criterion; community and social care
    outside its frame (hidden): r04 and r11 carry only those settings."""
    from synth.review import parse_review

    return parse_review(
        {
            "exclusion_criteria": [{"id": SCOPE_CRITERION, "text": SCOPE_TEXT}],
            "scope": {
                "out_of_scope": {
                    "approach:self-management": SCOPE_CRITERION,
                    "approach:shared-decision-making": SCOPE_CRITERION,
                },
                "hidden": ["setting:community", "setting:social-care"],
            },
        },
        "review.yml",
    )


@pytest.fixture
def scope_review() -> Any:
    """:func:`make_scope_review`."""
    return make_scope_review()
