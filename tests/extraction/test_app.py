"""The extraction app driven like a reviewer would: accept, edit, clear, walk the papers,
compare two extractors and settle a consensus; and ``synth extract open``.

Runs on the bundled KEI corpus, imported and tagged (``kei_tagged_db``, once per session),
each test on its own copy; values are read back with a fresh connection, the way another
kernel would see them. "Restart" is a new app on the same store.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from synth.cli import app as cli
from synth.extraction.app import ExtractionApp, FieldRow
from synth.extraction.forms import tool_for
from synth.screening.highlight import esc
from synth.screening.notebook import injected_parameters
from synth.store import connect

pytestmark = pytest.mark.slow  # importing and tagging the KEI corpus takes 5-15 s

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "notebooks" / "extraction.ipynb"


@pytest.fixture
def db(kei_tagged_db: Path, copy_db: Callable[..., Path], tmp_path: Path) -> Path:
    return copy_db(kei_tagged_db, tmp_path / "data" / "review.sqlite")


@pytest.fixture
def apps() -> Iterator[list[ExtractionApp]]:
    made: list[ExtractionApp] = []
    yield made
    for app in made:
        app.con.close()


def _open(apps: list[ExtractionApp], db: Path, reviewer: str = "ann", **kw) -> ExtractionApp:
    app = ExtractionApp.open(db, reviewer=reviewer, **kw)
    apps.append(app)
    return app


def _values(db: Path, reviewer: str = "ann"):
    """The reviewer's current values, read as another kernel would."""
    from synth.store.extraction import current_values

    con = connect(db)
    try:
        df = current_values(con)
    finally:
        con.close()
    return df[df["reviewer"] == reviewer].set_index(["record_id", "form_id", "field_id"])


def _events(db: Path):
    from synth.store.extraction import load_events

    con = connect(db)
    try:
        return load_events(con)
    finally:
        con.close()


def _first(app: ExtractionApp, *, types: tuple[str, ...], suggested: bool | None = None):
    """The first row of the extraction form of one of ``types`` (with or without a
    suggestion on the paper shown)."""
    for row in app.rows[app.form.id].values():
        if row.field.type not in types:
            continue
        if suggested is None or (row.suggestion is not None) == suggested:
            return row
    return None


def _paper_with_suggestions(app: ExtractionApp) -> FieldRow:
    """Walk to the first paper where the tagger suggests a choice field; its row."""
    for i in range(len(app.ids)):
        app.show(i)
        row = _first(app, types=("choice", "choices"), suggested=True)
        if row is not None:
            return row
    raise AssertionError("no paper of the bundled corpus has a suggested choice field")


def test_accept_edit_clear_are_committed_before_saying_saved(db, apps) -> None:
    app = _open(apps, db)
    assert app.ids and app.record_id == app.ids[0]
    assert "reviewer <b>ann</b>" in app.header.value
    row = _paper_with_suggestions(app)
    rid = app.record_id
    value, sentence = row.suggestion
    # pre-filled with the suggestion, the sentence it came from shown beside it
    assert row.get() == value and "Tagger suggests" in row.hint.value
    assert sentence and esc(" ".join(sentence.split())[:40]) in row.hint.value
    assert "not saved yet" in row.state.value
    row.accept.click()
    saved = _values(db)
    stored = saved.loc[(rid, app.form.id, row.field.id)]
    assert stored["value"] == value and stored["source"] == "accepted-suggestion"
    assert f"saved ✓ event #{stored['event_id']}: {row.field.label}" in app.status.value
    assert "saved:" in row.state.value

    text = _first(app, types=("text",))
    text.input.value = "  Patients and staff redesigned discharge together.  "
    text.save.click()
    stored = _values(db).loc[(rid, app.form.id, text.field.id)]
    assert stored["value"] == "Patients and staff redesigned discharge together."
    assert stored["source"] == "reviewer"
    assert f"saved ✓ event #{stored['event_id']}" in app.status.value

    row.clear.click()  # clearing is an event too: "looked, no value"
    assert _values(db).loc[(rid, app.form.id, row.field.id), "value"] is None
    assert "no value" in row.state.value


def test_a_value_that_does_not_fit_is_refused_and_nothing_saved(db, apps) -> None:
    app = _open(apps, db)
    before = len(_events(db))
    number = _first(app, types=("number", "year"))
    assert number is not None, "the default form has a number or year field"
    number.input.value = "about forty"
    number.save.click()
    assert app.status.value.count("Not saved") == 1 and "about forty" in app.status.value
    # a decimal comma is ambiguous ("1,5": 1.5 or 15?): refused, not read as 15
    only_number = _first(app, types=("number",))
    if only_number is not None:
        only_number.input.value = "1,5"
        only_number.save.click()
        assert "1,5" in app.status.value and "Not saved" in app.status.value
        only_number.input.value = "1,500"
        assert only_number.get() == 1500
    empty = _first(app, types=("text",))
    empty.input.value = "   "
    empty.save.click()
    assert "nothing to save" in app.status.value
    assert len(_events(db)) == before


def _fill_all(app: ExtractionApp) -> dict[tuple[str, str], object]:
    """Type or choose a value in every field of both forms of the paper shown and save
    each; (form id, field id) -> the value saved."""
    saved: dict[tuple[str, str], object] = {}
    for form in (app.form, app.tool):
        for row in app.rows[form.id].values():
            kind = row.field.type
            if kind == "choice":
                row.input.value = row.field.choices[-1]
            elif kind == "choices":
                row.input.value = tuple(row.field.choices[:2])
            elif kind == "year":
                row.input.value = "2019"
            elif kind == "number":
                row.input.value = "42"
            elif kind == "quote":
                row.input.value = f"a quote for {row.field.id}"
                row.location.value = "p. 3"
            else:
                row.input.value = f"text for {row.field.id}"
            assert row.save.click() is None and "saved ✓" in app.status.value, app.status.value
            saved[(form.id, row.field.id)] = row.get()
    return saved


def test_a_restarted_app_shows_every_saved_value(db, apps) -> None:
    first = _open(apps, db)
    first.show(1)
    rid = first.record_id
    saved = _fill_all(first)
    first.step(1)  # moving on and back shows what was saved, not the tagger's suggestion
    first.step(-1)
    assert first.record_id == rid

    again = _open(apps, db)  # a new kernel: a new app on the same store
    assert again.go_to(rid) == rid and again.tool.id == first.tool.id
    for (form_id, field_id), value in saved.items():
        row = again.rows[form_id][field_id]
        assert row.get() == value, (form_id, field_id)
        assert "saved:" in row.state.value
    stored = _values(db)
    assert len(stored.loc[rid]) == len(saved)


def test_a_saved_value_that_no_longer_fits_the_form_is_shown_and_flagged(db, apps) -> None:
    from synth.store.extraction import record_value

    app = _open(apps, db)
    rid = app.ids[0]
    field = app.form.fields["setting"]
    con = connect(db)
    try:  # saved against an older form whose setting list had this choice
        record_value(con, rid, app.form.id, field.id, "a ward no longer listed", "ann")
    finally:
        con.close()
    again = _open(apps, db)
    row = again.row("setting")
    assert again.record_id == rid
    assert "a ward no longer listed" in row.state.value
    assert "no longer fits the form" in row.state.value and "is not one of" in row.state.value


def test_next_and_previous_walk_the_included_papers(db, apps) -> None:
    from synth.extraction.values import included_record_ids

    app = _open(apps, db)
    con = connect(db)
    try:
        expected = included_record_ids(con)
    finally:
        con.close()
    assert app.ids == expected and len(expected) > 2
    assert app.prev.disabled and not app.next.disabled
    app.next.click()
    assert app.record_id == expected[1] and f"Paper 2 of {len(expected)}" in app.position.value
    app.prev.click()
    assert app.record_id == expected[0]
    app.show(len(expected) - 1)
    assert app.next.disabled
    assert f"0 / {len(expected)} extracted" in app.progress.value
    with pytest.raises(ValueError, match="not among"):
        app.go_to("no-such-record")


def test_double_extraction_counts_a_paper_done_once_two_extracted_it(db, apps) -> None:
    ann = _open(apps, db)
    n = len(ann.ids)
    assert f"{n} left" in ann.progress.value
    _fill_all(ann)
    assert f"1 / {n} extracted · 1 / {n} appraised · {n - 1} left" in ann.progress.value
    double = _open(apps, db, "bob", extractors=2)
    assert "double extraction" in double.header.value
    assert f"1 / {n} extracted · 1 / {n} appraised · {n} left" in double.progress.value
    with pytest.raises(ValueError, match="1 or 2"):
        _open(apps, db, extractors=3)


def test_the_appraisal_tool_follows_the_papers_design(db, apps) -> None:
    from synth.extraction.app import _design
    from synth.screening.app import _rows
    from synth.store import load_records

    app = _open(apps, db)
    con = connect(db)
    try:
        grey = set(load_records(con).query("grey == True")["record_id"])
    finally:
        con.close()
    assert grey & set(app.ids), "the bundled corpus has grey literature among its papers"
    seen = set()
    for i in range(len(app.ids)):
        app.show(i)
        tool = tool_for(_design(_rows(app._tags, app.record_id)), app.record_id in grey)
        assert app.tool.id == tool.id, app.record_id
        assert app.tool_box.children == (app.form_boxes[tool.id],)
        assert tool.title in app.tool_title.value
        seen.add(tool.id)
    assert tool_for(None, True).id in seen  # grey literature gets its own tool
    assert len(seen) >= 2  # the bundled corpus has papers of more than one kind


def test_the_paper_shows_extracts_and_marked_evidence(db, apps) -> None:
    from synth.screening.app import _rows
    from synth.store import load_extracts

    app = _open(apps, db)
    con = connect(db)
    try:
        extracts = load_extracts(con)
    finally:
        con.close()
    with_extracts = [r for r in app.ids if r in set(extracts["record_id"].dropna())]
    assert with_extracts, "the bundled corpus has extracts of included papers"
    app.go_to(with_extracts[0])
    text = str(extracts.loc[extracts["record_id"] == with_extracts[0], "text"].iloc[0])
    assert "The review's extracts" in app.paper.value
    assert " ".join(text.split()[:4]) in " ".join(app.paper.value.split())
    assert 'class="synth-scr-ev"' in app.paper.value or "synth-scr-cue" in app.paper.value

    # a paper with a full text shows it, the tagger's evidence there marked
    marked = [
        r for r in app.ids
        if r in app._fulltexts
        and any(ev.get("field") == "fulltext" for evs in _rows(app._tags, r)["evidence"]
                for ev in (evs if isinstance(evs, list) else []))
    ]  # fmt: skip
    assert marked, "the bundled corpus has full texts with the tagger's evidence"
    app.go_to(marked[0])
    fulltext = app.paper.value.split("<summary><b>Full text</b>", 1)
    assert len(fulltext) == 2 and "synth-scr-ev" in fulltext[1]


def test_two_extractors_are_compared_and_a_consensus_recorded(db, apps) -> None:
    ann = _open(apps, db, "ann")
    row = _paper_with_suggestions(ann)
    rid, field = ann.record_id, row.field
    assert len(field.choices) >= 2
    ann.row(field.id).input.value = field.choices[0] if field.type == "choice" else (
        field.choices[0],
    )  # fmt: skip
    ann.row(field.id).save.click()
    bob = _open(apps, db, "bob")
    bob.go_to(rid)
    bob.row(field.id).input.value = field.choices[1] if field.type == "choice" else (
        field.choices[1],
    )  # fmt: skip
    bob.row(field.id).save.click()
    bobs = bob.row(field.id).get()

    ann.comparing.selected_index = 0  # opening the panel fills it
    lines = [w for w in ann.compare_box.children if "differ" in _text(w)]
    assert len(lines) == 1 and field.label in _text(lines[0])
    use = [b for b in _buttons(lines[0]) if b.description == "use bob's"]
    assert len(use) == 1
    use[0].click()
    assert "consensus ✓ event #" in ann.status.value

    events = _events(db)
    last = events.iloc[-1]
    assert (last["kind"], last["reviewer"], last["field_id"]) == ("consensus", "ann", field.id)
    assert last["value"] == bobs and last["kept_record_id"] == rid
    # each extractor's own value stands; the comparison shows the consensus
    assert _values(db, "ann").loc[(rid, ann.form.id, field.id), "value"] != bobs
    assert any("consensus" in _text(w) for w in ann.compare_box.children)


def test_a_cleared_field_against_a_value_is_a_conflict_that_can_be_settled(db, apps) -> None:
    # one extractor cleared the field ("looked, no value"), the other gave a value: both
    # are answers, so the comparison offers both as the consensus, "no value" included
    ann = _open(apps, db, "ann")
    row = _paper_with_suggestions(ann)
    rid, field = ann.record_id, row.field
    ann.row(field.id).clear.click()
    bob = _open(apps, db, "bob")
    bob.go_to(rid)
    bob.row(field.id).input.value = field.choices[0] if field.type == "choice" else (
        field.choices[0],
    )  # fmt: skip
    bob.row(field.id).save.click()
    ann.comparing.selected_index = 0
    lines = [w for w in ann.compare_box.children if field.label in _text(w)]
    assert len(lines) == 1 and "differ" in _text(lines[0])
    names = sorted(b.description for b in _buttons(lines[0]))
    assert names == ["use ann's (no value)", "use bob's"]
    next(b for b in _buttons(lines[0]) if "no value" in b.description).click()
    last = _events(db).iloc[-1]
    assert (last["kind"], last["field_id"], last["value"]) == ("consensus", field.id, None)


def test_one_extractor_has_nothing_to_compare(db, apps) -> None:
    app = _open(apps, db)
    app.comparing.selected_index = 0
    assert "Fewer than two extractors" in " ".join(_text(w) for w in app.compare_box.children)


def _text(widget) -> str:
    import ipywidgets as W

    if isinstance(widget, W.HTML):
        return widget.value
    return " ".join(_text(c) for c in getattr(widget, "children", ()))


def _buttons(widget) -> list:
    import ipywidgets as W

    if isinstance(widget, W.Button):
        return [widget]
    return [b for c in getattr(widget, "children", ()) for b in _buttons(c)]


# ---------------------------------------------------------------- synth extract open


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_extract_open_copies_the_notebook_with_the_reviewers_parameters(db) -> None:
    shipped = _sha(SHIPPED)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["extract", "open", "--db", str(db), "--reviewer", "Ann Lee", "--print-only"]
    )
    assert result.exit_code == 0, result.output
    copy = db.parent / "extraction" / "review-Ann-Lee.ipynb"
    assert copy.is_file() and _sha(SHIPPED) == shipped  # the shipped notebook is untouched
    assert injected_parameters(copy) == {"db": "../review.sqlite", "reviewer": "Ann Lee",
                                         "form": None}  # fmt: skip
    code = [c for c in nbformat.read(copy, as_version=4).cells if c.cell_type == "code"]
    assert all(c.outputs == [] for c in code)
    assert any("ExtractionApp.open(" in c.source for c in code)
    out = " ".join(result.output.split())
    assert f"{sys.executable} -m jupyterlab" in out and str(copy) in out
    # an existing copy is kept, and a different form is pointed out
    again = runner.invoke(cli, ["extract", "open", "--db", str(db), "--reviewer", "Ann Lee",
                                "--form", "coproduction-extraction", "--print-only"])  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "kept as it was" in again.output and "--force" in again.output
    assert injected_parameters(copy)["form"] is None
    double = runner.invoke(cli, ["extract", "open", "--db", str(db), "--reviewer", "Bo",
                                 "--extractors", "2", "--print-only"])  # fmt: skip
    assert double.exit_code == 0, double.output
    assert injected_parameters(copy.with_name("review-Bo.ipynb"))["extractors"] == 2
    judge = runner.invoke(cli, ["extract", "open", "--db", str(db), "--reviewer", "Cy",
                                "--findings", "--print-only"])  # fmt: skip
    assert judge.exit_code == 0, judge.output
    assert injected_parameters(copy.with_name("review-Cy.ipynb"))["findings"] is True


@pytest.mark.notebook
def test_the_reviewers_notebook_shows_the_findings_panel_when_asked(db) -> None:
    """The copy ``synth extract open --findings`` writes runs headless to the end and
    displays the findings panel under the extraction app; without --findings, no panel."""
    from nbclient import NotebookClient

    from synth.extraction.notebook import write_extraction_notebook

    widget = "application/vnd.jupyter.widget-view+json"
    for reviewer, asked in (("cy", True), ("di", None)):
        copy = write_extraction_notebook(db, reviewer, findings=asked).path
        nb = nbformat.read(copy, as_version=4)
        NotebookClient(
            nb, timeout=300, resources={"metadata": {"path": str(copy.parent)}}
        ).execute()
        code = [c for c in nb.cells if c.cell_type == "code"]
        errors = [o for c in code for o in c.outputs if o.output_type == "error"]
        assert errors == []
        panel = code[-1]
        assert "FindingsApp.open(" in panel.source
        shown = [o for o in panel.outputs if widget in o.get("data", {})]
        assert len(shown) == (1 if asked else 0), panel.outputs


def test_a_teams_own_form_is_found_from_the_reviewers_copy(db, apps) -> None:
    """A form file given to ``synth extract open`` is injected relative to the copy, where
    the kernel runs, and the app opened there uses it."""
    import os

    from synth.extraction.forms import default_form

    own = db.parent.parent / "forms" / "our-form.yml"
    own.parent.mkdir()
    text = default_form().path.read_text("utf-8")
    own.write_text(text.replace("title: Co-production and quality improvement studies",
                                "title: Our team's form"), "utf-8")  # fmt: skip
    result = CliRunner().invoke(cli, ["extract", "open", "--db", str(db), "--reviewer", "ann",
                                      "--form", str(own), "--print-only"])  # fmt: skip
    assert result.exit_code == 0, result.output
    copy = db.parent / "extraction" / "review-ann.ipynb"
    params = injected_parameters(copy)
    assert params["form"] == "../../forms/our-form.yml"
    here = Path.cwd()
    os.chdir(copy.parent)  # the kernel's folder
    try:
        app = _open(apps, Path(params["db"]), form=params["form"])
    finally:
        os.chdir(here)
    assert app.form.title == "Our team's form" and esc(app.form.title) in app.header.value


def test_extract_open_refuses_a_bad_form_and_a_missing_store(db, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("id: bad\ntitle: Bad\nkind: extraction\nsections:\n"
                   "  - section: Aims\n    fields:\n      - {id: aim, label: Aim, type: essay}\n",
                   encoding="utf-8")  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(cli, ["extract", "open", "--db", str(db), "--reviewer", "ann",
                                 "--form", str(bad), "--print-only"])  # fmt: skip
    assert result.exit_code == 2
    assert "bad.yml" in result.output and "essay" in result.output
    assert "Traceback" not in result.output
    assert not (db.parent / "extraction").exists()
    missing = runner.invoke(cli, ["extract", "open", "--db", str(tmp_path / "none.sqlite"),
                                  "--reviewer", "ann", "--print-only"])  # fmt: skip
    assert missing.exit_code == 2 and "no review store there" in missing.output
    tool = runner.invoke(cli, ["extract", "open", "--db", str(db), "--reviewer", "ann",
                               "--form", "appraisal-mmat", "--print-only"])  # fmt: skip
    assert tool.exit_code == 2 and "appraisal tool" in tool.output
    assert not (db.parent / "extraction").exists()


def test_typed_values_reach_the_kernel_before_the_save_that_takes_them(
    apps: list[ExtractionApp], db: Path
) -> None:
    # A widget has one message in flight at a time: keys sent as they are typed queue
    # behind each other and a click on Save (another widget) can overtake the last of
    # them, saving "2" for "2016" (seen in the browser test under load). Every free-text
    # input therefore sends its value once, when it loses focus, which the click causes.
    import ipywidgets as W

    app = _open(apps, db)
    typed = [
        w
        for rows in app.rows.values()
        for row in rows.values()
        for w in (row.input, row.location)
        if isinstance(w, W.Text | W.Textarea)
    ]
    assert len(typed) >= 3
    assert all(w.continuous_update is False for w in typed)
