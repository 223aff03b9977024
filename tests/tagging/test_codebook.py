"""The codebook loads, validates, and says exactly what is wrong with a broken one."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from synth.tagging.codebook import CodebookError, default_path, load_codebook, parse_codebook

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "tagging"
MINI = FIXTURES / "mini_codebook.yml"

BASE = """\
version: "t1"
facets:
  approach:
    multi: true
    labels:
      ebcd:
        definition: Experience-based co-design.
        cues: [experience-based co-design, EBCD]
      co-design:
        definition: Co-design.
        cues: [co-design]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "codebook.yml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(CodebookError) as info:
        load_codebook(path)
    message = str(info.value)
    assert str(path) in message  # every message names the file
    return message


# -- the bundled codebook -------------------------------------------------------------------


def test_default_codebook_has_the_facets_and_labels_of_the_design() -> None:
    cb = load_codebook()
    assert list(cb.facets) == [
        "setting",
        "approach",
        "design",
        "country",
        "publication",
    ]  # no criterion facet: a review's criteria come from its review.yml
    assert set(cb.labels("setting")) == {
        "acute-care",
        "mental-health",
        "primary-care",
        "paediatrics-maternity",
        "community",
        "social-care",
        "multiple-mixed",
        "not-applicable",
    }
    assert {"ebcd", "always-events", "co-design", "co-production", "ppi"} <= set(
        cb.labels("approach")
    )
    countries = {"United Kingdom", "United States", "Canada", "Australia", "New Zealand"}
    assert countries | {"Norway", "Netherlands", "China", "Iran"} <= set(cb.labels("country"))
    assert {"journal", "grey"} <= set(cb.labels("publication"))
    assert not cb.facets["publication"].multi
    assert not cb.facets["setting"].multi  # one setting per paper, as both golds label it
    assert cb.facets["country"].multi


def test_criterion_labels_are_the_review_criteria_ids() -> None:
    import yaml

    review_path = Path(__file__).resolve().parents[2] / "corpus" / "kei-2020" / "review.yml"
    review = yaml.safe_load(review_path.read_text(encoding="utf-8"))
    ids = {c["id"] for c in review["inclusion_criteria"] + review["exclusion_criteria"]}
    ids.discard("years")  # computed from the year field, not from text
    from synth.review import load_review
    from synth.tagging.codebook import with_criteria

    criteria = load_review(review_path).criteria
    assert set(with_criteria(load_codebook(), criteria).labels("criterion")) == ids


def test_every_default_label_has_a_definition_and_cues() -> None:
    cb = load_codebook()
    for facet in cb.facets.values():
        for label in facet.labels.values():
            assert label.definition, f"{facet.id}/{label.id} has no definition"
            assert label.cues or label.metadata, f"{facet.id}/{label.id} has no cues"


def test_hash_and_version_identify_the_file() -> None:
    cb = load_codebook()
    assert cb.sha256 == hashlib.sha256(default_path().read_bytes()).hexdigest()
    assert cb.tag_version == f"rules:{cb.version}:{cb.sha256[:12]}"


def test_spelling_variants_and_patterns_become_phrases() -> None:
    cb = load_codebook(MINI)
    phrases = {c.phrase for c in cb.cues() if c.label == "co-design"}
    assert {"co-design", "co design", "codesign", "co-designed"} <= phrases
    ebcd = {c.phrase for c in cb.cues() if c.label == "ebcd"}
    assert {"trigger films", "trigger", "touchpoint films", "touchpoint"} <= ebcd
    us = next(c for c in cb.cues() if c.phrase == "US")
    assert us.case == ((0, "US"),)
    bmj = next(c for c in cb.cues() if c.phrase == "BMJ")
    assert bmj.fields == frozenset({"venue"})


def test_patterns_for_the_span_ruler_carry_facet_label_and_cue() -> None:
    cb = load_codebook(MINI)
    patterns = cb.patterns()
    ebcd = next(p for p in patterns if p["pattern"] == "EBCD")
    assert ebcd == {"label": "approach/ebcd", "pattern": "EBCD", "id": "approach|ebcd|cue|EBCD"}
    assert any(p["id"] == "~negation|trigger|without" for p in patterns)
    assert any(p["id"] == "~negation|pseudo|not only" for p in patterns)


def test_a_negative_may_be_a_token_pattern_with_fields(tmp_path: Path) -> None:
    text = BASE.replace(
        "        cues: [co-design]\n",
        "        cues: [co-design]\n"
        "        negative:\n"
        "          - pattern: [{LOWER: {IN: [impact, effect]}}, {LOWER: of},\n"
        "                      {LOWER: the, OP: '?'}, {LOWER: co-design}]\n"
        "            weight: 2.0\n"
        "            fields: [title]\n",
    )
    cb = load_codebook(write(tmp_path, text))
    negative = {c.phrase: c for c in cb.facets["approach"].labels["co-design"].negative}
    assert set(negative) == {"impact of co-design", "impact of the co-design",
                             "effect of co-design", "effect of the co-design"}  # fmt: skip
    cue = negative["impact of the co-design"]
    assert (cue.kind, cue.weight, cue.fields) == ("negative", 2.0, frozenset({"title"}))
    refused = error_for(
        tmp_path, text.replace("            weight: 2.0\n", "            yields: true\n")
    )
    assert "`yields` is for cues, not for a negative pattern" in refused


def test_parse_codebook_from_text() -> None:
    cb = parse_codebook(BASE, source="inline")
    assert cb.version == "t1" and cb.path is None
    assert cb.labels("approach") == ["ebcd", "co-design"]


# -- errors: one test per problem ---------------------------------------------------------


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    message = error_for(tmp_path, BASE + "      bad: [unclosed\n")
    assert "YAML syntax error" in message
    assert "line" in message


def test_unknown_facet_key(tmp_path: Path) -> None:
    message = error_for(
        tmp_path, BASE.replace("    multi: true", "    multi: true\n    lables: {}")
    )
    assert "facet 'approach'" in message
    assert "unknown key 'lables'" in message


def test_unknown_label_key(tmp_path: Path) -> None:
    text = BASE.replace("        cues: [co-design]", "        cues: [co-design]\n        cue: [x]")
    message = error_for(tmp_path, text)
    assert "facet 'approach', label 'co-design'" in message
    assert "unknown key 'cue'" in message


def test_label_without_cues(tmp_path: Path) -> None:
    message = error_for(tmp_path, BASE.replace("        cues: [co-design]\n", ""))
    assert "facet 'approach', label 'co-design'" in message
    assert "no cues" in message


def test_cue_that_is_not_a_phrase(tmp_path: Path) -> None:
    message = error_for(tmp_path, BASE.replace("[co-design]", "[co-design, 42]"))
    assert "facet 'approach', label 'co-design', cue 2" in message
    assert "must be a phrase" in message
    message = error_for(tmp_path, BASE.replace("[co-design]", "[[co, design]]"))
    assert "label 'co-design', cue 1" in message


def test_unquoted_yaml_boolean_cue_gets_a_hint(tmp_path: Path) -> None:
    message = error_for(tmp_path, BASE.replace("[co-design]", "[co-design, no]"))
    assert "quote" in message


def test_bad_token_pattern(tmp_path: Path) -> None:
    bad_attr = BASE.replace(
        "        cues: [co-design]", "        cues: [co-design]\n        patterns: [[{LOWR: co}]]"
    )
    message = error_for(tmp_path, bad_attr)
    assert "facet 'approach', label 'co-design', pattern 1" in message
    assert "bad token pattern" in message
    bad_op = BASE.replace(
        "        cues: [co-design]",
        "        cues: [co-design]\n        patterns: [[{LOWER: co, OP: '+'}]]",
    )
    message = error_for(tmp_path, bad_op)
    assert "pattern 1" in message and "operator '+'" in message


def test_duplicate_label_ids(tmp_path: Path) -> None:
    text = BASE + "      ebcd:\n        definition: again\n        cues: [EBD]\n"
    message = error_for(tmp_path, text)
    assert "facet 'approach'" in message
    assert "duplicate label id 'ebcd'" in message


def test_weights_must_be_numbers(tmp_path: Path) -> None:
    message = error_for(tmp_path, "field_weights:\n  title: high\n" + BASE)
    assert "field_weights.title" in message and "must be a number" in message
    text = BASE.replace("[co-design]", "[{phrase: co-design, weight: heavy}]")
    message = error_for(tmp_path, text)
    assert "facet 'approach', label 'co-design', cue 1" in message
    assert "must be a number" in message


def test_unknown_field_in_a_cue(tmp_path: Path) -> None:
    text = BASE.replace("[co-design]", "[{phrase: co-design, fields: [abstrct]}]")
    message = error_for(tmp_path, text)
    assert "label 'co-design', cue 1" in message and "abstrct" in message


def test_ids_must_be_kebab_case(tmp_path: Path) -> None:
    message = error_for(tmp_path, BASE.replace("      co-design:", "      Co_Design:"))
    assert "label 'Co_Design'" in message and "kebab-case" in message


def test_missing_file_and_wrong_shape(tmp_path: Path) -> None:
    with pytest.raises(CodebookError, match="cannot read the codebook"):
        load_codebook(tmp_path / "nope.yml")
    message = error_for(tmp_path, "- just\n- a list\n")
    assert "mapping" in message
    message = error_for(tmp_path, BASE.replace('version: "t1"\n', ""))
    assert "version" in message


def test_bad_metadata_rule(tmp_path: Path) -> None:
    text = BASE.replace(
        "        cues: [co-design]",
        "        cues: [co-design]\n        metadata: [{column: colour, equals: red}]",
    )
    message = error_for(tmp_path, text)
    assert "label 'co-design', metadata rule 1" in message and "column" in message


def test_outranks_must_name_another_label_of_the_facet(tmp_path: Path) -> None:
    text = BASE.replace(
        "        cues: [experience-based co-design, EBCD]",
        "        cues: [experience-based co-design, EBCD]\n        outranks: [codesign]",
    )
    message = error_for(tmp_path, text)
    assert "facet 'approach', label 'ebcd'" in message and "'codesign'" in message


def test_outranks_from_a_score_combines_and_negation_are_checked(tmp_path: Path) -> None:
    ebcd = "        cues: [experience-based co-design, EBCD]"
    no_score = BASE.replace(ebcd, ebcd + "\n        outranks: [{label: co-design}]")
    assert "needs `label` and one of `min_score`, `fields`" in error_for(tmp_path, no_score)
    unknown = BASE.replace(
        ebcd, ebcd + "\n        combines: {labels: [co-design, codesign], min_score: 0.5}"
    )
    message = error_for(tmp_path, unknown)
    assert "`combines` names 'codesign'" in message and "label 'ebcd'" in message
    for combines, says in [
        ("{labels: [co-design, ppi], at_least: 3}", "`at_least` must be a whole number from 2"),
        ("{labels: [co-design, ppi], same_sentence: yes-ish}", "`same_sentence` must be true"),
        ("{labels: [co-design, ppi], roles: [study]}", "`roles` needs `same_sentence: true`"),
        ("{labels: [co-design, ppi], same_sentence: true, roles: [aims]}", "names 'aims'"),
    ]:
        assert says in error_for(
            tmp_path, BASE.replace(ebcd, f"{ebcd}\n        combines: {combines}")
        )
    not_bool = BASE.replace("    multi: true", "    multi: true\n    demonyms_yield: often")
    assert "`demonyms_yield` must be true or false" in error_for(tmp_path, not_bool)
    no_gazetteer = BASE.replace("    multi: true", "    multi: true\n    demonyms_yield: true")
    assert "`demonyms_yield` needs `gazetteer: countries`" in error_for(tmp_path, no_gazetteer)
    bad_negation = BASE.replace("    multi: true", "    multi: true\n    negation: no-way")
    assert "`negation` must be true, false or {window: N}" in error_for(tmp_path, bad_negation)
    bad_window = BASE.replace("    multi: true", "    multi: true\n    negation: {window: -1}")
    assert "negation.window" in error_for(tmp_path, bad_window)
    short = BASE.replace("    multi: true", "    multi: true\n    negation: {window: 2}")
    (tmp_path / "short.yml").write_text(short)
    approach = load_codebook(tmp_path / "short.yml").facets["approach"]
    assert approach.negation and approach.negation_window == 2
    for bad, says in [
        ("[{label: co-design, min_score: 0.6, fields: [title]}]", "one of `min_score`, `fields`"),
        ("[{label: co-design, fields: [journal]}]", "must be a list of fields"),
        ("[{label: codesign, fields: [title]}]", "`outranks` names 'codesign'"),
        ("[co-design, 0.5]", "{label, min_score} or {label, fields}"),
    ]:
        assert says in error_for(tmp_path, BASE.replace(ebcd, ebcd + f"\n        outranks: {bad}"))
    # a field the facet does not read would never fire
    unread = BASE.replace("    multi: true", "    multi: true\n    fields: [abstract]").replace(
        ebcd, ebcd + "\n        outranks: [{label: co-design, fields: [title]}]"
    )
    assert "names field 'title', not one of the facet's `fields`" in error_for(tmp_path, unread)
    for bad, says in [("venue", "must be a list of fields"), ("[journal]", "not one of the")]:
        text = BASE.replace("    multi: true", f"    multi: true\n    fields_yield: {bad}")
        assert says in error_for(tmp_path, text)
    good = BASE.replace("    multi: true", "    multi: true\n    negation: false").replace(
        ebcd, ebcd + "\n        outranks: [{label: co-design, min_score: 0.6}]"
    )
    facet = load_codebook(write(tmp_path, good)).facets["approach"]
    assert facet.negation is False
    assert facet.labels["ebcd"].outranks == ("co-design",)
    assert facet.labels["ebcd"].outranks_from == (("co-design", 0.6),)
    by_title = BASE.replace(
        ebcd, ebcd + "\n        outranks: [{label: co-design, fields: [title]}]"
    )
    label = load_codebook(write(tmp_path, by_title)).facets["approach"].labels["ebcd"]
    assert label.outranks_in == (("co-design", frozenset({"title"})),)


def test_a_cues_unless_names_the_records_longer_texts_only(tmp_path: Path) -> None:
    text = BASE.replace("[co-design]", "[{phrase: co-design, unless: [venue]}]")
    message = error_for(tmp_path, text)
    assert "label 'co-design', cue 1" in message
    assert "`unless` names 'venue': it takes abstract, extract, fulltext" in message


def test_issuer_only_and_rights_notices_are_checked(tmp_path: Path) -> None:
    message = error_for(
        tmp_path, BASE.replace("    multi: true", "    multi: true\n    issuer_only: 1")
    )
    assert "facet 'approach'" in message and "`issuer_only` must be true or false" in message
    message = error_for(tmp_path, "matching:\n  rights_notice: [x]\n" + BASE)
    assert "unknown key 'rights_notice'" in message


def test_a_token_pattern_can_carry_a_weight(tmp_path: Path) -> None:
    path = tmp_path / "codebook.yml"
    path.write_text(
        BASE.replace(
            "        cues: [co-design]",
            "        cues: [co-design]\n"
            "        patterns:\n"
            "          - pattern: [{LOWER: {IN: [we, they]}}, {LOWER: co-designed}]\n"
            "            weight: 0.4\n"
            "          - [{LOWER: jointly}, {LOWER: designed}]",
        )
    )
    cb = load_codebook(path)
    weights = {c.phrase: c.weight for c in cb.cues() if c.label == "co-design"}
    assert weights["we co-designed"] == weights["they co-designed"] == 0.4
    assert weights["jointly designed"] == 1.0
    bad = BASE.replace(
        "        cues: [co-design]",
        "        cues: [co-design]\n        patterns:\n"
        "          - {pattern: [{LOWER: co}], weigth: 2}",
    )
    message = error_for(tmp_path, bad)
    assert "label 'co-design', pattern 1" in message and "unknown key 'weigth'" in message
    no_tokens = BASE.replace(
        "        cues: [co-design]",
        "        cues: [co-design]\n        patterns:\n          - {weight: 0.5}",
    )
    assert "needs its `pattern`" in error_for(tmp_path, no_tokens)
    # a phrase that is already a plain cue of the label cannot get a second weight
    clash = BASE.replace(
        "        cues: [co-design]",
        "        cues: [co-design, jointly designed]\n        patterns:\n"
        "          - pattern: [{LOWER: jointly}, {LOWER: designed}]\n"
        "            weight: 0.5",
    )
    message = error_for(tmp_path, clash)
    assert "'jointly designed' is already a cue of this label" in message


def test_a_pattern_weight_changes_the_score_and_yields_gives_way_to_a_place(
    tmp_path: Path,
) -> None:
    import pandas as pd

    from synth.tagging.tagger import tag

    text = """version: t1
facets:
  setting:
    definition: where
    multi: true
    labels:
      primary-care:
        definition: general practice
        cues: [general practice]
      mental-health:
        definition: psychiatric care
        patterns:
          - pattern: [{LOWER: patients}, {LOWER: with}, {LOWER: depression}]
            weight: WEIGHT
            yields: YIELDS
"""
    records = pd.DataFrame(
        [
            {"record_id": "a", "title": "", "abstract": "We followed patients with depression."},
            {"record_id": "b", "title": "",
             "abstract": "We followed patients with depression in general practice."},
        ]
    )  # fmt: skip

    def labels(weight: float, yields: str) -> dict[str, dict[str, float]]:
        path = tmp_path / f"cb-{weight}-{yields}.yml"
        path.write_text(text.replace("WEIGHT", str(weight)).replace("YIELDS", yields))
        tags = tag(records, codebook=load_codebook(path))
        out: dict[str, dict[str, float]] = {"a": {}, "b": {}}
        for rid, label, score in zip(tags.record_id, tags.label, tags.score, strict=True):
            out[rid][label] = score
        return out

    heavy, light = labels(1.0, "false"), labels(0.4, "false")
    assert light["a"]["mental-health"] < heavy["a"]["mental-health"]
    # alone it names the label; beside a place it gives way only when it yields
    assert set(labels(1.0, "true")["a"]) == {"mental-health"}
    assert set(labels(1.0, "true")["b"]) == {"primary-care"}
    assert "mental-health" in heavy["b"]
