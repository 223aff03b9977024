"""The screening app in a real JupyterLab: a reviewer opens the notebook, runs it, clicks
and types.

A ``jupyter lab`` server (a subprocess, offline, on a free port with a random token) serves
the reviewer's own notebook, the copy ``synth screen open`` writes beside a store of the
bundled KEI corpus (imported and tagged). Headless chromium opens the notebook, runs all
cells, waits for the app to render through the ipywidgets JupyterLab extension, clicks
*Include*, chooses a reason and clicks *Exclude*; the store then holds exactly those two
decisions for that reviewer, the ones the page said were saved. Then ten commands are typed
into the *Keys* box in a row (ipykernel 7 runs widget callbacks on other threads than the
cell that opened the store: before the store's connection served any thread, every command
after the first said "Not saved"), all ten are in the store, and after a kernel restart
the app counts them. The plumbing lives in ``tests/lab.py``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from synth.cli import app
from tests.browser import network_urls, start_browser, unavailable
from tests.lab import (
    cell_errors,
    choose_option,
    click_button,
    jupyterlab_missing,
    kei_review,
    lab_console_errors,
    lab_server,
    open_notebook,
    restart_kernel,
    run_all_cells,
    run_command,
    type_command,
    wait_for_saved,
    wait_for_screening_app,
    widget_errors,
)
from tests.screening.test_status_cli import status_decisions

pytestmark = [pytest.mark.browser, pytest.mark.notebook, pytest.mark.slow]

REVIEWER = "lab-reviewer"
REASON = 2  # the second exclusion reason in the dropdown


@pytest.fixture(scope="module")
def review(tmp_path_factory: pytest.TempPathFactory, kei_tagged_db: Path) -> tuple[Path, Path]:
    """(store, notebook): the KEI review laid out as in the project, reviewer and mode set
    (the store a copy of the session's tagged KEI store: the lab's reviewer writes to it)."""
    folder = tmp_path_factory.mktemp("lab-review")
    return kei_review(folder, reviewer=REVIEWER, store=kei_tagged_db, mode="dual")


@pytest.fixture(scope="module")
def lab(review: tuple[Path, Path]) -> Iterator[tuple[Any, Any]]:
    """(server, driver): JupyterLab serving the review folder, and chromium."""
    missing = jupyterlab_missing()
    if missing:
        unavailable(missing)
    _, notebook = review
    with start_browser() as driver, lab_server(notebook.parent) as server:
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

    open_notebook(driver, server, notebook.name)
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
    assert lab_console_errors(driver) == []
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


#: Typed into the Keys box in a row: every kind of decision, reasons by number.
# twenty decisions typed in a row, as a new user screening by keyboard only would
COMMANDS = ["i", "e2", "m", "e", "i", "e1", "m", "i", "e3", "e"] * 2


def test_commands_typed_in_a_row_are_all_saved(review: tuple[Path, Path], lab: Any) -> None:
    from synth.screening.app import GUARD_SECONDS
    from synth.screening.decisions import current_decisions, valid_reasons
    from synth.store import connect, load_records

    db, notebook = review
    server, driver = lab
    con = connect(db)
    try:
        reasons = [rid for rid, _ in valid_reasons(con)]
        before = len(current_decisions(con, reviewer=REVIEWER))
        titles = {r: _words(t) for r, t in load_records(con)[["record_id", "title"]].values}
    finally:
        con.close()

    open_notebook(driver, server, notebook.name)
    run_all_cells(driver)
    state = wait_for_screening_app(driver, server)
    assert state["counts"].startswith(f"{before} / ")
    shown, said = [], []
    for n, command in enumerate(COMMANDS, start=before + 1):
        shown.append(_words(state["title"]))
        type_command(driver, command)
        state = wait_for_saved(driver, n, server)
        said.append(state["status"])
        time.sleep(GUARD_SECONDS + 0.2)  # the app takes a quicker second key for a slip
    assert all(s.startswith("saved ✓ event #") for s in said), said
    assert cell_errors(driver) == [] and widget_errors(driver) == []

    con = connect(db)  # a fresh connection: what another kernel would read
    try:
        mine = current_decisions(con, reviewer=REVIEWER).iloc[before:]
    finally:
        con.close()
    assert len(mine) == len(COMMANDS)
    decisions = {"i": "include", "e": "exclude", "m": "maybe"}
    assert list(mine["decision"]) == [decisions[c[0]] for c in COMMANDS]
    assert [titles[r] for r in mine["record_id"]] == shown  # the records the page showed
    expected = [reasons[int(c[1:]) - 1] if c[1:] else None for c in COMMANDS]
    assert [r if isinstance(r, str) else None for r in mine["reason"]] == expected
    ids = [int(re.search(r"event #(\d+)", s).group(1)) for s in said]
    assert list(mine["event_id"]) == ids

    # a restarted kernel and a fresh run find every decision in the store
    run_command(driver, "notebook:clear-all-cell-outputs")  # no old app to mistake for it
    restart_kernel(driver, server)
    run_all_cells(driver)
    again = wait_for_screening_app(driver, server)
    assert again["counts"].startswith(f"{before + len(COMMANDS)} / "), again

    # and `synth screen status` counts every one of them
    status = CliRunner().invoke(app, ["screen", "status", "--db", str(db)])
    assert status.exit_code == 0, status.output
    con = connect(db)
    try:
        standing = current_decisions(con, reviewer=REVIEWER)["decision"].value_counts()
    finally:
        con.close()
    assert int(standing.sum()) == before + len(COMMANDS)
    counted = status_decisions(status.output)[("title_abstract", REVIEWER)]
    assert counted == [
        before + len(COMMANDS),
        *(int(standing.get(d, 0)) for d in ("include", "exclude", "maybe")),
    ]


def _words(text: Any) -> str:
    return " ".join(str(text).split())
