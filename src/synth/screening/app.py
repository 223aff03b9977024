"""The screening app: one record at a time in JupyterLab, every decision saved as it is made.

Built from plain ipywidgets 8 (no frontend extension), so it runs wherever JupyterLab 4 and
``ipywidgets`` do. Open it from a notebook::

    from synth.screening.app import ScreeningApp
    ScreeningApp.open("data/kei-2020.sqlite", reviewer="felix", stage="title_abstract")

What it shows: the record (title, authors, year, venue, abstract) with the tagger's tags as
chips and the evidence sentences and criteria cues marked in the text (``highlight``);
include / exclude (with a reason from the review's criteria) / maybe; a note; back, undo
and skip; a progress bar with counts; filters by tag, year range and search text; why
this record is next (its relevance score and rank, and whether the order came from the
model, the priors or a seeded random order); and a stopping panel.

Keyboard: ipywidgets have no global key events, so the app has a *command box*: click it
once, then type a command and press Enter (the box clears itself and keeps focus):
``i`` include, ``e`` exclude (with the reason chosen in the list), ``e2`` exclude with
reason 2, ``m`` maybe, ``b`` back, ``u`` undo, ``s`` skip, a digit alone chooses that
reason. The buttons' tooltips repeat the keys.

Saving: a click calls :func:`synth.screening.decisions.record_decision`, which commits the
event before it returns; only then does the status line say "saved ✓ event #id". If the
write fails the app says so and stays on the record. Undo records a retraction event.

Threads: the kernel may run a widget callback on another thread than the cell that opened
the store (ipykernel 7 does), so every action holds the store connection's lock
(:func:`synth.store.db.serialised`): callbacks take turns on the one connection.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import ipywidgets as W
import pandas as pd

from synth.screening.highlight import CSS_PREFIX, esc, record_html
from synth.screening.queue import QueueFilter, QueueItem, ScreeningQueue
from synth.store.db import in_turn

log = logging.getLogger(__name__)

NO_REASON = "— reason —"
ANY_TAG = "any tag"
# a second click this soon after a decision is taken for a double click, not a decision on
# the record that has just replaced the one the reviewer was looking at
GUARD_SECONDS = 0.5
KEYS_HELP = "i include · e exclude · e2 exclude, reason 2 · m maybe · b back · u undo · s skip"
# JupyterLab caps a slider's readout at a width too narrow for "2008 – 2020"
WIDGET_STYLE = (
    f"<style>.{CSS_PREFIX}-years .widget-readout {{ max-width: none; min-width: max-content; }}"
    "</style>"
)


class ScreeningApp:
    """The screening widget around a :class:`ScreeningQueue` (see the module docstring).

    Attributes worth knowing in a test or a notebook: ``widget`` (the whole app),
    ``include``, ``exclude``, ``maybe``, ``back``, ``undo``, ``skip`` (buttons),
    ``reason`` (Dropdown), ``note`` (Textarea), ``keys`` (command box), ``tag``,
    ``years``, ``search`` (filters), ``record`` (HTML of the record), ``why``,
    ``status``, ``progress``, ``counts``, ``current`` (the :class:`QueueItem` shown).
    """

    def __init__(
        self,
        queue: ScreeningQueue,
        *,
        reasons: list[tuple[str, str]] | None = None,
        guard: float = GUARD_SECONDS,
    ) -> None:
        from synth.screening.decisions import valid_reasons
        from synth.store.tags import load_assessment, load_suggestions

        self.queue = queue
        self.con = con = queue.con  # what the app's actions take turns on
        self.reasons = list(valid_reasons(con) if reasons is None else reasons)
        self.criteria = {rid: text.removeprefix("not met: ") for rid, text in self.reasons}
        self._assessment = _indexed(load_assessment(con))
        self._suggestions = _indexed(load_suggestions(con))
        self._tags = _indexed(queue.tags)
        self.guard = guard
        self._last_decision = -float("inf")
        self.current: QueueItem | None = None
        self.stop_figure: Any = None
        self._back_at: int | None = None  # index into queue.history when revisiting
        self._build()
        self.advance()

    # ------------------------------------------------------------ construction

    @classmethod
    def open(
        cls,
        db: str | Path | sqlite3.Connection,
        *,
        reviewer: str,
        stage: str = "title_abstract",
        mode: str | None = None,
        tag: str | None = None,
        year_min: int | None = None,
        year_max: int | None = None,
        search: str | None = None,
        guard: float = GUARD_SECONDS,
        **queue_options: Any,
    ) -> ScreeningApp:
        """Open the app on a review store (a path or an open connection).

        ``mode`` is ``"single"`` (a record anyone decided is done) or ``"dual"`` (blinded:
        each reviewer screens every record); default from the store's screening settings,
        which are saved there on the first open (a mode given here is saved as the review's
        mode). ``tag``, ``year_min``, ``year_max`` and
        ``search`` preset the filters. ``guard``: seconds after a decision in which another
        click is ignored as a double click (0 turns it off).
        """
        from synth.store import connect

        if not isinstance(db, sqlite3.Connection) and not Path(db).is_file():
            raise FileNotFoundError(
                f"{db}: no review store there; import a corpus first, e.g. "
                "`python3 tasks.py review` or `synth review run --corpus ... --db ...`"
            )
        con = db if isinstance(db, sqlite3.Connection) else connect(db)
        queue = ScreeningQueue(con, reviewer=reviewer, stage=stage, mode=mode, **queue_options)
        app = cls(queue, guard=guard)
        app.set_filters(tag=tag, year_min=year_min, year_max=year_max, search=search)
        return app

    def _build(self) -> None:
        q = self.queue
        layout = W.Layout(width="auto")
        self.header = W.HTML(
            f"<b>Screening</b> · reviewer <b>{esc(q.reviewer)}</b> · stage {esc(q.stage)} · "
            f"mode {esc(q.mode)} · {len(q.ids)} records" + WIDGET_STYLE
        )
        # filters
        tags = [(f"{name} ({n})", name) for name, n in q.tag_choices()]
        self.tag = W.Dropdown(options=[(ANY_TAG, ""), *tags], value="", description="Tag")
        years = q.records["year"].dropna()
        lo, hi = (int(years.min()), int(years.max())) if len(years) else (0, 0)
        self._year_bounds = (lo, hi)
        self.years = W.IntRangeSlider(
            value=(lo, hi), min=lo, max=hi, description="Years", continuous_update=False,
            layout=W.Layout(display="" if len(years) else "none"),
        )  # fmt: skip
        self.years.add_class(f"{CSS_PREFIX}-years")
        self.search = W.Text(
            placeholder="search title, abstract, authors…", description="Search",
            continuous_update=False,
        )  # fmt: skip
        for w in (self.tag, self.years, self.search):
            w.observe(self._on_filter, names="value")
        # progress and why
        self.progress = W.IntProgress(value=0, min=0, max=1, description="Screened")
        self.counts = W.HTML()
        self.why = W.HTML()
        # the record
        self.record = W.HTML(layout=W.Layout(border="1px solid #d0d7de", padding="8px 12px"))
        # decisions
        self.include = W.Button(description="Include", button_style="success",
                                tooltip="include (key i)", icon="check")  # fmt: skip
        self.exclude = W.Button(description="Exclude", button_style="danger",
                                tooltip="exclude with the chosen reason (key e, e2…)",
                                icon="times")  # fmt: skip
        self.maybe = W.Button(description="Maybe", button_style="warning",
                              tooltip="maybe (key m)", icon="question")  # fmt: skip
        options = [(NO_REASON, "")] + [
            (f"{i}. {rid}: {_short(text)}", rid) for i, (rid, text) in enumerate(self.reasons, 1)
        ]
        self.reason = W.Dropdown(options=options, value="", description="Reason",
                                 layout=W.Layout(width="32em"))  # fmt: skip
        # synced when it loses focus, so before the decision's click (see extraction.app)
        self.note = W.Textarea(placeholder="note (saved with the decision)", layout=layout,
                               rows=2, continuous_update=False)  # fmt: skip
        self.back = W.Button(description="Back", tooltip="previous record (key b)",
                             icon="arrow-left")  # fmt: skip
        self.undo = W.Button(description="Undo", tooltip="retract your last decision (key u)",
                             icon="undo")  # fmt: skip
        self.skip = W.Button(description="Skip", tooltip="later (key s)", icon="forward")
        self.keys = W.Text(placeholder=KEYS_HELP + " — then Enter", continuous_update=False,
                           description="Keys", layout=W.Layout(width="40em"))  # fmt: skip
        self.include.on_click(lambda _: self.decide("include"))
        self.exclude.on_click(lambda _: self.decide("exclude"))
        self.maybe.on_click(lambda _: self.decide("maybe"))
        self.back.on_click(lambda _: self.go_back())
        self.undo.on_click(lambda _: self.undo_last())
        self.skip.on_click(lambda _: self.skip_current())
        self.keys.observe(self._on_keys, names="value")
        self.status = W.HTML()
        # stopping
        self.stop_summary = W.HTML("Open to see the evidence for stopping.")
        self.stop_plot = W.Output()
        self.stop_refresh = W.Button(description="Update", icon="refresh")
        self.stop_refresh.on_click(lambda _: self.update_stopping())
        self.stopping = W.Accordion(
            children=[W.VBox([self.stop_refresh, self.stop_summary, self.stop_plot])],
            selected_index=None,
        )
        self.stopping.set_title(0, "When to stop")
        self.stopping.observe(self._on_stopping_open, names="selected_index")
        self.widget = W.VBox(
            [
                self.header,
                W.HBox([self.tag, self.years, self.search]),
                W.HBox([self.progress, self.counts]),
                self.why,
                self.record,
                W.HBox([self.include, self.exclude, self.maybe, self.reason]),
                self.note,
                W.HBox([self.back, self.undo, self.skip, self.keys]),
                self.status,
                self.stopping,
            ]
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # ------------------------------------------------------------ filters

    @property
    def filter(self) -> QueueFilter:
        lo, hi = self.years.value
        return QueueFilter(
            tag=self.tag.value or None,
            year_min=lo if lo != self._year_bounds[0] else None,
            year_max=hi if hi != self._year_bounds[1] else None,
            text=self.search.value.strip() or None,
        )

    def set_filters(
        self,
        *,
        tag: str | None = None,
        year_min: int | None = None,
        year_max: int | None = None,
        search: str | None = None,
    ) -> None:
        """Set the filter widgets (each change serves the next record under the filters)."""
        if tag:
            values = [v for _, v in self.tag.options]
            if tag not in values:
                raise ValueError(f"no records tagged {tag!r}; tags: {', '.join(values[1:])}")
            self.tag.value = tag
        if year_min is not None or year_max is not None:
            lo, hi = self._year_bounds
            self.years.value = (
                max(lo, year_min) if year_min is not None else lo,
                min(hi, year_max) if year_max is not None else hi,
            )
        if search:
            self.search.value = search

    def _on_filter(self, _change: dict[str, Any]) -> None:
        # the record shown is always the top of the queue under the current filters
        self.advance()

    # ------------------------------------------------------------ showing

    @in_turn
    def advance(self) -> QueueItem | None:
        """Show the next record from the queue (at once: never waits for a refit)."""
        self._back_at = None
        self.current = self.queue.next(self.filter)
        self._show()
        return self.current

    def _show(self, decided: dict[str, Any] | None = None) -> None:
        item = self.current
        if item is None:
            flt = "" if self.filter.is_empty() else " with these filters"
            self.record.value = f"<p><b>Nothing left to screen{flt}.</b></p>"
        else:
            rid = item.record_id
            html = record_html(
                self.queue.record(rid),
                tags=_rows(self._tags, rid),
                assessment=_rows(self._assessment, rid),
                criteria=self.criteria,
                suggestion=_first(_rows(self._suggestions, rid)),
                fulltext=self.fulltext(rid),
            )
            if decided is not None:
                reason = f" ({esc(decided.get('reason'))})" if _given(decided.get("reason")) else ""
                html = (
                    f"<p>Your decision stands as <b>{esc(decided['decision'])}</b>{reason}, "
                    f"event #{int(decided['event_id'])}: a new choice is a new event.</p>" + html
                )
            self.record.value = html
        for button in (self.include, self.exclude, self.maybe, self.skip):
            button.disabled = item is None
        self._update_panels()

    def fulltext(self, record_id: str) -> dict[str, Any] | None:
        """The record's full text at the full-text stage (a ``load_fulltexts`` row: a PDF's
        with its pages; a duplicate's when the kept record has none), else None."""
        if self.queue.stage != "full_text":
            return None
        from synth.store.views import load_fulltexts

        rows = load_fulltexts(self.queue.con, record_ids=[record_id])
        if rows.empty:
            return {"text": "", "note": "No full text retrieved for this record."}
        return rows.iloc[0].to_dict()

    def _update_panels(self) -> None:
        p = self.queue.progress()
        self.progress.max = max(p.total, 1)
        self.progress.value = p.screened
        conflict = f" · {p.conflict} conflict" if p.conflict else ""
        self.counts.value = (
            f"{p.screened} / {p.total} screened · {p.include} include · {p.exclude} exclude · "
            f"{p.maybe} maybe{conflict}"
        )
        item = self.current
        if item is None:
            self.why.value = ""
        elif self._back_at is not None:
            self.why.value = "<i>Revisiting a record you decided earlier.</i>"
        else:
            busy = " <i>(the model is updating; the next record uses it when ready)</i>"
            self.why.value = esc(item.explain()) + (busy if self.queue.busy else "")
        self.back.disabled = not self.queue.history or self._back_at == 0
        if self.stopping.selected_index == 0:
            self.update_stopping()

    # ------------------------------------------------------------ actions

    @in_turn
    def decide(self, decision: str, *, reason: str | None = None) -> int | None:
        """Record ``decision`` on the record shown; the event id, or None if not saved.

        An exclusion's reason is ``reason`` if given (the command ``e2``), else the one
        chosen in the list; the list is cleared only once the decision is saved, and a
        command's reason never touches it, so a failed ``e2`` leaves nothing behind for a
        later click.
        """
        item = self.current
        if item is None:
            self._say("Nothing to decide: no record is shown.", error=True)
            return None
        if time.monotonic() - self._last_decision < self.guard:
            self._say(
                f"Ignored a second {decision} within {self.guard:g} s of the last decision "
                "(a double click?): check the record shown and decide again.",
                error=True,
            )
            return None
        if decision != "exclude":
            reason = None
        elif reason is None:
            reason = self.reason.value or None
        if (
            decision == "exclude"
            and reason is None
            and self.queue.stage == "full_text"
            and self.reasons
        ):
            self._say("Choose an exclusion reason: full-text exclusions need one.", error=True)
            return None
        try:
            event_id = self.queue.decide(
                item.record_id, decision, reason=reason, note=self.note.value.strip() or None
            )
        except (ValueError, sqlite3.Error) as exc:
            log.warning("decision not saved: %s", exc)
            self._say(f"Not saved: {exc}", error=True)
            return None
        self._last_decision = time.monotonic()
        title = _short(str(self.queue.record(item.record_id).get("title") or item.record_id), 80)
        why = f" ({reason})" if reason else ""
        self._say(f"saved ✓ event #{event_id}: {decision}{why} — {title}")
        self.note.value = ""
        self.reason.value = ""
        self._after_revisit()
        return event_id

    def _after_revisit(self) -> None:
        self.advance()

    def _show_history(self, index: int) -> None:
        record_id, _ = self.queue.history[index]
        self._back_at = index
        self.current = self.queue.item(record_id)
        mine = self.queue.my_decision(record_id)
        self._show(decided=mine)

    @in_turn
    def go_back(self) -> None:
        """Show the record decided before the one shown (re-deciding makes a new event)."""
        history = self.queue.history
        if not history:
            self._say("Nothing to go back to in this session.", error=True)
            return
        index = len(history) - 1 if self._back_at is None else self._back_at - 1
        if index < 0:
            self._say("This is the first record of the session.", error=True)
            return
        self._show_history(index)

    @in_turn
    def undo_last(self) -> None:
        """Retract your last decision (a retraction event) and show that record again."""
        try:
            done = self.queue.undo()
        except (ValueError, sqlite3.Error) as exc:
            self._say(f"Nothing undone: {exc}", error=True)
            return
        if done is None:
            self._say("Nothing to undo: you have no decision at this stage.", error=True)
            return
        record_id, event_id = done
        self._back_at = None
        self.current = self.queue.item(record_id)
        self._show()
        title = _short(str(self.queue.record(record_id).get("title") or record_id), 80)
        self._say(f"undone ✓ event #{event_id} retracts your decision on — {title}")

    @in_turn
    def skip_current(self) -> None:
        """Leave the record for later in this session (nothing is recorded) and say so."""
        item = self.current
        if item is None:
            self._say("Nothing to skip: no record is shown.", error=True)
            return
        self.queue.skip(item.record_id)
        self.advance()
        title = _short(str(self.queue.record(item.record_id).get("title") or item.record_id), 80)
        later = (
            "it comes back after the other records"
            if self.current is not None and self.current.record_id != item.record_id
            else "nothing else is left, so it is shown again"
        )
        self._say(f"skipped ✓ (nothing recorded; {later}) — {title}")

    @in_turn
    def command(self, text: str) -> None:
        """Run a keyboard command (what the command box does on Enter)."""
        cmd = text.strip().lower()
        if not cmd:
            return
        head, digits = cmd[0], cmd[1:].strip()
        if head.isdigit():
            head, digits = "", cmd
        if head not in "iembus" or (digits and head not in "e"):
            self._say(f"Unknown key {cmd!r}: {KEYS_HELP}.", error=True)
            return
        reason = None
        if digits:
            if not digits.isdigit() or not 1 <= int(digits) <= len(self.reasons):
                self._say(f"No reason {digits}: choose 1-{len(self.reasons)}.", error=True)
                return
            reason = self.reasons[int(digits) - 1][0]
            if not head:  # a digit alone chooses the reason for the next Exclude
                self.reason.value = reason
        actions = {
            "i": lambda: self.decide("include"),
            "e": lambda: self.decide("exclude", reason=reason),
            "m": lambda: self.decide("maybe"),
            "b": self.go_back,
            "u": self.undo_last,
            "s": self.skip_current,
            "": lambda: None,
        }
        actions[head]()

    def _on_keys(self, change: dict[str, Any]) -> None:
        value = change["new"]
        if value:
            self.keys.value = ""
            self.command(value)

    def _say(self, text: str, *, error: bool = False) -> None:
        colour = "#cf222e" if error else "#1a7f37"
        self.status.value = f'<span style="color:{colour}">{esc(text)}</span>'

    # ------------------------------------------------------------ stopping

    def _on_stopping_open(self, change: dict[str, Any]) -> None:
        if change["new"] == 0:
            self.update_stopping()

    @in_turn
    def update_stopping(self) -> None:
        """Fill the stopping panel: run of excludes, CMH estimate, recall curve."""
        try:
            info = self.queue.stopping()
        except ImportError as exc:  # the stopping module is optional at runtime
            self.stop_summary.value = esc(f"Stopping evidence unavailable: {exc}")
            return
        self.stop_summary.value = stopping_html(info)
        if info["screened"]:
            from IPython import get_ipython
            from IPython.display import display

            self.stop_figure = self.queue.stopping_figure()
            if get_ipython() is not None:  # in a kernel: plotly renders in the Output widget
                self.stop_plot.clear_output(wait=True)
                with self.stop_plot:
                    display(self.stop_figure)


def stopping_html(info: dict[str, Any]) -> str:
    """The stopping evidence as a few lines of text."""
    est = info.get("estimate") or {}
    run = int(info["consecutive_excludes"])
    lines = [
        f"Screened {info['screened']} of {info['total']}; {info['relevant_found']} relevant "
        f"found; {run} exclude{'' if run == 1 else 's'} in a row since the last relevant one."
    ]
    if est:
        lo, hi = [*list(est.get("remaining_ci") or ()), None, None][:2]
        point = est.get("estimated_remaining")
        p = est.get("p_value")
        lines.append(
            "Callaghan & Müller-Hansen (2020): "
            + (f"about {_num(point)} relevant records still unseen " if point is not None else "")
            + (
                f"({100 * (1 - float(est.get('alpha', 0.05))):.0f}% interval "
                f"{_num(lo)}–{_num(hi)}); "
                if lo is not None
                else ""
            )
            + (
                f"p = {p:.3g} for “recall below {float(est.get('target_recall', 0.95)):.0%}”; "
                if p is not None and p == p
                else ""
            )
            + ("<b>you can stop</b>" if est.get("can_stop") else "keep screening")
            + "."
        )
    return "<br>".join(lines)


# ---------------------------------------------------------------- helpers


def _num(value: Any) -> str:
    try:
        return f"{float(value):.0f}"
    except (TypeError, ValueError):
        return "?"


def _short(text: str, n: int = 70) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _given(value: Any) -> bool:
    return value is not None and value == value and str(value).strip() != ""


def _indexed(df: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by record id, so one record's rows are a quick ``searchsorted`` slice."""
    return df.sort_values("record_id", kind="stable").reset_index(drop=True)


def _rows(df: pd.DataFrame, record_id: str) -> pd.DataFrame:
    ids = df["record_id"].to_numpy()
    lo = ids.searchsorted(record_id, side="left")
    hi = ids.searchsorted(record_id, side="right")
    return df.iloc[lo:hi]


def _first(df: pd.DataFrame) -> dict[str, Any] | None:
    return None if df.empty else df.iloc[0].to_dict()
