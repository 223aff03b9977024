"""The learnable layer as the tagger applies it: model rows beside rule rows, overrides on top.

Runs the real tagger and the real refiner on the bundled KEI corpus (the session's imported
store, ``kei_imported_db``).
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synth.exporting import export_tags
from synth.store import connect, import_paths
from synth.store.tags import add_override, current_tags, load_run_tags, save_tagging
from synth.tagging.codebook import load_codebook
from synth.tagging.learn import TagRefiner
from synth.tagging.refine import MODEL_CONFIDENT, TAG_COLUMNS, RefineParams, best_rows, model_tags
from synth.tagging.workflow import tag_store

MODEL_VERSION = re.compile(r"^TagRefiner/\d+\.\d+[^/]*/[0-9a-f]{12}$")
#: The layer is tested on these facets whichever synth/data/refine.yml refines by default
#: (that is decided by cross-validation: tests/tagging/test_refiner_cv.py).
FACETS = ("setting", "approach", "design")


@pytest.fixture(scope="module")
def tagged_store(kei_imported_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's imported KEI store tagged once with :data:`FACETS` refined; tests work
    on copies."""
    path = tmp_path_factory.mktemp("refine") / "kei.sqlite"
    shutil.copyfile(kei_imported_db, path)
    con = connect(path)
    tag_store(con, refine_facets=FACETS)
    con.close()
    return path


@pytest.fixture
def con(tagged_store: Path, tmp_path: Path) -> sqlite3.Connection:
    src = sqlite3.connect(tagged_store)
    dst_path = tmp_path / "copy.sqlite"
    dst = sqlite3.connect(dst_path)
    src.backup(dst)
    src.close()
    dst.close()
    con = connect(dst_path)
    yield con
    con.close()


def _key(df: pd.DataFrame) -> set[tuple[str, str, str]]:
    return set(zip(df["record_id"], df["facet"], df["label"], strict=True))


def _row(df: pd.DataFrame, record_id: str, facet: str, label: str) -> pd.DataFrame:
    return df[(df.record_id == record_id) & (df.facet == facet) & (df.label == label)]


def test_model_rows_are_stored_beside_rule_rows_with_their_versions(con) -> None:
    tags = load_run_tags(con)
    rules, model = tags[tags.source == "rule"], tags[tags.source == "model"]
    assert len(rules) and len(model)
    assert set(tags.source) == {"rule", "model"}
    assert rules.version.str.match(r"^rules:").all()
    assert model.version.map(lambda v: bool(MODEL_VERSION.match(v))).all()
    assert set(model.facet) <= {"setting", "approach", "design"}
    assert model.score.between(0, 1).all()
    (params,) = con.execute("SELECT params FROM runs WHERE kind='tag'").fetchone()
    params = json.loads(params)
    from synth.review import find_review, review_for
    from synth.tagging.criteria import with_review_cues

    cb = with_review_cues(load_codebook(), review_for(find_review(con)))  # as tag_store builds it
    assert params["codebook_sha256"] == cb.sha256
    assert params["rule_version"] == cb.tag_version == rules.version.iloc[0]
    facets = params["model"]["facets"]
    for facet, versions in model.groupby("facet")["version"]:
        assert set(versions) == {facets[facet]["version"]}
        assert facets[facet]["labels"]  # what it was fitted on, and what it skipped
    # a model row on a rule-tagged label carries the rule's evidence sentences
    both = model.merge(rules, on=["record_id", "facet", "label"], suffixes=("", "_rule"))
    assert len(both)
    assert (both.evidence == both.evidence_rule).all()


def test_same_labels_same_model_version(con) -> None:
    first = load_run_tags(con)
    tag_store(con, refine_facets=FACETS)
    again = load_run_tags(con)
    pd.testing.assert_frame_equal(first, again)


def test_best_view_prefers_a_confident_model_keeps_rules_as_floor(con) -> None:
    tags = load_run_tags(con)
    rules = tags[tags.source == "rule"]
    best = current_tags(con)
    assert _key(best) >= _key(rules)  # the model never removes a rule tag
    assert len(best) == len(_key(best))  # one row per record/facet/label
    model_rows = best[best.source == "model"]
    assert len(model_rows)
    assert (model_rows.score >= 0.8).all()
    for r in model_rows.itertuples():
        rule = _row(rules, r.record_id, r.facet, r.label)
        assert rule.empty or float(rule.score.iloc[0]) < r.score
        if not rule.empty:
            assert r.evidence == rule.evidence.iloc[0]
    assert set(current_tags(con, source="rule").source) == {"rule"}
    assert set(current_tags(con, source="model").source) == {"model"}
    assert len(current_tags(con, source="all")) == len(tags)
    with pytest.raises(ValueError, match="source must be one of"):
        current_tags(con, source="oracle")


def test_best_rows_is_the_refiners_choice_of_rows() -> None:
    """The refiner decides which machine row stands for a tag (the store only applies it):
    a confident model row above the rules takes the rule row's place and keeps its
    evidence; an unsure one leaves the rules; one the rules missed goes after; rows of
    another source pass through."""
    ev = [{"field": "abstract", "sentence": "Set in two wards.", "match": "ward", "cue": "ward"}]
    sure, unsure = MODEL_CONFIDENT + 0.1, MODEL_CONFIDENT - 0.1
    tags = pd.DataFrame(
        [
            ("r1", "setting", "hospital", 0.6, ev, "rule", "rules:x"),
            ("r1", "setting", "hospital", sure, [], "model", "m"),
            ("r1", "setting", "community", 0.5, ev, "rule", "rules:x"),
            ("r1", "setting", "community", unsure, [], "model", "m"),
            ("r2", "setting", "primary-care", sure, [], "model", "m"),
            ("r2", "design", "rct", 1.0, [], "reviewer:ann", "reviewer"),
        ],
        columns=TAG_COLUMNS,
    )
    best = best_rows(tags)
    assert list(zip(best.record_id, best.label, best.source, strict=True)) == [
        ("r1", "hospital", "model"),
        ("r1", "community", "rule"),
        ("r2", "rct", "reviewer:ann"),
        ("r2", "primary-care", "model"),
    ]
    assert best.evidence.iloc[0] == ev  # the model row keeps the rule row's sentences
    rules_only = tags[tags.source != "model"]
    assert best_rows(rules_only) is rules_only  # nothing to choose


def test_overrides_still_win_after_retagging(con) -> None:
    tags = load_run_tags(con)
    model = tags[tags.source == "model"].iloc[0]
    rule = tags[(tags.source == "rule") & (tags.facet == "country")].iloc[0]
    rid = model.record_id
    add_override(con, rid, model.facet, model.label, "reject", reviewer="ana")
    add_override(con, rule.record_id, rule.facet, rule.label, "confirm", reviewer="ben")
    add_override(con, rid, "design", "case-study", "set", reviewer="ana")
    tag_store(con, refine_facets=FACETS)  # re-tag: the model now learns from these verdicts too
    for source in ("best", "all", "rule", "model"):
        cur = current_tags(con, source=source)
        assert _row(cur, rid, model.facet, model.label).empty
        (src,) = _row(cur, rid, "design", "case-study").source
        assert src == "reviewer:ana"
        (src,) = _row(cur, rule.record_id, rule.facet, rule.label).source
        assert src == "reviewer:ben"
    assert con.execute("SELECT count(*) FROM tag_overrides").fetchone()[0] == 3


def test_a_reviewer_label_changes_the_models_output_on_the_next_run(con) -> None:
    before = load_run_tags(con)
    rules = before[before.source == "rule"]
    acute = set(rules[(rules.facet == "setting") & (rules.label == "acute-care")].record_id)
    ids = [r[0] for r in con.execute("SELECT record_id FROM records ORDER BY position")]
    rid = next(r for r in ids if r not in acute)
    assert _row(before, rid, "setting", "acute-care").empty

    add_override(con, rid, "setting", "acute-care", "set", reviewer="ana")
    tag_store(con, refine_facets=FACETS)
    after = load_run_tags(con)
    row = _row(after[after.source == "model"], rid, "setting", "acute-care")
    assert len(row) == 1 and row.score.iloc[0] >= 0.5
    versions = lambda df: set(df[(df.source == "model") & (df.facet == "setting")].version)  # noqa: E731
    assert versions(after) != versions(before)
    # the rule rows are what they were: the reviewer spoke to the model, not the codebook
    pd.testing.assert_frame_equal(
        after[after.source == "rule"].reset_index(drop=True),
        before[before.source == "rule"].reset_index(drop=True),
    )


def test_a_rejection_lowers_the_models_score(con) -> None:
    before = load_run_tags(con)
    model = before[(before.source == "model") & (before.facet == "approach")]
    top = model.sort_values("score", ascending=False).iloc[0]
    add_override(con, top.record_id, "approach", top.label, "reject", reviewer="ana")
    tag_store(con, refine_facets=FACETS)
    after = load_run_tags(con)
    row = _row(after[after.source == "model"], top.record_id, "approach", top.label)
    assert row.empty or row.score.iloc[0] < top.score


def test_export_shows_rule_model_and_reviewer_sources(con, tmp_path: Path) -> None:
    tags = load_run_tags(con)
    rule = tags[tags.source == "rule"].iloc[0]
    add_override(con, rule.record_id, rule.facet, rule.label, "confirm", reviewer="ana")
    n = export_tags(con, tmp_path / "tags.csv")
    out = pd.read_csv(tmp_path / "tags.csv")
    assert len(out) == n
    assert {"rule", "model", "reviewer:ana"} <= set(out["source"])


def test_no_refine_stores_rule_rows_only(con) -> None:
    run = tag_store(con, refine=False)
    assert run.model_tags is None
    assert set(load_run_tags(con).source) == {"rule"}


# -- the pieces, on small hand-made data -------------------------------------------------


def test_masked_targets_train_each_label_on_its_known_rows() -> None:
    words = ["ward inpatient", "clinic school", "ward bedside", "school library"] * 5
    X = pd.DataFrame({"title": words, "abstract": [""] * len(words)})
    acute = [1.0, 0.0, 1.0, 0.0] * 5
    # the second label is unknown on the acute rows: a label-agnostic fit would learn
    # "ward" -> 0 from them; the masked fit must not
    other = [np.nan, 1.0, np.nan, 0.0] * 5
    y = pd.DataFrame({"acute": acute, "school": other})
    model = TagRefiner(random_state=0).fit(X, y)
    p = model.predict_proba(pd.DataFrame({"title": ["ward", "clinic school"], "abstract": ""}))
    assert p[0, 0] > 0.5 > p[1, 0]
    assert p[1, 1] > 0.5
    with pytest.raises(ValueError, match="0, 1 or NaN"):
        TagRefiner().fit(X, y.replace(1.0, 2.0))


def test_model_tags_skips_labels_without_both_classes() -> None:
    cb = load_codebook()
    records = pd.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(6)],
            "title": ["acute ward study", "primary care clinic", "acute ward", "gp practice",
                      "inpatient ward", "general practice"],
        }
    )  # fmt: skip
    rule = pd.DataFrame(
        [(f"r{i}", "setting", "acute-care", 0.9, [], "rule", "rules:x") for i in (0, 2, 4)],
        columns=["record_id", "facet", "label", "score", "evidence", "source", "version"],
    )
    rows, info = model_tags(records, rule, None, cb, facets=["setting", "nonsense"])
    assert "nonsense" not in info
    assert info["setting"]["labels"] == ["acute-care"]
    assert "primary-care" in info["setting"]["skipped"]
    assert set(rows.source) == {"model"}
    assert set(rows[rows.score >= 0.5].record_id) == {"r0", "r2", "r4"}
    # the rules gave no sentences here, so the model explains itself: its strongest words
    for evidence, rid in zip(rows.evidence, rows.record_id, strict=True):
        assert evidence, rid
        for item in evidence:
            assert item["cue"].startswith("model: ") and item["weight"] > 0
            assert item["match"].lower() in item["sentence"].lower()
    assert any(e["match"] == "ward" for e in rows.evidence.iloc[0])
    rows2, info2 = model_tags(
        records, rule, None, cb, facets=["setting"], params=RefineParams(min_examples=4)
    )
    assert rows2.empty and info2["setting"]["version"] is None


def test_best_view_on_hand_made_rows(tmp_path: Path) -> None:
    (tmp_path / "a.ris").write_text(
        "TY  - JOUR\nTI  - One\nER  - \n\nTY  - JOUR\nTI  - Two\nER  - \n", encoding="utf-8"
    )
    con = connect(tmp_path / "s.sqlite")
    import_paths(con, [tmp_path / "a.ris"])
    a, b = [r[0] for r in con.execute("SELECT record_id FROM records ORDER BY position")]
    ev = [{"field": "title", "sentence": "One.", "match": "one", "cue": "one"}]
    ev_model = [{"field": "title", "sentence": "One (model).", "match": "one", "cue": "m"}]
    ev_two = [{"field": "title", "sentence": "Two.", "match": "two", "cue": "two"}]
    rows = [
        (a, "setting", "acute-care", 0.6, ev, "rule", "rules:1:x"),
        (a, "setting", "mental-health", 0.9, ev, "rule", "rules:1:x"),
        (b, "setting", "primary-care", 0.2, [], "rule", "rules:1:x"),  # below min, no evidence
        (a, "setting", "acute-care", 0.95, ev_model, "model", "TagRefiner/1/abc"),  # wins
        (a, "setting", "mental-health", 0.85, ev, "model", "TagRefiner/1/abc"),  # below rule
        (b, "setting", "community", 0.7, [], "model", "TagRefiner/1/abc"),  # not confident
        (b, "setting", "primary-care", 0.99, ev_two, "model", "TagRefiner/1/abc"),  # wins
    ]
    cols = ["record_id", "facet", "label", "score", "evidence", "source", "version"]
    save_tagging(con, pd.DataFrame(rows, columns=cols), params={})
    best = current_tags(con)
    got = {(r.record_id, r.label): (r.score, r.source) for r in best.itertuples()}
    assert got == {
        (a, "acute-care"): (0.95, "model"),
        (a, "mental-health"): (0.9, "rule"),
        (b, "primary-care"): (0.99, "model"),
    }
    assert list(best.label) == ["acute-care", "mental-health", "primary-care"]
    # a winning model row shows the rule row's evidence sentences, its own when those are none
    assert list(best.evidence) == [ev, ev, ev_two]
    assert len(current_tags(con, source="all")) == 7
    assert current_tags(con, source="model").evidence.tolist() == [ev_model, ev, [], ev_two]
    assert len(current_tags(con, confident=0.5)) == 4


def test_model_tags_fits_one_tfidf_for_every_facet(monkeypatch) -> None:
    from synth.tagging import refine

    cb = load_codebook()
    records = pd.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(6)],
            "title": ["acute ward co-design", "primary care clinic survey", "acute ward",
                      "gp practice interviews", "inpatient ward co-design", "general practice"],
        }
    )  # fmt: skip
    rule = pd.DataFrame(
        [(f"r{i}", "setting", "acute-care", 0.9, [], "rule", "rules:x") for i in (0, 2, 4)]
        + [(f"r{i}", "approach", "co-design", 0.9, [], "rule", "rules:x") for i in (0, 4)],
        columns=["record_id", "facet", "label", "score", "evidence", "source", "version"],
    )
    built = []
    original = refine.shared_tfidf

    def counting(X, **params):
        built.append(len(X))
        return original(X, **params)

    monkeypatch.setattr(refine, "shared_tfidf", counting)
    rows, info = refine.model_tags(records, rule, None, cb, facets=["setting", "approach"])
    assert info["setting"]["labels"] == ["acute-care"] and info["approach"]["labels"]
    assert built == [6]  # once, over all six records, for both facets
    assert set(rows.facet) == {"setting", "approach"}
