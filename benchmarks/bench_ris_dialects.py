"""RIS dialects and parse speed: synth's RIS reader against ``rispy``, same run.

    python benchmarks/bench_ris_dialects.py [--peer ../shared/peer-data/formats]
                                            [--n 20000] [--repeat 3] [--out-dir /tmp/x]

Issue 19 asked whether the hand-written reader earns its place beside ``rispy``. Two parts:

1. Dialects. Every RIS-like file under ``--peer`` (the files synth sniffs as RIS) is read
   by synth (``read_file``), by bare ``rispy.load`` with its defaults, and by ``rispy`` as
   the tokeniser under synth's own mapping (identity tag map, synth's list tags, repeated
   tags kept, the same decoded text): its tag lines go through synth's ``build_record`` and
   ``normalise_records``, so any difference from synth's frame is rispy's tokenising (a
   record lost, merged, or a field cut or garbled), not a naming choice. The table prints
   per file: records each gets, synth's failure rows, rispy's error, the synth records no
   rispy-tokenised record matches exactly, and the columns that differ.
2. Speed. Parse only (text already in memory, no normalisation) of a generated file:
   ``rispy.loads`` and synth's ``readers.ris.parse``, best of ``--repeat``, ratio in the
   same process; also synth's normalisation of the parsed records, for scale.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

HERE = Path(__file__).resolve().parent
DEFAULT_PEER = HERE.parent.parent / "shared" / "peer-data" / "formats"
#: compared columns: all but where a record sits (rispy knows no lines)
SKIP = {"line", "position"}


class _Identity(dict):  # type: ignore[type-arg]
    """rispy's tag -> key map, made to keep the tag itself as the key."""

    def __missing__(self, key: str | None) -> str:
        if key is None:  # text before any tag: rispy's own "unknown tag" route
            raise KeyError(key)
        return key


def _rispy_fields(text: str) -> tuple[list[dict[str, list[str]]], str]:
    """rispy's records as synth's ``tag -> [values]``, with the most favourable options:
    every repeated tag kept (``enforce_list_tags=False``), continuation lines joined as
    rispy joins them. That option raises ``TypeError`` when a continuation line follows a
    repeated tag; the file is then read with the default (a repeated tag keeps its first
    value), and the second value says so."""
    import rispy

    from synth.corpus.readers.ris import _spec

    spec = _spec()
    lists = sorted(spec.items | set(spec.author_tags) | set(spec.keyword_tags) | set(spec.url))
    mapping = _Identity(UK="UK")
    note = ""
    try:
        raw = rispy.loads(
            text,
            mapping=mapping,
            list_tags=lists,
            delimiter_tags_mapping={},
            enforce_list_tags=False,
        )
    except TypeError:
        note = "enforce_list_tags=False raises TypeError; default used"
        raw = rispy.loads(text, mapping=mapping, list_tags=lists, delimiter_tags_mapping={})
    out = []
    for rec in raw:
        fields: dict[str, list[str]] = {}
        for k, v in rec.items():
            if isinstance(v, dict):  # rispy's unknown-tag bucket: untagged text (key None)
                for tag, vals in v.items():
                    fields.setdefault(tag or "_untagged", []).extend(vals)
            else:
                fields[k] = v if isinstance(v, list) else [v]
        out.append(fields)
    return out, note


def _rispy_frame(text: str, name: str) -> tuple[pd.DataFrame, str]:
    """rispy-tokenised records through synth's mapping, normalisation and title rule."""
    from synth.corpus.normalise import normalise_records
    from synth.corpus.readers.ris import build_record, detect_database
    from synth.corpus.reading import check_titles

    fields, note = _rispy_fields(text)
    records = [build_record(f) for f in fields]
    frame = normalise_records(
        records, source_file=name, source_format="ris", database=detect_database(fields[:200])
    )
    return check_titles(frame, [], text, name)[0], note


def _decoded(path: Path) -> str:
    """The text synth's reader sees: decoded, universal newlines, no BOM."""
    from synth.corpus.encoding import decode_bytes

    text = decode_bytes(path.read_bytes(), path).text
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.removeprefix("\ufeff")


def _row_key(row: pd.Series) -> str:
    return repr([(c, row[c]) for c in row.index if c not in SKIP])


def _compare(ours: pd.DataFrame, theirs: pd.DataFrame) -> tuple[int, int, Counter[str]]:
    """Synth records no rispy-tokenised record matches exactly, and the reverse; the
    columns (``extra`` by key) that differ, row by row when both have the same count."""
    left = Counter(_row_key(r) for _, r in ours.iterrows())
    right = Counter(_row_key(r) for _, r in theirs.iterrows())
    cols: Counter[str] = Counter()
    if len(ours) == len(theirs):
        for (_, a), (_, b) in zip(ours.iterrows(), theirs.iterrows(), strict=True):
            for c in ours.columns:
                if c in SKIP or repr(a[c]) == repr(b[c]):
                    continue
                if c == "extra":
                    for k in sorted(set(a[c]) | set(b[c])):
                        if repr(a[c].get(k)) != repr(b[c].get(k)):
                            cols[f"extra[{k}]"] += 1
                else:
                    cols[c] += 1
    return sum((left - right).values()), sum((right - left).values()), cols


def _try(fn: Callable[[], Any]) -> tuple[Any, str]:
    try:
        return fn(), ""
    except Exception as exc:  # the point is to report what each reader raises
        return None, f"{type(exc).__name__}: {str(exc)[:40]}"


def ris_files(peer: Path) -> list[Path]:
    """Files under ``peer`` that synth sniffs as RIS (whatever their extension)."""
    from synth.corpus import detect
    from synth.corpus.encoding import decode_bytes

    out = []
    for path in sorted(peer.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in {".ris", ".txt", ".nbib", ".isi"}:
            continue
        try:
            text = decode_bytes(path.read_bytes(), path).text
        except Exception:  # undecodable files are no RIS candidates
            continue
        if detect.sniff(text, path.suffix) == "ris":
            out.append(path)
    return out


def dialect_table(peer: Path) -> list[dict[str, Any]]:
    import rispy

    from synth.corpus import read_file

    rows = []
    for path in ris_files(peer):
        name = str(path.relative_to(peer))
        ours, our_err = _try(lambda p=path: read_file(p))
        bare, bare_err = _try(lambda p=path: rispy.load(p, encoding="utf-8"))
        tok, their_err = _try(lambda p=path: _rispy_frame(_decoded(p), p.name))
        theirs, note = tok if tok is not None else (None, "")
        row: dict[str, Any] = {
            "file": name,
            "synth": len(ours.records) if ours is not None else our_err,
            "synth_failed": int((ours.failures["severity"] == "error").sum())
            if ours is not None and "severity" in ours.failures
            else (len(ours.failures) if ours is not None else ""),
            "rispy": len(bare) if bare is not None else "error",
            "rispy_error": "; ".join(x for x in (bare_err, their_err, note) if x),
            "rispy_tok": len(theirs) if theirs is not None else "error",
        }
        if ours is not None and theirs is not None:
            only_ours, only_theirs, cols = _compare(ours.records, theirs)
            row["differ"] = f"{only_ours}/{only_theirs}"
            row["columns"] = ", ".join(f"{c} {n}" for c, n in cols.most_common())
        else:
            row["differ"], row["columns"] = "", ""
        rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'file':<62} {'synth':>5} {'fail':>4} {'rispy':>5} {'r-tok':>5} {'differ':>7}  "
        "columns differing (rispy-tokenised vs synth) / rispy error"
    )
    for r in rows:
        note = "; ".join(x for x in (r["columns"], r["rispy_error"]) if x)
        print(
            f"{r['file']:<62} {r['synth']!s:>5} {r['synth_failed']!s:>4} {r['rispy']!s:>5} "
            f"{r['rispy_tok']!s:>5} {r['differ']!s:>7}  {note}"
        )
    same = sum(1 for r in rows if r["differ"] == "0/0")
    print(f"{same} of {len(rows)} files: rispy-tokenised records identical to synth's")


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def parse_speed(path: Path, repeat: int) -> None:
    import rispy

    from synth.corpus.normalise import normalise_records
    from synth.corpus.readers import ris

    text = _decoded(path)
    ris.parse("TY  - JOUR\nTI  - warm\nER  - \n", "warm")  # tag tables loaded once
    r_s, r_out = _best(lambda: rispy.loads(text), repeat)
    s_s, s_out = _best(lambda: ris.parse(text, path.name), repeat)
    n_s, _ = _best(
        lambda: normalise_records(s_out.records, source_file=path.name, source_format="ris"),
        repeat,
    )
    n = len(s_out.records)
    print(f"parse only, {n:,} records ({len(text) / 1e6:.0f} MB), best of {repeat}:")
    print(f"  rispy.loads             {r_s:6.2f} s  {len(r_out) / r_s:9,.0f} rec/s")
    print(f"  synth readers.ris.parse {s_s:6.2f} s  {n / s_s:9,.0f} rec/s  {s_s / r_s:.2f}x rispy")
    print(f"  (synth normalise_records of those records: {n_s:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", type=Path, default=DEFAULT_PEER)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument("--ris", type=Path, default=None, help="a generated file to reuse")
    args = parser.parse_args()
    if args.peer.is_dir():
        print_table(dialect_table(args.peer))
    else:
        print(f"no peer files at {args.peer}: dialect table skipped")
    ris_path = args.ris
    if ris_path is None:
        sys.path.insert(0, str(HERE))
        from bench_import import generate

        out = args.out_dir or Path(tempfile.mkdtemp(prefix="synth-bench-ris-"))
        out.mkdir(parents=True, exist_ok=True)
        ris_path = generate(args.n, out)[0]
    parse_speed(ris_path, args.repeat)


if __name__ == "__main__":
    main()
