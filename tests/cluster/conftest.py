"""Fixtures of the cluster tests: one LocalCluster of two workers per test module (start-up
costs a few seconds; a module's tests share it, as a reviewer's session would)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from synth.distributed import cluster_client


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    with cluster_client("local:2") as c:
        yield c
