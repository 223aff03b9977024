"""Scale-out on Dask: synth's stages on a cluster of worker processes.

``synth tag --cluster local[:N]`` (a :class:`distributed.LocalCluster` on this machine) or
``--scheduler tcp://HOST:PORT`` (a cluster started with ``dask scheduler`` and ``dask
worker``); in Python, ``tag_store(con, client=client)`` with a client from
:func:`cluster_client`. Without a cluster, the single-machine path runs as before.

So far the rule tagger runs on the cluster (:mod:`synth.distributed.tagging`); the
criteria, the learnable layer and the store's bulk load run in this process. Deduplication
runs there too (:mod:`synth.distributed.dedupe`: blocking keys per partition, a shuffle by
key, pairs scored in the workers, groups joined here). ``synth import --cluster``
(``import_paths(con, paths, client=client)``) reads the reference files on the workers, a
large one in chunks, and loads them into the store in one transaction
(:mod:`synth.distributed.importing`); PDFs are read and linked in this process.

Dask, distributed and pyarrow are imported only when a cluster is used: the names of
:mod:`synth.distributed.tagging` load on first use, so the single-machine path does not
pay for them.
"""

from __future__ import annotations

import importlib
from typing import Any

from synth.distributed.cluster import (
    ClusterError,
    cluster_client,
    local_workers,
    ready_workers,
    scheduler_address,
    work_folder,
)

_TAGGING = (
    "PARTITION_SIZE",
    "TAG_SCHEMA",
    "PartitionRun",
    "TaggerPlugin",
    "read_tag_partitions",
    "tag_on_cluster",
    "tag_partitions",
)
_DEDUPE = ("dedupe_on_cluster",)
_IMPORTING = ("FAILURE_SCHEMA", "RECORD_SCHEMA", "ClusterImport", "import_on_cluster")

__all__ = [
    "ClusterError",
    "cluster_client",
    "local_workers",
    "ready_workers",
    "scheduler_address",
    "work_folder",
    *_TAGGING,
    *_DEDUPE,
    *_IMPORTING,
]


def __getattr__(name: str) -> Any:
    if name in _TAGGING:
        return getattr(importlib.import_module("synth.distributed.tagging"), name)
    if name in _DEDUPE:
        return getattr(importlib.import_module("synth.distributed.dedupe"), name)
    if name in _IMPORTING:
        return getattr(importlib.import_module("synth.distributed.importing"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
