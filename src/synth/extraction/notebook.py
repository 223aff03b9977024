"""A reviewer's own extraction notebook, so nobody edits the shipped one.

``synth extract open`` copies ``notebooks/extraction.ipynb`` into the review's data folder
(``<store folder>/extraction/<store>-<reviewer>.ipynb``) with the reviewer's parameters
injected the way papermill injects them, then starts JupyterLab there: the same scheme as
the screening notebook (:mod:`synth.screening.notebook`, whose helpers this reuses).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat

from synth.screening.notebook import _UNSAFE, ScreeningNotebook, injected_parameters

#: Parameters the extraction notebook takes (its ``parameters`` cell), in order.
PARAMETERS: tuple[str, ...] = ("db", "reviewer", "form", "extractors")

#: What :func:`write_extraction_notebook` returns: the copy's path, whether it was written
#: now, and how an existing copy differs from what was asked.
ExtractionNotebook = ScreeningNotebook


def shipped_notebook() -> Path:
    """The committed extraction notebook (a source checkout has it; a wheel does not)."""
    from synth.report.notebooks import NOTEBOOKS_DIR

    path = NOTEBOOKS_DIR / "extraction.ipynb"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the extraction notebook is missing (run from a checkout)")
    return path


def notebook_path(db: Path, reviewer: str) -> Path:
    """``<db folder>/extraction/<db stem>-<reviewer>.ipynb``."""
    name = _UNSAFE.sub("-", reviewer.strip()).strip("-.")
    if not name:
        raise ValueError(f"reviewer {reviewer!r}: give a name with letters or digits")
    return db.resolve().parent / "extraction" / f"{db.stem}-{name}.ipynb"


def write_extraction_notebook(
    db: Path,
    reviewer: str,
    *,
    form: str | None = None,
    extractors: int | None = None,
    force: bool = False,
) -> ExtractionNotebook:
    """Copy the shipped notebook for ``reviewer`` on the store ``db``.

    ``form``: an extraction form (a path, made relative to the copy, or a packaged form's
    name); None for the default form. ``extractors``: 2 for double extraction (None: the
    notebook's default, 1). An existing copy is kept unless ``force``; where it
    differs from what was asked, the differences are returned so the caller can say so.
    """
    path = notebook_path(db, reviewer)
    if form is not None and Path(form).is_file():
        form = Path(os.path.relpath(Path(form).resolve(), path.parent)).as_posix()
    asked: dict[str, Any] = {
        "db": Path(os.path.relpath(db.resolve(), path.parent)).as_posix(),
        "reviewer": reviewer.strip(),
        "form": form,
        **({} if extractors is None else {"extractors": extractors}),
    }
    if path.exists() and not force:
        found = injected_parameters(path)
        differences = {
            k: (found.get(k), v) for k, v in asked.items() if v is not None and found.get(k) != v
        }
        return ExtractionNotebook(path, created=False, differences=differences)
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = parameterize_notebook(load_notebook_node(str(shipped_notebook())), asked)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return ExtractionNotebook(path, created=True)
