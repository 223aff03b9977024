"""The report notebooks: committed clean and thin, and executed by papermill on the bundled
corpus with their published summaries checked against the store."""

from __future__ import annotations

import ast
import atexit
import json
import re
import shutil
import sqlite3
import tempfile
from functools import cache
from pathlib import Path

import nbformat
import pytest

from synth.report.display import SUMMARY_TAG, read_summary
from synth.report.notebooks import NOTEBOOKS_DIR, execute, find_notebooks, parameters_cell

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus" / "kei-2020"
PARAMETERS = {
    "db", "corpus", "review", "themes", "out_dir", "stage", "included_only", "year_min",
    "year_max", "settings",
}  # fmt: skip
REPORT_NOTEBOOKS = [
    "01_corpus_overview", "02_tags_and_criteria", "03_thematic_synthesis", "04_evidence_map",
    "05_prisma_and_methods", "06_extraction_and_appraisal",
]  # fmt: skip
ALL_NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


@cache
def bundled_report() -> object:
    """The bundled review run once per test session (every module asks for the same one).

    Its own temporary folder (removed at exit), not pytest's numbered ones, which another
    pytest process on the machine may prune while this session still reads them.
    """
    from synth.report.run import run_review

    root = Path(tempfile.mkdtemp(prefix="synth-review-run-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return run_review(corpus=CORPUS, db=root / "kei.sqlite", out=root / "reports", progress=False)


@pytest.fixture(scope="session")
def report() -> object:
    return bundled_report()


# ------------------------------------------------------------------ committed notebooks


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], (
                f"{path.name}: a cell has outputs (scripts/strip_notebooks.py)"
            )
            assert cell.execution_count is None
    assert "papermill" not in nb.metadata


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: p.stem)
def test_has_a_parameters_cell(path: Path) -> None:
    cell = parameters_cell(nbformat.read(path, as_version=4))
    assert cell is not None, f"{path.name}: no cell tagged 'parameters'"


def test_report_notebooks_are_found_in_order() -> None:
    assert [s.name for s in find_notebooks()] == REPORT_NOTEBOOKS
    assert all(s.title and s.description for s in find_notebooks())


@pytest.mark.parametrize("name", REPORT_NOTEBOOKS)
def test_report_notebook_is_thin(name: str) -> None:
    """The run's parameters, no functions or classes, and a tagged summary cell last."""
    nb = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
    params = ast.parse(parameters_cell(nb).source)
    assigned = {t.id for node in params.body if isinstance(node, ast.Assign) for t in node.targets}
    # the run's parameters; page 06 also takes the review's extraction form
    assert assigned == PARAMETERS | ({"extraction_form"} if name.startswith("06_") else set())
    for cell in nb.cells:
        if cell.cell_type == "code":
            tree = ast.parse(cell.source)
            defs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)]
            assert not defs, f"{name}: logic belongs in synth, not the notebook"
    assert SUMMARY_TAG in nb.cells[-1].metadata.get("tags", [])


def test_strip_script_removes_outputs(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("strip", ROOT / "scripts" / "strip_notebooks.py")
    strip_mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(strip_mod)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1 + 1", execution_count=3)
    cell.outputs = [
        nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=3)
    ]
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell]
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    assert strip_mod.main(["--check", str(path)]) == 1
    assert strip_mod.main([str(path)]) == 0
    stripped = nbformat.read(path, as_version=4)
    assert stripped.cells[0].outputs == [] and stripped.cells[0].execution_count is None
    assert stripped.cells[0].metadata["tags"] == ["parameters"]
    assert strip_mod.main(["--check", str(path)]) == 0


# ------------------------------------------------------------------ executed on the corpus


def _store(report: object) -> sqlite3.Connection:
    return sqlite3.connect(report.db)


def _summary(report: object, name: str) -> dict:
    result = next(r for r in report.notebooks if r.spec.name == name)
    assert result.error is None
    # read back from the executed notebook on disk, not from the run's memory
    summary = read_summary(nbformat.read(result.executed, as_version=4))
    assert summary is not None, f"{name} published no summary"
    return summary


def _kept_ids(con: sqlite3.Connection) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            "SELECT record_id FROM records WHERE record_id NOT IN"
            " (SELECT record_id FROM duplicate_groups WHERE is_kept = 0)"
        )
    }


def _bib_entries() -> int:
    """Entries in the KEI reference list, counted from the file's text alone."""
    bib = (CORPUS / "references.bib").read_text("utf-8")
    return len(re.findall(r"^@(?!comment|string|preamble)\w+\s*\{", bib, re.M | re.I))


def _included_ids(con: sqlite3.Connection) -> set[str]:
    """Kept records with a full-text include in the store (the bundled run's only
    decisions are the published review's, one per reference, so no conflicts)."""
    kept_of = dict(
        con.execute(
            "SELECT g.record_id, k.record_id FROM duplicate_groups g"
            " JOIN duplicate_groups k ON k.group_id = g.group_id AND k.is_kept = 1"
        ).fetchall()
    )
    rows = con.execute(
        "SELECT record_id FROM decisions WHERE stage = 'full_text' AND decision = 'include'"
    )
    return {kept_of.get(r[0], r[0]) for r in rows}


@pytest.mark.notebook
@pytest.mark.slow
def test_every_notebook_ran(report: object) -> None:
    assert [r.spec.name for r in report.notebooks] == REPORT_NOTEBOOKS
    for r in report.notebooks:
        assert r.error is None
        nb = nbformat.read(r.executed, as_version=4)
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert injected and str(report.db.resolve()) in injected[0].source
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
        assert errors == []


@pytest.mark.notebook
@pytest.mark.slow
def test_corpus_overview_counts_match_the_store(report: object) -> None:
    s = _summary(report, "01_corpus_overview")
    con = _store(report)
    assert s["records_read"] == con.execute("SELECT count(*) FROM records").fetchone()[0]
    assert s["unique_records"] == len(_kept_ids(con))
    assert s["sources"] == con.execute("SELECT count(*) FROM sources").fetchone()[0]
    count = "SELECT count(*) FROM import_failures WHERE severity = ?"
    assert s["failures"] == con.execute(count, ("error",)).fetchone()[0]
    assert s["warnings"] == con.execute(count, ("warning",)).fetchone()[0]
    # the bundled corpus's review.yml says its reference list is the published review's
    # included set: the report covers those papers, not the extra full texts
    assert s["papers"] == len(_included_ids(con)) == _bib_entries()
    assert s["papers"] < s["unique_records"]


@pytest.mark.notebook
@pytest.mark.slow
def test_tag_counts_match_the_store(report: object) -> None:
    s = _summary(report, "02_tags_and_criteria")
    con = _store(report)
    run = con.execute("SELECT max(run_id) FROM runs WHERE kind='tag'").fetchone()[0]
    included = _included_ids(con)
    assert included <= _kept_ids(con)
    # a duplicate's tags count once, for the kept record of its group
    kept_of = dict(
        con.execute(
            "SELECT g.record_id, k.record_id FROM duplicate_groups g"
            " JOIN duplicate_groups k ON k.group_id = g.group_id AND k.is_kept = 1"
        ).fetchall()
    )
    from synth.store import connect
    from synth.store.tags import current_tags

    store = connect(report.db)
    tags = current_tags(store)  # the store's view of the tags (rules, model, reviewers)
    store.close()
    expected: dict[str, set[str]] = {}
    for rid, facet, label in tags.loc[
        tags["score"] >= 0.5, ["record_id", "facet", "label"]
    ].itertuples(index=False):
        rid = kept_of.get(rid, rid)
        if rid in included and facet != "criterion":
            expected.setdefault(f"{facet}:{label}", set()).add(rid)
    assert s["papers_by_label"] == {k: len(v) for k, v in expected.items()}
    # a criterion is counted once, by the criteria table (the label table leaves its cues out)
    assert not any(k.startswith("by_criterion.") for k in s["figures"])
    assert any(k.startswith("criterion.") and k.endswith(".met") for k in s["figures"])
    assert s["described_total"] == len(included)
    n_suggested = con.execute("SELECT count(*) FROM suggestions WHERE run_id=?", (run,)).fetchone()
    assert sum(s["suggested"].values()) <= n_suggested[0]


@pytest.mark.notebook
@pytest.mark.slow
def test_themes_cover_the_codebook(report: object) -> None:
    from synth.themes import load_theme_codebook

    s = _summary(report, "03_thematic_synthesis")
    ids = load_theme_codebook().ids
    assert s["themes"] == len(ids)
    assert set(s["papers_per_theme"]) == set(ids)
    assert all(0 <= n <= s["papers"] for n in s["papers_per_theme"].values())
    # the bundled corpus has extracts for every theme of the KEI framework
    assert s["themes_with_papers"] == len(ids)
    assert s["topics"] >= 1


@pytest.mark.notebook
@pytest.mark.slow
def test_evidence_map_holds_every_paper(report: object) -> None:
    s = _summary(report, "04_evidence_map")
    con = _store(report)
    kept = _included_ids(con)
    assert len(kept) == _bib_entries()
    assert s["papers"] == len(kept)
    assert s["papers_in_map"] == len(kept)
    assert s["papers_in_table"] == len(kept)
    page = (report.out / "04_evidence_map.html").read_text("utf-8")
    # nbconvert re-serialises output HTML (attribute order may change)
    assert len(re.findall(r'<tr [^>]*id="paper-', page)) == len(kept)


@pytest.mark.notebook
@pytest.mark.slow
def test_prisma_counts_match_the_store(report: object) -> None:
    s = _summary(report, "05_prisma_and_methods")
    con = _store(report)
    entries = _bib_entries()
    assert entries == 64
    # references.bib is the review's list of its included studies, not search results: the
    # search is not reported (None, never 64), nor duplicates removed by it; the full texts
    # are background; it reports only full text (title/abstract "not reported", None)
    assert s["identified"] is None and s["duplicates_removed"] is None
    assert s["identified_by_source"] == {}
    assert s["included_list"] == {"references.bib": entries}
    assert s["figures"]["prisma.included_list.references.bib"] == entries
    assert s["figures"]["prisma.identified"] is None
    assert s["screened"] is None
    assert s["included"] == len(_included_ids(con)) == entries
    assert s["decisions"] == con.execute("SELECT count(*) FROM decisions").fetchone()[0]


@pytest.mark.notebook
@pytest.mark.slow
def test_filters_reach_the_notebook(report: object, tmp_path: Path) -> None:
    """Run one notebook again with a year filter: it covers exactly those papers."""
    spec = find_notebooks(names=["01_corpus_overview"])[0]
    params = {"db": str(report.db.resolve()), "corpus": str(CORPUS), "out_dir": str(tmp_path),
              "year_min": 2015, "year_max": 2018, "included_only": False}  # fmt: skip
    result = execute(spec, tmp_path, params)
    assert result.error is None
    con = _store(report)
    kept = _kept_ids(con)
    years = {r: y for r, y in con.execute("SELECT record_id, year FROM records")}
    expected = sum(1 for r in kept if years[r] is not None and 2015 <= years[r] <= 2018)
    assert 0 < expected < len(kept)
    assert result.summary["papers"] == expected
    shown = json.dumps(result.summary)
    assert "papers" in shown


@pytest.mark.notebook
@pytest.mark.slow
def test_included_only_follows_decisions(report: object, tmp_path: Path) -> None:
    """With full-text decisions in the store, the map covers exactly the included papers."""
    from synth.screening.decisions import record_decision

    db = tmp_path / "decided.sqlite"
    with sqlite3.connect(report.db) as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    from synth.screening.decisions import valid_reasons
    from synth.store import connect

    con = connect(db)
    # the published review changes its mind on all but five of its includes (new events;
    # the latest decision stands) and a second reviewer excludes one paper it never took
    published = con.execute(
        "SELECT DISTINCT reviewer FROM decisions WHERE stage = 'full_text'"
    ).fetchone()[0]
    included = sorted(_included_ids(con))
    reason = valid_reasons(con)[0][0]
    for rid in included[5:]:
        record_decision(
            con, record_id=rid, reviewer=published, decision="exclude", stage="full_text",
            reason=reason,
        )  # fmt: skip
    other = sorted(_kept_ids(con) - set(included))[0]
    record_decision(
        con, record_id=other, reviewer="ana", decision="exclude", stage="full_text", reason=reason
    )
    con.close()
    spec = find_notebooks(names=["04_evidence_map"])[0]
    result = execute(spec, tmp_path, {"db": str(db), "corpus": str(CORPUS)})
    assert result.error is None
    assert result.summary["papers"] == result.summary["papers_in_map"] == 5
    assert result.summary["papers_in_table"] == 5


@pytest.mark.notebook
@pytest.mark.slow
def test_notebooks_cope_with_no_papers(report: object, tmp_path: Path) -> None:
    from synth.report.notebooks import execute_all

    specs = find_notebooks(names=["03_thematic_synthesis", "04_evidence_map"])
    params = {"db": str(report.db.resolve()), "corpus": str(CORPUS), "year_min": 3000}
    for result in execute_all(specs, tmp_path, params, workers=2):
        assert result.error is None, result.error
        assert result.summary["papers"] == 0


@pytest.mark.notebook
def test_notebooks_in_threads_never_move_this_process(tmp_path: Path, monkeypatch) -> None:
    """Each kernel starts in ``cwd``, but this process never changes directory: with two
    notebooks at a time, papermill's ``os.chdir`` once left the run in the notebooks
    folder, and the CLI then opened (and created) an empty store under it."""
    import os

    from synth.report.notebooks import NotebookSpec, execute_all

    specs = []
    for k in range(3):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("import os\nprint(os.getcwd())")]
        path = tmp_path / f"n{k}.ipynb"
        nbformat.write(nb, path)
        specs.append(NotebookSpec(path, f"n{k}", ""))
    import threading

    work = tmp_path / "work"
    work.mkdir()
    moves: list[str] = []
    real_chdir = os.chdir
    # only this test's own threads count: a daemon thread an earlier test left behind once
    # restored its own directory meanwhile (CI, 2 of about 30 runs), which says nothing of
    # execute_all
    strays = {t.ident for t in threading.enumerate()} - {threading.get_ident()}

    def chdir(d: object) -> None:
        if threading.get_ident() not in strays:
            moves.append(str(d))
        real_chdir(d)

    monkeypatch.setattr(os, "chdir", chdir)
    before = Path.cwd()
    results = execute_all(specs, tmp_path / "out", {}, workers=2, cwd=work)
    # papermill still "returns" to where it started, which is no move at all; only moves
    # into this test's folders count: a thread an earlier test left behind once changed
    # the process's directory meanwhile (CI: a papermill return to that test's folder)
    mine = tmp_path.resolve()
    into = {p for p in (Path(m).resolve() for m in moves) if p.is_relative_to(mine)}
    assert not into and Path.cwd() == before
    for r in results:
        assert r.error is None
        printed = r.nb.cells[0].outputs[0]["text"].strip()
        assert Path(printed).resolve() == work.resolve()


@pytest.mark.notebook
@pytest.mark.slow
def test_a_review_run_prints_no_kernel_shutdown_noise(tmp_path: Path) -> None:
    """Kernels shut down at a notebook's end logged "KeyboardInterrupt caught in kernel" at
    ERROR into the run's output (1-4 times in each bundled review run): it read like a
    failure. What went wrong in a cell comes back in the executed notebook instead."""
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-c", "from synth.cli import app; app(prog_name='synth')",
         "review", "run", "--corpus", str(CORPUS),
         "--db", str(tmp_path / "kei.sqlite"), "--out", str(tmp_path / "report")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "KeyboardInterrupt" not in run.stdout + run.stderr
    assert "ERROR" not in run.stderr, run.stderr[-2000:]
