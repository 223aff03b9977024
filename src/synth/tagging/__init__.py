"""Tagging records with the codebook's rules: setting, approach, design, country,
publication type and review criteria, each tag with the sentences behind it; and the
learnable layer that refines the rules from reviewers' verdicts (``model_tags``).

Importing :mod:`synth` does not import spaCy; importing this package does (lazily: the
names below load their module on first use).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Codebook": "synth.tagging.codebook",
    "CodebookError": "synth.tagging.codebook",
    "load_codebook": "synth.tagging.codebook",
    "parse_codebook": "synth.tagging.codebook",
    "build_nlp": "synth.tagging.pipeline",
    "CUE_SPANS_KEY": "synth.tagging.pipeline",
    "tag": "synth.tagging.tagger",
    "TAG_COLUMNS": "synth.tagging.tagger",
    "TagRefiner": "synth.tagging.learn",
    "model_tags": "synth.tagging.refine",
    "RefineParams": "synth.tagging.refine",
    "REFINE_FACETS": "synth.tagging.refine",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'synth.tagging' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
