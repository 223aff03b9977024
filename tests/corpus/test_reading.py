"""read()/read_file(): format by content, failures as data, clear errors for hopeless files."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth.corpus import RECORD_COLUMNS, ReadError, read, read_file

RIS_RECORD = """TY  - JOUR
AU  - Robert, Glenn
TI  - Experience-based co-design in a {n} cancer service
JO  - BMJ Quality & Safety
PY  - 2015
AB  - We used experience-based co-design with patients and staff to improve care.
ER  - 

"""


def test_format_is_chosen_by_content_not_extension(tmp_path: Path) -> None:
    mislabelled = tmp_path / "export.bib"  # really RIS
    mislabelled.write_text(RIS_RECORD.format(n=1), encoding="utf-8")
    result = read_file(mislabelled)
    assert result.format == "ris"
    assert result.records.title.tolist() == ["Experience-based co-design in a 1 cancer service"]


def test_read_unpacks_to_records_and_failures(tmp_path: Path) -> None:
    (tmp_path / "a.ris").write_text(RIS_RECORD.format(n=1) + RIS_RECORD.format(n=2))
    records, failures = read(tmp_path / "a.ris")
    assert list(records.columns) == RECORD_COLUMNS
    assert len(records) == 2 and failures.empty
    assert records.position.tolist() == [1, 2]
    assert records.source_file.unique().tolist() == ["a.ris"]


def test_folder_is_read_recursively_and_a_hopeless_file_becomes_one_failure(
    tmp_path: Path,
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.ris").write_text(RIS_RECORD.format(n=3))
    (tmp_path / "a.ris").write_text(RIS_RECORD.format(n=1))
    (tmp_path / "junk.ris").write_bytes(bytes(range(256)) * 20)
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04 not ours")  # not an importable suffix
    result = read(tmp_path)
    assert sorted(result.records.title.str[-16:]) == ["1 cancer service", "3 cancer service"]
    assert result.failures.file.tolist() == ["junk.ris"]
    assert "binary" in result.failures.reason.item()
    with pytest.raises(ReadError, match=r"junk\.ris"):
        read(tmp_path, strict=True)


def test_empty_file_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    empty = tmp_path / "empty.ris"
    empty.write_text("  \n\n")
    result = read_file(empty)
    assert result.records.empty
    assert result.failures.reason.tolist() == ["file is empty"]


def test_unrecognised_text_names_the_file(tmp_path: Path) -> None:
    odd = tmp_path / "letter.txt"
    odd.write_text("Dear reviewer,\nplease find attached.\n")
    with pytest.raises(ReadError, match=r"letter\.txt: format not recognised"):
        read_file(odd)


def test_missing_file_and_folder_are_named(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match=r"nope\.ris: no such file"):
        read_file(tmp_path / "nope.ris")
    with pytest.raises(ReadError, match="is a folder"):
        read_file(tmp_path)


def test_one_broken_record_does_not_take_down_the_others(tmp_path: Path) -> None:
    good = "".join(RIS_RECORD.format(n=i) for i in range(1, 5000))
    broken = "AU  - Nobody\nTI  - a record with no TY\nER  - \n\n"
    (tmp_path / "big.ris").write_text(good[: len(good) // 2] + broken + good[len(good) // 2 :])
    result = read_file(tmp_path / "big.ris")
    assert len(result.records) == 4999
    assert len(result.failures) == 1
    assert result.failures.line.item() > 1


@pytest.mark.slow
def test_a_50_mb_file_reads_and_binary_50_mb_is_refused_quickly(tmp_path: Path) -> None:
    record = RIS_RECORD.replace("AB  - ", "AB  - " + "Patients and staff co-designed care. " * 30)
    n = 50_000_000 // len(record) + 1
    big = tmp_path / "big.ris"
    big.write_text("".join(record.format(n=i) for i in range(n)))
    assert big.stat().st_size >= 50_000_000
    result = read_file(big)
    assert len(result.records) == n and result.failures.empty
    blob = tmp_path / "blob.ris"
    blob.write_bytes(bytes(range(256)) * (50_000_000 // 256))
    with pytest.raises(ReadError, match="binary"):
        read_file(blob)
