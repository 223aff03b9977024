"""Forms as data: the language (every type), errors naming file, line, field and problem,
the packaged forms, the choice of appraisal tool, and pre-filling from the tagger."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth.extraction.forms import (
    FIELD_TYPES,
    Field,
    FormError,
    default_form,
    load_form,
    parse_form,
)

ROOT = Path(__file__).resolve().parents[2]
KEI = ROOT / "corpus" / "kei-2020"

EVERY_TYPE = """\
id: mini
title: A form with every type
sections:
  - section: Study
    fields:
      - id: aims
        label: Aims
        type: text
        help: What the study set out to do.
        key: true
      - id: n
        label: Participants
        type: number
      - id: setting
        label: Setting
        type: choice
        facet: setting
        choices: [hospital, community]
        from_labels:
          acute-care: hospital
  - section: Approach
    fields:
      - id: approach
        label: Approach
        type: choices
        facet: approach
        choices: [ebcd, co-design]
      - id: year
        label: Year
        type: year
      - id: quote
        label: In the paper's words
        type: quote
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "form.yml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(FormError) as info:
        load_form(path)
    message = str(info.value)
    assert str(path) in message  # every message names the file
    return message


# -- the language -----------------------------------------------------------------------------


def test_a_form_with_every_type_loads_in_order(tmp_path: Path) -> None:
    form = load_form(write(tmp_path, EVERY_TYPE))
    assert form.id == "mini" and form.kind == "extraction"
    assert form.sections == ("Study", "Approach")
    assert list(form.fields) == ["aims", "n", "setting", "approach", "year", "quote"]
    assert {f.type for f in form.fields.values()} == set(FIELD_TYPES)
    aims, setting = form.fields["aims"], form.fields["setting"]
    assert aims.key and aims.section == "Study" and aims.help == "What the study set out to do."
    assert setting.choices == ("hospital", "community") and setting.facet == "setting"
    assert setting.from_labels == (("acute-care", "hospital"),)
    assert [f.id for f in form.key_fields] == ["aims"]
    assert [f.id for f in form.section_fields("Approach")] == ["approach", "year", "quote"]
    assert form.path == tmp_path / "form.yml" and len(form.sha256) == 64


def test_a_scale_is_the_choices_of_items_without_their_own(tmp_path: Path) -> None:
    text = """\
id: tool
kind: appraisal
title: A tool
citation: Someone (2020). A checklist.
applies_to: [qualitative]
scale: ["yes", "no", "can't tell"]
sections:
  - section: Aims
    fields:
      - {id: aims-clear, label: "Are the aims clear?", type: choice}
      - {id: custom, label: Custom, type: choice, choices: [high, low]}
"""
    form = load_form(write(tmp_path, text))
    assert form.fields["aims-clear"].choices == ("yes", "no", "can't tell")
    assert form.fields["custom"].choices == ("high", "low")
    assert form.citation == "Someone (2020). A checklist." and form.applies_to == ("qualitative",)


@pytest.mark.parametrize(
    ("ftype", "fits", "misfits"),
    [
        ("text", ["", "a sentence"], [3, ["a"]]),
        ("number", [0, 12, 3.5], ["12", True, float("nan")]),
        ("choice", ["hospital"], ["clinic", ["hospital"]]),
        ("choices", [[], ["hospital", "community"]], ["hospital", ["clinic"], ["hospital"] * 2]),
        ("year", [2019, 1800], [2019.5, "2019", 1066, True]),
        (
            "quote",
            [{"text": "We used EBCD.", "location": "p. 3"}, {"text": "We used EBCD."}],
            ["We used EBCD.", {"text": "x", "page": 3}, {"text": "x", "location": 3}],
        ),
    ],
)
def test_field_check_says_what_does_not_fit(ftype: str, fits: list, misfits: list) -> None:
    choices = ("hospital", "community") if ftype.startswith("choice") else ()
    fld = Field("f", "S", "F", ftype, choices=choices)
    assert fld.check(None) is None  # a cleared value always fits
    for value in fits:
        assert fld.check(value) is None, value
    for value in misfits:
        problem = fld.check(value)
        assert isinstance(problem, str) and problem, value


def test_a_choice_outside_the_list_is_named_with_the_list() -> None:
    fld = Field("setting", "S", "Setting", "choice", choices=("hospital", "community"))
    assert fld.check("clinic") == "'clinic' is not one of hospital, community"


# -- bad forms ---------------------------------------------------------------------------------


def test_an_unknown_type_is_refused_with_file_line_and_field(tmp_path: Path) -> None:
    message = error_for(tmp_path, EVERY_TYPE.replace("type: year", "type: date"))
    assert "field 'year'" in message and "unknown type 'date'" in message
    assert "(line 30)" in message  # the line of the bad type


def test_a_duplicate_field_id_is_refused_with_both_lines(tmp_path: Path) -> None:
    message = error_for(tmp_path, EVERY_TYPE.replace("id: year", "id: aims"))
    assert "field 'aims'" in message and "duplicate field id (first at line 6)" in message
    assert "(line 28)" in message


def test_a_label_mapped_to_a_choice_outside_the_list_is_refused(tmp_path: Path) -> None:
    message = error_for(tmp_path, EVERY_TYPE.replace("acute-care: hospital", "acute-care: ward"))
    assert "field 'setting'" in message and "(line 20)" in message
    assert "'acute-care' maps to 'ward', which is not one of its choices" in message


def test_a_choice_listed_twice_is_refused(tmp_path: Path) -> None:
    message = error_for(tmp_path, EVERY_TYPE.replace("[ebcd, co-design]", "[ebcd, ebcd]"))
    assert "field 'approach', choices" in message and "'ebcd' is listed twice" in message


def test_a_missing_label_is_refused(tmp_path: Path) -> None:
    message = error_for(tmp_path, EVERY_TYPE.replace("        label: Participants\n", ""))
    assert "field 'n' (line 11): needs `label`" in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("facet: setting", "facet: settings", "unknown tagger facet 'settings'"),
        ("acute-care: hospital", "hospital: hospital", "'hospital' is not a label of facet"),
        ("type: number", "type: number\n        facet: design", "a number field cannot be pre"),
        ("type: text\n", "type: text\n        choices: [a]\n", "a text field takes no `choices`"),
        ("id: n\n", "id: N\n", "an id must be lower-case"),
        ("        help: What", "        colour: red\n        help: What", "unknown key 'colour'"),
        ("sections:", "kind: survey\nsections:", "kind: must be one of extraction, appraisal"),
        ("- section: Approach", "- section: Study", "section 'Study'"),
        ("title: A form", "title: X\ntitle: A form", "duplicate key 'title' (first at line 2)"),
        ("    fields:\n      - id: approach", "    fields: []\n      - id: approach", "YAML"),
    ],
)
def test_other_mistakes_are_named(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in EVERY_TYPE
    assert expected in error_for(tmp_path, EVERY_TYPE.replace(old, new, 1))


def test_an_appraisal_tool_must_cite_its_source(tmp_path: Path) -> None:
    text = EVERY_TYPE.replace("sections:", "kind: appraisal\nsections:")
    assert "an appraisal tool must cite the tool it follows" in error_for(tmp_path, text)


def test_unquoted_yes_no_in_a_scale_get_a_hint(tmp_path: Path) -> None:
    text = EVERY_TYPE.replace("sections:", "scale: [yes, no]\nsections:")
    assert "quote them" in error_for(tmp_path, text)


def test_a_missing_file_or_unknown_name_is_a_form_error(tmp_path: Path) -> None:
    with pytest.raises(FormError, match="cannot read the form"):
        load_form(tmp_path / "nope.yml")
    with pytest.raises(FormError, match=r"no such packaged form.*coproduction-extraction"):
        load_form("nope")


def test_parse_form_names_its_source() -> None:
    with pytest.raises(FormError, match=r"^review/my-form\.yml: .*needs a value"):
        parse_form("id: x\nsections: []\n", source="review/my-form.yml")


# -- the packaged forms -------------------------------------------------------------------------


def test_the_default_form_covers_the_items_of_a_coproduction_review() -> None:
    form = default_form()
    assert form.kind == "extraction" and load_form("coproduction-extraction") is form
    f = form.fields
    for fid in ("aims", "setting", "country", "involved", "participants", "approach"):
        assert fid in f
    for fid in ("participation_level", "stages", "methods", "design", "outcomes"):
        assert fid in f
    for fid in ("benefits", "barriers", "enablers"):
        assert f[fid].type == "text"
    assert {"patients or service users", "carers and families", "staff"} <= set(
        f["involved"].choices
    )
    assert "communities or the public" in f["involved"].choices
    assert f["participation_level"].choices == ("clinical", "organisational", "system")
    assert set(f["outcomes"].choices) >= {"experience", "efficiency", "clinical"}
    assert {"experience-based co-design (EBCD)", "Always Events", "co-design"} <= set(
        f["approach"].choices
    )
    prefilled = {fld.facet for fld in f.values() if fld.facet}
    assert prefilled == {"setting", "country", "design", "approach"}
    assert {fld.id for fld in form.key_fields} >= {"aims", "setting", "country", "approach"}


def test_every_label_of_a_prefilling_facet_has_a_place_in_its_field() -> None:
    """A choice field the tagger fills takes every label of its facet (none is lost)."""
    from synth.tagging.codebook import load_codebook

    codebook = load_codebook()
    for fld in default_form().fields.values():
        if fld.facet and fld.type in ("choice", "choices"):
            labels = codebook.labels(fld.facet)
            assert all(fld.suggestion(label) in fld.choices for label in labels), fld.id
