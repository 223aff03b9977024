"""Values derived from the extraction events: each reviewer's latest, consensus, conflicts,
values that no longer fit an edited form, agreement per field and progress."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from synth.extraction.forms import default_form, parse_form
from synth.extraction.values import (
    agreement,
    compare,
    included_record_ids,
    progress,
    progress_summary,
    resolved_values,
)
from synth.review import load_review
from synth.screening.decisions import final_decisions, record_decision
from synth.screening.published import record_published_decisions
from synth.store import connect
from synth.store.extraction import record_value
from tests.screening import KEI, group_pair, ids

FORM_V1 = """
id: trial-form
title: A small extraction form
sections:
  - section: Study
    fields:
      - {id: aims, label: Aims, type: text}
      - {id: country, label: Country, type: text}
      - {id: n, label: Participants, type: number}
      - {id: setting, label: Setting, type: choice, choices: [acute care, primary care]}
      - {id: stages, label: Stages, type: choices, choices: [design, delivery, evaluation]}
      - {id: year, label: Year, type: year}
"""
# the same form edited: a choice renamed, a field removed, a field's type changed
FORM_V2 = """
id: trial-form
title: A small extraction form
sections:
  - section: Study
    fields:
      - {id: aims, label: Aims, type: text}
      - {id: n, label: Participants, type: number}
      - {id: setting, label: Setting, type: choice, choices: [hospital care, primary care]}
      - {id: stages, label: Stages, type: choices, choices: [design, delivery, evaluation]}
      - {id: year, label: Year, type: text}
"""
# an appraisal tool in the same language (the packaged ones are larger, not different)
TOOL = """
id: trial-tool
title: A small appraisal tool
kind: appraisal
citation: Our own two questions, for the tests
scale: ["yes", "no", "can't tell"]
sections:
  - section: Questions
    fields:
      - {id: clear-aims, label: "Are the aims clear?", type: choice}
      - {id: fit-methods, label: "Do the methods fit the aims?", type: choice}
"""


@pytest.fixture
def store(kei_imported_db: Path, copy_db: Callable[..., Path]) -> Path:
    return copy_db(kei_imported_db)


@pytest.fixture
def form():
    return parse_form(FORM_V1, source="trial-form.yml")


def by_field(df, record_id: str) -> dict[str, dict]:
    rows = df[df["record_id"] == record_id]
    return {r["field_id"]: r for r in rows.to_dict("records")}


def test_latest_value_per_reviewer_agreement_and_conflict(store: Path, form) -> None:
    con = connect(store)
    rec = ids(con, 1)[0]
    record_value(con, rec, form.id, "country", "Wales", "ana")
    record_value(con, rec, form.id, "country", "United  Kingdom", "ana")  # changed her mind
    record_value(con, rec, form.id, "country", "united kingdom", "ben")  # same answer
    record_value(con, rec, form.id, "n", 12, "ana")
    record_value(con, rec, form.id, "n", 12.0, "ben")
    record_value(con, rec, form.id, "stages", ["design", "evaluation"], "ana")
    record_value(con, rec, form.id, "stages", ["evaluation", "design"], "ben")
    record_value(con, rec, form.id, "setting", "acute care", "ana")  # ben has not answered
    record_value(con, rec, form.id, "aims", "Improve discharge", "ana")
    record_value(con, rec, form.id, "aims", "Reduce readmissions", "ben")
    record_value(con, rec, form.id, "year", 2019, "ana")
    record_value(con, rec, form.id, "year", None, "ben")  # ben looked and cleared it

    got = by_field(resolved_values(con, form), rec)
    assert {f: r["status"] for f, r in got.items()} == {
        "aims": "conflict", "country": "agreed", "n": "agreed", "setting": "single",
        "stages": "agreed", "year": "conflict",
    }  # fmt: skip
    assert got["country"]["value"] == "United  Kingdom"
    assert got["country"]["reviewers"] == ("ana", "ben")
    assert got["setting"]["value"] == "acute care"
    assert got["setting"]["reviewers"] == ("ana",)
    assert got["aims"]["value"] is None  # a conflict stands for nobody's value
    assert all(r["fits"] and r["problem"] == "" for r in got.values())
    # rows come in form order
    assert resolved_values(con, form)["field_id"].tolist() == [
        "aims", "country", "n", "setting", "stages", "year",
    ]  # fmt: skip
    con.close()


def test_consensus_wins(store: Path, form) -> None:
    con = connect(store)
    rec = ids(con, 1)[0]
    record_value(con, rec, form.id, "aims", "Improve discharge", "ana")
    record_value(con, rec, form.id, "aims", "Reduce readmissions", "ben")
    record_value(con, rec, form.id, "aims", "Improve discharge", "cy", kind="consensus")
    record_value(con, rec, form.id, "aims", "Something else", "ana")  # later own value
    record_value(con, rec, form.id, "country", "Wales", "ana")
    record_value(con, rec, form.id, "country", None, "cy", kind="consensus")  # settled: none
    got = by_field(resolved_values(con, form), rec)
    assert (got["aims"]["status"], got["aims"]["value"]) == ("consensus", "Improve discharge")
    assert (got["country"]["status"], got["country"]["value"]) == ("consensus", None)
    # a newer consensus replaces the older one
    record_value(con, rec, form.id, "aims", "Both aims", "cy", kind="consensus")
    assert by_field(resolved_values(con, form), rec)["aims"]["value"] == "Both aims"
    con.close()


def test_a_value_that_no_longer_fits_an_edited_form_is_kept_and_flagged(store: Path, form) -> None:
    con = connect(store)
    a, b = ids(con, 2)
    record_value(con, a, form.id, "setting", "acute care", "ana")
    record_value(con, a, form.id, "setting", "primary care", "ben")
    record_value(con, a, form.id, "country", "Wales", "ana")
    record_value(con, a, form.id, "year", 2019, "ana")
    record_value(con, a, form.id, "aims", "Improve discharge", "ana")
    record_value(con, b, form.id, "setting", "acute care", "ana")
    assert resolved_values(con, form)["fits"].all()

    edited = parse_form(FORM_V2, source="trial-form.yml")
    res = resolved_values(con, edited)
    assert len(res) == 5  # nothing dropped
    got_a, got_b = by_field(res, a), by_field(res, b)
    assert got_b["setting"]["value"] == "acute care"
    assert not got_b["setting"]["fits"]
    assert "'acute care' is not one of hospital care, primary care" in got_b["setting"]["problem"]
    # a conflict names whose value does not fit
    assert got_a["setting"]["status"] == "conflict"
    assert got_a["setting"]["problem"].startswith("ana: 'acute care' is not one of")
    assert "ben" not in got_a["setting"]["problem"]
    # a field the form no longer has is kept, after the form's own fields
    assert got_a["country"]["value"] == "Wales"
    assert not got_a["country"]["fits"]
    assert "not a field of the form 'trial-form'" in got_a["country"]["problem"]
    assert res[res["record_id"] == a]["field_id"].tolist() == ["aims", "setting", "year", "country"]
    assert not got_a["year"]["fits"] and "expected text" in got_a["year"]["problem"]
    assert got_a["aims"]["fits"]
    # the comparison view shows them too
    view = compare(con, edited, a)
    assert view["field_id"].tolist() == ["aims", "n", "setting", "stages", "year", "country"]
    assert view.set_index("field_id").loc["country", "ana"] == "Wales"
    assert not view.set_index("field_id").loc["country", "fits"]
    con.close()


def test_compare_shows_each_reviewer_field_by_field(store: Path, form) -> None:
    con = connect(store)
    kept, removed = group_pair(con)
    record_value(con, kept, form.id, "aims", "Improve discharge", "ana")
    record_value(con, removed, form.id, "aims", "Reduce readmissions", "ben")  # other copy
    record_value(con, kept, form.id, "stages", ["design"], "ana")
    record_value(con, kept, form.id, "stages", ["design"], "ben")
    record_value(con, kept, form.id, "n", 40, "ana")
    record_value(con, kept, form.id, "aims", "Improve discharge", "cy", kind="consensus")
    view = compare(con, form, removed).set_index("field_id")
    assert list(view.index) == list(form.fields)
    assert list(view.columns) == [
        "label", "ana", "ben", "answered_by", "agree", "consensus", "status", "fits",
        "problem",
    ]  # fmt: skip
    assert view.loc["aims", "answered_by"] == ("ana", "ben")
    assert view.loc["aims", "label"] == "Aims"
    assert (view.loc["aims", "ana"], view.loc["aims", "ben"]) == (
        "Improve discharge", "Reduce readmissions",
    )  # fmt: skip
    assert not view.loc["aims", "agree"]
    assert (view.loc["aims", "consensus"], view.loc["aims", "status"]) == (
        "Improve discharge", "consensus",
    )  # fmt: skip
    assert view.loc["stages", "agree"] and view.loc["stages", "ben"] == ["design"]
    assert view.loc["stages", "status"] == "agreed" and view.loc["stages", "consensus"] is None
    assert not view.loc["n", "agree"] and view.loc["n", "status"] == "single"
    assert view.loc["n", "ben"] is None
    assert view.loc["country", "status"] == "empty" and view.loc["country", "ana"] is None
    assert compare(con, form, kept).equals(compare(con, form, removed))
    # progress counts a copy's values for the paper, whichever copy it is asked about
    both = progress(con, form, record_ids=[kept, removed]).set_index("record_id")
    assert both.loc[kept, "extracted_by"] == both.loc[removed, "extracted_by"] == ("ana", "ben")
    assert both.loc[removed, "fields_done"] == 3  # aims by consensus, stages agreed, n single
    with pytest.raises(ValueError, match="unknown record"):
        compare(con, form, "no-such-paper")
    con.close()


def test_agreement_per_field(store: Path, form) -> None:
    con = connect(store)
    a, b, c = ids(con, 3)
    for rec, ana, ben in [(a, "Wales", "wales"), (b, "Canada", "Canada"), (c, "UK", "Wales")]:
        record_value(con, rec, form.id, "country", ana, "ana")
        record_value(con, rec, form.id, "country", ben, "ben")
    record_value(con, c, form.id, "country", "UK", "cy", kind="consensus")  # settles, later
    record_value(con, a, form.id, "setting", "acute care", "ana")  # one reviewer only
    record_value(con, a, form.id, "stages", ["design", "delivery"], "ana")
    record_value(con, a, form.id, "stages", ["delivery"], "ben")
    record_value(con, b, form.id, "stages", ["delivery", "design"], "ana")
    record_value(con, b, form.id, "stages", ["design", "delivery"], "ben")
    table = agreement(con, form).set_index("field_id")
    assert list(table.index) == list(form.fields)
    assert table.loc["country", "label"] == "Country"
    assert (table.loc["country", "papers"], table.loc["country", "agreeing"]) == (3, 2)
    assert table.loc["country", "share"] == pytest.approx(2 / 3)
    assert (table.loc["stages", "papers"], table.loc["stages", "agreeing"]) == (2, 1)
    assert (table.loc["setting", "papers"], table.loc["setting", "agreeing"]) == (0, 0)
    assert math.isnan(table.loc["setting", "share"])
    con.close()


def _bib_entries() -> int:
    """Entries in the bundled review's reference list, counted from the file's text."""
    text = (KEI / "references.bib").read_text("utf-8")
    return len(re.findall(r"^@\w+\s*\{", text, flags=re.MULTILINE))


def test_progress_on_the_bundled_corpus_included_papers(store: Path) -> None:
    con = connect(store)
    form = default_form()
    tool = parse_form(TOOL, source="trial-tool.yml")
    tools = {tool.id: tool}
    # nothing screened yet: every unique record is to be extracted, as the report shows
    unique = con.execute(
        "SELECT count(*) FROM records WHERE record_id NOT IN"
        " (SELECT record_id FROM duplicate_groups WHERE is_kept = 0)"
    ).fetchone()[0]
    assert len(included_record_ids(con)) == unique
    record_published_decisions(con, load_review(KEI / "review.yml"))
    included = final_decisions(con, stage="full_text")
    included = set(included.loc[included["decision"] == "include", "record_id"])
    assert len(included) == _bib_entries() == 64

    table = progress(con, form, tools)
    assert len(table) == 64 and set(table["record_id"]) == included
    assert set(table["status"]) == {"not started"}
    assert set(table["fields_total"]) == {len(form.fields)}
    first, second, third = table["record_id"][:3]
    for fid, fld in form.fields.items():  # the first paper fully extracted and appraised
        record_value(con, first, form.id, fid, _fitting(fld), "ana")
    for fid, fld in tool.fields.items():
        record_value(con, first, tool.id, fid, fld.choices[0], "ben")
    record_value(con, second, form.id, "aims", "Improve discharge", "ana")  # begun
    for fid, fld in form.fields.items():  # the third extracted twice, one conflict
        record_value(con, third, form.id, fid, _fitting(fld), "ana")
        record_value(con, third, form.id, fid, _fitting(fld), "ben")
    record_value(con, third, form.id, "aims", "Another aim", "ben")
    # a screened-out record is not listed even with values
    everyone = [r[0] for r in con.execute("SELECT record_id FROM records ORDER BY record_id")]
    outside = next(r for r in everyone if r not in included)  # a background document
    record_value(con, outside, form.id, "aims", "x", "ana")

    table = progress(con, form, tools).set_index("record_id")
    assert len(table) == 64 and outside not in table.index
    row = table.loc[first]
    assert (row["status"], row["extracted_by"], row["appraised_by"]) == ("done", ("ana",), ("ben",))
    assert (row["fields_done"], row["tool"], row["appraisal_done"]) == (
        len(form.fields), tool.id, len(tool.fields),
    )  # fmt: skip
    assert table.loc[second, "status"] == "extracting" and table.loc[second, "fields_done"] == 1
    assert table.loc[third, "status"] == "conflicts" and table.loc[third, "conflicts"] == 1
    assert table.loc[third, "extracted_by"] == ("ana", "ben")
    summary = progress_summary(table).set_index("status")["papers"]
    assert summary.to_dict() == {
        "not started": 61, "extracting": 1, "conflicts": 1, "appraising": 0, "done": 1,
    }  # fmt: skip
    # settled by consensus: extracted, not yet appraised
    record_value(con, third, form.id, "aims", "Another aim", "cy", kind="consensus")
    assert progress(con, form, tools).set_index("record_id").loc[third, "status"] == "appraising"
    # double extraction: a field one reviewer answered is not done yet
    double = progress(con, form, tools, extractors=2).set_index("record_id")
    assert double.loc[first, "fields_done"] == 0 and double.loc[first, "status"] == "extracting"
    assert double.loc[third, "fields_done"] == len(form.fields)
    # without appraisal tools, a paper is done once extracted
    assert progress(con, form).set_index("record_id").loc[third, "status"] == "done"
    # a paper excluded later drops out
    record_decision(con, record_id=second, reviewer="Mukoro, Felix (2020, published review)",
                    decision="exclude", stage="full_text")  # fmt: skip
    assert second not in set(progress(con, form, tools)["record_id"])
    con.close()


def _fitting(fld):
    """A value that fits ``fld``."""
    return {
        "text": "reported", "number": 10, "year": 2018, "choice": fld.choices[0] if fld.choices
        else None, "choices": list(fld.choices[:1]), "quote": {"text": "we co-designed",
        "location": "abstract"},
    }[fld.type]  # fmt: skip


def test_an_mmat_paper_is_done_once_its_own_category_is_answered(store: Path) -> None:
    # the MMAT's design categories are optional sections: a paper answers the two
    # screening questions and the one category that fits, and is then done
    from synth.extraction.forms import load_form
    from synth.extraction.tables import appraisal_table

    con = connect(store)
    form, mmat = default_form(), load_form("appraisal-mmat")
    paper = included_record_ids(con)[0]
    for fid, fld in form.fields.items():
        record_value(con, paper, form.id, fid, _fitting(fld), "ana")
    screening = [f for f in mmat.fields.values() if f.section == "Screening"]
    qualitative = [f for f in mmat.fields.values() if f.section == "Qualitative"]
    for fld in screening:
        record_value(con, paper, mmat.id, fld.id, "yes", "ana")
    row = progress(con, form, {mmat.id: mmat}).set_index("record_id").loc[paper]
    assert (row["appraisal_done"], row["appraisal_total"], row["status"]) == (2, 2, "done")
    for fld in qualitative[:-1]:
        record_value(con, paper, mmat.id, fld.id, "no", "ana")
    row = progress(con, form, {mmat.id: mmat}).set_index("record_id").loc[paper]
    assert (row["appraisal_done"], row["appraisal_total"], row["status"]) == (6, 7, "appraising")
    record_value(con, paper, mmat.id, qualitative[-1].id, "can't tell", "ana")
    row = progress(con, form, {mmat.id: mmat}).set_index("record_id").loc[paper]
    assert (row["appraisal_done"], row["appraisal_total"], row["status"]) == (7, 7, "done")
    overall = appraisal_table(con, {mmat.id: mmat}).set_index("citation")["overall"]
    assert "2 yes, 4 no, 1 can't tell of 7 items" in set(overall)
    con.close()


def test_one_value_to_text_and_one_answer_reader_serve_app_tables_and_plots() -> None:
    """The app, the tables and the appraisal plots read values through one home
    (synth.extraction.values): the same text for the same value, the quote with or without
    its marks, and the same meaning for an appraisal answer however it was saved."""
    from synth.extraction import app, cerqual, tables
    from synth.extraction.values import answer_key, answer_meaning, value_text
    from synth.report import appraisal_figures

    quote = {"text": "Patients co-designed it", "location": "p. 4"}
    assert value_text(quote) == "\u201cPatients co-designed it\u201d (p. 4)"
    assert value_text(quote, quote_marks=False) == "Patients co-designed it (p. 4)"
    assert value_text(["design", None, "delivery"]) == "design; delivery"
    assert value_text(12.0) == "12" and value_text(1.5) == "1.5"
    assert value_text(None) == value_text(float("nan")) == ""
    assert tables.value_text is value_text  # the tables' cells: this very function
    for value in (quote, ["design", "delivery"], 12.0, None, "text"):
        assert app.shown(value) == value_text(value, quote_marks=False)
    # one reader of appraisal answers: case, spacing and a one-item list do not matter
    assert answer_key(["  Can't Tell "]) == answer_key("can't tell") == "can't tell"
    assert answer_key(["yes", "no"]) == answer_key(None) == answer_key(float("nan")) == ""
    assert answer_meaning(" No") == "concern" and answer_meaning(["yes"]) == "none"
    assert answer_meaning("maybe") is None
    assert not hasattr(cerqual, "_answer")  # no second normaliser beside it
    per_paper = cerqual.paper_limitations(
        pd.DataFrame({"record_id": ["a", "a", "a"], "value": [" No", ["yes"], "CAN'T TELL"]})
    )
    assert per_paper[["items", "concerns", "unclear"]].iloc[0].tolist() == [3, 1, 1]
    assert appraisal_figures.answer_category(" No") == "no"
    assert appraisal_figures.answer_category(["yes"]) == "yes"
