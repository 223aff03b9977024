"""Choosing a cluster: ``--cluster local[:N]``, ``--scheduler tcp://HOST:PORT``, or neither.

Bad values and a scheduler that does not answer are one clear error naming them, before
anything is tagged; without either switch, today's single-machine path runs.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synth.cli import app
from synth.distributed import ClusterError, cluster_client, local_workers, scheduler_address
from synth.distributed import cluster as cluster_module
from synth.parallel import default_workers

runner = CliRunner()


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_local_takes_a_worker_count_or_one_per_core() -> None:
    assert local_workers("local:3") == 3
    assert local_workers(" local:1 ") == 1
    assert local_workers("local") == default_workers()


@pytest.mark.parametrize("value", ["local:0", "local:two", "remote", "local:-1", "", "tcp://x:1"])
def test_a_bad_cluster_value_is_named(value: str) -> None:
    with pytest.raises(ClusterError, match="--cluster") as exc:
        local_workers(value)
    assert repr(value) in str(exc.value)


def test_a_scheduler_is_an_address_with_a_port() -> None:
    assert scheduler_address("tcp://10.1.2.3:8786") == "tcp://10.1.2.3:8786"
    assert scheduler_address("tls://scheduler.example:8786") == "tls://scheduler.example:8786"
    for value in ("scheduler:8786", "tcp://host", "tcp://host:0", "http://host:8786", "local:2"):
        with pytest.raises(ClusterError, match="--scheduler") as exc:
            scheduler_address(value)
        assert repr(value) in str(exc.value)


def test_neither_switch_means_no_client_and_both_are_refused() -> None:
    with cluster_client(None, None) as client:
        assert client is None
    with pytest.raises(ClusterError, match="exclusive"), cluster_client("local:1", "tcp://h:8786"):
        pass


def test_an_unreachable_scheduler_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster_module, "CONNECT_TIMEOUT", 1.0)
    address = f"tcp://127.0.0.1:{_closed_port()}"
    with pytest.raises(ClusterError) as exc, cluster_client(scheduler=address):
        pass
    assert address in str(exc.value) and "dask scheduler" in str(exc.value)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--cluster", "locale:2"], "'locale:2'"),
        (["--cluster", "local:0"], "at least 1"),
        (["--scheduler", "my-cluster"], "'my-cluster'"),
        (["--cluster", "local:2", "--scheduler", "tcp://127.0.0.1:8786"], "exclusive"),
    ],
)
def test_the_command_refuses_a_bad_switch_clearly(
    kei_tagged_db: Path, copy_db: Callable[..., Path], args: list[str], named: str
) -> None:
    from synth.store import connect
    from synth.store.tags import latest_run

    db = copy_db(kei_tagged_db)
    con = connect(db)
    try:
        before = latest_run(con)
    finally:
        con.close()
    result = runner.invoke(app, ["tag", "--db", str(db), "--no-progress", *args])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and named in result.output
    assert "Traceback" not in result.output
    con = connect(db)
    try:  # nothing was tagged
        assert latest_run(con) == before
    finally:
        con.close()


def test_the_command_names_an_unreachable_scheduler(
    kei_imported_db: Path, copy_db: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster_module, "CONNECT_TIMEOUT", 1.0)
    address = f"tcp://127.0.0.1:{_closed_port()}"
    db = copy_db(kei_imported_db)
    result = runner.invoke(app, ["tag", "--db", str(db), "--no-progress", "--scheduler", address])
    assert result.exit_code == 2, result.output
    assert address in result.output and "no Dask scheduler answered" in result.output
    assert "Traceback" not in result.output
