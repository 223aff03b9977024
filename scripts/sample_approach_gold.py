#!/usr/bin/env python3
"""Draw the records of the approach gold set: which records, not their text.

The approach facet (EBCD, co-design, co-production, PPI, shared decision making,
self-management, Always Events) is the evidence map's second axis, and until this set it
was measured only on the bundled corpus its cues were written from. Approaches are rare in
the peer screening datasets, so a plain random sample would hold few of them: two thirds
of the records are drawn among those whose title or abstract uses a word that
co-production papers also use (:data:`BROAD`: involvement, engagement, participation,
partnership, decision aids, self-management ...; a test of the words, not of the tagger),
one third among the rest. Each source's records are split the same way.

    python scripts/sample_approach_gold.py   # -> tests/fixtures/approach-gold/sample.csv

No record of the setting/country/design gold sets (``abstracts-gold*``, by title) is drawn,
and no title twice. Records stay in ``../shared/peer-data/``.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sample_abstract_gold import MIN_WORDS, PEER, ROOT, title_hash, write_sample

OUT = ROOT / "tests" / "fixtures" / "approach-gold" / "sample.csv"
SEED = 1701
#: words co-production papers use, and many other papers too (matched case-insensitively)
BROAD = re.compile(
    r"involv|engag|particip|partner|co-?design|co-?produc|co-?creat|user[- ]?cent|"
    r"human[- ]cent|patient[- ]cent|decision aid|shared decision|informed choice|"
    r"self[- ]?manag|self[- ]?care|activation|coach|experience[- ]based|always events|"
    r"preference|empower|consumer|stakeholder|\bcommunit|\bppi\b|\bsdm\b|\bebd\b",
    re.IGNORECASE,
)
#: dataset -> (records whose text uses a BROAD word, records whose text does not)
PLAN = {
    "screening/Nagtegaal_2019.csv": (100, 50),
    "screening/Kitchenham_2010.csv": (50, 25),
    "screening/cohen2006_ADHD.csv": (8, 4),
    "screening/cohen2006_Antihistamines.csv": (8, 4),
    "screening/cohen2006_AtypicalAntipsychotics.csv": (9, 5),
    "screening/cohen2006_BetaBlockers.csv": (9, 4),
    "screening/cohen2006_Estrogens.csv": (8, 4),
    "screening/cohen2006_NSAIDS.csv": (8, 4),
}


#: The setting/country/design gold sets drawn before this one (set 6 was drawn after it,
#: apart from it)
EARLIER_SETS = ("abstracts-gold", *(f"abstracts-gold-{n}" for n in range(2, 6)))


def _gold_titles() -> set[str]:
    """Title hashes of every record of the setting/country/design gold sets before it."""
    seen = set()
    for folder in EARLIER_SETS:
        with (ROOT / "tests" / "fixtures" / folder / "sample.csv").open(
            encoding="utf-8", newline=""
        ) as fh:
            seen |= {row["title_sha1"] for row in csv.DictReader(fh)}
    return seen


def _pools(dataset: str, seen: set[str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(key, title) of the dataset's eligible records: those using a BROAD word, the rest."""
    csv.field_size_limit(1 << 30)
    broad, rest, titles = [], [], set()
    with (PEER / dataset).open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            title, abstract = row.get("title") or "", row.get("abstract") or ""
            digest = title_hash(title)
            if not title or len(abstract.split()) < MIN_WORDS or digest in seen | titles:
                continue
            titles.add(digest)
            text = f"{title} {row.get('keywords') or ''} {abstract}"
            (broad if BROAD.search(text) else rest).append((row["record_id"], title))
    return broad, rest


def sample() -> list[dict[str, str]]:
    rng, seen, rows = random.Random(SEED), _gold_titles(), []
    for dataset, (n_broad, n_rest) in PLAN.items():
        broad, rest = _pools(dataset, seen)
        drawn = rng.sample(broad, min(n_broad, len(broad)))
        drawn += rng.sample(rest, min(n_rest, len(rest)))
        for key, title in sorted(drawn, key=lambda kt: kt[0]):
            seen.add(title_hash(title))
            rows.append({"dataset": dataset, "key": key, "title_sha1": title_hash(title)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    write_sample(sample(), args.out, prefix="a")


if __name__ == "__main__":
    main()
