"""``synth tag --cluster`` judges the review's criteria on the workers (issue 19): the review
and the criteria rules go to each worker once, each partition is tagged, its PDF pages
added and its criteria judged there, and the command only writes what comes back; the
stored run is the single machine's, table by table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from synth.store import connect
from synth.tagging import criteria, workflow
from tests.tagging.test_tag_chunks import tagged

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
KEI_REVIEW = ROOT / "corpus" / "kei-2020" / "review.yml"


def _tagged(db: Path, **kwargs: Any) -> tuple[dict[str, pd.DataFrame], Any]:
    """Tagged with the bundled review's criteria: the stored run and the TagRun."""
    tables, _, run = tagged(db, review_path=KEI_REVIEW, **kwargs)
    return tables, run


def _never_here(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Judging (and adding PDF pages) in this process raises: only the workers may."""
    called: list[str] = []

    def refuse(name: str) -> Callable[..., Any]:
        def raising(*args: Any, **kwargs: Any) -> Any:
            called.append(name)
            raise AssertionError(f"{name} ran in the command's process")

        return raising

    for name in ("judge_chunk", "criterion_rows", "assess", "suggest", "records_with_text"):
        monkeypatch.setattr(criteria, name, refuse(name), raising=name != "judge_chunk")
    monkeypatch.setattr(workflow, "add_pages", refuse("add_pages"))
    return called


def _with_a_pdf(db: Path) -> Path:
    """``db`` with a PDF linked to one of its records (its evidence then names pages)."""
    from synth.store import fulltexts as ft
    from synth.store import load_fulltexts, load_records
    from tests.pdf_fixtures import pdf_doc

    doc = pdf_doc(
        "c0",
        title="Co-producing a ward",
        pages=(
            "An abstract. Patients and staff co-designed the ward as equal partners.",
            "We asked. Service users and staff worked together, sharing power.",
            "Results. The partnership between patients and providers improved care.",
        ),
    )
    con = connect(db)
    try:
        pdf_id, _ = ft.store_pdf(con, doc, "c0.pdf", 1)
        texts = set(load_fulltexts(con)["record_id"])
        bare = next(r for r in load_records(con)["record_id"] if r not in texts)
        ft.link(con, pdf_id, bare, reviewer="tester")
    finally:
        con.close()
    return db


def test_the_bundled_review_judged_on_the_cluster_stores_the_single_machine_run(
    client: object, kei_imported_db: Path, copy_db: Callable[..., Path], tmp_path: Path
) -> None:
    """The bundled corpus (extracts, Markdown full texts, and here a linked PDF) with its
    review's criteria (cues, negation, opposites, the years) in partitions of 9 records."""
    db = _with_a_pdf(copy_db(kei_imported_db, tmp_path / "kei.sqlite"))
    single, _ = _tagged(copy_db(db, tmp_path / "single.sqlite"))
    cluster, run = _tagged(
        copy_db(db, tmp_path / "cluster.sqlite"), client=client, partition_size=9
    )
    partitions = run.partitions
    assert len(partitions) > 5 and partitions[-1]["records"] < 9  # several, the last short
    assessment = single["criteria_assessments"]
    assert set(assessment["criterion"]) >= {"equal-relationship", "years"}
    assert set(assessment["status"]) >= {"met", "unclear"}
    for name in ("tags", "criteria_assessments"):  # the PDF's pages named in evidence
        assert single[name]["evidence"].str.contains('"page": ').any(), name
    for name, frame in single.items():
        assert len(frame), name
        pd.testing.assert_frame_equal(frame, cluster[name], obj=name)
    # what the run keeps in memory: counts, no partition's rows (the store has them)
    assert run.assessment is None and run.suggestions is None
    assert sum(run.summary.decisions.values()) == len(single["suggestions"])


def test_the_command_only_writes_what_the_workers_judged(
    client: object,
    kei_imported_db: Path,
    copy_db: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With every judging step of the command's process raising, a cluster run (several
    partitions, and one) still stores the single machine's run: the criteria were judged,
    and the PDF pages added, on the workers."""
    db = _with_a_pdf(copy_db(kei_imported_db, tmp_path / "kei.sqlite"))
    single, one_chunk = _tagged(copy_db(db, tmp_path / "single.sqlite"))
    called = _never_here(monkeypatch)
    many, _ = _tagged(copy_db(db, tmp_path / "many.sqlite"), client=client, partition_size=20)
    one, whole = _tagged(copy_db(db, tmp_path / "one.sqlite"), client=client, partition_size=5_000)
    assert called == []
    for name, frame in single.items():
        pd.testing.assert_frame_equal(frame, many[name], obj=name)
        pd.testing.assert_frame_equal(frame, one[name], obj=name)
    # one partition: the rows in memory whole, evidence parsed, as on one machine
    pd.testing.assert_frame_equal(whole.assessment, one_chunk.assessment)
    pd.testing.assert_frame_equal(whole.suggestions, one_chunk.suggestions)
    assert whole.tags["evidence"].tolist() == one_chunk.tags["evidence"].tolist()
