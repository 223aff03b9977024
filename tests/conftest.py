"""Shared fixtures: paths are built from this file, never from the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
FIXTURES = TESTS / "fixtures"
PEER = ROOT.parent / "shared" / "peer-data"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def peer_data() -> Path:
    """The real exports beside the project; tests using it are marked ``peer``."""
    if not PEER.is_dir():
        pytest.skip(f"peer data not found at {PEER} (it sits beside the project in CI)")
    return PEER
