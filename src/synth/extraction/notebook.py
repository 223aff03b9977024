"""A reviewer's own extraction notebook, so nobody edits the shipped one.

``synth extract open`` copies ``notebooks/extraction.ipynb`` into the review's data folder
(``<store folder>/extraction/<store>-<reviewer>.ipynb``) with the reviewer's parameters
injected the way papermill injects them, then starts JupyterLab there: the same scheme as
the screening notebook (:mod:`synth.screening.notebook`, whose helpers this reuses).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synth.screening.notebook import (
    ScreeningNotebook,
    copy_with_parameters,
    relative_to,
    reviewer_notebook_path,
    shipped_notebook,
)

#: Parameters the extraction notebook takes (its ``parameters`` cell), in order.
PARAMETERS: tuple[str, ...] = ("db", "reviewer", "form", "extractors", "findings")

#: What :func:`write_extraction_notebook` returns: the copy's path, whether it was written
#: now, and how an existing copy differs from what was asked.
ExtractionNotebook = ScreeningNotebook


def notebook_path(db: Path, reviewer: str) -> Path:
    """``<db folder>/extraction/<db stem>-<reviewer>.ipynb``."""
    return reviewer_notebook_path(db, "extraction", reviewer)


def write_extraction_notebook(
    db: Path,
    reviewer: str,
    *,
    form: str | None = None,
    extractors: int | None = None,
    findings: bool | None = None,
    force: bool = False,
) -> ExtractionNotebook:
    """Copy the shipped notebook for ``reviewer`` on the store ``db``.

    ``form``: an extraction form (a path, made relative to the copy, or a packaged form's
    name); None for the default form. ``extractors``: 2 for double extraction (None: the
    notebook's default, 1). ``findings``: True to show the findings panel too (None: the
    notebook's default, not shown). An existing copy is kept unless ``force``; where it
    differs from what was asked, the differences are returned so the caller can say so.
    """
    path = notebook_path(db, reviewer)
    if form is not None and Path(form).is_file():
        form = relative_to(Path(form), path)
    asked: dict[str, Any] = {
        "db": relative_to(db, path),
        "reviewer": reviewer.strip(),
        "form": form,
        **({} if extractors is None else {"extractors": extractors}),
        **({} if findings is None else {"findings": findings}),
    }
    return copy_with_parameters(shipped_notebook("extraction"), path, asked, force=force)
