#!/usr/bin/env python
"""Take ``docs/img/appraisal-traffic-light.png``: the report page's traffic-light plot.

The bundled KEI corpus is imported and tagged into a temporary store, twelve of its
included papers are appraised with the tool their design calls for
(:func:`synth.extraction.forms.tool_for`: AACODS for grey literature, CASP for qualitative
studies, MMAT otherwise) with answers drawn from a fixed seed (an illustration, not a real
appraisal), the report page ``06_extraction_and_appraisal`` is rendered as ``synth review
run`` renders it, and headless chromium photographs its first traffic-light plot.

Usage (needs Debian chromium and chromedriver, and the test extra's selenium)::

    .venv/bin/python scripts/screenshot_appraisal.py [--out docs/img/appraisal-traffic-light.png]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.browser

from tests.browser import start_browser  # noqa: E402

OUT = ROOT / "docs" / "img" / "appraisal-traffic-light.png"
CORPUS = ROOT / "corpus" / "kei-2020"
PAPERS = 12
ANSWERS = ("yes", "yes", "yes", "no", "can't tell")
#: the MMAT section of a tagger design label (other designs: qualitative)
MMAT_SECTION = {"mixed-methods": "Mixed methods", "quantitative": "Quantitative descriptive"}


def appraise(db: Path, n: int = PAPERS, seed: int = 7) -> None:
    """Appraise ``n`` included papers, each with the tool its design calls for."""
    from synth.extraction.forms import tool_for
    from synth.extraction.values import included_record_ids
    from synth.store import connect
    from synth.store.extraction import record_value
    from synth.store.tags import current_tags

    rng = random.Random(seed)
    con = connect(db)
    try:
        tags = current_tags(con)
        best = tags[tags["score"] >= 0.5].sort_values("score", ascending=False)
        for rid in included_record_ids(con)[:n]:
            mine = best[best["record_id"] == rid]
            design = next(iter(mine.loc[mine["facet"] == "design", "label"]), None)
            grey = "grey" in set(mine.loc[mine["facet"] == "publication", "label"])
            tool = tool_for(design, grey)
            # MMAT: the screening questions and the criteria of the paper's own design
            wanted = {tool.sections[0], MMAT_SECTION.get(design, "Qualitative")}
            for field in tool.fields.values():
                if tool.id != "appraisal-mmat" or field.section in wanted:
                    answer = rng.choice(ANSWERS)
                    record_value(con, rid, tool.id, field.id, answer, "reviewer-1")
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="the PNG to write")
    args = parser.parse_args(argv)

    from selenium.webdriver.common.by import By

    from synth.report.run import run_review
    from synth.store import connect, import_paths
    from synth.tagging.workflow import tag_store

    with tempfile.TemporaryDirectory(prefix="synth-screenshot-") as tmp:
        db = Path(tmp) / "kei.sqlite"
        con = connect(db)
        try:
            import_paths(con, [CORPUS])
            tag_store(con)
        finally:
            con.close()
        appraise(db)
        result = run_review(
            corpus=CORPUS, db=db, out=Path(tmp) / "report", progress=False, retag=False,
            notebooks=["06_extraction_and_appraisal"],
        )  # fmt: skip
        page = result.pages["06_extraction_and_appraisal"]
        with start_browser() as driver:
            driver.set_window_size(1200, 1400)
            driver.get(page.as_uri())
            time.sleep(1.5)  # let plotly draw
            plot = driver.find_elements(By.CSS_SELECTOR, ".plotly-graph-div")[0]
            driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", plot)
            time.sleep(0.5)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            plot.screenshot(str(args.out))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
