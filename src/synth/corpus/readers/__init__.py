"""Format readers, found by name.

Each reader module has ``parse(text: str, source: str) -> Parsed`` (``source`` is the
file name used in failures); binary formats have ``parse_bytes(data, source)``.
The registry maps names to ``module:function`` strings resolved on first use, so
importing synth does no work and a new format is one line here plus one module.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from synth.corpus.model import Parsed

READERS: dict[str, str] = {
    "bibtex": "synth.corpus.readers.bibtex:parse",
    "ris": "synth.corpus.readers.ris:parse",
    "medline": "synth.corpus.readers.medline:parse",
    "wos": "synth.corpus.readers.wos:parse",
    "endnote": "synth.corpus.readers.endnote:parse",
    "csv": "synth.corpus.readers.tabular:parse_csv",
    "tsv": "synth.corpus.readers.tabular:parse_tsv",
    "markdown": "synth.corpus.readers.markdown:parse",
}

BYTE_READERS: dict[str, str] = {
    "xlsx": "synth.corpus.readers.tabular:parse_xlsx",
}


def _resolve(spec: str) -> Callable[..., Parsed]:
    module, func = spec.split(":")
    return getattr(import_module(module), func)


def text_reader(fmt: str) -> Callable[[str, str], Parsed]:
    return _resolve(READERS[fmt])


def byte_reader(fmt: str) -> Callable[[bytes, str], Parsed]:
    return _resolve(BYTE_READERS[fmt])
