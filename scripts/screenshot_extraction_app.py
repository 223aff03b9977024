#!/usr/bin/env python
"""Take ``docs/img/extraction-app.png``: the extraction app in a real JupyterLab.

The same mechanism as ``tests/extraction/test_app_browser.py`` (the plumbing is in
``tests/lab.py``, the app's page helpers in that test): the bundled KEI corpus is imported
and tagged into a temporary ``data/kei-2020.sqlite``, the reviewer's own notebook is written
beside it as ``synth extract open`` writes it (``data/extraction/kei-2020-<reviewer>.ipynb``),
an offline ``jupyter lab`` serves that folder, and headless chromium opens the notebook, runs
all cells, types the paper's aims and saves them, and photographs the page: 1400x1000, file
browser hidden, the app scrolled to the top.

Usage (needs Debian chromium and chromedriver, and the test extra's selenium)::

    .venv/bin/python scripts/screenshot_extraction_app.py [--out docs/img/extraction-app.png]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.browser and tests.lab

from tests.browser import start_browser  # noqa: E402
from tests.extraction.test_app_browser import (  # noqa: E402
    FORM,
    _field,
    _save,
    _state,
    _wait_for_app,
)
from tests.lab import (  # noqa: E402
    click_button,
    kei_review,
    lab_server,
    open_notebook,
    photograph_app,
    run_all_cells,
    run_command,
    set_viewport,
    wait_for,
)

OUT = ROOT / "docs" / "img" / "extraction-app.png"
SIZE = (1400, 1000)
AIMS = "To improve the experience of care by redesigning it with patients, carers and staff"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="the PNG to write")
    parser.add_argument("--reviewer", default="reviewer-1")
    args = parser.parse_args(argv)

    from synth.extraction.notebook import write_extraction_notebook

    with tempfile.TemporaryDirectory(prefix="synth-screenshot-") as tmp:
        db, _ = kei_review(Path(tmp), reviewer=args.reviewer)
        notebook = write_extraction_notebook(db, args.reviewer).path
        with start_browser() as driver, lab_server(notebook.parent) as server:
            set_viewport(driver, *SIZE)
            open_notebook(driver, server, notebook.name)
            run_command(driver, "application:toggle-left-area")  # hide the file browser
            run_all_cells(driver)
            _wait_for_app(driver, server)
            _to_suggested_paper(driver, server)
            aims = _field(driver, "aims", "textarea")
            aims.clear()
            aims.send_keys(AIMS)
            _save(driver, server, "aims", 1)
            photograph_app(driver, args.out)
    print(f"wrote {args.out}")
    return 0


def _to_suggested_paper(driver: Any, server: Any, tries: int = 20) -> None:
    """Click Next until the paper shown has the review's extracts and a suggested setting
    (the bundled corpus's records have no abstracts: its papers are read in extracts)."""
    from selenium.webdriver.common.by import By

    for _ in range(tries):
        setting = driver.find_element(By.CSS_SELECTOR, f".synth-ext-{FORM}-setting")
        extracts = driver.find_elements(By.CSS_SELECTOR, ".synth-scr-extract")
        if "Tagger suggests" in setting.text and extracts:
            return
        before = _state(driver)["position"]
        click_button(driver, "Next")
        wait_for(driver, lambda d, was=before: _state(d)["position"] != was, "the next paper",
                 30, server)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
