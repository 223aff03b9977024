"""Active-learning parts: settings, features, classifiers, balance, query, priors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from synth.corpus.reading import read_file
from synth.screening.balance import sample_weights
from synth.screening.classifiers import make_classifier
from synth.screening.features import config
from synth.screening.learner import (
    LearnerSettings,
    Prioritiser,
    build_features,
    model_names,
    prior_labels,
    settings_for,
)
from synth.screening.query import query_order


@pytest.fixture
def knee(fixtures: Path) -> pd.DataFrame:
    """58 labelled records: 10 exercise trials for knee osteoarthritis among other work."""
    return read_file(fixtures / "screening" / "knee_exercise_labelled.csv").records


def test_settings_round_trip_and_validation() -> None:
    s = LearnerSettings()
    assert LearnerSettings.from_dict(s.to_dict()) == s
    custom = LearnerSettings(classifier="nb", query="mixed", random_share=0.1, seed=4)
    assert LearnerSettings.from_dict(custom.to_dict()) == custom
    with pytest.raises(ValueError, match="choose from nb, logistic, svm"):
        LearnerSettings(classifier="forest")
    with pytest.raises(ValueError, match="unknown learner setting"):
        LearnerSettings.from_dict({**s.to_dict(), "colour": "red"})
    with pytest.raises(ValueError, match="random_share"):
        LearnerSettings(random_share=1.5)
    assert "default" in model_names() and "nb" in model_names()
    assert settings_for("nb", seed=3).classifier == "nb"
    assert settings_for("nb", seed=3).seed == 3
    with pytest.raises(ValueError, match="unknown model"):
        settings_for("gpt")


def test_features_rows_follow_records(knee: pd.DataFrame) -> None:
    X = build_features(knee, LearnerSettings())
    assert X.shape[0] == len(knee)
    # rows are L2-normalised TF-IDF: a record is most similar to itself
    sim = (X @ X.T).toarray()
    assert np.allclose(np.diag(sim), 1.0, atol=1e-5)
    # the same text in a different order gives the same rows, permuted
    rev = knee.iloc[::-1].reset_index(drop=True)
    X2 = build_features(rev, LearnerSettings())
    assert np.allclose((X2 @ X2.T).toarray()[::-1, ::-1], sim, atol=1e-5)


def test_features_with_tags(knee: pd.DataFrame) -> None:
    tags = pd.DataFrame(
        {
            "record_id": knee["record_id"].iloc[:3],
            "facet": "design",
            "label": "rct",
            "score": [1.0, 0.5, None],
        }
    )
    plain = build_features(knee, LearnerSettings())
    tagged = build_features(knee, LearnerSettings(use_tags=True), tags)
    assert tagged.shape == (len(knee), plain.shape[1] + 1)
    assert build_features(knee, LearnerSettings(), tags).shape == plain.shape  # use_tags off


def test_features_of_empty_texts() -> None:
    df = pd.DataFrame({"record_id": ["a", "b"], "title": [None, ""], "abstract": [None, None]})
    assert build_features(df, LearnerSettings()).shape[0] == 2


@pytest.mark.parametrize("name", ["nb", "logistic", "svm"])
def test_classifiers_keep_the_sklearn_contract(name: str, knee: pd.DataFrame) -> None:
    X = build_features(knee, LearnerSettings())
    y = knee["label_included"].astype(int).to_numpy()
    clf = clone(make_classifier(name, seed=1))
    clf.fit(X, y, sample_weight=np.ones(len(y)))
    p = clf.predict_proba(X)
    assert p.shape == (len(y), 2)
    assert np.allclose(p.sum(axis=1), 1.0)
    # trained on all labels, includes score higher than excludes on average
    assert p[y == 1, 1].mean() > p[y == 0, 1].mean()


def test_balance_strategies() -> None:
    rng = np.random.default_rng(0)
    y = np.array([1] * 3 + [0] * 47)
    assert sample_weights(y, "none", rng).tolist() == [1.0] * 50
    w = sample_weights(y, "weighted", rng)
    share = config()["balance"]["weighted"]["include_share"]
    assert w[y == 1].sum() / w.sum() == pytest.approx(share)
    assert w.sum() == pytest.approx(50)
    d = sample_weights(y, "double", rng)
    assert d.sum() == 50  # the training set keeps its size
    assert np.allclose(d, d.round())  # copies
    assert d[y == 1].sum() > 3  # includes over-sampled
    assert d[y == 0].sum() < 47
    with pytest.raises(ValueError, match="choose from"):
        sample_weights(y, "smote", rng)


def test_query_strategies() -> None:
    rng = np.random.default_rng(0)
    scores = np.array([0.1, 0.9, 0.5, 0.45, 0.8])
    assert query_order(scores, "max", rng=rng).tolist() == [1, 4, 2, 3, 0]
    # closest to 0.5 first: 0.5, 0.45, then 0.8 and 0.1 (0.3 and 0.4 away), 0.9 last
    assert query_order(scores, "uncertainty", rng=rng).tolist() == [2, 3, 4, 0, 1]
    many = np.linspace(1, 0, 1000)
    mixed = query_order(many, "mixed", random_share=0.2, rng=np.random.default_rng(1))
    assert sorted(mixed.tolist()) == list(range(1000))  # still a permutation
    # about a fifth of the first 100 shown are random picks from anywhere in the queue
    from_far = int((mixed[:100] >= 200).sum())
    assert 5 <= from_far <= 40
    assert query_order(many, "max", random_share=0.0, rng=rng).tolist() == list(range(1000))
    with pytest.raises(ValueError, match="choose from max, uncertainty, mixed"):
        query_order(scores, "random", rng=rng)


@pytest.mark.parametrize("classifier", ["nb", "logistic", "svm"])
@pytest.mark.parametrize("balance", ["none", "weighted", "double"])
def test_rank_puts_likely_includes_first(knee: pd.DataFrame, classifier: str, balance: str) -> None:
    s = LearnerSettings(classifier=classifier, balance=balance, seed=2)
    X = build_features(knee, s)
    y = knee["label_included"].astype(int).to_numpy()
    labelled = np.zeros(len(y), dtype=bool)
    labelled[np.flatnonzero(y == 1)[:2]] = True
    labelled[np.flatnonzero(y == 0)[:4]] = True
    order, relevance = Prioritiser(s).rank(X, labelled, y)
    assert sorted(order.tolist()) == np.flatnonzero(~labelled).tolist()
    assert relevance.shape == (len(y),)
    # the 8 unlabelled includes come well before the middle of the queue
    ranks = np.flatnonzero(y[order] == 1)
    assert ranks.mean() < len(order) / 4
    # same seed, same order
    again, _ = Prioritiser(s).rank(X, labelled, y)
    assert again.tolist() == order.tolist()


def test_rank_cold_start(knee: pd.DataFrame) -> None:
    s = LearnerSettings(seed=5)
    X = build_features(knee, s)
    y = knee["label_included"].astype(int).to_numpy()
    none = np.zeros(len(y), dtype=bool)
    order, rel = Prioritiser(s).rank(X, none, y)
    assert sorted(order.tolist()) == list(range(len(y)))
    assert (rel == 0.5).all()
    assert Prioritiser(s).rank(X, none, y)[0].tolist() == order.tolist()  # seeded
    only_inc = none.copy()
    only_inc[np.flatnonzero(y == 1)[0]] = True
    order, rel = Prioritiser(s).rank(X, only_inc, y)
    assert np.flatnonzero(y[order] == 1).mean() < len(order) / 4  # similar texts first
    with pytest.raises(RuntimeError, match="not fitted"):
        Prioritiser(s).relevance(X)


def test_prior_labels(knee: pd.DataFrame) -> None:
    ids = knee["record_id"].tolist()
    p = prior_labels(knee, known_includes=[ids[3]], known_excludes=[ids[0], "nope"])
    assert p.to_dict() == {ids[0]: 0, ids[3]: 1}
    sugg = pd.DataFrame({"record_id": ids[:3], "decision": ["include", "unclear", "exclude"]})
    assert prior_labels(knee, suggestions=sugg).to_dict() == {ids[0]: 1, ids[2]: 0}
    # the reviewer's own priors win over the tagger's suggestions
    assert prior_labels(knee, known_includes=[ids[5]], suggestions=sugg).to_dict() == {ids[5]: 1}
    assert prior_labels(knee).empty
    with pytest.raises(ValueError, match="both include and exclude"):
        prior_labels(knee, known_includes=[ids[1]], known_excludes=[ids[1]])


def test_large_corpora_drop_words_seen_once(knee: pd.DataFrame, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    small = build_features(knee, LearnerSettings())
    monkeypatch.setitem(config(), "large_corpus", {"records": 10, "min_df": 2})
    large = build_features(knee, LearnerSettings())
    assert large.shape[0] == small.shape[0]
    assert large.shape[1] < small.shape[1]
