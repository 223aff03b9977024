"""``synth duplicates refresh`` finds a store's duplicate groups again, on one machine or
on a Dask LocalCluster, with the same groups either way, and a reviewer's split stands."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from typer.testing import CliRunner

from synth.cli import app
from synth.store import connect, import_paths, split_records

pytestmark = [pytest.mark.slow, pytest.mark.peer]

runner = CliRunner()


def _groups(db: Path) -> pd.DataFrame:
    con = sqlite3.connect(db)
    try:
        return pd.read_sql(
            "SELECT record_id, group_id, is_kept FROM duplicate_groups ORDER BY record_id", con
        )
    finally:
        con.close()


def _forget_groups(db: Path) -> None:
    """Drop the store's derived groups, so a refresh must find them again."""
    con = sqlite3.connect(db)
    with con:
        con.execute("DELETE FROM duplicate_pairs")
        con.execute("DELETE FROM duplicate_groups")
    con.close()


def test_refresh_on_a_cluster_gives_the_groups_of_one_machine_and_keeps_a_split(
    tmp_path: Path, peer_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import synth.distributed.dedupe as cluster_dedupe

    calls: list[int] = []
    real = cluster_dedupe.dedupe_on_cluster

    def spy(records, client, **kw):  # type: ignore[no-untyped-def]
        calls.append(len(records))
        return real(records, client, **kw)

    monkeypatch.setattr(cluster_dedupe, "dedupe_on_cluster", spy)
    # one search exported from several databases: real duplicates across files
    exports = peer_data / "formats" / "asreview-demo-data"
    files = [exports / n for n in ("_baseline.ris", "baseline_zotero.ris", "embase.ris")]
    single = tmp_path / "single.sqlite"
    con = connect(single)
    import_paths(con, files)
    grouped = _groups(single)
    dup = grouped[grouped["is_kept"] == 0]
    assert len(dup) > 0  # the exports share records
    split_records(con, [dup["record_id"].iloc[0]], reviewer="ana", note="not the same paper")
    con.close()
    after_split = _groups(single)
    on_cluster = tmp_path / "cluster.sqlite"
    _forget_groups(single)
    shutil.copy(single, on_cluster)

    result = runner.invoke(app, ["duplicates", "refresh", "--db", str(single), "--no-progress"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app,
        ["duplicates", "refresh", "--db", str(on_cluster), "--cluster", "local:2",
         "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "duplicates in groups" in result.output
    assert len(calls) == 1 and calls[0] > 0  # the cluster found them, once

    assert_frame_equal(_groups(on_cluster), _groups(single))
    assert_frame_equal(_groups(single), after_split)  # the reviewer's split stands
