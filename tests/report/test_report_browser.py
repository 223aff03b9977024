"""The bundled review's rendered report in headless chromium: the index's links work, every
page draws its plots with no console error, nothing is fetched from the network, and every
axis label can be read (inside its figure, clear of its neighbours)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from tests.browser import console_errors, misplaced_tick_labels, network_urls, tick_label_count
from tests.report.conftest import figure_page, synthetic_publications
from tests.report.test_notebooks import REPORT_NOTEBOOKS, bundled_report

#: The tests marked notebook and slow read the bundled review's report (every notebook run
#: once per session); the figure tests render their figures into a page without a kernel.
pytestmark = pytest.mark.browser

#: plots each page must draw (at least)
MIN_PLOTS = {
    "01_corpus_overview.html": 2,
    "04_evidence_map.html": 5,
}


@pytest.fixture(scope="module")
def report() -> Any:
    return bundled_report()


def _wait_for_plots(driver: Any, timeout: float = 20) -> tuple[int, int]:
    """(plot divs, plots plotly has drawn) once every div is drawn or the time is up."""
    from selenium.webdriver.support.ui import WebDriverWait

    script = (
        "return [document.querySelectorAll('.plotly-graph-div').length,"
        " document.querySelectorAll('.plotly-graph-div.js-plotly-plot .main-svg').length > 0"
        " ? document.querySelectorAll('.plotly-graph-div.js-plotly-plot').length : 0];"
    )
    with contextlib.suppress(Exception):  # a timeout: the counts below tell the story
        WebDriverWait(driver, timeout).until(
            lambda d: (lambda c: c[0] == c[1])(d.execute_script(script))
        )
    divs, drawn = driver.execute_script(script)
    return int(divs), int(drawn)


@pytest.mark.notebook
@pytest.mark.slow
def test_index_links_open_every_page(report: Any, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get((report.out / "index.html").as_uri())
    assert console_errors(browser) == []
    hrefs = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "main a")]
    names = {Path(h.split("#")[0]).name for h in hrefs}
    assert {f"{n}.html" for n in REPORT_NOTEBOOKS} | {"evidence-map.html", "prisma.svg"} <= names
    for name in REPORT_NOTEBOOKS:
        link = browser.find_element(
            By.LINK_TEXT, next(s.spec.title for s in report.notebooks if s.spec.name == name)
        )
        link.click()
        assert browser.current_url.endswith(f"/{name}.html")
        assert browser.find_element(By.CSS_SELECTOR, "main h1").text
        browser.back()


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("name", [f"{n}.html" for n in REPORT_NOTEBOOKS] + ["evidence-map.html"])
def test_page_draws_with_no_errors_offline(report: Any, browser: Any, name: str) -> None:
    console_errors(browser)  # clear entries from earlier pages
    browser.get((report.out / name).as_uri())
    divs, drawn = _wait_for_plots(browser)
    assert drawn == divs, f"{name}: {drawn} of {divs} plots drawn"
    assert divs >= MIN_PLOTS.get(name, 0)
    if name == "evidence-map.html":
        assert (
            browser.execute_script(
                "return document.querySelectorAll('#evidence-map .main-svg').length"
            )
            > 0
        )
    assert console_errors(browser) == [], name
    assert network_urls(browser) == [], name
    assert browser.execute_script("return typeof Plotly") == "object"


@pytest.mark.notebook
@pytest.mark.slow
def test_hover_lists_papers(report: Any, browser: Any) -> None:
    """Hovering a bubble of the map shows its papers (plotly's hover label is drawn)."""
    browser.get((report.out / "04_evidence_map.html").as_uri())
    _wait_for_plots(browser)
    shown = browser.execute_script(
        "var gd = document.querySelectorAll('.plotly-graph-div')[0];"
        "var t = gd.data[1];"
        "var i = t.x.findIndex(function (_, k) { return t.marker.size[k] > 0; });"
        "Plotly.Fx.hover(gd, [{curveNumber: 1, pointNumber: i}]);"
        "var h = gd.querySelector('.hoverlayer'); return h ? h.textContent : '';"
    )
    assert shown.strip()


@pytest.mark.notebook
@pytest.mark.slow
def test_map_click_filters_the_papers_on_page_04(report: Any, browser: Any) -> None:
    """The report page's map is linked to its table as the standalone map is: a click on
    a bubble shows exactly that cell's papers, and "Show all papers" brings back the rest."""
    from tests.browser import wait_for
    from tests.report.test_map_browser import BUBBLE_PAPERS, LINKED_MAP, SHOWN_ROWS, click_bubble

    console_errors(browser)
    browser.get((report.out / "04_evidence_map.html").as_uri())
    _wait_for_plots(browser)
    wait_for(browser, f"return {LINKED_MAP} !== null")
    n_all = len(browser.execute_script(SHOWN_ROWS))
    per_bubble = browser.execute_script(BUBBLE_PAPERS, 1)
    sizes = browser.execute_script(f"return Array.from({LINKED_MAP}.data[1].marker.size);")
    assert [len(ids) for ids in per_bubble] == sizes  # the bundled table lists every paper
    fullest = max(range(len(sizes)), key=lambda i: sizes[i])
    shown = click_bubble(browser, 1, fullest)
    assert sorted(shown) == sorted(per_bubble[fullest]) and 1 < len(shown) < n_all
    assert browser.find_element("id", "selection-caption").text.endswith(f"{len(shown)} papers.")
    browser.find_element("id", "show-all").click()
    assert len(browser.execute_script(SHOWN_ROWS)) == n_all
    assert console_errors(browser) == []
    assert network_urls(browser) == []


def _assert_labels_readable(driver: Any, page: Path) -> None:
    console_errors(driver)
    driver.get(page.as_uri())
    divs, drawn = _wait_for_plots(driver)
    assert divs and drawn == divs, f"{page.name}: {drawn} of {divs} plots drawn"
    assert tick_label_count(driver) > 0
    assert misplaced_tick_labels(driver) == [], page.name
    assert console_errors(driver) == []


@pytest.mark.slow
def test_figure_labels_fit_on_the_bundled_corpus(kei_store, browser: Any, tmp_path: Path) -> None:
    """The bundled corpus's charts: no tick label cut off (they were: 10 px margins and a
    -45 degree angle put the years below the figure and the y numbers left of it) and
    none run into another (the design × setting columns did, at a fixed -25 degrees)."""
    from synth.report.maps import (
        countries_figure,
        design_by_setting_figure,
        evidence_map_figure,
        publication_figure,
        years_figure,
    )

    records, tags = kei_store
    makers = (years_figure, publication_figure, countries_figure, design_by_setting_figure,
              evidence_map_figure)  # fmt: skip
    figures = [f(records, tags) for f in makers]
    _assert_labels_readable(browser, figure_page(figures, tmp_path))


def test_years_chart_labels_fit_at_ten_thousand_papers(browser: Any, tmp_path: Path) -> None:
    """35 years of 10,000 papers: labels spaced so they neither leave the figure nor
    run into each other, the counts (up to hundreds) whole on the y axis."""
    from synth.report.maps import publication_figure, years_figure

    records, tags = synthetic_publications(10_000)
    years = years_figure(records, tags)
    assert sum(sum(t.y) for t in years.data) > 9_000
    _assert_labels_readable(browser, figure_page([years, publication_figure(records, tags)],
                                                 tmp_path))  # fmt: skip


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("name", ["01_corpus_overview.html", "04_evidence_map.html"])
def test_report_pages_axis_labels_fit(report: Any, browser: Any, name: str) -> None:
    _assert_labels_readable(browser, report.out / name)


@pytest.mark.notebook
@pytest.mark.slow
def test_prisma_diagram_fits_its_page(report: Any, browser: Any) -> None:
    """The flow is wider than the page's column: it scales down, so the other-methods
    column is on screen, not behind a scroll bar nobody sees in print or a screenshot."""
    browser.set_window_size(1200, 1000)
    browser.get((report.out / "05_prisma_and_methods.html").as_uri())
    column, diagram, natural = browser.execute_script(
        "const svg = document.querySelector('main svg[role=img]');"
        "return [document.querySelector('main').getBoundingClientRect().right,"
        " svg.getBoundingClientRect().right, svg.viewBox.baseVal.width];"
    )
    assert natural > 900  # wider than the column, so the test means something
    assert diagram <= column + 1, (diagram, column)
    words = browser.execute_script(
        "return Array.from(document.querySelectorAll('main svg[role=img] text'))"
        ".filter(t => t.getBoundingClientRect().right > "
        " document.querySelector('main').getBoundingClientRect().right + 1)"
        ".map(t => t.textContent);"
    )
    assert words == []
