"""Deduplication on a Dask LocalCluster gives the single-machine path's result: the same
groups, kept records, pairs (scores, rules, notes), rejected pairs and counts.

Compared on the bundled corpus (and through the store's regrouping), on real peer exports
with real duplicates (a search exported from several databases, and screening sets
sharing papers), with a reviewer's splits, from Parquet files, and on a generated corpus
of several thousand records with planted near-duplicates cut into many partitions, so
that duplicates and their blocks fall in different partitions. One two-worker cluster
serves the module.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

from synth.corpus.dedupe import DedupeResult, cannot_links_for_split, dedupe
from synth.corpus.reading import iter_files, read_file
from synth.corpus.synthetic import generate_records
from synth.corpus.writers.ris import write_ris
from synth.distributed import ClusterError, dedupe_on_cluster
from synth.distributed.dedupe import DedupeRecords
from synth.store import connect, import_paths, load_records
from synth.store.duplicates import refresh_duplicates

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PEER = ROOT.parent / "shared" / "peer-data"
#: one search exported from several databases (Embase, Scopus, Web of Science, PubMed,
#: Ovid, ProQuest ...), the PTSD review's included records in three files, and the
#: screening sets (their papers recur across the sets)
PEER_FOLDERS = (
    "formats/asreview-demo-data",
    "formats/screening-ptsd-vandeschoot-included-ris",
    "screening",
)


@pytest.fixture(scope="module")
def peer_records() -> pd.DataFrame:
    folders = [PEER / f for f in PEER_FOLDERS]
    if not all(f.is_dir() for f in folders):
        pytest.skip(f"peer data not found under {PEER}")
    frames = []
    for path in iter_files(folders):
        if path.name == "generic_labels_no_title.csv":  # no title column: not importable
            continue
        frames.append(read_file(path).records)
    return pd.concat(frames, ignore_index=True)


def assert_same(single: DedupeResult, cluster: DedupeResult) -> None:
    assert_frame_equal(single.groups, cluster.groups)
    assert_frame_equal(single.pairs, cluster.pairs)
    assert_frame_equal(single.rejected, cluster.rejected)
    assert single.counts == cluster.counts


def test_the_bundled_corpus_groups_as_on_one_machine(client: object, kei_imported_db: Path) -> None:
    con = connect(kei_imported_db)
    try:
        records = load_records(con)
    finally:
        con.close()
    single = dedupe(records)
    assert single.n_duplicates > 0
    assert_same(single, dedupe_on_cluster(records, client, partition_size=20))


def test_the_store_regroups_on_the_cluster_as_on_one_machine(
    client: object,
    kei_imported_db: Path,
    copy_db: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def tables(db: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        with sqlite3.connect(db) as con:
            groups = con.execute("SELECT * FROM duplicate_groups ORDER BY record_id").fetchall()
            pairs = con.execute(
                "SELECT * FROM duplicate_pairs ORDER BY record_a, record_b"
            ).fetchall()
        return groups, pairs

    db = copy_db(kei_imported_db)
    with sqlite3.connect(db) as raw:
        raw.execute("DELETE FROM duplicate_groups")
        raw.execute("DELETE FROM duplicate_pairs")
    con = connect(db)

    def whole_store(*args: object, **kwargs: object) -> None:
        raise AssertionError("the store's records were read whole on the client")

    # the records go to the workers a partition at a time (DedupeRecords), never all at once
    monkeypatch.setattr("synth.store.duplicates.load_records", whole_store)
    try:
        out = refresh_duplicates(con, client=client)
    finally:
        con.close()
    expected = tables(kei_imported_db)  # grouped on one machine by the import
    assert len(expected[1]) == out["duplicate_pairs"] > 0
    assert tables(db) == expected


def test_a_stores_records_read_a_partition_at_a_time_group_as_on_one_machine(
    client: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store's records go out one partition at a time (never the whole frame on the
    client), each slim; a reviewer's splits are settled from the store's fields."""
    import synth.distributed.dedupe as cluster_dedupe

    records, _ = generate_records(1500, seed=11)
    ris = tmp_path / "records.ris"
    write_ris(records, ris)
    con = connect(tmp_path / "store.sqlite")
    read: list[int] = []
    tie_breaks: list[int] = []
    try:
        import_paths(con, [ris])
        stored = load_records(con)
        first = dedupe(stored)
        sizes = first.groups["group_id"].value_counts()
        links: list[tuple[str, str]] = []
        for gid in sizes[sizes >= 3].index[:6]:
            members = first.groups.loc[first.groups["group_id"] == gid, "record_id"].tolist()
            links += cannot_links_for_split(first, [members[0]])
        assert links
        single = dedupe(stored, cannot_link=links)

        real_partition, real_affinity = DedupeRecords.partition, cluster_dedupe._affinity

        def partition(self: DedupeRecords, k: int) -> pd.DataFrame:
            part = real_partition(self, k)
            read.append(len(part))
            return part

        def affinity(frame: pd.DataFrame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
            tie_breaks.append(len(frame))
            return real_affinity(frame, a, b)

        monkeypatch.setattr(DedupeRecords, "partition", partition)
        monkeypatch.setattr(cluster_dedupe, "_affinity", affinity)
        con.execute("BEGIN")  # the count and the partitions in one snapshot
        source = DedupeRecords(con, partition_size=200)
        cluster = dedupe_on_cluster(source, client, cannot_link=links)
        con.execute("COMMIT")
        with pytest.raises(RuntimeError, match="read in order"):
            DedupeRecords(con, partition_size=200).partition(1)
    finally:
        con.close()
    assert_same(single, cluster)
    assert read == [200] * 7 + [len(stored) - 1400]
    assert tie_breaks and max(tie_breaks) < len(stored)  # only the records asked for


def test_real_exports_group_as_on_one_machine(client: object, peer_records: pd.DataFrame) -> None:
    single = dedupe(peer_records)
    # real duplicates of every kind, and near misses kept apart with their reasons
    assert single.counts["pairs_doi"] > 50
    assert single.counts["pairs_pmid"] > 50
    assert single.counts["pairs_title"] > 50
    assert len(single.rejected) > 50
    assert_same(single, dedupe_on_cluster(peer_records, client, partition_size=500))
    # the buckets' number changes where blocks are scored, not what comes out
    assert_same(single, dedupe_on_cluster(peer_records, client, partition_size=3000, buckets=3))


def test_a_reviewers_splits_hold_as_on_one_machine(
    client: object, peer_records: pd.DataFrame
) -> None:
    first = dedupe(peer_records)
    sizes = first.groups["group_id"].value_counts()
    links: list[tuple[str, str]] = []
    for gid in sizes[sizes >= 2].index[:8]:
        members = first.groups.loc[first.groups["group_id"] == gid, "record_id"].tolist()
        links += cannot_links_for_split(first, [members[-1]])
    single = dedupe(peer_records, cannot_link=links)
    assert single.n_duplicates < first.n_duplicates
    assert (single.rejected["note"] == "kept apart: a reviewer said these records differ").any()
    cluster = dedupe_on_cluster(peer_records, client, cannot_link=links, partition_size=700)
    assert_same(single, cluster)


def test_parquet_partitions_group_as_the_records_they_hold(
    client: object, peer_records: pd.DataFrame, tmp_path: Path
) -> None:
    frame = peer_records.drop(columns=["extra"])
    paths = []
    for k, start in enumerate(range(0, len(frame), 2500)):
        path = tmp_path / f"records-{k:05d}.parquet"
        table = pa.Table.from_pandas(frame.iloc[start : start + 2500], preserve_index=False)
        pq.write_table(table, path)
        paths.append(path)
    read_back = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
    assert_same(dedupe(read_back), dedupe_on_cluster(paths, client))


def test_planted_duplicates_across_many_partitions_group_as_on_one_machine(
    client: object,
) -> None:
    records, planted = generate_records(6000, seed=11)
    size = 250  # 24 partitions
    single = dedupe(records)
    cluster = dedupe_on_cluster(records, client, partition_size=size)
    assert_same(single, cluster)

    # many planted pairs have their two records in different partitions, matched by
    # their titles (not only a shared DOI), and the cluster finds them as one machine does
    place = {rid: k // size for k, rid in enumerate(records["record_id"])}
    apart = {p for p in planted if len({place[r] for r in p}) == 2}
    assert len(apart) > 100
    by_title = cluster.pairs[cluster.pairs["rule"] == "title+year+author"]
    title_apart = {
        frozenset(p)
        for p in zip(by_title["record_a"], by_title["record_b"], strict=True)
        if place[p[0]] != place[p[1]]
    }
    assert len(title_apart & apart) > 50
    group = cluster.groups.set_index("record_id")["group_id"]
    found = sum(len({group[r] for r in p}) == 1 for p in apart)
    assert found / len(apart) > 0.95


def test_record_ids_must_be_unique_and_no_records_is_no_groups(client: object) -> None:
    records, _ = generate_records(300, seed=3)
    twice = pd.concat([records, records.iloc[:2]], ignore_index=True)
    with pytest.raises(ValueError, match="record ids must be unique; repeated: "):
        dedupe_on_cluster(twice, client, partition_size=100)
    empty = dedupe_on_cluster(records.iloc[:0], client)
    assert len(empty.groups) == 0 and len(empty.pairs) == 0
    assert list(empty.groups.columns) == list(dedupe(records.iloc[:0]).groups.columns)
    one = dedupe_on_cluster(records.iloc[:1], client)
    assert_same(dedupe(records.iloc[:1]), one)
    assert np.asarray(one.groups["is_kept"]).all()


def _shuffle_folders(client: object) -> list[Path]:
    """The run folders left in the workers' local directories (one machine's cluster)."""
    places = client.run(lambda dask_worker: dask_worker.local_directory)  # type: ignore[attr-defined]
    return [f for place in places.values() for f in Path(place).glob("synth-dedupe-*")]


def test_a_run_leaves_no_shuffle_files_even_when_a_partition_fails(
    client: object, tmp_path: Path
) -> None:
    records, _ = generate_records(1500, seed=5)
    dedupe_on_cluster(records, client, partition_size=300)
    assert _shuffle_folders(client) == []

    good = tmp_path / "good.parquet"
    bad = tmp_path / "bad.parquet"
    frame = records.drop(columns=["extra"])
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), good)
    pq.write_table(pa.Table.from_pandas(frame.drop(columns=["record_id"])), bad)
    with pytest.raises(KeyError, match=r"bad\.parquet: records need a record_id column"):
        dedupe_on_cluster([good, bad], client)
    assert _shuffle_folders(client) == []
    with pytest.raises(FileNotFoundError, match="no Parquet file of records at"):
        dedupe_on_cluster([good, tmp_path / "missing.parquet"], client)


@pytest.mark.parametrize(
    ("n", "partition_size", "buckets"), [(400, 20, 24), (60, 20, 100), (400, 400, 1)]
)
def test_tiny_partitions_and_near_empty_buckets_change_nothing(
    client: object, n: int, partition_size: int, buckets: int
) -> None:
    """Runs of a neighbourhood shorter than its window (more buckets than rows: pairs
    across several runs), and one bucket for everything."""
    records, _ = generate_records(400, seed=9)
    records = records.iloc[:n]
    cluster = dedupe_on_cluster(records, client, partition_size=partition_size, buckets=buckets)
    assert_same(dedupe(records), cluster)


def test_a_cluster_without_workers_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from distributed import Client, LocalCluster

    import synth.distributed.cluster as cluster

    monkeypatch.setattr(cluster, "WORKER_WAIT", 1.0)
    records = pd.DataFrame({"record_id": ["a", "b"], "title": ["One paper", "One paper"]})
    with (
        LocalCluster(n_workers=0, processes=False) as empty,
        Client(empty) as client,
        pytest.raises(ClusterError, match="has no workers"),
    ):
        dedupe_on_cluster(records, client)
