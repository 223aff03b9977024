"""Does the design stacker earn its place? Rules alone against rules + stacker, held out.

Cross-validation over the READ real-abstract gold sets (1 and 3, pooled; ids prefixed
``set1:`` / ``set3:``): the records are dealt into ``k`` folds stratified by their gold
design label (seeded); for each fold a :class:`synth.tagging.design_stacker.DesignStacker`
is fitted on the other folds' records and decides the fold's designs, either every
record's ("stacker: all") or only those whose rules found no design or only weak ones
below 0.5 ("stacker: weak"). Each arm's tags are scored on the fold's records with
:func:`synth.tagging.evaluate.evaluate` (design macro- and micro-F1, as ``synth tag
evaluate-abstracts`` scores them); the table has one row per fold, their mean, and the
pooled held-out predictions of all folds scored together.

``--held-out`` instead fits on all of sets 1 and 3 and prints the design summary (macro,
micro; rules against stacker) on the held-out sets 2, 4 and 5 pooled: summary figures
only, and only once the CV gain is clear (issue 16).

    .venv/bin/python scripts/design_stacker_cv.py [--k 5] [--seed 0] [--codebook PATH]
    .venv/bin/python scripts/design_stacker_cv.py --held-out
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from synth.tagging.abstract_gold import combined, tag_abstract_gold
from synth.tagging.codebook import load_codebook
from synth.tagging.design_stacker import (
    FACET,
    DesignStacker,
    stacked_design_rows,
    stacker_input,
    stratified_folds,
)
from synth.tagging.evaluate import evaluate

GOLD = Path("tests/fixtures")
READ_SETS = {"set1": GOLD / "abstracts-gold", "set3": GOLD / "abstracts-gold-3"}
HELD_OUT_SETS = {
    "set2": GOLD / "abstracts-gold-2",
    "set4": GOLD / "abstracts-gold-4",
    "set5": GOLD / "abstracts-gold-5",
}
PEER = Path("../shared/peer-data")
WEAK = 0.5


def _tagged(sets: dict[str, Path], peer: Path, codebook):  # type: ignore[no-untyped-def]
    return combined({n: tag_abstract_gold(p, peer, codebook=codebook) for n, p in sets.items()})


def _design_gold(tagged) -> pd.Series:  # type: ignore[no-untyped-def]
    rows = tagged.gold_rows()
    rows = rows[rows["facet"] == FACET]
    return rows.drop_duplicates("record_id").set_index("record_id")["label"].astype(str)


def _f1(tags: pd.DataFrame, gold: pd.DataFrame, ids: set[str]) -> tuple[float, float]:
    """Design macro- and micro-F1 of ``tags`` on the records ``ids`` (evaluate()'s)."""
    result = evaluate(
        tags[tags["record_id"].astype(str).isin(ids)],
        gold[gold["record_id"].astype(str).isin(ids)],
        facets=[FACET],
    )
    avg = result.averages
    avg = avg[avg["facet"] == FACET].set_index("average")["f1"]
    return float(avg["macro"]), float(avg["micro"])


def _arms(tags, X, stacker) -> dict[str, pd.DataFrame]:  # type: ignore[no-untyped-def]
    proba = stacker.predict_proba(X)
    labels = stacker.classes_[np.argmax(proba, axis=1)]
    scores = proba.max(axis=1)
    return {
        "rules": tags,
        "stacker: all": stacked_design_rows(tags, X, labels, scores),
        "stacker: weak": stacked_design_rows(tags, X, labels, scores, only_weak_below=WEAK),
    }


def cross_validate(tagged, *, k: int, seed: int, C: float) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """One row per fold (and mean, pooled): each arm's design macro and micro F1."""
    y = _design_gold(tagged)
    records = tagged.records.assign(record_id=tagged.records["record_id"].astype(str))
    records = records.set_index("record_id").loc[y.index].reset_index()
    X = stacker_input(records, tagged.tags)
    gold = tagged.gold_rows()
    gold = gold[gold["facet"] == FACET]
    tags = tagged.tags.assign(record_id=tagged.tags["record_id"].astype(str))
    folds = stratified_folds(y.to_numpy(), k, seed)
    held: dict[str, list[pd.DataFrame]] = {}
    rows = []
    for f in range(k):
        train, test = folds != f, folds == f
        stacker = DesignStacker(C=C, random_state=seed).fit(X[train], y.to_numpy()[train])
        test_ids = set(X.loc[test, "record_id"])
        fold_tags = tags[tags["record_id"].isin(test_ids)]
        row: dict[str, object] = {"fold": str(f), "records": int(test.sum())}
        for arm, arm_tags in _arms(fold_tags, X[test].reset_index(drop=True), stacker).items():
            row[f"{arm} macro"], row[f"{arm} micro"] = _f1(arm_tags, gold, test_ids)
            held.setdefault(arm, []).append(arm_tags)
        rows.append(row)
    table = pd.DataFrame(rows)
    mean = {"fold": "mean", "records": int(table["records"].sum())}
    mean.update(table.drop(columns=["fold", "records"]).mean().to_dict())
    pooled: dict[str, object] = {"fold": "pooled", "records": len(y)}
    all_ids = set(y.index)
    for arm, parts in held.items():
        pooled[f"{arm} macro"], pooled[f"{arm} micro"] = _f1(pd.concat(parts), gold, all_ids)
    return pd.concat([table, pd.DataFrame([mean, pooled])], ignore_index=True)


def held_out(read, unseen, *, seed: int, C: float) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Fit on all read records; design macro/micro of each arm on the held-out records."""
    y = _design_gold(read)
    records = read.records.assign(record_id=read.records["record_id"].astype(str))
    records = records.set_index("record_id").loc[y.index].reset_index()
    stacker = DesignStacker(C=C, random_state=seed).fit(stacker_input(records, read.tags), y)
    ids = set(_design_gold(unseen).index)
    X = stacker_input(unseen.records[unseen.records["record_id"].astype(str).isin(ids)],
                      unseen.tags)  # fmt: skip
    gold = unseen.gold_rows()
    gold = gold[gold["facet"] == FACET]
    tags = unseen.tags.assign(record_id=unseen.tags["record_id"].astype(str))
    rows = []
    for arm, arm_tags in _arms(tags, X, stacker).items():
        macro, micro = _f1(arm_tags, gold, ids)
        rows.append({"arm": arm, "records": len(ids), "design macro": macro, "design micro": micro})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0, help="Deals the folds (and seeds the model).")
    ap.add_argument("--C", type=float, default=0.3, help="The logistic regression's C.")
    ap.add_argument("--codebook", type=Path, help="Tag with this codebook (default: package's).")
    ap.add_argument("--peer", type=Path, default=PEER)
    ap.add_argument(
        "--held-out", action="store_true",
        help="Fit on sets 1+3, print summary figures on held-out sets 2+4+5 pooled (once).",
    )  # fmt: skip
    args = ap.parse_args(argv)
    codebook = load_codebook(args.codebook) if args.codebook else None
    read = _tagged(READ_SETS, args.peer, codebook)
    fmt = {"float_format": lambda x: f"{x:.3f}", "index": False}
    if args.held_out:
        unseen = _tagged(HELD_OUT_SETS, args.peer, codebook)
        table = held_out(read, unseen, seed=args.seed, C=args.C)
        print("Design on held-out sets 2+4+5 pooled (stacker fitted on sets 1+3)")
        print(table.to_string(**fmt))
        return 0
    table = cross_validate(read, k=args.k, seed=args.seed, C=args.C)
    print(
        f"Design stacker CV over read sets 1+3: {args.k} stratified folds, seed {args.seed}, "
        f"C {args.C}; every prediction from a model that never saw the record's label"
    )
    print(table.to_string(**fmt))
    folds = table[~table["fold"].isin(["mean", "pooled"])]
    for arm in ("stacker: all", "stacker: weak"):
        gain = folds[f"{arm} macro"] - folds["rules macro"]
        micro = folds[f"{arm} micro"] - folds["rules micro"]
        print(
            f"{arm}: macro gain mean {gain.mean():+.3f} (positive in {int((gain > 0).sum())} "
            f"of {len(gain)} folds), micro gain mean {micro.mean():+.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
