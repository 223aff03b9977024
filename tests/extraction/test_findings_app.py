"""The findings panel driven like a reviewer would: change and confirm a finding's
GRADE-CERQual judgements, save, reopen from the store, withdraw; saved through the event
function ``synth extract judge`` uses, read back with a fresh connection the way another
kernel would see them. On the bundled KEI corpus, imported and tagged."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from synth.extraction.cerqual import SUGGESTION_COLUMNS, load_judgements
from synth.extraction.findings_app import SUGGESTED, FindingsApp
from synth.extraction.tables import findings_table
from synth.screening.highlight import esc
from synth.store import connect

pytestmark = pytest.mark.slow  # importing and tagging the KEI corpus takes 5-15 s


@pytest.fixture
def db(kei_tagged_db: Path, copy_db: Callable[..., Path]) -> Path:
    return copy_db(kei_tagged_db)


@pytest.fixture
def panels() -> Iterator[list[FindingsApp]]:
    made: list[FindingsApp] = []
    yield made
    for panel in made:
        panel.con.close()


def _open(panels: list[FindingsApp], db: Path, reviewer: str = "ann") -> FindingsApp:
    panel = FindingsApp.open(db, reviewer=reviewer)
    panels.append(panel)
    return panel


def _judgements(db: Path):
    con = connect(db)
    try:
        return load_judgements(con)
    finally:
        con.close()


def _findings(db: Path):
    con = connect(db)
    try:
        return findings_table(con).set_index("Finding")
    finally:
        con.close()


def test_a_reviewer_changes_and_confirms_a_judgement_in_the_panel(db: Path, panels) -> None:
    panel = _open(panels, db)
    assert len(panel.boxes) > 0
    fid, box = next(iter(panel.boxes.items()))
    suggested = panel.suggested.set_index("finding_id").loc[fid]
    wording = suggested["finding"]
    before = _findings(db).loc[wording]
    # every dropdown starts at synth's suggestion, named in its first option
    for part, row in box.rows.items():
        assert row.level.value is SUGGESTED
        assert str(suggested[part]) in row.level.options[0][0]
    assert esc(str(suggested["coherence_why"])) in box.rows["coherence"].why.value

    box.rows["overall"].level.value = "very low"
    box.rows["overall"].note.value = "thin data"
    box.rows["adequacy"].level.value = "serious concerns"
    box.save.click()
    assert "saved ✓" in box.state.value
    events = _judgements(db)  # committed: another connection sees them
    assert set(zip(events["component"], events["level"], events["reviewer"], strict=True)) == {
        ("overall", "very low", "ann"),
        ("adequacy", "serious concerns", "ann"),
    }
    assert events.set_index("component").loc["overall", "note"] == "thin data"
    for e in events["event_id"]:
        assert f"#{e}" in box.state.value
    after = _findings(db).loc[wording]
    assert after["Confidence"] == "very low*" and after["Adequacy"] == "serious concerns*"
    assert "very low" in box.standing.value and "ann" in box.standing.value

    # nothing changed: nothing recorded; a note beside synth's suggestion is no judgement
    box.save.click()
    assert "nothing changed" in box.state.value and len(_judgements(db)) == 2
    box.rows["relevance"].note.value = "settings vary"
    box.save.click()
    assert "choose a level" in box.state.value and "saved ✓" not in box.state.value
    assert len(_judgements(db)) == 2
    box.rows["relevance"].note.value = ""

    # reopened (a restarted kernel): the standing judgements are shown, another
    # reviewer confirms the suggested coherence and withdraws the overall judgement
    again = _open(panels, db, reviewer="bo")
    rows = again.boxes[fid].rows
    assert rows["overall"].level.value == "very low" and rows["overall"].note.value == "thin data"
    assert rows["adequacy"].level.value == "serious concerns"
    assert rows["coherence"].level.value is SUGGESTED
    if suggested["coherence"] in [v for _, v in rows["coherence"].level.options]:
        rows["coherence"].level.value = suggested["coherence"]  # confirm it
    else:  # not assessed is no level: a reviewer picks one
        rows["coherence"].level.value = "minor concerns"
    rows["overall"].level.value = SUGGESTED
    again.boxes[fid].save.click()
    events = _judgements(db)
    assert len(events) == 4
    last = events.tail(2).set_index("component")
    assert last.loc["overall", "reviewer"] == "bo" and pd.isna(last.loc["overall", "level"])
    assert last.loc["coherence", "level"] == rows["coherence"].level.value
    final = _findings(db).loc[wording]
    assert final["Confidence"] != "very low*" and final["Coherence"].endswith("*")
    assert before["Relevance"] == final["Relevance"]  # untouched components stand


def test_a_refused_judgement_says_why_and_saves_nothing(db: Path, panels) -> None:
    """A judgement the event function refuses (here a blank finding id: the store holds
    no themes, so a finding id is checked against the codebook by ``synth extract judge``,
    and only a blank one by the event function) is shown as not saved, never as saved."""
    con = connect(db)
    panel = FindingsApp(con, reviewer="ann", suggested=_suggested(" "))
    panels.append(panel)
    box = panel.boxes[" "]
    box.rows["overall"].level.value = "low"
    box.save.click()
    assert "Not saved" in box.state.value and "saved ✓" not in box.state.value
    assert len(_judgements(db)) == 0
    with pytest.raises(ValueError, match="reviewer"):
        FindingsApp(con, reviewer="  ", suggested=_suggested(" "))


def _suggested(finding_id: str) -> pd.DataFrame:
    """synth's suggestion for one finding, as the panel is given it."""
    row = {c: "" for c in SUGGESTION_COLUMNS}
    row.update(finding_id=finding_id, finding="A finding", papers=1, record_ids=["x"],
               overall="moderate", **{c: "minor concerns" for c in
                                       ("methodological_limitations", "coherence",
                                        "adequacy", "relevance")})  # fmt: skip
    return pd.DataFrame([row])


def test_a_partly_saved_finding_says_what_was_saved_and_what_not(tmp_path: Path, panels) -> None:
    """When the store refuses one component (here a trigger stands in for a full disk),
    the components before and after it are committed: the box names the saved events and
    the refused component with why, shows the store, and keeps the refused choice."""
    db = tmp_path / "r.sqlite"
    connect(db).close()
    con = connect(db)
    con.execute(
        "CREATE TEMP TRIGGER refuse BEFORE INSERT ON finding_judgements"
        " WHEN NEW.component = 'adequacy' BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    panel = FindingsApp(con, reviewer="ann", suggested=_suggested("t1"))
    panels.append(panel)
    box = panel.boxes["t1"]
    box.rows["coherence"].level.value = "moderate concerns"
    box.rows["adequacy"].level.value = "serious concerns"
    box.rows["overall"].level.value = "low"
    box.save.click()
    events = _judgements(db)
    assert list(events["component"]) == ["coherence", "overall"]
    state = box.state.value
    assert "saved ✓" in state and all(f"#{e}" in state for e in events["event_id"])
    assert "not saved: adequacy: disk full" in state
    assert "judged by ann" in box.standing.value  # refreshed from the store
    assert box.rows["adequacy"].level.value == "serious concerns"
    assert box.rows["adequacy"].changed and not box.rows["coherence"].changed
