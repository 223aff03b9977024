"""The screening notebook: thin, committed without outputs, and it opens the app."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "screening.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _cells(kind: str = "code") -> list:
    return [c for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == kind]


def test_notebook_is_committed_without_outputs() -> None:
    for cell in _cells():
        assert cell.outputs == [] and cell.execution_count is None


def test_notebook_is_thin_with_a_parameters_cell() -> None:
    cells = _cells()
    tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    names = {t.id for node in ast.parse(tagged[0].source).body for t in node.targets}
    assert {"db", "reviewer", "stage", "mode", "tag", "year_min", "year_max", "search"} <= names
    for cell in cells:  # logic lives in the package, not here
        tree = ast.parse(cell.source)
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    assert "ScreeningApp.open(" in cells[-1].source


@pytest.mark.notebook
@pytest.mark.slow
def test_notebook_runs_and_displays_the_app(
    tmp_path: Path, kei_imported_db: Path, copy_db: Callable[..., Path]
) -> None:
    papermill = pytest.importorskip("papermill")
    from synth.screening.settings import load_settings
    from synth.store import connect

    # untagged: the app must work before the tagger has run
    db = copy_db(kei_imported_db, tmp_path / "h4-notebook.sqlite")
    out = tmp_path / "screening-out.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters={"db": str(db), "reviewer": "papermill", "search": "co-design"},
        kernel_name="python3",
        cwd=str(NOTEBOOK.parent),
        progress_bar=False,
    )
    ran = nbformat.read(out, as_version=4)
    last = [c for c in ran.cells if c.cell_type == "code"][-1]
    views = [o for o in last.outputs if WIDGET_VIEW in o.get("data", {})]
    assert len(views) == 1
    assert views[0]["data"][WIDGET_VIEW]["model_id"]
    assert not [o for o in last.outputs if o.get("output_type") == "error"]
    con = connect(db)
    try:  # it opened the injected store: the first open saved the screening settings there
        assert load_settings(con, "screening")["mode"] == "single"
    finally:
        con.close()
