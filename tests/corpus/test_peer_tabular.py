"""Real CSV/TSV exports and labelled screening sets from ../shared/peer-data, read in place.

Expected counts are computed here with Python's csv module (and the README table for the
screening sets), never taken from synth's own output.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from synth.corpus import ReadError, read_file

PEER = Path(__file__).resolve().parents[2].parent / "shared" / "peer-data"
DEMO = PEER / "formats" / "asreview-demo-data"
SCREENING = PEER / "screening"

DEMO_FILES = sorted(p for p in DEMO.glob("*") if p.suffix in {".csv", ".tsv", ".tab"})
SCREENING_FILES = sorted(SCREENING.glob("*.csv"))

#: included (final) per screening set, from peer-data/README.md (checked against the files)
README_INCLUDED = {
    "cohen2006_ADHD.csv": 20,
    "cohen2006_Antihistamines.csv": 16,
    "cohen2006_AtypicalAntipsychotics.csv": 146,
    "cohen2006_BetaBlockers.csv": 42,
    "cohen2006_Estrogens.csv": 80,
    "cohen2006_NSAIDS.csv": 41,
    "Nagtegaal_2019.csv": 101,
    "Kitchenham_2010.csv": 45,
}
README_RECORDS = {
    "cohen2006_ADHD.csv": 851,
    "cohen2006_Antihistamines.csv": 310,
    "cohen2006_AtypicalAntipsychotics.csv": 1120,
    "cohen2006_BetaBlockers.csv": 2072,
    "cohen2006_Estrogens.csv": 368,
    "cohen2006_NSAIDS.csv": 393,
    "Nagtegaal_2019.csv": 2019,
    "Kitchenham_2010.csv": 1704,
}
LABEL_COLUMNS = ("label_included", "final_included", "included")


def independent_rows(path: Path) -> list[dict[str, str]]:
    """Rows by the csv module, delimiter = the commonest of , ; tab in the header line."""
    text = path.read_text(encoding="utf-8-sig")
    head = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=head.count)
    rows = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    return [r for r in rows if any((v or "").strip() for v in r.values())]


def included(rows: list[dict[str, str]]) -> int:
    for column in LABEL_COLUMNS:
        if rows and column in rows[0]:
            return sum(1 for r in rows if (r[column] or "").strip() == "1")
    return 0


@pytest.mark.peer
@pytest.mark.parametrize("path", DEMO_FILES + SCREENING_FILES, ids=lambda p: p.name)
def test_loads_every_record_or_explains(peer_data: Path, path: Path) -> None:
    rows = independent_rows(path)
    header = {h.strip().lower() for h in rows[0]} if rows else set()
    if "title" not in header:
        # hopeless as a whole: one clear error naming the columns, never a traceback
        with pytest.raises(ReadError, match=r"no title column \(columns found: 'abstract'"):
            read_file(path)
        return
    result = read_file(path)
    # a row with no title and no DOI/PMID is a failure naming its row (issue 14)
    untitled = [
        i
        for i, r in enumerate(rows, start=1)
        if not _has(r, {"title"}) and not _has(r, {"doi", "pmid"}, IDENTIFIER)
    ]
    assert len(result.records) == len(rows) - len(untitled), result.failures.reason.tolist()
    assert result.failures["record"].tolist() == untitled
    assert set(result.failures["reason"].str.split(": ", n=1).str[1]) <= {
        "no title and no DOI/PMID"
    }
    positions = result.records.position.tolist() + untitled
    assert sorted(positions) == list(range(1, len(rows) + 1))
    kept = [r for i, r in enumerate(rows, start=1) if i not in untitled]
    assert int((result.records.label_included == 1).sum()) == included(kept)


#: a DOI (``10.4`` alone is not one) or a PMID
IDENTIFIER = re.compile(r"10\.\d{4,9}/\S+|^\d{1,9}$")


def _has(row: dict[str, str], columns: set[str], pattern: re.Pattern[str] | None = None) -> bool:
    """Whether a row has a value (matching ``pattern``) in a column named in ``columns``."""
    values = [(v or "").strip() for k, v in row.items() if k and k.strip().lower() in columns]
    return any(v and (pattern is None or pattern.search(v)) for v in values)


@pytest.mark.peer
@pytest.mark.parametrize("path", SCREENING_FILES, ids=lambda p: p.name)
def test_screening_sets_match_the_readme(peer_data: Path, path: Path) -> None:
    result = read_file(path)
    assert result.database == "ASReview"
    assert len(result.records) == README_RECORDS[path.name]
    assert int((result.records.label_included == 1).sum()) == README_INCLUDED[path.name]
    assert int((result.records.label_included == 0).sum()) == (
        README_RECORDS[path.name] - README_INCLUDED[path.name]
    )
    assert result.records.title.notna().all()


@pytest.mark.peer
def test_kitchenham_line_numbers_count_crlf_inside_quotes(peer_data: Path) -> None:
    path = peer_data / "screening" / "Kitchenham_2010.csv"
    result = read_file(path)
    # independently: each row starts with "<record_id>," at the start of a physical line
    lines = re.split(r"\r\n|\r|\n", path.read_text(encoding="utf-8"))
    expected: list[int] = []
    i = 1
    for rid in result.records.source_key:
        while not lines[i].startswith(f"{rid},"):
            i += 1
        expected.append(i + 1)
        i += 1
    assert result.records.line.tolist() == expected
    assert expected[-1] > len(expected) + 1  # some abstracts do span lines


@pytest.mark.peer
def test_embase_csv(peer_data: Path) -> None:
    path = peer_data / "formats" / "asreview-demo-data" / "embase.csv"
    result = read_file(path)
    recs = result.records
    assert result.database == "Embase"
    text = path.read_text(encoding="utf-8")
    assert recs.doi.notna().sum() == text.count("id=doi:")
    assert recs.doi[1] == "10.1002/cncr.20369"
    assert (recs.venue[1], recs.year[1], recs.volume[1], recs.issue[1], recs.pages[1]) == (
        "Cancer",
        2004,
        "102",
        "4",
        "253-258",
    )
    assert recs.authors[0] == ["Liu, R.", "Adler, D.G."]
    # Emtree terms keep their parenthesised sub-headings whole
    assert "bronchogenic duplication cyst (diagnosis, surgery)" in recs.keywords[0]


@pytest.mark.peer
def test_asreview_list_literals_and_semicolons(peer_data: Path) -> None:
    demo = peer_data / "formats" / "asreview-demo-data"
    generic = read_file(demo / "generic.csv").records
    assert generic.authors[0] == ["Marx, Karl", "Lindgren, Astrid"]
    assert generic.keywords[0] == ["Pippi", "Nordwind", "Piraten"]
    assert generic.year.tolist() == [2014, 2006]
    for name in ("generic_semicolon.csv", "generic_tab.csv", "generic_tab.tsv"):
        records = read_file(demo / name).records
        assert records.title.tolist() == generic.title.tolist(), name
        assert records.abstract.tolist() == generic.abstract.tolist(), name
