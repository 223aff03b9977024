"""Score the tagger on the real-abstract gold set (``tests/fixtures/abstracts-gold/``).

The bundled corpus's gold measures the tagger on the text its codebook was written from;
this set measures it on 300 real abstracts it was not (health services, drug trials,
PTSD cohorts), labelled from a written guideline by two labellers and reconciled. The
abstracts stay in ``../shared/peer-data/``: the set names each record by its dataset and
its key (the source key of a spreadsheet row, the position of an RIS record), and this
module reads them with synth's own readers, tags them and scores the tags with
:func:`synth.tagging.evaluate.evaluate`.

The gold's ``not-stated`` is scored as ``not-applicable`` (a tagger that gives no label
is right); countries are ISO codes, to which the tagger's labels are mapped
(the country gazetteer, :mod:`synth.tagging.countries`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from synth.tagging.describe import counted_tags
from synth.tagging.evaluate import NOT_APPLICABLE, EvaluationResult, evaluate, record_outcomes

if TYPE_CHECKING:
    from synth.tagging.codebook import Codebook

FACETS = ("setting", "country", "design")
#: Every facet a gold set may label (a column of its gold.csv), in the order tables print
#: them: the setting/country/design sets label the first three, the approach set
#: (``tests/fixtures/approach-gold``) the approach.
GOLD_FACETS = (*FACETS, "approach")
#: Facets a record may hold several labels of, joined with ``;`` in gold.csv.
MULTI_LABEL = frozenset({"country", "approach"})
NOT_STATED = "not-stated"
#: The gold's "no label" values (``not-stated``; ``none`` for the approach).
NO_LABEL = frozenset({NOT_STATED, "none"})
#: Set 1's halves (``tests/fixtures/abstracts-gold``): its first session's rules were
#: improved by reading the errors on ``dev`` (odd gold ids) only, holding ``test`` (even
#: ids) out; once set 2 (``tests/fixtures/abstracts-gold-2``) was labelled, both halves of
#: set 1 were read and set 2 became the held-out set, never read record by record.
SPLITS = ("all", "dev", "test")


@dataclass(frozen=True)
class GoldSet:
    """One real-abstract gold set after set 1: its column in the side-by-side table, its
    folder under the gold root (``tests/fixtures``), and whether it is held out (read only
    as summary figures, never trained on: the estimate for a new corpus)."""

    name: str
    folder: str
    held_out: bool = False


#: Set 1's folder under the gold root (scored whole and in its halves, :data:`SPLITS`).
SET_1 = "abstracts-gold"
#: The gold sets after set 1, in the order the table prints them. A new set is one row here
#: (and its folder under ``tests/fixtures``), not a new option of each command.
GOLD_SETS = (
    GoldSet("set 2 (held out)", "abstracts-gold-2", held_out=True),
    GoldSet("set 3", "abstracts-gold-3"),
    GoldSet("set 4 (held out)", "abstracts-gold-4", held_out=True),
    GoldSet("set 5 (held out)", "abstracts-gold-5", held_out=True),
    GoldSet("set 6 (software eng.)", "abstracts-gold-6"),
    GoldSet("set 7", "abstracts-gold-7"),
    GoldSet("approach set", "approach-gold"),
)


def in_split(gold_id: str, split: str) -> bool:
    """Whether ``gold_id`` (``g001`` ...) belongs to ``split`` (all, dev or test)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    if split == "all":
        return True
    odd = int("".join(ch for ch in gold_id if ch.isdigit()) or 0) % 2 == 1
    return odd if split == "dev" else not odd


def of_split(gold: pd.DataFrame, split: str) -> pd.DataFrame:
    """The rows of ``gold`` whose ``gold_id`` is in ``split`` (:func:`in_split`)."""
    return gold[[in_split(g, split) for g in gold["gold_id"]]]


@cache
def country_iso() -> dict[str, str]:
    """Tagger country label -> ISO 3166-1 alpha-2 code (the country gazetteer's)."""
    from synth.tagging.countries import label_codes

    return label_codes()


def load_gold_long(folder: Path | str, split: str = "all") -> pd.DataFrame:
    """``gold.csv`` as rows of (gold_id, dataset, key, facet, label), the labels of a
    multi-label facet (:data:`MULTI_LABEL`) split; only the records of ``split`` (see
    :data:`SPLITS`). The facets are the :data:`GOLD_FACETS` the file has columns for."""
    path = Path(folder) / "gold.csv"
    gold = pd.read_csv(path, dtype=str, keep_default_na=False)
    facets = [f for f in GOLD_FACETS if f in gold.columns]
    if not facets:
        raise ValueError(f"{path}: no facet column (one of {', '.join(GOLD_FACETS)})")
    gold = of_split(gold, split)
    rows = []
    for r in gold.itertuples(index=False):
        for facet in facets:
            value = getattr(r, facet).strip()
            labels = value.split(";") if facet in MULTI_LABEL else [value]
            for label in labels:
                label = NOT_APPLICABLE if label.strip() in NO_LABEL else label.strip()
                rows.append((r.gold_id, r.dataset, r.key, facet, label))
    return pd.DataFrame(rows, columns=["gold_id", "dataset", "key", "facet", "label"])


def facets_of(gold: pd.DataFrame) -> tuple[str, ...]:
    """The facets long gold rows label, in :data:`GOLD_FACETS` order."""
    present = set(gold["facet"])
    return tuple(f for f in GOLD_FACETS if f in present)


def load_records(gold: pd.DataFrame, peer: Path | str) -> pd.DataFrame:
    """The gold's records read from ``peer`` with synth's readers, ``record_id`` = gold_id.

    A record that cannot be found is an error naming its dataset and key.
    """
    from synth.corpus import read

    wanted = gold[["gold_id", "dataset", "key"]].drop_duplicates()
    parts = []
    for dataset, rows in wanted.groupby("dataset", sort=False):
        path = Path(peer) / dataset
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: gold dataset not found (is ../shared/peer-data here?)"
            )
        records = read(path).records
        # a spreadsheet row by its own id; a record of a tagged export by its position
        by = records["source_key"] if path.suffix.lower() == ".csv" else records["position"]
        records = records.assign(key=by.astype(str))
        found = rows.merge(records.drop(columns=["record_id"]), on="key", how="left")
        missing = found.loc[found["title"].isna(), "key"].tolist()
        if missing:
            raise ValueError(f"{path}: gold keys not found: {', '.join(missing[:10])}")
        parts.append(found.rename(columns={"gold_id": "record_id"}))
    return pd.concat(parts, ignore_index=True)


@dataclass
class AbstractGoldResult:
    """Per-facet scores, plus the country figure the targets use: of the abstracts that
    name a country, the share whose countries the tagger gives exactly (ISO codes); and
    its other side, which that figure cannot see: of the abstracts that name none, the
    share the tagger gives none (a background country given to a review shows here)."""

    evaluation: EvaluationResult
    country_named: int
    country_exact: int
    country_unnamed: int = 0
    country_none: int = 0
    #: the facets the gold labels (:func:`facets_of`)
    facets: tuple[str, ...] = FACETS

    @property
    def country_accuracy(self) -> float:
        return self.country_exact / self.country_named if self.country_named else float("nan")

    @property
    def country_none_share(self) -> float:
        return self.country_none / self.country_unnamed if self.country_unnamed else float("nan")

    def summary(self) -> pd.DataFrame:
        """One row per facet: macro and micro F1, and the country accuracy."""
        avg = self.evaluation.averages.set_index(["facet", "average"])["f1"]
        rows = [
            {"facet": f, "macro_f1": avg.get((f, "macro")), "micro_f1": avg.get((f, "micro"))}
            for f in self.facets
        ]
        out = pd.DataFrame(rows)
        if "country" in self.facets:
            out["country_accuracy_where_named"] = [
                self.country_accuracy if f == "country" else None for f in self.facets
            ]
        return out

    def to_text(self) -> str:
        head = f"Real-abstract gold set: {self.evaluation.coverage['gold_records'].max()} records"
        if "country" in self.facets:
            head += (
                f"; country named in {self.country_named}, given exactly for "
                f"{self.country_exact} ({self.country_accuracy:.3f}); no country named in "
                f"{self.country_unnamed}, none given for {self.country_none} "
                f"({self.country_none_share:.3f})"
            )
        return (
            head
            + "\n\n"
            + self.summary().to_string(index=False, float_format=lambda x: f"{x:.3f}")
            + "\n\n"
            + self.evaluation.to_text()
        )


COUNTRY_EXACT = "country exact where named"
COUNTRY_NONE = "country none where none named"
# The figures the targets name, in the order every table prints them: one list,
# so a figure added here is in the summary, the bootstrap and the paired comparison alike
SUMMARY_FIGURES: tuple[str, ...] = (
    "setting macro-F1",
    "setting micro-F1",
    COUNTRY_EXACT,
    COUNTRY_NONE,
    "country macro-F1",
    "country micro-F1",
    "design macro-F1",
    "design micro-F1",
    "approach macro-F1",
    "approach micro-F1",
)


def _f1_figure(facet: str, average: str) -> str:
    """The summary figure's name of one facet's macro or micro F1."""
    return f"{facet} {average}-F1"


def _in_order(figures: dict) -> dict:
    """``figures`` keyed and ordered as :data:`SUMMARY_FIGURES` (those a gold set has)."""
    return {name: figures[name] for name in SUMMARY_FIGURES if name in figures}


def summary_figures(result: AbstractGoldResult) -> dict[str, float]:
    """The figures the issue's targets name, as one flat mapping."""
    summary = result.summary().set_index("facet")
    figures: dict[str, float] = {
        _f1_figure(facet, average): float(summary.loc[facet, f"{average}_f1"])
        for facet in result.facets
        for average in ("macro", "micro")
    }
    if "country" in result.facets:
        figures[COUNTRY_EXACT] = result.country_accuracy
        figures[COUNTRY_NONE] = result.country_none_share
    return _in_order(figures)


def _country_exact(tags: pd.DataFrame, gold: pd.DataFrame) -> tuple[int, int, int, int]:
    """(abstracts naming a country, those whose country set the tagger gives exactly,
    abstracts naming none, those the tagger gives none)."""
    exact = _country_exact_by_record(tags, gold)
    is_named = exact.index.isin(_country_named_ids(gold))
    named, unnamed = exact[is_named], exact[~is_named]
    return len(named), int(named.sum()), len(unnamed), int(unnamed.sum())


def _country_named_ids(gold: pd.DataFrame) -> pd.Index:
    """Gold ids of the abstracts whose gold names a country."""
    country = gold[gold["facet"] == "country"]
    return pd.Index(country.loc[country["label"] != NOT_APPLICABLE, "gold_id"].unique())


def _country_exact_by_record(tags: pd.DataFrame, gold: pd.DataFrame) -> pd.Series:
    """For each abstract of the gold (by gold id): whether the tagger gives exactly its
    countries (none, for an abstract whose gold names none)."""
    iso = country_iso()
    counted = counted_tags(tags)
    counted = counted[counted["facet"] == "country"]
    given = counted.groupby("record_id")["label"].agg(lambda ls: {iso.get(x, x) for x in ls})
    country = gold[gold["facet"] == "country"]
    wanted = (
        country.assign(label=country["label"].where(country["label"] != NOT_APPLICABLE))
        .groupby("gold_id")["label"]
        .agg(lambda ls: set(ls.dropna()))
    )
    return pd.Series(
        [given.get(gid, set()) == labels for gid, labels in wanted.items()],
        index=wanted.index,
        dtype=bool,
    )


def _weighted(
    weights: np.ndarray, at: tuple[np.ndarray, np.ndarray], values: pd.Series, shape: tuple
) -> np.ndarray:
    """Each weighting's sum of ``values`` per label (records x labels, then weighted)."""
    per_record = np.zeros(shape)
    np.add.at(per_record, at, values.to_numpy(dtype=float))
    return weights @ per_record


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """F1 elementwise, 0 where it is undefined (as :func:`synth.tagging.evaluate` has it)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        return np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)


@dataclass
class TaggedGold:
    """The gold set's records tagged once, so each split is scored without tagging again."""

    gold: pd.DataFrame
    records: pd.DataFrame
    tags: pd.DataFrame

    def score(self, split: str = "all") -> AbstractGoldResult:
        """Setting, country and design scored on the records of ``split``."""
        gold = of_split(self.gold, split)
        evaluation = evaluate(
            self.tags[self.tags["record_id"].isin(set(gold["gold_id"]))],
            _as_tag_rows(gold),
            facets=list(self.facets),
            label_map={"country": country_iso()},
        )
        return AbstractGoldResult(evaluation, *_country_exact(self.tags, gold), facets=self.facets)

    @property
    def facets(self) -> tuple[str, ...]:
        """The facets this gold labels (:func:`facets_of`)."""
        return facets_of(self.gold)

    def gold_rows(self) -> pd.DataFrame:
        """Gold as ``record_id, facet, label`` (``record_id`` is the gold id)."""
        return _as_tag_rows(self.gold)

    def weighted_figures(self, weights: np.ndarray) -> pd.DataFrame:
        """:func:`summary_figures` for each row of ``weights`` (records x how often each
        record counts, in the order of the gold's ids): a bootstrap sample is a row whose
        record drawn twice counts twice. One pass over the records builds each facet's
        per-record outcomes (:func:`synth.tagging.evaluate.record_outcomes`, what
        :func:`~synth.tagging.evaluate.evaluate` counts); every row's counts are then a
        product, so a thousand samples take about a second. A figure no record of a row
        defines (no record naming a country) is NaN there."""
        ids = self._ids()
        weights = np.atleast_2d(np.asarray(weights, dtype=float))
        if weights.shape[1] != len(ids):
            raise ValueError(f"weights: {weights.shape[1]} columns for {len(ids)} records")
        facets = self.facets
        outcomes = record_outcomes(
            self.tags, _as_tag_rows(self.gold), facets=list(facets),
            label_map={"country": country_iso()},
        )  # fmt: skip
        out: dict[str, np.ndarray] = {}
        for facet in facets:
            part = outcomes[outcomes["facet"] == facet]
            labels = pd.Index(sorted(set(part["label"])))
            at = (ids.get_indexer(part["record_id"]), labels.get_indexer(part["label"]))
            tp, fp, fn = (_weighted(weights, at, part[c], (len(ids), len(labels)))
                          for c in ("tp", "fp", "fn"))  # fmt: skip
            present = (tp + fp + fn) > 0  # the labels evaluate() scores in that sample
            per_label = _f1(tp, fp, fn)
            with np.errstate(invalid="ignore"):
                macro = (per_label * present).sum(axis=1) / present.sum(axis=1)
            out[_f1_figure(facet, "macro")] = macro
            out[_f1_figure(facet, "micro")] = _f1(tp.sum(axis=1), fp.sum(axis=1), fn.sum(axis=1))
        if "country" not in facets:
            return pd.DataFrame(_in_order(out))
        exact = _country_exact_by_record(self.tags, self.gold)
        right = exact.reindex(ids, fill_value=False).to_numpy(dtype=float)
        in_named = ids.isin(_country_named_ids(self.gold)).astype(float)
        in_unnamed = ids.isin(exact.index).astype(float) - in_named
        named, unnamed = weights @ in_named, weights @ in_unnamed
        with np.errstate(invalid="ignore", divide="ignore"):
            out[COUNTRY_EXACT] = np.where(named > 0, (weights @ (right * in_named)) / named, np.nan)
            out[COUNTRY_NONE] = np.where(
                unnamed > 0, (weights @ (right * in_unnamed)) / unnamed, np.nan
            )
        return pd.DataFrame(_in_order(out))

    def bootstrap(self, n: int = 1000, *, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
        """How far each summary figure could move on another sample of as many abstracts
        of the same kind: percentile intervals over ``n`` bootstrap samples of the records
        (drawn with replacement, a record drawn twice counting twice;
        :meth:`weighted_figures`). These are the uncertainties of each figure's level; a
        rule change is judged on the same records (a paired comparison,
        :meth:`bootstrap_difference`), not by whether it leaves a figure inside its
        interval. One row per figure: ``value`` on the set as it is, ``low`` and ``high``
        the interval, ``samples`` how many samples define the figure (a sample may hold no
        record naming a country). Macro-F1 is over the labels a sample holds, as it is over
        the labels a set holds."""
        _check_bootstrap(n, level)
        samples = self.weighted_figures(self._sample_weights(n, seed))
        point = summary_figures(self.score())
        return pd.DataFrame(
            {"figure": list(point), "value": list(point.values()),
             **_percentiles(samples, list(point), level)}
        )  # fmt: skip

    def retagged(self, codebook: Codebook) -> TaggedGold:
        """The same gold and records tagged with ``codebook`` (one of the two arms of
        :meth:`bootstrap_difference`)."""
        from synth.tagging import tag

        return TaggedGold(self.gold, self.records, tag(self.records, codebook=codebook))

    def bootstrap_difference(
        self, baseline: TaggedGold, n: int = 1000, *, seed: int = 0, level: float = 0.95
    ) -> pd.DataFrame:
        """This tagging against ``baseline``'s of the same gold records (another codebook's,
        :meth:`retagged`), paired: each summary figure under both, ``difference`` (this
        minus baseline) and, for ``n`` > 0, its percentile interval over ``n`` bootstrap
        samples of the records, each sample the SAME records (same weights) for both arms
        (:meth:`weighted_figures`). A change that moves a few records moves every sample
        by about as much, so the interval is that of the change, not the much wider one of
        each figure's level (:meth:`bootstrap`). ``samples``: the samples defining the
        figure under both arms. The seed draws the same samples as :meth:`bootstrap`'s."""
        if n < 0:
            raise ValueError(f"bootstrap: n must be 0 or more (got {n})")
        ids = self._ids()
        if not ids.equals(baseline._ids()) or not self.gold.equals(baseline.gold):
            raise ValueError("bootstrap_difference: the two arms are not the same gold records")
        new, base = summary_figures(self.score()), summary_figures(baseline.score())
        table = pd.DataFrame(
            {"figure": list(new), "baseline": list(base.values()), "new": list(new.values()),
             "difference": [new[f] - base[f] for f in new]}
        )  # fmt: skip
        if n:
            _check_bootstrap(n, level)
            weights = self._sample_weights(n, seed)
            diff = self.weighted_figures(weights) - baseline.weighted_figures(weights)
            table = table.assign(**_percentiles(diff, list(new), level))
        return table

    def changed_records(self, baseline: TaggedGold) -> dict[str, int]:
        """Per facet, how many gold records the two taggings label differently (their
        counted labels, as scored, are not the same set)."""
        ids = set(self._ids())

        def label_sets(tags: pd.DataFrame) -> pd.Series:
            counted = counted_tags(tags)
            counted = counted[counted["record_id"].isin(ids)]
            return counted.groupby(["facet", "record_id"])["label"].agg(frozenset)

        new, base = label_sets(self.tags), label_sets(baseline.tags)
        both = pd.concat([new.rename("new"), base.rename("base")], axis=1)
        both = both.map(lambda x: x if isinstance(x, frozenset) else frozenset())
        differs = both["new"] != both["base"]
        facet_of = differs.index.get_level_values("facet")
        return {f: int(differs[facet_of == f].sum()) for f in self.facets}

    def _ids(self) -> pd.Index:
        """The gold's record ids, in the order of :meth:`weighted_figures`' columns."""
        return pd.Index(self.gold["gold_id"].drop_duplicates())

    def _sample_weights(self, n: int, seed: int) -> np.ndarray:
        """``n`` bootstrap samples of the records as weights (samples x records: how often
        each record was drawn), the same for a seed and a set of records."""
        records = len(self._ids())
        draws = np.random.default_rng(seed).integers(0, records, size=(n, records))
        return np.stack([np.bincount(row, minlength=records) for row in draws])

    def by_source(self) -> pd.DataFrame:
        """The summary figures per source (:func:`source_of` the record's dataset): which
        kinds of paper the tagger reads well. Summary figures only, so a held-out set may
        be read this way too; a source of a few records says little."""
        sources = self.gold.drop_duplicates("gold_id").set_index("gold_id")["dataset"]
        sources = sources.map(source_of)
        rows = []
        for source in sorted(set(sources)):
            ids = set(sources.index[sources == source])
            part = TaggedGold(
                self.gold[self.gold["gold_id"].isin(ids)],
                self.records[self.records["record_id"].isin(ids)],
                self.tags[self.tags["record_id"].isin(ids)],
            ).score()
            summary = part.summary().set_index("facet")
            row: dict[str, object] = {"source": source, "records": len(ids)}
            for facet in self.facets:
                if facet == "country":
                    row["country_exact"] = f"{part.country_exact} of {part.country_named}"
                else:
                    row[f"{facet}_macro"] = summary.loc[facet, "macro_f1"]
                    row[f"{facet}_micro"] = summary.loc[facet, "micro_f1"]
            rows.append(row)
        return pd.DataFrame(rows)


def _check_bootstrap(n: int, level: float) -> None:
    if n < 1:
        raise ValueError(f"bootstrap: n must be at least 1 (got {n})")
    if not 0 < level < 1:
        raise ValueError(f"bootstrap: level must be between 0 and 1 (got {level})")


def _percentiles(samples: pd.DataFrame, figures: list[str], level: float) -> dict[str, list]:
    """Per figure, the ``level`` percentile interval of ``samples``' column (``low``,
    ``high``) and how many samples define it (``samples``: NaN where none does)."""
    tail = (1 - level) / 2
    return {
        "low": [samples[f].quantile(tail) for f in figures],
        "high": [samples[f].quantile(1 - tail) for f in figures],
        "samples": [int(samples[f].notna().sum()) for f in figures],
    }


def source_of(dataset: str) -> str:
    """The source a gold record's dataset belongs to: a screening file's review, named up
    to its year (``screening/cohen2006_ADHD.csv`` -> ``cohen2006``, one source for its six
    drug classes; ``screening/van_de_Schoot_2017.csv`` -> ``van_de_Schoot_2017``), or an
    export folder's name (``formats/asreview-demo-data/scopus.ris`` ->
    ``asreview-demo-data``)."""
    parts = Path(dataset).parts
    if len(parts) > 2:  # formats/<folder>/<file>
        return parts[-2]
    stem = Path(dataset).stem
    year = _SOURCE_YEAR.match(stem)
    return year.group(1) if year else stem


#: A screening file's name up to its year: the review, whatever classes follow it.
_SOURCE_YEAR = re.compile(r"(.*?(?:19|20)\d\d)(?:_|$)")
#: Below this many records a source's figures say little (printed under the table).
FEW_RECORDS = 30


def combined(sets: dict[str, TaggedGold]) -> TaggedGold:
    """Several tagged gold sets as one, each record's id prefixed with its set's name
    (``set1:g001``), so that ids that repeat across sets stay apart: the refiner's
    cross-validation deals folds over the read sets together, and is trained on them and
    tested on the held-out sets pooled."""
    kinds = {one.facets for one in sets.values()}
    if len(kinds) > 1:
        raise ValueError(
            "cannot pool gold sets that label different facets: "
            + "; ".join(f"{name}: {', '.join(one.facets)}" for name, one in sets.items())
        )
    golds, records, tags = [], [], []
    for name, one in sets.items():
        golds.append(one.gold.assign(gold_id=f"{name}:" + one.gold["gold_id"].astype(str)))
        records.append(
            one.records.assign(record_id=f"{name}:" + one.records["record_id"].astype(str))
        )
        tags.append(one.tags.assign(record_id=f"{name}:" + one.tags["record_id"].astype(str)))
    return TaggedGold(
        pd.concat(golds, ignore_index=True),
        pd.concat(records, ignore_index=True),
        pd.concat(tags, ignore_index=True),
    )


def _as_tag_rows(gold: pd.DataFrame) -> pd.DataFrame:
    """Long gold rows as ``record_id, facet, label``, as tags are (the gold id the record's)."""
    return gold.rename(columns={"gold_id": "record_id"})[["record_id", "facet", "label"]]


def tag_abstract_gold(
    folder: Path | str,
    peer: Path | str,
    *,
    n_process: int = 1,
    split: str = "all",
    codebook: Codebook | None = None,
) -> TaggedGold:
    """Read the gold's records (those of ``split``) from ``peer`` and tag them (with
    ``codebook``, default the package's)."""
    from synth.tagging import tag

    gold = load_gold_long(folder, split)
    records = load_records(gold, peer)
    return TaggedGold(gold, records, tag(records, n_process=n_process, codebook=codebook))


def evaluate_abstract_gold(
    folder: Path | str, peer: Path | str, *, n_process: int = 1, split: str = "all"
) -> AbstractGoldResult:
    """Tag the gold's records (those of ``split``) and score setting, country and design."""
    return tag_abstract_gold(folder, peer, n_process=n_process, split=split).score(split)


#: Printed beside the bundled corpus's figures: they flatter the tagger.
BUNDLED_CAVEAT = (
    "The bundled corpus's figures (tests/fixtures/kei-gold) flatter the tagger: its "
    "codebook was written from that corpus. Set 1's errors were read to improve the rules "
    "(both halves by now), so its figures flatter it too, as set 3's do after its first "
    "measurement (tests/fixtures/abstracts-gold-3/README.md); sets 2, 4 and 5 "
    "(tests/fixtures/abstracts-gold-2, -4, -5), never read record by record, are the "
    "held-out figures. The approach set (tests/fixtures/approach-gold) was read on its dev "
    "half (odd ids) to write the approach rules: its test half is the fairer figure "
    "(synth tag evaluate-abstracts --gold-dir tests/fixtures/approach-gold --split test)."
)
_METRICS = ("precision", "recall", "f1")


def side_by_side(
    real: TaggedGold | None,
    bundled: EvaluationResult | None,
    *,
    bundled_name: str = "bundled",
    others: dict[str, TaggedGold] | None = None,
) -> pd.DataFrame:
    """Per facet and average (macro, micro): precision, recall and F1 on the real-abstract
    gold set 1 (all, dev and test halves) and any ``others`` (name -> set, e.g. the sets of
    :data:`GOLD_SETS`) beside ``bundled`` (a review's own gold), one column group each; a
    facet one side does not label is blank."""
    groups: dict[str, pd.DataFrame] = {}
    if real is not None:
        for split in SPLITS:
            groups[f"set 1: {split}"] = real.score(split).evaluation.averages
    for name, other in (others or {}).items():
        groups[name] = other.score("all").evaluation.averages
    if bundled is not None:
        groups[bundled_name] = bundled.averages
    facets = list(FACETS) if real is not None or others else []
    for averages in groups.values():
        facets += [f for f in dict.fromkeys(averages["facet"]) if f not in facets and f != "all"]
    index = pd.MultiIndex.from_product([facets, ["macro", "micro"]], names=["facet", "average"])
    parts = {
        name: averages.set_index(["facet", "average"])[list(_METRICS)].reindex(index)
        for name, averages in groups.items()
    }
    return pd.concat(parts, axis=1)


def side_by_side_text(table: pd.DataFrame, *, with_caveat: bool = True) -> str:
    """The table as aligned text (P, R, F1 under each gold set), and the caveat."""
    shown = table.rename(columns={"precision": "P", "recall": "R", "f1": "F1"}, level=1)
    text = shown.to_string(float_format=lambda x: f"{x:.3f}", na_rep="")
    title = "Tags against gold labels: precision (P), recall (R), F1 per facet"
    caveat = f"\n{BUNDLED_CAVEAT}\n" if with_caveat else ""
    return f"{title}\n{text}\n{caveat}"
