"""Deduplication of records whose volume and pages are pandas string columns."""

from __future__ import annotations

import pytest
from pandas.testing import assert_frame_equal

from synth.corpus.dedupe import dedupe
from synth.corpus.synthetic import generate_records


@pytest.mark.parametrize("dtype", ["string[python]", "string[pyarrow]"])
def test_missing_volume_and_pages_in_string_columns(dtype: str) -> None:
    """A string column's missing value is pd.NA (no truth value): read as no number,
    the same result as the object column holding None."""
    pytest.importorskip("pyarrow")
    records, _ = generate_records(120, seed=3)
    records = records.astype({"volume": object, "pages": object})
    records.loc[records.index[::4], "volume"] = None
    records.loc[records.index[1::5], "pages"] = None
    records.loc[records.index[2::7], "pages"] = "e1234"  # not a plain number
    expected = dedupe(records)
    typed = records.astype({"volume": dtype, "pages": dtype})
    assert typed["volume"].isna().any() and typed["pages"].isna().any()
    got = dedupe(typed)
    assert got.counts == expected.counts
    assert got.counts["duplicates"] > 0
    for name in ("groups", "pairs", "rejected"):
        assert_frame_equal(getattr(got, name), getattr(expected, name))
