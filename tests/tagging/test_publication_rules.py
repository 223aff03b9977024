"""Grey literature on exports with no record types: a title word alone does not make a
journal's research article or article type grey (codebook `publication`)."""

from __future__ import annotations

from synth.corpus.normalise import records_frame
from synth.tagging.evaluate import counted_tags
from synth.tagging.tagger import tag

# a structured abstract of a trial protocol (paraphrased from a peer screening record)
TRIAL_ABSTRACT = (
    "BACKGROUND: Cardiovascular disease is the main cause of death in type 2 diabetes. "
    "METHODS: We will conduct a cluster randomized trial in 40 practices; practices will be "
    "randomly allocated to the toolkit or to usual care, and 1,200 patients followed for 12 "
    "months. The primary outcome is the proportion of patients screened."
)


def _publication(*rows: dict) -> dict[str, str | None]:
    """Each record's counted publication label (None: none)."""
    frame = records_frame(
        [{"record_id": f"r{i}", "source_key": f"k{i}", **row} for i, row in enumerate(rows)]
    )
    tags = counted_tags(tag(frame))
    got = tags[tags.facet == "publication"].set_index("record_id")["label"]
    return {f"r{i}": got.get(f"r{i}") for i in range(len(rows))}


def test_a_trial_about_a_toolkit_is_not_grey_by_its_title() -> None:
    title = (
        "Evaluation of a toolkit to improve cardiovascular disease screening and treatment "
        "for people with type 2 diabetes: protocol for a cluster-randomized pragmatic trial"
    )
    plain = "A toolkit to improve cardiovascular disease screening in type 2 diabetes"
    got = _publication(
        {"title": title, "abstract": TRIAL_ABSTRACT},
        {"title": title},  # the title itself names the trial
        {"title": plain},
    )
    assert got == {"r0": None, "r1": None, "r2": "grey"}  # a toolkit with no study: grey


def test_record_metadata_still_makes_a_research_report_grey() -> None:
    title = "Evaluation of a toolkit to improve screening: protocol for a randomized trial"
    got = _publication({"title": title, "abstract": TRIAL_ABSTRACT, "pub_type": "report"})
    assert got["r0"] == "grey"


def test_journal_article_types_and_a_verb_are_not_grey() -> None:
    titles = [
        "Olanzapine-induced reversible priapism: a case report.",
        "EEG correlates of methylphenidate response among children: a preliminary report.",
        "Pain descriptors for critically ill patients unable to self-report",
        "Analyzing software artifacts through singular value decomposition to guide decisions",
        "Always Events Toolkit",
        "Developing Internet-based health interventions: a guide for public health researchers",
    ]
    got = _publication(*({"title": t} for t in titles))
    assert got == {"r0": None, "r1": None, "r2": None, "r3": None, "r4": "grey", "r5": "grey"}
