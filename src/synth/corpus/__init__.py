"""Reading reference exports and extracts into one record schema, and deduplicating them."""

from synth.corpus.model import (
    EXTRACT_COLUMNS,
    FAILURE_COLUMNS,
    FULLTEXT_COLUMNS,
    RECORD_COLUMNS,
    Failure,
    Parsed,
    ReadError,
)
from synth.corpus.reading import FileResult, ReadResult, read, read_file

__all__ = [
    "EXTRACT_COLUMNS",
    "FAILURE_COLUMNS",
    "FULLTEXT_COLUMNS",
    "RECORD_COLUMNS",
    "Failure",
    "FileResult",
    "Parsed",
    "ReadError",
    "ReadResult",
    "read",
    "read_file",
]
