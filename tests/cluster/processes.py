"""Process helpers the cluster tests share: the worker processes a command started."""

from __future__ import annotations


def children(pid: int) -> list[int]:
    """Every process ``pid`` started (a LocalCluster's nanny and worker processes); none
    once ``pid`` is gone."""
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
