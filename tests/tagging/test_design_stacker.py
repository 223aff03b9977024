"""The design stacker (synth.tagging.design_stacker) and its cross-validation script."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from synth.tagging.abstract_gold import TaggedGold
from synth.tagging.design_stacker import (
    RULE_FALLBACK,
    SOURCE,
    DesignStacker,
    parse_feature_lists,
    stacked_design_rows,
    stacker_input,
    stratified_folds,
    text_features,
)

LABELS = ["quantitative", "review", "position-paper"]

TRIAL_TITLE = "Nurse-led follow-up after discharge: a randomised controlled trial"
TRIAL = (
    "BACKGROUND: Readmissions are costly. METHODS: We randomised 412 patients to nurse-led "
    "follow-up or usual care. RESULTS: Readmission was 12.5% in the intervention group and "
    "19.8% in the control group (p = 0.03; 95% CI 0.41 to 0.93). Patients were satisfied. "
    "CONCLUSIONS: Nurse-led follow-up reduced readmissions."
)
REVIEW_TITLE = "Second-generation antihistamines: an update"
REVIEW = (
    "Antihistamines are widely used for allergic rhinitis. The newer agents are less "
    "sedating and have fewer anticholinergic effects. Their cardiac safety remains a concern "
    "for some compounds. This review summarizes current knowledge and discusses which agents "
    "are suitable for which patients."
)
CASE = (
    "We describe a case of a 45-year-old man who presented with chest pain. He was treated "
    "with thrombolysis and recovered."
)
QUAL = (
    "We conducted semi-structured interviews and two focus groups with nurses. Thematic "
    "analysis identified three themes."
)
ARGUE = (
    "We argue that guidelines should be written for patients. Clinicians must take part, and "
    "we propose a new approach."
)


def test_features_of_a_trial_abstract() -> None:
    f = text_features(TRIAL_TITLE, TRIAL)
    assert f["heading:methods"] == f["heading:results"] == f["heading:background"] == 1.0
    assert f["heading:design"] == 0.0
    assert f["pattern:percentage"] == pytest.approx(np.log1p(3))  # 12.5%, 19.8%, 95% CI
    assert f["pattern:p_value"] == pytest.approx(np.log1p(1))
    assert f["pattern:confidence_interval"] == pytest.approx(np.log1p(1))
    assert f["pattern:sample_size"] == pytest.approx(np.log1p(1))  # 412 patients
    assert f["past_share"] > f["present_share"]
    assert f["we_share"] > 0
    assert f["title:colon"] == 1.0 and f["title:question"] == 0.0
    assert f["title:review_word"] == 0.0 and f["title:study_word"] == 1.0


def test_features_of_a_narrative_review() -> None:
    f = text_features(REVIEW_TITLE, REVIEW)
    assert f["figures"] == 0.0 and f["pattern:percentage"] == 0.0
    assert f["present_share"] == 1.0 and f["past_share"] == 0.0
    assert f["we_share"] == 0.0
    assert f["headings"] == 0.0
    assert f["title:review_word"] == 1.0  # "update"
    assert f["words:review"] > 0  # "this review", "summarizes", "current knowledge"


def test_features_of_case_qualitative_and_arguing_sentences() -> None:
    case, qual, argue = text_features("", CASE), text_features("", QUAL), text_features("", ARGUE)
    assert case["pattern:aged_case"] > 0 and case["words:single_case"] > 0
    assert text_features("", REVIEW)["pattern:aged_case"] == 0.0
    assert qual["words:qualitative"] >= np.log1p(4)  # interviews, focus groups, thematic, themes
    assert case["words:qualitative"] == 0.0
    assert argue["words:arguing"] >= np.log1p(4)  # we argue, should, must, we propose
    assert text_features("", TRIAL)["words:arguing"] == 0.0
    assert text_features("Why do trials fail?", "")["title:question"] == 1.0
    assert text_features("", "")["has_abstract"] == 0.0


def test_word_lists_are_data() -> None:
    doc = {
        "tense": {"past": ["was"], "present": ["is"]},
        "first_plural": ["we"],
        "headings": ["methods"],
        "phrases": {"arguing": ["zorblat"]},
        "patterns": {"percentage": r"\d+%"},
        "title_patterns": {"colon": ":"},
    }
    lists = parse_feature_lists(doc)
    f = text_features("A title", "The zorblat was high. It is 5% now.", lists)
    assert f["words:arguing"] == pytest.approx(np.log1p(1))
    assert f["past_share"] == f["present_share"] == 0.5
    assert "words:guidance" not in f


def _tags(rows: list[tuple[str, str, float]], fallback: str | None = None) -> pd.DataFrame:
    out = pd.DataFrame(
        [
            {
                "record_id": r,
                "facet": "design",
                "label": lab,
                "score": s,
                "evidence": [],
                "source": "rule",
            }
            for r, lab, s in rows
        ]
    )
    if fallback is not None:
        out.loc[out["record_id"] == fallback, "evidence"] = pd.Series(
            [[{"cue": "fallback", "sentence": "no design named"}]],
            index=out.index[out["record_id"] == fallback],
        )
    return out


def test_stacker_input_reads_the_rules_design_rows() -> None:
    records = pd.DataFrame(
        {"record_id": ["a", "b", "c"], "title": ["T", None, "T"], "abstract": [TRIAL, REVIEW, ""]}
    )
    tags = pd.concat(
        [
            _tags([("a", "quantitative", 0.9), ("b", "position-paper", 0.5)], fallback="b"),
            pd.DataFrame(
                [
                    {
                        "record_id": "a",
                        "facet": "setting",
                        "label": "acute-care",
                        "score": 0.9,
                        "evidence": [],
                        "source": "rule",
                    }
                ]
            ),
        ],
        ignore_index=True,
    )
    X = stacker_input(records, tags, labels=LABELS)
    assert X["rule:quantitative"].tolist() == [0.9, 0.0, 0.0]
    assert X["rule:position-paper"].tolist() == [0.0, 0.5, 0.0]
    assert X["rule:review"].tolist() == [0.0, 0.0, 0.0]
    assert X[RULE_FALLBACK].tolist() == [0.0, 1.0, 0.0]
    assert X["title"].tolist() == ["T", "", "T"]


def _training(n: int = 60, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Records of three kinds, each written the way its design is, with rules that are
    right two times in three."""
    rng = np.random.default_rng(seed)
    texts = {"quantitative": (TRIAL_TITLE, TRIAL), "review": (REVIEW_TITLE, REVIEW),
             "position-paper": ("The case for change", ARGUE)}  # fmt: skip
    rows, tags, y = [], [], []
    for i in range(n):
        label = LABELS[i % 3]
        title, abstract = texts[label]
        rows.append({"record_id": f"r{i}", "title": title, "abstract": abstract})
        said = label if rng.random() < 0.67 else LABELS[(i + 1) % 3]
        tags.append((f"r{i}", said, float(rng.uniform(0.5, 1.0))))
        y.append(label)
    return stacker_input(pd.DataFrame(rows), _tags(tags), labels=LABELS), np.array(y)


def test_fit_predict_contract() -> None:
    X, y = _training()
    stacker = DesignStacker()
    with pytest.raises(NotFittedError):
        stacker.predict(X)
    assert stacker.fit(X, y) is stacker
    assert sorted(stacker.classes_) == sorted(LABELS)
    proba = stacker.predict_proba(X)
    assert proba.shape == (len(X), 3)
    assert np.allclose(proba.sum(axis=1), 1.0)
    predicted = stacker.predict(X)
    assert set(predicted) <= set(LABELS)
    # the writing tells the designs apart where the rules are wrong a third of the time
    assert (predicted == y).mean() == 1.0
    with pytest.raises(ValueError, match="two design labels"):
        DesignStacker().fit(X, ["review"] * len(X))
    with pytest.raises(ValueError, match="rows"):
        DesignStacker().fit(X, y[:-1])


def test_fit_is_deterministic_with_a_seed() -> None:
    X, y = _training()
    a = DesignStacker(random_state=3).fit(X, y).predict_proba(X)
    b = DesignStacker(random_state=3).fit(X, y).predict_proba(X)
    assert np.array_equal(a, b)


def test_folds_are_stratified_seeded_and_disjoint() -> None:
    labels = ["quantitative"] * 40 + ["review"] * 15 + ["case-study"] * 5
    folds = stratified_folds(labels, k=5, seed=0)
    assert sorted(set(folds)) == [0, 1, 2, 3, 4]  # every record tested in exactly one fold
    for f in range(5):
        test = np.flatnonzero(folds == f)
        train = np.flatnonzero(folds != f)
        assert not set(test) & set(train)
        assert len(test) + len(train) == len(labels)
        assert sorted(np.asarray(labels)[test].tolist()).count("case-study") == 1
    assert np.array_equal(folds, stratified_folds(labels, k=5, seed=0))
    assert not np.array_equal(folds, stratified_folds(labels, k=5, seed=1))


def test_stacked_rows_replace_the_rules_design() -> None:
    X, _ = _training(6)
    tags = pd.concat(
        [
            _tags([(f"r{i}", "quantitative", 0.9 if i < 3 else 0.3) for i in range(6)]),
            pd.DataFrame(
                [
                    {
                        "record_id": "r0",
                        "facet": "setting",
                        "label": "acute-care",
                        "score": 0.9,
                        "evidence": [],
                        "source": "rule",
                    }
                ]
            ),
        ],
        ignore_index=True,
    )
    X[[c for c in X.columns if c.startswith("rule:")]] = 0.0
    X.loc[:2, "rule:quantitative"] = 0.9
    X.loc[3:, "rule:quantitative"] = 0.3
    labels = ["review", "not-applicable", "review", "review", "not-applicable", "review"]
    out = stacked_design_rows(tags, X, labels, [0.8] * 6)
    design = out[out["facet"] == "design"].set_index("record_id")
    assert design["label"].to_dict() == {"r0": "review", "r2": "review", "r3": "review",
                                         "r5": "review"}  # fmt: skip
    assert set(design["source"]) == {SOURCE}
    assert (out["facet"] == "setting").sum() == 1  # other facets untouched
    weak = stacked_design_rows(tags, X, labels, [0.8] * 6, only_weak_below=0.5)
    design = weak[weak["facet"] == "design"].set_index("record_id")
    assert design["label"].to_dict() == {"r0": "quantitative", "r1": "quantitative",
                                         "r2": "quantitative", "r3": "review",
                                         "r5": "review"}  # fmt: skip


def _script():  # type: ignore[no-untyped-def]
    path = Path(__file__).resolve().parents[2] / "scripts" / "design_stacker_cv.py"
    spec = importlib.util.spec_from_file_location("design_stacker_cv", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cross_validation_never_trains_on_its_test_records(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    script = _script()
    X, y = _training(50)
    records = X[["record_id", "title", "abstract"]]
    tags = _tags(
        [(rid, X.filter(like="rule:").iloc[i].idxmax()[5:], 0.8)
         for i, rid in enumerate(X["record_id"])]
    )  # fmt: skip
    gold = pd.DataFrame({"gold_id": X["record_id"], "dataset": "d", "key": X["record_id"],
                         "facet": "design", "label": y})  # fmt: skip
    fitted: list[set[str]] = []
    predicted: list[set[str]] = []
    real_fit, real_proba = DesignStacker.fit, DesignStacker.predict_proba

    def fit(self, X, y):  # type: ignore[no-untyped-def]
        fitted.append(set(X["record_id"]))
        return real_fit(self, X, y)

    def predict_proba(self, X):  # type: ignore[no-untyped-def]
        predicted.append(set(X["record_id"]))
        return real_proba(self, X)

    monkeypatch.setattr(script.DesignStacker, "fit", fit)
    monkeypatch.setattr(script.DesignStacker, "predict_proba", predict_proba)
    table = script.cross_validate(TaggedGold(gold, records, tags), k=5, seed=0, C=0.3)
    assert len(fitted) == len(predicted) == 5
    for train, test in zip(fitted, predicted, strict=True):
        assert test and not train & test
        assert train | test == set(X["record_id"])
    assert set().union(*predicted) == set(X["record_id"])
    assert table["fold"].tolist() == ["0", "1", "2", "3", "4", "mean", "pooled"]
    assert table.loc[table["fold"] == "pooled", "stacker: all macro"].item() == 1.0
