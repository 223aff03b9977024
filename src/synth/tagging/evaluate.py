"""Measure tags against a hand-labelled gold standard.

A first-pass tagger is only worth trusting as far as it has been measured. This module
compares tag rows (the ``tag()`` output: ``record_id, facet, label, score, ...``) with gold
labels written by a reviewer (the KEI gold is ``tests/fixtures/kei-gold/gold.csv``; rules in
the labelling guideline beside it) and reports, per facet, per-label precision, recall, F1
and support, micro and macro averages, and a confusion table.

Facets are multi-label: each (record, facet) has a set of gold labels and a set of predicted
labels, compared label by label. Two gold labels are special (see the guideline):

- ``unclear``: the record's text does not let a reviewer decide. Such records are left out
of that facet's scores and counted separately. - ``not-applicable``: no label of the facet
applies. A tagger that gives the record no label for the facet is right, as is one that
predicts ``not-applicable``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from synth.tagging.describe import COUNTED_SCORE, counted_tags

log = logging.getLogger(__name__)

UNCLEAR = "unclear"
NOT_APPLICABLE = "not-applicable"
#: the row/column of a confusion table for "no label"
NONE = "none"

PER_LABEL_COLUMNS = [
    "facet",
    "label",
    "support",
    "predicted",
    "tp",
    "fp",
    "fn",
    "precision",
    "recall",
    "f1",
]
AVERAGE_COLUMNS = ["facet", "average", "precision", "recall", "f1", "support"]
COVERAGE_COLUMNS = ["facet", "gold_records", "scored", "unclear"]


@dataclass
class EvaluationResult:
    """Scores of one evaluation; every part is a DataFrame so notebooks can slice it.

    Attributes
    ----------
    per_label
        One row per (facet, label): ``support`` (scored records whose gold has the label),
        ``predicted`` (scored records the tagger gave it), ``tp``, ``fp``, ``fn``,
        ``precision``, ``recall``, ``f1`` (0 where undefined, as scikit-learn's
        ``zero_division=0``).
    averages
        Per facet and over all facets (``facet == "all"``): ``micro`` (from summed counts)
        and ``macro`` (mean of the per-label scores) precision, recall, F1.
    confusion
        Per facet, gold label (rows) by predicted label (columns) counts, with ``none`` for
        no label. In each record the labels both sides share are counted on the diagonal;
        the remaining gold labels are crossed with the remaining predicted labels (or
        ``none``). Predictions are shown as the tagger made them: a record whose gold is
        ``not-applicable`` and which got no label sits in the ``none`` column, although
        the scores count it as right.
    coverage
        Per facet: records with gold, records scored, records left out as ``unclear``.
    """

    per_label: pd.DataFrame
    averages: pd.DataFrame
    confusion: dict[str, pd.DataFrame]
    coverage: pd.DataFrame
    threshold: float
    unmatched_keys: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        """A plain, aligned text report (for the CLI and logs)."""
        parts = [f"Evaluation against gold labels (tags with score >= {self.threshold:g})", ""]
        parts += ["Records per facet", _table(self.coverage), ""]
        parts += ["Per label", _table(self.per_label), ""]
        parts += ["Averages", _table(self.averages), ""]
        for facet, table in self.confusion.items():
            parts += [f"Confusion: {facet} (rows gold, columns predicted)"]
            parts += [table.to_string() if not table.empty else "(nothing scored)", ""]
        if self.unmatched_keys:
            parts += ["Gold keys with no record: " + ", ".join(self.unmatched_keys), ""]
        return "\n".join(parts).rstrip() + "\n"


def _table(df: pd.DataFrame) -> str:
    if df.empty:
        return "(none)"
    return df.to_string(index=False, float_format=lambda x: f"{x:.3f}")


def load_gold(path: Path | str) -> pd.DataFrame:
    """Read a gold CSV (``key`` or ``record_id``, ``facet``, ``label``; other columns kept).

    Every value is read as text, blanks stay empty strings (a label is never NaN).
    """
    path = Path(path)
    gold = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    _check_gold_columns(gold, str(path))
    for column in ("facet", "label"):
        gold[column] = gold[column].str.strip()
    return gold


def _check_gold_columns(gold: pd.DataFrame, name: str = "gold") -> None:
    missing = {"facet", "label"} - set(gold.columns)
    if missing:
        raise ValueError(f"{name}: missing column(s) {sorted(missing)}")
    if "record_id" not in gold.columns and "key" not in gold.columns:
        raise ValueError(f"{name}: needs a 'record_id' or a 'key' column")


def gold_record_ids(gold: pd.DataFrame, records: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Give gold rows keyed by ``key`` the ``record_id`` of every record with that source key.

    A key shared by two records (a reference and its full text) labels both. Returns the
    mapped gold and the keys no record has (so a typo is reported, not silently dropped).
    """
    if "key" not in gold.columns:
        raise ValueError("gold has no 'key' column to map")
    keys = records[["source_key", "record_id"]].dropna()
    keys = keys.astype({"source_key": str})
    mapped = gold.drop(columns=["record_id"], errors="ignore").merge(
        keys, left_on="key", right_on="source_key", how="left"
    )
    unmatched = sorted(set(mapped.loc[mapped["record_id"].isna(), "key"]))
    if unmatched:
        log.warning("%d gold key(s) match no record: %s", len(unmatched), ", ".join(unmatched))
    mapped = mapped.dropna(subset=["record_id"]).drop(columns=["source_key"])
    return mapped.reset_index(drop=True), unmatched


def evaluate(
    tags: pd.DataFrame,
    gold: pd.DataFrame,
    *,
    records: pd.DataFrame | None = None,
    facets: Sequence[str] | None = None,
    threshold: float = COUNTED_SCORE,
    label_map: Mapping[str, Mapping[str, str]] | None = None,
) -> EvaluationResult:
    """Score ``tags`` against ``gold`` per facet and label.

    Parameters
    ----------
    tags
        Tag rows with ``record_id, facet, label`` and, optionally, ``score``.
    gold
        Gold rows with ``facet, label`` and ``record_id`` or ``key`` (a BibTeX/full-text
        key, mapped through ``records.source_key``).
    records
        The corpus records; needed when gold is keyed by ``key``.
    facets
        Facets to score (default: every facet in gold, in order of appearance).
    threshold
        Tags with a ``score`` below this are not predictions.
    label_map
        Per facet, predicted label -> gold label, to fold finer tagger labels into the
        guideline's (e.g. ``{"country": {"wales": "uk"}}``).

    Returns
    -------
    EvaluationResult
    """
    _check_gold_columns(gold)
    unmatched: list[str] = []
    if "record_id" not in gold.columns:
        if records is None:
            raise ValueError("gold is keyed by 'key': pass records= to map keys to record ids")
        gold, unmatched = gold_record_ids(gold, records)
    gold = gold[gold["label"].astype(str).str.strip() != ""]
    if facets is None:
        facets = list(dict.fromkeys(gold["facet"]))
    gold_sets = _label_sets(gold, facets)
    pred_sets = _label_sets(_predictions(tags, facets, threshold, label_map), facets)

    rows: list[dict] = []
    coverage: list[dict] = []
    confusion: dict[str, pd.DataFrame] = {}
    for facet in facets:
        counts: dict[str, Counter[str]] = {k: Counter() for k in ("tp", "fp", "fn", "sup", "pred")}
        pairs: Counter[tuple[str, str]] = Counter()
        in_gold = {rid: labels for (rid, f), labels in gold_sets.items() if f == facet}
        unclear = 0
        for rid, g in in_gold.items():
            if UNCLEAR in g:
                unclear += 1
                continue
            raw = pred_sets.get((rid, facet), set())
            p = _scored(g, raw)
            counts["tp"].update(g & p)
            counts["fn"].update(g - p)
            counts["fp"].update(p - g)
            counts["sup"].update(g)
            counts["pred"].update(p)
            pairs.update(_confusion_pairs(g, raw))
        coverage.append(
            {
                "facet": facet,
                "gold_records": len(in_gold),
                "scored": len(in_gold) - unclear,
                "unclear": unclear,
            }
        )
        labels = sorted(set(counts["sup"]) | set(counts["pred"]))
        for label in labels:
            tp, fp, fn = counts["tp"][label], counts["fp"][label], counts["fn"][label]
            rows.append(
                {
                    "facet": facet,
                    "label": label,
                    "support": counts["sup"][label],
                    "predicted": counts["pred"][label],
                    "tp": tp,
                    "fp": fp,
                    "fn": fn,
                    **_prf(tp, fp, fn),
                }
            )
        confusion[facet] = _confusion_frame(pairs)
    per_label = pd.DataFrame(rows, columns=PER_LABEL_COLUMNS)
    return EvaluationResult(
        per_label=per_label,
        averages=_averages(per_label, facets),
        confusion=confusion,
        coverage=pd.DataFrame(coverage, columns=COVERAGE_COLUMNS),
        threshold=threshold,
        unmatched_keys=unmatched,
    )


def record_outcomes(
    tags: pd.DataFrame,
    gold: pd.DataFrame,
    *,
    facets: Sequence[str],
    threshold: float = COUNTED_SCORE,
    label_map: Mapping[str, Mapping[str, str]] | None = None,
) -> pd.DataFrame:
    """Each gold record's part in :func:`evaluate`'s counts: one row per record, facet and
    label it counts for (``record_id, facet, label, tp, fp, fn``, each 0 or 1), so that the
    counts of any weighting of the records (a bootstrap sample: a record drawn twice counts
    twice) are these rows' weighted sums. ``gold`` is keyed by ``record_id``; records whose
    gold is ``unclear`` are left out, as :func:`evaluate` leaves them."""
    _check_gold_columns(gold)
    gold = gold[gold["label"].astype(str).str.strip() != ""]
    gold_sets = _label_sets(gold, facets)
    pred_sets = _label_sets(_predictions(tags, facets, threshold, label_map), facets)
    rows = []
    for (rid, facet), g in gold_sets.items():
        if UNCLEAR in g:
            continue
        p = _scored(g, pred_sets.get((rid, facet), set()))
        for label in sorted(g | p):
            hit, said = label in g, label in p
            rows.append((rid, facet, label, int(hit and said), int(said and not hit),
                         int(hit and not said)))  # fmt: skip
    return pd.DataFrame(rows, columns=["record_id", "facet", "label", "tp", "fp", "fn"])


def _scored(gold: set[str], predicted: set[str]) -> set[str]:
    """The labels predicted for a record as they are scored: no label where the gold says
    ``not-applicable`` is that label, right."""
    return {NOT_APPLICABLE} if (not predicted and gold == {NOT_APPLICABLE}) else predicted


def _predictions(
    tags: pd.DataFrame,
    facets: Sequence[str],
    threshold: float,
    label_map: Mapping[str, Mapping[str, str]] | None,
) -> pd.DataFrame:
    missing = {"record_id", "facet", "label"} - set(tags.columns)
    if missing:
        raise ValueError(f"tags: missing column(s) {sorted(missing)}")
    pred = counted_tags(tags[tags["facet"].isin(facets)], threshold)
    pred = pred[["record_id", "facet", "label"]].copy()
    if label_map:
        pred["label"] = [
            label_map.get(f, {}).get(lab, lab)
            for f, lab in zip(pred["facet"], pred["label"], strict=True)
        ]
    return pred


def _label_sets(df: pd.DataFrame, facets: Sequence[str]) -> dict[tuple[str, str], set[str]]:
    wanted = set(facets)
    sets: dict[tuple[str, str], set[str]] = {}
    for rid, facet, label in zip(df["record_id"], df["facet"], df["label"], strict=True):
        if facet in wanted:
            sets.setdefault((str(rid), facet), set()).add(str(label))
    return sets


def _confusion_pairs(gold: set[str], pred: set[str]) -> list[tuple[str, str]]:
    shared = gold & pred
    pairs = [(label, label) for label in sorted(shared)]
    rest_gold = sorted(gold - shared) or [NONE]
    rest_pred = sorted(pred - shared) or [NONE]
    if rest_gold == [NONE] and rest_pred == [NONE]:
        return pairs
    return pairs + [(g, p) for g in rest_gold for p in rest_pred]


def _confusion_frame(pairs: Counter[tuple[str, str]]) -> pd.DataFrame:
    rows = sorted({g for g, _ in pairs}, key=lambda x: (x == NONE, x))
    cols = sorted({p for _, p in pairs}, key=lambda x: (x == NONE, x))
    table = pd.DataFrame(0, index=pd.Index(rows, name="gold"), columns=cols, dtype=int)
    for (g, p), n in pairs.items():
        table.loc[g, p] = n
    table.columns.name = "predicted"
    return table


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _averages(per_label: pd.DataFrame, facets: Sequence[str]) -> pd.DataFrame:
    rows = []
    for name, part in [
        *((f, per_label[per_label["facet"] == f]) for f in facets),
        ("all", per_label),
    ]:
        if part.empty:
            continue
        tp, fp, fn = (int(part[c].sum()) for c in ("tp", "fp", "fn"))
        support = int(part["support"].sum())
        rows.append({"facet": name, "average": "micro", **_prf(tp, fp, fn), "support": support})
        macro = {k: float(part[k].mean()) for k in ("precision", "recall", "f1")}
        rows.append({"facet": name, "average": "macro", **macro, "support": support})
    return pd.DataFrame(rows, columns=AVERAGE_COLUMNS)
