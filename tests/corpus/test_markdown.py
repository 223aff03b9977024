"""Markdown extracts and full texts under YAML front matter."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from synth.corpus import EXTRACT_COLUMNS, FULLTEXT_COLUMNS, ReadError, read_file
from synth.corpus.readers.markdown import parse


@pytest.fixture
def markdown(fixtures: Path) -> Path:
    return fixtures / "markdown"


def test_three_extracts(markdown: Path) -> None:
    text = (markdown / "extracts.md").read_text(encoding="utf-8")
    parsed = parse(text, "extracts.md")
    assert parsed.failures == [] and parsed.records == []
    quote, _finding, summary = parsed.extracts
    assert set(EXTRACT_COLUMNS) <= set(quote)
    assert [e["kind"] for e in parsed.extracts] == ["quote", "finding", "summary"]
    # a key; a DOI (as given, lower-cased) when there is no key; "@key" is a key
    assert [e["ref"] for e in parsed.extracts] == [
        "kei2020",
        "10.1016/j.ssmqr.2021.100002",
        "palmer2019",
    ]
    assert [e["page"] for e in parsed.extracts] == ["14", "5-6", None]
    assert quote["section"] == "Findings"
    assert [e["line"] for e in parsed.extracts] == [7, 15, 21]
    assert quote["text"] == (
        '"Co-production was understood as sharing power between people who use\n'
        'services and the professionals who provide them."'
    )
    # a horizontal rule followed by prose is part of the body, not a new document
    assert summary["text"].endswith(
        "---\n\nThree mechanisms are proposed: a shift in values, in relationships and in practice."
    )
    expected = hashlib.sha1(
        "\x1f".join(["extracts.md", "kei2020", quote["text"]]).encode()
    ).hexdigest()[:15]
    assert quote["extract_id"] == "x" + expected
    assert parse(text, "extracts.md").extracts[0]["extract_id"] == quote["extract_id"]
    assert len({e["extract_id"] for e in parsed.extracts}) == 3
    assert {e["source_file"] for e in parsed.extracts} == {"extracts.md"}


def test_extracts_through_read_file(markdown: Path) -> None:
    result = read_file(markdown / "extracts.md")
    assert result.format == "markdown"
    assert list(result.extracts.columns) == EXTRACT_COLUMNS
    assert result.extracts.ref.tolist()[0] == "kei2020"
    assert result.records.empty and result.failures.empty


def test_fulltext_document_is_a_record_with_its_text(markdown: Path) -> None:
    result = read_file(markdown / "fulltext.md")
    (rec,) = result.records.to_dict("records")
    assert rec["title"] == "Co-production in Wales: a practical guide"
    assert rec["authors"] == [
        "Co-production Network for Wales",
        "Wales Council for Voluntary Action",
    ]
    assert rec["year"] == 2019 and rec["publisher"] == "NHS Wales"
    assert rec["pub_type"] == "guideline" and rec["grey"]
    assert rec["source_key"] == "copronet2019" and rec["url"] == "https://copronet.wales/guide"
    assert rec["language"] == "en" and rec["source_format"] == "markdown"
    assert pd.isna(rec["abstract"])  # absent from the front matter: left empty
    assert rec["extra"] == {"updated": "2021-03-01"}
    assert rec["position"] == 1 and rec["line"] == 1
    assert list(result.fulltexts.columns) == FULLTEXT_COLUMNS
    (text,) = result.fulltexts.to_dict("records")
    assert text["record_id"] == rec["record_id"]
    assert text["text"].startswith("# Why co-production?")
    assert "---\n\n## Five principles" in text["text"]  # a rule in the body stays in the body
    assert text["chars"] == len(text["text"])
    assert result.failures.empty


def test_bad_yaml_unknown_kind_missing_ref_and_empty_body_are_failures(markdown: Path) -> None:
    text = (markdown / "broken.md").read_text(encoding="utf-8")
    parsed = parse(text, "broken.md")
    # the documents after each broken one still load
    assert [(e["ref"], e["page"], e["kind"]) for e in parsed.extracts] == [
        ("kei2020", "4", "quote"),
        ("bovaird2007", None, "citation"),
    ]
    assert [e["line"] for e in parsed.extracts] == [13, 36]
    assert [f.line for f in parsed.failures] == [1, 15, 21, 27]
    assert [f.record for f in parsed.failures] == [1, 3, 4, 5]
    bad_yaml, unknown, no_ref, empty = (f.reason for f in parsed.failures)
    assert bad_yaml.startswith("document 1 (line 1): front matter is not valid YAML:")
    assert "(line 3)" in bad_yaml or "(line 4)" in bad_yaml
    assert unknown.startswith("document 3 (line 15): unknown kind 'anecdote'")
    assert no_ref == "document 4 (line 21): finding has neither 'ref' (a BibTeX key) nor 'doi'"
    assert empty == "document 5 (line 27): summary has no text below its front matter"
    assert parsed.failures[0].raw.startswith("---\nkind: quote\nref: [kei2020")


def test_file_without_front_matter_is_not_ours(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="has no front matter"):
        parse("# Notes\n\nJust prose.\n\n---\n\nMore prose.\n", "notes.md")
    path = tmp_path / "notes.md"
    path.write_text("# Notes\n\nJust prose.\n", encoding="utf-8")
    with pytest.raises(ReadError, match=r"notes\.md: has no front matter"):
        read_file(path, fmt="markdown")


def test_prose_between_two_rules_is_not_front_matter() -> None:
    text = (
        "---\nkind: quote\nref: k1\n---\nFirst.\n\n"
        "---\nNote: this sits between two rules\nand is prose, not YAML\n---\n\nStill first.\n"
        "\n---\nSee also: the appendix\n---\n"
    )
    parsed = parse(text, "rules.md")
    assert parsed.failures == []
    (extract,) = parsed.extracts
    assert "and is prose, not YAML" in extract["text"]
    assert extract["text"].endswith("See also: the appendix\n---")


def test_missing_kind_and_text_before_the_first_document() -> None:
    text = (
        "Preface nobody reads.\n\n"
        "---\nref: k1\n---\nA body.\n\n"
        "---\nkind: QUOTE\nref: k2\n---\nOK\n"
    )
    parsed = parse(text, "p.md")
    assert [e["ref"] for e in parsed.extracts] == ["k2"]
    assert parsed.extracts[0]["kind"] == "quote"
    preface, no_kind = parsed.failures
    assert preface.line == 1 and "before the first front matter" in preface.reason
    assert preface.raw == "Preface nobody reads."
    assert no_kind.line == 3 and "has no 'kind'" in no_kind.reason


def test_fulltext_without_title_fails_and_without_body_keeps_the_record() -> None:
    text = (
        "---\nkind: fulltext\nkey: a\n---\nText without a title.\n"
        "---\nkind: fulltext\nkey: b\ntitle: A guide\nauthors: Smith, J.; Jones, K.\n"
        "publisher: Press\norganisation: Ignored Org\ngrey: 'yes'\nyear: 2020\n---\n"
    )
    parsed = parse(text, "ft.md")
    (rec,) = parsed.records
    assert rec["source_key"] == "b" and rec["position"] == 2 and rec["line"] == 6
    assert rec["publisher"] == "Press" and rec["grey"] is True and rec["year"] == "2020"
    assert rec["authors"] == "Smith, J.; Jones, K."  # the normaliser splits strings
    assert rec["extra"] == {}
    assert parsed.fulltexts == []
    assert [f.reason for f in parsed.failures] == [
        "document 1 (line 1): fulltext has no 'title'",
        "document 2 (line 6): fulltext has no text below its front matter; the record was kept",
    ]


def test_form_feeds_stay_in_the_text_and_yaml_like_prose_is_not_a_block() -> None:
    text = (
        "---\nkind: fulltext\ntitle: A report\n---\nPage one.\fPage two.\n\n"
        "---\nNote: see: the annex\n---\nStill the report.\n"
    )
    parsed = parse(text, "ff.md")
    assert parsed.failures == []
    (full,) = parsed.fulltexts
    assert (
        full["text"] == "Page one.\fPage two.\n\n---\nNote: see: the annex\n---\nStill the report."
    )
