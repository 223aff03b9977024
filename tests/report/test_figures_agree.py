"""Every figure a report shows agrees with every other (issue 15, point 3).

Each page publishes the figures it shows (``manifest.json``: ``pages.<page>.figures``);
a name on two pages has one value, and the identities between figures hold: papers =
journal + grey + books + not tagged, the banner's included = PRISMA's included, a
criterion's count in a label table = the criteria table's. Checked on small tables whose
counts are known, on the bundled review, on real exports and on a synthetic review of
10,000 records with decisions at both stages.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from synth.report.figures import (
    check_figures,
    criteria_figures,
    label_figures,
    publication_figures,
)
from synth.report.maps import publication_figure
from synth.report.overview import criteria_summary, label_counts, pooled_tags, type_counts
from synth.report.palette import load_palette
from tests.report.conftest import make_map_records, make_map_tags
from tests.report.test_notebooks import bundled_report

#: The report pages each run here writes (03's themes are not needed for the checks).
PAGES = ["01_corpus_overview", "02_tags_and_criteria", "04_evidence_map", "05_prisma_and_methods"]


def _selection() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The map fixture's papers as a page sees them, r09 (r01's duplicate) tagged grey:
    r01 is then a journal article in its own tags and grey literature in its duplicate's."""
    records, tags = make_map_records(), make_map_tags()
    extra = pd.DataFrame(
        [("r09", "publication", "grey", 0.7, [], "rule", "rules:test")], columns=tags.columns
    )
    tags = pd.concat([tags, extra], ignore_index=True)
    kept = records[records["is_kept"].astype(bool)].reset_index(drop=True)
    return kept, pooled_tags(tags, records, set(kept["record_id"]))


def _chart(records: pd.DataFrame, tags: pd.DataFrame) -> dict[str, int]:
    """The publication chart's bars as drawn: label name -> papers."""
    return {t.name: int(t.y[0]) for t in publication_figure(records, tags).data}


def test_grey_literature_is_one_count_in_the_table_the_chart_and_the_figures() -> None:
    """Grey literature was 13 in the type table (the file's entry type) and 14 in the chart
    (the tags); a paper whose duplicate had another type counted as both in the chart."""
    records, tags = _selection()
    name = load_palette().label_name
    chart = _chart(records, tags)
    table = type_counts(records, tags)
    figures = publication_figures(records, tags)
    grey_in_table = int(table.loc[table["literature"] == "grey", "records"].sum())
    assert grey_in_table == chart[name("publication", "grey")] == figures["grey_literature"] == 3
    assert chart[name("publication", "journal")] == figures["journal_articles"] == 5
    assert sum(chart.values()) == len(records) == int(table["records"].sum())
    assert check_figures({"01": {"papers": len(records), **figures}}) == []


def test_a_label_table_does_not_count_criterion_cues_as_papers_meeting_it() -> None:
    """The label table counted criterion cues (6 papers) where the criteria table said 1
    paper meets the criterion; the criteria table is the one count per criterion."""
    records, tags = _selection()
    cues = pd.DataFrame(
        [(r, "criterion", "equal-relationship", 0.8, [], "rule", "rules:test")
         for r in ("r01", "r02", "r03")],
        columns=tags.columns,
    )  # fmt: skip
    assessment = pd.DataFrame(
        {
            "record_id": ["r01", "r02", "r03"],
            "criterion": "equal-relationship",
            "kind": "include",
            "status": ["met", "unclear", "not met"],
        }
    )
    labels = label_counts(records, pd.concat([tags, cues], ignore_index=True))
    criteria = criteria_figures(criteria_summary(assessment, records))
    assert "criterion" not in set(labels["facet"])
    assert criteria["criterion.equal-relationship.met"] == 1
    pages = {"02": {**label_figures(labels), **criteria}}
    assert check_figures(pages) == []


def test_the_check_names_each_disagreement() -> None:
    pages = {
        "01": {"papers": 64, "grey_literature": 13, "journal_articles": 50, "books": 0,
               "publication_not_tagged": 0, "unique_records": 70},
        "04": {"papers": 64, "grey_literature": 14, "included": 595},
        "05": {"prisma.included": 0, "prisma.screened": None, "prisma.awaiting_screening": 3,
               "prisma.unique_records": 69},
        "02": {"by_criterion.years": 6, "criterion.years.met": 1, "by_publication.grey": 12},
        "03": {"papers": 64, "themes.papers_in_a_theme": 26, "themes.papers_in_no_theme": 37},
    }  # fmt: skip
    problems = check_figures(pages)
    assert "grey_literature: 13 on 01 but 14 on 04" in problems
    assert any("publication_not_tagged = 63" in p for p in problems)
    assert "included 595 but prisma.included 0" in problems
    assert any(p.startswith("by_criterion.years 6") for p in problems)
    assert "by_publication.grey 12 but grey_literature 13" in problems
    assert any("themes.papers_in_no_theme = 63" in p for p in problems)
    assert len(problems) == 6  # "not reported" (None) is never compared


# ------------------------------------------------------------------ whole reports


def _figures(manifest: Path) -> dict[str, dict[str, Any]]:
    """Each page's figures from the manifest; the run's own check found no disagreement."""
    data = json.loads(manifest.read_text("utf-8"))
    assert data["outputs"]["figures_disagree"] == []
    return {name: page["figures"] for name, page in data["pages"].items()}


def _assert_agree(pages: dict[str, dict[str, Any]]) -> None:
    assert set(PAGES) <= set(pages), pages.keys()
    for name in PAGES:
        assert pages[name].get("papers") is not None, f"{name} publishes no figures"
    assert check_figures(pages) == []
    papers = {pages[n]["papers"] for n in PAGES}
    assert len(papers) == 1
    for name in ("01_corpus_overview", "04_evidence_map"):
        assert "grey_literature" in pages[name]
    # the files beside the pages are figures too: the PRISMA diagram and the map file
    assert pages["prisma.svg"] and pages["evidence-map.html"]
    for name, value in pages["prisma.svg"].items():
        assert pages["05_prisma_and_methods"][name] == value, name
    for name, value in pages["evidence-map.html"].items():
        assert pages["04_evidence_map"][name] == value, name


@pytest.mark.notebook
@pytest.mark.slow
def test_figures_agree_across_the_bundled_review() -> None:
    report = bundled_report()
    pages = _figures(report.manifest)
    _assert_agree(pages)
    assert (
        pages["05_prisma_and_methods"]["prisma.included"] == pages["01_corpus_overview"]["papers"]
    )


def _run_cli(*args: str) -> Any:
    from typer.testing import CliRunner

    from synth.cli import app

    return CliRunner().invoke(app, ["review", "run", "--no-progress", *args])


@pytest.mark.peer
@pytest.mark.notebook
@pytest.mark.slow
def test_figures_agree_on_real_exports(
    peer_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``synth review run --corpus`` over real exports (copied here at test time)."""
    corpus = tmp_path / "exports"
    corpus.mkdir()
    for name in (
        "rispy/example_full_write.ris", "jabref/RisImporterTestScopus.ris",
        "bibtexparser-v1/multiple_entries.bib",
        "jabref/MedlinePlainImporterTestCompleteEntry.txt",
        "asreview-demo-data/_baseline.ris", "asreview-demo-data/embase.ris",
    ):  # fmt: skip
        shutil.copy(peer_data / "formats" / name, corpus / Path(name).name)
    monkeypatch.chdir(tmp_path)
    result = _run_cli("--corpus", str(corpus), *[a for n in PAGES for a in ("--notebook", n)])
    assert result.exit_code == 0, result.output
    _assert_agree(_figures(tmp_path / "data" / "reports" / "exports" / "manifest.json"))


@pytest.mark.notebook
@pytest.mark.slow
def test_figures_agree_on_a_synthetic_review_with_decisions_at_both_stages(
    tmp_path: Path,
) -> None:
    """10,000 synthetic records; two reviewers decide at title/abstract (some conflict),
    the includes go on to full text (some excluded, some conflicting)."""
    import yaml

    from synth.corpus.synthetic import generate_records
    from synth.corpus.writers.ris import write_ris
    from synth.report.run import run_review
    from synth.screening.decisions import record_decision
    from synth.store import connect, import_paths, load_records
    from synth.tagging.workflow import tag_store

    records, _ = generate_records(10_000, seed=15)
    corpus = tmp_path / "synthetic"
    corpus.mkdir()
    for database, part in records.groupby("database", dropna=False):
        write_ris(part.reset_index(drop=True), corpus / f"{str(database).lower()}.ris")
    review = yaml.safe_load((Path(__file__).parents[2] / "corpus/kei-2020/review.yml").read_text())
    review.pop("published_decisions", None)
    review.pop("reported_stages", None)  # this review reports both stages (the default)
    (corpus / "review.yml").write_text(yaml.safe_dump(review, sort_keys=False), "utf-8")
    db = tmp_path / "review.sqlite"
    con = connect(db)
    try:
        import_paths(con, [corpus])
        tag_store(con, review_path=corpus / "review.yml")
        _decide(con, load_records(con, with_groups=True), record_decision)
    finally:
        con.close()
    result = run_review(
        corpus=corpus, db=db, out=tmp_path / "report", notebooks=PAGES, workers=2,
        retag=False, progress=False,
    )  # fmt: skip
    pages = _figures(result.manifest)
    _assert_agree(pages)
    prisma = pages["05_prisma_and_methods"]
    assert prisma["prisma.conflicts_screening"] > 0 and prisma["prisma.conflicts_full_text"] > 0
    assert pages["01_corpus_overview"]["included"] == prisma["prisma.included"] > 0


def _decide(con: Any, records: pd.DataFrame, record: Any) -> None:
    """Title/abstract decisions on 300 kept records by two reviewers (every tenth in
    conflict), full-text decisions on the agreed includes (every fifth excluded, every
    seventh in conflict)."""
    kept = records[records["is_kept"].astype("boolean").fillna(True).astype(bool)]
    ids = kept["record_id"].astype(str).tolist()[:300]
    onward = []
    for i, rid in enumerate(ids):
        first = "include" if i % 3 else "exclude"
        second = ("exclude" if first == "include" else "include") if i % 10 == 0 else first
        record(con, record_id=rid, reviewer="ana", decision=first)
        record(con, record_id=rid, reviewer="ben", decision=second)
        if first == second == "include":
            onward.append(rid)
    for i, rid in enumerate(onward):
        first = "exclude" if i % 5 == 0 else "include"
        record(con, record_id=rid, reviewer="ana", decision=first, stage="full_text")
        second = ("exclude" if first == "include" else "include") if i % 7 == 3 else first
        record(con, record_id=rid, reviewer="ben", decision=second, stage="full_text")


def test_a_number_not_reported_stays_none_and_texts_are_not_figures() -> None:
    """A PRISMA box the review does not report is None in the record (never 0), and the
    identities skip it; the reasons' wording is not a figure."""
    from synth.report.figures import prisma_figures

    flow = {
        "identified": 68, "screened": None, "awaiting_screening": None,
        "excluded_full_text": {"years": 2}, "included": 64,
        "reason_texts": {"years": "Papers from 2008 - 2020"},
    }  # fmt: skip
    figures = prisma_figures(flow)
    assert figures == {
        "prisma.identified": 68, "prisma.screened": None, "prisma.awaiting_screening": None,
        "prisma.excluded_full_text.years": 2, "prisma.included": 64,
    }  # fmt: skip
    assert check_figures({"05": figures, "01": {"unique_records": 67, "included": 64}}) == []
    assert check_figures({"05": figures, "01": {"included": 63}}) == [
        "included 63 but prisma.included 64"
    ]
