"""The shared loader of the rule files: read once per file version, errors naming the file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from synth.datafiles import load_cached
from synth.tagging.codebook import CodebookError, load_codebook
from synth.tagging.codebook import default_path as codebook_path
from synth.tagging.sentence_roles import SentenceRolesError, load_sentence_roles
from synth.tagging.sentence_roles import default_path as roles_path
from synth.themes.codebook import ThemeCodebookError, load_theme_codebook
from synth.themes.codebook import default_path as themes_path

LOADERS = [
    (load_codebook, codebook_path, CodebookError, "codebook"),
    (load_theme_codebook, themes_path, ThemeCodebookError, "theme codebook"),
    (load_sentence_roles, roles_path, SentenceRolesError, "sentence roles"),
]


class Counted:
    """A parser that counts its calls (the shared cache must spare the second)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, data: bytes, *, source: Path) -> tuple[str, bytes]:
        self.calls += 1
        return str(source), data


def test_a_file_is_parsed_once_per_version(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_bytes(b"a: 1\n")
    parse = Counted()
    first = load_cached(path, parse, ValueError, "rules")
    assert load_cached(path, parse, ValueError, "rules") is first
    assert parse.calls == 1
    path.write_bytes(b"a: 22\n")  # an edit (another size) is read again
    assert load_cached(path, parse, ValueError, "rules") == (str(path), b"a: 22\n")
    assert parse.calls == 2


def test_an_unreadable_file_is_the_callers_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match=r"nowhere\.yml: cannot read the rules \("):
        load_cached(tmp_path / "nowhere.yml", Counted(), KeyError, "rules")


@pytest.mark.parametrize(("load", "default", "error", "what"), LOADERS)
def test_each_rule_file_loads_through_the_shared_cache(
    load: Callable, default: Callable[[], Path], error: type[Exception], what: str, tmp_path: Path
) -> None:
    copy = tmp_path / default().name
    copy.write_bytes(default().read_bytes())
    rules = load(copy)
    assert load(copy) is rules  # cached
    stat = copy.stat()
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert load(copy) is not rules  # a new version is parsed again
    with pytest.raises(error, match=rf"missing\.yml: cannot read the {what} \("):
        load(tmp_path / "missing.yml")
