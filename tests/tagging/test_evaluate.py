"""synth.tagging.evaluate: scores worked out by hand on tiny tag/gold frames, then the real gold."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from synth.tagging.evaluate import EvaluationResult, evaluate, gold_record_ids, load_gold

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus" / "kei-2020"
GOLD = Path(__file__).resolve().parents[1] / "fixtures" / "kei-gold" / "gold.csv"


def _tags(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    """Tag rows in the tag() contract shape (evidence/source/version filled in)."""
    return pd.DataFrame(
        [
            {
                "record_id": r,
                "facet": f,
                "label": lab,
                "score": s,
                "evidence": [
                    {
                        "field": "title",
                        "sentence": "",
                        "match": "",
                        "cue": "",
                        "negated": False,
                        "weight": 3.0,
                    }
                ],
                "source": "rule",
                "version": "rules:test:000000000000",
            }
            for r, f, lab, s in rows
        ]
    )


def _gold(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["record_id", "facet", "label"])


@pytest.fixture
def approach() -> EvaluationResult:
    # r1: gold {ebcd}            predicted {ebcd}
    # r2: gold {co-design, ppi}  predicted {co-design, co-production}
    # r3: gold {ppi}             predicted {ebcd}   (ppi at 0.3 is under the threshold)
    gold = _gold(
        [
            ("r1", "approach", "ebcd"),
            ("r2", "approach", "co-design"),
            ("r2", "approach", "ppi"),
            ("r3", "approach", "ppi"),
        ]
    )
    tags = _tags(
        [
            ("r1", "approach", "ebcd", 0.9),
            ("r2", "approach", "co-design", 0.8),
            ("r2", "approach", "co-production", 0.7),
            ("r3", "approach", "ppi", 0.3),
            ("r3", "approach", "ebcd", 0.6),
            ("r9", "approach", "ebcd", 0.9),  # a record with no gold is not scored
        ]
    )
    return evaluate(tags, gold)


def test_per_label_counts_and_scores_by_hand(approach: EvaluationResult) -> None:
    table = approach.per_label.set_index("label")
    assert list(table.index) == ["co-design", "co-production", "ebcd", "ppi"]
    assert table.loc["ebcd", ["support", "predicted", "tp", "fp", "fn"]].tolist() == [1, 2, 1, 1, 0]
    assert table.loc["ebcd", "precision"] == pytest.approx(0.5)
    assert table.loc["ebcd", "recall"] == pytest.approx(1.0)
    assert table.loc["ebcd", "f1"] == pytest.approx(2 / 3)
    assert table.loc["co-design", ["precision", "recall", "f1"]].tolist() == [1.0, 1.0, 1.0]
    # ppi: two gold records, never predicted (0.3 < 0.5)
    assert table.loc["ppi", ["support", "predicted", "tp", "fn"]].tolist() == [2, 0, 0, 2]
    assert table.loc["ppi", ["precision", "recall", "f1"]].tolist() == [0.0, 0.0, 0.0]
    # co-production: predicted once where the gold does not have it
    assert table.loc["co-production", ["support", "fp"]].tolist() == [0, 1]


def test_micro_and_macro_averages_by_hand(approach: EvaluationResult) -> None:
    avg = approach.averages.set_index(["facet", "average"])
    # micro: tp 2, fp 2, fn 2
    assert avg.loc[("approach", "micro"), "precision"] == pytest.approx(0.5)
    assert avg.loc[("approach", "micro"), "recall"] == pytest.approx(0.5)
    assert avg.loc[("approach", "micro"), "f1"] == pytest.approx(0.5)
    # macro over the four labels
    assert avg.loc[("approach", "macro"), "precision"] == pytest.approx((0.5 + 1 + 0 + 0) / 4)
    assert avg.loc[("approach", "macro"), "recall"] == pytest.approx((1 + 1 + 0 + 0) / 4)
    assert avg.loc[("approach", "macro"), "f1"] == pytest.approx((2 / 3 + 1) / 4)
    assert avg.loc[("approach", "micro"), "support"] == 4
    assert ("all", "micro") in avg.index


def test_scores_agree_with_scikit_learn(approach: EvaluationResult) -> None:
    from sklearn.metrics import precision_recall_fscore_support
    from sklearn.preprocessing import MultiLabelBinarizer

    labels = ["co-design", "co-production", "ebcd", "ppi"]
    gold = [{"ebcd"}, {"co-design", "ppi"}, {"ppi"}]
    pred = [{"ebcd"}, {"co-design", "co-production"}, {"ebcd"}]
    mlb = MultiLabelBinarizer(classes=labels)
    y_true, y_pred = mlb.fit_transform(gold), mlb.transform(pred)
    for average in ("micro", "macro"):
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_pred, average=average, zero_division=0
        )
        row = approach.averages.set_index(["facet", "average"]).loc[("approach", average)]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((p, r, f))


def test_confusion_table(approach: EvaluationResult) -> None:
    table = approach.confusion["approach"]
    # r1 (ebcd, ebcd); r2 shares co-design, then ppi vs co-production; r3 ppi vs ebcd
    assert table.loc["ebcd", "ebcd"] == 1
    assert table.loc["co-design", "co-design"] == 1
    assert table.loc["ppi", "co-production"] == 1
    assert table.loc["ppi", "ebcd"] == 1
    assert int(table.to_numpy().sum()) == 4


def test_unclear_gold_is_left_out_and_counted() -> None:
    gold = _gold(
        [
            ("r1", "setting", "acute-care"),
            ("r2", "setting", "unclear"),
            ("r3", "setting", "mental-health"),
        ]
    )
    tags = _tags(
        [
            ("r1", "setting", "acute-care", 0.9),
            ("r2", "setting", "mental-health", 0.9),  # not scored: gold is unclear
        ]
    )
    result = evaluate(tags, gold)
    cover = result.coverage.set_index("facet").loc["setting"]
    assert (cover["gold_records"], cover["scored"], cover["unclear"]) == (3, 2, 1)
    table = result.per_label.set_index("label")
    assert table.loc["mental-health", ["support", "predicted", "tp", "fp", "fn"]].tolist() == [
        1,
        0,
        0,
        0,
        1,
    ]
    assert table.loc["acute-care", "f1"] == 1.0
    # r3 got no label: gold mental-health against "none"
    confusion = result.confusion["setting"]
    assert confusion.loc["mental-health", "none"] == 1
    assert "unclear" not in confusion.index


def test_not_applicable_is_right_when_nothing_or_not_applicable_is_predicted() -> None:
    gold = _gold(
        [
            ("r1", "setting", "not-applicable"),
            ("r2", "setting", "not-applicable"),
            ("r3", "setting", "not-applicable"),
        ]
    )
    tags = _tags(
        [
            ("r2", "setting", "not-applicable", 0.8),
            ("r3", "setting", "acute-care", 0.8),
        ]
    )
    result = evaluate(tags, gold)
    table = result.per_label.set_index("label")
    # r1 (no label) and r2 (not-applicable) are right; r3 is a miss plus a false acute-care
    assert table.loc["not-applicable", ["tp", "fn", "fp"]].tolist() == [2, 1, 0]
    assert table.loc["acute-care", ["tp", "fp"]].tolist() == [0, 1]
    confusion = result.confusion["setting"]
    assert confusion.loc["not-applicable", "none"] == 1  # shown as the tagger left it
    assert confusion.loc["not-applicable", "not-applicable"] == 1
    assert confusion.loc["not-applicable", "acute-care"] == 1


def test_gold_keys_map_to_every_record_with_that_source_key() -> None:
    records = pd.DataFrame(
        {
            "record_id": ["ra", "rb", "rc"],
            "source_key": ["smith2019", "guide2013", "guide2013"],  # reference + its full text
        }
    )
    gold = pd.DataFrame(
        {
            "key": ["smith2019", "guide2013", "missing2000"],
            "title": ["A", "B", "C"],
            "facet": ["publication"] * 3,
            "label": ["journal", "grey", "grey"],
            "note": ["", "", ""],
        }
    )
    mapped, unmatched = gold_record_ids(gold, records)
    assert sorted(mapped["record_id"]) == ["ra", "rb", "rc"]
    assert unmatched == ["missing2000"]
    tags = _tags([("ra", "publication", "journal", 1.0), ("rb", "publication", "grey", 1.0)])
    result = evaluate(tags, gold, records=records)
    table = result.per_label.set_index("label")
    assert table.loc["grey", ["support", "tp", "fn"]].tolist() == [2, 1, 1]
    assert result.unmatched_keys == ["missing2000"]
    with pytest.raises(ValueError, match="records="):
        evaluate(tags, gold)


def test_facets_filter_and_label_map() -> None:
    gold = _gold([("r1", "country", "uk"), ("r1", "setting", "acute-care")])
    tags = _tags([("r1", "country", "wales", 0.9), ("r1", "setting", "acute-care", 0.9)])
    plain = evaluate(tags, gold, facets=["country"])
    assert set(plain.per_label["facet"]) == {"country"}
    assert plain.per_label.set_index("label").loc["uk", "tp"] == 0
    folded = evaluate(tags, gold, facets=["country"], label_map={"country": {"wales": "uk"}})
    assert folded.per_label.set_index("label").loc["uk", "tp"] == 1


def test_tags_without_score_all_count() -> None:
    gold = _gold([("r1", "design", "review")])
    tags = pd.DataFrame({"record_id": ["r1"], "facet": ["design"], "label": ["review"]})
    assert evaluate(tags, gold).per_label.loc[0, "f1"] == 1.0


def test_to_text_is_an_aligned_plain_table(approach: EvaluationResult) -> None:
    text = approach.to_text()
    assert text.startswith("Evaluation against gold labels (tags with score >= 0.5)")
    lines = text.splitlines()
    header = next(line for line in lines if line.lstrip().startswith("facet") and "tp" in line)
    ebcd = next(line for line in lines if " ebcd " in line and "approach" in line)
    assert len(header) == len(ebcd)  # columns line up
    assert "0.667" in ebcd
    assert "Confusion: approach (rows gold, columns predicted)" in text


def test_load_gold_reads_text_and_keeps_blank_notes(tmp_path: Path) -> None:
    path = tmp_path / "gold.csv"
    path.write_text(
        "key,title,facet,label,note\n"
        'a2019,"Title, with comma",setting, acute-care ,\n'
        'a2019,"Title, with comma",publication,journal,venue is a journal\n',
        encoding="utf-8",
    )
    gold = load_gold(path)
    assert gold["label"].tolist() == ["acute-care", "journal"]
    assert gold["note"].tolist() == ["", "venue is a journal"]
    (tmp_path / "bad.csv").write_text("key,facet\nx,setting\n", encoding="utf-8")
    with pytest.raises(ValueError, match="label"):
        load_gold(tmp_path / "bad.csv")


# -- the KEI gold standard, end to end -----------------------------------------------------


def _kei_corpus():  # type: ignore[no-untyped-def]
    from synth.corpus import read

    # the corpus files themselves (not the folder: gold/ is not part of the corpus)
    return read([CORPUS / "references.bib", CORPUS / "extracts", CORPUS / "fulltexts"])


def test_gold_against_itself_scores_perfectly() -> None:
    corpus = _kei_corpus()
    gold = load_gold(GOLD)
    mapped, unmatched = gold_record_ids(gold, corpus.records)
    assert unmatched == []
    result = evaluate(mapped, gold, records=corpus.records)
    assert (result.per_label["f1"] == 1.0).all()
    cover = result.coverage.set_index("facet")
    assert cover.loc["publication", "scored"] == len(corpus.records) == 68
    expected_unclear = mapped[mapped["label"] == "unclear"].groupby("facet")["record_id"].nunique()
    for facet, n in expected_unclear.items():
        assert cover.loc[facet, "unclear"] == n


def test_tagger_on_kei_corpus_against_gold() -> None:
    tagger = pytest.importorskip(
        "synth.tagging.tagger", reason="synth.tagging.tagger is not importable yet"
    )
    corpus = _kei_corpus()
    tags = tagger.tag(corpus.records, extracts=corpus.extracts, fulltexts=corpus.fulltexts)
    result = evaluate(tags, load_gold(GOLD), records=corpus.records)
    assert set(result.coverage["facet"]) == {
        "setting",
        "approach",
        "design",
        "country",
        "publication",
    }
    for col in ("precision", "recall", "f1"):
        assert result.per_label[col].between(0, 1).all()
    assert "Per label" in result.to_text()
