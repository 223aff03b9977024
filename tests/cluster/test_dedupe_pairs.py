"""The cluster dedupe's shuffle carries blocking keys, not features: the keys block the
records the single path blocks (whichever partition computed them), a bucket of candidate
pairs counts each pair once and asks its partitions only for the records of the pairs
worth scoring and of the identifiers two records share, and a frame is cut into as many
partitions (of even sizes) for every worker.

These call the workers' functions in this process (no cluster needed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth.corpus.dedupe import _features, _token_group_keys, dedupe_rules
from synth.corpus.synthetic import generate_records
from synth.distributed.dedupe import (
    _DOI,
    _EXACT,
    _TOKENS,
    _block_entries,
    _call,
    _read_files,
    _remove_run_folder,
    _select,
    _sources,
)


def _blocks(entity: np.ndarray, key: np.ndarray) -> set[frozenset[int]]:
    """The blocks of two or more records that ``key`` makes."""
    out: dict[object, set[int]] = {}
    for e, k in zip(entity.tolist(), key.tolist(), strict=True):
        out.setdefault(k, set()).add(e)
    return {frozenset(v) for v in out.values() if len(v) > 1}


def test_hashed_keys_block_the_records_the_single_path_blocks() -> None:
    records, _ = generate_records(3000, seed=4)
    f = _features(records)
    title, _ = _block_entries(f, np.arange(len(f), dtype=np.int64))
    parts = int(dedupe_rules()["blocking"]["token_groups"])

    ent, keys = _token_group_keys(f, parts)
    tokens = title["kind"] == _TOKENS
    assert _blocks(title["idx"][tokens], title["key"][tokens]) == _blocks(ent, keys)
    assert len(_blocks(ent, keys)) > 100

    compact = [t.replace(" ", "") for t in f.norm.tolist()]
    mains = [t.replace(" ", "") for t in f.main.tolist()]
    titled = [k for k, t in enumerate(compact) if t]
    with_main = [k for k, t in enumerate(mains) if t]
    exact = title["kind"] == _EXACT
    single = _blocks(
        np.array(titled + with_main),
        np.array([compact[k] for k in titled] + [mains[k] for k in with_main]),
    )
    assert _blocks(title["idx"][exact], title["key"][exact]) == single
    assert single


def test_a_partitions_keys_do_not_depend_on_the_partition() -> None:
    records, _ = generate_records(1200, seed=6)
    whole, whole_ident = _block_entries(_features(records), np.arange(1200, dtype=np.int64))
    halves = [
        _block_entries(_features(records.iloc[a:b]), np.arange(a, b, dtype=np.int64))
        for a, b in ((0, 500), (500, 1200))
    ]

    def rows(cols: dict[str, np.ndarray], names: tuple[str, ...]) -> list[tuple]:
        return sorted(zip(*(cols[c].tolist() for c in names), strict=True))

    names = ("kind", "order", "idx", "key")
    assert rows(whole, names) == sorted(r for h, _ in halves for r in rows(h, names))
    names = ("kind", "idx", "key", "hash")
    assert rows(whole_ident, names) == sorted(r for _, h in halves for r in rows(h, names))


def test_a_bucket_of_pairs_counts_each_once_and_asks_only_for_the_records_it_scores() -> None:
    # six records in two partitions (0-2, 3-5); 0 and 4 too many years apart to match,
    # 1 and 5 without a title; 2 and 3 share a DOI
    cheap = {
        "year": np.array([2000, 2001, 2003, 2003, 2010, 2003]),
        "length": np.array([40, 42, 41, 40, 40, 0]),
        "main_len": np.zeros(6, dtype=np.int64),
    }

    def code(a: int, b: int) -> int:
        return (a << 32) | b

    pairs = [
        np.array([code(0, 1), code(0, 4), code(2, 3)]),
        np.array([code(0, 1), code(1, 5)]),  # 0-1 again, from another key
    ]
    blocks = {
        "kind": np.array([_DOI, _DOI], dtype=np.int8),
        "key": np.array(["10.1/x", "10.1/x"], dtype=object),
        "hash": np.zeros(2, dtype=np.uint64),
        "idx": np.array([2, 3]),
    }
    run = "test-select"
    try:
        out = _select(
            [(pairs[0], blocks), (pairs[1], {})],
            np.array([code(3, 4)], dtype=np.int64),  # a pair across neighbourhood runs
            cheap,
            90.0,
            np.array([0, 3, 6]),
            run,
        )
        assert out["candidates"] == 5  # 0-1, 0-4, 1-5, 2-3, 3-4
        assert out["scored"] == 2  # 0-1 and 2-3 (3-4: seven years apart)
        assert [x.tolist() for x in out["needs"]] == [[0, 1, 2], [0]]  # rows of 0, 1, 2 | 3
        (blob,) = _read_files([out["work"]])
        scored, kept = _call(lambda x: x, ("synth-dedupe-gathered", True, [[0]], [[blob]]))
        assert scored.tolist() == [code(0, 1), code(2, 3)]
        assert kept["idx"].tolist() == [2, 3]
    finally:
        _remove_run_folder(run)


def test_a_frame_is_cut_into_as_many_partitions_for_every_worker() -> None:
    frame = pd.DataFrame({"record_id": [f"r{k}" for k in range(100)], "title": ["A title"] * 100})
    chunks, sizes = _sources(frame, None, 30, 2)  # type: ignore[arg-type]
    assert sizes == [25, 25, 25, 25]
    assert pd.concat(chunks)["record_id"].tolist() == frame["record_id"].tolist()
    _, sizes = _sources(frame, None, 30, 1)  # type: ignore[arg-type]
    assert sizes == [25, 25, 25, 25]  # as few as hold 30 at most, of even sizes
    _, sizes = _sources(frame.iloc[:7], None, 30, 2)  # type: ignore[arg-type]
    assert sizes == [4, 3]
    _, sizes = _sources(frame.iloc[:1], None, 30, 2)  # type: ignore[arg-type]
    assert sizes == [1]
