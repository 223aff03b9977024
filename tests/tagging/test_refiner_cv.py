"""The refiner's cross-validation: seeded folds, held-out predictions only, and the
decision which facets are refined read from data (synth/data/refine.yml)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
import yaml

from synth.tagging.codebook import load_codebook
from synth.tagging.refine import REFINE_FACETS, RefineParams, load_refine_facets
from synth.tagging.refiner_cv import (
    assign_folds,
    cross_validate,
    decision,
    helps,
    to_text,
    train_test,
    training_verdicts,
)

TAG_COLUMNS = ["record_id", "facet", "label", "score", "evidence", "source", "version"]


def _corpus(n: int = 20) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Records, rule rows and gold: even records are on an acute ward (the rules see half
    of them), odd ones in general practice; r3 alone is in a care home (social-care)."""
    titles, gold, rules = [], [], []
    for i in range(n):
        rid = f"r{i}"
        if i % 2 == 0:
            titles.append(f"patients on the acute ward study {i}")
            gold.append((rid, "setting", "acute-care"))
            if i % 4 == 0:
                rules.append((rid, "setting", "acute-care", 0.9, [], "rule", "rules:x"))
        elif i == 3:
            titles.append("residents of zyxcare homes zyxcare zyxcare")
            gold.append((rid, "setting", "social-care"))
        else:
            titles.append(f"general practice clinic patients {i}")
            gold.append((rid, "setting", "primary-care"))
    records = pd.DataFrame({"record_id": [f"r{i}" for i in range(n)], "title": titles})
    return (
        records,
        pd.DataFrame(rules, columns=TAG_COLUMNS),
        pd.DataFrame(gold, columns=["record_id", "facet", "label"]),
    )


def test_folds_are_seeded_deterministic_and_cover_every_group_once() -> None:
    groups = [f"p{i}" for i in range(23)]
    folds = assign_folds(groups, 5, seed=0)
    assert folds == assign_folds(list(reversed(groups)), 5, seed=0)  # order does not matter
    assert folds != assign_folds(groups, 5, seed=1)
    assert set(folds) == set(groups) and set(folds.values()) == set(range(5))
    sizes = pd.Series(folds).value_counts()
    assert sizes.max() - sizes.min() <= 1
    with pytest.raises(ValueError, match="2 <= k"):
        assign_folds(groups[:3], 5)


def test_gold_becomes_set_and_reject_verdicts_and_unclear_teaches_nothing() -> None:
    cb = load_codebook()
    gold = pd.DataFrame(
        [("a", "setting", "acute-care"), ("b", "setting", "unclear"), ("c", "country", "GB")],
        columns=["record_id", "facet", "label"],
    )
    uk = next(lab for lab in cb.facets["country"].labels if lab.lower() in {"uk", "united kingdom"})
    v = training_verdicts(gold, cb, ["setting", "country"], {"country": {uk: "GB"}})
    a = v[v.record_id == "a"].set_index("label")["verdict"]
    assert a["acute-care"] == "set" and (a.drop("acute-care") == "reject").all()
    assert len(a) == len(cb.facets["setting"].labels)
    assert "b" not in set(v.record_id)  # the reviewer could not tell: no verdict
    c = v[v.record_id == "c"].set_index("label")["verdict"]
    assert c[uk] == "set" and (c.drop(uk) == "reject").all()  # through the label map


def test_every_prediction_is_held_out_a_label_only_one_record_has_is_never_predicted_for_it() -> (
    None
):
    records, rules, gold = _corpus()
    cb = load_codebook()
    params = RefineParams(min_examples=1)  # one example would be enough to fit a label
    cv = cross_validate(records, rules, gold, cb, ["setting"], k=4, seed=0, params=params)
    model = cv.model
    # r3's own label (social-care, no other record has it) never reached the model that
    # predicted r3, so that model could not give it; a label many records share can be
    # learnt from the other folds and is given to held-out records the rules missed
    assert model[(model.record_id == "r3") & (model.label == "social-care")].empty
    learnt = model[(model.label == "acute-care") & (model.score >= 0.5)]
    missed_by_rules = {f"r{i}" for i in range(2, 20, 4)}
    assert missed_by_rules & set(learnt.record_id)
    assert set(cv.folds) == set(gold.record_id)
    again = cross_validate(records, rules, gold, cb, ["setting"], k=4, seed=0, params=params)
    pd.testing.assert_frame_equal(cv.table, again.table)
    assert cv.folds == again.folds


def test_records_of_one_paper_share_a_fold() -> None:
    records, rules, gold = _corpus()
    groups = {f"r{i}": f"paper{i // 2}" for i in range(20)}  # r0+r1, r2+r3, ...
    cv = cross_validate(records, rules, gold, load_codebook(), ["setting"], groups=groups, k=5)
    for i in range(0, 20, 2):
        assert cv.folds[f"r{i}"] == cv.folds[f"r{i + 1}"]


def test_the_scores_compare_rules_alone_with_the_best_view() -> None:
    records, rules, gold = _corpus()
    cv = cross_validate(records, rules, gold, load_codebook(), ["setting"], k=4)
    row = cv.table.set_index("facet").loc["setting"]
    assert row["records"] == 20
    # the rules find half the acute-care records; the refiner, trained on the other folds'
    # gold, finds more of them on the held-out ones: micro-F1 rises
    assert row["refined_micro_f1"] > row["rules_micro_f1"]
    assert bool(row["helps"])
    assert set(cv.refined["source"]) <= {"rule", "model"}


def test_trained_on_one_set_and_scored_on_another_only_the_other_counts() -> None:
    """The refiner fitted on the first records' gold alone predicts the last ones': the
    acute-care records the rules missed among them are found; a label only a test record
    has (r3's social care, moved to the test side) is never learnt; scores count the test
    records only."""
    records, rules, gold = _corpus()
    train = gold[gold.record_id.isin([f"r{i}" for i in range(4, 20)])]
    test = gold[gold.record_id.isin(["r0", "r1", "r2", "r3"])]
    params = RefineParams(min_examples=1)
    got = train_test(records, rules, train, test, load_codebook(), ["setting"], params=params,
                     name="unread")  # fmt: skip
    assert set(got.model.record_id) <= {"r0", "r1", "r2", "r3"}
    assert got.model[got.model.label == "social-care"].empty
    learnt = got.model[(got.model.label == "acute-care") & (got.model.score >= 0.5)]
    assert "r2" in set(learnt.record_id)  # an acute-care record the rules missed
    row = got.table.set_index("facet").loc["setting"]
    assert row["records"] == 4 and row["gold"] == "unread"
    assert row["refined_micro_f1"] > row["rules_micro_f1"]
    assert got.held_out and "unread: trained on 16 other records" in to_text([got])
    # a held-out set reports; it never votes for refining a facet
    assert to_text([got]).rstrip().splitlines()[-2].endswith("not counted): ")
    with pytest.raises(ValueError, match="share no record"):
        train_test(records, rules, gold, test, load_codebook(), ["setting"])


def test_real_gold_sets_sharing_a_record_are_refused() -> None:
    """Trained and tested on sets that share a record (dataset and key), the test would
    score labels the refiner was taught: an error, before any fitting."""
    from synth.tagging.abstract_gold import TaggedGold
    from synth.tagging.refiner_cv import train_test_real

    def one(keys: list[str]) -> TaggedGold:
        records = pd.DataFrame({"record_id": keys, "dataset": "d.csv", "key": keys, "title": keys})
        gold = pd.DataFrame({"gold_id": keys, "facet": "design", "label": "review"})
        return TaggedGold(gold, records, pd.DataFrame({"record_id": []}))

    with pytest.raises(ValueError, match=r"1 record\(s\) are in both .*d\.csv key 2"):
        train_test_real(one(["1", "2"]), one(["2", "3"]))


def test_a_facet_is_refined_only_where_it_helped_and_hurt_nowhere() -> None:
    def table(facet: str, rules: float, refined: float) -> pd.DataFrame:
        return pd.DataFrame(
            [{"facet": facet, "rules_macro_f1": rules, "refined_macro_f1": refined,
              "rules_micro_f1": rules, "refined_micro_f1": refined}]
        )  # fmt: skip

    got = decision(
        [
            pd.concat([table("setting", 0.5, 0.6), table("design", 0.5, 0.5)]),
            pd.concat([table("setting", 0.9, 0.9), table("design", 0.8, 0.8)]),
            table("approach", 0.7, 0.6),
        ]
    )
    assert got == {"setting": True, "design": False, "approach": False}


def test_one_rule_says_whether_the_refiner_helps_a_row_and_a_facet() -> None:
    """A gain on one F1 and no loss on the other helps; no change, or a gain bought with a
    loss, does not; float noise is no change. The per-row ``helps`` column and the per-facet
    decision both apply it."""
    assert helps([0.1, 0.0]) and helps([0.1, -1e-12])
    assert not helps([0.0, 0.0]) and not helps([1e-12, 0.0]) and not helps([0.2, -0.01])
    assert helps([float("nan"), 0.1]) and not helps([float("nan")])
    table = pd.DataFrame(
        [{"gold": "g", "facet": "setting", "records": 20, "rules_macro_f1": 0.5,
          "refined_macro_f1": 0.5, "rules_micro_f1": 0.5, "refined_micro_f1": 0.5 + 1e-12,
          "helps": False}]
    )  # fmt: skip
    assert decision([table]) == {"setting": False}


def test_the_refined_facets_are_read_from_the_data_file(tmp_path: Path) -> None:
    shipped = resources.files("synth.data").joinpath("refine.yml").read_text("utf-8")
    table = yaml.safe_load(shipped)["refine"]
    assert tuple(f for f, on in table.items() if on) == REFINE_FACETS
    assert "country" in table and not table["country"]  # named, and decided, not forgotten
    mine = tmp_path / "refine.yml"
    mine.write_text("refine:\n  setting: false\n  design: true\n", encoding="utf-8")
    assert load_refine_facets(mine) == ("design",)
    mine.write_text("refine:\n  setting: maybe\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"refine\.yml: refine\.setting: 'maybe' is not true"):
        load_refine_facets(mine)
    mine.write_text("facets: [setting]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs a 'refine:' mapping"):
        load_refine_facets(mine)
