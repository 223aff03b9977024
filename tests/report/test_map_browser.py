"""The evidence map in a real headless chromium, as the standalone file and on a report
page: drawn, filterable, linked to its table (a click on a bubble lists its papers),
silent in the console, offline, and deaf to hostile titles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from synth.report.standalone import write_evidence_map
from tests.browser import console_errors, dialog_open, network_urls, resource_urls, wait_for

from .conftest import HOSTILE_CITATION

pytestmark = pytest.mark.browser

VISIBLE = "return document.getElementById('evidence-map')._fullData.map(t => t.visible === true)"
#: The map linked to its page's paper table (the standalone file's, or a report page's).
LINKED_MAP = "document.querySelector('.js-plotly-plot[data-map-linked]')"
#: The papers behind each bubble of trace ``arguments[0]``, as the page's click handler
#: finds them (the cell's papers, intersected with a filter trace's members).
BUBBLE_PAPERS = (
    f"var t = arguments[0], d = {LINKED_MAP}.data[t];"
    "return Array.from(d.x, (x, i) => window.synthBubblePapers(t, x, d.y[i]));"
)
#: The record ids of the table rows shown.
SHOWN_ROWS = (
    "return Array.from(document.querySelectorAll('#papers tbody tr'))"
    ".filter(tr => !tr.hidden).map(tr => tr.dataset.record);"
)


def click_bubble(driver: Any, trace: int, index: int) -> list[str]:
    """Click bubble ``index`` of trace ``trace`` of the linked map, as a reader does;
    the record ids the table then shows."""
    from selenium.webdriver.common.action_chains import ActionChains

    driver.execute_script(
        "var b = document.getElementById('show-all'); if (!b.hidden) { b.click(); }"
    )
    gd = driver.find_element("css selector", ".js-plotly-plot[data-map-linked]")
    point = gd.find_elements("css selector", ".scatterlayer .trace")[trace].find_elements(
        "css selector", ".point"
    )[index]
    ActionChains(driver).move_to_element(point).pause(0.3).click().perform()
    wait_for(driver, "return !document.getElementById('show-all').hidden")
    return driver.execute_script(SHOWN_ROWS)


@pytest.fixture(scope="module")
def map_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .conftest import make_map_records, make_map_tags

    records, tags = make_map_records(), make_map_tags()
    out = tmp_path_factory.mktemp("map") / "evidence-map.html"
    return write_evidence_map(out, records, tags, title="Hostile <script>window.__pwned=7</script>")


@pytest.fixture(scope="module")
def opened(browser: Any, map_file: Path) -> Any:
    console_errors(browser)  # drop anything logged before this page
    browser.get(map_file.as_uri())
    wait_for(browser, "return document.body.getAttribute('data-plot-ready') === '1'")
    return browser


def test_plot_is_drawn_without_console_errors(opened):
    assert opened.execute_script("return document.querySelectorAll('.main-svg').length") >= 1
    n_points = opened.execute_script(
        "return document.querySelectorAll('.scatterlayer .point').length"
    )
    fig_points = opened.execute_script(
        "var d = document.getElementById('evidence-map').data;return d[0].x.length + d[1].x.length;"
    )
    assert n_points == fig_points > 0  # grid dots + all-papers bubbles
    assert (
        opened.execute_script("return document.querySelectorAll('.updatemenu-header-group').length")
        == 3
    )
    assert console_errors(opened) == []


def test_no_network_and_no_hostile_script_ran(opened):
    assert network_urls(opened) == []
    assert all(u.startswith("file:") for u in resource_urls(opened))
    assert opened.execute_script("return typeof window.__pwned") == "undefined"
    assert not dialog_open(opened)
    assert (
        opened.execute_script("return document.querySelectorAll('img, iframe, object').length") == 0
    )
    # the hostile strings are on the page as text
    assert "window.__pwned = 1" in opened.find_element("id", "papers").text
    assert opened.title == "Hostile <script>window.__pwned=7</script>"


def test_hover_shows_hostile_citation_as_text(opened):
    from selenium.webdriver.common.action_chains import ActionChains

    # r11's only cell: Community × Always Events
    papers = opened.execute_script(BUBBLE_PAPERS, 1)
    idx = next(i for i, ids in enumerate(papers) if "r11" in ids)
    point = opened.find_elements("css selector", ".scatterlayer .trace")[1].find_elements(
        "css selector", ".point"
    )[idx]
    ActionChains(opened).move_to_element(point).pause(0.3).perform()
    label = wait_for(opened, "var h = document.querySelector('.hoverlayer .hovertext');"
                             "return h && h.textContent;")  # fmt: skip
    assert HOSTILE_CITATION + " 2020" in label
    assert (
        opened.execute_script("return document.querySelectorAll('.hoverlayer image, img').length")
        == 0
    )
    assert opened.execute_script("return typeof window.__pwned") == "undefined"


def test_dropdown_changes_visible_traces(opened):
    before = opened.execute_script(VISIBLE)
    assert before[:2] == [True, True] and sum(before) == 2
    opened.find_elements("css selector", ".updatemenu-header-group")[0].click()
    buttons = wait_for(
        opened, "return document.querySelectorAll('.updatemenu-dropdown-button').length"
    )
    assert buttons >= 2
    options = opened.find_elements("css selector", ".updatemenu-dropdown-button")
    grey = next(o for o in options if o.text.startswith("Grey literature"))
    grey.click()
    wait_for(opened, "return document.getElementById('evidence-map')._fullData[1].visible !== true")
    after = opened.execute_script(VISIBLE)
    assert after[0] is True and sum(after) == 2 and after != before
    shown = after.index(True, 1)
    per_bubble = opened.execute_script(BUBBLE_PAPERS, shown)
    assert {r for ids in per_bubble for r in ids} == {"r04", "r06", "r07"}  # grey papers only
    sizes = opened.execute_script(
        f"return Array.from(document.getElementById('evidence-map').data[{shown}].marker.size);"
    )
    assert [len(ids) for ids in per_bubble] == sizes  # each bubble's count, its papers
    # the bubbles drawn are that trace's (grid dots + grey cells)
    drawn = opened.execute_script(
        "return Array.from(document.querySelectorAll('.scatterlayer .trace'))"
        ".filter(t => t.style.opacity !== '0' && t.getAttribute('display') !== 'none')"
        ".map(t => t.querySelectorAll('.point').length);"
    )
    grid = opened.execute_script("return document.getElementById('evidence-map').data[0].x.length")
    n_grey = opened.execute_script(
        f"return document.getElementById('evidence-map').data[{shown}].x.length"
    )
    assert sorted(drawn) == sorted([grid, n_grey])
    # a click on a grey bubble lists that bubble's grey papers, not its whole cell's
    from selenium.webdriver.common.action_chains import ActionChains

    groups = [
        g for g in opened.find_elements("css selector", ".scatterlayer .trace")
        if g.value_of_css_property("opacity") != "0" and g.get_attribute("display") != "none"
    ]  # fmt: skip
    point = groups[-1].find_elements("css selector", ".point")[0]
    ActionChains(opened).move_to_element(point).pause(0.3).click().perform()
    wait_for(opened, "return !document.getElementById('show-all').hidden")
    listed = opened.execute_script(
        "return Array.from(document.querySelectorAll('#papers tbody tr'))"
        ".filter(tr => !tr.hidden).map(tr => tr.dataset.record);"
    )
    assert sorted(listed) == sorted(per_bubble[0])
    assert "(Grey literature)" in opened.find_element("id", "selection-caption").text
    opened.find_element("id", "show-all").click()
    assert console_errors(opened) == []


def test_click_on_bubble_shows_its_papers_in_the_table(opened):
    # back to all papers
    opened.find_elements("css selector", ".updatemenu-header-group")[0].click()
    wait_for(opened, "return document.querySelectorAll('.updatemenu-dropdown-button').length")
    opened.find_elements("css selector", ".updatemenu-dropdown-button")[0].click()
    wait_for(opened, "var d = document.getElementById('evidence-map')._fullData;"
                     "return d[1].visible === true;")  # fmt: skip
    cd = opened.execute_script(BUBBLE_PAPERS, 1)
    idx = max(range(len(cd)), key=lambda i: len(cd[i]))  # the fullest cell
    rows = click_bubble(opened, 1, idx)
    assert sorted(rows) == sorted(cd[idx])
    caption = opened.find_element("id", "selection-caption").text
    assert caption.endswith(f"{len(rows)} papers.") or caption.endswith("1 paper.")
    opened.find_element("id", "show-all").click()
    n_all = opened.execute_script(
        "return Array.from(document.querySelectorAll('#papers tbody tr')).filter(tr => !tr.hidden).length;"  # noqa: E501
    )
    assert n_all == 10
    assert console_errors(opened) == []
    assert opened.execute_script("return typeof window.__pwned") == "undefined"


# ------------------------------------------------------------------ the report page's map


#: Left out of the report page's table below, as a long corpus's table leaves papers out:
#: the only paper of Acute care × Co-production.
NOT_LISTED = "r06"


@pytest.fixture(scope="module")
def report_page(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The evidence map and its paper table on a report page, made as 04_evidence_map's
    page is (same calls as the notebook, same rendering, the page's CSP and nonce)."""
    from synth.report.maps import evidence_map_figure, paper_table_html

    from .conftest import figure_page, make_map_records, make_map_tags

    records, tags = make_map_records(), make_map_tags()
    listed = records[records["is_kept"] & (records["record_id"] != NOT_LISTED)]
    fig = evidence_map_figure(records, tags, table_ids=listed["record_id"])
    page = figure_page(
        [fig, "<h2>The papers</h2>", paper_table_html(listed, tags)],
        tmp_path_factory.mktemp("page"),
        "04_evidence_map.html",
    )
    console_errors(browser)
    browser.get(page.as_uri())
    wait_for(browser, f"return {LINKED_MAP} !== null")
    return browser


def test_report_page_map_click_lists_the_bubbles_papers(report_page, map_records, map_tags):
    """On the report page a click on a bubble filters the page's table, as in the
    standalone file (it did nothing: the page's figure carried no link)."""
    from synth.report.maps_data import evidence_matrix

    driver = report_page
    assert driver.find_element("id", "selection-caption").text == "All 9 papers."
    # each bubble's papers, as the page finds them, are its cell's papers in the table
    m = evidence_matrix(map_records, map_tags)
    cells = {
        (r, c): sorted(set(ids) - {NOT_LISTED})
        for r, c, ids in zip(m["row"], m["col"], m["record_ids"], strict=True)
        if ids
    }
    per_bubble = driver.execute_script(BUBBLE_PAPERS, 1)
    assert sorted(sorted(ids) for ids in per_bubble) == sorted(cells.values())
    fullest = max(range(len(per_bubble)), key=lambda i: len(per_bubble[i]))
    shown = click_bubble(driver, 1, fullest)
    assert len(shown) >= 2 and sorted(shown) == sorted(per_bubble[fullest])
    assert driver.find_element("id", "selection-caption").text.endswith(f"{len(shown)} papers.")
    # a bubble whose paper the table leaves out says so instead of listing nothing quietly
    only_r06 = next(i for i, ids in enumerate(per_bubble) if ids == [])
    assert click_bubble(driver, 1, only_r06) == []
    caption = driver.find_element("id", "selection-caption").text
    assert caption == "Acute care × Co-production: 1 paper, 0 of them in this table."
    driver.find_element("id", "show-all").click()
    assert len(driver.execute_script(SHOWN_ROWS)) == 9
    assert console_errors(driver) == []
    assert network_urls(driver) == []
    assert driver.execute_script("return typeof window.__pwned") == "undefined"
    assert not dialog_open(driver)


def test_report_page_map_carries_only_the_tables_ids(map_records, map_tags):
    """The page's figure carries each listed paper's id once, and no other ids."""
    import json

    from synth.report.map_links import META_KEY
    from synth.report.maps import evidence_map_figure

    listed = ["r02", "r03", "r10"]
    fig = evidence_map_figure(map_records, map_tags, table_ids=listed)
    links = fig.layout.meta[META_KEY]
    assert links["papers"] == listed
    text = json.dumps(fig.to_plotly_json()["layout"]["meta"])
    assert all(text.count(f'"{rid}"') == 1 for rid in listed)
    assert "r01" not in text and "r05" not in text
    assert evidence_map_figure(map_records, map_tags).layout.meta is None


def test_escaping_holds_without_the_csp(browser, map_file, tmp_path):
    """The page's CSP would block an injected script anyway; with it removed, nothing
    from the corpus may run either: the escaping alone must hold."""
    page = map_file.read_text(encoding="utf-8")
    start = page.index('<meta http-equiv="Content-Security-Policy"')
    bare = page[:start] + page[page.index(">", start) + 1 :]
    assert "Content-Security-Policy" not in bare
    out = tmp_path / "no-csp.html"
    out.write_text(bare, encoding="utf-8")
    console_errors(browser)
    browser.get(out.as_uri())
    wait_for(browser, "return document.body.getAttribute('data-plot-ready') === '1'")
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    assert not dialog_open(browser)
    assert browser.execute_script("return document.querySelectorAll('img, svg image').length") == 0
    # the three in the file, and plotly.js as the page unpacked it
    assert browser.execute_script("return document.scripts.length") == 4
    assert network_urls(browser) == []
    assert console_errors(browser) == []


def test_a_browser_that_cannot_unpack_plotly_still_shows_the_table(browser, map_file, tmp_path):
    """Browsers from before 2023 lack DecompressionStream: the map says so in words and
    the paper table works."""
    page = map_file.read_text(encoding="utf-8")
    start = page.index('<meta http-equiv="Content-Security-Policy"')
    old = page[:start] + page[page.index(">", start) + 1 :]
    old = old.replace("<head>", "<head><script>window.DecompressionStream = undefined;</script>")
    out = tmp_path / "old-browser.html"
    out.write_text(old, encoding="utf-8")
    console_errors(browser)
    browser.get(out.as_uri())
    why = wait_for(browser, "return document.body.getAttribute('data-plot-error')")
    assert "unpack" in why
    assert "open this file in a current" in browser.find_element("id", "evidence-map").text
    assert browser.execute_script("return typeof window.Plotly") == "undefined"
    n_rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('#papers tbody tr')).filter(tr => !tr.hidden).length;"  # noqa: E501
    )
    assert n_rows == 10
    assert browser.find_element("id", "selection-caption").text == "All 10 papers."
    assert console_errors(browser) == []


ROW_TEXTS = (
    "return Array.from(document.querySelectorAll('#papers tbody tr'))"
    ".map(tr => [tr.dataset.record, tr.id, tr.innerText,"
    " Array.from(tr.querySelectorAll('a')).map(a => a.getAttribute('href'))]);"
)


def test_a_packed_table_reads_as_the_plain_one(browser, map_file, tmp_path):
    """A map over the e-mail budget packs its table; the page draws it from text, so it
    reads exactly as the plain table, runs nothing from the corpus, and links to bubbles."""
    from synth.report.standalone import evidence_map_html

    from .conftest import make_map_records, make_map_tags

    console_errors(browser)
    browser.get(map_file.as_uri())
    wait_for(browser, "return document.body.getAttribute('data-plot-ready') === '1'")
    plain = browser.execute_script(ROW_TEXTS)
    packed = evidence_map_html(
        make_map_records(), make_map_tags(), title="Packed", max_bytes=1_000_000
    )
    assert 'id="papers-data"' in packed
    out = tmp_path / "packed.html"
    out.write_text(packed, encoding="utf-8")
    browser.get(out.as_uri())
    wait_for(browser, "return document.body.getAttribute('data-plot-ready') === '1'")
    assert browser.execute_script("return document.body.getAttribute('data-table-ready')") == "1"
    assert browser.execute_script(ROW_TEXTS) == plain
    assert browser.find_element("id", "selection-caption").text == "All 10 papers."
    assert "window.__pwned = 1" in browser.find_element("id", "papers").text
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    assert browser.execute_script("return document.querySelectorAll('img, iframe').length") == 0
    # a bubble's papers come up in the drawn table
    cd = browser.execute_script(BUBBLE_PAPERS, 1)
    browser.execute_script("window.synthShowPapers(arguments[0], 'test');", cd[0])
    shown = browser.execute_script(
        "return Array.from(document.querySelectorAll('#papers tbody tr'))"
        ".filter(tr => !tr.hidden).map(tr => tr.dataset.record);"
    )
    assert sorted(shown) == sorted(cd[0])
    assert network_urls(browser) == []
    assert console_errors(browser) == []


def test_missing_chromium_skips_or_fails_as_ci_demands(monkeypatch):
    from tests.browser import start_browser

    monkeypatch.setenv("SYNTH_CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv("SYNTH_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not found"), start_browser():
        pass
    monkeypatch.setenv("SYNTH_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="SYNTH_REQUIRE_BROWSER"), start_browser():
        pass


# ------------------------------------------------------------------ the review's scope

#: What a drawn map shows of its scope: the band shapes, the annotations' text, the tick
#: labels, the × marks of the grid, and the names of the linked map's rows and columns.
SCOPE_SEEN = f"""
var gd = {LINKED_MAP};
var text = function (sel) {{
  return Array.from(gd.querySelectorAll(sel), function (e) {{ return e.textContent; }});
}};
return {{
  bands: gd.querySelectorAll('.shapelayer path').length,
  notes: text('.annotation-text'),
  xticks: text('.xtick text'),
  yticks: text('.ytick text'),
  crosses: gd._fullData[0].marker.symbol.filter(function (s) {{ return s !== 'circle'; }}).length,
  drawn: gd.querySelectorAll('.scatterlayer .trace')[0].querySelectorAll('.point').length
}};
"""
#: Hover point ``arguments[1]`` of trace ``arguments[0]`` of the linked map; the label shown.
HOVER_TEXT = f"""
var gd = {LINKED_MAP};
Plotly.Fx.hover(gd, [{{curveNumber: arguments[0], pointNumber: arguments[1]}}]);
var h = gd.querySelector('.hoverlayer'); return h ? h.textContent : '';
"""


def hover_text(driver: Any, trace: int, point: int) -> str:
    """The hover label of a point of the linked map (plotly throttles hovers: the old
    label is cleared first, and the hover repeated until the new one is drawn)."""
    driver.execute_script(f"Plotly.Fx.unhover({LINKED_MAP});")
    return wait_for(driver, lambda d: d.execute_script(HOVER_TEXT, trace, point))


def scope_seen(driver: Any, criterion: str, labels: list[str]) -> dict[str, Any]:
    """Check a drawn map marks ``labels`` (display names of out-of-scope columns) out of
    scope with ``criterion``, and has a "Not tagged" row whose bubbles hover as such;
    what the map shows, for more checks."""
    seen = driver.execute_script(SCOPE_SEEN)
    notes = [n for n in seen["notes"] if n.startswith("out of scope:")]
    assert len(notes) == len(labels) and all(criterion in n for n in notes), seen["notes"]
    assert seen["bands"] >= len(labels)
    marked = [t for t in seen["xticks"] if t.endswith("(out of scope)")]
    assert len(marked) == len(labels)
    for label in labels:
        assert any(t.replace(" ", "").startswith(label.replace(" ", "")) for t in marked), marked
    assert seen["crosses"] > 0 and seen["drawn"] == len(seen["xticks"]) * len(seen["yticks"])
    # the "not tagged" row is drawn and its bubbles say so
    assert seen["yticks"][-1] == "Not tagged"
    row = len(seen["yticks"]) - 1
    ys = driver.execute_script(f"return Array.from({LINKED_MAP}.data[1].y);")
    at = [i for i, y in enumerate(ys) if y == row]
    assert at, "no bubble in the Not tagged row"
    assert hover_text(driver, 1, at[0]).startswith("Not tagged ×")
    return seen


def key_lines(driver: Any) -> str:
    """The page's text above and beside the map (its key says what each mark means)."""
    return driver.execute_script("return document.body.innerText")


@pytest.fixture(scope="module")
def scoped_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The standalone map of the small corpus with a review whose criterion text is markup."""
    from .conftest import make_map_records, make_map_tags, make_scope_review

    out = tmp_path_factory.mktemp("scoped") / "evidence-map.html"
    return write_evidence_map(
        out, make_map_records(), make_map_tags(), title="Scoped", review=make_scope_review()
    )


def test_standalone_map_marks_out_of_scope_and_not_tagged(browser, scoped_file):
    """Out-of-scope columns are drawn marked and named with the criterion (band, ×, tick,
    annotation, hover), hidden rows are absent, "not tagged" is a row; the criterion's
    markup stays text."""
    from .conftest import SCOPE_CRITERION, SCOPE_TEXT

    console_errors(browser)
    browser.get(scoped_file.as_uri())
    wait_for(browser, "return document.body.getAttribute('data-plot-ready') === '1'")
    seen = scope_seen(browser, SCOPE_CRITERION, ["Self-management", "Shared decision-making"])
    assert "Community" not in seen["yticks"] and "Social care" not in seen["yticks"]
    # the bubble in the out-of-scope column names the criterion on hover
    xs = browser.execute_script(f"return Array.from({LINKED_MAP}.data[1].x);")
    sdm = next(i for i, x in enumerate(xs) if seen["xticks"][x].startswith("Shared"))
    hover = hover_text(browser, 1, sdm)
    assert "Out of scope" in hover and SCOPE_CRITERION in hover
    assert "<b>only</b>" in hover  # the criterion's markup, shown as text
    text = key_lines(browser)
    assert "Not drawn (setting): Community, Social care" in text
    assert "not on the map: 2" in text
    assert SCOPE_TEXT in text  # the key quotes the criterion, as text
    assert "Not tagged (setting): 1 paper of 10" in text
    assert "no evidence here" in text
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    assert not dialog_open(browser)
    assert console_errors(browser) == []
    assert network_urls(browser) == []


def _scoped_report_page(browser: Any, records: Any, tags: Any, review: Any, out: Path) -> Any:
    """Page 04's map with its key and table, made as the notebook makes them."""
    import html

    from synth.report.maps import evidence_map_figure, map_key, paper_table_html

    from .conftest import figure_page

    fig = evidence_map_figure(records, tags, table_ids=records["record_id"], review=review)
    key = [f"<p>{html.escape(line)}</p>" for line in map_key(records, tags, review)]
    page = figure_page([*key, fig, paper_table_html(records, tags)], out, "04_evidence_map.html")
    console_errors(browser)
    browser.get(page.as_uri())
    wait_for(browser, f"return {LINKED_MAP} !== null")
    return browser


def test_report_page_marks_out_of_scope_and_not_tagged(browser, tmp_path):
    from .conftest import SCOPE_CRITERION, make_map_records, make_map_tags, make_scope_review

    driver = _scoped_report_page(
        browser, make_map_records(), make_map_tags(), make_scope_review(), tmp_path
    )
    scope_seen(driver, SCOPE_CRITERION, ["Self-management", "Shared decision-making"])
    assert "Not tagged (approach): 1 paper of 10" in key_lines(driver)
    assert driver.execute_script("return typeof window.__pwned") == "undefined"
    assert console_errors(driver) == []


@pytest.fixture(scope="module")
def kei_review() -> Any:
    from synth.review import load_review

    from .conftest import KEI

    path = KEI / "review.yml"
    if not path.is_file():
        pytest.skip("bundled review.yml not found")
    return load_review(path)


@pytest.mark.slow
def test_bundled_review_map_marks_its_exclusions(browser, kei_store, kei_review, tmp_path):
    """On the bundled review, page 04 and evidence-map.html draw self-management and
    shared decision-making as out of scope by its criterion individual-benefit (not as
    gaps), and count the papers with no setting in a "Not tagged" row."""
    records, tags = kei_store
    assert set(kei_review.out_of_scope.values()) == {"individual-benefit"}
    labels = ["Self-management", "Shared decision-making"]
    seen = scope_seen(
        _scoped_report_page(browser, records, tags, kei_review, tmp_path / "page"),
        "individual-benefit",
        labels,
    )
    text = key_lines(browser)
    assert "excluded by the review's own criterion individual-benefit" in text
    assert "Not tagged (setting)" in text
    standalone = write_evidence_map(
        tmp_path / "evidence-map.html", records, tags, review=kei_review
    )
    browser.get(standalone.as_uri())
    wait_for(browser, "return document.body.getAttribute('data-plot-ready') === '1'")
    assert scope_seen(browser, "individual-benefit", labels) == seen
    assert console_errors(browser) == []
    assert network_urls(browser) == []
