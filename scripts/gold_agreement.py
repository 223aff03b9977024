#!/usr/bin/env python3
"""Agreement between two labellers of the real-abstract gold set, and the records to adjudicate.

    python scripts/gold_agreement.py A.csv B.csv --out tests/fixtures/abstracts-gold \
        [--adjudications tests/fixtures/abstracts-gold/adjudications.csv]

Reads two label files (gold_id, the facets labelled, note; see the guideline beside
``sample.csv``: setting, country and design, or the approach), writes ``agreement.md``
(Cohen's kappa and the share labelled alike per facet, before any reconciliation) and
``disagreements.csv`` (each record and facet where the two differ, with both labels and
notes) for a third reader to adjudicate. Country and approach labels are compared as sets
(a record's several labels, in any order). With the third reader's ``adjudications.csv``
(gold_id, facet, label, reason) it also writes ``gold.csv``: the agreed label where the two
agree, the adjudicated one where they differ, beside the record's dataset and key.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from sklearn.metrics import cohen_kappa_score

#: the facets a gold set may label, in the order its files have them
GOLD_FACETS = ("setting", "country", "design", "approach")
FACETS = GOLD_FACETS[:3]  # set by main() to the facets the two files label


def normalise(facet: str, value: object) -> str:
    """One comparable string per label: country codes and approaches as sorted sets."""
    text = "" if pd.isna(value) else str(value).strip()
    if facet == "country" and text != "not-stated":
        return ";".join(sorted({c.strip().upper() for c in text.split(";") if c.strip()}))
    if facet == "approach":
        return ";".join(sorted({c.strip().lower() for c in text.split(";") if c.strip()}))
    return text.lower()


def read_labels(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"gold_id", *FACETS} - set(df.columns)
    if missing:
        raise SystemExit(f"{path}: missing columns {sorted(missing)}")
    if df["gold_id"].duplicated().any():
        raise SystemExit(
            f"{path}: gold_id twice: {sorted(df.loc[df.gold_id.duplicated(), 'gold_id'])}"
        )
    for facet in FACETS:
        df[facet] = [normalise(facet, v) for v in df[facet]]
    return df.set_index("gold_id")


def agreement(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    both = a.index.intersection(b.index)
    rows = []
    for facet in FACETS:
        x, y = a.loc[both, facet], b.loc[both, facet]
        rows.append({
            "facet": facet, "records": len(both),
            "alike": round(float((x == y).mean()), 3),
            "kappa": round(float(cohen_kappa_score(x, y)), 3),
        })  # fmt: skip
    return pd.DataFrame(rows)


def disagreements(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    both = a.index.intersection(b.index)
    rows = []
    for gid in both:
        for facet in FACETS:
            if a.at[gid, facet] != b.at[gid, facet]:
                rows.append({
                    "gold_id": gid, "facet": facet,
                    "label_a": a.at[gid, facet], "label_b": b.at[gid, facet],
                    "note_a": a.at[gid, "note"] if "note" in a else "",
                    "note_b": b.at[gid, "note"] if "note" in b else "",
                })  # fmt: skip
    return pd.DataFrame(
        rows, columns=["gold_id", "facet", "label_a", "label_b", "note_a", "note_b"]
    )


def reconcile(
    a: pd.DataFrame, b: pd.DataFrame, adjudications: pd.DataFrame, sample: pd.DataFrame
) -> pd.DataFrame:
    """The gold labels: agreed where the labellers agree, adjudicated where they differ."""
    decided = {
        (r.gold_id, r.facet): normalise(r.facet, r.label) for r in adjudications.itertuples()
    }
    open_ = [
        (r.gold_id, r.facet) for r in disagreements(a, b).itertuples()
        if (r.gold_id, r.facet) not in decided
    ]  # fmt: skip
    if open_:
        raise SystemExit(f"not adjudicated: {open_[:10]}{' ...' if len(open_) > 10 else ''}")
    gold = sample.set_index("gold_id")[["dataset", "key"]].copy()
    for facet in FACETS:
        gold[facet] = [
            a.at[gid, facet] if a.at[gid, facet] == b.at[gid, facet] else decided[(gid, facet)]
            for gid in gold.index
        ]
    return gold.reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--adjudications", type=Path, help="the third reader's decisions")
    args = parser.parse_args()
    global FACETS
    columns = set(pd.read_csv(args.a, dtype=str, nrows=0).columns)
    FACETS = tuple(f for f in GOLD_FACETS if f in columns)
    a, b = read_labels(args.a), read_labels(args.b)
    table = agreement(a, b)
    args.out.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Agreement of the two labellers (before reconciliation)",
        "",
        f"Records labelled by both: {len(a.index.intersection(b.index))}. Several labels of a",
        "record (countries, approaches) compared as sets. Computed by `scripts/gold_agreement.py`.",
        "",
        "| facet | records | labelled alike | Cohen's kappa |",
        "|---|---|---|---|",
        *(
            f"| {r.facet} | {r.records} | {r.alike:.3f} | {r.kappa:.3f} |"
            for r in table.itertuples()
        ),
        "",
    ]
    (args.out / "agreement.md").write_text("\n".join(lines), encoding="utf-8")
    disagreements(a, b).to_csv(args.out / "disagreements.csv", index=False)
    print(table.to_string(index=False))
    if args.adjudications:
        adjudications = pd.read_csv(args.adjudications, dtype=str, keep_default_na=False)
        sample = pd.read_csv(args.out / "sample.csv", dtype=str, keep_default_na=False)
        reconcile(a, b, adjudications, sample).to_csv(args.out / "gold.csv", index=False)
        print(f"wrote {args.out / 'gold.csv'} ({len(adjudications)} labels adjudicated)")


if __name__ == "__main__":
    main()
