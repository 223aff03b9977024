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
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from synth.extraction.values import is_missing, value_text

if TYPE_CHECKING:
    from synth.extraction.forms import Field, Form

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


#: The appraisal table's columns before and after the tools' items.
TOOL_COLUMN = "tool"
OVERALL_COLUMN = "overall"
#: The appraisal table's overall cell for an included paper nobody has appraised.
NOT_APPRAISED = "not appraised"
CONFLICT = "conflict"


# ------------------------------------------------------------------------- the papers


def included_papers(con: sqlite3.Connection) -> pd.DataFrame:
    """The papers the app extracts (:func:`synth.extraction.values.included_record_ids`:
    the report's included papers, every unique record while nothing is screened), with
    ``citation`` and ``link``, in citation order as a manuscript table lists them."""
    from synth.corpus.citation import citations
    from synth.extraction.values import included_record_ids
    from synth.store.views import load_records

    ids = included_record_ids(con)
    records = load_records(con)
    records = records[records["record_id"].astype(str).isin(set(ids))]
    if not len(records):
        return pd.DataFrame(columns=["record_id", CITATION_COLUMN, LINK_COLUMN])
    out = pd.DataFrame(
        {
            "record_id": records["record_id"].astype(str).to_numpy(),
            CITATION_COLUMN: citations(records).to_numpy(),
            LINK_COLUMN: [_paper_link(r) for r in records.to_dict("records")],
        }
    )
    order = out[CITATION_COLUMN].str.casefold().argsort(kind="stable")
    return out.iloc[order].reset_index(drop=True)


def _paper_link(record: Mapping[str, Any]) -> str:
    """The DOI resolver's address, else the record's own http(s) address, else empty
    (a ``javascript:`` or other scheme never becomes a link)."""
    from synth.report.maps import _safe_href

    return _safe_href(record.get("url"), record.get("doi")) or ""


# ------------------------------------------------------------------------ cell values


def _cell(row: Mapping[str, Any], by_reviewer: Mapping[str, Any] | None) -> str:
    """One resolved value as text: a conflict shows each reviewer's value, a value that
    no longer fits the (edited) form is kept and says why."""
    if row.get("status") == CONFLICT:
        shown = by_reviewer or {}
        parts = [f"{who}: {value_text(v) or '(empty)'}" for who, v in sorted(shown.items())]
        return f"{CONFLICT}: " + " | ".join(parts) if parts else CONFLICT
    text = value_text(row.get("value"))
    if text and row.get("fits") is False:
        problem = str(row.get("problem") or "does not fit the form")
        text += f" [does not fit the form: {problem}]"
    return text


#: The appraisal table's domain-level columns: "judgement: <domain>", "judgement: overall".
JUDGEMENT_PREFIX = "judgement: "


def _domain_levels(con: sqlite3.Connection, tool: Form, rules: Any) -> dict[str, dict[str, str]]:
    """Record id -> {"judgement: <domain>": level name} for the domains of ``tool`` a paper
    was judged on, and its overall level (:func:`synth.extraction.appraisal.domain_judgements`)."""
    from synth.extraction.appraisal import NOT_ASSESSED, domain_judgements
    from synth.extraction.values import resolved_values

    values = resolved_values(con, tool)
    if not len(values):
        return {}
    out: dict[str, dict[str, str]] = {}
    for r in domain_judgements(values, tool, rules).itertuples(index=False):
        if r.level != NOT_ASSESSED:
            out.setdefault(str(r.record_id), {})[JUDGEMENT_PREFIX + str(r.domain)] = rules.name(
                r.level
            )
    return out


def _form_cells(con: sqlite3.Connection, form: Form) -> dict[tuple[str, str], str]:
    """(record id, field id) -> the cell text of each resolved value of ``form``."""
    from synth.extraction.values import resolved_values
    from synth.store.extraction import current_values

    resolved = resolved_values(con, form)
    if not len(resolved):
        return {}
    reviewers: dict[tuple[str, str], dict[str, Any]] = {}
    if (resolved["status"] == CONFLICT).any():
        current = current_values(con, form.id)
        for r in current.itertuples(index=False):
            reviewers.setdefault((str(r.record_id), str(r.field_id)), {})[r.reviewer] = r.value
    out = {}
    for row in resolved.to_dict("records"):
        key = (str(row["record_id"]), str(row["field_id"]))
        out[key] = _cell(row, reviewers.get(key))
    return out


def _column_names(fields: list[Field], taken: set[str]) -> list[str]:
    """Each field's column: its label, or label plus id where labels clash."""
    names: list[str] = []
    for f in fields:
        name = f.label or f.id
        if name in taken or name in names:
            name = f"{name} ({f.id})"
        names.append(name)
    return names


# ---------------------------------------------------------------------------- tables


def characteristics_table(con: sqlite3.Connection, form: Form | None = None) -> pd.DataFrame:
    """Characteristics of the included studies: one row per included paper (citation,
    link) and a column per key field of ``form`` (default: the packaged extraction form;
    every field when the form marks none as key), each the resolved value
    (consensus, agreed or single), a conflict shown as each reviewer's value, a value
    that no longer fits the form flagged. A paper nobody has extracted has empty cells.
    Rows are in :func:`included_papers` order (the report page pairs them by position)."""
    from synth.extraction.forms import default_form

    form = form or default_form()
    fields = form.key_fields or list(form.fields.values())
    papers = included_papers(con)
    names = _column_names(fields, {CITATION_COLUMN, LINK_COLUMN})
    cells = _form_cells(con, form)
    table = papers[[CITATION_COLUMN, LINK_COLUMN]].copy()
    ids = papers["record_id"].tolist()
    for f, name in zip(fields, names, strict=True):
        table[name] = [cells.get((rid, f.id), "") for rid in ids]
    return table


def appraisal_table(
    con: sqlite3.Connection, tools: Mapping[str, Form] | None = None
) -> pd.DataFrame:
    """The appraisal of the included papers: one row per paper and tool it was appraised
    with (citation, link, tool), a column per item any paper was judged on, and
    ``overall``: the tool's own overall item where it has one, else how many items had
    each judgement (MMAT and CASP advise against a summary score); then the level of each
    domain any paper was judged on and the overall level, by the rules of
    ``appraisal.yml`` (the page's traffic light: "judgement: <domain>", "judgement:
    overall"). An included paper nobody has appraised has one row saying so, so the table
    lists every paper."""
    from synth.extraction.appraisal import load_judgement_rules
    from synth.extraction.forms import appraisal_tools

    tools = dict(tools) if tools is not None else appraisal_tools()
    rules = load_judgement_rules()
    papers = included_papers(con)
    item_names: list[str] = []
    level_names: list[str] = []
    rows: dict[str, list[dict[str, str]]] = {rid: [] for rid in papers["record_id"]}
    taken = {CITATION_COLUMN, LINK_COLUMN, TOOL_COLUMN, OVERALL_COLUMN}
    for tool in tools.values():
        by_paper: dict[str, dict[str, str]] = {}
        for (rid, fid), text in _form_cells(con, tool).items():
            if text and rid in rows:
                by_paper.setdefault(rid, {})[fid] = text
        items = [f for f in tool.fields.values() if f.id != OVERALL_COLUMN]
        answered = {fid for mine in by_paper.values() for fid in mine}
        used = [f for f in items if f.id in answered]
        names = _column_names(used, taken)
        taken.update(names)
        item_names.extend(names)
        for rid, mine in by_paper.items():
            row = {TOOL_COLUMN: tool.title}
            row.update({n: mine.get(f.id, "") for f, n in zip(used, names, strict=True)})
            applies = [f for f in tool.applicable(mine) if f.id != OVERALL_COLUMN]
            row[OVERALL_COLUMN] = mine.get(OVERALL_COLUMN) or _judgement_counts(
                [mine.get(f.id, "") for f in applies], applies
            )
            rows[rid].append(row)
        for rid, levels in _domain_levels(con, tool, rules).items():
            if rid in by_paper and rows.get(rid):
                for name, level in levels.items():
                    if name not in level_names:
                        level_names.append(name)
                    rows[rid][-1][name] = level
    overall_level = JUDGEMENT_PREFIX + "overall"
    level_names = [n for n in level_names if n != overall_level] + (
        [overall_level] if overall_level in level_names else []
    )
    columns = [
        CITATION_COLUMN, LINK_COLUMN, TOOL_COLUMN, *item_names, OVERALL_COLUMN, *level_names
    ]  # fmt: skip
    out = []
    for paper in papers.to_dict("records"):
        base = {CITATION_COLUMN: paper[CITATION_COLUMN], LINK_COLUMN: paper[LINK_COLUMN]}
        for row in rows[paper["record_id"]] or [{OVERALL_COLUMN: NOT_APPRAISED}]:
            out.append({**dict.fromkeys(columns, ""), **base, **row})
    return pd.DataFrame(out, columns=columns)


def _judgement_counts(answers: list[str], items: list[Field]) -> str:
    """Like "4 yes, 1 no, 1 can't tell of 7 items": each judgement on the scale that was given,
    in scale order, then any other answer (a flagged or conflicting one) as "other"."""
    scale: list[str] = []
    for f in items:
        scale.extend(c for c in f.choices if c not in scale)
    given = [a for a in answers if a]
    counts = [(c, sum(a == c for a in given)) for c in scale]
    parts = [f"{n} {c}" for c, n in counts if n]
    other = len(given) - sum(n for _, n in counts)
    if other:
        parts.append(f"{other} other")
    return f"{', '.join(parts)} of {len(items)} items" if parts else ""


def findings_table(
    con: sqlite3.Connection,
    *,
    themes: Path | str | None = None,
    review: Path | str | None = None,
) -> pd.DataFrame:
    """The summary of findings (GRADE-CERQual), as the synthesis page shows it: each
    theme's finding with its papers, the four components, the overall confidence and why
    (:func:`synth.extraction.cerqual.review_suggestions` over the included papers'
    theme assignments; a reviewer's judgement is marked with an asterisk)."""
    from synth.extraction.cerqual import review_suggestions, sof_table, summary_of_findings

    sof = summary_of_findings(con, review_suggestions(con, themes=themes, review=review))
    table = sof_table(sof)
    for column in table.columns:
        if not pd.api.types.is_numeric_dtype(table[column]):
            table[column] = table[column].map(value_text)
    return table


def write_table(table: pd.DataFrame, path: Path | str, *, title: str | None = None) -> Path:
    """Write ``table`` as CSV, XLSX or DOCX, chosen by ``path``'s suffix.

    ``title`` names the XLSX sheet and heads the DOCX table (CSV has no place for it).
    An empty table still writes its header row. Raises ValueError naming the file for
    any other suffix.
    """
    path = check_table_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _WRITERS[path.suffix.lower()](table, path, title)
    return path


def check_table_path(path: Path | str) -> Path:
    """``path`` if :func:`write_table` can write it (by its suffix), else a ValueError
    naming the file and the formats, so a command fails before building its table."""
    path = Path(path)
    if path.suffix.lower() not in _WRITERS:
        raise ValueError(
            f"{path}: cannot write a table as {path.suffix or 'a file without a suffix'!r}; "
            f"use one of {', '.join(TABLE_FORMATS)}"
        )
    return path


def _write_csv(table: pd.DataFrame, path: Path, title: str | None) -> None:
    from synth.corpus.writers.csv import write_table as write_csv_table

    write_csv_table(table, path)


def _text(value: Any) -> str:
    """A cell as XML-safe text (missing -> empty)."""
    if is_missing(value):
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
            if is_missing(value):
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
