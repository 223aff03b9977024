"""The report's manifest: what went in, so a report can be traced and reproduced.

Parameters, synth's version, the git commit of a source checkout, Python and package
versions, the SHA-256 of every input (corpus files, review.yml, the tagger's codebook,
criteria rules, the theme codebook and other rule files, and each notebook), and every
figure each page shows (``pages.<page>.figures``).
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from synth import __version__

#: Packages whose versions change what a report shows.
PACKAGES = (
    "pandas", "numpy", "plotly", "papermill", "nbconvert", "nbformat", "ipykernel",
    "scikit-learn", "spacy", "rapidfuzz", "bibtexparser", "rispy", "pyyaml",
)  # fmt: skip
SOURCE_ROOT = Path(__file__).resolve().parents[3]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(root: Path = SOURCE_ROOT) -> dict[str, Any] | None:
    """``{"commit", "dirty"}`` of the checkout synth runs from, or None outside git."""
    if not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, timeout=20,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def hash_inputs(
    groups: Mapping[str, Iterable[Path]], *, relative_to: Path | None = None
) -> dict[str, dict[str, str]]:
    """``{group: {file: sha256}}`` for every existing file (folders are walked)."""
    out: dict[str, dict[str, str]] = {}
    for group, paths in groups.items():
        files: dict[str, str] = {}
        for path in paths:
            path = Path(path)
            members = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
            for f in members:
                if f.is_file():
                    files[_shown(f, relative_to)] = sha256_file(f)
        out[group] = files
    return out


def _shown(path: Path, root: Path | None) -> str:
    resolved = path.resolve()
    for base in (root, SOURCE_ROOT):
        if base is not None and resolved.is_relative_to(base.resolve()):
            return resolved.relative_to(base.resolve()).as_posix()
    return str(path)


def build_manifest(
    *,
    parameters: Mapping[str, Any],
    inputs: Mapping[str, dict[str, str]],
    outputs: Mapping[str, Any],
    timings: Mapping[str, float],
    pages: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest as a JSON-ready dict.

    ``pages``: per report page, its file and every figure it shows (``figures``: name ->
    count, None where the review does not report one; see :mod:`synth.report.figures`),
    so a reader or a test can check that a figure on two pages agrees.
    """
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "synth_version": __version__,
        "git": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "parameters": dict(parameters),
        "inputs": dict(inputs),
        "outputs": dict(outputs),
        "pages": dict(pages or {}),
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
    }


def write_manifest(path: Path, manifest: Mapping[str, Any]) -> Path:
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n", "utf-8")
    return path
