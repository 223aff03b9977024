"""The screening queue: served at once from the last ranking, refitted in the background."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from synth.screening.decisions import current_decisions, record_decision
from synth.screening.queue import QueueFilter, ScreeningQueue, screening_settings
from synth.store import connect, import_paths

COPRO = [
    ("Co-production of mental health services with service users", 2012),
    ("Co-designing a community mental health service with carers and staff", 2015),
    ("Service users as equal partners in co-producing recovery services", 2018),
    ("Experience-based co-design in an acute mental health ward", 2016),
    ("Co-producing a peer support service with people with lived experience", 2019),
    ("Patients and staff co-design improvements to a crisis service", 2020),
]
KNEE = [
    ("Outcomes of total knee arthroplasty in elderly patients", 2011),
    ("Tourniquet use during knee replacement surgery: a randomised trial", 2013),
    ("Blood loss after total knee arthroplasty with tranexamic acid", 2014),
    ("Revision rates of cemented knee implants: registry analysis", 2017),
    ("Early mobilisation after knee arthroplasty and length of stay", 2019),
    ("Periprosthetic infection after knee replacement: risk factors", 2021),
]


def _bib(entries: list[tuple[str, int]], prefix: str, abstract: str) -> str:
    out = []
    for i, (title, year) in enumerate(entries, 1):
        out.append(
            f"@article{{{prefix}{i},\n  title = {{{title}}},\n  author = {{Author{prefix}{i},"
            f" A.}},\n  year = {{{year}}},\n  journal = {{Journal {prefix}}},\n"
            f"  abstract = {{{title}. {abstract}}}\n}}\n"
        )
    return "\n".join(out)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A small store: six co-production records, six on knee surgery (no tags)."""
    bib = tmp_path / "refs.bib"
    bib.write_text(
        _bib(COPRO, "copro", "Service users, carers and staff co-produce services together.")
        + _bib(KNEE, "knee", "Orthopaedic surgery outcomes measured in a cohort of patients."),
        encoding="utf-8",
    )
    db = tmp_path / "h4-queue.sqlite"
    con = connect(db)
    import_paths(con, [bib])
    con.close()
    return db


@pytest.fixture
def con(store: Path) -> Iterator:
    c = connect(store)
    yield c
    c.close()


@pytest.fixture
def queues() -> Iterator[list[ScreeningQueue]]:
    """Queues made in a test are closed after it (their worker threads stopped)."""
    made: list[ScreeningQueue] = []
    yield made
    for q in made:
        q.close()


def _title(q: ScreeningQueue, record_id: str) -> str:
    return str(q.record(record_id)["title"])


def _by_title(q: ScreeningQueue, words: str) -> str:
    hits = q.records.loc[q.records["title"].str.contains(words, regex=False), "record_id"]
    assert len(hits) == 1, words
    return str(hits.iloc[0])


class Gated:
    """A prioritiser whose rank blocks until the test opens the gate."""

    def __init__(self, gate: threading.Event, started: threading.Event, calls: list[int]):
        self.gate, self.started, self.calls = gate, started, calls

    def rank(self, X, labelled, y):
        self.calls.append(int(labelled.sum()))
        self.started.set()
        assert self.gate.wait(timeout=60), "test never opened the gate"
        n = X.shape[0]
        return np.flatnonzero(~labelled), np.linspace(1.0, 0.0, n)


def test_next_is_served_while_a_refit_is_blocked(con, queues) -> None:
    gate, started, calls = threading.Event(), threading.Event(), []
    q = ScreeningQueue(
        con, reviewer="ann", prioritiser_factory=lambda s: Gated(gate, started, calls)
    )
    queues.append(q)
    assert started.wait(timeout=60)  # the first refit is running, and blocked
    first = q.next()
    assert first is not None and q.busy
    assert first.ranking == 0 and first.origin == "random"  # served from the initial order
    q.decide(first.record_id, "include")
    second = q.next()  # still blocked: served at once from the last ranking
    assert second is not None and second.record_id != first.record_id
    assert q.busy and len(calls) == 1
    gate.set()
    assert q.wait_idle(timeout=60)
    # the blocked refit predates the decision: its result was discarded, the newer one kept
    assert q.discarded == 1 and q.refits == 1
    assert q.ranking.generation == 2
    assert calls == [0, 1]


def test_a_job_not_started_is_replaced_by_the_newest(con, queues) -> None:
    gate, started, calls = threading.Event(), threading.Event(), []
    q = ScreeningQueue(
        con, reviewer="ann", prioritiser_factory=lambda s: Gated(gate, started, calls)
    )
    queues.append(q)
    assert started.wait(timeout=60)
    for decision in ("include", "exclude", "exclude"):
        q.decide(q.next().record_id, decision)
    gate.set()
    assert q.wait_idle(timeout=60)
    # refit 1 ran (stale, discarded); 2 and 3 were replaced before they started; 4 ran
    assert calls == [0, 3]
    assert q.discarded == 1 and q.ranking.generation == 4 and q.ranking.n_labels == 3


def test_the_model_puts_similar_records_first(con, queues) -> None:
    q = ScreeningQueue(con, reviewer="ann", settings={"use_suggestions": False})
    queues.append(q)
    q.decide(_by_title(q, "peer support"), "include")
    q.decide(_by_title(q, "Tourniquet"), "exclude")
    assert q.wait_idle(timeout=60)
    item = q.next()
    assert item.origin == "model" and item.n_labels == 2 and item.n_relevant == 1
    assert item.relevance is not None and item.relevance > 0.5
    assert item.rank == 1 and item.remaining == 10
    order = [q.ids[r] for r in q.ranking.order if not q.refresh().decided[r]]
    top = {_title(q, rid) for rid in order[:5]}
    assert top == {t for t, _ in COPRO if "peer support" not in t}
    assert "Rank 1 of 10" in item.explain() and "model" in item.explain()


def test_known_includes_start_the_model_as_priors(con, queues) -> None:
    records = ScreeningQueue(con, reviewer="x", settings={}, background=False).records
    settings = {
        "known_includes": [_by_title_df(records, "crisis service")],
        "known_excludes": [_by_title_df(records, "Blood loss")],
    }
    q = ScreeningQueue(con, reviewer="ann", settings=settings, background=False)
    queues.append(q)
    item = q.next()
    assert item.origin == "priors" and item.n_labels == 2
    # priors train the model but their records still wait for the reviewer
    assert item.remaining == 12
    assert "co" in _title(q, item.record_id).lower()
    # once decisions hold an include and an exclude, priors step aside
    q.decide(_by_title(q, "ward"), "include")
    q.decide(_by_title(q, "Revision rates"), "exclude")
    assert q.next().origin == "model" and q.next().n_labels == 2


def _by_title_df(records, words: str) -> str:
    return str(records.loc[records["title"].str.contains(words, regex=False), "record_id"].iloc[0])


def test_filters_change_the_queue(con, queues) -> None:
    q = ScreeningQueue(con, reviewer="ann", background=False)
    queues.append(q)
    knee = q.next(QueueFilter(text="KNEE"))
    assert "knee" in _title(q, knee.record_id).lower() and knee.matching == 6
    recent = q.next(QueueFilter(year_min=2019, year_max=2020))
    assert q.record(recent.record_id)["year"] in (2019, 2020) and recent.matching == 3
    both = q.next(QueueFilter(text="knee", year_min=2019))
    assert _title(q, both.record_id) in {"Early mobilisation after knee arthroplasty and "
                                         "length of stay", "Periprosthetic infection after "
                                         "knee replacement: risk factors"}  # fmt: skip
    assert q.next(QueueFilter(text="no such words")) is None
    assert q.next(QueueFilter(tag="approach:ebcd")) is None  # this store has no tags


def test_undo_retracts_and_serves_the_record_again(con, store, queues) -> None:
    q = ScreeningQueue(con, reviewer="ann", background=False)
    queues.append(q)
    item = q.next()
    q.decide(item.record_id, "exclude", note="off topic")
    assert q.next().record_id != item.record_id
    assert q.progress().screened == 1
    record_id, event_id = q.undo()
    assert record_id == item.record_id and event_id > 0
    fresh = connect(store)
    assert current_decisions(fresh, reviewer="ann").empty
    fresh.close()
    assert q.progress().screened == 0
    assert q.next().record_id == item.record_id
    assert q.undo() is None  # nothing left to undo


def test_undo_in_a_new_session_takes_the_latest_decision(con, queues) -> None:
    q1 = ScreeningQueue(con, reviewer="ann", background=False)
    queues.append(q1)
    a = q1.next().record_id
    q1.decide(a, "include")
    b = q1.next().record_id
    q1.decide(b, "exclude")
    q2 = ScreeningQueue(con, reviewer="ann", background=False)
    queues.append(q2)
    assert q2.undo()[0] == b


def test_single_mode_skips_records_another_kernel_decided(store, queues) -> None:
    con_a, con_b = connect(store), connect(store)
    qa = ScreeningQueue(con_a, reviewer="ann", mode="single", background=False)
    qb = ScreeningQueue(con_b, reviewer="bob", mode="single", background=False)
    queues.extend([qa, qb])
    target = qa.next().record_id
    assert qb.next().record_id == target  # same settings, same order
    qb.decide(target, "exclude")
    assert qa.next().record_id != target  # ann's queue read bob's decision from the store
    assert qa.progress().screened == 1
    con_a.close()
    con_b.close()


def test_dual_mode_is_blinded(store, queues) -> None:
    con_a, con_b = connect(store), connect(store)
    qa = ScreeningQueue(con_a, reviewer="ann", mode="dual", background=False)
    qb = ScreeningQueue(con_b, reviewer="bob", mode="dual", background=False)
    queues.extend([qa, qb])
    target = qa.next().record_id
    qa.decide(target, "include")
    assert qb.next().record_id == target  # bob still screens it
    assert qb.progress().screened == 0 and qa.progress().screened == 1
    assert qb.labels_in_order() == [] and qa.labels_in_order() == [1]
    con_a.close()
    con_b.close()


def test_full_text_stage_serves_title_abstract_includes(con, queues) -> None:
    ta = ScreeningQueue(con, reviewer="ann", background=False)
    queues.append(ta)
    inc = ta.next().record_id
    ta.decide(inc, "include")
    maybe = ta.next().record_id
    ta.decide(maybe, "maybe")
    exc = ta.next().record_id
    ta.decide(exc, "exclude")
    ft = ScreeningQueue(con, reviewer="ann", stage="full_text", background=False)
    queues.append(ft)
    assert ft.progress().total == 2
    served = {ft.next().record_id}
    ft.decide(next(iter(served)), "include")
    served.add(ft.next().record_id)
    assert served == {inc, maybe}


def test_settings_saved_on_first_open(con, queues) -> None:
    from synth.screening.settings import load_settings

    assert load_settings(con, "screening") is None
    q = ScreeningQueue(con, reviewer="ann", background=False)
    queues.append(q)
    saved = load_settings(con, "screening")
    assert saved["mode"] == "single" and saved["learner"]["classifier"]
    assert screening_settings(con) == saved


def test_bad_arguments_are_refused(con) -> None:
    with pytest.raises(ValueError, match="stage"):
        ScreeningQueue(con, reviewer="ann", stage="abstract")
    with pytest.raises(ValueError, match="mode"):
        ScreeningQueue(con, reviewer="ann", mode="triple")
    with pytest.raises(ValueError, match="reviewer"):
        ScreeningQueue(con, reviewer=" ")


def test_decisions_recorded_elsewhere_trigger_a_refit(con, store, queues) -> None:
    q = ScreeningQueue(con, reviewer="ann", background=False)
    queues.append(q)
    before = q.ranking.generation
    other = connect(store)
    record_decision(other, record_id=str(q.ids[0]), reviewer="bob", decision="include")
    other.close()
    q.next()
    assert q.ranking.generation == before + 1


class Broken:
    def rank(self, X, labelled, y):
        raise RuntimeError("model broke")


@pytest.mark.parametrize("background", [False, True])
def test_a_failing_refit_keeps_serving_and_saving(con, queues, background) -> None:
    q = ScreeningQueue(
        con, reviewer="ann", background=background, prioritiser_factory=lambda s: Broken()
    )
    queues.append(q)
    first = q.next()
    event_id = q.decide(first.record_id, "include")
    assert event_id > 0 and q.wait_idle(timeout=60)
    assert isinstance(q.last_error, RuntimeError)
    item = q.next()
    assert item is not None and item.record_id != first.record_id and item.ranking == 0
