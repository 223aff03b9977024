"""Screening: decisions as events, prioritisation by active learning, stopping, simulation.

Importing this package imports nothing heavy: the names below load their module on
first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DECISIONS": "synth.screening.decisions",
    "STAGES": "synth.screening.decisions",
    "current_decisions": "synth.screening.decisions",
    "decision_history": "synth.screening.decisions",
    "final_decisions": "synth.screening.decisions",
    "import_decisions": "synth.screening.decisions",
    "record_decision": "synth.screening.decisions",
    "retract_decision": "synth.screening.decisions",
    "valid_reasons": "synth.screening.decisions",
    "agreement": "synth.screening.reviewers",
    "blinded_view": "synth.screening.reviewers",
    "cohens_kappa": "synth.screening.reviewers",
    "conflicts": "synth.screening.reviewers",
    "missing_second_screening": "synth.screening.reviewers",
    "percent_agreement": "synth.screening.reviewers",
    "resolve_conflict": "synth.screening.reviewers",
    "load_settings": "synth.screening.settings",
    "save_settings": "synth.screening.settings",
    "settings_history": "synth.screening.settings",
    "PrismaCounts": "synth.screening.prisma",
    "prisma_counts": "synth.screening.prisma",
    "ScreeningQueue": "synth.screening.queue",
    "QueueFilter": "synth.screening.queue",
    "ScreeningApp": "synth.screening.app",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'synth.screening' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
