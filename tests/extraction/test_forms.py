"""Forms as data: the language (every type), errors naming file, line, field and problem,
the packaged forms, the choice of appraisal tool, and pre-filling from the tagger."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from synth.extraction import forms
from synth.extraction.forms import (
    FIELD_TYPES,
    Field,
    FormError,
    appraisal_tools,
    default_form,
    load_form,
    parse_form,
    prefill,
    tool_for,
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


# -- appraisal tools ---------------------------------------------------------------------------


def test_the_appraisal_tools_follow_their_domains_and_cite_them() -> None:
    tools = appraisal_tools()
    assert set(tools) == {"appraisal-mmat", "appraisal-casp-qualitative", "appraisal-aacods"}
    mmat, casp, aacods = (tools[k] for k in sorted(tools)[::-1])
    assert mmat.sections == (
        "Screening",
        "Qualitative",
        "Randomised controlled",
        "Non-randomised",
        "Quantitative descriptive",
        "Mixed methods",
    )
    assert [len(mmat.section_fields(s)) for s in mmat.sections] == [2, 5, 5, 5, 5, 5]
    assert len(casp.fields) == 10 and len(casp.sections) == 3
    assert aacods.sections == (
        "Authority",
        "Accuracy",
        "Coverage",
        "Objectivity",
        "Date",
        "Significance",
    )
    assert "Hong QN" in mmat.citation and "2018" in mmat.citation
    assert "Critical Appraisal Skills Programme (2018)" in casp.citation
    assert "Tyndall J (2010)" in aacods.citation
    for tool, scale in ((mmat, "can't tell"), (casp, "can't tell"), (aacods, "unclear")):
        assert tool.kind == "appraisal"
        for item in tool.fields.values():
            assert item.type == "choice" and item.choices == ("yes", "no", scale), item.id
            assert item.label.endswith("?"), item.id  # each item a question


@pytest.mark.parametrize(
    ("design", "grey", "tool"),
    [
        ("qualitative", False, "appraisal-casp-qualitative"),
        ("qualitative", True, "appraisal-aacods"),  # grey literature whatever its design
        (None, True, "appraisal-aacods"),
        ("quantitative", False, "appraisal-mmat"),
        ("mixed-methods", False, "appraisal-mmat"),
        ("case-study", False, "appraisal-mmat"),
        ("review", False, "appraisal-mmat"),  # claimed by no tool: the `other` one
        (None, False, "appraisal-mmat"),
    ],
)
def test_tool_for_a_paper_by_design_and_grey(design: str | None, grey: bool, tool: str) -> None:
    assert tool_for(design, grey).id == tool


def packaged_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The packaged forms copied to ``tmp_path``, read from there by the module."""
    folder = tmp_path / "forms"
    shutil.copytree(forms.forms_dir(), folder)
    monkeypatch.setattr(forms, "forms_dir", lambda: folder)
    return folder


def test_two_tools_claiming_one_design_are_refused(tmp_path, monkeypatch) -> None:
    casp = packaged_copy(tmp_path, monkeypatch) / "appraisal-casp-qualitative.yml"
    casp.write_text(
        casp.read_text().replace("applies_to: [qualitative]", "applies_to: [qualitative, other]")
    )
    with pytest.raises(FormError, match="'other' is claimed by both"):
        tool_for("quantitative", False)


def test_without_a_tool_for_other_designs_tool_for_says_so(tmp_path, monkeypatch) -> None:
    mmat = packaged_copy(tmp_path, monkeypatch) / "appraisal-mmat.yml"
    mmat.write_text(mmat.read_text().replace(", other]", "]"))
    assert tool_for("quantitative", False).id == "appraisal-mmat"
    with pytest.raises(FormError, match="no appraisal tool applies to review or other"):
        tool_for("review", False)


def test_applies_to_names_design_labels_of_the_codebook(tmp_path: Path) -> None:
    text = (forms.forms_dir() / "appraisal-aacods.yml").read_text()
    message = error_for(tmp_path, text.replace("applies_to: [grey]", "applies_to: [gray]"))
    assert "applies_to" in message and "'gray' is not a design label" in message


# -- pre-filling from the tagger's tags ---------------------------------------------------------

#: KEI papers: two EBCD papers (neonatal care; cancer services), a grey literature review.
KEYS = ("gustavsson2014", "tsianakas2012", "slay2013")


@pytest.fixture(scope="module")
def kei_tags() -> tuple[dict[str, str], pd.DataFrame]:
    """Source key -> record id, and the tagger's rows for those papers of the bundled corpus."""
    from synth.corpus import read
    from synth.tagging import tag

    if not KEI.is_dir():
        pytest.skip(f"bundled corpus not found at {KEI}")
    corpus = read(KEI)
    records = corpus.records[corpus.records.source_key.isin(KEYS)]
    assert len(records) == len(KEYS)
    tags = tag(records, extracts=corpus.extracts, fulltexts=corpus.fulltexts)
    return dict(zip(records.source_key, records.record_id, strict=True)), tags


def evidence_sentences(tags: pd.DataFrame, record_id: str, facet: str, label: str) -> set[str]:
    rows = tags[(tags.record_id == record_id) & (tags.facet == facet) & (tags.label == label)]
    return {ev["sentence"] for evidence in rows.evidence for ev in evidence}


def test_an_ebcd_paper_prefills_its_approach_with_the_evidence_sentence(kei_tags) -> None:
    ids, tags = kei_tags
    form = default_form()
    for key, setting in [
        ("gustavsson2014", "children's and maternity care"),
        ("tsianakas2012", "hospital and acute care"),
    ]:
        rid = ids[key]
        filled = prefill(form, tags, rid)
        value, sentence = filled["approach"]
        assert value == ["experience-based co-design (EBCD)"]
        assert "experience-based co-design" in sentence.lower()
        assert sentence in evidence_sentences(tags, rid, "approach", "ebcd")
        assert filled["setting"][0] == setting
        quote, where = filled["approach_quote"]
        assert quote["text"] == where == sentence and quote["location"]
        for fid, (value, _) in filled.items():
            assert form.fields[fid].check(value) is None, (key, fid, value)
        assert not {"aims", "benefits", "participants_n"} & set(filled)  # no facet, no guess


def test_a_review_prefills_design_country_and_its_approach(kei_tags) -> None:
    ids, tags = kei_tags
    filled = prefill(default_form(), tags, ids["slay2013"])
    assert filled["design"][0] == "review"
    assert filled["setting"][0] == "mental health"
    assert filled["approach"][0] == ["co-production"]
    assert filled["country"][0] == "United Kingdom"
    assert filled["design"][1] in evidence_sentences(tags, ids["slay2013"], "design", "review")


def test_prefill_reads_stored_json_evidence_the_same(kei_tags) -> None:
    ids, tags = kei_tags
    stored = tags.assign(evidence=[json.dumps(e) for e in tags.evidence])
    for rid in ids.values():
        assert prefill(default_form(), stored, rid) == prefill(default_form(), tags, rid)


def test_prefill_skips_weak_tags_negated_sentences_and_unmapped_labels() -> None:
    def ev(sentence: str, **kw) -> list[dict]:
        return [{"field": "abstract", "sentence": sentence, "weight": 2.0, **kw}]

    tags = pd.DataFrame(
        [
            (
                "r1",
                "approach",
                "always-events",
                0.9,
                ev("No Always Events.", negated=True) + ev("We ran Always Events."),
            ),
            ("r1", "approach", "ebcd", 0.45, ev("EBCD was mentioned.")),
            ("r1", "setting", "community", 0.3, ev("In the community.")),
            ("r1", "design", "qualitative", 0.8, ev("We interviewed staff.")),
            ("r2", "setting", "primary-care", 0.9, ev("In general practice.")),
        ],
        columns=["record_id", "facet", "label", "score", "evidence"],
    )
    form = default_form()
    filled = prefill(form, tags, "r1")
    assert filled["approach"] == (["Always Events"], "We ran Always Events.")
    assert "setting" not in filled  # 0.3 is below the threshold
    assert filled["design"] == ("qualitative", "We interviewed staff.")
    assert prefill(form, tags, "r3") == {}
    assert prefill(form, tags.iloc[0:0], "r1") == {}


def test_each_packaged_form_is_named_by_its_id_and_loads_by_path(monkeypatch) -> None:
    names = forms.packaged_forms()
    assert names == sorted(["coproduction-extraction", *appraisal_tools()])
    for name in names:
        path = forms.forms_dir() / f"{name}.yml"
        assert load_form(name).id == name and load_form(path) is load_form(name)
    monkeypatch.chdir(forms.forms_dir())
    assert load_form("appraisal-aacods.yml").path == Path("appraisal-aacods.yml")
