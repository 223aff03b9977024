"""``synth review run`` with a run configuration's ``cluster:`` imports, deduplicates and
tags the bundled corpus on a Dask LocalCluster into the store one machine writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from synth.report.run import run_review

pytestmark = [pytest.mark.slow, pytest.mark.notebook]

ROOT = Path(__file__).resolve().parents[2]
KEI = ROOT / "corpus" / "kei-2020"


def _store(db: Path) -> dict[str, pd.DataFrame]:
    con = sqlite3.connect(db)
    try:
        return {
            "records": pd.read_sql("SELECT * FROM records ORDER BY record_id", con),
            "groups": pd.read_sql("SELECT * FROM duplicate_groups ORDER BY record_id", con),
            "tags": pd.read_sql(
                "SELECT record_id, facet, label, score, evidence FROM tags"
                " ORDER BY record_id, facet, label",
                con,
            ),
        }
    finally:
        con.close()


def _when(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in frame.columns if c == "at" or c.endswith("_at")])


def test_review_run_on_a_cluster_writes_the_store_of_one_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import synth.distributed.dedupe as cluster_dedupe
    import synth.distributed.importing as cluster_import
    import synth.distributed.tagging as cluster_tagging

    ran: list[str] = []
    for module, name in (
        (cluster_import, "import_on_cluster"),
        (cluster_dedupe, "dedupe_on_cluster"),
        (cluster_tagging, "tag_on_cluster"),
    ):
        real = getattr(module, name)

        def spy(*a, _real=real, _name=name, **k):  # type: ignore[no-untyped-def]
            ran.append(_name)
            return _real(*a, **k)

        monkeypatch.setattr(module, name, spy)
    stores = {}
    for name, extra in (("single", ""), ("cluster", "cluster: local:2\n")):
        config = tmp_path / f"{name}.yml"
        config.write_text(
            f"corpus: {KEI}\nreview: {KEI / 'review.yml'}\ndb: {name}.sqlite\n"
            f"out: reports/{name}\nnotebooks: [01_corpus_overview]\n{extra}",
            "utf-8",
        )
        result = run_review(config=config, progress=False, workers=1)
        assert result.pages and result.totals["records"] == 68
        stores[name] = _store(result.db)
    assert ran == ["import_on_cluster", "dedupe_on_cluster", "tag_on_cluster"]  # once each
    for table in ("records", "groups", "tags"):
        assert_frame_equal(_when(stores["cluster"][table]), _when(stores["single"][table]))
    assert len(stores["single"]["tags"]) > 0
