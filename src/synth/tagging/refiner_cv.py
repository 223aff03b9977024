"""Does the refiner earn its place? k-fold cross-validation of rules against rules + refiner.

The learnable layer (:mod:`synth.tagging.refine`) is only worth running on a facet where it
beats the rules on records it was not trained on. This module measures that on a gold set
the way the layer works in a review: the gold records are split into ``k`` seeded folds (by
paper: a reference and its full text share a fold); for each fold, the gold labels of the
other folds are given to :func:`~synth.tagging.refine.model_tags` as reviewers' verdicts
(``set`` for a gold label, ``reject`` for the facet's other labels), the refiner is fitted
on them, the rules' scores and the text, and its rows for the held-out fold are combined
with the rules' as :func:`synth.store.tags.current_tags` combines them
(:func:`~synth.tagging.refine.best_rows`: the model where confident and above the rules, else
the rules). Every record's prediction thus comes from a model that never saw its label.
Rules alone and rules + refiner are then scored with
:func:`synth.tagging.evaluate.evaluate` over all gold records.

The decision it informs (which facets are refined) is data: ``synth/data/refine.yml``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth.tagging.codebook import Codebook
from synth.tagging.evaluate import UNCLEAR, evaluate
from synth.tagging.refine import RefineParams, best_rows, model_tags

log = logging.getLogger(__name__)

#: F1 differences this small are float noise, not a change.
_TIE = 1e-9

CV_COLUMNS = [
    "gold",
    "facet",
    "records",
    "rules_macro_f1",
    "refined_macro_f1",
    "rules_micro_f1",
    "refined_micro_f1",
    "helps",
]


def assign_folds(groups: Sequence[str], k: int, seed: int = 0) -> dict[str, int]:
    """Group -> fold (0..k-1): the sorted distinct groups in a seeded random order, dealt
    round-robin, so the same groups, ``k`` and ``seed`` always give the same folds."""
    distinct = sorted({str(g) for g in groups})
    if k < 2 or k > len(distinct):
        raise ValueError(f"need 2 <= k <= {len(distinct)} groups for cross-validation, got {k}")
    order = np.random.default_rng(seed).permutation(len(distinct))
    return {distinct[i]: n % k for n, i in enumerate(order)}


def training_verdicts(
    gold: pd.DataFrame,
    codebook: Codebook,
    facets: Sequence[str],
    label_map: Mapping[str, Mapping[str, str]] | None = None,
) -> pd.DataFrame:
    """Gold rows as reviewers' verdicts on every codebook label of each facet.

    For a record whose gold names labels in a facet: ``set`` each codebook label whose gold
    name (through ``label_map``, e.g. ``uk`` -> ``GB``) is among them, ``reject`` the
    others. ``unclear`` teaches nothing (no verdict), as for a reviewer who could not tell.
    """
    rows = []
    for facet in facets:
        labels = list(codebook.facets[facet].labels)
        names = {lab: (label_map or {}).get(facet, {}).get(lab, lab) for lab in labels}
        sub = gold[gold["facet"] == facet]
        for rid, part in sub.groupby("record_id", sort=True):
            wanted = set(part["label"])
            if UNCLEAR in wanted:
                continue
            for lab in labels:
                verdict = "set" if names[lab] in wanted else "reject"
                rows.append((rid, facet, lab, verdict))
    return pd.DataFrame(rows, columns=["record_id", "facet", "label", "verdict"])


@dataclass
class RefinerCV:
    """Held-out predictions of one gold set, and their scores."""

    name: str
    #: the rule rows, the held-out model rows, and the two combined as the best view
    rules: pd.DataFrame
    model: pd.DataFrame
    refined: pd.DataFrame
    table: pd.DataFrame
    #: record_id -> the fold it was held out in
    folds: dict[str, int]
    k: int
    seed: int
    #: how the predictions were held out, for the report (default: the folds and seed)
    about: str = ""
    #: scored on held-out gold sets: reported, never a vote in :func:`decision` (they
    #: estimate; choosing by them would spend them)
    held_out: bool = False

    def describe(self) -> str:
        return self.about or f"{self.k} folds, seed {self.seed}"


def cross_validate(
    records: pd.DataFrame,
    rule_tags: pd.DataFrame,
    gold: pd.DataFrame,
    codebook: Codebook,
    facets: Sequence[str],
    *,
    name: str = "gold",
    groups: Mapping[str, str] | None = None,
    k: int = 5,
    seed: int = 0,
    label_map: Mapping[str, Mapping[str, str]] | None = None,
    extracts: pd.DataFrame | None = None,
    params: RefineParams | None = None,
) -> RefinerCV:
    """Rules alone against rules + refiner on ``gold``, every prediction held out.

    Parameters
    ----------
    records
        Every record the refiner may read (its TF-IDF is fitted on all their text, as in a
        review: text is not a label).
    rule_tags
        The rule tagger's rows for ``records``.
    gold
        ``record_id, facet, label`` in gold label names (``label_map`` turns predicted
        labels into them).
    codebook
        Gives each facet's labels.
    facets
        Facets to refine and score (those the gold labels and the codebook knows).
    groups
        record_id -> paper; records of one paper share a fold (default: each its own).
    k, seed
        Number of folds and the seed that deals them (:func:`assign_folds`).
    label_map, extracts, params
        As for :func:`synth.tagging.evaluate.evaluate` and
        :func:`synth.tagging.refine.model_tags`.
    """
    facets = [f for f in facets if f in codebook.facets and f in set(gold["facet"])]
    ids = sorted(set(map(str, gold["record_id"])))
    group_of = {rid: str((groups or {}).get(rid, rid)) for rid in ids}
    fold_of_group = assign_folds(list(group_of.values()), k, seed)
    fold = {rid: fold_of_group[g] for rid, g in group_of.items()}
    records, rules, gold = _as_str_ids(records, rule_tags, gold, facets)
    verdicts = training_verdicts(gold, codebook, facets, label_map)
    held_out: list[pd.DataFrame] = []
    for f in range(k):
        test = {rid for rid in ids if fold[rid] == f}
        train = verdicts[~verdicts["record_id"].isin(test)]
        model, _ = model_tags(
            records, rules, train, codebook, facets=facets, extracts=extracts, params=params
        )
        held_out.append(model[model["record_id"].astype(str).isin(test)])
    model = pd.concat(held_out, ignore_index=True)  # k >= 2 folds (assign_folds)
    refined = best_rows(pd.concat([rules, model], ignore_index=True))
    table = _scores(name, rules, refined, gold, facets, label_map)
    log.info("refiner cross-validation on %s: %d records, %d folds", name, len(ids), k)
    return RefinerCV(name, rules, model, refined, table, fold, k, seed)


def train_test(
    records: pd.DataFrame,
    rule_tags: pd.DataFrame,
    train_gold: pd.DataFrame,
    test_gold: pd.DataFrame,
    codebook: Codebook,
    facets: Sequence[str],
    *,
    name: str = "held out",
    about: str = "",
    label_map: Mapping[str, Mapping[str, str]] | None = None,
    extracts: pd.DataFrame | None = None,
    params: RefineParams | None = None,
) -> RefinerCV:
    """Rules alone against rules + refiner on ``test_gold``'s records, the refiner fitted
    on ``train_gold``'s verdicts alone: the layer judged on gold sets nobody read, trained
    on the sets that were (folds within one set share its sources and its readers' habits;
    a held-out set does not). ``records`` and ``rule_tags`` cover both sets (the TF-IDF
    reads every record's text, as in a review: text is not a label); the scores count
    ``test_gold``'s records only. Other arguments as for :func:`cross_validate`."""
    facets = [f for f in facets if f in codebook.facets and f in set(test_gold["facet"])]
    train_ids = set(map(str, train_gold["record_id"]))
    test_ids = set(map(str, test_gold["record_id"]))
    if not train_ids or not test_ids or train_ids & test_ids:
        raise ValueError("train and test gold must be non-empty and share no record")
    records, rules, train_gold = _as_str_ids(records, rule_tags, train_gold, facets)
    test_gold = test_gold.assign(record_id=test_gold["record_id"].astype(str))
    verdicts = training_verdicts(train_gold, codebook, facets, label_map)
    model, _ = model_tags(
        records, rules, verdicts, codebook, facets=facets, extracts=extracts, params=params
    )
    model = model[model["record_id"].astype(str).isin(test_ids)]
    rules = rules[rules["record_id"].isin(test_ids)]
    refined = best_rows(pd.concat([rules, model], ignore_index=True))
    table = _scores(name, rules, refined, test_gold, facets, label_map)
    log.info(
        "refiner trained on %d records, tested on %d (%s)", len(train_ids), len(test_ids), name
    )
    return RefinerCV(
        name, rules, model, refined, table, dict.fromkeys(sorted(test_ids), 0), 1, 0,
        about=about or f"trained on {len(train_ids)} other records", held_out=True,
    )  # fmt: skip


def _as_str_ids(
    records: pd.DataFrame, rule_tags: pd.DataFrame, gold: pd.DataFrame, facets: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Records, the facets' rule rows and gold, each with ``record_id`` as text."""
    rules = rule_tags[rule_tags["facet"].isin(facets)]
    return (
        records.assign(record_id=records["record_id"].astype(str)),
        rules.assign(record_id=rules["record_id"].astype(str)),
        gold.assign(record_id=gold["record_id"].astype(str)),
    )


def _scores(
    name: str,
    rules: pd.DataFrame,
    refined: pd.DataFrame,
    gold: pd.DataFrame,
    facets: Sequence[str],
    label_map: Mapping[str, Mapping[str, str]] | None,
) -> pd.DataFrame:
    """One row per facet: macro and micro F1 of both arms, and whether the refiner
    :func:`helps`."""
    kw = {"facets": list(facets), "label_map": label_map}
    before = evaluate(rules, gold, **kw)
    after = evaluate(refined, gold, **kw)
    rows = []
    for facet in facets:
        scored = before.coverage.set_index("facet").loc[facet, "scored"]
        b, a = _f1(before.averages, facet), _f1(after.averages, facet)
        gains = [a[m] - b[m] for m in ("macro", "micro")]
        rows.append((name, facet, int(scored), b["macro"], a["macro"], b["micro"], a["micro"],
                     helps(gains)))  # fmt: skip
    return pd.DataFrame(rows, columns=CV_COLUMNS)


def helps(gains: Iterable[float]) -> bool:
    """Whether F1 gains (refined minus rules) show the refiner helping: one rose, none
    fell (no change is no help; a float's last digits are no change; an undefined gain,
    NaN, is no evidence either way)."""
    known = pd.Series(list(gains), dtype=float).dropna()
    return bool(len(known) and known.min() >= -_TIE and known.max() > _TIE)


def _f1(averages: pd.DataFrame, facet: str) -> dict[str, float]:
    part = averages[averages["facet"] == facet].set_index("average")["f1"]
    return {m: float(part.get(m, 0.0)) for m in ("macro", "micro")}


def decision(tables: Sequence[pd.DataFrame]) -> dict[str, bool]:
    """Facet -> refine it: the refiner :func:`helps` over every gold set that labels the
    facet (raised macro- or micro-F1 on some, lowered neither on any)."""
    both = pd.concat(list(tables), ignore_index=True)
    out = {}
    for facet, part in both.groupby("facet", sort=False):
        gains = pd.concat(
            [part["refined_macro_f1"] - part["rules_macro_f1"],
             part["refined_micro_f1"] - part["rules_micro_f1"]]
        )  # fmt: skip
        out[str(facet)] = helps(gains)
    return out


def to_text(results: Sequence[RefinerCV]) -> str:
    """The CV tables and the decision they suggest, for the CLI."""
    if not results:
        return "(no gold set to cross-validate on)\n"
    table = pd.concat([r.table for r in results], ignore_index=True)
    shown = table.assign(helps=table["helps"].map({True: "yes", False: "no"}))
    folds = ", ".join(f"{r.name}: {r.describe()}" for r in results)
    voters = [r.table for r in results if not r.held_out]
    keep = decision(voters) if voters else {}
    lines = [
        "Refiner cross-validation: rules alone against rules + refiner, every prediction "
        f"from a model that never saw the record's label ({folds})",
        shown.to_string(index=False, float_format=lambda x: f"{x:.3f}"),
        "",
        "Refine (it raised an F1 on some gold set and lowered none; held-out sets are "
        "reported, not counted): "
        + ", ".join(f"{f} {'yes' if v else 'no'}" for f, v in keep.items()),
        "The decision in force is synth/data/refine.yml.",
    ]
    return "\n".join(lines) + "\n"


def cross_validate_store(
    con: object,
    gold: pd.DataFrame,
    facets: Sequence[str] | None = None,
    *,
    name: str = "bundled",
    k: int = 5,
    seed: int = 0,
    params: RefineParams | None = None,
) -> RefinerCV:
    """:func:`cross_validate` on a store's latest rule rows against a gold file keyed by
    ``key`` (a source key: a reference and its full text are one paper, one fold)."""
    from synth.store import load_records
    from synth.store.tags import load_run_tags
    from synth.store.views import load_extracts
    from synth.tagging.codebook import load_codebook
    from synth.tagging.evaluate import gold_record_ids

    records = load_records(con)
    tags = load_run_tags(con)
    rules = tags[tags["source"] == "rule"]
    if rules.empty:
        raise ValueError("the store has no tagging run: run `synth tag --db ...` first")
    mapped, _ = gold_record_ids(gold, records)
    mapped = mapped[mapped["label"].astype(str).str.strip() != ""]
    codebook = load_codebook()
    facets = list(facets or [f for f in dict.fromkeys(mapped["facet"]) if f in codebook.facets])
    groups = dict(zip(mapped["record_id"].astype(str), mapped["key"].astype(str), strict=True))
    return cross_validate(
        records, rules, mapped[["record_id", "facet", "label"]], codebook, facets,
        name=name, groups=groups, k=k, seed=seed, extracts=load_extracts(con), params=params,
    )  # fmt: skip


def cross_validate_real(
    tagged: object, *, k: int = 5, seed: int = 0, name: str = "real abstracts"
) -> RefinerCV:
    """:func:`cross_validate` on the real-abstract gold set, tagged
    (:class:`synth.tagging.abstract_gold.TaggedGold`); countries scored as ISO codes."""
    from synth.tagging.abstract_gold import FACETS, country_iso
    from synth.tagging.codebook import load_codebook

    return cross_validate(
        tagged.records, tagged.tags, tagged.gold_rows(), load_codebook(), list(FACETS),
        name=name, k=k, seed=seed, label_map={"country": country_iso()},
    )  # fmt: skip


def train_test_real(
    train: object, test: object, *, name: str = "held-out real abstracts", about: str = ""
) -> RefinerCV:
    """:func:`train_test` on real-abstract gold sets, tagged
    (:class:`synth.tagging.abstract_gold.TaggedGold`): the refiner fitted on ``train``'s
    gold, scored on ``test``'s; countries scored as ISO codes. A test record that is also a
    training record (the same dataset and key) is an error; one whose title a training
    record has (a paper filed twice in a source under two keys) is left out of the test,
    so no test label is ever a training verdict."""
    from synth.tagging.abstract_gold import FACETS, combined, country_iso
    from synth.tagging.codebook import load_codebook

    def keys(one: object) -> set[tuple[str, str]]:
        recs = one.records
        return set(zip(recs["dataset"].astype(str), recs["key"].astype(str), strict=True))

    shared = keys(train) & keys(test)
    if shared:
        dataset, key = sorted(shared)[0]
        raise ValueError(
            f"{len(shared)} record(s) are in both the training and the test gold "
            f"(e.g. {dataset} key {key}): train on other records"
        )
    seen = {_title_key(t) for t in train.records["title"]}
    twice = {
        str(rid)
        for rid, title in zip(test.records["record_id"], test.records["title"], strict=True)
        if _title_key(title) in seen
    }
    if twice:
        log.info("left out of the test: %d record(s) whose title a training record has", len(twice))
    both = combined({"train": train, "test": test})
    rows = both.gold_rows()
    ids = rows["record_id"].astype(str)
    is_test = ids.str.startswith("test:")
    left_out = ids.isin({f"test:{rid}" for rid in twice})
    return train_test(
        both.records, both.tags, rows[~is_test], rows[is_test & ~left_out], load_codebook(),
        list(FACETS), name=name, about=about, label_map={"country": country_iso()},
    )  # fmt: skip


def _title_key(title: object) -> str:
    """A title as words only, lower case: two filings of one paper match."""
    return " ".join(re.findall(r"\w+", str(title or "").lower()))
