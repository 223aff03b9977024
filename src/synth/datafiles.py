"""Rule files read once per version: the shared loader of the validated YAML data files.

The codebook, the theme codebook, the sentence roles and the extraction forms are each
parsed and validated by their own module (``parse_*``: the messages name the file, the line
and the rule). What they share lives here: a load keyed by the file's path, size and
modification time, so building many pipelines (one per worker process) reads a file once,
and an edited file is read again; and a YAML reading that remembers each key's line and
its duplicates (PyYAML silently keeps the last), with one message for text that is not
UTF-8 or not YAML.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class LineMap(dict):
    """A mapping that remembers duplicate keys and key lines (PyYAML silently keeps the last)."""

    def __init__(self) -> None:
        super().__init__()
        self.duplicates: list[tuple[Any, int, int]] = []  # key, line, first line
        self.lines: dict[Any, int] = {}


class LineLoader(yaml.SafeLoader):
    """A safe YAML loader whose mappings are :class:`LineMap`."""


def _construct_map(loader: LineLoader, node: yaml.MappingNode) -> LineMap:
    loader.flatten_mapping(node)
    out = LineMap()
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        value = loader.construct_object(value_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in out:
            out.duplicates.append((key, line, out.lines[key]))
            continue
        out[key] = value
        out.lines[key] = line
    return out


LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)


class RuleFileBuilder:
    """What the builders of the validated rule files share (the codebook's, the extraction
    forms'): the file's bytes and name, one error format ("<file>: <where> (line N):
    <problem>", raised as the subclass's ``error``), and the checks of keys and string
    lists every section needs."""

    error: type[Exception] = ValueError

    def __init__(self, raw: bytes, source: Path | str) -> None:
        self.raw = raw
        self.source = str(source)
        self.path = Path(source) if isinstance(source, Path) else None

    def fail(self, where: str, problem: str, line: int | None = None) -> Exception:
        at = f" (line {line})" if line else ""
        where = f" {where}" if where else ""
        return self.error(f"{self.source}:{where}{at}: {problem}")

    def check_keys(self, mapping: dict, allowed: set[str] | None, where: str) -> None:
        """No key twice (a :class:`LineMap` remembers), and none outside ``allowed``."""
        dups = getattr(mapping, "duplicates", [])
        if dups:
            key, line, first = dups[0]
            raise self.fail(where, f"duplicate key {key!r} (first at line {first})", line)
        if allowed is None:
            return
        unknown = [k for k in mapping if k not in allowed]
        if unknown:
            line = getattr(mapping, "lines", {}).get(unknown[0])
            raise self.fail(
                where,
                f"unknown key {unknown[0]!r} (expected one of: {', '.join(sorted(allowed))})",
                line,
            )

    def str_list(self, value: Any, where: str) -> list[str]:
        """A list of strings (None: empty), with a hint for YAML's unquoted yes/no."""
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            hint = ""
            if isinstance(value, list) and any(isinstance(v, bool) for v in value):
                hint = " (YAML reads unquoted yes/no/on/off as true/false: quote them)"
            raise self.fail(where, f"must be a list of strings, got {value!r}{hint}")
        return value


def read_yaml(raw: bytes, fail: Callable[[str, str, int | None], Exception]) -> Any:
    """``raw`` parsed with :class:`LineLoader`; text that is not UTF-8 or not YAML raises
    ``fail(where, problem, line)`` (the caller's error, which names its file)."""
    try:
        return yaml.load(raw.decode("utf-8"), Loader=LineLoader)
    except UnicodeDecodeError as exc:
        raise fail("", f"not UTF-8 text ({exc.reason})", None) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise fail("", f"YAML syntax error: {problem}", line) from exc


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
