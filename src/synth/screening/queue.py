"""The screening queue: the next record at once, while the model retrains in the background.

A reviewer should never wait for the model. The queue keeps the *last* ranking and serves
from it immediately (skipping records already decided, and those the filters hide); after
each decision it hands a snapshot of the labels to one background worker thread that
refits the :class:`~synth.screening.learner.Prioritiser` and publishes a new ranking.
A job that has not started yet is replaced by a newer one, and a refit still running when
a newer decision arrives is *stale*: its result is discarded and the newest job runs next.

Threads and SQLite: the worker never touches the store; it gets numpy arrays (features
and labels), and only the callers read and write the database (a Jupyter kernel may call
from more than one thread: the app takes turns on the connection's lock, see
:func:`synth.store.db.serialised`). The store is read again on every :meth:`next`, so
decisions made meanwhile in another kernel are seen.

Modes (``mode=``):

``"single"``
    one screening per record: a record anybody has decided at this stage is not served
    again, and the model learns from the decision that stands per record (conflicts are
    left out of training).
``"dual"``
    blinded dual screening: every reviewer screens every record; only this reviewer's own
    decisions hide records and train the model, so nothing of the other reviewer's
    judgement leaks into the order or the view.

Cold start: until the reviewers' decisions include both an include and an exclude, the
model is trained on *priors* as well: the records named as known includes/excludes in the
settings, or else the tagger's suggested decisions (:func:`synth.store.tags.load_suggestions`).
Once decisions hold both classes the model learns from them alone. ``maybe`` counts as
relevant for training (it goes on to full text, as an include does).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synth.store.db import require_name

log = logging.getLogger(__name__)

MODES: tuple[str, ...] = ("single", "dual")
ORIGINS: tuple[str, ...] = ("model", "priors", "random")
SETTINGS_NAME = "screening"
RELEVANT = {"include": 1, "maybe": 1, "exclude": 0}


# ---------------------------------------------------------------- small value types


@dataclass(frozen=True)
class QueueFilter:
    """What the reviewer asked to see: a tag, a year range, a search text (all optional).

    ``tag`` is ``"facet:label"`` or just ``"label"`` (any facet); ``text`` is matched
    case-insensitively in title, abstract, authors, venue and keywords.
    """

    tag: str | None = None
    year_min: int | None = None
    year_max: int | None = None
    text: str | None = None

    def is_empty(self) -> bool:
        return not (self.tag or self.text) and self.year_min is None and self.year_max is None


@dataclass(frozen=True)
class QueueItem:
    """The record served next and why it is next."""

    record_id: str
    row: int  # row in ``ScreeningQueue.records``
    rank: int  # 1-based position in the current ranking among records still to screen
    remaining: int  # records still to screen (before filters)
    matching: int  # of those, how many pass the filters
    relevance: float | None  # the model's relevance score, None before any ranking
    origin: str  # "model", "priors" or "random" (see ORIGINS)
    ranking: int  # generation of the ranking this came from (0 = initial order)
    n_labels: int  # labels the ranking was trained on
    n_relevant: int  # of which relevant (include/maybe)

    def explain(self) -> str:
        """Why this record is next, in one sentence for the reviewer."""
        score = "no score yet" if self.relevance is None else f"relevance {self.relevance:.3f}"
        how = {
            "model": f"ranked by the model trained on {self.n_labels} decisions "
            f"({self.n_relevant} relevant)",
            "priors": f"ranked by a model started from priors ({self.n_labels} labels, "
            f"{self.n_relevant} relevant): the decisions do not yet hold both an include "
            "and an exclude",
            "random": "in seeded random order: no include to learn from yet",
        }[self.origin]
        shown = "" if self.matching == self.remaining else f"; {self.matching} match the filters"
        return f"Rank {self.rank} of {self.remaining} to screen, {score}; {how}{shown}."


@dataclass(frozen=True)
class Progress:
    """Counts for the progress bar (this reviewer's in dual mode, everyone's in single)."""

    total: int
    screened: int
    include: int
    exclude: int
    maybe: int
    conflict: int = 0

    @property
    def remaining(self) -> int:
        return self.total - self.screened


@dataclass
class Ranking:
    """One published ranking: rows in serving order plus a relevance score per row."""

    order: np.ndarray
    relevance: np.ndarray | None
    origin: np.ndarray  # per row: index into ORIGINS
    generation: int
    n_labels: int
    n_relevant: int


@dataclass
class _Job:
    generation: int
    train: np.ndarray  # bool per row: used for training
    y: np.ndarray  # 0/1 per row (meaningful where train)
    decided: np.ndarray  # bool per row: no longer to be served
    from_decisions: bool  # the training labels are reviewers' decisions only (no priors)


@dataclass
class _State:
    """The store's screening state as this queue sees it (read on every ``next``)."""

    key: tuple[Any, ...]
    decided: np.ndarray
    labels: pd.Series  # record_id -> 0/1 for training (decisions only)
    progress: Progress
    in_order: list[int] = field(default_factory=list)  # 0/1 in screening order


# ---------------------------------------------------------------- settings


def default_settings() -> dict[str, Any]:
    """The settings a new review starts with (saved on the first open)."""
    from synth.screening.learner import LearnerSettings

    return {
        "learner": LearnerSettings().to_dict(),
        "mode": "single",
        "known_includes": [],
        "known_excludes": [],
        "use_suggestions": True,
    }


def screening_settings(
    con: sqlite3.Connection, *, save: bool = True, mode: str | None = None
) -> dict[str, Any]:
    """The review's screening settings (``name="screening"``); defaults saved on first use.

    ``mode``: the mode a reviewer opens the queue in. It becomes the review's saved mode
    when it differs, so what the review asks for (e.g. a second screening of every record,
    which ``synth screen status`` reports on) is what its reviewers are doing.
    """
    from synth.screening.settings import load_settings, save_settings

    if mode is not None and mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
    found = load_settings(con, SETTINGS_NAME)
    settings = {**default_settings(), **(found or {})}
    changed = found is None or (mode is not None and settings["mode"] != mode)
    if mode is not None:
        settings["mode"] = mode
    if save and changed:
        save_settings(con, settings, name=SETTINGS_NAME)
    return settings


# ---------------------------------------------------------------- the queue


class ScreeningQueue:
    """Records to screen in prioritised order, served at once; refits in the background.

    Parameters
    ----------
    con
        An open review store (:func:`synth.store.connect`). Used only by the callers of the
        queue's methods, never by the refit thread.
    reviewer
        Who is screening; decisions are recorded under this name.
    stage
        ``"title_abstract"`` or ``"full_text"`` (full text serves the records whose
        title/abstract decision stands as include or maybe).
    mode
        ``"single"`` or ``"dual"`` (see the module docstring); default from the settings.
    settings
        Screening settings (see :func:`default_settings`); default: the store's, saved on
        first use.
    background
        Refit in a worker thread (the default). ``False`` refits synchronously, e.g. for
        a simulation or a script.
    prioritiser_factory, features
        Injection points (tests, experiments): ``factory(LearnerSettings) -> Prioritiser``
        and ``features(records, LearnerSettings, tags) -> X``.
    """

    def __init__(
        self,
        con: sqlite3.Connection,
        *,
        reviewer: str,
        stage: str = "title_abstract",
        mode: str | None = None,
        settings: dict[str, Any] | None = None,
        background: bool = True,
        prioritiser_factory: Callable[[Any], Any] | None = None,
        features: Callable[..., Any] | None = None,
    ) -> None:
        from synth.screening.decisions import STAGES
        from synth.screening.learner import LearnerSettings
        from synth.store.tags import current_tags
        from synth.store.views import load_records

        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}: choose one of {', '.join(STAGES)}")
        self.reviewer = require_name(reviewer, "reviewer")
        self.con = con
        self.stage = stage
        self.settings = (
            dict(settings) if settings is not None else screening_settings(con, mode=mode)
        )
        self.mode = mode or self.settings.get("mode", "single")
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}: choose one of {', '.join(MODES)}")
        self.learner = LearnerSettings.from_dict(self.settings.get("learner") or {})
        self._factory = prioritiser_factory or _default_factory
        self.background = background

        records = load_records(con, with_groups=True)
        kept = records["is_kept"].fillna(True).astype(bool)
        self.records = records[kept].reset_index(drop=True)
        self.ids = self.records["record_id"].astype(str).to_numpy()
        self._row = {rid: i for i, rid in enumerate(self.ids)}
        self.tags = current_tags(con)
        self.tags = self.tags[self.tags["record_id"].isin(self._row)].reset_index(drop=True)
        # features are built by the first refit (on the worker thread, like every fit), so
        # opening a large review shows its first record before TF-IDF is done
        self._build_features = features or _default_features
        self.X: Any = None
        self.priors = self._load_priors()
        self._haystack = _haystack(self.records)
        self._filter_cache: dict[QueueFilter, np.ndarray] = {}

        self.history: list[tuple[str, int]] = []  # (record_id, event_id) this session
        self.skipped: list[str] = []
        self.discarded = 0  # stale refits thrown away
        self.refits = 0  # rankings published

        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: _Job | None = None
        self._running: _Job | None = None
        self._requested = 0
        self._stop = False
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

        self._state = self._read_state()
        self._ranking = self._initial_ranking()
        self._request_refit(self._state)

    # ------------------------------------------------------------ store state

    def _load_priors(self) -> pd.Series:
        from synth.screening.learner import prior_labels
        from synth.store.tags import load_suggestions

        includes = [r for r in self.settings.get("known_includes") or [] if r in self._row]
        excludes = [r for r in self.settings.get("known_excludes") or [] if r in self._row]
        suggestions = None
        if self.settings.get("use_suggestions", True) and not (includes or excludes):
            suggestions = load_suggestions(self.con)
        priors = prior_labels(
            self.records,
            known_includes=includes,
            known_excludes=excludes,
            suggestions=suggestions,
        )
        priors = pd.Series(priors).dropna()
        return priors[priors.index.isin(self._row)].astype(int)

    def _state_key(self) -> tuple[Any, ...]:
        stages = (self.stage, "title_abstract")
        row = self.con.execute(
            "SELECT max(event_id), count(*) FROM decisions WHERE stage IN (?, ?)", stages
        ).fetchone()
        return tuple(row)

    def _read_state(self) -> _State:
        """Decided rows, training labels and counts from the store as it is now."""
        from synth.screening.decisions import current_decisions, final_decisions

        key = self._state_key()
        n = len(self.ids)
        candidates = np.ones(n, dtype=bool)
        if self.stage == "full_text":
            ta = final_decisions(self.con, stage="title_abstract")
            passed = set(ta.loc[ta["decision"].isin(["include", "maybe"]), "record_id"])
            candidates = np.array([rid in passed for rid in self.ids], dtype=bool)
        if self.mode == "dual":
            cur = current_decisions(self.con, stage=self.stage, reviewer=self.reviewer)
            standing = cur[["record_id", "decision", "event_id"]]
        else:
            cur = current_decisions(self.con, stage=self.stage)
            final = final_decisions(self.con, stage=self.stage)
            order = cur.groupby("record_id")["event_id"].min()
            standing = final[["record_id", "decision"]].assign(
                event_id=final["record_id"].map(order)
            )
        standing = standing[standing["record_id"].isin(self._row)]
        standing = standing.sort_values("event_id", kind="stable")
        decided = np.zeros(n, dtype=bool)
        decided[[self._row[r] for r in standing["record_id"]]] = True
        decided |= ~candidates
        trainable = standing[standing["decision"].isin(list(RELEVANT))]
        labels = pd.Series(
            trainable["decision"].map(RELEVANT).to_numpy(dtype=int),
            index=trainable["record_id"].to_numpy(),
        )
        counts = standing["decision"].value_counts()
        progress = Progress(
            total=int(candidates.sum()),
            screened=len(standing),
            include=int(counts.get("include", 0)),
            exclude=int(counts.get("exclude", 0)),
            maybe=int(counts.get("maybe", 0)),
            conflict=int(counts.get("conflict", 0)),
        )
        return _State(key, decided, labels, progress, [int(v) for v in labels.to_numpy()])

    def refresh(self) -> _State:
        """Re-read the store; schedule a refit if decisions changed (here or elsewhere)."""
        if self._state_key() != self._state.key:
            self._state = self._read_state()
            self._request_refit(self._state)
        return self._state

    # ------------------------------------------------------------ rankings

    def _job(self, state: _State, generation: int) -> _Job:
        n = len(self.ids)
        train = np.zeros(n, dtype=bool)
        y = np.zeros(n, dtype=int)
        labels = state.labels
        rows = np.array([self._row[r] for r in labels.index], dtype=int)
        train[rows] = True
        y[rows] = labels.to_numpy()
        from_decisions = True
        if len(set(labels.tolist())) < 2:  # cold start: priors fill in for undecided records
            extra = self.priors[~self.priors.index.isin(labels.index)]
            if len(extra):
                rows = np.array([self._row[r] for r in extra.index], dtype=int)
                train[rows] = True
                y[rows] = extra.to_numpy()
                from_decisions = False
        return _Job(generation, train, y, state.decided.copy(), from_decisions)

    def _initial_ranking(self) -> Ranking:
        """Served until the first refit lands: seeded random, known/suggested excludes last."""
        rng = np.random.default_rng(self.learner.seed)
        order = rng.permutation(len(self.ids))
        prior = np.full(len(self.ids), 0.5)
        prior[[self._row[r] for r in self.priors.index]] = self.priors.to_numpy()
        order = order[np.argsort(-prior[order], kind="stable")]
        origin = np.full(len(self.ids), ORIGINS.index("random"))
        origin[[self._row[r] for r in self.priors.index]] = ORIGINS.index("priors")
        return Ranking(order, None, origin, 0, 0, 0)

    def _fit(self, job: _Job) -> Ranking:
        """One refit (runs on the worker thread: numpy in, numpy out, no store access)."""
        if self.X is None:
            tags = self.tags if self.learner.use_tags else None
            self.X = self._build_features(self.records, self.learner, tags)
        prio = self._factory(self.learner)
        order, relevance = prio.rank(self.X, job.train, job.y)
        order = np.asarray(order, dtype=int)
        relevance = np.asarray(relevance, dtype=float)
        # prior-labelled rows were training data but still await a reviewer: merge them
        # into the order where their relevance puts them
        waiting = np.flatnonzero(job.train & ~job.decided)
        if waiting.size:
            order = _merge_by_relevance(order, waiting, relevance)
        y_train = job.y[job.train]
        if not (y_train == 1).any():  # nothing to learn from: the order is seeded random
            source = "random"
        else:
            source = "model" if job.from_decisions else "priors"
        origin = np.full(len(self.ids), ORIGINS.index(source))
        randoms = getattr(prio, "random_rows_", None)  # rows placed by a random pick
        if randoms is not None:
            origin[np.asarray(randoms, dtype=int)] = ORIGINS.index("random")
        return Ranking(
            order=order,
            relevance=None if source == "random" else relevance,
            origin=origin,
            generation=job.generation,
            n_labels=int(job.train.sum()),
            n_relevant=int(y_train.sum()),
        )

    def _request_refit(self, state: _State) -> None:
        if not len(self.ids):
            return
        with self._lock:
            self._requested += 1
            job = self._job(state, self._requested)
            if self.background:
                self._pending = job  # a job not yet started is simply replaced
                self._ensure_thread()
                self._wake.notify_all()
                return
        try:
            ranking = self._fit(job)
        except Exception as exc:  # a decision is saved already: keep serving the last order
            log.exception("refit %d failed", job.generation)
            self._error = exc
            return
        self._publish(job, ranking)

    def _publish(self, job: _Job, ranking: Ranking) -> bool:
        with self._lock:
            if job.generation != self._requested:
                self.discarded += 1
                log.debug("refit %d discarded: decision %d came meanwhile", job.generation,
                          self._requested)  # fmt: skip
                return False
            self._ranking = ranking
            self.refits += 1
            return True

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop = False
            self._thread = threading.Thread(
                target=self._work, name=f"synth-screening-refit-{self.reviewer}", daemon=True
            )
            self._thread.start()

    def _work(self) -> None:
        while True:
            with self._lock:
                while self._pending is None and not self._stop:
                    self._wake.wait()
                if self._stop:
                    return
                job, self._pending = self._pending, None
                self._running = job
            try:
                ranking = self._fit(job)
            except BaseException as exc:  # keep serving the last ranking; report it
                log.exception("refit %d failed", job.generation)
                with self._lock:
                    self._error = exc
                    self._running = None
                    self._wake.notify_all()
                continue
            self._publish(job, ranking)
            with self._lock:
                self._running = None
                self._wake.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no refit is pending or running (tests, scripts); False on timeout."""
        with self._lock:
            return self._wake.wait_for(
                lambda: self._pending is None and self._running is None, timeout
            )

    @property
    def busy(self) -> bool:
        """A refit is pending or running (the served order may be a decision behind)."""
        with self._lock:
            return self._pending is not None or self._running is not None

    @property
    def last_error(self) -> BaseException | None:
        return self._error

    @property
    def ranking(self) -> Ranking:
        with self._lock:
            return self._ranking

    def close(self) -> None:
        """Stop the worker thread (a pending job is dropped)."""
        with self._lock:
            self._stop = True
            self._pending = None
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # ------------------------------------------------------------ serving

    def filter_mask(self, flt: QueueFilter | None) -> np.ndarray:
        """Rows that pass ``flt`` (all rows for no filter)."""
        if flt is None or flt.is_empty():
            return np.ones(len(self.ids), dtype=bool)
        if flt not in self._filter_cache:
            self._filter_cache[flt] = self._compute_filter(flt)
        return self._filter_cache[flt]

    def _compute_filter(self, flt: QueueFilter) -> np.ndarray:
        mask = np.ones(len(self.ids), dtype=bool)
        if flt.tag:
            facet, _, label = flt.tag.rpartition(":")
            hit = self.tags["label"] == label.strip()
            if facet.strip():
                hit &= self.tags["facet"] == facet.strip()
            rows = {self._row[r] for r in self.tags.loc[hit, "record_id"]}
            mask &= np.isin(np.arange(len(self.ids)), list(rows))
        years = self.records["year"]
        if flt.year_min is not None:
            mask &= (years >= flt.year_min).fillna(False).to_numpy(dtype=bool)
        if flt.year_max is not None:
            mask &= (years <= flt.year_max).fillna(False).to_numpy(dtype=bool)
        if flt.text and flt.text.strip():
            needle = flt.text.strip().casefold()
            mask &= self._haystack.str.contains(needle, regex=False).to_numpy(dtype=bool)
        return mask

    def tag_choices(self) -> list[tuple[str, int]]:
        """("facet:label", number of records) for every tag present, most common first."""
        counts = (
            self.tags.drop_duplicates(["record_id", "facet", "label"])
            .groupby(["facet", "label"])
            .size()
            .sort_values(ascending=False, kind="stable")
        )
        return [(f"{f}:{lab}", int(n)) for (f, lab), n in counts.items()]

    def next(self, flt: QueueFilter | None = None) -> QueueItem | None:
        """The next record to screen, from the last ranking, at once (None when done).

        Reads the store's current state first, so a record decided in another kernel is
        skipped (single mode), and schedules a refit if any decision changed.
        """
        state = self.refresh()
        ranking = self.ranking
        order = ranking.order
        todo = order[~state.decided[order]]
        if self.skipped:
            skipped = np.array([self._row[r] for r in self.skipped if r in self._row], dtype=int)
            todo = np.concatenate([todo[~np.isin(todo, skipped)], todo[np.isin(todo, skipped)]])
        passing = todo[self.filter_mask(flt)[todo]]
        if passing.size == 0:
            return None
        row = int(passing[0])
        rank = int(np.flatnonzero(todo == row)[0]) + 1
        relevance = None if ranking.relevance is None else float(ranking.relevance[row])
        return QueueItem(
            record_id=str(self.ids[row]),
            row=row,
            rank=rank,
            remaining=int(todo.size),
            matching=int(passing.size),
            relevance=relevance,
            origin=ORIGINS[int(ranking.origin[row])],
            ranking=ranking.generation,
            n_labels=ranking.n_labels,
            n_relevant=ranking.n_relevant,
        )

    def item(self, record_id: str) -> QueueItem:
        """A record (e.g. one reached by going back) described like a served one."""
        row = self._row[record_id]
        ranking = self.ranking
        relevance = None if ranking.relevance is None else float(ranking.relevance[row])
        where = np.flatnonzero(ranking.order == row)
        return QueueItem(
            record_id=record_id,
            row=row,
            rank=int(where[0]) + 1 if where.size else 0,
            remaining=self._state.progress.remaining,
            matching=self._state.progress.remaining,
            relevance=relevance,
            origin=ORIGINS[int(ranking.origin[row])],
            ranking=ranking.generation,
            n_labels=ranking.n_labels,
            n_relevant=ranking.n_relevant,
        )

    def record(self, record_id: str) -> dict[str, Any]:
        """One record's fields as a plain dict."""
        return self.records.iloc[self._row[record_id]].to_dict()

    def record_tags(self, record_id: str) -> pd.DataFrame:
        return self.tags[self.tags["record_id"] == record_id]

    # ------------------------------------------------------------ deciding

    def decide(
        self,
        record_id: str,
        decision: str,
        *,
        reason: str | None = None,
        note: str | None = None,
    ) -> int:
        """Record the reviewer's decision (committed before this returns); its event id.

        Then a refit is scheduled; the caller can serve the next record at once.
        """
        from synth.screening.decisions import record_decision

        event_id = record_decision(
            self.con,
            record_id=record_id,
            reviewer=self.reviewer,
            decision=decision,
            stage=self.stage,
            reason=reason,
            note=note,
        )
        self.history.append((record_id, event_id))
        if record_id in self.skipped:
            self.skipped.remove(record_id)
        self.refresh()
        return event_id

    def undo(self) -> tuple[str, int] | None:
        """Retract this reviewer's last decision: (record_id, retraction event id) or None.

        The last decision of this session, or, in a new session, the reviewer's latest
        standing decision at this stage. The record can then be screened again.
        """
        from synth.screening.decisions import current_decisions, retract_decision

        if self.history:
            record_id, _ = self.history.pop()
        else:
            mine = current_decisions(self.con, stage=self.stage, reviewer=self.reviewer)
            if mine.empty:
                return None
            record_id = str(mine.sort_values("event_id").iloc[-1]["record_id"])
        event_id = retract_decision(
            self.con, record_id=record_id, reviewer=self.reviewer, stage=self.stage
        )
        self.refresh()
        return record_id, event_id

    def skip(self, record_id: str) -> None:
        """Put a record at the end of this session's queue (no decision is recorded)."""
        if record_id not in self.skipped:
            self.skipped.append(record_id)

    def my_decision(self, record_id: str) -> dict[str, Any] | None:
        """This reviewer's standing decision on a record (decision, reason, note, event_id)."""
        from synth.screening.decisions import current_decisions

        mine = current_decisions(self.con, stage=self.stage, reviewer=self.reviewer)
        row = mine[mine["record_id"] == record_id]
        return None if row.empty else row.iloc[-1].to_dict()

    # ------------------------------------------------------------ progress, stopping

    def progress(self) -> Progress:
        return self.refresh().progress

    def labels_in_order(self) -> list[int]:
        """1 (include/maybe) or 0 (exclude) per screened record, in screening order."""
        return list(self.refresh().in_order)

    def stopping(self, *, target_recall: float = 0.95) -> dict[str, Any]:
        """The evidence for deciding to stop: run of excludes and the CMH-2020 estimate."""
        from synth.screening.stopping import callaghan_mueller_hansen, consecutive_excludes

        labels = self.labels_in_order()
        total = self.refresh().progress.total
        estimate = callaghan_mueller_hansen(labels, total, target_recall=target_recall)
        return {
            "screened": len(labels),
            "total": total,
            "relevant_found": int(sum(labels)),
            "consecutive_excludes": int(consecutive_excludes(labels)),
            "estimate": asdict(estimate) if hasattr(estimate, "__dataclass_fields__") else estimate,
        }

    def stopping_figure(self) -> Any:
        from synth.screening.stopping import stopping_figure

        return stopping_figure(self.labels_in_order(), self.refresh().progress.total)


# ---------------------------------------------------------------- helpers


def _default_factory(settings: Any) -> Any:
    from synth.screening.learner import Prioritiser

    return Prioritiser(settings)


def _default_features(records: pd.DataFrame, settings: Any, tags: pd.DataFrame | None) -> Any:
    from synth.screening.learner import build_features

    return build_features(records, settings, tags)


def _haystack(records: pd.DataFrame) -> pd.Series:
    """Lower-cased searchable text per record (title, abstract, authors, venue, keywords)."""

    def join(values: Iterable[Any]) -> str:
        parts = []
        for v in values:
            if isinstance(v, list | tuple):
                parts.extend(str(x) for x in v)
            elif v is not None and not (isinstance(v, float) and v != v) and v is not pd.NA:
                parts.append(str(v))
        return " \n ".join(parts).casefold()

    cols = ["title", "abstract", "authors", "venue", "keywords"]
    return pd.Series([join(row) for row in records[cols].itertuples(index=False)])


def _merge_by_relevance(order: np.ndarray, extra: np.ndarray, relevance: np.ndarray) -> np.ndarray:
    """Insert ``extra`` rows into ``order`` before the first row less relevant than each."""
    order = order[~np.isin(order, extra)]
    extra = extra[np.argsort(-relevance[extra], kind="stable")]
    # position = number of rows in order at least as relevant (exact when order is by
    # relevance, the "max" query; a fair approximation for the other strategies)
    rel = np.sort(relevance[order])
    ahead = len(rel) - np.searchsorted(rel, relevance[extra], side="left")
    return np.insert(order, ahead, extra)
