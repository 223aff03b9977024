"""Headless Debian chromium for tests, driven by Selenium with the system chromedriver.

Shared by the report tests (evidence map, report pages). Use the ``browser`` fixture from
``tests/report/conftest.py``; this module holds the plumbing:

- :func:`chromium_paths` finds the browser and driver (env ``SYNTH_CHROMIUM`` /
  ``SYNTH_CHROMEDRIVER`` override ``/usr/bin/chromium`` and ``/usr/bin/chromedriver``);
- :func:`start_browser` starts a fresh, isolated, offline-quiet headless session;
- :func:`wait_for` polls a condition, and on a timeout shows what the page says;
- :func:`console_errors` returns the SEVERE console entries since the last call;
- :func:`resource_urls` lists every resource the page loaded (to prove no network);
- :func:`misplaced_tick_labels` lists axis labels cut off by their figure or overlapping.

Where chromium is absent the tests skip with the reason, unless ``SYNTH_REQUIRE_BROWSER=1``
(set by ``.ci/run``), where they fail instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--hide-scrollbars",
    "--window-size=1400,1000",
)


def _find(env: str, default: str, *names: str) -> str | None:
    given = os.environ.get(env)
    if given:
        return given if Path(given).exists() else None
    if Path(default).exists():
        return default
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_paths() -> tuple[str | None, str | None]:
    """(chromium binary, chromedriver), each None when not found."""
    binary = _find("SYNTH_CHROMIUM", "/usr/bin/chromium", "chromium", "chromium-browser")
    driver = _find("SYNTH_CHROMEDRIVER", "/usr/bin/chromedriver", "chromedriver")
    return binary, driver


def browser_required() -> bool:
    return os.environ.get("SYNTH_REQUIRE_BROWSER", "") not in ("", "0")


def unavailable(reason: str) -> None:
    """Skip, or fail where CI demands a browser (``SYNTH_REQUIRE_BROWSER=1``)."""
    if browser_required():
        pytest.fail(f"{reason} (SYNTH_REQUIRE_BROWSER is set, so this is a failure)")
    pytest.skip(reason)


@contextmanager
def start_browser() -> Iterator[Any]:
    """A headless chromium WebDriver with its own throw-away profile; quits on exit."""
    binary, driver_path = chromium_paths()
    if binary is None or driver_path is None:
        unavailable("headless chromium/chromedriver not found (install Debian chromium)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed (pip install the test extra)")
    with tempfile.TemporaryDirectory(prefix="synth-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        try:
            driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
        except Exception as exc:
            unavailable(f"headless chromium did not start: {exc}")
        try:
            driver.set_page_load_timeout(60)
            driver.set_script_timeout(30)
            yield driver
        finally:
            driver.quit()


def wait_for(
    driver: Any,
    condition: Callable[[Any], Any] | str,
    what: str | None = None,
    timeout: float = 30.0,
    detail: Callable[[], str] | None = None,
) -> Any:
    """Poll ``condition(driver)`` (or a JavaScript function body) until truthy and return
    its value; a timeout says ``what`` and shows the end of the page text and ``detail()``."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    if isinstance(condition, str):
        script = condition
        condition = lambda d: d.execute_script(script)  # noqa: E731
        what = what or script
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)
    except TimeoutException:
        text = driver.execute_script("return document.body ? document.body.innerText : ''")
        more = f"\n{detail()}" if detail is not None else ""
        raise AssertionError(
            f"timed out after {timeout:g} s waiting for {what}.\n--- page text (end) ---\n"
            f"{(text or '')[-3000:]}{more}"
        ) from None


def console_errors(driver: Any) -> list[dict[str, Any]]:
    """SEVERE browser-console entries (errors, CSP violations, failed loads) since last call."""
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def resource_urls(driver: Any) -> list[str]:
    """URLs of every resource the current page fetched (Resource Timing), plus the page."""
    return driver.execute_script(
        "return performance.getEntriesByType('navigation').concat("
        "performance.getEntriesByType('resource')).map(function (e) { return e.name; });"
    )


def network_urls(driver: Any) -> list[str]:
    """Resource URLs that are not local (anything but file:, data:, blob:, about:)."""
    local = ("file:", "data:", "blob:", "about:")
    return [u for u in resource_urls(driver) if not u.startswith(local)]


def dialog_open(driver: Any) -> bool:
    """True if an alert/confirm/prompt is showing (a hostile payload would open one)."""
    from selenium.common.exceptions import NoAlertPresentException

    try:
        driver.switch_to.alert.text  # noqa: B018 - raises when there is no dialog
    except NoAlertPresentException:
        return False
    return True


#: Every axis tick label of every plot on the page that is not inside its figure's box,
#: and every pair of labels on one axis that overlap: [figure id, axis, label, why].
_TICK_CHECK = """
var out = [];
document.querySelectorAll('.js-plotly-plot').forEach(function (gd) {
  var svg = gd.querySelector('.main-svg');
  if (!svg) { return; }
  var box = svg.getBoundingClientRect();
  ['xtick', 'ytick'].forEach(function (axis) {
    var shown = [];
    gd.querySelectorAll('.' + axis + ' text').forEach(function (t) {
      var r = t.getBoundingClientRect();
      if (!t.textContent || r.width === 0) { return; }
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 ||
          r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5) {
        out.push([gd.id, axis, t.textContent, 'outside the figure']);
      }
      shown.forEach(function (o) {
        if (r.left < o[1].right - 0.5 && o[1].left < r.right - 0.5 &&
            r.top < o[1].bottom - 0.5 && o[1].top < r.bottom - 0.5) {
          out.push([gd.id, axis, t.textContent, 'overlaps ' + o[0]]);
        }
      });
      shown.push([t.textContent, r]);
    });
  });
});
return out;
"""


def misplaced_tick_labels(driver: Any) -> list[list[str]]:
    """Axis tick labels of the page's plots that are cut off (not inside their figure's
    box) or run into another label of their axis: ``[figure id, axis, label, why]``."""
    return driver.execute_script(_TICK_CHECK)


def tick_label_count(driver: Any) -> int:
    """How many axis tick labels the page's plots show (so a check of none is no pass)."""
    return driver.execute_script(
        "return document.querySelectorAll('.js-plotly-plot .xtick text, "
        ".js-plotly-plot .ytick text').length;"
    )
