"""GRADE-CERQual confidence: each component's suggested level from small stores, the
overall judgement, and the reviewer's judgements as append-only events."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from synth.extraction.cerqual import (
    COMPONENTS,
    NOT_ASSESSED,
    load_judgements,
    load_rules,
    overall_level,
    record_judgement,
    suggest_confidence,
    summary_of_findings,
    theme_findings,
)
from synth.review import parse_review
from synth.store import connect

REVIEW = parse_review(
    {"scope": {"out_of_scope": {"approach:self-management": "x"}, "hidden": ["setting:community"]},
     "exclusion_criteria": [{"id": "x", "text": "individual benefit"}]},
    "review.yml",
)  # fmt: skip


def _records(n: int) -> pd.DataFrame:
    return pd.DataFrame({"record_id": [f"p{i}" for i in range(n)], "title": "t"})


def _finding(papers: list[str], passages: dict[str, int] | None = None, direct=None):
    return pd.DataFrame(
        [("f1", "Leaders matter", papers, passages or {p: 3 for p in papers},
          papers if direct is None else direct)],
        columns=["finding_id", "finding", "record_ids", "passages", "direct"],
    )  # fmt: skip


def _tags(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["record_id", "facet", "label"]).assign(score=0.9)


def _appraisal(answers: dict[str, list[str]]) -> pd.DataFrame:
    rows = [(rid, f"q{k}", a) for rid, items in answers.items() for k, a in enumerate(items)]
    return pd.DataFrame(rows, columns=["record_id", "field_id", "value"])


def _suggest(findings, values, tags, n=8):
    return suggest_confidence(None, findings, values, _records(n), tags=tags, review=REVIEW)


def _settings(papers, label="acute-care"):
    return _tags([(p, "setting", label) for p in papers])


PAPERS = [f"p{i}" for i in range(8)]
GOOD = ["yes"] * 5


def test_methodological_limitations_follow_the_appraisals() -> None:
    f = _finding(PAPERS)
    tags = _settings(PAPERS)
    all_good = _suggest(f, _appraisal({p: GOOD for p in PAPERS}), tags).iloc[0]
    assert all_good["methodological_limitations"] == "no or very minor concerns"
    # five of eight papers answer "no" to three of five items: serious concerns
    bad = {p: (["no"] * 3 + ["yes"] * 2 if k < 5 else GOOD) for k, p in enumerate(PAPERS)}
    row = _suggest(f, _appraisal(bad), tags).iloc[0]
    assert row["methodological_limitations"] == "serious concerns"
    assert "5 with serious" in row["methodological_limitations_why"]
    # "can't tell" counts half: two of five unclear is 0.2, "some" concerns for each paper
    unclear = {p: ["can't tell"] * 2 + ["yes"] * 3 for p in PAPERS}
    assert _suggest(f, _appraisal(unclear), tags).iloc[0]["methodological_limitations"] == (
        "moderate concerns"
    )
    # not appraised at all: not assessed, and it costs the overall a step
    none = _suggest(f, _appraisal({}), tags).iloc[0]
    assert none["methodological_limitations"] == NOT_ASSESSED
    assert none["overall"] == "moderate"
    # a few papers appraised well: the rest of the evidence is unknown
    two = _suggest(f, _appraisal({"p0": GOOD, "p1": GOOD}), tags).iloc[0]
    assert two["methodological_limitations"] == "moderate concerns"
    assert "not appraised yet" in two["methodological_limitations_why"]


def test_a_duplicates_appraisal_counts_for_its_kept_paper() -> None:
    records = pd.DataFrame(
        {"record_id": ["p0", "d0"], "title": "t", "group_id": ["p0", "p0"],
         "is_kept": [True, False]}
    )  # fmt: skip
    values = _appraisal({"d0": ["no"] * 5})
    got = suggest_confidence(
        None, _finding(["p0"]), values, records, tags=_settings(["p0"]), review=REVIEW
    ).iloc[0]
    assert got["methodological_limitations"] == "serious concerns"


def test_coherence_adequacy_and_relevance() -> None:
    tags = _settings(PAPERS)
    assert _suggest(_finding(PAPERS), _appraisal({}), tags).iloc[0]["coherence"] == (
        "no or very minor concerns"
    )
    thin = _suggest(_finding(PAPERS, direct=PAPERS[:1]), _appraisal({}), tags).iloc[0]
    assert thin["coherence"] == "serious concerns"
    assert "1 of 8 papers" in thin["coherence_why"]
    # adequacy: two papers with one passage each
    few = _suggest(_finding(PAPERS[:2], {"p0": 1, "p1": 1}), _appraisal({}), tags).iloc[0]
    assert few["adequacy"] == "moderate concerns"
    one = _suggest(_finding(PAPERS[:1]), _appraisal({}), tags).iloc[0]
    assert one["adequacy"] == "serious concerns"
    rich = _suggest(_finding(PAPERS), _appraisal({}), tags).iloc[0]
    assert rich["adequacy"] == "no or very minor concerns"
    # relevance: out-of-scope and hidden labels are indirect, no setting is partial
    mixed = _tags(
        [("p0", "setting", "acute-care"), ("p1", "setting", "community"),
         ("p2", "approach", "self-management"), ("p2", "setting", "acute-care"),
         ("p3", "setting", "not-applicable")]
    )  # fmt: skip
    row = _suggest(_finding(PAPERS[:4]), _appraisal({}), mixed).iloc[0]
    assert row["relevance"] == "moderate concerns"  # 1 of 4 direct
    assert (
        "1 of 4 papers" in row["relevance_why"]
        and "2 partly out of scope" in (row["relevance_why"])
    )
    assert rich["relevance"] == "no or very minor concerns"


def test_overall_steps_down_from_high() -> None:
    rules = load_rules()
    best = dict.fromkeys(COMPONENTS, "no or very minor concerns")
    assert overall_level(best, rules)[0] == "high"
    assert overall_level({**best, "coherence": "minor concerns"}, rules)[0] == "high"
    two_minor = {**best, "coherence": "minor concerns", "adequacy": "minor concerns"}
    assert overall_level(two_minor, rules)[0] == "moderate"
    serious = {**best, "relevance": "serious concerns", "adequacy": "moderate concerns"}
    level, why = overall_level(serious, rules)
    assert level == "very low" and "relevance (serious concerns: 2 steps)" in why
    assert "adequacy (moderate concerns: 1 step)" in why
    assert overall_level(dict.fromkeys(COMPONENTS, "serious concerns"), rules)[0] == "very low"


def test_theme_findings_from_the_synthesis() -> None:
    summary = pd.DataFrame(
        {"theme_id": ["a", "b"], "heading": ["A", "B"], "record_ids": [["p0", "p1"], []]}
    )
    assignments = pd.DataFrame(
        {"record_id": ["p0", "p0", "p0", "p1"], "theme_id": ["a", "a", "a", "a"],
         "text": ["s1", "s2", "s2", "s3"], "method": ["cue", "similarity", "cue", "similarity"]}
    )  # fmt: skip
    f = theme_findings(summary, assignments)
    assert f["finding_id"].tolist() == ["a"]  # a theme with no papers is no finding
    assert f.iloc[0]["passages"] == {"p0": 2, "p1": 1}
    assert f.iloc[0]["direct"] == ["p0"]


@pytest.fixture
def store(tmp_path: Path) -> sqlite3.Connection:
    con = connect(tmp_path / "review.sqlite")
    yield con
    con.close()


def test_judgements_are_events_and_override_the_suggestion(store, tmp_path: Path) -> None:
    suggested = _suggest(_finding(PAPERS), _appraisal({p: GOOD for p in PAPERS}), _settings(PAPERS))
    sof = summary_of_findings(store, suggested).iloc[0]
    assert sof["overall"] == "high" and sof["judged"] == []
    record_judgement(store, "f1", "coherence", "serious concerns", "ana", note="contradictions")
    sof = summary_of_findings(store, suggested).iloc[0]
    assert sof["coherence"] == "serious concerns" and sof["judged"] == ["coherence"]
    assert sof["overall"] == "low" and "coherence (serious concerns: 2 steps)" in sof["explanation"]
    # each component's reason: the reviewer's (with the note) or the suggestion's
    assert "Coherence: the reviewer's judgement (contradictions)" in sof["explanation"]
    assert "Adequacy: 8 papers, a median of 3 passages each" in sof["explanation"]
    record_judgement(store, "f1", "overall", "moderate", "ben", note="one strong study")
    sof = summary_of_findings(store, suggested).iloc[0]
    assert sof["overall"] == "moderate" and "one strong study" in sof["explanation"]
    assert sof["judged_by"] == ["ana", "ben"]
    # clearing the overall brings back the one computed from the components
    record_judgement(store, "f1", "overall", None, "ben")
    assert summary_of_findings(store, suggested).iloc[0]["overall"] == "low"
    # committed: another connection sees every event; the log is append-only
    other = sqlite3.connect(tmp_path / "review.sqlite")
    assert other.execute("SELECT count(*) FROM finding_judgements").fetchone()[0] == 3
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        other.execute("UPDATE finding_judgements SET level = 'high'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        other.execute("DELETE FROM finding_judgements")
    other.close()
    assert load_judgements(store)["reviewer"].tolist() == ["ana", "ben", "ben"]


def test_bad_judgements_are_refused(store) -> None:
    with pytest.raises(ValueError, match="not a level of coherence"):
        record_judgement(store, "f1", "coherence", "high", "ana")
    with pytest.raises(ValueError, match="not a level of overall"):
        record_judgement(store, "f1", "overall", "minor concerns", "ana")
    with pytest.raises(ValueError, match="unknown CERQual component 'rigour'"):
        record_judgement(store, "f1", "rigour", "minor concerns", "ana")
    with pytest.raises(ValueError, match="name the reviewer"):
        record_judgement(store, "f1", "coherence", "minor concerns", " ")
    # the table refuses a bad level even from SQL that skips the checks
    with pytest.raises(sqlite3.IntegrityError):
        store.execute(
            "INSERT INTO finding_judgements (finding_id, component, level, reviewer, created_at)"
            " VALUES ('f1', 'coherence', 'high', 'x', 'now')"
        )
    assert len(load_judgements(store)) == 0


def test_a_bad_rules_file_is_named(tmp_path: Path) -> None:
    from synth.extraction.cerqual import CerqualRulesError

    path = tmp_path / "cerqual.yml"
    text = Path(load_rules.__code__.co_filename).parents[1] / "data" / "cerqual.yml"
    path.write_text(text.read_text("utf-8").replace('"yes": none', "yes: none"), "utf-8")
    with pytest.raises(CerqualRulesError, match=r"cerqual\.yml: answers: True is not text"):
        load_rules(path)
    path.write_text(text.read_text("utf-8").replace("level: minor concerns", "level: meh"), "utf-8")
    with pytest.raises(CerqualRulesError, match=r"methodological_limitations\.levels\[3\]"):
        load_rules(path)


def test_the_table_itself_refuses_an_empty_reviewer_or_finding(store) -> None:
    """Migration 0009: a judgement without a reviewer or a finding (empty or blank) is
    refused by the database, whatever writes it, not only by record_judgement."""
    insert = (
        "INSERT INTO finding_judgements (finding_id, component, level, reviewer, created_at)"
        " VALUES (?, 'coherence', 'minor concerns', ?, 'now')"
    )
    for finding, reviewer in (("f1", ""), ("f1", "   "), ("", "ana"), (" ", "ana")):
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            store.execute(insert, (finding, reviewer))
    store.execute(insert, ("f1", "ana"))  # a named one still goes in
    assert load_judgements(store)["reviewer"].tolist() == ["ana"]


def test_migration_0009_keeps_every_judgement_and_the_append_only_log(tmp_path: Path) -> None:
    from synth.store.db import _statements, migrations

    path = tmp_path / "old.sqlite"
    raw = sqlite3.connect(path, isolation_level=None)
    for version, _, sql in migrations()[:7]:  # a store as synth wrote it with 0007
        for statement in _statements(sql):
            raw.execute(statement)
        raw.execute(f"PRAGMA user_version={version}")
    rows = [
        ("f1", "coherence", "minor concerns", "ana", "thin", "2026-01-01"),
        ("f1", "overall", "low", "ben", None, "2026-01-02"),
        ("f1", "overall", None, "ben", None, "2026-01-03"),
    ]
    raw.executemany(
        "INSERT INTO finding_judgements (finding_id, component, level, reviewer, note,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    raw.close()
    con = connect(path)
    try:
        events = load_judgements(con)
        assert events["event_id"].tolist() == [1, 2, 3]
        kept = events[["finding_id", "component", "level", "reviewer", "note", "created_at"]]
        assert [tuple(None if pd.isna(v) else v for v in r) for r in kept.values] == rows
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("UPDATE finding_judgements SET level = 'high'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("DELETE FROM finding_judgements")
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            record = "INSERT INTO finding_judgements (finding_id, component, reviewer, created_at)"
            con.execute(record + " VALUES ('f1', 'overall', '', 'now')")
        indexes = {r[1] for r in con.execute("PRAGMA index_list(finding_judgements)")}
        assert "finding_judgements_finding" in indexes
        assert record_judgement(con, "f1", "adequacy", "minor concerns", "cy") == 4
    finally:
        con.close()
