"""Progress bars for long work, one kind everywhere.

tqdm starts a monitor thread with its first bar. A live thread makes
:func:`synth.parallel.mp_context` start workers through a forkserver instead of forking
(forking a threaded process can deadlock): each worker then re-imports spaCy and rebuilds
its pipeline, and ``synth tag`` with its bar ran 2 processes a fifth or more slower than
without it (40,000 records: 15-18 s against 12-14 s). These bars have no monitor (it
only retunes bars that update rarely; ours update per file or chunk), so a command with
a bar forks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm


class _Bar(tqdm):  # type: ignore[misc, valid-type]
    monitor_interval = 0  # no monitor thread (see the module docstring)


def progress_bar(iterable: Iterable[Any] | None = None, **kwargs: Any) -> Any:
    """A tqdm bar (text in a terminal, a widget in Jupyter) that starts no thread."""
    return _Bar(iterable, **kwargs)
