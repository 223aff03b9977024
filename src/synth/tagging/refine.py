"""The learnable layer as the tagger applies it: model tag rows beside the rule rows.

Per facet refined (those ``synth/data/refine.yml`` marks, as cross-validation decided:
:mod:`synth.tagging.refiner_cv`) one :class:`~synth.tagging.learn.TagRefiner` learns from
what reviewers said (the store's tag override events: ``confirm`` and ``set`` are
positives, ``reject`` negatives) and, while reviewers have said little, from the rules'
confident output (score >= ``high`` a positive, no tag or <= ``low`` a negative; in between
the rules are unsure and teach nothing). It then scores every (record, label) of the
facet. Its rows carry ``source="model"`` and a version naming scikit-learn and a hash
of the training labels and parameters, so a run says exactly which
model spoke; the rule rows stand unchanged beside them.

How downstream code sees the two is decided here too, by :func:`best_rows`, which
:func:`synth.store.tags.current_tags` applies (``source="best"``: reviewer, else the model
when it is confident and above the rules, else the rules).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from synth.tagging.codebook import Codebook
from synth.tagging.learn import SCORE_PREFIX, TagRefiner, feature_frame, shared_tfidf

log = logging.getLogger(__name__)


def load_refine_facets(path: Path | str | None = None) -> tuple[str, ...]:
    """The facets marked ``true`` in ``refine.yml`` (``synth/data/refine.yml`` by default).

    The decision is data, set by what the refiner's cross-validation showed
    (:mod:`synth.tagging.refiner_cv`, ``synth tag evaluate --refiner-cv``): a facet where
    the refiner did not help on held-out folds is not refined. A malformed file is an error
    naming the file and the entry.
    """
    if path is None:
        name = "synth/data/refine.yml"
        text = resources.files("synth.data").joinpath("refine.yml").read_text("utf-8")
    else:
        name, text = str(path), Path(path).read_text("utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{name}: not valid YAML: {exc}") from exc
    table = data.get("refine") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise ValueError(f"{name}: needs a 'refine:' mapping of facet: true/false")
    for facet, value in table.items():
        if not isinstance(value, bool):
            raise ValueError(f"{name}: refine.{facet}: {value!r} is not true or false")
    return tuple(str(f) for f, value in table.items() if value)


#: Facets refined by default (``synth/data/refine.yml``).
REFINE_FACETS: tuple[str, ...] = load_refine_facets()
MODEL_SOURCE = "model"
#: From this probability on, :func:`best_rows` prefers the model's row to the rules'.
MODEL_CONFIDENT = 0.8
TAG_COLUMNS: list[str] = ["record_id", "facet", "label", "score", "evidence", "source", "version"]


@dataclass(frozen=True)
class RefineParams:
    """How training data is assembled and which model rows are kept.

    Attributes
    ----------
    high, low
        Rule scores at or above ``high`` are pseudo-positives, at or below ``low`` (or no
        tag) pseudo-negatives.
    min_confirmed
        Pseudo-labels are added while fewer than this many records have a reviewer verdict
        in the facet; from then on the model learns from reviewers alone.
    confirmed_weight
        Sample weight of a record with a reviewer verdict in the facet (pseudo-labelled
        records weigh 1): one reviewer's word outweighs several rule guesses.
    min_examples
        A label needs at least this many known positives and negatives to get a model.
    report_min
        Model rows are kept when the model's probability reaches this, or when the rules
        tagged the same label (so the model's view of every rule tag is visible).
    refiner
        Keyword arguments of :class:`TagRefiner`.
    """

    high: float = 0.8
    low: float = 0.1
    min_confirmed: int = 100
    confirmed_weight: float = 5.0
    min_examples: int = 2
    report_min: float = 0.5
    refiner: dict[str, Any] = field(
        default_factory=lambda: {
            "ngram_range": (1, 2),
            "min_df": 1,
            "max_features": 50_000,
            "random_state": 0,
        }
    )

    def as_dict(self) -> dict[str, Any]:
        return {
            "high": self.high,
            "low": self.low,
            "min_confirmed": self.min_confirmed,
            "confirmed_weight": self.confirmed_weight,
            "min_examples": self.min_examples,
            "report_min": self.report_min,
            "refiner": {k: list(v) if isinstance(v, tuple) else v for k, v in self.refiner.items()},
        }


def model_tags(
    records: pd.DataFrame,
    rule_tags: pd.DataFrame,
    overrides: pd.DataFrame | None,
    codebook: Codebook,
    *,
    facets: Sequence[str] | None = None,
    extracts: pd.DataFrame | None = None,
    params: RefineParams | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fit a refiner per facet and return its tag rows and what each fit learnt from.

    Parameters
    ----------
    records
        The records to score (``record_id`` and the text columns).
    rule_tags
        The rule tagger's rows for these records (:func:`synth.tagging.tag`).
    overrides
        Reviewers' verdicts in event order (``record_id, facet, label, verdict``), e.g.
        :func:`synth.store.tags.load_overrides`; the last verdict per tag counts.
    codebook
        Gives each facet's labels and whether it is single-label.
    facets
        Facets to refine (default :data:`REFINE_FACETS`; unknown ones are skipped with a
        warning).
    extracts
        Passages (``record_id`` or ``ref``, ``text``) added to each record's text.
    params
        See :class:`RefineParams`.

    Returns
    -------
    (pandas.DataFrame, dict)
        Rows with :data:`TAG_COLUMNS` (``source="model"``, ``version``
        ``TagRefiner/<scikit-learn version>/<hash>``; evidence copied from the rule row of
        the same label, else empty), and per facet a summary for the run's parameters:
        version, labels fitted, labels skipped (and why), confirmed and pseudo counts.
    """
    params = params or RefineParams()
    overrides = overrides if overrides is not None else pd.DataFrame()
    frames: list[pd.DataFrame] = []
    info: dict[str, Any] = {}
    evidence = _evidence_index(rule_tags)
    shared: dict[str, Any] = {}  # the TF-IDF, fitted by the first facet, shared by all
    for facet in REFINE_FACETS if facets is None else facets:
        if facet not in codebook.facets:
            log.warning("refine: no facet %r in the codebook; skipped", facet)
            continue
        rows, summary = _refine_facet(
            records, rule_tags, overrides, codebook, facet, extracts, params, evidence, shared
        )
        info[facet] = summary
        if rows is not None and len(rows):
            frames.append(rows)
    if not frames:
        return pd.DataFrame(columns=TAG_COLUMNS), info
    return pd.concat(frames, ignore_index=True)[TAG_COLUMNS], info


def best_rows(tags: pd.DataFrame, confident: float = MODEL_CONFIDENT) -> pd.DataFrame:
    """One row per (record, facet, label): a confident model row above the rules, else
    the rule row (rows of any other source pass through). What
    :func:`synth.store.tags.current_tags` shows by default, and how the refiner's
    cross-validation (:mod:`synth.tagging.refiner_cv`) combines held-out rows."""
    is_model = tags["source"] == MODEL_SOURCE
    if not is_model.any():
        return tags
    key = ["record_id", "facet", "label"]
    model = tags[is_model]
    rest = tags[~is_model].reset_index(drop=True)
    rule = rest[rest["source"] == "rule"]
    joined = model.merge(
        rule[[*key, "score", "evidence"]], on=key, how="left", suffixes=("", "_rule")
    )
    wins = (joined["score"] >= confident) & ~(joined["score"] <= joined["score_rule"])
    winners = joined[wins.to_numpy()]
    evidence = [
        r if _has_evidence(r) else m
        for m, r in zip(winners["evidence"], winners["evidence_rule"], strict=True)
    ]
    winners = winners[TAG_COLUMNS].assign(evidence=evidence)
    beaten = rest.merge(winners[key], on=key, how="left", indicator=True)["_merge"] == "both"
    kept = rest[~beaten.to_numpy()]
    # keep the rule rows' order; a model row takes its rule row's place or goes after
    keys = zip(rest["record_id"], rest["facet"], rest["label"], strict=True)
    order = {k: i for i, k in enumerate(keys)}
    won = zip(winners["record_id"], winners["facet"], winners["label"], strict=True)
    positions = [order.get(k, len(rest) + i) for i, k in enumerate(won)]
    out = pd.concat([kept.assign(_pos=kept.index), winners.assign(_pos=positions)])
    out = out.sort_values("_pos", kind="stable").drop(columns="_pos")
    return out[TAG_COLUMNS].reset_index(drop=True)


def _has_evidence(cell: Any) -> bool:
    """A non-empty evidence cell, parsed (a list) or not (JSON text)."""
    if isinstance(cell, str):
        return cell not in ("", "[]")
    return isinstance(cell, list) and bool(cell)


def _refine_facet(
    records: pd.DataFrame,
    rule_tags: pd.DataFrame,
    overrides: pd.DataFrame,
    codebook: Codebook,
    facet: str,
    extracts: pd.DataFrame | None,
    params: RefineParams,
    evidence: dict[tuple[Any, str, str], list[dict[str, Any]]],
    shared: dict[str, Any],
) -> tuple[pd.DataFrame | None, dict[str, Any]]:
    labels = list(codebook.facets[facet].labels)
    single = not codebook.facets[facet].multi
    X = feature_frame(records, rule_tags, facet, labels=labels, extracts=extracts)
    rule = X[[f"{SCORE_PREFIX}:{lab}" for lab in labels]].to_numpy(dtype=float)
    confirmed = _verdicts(overrides, facet, labels, X.index, single)
    n_confirmed = int((~np.isnan(confirmed)).any(axis=1).sum())
    target = np.full(rule.shape, np.nan)
    use_pseudo = n_confirmed < params.min_confirmed
    if use_pseudo:
        target[rule >= params.high] = 1.0
        target[rule <= params.low] = 0.0
    has_verdict = ~np.isnan(confirmed)
    target[has_verdict] = confirmed[has_verdict]
    summary: dict[str, Any] = {
        "confirmed_records": n_confirmed,
        "pseudo_labels": bool(use_pseudo),
        "labels": [],
        "skipped": {},
    }
    keep = []
    for j, lab in enumerate(labels):
        col = target[:, j]
        pos, neg = int((col == 1).sum()), int((col == 0).sum())
        if min(pos, neg) < params.min_examples:
            summary["skipped"][lab] = f"{pos} positive(s), {neg} negative(s)"
        else:
            keep.append(j)
    if not keep:
        summary["version"] = None
        return None, summary
    fitted = [labels[j] for j in keep]
    train = ~np.isnan(target[:, keep]).all(axis=1)
    weight = np.where(has_verdict.any(axis=1), params.confirmed_weight, 1.0)
    y = pd.DataFrame(target[:, keep], index=X.index, columns=fitted)[train]
    version = _version(facet, y, weight[train], params, codebook)
    if "tfidf" not in shared:  # every facet's X holds the same records and text
        shared["tfidf"] = shared_tfidf(X, **params.refiner)
    model = TagRefiner(**params.refiner, tfidf=shared["tfidf"])
    model.fit(X[train], y, sample_weight=weight[train])
    proba = model.predict_proba(X)
    if not model.multilabel_:  # one label: TagRefiner reads a one-column y as binary
        proba = proba[:, list(model.classes_).index(1)][:, None]
    summary.update(
        version=version,
        labels=fitted,
        training_records=int(train.sum()),
        positives={lab: int((y[lab] == 1).sum()) for lab in fitted},
    )
    log.info(
        "refine %s: %d label(s) from %d record(s) (%d with a reviewer verdict)%s",
        facet, len(fitted), int(train.sum()), n_confirmed,
        " and the rules' confident output" if use_pseudo else "",
    )  # fmt: skip
    rows = _rows(X.index, facet, fitted, proba, rule[:, keep], single, version, params, evidence)
    _explain(rows, model, X, fitted)
    return rows, summary


def _rows(
    ids: pd.Index,
    facet: str,
    labels: list[str],
    proba: np.ndarray,
    rule: np.ndarray,
    single: bool,
    version: str,
    params: RefineParams,
    evidence: dict[tuple[Any, str, str], list[dict[str, Any]]],
) -> pd.DataFrame:
    """Model rows: probability >= report_min, or a rule tag on the same label; a single-label
    facet keeps only its most probable label (plus the model's view of the rule's)."""
    keep = (proba >= params.report_min) | (rule > 0)
    if single:
        best = np.zeros_like(keep)
        best[np.arange(len(proba)), proba.argmax(axis=1)] = True
        keep &= best | (rule > 0)
    out = []
    for i, j in zip(*np.nonzero(keep), strict=True):
        rid, lab = ids[i], labels[j]
        out.append(
            (rid, facet, lab, round(float(proba[i, j]), 4), evidence.get((rid, facet, lab), []),
             MODEL_SOURCE, version)
        )  # fmt: skip
    return pd.DataFrame(out, columns=TAG_COLUMNS)


#: Text fields a model row's evidence may quote, in the order they are searched.
_EXPLAIN_FIELDS: tuple[str, ...] = ("title", "abstract", "keywords", "extracts")
_EXPLAIN_TERMS = 3


def _explain(rows: pd.DataFrame, model: TagRefiner, X: pd.DataFrame, labels: list[str]) -> None:
    """Evidence for model rows the rules have none for: the words that pushed the model
    most towards the label, each with the sentence of the record that holds it, so a
    reviewer sees why the model spoke as for a rule tag (cue ``model: <words>``)."""
    need = [i for i, ev in enumerate(rows["evidence"]) if not ev]
    vec = getattr(model, "vectorizer_", None)
    if not need or vec is None:
        return
    names = vec.get_feature_names_out()
    n_text = len(names)
    col = {lab: j for j, lab in enumerate(labels)}
    sub = rows.iloc[need]
    features = model._features(X.loc[sub["record_id"]], reset=False)
    for n, (i, label) in enumerate(zip(need, sub["label"], strict=True)):
        est = model.estimators_[col[label]] if model.multilabel_ else model.estimators_[0]
        if isinstance(est, int):
            continue
        row = features.getrow(n)
        idx = row.indices[row.indices < n_text]
        if not len(idx):
            continue
        contrib = row.toarray()[0, idx] * est.coef_[0, idx]
        order = np.argsort(-contrib)[: _EXPLAIN_TERMS * 4]
        record = X.loc[sub["record_id"].iloc[n]]
        items = []
        for k in order:
            if contrib[k] <= 0:
                break
            if all(w in ENGLISH_STOP_WORDS for w in str(names[idx[k]]).split()):
                continue  # "on the" explains nothing to a reader
            found = _sentence_with(record, str(names[idx[k]]))
            if found is not None and len(items) < _EXPLAIN_TERMS:
                field_name, sentence, match = found
                items.append(
                    {"field": field_name, "sentence": sentence, "match": match,
                     "cue": f"model: {names[idx[k]]}", "negated": False,
                     "weight": round(float(contrib[k]), 4)}
                )  # fmt: skip
        rows.at[rows.index[i], "evidence"] = items


def _sentence_with(record: pd.Series, term: str) -> tuple[str, str, str] | None:
    """(field, sentence, matched text) of the first place ``term`` (an n-gram as the
    vectoriser wrote it) stands in the record's text, or None."""
    pattern = re.compile(r"\b" + r"\W+".join(map(re.escape, term.split())) + r"\b", re.I)
    for field_name in _EXPLAIN_FIELDS:
        text = record.get(field_name)
        if not isinstance(text, str) or not text:
            continue
        m = pattern.search(text)
        if m is None:
            continue
        stop, line = text.rfind(". ", 0, m.start()), text.rfind("\n", 0, m.start())
        start = max(stop + 2 if stop >= 0 else 0, line + 1)
        ends = [e for e in (text.find(". ", m.end()), text.find("\n", m.end())) if e >= 0]
        end = min(ends) + 1 if ends else len(text)
        sentence = " ".join(text[start:end].split())
        if len(sentence) > 300:
            sentence = sentence[:300].rsplit(" ", 1)[0] + " …"
        return (
            (field_name.rstrip("s") if field_name == "extracts" else field_name),
            sentence,
            (m.group(0)),
        )
    return None


def _verdicts(
    overrides: pd.DataFrame, facet: str, labels: list[str], ids: pd.Index, single: bool
) -> np.ndarray:
    """records x labels: 1 confirmed/set, 0 rejected (or another label set on a
    single-label facet), NaN no verdict. The last event per tag wins."""
    out = np.full((len(ids), len(labels)), np.nan)
    if overrides.empty:
        return out
    sub = overrides[(overrides["facet"] == facet) & overrides["label"].isin(labels)]
    if sub.empty:
        return out
    row = {rid: i for i, rid in enumerate(ids)}
    col = {lab: j for j, lab in enumerate(labels)}
    last = sub.groupby(["record_id", "label"], sort=False).tail(1)
    for rid, lab, verdict in zip(last["record_id"], last["label"], last["verdict"], strict=True):
        i = row.get(rid)
        if i is None:
            continue
        value = 0.0 if verdict == "reject" else 1.0
        if single and value == 1.0:
            others = np.isnan(out[i])
            others[col[lab]] = False
            out[i, others] = 0.0
        out[i, col[lab]] = value
    return out


def _evidence_index(tags: pd.DataFrame) -> dict[tuple[Any, str, str], list[dict[str, Any]]]:
    if tags is None or tags.empty:
        return {}
    return dict(
        zip(
            zip(tags["record_id"], tags["facet"], tags["label"], strict=True),
            tags["evidence"],
            strict=True,
        )
    )


def _version(
    facet: str, y: pd.DataFrame, weight: np.ndarray, params: RefineParams, codebook: Codebook
) -> str:
    """``TagRefiner/<scikit-learn version>/<sha256[:12] of labels, weights, params>``: the
    same training labels and parameters give the same version, any change a new one."""
    import sklearn

    h = hashlib.sha256()
    head = {
        "facet": facet,
        "params": params.as_dict(),
        "rules": codebook.sha256,
        "tfidf": "fitted on every record",
    }
    h.update(json.dumps(head, sort_keys=True, default=str).encode())
    h.update(json.dumps([str(c) for c in y.columns]).encode())
    for rid, values, w in zip(y.index, y.to_numpy(), weight, strict=True):
        marks = "".join("-" if np.isnan(v) else str(int(v)) for v in values)
        h.update(f"{rid}\t{marks}\t{w:g}\n".encode())
    return f"TagRefiner/{sklearn.__version__}/{h.hexdigest()[:12]}"
