"""The findings panel: the reviewer confirms or changes each finding's GRADE-CERQual
judgement in JupyterLab, as ``synth extract judge`` does from the command line.

Built from plain ipywidgets 8, like the extraction app. Open it from the reviewer's
extraction notebook (``synth extract open --findings``) or any notebook::

    from synth.extraction.findings_app import FindingsApp
    FindingsApp.open("data/kei-2020.sqlite", reviewer="felix")

One box per finding (a theme of the synthesis): its wording and papers, synth's suggested
level for each of the four components and the overall confidence, each with its reason, and
per component a dropdown and a note. The dropdown starts at the standing judgement (the
latest event, whoever made it), else at "synth's suggestion"; choosing a level confirms
(the suggested one) or changes it, choosing "synth's suggestion" again withdraws a
judgement. *Save* records each changed component through
:func:`synth.extraction.cerqual.record_judgement`, the function ``synth extract judge``
calls, which commits the event before it returns; only then does the box say "saved ✓".
The summary of findings (the synthesis page, ``synth export findings``) shows the
reviewer's levels marked with *.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import ipywidgets as W
import pandas as pd

from synth.extraction.cerqual import (
    COMPONENT_NAMES,
    COMPONENTS,
    LEVELS,
    OVERALL,
    current_judgements,
    record_judgement,
    review_suggestions,
    summary_of_findings,
)
from synth.screening.highlight import esc
from synth.store.db import in_turn

log = logging.getLogger(__name__)

#: The dropdown choice that leaves synth's suggestion standing (a judgement withdrawn).
SUGGESTED = None
PARTS = (*COMPONENTS, "overall")


class JudgementRow:
    """One component (or the overall confidence) of one finding: its dropdown and note."""

    def __init__(self, component: str, suggested: str, why: str) -> None:
        self.component = component
        levels = OVERALL if component == "overall" else LEVELS
        self.level = W.Dropdown(
            options=[(f"synth's suggestion: {suggested}", SUGGESTED), *((v, v) for v in levels)],
            description=COMPONENT_NAMES[component],
            style={"description_width": "13em"},
            layout=W.Layout(width="34em"),
        )
        self.note = W.Text(
            placeholder="note (why)", layout=W.Layout(width="24em"), continuous_update=False
        )
        self.why = W.HTML(f"<small>{esc(why)}</small>")
        self.widget = W.VBox([W.HBox([self.level, self.note]), self.why])
        #: what the store holds for this component: (level or None, note)
        self.standing: tuple[str | None, str] = (SUGGESTED, "")

    def set_standing(self, level: str | None, note: str) -> None:
        """Show the standing judgement (what is in the store) and remember it."""
        self.standing = (level, note)
        self.level.value = level
        self.note.value = note

    @property
    def changed(self) -> bool:
        """Whether the dropdown or the note differs from the store (a note beside synth's
        suggestion is no judgement: :attr:`note_alone`)."""
        return not self.note_alone and (self.level.value, self.note.value.strip()) != self.standing

    @property
    def note_alone(self) -> bool:
        """A note typed while synth's suggestion stands and was standing: nothing to save
        it with (a note explains a reviewer's level)."""
        return (
            self.level.value is SUGGESTED
            and self.standing[0] is SUGGESTED
            and self.note.value.strip() != self.standing[1]
        )


class FindingBox:
    """One finding: its wording, papers, the suggestion, a row per component, Save."""

    def __init__(self, finding: Any, app: FindingsApp) -> None:
        self.finding_id = str(finding.finding_id)
        self.rows = {
            part: JudgementRow(
                part,
                str(getattr(finding, part)),
                str(getattr(finding, "overall_why" if part == "overall" else f"{part}_why")),
            )
            for part in PARTS
        }
        self.save = W.Button(description="Save", icon="save", button_style="primary",
                             tooltip="record each changed judgement")  # fmt: skip
        self.save.on_click(lambda _: app.save(self.finding_id))
        self.state = W.HTML()
        self.standing = W.HTML()
        head = W.HTML(
            f"<h4>{esc(str(finding.finding))}</h4><small>{int(finding.papers)} papers · "
            f"finding <code>{esc(self.finding_id)}</code></small>"
        )
        self.widget = W.VBox(
            [head, *(r.widget for r in self.rows.values()), W.HBox([self.save, self.state]),
             self.standing],
            layout=W.Layout(border="1px solid #d0d7de", padding="6px 12px", margin="0 0 8px 0"),
        )  # fmt: skip
        self.widget.add_class(f"synth-finding-{self.finding_id}")  # a page test finds it


class FindingsApp:
    """The findings panel on a review store (see the module docstring).

    Attributes worth knowing in a test or a notebook: ``widget``, ``boxes`` (finding id ->
    :class:`FindingBox`, whose ``rows`` are component -> :class:`JudgementRow`),
    ``suggested`` (synth's suggestions), ``status``.
    """

    def __init__(
        self, con: sqlite3.Connection, *, reviewer: str, suggested: pd.DataFrame | None = None
    ) -> None:
        if not reviewer.strip():
            raise ValueError("reviewer: give a name, judgements are recorded under it")
        self.con = con
        self.reviewer = reviewer.strip()
        self.suggested = review_suggestions(con) if suggested is None else suggested
        self.boxes = {
            str(f.finding_id): FindingBox(f, self) for f in self.suggested.itertuples(index=False)
        }
        self.status = W.HTML()
        header = W.HTML(
            f"<b>Confidence in the findings (GRADE-CERQual)</b> · reviewer "
            f"<b>{esc(self.reviewer)}</b> · {len(self.boxes)} findings"
        )
        body: list[W.Widget] = [b.widget for b in self.boxes.values()]
        if not body:
            body = [W.HTML("<p>No findings yet: no theme has papers behind it.</p>")]
        self.widget = W.VBox([header, self.status, *body])
        self.refresh()

    @classmethod
    def open(
        cls,
        db: str | Path | sqlite3.Connection,
        *,
        reviewer: str,
        themes: str | Path | None = None,
        review: str | Path | None = None,
    ) -> FindingsApp:
        """Open the panel on a review store (a path or an open connection); ``themes``: the
        theme codebook, ``review``: the review.yml (defaults: synth's own, the store's)."""
        from synth.store import connect

        if not isinstance(db, sqlite3.Connection) and not Path(db).is_file():
            raise FileNotFoundError(f"{db}: no review store there")
        con = db if isinstance(db, sqlite3.Connection) else connect(db)
        try:
            suggested = review_suggestions(con, themes=themes, review=review)
            return cls(con, reviewer=reviewer, suggested=suggested)
        except BaseException:
            if con is not db:
                con.close()
            raise

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    @in_turn
    def refresh(self) -> None:
        """Show what the store holds: each standing judgement in its dropdown and note,
        and each finding's confidence as the summary of findings gives it."""
        standing = current_judgements(self.con)
        held = {
            (str(f), c): (lv, n if isinstance(n, str) else "")
            for f, c, lv, n in standing[["finding_id", "component", "level", "note"]].itertuples(
                index=False
            )
        }
        for fid, box in self.boxes.items():
            for part, row in box.rows.items():
                row.set_standing(*held.get((fid, part), (SUGGESTED, "")))
        sof = summary_of_findings(self.con, self.suggested)
        for s in sof.itertuples(index=False):
            box = self.boxes.get(str(s.finding_id))
            if box is None:
                continue
            judged = ", ".join(COMPONENT_NAMES[c].lower() for c in s.judged)
            by = ", ".join(s.judged_by)
            box.standing.value = (
                f"<small>In the summary of findings: confidence <b>{esc(str(s.overall))}</b>"
                + (f" · judged by {esc(by)}: {esc(judged)}" if judged else " · synth's suggestion")
                + "</small>"
            )

    @in_turn
    def save(self, finding_id: str) -> list[int]:
        """Record each changed judgement of one finding (each committed as it is recorded);
        the event ids. Nothing changed: nothing recorded, and the box says so. A component
        the store refuses is named with why, and the others are still recorded: the box
        says which were saved and which not, and shows the store when any was saved."""
        box = self.boxes[finding_id]
        events: list[int] = []
        refused: dict[str, str] = {}  # component -> why the store refused it
        for part, row in box.rows.items():
            if not row.changed:
                continue
            try:
                event = record_judgement(
                    self.con, finding_id, part, row.level.value, self.reviewer, row.note.value
                )
            except (ValueError, sqlite3.Error) as exc:
                log.warning("judgement of %s %s not saved: %s", finding_id, part, exc)
                refused[part] = f"{COMPONENT_NAMES[part].lower()}: {exc}"
                continue
            events.append(event)
            row.set_standing(row.level.value, row.note.value.strip())
        alone = [COMPONENT_NAMES[p].lower() for p, r in box.rows.items() if r.note_alone]
        problems = [f"not saved: {'; '.join(refused.values())}"] if refused else []
        if alone:
            problems.append(f"note not saved ({', '.join(alone)}): choose a level for it")
        box.state.value = _save_state(events, problems)
        if events:
            self.status.value = esc(f"saved {len(events)} judgement(s) of {finding_id}")
            kept = {p: (box.rows[p].level.value, box.rows[p].note.value) for p in refused}
            self.refresh()
            for part, (level, note) in kept.items():  # still the reviewer's, to save again
                box.rows[part].level.value, box.rows[part].note.value = level, note
        return events


def _save_state(events: list[int], problems: list[str]) -> str:
    """What a finding's box says after Save: the events saved, then what was not saved."""
    parts = []
    if events:
        parts.append(
            f'<span style="color:#1a7f37">saved ✓ event{"s" if len(events) > 1 else ""} '
            + esc(", ".join(f"#{e}" for e in events))
            + "</span>"
        )
    if problems:
        text = "; ".join(problems)
        if not events:
            text = text[0].upper() + text[1:]
        parts.append(f'<span style="color:#cf222e">{esc(text)}</span>')
    return " ".join(parts) or "<small><i>nothing changed</i></small>"
