"""A tagging run counts the records whose text looks non-English (the tagger's notes:
tagged all the same), however it ran: in one chunk, in several, on a cluster
(tests/cluster/test_tag_notes.py); ``synth tag`` prints the count."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from synth.cli import app
from synth.store import connect, import_paths
from tests.tagging.test_tag_chunks import tagged

SPANISH = (
    "Antecedentes: la coproducción de servicios de salud con pacientes y familias es cada "
    "vez más común en los hospitales. Métodos: realizamos entrevistas semiestructuradas con "
    "profesionales y usuarios durante dos años. Resultados: los participantes valoraron la "
    "colaboración y la confianza mutua entre todos."
)
ENGLISH = (
    "Background: the co-design of services with patients and families is common in the "
    "hospitals of the region. Methods: we interviewed staff and service users over two "
    "years and analysed the data with the team."
)
#: Seven records, the second and the sixth in Spanish.
ABSTRACTS = [ENGLISH, SPANISH, ENGLISH, ENGLISH, ENGLISH, SPANISH, ENGLISH]


def notes_store(folder: Path) -> Path:
    """A store of :data:`ABSTRACTS` (two records look non-English)."""
    ris = "".join(
        f"TY  - JOUR\nTI  - Services study {i}\nAB  - {abstract}\nPY  - 2015\nER  - \n\n"
        for i, abstract in enumerate(ABSTRACTS)
    )
    (folder / "refs.ris").write_text(ris, "utf-8")
    db = folder / "notes.sqlite"
    con = connect(db)
    try:
        import_paths(con, [folder / "refs.ris"])
    finally:
        con.close()
    return db


def test_a_run_counts_its_non_english_records_in_one_chunk_or_several(tmp_path: Path) -> None:
    db = notes_store(tmp_path)
    whole = tagged(db, chunk_size=10_000)[2]
    chunked = tagged(db, chunk_size=2)[2]  # four chunks: the two notes in two of them
    assert chunked.tags is None  # several chunks: no rows held
    assert len(whole.tags.attrs["notes"]) == 2
    assert whole.summary.notes == chunked.summary.notes == 2
    assert whole.summary == chunked.summary


def test_synth_tag_prints_how_many_records_look_non_english(tmp_path: Path) -> None:
    db = notes_store(tmp_path)
    result = CliRunner().invoke(app, ["tag", "--db", str(db), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "2 record(s) look non-English; tagged all the same" in result.output
