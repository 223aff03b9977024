"""A report run's partial folder: never emptied by another run (two containers on one
volume may share a pid, or see no pid of each other's), and left-behind ones swept."""

from __future__ import annotations

import os
import time
from pathlib import Path

from synth.report.run import STALE_PARTIAL_SECONDS, _replace_dir, _staging_dir

#: a pid no process here has (a run in another PID namespace looks like this)
UNSEEN_PID = 2**22 + 12345


def _partial(parent: Path, name: str, *, idle: float) -> Path:
    """A partial folder with one page, last written ``idle`` seconds ago."""
    folder = parent / name
    folder.mkdir()
    page = folder / "01_corpus_overview.html"
    page.write_text("<p>page</p>", encoding="utf-8")
    then = time.time() - idle
    for path in (page, folder):
        os.utime(path, (then, then))
    return folder


def test_two_runs_of_one_process_get_folders_of_their_own(tmp_path: Path) -> None:
    final = tmp_path / "reports" / "kei"
    first = _staging_dir(final)
    (first / "page.html").write_text("first run", encoding="utf-8")
    second = _staging_dir(final)
    assert first != second and first.is_dir() and second.is_dir()
    assert (first / "page.html").read_text(encoding="utf-8") == "first run"  # not emptied
    assert first.name.startswith(f".kei.partial-{os.getpid()}-")


def test_a_live_run_in_another_namespace_keeps_its_pages(tmp_path: Path) -> None:
    final = tmp_path / "kei"
    other = _partial(tmp_path, f".kei.partial-{UNSEEN_PID}-abc", idle=5)
    older_form = _partial(tmp_path, f".kei.partial-{UNSEEN_PID + 1}", idle=5)
    _staging_dir(final)
    assert (other / "01_corpus_overview.html").is_file()
    assert (older_form / "01_corpus_overview.html").is_file()  # was removed by its pid alone


def test_a_killed_runs_folder_is_swept_once_left_long_enough(tmp_path: Path) -> None:
    final = tmp_path / "kei"
    left = _partial(tmp_path, f".kei.partial-{UNSEEN_PID}-abc", idle=STALE_PARTIAL_SECONDS + 60)
    old_form = _partial(tmp_path, f".kei.partial-{UNSEEN_PID + 1}", idle=STALE_PARTIAL_SECONDS + 60)
    mine = _partial(tmp_path, f".kei.partial-{os.getpid()}-def", idle=STALE_PARTIAL_SECONDS + 60)
    _staging_dir(final)
    assert not left.exists() and not old_form.exists()
    assert mine.is_dir()  # its process (this one) still runs


def test_replacing_a_report_leaves_no_old_folder(tmp_path: Path) -> None:
    final = tmp_path / "kei"
    final.mkdir()
    (final / "index.html").write_text("old report", encoding="utf-8")
    staging = _staging_dir(final)
    (staging / "index.html").write_text("new report", encoding="utf-8")
    _replace_dir(staging, final)
    assert (final / "index.html").read_text(encoding="utf-8") == "new report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kei"]
