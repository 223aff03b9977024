"""`synth export criteria`: the criteria assessment as a reviewer's CSV, and its errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from synth.cli import app
from synth.review import load_review
from synth.tagging.criteria import review_criteria

ROOT = Path(__file__).resolve().parents[1]
KEI = ROOT / "corpus" / "kei-2020"
COLUMNS = [
    "record_id", "title", "criterion", "kind", "verdict", "method", "score", "evidence",
    "suggested_decision", "suggested_reason",
]  # fmt: skip
runner = CliRunner()


def _import(ris: Path) -> Path:
    db = ris.parent / "review.sqlite"
    result = runner.invoke(app, ["import", str(ris), "--db", str(db), "--no-progress"])
    assert result.exit_code == 0, result.output
    return db


def _export(db: Path, out: Path) -> pd.DataFrame:
    result = runner.invoke(app, ["export", "criteria", "--db", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"to {out}" in " ".join(result.output.split())
    return pd.read_csv(out, dtype=str, keep_default_na=False)


def test_one_row_per_record_and_criterion_of_the_review(
    kei_tagged_db: Path, tmp_path: Path
) -> None:
    rows = _export(kei_tagged_db, tmp_path / "out" / "criteria.csv")
    assert list(rows.columns) == COLUMNS
    # every assessed criterion (the general exclusion is a reviewer's reason, not assessed)
    criteria = {c.id: c.kind for c in review_criteria(load_review(KEI / "review.yml"))}
    assert len(criteria) == 7
    assert set(rows.criterion) == set(criteria)
    assert all(criteria[c] == k for c, k in zip(rows.criterion, rows.kind, strict=True))
    per_record = rows.groupby("record_id").criterion.apply(sorted)
    assert per_record.map(len).eq(len(criteria)).all()
    assert per_record.map(lambda cs: cs == sorted(criteria)).all()
    assert not rows.duplicated(["record_id", "criterion"]).any()
    assert rows.record_id.nunique() == 68  # every imported record, as `export tags` has
    assert set(rows.verdict) <= {"met", "not_met", "unclear"}
    assert set(rows.suggested_decision) <= {"include", "exclude", "unclear"}
    assert (rows.title != "").all()
    # the bundled review gives cues for every text criterion; the date range is the year
    assert set(rows.loc[rows.criterion == "years", "method"]) == {"year"}
    assert set(rows.loc[rows.criterion != "years", "method"]) == {"cues"}


def test_similarity_verdicts_are_marked(tmp_path: Path) -> None:
    """A criterion without cues is judged by similarity to its wording, and the export says
    so in its method column and its evidence; an exclusion is never met that way."""
    title = "Optimizing patient involvement in quality improvement"  # armstrong2013
    (tmp_path / "refs.ris").write_text(f"TY  - JOUR\nTI  - {title}\nPY  - 2013\nER  - \n", "utf-8")
    (tmp_path / "review.yml").write_text(
        "inclusion_criteria:\n"
        "  - {id: involvement, text: Patient involvement in quality improvement}\n"
        "  - {id: improvement, text: Improvement work, cues: [quality improvement]}\n"
        "exclusion_criteria:\n"
        "  - {id: qi-only, text: Quality improvement with patient involvement}\n",
        "utf-8",
    )
    db = _import(tmp_path / "refs.ris")
    assert runner.invoke(app, ["tag", "--db", str(db), "--no-progress"]).exit_code == 0
    rows = _export(db, tmp_path / "criteria.csv").set_index("criterion")
    assert rows.loc["improvement", "method"] == "cues"
    assert rows.loc["involvement", "method"] == "similarity"
    assert rows.loc["involvement", "verdict"] == "met"
    assert rows.loc["involvement", "evidence"] == (
        f"[title] {title} (by similarity to the criterion's wording; no cues given)"
    )
    assert rows.loc["qi-only", "method"] == "similarity"
    assert rows.loc["qi-only", "verdict"] == "unclear"  # never an exclusion by similarity
    assert set(rows.suggested_decision) == {"include"}
    assert "by similarity to the criterion's wording" in rows.loc["involvement", "suggested_reason"]


def test_bad_cues_in_review_yml_are_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "refs.ris").write_text("TY  - JOUR\nTI  - Co-design\nER  - \n", "utf-8")
    (tmp_path / "review.yml").write_text(
        "inclusion_criteria:\n  - id: primary-care\n    cues: [{phrase: GP, weight: high}]\n",
        "utf-8",
    )
    db = _import(tmp_path / "refs.ris")
    result = runner.invoke(app, ["tag", "--db", str(db), "--no-progress"])
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())
    problem = "review.yml: inclusion_criteria[0] (primary-care).cues[0], weight: weight must be"
    assert problem in output
    assert "Traceback" not in output


def test_evidence_and_reasons_are_readable_text(kei_tagged_db: Path, tmp_path: Path) -> None:
    rows = _export(kei_tagged_db, tmp_path / "criteria.csv")
    years = rows[rows.criterion == "years"]
    assert years.evidence.str.match(r"\[year\] (\d{4}|no year) \(criterion: 2008–").all()
    text = rows[(rows.criterion != "years") & (rows.evidence != "")]
    assert len(text) > 0 and text.evidence.str.match(r"\[\w+\] \S").all()
    assert not text.evidence.str.contains(r"\{'|\"sentence\"").any()  # no raw dict / JSON
    # every suggestion explains itself; an exclusion names the criterion it rests on
    assert (rows.suggested_reason != "").all()
    excluded = rows[rows.suggested_decision == "exclude"]
    ids = set(rows.criterion)
    assert all(r.split(":", 1)[0] in ids for r in excluded.suggested_reason)


def test_no_tagging_run_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "refs.ris").write_text("TY  - JOUR\nTI  - Co-design in a ward\nER  - \n", "utf-8")
    db = _import(tmp_path / "refs.ris")
    out = tmp_path / "criteria.csv"
    result = runner.invoke(app, ["export", "criteria", "--db", str(db), "--out", str(out)])
    assert result.exit_code == 2
    assert "no finished tagging run" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_a_run_without_review_yml_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "refs.ris").write_text(
        "TY  - JOUR\nTI  - Experience-based co-design in an emergency department in England\n"
        "PY  - 2012\nER  - \n",
        "utf-8",
    )
    db = _import(tmp_path / "refs.ris")
    assert runner.invoke(app, ["tag", "--db", str(db), "--no-progress"]).exit_code == 0
    out = tmp_path / "criteria.csv"
    result = runner.invoke(app, ["export", "criteria", "--db", str(db), "--out", str(out)])
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())
    assert "assessed no criteria" in output and "review.yml" in output
    assert not out.exists()


def test_formula_like_titles_are_neutralised(tmp_path: Path) -> None:
    """A title is someone else's data: in the CSV it must not run as a formula."""
    (tmp_path / "refs.ris").write_text(
        'TY  - JOUR\nTI  - =HYPERLINK("http://x","co-design")\nPY  - 2015\n'
        "AB  - Patients and staff co-designed the ward in equal partnership.\nER  - \n",
        "utf-8",
    )
    (tmp_path / "review.yml").write_text((KEI / "review.yml").read_text("utf-8"), "utf-8")
    db = _import(tmp_path / "refs.ris")
    tagged = runner.invoke(
        app,
        ["tag", "--db", str(db), "--no-progress", "--review", str(tmp_path / "review.yml")],
    )
    assert tagged.exit_code == 0, tagged.output
    rows = _export(db, tmp_path / "criteria.csv")
    assert rows.title.str.startswith("'=HYPERLINK").all()
