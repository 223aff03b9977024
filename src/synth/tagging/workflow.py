"""Tag a review store end to end: the one function the CLI and the notebooks call.

Reads records, extracts and full texts from the store, runs the rule tagger, refines its
output with the learnable layer (model rows beside the rule rows, trained on reviewers'
verdicts and the rules' confident output), assesses the review's criteria, suggests
decisions, and stores all of it as one tagging run.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from synth.store.tags import load_overrides, save_tagging
from synth.store.views import load_extracts, load_fulltexts, load_records

log = logging.getLogger(__name__)

#: What a run without a review definition leaves out, and how to add one (the CLI, the
#: tagging warning and the report pages all say this).
NO_REVIEW_NOTE = (
    "No review.yml: the review's criteria are not assessed (no criterion tags, no suggested "
    "decisions) and there are no stated figures to compare with. To add them, put a "
    "review.yml with questions, inclusion_criteria, exclusion_criteria and stated_figures "
    "(like corpus/kei-2020/review.yml) in the corpus folder, or pass --review FILE."
)


@dataclass
class TagRun:
    """What a tagging run stored."""

    run_id: int
    #: the rule rows (``source="rule"``)
    tags: pd.DataFrame
    assessment: pd.DataFrame | None
    suggestions: pd.DataFrame | None
    review_path: Path | None
    #: the learnable layer's rows (``source="model"``), None when not refined
    model_tags: pd.DataFrame | None = None
    #: per refined facet: model version, labels fitted and skipped, training counts
    model_info: dict[str, Any] | None = None
    #: records that raised while being tagged (``record_id``, ``error``); the rest were
    failures: list[dict[str, Any]] = field(default_factory=list)


def find_review(con: sqlite3.Connection) -> Path | None:
    """The ``review.yml`` beside (or above) the files imported into this store, if any."""
    seen: set[Path] = set()
    for (path,) in con.execute("SELECT DISTINCT path FROM sources WHERE path IS NOT NULL"):
        folder = Path(path).resolve().parent
        for candidate in (folder, *folder.parents):
            if candidate in seen:
                break
            seen.add(candidate)
            review = candidate / "review.yml"
            if review.is_file():
                return review
    return None


def load_review(path: Path) -> dict[str, Any]:
    """A review definition (questions, criteria, stated figures) from YAML."""
    try:
        review = yaml.safe_load(Path(path).read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the review definition ({exc})") from exc
    if not isinstance(review, dict) or "inclusion_criteria" not in review:
        raise ValueError(f"{path}: not a review definition (no inclusion_criteria)")
    return review


def tag_store(
    con: sqlite3.Connection,
    *,
    codebook_path: Path | None = None,
    review_path: Path | None = None,
    n_process: int = 1,
    progress: bool = False,
    refine: bool = True,
    refine_facets: tuple[str, ...] | None = None,
) -> TagRun:
    """Tag every record in the store and save the run; returns what was stored.

    With ``refine`` (the default) a :class:`~synth.tagging.learn.TagRefiner` per facet in
    ``refine_facets`` (default :data:`~synth.tagging.refine.REFINE_FACETS`) learns from
    the reviewers' verdicts so far (and the rules' confident output while those are few)
    and its rows are stored beside the rule rows, in the same run. The criteria are
    assessed on the rule rows, whose evidence they quote.
    """
    from synth.tagging.codebook import load_codebook
    from synth.tagging.criteria import assess, review_criterion_tags, suggest
    from synth.tagging.refine import REFINE_FACETS, RefineParams, model_tags
    from synth.tagging.tagger import tag

    codebook = load_codebook(codebook_path)
    records = load_records(con)
    extracts = load_extracts(con)
    fulltexts = load_fulltexts(con)
    tags = tag(
        records,
        extracts=extracts,
        fulltexts=fulltexts,
        codebook=codebook,
        n_process=n_process,
        progress=progress,
    )
    failures = list(tags.attrs.get("failures") or [])
    review_path = review_path or find_review(con)
    review = load_review(review_path) if review_path is not None else None
    tags = review_criterion_tags(tags, review)
    assessment = suggestions = None
    if review is not None:
        assessment = assess(records, tags, review)
        suggestions = suggest(assessment)
    else:
        log.warning(NO_REVIEW_NOTE)
    params: dict[str, Any] = {
        "codebook_version": codebook.version,
        "codebook_sha256": codebook.sha256,
        "rule_version": codebook.tag_version,
        "review": str(review_path) if review_path else None,
        "n_process": n_process,
        "records": len(records),
        "failures": failures,
    }
    model = info = None
    stored = tags
    if refine and len(records):
        refine_params = RefineParams()
        model, info = model_tags(
            records,
            tags,
            load_overrides(con),
            codebook,
            facets=refine_facets or REFINE_FACETS,
            extracts=extracts,
            params=refine_params,
        )
        params["model"] = {"params": refine_params.as_dict(), "facets": info}
        stored = pd.concat([tags, model], ignore_index=True) if len(model) else tags
    run_id = save_tagging(
        con, stored, params=params, assessment=assessment, suggestions=suggestions
    )
    return TagRun(run_id, tags, assessment, suggestions, review_path, model, info, failures)
