"""Tagging benchmark: ``synth.tagging.tag`` against spaCy's bare tokenizer, same run.

    python benchmarks/bench_tag.py [--quick] [--sizes 10000 100000] [--seed 0] [--no-peer]

Generates N synthetic records (``synth.corpus.synthetic.generate_records``: health-services
titles, ~220-word structured abstracts, keywords, venues) and prints, for each N:

  * the bare ``spacy.blank("en")`` tokenizer over the same texts tag() tokenises (title,
    keywords and abstract of each record), and over the abstracts alone;
  * ``tag(records)`` in one process: records/s, words/s, and its ratio to the tokenizer
    (target: at least 1/3 of the tokenizer's records/s);
  * on the largest N, ``tag(records, n_process=2)`` against one process (target: 1.6x;
    the one-process run is repeated right after, and the faster of the two is used).

Then the same over the real titles and abstracts of the peer screening sets
(``../shared/peer-data/screening/``), when they sit beside the project.

Both sides are warmed up first on 2,000 other records (the tokenizer keeps a per-word
cache; the tagger builds its pipeline once per process). The machine's load average is
printed before and after: other work on the same cores slows the parallel run most.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _texts(records: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Per record: title + keywords + abstract (what tag() tokenises), and the abstract."""
    joined, abstracts = [], []
    for title, keywords, abstract in zip(
        records["title"], records["keywords"], records["abstract"], strict=True
    ):
        parts = [title] if isinstance(title, str) else []
        if isinstance(keywords, list):
            parts.extend(k for k in keywords if isinstance(k, str))
        if isinstance(abstract, str):
            parts.append(abstract)
            abstracts.append(abstract)
        joined.append("\n\n".join(parts))
    return joined, abstracts


def _timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    gc.collect()
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def bench(n: int, seed: int, parallel: bool) -> dict[str, float]:
    from synth.corpus.synthetic import generate_records

    records, _ = generate_records(n, dup_rate=0.0, hard_rate=0.0, seed=seed)
    # Both sides are warmed on other records of the same kind (another seed): the
    # tokenizer caches each word it has seen, and the tagger builds its pipeline once.
    warm, _ = generate_records(2000, dup_rate=0.0, hard_rate=0.0, seed=seed + 1)
    return compare(records, warm, f"{n:,} synthetic records", parallel)


def bench_peer() -> dict[str, float] | None:
    """The same comparison on real titles and abstracts: the labelled screening sets of
    published reviews in ``../shared/peer-data/screening/`` (read in place), when present.
    Their topics (drug classes, software engineering, public administration) are far from
    co-production, so fewer cues fire than in the synthetic records."""
    from synth.corpus.reading import read_file

    folder = ROOT.parent / "shared" / "peer-data" / "screening"
    files = sorted(folder.glob("*.csv"))
    if not files:
        print(f"\n(no peer screening sets at {folder}: real-abstract run skipped)")
        return None
    frames = [read_file(f).records for f in files]
    records = pd.concat(frames, ignore_index=True)
    records["record_id"] = range(len(records))
    half = len(records) // 5  # warm on a fifth, time on the rest
    warm, timed = records.iloc[:half], records.iloc[half:].reset_index(drop=True)
    return compare(timed, warm, f"{len(timed):,} real records ({len(files)} peer sets)", True)


def compare(
    records: pd.DataFrame, warm: pd.DataFrame, name: str, parallel: bool
) -> dict[str, float]:
    """Tokenizer, tag() and (``parallel``) tag(n_process=2) over ``records``, after
    warming both sides on ``warm``."""
    import spacy

    from synth.tagging import load_codebook, tag

    n = len(records)
    texts, abstracts = _texts(records)
    words = sum(len(t.split()) for t in texts)
    print(f"\n== {name} ({len(abstracts):,} with abstracts), {words / n:.0f} words each ==")

    nlp = spacy.blank("en")
    for _ in nlp.tokenizer.pipe(_texts(warm)[0]):
        pass
    codebook = load_codebook()
    tag(warm, codebook=codebook)

    def tokenize() -> int:
        return sum(1 for _ in nlp.tokenizer.pipe(texts))

    # the machine's speed drifts (shared cores): time the baseline before and after tag()
    t_before, _ = _timed(tokenize)
    t_tag, tags = _timed(tag, records, codebook=codebook)
    t_after, _ = _timed(tokenize)
    t_abs, _ = _timed(lambda: sum(1 for _ in nlp.tokenizer.pipe(abstracts)))
    rows = len(tags)
    del tags
    t_tok = (t_before + t_after) / 2

    tok_rate, tag_rate = n / t_tok, n / t_tag
    print(
        f"bare tokenizer, same texts : {tok_rate:9,.0f} records/s {words / t_tok:12,.0f} words/s"
        f"  (before {n / t_before:,.0f}, after {n / t_after:,.0f})"
    )
    print(f"bare tokenizer, abstracts  : {len(abstracts) / t_abs:9,.0f} abstracts/s")
    print(f"tag(), 1 process           : {tag_rate:9,.0f} records/s {words / t_tag:12,.0f} words/s")
    print(f"  {rows:,} tag rows ({rows / n:.1f} per record)")
    ratio = tag_rate / tok_rate
    verdict = "meets" if ratio >= 1 / 3 else "misses"
    print(f"  tag() / bare tokenizer   : {ratio:.2f} ({verdict} the 1/3 target)")
    out = {"records": n, "tokenizer_rate": tok_rate, "tag_rate": tag_rate, "ratio": ratio}
    if parallel:
        t_two, tags = _timed(tag, records, codebook=codebook, n_process=2)
        del tags
        t_one, tags = _timed(tag, records, codebook=codebook)  # again, right beside it
        del tags
        t_one = min(t_one, t_tag)
        speedup = t_one / t_two
        verdict = "meets" if speedup >= 1.6 else "misses"
        print(f"tag(), 2 processes         : {n / t_two:9,.0f} records/s")
        print(f"  speed-up over 1 process  : {speedup:.2f}x ({verdict} the 1.6x target)")
        out["speedup"] = speedup
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 records only")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-peer", action="store_true", help="skip the real-abstract run")
    args = parser.parse_args()
    sizes = [10_000] if args.quick else sorted(args.sizes)
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs; {_load()}")
    for i, n in enumerate(sizes):
        bench(n, args.seed, parallel=i == len(sizes) - 1)
    if not args.no_peer:
        bench_peer()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory {peak:,.0f} MB (this process); {_load()}")


if __name__ == "__main__":
    main()
