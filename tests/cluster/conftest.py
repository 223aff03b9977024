"""Fixtures of the cluster tests: one LocalCluster of two workers per test module (start-up
costs a few seconds; a module's tests share it, as a reviewer's session would)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synth.distributed import cluster_client


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    with cluster_client("local:2") as c:
        yield c


@pytest.fixture
def threaded(tmp_path: Path) -> Iterator[Any]:
    """A LocalCluster of two single-thread workers in this process (a test can patch what
    its tasks call), its files under the test's own folder."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
            local_directory=str(tmp_path),
            memory_limit=0,
        ) as local,
        Client(local) as client,
    ):
        yield client
