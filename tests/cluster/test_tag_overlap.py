"""What the command does while the workers tag (issue 19, 2 workers against 1): it reads
the first partitions while the workers build their engines, and a streamed run's rows go
from the worker's table to the caller with no Parquet file between."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from synth.corpus.synthetic import generate_records
from synth.distributed import tagging as dtagging
from synth.distributed.tagging import TAG_SCHEMA, tag_frame, tag_partitions
from synth.tagging.codebook import load_codebook
from synth.tagging.tagger import TAG_COLUMNS, tag


def _records() -> pd.DataFrame:
    records, _ = generate_records(30, seed=5)
    return records


def test_streamed_partitions_come_as_the_workers_tables_with_no_file_written(
    client: object, tmp_path: Path
) -> None:
    records, codebook = _records(), load_codebook()
    given: list[pd.DataFrame] = []

    def each(result: dict[str, Any]) -> None:
        assert result["table"].schema.remove_metadata() == TAG_SCHEMA
        given.append(tag_frame(result["table"]))

    out = tmp_path / "parts"
    run = tag_partitions(
        client,  # type: ignore[arg-type]
        records,
        codebook,
        out_dir=out,
        partition_size=10,
        each=each,
    )
    assert len(given) == len(run.partitions) == 3
    assert run.files == [] and not list(out.glob("*.parquet"))
    got = pd.concat(given, ignore_index=True)[TAG_COLUMNS]
    expected = tag(records, codebook=codebook)
    assert run.rows == len(expected) > 0
    assert_frame_equal(got, expected)


def test_the_first_partitions_are_read_while_the_workers_build_their_engines(
    client: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registering the tagger's plugin (each worker builds its engine) waits here until
    the second partition has been read: it must not stand before the reading."""
    records, codebook = _records(), load_codebook()
    second_read = threading.Event()
    register = dtagging._register

    def slow_register(client: Any, plugin: Any) -> None:
        assert second_read.wait(30), "no partition was read while the workers set up"
        register(client, plugin)

    monkeypatch.setattr(dtagging, "_register", slow_register)

    def partitions() -> Iterator[pd.DataFrame]:
        for k in range(0, len(records), 10):
            if k == 10:
                second_read.set()
            yield records.iloc[k : k + 10]

    run = tag_partitions(
        client,  # type: ignore[arg-type]
        partitions(),
        codebook,
        out_dir=tmp_path / "parts",
        partition_size=10,
    )
    assert [p["records"] for p in run.partitions] == [10, 10, 10]
    assert_frame_equal(dtagging.read_tag_partitions(run.files), tag(records, codebook=codebook))


def test_a_plugin_that_cannot_be_registered_stops_the_run_before_any_task(
    client: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(client: Any, plugin: Any) -> None:
        raise RuntimeError("no plugin for you")

    sent: list[object] = []
    monkeypatch.setattr(dtagging, "_register", failing)
    monkeypatch.setattr(client, "submit", lambda *a, **k: sent.append(a))
    with pytest.raises(RuntimeError, match="no plugin for you"):
        tag_partitions(
            client,  # type: ignore[arg-type]
            _records(),
            load_codebook(),
            out_dir=tmp_path / "parts",
            partition_size=10,
        )
    assert sent == []


def test_a_partition_goes_to_the_scheduler_as_bytes_pickled_once(
    client: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler holds a task's partition until it is done (a worker that dies has it
    run elsewhere): given as bytes, it passes them on rather than unpickling the frames
    and pickling them again for the worker (about 1 s of the command's CPU at 100,000
    records)."""
    records, codebook = _records(), load_codebook()
    payloads: list[object] = []
    submit = client.submit  # type: ignore[attr-defined]

    def spy(func: Any, *args: Any, **kwargs: Any) -> Any:
        if func is dtagging._tag_partition:
            payloads.append(args[2])
        return submit(func, *args, **kwargs)

    monkeypatch.setattr(client, "submit", spy)
    run = tag_partitions(
        client,  # type: ignore[arg-type]
        records,
        codebook,
        out_dir=tmp_path / "parts",
        partition_size=10,
    )
    assert len(payloads) == 3 and all(isinstance(p, bytes) for p in payloads)
    assert [len(pickle.loads(p)[0]) for p in payloads] == [10, 10, 10]  # type: ignore[arg-type]
    assert_frame_equal(dtagging.read_tag_partitions(run.files), tag(records, codebook=codebook))
