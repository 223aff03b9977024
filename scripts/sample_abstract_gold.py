#!/usr/bin/env python3
"""Draw the records of the real-abstract gold set (issue 16): which records, not their text.

The gold set measures the tagger on abstracts its codebook was not written from: health
services (Nagtegaal 2019, nudging clinicians), clinical trials (the six Cohen 2006 drug
classes) and population cohorts (van de Schoot's PTSD trajectories). Records come from
``../shared/peer-data/`` and stay there: the sample names each record by its dataset and
its id (or its position in an RIS file) plus a hash of its title, so a labeller reads the
text from peer-data and a test can check that it still points at the same record.

    python scripts/sample_abstract_gold.py   # -> tests/fixtures/abstracts-gold/sample.csv
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEER = ROOT.parent / "shared" / "peer-data"
OUT = ROOT / "tests" / "fixtures" / "abstracts-gold" / "sample.csv"
SEED = 16
MIN_WORDS = 60  # an abstract, not a title with a sentence
#: dataset -> how many records; the screening CSVs by record_id, the RIS file by position
PLAN = {
    "screening/Nagtegaal_2019.csv": 120,
    "screening/cohen2006_ADHD.csv": 20,
    "screening/cohen2006_Antihistamines.csv": 20,
    "screening/cohen2006_AtypicalAntipsychotics.csv": 20,
    "screening/cohen2006_BetaBlockers.csv": 20,
    "screening/cohen2006_Estrogens.csv": 20,
    "screening/cohen2006_NSAIDS.csv": 20,
    "formats/screening-ptsd-vandeschoot-included-ris/schoot-lgmm-ptsd-included-1.ris": 60,
}


def title_hash(title: str) -> str:
    """A short, whitespace- and case-insensitive fingerprint of a title."""
    return hashlib.sha1(" ".join(title.lower().split()).encode("utf-8")).hexdigest()[:12]


def candidates(dataset: str) -> list[tuple[str, str]]:
    """(record key, title) of every record in ``dataset`` with an abstract of MIN_WORDS."""
    path = PEER / dataset
    if path.suffix == ".csv":
        csv.field_size_limit(1 << 30)
        with path.open(encoding="utf-8", newline="") as fh:
            return [
                (row["record_id"], row["title"])
                for row in csv.DictReader(fh)
                if len((row.get("abstract") or "").split()) >= MIN_WORDS and row["title"]
            ]
    import synth.corpus

    records = synth.corpus.read(path).records
    keep = records["abstract"].fillna("").str.split().str.len() >= MIN_WORDS
    return [(str(p), str(t)) for p, t in records.loc[keep, ["position", "title"]].values]


def sample() -> list[dict[str, str]]:
    rng = random.Random(SEED)
    rows = []
    for dataset, n in PLAN.items():
        for key, title in sorted(rng.sample(candidates(dataset), n), key=lambda kt: kt[0]):
            rows.append({"dataset": dataset, "key": key, "title_sha1": title_hash(title)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rows = sample()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["gold_id", "dataset", "key", "title_sha1"])
        writer.writeheader()
        for n, row in enumerate(rows, start=1):
            writer.writerow({"gold_id": f"g{n:03d}", **row})
    print(f"wrote {len(rows)} records to {args.out}")


if __name__ == "__main__":
    main()
