"""Synthetic reference records with planted duplicates, for tests and benchmarks.

Real search exports cannot be shared at scale and their duplicates are not labelled, so
deduplication is measured on generated records whose duplicates we planted ourselves.
The generator imitates what goes wrong between databases (typos, case, punctuation,
dropped subtitles, HTML entities and LaTeX braces, DOI prefixes, initials, online-first
years) and also plants *distinct* papers with near-identical titles (Part 1 / Part 2,
a protocol and its trial report, errata, the same title years apart by other authors,
the same study design in another setting) that a deduplicator must keep apart.

Vocabularies live in ``synth/data/synthetic.yml``.
"""

from __future__ import annotations

import logging
import string
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import yaml

from synth.corpus.normalise import records_frame

log = logging.getLogger(__name__)

_SLOTS = (
    "concept",
    "intervention",
    "population",
    "setting",
    "outcome",
    "condition",
    "place",
    "activity",
    "thing",
    "design",
    "design_adj",
)
_HARD_KINDS = ("part", "same_title", "protocol", "notice", "swap")
_KEYBOARD = "qwertyuiopasdfghjklzxcvbnm"


@cache
def vocabulary() -> dict[str, Any]:
    """The generator's word lists (package data, loaded once)."""
    text = resources.files("synth.data").joinpath("synthetic.yml").read_text("utf-8")
    return yaml.safe_load(text)


def generate_records(
    n: int,
    *,
    dup_rate: float = 0.05,
    hard_rate: float = 0.01,
    seed: int = 0,
) -> tuple[pd.DataFrame, set[frozenset[str]]]:
    """Canonical records with planted near-duplicates, and the planted pairs.

    Parameters
    ----------
    n
        Total number of records returned (originals, hard negatives and duplicates).
    dup_rate
        Share of the ``n`` records that are duplicates of another record. A paper can be
        duplicated more than once, so a group may hold three or more records.
    hard_rate
        Share of records that are *distinct* papers with a near-identical title to
        another paper (they are not in the planted pairs: merging them is an error).
    seed
        Seed of the numpy random generator; the same seed gives the same records.

    Returns
    -------
    records, planted
        Records in the columns of :data:`synth.corpus.model.RECORD_COLUMNS`, shuffled,
        and every pair of record ids that are the same paper (all pairs in each group).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, not {n}")
    if not 0 <= dup_rate < 1 or not 0 <= hard_rate < 1:
        raise ValueError("dup_rate and hard_rate must be in [0, 1)")
    if n == 0:
        return records_frame([]), set()
    rng = np.random.default_rng(seed)
    voc = vocabulary()
    n_dup = min(round(n * dup_rate), n // 2)
    n_hard = min(round(n * hard_rate), (n - n_dup) // 2)
    n_orig = n - n_dup - n_hard
    pools = _sentence_pools(rng, voc)
    cols, draws = _originals(rng, voc, pools, n_orig)
    extras = _hard_negatives(_Ctx(rng, voc, pools, draws), cols, n_hard)
    n_papers = n_orig + len(extras)
    sources = rng.integers(0, n_papers, n_dup).tolist() if n_papers else []
    for s in sources:
        paper = _row(cols, s) if s < n_orig else extras[s - n_orig]
        extras.append(_duplicate(rng, voc, paper))
    for key, col in cols.items():
        col.extend(r[key] for r in extras)

    total = n_orig + len(extras)
    order = rng.permutation(total)
    df = pd.DataFrame(cols).take(order).reset_index(drop=True)
    ids = [f"r{k:07d}" for k in range(total)]
    df["record_id"] = ids
    df["source_key"] = ids
    df["position"] = df.groupby("source_file").cumcount() + 1
    new_pos = np.empty(total, dtype=np.int64)
    new_pos[order] = np.arange(total)
    members: dict[int, list[str]] = {}
    for old, group in enumerate([*range(n_papers), *sources]):
        members.setdefault(group, []).append(ids[new_pos[old]])
    planted = {
        frozenset(p) for group in members.values() if len(group) > 1 for p in combinations(group, 2)
    }
    log.debug("generated %d records, %d planted pairs", total, len(planted))
    return records_frame(df), planted  # type: ignore[arg-type]  # a frame is rows too


# -- originals -------------------------------------------------------------------------


class _Draws:
    """Slot values drawn for the originals, kept so a hard negative can swap one phrase."""

    def __init__(self, rng: np.random.Generator, voc: dict[str, Any], n: int) -> None:
        self.values: dict[str, list[str]] = {}
        for slot in (*_SLOTS, "concept2", "outcome2"):
            words = voc[slot.rstrip("2")]
            self.values[slot] = [words[j] for j in rng.integers(0, len(words), n).tolist()]

    def slots(self, i: int) -> dict[str, str]:
        return {s: v[i] for s, v in self.values.items()}


def _originals(
    rng: np.random.Generator, voc: dict[str, Any], pools: dict[str, list[str]], n: int
) -> tuple[dict[str, list[Any]], _Draws]:
    """``n`` distinct papers as columns; random draws are vectorised, only formatting loops."""
    draws = _Draws(rng, voc, n)
    templates = [(t, _fields(t)) for t in voc["title_templates"]]
    t_idx = rng.integers(0, len(templates), n).tolist()
    years = _years(rng, n).tolist()
    no_year = (rng.random(n) < 0.003).tolist()
    venues = rng.integers(0, len(voc["venues"]), n).tolist()
    has_doi = (rng.random(n) < 0.7).tolist()
    has_pmid = (rng.random(n) < 0.35).tolist()
    pmids = (rng.permutation(n) + 20_000_000).tolist()
    has_abs = (rng.random(n) < 0.92).tolist()
    issue = rng.integers(1, 13, n).tolist()
    page = rng.integers(1, 2400, n).tolist()
    page_end = (np.asarray(page) + rng.integers(4, 22, n)).tolist()
    eloc = (rng.random(n) < 0.3).tolist()
    authors = _author_lists(rng, voc, n)
    abstracts = _abstracts(rng, voc, pools, n)
    keywords = _keyword_lists(rng, voc, n)
    dbs = rng.integers(0, len(voc["databases"]), n).tolist()
    values = draws.values
    titles = []
    for i in range(n):
        template, fields = templates[t_idx[i]]
        titles.append(_capitalise(template.format_map({f: values[f][i] for f in fields})))
    year_list = [None if no_year[i] else years[i] for i in range(n)]
    venue_rows = [voc["venues"][v] for v in venues]
    db_rows = [voc["databases"][d] for d in dbs]
    cols: dict[str, list[Any]] = {
        "title": titles,
        "authors": authors,
        "year": year_list,
        "venue": [v[0] for v in venue_rows],
        "volume": [
            str(max(1, (y or 2024) - 1985 + v % 7)) for y, v in zip(year_list, venues, strict=True)
        ],
        "issue": [str(x) for x in issue],
        "pages": [f"e{page[i]:05d}" if eloc[i] else f"{page[i]}-{page_end[i]}" for i in range(n)],
        "publisher": [None] * n,
        "doi": [
            f"{v[1]}/{v[2]}.{y or 2024}.{i:06d}" if has_doi[i] else None
            for i, (v, y) in enumerate(zip(venue_rows, year_list, strict=True))
        ],
        "pmid": [str(pmids[i]) if has_pmid[i] else None for i in range(n)],
        "url": [None] * n,
        "abstract": [abstracts[i] if has_abs[i] else None for i in range(n)],
        "keywords": keywords,
        "language": ["English"] * n,
        "pub_type": ["journal-article"] * n,
        "grey": [False] * n,
        "label_included": [None] * n,
        "source_key": [None] * n,
        "source_file": [d[1] for d in db_rows],
        "source_format": [d[2] for d in db_rows],
        "database": [d[0] for d in db_rows],
        "position": [None] * n,
        "line": [None] * n,
        "extra": [{} for _ in range(n)],
    }
    return cols, draws


def _row(cols: dict[str, list[Any]], i: int) -> dict[str, Any]:
    """Original ``i`` as a record dict (a copy: lists are copied too)."""
    row = {k: (list(v[i]) if isinstance(v[i], list) else v[i]) for k, v in cols.items()}
    row["extra"] = {}
    row["_i"] = i
    return row


def _fields(template: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


def _years(rng: np.random.Generator, n: int) -> np.ndarray:
    """1990-2024, more papers in recent years as in any real search."""
    span = np.arange(1990, 2025)
    weights = np.exp(0.08 * (span - 1990))
    return rng.choice(span, size=n, p=weights / weights.sum())


def _author_lists(rng: np.random.Generator, voc: dict[str, Any], n: int) -> list[list[str]]:
    """1-12 authors as "Family, Given" (a quarter with a middle initial)."""
    fam = np.asarray(voc["family_names"], dtype=object)
    giv = np.asarray(voc["given_names"], dtype=object)
    counts = rng.choice(
        np.arange(1, 13),
        size=n,
        p=np.array([6, 10, 13, 14, 13, 11, 9, 7, 6, 5, 3, 3]) / 100,
    )
    total = int(counts.sum())
    # Zipf-like: a few family names (Smith, Wang) are far more common than the rest
    f_weights = 1.0 / np.arange(1, len(fam) + 1) ** 0.6
    f_idx = rng.permutation(len(fam))[
        rng.choice(len(fam), size=total, p=f_weights / f_weights.sum())
    ]
    letters = np.asarray([f" {chr(c)}." for c in range(65, 91)], dtype=object)
    middle = np.where(rng.random(total) < 0.25, letters[rng.integers(0, 26, total)], "")
    names = (fam[f_idx] + ", " + giv[rng.integers(0, len(giv), total)] + middle).tolist()
    ends = np.cumsum(counts).tolist()
    starts = [0, *ends[:-1]]
    return [names[a:b] for a, b in zip(starts, ends, strict=True)]


#: pooled sentences per abstract section (min, max); each section then gets its own
#: detail sentences (``details`` in synthetic.yml), about 270 words in all
_SECTIONS = {"background": (2, 3), "methods": (2, 3), "results": (2, 3), "conclusions": (1, 2)}


def _sentence_pools(rng: np.random.Generator, voc: dict[str, Any]) -> dict[str, list[str]]:
    """2,000 section texts per abstract section, each of a few filled-in sentences.

    An abstract joins one text of each section, so abstracts are distinct (2000**4
    combinations) while only a few thousand strings are ever formatted.
    """
    pools: dict[str, list[str]] = {}
    for section, templates in voc["sentences"].items():
        draws = _Draws(rng, voc, 300)
        t = rng.integers(0, len(templates), 300).tolist()
        sentences = [_capitalise(templates[t[i]].format_map(draws.slots(i))) for i in range(300)]
        lo, hi = _SECTIONS[section]
        idx = rng.integers(0, 300, (2000, hi)).tolist()
        k = rng.integers(lo, hi + 1, 2000).tolist()
        head = section.capitalize() + ": "
        pools[section] = [
            head + " ".join([sentences[j] for j in idx[i][: k[i]]]) for i in range(2000)
        ]
    return pools


def _abstracts(
    rng: np.random.Generator, voc: dict[str, Any], pools: dict[str, list[str]], n: int
) -> list[str]:
    """Structured abstracts of about 200-350 words: pooled sentences, then each record's
    own detail sentences, per section."""
    details = _details(rng, voc, n)
    text = np.full(n, "", dtype=object)
    for section in _SECTIONS:
        pool = np.asarray(pools[section], dtype=object)
        own = np.asarray(details.get(section, [""] * n), dtype=object)
        text = text + pool[rng.integers(0, len(pool), n)] + np.where(own != "", " " + own, "")
        text = text + " "
    return [t[:-1] for t in text.tolist()]


def _details(rng: np.random.Generator, voc: dict[str, Any], n: int) -> dict[str, list[str]]:
    """Per section, each record's detail sentences joined by spaces ("" when none).

    Sentences are formatted per template, with values drawn for that template's rows only:
    at 100,000 records that is half a million sentences."""
    out: dict[str, list[str]] = {}
    for section, templates in voc["details"].items():
        lo, hi = voc["detail_counts"][section]
        counts = rng.integers(lo, hi + 1, n)
        total = int(counts.sum())
        which = rng.integers(0, len(templates), total)
        sentences: list[str] = [""] * total
        for t, template in enumerate(templates):
            rows = np.flatnonzero(which == t)
            if not len(rows):
                continue
            fields = _fields(template)
            positional = template
            for i, f in enumerate(fields):
                positional = positional.replace("{" + f + "}", "{" + str(i) + "}", 1)
            columns = _detail_values(rng, voc, fields, len(rows))
            for row, values in zip(rows.tolist(), zip(*columns, strict=True), strict=True):
                sentences[row] = positional.format(*values)
        ends = np.cumsum(counts).tolist()
        starts = [0, *ends[:-1]]
        out[section] = [" ".join(sentences[a:b]) for a, b in zip(starts, ends, strict=True)]
    return out


def _detail_values(
    rng: np.random.Generator, voc: dict[str, Any], fields: list[str], k: int
) -> list[list[str]]:
    """``k`` values of each placeholder in ``fields``, as strings; related numbers agree
    (a subgroup is smaller than its group, a confidence interval holds its estimate)."""
    n = np.exp(rng.uniform(np.log(20), np.log(5000), k)).astype(int)
    est = rng.uniform(-12, 12, k)
    half = rng.uniform(0.1, 3, k)
    ratio = np.exp(rng.normal(0, 0.5, k))
    year = rng.integers(1990, 2023, k)
    cost = rng.integers(40, 9000, k)
    # every draw is made (same random stream whatever the template); only the placeholders
    # the template uses are formatted
    numbers: dict[str, tuple[str, Any]] = {
        "n": ("{}", n),
        "n2": ("{}", np.maximum(1, (n * rng.uniform(0.2, 0.95, k)).astype(int))),
        "m": ("{}", rng.integers(2, 61, k)),
        "m2": ("{}", rng.integers(2, 61, k)),
        "pct": ("{:.1f}", rng.uniform(0.5, 99.5, k)),
        "pct2": ("{:.1f}", rng.uniform(0.5, 99.5, k)),
        "age": ("{:.1f}", rng.uniform(18, 85, k)),
        "sd": ("{:.1f}", rng.uniform(1, 20, k)),
        "year": ("{}", year),
        "year2": ("{}", year + rng.integers(1, 5, k)),
        "months": ("{}", rng.choice([3, 6, 9, 12, 18, 24, 36], k)),
        "months2": ("{}", rng.choice([12, 18, 24, 36, 48], k)),
        "est": ("{:.2f}", est),
        "est2": ("{:.2f}", rng.uniform(-12, 12, k)),
        "est_abs": ("{:.1f}", rng.uniform(1.2, 9.8, k)),
        "lo": ("{:.2f}", est - half),
        "hi": ("{:.2f}", est + half),
        "ratio": ("{:.2f}", ratio),
        "lo_r": ("{:.2f}", ratio * rng.uniform(0.5, 0.95, k)),
        "hi_r": ("{:.2f}", ratio * rng.uniform(1.05, 2, k)),
        "p": ("{:.3f}", rng.uniform(0.001, 0.5, k)),
        "kappa": ("{:.2f}", rng.uniform(0.2, 0.95, k)),
        "cost": ("{:,}", cost),
        "cost2": ("{:,}", (cost * rng.uniform(0.4, 1.6, k)).astype(int)),
        "cost3": ("{:,}", rng.integers(800, 90_000, k)),
        "ver": ("{}.{}.{}", rng.integers(0, 18, (k, 3))),
    }
    columns = []
    for f in fields:
        if f in numbers:
            form, values = numbers[f]
            if values.ndim == 2:
                columns.append([form.format(*v) for v in values.tolist()])
            else:
                columns.append([form.format(v) for v in values.tolist()])
        elif f.startswith("term"):
            columns.append(_rare_terms(rng, voc, k))
        elif f.startswith("name"):
            names = voc["family_names"]
            columns.append([names[j] for j in rng.integers(0, len(names), k).tolist()])
        elif f == "software":
            columns.append([voc["software"][j] for j in rng.integers(0, len(voc["software"]), k)])
        elif f == "acro":
            columns.append(_acronyms(rng, k))
        else:
            raise KeyError(f"synthetic.yml details: no values for placeholder {{{f}}}")
    return columns


def _rare_terms(rng: np.random.Generator, voc: dict[str, Any], k: int) -> list[str]:
    """60% from the recurring terms (Zipf-weighted), the rest new words of 2-4 syllables."""
    syllables = voc["syllables"].split()
    common, weights = _common_terms(tuple(syllables))
    fresh = _syllable_words(rng, syllables, k)
    picked = rng.choice(len(common), size=k, p=weights).tolist()
    use_common = (rng.random(k) < 0.6).tolist()
    return [common[j] if c else w for j, c, w in zip(picked, use_common, fresh, strict=True)]


@cache
def _common_terms(syllables: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
    """5,000 recurring technical terms and their Zipf weights (the same for every seed, as
    a field's jargon is the same in every search)."""
    terms = list(dict.fromkeys(_syllable_words(np.random.default_rng(0), list(syllables), 6000)))
    terms = terms[:5000]
    weights = 1.0 / np.arange(1, len(terms) + 1)
    return terms, weights / weights.sum()


def _syllable_words(rng: np.random.Generator, syllables: list[str], k: int) -> list[str]:
    return _pieced(rng, syllables, k, 2, 4)


def _acronyms(rng: np.random.Generator, k: int) -> list[str]:
    """Instrument and programme acronyms: 2-5 capitals, a fifth with a number (PHQ-9)."""
    words = _pieced(rng, list(string.ascii_uppercase), k, 2, 5)
    numbered = rng.random(k) < 0.2
    suffix = rng.integers(2, 40, k)
    return [
        f"{w}-{s}" if nb else w
        for w, nb, s in zip(words, numbered.tolist(), suffix.tolist(), strict=True)
    ]


def _pieced(
    rng: np.random.Generator, pieces: list[str], k: int, shortest: int, longest: int
) -> list[str]:
    """``k`` words of ``shortest`` to ``longest`` pieces each."""
    pool = np.asarray([*pieces, ""], dtype=object)
    idx = rng.integers(0, len(pieces), (k, longest))
    length = rng.integers(shortest, longest + 1, k)
    for j in range(shortest, longest):
        idx[:, j] = np.where(length > j, idx[:, j], len(pieces))
    return pool[idx].sum(axis=1).tolist()


def _keyword_lists(rng: np.random.Generator, voc: dict[str, Any], n: int) -> list[list[str]]:
    """3-6 keywords, drawn from 1,000 prepared lists (each record gets its own copy)."""
    kw = voc["keywords"]
    idx = rng.choice(len(kw), size=(1000, 6)).tolist()
    counts = rng.integers(3, 7, 1000).tolist()
    pool = [list(dict.fromkeys([kw[j] for j in idx[i][: counts[i]]])) for i in range(1000)]
    return [list(pool[j]) for j in rng.integers(0, 1000, n).tolist()]


def _set_source(paper: dict[str, Any], voc: dict[str, Any], db: int) -> None:
    database, file, fmt = voc["databases"][db]
    paper.update(database=database, source_file=file, source_format=fmt)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _new_identifiers(rng: np.random.Generator, voc: dict[str, Any], paper: dict[str, Any]) -> None:
    """A distinct paper needs its own DOI, PMID and pages (only if the original had them)."""
    token = int(rng.integers(0, 10**9))
    venue = next((v for v in voc["venues"] if v[0] == paper["venue"]), voc["venues"][0])
    if paper.get("doi"):
        paper["doi"] = f"{venue[1]}/{venue[2]}.{paper['year'] or 2024}.h{token:09d}"
    if paper.get("pmid"):
        paper["pmid"] = str(40_000_000 + token % 10_000_000)
    start = int(rng.integers(1, 2400))
    paper["pages"] = f"{start}-{start + int(rng.integers(3, 20))}"


# -- hard negatives: distinct papers whose titles look like duplicates -----------------------


@dataclass
class _Ctx:
    rng: np.random.Generator
    voc: dict[str, Any]
    pools: dict[str, list[str]]
    draws: _Draws

    def pick(self, options: list[Any]) -> Any:
        return options[int(self.rng.integers(0, len(options)))]


def _hard_negatives(ctx: _Ctx, cols: dict[str, list[Any]], n: int) -> list[dict[str, Any]]:
    """``n`` distinct papers, each made to look like one original (which may be retitled)."""
    n_orig = len(cols["title"])
    if n == 0 or n_orig == 0:
        return []
    rng = ctx.rng
    chosen = rng.choice(n_orig, size=min(n, n_orig), replace=False).tolist()
    kinds = rng.integers(0, len(_HARD_KINDS), len(chosen)).tolist()
    out = []
    for i, k in zip(chosen, kinds, strict=True):
        p = _row(cols, i)
        q = _row(cols, i)
        getattr(_Hard, _HARD_KINDS[k])(ctx, p, q)
        cols["title"][i] = p["title"]  # "Part 1" and report titles change the original
        _new_identifiers(rng, ctx.voc, q)
        _set_source(q, ctx.voc, int(rng.integers(0, len(ctx.voc["databases"]))))
        out.append(q)
    return out


class _Hard:
    """One way each of making a distinct paper ``q`` that looks like paper ``p``."""

    @staticmethod
    def part(ctx: _Ctx, p: dict[str, Any], q: dict[str, Any]) -> None:
        """Part 1 / Part 2 of a series: same authors, often the same year and journal."""
        first, second = ctx.pick(ctx.voc["parts"])
        main, sep, sub = p["title"].partition(": ")
        if sep:
            p["title"], q["title"] = f"{main}. {first}: {sub}", f"{main}. {second}: {sub}"
        else:
            p["title"], q["title"] = f"{main}: {first}", f"{main}: {second}"
        if ctx.rng.random() < 0.3 and q["year"]:
            q["year"] += 1

    @staticmethod
    def same_title(ctx: _Ctx, p: dict[str, Any], q: dict[str, Any]) -> None:
        """The same title used again years later by other authors."""
        q["authors"] = _author_lists(ctx.rng, ctx.voc, 1)[0]
        year = p["year"] or 2010
        shift = int(ctx.rng.integers(2, 11)) * (1 if ctx.rng.random() < 0.5 else -1)
        if not 1990 <= year + shift <= 2024:
            shift = -shift
        q["year"] = year + shift
        q["venue"] = ctx.pick(ctx.voc["venues"])[0]
        q["abstract"] = _abstracts(ctx.rng, ctx.voc, ctx.pools, 1)[0]

    @staticmethod
    def protocol(ctx: _Ctx, p: dict[str, Any], q: dict[str, Any]) -> None:
        """A trial protocol and, one to three years later, the trial report."""
        main = p["title"].partition(": ")[0].rstrip("?")
        main_lc = main[:1].lower() + main[1:]
        p["title"] = ctx.pick(ctx.voc["reports"]).format(main=main, main_lc=main_lc)
        q["title"] = ctx.pick(ctx.voc["protocols"]).format(main=main, main_lc=main_lc)
        if p["year"]:
            q["year"] = max(1990, p["year"] - int(ctx.rng.integers(1, 4)))
        q["venue"] = ctx.pick(["JMIR Research Protocols", "Trials", "BMJ Open"])
        q["abstract"] = _abstracts(ctx.rng, ctx.voc, ctx.pools, 1)[0]

    @staticmethod
    def notice(ctx: _Ctx, p: dict[str, Any], q: dict[str, Any]) -> None:
        """An erratum, correction or reply that repeats the paper's title."""
        q["title"] = ctx.pick(ctx.voc["notices"]).format(title=p["title"])
        if q["year"] and ctx.rng.random() < 0.4:
            q["year"] += 1
        q["abstract"] = None
        q["keywords"] = []

    @staticmethod
    def swap(ctx: _Ctx, p: dict[str, Any], q: dict[str, Any]) -> None:
        """The same kind of study elsewhere: one phrase of the title is different."""
        slots = ctx.draws.slots(p["_i"])
        used = [s for s in _SLOTS if s not in ("design", "design_adj") and slots[s] in p["title"]]
        if not used:
            _Hard.same_title(ctx, p, q)
            return
        slot = ctx.pick(used)
        options = [v for v in ctx.voc[slot] if v != slots[slot] and v not in p["title"]]
        q["title"] = p["title"].replace(slots[slot], ctx.pick(options), 1)
        if ctx.rng.random() < 0.7:
            q["authors"] = _author_lists(ctx.rng, ctx.voc, 1)[0]
        if ctx.rng.random() < 0.5:
            q["year"] = int(_years(ctx.rng, 1)[0])
        q["abstract"] = _abstracts(ctx.rng, ctx.voc, ctx.pools, 1)[0]


# -- duplicates: the same paper as another database exports it ----------------------------


def _duplicate(rng: np.random.Generator, voc: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    d = {key: (list(v) if isinstance(v, list) else v) for key, v in p.items()}
    d["extra"] = {}
    r = rng.random(16)
    title = p["title"]
    if r[0] < 0.15:
        title = _subtitle(rng, voc, title)
    if r[1] < 0.2:
        title = _punctuation(rng, title)
    if r[2] < 0.08:
        title = _markup(rng, title)
    if r[3] < 0.35:
        title = _typos(rng, title, 1 if rng.random() < 0.6 else 2)
    if r[4] < 0.2:
        title = (str.upper, str.lower, str.title)[int(rng.integers(0, 3))](title)
    d["title"] = title
    if p["doi"]:
        if r[5] < 0.3:
            d["doi"] = None
        elif r[5] < 0.4:
            d["doi"] = p["doi"].upper()
        elif r[5] < 0.55:
            d["doi"] = "https://doi.org/" + p["doi"]
        elif r[5] < 0.6:
            d["doi"] = "doi:" + p["doi"]
    if p["pmid"] and r[6] < 0.5:
        d["pmid"] = None
    if r[7] < 0.4:
        d["authors"] = _initials(rng, p["authors"])
    if r[8] < 0.1:
        d["authors"] = [_strip_accents(a) for a in d["authors"]]
    if p["year"] and r[9] < 0.03:  # online-first record vs the print issue
        d["year"] = p["year"] + (1 if rng.random() < 0.5 else -1)
        d["volume"] = d["issue"] = d["pages"] = None
    elif p["year"] and r[9] < 0.04:  # "in press": no year or pages yet
        d["year"] = d["volume"] = d["issue"] = d["pages"] = None
    if p["abstract"] and r[10] < 0.2:
        d["abstract"] = None
    elif p["abstract"] and r[10] < 0.3:
        d["abstract"] = p["abstract"][: len(p["abstract"]) * 3 // 5]
    if r[11] < 0.3:
        d["venue"] = (p["venue"] or "").upper().replace("&", "AND") or None
    if d["pages"] and r[12] < 0.2 and "-" in d["pages"]:
        start, _, end = d["pages"].partition("-")
        d["pages"] = f"{start}-{end[-2:]}" if len(end) > 2 else d["pages"]
    if r[13] < 0.3:
        d["keywords"] = list(d["keywords"][: max(1, len(d["keywords"]) // 2)])
    _set_source(d, voc, int(rng.integers(0, len(voc["databases"]))))
    d["url"] = f"https://doi.org/{p['doi']}" if p["doi"] and r[14] < 0.3 else None
    return d


def _typos(rng: np.random.Generator, text: str, k: int) -> str:
    """``k`` keyboard slips on letters: substitution, deletion, doubling or transposition."""
    chars = list(text)
    for _ in range(k):
        letters = [i for i, c in enumerate(chars) if c.isalpha()]
        if len(letters) < 2:
            break
        i = letters[int(rng.integers(0, len(letters)))]
        kind = int(rng.integers(0, 4))
        if kind == 0:
            chars[i] = _KEYBOARD[int(rng.integers(0, 26))]
        elif kind == 1:
            del chars[i]
        elif kind == 2:
            chars.insert(i, chars[i])
        elif i + 1 < len(chars):
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def _subtitle(rng: np.random.Generator, voc: dict[str, Any], title: str) -> str:
    """Databases drop subtitles, or one record carries a subtitle the other lacks."""
    for sep in (": ", "? "):
        main, found, _ = title.partition(sep)
        if found:
            return main + ("?" if sep == "? " else "")
    extra = voc["added_subtitles"][int(rng.integers(0, len(voc["added_subtitles"])))]
    return f"{title}: {extra}"


def _punctuation(rng: np.random.Generator, title: str) -> str:
    kind = int(rng.integers(0, 5))
    if kind == 0:
        return title.replace(": ", " - ", 1) if ": " in title else title + "."
    if kind == 1:
        return title.replace("-", " " if rng.random() < 0.5 else "")
    if kind == 2:
        return title + "."
    if kind == 3:
        return title.replace("'", "’").replace(" and ", " & ")
    return title.replace(",", "").replace(": ", ". ", 1)


def _markup(rng: np.random.Generator, title: str) -> str:
    """HTML entities and tags, or LaTeX braces, as BibTeX and some RIS exports carry them."""
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return title.replace("&", "&amp;").replace("'", "&#39;").replace(" and ", " &amp; ", 1)
    if kind == 1:
        words = title.split(" ")
        i = int(rng.integers(0, len(words)))
        words[i] = f"<i>{words[i]}</i>"
        return " ".join(words)
    if kind == 2:
        words = title.split(" ")
        return " ".join("{" + w + "}" if w[:1].isupper() else w for w in words)
    accents = {"é": "{\\'e}", "ā": "{\\=a}", "ã": "{\\~a}", "ö": '{\\"o}', "-": "--"}
    return "".join(accents.get(c, c) for c in title)


def _initials(rng: np.random.Generator, authors: list[str]) -> list[str]:
    """``García, José A.`` as ``García, J.A.`` or MEDLINE's ``García JA``."""
    medline = rng.random() < 0.4
    out = []
    for name in authors:
        family, _, given = name.partition(", ")
        initials = "".join(part[0] for part in given.replace(".", " ").split() if part)
        out.append(f"{family} {initials}" if medline else f"{family}, {'.'.join(initials)}.")
    return out


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
