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

from synth.fulltext.passages import add_pages, tagger_inputs
from synth.review import NO_REVIEW_NOTE, find_review, review_for
from synth.store.tags import load_overrides, save_tagging
from synth.store.views import load_extracts, load_fulltexts, load_records

log = logging.getLogger(__name__)


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


def tag_store(
    con: sqlite3.Connection,
    *,
    codebook_path: Path | None = None,
    review_path: Path | None = None,
    n_process: int = 1,
    progress: bool = False,
    refine: bool = True,
    refine_facets: tuple[str, ...] | None = None,
    client: Any = None,
    partition_size: int | None = None,
) -> TagRun:
    """Tag every record in the store and save the run; returns what was stored.

    With ``refine`` (the default) a :class:`~synth.tagging.learn.TagRefiner` per facet in
    ``refine_facets`` (default :data:`~synth.tagging.refine.REFINE_FACETS`) learns from
    the reviewers' verdicts so far (and the rules' confident output while those are few)
    and its rows are stored beside the rule rows, in the same run. The criteria are
    assessed on the rule rows, whose evidence they quote.

    With a Dask ``client`` (:func:`synth.distributed.cluster_client`) the rule tagger runs
    on its cluster in partitions of ``partition_size`` records (default
    :data:`synth.distributed.PARTITION_SIZE`; :func:`synth.distributed.tag_on_cluster`:
    the same rows); the rest runs here, and the store takes the run as without one.
    """
    from synth.tagging.codebook import load_codebook
    from synth.tagging.criteria import (
        assess,
        criterion_method,
        criterion_rows,
        records_with_text,
        review_criteria,
        suggest,
        with_review_cues,
    )
    from synth.tagging.refine import REFINE_FACETS, RefineParams, model_tags
    from synth.tagging.tagger import tag

    review_path = review_path or find_review(con)
    review = review_for(review_path)
    codebook = with_review_cues(load_codebook(codebook_path), review)
    records = load_records(con)
    extracts = load_extracts(con)
    # a PDF full text is read by its sections: its abstract and methods first, the rest
    # at the full-text weight (synth.fulltext.passages); records without one as stored
    stored_texts = load_fulltexts(con)
    records, extracts, fulltexts = tagger_inputs(records, extracts, stored_texts)
    if client is None:
        tags = tag(
            records,
            extracts=extracts,
            fulltexts=fulltexts,
            codebook=codebook,
            n_process=n_process,
            progress=progress,
        )
    else:
        from synth.distributed import tag_on_cluster

        tags = tag_on_cluster(
            client, con, records, codebook, extracts=extracts, fulltexts=fulltexts,
            partition_size=partition_size, progress=progress,
        )  # fmt: skip
    tags = add_pages(tags, stored_texts)  # evidence found in a PDF names its page
    failures = list(tags.attrs.get("failures") or [])
    assessment = suggestions = None
    if review.path is not None:
        # the criterion rows with negation read on both sides of each cue, rows for
        # criteria whose cues are only negated, similarity for criteria without cues
        judged = criterion_rows(
            records, tags, review, codebook, extracts=extracts, fulltexts=fulltexts
        )
        with_text = records_with_text(records, extracts, fulltexts)
        assessment = assess(records, judged, review, with_text=with_text)
        suggestions = suggest(assessment)
    else:
        log.warning(NO_REVIEW_NOTE)
    params: dict[str, Any] = {
        "codebook_version": codebook.version,
        "codebook_sha256": codebook.sha256,
        "rule_version": codebook.tag_version,
        "review": str(review_path) if review_path else None,
        "n_process": n_process,
        **({"scheduler": client.scheduler.address} if client is not None else {}),
        "records": len(records),
        "failures": failures,
        # how each criterion was judged (cues / similarity / year): the criteria export
        "criteria_methods": {c.id: criterion_method(c) for c in review_criteria(review)},
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
