"""The review run and the tag commands end to end on the bundled KEI corpus."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from synth.cli import app

ROOT = Path(__file__).resolve().parents[1]
KEI = ROOT / "corpus" / "kei-2020"
GOLD = ROOT / "tests" / "fixtures" / "kei-gold" / "gold.csv"
runner = CliRunner()


@pytest.fixture(scope="module")
def kei_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("kei") / "kei.sqlite"
    result = runner.invoke(
        app,
        ["review", "run", "--corpus", str(KEI), "--db", str(db), "--no-progress",
         "--out", str(db.parent / "reports"), "--notebook", "01_corpus_overview"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "68 records from 22 files" in result.output
    # the corpus description is printed beside the review's own figures
    assert "stated" in result.output and "EBCD" in result.output
    return db


def test_every_record_is_tagged_with_evidence(kei_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "tags.csv"
    result = runner.invoke(app, ["export", "tags", "--db", str(kei_db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    tags = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(tags.columns) == [
        "record_id", "facet", "label", "code", "score", "evidence", "source", "version",
    ]  # fmt: skip
    assert tags.record_id.nunique() == 68
    # a country row carries its ISO code, every other row none
    country = tags[tags.facet == "country"]
    assert "GB" in set(country.loc[country.label == "United Kingdom", "code"])
    assert (country.code.str.fullmatch(r"[A-Z]{2}")).all()
    assert (tags.loc[tags.facet != "country", "code"] == "").all()
    assert (tags.evidence.str.len() > 0).all()
    assert "rule" in set(tags.source) and set(tags.source) <= {"rule", "model"}


def test_evaluate_prints_per_label_scores(kei_db: Path) -> None:
    result = runner.invoke(app, ["tag", "evaluate", "--db", str(kei_db), "--gold", str(GOLD)])
    assert result.exit_code == 0, result.output
    for word in ("precision", "recall", "ebcd", "acute-care", "united kingdom"):
        assert word in result.output.lower()


def test_evaluate_needs_a_store_with_its_gold_or_the_real_abstracts(kei_db: Path) -> None:
    alone = runner.invoke(app, ["tag", "evaluate", "--db", str(kei_db)])
    assert alone.exit_code == 2 and "--db and --gold go together" in alone.output
    nothing = runner.invoke(app, ["tag", "evaluate"])
    assert nothing.exit_code == 2 and "give --db and --gold, or --abstracts" in nothing.output


def test_evaluate_reads_the_gold_sets_from_one_root(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["tag", "evaluate", "--abstracts", "--gold-root", str(tmp_path)])
    assert missing.exit_code == 2 and "no gold.csv there" in missing.output
    assert "abstracts-gold" in missing.output


def test_the_refiner_is_checked_on_the_read_sets_and_tested_on_the_held_out_ones() -> None:
    """Read sets (set 1 and the table's sets not held out) are pooled for the folds; the
    held-out sets pooled are the test; a set labelling other facets (approach) is neither."""
    from synth.cli import _refiner_gold_sets
    from synth.tagging.abstract_gold import GOLD_SETS, TaggedGold

    def one(facet: str) -> TaggedGold:
        gold = pd.DataFrame({"gold_id": ["g1"], "facet": [facet], "label": ["x"]})
        return TaggedGold(
            gold, pd.DataFrame({"record_id": ["g1"]}), pd.DataFrame({"record_id": []})
        )

    others = {s.name: one("approach" if "approach" in s.folder else "design") for s in GOLD_SETS}
    read, unread = _refiner_gold_sets(one("design"), others)
    held = [s.name for s in GOLD_SETS if s.held_out]
    kept = [s.name for s in GOLD_SETS if not s.held_out and "approach" not in s.folder]
    assert read[1] == f"real abstracts ({', '.join(['set 1', *kept])})"
    assert unread[1] == f"real abstracts ({', '.join(held)})"
    assert set(read[0].gold["gold_id"]) == {f"{n}:g1" for n in ["set 1", *kept]}
    assert _refiner_gold_sets(None, others) == (None, None)


def test_evaluate_without_peer_data_is_one_clear_error(kei_db: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["tag", "evaluate", "--db", str(kei_db), "--gold", str(GOLD), "--abstracts",
         "--peer", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "gold dataset not found" in result.output and "Traceback" not in result.output


def test_evaluate_refiner_cv_prints_rules_against_rules_plus_refiner(
    kei_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import synth.store
    from synth.store import connect
    from synth.tagging.evaluate import load_gold
    from synth.tagging.refiner_cv import cross_validate_store

    opened: list[object] = []  # each time the command opens a store
    spy = lambda *a, **k: opened.append(a) or connect(*a, **k)  # noqa: E731
    monkeypatch.setattr(synth.store, "connect", spy)
    args = ["tag", "evaluate", "--db", str(kei_db), "--gold", str(GOLD), "--refiner-cv"]
    result = runner.invoke(app, [*args, "--seed", "3"])
    monkeypatch.undo()
    assert result.exit_code == 0, result.output
    assert len(opened) == 1  # one store, opened once for the evaluation and the CV
    assert "precision" in result.output  # the per-label report, as without --refiner-cv
    con = connect(kei_db)
    cv = cross_validate_store(con, load_gold(GOLD), name=kei_db.name, seed=3)
    con.close()
    assert f"{kei_db.name}: 5 folds, seed 3" in result.output
    lines = [line.split() for line in result.output.splitlines()]
    for row in cv.table.itertuples():
        words = next(w for w in lines if w[:2] == [kei_db.name, row.facet])
        figures = [row.rules_macro_f1, row.refined_macro_f1, row.rules_micro_f1,
                   row.refined_micro_f1]  # fmt: skip
        assert words[2:7] == [str(row.records), *(f"{x:.3f}" for x in figures)], words
    assert "Refine (it raised an F1 on some gold set and lowered none; held-out sets are" in (
        result.output
    )


@pytest.mark.peer
def test_evaluate_prints_the_real_abstracts_beside_the_bundled_gold(
    kei_db: Path, peer_data: Path
) -> None:
    from synth.store import connect, load_records
    from synth.store.tags import current_tags
    from synth.tagging.abstract_gold import GOLD_SETS, SET_1, side_by_side, tag_abstract_gold
    from synth.tagging.evaluate import evaluate, load_gold

    root = ROOT / "tests" / "fixtures"
    result = runner.invoke(
        app,
        ["tag", "evaluate", "--db", str(kei_db), "--gold", str(GOLD), "--abstracts",
         "--gold-root", str(root), "--peer", str(peer_data)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    con = connect(kei_db)
    bundled = evaluate(current_tags(con), load_gold(GOLD), records=load_records(con))
    con.close()
    table = side_by_side(
        tag_abstract_gold(root / SET_1, peer_data),
        bundled,
        bundled_name="kei-gold",
        others={one.name: tag_abstract_gold(root / one.folder, peer_data) for one in GOLD_SETS},
    )
    names = ("set 1: all", "set 1: dev", "set 1: test", "set 2 (held out)", "set 3",
             "set 4 (held out)", "set 5 (held out)", "set 6 (software eng.)", "set 7",
             "approach set", "kei-gold")  # fmt: skip
    for name in names:
        assert name in result.output
    assert "codebook was written from that corpus" in result.output
    lines = result.output.splitlines()
    for facet, source in [
        ("setting", "set 2 (held out)"),
        ("design", "set 3"),
        ("country", "set 4 (held out)"),
        ("design", "set 5 (held out)"),
        ("design", "set 6 (software eng.)"),
        ("setting", "set 7"),
        ("approach", "kei-gold"),
        ("approach", "approach set"),
    ]:
        value = table.loc[(facet, "macro"), (source, "f1")]
        row = next(line for line in lines if line.startswith(facet))
        assert f"{value:.3f}" in row.split(), (facet, source, row)


def test_override_survives_retagging(kei_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "tags.csv"
    runner.invoke(app, ["export", "tags", "--db", str(kei_db), "--out", str(out)])
    rid = pd.read_csv(out, dtype=str).record_id.iloc[0]
    result = runner.invoke(
        app,
        ["tag", "override", rid, "setting", "community", "--db", str(kei_db),
         "--verdict", "set", "--reviewer", "ana"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, ["tag", "--db", str(kei_db), "--no-progress"])
    assert again.exit_code == 0, again.output
    runner.invoke(app, ["export", "tags", "--db", str(kei_db), "--out", str(out)])
    tags = pd.read_csv(out, dtype=str)
    mine = tags[(tags.record_id == rid) & (tags.facet == "setting") & (tags.label == "community")]
    assert mine.source.tolist() == ["reviewer:ana"]


def test_bad_gold_path_is_one_clear_error(kei_db: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["tag", "evaluate", "--db", str(kei_db), "--gold", str(tmp_path / "no.csv")]
    )
    assert result.exit_code == 2 and "no.csv: no such gold file" in result.output


def test_describe_covers_the_included_papers(kei_db: Path) -> None:
    import re
    import sqlite3

    bib = (KEI / "references.bib").read_text("utf-8")
    entries = len(re.findall(r"^@\w+\s*\{", bib, flags=re.MULTILINE))
    with sqlite3.connect(kei_db) as con:
        unique = con.execute("SELECT count(*) FROM duplicate_groups WHERE is_kept = 1").fetchone()
    included = runner.invoke(app, ["tag", "describe", "--db", str(kei_db)])
    assert included.exit_code == 0, included.output
    assert f"describing the {entries} papers included at full-text" in included.output
    assert re.search(rf"papers included\s+\d+\s+{entries}\s", included.output)
    every = runner.invoke(app, ["tag", "describe", "--db", str(kei_db), "--all"])
    assert every.exit_code == 0, every.output
    assert re.search(rf"papers included\s+\d+\s+{unique[0]}\s", every.output)
    assert unique[0] > entries


def test_screen_status_prints_prisma_counts(kei_db: Path) -> None:
    import re

    from synth.screening.prisma import prisma_counts, say
    from synth.store import connect

    con = connect(kei_db)
    counts = prisma_counts(con)
    con.close()
    result = runner.invoke(app, ["screen", "status", "--db", str(kei_db)])
    assert result.exit_code == 0, result.output
    for step, n in [
        ("identified: total", counts.identified),  # references.bib is not search results
        ("included list (not identified): references.bib", counts.included_list["references.bib"]),
        ("duplicates removed", counts.duplicates_removed),
        ("awaiting screening", counts.awaiting_screening),
        ("included", counts.included),
    ]:
        assert re.search(rf"{re.escape(step)}\s*\S\s*{say(n)}\b", result.output), step
    assert counts.awaiting_screening is None  # the bundled review reports only full text
    assert counts.identified is None and "identified: references.bib" not in result.output
    assert counts.included > 0
    assert "title_abstract: 0 open conflicts" in result.output


def test_tag_command_tags_a_record_over_a_million_characters(tmp_path: Path) -> None:
    """One record whose abstract is over spaCy's 1,000,000-character limit: `synth tag`
    still exits 0 and every record, the long one included, gets its tags."""
    from synth.store import connect, import_paths

    long_abstract = "Patients and staff met to review the ward audit together. " * 21_000
    long_abstract += "The team used experience-based co-design."
    assert len(long_abstract) > 1_200_000
    ris = "".join(
        f"TY  - JOUR\nTI  - {title}\nAB  - {abstract}\nPY  - 2015\nER  - \n\n"
        for title, abstract in [
            ("Co-design on a surgical ward in England", "Nurses co-designed care."),
            ("A very long report", long_abstract),
            ("Co-production in mental health services", "Service users co-produced it."),
        ]
    )
    (tmp_path / "refs.ris").write_text(ris, "utf-8")
    db = tmp_path / "review.sqlite"
    con = connect(db)
    import_paths(con, [tmp_path / "refs.ris"])
    con.close()
    result = runner.invoke(app, ["tag", "--db", str(db), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "could not be tagged" not in result.output
    out = tmp_path / "tags.csv"
    assert runner.invoke(app, ["export", "tags", "--db", str(db), "--out", str(out)]).exit_code == 0
    tags = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert tags.record_id.nunique() == 3
    con = connect(db)
    (long_id,) = con.execute("SELECT record_id FROM records WHERE title = 'A very long report'")
    con.close()
    long_tags = tags[tags.record_id == long_id[0]]
    assert "ebcd" in set(long_tags.label)
    assert "The team used experience-based co-design." in " ".join(long_tags.evidence)


def test_describe_without_a_review_describes_the_corpus_and_says_what_is_missing(
    tmp_path: Path,
) -> None:
    from synth.store import connect, import_paths
    from synth.tagging.workflow import NO_REVIEW_NOTE

    (tmp_path / "refs.ris").write_text(
        "TY  - JOUR\nTI  - Experience-based co-design in an emergency department in England\n"
        "PY  - 2012\nER  - \n",
        "utf-8",
    )
    db = tmp_path / "review.sqlite"
    con = connect(db)
    import_paths(con, [tmp_path / "refs.ris"])
    con.close()
    assert runner.invoke(app, ["tag", "--db", str(db), "--no-progress"]).exit_code == 0
    result = runner.invoke(app, ["tag", "describe", "--db", str(db)])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert " ".join(NO_REVIEW_NOTE.split()) in output
    assert "papers included - 1" in output and "EBCD - 1" in output
    missing = runner.invoke(
        app, ["tag", "describe", "--db", str(db), "--review", str(tmp_path / "no.yml")]
    )
    assert missing.exit_code == 2 and "no.yml: no such review file" in missing.output
