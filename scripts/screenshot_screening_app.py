#!/usr/bin/env python
"""Take ``docs/img/screening-app.png``: the screening app in a real JupyterLab.

The same mechanism as ``tests/screening/test_jupyterlab.py`` (the plumbing is in
``tests/lab.py``): the bundled KEI corpus is imported and tagged into a temporary
``data/kei-2020.sqlite``, the reviewer's own notebook is written beside it as
``synth screen open`` writes it (``data/screening/kei-2020-<reviewer>.ipynb``), an offline
``jupyter lab`` serves that folder, and headless chromium opens the notebook, runs all
cells, makes three decisions with the app's buttons (include, exclude with a reason, include)
and photographs the page: 1400x1000, file browser hidden, the app scrolled to the top.

Usage (needs Debian chromium and chromedriver, and the test extra's selenium)::

    .venv/bin/python scripts/screenshot_screening_app.py [--out docs/img/screening-app.png]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.browser and tests.lab

from tests.browser import start_browser  # noqa: E402
from tests.lab import (  # noqa: E402
    choose_option,
    click_button,
    kei_review,
    lab_server,
    open_notebook,
    photograph_app,
    run_all_cells,
    run_command,
    set_viewport,
    wait_for_saved,
    wait_for_screening_app,
)

OUT = ROOT / "docs" / "img" / "screening-app.png"
SIZE = (1400, 1000)
REASON = 2  # the exclusion reason chosen for the exclude decision


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="the PNG to write")
    parser.add_argument("--reviewer", default="reviewer-1")
    args = parser.parse_args(argv)

    from synth.screening.app import GUARD_SECONDS

    with tempfile.TemporaryDirectory(prefix="synth-screenshot-") as tmp:
        folder = Path(tmp)
        _, notebook = kei_review(folder, reviewer=args.reviewer, mode="single")
        with start_browser() as driver, lab_server(notebook.parent) as server:
            set_viewport(driver, *SIZE)
            open_notebook(driver, server, notebook.name)
            run_command(driver, "application:toggle-left-area")  # hide the file browser
            run_all_cells(driver)
            wait_for_screening_app(driver, server)
            for n, (label, reason) in enumerate(
                [("Include", None), ("Exclude", REASON), ("Include", None)], 1
            ):
                if reason is not None:
                    choose_option(driver, "Reason", reason)
                click_button(driver, label)
                wait_for_saved(driver, n, server)
                time.sleep(GUARD_SECONDS + 0.2)  # a reviewer reads before the next click
            photograph_app(driver, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
