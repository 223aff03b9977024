#!/usr/bin/env python3
"""Draw the records of the real-abstract gold set (issue 16): which records, not their text.

The gold set measures the tagger on abstracts its codebook was not written from: health
services (Nagtegaal 2019, nudging clinicians), clinical trials (the six Cohen 2006 drug
classes) and population cohorts (van de Schoot's PTSD trajectories). Records come from
``../shared/peer-data/`` and stay there: the sample names each record by its dataset and
its id (or its position in an RIS file) plus a hash of its title, so a labeller reads the
text from peer-data and a test can check that it still points at the same record.

    python scripts/sample_abstract_gold.py           # -> tests/fixtures/abstracts-gold/sample.csv
    python scripts/sample_abstract_gold.py --set 2   # -> tests/fixtures/abstracts-gold-2/sample.csv
    python scripts/sample_abstract_gold.py --set 3   # -> tests/fixtures/abstracts-gold-3/sample.csv
    python scripts/sample_abstract_gold.py --set 4   # -> tests/fixtures/abstracts-gold-4/sample.csv
    python scripts/sample_abstract_gold.py --set 5   # -> tests/fixtures/abstracts-gold-5/sample.csv
    python scripts/sample_abstract_gold.py --set 6   # -> tests/fixtures/abstracts-gold-6/sample.csv
    python scripts/sample_abstract_gold.py --set 7   # -> tests/fixtures/abstracts-gold-7/sample.csv

Set 2 is a second, wholly held-out set drawn later (issue 16, second session) from the same
datasets' other records and from further sources (the asreview demo exports: clinical
reviews, gastroenterology, forensic psychology; Kitchenham's software-engineering
reviews), never a record of set 1 (by title) and no title twice.

Set 3 (issue 16, fourth session) is drawn from the same sources' remaining records, never a
record of sets 1 or 2: new material to read the tagger's errors on and to train from,
while set 2 stays held out.

Set 4 (issue 16, fifth session) is drawn from what the sources still hold, never a record
of sets 1 to 3: a second held-out set, measured first before any rule of that session and
then kept unread, beside set 2.

Set 5 (issue 16, ninth session) is a third held-out set from what the sources still hold,
never a record of sets 1 to 4: two thirds health services (the kind closest to the
co-production literature), so that the figure a new corpus should expect rests on three
unread sets of 877 abstracts rather than two.

Set 6 (issue 16, twelfth session) is software engineering only (Kitchenham 2010's
records, none of sets 1 to 5's or the approach set's titles): the held-out sets showed
design weakest there (micro-F1 0.43 on their 95 such records) while the read sets held
only 25 of them, so there was nothing to read the errors on. It is read, like sets 1
and 3; the held-out sets' Kitchenham records stay unread.

Set 7 (issue 16, twelfth session) is health services and drug trials (Nagtegaal 2019 150,
the six Cohen 2006 classes 8 each), none of sets 1 to 6's or the approach set's titles:
the kind closest to the co-production literature, where the held-out sets' design is
weakest among health sources (Nagtegaal macro-F1 0.44), read to find families of errors
that sets 1 and 3 hold too few of.
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
OUT_2 = ROOT / "tests" / "fixtures" / "abstracts-gold-2" / "sample.csv"
OUT_3 = ROOT / "tests" / "fixtures" / "abstracts-gold-3" / "sample.csv"
OUT_4 = ROOT / "tests" / "fixtures" / "abstracts-gold-4" / "sample.csv"
OUT_5 = ROOT / "tests" / "fixtures" / "abstracts-gold-5" / "sample.csv"
OUT_6 = ROOT / "tests" / "fixtures" / "abstracts-gold-6" / "sample.csv"
OUT_7 = ROOT / "tests" / "fixtures" / "abstracts-gold-7" / "sample.csv"
APPROACH_SAMPLE = ROOT / "tests" / "fixtures" / "approach-gold" / "sample.csv"
SEED = 16
SEED_2 = 1602
SEED_3 = 1603
SEED_4 = 1604
SEED_5 = 1605
SEED_6 = 1606
SEED_7 = 1607
MIN_WORDS = 60  # an abstract, not a title with a sentence
#: Cohen 2006's drug-class screening sets, sampled alike in every plan.
COHEN_CLASSES = ("ADHD", "Antihistamines", "AtypicalAntipsychotics", "BetaBlockers", "Estrogens",
                 "NSAIDS")  # fmt: skip


def _cohen(n: int) -> dict[str, int]:
    """``n`` records from each Cohen 2006 class, in the order every plan lists them."""
    return {f"screening/cohen2006_{c}.csv": n for c in COHEN_CLASSES}


#: dataset -> how many records; the screening CSVs by record_id, the RIS file by position
PLAN = {
    "screening/Nagtegaal_2019.csv": 120,
    **_cohen(20),
    "formats/screening-ptsd-vandeschoot-included-ris/schoot-lgmm-ptsd-included-1.ris": 60,
}
#: Set 2: more of the same datasets (other records) and sources set 1 does not have.
PLAN_2 = {
    "screening/Nagtegaal_2019.csv": 100,
    **_cohen(8),
    "screening/Kitchenham_2010.csv": 15,
    "formats/screening-ptsd-vandeschoot-included-ris/schoot-lgmm-ptsd-included-1.ris": 40,
    "formats/asreview-demo-data/_baseline.ris": 40,
    "formats/asreview-demo-data/scopus.ris": 6,
    "formats/asreview-demo-data/ovid_psycinfo.ris": 6,
    "formats/asreview-demo-data/embase.ris": 6,
    "formats/asreview-demo-data/pubmed_zotero.ris": 6,
    "formats/asreview-demo-data/web_of_science.txt": 10,
}

#: Set 3: the same sources' remaining records (health services weighted, as in set 1).
PLAN_3 = {
    "screening/Nagtegaal_2019.csv": 150,
    **_cohen(7),
    "screening/Kitchenham_2010.csv": 25,
    "formats/screening-ptsd-vandeschoot-included-ris/schoot-lgmm-ptsd-included-1.ris": 40,
    "formats/asreview-demo-data/_baseline.ris": 40,
    "formats/asreview-demo-data/proquest.ris": 6,
}

#: Set 4: what is left (the asreview exports are used up but for 16 baseline records).
PLAN_4 = {
    "screening/Nagtegaal_2019.csv": 155,
    **_cohen(7),
    "screening/Kitchenham_2010.csv": 40,
    "formats/screening-ptsd-vandeschoot-included-ris/schoot-lgmm-ptsd-included-1.ris": 47,
    "formats/asreview-demo-data/_baseline.ris": 16,
}

#: Set 5: health services weighted (the PTSD cohorts and the asreview exports are used up).
PLAN_5 = {
    "screening/Nagtegaal_2019.csv": 200,
    **_cohen(10),
    "screening/Kitchenham_2010.csv": 40,
}

#: Set 6: software engineering, the source the read sets held least of.
PLAN_6 = {"screening/Kitchenham_2010.csv": 150}
#: Set 7: health services and drug trials, read.
PLAN_7 = {
    "screening/Nagtegaal_2019.csv": 150,
    **_cohen(8),
}

#: set -> (its plan, its seed, where its sample is written): one row per set
SETS = {
    1: (PLAN, SEED, OUT),
    2: (PLAN_2, SEED_2, OUT_2),
    3: (PLAN_3, SEED_3, OUT_3),
    4: (PLAN_4, SEED_4, OUT_4),
    5: (PLAN_5, SEED_5, OUT_5),
    6: (PLAN_6, SEED_6, OUT_6),
    7: (PLAN_7, SEED_7, OUT_7),
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


def sample(which: int = 1) -> list[dict[str, str]]:
    """Set 1 to 7: none of an earlier set's titles, no title twice, fewer records where
    a source has fewer eligible ones."""
    plan, seed, _ = SETS[which]
    rng = random.Random(seed)
    seen = {row["title_sha1"] for earlier in range(1, which) for row in sample(earlier)}
    if which >= 6:  # nor a record the approach set labelled
        with APPROACH_SAMPLE.open(encoding="utf-8", newline="") as fh:
            seen |= {row["title_sha1"] for row in csv.DictReader(fh)}
    rows = []
    for dataset, n in plan.items():
        pool = candidates(dataset)
        if which > 1:
            pool = [(k, t) for k, t in pool if title_hash(t) not in seen]
            pool = list({title_hash(t): (k, t) for k, t in pool}.values())
        drawn = sorted(rng.sample(pool, min(n, len(pool))), key=lambda kt: kt[0])
        for key, title in drawn:
            seen.add(title_hash(title))
            rows.append({"dataset": dataset, "key": key, "title_sha1": title_hash(title)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=int, choices=tuple(SETS), default=1, dest="which")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    args.out = args.out or SETS[args.which][2]
    write_sample(sample(args.which), args.out, prefix="g")


def write_sample(rows: list[dict[str, str]], out: Path, *, prefix: str) -> None:
    """``sample.csv``: the drawn records numbered ``<prefix>001`` on, in drawing order."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["gold_id", "dataset", "key", "title_sha1"])
        writer.writeheader()
        for n, row in enumerate(rows, start=1):
            writer.writerow({"gold_id": f"{prefix}{n:03d}", **row})
    print(f"wrote {len(rows)} records to {out}")


if __name__ == "__main__":
    main()
