"""``dedupe_inputs`` (what is sent to a process that groups an import's records) gives
the same groups, pairs and refusals as the records themselves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth.corpus.dedupe import DEDUPE_COLUMNS, DedupeResult, dedupe, dedupe_inputs
from synth.corpus.synthetic import generate_records


def _records(seed: int) -> pd.DataFrame:
    """Generated records, many duplicated, with abstracts and keywords missing in every
    way a reader leaves them (None, NaN, empty text, empty list) for some of them."""
    records, _ = generate_records(1_500, dup_rate=0.3, seed=seed)
    rng = np.random.default_rng(seed)
    abstract = records["abstract"].astype(object)
    keywords = records["keywords"].astype(object)
    for k in np.flatnonzero(rng.random(len(records)) < 0.4).tolist():
        abstract.iat[k] = [None, np.nan, ""][k % 3]
    for k in np.flatnonzero(rng.random(len(records)) < 0.4).tolist():
        keywords.iat[k] = [None, []][k % 2]
    return records.assign(abstract=abstract.astype("str"), keywords=keywords)


def _same(a: DedupeResult, b: DedupeResult) -> None:
    pd.testing.assert_frame_equal(a.groups, b.groups)
    pd.testing.assert_frame_equal(a.pairs, b.pairs)
    pd.testing.assert_frame_equal(a.rejected, b.rejected)
    assert a.counts == b.counts


@pytest.mark.parametrize("seed", [19, 23])
def test_dedupe_of_its_inputs_is_dedupe_of_the_records(seed: int) -> None:
    records = _records(seed)
    full = dedupe(records)
    assert full.counts["duplicates"] > 100
    _same(full, dedupe(dedupe_inputs(records)))
    # reviewers' cannot-links: the pairs under them are ordered by _affinity, which reads
    # the raw title, authors, venue and year
    pairs = full.pairs.sample(40, random_state=seed)
    links = list(zip(pairs["record_a"], pairs["record_b"], strict=True))
    _same(dedupe(records, cannot_link=links), dedupe(dedupe_inputs(records), cannot_link=links))


def test_the_abstracts_and_keywords_presence_decides_which_record_is_kept() -> None:
    """Why they are sent at all: a copy reduced to every abstract (or keyword list)
    present keeps other records than the records do."""
    records = _records(19)
    full = dedupe(records)
    inputs = dedupe_inputs(records)
    assert set(inputs.columns) == set(DEDUPE_COLUMNS) & set(records.columns)
    for column, there in (("abstract", "x"), ("keywords", [["x"]] * len(inputs))):
        changed = dedupe(inputs.assign(**{column: there}))
        assert not full.groups["is_kept"].equals(changed.groups["is_kept"]), column
