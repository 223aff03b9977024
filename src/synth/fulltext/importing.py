"""Import PDFs into a review store: read each, store it, and report those that cannot be read.

:func:`synth.store.imports.import_paths` hands the PDFs it finds here after the folder's
reference files are stored, then links them (:func:`synth.fulltext.links.link_pdfs`), so
the links see the references imported beside them. A PDF that cannot be read (encrypted,
no text layer, empty, truncated, not a PDF) is one row of the store's failures report
naming the file and the reason, never a traceback; the other files still load.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synth.corpus.model import Failure
from synth.store import fulltexts as store

log = logging.getLogger(__name__)


def relative_file(path: Path, roots: Iterable[Path]) -> str:
    """``path`` as given relative to the folder it was imported from (its name when it was
    given itself), with forward slashes: the name the store and the reports use."""
    for root in roots:
        if root.is_dir() and path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    return path.name


@dataclass
class PdfImport:
    """What importing PDFs did: a report row per file, the failures, the ids stored."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    pdf_ids: list[int] = field(default_factory=list)


def _row(path: Path, status: str, *, failed: int = 0, fulltexts: int = 0) -> dict[str, Any]:
    return {
        "file": str(path), "format": "pdf", "database": None, "read": 0, "failed": failed,
        "warnings": 0, "new": 0, "already": 0, "extracts": 0, "fulltexts": fulltexts,
        "status": status,
    }  # fmt: skip


def _read(path: Path) -> Any:
    """The read PDF, or the reason it cannot be read (any reader error, in one sentence)."""
    from synth.fulltext.pdf import PdfError, read_pdf

    try:
        return read_pdf(path)
    except PdfError as exc:
        return exc.reason
    except Exception as exc:  # a reader bug must not take the other files down
        log.debug("reading %s failed", path, exc_info=True)
        return f"could not be read ({type(exc).__name__}: {exc})"


def import_pdfs(
    con: sqlite3.Connection, paths: Iterable[Path], roots: Iterable[Path], bar: Any = None
) -> PdfImport:
    """Read and store each PDF in ``paths`` (one at a time: memory holds one PDF).

    ``roots`` are the files and folders the import was given: a PDF is stored under its
    path relative to its folder. Returns the report rows (format ``pdf``; ``fulltexts``
    1 for a PDF stored), the failures and the ids of the PDFs stored or found stored.
    """
    from synth.store.imports import store_unreadable

    roots = list(roots)
    out = PdfImport()
    for path in paths:
        if bar is not None:
            bar.set_postfix_str(path.name[:40])
        file = relative_file(path, roots)
        doc = _read(path)
        if isinstance(doc, str):
            store_unreadable(con, file, doc)
            out.failures.append(Failure(file, None, None, doc, ""))
            out.rows.append(_row(path, f"not read: {doc}", failed=1))
        else:
            pdf_id, new = store.store_pdf(con, doc, file, path.stat().st_size)
            out.pdf_ids.append(pdf_id)
            status = "imported" if new else "unchanged (imported before)"
            out.rows.append(_row(path, status, fulltexts=1))
        if bar is not None:
            bar.update(1)
    return out
