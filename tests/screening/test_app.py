"""The screening app driven like a reviewer would: clicks, keys, filters, undo, back.

Runs on the bundled KEI corpus, imported and tagged (``kei_tagged_db``, once per session),
each test on its own copy; decisions are read back with a fresh connection, the way another
kernel would see them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from synth.screening.app import ScreeningApp, _short
from synth.screening.decisions import current_decisions
from synth.screening.highlight import esc
from synth.store import connect, import_paths

pytestmark = pytest.mark.slow  # importing and tagging the KEI corpus takes 5-15 s

ROOT = Path(__file__).resolve().parents[2]
KEI = ROOT / "corpus" / "kei-2020"
HOSTILE_BIB = """@article{hostile1,
  title = {<script>alert(1)</script> and <img src=x onerror=alert(1)>},
  author = {<b>Mallory</b>, Eve},
  year = {2019},
  journal = {Journal of <iframe src=x></iframe> Studies},
  abstract = {An abstract with <script>alert(2)</script> inside.}
}
"""


@pytest.fixture
def db(kei_tagged_db: Path, copy_db: Callable[..., Path], tmp_path: Path) -> Path:
    return copy_db(kei_tagged_db, tmp_path / "h4-app.sqlite")


@pytest.fixture
def apps() -> Iterator[list[ScreeningApp]]:
    made: list[ScreeningApp] = []
    yield made
    for app in made:
        app.queue.close()


def _open(apps: list[ScreeningApp], db: Path, **kw) -> ScreeningApp:
    """The app with synchronous refits, so the order is the same on every run.

    (That the next record never waits for a refit is tested in ``test_queue``.)
    """
    kw.setdefault("background", False)
    kw.setdefault("guard", 0)
    app = ScreeningApp.open(db, reviewer=kw.pop("reviewer", "ann"), **kw)
    apps.append(app)
    return app


def _mine(db: Path, reviewer: str = "ann", stage: str = "title_abstract"):
    con = connect(db)
    try:
        return current_decisions(con, reviewer=reviewer, stage=stage).set_index("record_id")
    finally:
        con.close()


def test_clicks_commit_decisions_before_saying_saved(db, apps) -> None:
    app = _open(apps, db)
    assert "0 / 67 screened" in app.counts.value
    first = app.current.record_id
    app.note.value = "clearly co-production"
    app.include.click()
    saved = _mine(db)
    assert saved.loc[first, "decision"] == "include"
    assert saved.loc[first, "note"] == "clearly co-production"
    assert f"saved ✓ event #{saved.loc[first, 'event_id']}: include" in app.status.value
    assert app.note.value == ""  # cleared for the next record

    second = app.current.record_id
    assert second != first
    app.reason.value = "individual-benefit"
    app.note.value = "self-management only"
    app.exclude.click()
    third = app.current.record_id
    app.maybe.click()
    saved = _mine(db)
    assert saved.loc[second, ["decision", "reason", "note"]].tolist() == [
        "exclude", "individual-benefit", "self-management only"
    ]  # fmt: skip
    assert saved.loc[third, "decision"] == "maybe"
    assert app.reason.value == ""  # reset after use
    assert app.progress.value == 3 and app.progress.max == 67
    assert "3 / 67 screened · 1 include · 1 exclude · 1 maybe" in app.counts.value
    assert "Rank 1 of 64 to screen" in app.why.value


def test_undo_retracts_and_shows_the_record_again(db, apps) -> None:
    app = _open(apps, db)
    first = app.current.record_id
    app.include.click()
    second = app.current.record_id
    app.exclude.click()
    app.undo.click()
    assert "undone ✓ event #" in app.status.value
    assert app.current.record_id == second
    saved = _mine(db)
    assert list(saved.index) == [first]
    assert "1 / 67 screened · 1 include · 0 exclude" in app.counts.value
    app.maybe.click()
    assert _mine(db).loc[second, "decision"] == "maybe"


def test_back_revisits_and_a_new_choice_is_a_new_event(db, apps) -> None:
    app = _open(apps, db)
    first = app.current.record_id
    app.include.click()
    second = app.current.record_id
    app.reason.value = "unequal-relationship"
    app.exclude.click()
    upcoming = app.current.record_id
    app.back.click()
    assert app.current.record_id == second
    assert "Your decision stands as <b>exclude</b> (unequal-relationship)" in app.record.value
    app.back.click()
    assert app.current.record_id == first
    assert app.back.disabled  # the first record of the session
    app.maybe.click()
    assert _mine(db).loc[first, "decision"] == "maybe"
    assert app.current.record_id == upcoming  # back to the queue
    assert "2 / 67 screened · 0 include · 1 exclude · 1 maybe" in app.counts.value


def test_keyboard_commands(db, apps) -> None:
    app = _open(apps, db)
    first = app.current.record_id
    app.keys.value = "i"
    assert app.keys.value == ""  # the box clears itself for the next key
    second = app.current.record_id
    app.keys.value = "e2"
    saved = _mine(db)
    assert saved.loc[first, "decision"] == "include"
    assert saved.loc[second, ["decision", "reason"]].tolist() == ["exclude", app.reasons[1][0]]
    shown = app.current.record_id
    app.keys.value = "x"
    assert "Unknown key" in app.status.value and app.current.record_id == shown
    app.keys.value = "e99"
    assert "No reason 99" in app.status.value and len(_mine(db)) == 2
    app.keys.value = "s"
    assert app.current.record_id != shown
    app.keys.value = "u"
    assert app.current.record_id == second and len(_mine(db)) == 1


def _on_other_threads(app: ScreeningApp, commands: list[str]) -> None:
    """Type each command from a fresh thread, as ipykernel 7 may run a widget callback."""
    for command in commands:
        worker = threading.Thread(target=setattr, args=(app.keys, "value", command))
        worker.start()
        worker.join()


def test_commands_typed_on_other_threads_are_all_saved(db, apps) -> None:
    app = _open(apps, db)
    shown = []
    commands = ["i", "e2", "m", "e", "i", "e1", "m", "i", "e3", "e"]
    for command in commands:
        shown.append(app.current.record_id)
        _on_other_threads(app, [command])
        assert app.status.value.count("saved ✓") == 1, app.status.value
    saved = _mine(db)
    assert len(saved) == 10
    decisions = {"i": "include", "e": "exclude", "m": "maybe"}
    assert [saved.loc[r, "decision"] for r in shown] == [decisions[c[0]] for c in commands]
    assert saved.loc[shown[1], "reason"] == app.reasons[1][0]
    assert saved.loc[shown[8], "reason"] == app.reasons[2][0]


def test_a_failed_exclude_command_leaves_no_reason_behind(db, apps) -> None:
    app = _open(apps, db, guard=3600)
    app.keys.value = "i"
    second = app.current.record_id
    app.keys.value = "e1"  # within the guard: ignored, nothing saved
    assert "Ignored a second exclude" in app.status.value and len(_mine(db)) == 1
    assert app.reason.value == ""  # the menu was not set behind the reviewer's back
    app.guard = 0
    app.exclude.click()
    saved = _mine(db)
    assert saved.loc[second, "decision"] == "exclude"
    assert not isinstance(saved.loc[second, "reason"], str)  # no reason silently reused
    app.keys.value = "3"  # a digit alone does choose the reason for the next Exclude
    assert app.reason.value == app.reasons[2][0]


def test_skip_says_what_happened(db, apps) -> None:
    app = _open(apps, db)
    first = app.current.record_id
    title = str(app.queue.record(first)["title"])
    app.skip.click()
    assert app.current.record_id != first
    assert "skipped ✓" in app.status.value and "nothing recorded" in app.status.value
    assert esc(_short(title, 80)) in app.status.value
    assert len(_mine(db)) == 0


def test_filters_change_the_queue(db, apps) -> None:
    app = _open(apps, db)
    unfiltered = app.current.record_id
    app.search.value = "experience-based"
    title = app.queue.record(app.current.record_id)["title"].lower()
    assert "experience-based" in title
    assert "match the filters" in app.why.value
    app.search.value = ""
    assert app.current.record_id == unfiltered

    name, count = app.queue.tag_choices()[0]
    app.tag.value = name
    facet, label = name.split(":", 1)
    tags = app.queue.record_tags(app.current.record_id)
    assert ((tags["facet"] == facet) & (tags["label"] == label)).any()
    assert f"; {count} match the filters" in app.why.value
    app.tag.value = ""

    app.set_filters(year_min=2010, year_max=2012)
    assert 2010 <= app.queue.record(app.current.record_id)["year"] <= 2012
    app.set_filters(year_min=2010, year_max=2010)
    app.search.value = "no record has this text"
    assert app.current is None
    assert "Nothing left to screen with these filters" in app.record.value
    assert app.include.disabled
    with pytest.raises(ValueError, match="no records tagged"):
        app.set_filters(tag="country:Atlantis")


def test_hostile_title_is_shown_escaped(db, apps, tmp_path) -> None:
    bib = tmp_path / "hostile.bib"
    bib.write_text(HOSTILE_BIB, encoding="utf-8")
    con = connect(db)
    import_paths(con, [bib])
    con.close()
    app = _open(apps, db, search="alert(1)")
    html = app.record.value
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "&lt;b&gt;Mallory&lt;/b&gt;" in html
    for raw in ("<script", "<img", "<iframe", "<b>Mallory"):
        assert raw not in html
    app.include.click()
    assert "<script" not in app.status.value and "&lt;script&gt;" in app.status.value


def test_two_kernels_single_mode_see_each_others_decisions(db, apps) -> None:
    ann = _open(apps, db, reviewer="ann", mode="single")
    bob = _open(apps, db, reviewer="bob", mode="single")
    assert ann.current.record_id == bob.current.record_id
    shared = ann.current.record_id
    ann.include.click()
    bob.skip.click()  # bob moves on: his queue reads the store again
    assert bob.current.record_id != shared
    assert "1 / 67 screened · 1 include" in bob.counts.value


def test_dual_mode_each_reviewer_screens_every_record(db, apps) -> None:
    ann = _open(apps, db, reviewer="ann", mode="dual")
    bob = _open(apps, db, reviewer="bob", mode="dual")
    shared = ann.current.record_id
    ann.include.click()
    bob.advance()
    assert bob.current.record_id == shared
    assert "0 / 67 screened" in bob.counts.value
    bob.reason.value = "unequal-relationship"
    bob.exclude.click()
    assert _mine(db, "bob").loc[shared, "decision"] == "exclude"
    assert _mine(db, "ann").loc[shared, "decision"] == "include"


def test_full_text_exclusion_needs_a_reason(db, apps) -> None:
    ta = _open(apps, db)
    picked = ta.current.record_id
    ta.include.click()
    ft = _open(apps, db, stage="full_text")
    assert ft.current.record_id == picked and "0 / 1 screened" in ft.counts.value
    ft.exclude.click()
    assert "Choose an exclusion reason" in ft.status.value
    assert _mine(db, stage="full_text").empty
    ft.reason.value = "research-only-coproduction"
    ft.exclude.click()
    assert _mine(db, stage="full_text").loc[picked, "reason"] == "research-only-coproduction"
    assert ft.current is None


def test_record_panel_shows_tags_and_criteria(db, apps) -> None:
    app = _open(apps, db, search="experience-based co-design")
    html = app.record.value
    assert 'class="synth-scr-chip"' in html
    assert "Criteria (" in html and "equal-relationship" in html
    assert '<mark class="synth-scr-cue' in html  # a cue marked in the title
    assert "Tagger suggests" in html


def test_stopping_panel(db, apps) -> None:
    pytest.importorskip("synth.screening.stopping")
    app = _open(apps, db)
    for _ in range(3):
        app.exclude.click()
    app.include.click()
    app.exclude.click()
    app.update_stopping()
    text = app.stop_summary.value
    assert "Screened 5 of 67; 1 relevant found; 1 exclude in a row" in text
    assert "Callaghan & Müller-Hansen (2020)" in text and "keep screening" in text
    assert app.stop_figure is not None and len(app.stop_figure.data) >= 1


def test_the_app_displays_as_a_widget(db, apps) -> None:
    app = _open(apps, db)
    bundle = app._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_a_double_click_records_one_decision(db, apps) -> None:
    app = _open(apps, db, guard=3600)
    first = app.current.record_id
    app.include.click()
    second = app.current.record_id
    app.include.click()  # lands on the record that just replaced the first
    assert list(_mine(db).index) == [first]
    assert "Ignored a second include" in app.status.value
    assert app.current.record_id == second
    app.guard = 0
    app.exclude.click()
    assert _mine(db).loc[second, "decision"] == "exclude"


def test_open_refuses_a_missing_store(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"tasks\.py review"):
        ScreeningApp.open(tmp_path / "nothing.sqlite", reviewer="ann")
