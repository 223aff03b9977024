"""The published review's reference list taken in as its included set."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from synth.review import load_review, parse_review
from synth.screening.prisma import prisma_counts
from synth.screening.published import record_published_decisions
from synth.store import connect
from tests.screening import KEI

REVIEW = KEI / "review.yml"


@pytest.fixture
def store(kei_imported_db: Path, copy_db: Callable[..., Path]) -> Path:
    return copy_db(kei_imported_db)


def _bib_entries() -> int:
    """Entries in the review's reference list, counted from the file's text alone."""
    text = (KEI / "references.bib").read_text("utf-8")
    return len(re.findall(r"^@\w+\s*\{", text, flags=re.MULTILINE))


def test_prisma_included_is_the_reference_list(store: Path) -> None:
    review = load_review(REVIEW)
    con = connect(store)
    try:
        added = record_published_decisions(con, review)
        counts = prisma_counts(con)
        # the KEI review reports only "64 papers selected after full text reviewed": its
        # decisions are recorded at full text alone, none invented at title/abstract
        assert review.reported_stages == ("full_text",)
        assert added == _bib_entries()
        stages = {r[0] for r in con.execute("SELECT DISTINCT stage FROM decisions")}
        assert stages == {"full_text"}
        assert counts.included == _bib_entries()
        # title/abstract is not reported: "not reported" (None), nothing invented as
        # awaiting screening; the background full texts are not identified records
        assert counts.screened is None and counts.awaiting_screening is None
        # neither is the reference list: it is what the review included, not what it found
        assert counts.identified is None and counts.identities() == []
        assert counts.included_list == {"references.bib": _bib_entries()}
        # idempotent: a second run adds nothing
        assert record_published_decisions(con, review) == 0
        assert prisma_counts(con).included == counts.included
    finally:
        con.close()


def test_a_review_without_the_section_records_nothing(store: Path) -> None:
    data = yaml.safe_load(REVIEW.read_text("utf-8"))
    data.pop("published_decisions")
    con = connect(store)
    try:
        assert record_published_decisions(con, parse_review(data, REVIEW)) == 0
        assert prisma_counts(con).included == 0
    finally:
        con.close()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"include_file": "references.bib"}, r"reviewer: missing"),
        ({"reviewer": "x", "include_file": "nope.bib"}, "not found beside the review"),
        ({"reviewer": "x", "include_file": "references.bib", "stages": ["tiab"]}, "'tiab'"),
        (
            {"reviewer": "x", "include_file": "references.bib", "stages": ["title_abstract"]},
            "'title_abstract' is not a stage the review reports",
        ),
    ],
)
def test_a_bad_section_is_named(store: Path, section: dict, message: str) -> None:
    data = yaml.safe_load(REVIEW.read_text("utf-8"))
    data["published_decisions"] = section
    con = connect(store)
    try:
        with pytest.raises(ValueError, match=message) as info:
            record_published_decisions(con, parse_review(data, REVIEW))
        assert "review.yml: published_decisions" in str(info.value)
    finally:
        con.close()
