"""The review store: one SQLite file per review, the single source of truth.

Records, sources, duplicate groups, extracts, full texts, tags and reviewers' decisions
(append-only events) live here; DataFrames are views read from it.
"""

from synth.store.adapters import register_numpy_adapters
from synth.store.db import StoreError, connect, schema_version
from synth.store.duplicates import link_extracts, refresh_duplicates, split_records
from synth.store.imports import ImportReport, import_paths, store_totals
from synth.store.views import (
    load_extracts,
    load_failures,
    load_fulltexts,
    load_pairs,
    load_records,
    load_sources,
)

register_numpy_adapters()

__all__ = [
    "ImportReport",
    "StoreError",
    "connect",
    "import_paths",
    "link_extracts",
    "load_extracts",
    "load_failures",
    "load_fulltexts",
    "load_pairs",
    "load_records",
    "load_sources",
    "refresh_duplicates",
    "schema_version",
    "split_records",
    "store_totals",
]
