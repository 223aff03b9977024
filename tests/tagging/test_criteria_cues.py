"""Any review's criteria: cues from its review.yml, similarity for a criterion without cues,
exclusions only on strong evidence, and the bundled corpus end to end.

The sentences are real: titles and sentences of the bundled KEI corpus (its references,
its extracts and its full texts).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from synth.corpus.normalise import records_frame
from synth.review import load_review, parse_review
from synth.tagging.codebook import CodebookError, check_cue, load_codebook
from synth.tagging.criteria import (
    METHOD_SIMILARITY,
    SIMILARITY_NOTE,
    assess,
    criterion_rows,
    load_rules,
    records_with_text,
    suggest,
    with_review_cues,
)
from synth.tagging.tagger import tag

ROOT = Path(__file__).resolve().parents[2]
KEI = ROOT / "corpus" / "kei-2020"

# Real sentences of the bundled corpus.
BOMBARD = (  # extract of bombard2018
    "External facilitation catalysed receptive contexts that encouraged user involvement by "
    "creating a positive working environment with mutual respect and equal partnership"
)
LORD = (  # extract of lord2014
    "Studies show many clinical and managerial staff did not perceive people with lived "
    "experience and their families as well placed, at a strategic level, to assist in major "
    "redesign initiatives"
)
ROBERT = (  # full text of robert2022
    "It is neither possible nor desirable to share power and responsibility equally between "
    "patients and professionals."
)
ARMSTRONG = "Optimizing patient involvement in quality improvement"  # title of armstrong2013
LITCHFIELD = (  # title of litchfield2018
    "The impact of status and social context on health service co-design: an example from a "
    "collaborative improvement initiative in UK primary care"
)

#: A review of another topic, written as docs/criteria-cues.md shows.
PRIMARY_CARE = {
    "inclusion_criteria": [
        {
            "id": "primary-care",
            "text": "Studies in primary care",
            "cues": {
                "phrases": ["primary care", "general practice", {"phrase": "GP", "case": True}],
                "negative": ["emergency department"],
            },
        },
        {"id": "equal", "text": "Patients and staff as equal partners",
         "cues": ["equal partnership", "lived experience", "share power"]},
    ],
    "exclusion_criteria": [
        {"id": "secondary-care", "text": "Studies in hospitals",
         "cues": ["hospital", "hospitals", "acute care", "inpatient"]},
    ],
}  # fmt: skip


def _records(*rows: dict) -> pd.DataFrame:
    return records_frame(
        [{"record_id": f"r{i}", "year": 2015, **row} for i, row in enumerate(rows, start=1)]
    )


def _assess(review_data: dict, records: pd.DataFrame) -> pd.DataFrame:
    """The real path of ``synth tag``: cues into the codebook, the rule tagger, the
    criterion rows (negation on both sides of a cue, similarity for criteria without
    cues), then the assessment."""
    review = parse_review(review_data, "my-review/review.yml")
    codebook = with_review_cues(load_codebook(), review)
    judged = criterion_rows(records, tag(records, codebook=codebook), review, codebook)
    return assess(records, judged, review, with_text=records_with_text(records))


def _row(assessment: pd.DataFrame, record_id: str, criterion: str) -> pd.Series:
    row = assessment[(assessment.record_id == record_id) & (assessment.criterion == criterion)]
    assert len(row) == 1
    return row.iloc[0]


# -- a criterion with cues ------------------------------------------------------------------


def test_cues_from_review_yml_meet_a_criterion_of_another_review() -> None:
    out = _assess(
        PRIMARY_CARE,
        _records({"title": LITCHFIELD}, {"title": "Staff views", "abstract": BOMBARD}),
    )
    primary = _row(out, "r1", "primary-care")
    assert primary["status"] == "met" and primary["method"] == "cues"
    assert {e["match"] for e in primary["evidence"]} == {"primary care"}
    equal = _row(out, "r2", "equal")
    assert equal["status"] == "met"
    assert {e["match"] for e in equal["evidence"]} == {"equal partnership"}
    assert _row(out, "r2", "primary-care")["status"] == "unclear"  # absence: not "not met"


def test_an_exclusion_without_any_of_its_cues_in_the_text_is_not_met() -> None:
    out = _assess(
        PRIMARY_CARE, _records({"title": "Staff views", "abstract": BOMBARD}, {"title": LITCHFIELD})
    )
    # an abstract where no hospital word appears: nothing gives the reason to exclude
    assert _row(out, "r1", "secondary-care")["status"] == "not_met"
    # a title alone cannot show that: unclear
    assert _row(out, "r2", "secondary-care")["status"] == "unclear"


def test_negated_cues_never_meet_a_criterion() -> None:
    out = _assess(
        PRIMARY_CARE,
        _records({"title": "Staff views", "abstract": LORD}, {"title": "Power", "fulltext": ""}),
    )
    lord = _row(out, "r1", "equal")
    # "did not perceive people with lived experience": the cue is negated (from too far to
    # deny that the paper's people had lived experience: test_criteria_negation)
    assert lord["status"] != "met" and lord["evidence"] == []
    records = _records({"title": "Power and responsibility", "abstract": ROBERT})
    robert = _row(_assess(PRIMARY_CARE, records), "r1", "equal")
    assert robert["status"] != "met"  # "neither possible nor desirable to share power"


def test_negative_terms_count_against_the_criterion() -> None:
    data = {
        "inclusion_criteria": [
            {"id": "improvement", "text": "Quality improvement",
             "cues": {"phrases": ["quality improvement"], "negative": ["patient involvement"]}},
        ]
    }  # fmt: skip
    plain = _assess(data, _records({"title": "Quality improvement in Hospital Trusts"}))
    against = _assess(data, _records({"title": ARMSTRONG}))
    assert _row(plain, "r1", "improvement")["status"] == "met"
    # the title also names patient involvement, a negative term: the score falls below met
    weaker = _row(against, "r1", "improvement")
    assert weaker["score"] < _row(plain, "r1", "improvement")["score"]
    assert weaker["status"] == "unclear"


@pytest.mark.parametrize(
    "cue",
    [
        "general practice",
        {"phrase": "GP", "case": True, "weight": 0},
        {"phrase": "GP", "weight": "high"},
        {"phrase": "GP", "fields": ["venu"]},
        {"phrase": "GP", "colour": "red"},
        {"phrase": "G|P"},
        True,
    ],
)
def test_a_reviews_cue_is_checked_as_the_codebook_checks_a_cue(cue) -> None:
    """One check of a cue's form (the codebook's, which builds the criterion facet):
    review.yml accepts a cue exactly when it does, with its message."""
    key = "inclusion_criteria[0] (primary-care).cues[0]"
    try:
        check_cue(cue, key, source="my-review/review.yml")
        expected = None
    except CodebookError as exc:
        expected = str(exc)
    data = {"inclusion_criteria": [{"id": "primary-care", "text": "GP", "cues": [cue]}]}
    if expected is None:
        review = parse_review(data, "my-review/review.yml")
        assert review.criterion("primary-care").has_cues
        with_review_cues(load_codebook(), review)  # and the facet builds
    else:
        with pytest.raises(ValueError) as info:
            parse_review(data, "my-review/review.yml")
        assert str(info.value) == expected


# -- a criterion without cues: similarity to its wording ---------------------------------------


def test_a_criterion_without_cues_is_met_by_similarity_and_says_so() -> None:
    data = {
        "inclusion_criteria": [
            {"id": "involvement-in-qi", "text": "Patient involvement in quality improvement"}
        ],
    }
    records = _records({"title": ARMSTRONG}, {"title": LITCHFIELD})
    out = _assess(data, records)
    met = _row(out, "r1", "involvement-in-qi")
    assert met["status"] == "met" and met["method"] == METHOD_SIMILARITY
    assert met["score"] >= load_rules()["similarity"]["met_threshold"]
    (evidence,) = met["evidence"]
    assert evidence["sentence"] == ARMSTRONG and evidence["field"] == "title"
    assert evidence["method"] == METHOD_SIMILARITY and evidence["note"] == SIMILARITY_NOTE
    assert _row(out, "r2", "involvement-in-qi")["status"] == "unclear"  # a weaker likeness
    explanation = suggest(out).set_index("record_id").loc["r1", "explanation"]
    assert explanation.startswith("Include: involvement-in-qi met (" + SIMILARITY_NOTE + ")")
    assert ARMSTRONG in explanation


def test_similarity_never_meets_an_exclusion() -> None:
    data = {
        "inclusion_criteria": [{"id": "any", "text": "Any paper", "cues": ["improvement"]}],
        "exclusion_criteria": [
            {"id": "involvement-in-qi", "text": "Patient involvement in quality improvement"}
        ],
    }
    out = _assess(data, _records({"title": ARMSTRONG, "abstract": ARMSTRONG + "."}))
    row = _row(out, "r1", "involvement-in-qi")
    assert row["score"] == pytest.approx(1.0)  # the very words of the criterion
    assert row["status"] == "unclear" and row["method"] == METHOD_SIMILARITY
    assert suggest(out).iloc[0]["decision"] != "exclude"


def test_a_review_whose_criteria_have_no_cues_works(tmp_path: Path) -> None:
    """A review.yml with criteria but no cues: similarity assesses them through synth tag."""
    from synth.store import connect, import_paths
    from synth.store.tags import current_tags, load_assessment
    from synth.tagging.workflow import tag_store

    (tmp_path / "refs.ris").write_text(
        f"TY  - JOUR\nTI  - {ARMSTRONG}\nPY  - 2013\nER  - \n", "utf-8"
    )
    (tmp_path / "review.yml").write_text(
        "inclusion_criteria:\n  - id: involvement-in-qi\n"
        "    text: Patient involvement in quality improvement\n",
        "utf-8",
    )
    con = connect(tmp_path / "store.sqlite")
    try:
        import_paths(con, [tmp_path / "refs.ris"])
        run = tag_store(con, refine=False)
        assessment = load_assessment(con)
        assert "criterion" not in set(current_tags(con).facet)  # no cues: no criterion tags
    finally:
        con.close()
    assert run.assessment.iloc[0]["method"] == METHOD_SIMILARITY
    assert assessment.iloc[0]["status"] == "met"
    assert assessment.iloc[0]["evidence"][0]["note"] == SIMILARITY_NOTE


# -- the bundled corpus, end to end ---------------------------------------------------------


@pytest.fixture(scope="module")
def kei_store(tmp_path_factory: pytest.TempPathFactory):
    """The bundled corpus imported and tagged through the real pipeline (synth tag)."""
    from synth.store import connect, import_paths
    from synth.tagging.workflow import tag_store

    db = tmp_path_factory.mktemp("kei") / "kei.sqlite"
    con = connect(db)
    files = sorted(p for p in KEI.rglob("*") if p.suffix in {".bib", ".md"})
    import_paths(con, [p for p in files if p.name != "README.md"])
    run = tag_store(con, refine=False)
    yield con, run
    con.close()


def test_no_included_paper_of_the_bundled_corpus_gets_an_exclusion(kei_store) -> None:
    from synth.store.views import load_records

    con, run = kei_store
    review = load_review(KEI / "review.yml")
    records = load_records(con)
    included = records[[review.is_include_file(f, KEI) for f in records.source_file]]
    assert len(included) == 64  # every paper of the review
    suggestions = run.suggestions.set_index("record_id").loc[included.record_id]
    excluded = suggestions[suggestions.decision == "exclude"]
    assert excluded.empty, excluded.explanation.tolist()


def test_unclear_is_a_minority_where_the_text_allows_a_judgement(kei_store) -> None:
    from synth.store.views import load_extracts, load_fulltexts, load_records

    con, run = kei_store
    with_text = records_with_text(load_records(con), load_extracts(con), load_fulltexts(con))
    assert len(with_text) >= 15  # the records with extracts or a full text
    verdicts = run.assessment[run.assessment.record_id.isin(with_text)]
    shares = verdicts.status.value_counts(normalize=True)
    assert shares.get("unclear", 0) < 0.5, shares.to_dict()
    # the inclusion criteria are recognised: most records with text meet each of them
    text_inclusion = verdicts[(verdicts.kind == "inclusion") & (verdicts.method == "cues")]
    met = text_inclusion.groupby("criterion").status.apply(lambda s: (s == "met").mean())
    assert (met > 0).all(), met.to_dict()
    assert text_inclusion.status.eq("met").mean() >= 0.4


# -- the documented example ---------------------------------------------------------------


def test_the_worked_example_in_the_docs_is_a_valid_review() -> None:
    """docs/criteria-cues.md's review.yml loads, builds the criterion facet, tags the
    sentence its checking section quotes, and its error example is the real message."""
    import re

    import yaml

    text = (ROOT / "docs" / "criteria-cues.md").read_text("utf-8")
    data = yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, re.S).group(1))
    records = _records(
        {
            "title": "x",
            "abstract": "Patients were recruited from twelve general practices in Leeds.",
        },
        {
            "title": "y",
            "abstract": "Patients in an emergency department; general practice was told.",
        },
    )
    out = _assess(data, records)
    assert _row(out, "r1", "primary-care")["status"] == "met"
    assert _row(out, "r2", "primary-care")["status"] == "unclear"  # the negative term
    data["inclusion_criteria"][0]["cues"]["phrases"][7] = {"phrase": "GP", "weight": "high"}
    with pytest.raises(ValueError) as info:
        parse_review(data, "my-review/review.yml")
    assert str(info.value) in text
