"""Execute the report notebooks with papermill and render them as HTML without code.

A report notebook is any ``notebooks/*.ipynb`` whose metadata says ``synth.report: true``
(the screening notebook is interactive and is not one). Execution happens in a kernel per
notebook; rendering happens in this process through nbconvert's Python API, with input
cells, prompts and the summary cell left out.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat

from synth.report.display import PLOTLY_MIME, SUMMARY_TAG, read_summary

log = logging.getLogger(__name__)

KERNEL = "python3"
#: Folder of the bundled notebooks (a source checkout; an installed wheel has none).
NOTEBOOKS_DIR = Path(__file__).resolve().parents[3] / "notebooks"
#: Quiet kernels: ipykernel's start-up warnings would repeat once per notebook.
# CRITICAL, not ERROR: a kernel being shut down at the end of a notebook can log
# "KeyboardInterrupt caught in kernel" at ERROR, which read like a failure in the run's
# output; a cell's error comes back through the executed notebook, not this log
KERNEL_ARGS = ["--IPKernelApp.log_level=CRITICAL"]
#: Cells tagged with these never reach the HTML page.
HIDDEN_TAGS = frozenset({SUMMARY_TAG, "parameters", "injected-parameters", "remove-cell"})


@dataclass(frozen=True)
class NotebookSpec:
    """A report notebook: file, page name and the title and blurb the index shows."""

    path: Path
    title: str
    description: str

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def page(self) -> str:
        return f"{self.name}.html"


@dataclass
class NotebookResult:
    """One executed notebook: where it went, how long it took, what it published."""

    spec: NotebookSpec
    executed: Path
    seconds: float
    kernel_seconds: float | None = None
    summary: dict[str, Any] | None = None
    error: str | None = None
    nb: Any = field(default=None, repr=False)


def _meta(nb: Any) -> dict[str, Any]:
    meta = nb.metadata.get("synth")
    return dict(meta) if isinstance(meta, Mapping) else {}


def find_notebooks(
    folder: Path | None = None, names: Sequence[str] | None = None
) -> list[NotebookSpec]:
    """The report notebooks in ``folder`` in file-name order (``names``: only these stems)."""
    folder = Path(folder) if folder is not None else NOTEBOOKS_DIR
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no notebooks folder (run from a synth checkout)")
    specs = []
    for path in sorted(folder.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        meta = _meta(nb)
        if not meta.get("report"):
            continue
        specs.append(
            NotebookSpec(
                path, str(meta.get("title") or path.stem), str(meta.get("description", ""))
            )
        )
    if names is not None:
        wanted = list(names)
        known = {s.name: s for s in specs}
        missing = [n for n in wanted if n not in known]
        if missing:
            raise ValueError(
                f"no report notebook named {', '.join(missing)}; have {', '.join(known)}"
            )
        specs = [known[n] for n in wanted]
    return specs


def parameters_cell(nb: Any) -> Any | None:
    """The cell tagged ``parameters`` (papermill injects its values after it)."""
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def execute(
    spec: NotebookSpec,
    out_dir: Path,
    parameters: Mapping[str, Any],
    *,
    cwd: Path | None = None,
    kernel: str = KERNEL,
    timeout: int = 600,
) -> NotebookResult:
    """Run one notebook with papermill; the executed copy goes to ``out_dir/<name>.ipynb``.

    A failing cell does not raise: the result carries the error and the executed copy
    (papermill marks the failing cell), so the run can still render what worked.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / spec.path.name
    start = time.perf_counter()
    error = None
    try:
        pm.execute_notebook(
            str(spec.path),
            str(executed),
            parameters=dict(parameters),
            kernel_name=kernel,
            # the kernel's working directory, set where the kernel starts; papermill's own
            # ``cwd=`` would os.chdir this whole process, and with notebooks running in
            # threads the directories interleave: the run once ended in
            # <out>/notebooks, where relative paths (the store!) then pointed elsewhere
            resources={"metadata": {"path": str(Path(cwd or out_dir).resolve())}},
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
            execution_timeout=timeout,
            extra_arguments=KERNEL_ARGS,
        )
    except PapermillExecutionError as exc:
        error = f"{spec.path.name}: cell {exc.exec_count} raised {exc.ename}: {exc.evalue}"
        log.error(error)
    seconds = time.perf_counter() - start
    nb = nbformat.read(executed, as_version=4)
    return NotebookResult(
        spec,
        executed,
        seconds,
        kernel_seconds=_kernel_seconds(nb),
        summary=read_summary(nb),
        error=error,
        nb=nb,
    )


def _stamp(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _kernel_seconds(nb: Any) -> float | None:
    """Seconds between papermill starting the notebook and its first cell starting.

    That is the kernel's start-up (launch, connect, ready), as papermill records it.
    """
    began = _stamp(nb.metadata.get("papermill", {}).get("start_time"))
    for cell in nb.cells:
        first = _stamp(cell.get("metadata", {}).get("papermill", {}).get("start_time"))
        if first is not None and began is not None:
            return max(0.0, (first - began).total_seconds())
    return None


def execute_all(
    specs: Sequence[NotebookSpec],
    out_dir: Path,
    parameters: Mapping[str, Any],
    *,
    workers: int = 1,
    cwd: Path | None = None,
    on_done: Callable[[NotebookResult], None] | None = None,
    expected_seconds: Mapping[str, float] | None = None,
) -> list[NotebookResult]:
    """Run the notebooks, ``workers`` at a time (they only read the store).

    With several workers the longest notebooks (``expected_seconds``, e.g. the last run's
    timings) start first, so a slow one does not start last; results are in spec order.
    """
    lock = threading.Lock()

    def one(spec: NotebookSpec) -> NotebookResult:
        result = execute(spec, out_dir, parameters, cwd=cwd)
        if on_done is not None:
            with lock:
                on_done(result)
        return result

    if workers <= 1 or len(specs) <= 1:
        return [one(s) for s in specs]
    expected = expected_seconds or {}
    queue = sorted(specs, key=lambda s: -expected.get(s.name, 0.0))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {s.name: pool.submit(one, s) for s in queue}
        return [futures[s.name].result() for s in specs]


_exporter_local = threading.local()


def _exporter() -> Any:
    """One HTMLExporter per thread (building one loads its templates)."""
    exporter = getattr(_exporter_local, "exporter", None)
    if exporter is None:
        from nbconvert import HTMLExporter
        from nbconvert.preprocessors import TagRemovePreprocessor

        exporter = HTMLExporter(
            template_name="basic",
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            anchor_link_text="",
        )
        remover = TagRemovePreprocessor(remove_cell_tags=set(HIDDEN_TAGS), enabled=True)
        exporter.register_preprocessor(remover, enabled=True)
        _exporter_local.exporter = exporter
    return exporter


_EMPTY_CELL = re.compile(
    r'<div class="cell border-box-sizing code_cell rendered"[^>]*>\s*'
    r'(?:<div class="output_wrapper">\s*<div class="output">\s*</div>\s*</div>\s*)?</div>\s*',
)


def with_page_figures(nb: Any, nonce: str) -> Any:
    """A copy of ``nb`` whose figures' HTML is rebuilt here from their plotly JSON.

    Each becomes a div plus a ``Plotly.newPlot`` call carrying the page's nonce; every other
    output keeps no script that could run under the page's Content-Security-Policy.
    """
    from synth.report.pages import figure_html

    nb = copy.deepcopy(nb)
    n = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data and PLOTLY_MIME in data:
                n += 1
                data["text/html"] = figure_html(
                    data[PLOTLY_MIME], nonce=nonce, div_id=f"figure-{n}"
                )
                del data[PLOTLY_MIME]
    return nb


def render_body(nb: Any, nonce: str) -> str:
    """The notebook's outputs and markdown as an HTML fragment: no code, no prompts."""
    body, _ = _exporter().from_notebook_node(with_page_figures(nb, nonce))
    return _EMPTY_CELL.sub("", body)
