"""The bundled review's rendered report in headless chromium: the index's links work, every
page draws its plots with no console error, and nothing is fetched from the network."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from tests.browser import console_errors, network_urls
from tests.report.test_notebooks import REPORT_NOTEBOOKS, bundled_report

pytestmark = [pytest.mark.browser, pytest.mark.notebook, pytest.mark.slow]

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
