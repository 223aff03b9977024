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

import sys
from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm


class _Bar(tqdm):  # type: ignore[misc, valid-type]
    monitor_interval = 0  # no monitor thread (see the module docstring)
    quiet_labels = False  # set for a bar written to a log: a new label waits for a redraw

    def set_postfix(self, ordered_dict: Any = None, refresh: bool = True, **kwargs: Any) -> None:
        super().set_postfix(ordered_dict, refresh=refresh and not self.quiet_labels, **kwargs)

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        super().set_postfix_str(s, refresh=refresh and not self.quiet_labels)

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        super().set_description(desc, refresh=refresh and not self.quiet_labels)


#: Seconds between a text bar's redraws when its output is a log, not a terminal.
LOG_INTERVAL = 30.0


def progress_bar(iterable: Iterable[Any] | None = None, **kwargs: Any) -> Any:
    """A tqdm bar (text in a terminal, a widget in Jupyter) that starts no thread.

    Written to a log (CI, a redirected ``synth review run``) a text bar redraws every
    :data:`LOG_INTERVAL` seconds instead of ten times a second: a log keeps every redraw,
    and a 22-file import filled a screen with them.
    """
    to_log = not _is_widget() and not _is_terminal(kwargs)
    if to_log:
        kwargs.setdefault("mininterval", LOG_INTERVAL)
    bar = _Bar(iterable, **kwargs)
    bar.quiet_labels = to_log
    return bar


def _is_widget() -> bool:
    from tqdm.notebook import tqdm as notebook_bar

    return issubclass(_Bar, notebook_bar)


def _is_terminal(kwargs: dict[str, Any]) -> bool:
    file = kwargs.get("file") or sys.stderr
    try:
        return bool(file.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
