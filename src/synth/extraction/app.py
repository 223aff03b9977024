"""The extraction app: one included paper at a time, its form beside it, every field saved.

Built from plain ipywidgets 8, like the screening app (:mod:`synth.screening.app`). Open it
from a notebook (``synth extract open`` writes a reviewer's own copy)::

    from synth.extraction.app import ExtractionApp
    ExtractionApp.open("data/kei-2020.sqlite", reviewer="felix")

What it shows: on the left the paper (title, authors, abstract with the tagger's evidence
marked, the review's extracts and the full text if the store has one, marked the same way:
:mod:`synth.screening.highlight`); on the right the extraction form and the appraisal tool
chosen for the paper's design (:func:`synth.extraction.forms.tool_for`). A field the tagger
can fill shows its suggestion and the sentence it came from; *Accept* saves the suggestion,
*Save* saves what is typed or chosen, *Clear* saves "no value". *Previous* / *Next* walk the
included papers; the progress line counts what is extracted and appraised, by whom; the
*Compare extractors* panel shows two reviewers' values field by field, with a *use* button
per value that records the consensus.

Saving: every click calls :func:`synth.store.extraction.record_value`, which commits the
event before it returns; only then does the field say "saved ✓ event #id". A value that
does not fit the field (``Field.check``) is refused with the reason, and nothing is saved.

Speed: the widgets of each form are built once; showing a paper only sets their values
(the paper's tags, extracts and full text are sliced from frames read when the app opens),
so the next paper shows in well under 200 ms at 500 papers
(``benchmarks/bench_extraction_app.py``).
"""

from __future__ import annotations

import functools
import logging
import re
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ipywidgets as W
import pandas as pd

from synth.extraction.forms import Field, Form, appraisal_tools, default_form, prefill, tool_for
from synth.extraction.values import is_missing, value_text
from synth.screening.app import _indexed, _rows, _short
from synth.screening.highlight import (
    CSS_PREFIX,
    esc,
    evidence_spans,
    fulltext_html,
    highlight,
    record_html,
)
from synth.store.db import in_turn

log = logging.getLogger(__name__)

NO_CHOICE = "—"
#: :func:`synth.extraction.values.compare`'s columns that are not a reviewer's
NOT_REVIEWERS = {
    "field_id", "label", "answered_by", "agree", "consensus", "status", "fits", "problem",
}  # fmt: skip


# ---------------------------------------------------------------- values in widgets


def shown(value: Any) -> str:
    """A value as the app shows it (:func:`synth.extraction.values.value_text`; a quote's
    text is typed in its box, so it goes without quote marks)."""
    return value_text(value, quote_marks=False)


def decoded(value: Any) -> Any:
    """A value from a frame as Python: the store decodes its JSON; NaN/NA in a frame is None."""
    return None if is_missing(value) else value


class FieldRow:
    """One field's widgets: its input, the tagger's suggestion, Accept / Save / Clear, state."""

    def __init__(self, form: Form, field: Field, app: ExtractionApp) -> None:
        self.form, self.field, self.app = form, field, app
        self.suggestion: tuple[Any, str] | None = None
        self.input = self._input()
        self.input.layout = W.Layout(width="auto", flex="1 1 auto", min_width="10em")
        self.input.description = field.label
        self.input.tooltip = field.help or None
        self.input.style = {"description_width": "14em"}
        self.hint = W.HTML()
        self.accept = W.Button(description="Accept", icon="check",
                               tooltip="save the tagger's suggestion",
                               layout=_button())  # fmt: skip
        self.save = W.Button(description="Save", icon="save", tooltip="save this value",
                             layout=_button())  # fmt: skip
        self.clear = W.Button(description="Clear", icon="eraser",
                              tooltip="save 'no value' for this field",
                              layout=_button())  # fmt: skip
        self.state = W.HTML()
        shown_if_quote = "" if field.type == "quote" else "none"
        self.location = W.Text(
            placeholder="page, section or field",
            continuous_update=False,
            layout=W.Layout(width="12em", display=shown_if_quote),
        )
        self.accept.on_click(lambda _: app.accept(self))
        self.save.on_click(lambda _: app.save(self))
        self.clear.on_click(lambda _: app.clear(self))
        self.widget = W.VBox(
            [
                W.HBox([self.input, self.location, self.accept, self.save, self.clear]),
                self.hint,
                self.state,
            ],
            layout=W.Layout(margin="0 0 6px 0"),
        )
        self.widget.add_class(f"{CSS_PREFIX}-field")
        self.widget.add_class(f"synth-ext-{form.id}-{field.id}")  # a page test finds it

    def _input(self) -> W.Widget:
        kind = self.field.type
        if kind == "choice":
            return W.Dropdown(options=[(NO_CHOICE, None), *((c, c) for c in self.field.choices)])
        if kind == "choices":
            return W.SelectMultiple(options=list(self.field.choices),
                                    rows=min(6, max(2, len(self.field.choices))))  # fmt: skip
        # the value reaches the kernel when the input loses focus, so before the click on
        # Save that takes it: typed keys sent one by one queue behind each other (one
        # message in flight per widget) and the click could overtake the last of them
        if kind in ("text", "quote"):
            return W.Textarea(rows=2, continuous_update=False)
        return W.Text(continuous_update=False)  # number, year: parsed on save

    def set(self, value: Any) -> None:
        """Show ``value`` in the input (None empties it)."""
        kind = self.field.type
        if kind == "choice":
            self.input.value = value if value in self.field.choices else None
        elif kind == "choices":
            items = value if isinstance(value, list | tuple) else [] if value is None else [value]
            self.input.value = tuple(v for v in items if v in self.field.choices)
        elif kind == "quote":
            quote = value if isinstance(value, Mapping) else {"text": value}
            self.input.value = shown(quote.get("text"))
            self.location.value = shown(quote.get("location"))
        else:
            self.input.value = shown(value)

    def get(self) -> Any:
        """The input's value as the field's type (raises ValueError if it cannot be)."""
        kind = self.field.type
        raw = self.input.value
        if kind == "choices":
            return list(raw)
        if kind == "choice":
            return raw
        text = str(raw).strip()
        if not text:
            return None
        if kind == "year":
            try:
                return int(text)
            except ValueError:
                raise ValueError(f"{text!r} is not a year") from None
        if kind == "quote":
            return {"text": text, "location": self.location.value.strip() or None}
        if kind == "number":
            # a comma is a thousands separator only before groups of three digits
            # ("1,500"); "1,5" is ambiguous (a decimal comma?) and refused, not read as 15
            plain = text.replace(",", "") if _THOUSANDS.fullmatch(text) else text
            try:
                number = float(plain)
            except ValueError:
                raise ValueError(
                    f"{text!r} is not a number (write decimals with a point: 1.5)"
                ) from None
            return int(number) if number.is_integer() else number
        return text


#: "1,500" or "12,000,000": a comma that only separates thousands
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")


# ---------------------------------------------------------------- the app


class ExtractionApp:
    """The extraction widget on a review store (see the module docstring).

    Attributes worth knowing in a test or a notebook: ``widget`` (the whole app), ``rows``
    (form id -> field id -> :class:`FieldRow`), ``paper`` (HTML of the paper), ``prev``,
    ``next`` (buttons), ``position``, ``progress``, ``status``, ``compare_box``,
    ``record_id`` (the paper shown), ``tool`` (its appraisal form), ``ids`` (the papers).
    """

    def __init__(
        self,
        con: sqlite3.Connection,
        *,
        reviewer: str,
        form: Form | None = None,
        tools: dict[str, Form] | None = None,
        record_ids: list[str] | None = None,
        extractors: int = 1,
    ) -> None:
        from synth.extraction.values import included_record_ids, progress
        from synth.store import load_extracts, load_fulltexts, load_records
        from synth.store.tags import current_tags

        if not reviewer.strip():
            raise ValueError("reviewer: give a name, values are recorded under it")
        if extractors not in (1, 2):
            raise ValueError(f"extractors: 1 or 2 (double extraction), not {extractors!r}")
        self.extractors = extractors
        self.con = con
        self.reviewer = reviewer.strip()
        self.form = form or default_form()
        self.tools = dict(tools) if tools is not None else appraisal_tools()
        self._progress = progress
        records = load_records(con)
        self._records = records.set_index("record_id", drop=False)
        self._tags = _indexed(current_tags(con))
        self._extracts = _indexed(load_extracts(con))
        # a PDF's text with its pages; a kept record gets its duplicate's when it has none
        self._fulltexts = {row["record_id"]: row for row in load_fulltexts(con).to_dict("records")}
        if record_ids is None:
            record_ids = included_record_ids(con)
        self.ids = [r for r in record_ids if r in self._records.index]
        self._mine = self._my_values()
        self.index = 0
        self.record_id: str | None = None
        self.tool: Form | None = None
        self._build()
        self.show(0)
        self._update_progress()

    @classmethod
    def open(
        cls,
        db: str | Path | sqlite3.Connection,
        *,
        reviewer: str,
        form: str | Path | Form | None = None,
        start: str | None = None,
        extractors: int = 1,
    ) -> ExtractionApp:
        """Open the app on a review store (a path or an open connection).

        ``form``: the extraction form (a path or a packaged form's name; default the
        co-production form). ``start``: a record id to show first. ``extractors``: 2 when
        the review extracts every paper twice (a field counts as done once two reviewers
        answered it, or a consensus settled it).
        """
        from synth.extraction.forms import load_form
        from synth.store import connect

        if not isinstance(db, sqlite3.Connection) and not Path(db).is_file():
            raise FileNotFoundError(
                f"{db}: no review store there; import a corpus first, e.g. "
                "`python3 tasks.py review` or `synth review run --corpus ... --db ...`"
            )
        chosen = form if isinstance(form, Form) or form is None else load_form(form)
        con = db if isinstance(db, sqlite3.Connection) else connect(db)
        try:
            app = cls(con, reviewer=reviewer, form=chosen, extractors=extractors)
        except BaseException:
            if con is not db:
                con.close()
            raise
        if start is not None:
            app.go_to(start)
        return app

    def _my_values(self) -> dict[tuple[str, str, str], Any]:
        """This reviewer's current values: (record, form, field) -> value."""
        from synth.store.extraction import current_values

        df = current_values(self.con)
        df = df[df["reviewer"] == self.reviewer]
        return {
            (str(r), str(f), str(k)): decoded(v)
            for r, f, k, v in df[["record_id", "form_id", "field_id", "value"]].itertuples(
                index=False
            )
        }

    def _build(self) -> None:
        self.header = W.HTML(
            f"<b>Extraction</b> · reviewer <b>{esc(self.reviewer)}</b> · form "
            f"{esc(self.form.title)} · {len(self.ids)} included papers"
            + (" · double extraction" if self.extractors == 2 else "")
        )
        self.prev = W.Button(description="Previous", icon="arrow-left",
                             tooltip="the previous included paper")  # fmt: skip
        self.next = W.Button(description="Next", icon="arrow-right",
                             tooltip="the next included paper")  # fmt: skip
        self.prev.on_click(lambda _: self.step(-1))
        self.next.on_click(lambda _: self.step(1))
        self.position = W.HTML()
        self.progress = W.HTML()
        self.status = W.HTML()
        self.paper = W.HTML(layout=W.Layout(border="1px solid #d0d7de", padding="8px 12px",
                                            width="50%", overflow="auto"))  # fmt: skip
        self.rows: dict[str, dict[str, FieldRow]] = {}
        self.form_boxes: dict[str, W.VBox] = {}
        for form in (self.form, *self.tools.values()):
            self.rows[form.id] = {fid: FieldRow(form, f, self) for fid, f in form.fields.items()}
            self.form_boxes[form.id] = self._form_box(form)
        self.tool_title = W.HTML()
        self.tool_box = W.VBox()
        self.compare_box = W.VBox()
        self.compare_refresh = W.Button(description="Update", icon="refresh")
        self.compare_refresh.on_click(lambda _: self.update_compare())
        self.comparing = W.Accordion(
            children=[W.VBox([self.compare_refresh, self.compare_box])], selected_index=None
        )
        self.comparing.set_title(0, "Compare extractors")
        self.comparing.observe(self._on_compare_open, names="selected_index")
        right = W.VBox(
            [self.form_boxes[self.form.id], self.tool_title, self.tool_box, self.comparing],
            layout=W.Layout(width="50%", padding="0 0 0 12px"),
        )
        self.widget = W.VBox(
            [
                self.header,
                W.HBox([self.prev, self.next, self.position]),
                self.progress,
                self.status,
                W.HBox([self.paper, right]),
            ]
        )

    def _form_box(self, form: Form) -> W.VBox:
        children: list[W.Widget] = []
        if form.kind == "extraction":
            children.append(W.HTML(f"<h3>{esc(form.title)}</h3>"))
        for section in form.sections:
            children.append(W.HTML(f"<h4>{esc(section)}</h4>"))
            children.extend(
                row.widget for row in self.rows[form.id].values() if row.field.section == section
            )
        return W.VBox(children)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # ------------------------------------------------------------ showing

    @in_turn
    def show(self, index: int) -> str | None:
        """Show the ``index``-th included paper (its form pre-filled); its record id."""
        if not self.ids:
            self.record_id = None
            self.paper.value = "<p><b>No included papers to extract.</b></p>"
            self.position.value = ""
            self.prev.disabled = self.next.disabled = True
            return None
        self.index = max(0, min(index, len(self.ids) - 1))
        rid = self.ids[self.index]
        self.record_id = rid
        record = self._records.loc[rid]
        tags = _rows(self._tags, rid)
        self.paper.value = paper_html(
            record.to_dict(), tags, _rows(self._extracts, rid), self._fulltexts.get(rid)
        )
        self.tool = tool_for(_design(tags), _is_grey(record.get("grey")))
        self.tool_title.value = f"<h3>Appraisal: {esc(self.tool.title)}</h3>" + (
            f"<div><small>{esc(self.tool.citation)}</small></div>" if self.tool.citation else ""
        )
        self.tool_box.children = [self.form_boxes[self.tool.id]]
        for form in (self.form, self.tool):
            suggested = prefill(form, tags, rid)
            for fid, row in self.rows[form.id].items():
                row.suggestion = suggested.get(fid)
                self._fill(row)
        self.position.value = (
            f"Paper {self.index + 1} of {len(self.ids)} · "
            f"<b>{esc(_short(str(record.get('title') or rid), 90))}</b>"
        )
        self.prev.disabled = self.index == 0
        self.next.disabled = self.index == len(self.ids) - 1
        if self.comparing.selected_index == 0:
            self.update_compare()
        return rid

    def _fill(self, row: FieldRow) -> None:
        """A row's input, hint and state for the paper shown (saved value, else suggestion)."""
        key = (str(self.record_id), row.form.id, row.field.id)
        saved = key in self._mine
        suggestion = row.suggestion
        row.set(self._mine[key] if saved else suggestion[0] if suggestion else None)
        row.accept.disabled = suggestion is None
        row.accept.button_style = "" if suggestion is None else "info"
        if suggestion is None:
            row.hint.value = ""
        else:
            value, sentence = suggestion
            quote = f": “{esc(_short(sentence, 240))}”" if sentence else ""
            row.hint.value = (
                f'<div class="{CSS_PREFIX}-suggest">Tagger suggests <b>{esc(shown(value))}</b>'
                f"{quote}</div>"
            )
        if saved:
            value = self._mine[key]
            problem = row.field.check(value)
            row.state.value = (
                "<small>saved: <b>" + esc(shown(value)) + "</b></small>"
                if value is not None
                else "<small>saved: <i>no value</i></small>"
            ) + (  # kept in the store and shown, never dropped: the reviewer decides
                f' <small style="color:#9a6700">⚠ no longer fits the form: {esc(problem)}; '
                "save a value that fits, or Clear</small>"
                if problem
                else ""
            )
        else:
            row.state.value = "<small><i>not saved yet</i></small>"

    @in_turn
    def step(self, by: int) -> str | None:
        """Show the next (``by`` = 1) or previous (-1) included paper."""
        return self.show(self.index + by)

    @in_turn
    def go_to(self, record_id: str) -> str | None:
        """Show the paper ``record_id`` (a ValueError if it is not among the included)."""
        if record_id not in self.ids:
            raise ValueError(f"{record_id}: not among the {len(self.ids)} included papers")
        return self.show(self.ids.index(record_id))

    def _update_progress(self) -> None:
        try:
            df = self._progress(
                self.con, self.form, self.tools, record_ids=self.ids, extractors=self.extractors
            )
        except (ValueError, sqlite3.Error) as exc:
            self.progress.value = esc(f"Progress unavailable: {exc}")
            return
        self.progress.value = progress_line(df)

    # ------------------------------------------------------------ saving

    def row(self, field_id: str, form_id: str | None = None) -> FieldRow:
        """The row of ``field_id`` in the extraction form (or ``form_id``, e.g. the tool's)."""
        form_id = form_id or self.form.id
        try:
            return self.rows[form_id][field_id]
        except KeyError:
            raise KeyError(f"no field {field_id!r} in form {form_id!r}") from None

    @in_turn
    def save(self, row: FieldRow) -> int | None:
        """Save what the row's input holds; the event id, or None if not saved."""
        try:
            value = row.get()
        except ValueError as exc:
            return self._refuse(row, str(exc))
        if value is None or value == []:
            return self._refuse(row, "nothing to save: type or choose a value, or Clear")
        return self._record(row, value, source="reviewer")

    @in_turn
    def accept(self, row: FieldRow) -> int | None:
        """Save the tagger's suggestion for the row's field."""
        if row.suggestion is None:
            return self._refuse(row, "the tagger has no suggestion for this field")
        return self._record(row, row.suggestion[0], source="accepted-suggestion")

    @in_turn
    def clear(self, row: FieldRow) -> int | None:
        """Save "no value" for the row's field (an event too: the old value stays in history)."""
        return self._record(row, None, source="reviewer")

    def _refuse(self, row: FieldRow, problem: str) -> None:
        text = f"Not saved: {row.field.label}: {problem}"
        row.state.value = f'<small style="color:#cf222e">{esc(text)}</small>'
        self._say(text, error=True)
        return None

    def _record(self, row: FieldRow, value: Any, *, source: str, kind: str = "value") -> int | None:
        from synth.store.extraction import record_value

        if self.record_id is None:
            return self._refuse(row, "no paper is shown")
        if value is not None:
            problem = row.field.check(value)
            if problem:
                return self._refuse(row, problem)
        try:
            event_id = record_value(
                self.con, self.record_id, row.form.id, row.field.id, value, self.reviewer,
                kind=kind, source=source,
            )  # fmt: skip
        except (ValueError, sqlite3.Error) as exc:
            log.warning("value not saved: %s", exc)
            return self._refuse(row, str(exc))
        if kind == "value":
            self._mine[(self.record_id, row.form.id, row.field.id)] = value
            self._fill(row)
        what = "no value" if value is None else shown(value)
        verb = "consensus" if kind == "consensus" else "saved"
        self._say(f"{verb} ✓ event #{event_id}: {row.field.label} = {_short(what, 80)}")
        self._update_progress()
        return event_id

    def _say(self, text: str, *, error: bool = False) -> None:
        colour = "#cf222e" if error else "#1a7f37"
        self.status.value = f'<span style="color:{colour}">{esc(text)}</span>'

    # ------------------------------------------------------------ two extractors

    def _on_compare_open(self, change: dict[str, Any]) -> None:
        if change["new"] == 0:
            self.update_compare()

    @in_turn
    def update_compare(self) -> None:
        """Fill the comparison panel: both forms' fields, one column per reviewer."""
        from synth.extraction.values import compare

        if self.record_id is None or self.tool is None:
            self.compare_box.children = [W.HTML("No paper shown.")]
            return
        children: list[W.Widget] = []
        for form in (self.form, self.tool):
            table = compare(self.con, form, self.record_id)
            children.append(W.HTML(f"<h4>{esc(form.title)}</h4>"))
            children.extend(self._compare_rows(form, table))
        self.compare_box.children = children

    def _compare_rows(self, form: Form, table: pd.DataFrame) -> list[W.Widget]:
        reviewers = [c for c in table.columns if c not in NOT_REVIEWERS]
        if table.empty or len(reviewers) < 2:
            return [W.HTML("<i>Fewer than two extractors on this paper.</i>")]
        out: list[W.Widget] = []
        for rec in table.to_dict("records"):
            if rec.get("status") == "empty":
                continue
            field_id = str(rec["field_id"])
            agreed = bool(rec.get("agree"))
            answered = list(rec.get("answered_by") or ())  # a cleared field is an answer
            consensus = decoded(rec.get("consensus"))
            cells = " · ".join(
                f"{esc(r)}: <b>{esc(shown(decoded(rec.get(r))))}</b>" for r in reviewers
            )
            mark = "agree" if agreed else "differ" if len(answered) >= 2 else "one value"
            note = f" · consensus: <b>{esc(shown(consensus))}</b>" if consensus is not None else ""
            problem = f" · <i>{esc(rec['problem'])}</i>" if rec.get("problem") else ""
            line = W.HTML(
                f"{esc(str(rec.get('label') or field_id))} ({mark}): {cells}{note}{problem}"
            )
            buttons = []
            if not agreed and len(answered) >= 2:
                for r in answered:  # one reviewer's "no value" can be the consensus too
                    value = decoded(rec.get(r))
                    b = W.Button(
                        description=f"use {r}'s" + (" (no value)" if value is None else ""),
                        tooltip=f"use this value: {shown(value) if value is not None else 'none'}",
                        layout=W.Layout(width="auto"),
                    )
                    b.on_click(functools.partial(self._use_clicked, form.id, field_id, value))
                    buttons.append(b)
            out.append(W.VBox([line, W.HBox(buttons)]) if buttons else line)
        return out

    def _use_clicked(self, form_id: str, field_id: str, value: Any, _button: Any) -> None:
        self.use_value(field_id, value, form_id=form_id)

    @in_turn
    def use_value(self, field_id: str, value: Any, *, form_id: str | None = None) -> int | None:
        """Record ``value`` as the consensus for a field of the paper shown."""
        event_id = self._record(
            self.row(field_id, form_id), value, source="reviewer", kind="consensus"
        )
        if event_id is not None and self.comparing.selected_index == 0:
            self.update_compare()
        return event_id


# ---------------------------------------------------------------- pieces


def _button() -> W.Layout:
    """A button as wide as its label (ipywidgets' default width cuts 'Accept' short)."""
    return W.Layout(width="auto", min_width="max-content", flex="0 0 auto")


def _is_grey(value: Any) -> bool:
    """A record's ``grey`` flag (numpy's bool from a frame, or NA: not known, not grey)."""
    return value is not None and value is not pd.NA and bool(value)


def _design(tags: pd.DataFrame) -> str | None:
    """The paper's design label (its highest-scoring design tag), if tagged."""
    if tags.empty or "facet" not in tags.columns:
        return None
    rows = tags[tags["facet"] == "design"]
    if rows.empty:
        return None
    return str(rows.sort_values("score", ascending=False, kind="stable").iloc[0]["label"])


def _evidence(tags: pd.DataFrame, field: str) -> list[tuple[str, dict[str, Any]]]:
    """(facet: label, evidence item) of the tags' evidence in ``field`` (extract, fulltext)."""
    items: list[tuple[str, dict[str, Any]]] = []
    for facet, label, evidence in tags[["facet", "label", "evidence"]].itertuples(index=False):
        for ev in evidence if isinstance(evidence, list) else []:
            if isinstance(ev, Mapping) and ev.get("field") == field:
                items.append((f"{facet}: {label}", dict(ev)))
    return items


def _marked(text: str, items: list[tuple[str, dict[str, Any]]]) -> str:
    spans = [s for label, ev in items for s in evidence_spans(text, [ev], label)]
    return highlight(text, spans)


def paper_html(
    record: Mapping[str, Any],
    tags: pd.DataFrame,
    extracts: pd.DataFrame,
    fulltext: Mapping[str, Any] | str | None,
) -> str:
    """The paper panel: the screening view of the record, then its extracts and full text
    (a ``load_fulltexts`` row or a text; a PDF's page by page), the tagger's evidence
    marked in each."""
    parts = [record_html(record, tags=tags)]
    if not extracts.empty:
        items = _evidence(tags, "extract")
        parts.append(f'<div class="{CSS_PREFIX}-meta"><b>The review\'s extracts</b></div>')
        for ex in extracts.itertuples():
            where = " · ".join(
                str(v) for v in (ex.section, f"p. {ex.page}" if ex.page else None) if v
            )
            parts.append(
                f'<blockquote class="{CSS_PREFIX}-extract">{_marked(str(ex.text or ""), items)}'
                + (f"<br><small>{esc(where)}</small>" if where else "")
                + "</blockquote>"
            )
    if fulltext:
        parts.append(f'<div class="{CSS_PREFIX}">{fulltext_html(fulltext, tags=tags)}</div>')
    return "".join(parts)


def progress_line(df: pd.DataFrame) -> str:
    """The progress frame (:func:`synth.extraction.values.progress`) as one line: papers
    extracted and appraised, by whom, papers with conflicts, papers left."""
    if df.empty:
        return "No included papers."
    total = len(df)
    extracted = sum(bool(_names(v)) for v in df["extracted_by"])
    appraised = sum(bool(_names(v)) for v in df["appraised_by"])
    by: dict[str, int] = {}
    for v in df["extracted_by"]:
        for name in _names(v):
            by[name] = by.get(name, 0) + 1
    statuses = df["status"].value_counts()
    left = total - int(statuses.get("done", 0))
    conflicts = int(statuses.get("conflicts", 0))
    who = ", ".join(f"{esc(n)} {k}" for n, k in sorted(by.items()))
    return (
        f"{extracted} / {total} extracted · {appraised} / {total} appraised"
        + (f" · {conflicts} with conflicts" if conflicts else "")
        + f" · {left} left"
        + (f" · extracted by {who}" if who else "")
    )


def _names(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and value != value):
        return []
    if isinstance(value, list | tuple | set):
        return [str(v) for v in value]
    return [s.strip() for s in str(value).split(",") if s.strip()]
