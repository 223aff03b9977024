"""A setting is never taken from a journal's name alone unless the journal is specific to
that setting (issue 15, point 4): the codebook's setting facet reads only the venue cues
it lists (``venue_cues: listed``)."""

from __future__ import annotations

import pytest

from synth.corpus.normalise import records_frame
from synth.tagging.codebook import load_codebook
from synth.tagging.tagger import tag


def _settings(*venues: tuple[str, str]) -> list[set[str]]:
    """Setting labels tagged (any score) on records with a neutral title and these
    (venue, abstract) pairs, in their order."""
    rows = [
        {"record_id": f"r{i}", "source_key": f"k{i}", "title": "A study", "venue": v, "abstract": a}
        for i, (v, a) in enumerate(venues)
    ]
    tags = tag(records_frame(rows))
    out: list[set[str]] = [set() for _ in venues]
    setting = tags[tags.facet == "setting"]
    for rid, label in zip(setting["record_id"], setting["label"], strict=True):
        out[int(rid[1:])].add(label)
    return out


def test_a_general_journal_gives_no_setting() -> None:
    got = _settings(
        ("BMC Health Services Research", ""),
        ("Research Involvement and Engagement", ""),
        ("Health Services Management Research", ""),
        ("BMC Health Services Research", "Patients in general practices took part."),
        ("BMJ", ""),
        ("PLoS One", ""),
        ("Journal of Advanced Nursing", ""),
    )
    assert got[:3] == [set(), set(), set()]
    assert got[3] == {"primary-care"}  # from the abstract, not the journal
    assert got[4:] == [set(), set(), set()]


def test_a_community_cue_still_counts_in_the_abstract() -> None:
    got = _settings(("BMC Health Services Research", "A public health programme in schools."))
    assert "community" in got[0]


@pytest.mark.parametrize(
    ("venue", "label"),
    [
        ("Mental Health Review Journal", "mental-health"),
        ("Mental Health and Social Inclusion", "mental-health"),
        ("British Journal of Psychiatry", "mental-health"),
        ("Psychiatric Services", "mental-health"),
        ("Annals of Family Medicine", "primary-care"),
        ("British Journal of General Practice", "primary-care"),
        ("Archives of Disease in Childhood", "paediatrics-maternity"),
        ("Emergency Medicine Journal", "acute-care"),
        # a phrase that is both a text cue and a venue cue keeps counting in the text too
        ("BMC Public Health", "community"),
        ("Journal of Community Health", "community"),
    ],
)
def test_a_setting_specific_journal_names_its_setting(venue: str, label: str) -> None:
    assert _settings((venue, "")) == [{label}]


def test_venue_cues_is_checked(tmp_path) -> None:
    from synth.tagging.codebook import CodebookError

    bad = tmp_path / "codebook.yml"
    bad.write_text(
        "version: '1'\nname: t\nfacets:\n  setting:\n    venue_cues: some\n    labels:\n"
        "      acute-care:\n        cues: [hospital]\n",
        encoding="utf-8",
    )
    with pytest.raises(CodebookError, match="venue_cues"):
        load_codebook(bad)


def test_listed_is_the_only_change() -> None:
    """Other facets still read any journal name (a country's national journal)."""
    cb = load_codebook()
    assert cb.facets["setting"].venue_cues == "listed"
    assert cb.facets["country"].venue_cues == "listed"  # national journals listed by name
    others = {f.venue_cues for fid, f in cb.facets.items() if fid not in ("setting", "country")}
    assert others == {"all"}
    rec = {"record_id": "r0", "source_key": "k0", "title": "A study", "venue": "N Z Med J"}
    tags = tag(records_frame([rec]))
    assert "New Zealand" in set(tags.loc[tags.facet == "country", "label"])
