"""synth.themes.codebook: the theme framework as validated data."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import yaml

from synth.themes.assign import cue_regex
from synth.themes.codebook import (
    ThemeCodebookError,
    default_path,
    load_theme_codebook,
    parse_theme_codebook,
)

ROOT = Path(__file__).resolve().parents[2]
REVIEW = ROOT / "corpus" / "kei-2020" / "review.yml"

GOOD = """
version: "1"
groups:
  org: Organisation
themes:
  - id: leadership
    group: org
    heading: Senior leadership
    definition: Leaders who sponsor the work.
    recommendations: [Leaders give time]
    cues: [leadership, {phrase: sponsor*, weight: 0.5}]
    negative: [patient leadership]
"""


def test_default_codebook_matches_the_review_framework() -> None:
    cb = load_theme_codebook()
    review = yaml.safe_load(REVIEW.read_text("utf-8"))
    review_ids = [t["id"] for g in review["themes"] for t in g["themes"]]
    assert cb.ids == review_ids
    assert list(cb.groups) == [g["id"] for g in review["themes"]]
    assert cb.sha256 == hashlib.sha256(default_path().read_bytes()).hexdigest()
    assert cb.tag_version == f"themes:{cb.version}:{cb.sha256[:12]}"
    for theme in cb.themes:
        assert theme.definition and theme.cues and theme.recommendations
    # headings are the review's own
    headings = {t["id"]: t["heading"] for g in review["themes"] for t in g["themes"]}
    assert {t.id: t.heading for t in cb.themes} == headings


def test_good_codebook_parses() -> None:
    cb = parse_theme_codebook(GOOD, source="t.yml")
    theme = cb.theme("leadership")
    assert [(c.phrase, c.weight) for c in theme.cues] == [("leadership", 1.0), ("sponsor*", 0.5)]
    assert theme.negative == ("patient leadership",)
    assert cb.scoring.similarity_threshold == pytest.approx(0.16)  # the default
    with pytest.raises(KeyError):
        cb.theme("nope")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("group: org\n", "group: system\n", "theme 'leadership': unknown group 'system'"),
        ("    heading: Senior leadership\n", "", "theme 'leadership': `heading` must be non-empty"),
        ("cues: [leadership, {phrase: sponsor*, weight: 0.5}]", "cues: []", "has no cues"),
        ("{phrase: sponsor*, weight: 0.5}", "{phrase: sponsor*, weight: -1}", "cue 2: weight"),
        ("{phrase: sponsor*, weight: 0.5}", "'*sponsor'", "cue 2: cue '*sponsor'"),
        ("{phrase: sponsor*, weight: 0.5}", "'a|b'", "cue 2: cue 'a|b'"),
        ("{phrase: sponsor*, weight: 0.5}", "yes", "(quote yes/no/on/off in YAML)"),
        ("{phrase: sponsor*, weight: 0.5}", "leadership", "cue 'leadership' is listed twice"),
        ("  - id: leadership\n", "  - id: Leadership\n", "`id` in kebab-case"),
        ("    negative:", "    colour: red\n    negative:", "unknown key 'colour'"),
        ('version: "1"\n', "", "needs a `version`"),
        ("  org: Organisation\n", "  org: ''\n", "group 'org': needs a heading"),
    ],
)
def test_errors_name_file_theme_and_problem(old: str, new: str, message: str) -> None:
    assert old in GOOD
    with pytest.raises(ThemeCodebookError) as err:
        parse_theme_codebook(GOOD.replace(old, new), source="bad.yml")
    assert str(err.value).startswith("bad.yml:")
    assert message in str(err.value)


def test_duplicate_theme_and_structure_errors() -> None:
    dup = GOOD + GOOD[GOOD.index("  - id:") :]
    with pytest.raises(ThemeCodebookError, match="theme 'leadership': duplicate theme id"):
        parse_theme_codebook(dup, source="d.yml")
    with pytest.raises(ThemeCodebookError, match=r"x\.yml: YAML syntax error \(line \d+\)"):
        parse_theme_codebook("themes: [\n  - id", source="x.yml")
    with pytest.raises(ThemeCodebookError, match="themes: must be a non-empty list"):
        parse_theme_codebook('version: "1"\ngroups: {a: A}\nthemes: {}', source="x.yml")
    with pytest.raises(ThemeCodebookError, match=r"scoring\.cue_base: must be between 0 and 1"):
        parse_theme_codebook(GOOD + "scoring: {cue_base: 1.5}\n", source="x.yml")


def test_load_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "themes.yml"
    path.write_text(GOOD.replace("group: org", "group: nowhere"), "utf-8")
    with pytest.raises(ThemeCodebookError, match=re.escape(str(path))):
        load_theme_codebook(path)
    with pytest.raises(ThemeCodebookError, match="cannot read"):
        load_theme_codebook(tmp_path / "missing.yml")
    path.write_text(GOOD, "utf-8")
    assert load_theme_codebook(path).path == path


@pytest.mark.parametrize(
    ("cue", "text", "hit"),
    [
        ("co-deliver*", "patients co-delivered the changes", "co-delivered"),
        ("co-deliver*", "they co deliver it", "co deliver"),
        ("co-deliver*", "to codeliver care", "codeliver"),
        ("facilitat*", "External facilitation helped", "facilitation"),
        ("power", "empowerment is not power", "power"),
        ("people's experience", "people’s experience counts", "people’s experience"),
        ("national target*", "National   targets dominate", "National   targets"),
    ],
)
def test_cue_regex(cue: str, text: str, hit: str) -> None:
    m = re.search(cue_regex(cue), text, re.IGNORECASE)
    assert m is not None and m.group(0) == hit


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("quality: {min_words: -1}", r"quality\.min_words: must be a number >= 0"),
        ("quality: {colour: red}", r"quality: unknown key 'colour'"),
        ("quality: {reject: [{pattern: 'a'}]}", r"quality\.reject 1: `reason` must be"),
        ("quality: {reject: ['figure']}", r"quality\.reject 1: must be a mapping"),
        ("subject: ['*bad']", r"subject, cue 1: cue '\*bad'"),
        ("outcomes: 3", r"`outcomes` must be a list"),
        ("scoring: {second_theme_ratio: 2}", r"scoring\.second_theme_ratio: must be at most 1"),
        ("scoring: {fit_share: -0.1}", r"scoring\.fit_share: must be a number >= 0"),
    ],
)
def test_new_keys_are_validated(extra: str, message: str) -> None:
    """The quality filter, subject, outcome cues and scoring keys of issue 15, point 5 are
    validated on load, naming the key."""
    with pytest.raises(ThemeCodebookError, match=rf"^t\.yml: .*{message}"):
        parse_theme_codebook(GOOD + extra + "\n", source="t.yml")


def test_question_cues_are_validated() -> None:
    bad = GOOD.replace("    negative: [patient leadership]", "    question_cues: [1.5]")
    with pytest.raises(ThemeCodebookError, match=r"theme 'leadership', question cue 1"):
        parse_theme_codebook(bad, source="t.yml")
    ok = parse_theme_codebook(
        GOOD.replace("    negative:", "    question_cues: [success*]\n    negative:"), source="t"
    )
    assert ok.theme("leadership").question_cues == ("success*",)


def test_package_codebook_has_the_new_rules() -> None:
    cb = load_theme_codebook()
    assert cb.quality.reject and cb.subject_cues and cb.outcome_cues
    assert all(t.question_cues for t in cb.themes)
    assert cb.quality.problem("Figure 2 Patient journey map for the redesign of the ward.")
    assert cb.quality.problem("Staff and patients agreed the changes together.") is None
