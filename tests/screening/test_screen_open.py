"""``synth screen open``: each reviewer screens in their own copy, never the shipped notebook."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from synth.cli import app
from synth.screening.notebook import injected_parameters

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "notebooks" / "screening.ipynb"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


@pytest.fixture
def db(tmp_path: Path, kei_imported_db: Path, copy_db: Callable[..., Path]) -> Path:
    """A KEI store at ``data/review.sqlite``, as a review's data folder holds it."""
    folder = tmp_path / "data"
    folder.mkdir()
    return copy_db(kei_imported_db, folder / "review.sqlite")


def _open(db: Path, *args: str) -> object:
    return runner.invoke(app, ["screen", "open", "--db", str(db), "--print-only", *args])


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_open_copies_the_notebook_with_the_reviewers_parameters(db: Path) -> None:
    shipped = _sha(SHIPPED)
    result = _open(db, "--reviewer", "Ann Lee", "--mode", "dual", "--search", "co-design")
    assert result.exit_code == 0, result.output
    copy = db.parent / "screening" / "review-Ann-Lee.ipynb"
    assert copy.is_file()
    assert _sha(SHIPPED) == shipped  # the tracked notebook is never touched
    assert injected_parameters(copy) == {
        "db": "../review.sqlite", "reviewer": "Ann Lee", "stage": "title_abstract",
        "mode": "dual", "tag": None, "year_min": None, "year_max": None, "search": "co-design",
    }  # fmt: skip
    ran = [c for c in nbformat.read(copy, as_version=4).cells if c.cell_type == "code"]
    assert all(c.outputs == [] for c in ran) and "ScreeningApp.open(" in ran[-1].source
    # the command starts JupyterLab in the copy's folder, on the copy
    out = " ".join(result.output.split())
    assert f"{sys.executable} -m jupyterlab" in out
    assert f"--ServerApp.root_dir={copy.parent}" in out and str(copy) in out
    # full text gets a notebook of its own
    full = _open(db, "--reviewer", "Ann Lee", "--stage", "full_text")
    assert full.exit_code == 0, full.output
    assert injected_parameters(copy.with_name("review-Ann-Lee-full_text.ipynb"))["stage"] == (
        "full_text"
    )


def test_a_reviewers_copy_is_kept_unless_asked(db: Path) -> None:
    assert _open(db, "--reviewer", "bob").exit_code == 0
    copy = db.parent / "screening" / "review-bob.ipynb"
    nb = nbformat.read(copy, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("my own notes"))
    nbformat.write(nb, copy)
    again = _open(db, "--reviewer", "bob", "--search", "ebcd")
    assert again.exit_code == 0, again.output
    assert "my own notes" in copy.read_text()  # kept
    assert "kept as it was" in again.output and "search = None, not 'ebcd'" in again.output
    fresh = _open(db, "--reviewer", "bob", "--search", "ebcd", "--force")
    assert fresh.exit_code == 0, fresh.output
    assert "my own notes" not in copy.read_text()
    assert injected_parameters(copy)["search"] == "ebcd"


def test_open_refuses_a_missing_or_foreign_store(tmp_path: Path) -> None:
    missing = _open(tmp_path / "nothing.sqlite", "--reviewer", "ann")
    assert missing.exit_code == 2 and "no review store there" in missing.output
    bad = tmp_path / "notes.sqlite"
    bad.write_text("not a database\n" * 200)
    refused = _open(bad, "--reviewer", "ann")
    assert refused.exit_code == 2 and "not a synth review store" in refused.output
    assert not (tmp_path / "screening").exists()
    triple = _open(bad, "--reviewer", "ann", "--mode", "triple")
    assert triple.exit_code == 2 and "single, dual" in triple.output


@pytest.mark.notebook
@pytest.mark.slow
def test_the_copy_runs_and_opens_the_app_on_that_store_and_reviewer(db: Path) -> None:
    papermill = pytest.importorskip("papermill")
    from synth.screening.settings import load_settings
    from synth.store import connect

    assert _open(db, "--reviewer", "carol", "--mode", "dual").exit_code == 0
    copy = db.parent / "screening" / "review-carol.ipynb"
    out = copy.with_name("executed.ipynb")
    papermill.execute_notebook(  # as it is, no parameters: what Run All does in the lab
        str(copy), str(out), kernel_name="python3", cwd=str(copy.parent), progress_bar=False
    )
    ran = nbformat.read(out, as_version=4)
    assert not [o for c in ran.cells for o in c.get("outputs", []) if o.output_type == "error"]
    states = ran.metadata["widgets"][WIDGET_STATE]["state"].values()
    headers = [s["state"].get("value", "") for s in states if s["model_name"] == "HTMLModel"]
    assert any("reviewer <b>carol</b>" in h and "mode dual" in h for h in headers), headers
    con = connect(db)
    try:  # the app opened this store, in the mode the copy asked for
        assert load_settings(con, "screening")["mode"] == "dual"
    finally:
        con.close()
