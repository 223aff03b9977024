"""What the extraction events add up to: each field's value, the extractors' comparison,
agreement per field and progress per included paper.

Everything here is derived from the append-only log (:mod:`synth.store.extraction`) at
query time, nothing is stored: a reviewer's value is their latest event, and a field's
value is, in order of precedence,

- ``consensus``: the latest consensus event (two extractors settled it);
- ``agreed``: every reviewer who answered gave the same value;
- ``single``: only one reviewer answered;
- ``conflict``: reviewers differ and nobody has settled it (value None).

A reviewer who cleared a field answered "no value"; one who never touched it did not
answer. Values are compared as a reviewer would: text ignoring case and spacing, numbers
as numbers (``3 == 3.0``), several choices as a set.

A value is checked against the form as it is *now* (:meth:`Field.check`): one that no
longer fits an edited form (a choice renamed, a field removed) is kept with ``fits``
False and the ``problem`` in words, never dropped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from synth.screening.decisions import _kept_id, _kept_map
from synth.store.extraction import current_consensus, current_values

if TYPE_CHECKING:
    from synth.extraction.forms import Field, Form

#: A field's status, most settled first.
STATUSES: tuple[str, ...] = ("consensus", "agreed", "single", "conflict")
#: :func:`compare`'s status of a field nobody has answered.
EMPTY = "empty"
#: :func:`progress`'s status of a paper.
PROGRESS_STATUSES: tuple[str, ...] = (
    "not started", "extracting", "conflicts", "appraising", "done",
)  # fmt: skip

RESOLVED_COLUMNS = ["record_id", "field_id", "value", "status", "reviewers", "fits", "problem"]
AGREEMENT_COLUMNS = ["field_id", "label", "papers", "agreeing", "share"]
PROGRESS_COLUMNS = [
    "record_id", "extracted_by", "fields_done", "fields_total", "conflicts", "tool",
    "appraised_by", "appraisal_done", "appraisal_total", "status",
]  # fmt: skip


# ---------------------------------------------------------------- values as text


def is_missing(value: Any) -> bool:
    """None, pd.NA, NaT or NaN: no value (a cleared field, or a gap in a frame)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and value != value


def value_text(value: Any, *, quote_marks: bool = True) -> str:
    """A field's value as a reader sees it, in the app, the report and the exports alike:
    choices joined with "; ", a whole number without ".0", nothing for no value, and a
    quote with its location: “text” (location) in a table, or ``quote_marks=False``
    text (location) beside an input the text is typed in."""
    if is_missing(value):
        return ""
    if isinstance(value, list | tuple):
        items = (value_text(v, quote_marks=quote_marks) for v in value)
        return "; ".join(t for t in items if t)
    if isinstance(value, Mapping):
        text = value_text(value.get("text"), quote_marks=quote_marks)
        where = value_text(value.get("location"), quote_marks=quote_marks)
        if text and where:
            return f"\u201c{text}\u201d ({where})" if quote_marks else f"{text} ({where})"
        return text or where
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def answer_key(value: Any) -> str:
    """An appraisal answer as the rules look it up (``cerqual.yml``'s ``answers``): one
    choice saved as a one-item list read as that choice, spacing and case ignored; no
    value, or several, is ""."""
    if isinstance(value, list | tuple):
        value = value[0] if len(value) == 1 else None
    return "" if is_missing(value) else str(value).strip().casefold()


def answer_meaning(value: Any, rules: Mapping[str, Any] | None = None) -> str | None:
    """What an appraisal answer says about a paper's methods: ``none`` (no concern),
    ``concern``, ``unclear`` or ``ignore`` (``cerqual.yml``'s ``answers``, or ``rules``'),
    None for no answer or one off the tools' scales."""
    from synth.extraction.cerqual import load_rules

    answers = (rules or load_rules())["answers"]
    meanings = {str(k).casefold(): v for k, v in answers.items()}
    return meanings.get(answer_key(value))


# ---------------------------------------------------------------- comparing values


def _norm(value: Any, ftype: str | None) -> Any:
    """A hashable form of ``value`` under which two reviewers' equal answers are equal."""
    if value is None:
        return None
    if isinstance(value, str):
        return " ".join(value.split()).casefold()
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list | tuple):
        items = [_norm(v, None) for v in value]
        return frozenset(items) if ftype == "choices" else tuple(items)
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _norm(v, None)) for k, v in value.items()))
    return repr(value)


def same(values: Iterable[Any], ftype: str | None = None) -> bool:
    """Whether every value is the same answer (see the module docstring)."""
    normed = {_norm(v, ftype) for v in values}
    return len(normed) <= 1


# ---------------------------------------------------------------- one field's state


@dataclass
class FieldState:
    """Who said what about one field of one paper, and what that resolves to."""

    by_reviewer: dict[str, Any] = field(default_factory=dict)
    has_consensus: bool = False
    consensus: Any = None

    def status(self, ftype: str | None) -> str:
        if self.has_consensus:
            return "consensus"
        if not self.by_reviewer:
            return EMPTY
        if len(self.by_reviewer) == 1:
            return "single"
        return "agreed" if same(self.by_reviewer.values(), ftype) else "conflict"

    def value(self, ftype: str | None) -> Any:
        status = self.status(ftype)
        if status == "consensus":
            return self.consensus
        if status in ("agreed", "single"):
            return next(iter(self.by_reviewer.values()))
        return None


def _states(
    con: sqlite3.Connection, form_id: str, record_id: str | None = None
) -> dict[tuple[str, str], FieldState]:
    """(kept record, field) -> its :class:`FieldState`, for every field anyone answered."""
    out: dict[tuple[str, str], FieldState] = {}
    cur = current_values(con, form_id, record_id)
    cons = current_consensus(con, form_id, record_id)
    for rec, fid, reviewer, value in zip(
        cur["record_id"], cur["field_id"], cur["reviewer"], cur["value"], strict=True
    ):
        out.setdefault((rec, fid), FieldState()).by_reviewer[reviewer] = value
    for rec, fid, value in zip(cons["record_id"], cons["field_id"], cons["value"], strict=True):
        state = out.setdefault((rec, fid), FieldState())
        state.has_consensus, state.consensus = True, value
    return out


def _problem(form: Form, fid: str, status: str, state: FieldState, value: Any) -> str | None:
    """Why a field's value does not fit ``form`` as it is now (None: it fits)."""
    fld: Field | None = form.fields.get(fid)
    if fld is None:
        return f"{fid!r} is not a field of the form {form.id!r} (any more)"
    if status != "conflict":
        return fld.check(value)
    problems = [
        f"{reviewer}: {p}"
        for reviewer, v in state.by_reviewer.items()
        if (p := fld.check(v)) is not None
    ]
    return "; ".join(problems) or None


def _ftype(form: Form, fid: str) -> str | None:
    fld = form.fields.get(fid)
    return None if fld is None else fld.type


def _field_order(form: Form, fids: Iterable[str]) -> list[str]:
    """The form's fields in form order, then fields it no longer has, sorted."""
    order = list(form.fields)
    extra = sorted(set(fids) - set(order))
    return order + extra


# ---------------------------------------------------------------- public views


def resolved_values(con: sqlite3.Connection, form: Form) -> pd.DataFrame:
    """One row per (paper, field) anyone answered: the value that stands and why.

    ``status`` is one of :data:`STATUSES`; ``value`` is None for a conflict; ``reviewers``
    are those who answered (sorted). A value that no longer fits ``form`` (or a field the
    form no longer has) is kept, with ``fits`` False and ``problem`` saying why.
    """
    states = _states(con, form.id)
    order = {fid: i for i, fid in enumerate(_field_order(form, (f for _, f in states)))}
    rows = []
    for (rec, fid), state in sorted(states.items(), key=lambda kv: (kv[0][0], order[kv[0][1]])):
        ftype = _ftype(form, fid)
        status, value = state.status(ftype), state.value(ftype)
        problem = _problem(form, fid, status, state, value)
        reviewers = tuple(sorted(state.by_reviewer))
        rows.append((rec, fid, value, status, reviewers, problem is None, problem or ""))
    return _frame(rows, RESOLVED_COLUMNS)


def compare(con: sqlite3.Connection, form: Form, record_id: str) -> pd.DataFrame:
    """The extractors' values on one paper, field by field, for the comparison view.

    Columns: ``field_id``, ``label``, one column per reviewer (None: cleared or not
    answered), ``agree`` (at least two answered and all gave the same answer),
    ``consensus`` (the settled value, None when none), ``status`` (one of
    :data:`STATUSES`, or ``empty`` when nobody answered), ``fits`` and ``problem``. Every
    field of the form is listed, in form order, then any field the form no longer has.
    ``record_id`` may be any copy of the paper.
    """
    kept = _kept_id(con, record_id)
    states = _states(con, form.id, kept)  # the events of every copy of the paper
    reviewers = sorted({r for s in states.values() for r in s.by_reviewer})
    rows = []
    for fid in _field_order(form, (f for _, f in states)):
        state = states.get((kept, fid), FieldState())
        ftype = _ftype(form, fid)
        status, value = state.status(ftype), state.value(ftype)
        problem = _problem(form, fid, status, state, value)
        fld = form.fields.get(fid)
        rows.append(
            {
                "field_id": fid,
                "label": fld.label if fld is not None else fid,
                **{r: state.by_reviewer.get(r) for r in reviewers},
                # who answered, a cleared field ("looked, no value") included: a reviewer's
                # None above is either that or no answer at all
                "answered_by": tuple(sorted(state.by_reviewer)),
                "agree": len(state.by_reviewer) >= 2 and same(state.by_reviewer.values(), ftype),
                "consensus": state.consensus if state.has_consensus else None,
                "status": status,
                "fits": problem is None,
                "problem": problem or "",
            }
        )
    columns = [
        "field_id", "label", *reviewers, "answered_by", "agree", "consensus", "status", "fits",
        "problem",
    ]  # fmt: skip
    df = pd.DataFrame(rows, columns=columns)
    for col in [*reviewers, "answered_by", "consensus"]:  # keep None, lists, tuples as they are
        df[col] = pd.Series([r[col] for r in rows], index=df.index, dtype=object)
    df["agree"] = df["agree"].astype(bool)
    df["fits"] = df["fits"].astype(bool)
    return df


def agreement(con: sqlite3.Connection, form: Form) -> pd.DataFrame:
    """Per field of the form: papers two or more reviewers answered, how many of those
    they agreed on (before any consensus), and the share (NaN when no paper had two)."""
    states = _states(con, form.id)
    rows = []
    for fid, fld in form.fields.items():
        doubled = [s for (_, f), s in states.items() if f == fid and len(s.by_reviewer) >= 2]
        agreeing = sum(same(s.by_reviewer.values(), fld.type) for s in doubled)
        share = agreeing / len(doubled) if doubled else float("nan")
        rows.append((fid, fld.label, len(doubled), agreeing, share))
    df = pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
    df["papers"] = df["papers"].astype(int)
    df["agreeing"] = df["agreeing"].astype(int)
    df["share"] = df["share"].astype(float)
    return df


def included_record_ids(con: sqlite3.Connection) -> list[str]:
    """The papers to extract: those the report calls included (the standing full-text
    includes, else title-abstract ones: :func:`synth.report.overview.included_ids`), or
    every unique record while nothing is screened (as the report does), in store order."""
    from synth.report.overview import included_ids

    ids, _ = included_ids(con, "full_text")
    rows = con.execute(
        "SELECT record_id FROM records WHERE record_id NOT IN"
        " (SELECT record_id FROM duplicate_groups WHERE is_kept = 0)"
        " ORDER BY source_id, position, record_id"
    )
    unique = [r[0] for r in rows]
    return unique if ids is None else [r for r in unique if r in ids]


def _done(state: FieldState | None, ftype: str | None, extractors: int) -> bool:
    """A field is done when settled: a consensus, or enough reviewers answered alike."""
    if state is None:
        return False
    status = state.status(ftype)
    return status == "consensus" or (
        status in ("agreed", "single") and len(state.by_reviewer) >= extractors
    )


def _by_record(
    states: dict[tuple[str, str], FieldState],
) -> dict[str, dict[str, FieldState]]:
    """record -> field -> state (so a paper's fields are found without a scan)."""
    out: dict[str, dict[str, FieldState]] = {}
    for (rec, fid), state in states.items():
        out.setdefault(rec, {})[fid] = state
    return out


def _tally(
    form: Form, mine: dict[str, FieldState], extractors: int
) -> tuple[tuple[str, ...], int, int, int]:
    """(reviewers who answered, fields done, fields in conflict, fields that apply) of one
    paper on one form (:meth:`Form.applicable`: an MMAT paper answers its own category)."""
    reviewers = tuple(sorted({r for s in mine.values() for r in s.by_reviewer}))
    applies = form.applicable(mine)
    done = sum(_done(mine.get(fld.id), fld.type, extractors) for fld in applies)
    conflicts = sum(
        mine[fid].status(fld.type) == "conflict" for fid, fld in form.fields.items() if fid in mine
    )
    return reviewers, done, conflicts, len(applies)


def progress(
    con: sqlite3.Connection,
    extraction: Form,
    tools: Mapping[str, Form] | None = None,
    record_ids: Iterable[str] | None = None,
    *,
    extractors: int = 1,
) -> pd.DataFrame:
    """Per included paper: who extracted and appraised it, fields done, and its status.

    ``record_ids`` defaults to :func:`included_record_ids` (a copy of a paper given here
    counts as the paper). ``tools`` are the appraisal
    tools (id -> form); a paper's tool is the one it has values on (None: appraisal not
    tracked, and a paper is done once extracted). ``extractors`` is how many reviewers
    must answer a field before it counts as done (2 for double extraction; a consensus
    always counts). ``status`` is one of :data:`PROGRESS_STATUSES`.
    """
    ids = included_record_ids(con) if record_ids is None else list(record_ids)
    kept = _kept_map(con)  # a copy given in record_ids counts as its paper
    ext_states = _by_record(_states(con, extraction.id))
    tool_states = {tid: _by_record(_states(con, tid)) for tid in (tools or {})}
    rows = []
    for rec in ids:
        paper = kept.get(rec, rec)
        by, done, conflicts, total = _tally(extraction, ext_states.get(paper, {}), extractors)
        tool, appraised_by, a_done, a_total = "", (), 0, 0
        answered = {tid: len(states.get(paper, {})) for tid, states in tool_states.items()}
        if answered and max(answered.values()) > 0:
            tool = max(answered, key=lambda t: answered[t])  # the tool it has most values on
            form = (tools or {})[tool]
            mine = tool_states[tool].get(paper, {})
            appraised_by, a_done, a_conflicts, a_total = _tally(form, mine, extractors)
            conflicts += a_conflicts
        if not by and not appraised_by:
            status = "not started"
        elif conflicts:
            status = "conflicts"
        elif done < total:
            status = "extracting"
        elif tools is not None and (not tool or a_done < a_total):
            status = "appraising"
        else:
            status = "done"
        rows.append((rec, by, done, total, conflicts, tool, appraised_by, a_done, a_total, status))
    return _frame(rows, PROGRESS_COLUMNS)


def progress_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Papers per status (every status listed, in order), from :func:`progress`'s table."""
    counts = table["status"].value_counts()
    return pd.DataFrame(
        {
            "status": list(PROGRESS_STATUSES),
            "papers": [int(counts.get(s, 0)) for s in PROGRESS_STATUSES],
        }
    )


def _frame(rows: list[tuple[Any, ...]], columns: list[str]) -> pd.DataFrame:
    """Rows as a frame whose object columns (values, reviewer tuples) keep their objects."""
    df = pd.DataFrame(rows, columns=columns)
    for i, col in enumerate(columns):
        if col in ("value", "reviewers", "extracted_by", "appraised_by"):
            df[col] = pd.Series([r[i] for r in rows], index=df.index, dtype=object)
    return df
