"""The screening app in a real JupyterLab: a reviewer opens the notebook, runs it, clicks.

A ``jupyter lab`` server (a subprocess, offline, on a free port with a random token) serves
a copy of ``notebooks/screening.ipynb`` beside a store of the bundled KEI corpus, imported
and tagged. Headless chromium opens the notebook, runs all cells, waits for the app to
render through the ipywidgets JupyterLab extension, clicks *Include*, chooses a reason and
clicks *Exclude*; the store then holds exactly those two decisions for that reviewer, the
ones the page said were saved. The plumbing lives in ``tests/lab.py``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import console_errors, network_urls, start_browser, unavailable
from tests.lab import (
    KEI,
    cell_errors,
    choose_option,
    click_button,
    jupyterlab_missing,
    kei_review,
    lab_server,
    open_notebook,
    run_all_cells,
    wait_for_saved,
    wait_for_screening_app,
    widget_errors,
)

pytestmark = [pytest.mark.browser, pytest.mark.notebook, pytest.mark.slow]

REVIEWER = "lab-reviewer"
REASON = 2  # the second exclusion reason in the dropdown


@pytest.fixture(scope="module")
def review(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(store, notebook): the KEI review laid out as in the project, reviewer and mode set."""
    if not KEI.is_dir():
        pytest.skip(f"bundled corpus not found at {KEI}")
    folder = tmp_path_factory.mktemp("lab-review")
    return kei_review(folder, reviewer=REVIEWER, mode="dual")


@pytest.fixture(scope="module")
def lab(review: tuple[Path, Path]) -> Iterator[tuple[Any, Any]]:
    """(server, driver): JupyterLab serving the review folder, and chromium."""
    missing = jupyterlab_missing()
    if missing:
        unavailable(missing)
    _, notebook = review
    with start_browser() as driver, lab_server(notebook.parent.parent) as server:
        yield server, driver


def test_a_reviewer_screens_in_jupyterlab(review: tuple[Path, Path], lab: Any) -> None:
    from synth.screening.app import GUARD_SECONDS
    from synth.screening.decisions import current_decisions, decision_history, valid_reasons
    from synth.store import connect, load_records

    db, notebook = review
    server, driver = lab
    con = connect(db)
    try:
        reason_id = valid_reasons(con)[REASON - 1][0]
        titles = {r: _words(t) for r, t in load_records(con)[["record_id", "title"]].values}
    finally:
        con.close()

    open_notebook(driver, server, f"notebooks/{notebook.name}")
    run_all_cells(driver)
    first = wait_for_screening_app(driver, server)
    assert f"reviewer {REVIEWER}" in first["header"] and "mode dual" in first["header"]
    assert first["counts"].startswith("0 / ")
    assert {"Include", "Exclude", "Maybe", "Back", "Undo", "Skip"} <= set(first["buttons"])

    click_button(driver, "Include")
    included = wait_for_saved(driver, 1, server)
    assert re.match(r"saved ✓ event #\d+: include — ", included["status"]), included
    # the app ignores a second decision within GUARD_SECONDS of the last (a double click);
    # the kernel stamped that decision before the page could say "saved"
    time.sleep(GUARD_SECONDS + 0.2)
    assert included["title"] != first["title"]
    option = choose_option(driver, "Reason", REASON)
    assert option.startswith(f"{REASON}. {reason_id}: "), option
    click_button(driver, "Exclude")
    excluded = wait_for_saved(driver, 2, server)
    assert re.match(rf"saved ✓ event #\d+: exclude \({re.escape(reason_id)}\) — ",
                    excluded["status"]), excluded  # fmt: skip

    assert widget_errors(driver) == []
    assert cell_errors(driver) == []
    assert console_errors(driver) == []
    # the page loaded nothing but the local server (the widgets' frontend included)
    assert [u for u in network_urls(driver) if not u.startswith(server.url + "/")] == []

    con = connect(db)  # a fresh connection: what another kernel would read
    try:
        mine = current_decisions(con, reviewer=REVIEWER)
        history = decision_history(con)
    finally:
        con.close()
    assert list(mine["decision"]) == ["include", "exclude"]
    # on the records the page showed when each button was clicked
    assert [titles[r] for r in mine["record_id"]] == [
        _words(first["title"]),
        _words(included["title"]),
    ]
    assert mine["reason"].iloc[1] == reason_id and not isinstance(mine["reason"].iloc[0], str)
    # exactly these two events, by this reviewer, with the event ids the page showed
    assert list(history["reviewer"]) == [REVIEWER, REVIEWER]
    shown = [int(re.search(r"event #(\d+)", s["status"]).group(1)) for s in (included, excluded)]
    assert list(history["event_id"]) == shown == list(mine["event_id"])


def _words(text: Any) -> str:
    return " ".join(str(text).split())
