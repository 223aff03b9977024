"""Mends of the cluster dedupe from a review: runs sharing a scheduler keep their own
per-record arrays; a frame without titles; no futures of a run held after reads through
the holders; a lost partition stops the run with the lost-worker message; DOIs with a
lone surrogate; a round's later calls wait only for earlier calls."""

from __future__ import annotations

import gc
import threading
from typing import Any

import numpy as np
import pandas as pd
import pytest

import synth.distributed.dedupe as dd
from synth.corpus.synthetic import generate_records
from synth.distributed import ClusterError, dedupe_on_cluster
from tests.cluster.test_dedupe_speedups import _own_disk_only, _same

# -- 1: the per-record arrays under a key of the run's own --------------------------------


def test_a_run_beside_another_clients_arrays_on_the_scheduler(client: Any) -> None:
    """Another client of the scheduler holds data under the names of the per-record
    arrays (as a run of another command did: they were scattered under "year",
    "length"...): this run reads its own."""
    from distributed import Client

    with Client(client.scheduler.address) as other:
        held = other.scatter(
            {
                name: np.zeros(7, dtype=np.int64)
                for name in ("secondary", "year", "length", "main_len")
            },
            broadcast=True,
            hash=False,
        )
        records, _ = generate_records(900, seed=31)
        result = dedupe_on_cluster(records, client, partition_size=300, buckets=4)
        del held
    _same(records, result)


@pytest.mark.parametrize("sizes", [(600, 600), (900, 400)])
def test_runs_in_a_row_on_one_client(client: Any, sizes: tuple[int, int]) -> None:
    first, _ = generate_records(sizes[0], seed=32)
    second, _ = generate_records(sizes[1], seed=33)
    a = dedupe_on_cluster(first, client, partition_size=200, buckets=3)
    b = dedupe_on_cluster(second, client, partition_size=200, buckets=3)
    _same(first, a)
    _same(second, b)


def test_two_clients_run_at_once_on_one_scheduler(client: Any) -> None:
    from distributed import Client

    frames = [generate_records(1500, seed=34)[0], generate_records(700, seed=35)[0]]
    out: dict[int, Any] = {}

    def go(k: int, c: Any) -> None:
        try:
            out[k] = dedupe_on_cluster(frames[k], c, partition_size=250, buckets=4)
        except Exception as exc:  # shown by the assertion below
            out[k] = exc

    with Client(client.scheduler.address) as c0, Client(client.scheduler.address) as c1:
        threads = [threading.Thread(target=go, args=(k, c)) for k, c in enumerate((c0, c1))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for k, records in enumerate(frames):
        assert not isinstance(out[k], Exception), out[k]
        _same(records, out[k])


# -- 2: no record with a title ------------------------------------------------------------


@pytest.mark.parametrize("title", ["", None])
def test_a_frame_without_titles(client: Any, title: str | None) -> None:
    records = pd.DataFrame(
        {
            "record_id": [f"r{k}" for k in range(6)],
            "title": pd.Series([title] * 6, dtype=object),
            "authors": [["Smith, J"]] * 6,
            "year": [2000] * 6,
        }
    )
    result = dedupe_on_cluster(records, client, partition_size=2, buckets=3)
    assert result.counts["duplicates"] == 0
    _same(records, result)


# -- 3: no futures of a run held after reads through the holders --------------------------


def test_reads_through_the_holders_leave_no_futures_held(
    threaded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dd, "_read_spilled", _own_disk_only)
    for seed in (36, 37):
        records, _ = generate_records(900, seed=seed)
        result = dedupe_on_cluster(records, threaded, partition_size=300, buckets=4)
        _same(records, result)
        del result
    gc.collect()
    held = {k: v for k, v in threaded.refcount.items() if v}
    assert held == {}, sorted(held)[:5]
    assert not threaded.futures


# -- 4: a partition lost before its task ran -----------------------------------------------


def test_a_partition_forgotten_before_its_task_stops_the_run_as_lost(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scattered partition's data gone (as with its worker killed just after the
    scatter): the run stops with the lost-worker message, not a raw cancellation."""
    real = dd._Run._read

    def lost(self: Any, arg: Any) -> Any:
        sent = real(self, arg)
        if isinstance(arg, pd.DataFrame):
            self.client.cancel(sent)
        return sent

    monkeypatch.setattr(dd._Run, "_read", lost)
    records, _ = generate_records(600, seed=38)
    with pytest.raises(ClusterError, match=r"a Dask worker was lost.*nothing was written"):
        dedupe_on_cluster(records, client, partition_size=200, buckets=3)


def test_a_worker_gone_while_the_arrays_are_scattered_stops_the_run_as_lost(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection to a worker killed while the per-record arrays are broadcast
    closes under the scatter (as a worker killed 0.7 s into a run did)."""
    from distributed.comm import CommClosedError

    real = client.scatter

    def scatter(data: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("broadcast"):
            raise CommClosedError("in <TCP (closed) ConnectionPool.scatter>: Stream is closed")
        return real(data, *args, **kwargs)

    monkeypatch.setattr(client, "scatter", scatter)
    records, _ = generate_records(300, seed=39)
    with pytest.raises(ClusterError, match=r"a Dask worker was lost.*nothing was written"):
        dedupe_on_cluster(records, client, partition_size=100, buckets=3)


# -- 5: a DOI with a lone surrogate --------------------------------------------------------


def test_a_doi_with_a_lone_surrogate(client: Any) -> None:
    records, _ = generate_records(300, seed=4)
    doi = records["doi"].astype(object).tolist()
    doi[5] = doi[6] = "10.1000/caf\udce9"
    records["doi"] = pd.Series(doi, dtype=object)
    result = dedupe_on_cluster(records, client, partition_size=100, buckets=3)
    _same(records, result)
    groups = result.groups.set_index("record_id")["group_id"]
    ids = records["record_id"].tolist()
    assert groups[ids[5]] == groups[ids[6]]  # one DOI: one paper
    assert dd._hash_strings(["10.1000/caf\udce9"], 0)[0] != dd._hash_strings(["10.1000/caf"], 0)[0]


# -- 6: a round's calls --------------------------------------------------------------------


def _plus(*values: int) -> int:
    return sum(values)


@pytest.mark.parametrize("waits", [range(1, 3), range(2, 3)])
def test_a_later_call_may_wait_only_for_earlier_calls(threaded: Any, waits: range) -> None:
    run = dd._Run(threaded, "test-later-order", 2)
    try:
        with pytest.raises(ValueError, match="only earlier calls"):
            run.each(
                [
                    lambda: (_plus, 1),
                    lambda: (_plus, 2),
                    dd._Later(waits, lambda done: (_plus, done[1], done[2])),
                ]
            )
    finally:
        run.close()
