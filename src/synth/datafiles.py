"""Rule files read once per version: the shared loader of the validated YAML data files.

The codebook, the theme codebook and the sentence roles are each parsed and validated by
their own module (``parse_*``: the messages name the file, the line and the rule). What
they share lives here: a load keyed by the file's path, size and modification time, so
building many pipelines (one per worker process) reads a file once, and an edited file is
read again.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def load_cached(
    path: Path, parse: Callable[..., T], error: Callable[[str], Exception], what: str
) -> T:
    """``parse(path's bytes, source=path)`` (a module's ``parse_*``), cached by path, size
    and modification time.

    A file that cannot be read raises ``error("<path>: cannot read the <what> (<why>)")``.
    """
    try:
        st = path.stat()
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror or exc})") from exc
    return _parsed(parse, str(path), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=32)
def _parsed(parse: Callable[..., Any], path: str, size: int, mtime: int) -> Any:
    """One parse per (parser, file version): ``size`` and ``mtime`` are only the key."""
    p = Path(path)
    return parse(p.read_bytes(), source=p)
