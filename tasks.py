#!/usr/bin/env python3
"""Set up and run synth with nothing but Python 3.11+ on the machine.

    python3 tasks.py review   # install into .venv (first time), then run the review on corpus/
    python3 tasks.py test     # install into .venv (first time), then lint and run the tests
    python3 tasks.py setup    # only install, and say how to put `synth` on PATH

Installs the pinned versions in requirements.lock, then synth itself (editable), into
``.venv`` beside this file; re-installs only when pyproject.toml or the lock changes.
Extra arguments after the task go to the command (``tasks.py test -k bibtex``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".synth-install-stamp"


def _fingerprint() -> str:
    h = hashlib.sha256()
    for name in ("pyproject.toml", "requirements.lock"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def run(*cmd: str | Path) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    code = subprocess.call([str(c) for c in cmd], cwd=ROOT)
    if code:
        sys.exit(code)


def setup() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 (run by whatever python3 is present)
        sys.exit(f"synth needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"creating {VENV.relative_to(ROOT)} ...", flush=True)
        venv.create(VENV, with_pip=True)
    if STAMP.exists() and STAMP.read_text() == _fingerprint():
        return
    run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PY, "-m", "pip", "install", "--quiet", "-r", "requirements.lock")
    run(PY, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", ".")
    STAMP.write_text(_fingerprint())


def activation_hint() -> str:
    """How to put ``synth`` on PATH: the two commands install it into .venv, not globally."""
    if os.name == "nt":
        activate = rf"{VENV.name}\Scripts\activate"
    else:
        activate = f"source {VENV.name}/bin/activate"
    synth = (BIN / "synth").relative_to(ROOT)
    return (
        f"synth is installed in {VENV.name}/: run `{activate}` to put `synth` on your PATH "
        f"(or call {synth} directly)"
    )


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in {"review", "test", "setup"}:
        sys.exit(__doc__)
    task, rest = argv[0], argv[1:]
    setup()
    if task == "setup":
        print(activation_hint())
    elif task == "review":
        run(BIN / "synth", "review", "run", "--corpus", "corpus/kei-2020", *rest)
        print(activation_hint())
    elif task == "test":
        run(BIN / "ruff", "check", "src", "tests", "benchmarks", "scripts", "tasks.py")
        run(BIN / "ruff", "format", "--check", "src", "tests", "benchmarks", "scripts", "tasks.py")
        run(PY, "-m", "pytest", *rest)


if __name__ == "__main__":
    main(sys.argv[1:])
