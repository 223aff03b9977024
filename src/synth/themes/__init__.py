"""Thematic synthesis: the review's framework of themes as a codebook in data, passages
assigned to themes by cues and text similarity, per-theme summaries with cited quotes, and
emergent topics that show what the codebook leaves out.

Importing :mod:`synth` does not import this package; the names below load their module (and
scikit-learn, and spaCy when sentences are split) on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Theme": "synth.themes.codebook",
    "ThemeCodebook": "synth.themes.codebook",
    "ThemeCodebookError": "synth.themes.codebook",
    "load_theme_codebook": "synth.themes.codebook",
    "parse_theme_codebook": "synth.themes.codebook",
    "assign_themes": "synth.themes.assign",
    "ASSIGN_COLUMNS": "synth.themes.assign",
    "summarise_themes": "synth.themes.summarise",
    "SUMMARY_COLUMNS": "synth.themes.summarise",
    "emergent_topics": "synth.themes.topics",
    "TOPIC_COLUMNS": "synth.themes.topics",
    "render_theme_summary": "synth.themes.render",
    "render_topics": "synth.themes.render",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'synth.themes' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
