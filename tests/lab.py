"""A real JupyterLab for browser tests and screenshots: a ``jupyter lab`` server in a
subprocess, driven by headless chromium (see :mod:`tests.browser`).

Used by ``tests/screening/test_jupyterlab.py`` and ``scripts/screenshot_screening_app.py``;
this module is the one home of the plumbing:

- :func:`kei_review` builds the layout a reviewer has: ``data/kei-2020.sqlite`` (the bundled
  corpus imported and tagged) and the reviewer's own notebook that ``synth screen open``
  writes beside it, ``data/screening/kei-2020-<reviewer>.ipynb`` (the lab serves that folder,
  as ``synth screen open`` starts it);
- :func:`lab_server` starts ``python -m jupyterlab`` on a free local port with a random token,
  an isolated Jupyter home and every network check off (no news, no update check, no
  extension manager listing), and shuts it and its kernels down on exit;
- :func:`open_notebook`, :func:`run_all_cells`, :func:`wait_for_screening_app`,
  :func:`click_button`, :func:`choose_option`, :func:`type_command` drive the page like a
  reviewer.

The lab runs with ``expose_app_in_browser``, so ``window.jupyterapp`` (JupyterLab's own
application object) opens documents and runs commands: no menu clicking, which breaks
between JupyterLab releases. Waits are explicit (``WebDriverWait`` on a condition) and
generous, for a busy 2-core machine; a timeout reports what the page and the server said.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.browser import console_errors
from tests.browser import wait_for as browser_wait_for

ROOT = Path(__file__).resolve().parents[1]
KEI = ROOT / "corpus" / "kei-2020"

#: Seconds to wait for the server, the page, the kernel or the app (generous: CI is busy).
STARTUP_TIMEOUT = 180.0
#: Seconds to wait for one decision to be saved and shown.
ACTION_TIMEOUT = 60.0
#: What the widget manager writes into the page when a widget cannot be shown.
WIDGET_ERRORS = ("Error displaying widget", "Failed to load model class")

# JupyterLab switches that would reach the internet, all off; plus an isolated, quiet server.
LAB_OPTIONS = (
    "--no-browser",
    "--ServerApp.ip=127.0.0.1",
    "--ServerApp.port_retries=0",
    "--ServerApp.open_browser=False",
    "--ServerApp.terminals_enabled=False",
    "--LabApp.news_url=None",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--LabApp.extension_manager=readonly",
    "--LabApp.expose_app_in_browser=True",
)


# ---------------------------------------------------------------- the review on disk


def kei_review(
    folder: Path, *, reviewer: str, store: Path | None = None, **parameters: Any
) -> tuple[Path, Path]:
    """``folder/data/kei-2020.sqlite`` (KEI imported and tagged: a copy of ``store``, e.g.
    the tests' session ``kei_tagged_db``, else built here) and the reviewer's notebook that
    ``synth screen open`` writes, ``folder/data/screening/kei-2020-<reviewer>.ipynb``
    (``parameters``: the notebook's others, e.g. ``mode``). Returns (store, notebook)."""
    from synth.screening.notebook import write_screening_notebook
    from synth.store import connect, import_paths
    from synth.tagging.workflow import tag_store

    db = folder / "data" / "kei-2020.sqlite"
    db.parent.mkdir(parents=True, exist_ok=True)
    if store is not None:
        shutil.copyfile(store, db)
    else:
        con = connect(db)
        try:
            import_paths(con, [KEI])
            tag_store(con)
        finally:
            con.close()
    notebook = write_screening_notebook(db, reviewer, **parameters).path
    return db, notebook


# ---------------------------------------------------------------- the server


@dataclass
class LabServer:
    """A running ``jupyter lab``: its base URL, token, root folder, process and log."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path

    def page(self, path: str = "lab") -> str:
        return f"{self.url}/{path}?token={self.token}"

    def api(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(
            f"{self.url}/api/{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
            data=b"" if method == "POST" else None,
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "\n".join(lines[-n:])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def jupyterlab_missing() -> str | None:
    """Why JupyterLab cannot run here (None if it can)."""
    for module in ("jupyterlab", "ipykernel", "jupyterlab_widgets"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed in {sys.executable}'s environment"
    return None


@contextmanager
def lab_server(root: Path, *, timeout: float = STARTUP_TIMEOUT) -> Iterator[LabServer]:
    """``python -m jupyterlab`` serving ``root`` on a free local port with a random token.

    The Jupyter config, data, runtime, settings and workspace folders are a throw-away
    folder, so nothing from the user's own Jupyter setup (or left by an earlier run) takes
    part. On exit the server is asked to shut down (its kernels with it), then its process
    group and any process it left are killed.
    """
    token = secrets.token_hex(24)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="synth-jupyter-") as home_dir:
        home = Path(home_dir)
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
            "IPYTHONDIR": str(home / "ipython"),
            "PYTHONUNBUFFERED": "1",
        }
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            *LAB_OPTIONS,
            f"--ServerApp.port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # containers and CI often run as root
        _quiet_settings(home / "settings")
        log = home / "server.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                cwd=root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as one
            )
        server = LabServer(f"http://127.0.0.1:{port}", token, root, process, log)
        try:
            _wait_until_serving(server, timeout)
            yield server
        finally:
            stop_server(server)


def _quiet_settings(folder: Path) -> None:
    """User settings for a quiet, offline lab: never ask about or fetch Jupyter news."""
    path = folder / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


def _wait_until_serving(server: LabServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"jupyter lab exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        with suppress(OSError, urllib.error.URLError, ValueError):
            server.api("status")
            return
        time.sleep(0.25)
    raise TimeoutError(f"jupyter lab did not answer in {timeout:g} s:\n{server.log_tail()}")


def stop_server(server: LabServer) -> None:
    """Shut the server and its kernels down; kill whatever is left."""
    process = server.process
    leftovers: list[Any] = []
    try:
        import psutil

        with suppress(psutil.Error):
            leftovers = psutil.Process(process.pid).children(recursive=True)
    except ImportError:
        pass
    if process.poll() is None:
        with suppress(OSError, urllib.error.URLError, ValueError):
            server.api("shutdown", method="POST")  # kernels too (they run in their own session)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            break
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
    for child in leftovers:  # kernels the shutdown did not end
        with suppress(Exception):
            child.kill()


# ---------------------------------------------------------------- the page


_LAB_CORE_REJECTION = re.compile(
    r"/static/lab/jlab_core\.[0-9a-f]+\.js\S* [\d:]+ Uncaught \(in promise\)$"
)


def lab_noise(message: str) -> bool:
    """Console errors of JupyterLab's own that say nothing of the page under test: the
    jupyterlab-manager's "widget model not found" race (``_make_model``), and a promise
    rejection inside JupyterLab's core bundle with no reason given (seen by the hundred
    in one CI run while a kernel's connection was polled; an error of synth's widgets
    comes from their own code, or with its message)."""
    if "jupyterlab-manager" in message and "Error: widget model not found" in message:
        return True
    return bool(_LAB_CORE_REJECTION.search(message))


def lab_console_errors(driver: Any) -> list[dict[str, Any]]:
    """The browser console's SEVERE entries since the last call, JupyterLab's own noise
    (:func:`lab_noise`) left out."""
    return [e for e in console_errors(driver) if not lab_noise(e.get("message", ""))]


def wait_for(
    driver: Any,
    condition: Callable[[Any], Any],
    what: str,
    timeout: float = STARTUP_TIMEOUT,
    server: LabServer | None = None,
) -> Any:
    """:func:`tests.browser.wait_for`, showing the server's log on a timeout."""
    detail = (lambda: f"--- server log ---\n{server.log_tail()}") if server else None
    return browser_wait_for(driver, condition, what, timeout, detail)


def js(script: str) -> Callable[[Any], Any]:
    """A ``wait_for`` condition: the value of a JavaScript function body."""
    return lambda driver: driver.execute_script(script)


KERNEL_STATUS = """
const app = window.jupyterapp;
const w = app && app.shell && app.shell.currentWidget;
if (!w || !w.sessionContext || !w.context || !w.context.isReady) { return null; }
const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
return kernel ? kernel.status : null;
"""


CURRENT_PATH = """
const app = window.jupyterapp;
const w = app && app.shell && app.shell.currentWidget;
return w && w.context ? w.context.path : null;
"""


def open_notebook(driver: Any, server: LabServer, path: str) -> None:
    """Load JupyterLab on the notebook at ``path`` (relative to the server root), make it
    the current tab and wait until its kernel is idle. JupyterLab restores the tabs of the
    server's earlier pages too, and may leave one of those current: a later *Run All* must
    not run the wrong notebook."""
    driver.get(server.page("lab/tree/" + quote(path)))
    wait_for(driver, js("return !!(window.jupyterapp && window.jupyterapp.shell)"),
             "JupyterLab to start", server=server)  # fmt: skip
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "window.jupyterapp.restored.then(() => done(true), () => done(false));"
    )
    run_command(driver, "docmanager:open", {"path": path})
    wait_for(
        driver,
        lambda d: (
            d.execute_script(CURRENT_PATH) == path and d.execute_script(KERNEL_STATUS) == "idle"
        ),
        f"{path} to be the current tab with its kernel idle",
        server=server,
    )


def run_command(driver: Any, command: str, args: dict[str, Any] | None = None) -> None:
    """Run a JupyterLab command (e.g. ``notebook:run-all-cells``) and wait for it to return."""
    ok = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "window.jupyterapp.commands.execute(arguments[0], arguments[1])"
        ".then(() => done(true), (e) => done(String(e)));",
        command,
        args or {},
    )
    if ok is not True:
        raise AssertionError(f"JupyterLab command {command} failed: {ok}")


def restart_kernel(driver: Any, server: LabServer | None = None) -> None:
    """Restart the kernel of the notebook shown (no dialog) and wait until it is idle."""
    ok = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()"
        ".then(() => done(true), (e) => done(String(e)));"
    )
    if ok is not True:
        raise AssertionError(f"kernel restart failed: {ok}")
    wait_for(driver, lambda d: d.execute_script(KERNEL_STATUS) == "idle",
             "the restarted kernel to be idle", server=server)  # fmt: skip


def run_all_cells(driver: Any) -> None:
    """Run every cell of the notebook shown (JupyterLab's *Run > Run All Cells*)."""
    run_command(driver, "notebook:run-all-cells")


def widget_errors(driver: Any) -> list[str]:
    """Widget-manager errors shown in the page (a model class that did not load, ...)."""
    text = driver.execute_script("return document.body.innerText") or ""
    return [e for e in WIDGET_ERRORS if e in text]


def cell_errors(driver: Any) -> list[str]:
    """Tracebacks shown in cell outputs."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll("
        "'.jp-OutputArea-output[data-mime-type=\"application/vnd.jupyter.stderr\"]'))"
        ".map(e => e.innerText).filter(t => /Traceback|Error/.test(t));"
    )


APP_STATE = """
const q = (s) => document.querySelector(s);
const text = (s) => (q(s) ? q(s).innerText.trim() : null);
const buttons = Array.from(document.querySelectorAll('button.jupyter-button'));
return {
  title: text('.synth-scr-title'),
  status: Array.from(document.querySelectorAll('.widget-html-content'))
    .map(e => e.innerText.trim())
    .filter(t => /^(saved|undone|skipped|Not saved|Ignored|Nothing|Choose|Unknown|No reason)/
      .test(t))
    .join(' | '),
  counts: Array.from(document.querySelectorAll('.widget-html-content'))
    .map(e => e.innerText.trim()).filter(t => /^\\d+ \\/ \\d+ screened/.test(t)).join(''),
  header: Array.from(document.querySelectorAll('.widget-html-content'))
    .map(e => e.innerText.trim()).filter(t => t.startsWith('Screening')).join(''),
  buttons: buttons.map(b => b.innerText.trim()),
};
"""


def app_state(driver: Any) -> dict[str, Any]:
    """What the screening app shows: the record title, status line, counts, header, buttons."""
    return driver.execute_script(APP_STATE)


def wait_for_screening_app(driver: Any, server: LabServer | None = None) -> dict[str, Any]:
    """Wait until the app is rendered with a record and its buttons (fail at once on a
    widget error or a traceback); returns :func:`app_state`."""

    def ready(d: Any) -> Any:
        problems = widget_errors(d) + cell_errors(d)
        if problems:
            raise AssertionError(f"the app did not render: {problems}")
        state = app_state(d)
        return state if state["title"] and "Include" in state["buttons"] else None

    return wait_for(driver, ready, "the screening app to render", server=server)


def button(driver: Any, label: str) -> Any:
    """The enabled ipywidgets button whose text is ``label``."""
    from selenium.webdriver.common.by import By

    xpath = f"//button[contains(@class, 'jupyter-button')][normalize-space()='{label}']"
    found = [b for b in driver.find_elements(By.XPATH, xpath) if b.is_displayed()]
    if len(found) != 1:
        raise AssertionError(f"expected one {label!r} button, found {len(found)}")
    return found[0]


def set_viewport(driver: Any, width: int, height: int) -> None:
    """Size the window so the page itself (not the window) is ``width`` x ``height``."""
    driver.set_window_size(width, height)
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight];")
    driver.set_window_size(2 * width - inner[0], 2 * height - inner[1])


def scroll_into_view(driver: Any, element: Any, block: str = "center") -> None:
    driver.execute_script("arguments[0].scrollIntoView({block: arguments[1]});", element, block)


def photograph_app(driver: Any, out: Path) -> None:
    """Save a README picture of the app shown: refused when the page shows widget errors;
    the app scrolled to the top of its notebook panel and the last clicked button blurred
    (the screenshot scripts of the screening and extraction apps)."""
    from selenium.webdriver.common.by import By

    errors = widget_errors(driver)
    if errors:
        raise SystemExit(f"the page shows widget errors: {errors}")
    app = driver.find_element(By.CSS_SELECTOR, ".jp-OutputArea-output .widget-vbox")
    scroll_into_view(driver, app, "start")
    driver.execute_script("document.activeElement && document.activeElement.blur();")
    time.sleep(0.5)  # let the scroll settle before the picture
    out.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(out))


def click_button(driver: Any, label: str) -> None:
    """Click an app button the way a reviewer does (a real click in the page)."""
    from selenium.webdriver.support import expected_conditions as ec

    element = button(driver, label)
    scroll_into_view(driver, element)
    wait_for(driver, ec.element_to_be_clickable(element), f"{label} to be clickable", 30)
    element.click()


def choose_option(driver: Any, description: str, index: int) -> str:
    """Choose option ``index`` of the dropdown labelled ``description``; its text."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    xpath = (
        "//div[contains(@class, 'widget-dropdown')]"
        f"[.//label[normalize-space()='{description}']]//select"
    )
    element = driver.find_element(By.XPATH, xpath)
    scroll_into_view(driver, element)
    select = Select(element)
    select.select_by_index(index)
    return select.first_selected_option.text


def type_command(driver: Any, command: str) -> None:
    """Type ``command`` into the app's *Keys* box and press Enter, as a reviewer does."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    xpath = "//div[contains(@class, 'widget-text')][.//label[normalize-space()='Keys']]//input"
    box = driver.find_element(By.XPATH, xpath)
    scroll_into_view(driver, box)
    box.click()
    box.send_keys(command, Keys.ENTER)


def wait_for_saved(driver: Any, screened: int, server: LabServer | None = None) -> dict[str, Any]:
    """Wait until the app says *saved* and counts ``screened`` records; its state."""

    def saved(d: Any) -> Any:
        state = app_state(d)
        if state["status"] and not state["status"].startswith("saved"):
            raise AssertionError(f"the app did not save: {state['status']}")
        done = state["counts"].startswith(f"{screened} / ") and state["status"]
        return state if done else None

    return wait_for(driver, saved, f"decision {screened} to be saved", ACTION_TIMEOUT, server)
