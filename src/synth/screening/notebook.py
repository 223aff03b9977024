"""A reviewer's own screening notebook, so nobody edits the shipped one.

``synth screen open`` copies ``notebooks/screening.ipynb`` into the review's data folder
(``<store folder>/screening/<store>-<reviewer>.ipynb``) with the reviewer's parameters
injected the way papermill injects them (an ``injected-parameters`` cell after the
``parameters`` cell), then starts JupyterLab there. The committed notebook stays without
outputs, and a reviewer's copy is never overwritten unless they ask (``--force``).
"""

from __future__ import annotations

import ast
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

#: Parameters the screening notebook takes (its ``parameters`` cell), in order.
PARAMETERS: tuple[str, ...] = (
    "db", "reviewer", "stage", "mode", "tag", "year_min", "year_max", "search",
)  # fmt: skip
INJECTED_TAG = "injected-parameters"
_UNSAFE = re.compile(r"[^\w.-]+")


@dataclass(frozen=True)
class ScreeningNotebook:
    """A reviewer's copy: where it is, whether it was written now, and how it differs."""

    path: Path
    created: bool
    differences: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name: (copy, asked)


def shipped_notebook(name: str = "screening") -> Path:
    """A committed reviewer notebook, ``notebooks/<name>.ipynb`` (a source checkout has
    it; a wheel does not): the screening one, or the extraction one."""
    from synth.report.notebooks import NOTEBOOKS_DIR

    path = NOTEBOOKS_DIR / f"{name}.ipynb"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the {name} notebook is missing (run from a checkout)")
    return path


def reviewer_notebook_path(db: Path, folder: str, reviewer: str, suffix: str = "") -> Path:
    """``<db folder>/<folder>/<db stem>-<reviewer><suffix>.ipynb``: a reviewer's copy."""
    name = _UNSAFE.sub("-", reviewer.strip()).strip("-.")
    if not name:
        raise ValueError(f"reviewer {reviewer!r}: give a name with letters or digits")
    return db.resolve().parent / folder / f"{db.stem}-{name}{suffix}.ipynb"


def notebook_path(db: Path, reviewer: str, stage: str = "title_abstract") -> Path:
    """``<db folder>/screening/<db stem>-<reviewer>[-full_text].ipynb``."""
    suffix = "" if stage == "title_abstract" else f"-{stage}"
    return reviewer_notebook_path(db, "screening", reviewer, suffix)


def write_screening_notebook(
    db: Path, reviewer: str, *, force: bool = False, **parameters: Any
) -> ScreeningNotebook:
    """Copy the shipped notebook for ``reviewer`` on the store ``db`` (see the module doc).

    ``parameters``: the notebook's other parameters (stage, mode, tag, year_min, year_max,
    search). ``db`` is injected relative to the copy, as the kernel runs in its folder.
    An existing copy is kept unless ``force``; where it differs from what was asked (a
    parameter given, not None), the differences are returned so the caller can say so.
    """
    unknown = set(parameters) - set(PARAMETERS)
    if unknown:
        raise ValueError(f"not a screening notebook parameter: {', '.join(sorted(unknown))}")
    stage = parameters.get("stage") or "title_abstract"
    path = notebook_path(db, reviewer, stage)
    asked = {"db": relative_to(db, path), "reviewer": reviewer.strip(), **parameters}
    return copy_with_parameters(shipped_notebook(), path, asked, force=force)


def relative_to(target: Path, notebook: Path) -> str:
    """``target`` relative to the notebook's folder (its kernel runs there), POSIX style."""
    return Path(os.path.relpath(target.resolve(), notebook.parent)).as_posix()


def copy_with_parameters(
    shipped: Path, path: Path, asked: dict[str, Any], *, force: bool = False
) -> ScreeningNotebook:
    """Write ``shipped`` to ``path`` with ``asked`` injected as papermill injects them. An
    existing copy is kept unless ``force``; where it differs from what was asked (a
    parameter given, not None), the differences are returned so the caller can say so."""
    if path.exists() and not force:
        found = injected_parameters(path)
        differences = {
            k: (found.get(k), v) for k, v in asked.items() if v is not None and found.get(k) != v
        }
        return ScreeningNotebook(path, created=False, differences=differences)
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = parameterize_notebook(load_notebook_node(str(shipped)), asked)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return ScreeningNotebook(path, created=True)


def injected_parameters(path: Path) -> dict[str, Any]:
    """The values in a notebook's ``injected-parameters`` cell (empty if it has none)."""
    nb = nbformat.read(path, as_version=4)
    values: dict[str, Any] = {}
    for cell in nb.cells:
        if INJECTED_TAG not in cell.metadata.get("tags", []):
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                try:
                    values[node.targets[0].id] = ast.literal_eval(node.value)
                except ValueError:
                    values[node.targets[0].id] = ast.unparse(node.value)
    return values


def lab_command(notebook: Path, *, browser: bool = True) -> list[str]:
    """The command that starts JupyterLab in the notebook's folder, opening it."""
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={notebook.parent}"]
    if not browser:
        command.append("--no-browser")
    return [*command, str(notebook)]


def announce_and_open(
    made: ScreeningNotebook,
    say: Any,
    *,
    what: str,
    saved: str,
    instruction: str,
    browser: bool = True,
    print_only: bool = False,
) -> int:
    """Say where the reviewer's ``what`` notebook is (and how a kept copy differs from what
    was asked; their ``saved`` work is in the store either way), how to work in it, and
    open it in JupyterLab (:func:`open_in_lab`): the exit code."""
    kept = "" if made.created else " (kept as it was)"
    say(f"your {what} notebook{kept}: {made.path}", highlight=False)
    for name, (found, asked) in made.differences.items():
        say(
            f"  it has {name} = {found!r}, not {asked!r}: edit its parameters cell, or "
            f"pass --force for a fresh copy (your {saved} are in the store either way)",
            highlight=False,
        )
    say(instruction, highlight=False)
    return open_in_lab(made.path, say, browser=browser, print_only=print_only)


def open_in_lab(notebook: Path, say: Any, *, browser: bool = True, print_only: bool = False) -> int:
    """Print the JupyterLab command for a reviewer's notebook (``say``: a console's print)
    and, unless ``print_only``, run it until the server stops; its exit code (0 when
    stopped with Ctrl-C). The screening and extraction notebooks open the same way."""
    import shlex
    import subprocess

    command = lab_command(notebook, browser=browser)
    say(f"jupyter lab: {shlex.join(command)}", highlight=False, soft_wrap=True)
    if print_only:
        return 0
    try:
        return subprocess.call(command, cwd=notebook.parent)
    except KeyboardInterrupt:  # Ctrl-C stops the server; nothing to report
        return 0
