"""Kill a writer process mid-stream, for the tests that every committed write survives.

A writer (``target(*args, log)``) appends one line per write it saw committed to ``log``;
:func:`kill_writer_mid_stream` starts it ``rounds`` times, lets it commit at least
``per_round`` more writes, kills it with SIGKILL at a random moment, and returns the lines
the writers reported (each split on whitespace). The caller checks them against the store.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _lines(log: Path) -> int:
    return log.read_text("utf-8").count("\n") if log.exists() else 0


def kill_writer_mid_stream(
    target: Callable[..., Any],
    args: tuple[Any, ...],
    log: Path,
    *,
    seed: int,
    rounds: int = 3,
    per_round: int = 40,
) -> list[list[str]]:
    """Run ``target(*args, str(log))`` in a spawned process ``rounds`` times, each killed
    with SIGKILL after at least ``per_round`` more reported writes; the reported lines."""
    ctx = mp.get_context("spawn")
    rng = random.Random(seed)
    for round_ in range(rounds):
        before = _lines(log)
        proc = ctx.Process(target=target, args=(*args, str(log)))
        proc.start()
        deadline = time.monotonic() + 60
        while _lines(log) < before + per_round:
            assert proc.is_alive(), "the writer died on its own"
            assert time.monotonic() < deadline, "the writer made no progress"
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.05))  # land the kill anywhere in the stream
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(30)
        assert proc.exitcode == -signal.SIGKILL, f"round {round_}"
    return [
        line.split() for line in log.read_text("utf-8").splitlines(keepends=True)
        if line.endswith("\n")
    ]  # fmt: skip
