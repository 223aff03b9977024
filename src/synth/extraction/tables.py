"""Tables a reviewer pastes into a manuscript: characteristics of the included studies,
their appraisal, and the summary of findings, as DataFrames and as CSV, XLSX or DOCX.

The builders read the store through the same derived values the app and the report
show (:func:`synth.extraction.values.resolved_values`), so an export never disagrees
with the screen. Every cell is display text (a value that no longer fits its edited form
is kept and flagged, two extractors who disagree are shown as a conflict), which is what
a manuscript table holds and what reads back the same from every format.

:func:`write_table` picks the format from the file's suffix. Other people's words are
data in every format: a CSV cell that would run as a formula is neutralised as every CSV
synth writes (:mod:`synth.corpus.writers.csv`), an XLSX cell is typed as text (never a
formula), and a DOCX cell is plain text in a Word table. The ``citation`` column links to
its paper (``link``: the DOI resolver, else the record's web address) in XLSX and DOCX;
the link stays a column of its own so that every format carries the same values.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

#: The paper's short citation ("Bombard et al. 2018", :mod:`synth.corpus.citation`).
CITATION_COLUMN = "citation"
#: The paper's web address (``https://doi.org/<doi>``, else its http(s) url, else empty).
LINK_COLUMN = "link"

TABLE_FORMATS = (".csv", ".xlsx", ".docx")

#: Characters XML 1.0 (so XLSX and DOCX) cannot hold: C0 controls except tab, LF, CR.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: What an illegal character becomes (shown, so the loss is visible, never silent).
_REPLACEMENT = "\ufffd"
#: Excel's limits on a sheet's name.
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
_SHEET_NAME_MAX = 31
#: Word's own hyperlink blue (the default template has no Hyperlink character style).
_LINK_COLOUR_HEX = "0563C1"


def write_table(table: pd.DataFrame, path: Path | str, *, title: str | None = None) -> Path:
    """Write ``table`` as CSV, XLSX or DOCX, chosen by ``path``'s suffix.

    ``title`` names the XLSX sheet and heads the DOCX table (CSV has no place for it).
    An empty table still writes its header row. Raises ValueError naming the file for
    any other suffix.
    """
    path = Path(path)
    writer = _WRITERS.get(path.suffix.lower())
    if writer is None:
        raise ValueError(
            f"{path}: cannot write a table as {path.suffix or 'a file without a suffix'!r}; "
            f"use one of {', '.join(TABLE_FORMATS)}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    writer(table, path, title)
    return path


def _write_csv(table: pd.DataFrame, path: Path, title: str | None) -> None:
    from synth.corpus.writers.csv import write_table as write_csv_table

    write_csv_table(table, path)


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and pd.isna(value)


def _text(value: Any) -> str:
    """A cell as XML-safe text (missing -> empty)."""
    if _is_missing(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a count in a column with gaps (pandas makes it float): "3"
    return _XML_ILLEGAL.sub(_REPLACEMENT, str(value))


def _links(table: pd.DataFrame) -> list[str]:
    """Each row's link for its citation cell (empty when the table has no link column)."""
    if CITATION_COLUMN not in table.columns or LINK_COLUMN not in table.columns:
        return [""] * len(table)
    return [_text(v) for v in table[LINK_COLUMN]]


def _sheet_name(title: str | None) -> str:
    name = _SHEET_NAME_BAD.sub(" ", title or "").strip()[:_SHEET_NAME_MAX].strip("' ")
    return name or "table"


def _write_xlsx(table: pd.DataFrame, path: Path, title: str | None) -> None:
    """One sheet: a bold, frozen header row; text cells typed as text, numbers as numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = _sheet_name(title)
    columns = [str(c) for c in table.columns]
    for j, name in enumerate(columns, start=1):
        c = ws.cell(row=1, column=j)
        c.value = _text(name)
        c.data_type = "s"
        c.font = Font(bold=True)
    ws.freeze_panes = "A2"
    cite_col = columns.index(CITATION_COLUMN) if CITATION_COLUMN in columns else -1
    links = _links(table)
    for i, row in enumerate(table.itertuples(index=False), start=2):
        for j, value in enumerate(row, start=1):
            c = ws.cell(row=i, column=j)
            if _is_missing(value):
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                c.value = _text(value)
                c.data_type = "s"  # never a formula, whatever the text starts with
            else:
                c.value = value
        if cite_col >= 0 and links[i - 2].startswith(("https://", "http://")):
            c = ws.cell(row=i, column=cite_col + 1)
            c.hyperlink = links[i - 2]
            c.style = "Hyperlink"
    wb.save(path)


def _write_docx(table: pd.DataFrame, path: Path, title: str | None) -> None:
    """A Word table with a header row (bold, repeated on each page), landscape pages when
    the table is wide, and the citation linked to its paper."""
    from docx import Document
    from docx.enum.section import WD_ORIENT

    doc = Document()
    if len(table.columns) > 5:
        section = doc.sections[0]
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = section.page_height, section.page_width
    if title:
        doc.add_heading(_text(title), level=2)
    columns = [str(c) for c in table.columns]
    grid = doc.add_table(rows=1, cols=max(len(columns), 1))
    grid.style = "Table Grid"
    header = grid.rows[0]
    _repeat_as_header(header)
    for cell, name in zip(header.cells, columns, strict=False):
        cell.paragraphs[0].add_run(_text(name)).bold = True
    cite_col = columns.index(CITATION_COLUMN) if CITATION_COLUMN in columns else -1
    links = _links(table)
    for i, row in enumerate(table.itertuples(index=False)):
        cells = grid.add_row().cells
        for j, value in enumerate(row):
            text = _text(value)
            if j == cite_col and links[i].startswith(("https://", "http://")):
                _add_hyperlink(cells[j].paragraphs[0], text, links[i])
            elif text:
                cells[j].paragraphs[0].add_run(text)
    doc.save(str(path))


def _repeat_as_header(row: Any) -> None:
    """Mark a Word table row as its header row (``w:tblHeader``): Word repeats it at the
    top of every page and screen readers announce it as the column headings."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tr_pr = row._tr.get_or_add_trPr()
    flag = OxmlElement("w:tblHeader")
    flag.set(qn("w:val"), "true")
    tr_pr.append(flag)


def _add_hyperlink(paragraph: Any, text: str, url: str) -> None:
    """A run of ``text`` linking to ``url`` (python-docx has no public call for it)."""
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import RGBColor

    r_id = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), r_id)
    run = paragraph.add_run(text)  # made in the paragraph, then moved into the link
    run.font.underline = True
    run.font.color.rgb = RGBColor.from_string(_LINK_COLOUR_HEX)
    link.append(run._r)
    paragraph._p.append(link)


_WRITERS: dict[str, Callable[[pd.DataFrame, Path, str | None], None]] = {
    ".csv": _write_csv,
    ".xlsx": _write_xlsx,
    ".docx": _write_docx,
}
