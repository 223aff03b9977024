"""tasks.py: the two README commands install into .venv and say how to reach `synth`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parents[1]


def _tasks():  # type: ignore[no-untyped-def]
    return load_script("tasks.py")


@pytest.mark.skipif(os.name == "nt" or not shutil.which("bash"), reason="needs a POSIX shell")
def test_the_activation_hint_puts_synth_on_path() -> None:
    tasks = _tasks()
    if not (tasks.BIN / "synth").exists():
        pytest.skip("no .venv here (tests run from another environment, e.g. conda)")
    hint = tasks.activation_hint()
    command = re.search(r"`(source [^`]+)`", hint)
    assert command, hint
    found = subprocess.run(
        ["bash", "-c", f"{command.group(1)} && command -v synth"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/")},
    )
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()).resolve() == (tasks.BIN / "synth").resolve()


def test_setup_prints_the_hint_without_reinstalling() -> None:
    tasks = _tasks()
    if not tasks.STAMP.exists() or tasks.STAMP.read_text() != tasks._fingerprint():
        pytest.skip("no up-to-date .venv here: setup would install, which is not this test's job")
    out = subprocess.run(
        [os.fspath(tasks.PY), "tasks.py", "setup"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "activate" in out.stdout and "pip install" not in out.stdout
