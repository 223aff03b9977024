"""synth.tagging.describe: review figures regenerated from tags (hand-made tags, KEI gold)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from synth.tagging.describe import (
    REMAINDER,
    describe_corpus,
    format_description,
    load_figure_groups,
    unique_record_ids,
)

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus" / "kei-2020"
GOLD = Path(__file__).resolve().parents[1] / "fixtures" / "kei-gold" / "gold.csv"

# A made-up review (not KEI's figures): the stated numbers the description sets ours against.
REVIEW = {
    "stated_figures": {
        "papers_included": 5,
        "by_country": {"UK": 2, "USA and Canada": 2, "Australia": 0, "other countries": 1},
        "by_publication_type": {"grey literature": 1, "journal articles": 4},
        "by_approach": {"EBCD": 3, "Always Events": 1},
        "selection_stage": "full text reviewed",  # not a figure: ignored
    }
}


@pytest.fixture
def records() -> pd.DataFrame:
    # r5 is a duplicate of r4 (same group, not kept): it counts once, as r4
    return pd.DataFrame(
        {
            "record_id": ["r1", "r2", "r3", "r4", "r5", "r6"],
            "group_id": [None, None, None, "g1", "g1", None],
            "is_kept": pd.array([True, True, True, True, False, None], dtype="boolean"),
        }
    )


@pytest.fixture
def tags() -> pd.DataFrame:
    rows = [
        ("r1", "country", "United Kingdom", 0.9),
        ("r1", "approach", "ebcd", 0.9),
        ("r1", "publication", "journal", 1.0),
        ("r2", "country", "United States", 0.8),
        ("r2", "country", "Canada", 0.7),  # one record in "USA and Canada", not two
        ("r2", "approach", "ebcd", 0.4),  # below the threshold
        ("r2", "publication", "journal", 1.0),
        ("r3", "country", "Norway", 0.9),
        ("r3", "country", "unclear", 0.9),  # ignored, not an "other" country
        ("r3", "publication", "grey", 1.0),
        ("r4", "country", "United Kingdom", 0.9),
        ("r4", "publication", "journal", 1.0),
        ("r5", "approach", "always-events", 0.9),  # the duplicate's tags count for r4
        ("r5", "country", "France", 0.9),
        ("r6", "publication", "journal", 1.0),
    ]
    return pd.DataFrame(rows, columns=["record_id", "facet", "label", "score"])


def _cell(df: pd.DataFrame, figure: str, category: str, column: str):  # type: ignore[no-untyped-def]
    row = df[(df["figure"] == figure) & (df["category"] == category)]
    assert len(row) == 1, (figure, category)
    return row.iloc[0][column]


def test_counts_by_category(records: pd.DataFrame, tags: pd.DataFrame) -> None:
    df = describe_corpus(records, tags, REVIEW)
    assert list(df.columns) == ["figure", "category", "stated", "ours", "difference"]
    assert _cell(df, "papers_included", "papers included", "ours") == 5  # r5 folded into r4
    assert _cell(df, "by_country", "UK", "ours") == 2  # r1, r4
    assert _cell(df, "by_country", "USA and Canada", "ours") == 1
    assert _cell(df, "by_country", "Australia", "ours") == 0
    assert _cell(df, "by_country", "other countries", "ours") == 2  # r3 Norway, r4 (r5) France
    assert _cell(df, "by_country", REMAINDER, "ours") == 1  # r6 has no country
    assert _cell(df, "by_publication_type", "journal articles", "ours") == 4
    assert _cell(df, "by_publication_type", "grey literature", "ours") == 1
    assert _cell(df, "by_approach", "EBCD", "ours") == 1  # r2's ebcd is under 0.5
    assert _cell(df, "by_approach", "Always Events", "ours") == 1


def test_stated_come_from_the_review_and_difference_is_ours_minus_stated(
    records: pd.DataFrame, tags: pd.DataFrame
) -> None:
    df = describe_corpus(records, tags, REVIEW)
    assert _cell(df, "by_country", "USA and Canada", "stated") == 2
    assert _cell(df, "by_country", "USA and Canada", "difference") == -1
    assert _cell(df, "by_approach", "EBCD", "difference") == -2
    assert _cell(df, "papers_included", "papers included", "difference") == 0
    # the remainder the review implies: 5 papers - (3 + 1) approach papers
    assert _cell(df, "by_approach", REMAINDER, "stated") == 1
    # figures the review does not state: stated and difference are empty
    assert pd.isna(_cell(df, "by_service_setting", "acute care", "stated"))
    assert pd.isna(_cell(df, "by_service_setting", "acute care", "difference"))
    assert _cell(df, "by_service_setting", REMAINDER, "ours") == 5


def test_a_lower_threshold_counts_weaker_tags(records: pd.DataFrame, tags: pd.DataFrame) -> None:
    df = describe_corpus(records, tags, REVIEW, threshold=0.3)
    assert _cell(df, "by_approach", "EBCD", "ours") == 2


def test_without_duplicate_columns_every_record_counts(tags: pd.DataFrame) -> None:
    records = pd.DataFrame({"record_id": ["r1", "r2", "r3", "r4", "r5", "r6"]})
    df = describe_corpus(records, tags, REVIEW)
    assert _cell(df, "papers_included", "papers included", "ours") == 6
    assert _cell(df, "by_country", "other countries", "ours") == 2  # r3, r5


def test_unique_record_ids(records: pd.DataFrame) -> None:
    mapping = unique_record_ids(records)
    assert mapping.to_dict() == {
        "r1": "r1",
        "r2": "r2",
        "r3": "r3",
        "r4": "r4",
        "r5": "r4",
        "r6": "r6",
    }


def test_stated_category_without_grouping_is_shown(
    records: pd.DataFrame, tags: pd.DataFrame
) -> None:
    review = {"stated_figures": {"by_approach": {"EBCD": 3, "Lean": 2}}}
    df = describe_corpus(records, tags, review)
    assert _cell(df, "by_approach", "Lean", "stated") == 2
    assert pd.isna(_cell(df, "by_approach", "Lean", "ours"))


def test_format_description(records: pd.DataFrame, tags: pd.DataFrame) -> None:
    text = format_description(describe_corpus(records, tags, REVIEW))
    blocks = text.strip().split("\n\n")
    assert blocks[0].splitlines()[0] == "papers_included"
    country = next(b for b in blocks if b.startswith("by_country"))
    lines = country.splitlines()
    assert lines[1].split() == ["category", "stated", "ours", "difference"]
    assert "USA and Canada" in country and "-1" in country
    setting = next(b for b in blocks if b.startswith("by_service_setting"))
    assert " - " in setting  # no stated figure


def test_kei_groups_cover_exactly_the_review_categories() -> None:
    review = yaml.safe_load((CORPUS / "review.yml").read_text(encoding="utf-8"))
    stated = review["stated_figures"]
    groups = load_figure_groups()
    assert groups["total"]["figure"] in stated
    for fig in groups["figures"]:
        assert fig["figure"] in stated, fig["figure"]
        assert [c["category"] for c in fig["categories"]] == list(stated[fig["figure"]])


def test_bad_groups_file_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "groups.yml"
    path.write_text(
        "figures:\n  - figure: by_x\n    facet: x\n    categories:\n      - category: A\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"groups\.yml: figure 'by_x'"):
        load_figure_groups(path)


# -- the KEI corpus -------------------------------------------------------------------------


def _kei():  # type: ignore[no-untyped-def]
    from synth.corpus import read
    from synth.tagging.evaluate import gold_record_ids, load_gold

    corpus = read([CORPUS / "references.bib", CORPUS / "extracts", CORPUS / "fulltexts"])
    review = yaml.safe_load((CORPUS / "review.yml").read_text(encoding="utf-8"))
    return corpus, review, load_gold(GOLD), gold_record_ids


def test_kei_gold_description_matches_independent_counts() -> None:
    corpus, review, gold, gold_record_ids = _kei()
    # the reference spencer2013 and its full text are one paper: group them as the store would
    records = corpus.records.copy()
    first = ~records.duplicated("source_key")
    records["group_id"] = records["source_key"]
    records["is_kept"] = pd.array(first.tolist(), dtype="boolean")
    mapped, _ = gold_record_ids(gold, records)
    df = describe_corpus(records, mapped, review)
    assert _cell(df, "papers_included", "papers included", "ours") == gold["key"].nunique() == 67
    keys_with = lambda facet, labels: gold[  # noqa: E731
        (gold["facet"] == facet) & gold["label"].isin(labels)
    ]["key"].nunique()
    assert _cell(df, "by_country", "UK", "ours") == keys_with("country", ["United Kingdom"])
    assert _cell(df, "by_publication_type", "grey literature", "ours") == keys_with(
        "publication", ["grey"]
    )
    assert _cell(df, "by_approach", "Always Events", "ours") == keys_with(
        "approach", ["always-events"]
    )
    assert _cell(df, "by_service_setting", "acute care", "ours") == keys_with(
        "setting", ["acute-care"]
    )
    assert (
        _cell(df, "by_approach", "EBCD", "stated")
        == review["stated_figures"]["by_approach"]["EBCD"]
    )


def test_tagger_on_kei_corpus_describe() -> None:
    tagger = pytest.importorskip(
        "synth.tagging.tagger", reason="synth.tagging.tagger is not importable yet"
    )
    corpus, review, _, _ = _kei()
    tags = tagger.tag(corpus.records, extracts=corpus.extracts, fulltexts=corpus.fulltexts)
    df = describe_corpus(corpus.records, tags, review)
    assert _cell(df, "papers_included", "papers included", "ours") == len(corpus.records)
    assert (df["ours"].dropna() >= 0).all()
    assert "by_country" in format_description(df)
