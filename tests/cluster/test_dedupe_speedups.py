"""The cluster dedupe's shortcuts keep its result: a task reads the shuffle files it needs
from its own worker's disk (no read task) where the files are there, and through the
workers holding them where they are not (several machines); a round's later calls wait
for the calls they read; features travel with their strings as Arrow arrays; a string
column's values count towards completeness whatever its storage.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import synth.distributed.dedupe as dd
from synth.corpus.dedupe import _completeness, _present, dedupe
from synth.corpus.synthetic import generate_records
from synth.distributed import dedupe_on_cluster


def _same(records: pd.DataFrame, cluster: Any) -> None:
    single = dedupe(records)
    for name in ("groups", "pairs", "rejected"):
        assert_frame_equal(getattr(single, name), getattr(cluster, name))
    assert single.counts == cluster.counts


def _task_names(stream: list[dict[str, Any]]) -> set[str]:
    return {str(d["key"]).split("-", 1)[0] for d in stream}


def test_a_local_clusters_tasks_read_their_files_themselves(client: Any) -> None:
    from distributed import get_task_stream

    records, _ = generate_records(2000, seed=21)
    with get_task_stream(client) as stream:
        result = dedupe_on_cluster(records, client, partition_size=300, buckets=6)
    _same(records, result)
    names = _task_names(stream.data)
    assert "_call" in names
    assert "_read_files" not in names  # every worker sees every file: no read tasks


_READ = dd._read_spilled


def _own_disk_only(path: str) -> bytes:
    """A worker reads only files under its own folder, as on several machines."""
    worker = dd._this_worker()
    if worker is not None and not path.startswith(str(worker.local_directory)):
        raise FileNotFoundError(path)
    return _READ(path)


def test_files_on_other_machines_are_read_through_their_holders(
    threaded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distributed import get_task_stream

    monkeypatch.setattr(dd, "_read_spilled", _own_disk_only)
    records, _ = generate_records(1500, seed=22)
    with get_task_stream(threaded) as stream:
        result = dedupe_on_cluster(records, threaded, partition_size=200, buckets=5)
    _same(records, result)
    assert "_read_files" in _task_names(stream.data)


def test_a_file_on_another_machine_logs_no_failed_task(
    threaded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading through the holders is the plan on several machines, not a failure: no
    worker logs a "Compute Failed" block for it."""
    import logging

    monkeypatch.setattr(dd, "_read_spilled", _own_disk_only)
    seen: list[str] = []

    class Seen(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Seen(level=logging.WARNING)
    loggers = [logging.getLogger(n) for n in ("distributed.worker", "distributed.scheduler")]
    for logger in loggers:
        logger.addHandler(handler)
    from distributed import get_task_stream

    try:
        records, _ = generate_records(1500, seed=23)
        with get_task_stream(threaded) as stream:
            result = dedupe_on_cluster(records, threaded, partition_size=200, buckets=5)
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    _same(records, result)
    assert "_read_files" in _task_names(stream.data)  # the holders were read through
    assert not [m for m in seen if "Compute Failed" in m or "_NotHere" in m], seen


def _plus(*values: int) -> int:
    return sum(values)


def test_a_later_call_is_built_from_the_calls_it_waits_for(threaded: Any) -> None:
    run = dd._Run(threaded, "test-later", 2)
    try:
        results = run.each(
            [
                lambda: (_plus, 1),
                lambda: (_plus, 2),
                dd._Later(range(2), lambda done: (_plus, done[0], done[1], 10)),
                lambda: (_plus, 4),
                dd._Later(range(3, 4), lambda done: (_plus, done[3], 100)),
            ]
        )
    finally:
        run.close()
    assert results == [1, 2, 13, 4, 104]


def test_packed_features_give_back_the_same_arrays() -> None:
    cols = {
        "norm": dd._objects(["a title", "", "é ü 李", "x"]),
        "ntok": np.array([2, 0, 3, 1], dtype=np.int64),
        "flag": np.array([True, False, True, False]),
        "mixed": dd._objects([None, "a", 1, ""]),  # not all strings: kept as it is
    }
    packed = dd._packed(cols)
    assert not isinstance(packed["norm"], np.ndarray)
    rows = np.array([2, 0, 3], dtype=np.int64)
    back = dd._unpacked(dd._take_packed(packed, rows))
    for name, values in cols.items():
        assert back[name].dtype == values.dtype
        assert back[name].tolist() == values[rows].tolist()


@pytest.mark.parametrize("dtype", ["str", "string[pyarrow]", "string[python]", "object"])
def test_a_string_columns_values_count_whatever_its_storage(dtype: str) -> None:
    values = ["x", "", None, "é", " ", float("nan")]
    column = pd.Series(values, dtype=dtype, name="venue")
    assert _present(column).tolist() == [1, 0, 0, 1, 1, 0]
    frame = pd.DataFrame({"record_id": list("abcdef"), "abstract": column, "doi": column})
    as_objects = frame.astype(object)
    assert _completeness(frame).tolist() == _completeness(as_objects).tolist()


def test_a_slim_partitions_first_authors_are_the_records_first_authors() -> None:
    from synth.corpus.dedupe import _features

    records = pd.DataFrame(
        {
            "record_id": [f"r{k}" for k in range(10)],
            "title": ["a title"] * 10,
            "authors": [
                ["Smith; J", "Brown, A."],  # a ';' inside the first name
                ["O'Brien, P.", "Li"],
                [],
                None,
                "Ng, A.; Tan, B.",
                ["", "Li, X."],
                [None, "Li, X."],
                ("Tanaka, A.",),
                ["Müller, K."],
                float("nan"),
            ],
        }
    )
    slim = dd._slim(records)
    # a list left only with a ';' in its first name, empty, or no text first
    lists = [type(v) is list for v in slim["authors"]]
    assert lists == [True, False, True, False, False, False, True, False, False, False]
    whole, cut = _features(records), _features(slim)
    assert cut.family.tolist() == whole.family.tolist()
    assert cut.initial.tolist() == whole.initial.tolist()
    assert whole.family.tolist()[:2] == ["smith", "obrien"]
