"""Every tagged export in ../shared/peer-data/formats, read in place through read_file.

Each file either loads exactly the records it holds, counted here independently of the
readers (a regex on the line that starts a record), with any broken record reported as
a failure naming its record and line, or raises one ReadError with a clear reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from synth.corpus import ReadError, read_file
from synth.corpus.encoding import decode_bytes

pytestmark = pytest.mark.peer

PEER = Path(__file__).resolve().parents[3] / "shared" / "peer-data"
FOLDERS = [
    "asreview-demo-data",
    "rispy",
    "jabref",
    "pybtexnbib-ris",
    "screening-ptsd-vandeschoot-included-ris",
]
SUFFIXES = {".ris", ".nbib", ".txt", ".isi", ".enw", ".ref", ".ciw"}

#: files that are not exports at all, or have no line a sniffer could know them by
NOT_READABLE = {
    "jabref/IsiImporterTestEmpty.isi": "no Web of Science records found",
}

#: the line that starts a record, per format (counted on the raw text, not by the readers)
START = {
    "ris": re.compile(r"^\W{0,3}TY\s{0,3}-"),
    "wos": re.compile(r"^PT "),
    "endnote": re.compile(r"^%0"),
}
MEDLINE_TAG = re.compile(r"^[A-Z][A-Z0-9]{1,3}\s*-")
REASON = re.compile(r"^record \d+ \(line \d+\): \S")


def _files() -> list[str]:
    formats = PEER / "formats"
    if not formats.is_dir():
        return []
    return [
        str(p.relative_to(formats))
        for folder in FOLDERS
        for p in sorted((formats / folder).rglob("*"))
        if p.is_file() and p.suffix.lower() in SUFFIXES
    ]


def _expected(fmt: str, lines: list[str]) -> tuple[int, re.Pattern[str]]:
    """How many records the file holds, and the pattern of a record's first line."""
    if fmt == "medline":  # blank-line separated blocks that open with a tag
        blocks = 0
        for i, line in enumerate(lines):
            if MEDLINE_TAG.match(line) and (i == 0 or not lines[i - 1].strip()):
                blocks += 1
        return blocks, MEDLINE_TAG
    if fmt == "endnote" and not any(START["endnote"].match(line) for line in lines):
        blocks = sum(
            1
            for i, line in enumerate(lines)
            if line.startswith("%") and (i == 0 or not lines[i - 1].strip())
        )
        return blocks, re.compile(r"^%")
    pattern = START[fmt]
    return sum(1 for line in lines if pattern.match(line)), pattern


@pytest.mark.parametrize("name", _files())
def test_peer_file_loads_every_record_or_fails_clearly(peer_data, name):
    path = peer_data / "formats" / name
    if name in NOT_READABLE:
        with pytest.raises(ReadError) as err:
            read_file(path)
        assert NOT_READABLE[name] in err.value.reason
        assert err.value.path.endswith(path.name)
        return

    result = read_file(path)
    text = decode_bytes(path.read_bytes(), path).text.lstrip("\ufeff")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    expected, start = _expected(result.format, lines)

    rows = result.failures.to_dict("records")
    for row in rows:
        assert REASON.match(row["reason"]), row["reason"]
        assert row["file"] == path.name
    # a warning is a kept record (no title, but a DOI/PMID): it is among the records
    failures = [f for f in rows if f["severity"] == "error"]
    for warning in (f for f in rows if f["severity"] == "warning"):
        assert warning["record"] in set(result.records["position"])
    # failures of records that start like a record (others are orphaned tag lines)
    started = [f for f in failures if start.match(f["raw"])]
    assert len(result.records) + len(started) == expected

    records = result.records
    positions = records["position"].tolist() + [f["record"] for f in failures]
    assert sorted(positions) == list(range(1, len(positions) + 1))
    for line in records["line"]:
        assert start.match(lines[line - 1]), (line, lines[line - 1])


DATABASES = {
    "asreview-demo-data/scopus.ris": "Scopus",
    "asreview-demo-data/embase.ris": "Embase",
    "asreview-demo-data/ovid_psycinfo.ris": "Ovid",
    "asreview-demo-data/proquest.ris": "ProQuest",
    "asreview-demo-data/pubmed_endnote.txt": "PubMed",
    "asreview-demo-data/web_of_science.txt": "Web of Science",
    "asreview-demo-data/baseline_zotero.ris": "Zotero",
    "asreview-demo-data/ris_issue_1099.txt": "Scopus",
    "jabref/RisImporterTestScopus.ris": "Scopus",
    "jabref/NbibImporterTest.nbib": "PubMed",
    "jabref/IsiImporterTestWOS.isi": "Web of Science",
    "rispy/example_wos.ris": "Web of Science",
    "pybtexnbib-ris/marcelis-20301770.nbib": "PubMed",
}


@pytest.mark.parametrize(("name", "database"), sorted(DATABASES.items()))
def test_peer_file_database(peer_data, name, database):
    assert read_file(peer_data / "formats" / name).database == database


def test_peer_pubmed_via_endnote_fields(peer_data):
    """The PubMed-via-EndNote RIS (.txt): PMIDs from AN, MeSH keywords a line each."""
    df = read_file(peer_data / "formats" / "asreview-demo-data" / "pubmed_endnote.txt").records
    first = df.iloc[0]
    assert first["pmid"] == "21553931"
    assert first["doi"] == "10.2165/11586800-000000000-00000"
    assert first["keywords"][:2] == [
        "Animals",
        "Anti-Inflammatory Agents/adverse effects/pharmacokinetics/*pharmacology",
    ]
    assert df["pmid"].notna().all()


def test_peer_asreview_labels(peer_data):
    df = read_file(
        peer_data / "formats" / "asreview-demo-data" / "baseline_tag-notes_labels.ris"
    ).records
    text = peer_data / "formats" / "asreview-demo-data" / "baseline_tag-notes_labels.ris"
    raw = text.read_text("utf-8-sig")
    assert int((df["label_included"] == 1).sum()) == raw.count("ASReview_relevant")
    assert int((df["label_included"] == 0).sum()) == raw.count("ASReview_irrelevant")
