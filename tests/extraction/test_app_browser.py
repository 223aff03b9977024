"""The extraction app in a real JupyterLab: a reviewer opens their notebook, fills fields,
saves, restarts the kernel and finds every value.

A ``jupyter lab`` server (``tests/lab.py``: offline, a free port, a random token) serves the
reviewer's own notebook, the copy ``synth extract open`` writes beside a store of the
bundled KEI corpus (imported and tagged). Headless chromium runs all cells, waits for the
app, types into a text field, chooses a setting, types a year, and clicks each field's
*Save*; the store then holds exactly those values, with the event ids the page said were
saved. After a kernel restart and a fresh run, the page shows every value again.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import network_urls, start_browser, unavailable
from tests.lab import (
    ACTION_TIMEOUT,
    cell_errors,
    jupyterlab_missing,
    lab_console_errors,
    lab_server,
    open_notebook,
    restart_kernel,
    run_all_cells,
    run_command,
    scroll_into_view,
    wait_for,
    widget_errors,
)

pytestmark = [pytest.mark.browser, pytest.mark.notebook, pytest.mark.slow]

REVIEWER = "lab-extractor"
FORM = "coproduction-extraction"

APP_STATE = """
const texts = Array.from(document.querySelectorAll('.widget-html-content'))
  .map(e => e.innerText.trim());
return {
  header: texts.filter(t => t.startsWith('Extraction')).join(''),
  position: texts.filter(t => /^Paper \\d+ of \\d+/.test(t)).join(''),
  status: texts.filter(t => /^(saved ✓|Not saved|consensus ✓)/.test(t)).join(' | '),
  fields: document.querySelectorAll('.synth-scr-field').length,
};
"""


@pytest.fixture(scope="module")
def review(tmp_path_factory: pytest.TempPathFactory, kei_tagged_db: Path) -> tuple[Path, Path]:
    """(store, notebook): a copy of the tagged KEI store at ``data/kei-2020.sqlite`` and the
    notebook ``synth extract open`` writes for the reviewer beside it."""
    from synth.extraction.notebook import write_extraction_notebook

    db = tmp_path_factory.mktemp("lab-extraction") / "data" / "kei-2020.sqlite"
    db.parent.mkdir(parents=True)
    shutil.copyfile(kei_tagged_db, db)
    return db, write_extraction_notebook(db, REVIEWER).path


@pytest.fixture(scope="module")
def lab(review: tuple[Path, Path]) -> Iterator[tuple[Any, Any]]:
    missing = jupyterlab_missing()
    if missing:
        unavailable(missing)
    _, notebook = review
    with start_browser() as driver, lab_server(notebook.parent) as server:
        yield server, driver


def _state(driver: Any) -> dict[str, Any]:
    return driver.execute_script(APP_STATE)


def _wait_for_app(driver: Any, server: Any) -> dict[str, Any]:
    def ready(d: Any) -> Any:
        problems = widget_errors(d) + cell_errors(d)
        if problems:
            raise AssertionError(f"the app did not render: {problems}")
        state = _state(d)
        return state if state["position"] and state["fields"] else None

    return wait_for(driver, ready, "the extraction app to render", server=server)


def _field(driver: Any, field_id: str, tag: str) -> Any:
    from selenium.webdriver.common.by import By

    found = driver.find_elements(
        By.XPATH, f"//div[contains(@class, 'synth-ext-{FORM}-{field_id}')]//{tag}"
    )
    shown = [e for e in found if e.is_displayed()]
    assert shown, f"no {tag} for field {field_id}"
    scroll_into_view(driver, shown[0])
    return shown[0]


def _save(driver: Any, server: Any, field_id: str, saves: int) -> str:
    """Click the field's Save; wait until the page says saved; the status line."""
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.XPATH, f"//div[contains(@class, 'synth-ext-{FORM}-{field_id}')]")
    button = box.find_element(By.XPATH, ".//button[normalize-space()='Save']")
    scroll_into_view(driver, button)
    before = _state(driver)["status"]
    button.click()

    def saved(d: Any) -> Any:
        status = _state(d)["status"]
        if status.startswith("Not saved"):
            raise AssertionError(f"field {field_id} not saved: {status}")
        return status if status != before and status.startswith("saved") else None

    return wait_for(driver, saved, f"save {saves} ({field_id})", ACTION_TIMEOUT, server)


def _shown_values(driver: Any) -> dict[str, str]:
    from selenium.webdriver.support.ui import Select

    return {
        "aims": _field(driver, "aims", "textarea").get_attribute("value"),
        "setting": Select(_field(driver, "setting", "select")).first_selected_option.text,
        "study_year": _field(driver, "study_year", "input").get_attribute("value"),
    }


def test_a_reviewer_extracts_in_jupyterlab_and_finds_it_after_a_restart(
    review: tuple[Path, Path], lab: Any
) -> None:
    from selenium.webdriver.support.ui import Select

    from synth.extraction.forms import default_form
    from synth.store import connect
    from synth.store.extraction import current_values

    db, notebook = review
    server, driver = lab
    form = default_form()
    assert {"aims", "setting", "study_year"} <= set(form.fields)
    setting = form.fields["setting"].choices[2]

    open_notebook(driver, server, notebook.name)
    run_all_cells(driver)
    first = _wait_for_app(driver, server)
    assert f"reviewer {REVIEWER}" in first["header"] and first["position"].startswith("Paper 1 of")

    aims = _field(driver, "aims", "textarea")
    aims.clear()
    aims.send_keys("To redesign discharge with patients and staff")
    said = [_save(driver, server, "aims", 1)]
    Select(_field(driver, "setting", "select")).select_by_visible_text(setting)
    said.append(_save(driver, server, "setting", 2))
    year = _field(driver, "study_year", "input")
    year.clear()
    year.send_keys("2016")
    said.append(_save(driver, server, "study_year", 3))
    assert all(re.match(r"saved ✓ event #\d+: ", s) for s in said), said
    assert widget_errors(driver) == [] and cell_errors(driver) == []
    # ipywidgets' JupyterLab manager sometimes logs "widget model not found" while it
    # builds a box whose children's models are still arriving (a frontend race, seen in
    # 1 of about 10 runs; the widgets render and every value is saved, as checked below);
    # any other console error fails the test
    errors = lab_console_errors(driver)
    assert errors == [], [e["message"] for e in errors]
    assert [u for u in network_urls(driver) if not u.startswith(server.url + "/")] == []

    con = connect(db)  # a fresh connection: what another kernel would read
    try:
        mine = current_values(con)
    finally:
        con.close()
    mine = mine[mine["reviewer"] == REVIEWER]
    assert dict(zip(mine["field_id"], mine["value"], strict=True)) == {
        "aims": "To redesign discharge with patients and staff",
        "setting": setting,
        "study_year": 2016,
    }
    shown_ids = [int(re.search(r"event #(\d+)", s).group(1)) for s in said]
    assert list(mine["event_id"]) == shown_ids
    assert mine["record_id"].nunique() == 1

    # a restarted kernel and a fresh run show every value on the same paper
    run_command(driver, "notebook:clear-all-cell-outputs")  # no old app to mistake for it
    restart_kernel(driver, server)
    run_all_cells(driver)
    again = _wait_for_app(driver, server)
    assert again["position"] == first["position"]
    assert _shown_values(driver) == {
        "aims": "To redesign discharge with patients and staff",
        "setting": setting,
        "study_year": "2016",
    }


def test_a_reviewer_judges_a_finding_in_the_findings_panel(
    review: tuple[Path, Path], lab: Any
) -> None:
    """The copy ``synth extract open --findings`` writes shows a box per finding under the
    app; choosing the overall confidence and clicking the box's Save records the judgement
    (read back by a fresh connection) and the box says saved with its event id."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from synth.extraction.cerqual import load_judgements
    from synth.extraction.notebook import write_extraction_notebook
    from synth.store import connect

    db, _ = review
    server, driver = lab
    notebook = write_extraction_notebook(db, "lab-judge", findings=True).path
    open_notebook(driver, server, notebook.name)
    run_all_cells(driver)

    def boxes(d: Any) -> Any:
        problems = widget_errors(d) + cell_errors(d)
        if problems:
            raise AssertionError(f"the panel did not render: {problems}")
        found = d.find_elements(By.XPATH, "//div[contains(@class, 'synth-finding-')]")
        return found or None

    shown = wait_for(driver, boxes, "the findings panel to render", server=server)
    first = shown[0]
    finding = next(
        c[len("synth-finding-") :]
        for c in first.get_attribute("class").split()
        if c.startswith("synth-finding-")
    )
    select = first.find_element(
        By.XPATH, ".//div[contains(@class, 'widget-dropdown')][.//label[normalize-space()="
        "'Confidence']]//select",
    )  # fmt: skip
    scroll_into_view(driver, select)
    Select(select).select_by_visible_text("very low")
    save = first.find_element(By.XPATH, ".//button[normalize-space()='Save']")
    scroll_into_view(driver, save)
    save.click()

    def saved(d: Any) -> Any:
        text = first.text
        if "Not saved" in text:
            raise AssertionError(text)
        return re.search(r"saved ✓ event #(\d+)", text)

    event = int(wait_for(driver, saved, "the judgement to be saved", ACTION_TIMEOUT, server)[1])
    con = connect(db)  # a fresh connection: what another kernel would read
    try:
        events = load_judgements(con)
    finally:
        con.close()
    mine = events[events["reviewer"] == "lab-judge"]
    assert mine[["event_id", "finding_id", "component", "level"]].values.tolist() == [
        [event, finding, "overall", "very low"]
    ]
    errors = lab_console_errors(driver)
    assert errors == [], [e["message"] for e in errors]
