"""Assign passages (extracts, title, abstract and full-text sentences) to themes.

Two routes, each recorded in ``method``:

- ``cue``: the sentence holds one of the theme's cue phrases (whole words, case-insensitive,
  ``*`` for any ending). All cues of all themes are one regular expression, longest phrase
  first, so a sentence is scanned once, and a negative phrase ("patient leadership") hides
  the shorter cue inside it.
- ``similarity``: the TF-IDF cosine between the passage and the theme's centroid (its
  heading, definition, recommendations and cue words) reaches the codebook's threshold, for
  passages that discuss a theme in words no cue lists.

Every row also carries ``similarity``, which the summaries use to choose representative
quotes.

A passage goes to the one theme it fits best (cue score, then similarity); it goes to a
second theme too only when that one scores nearly as well (``second_theme_ratio``), and both
rows then name the other theme in ``also``. Without this, a sentence holding one common cue
word lands in several themes and each theme's papers are mostly noise.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth.fulltext.passages import PagedText, has_pages
from synth.tagging.describe import unique_record_ids
from synth.themes.codebook import ThemeCodebook, load_theme_codebook
from synth.themes.text import kept_ids, looks_like_reference, sentences, tfidf, unit_rows

log = logging.getLogger(__name__)

ASSIGN_COLUMNS = [
    "record_id", "theme_id", "text", "field", "score", "method", "cue", "similarity", "also",
    "page",
]  # fmt: skip
#: ``page``: the page of a PDF full text's sentence (None elsewhere)
PASSAGE_COLUMNS = ["record_id", "field", "text", "page"]
#: order of fields in the output (and when choosing quotes: the review's own passages first)
FIELD_ORDER = ("extract", "title", "abstract", "fulltext")
#: list markers and stray punctuation that PDF text leaves at a sentence's ends
_BULLETS = " \t•◦▪‣●○■□–—-*·"


@dataclass(frozen=True)
class _Matcher:
    regex: re.Pattern[str]
    #: group name -> (phrase, [(theme id, weight)]); negative phrases have no themes
    groups: dict[str, tuple[str, list[tuple[str, float]]]]


def assign_themes(
    records: pd.DataFrame,
    extracts: pd.DataFrame,
    fulltexts: pd.DataFrame | None = None,
    *,
    codebook: ThemeCodebook | None = None,
) -> pd.DataFrame:
    """One row per (record, theme, passage) that the codebook's cues or text similarity
    assign to the theme.

    Parameters
    ----------
    records
        Records (``record_id``, ``title``, optionally ``abstract``); only kept records
        count when ``is_kept`` is present, and extracts or full texts of a duplicate count
        for its group's kept record.
    extracts
        ``record_id`` and ``text`` (the store's extracts); may be empty.
    fulltexts
        ``record_id`` and ``text``, or None.
    codebook
        A :class:`~synth.themes.codebook.ThemeCodebook`; default the package's.

    Returns
    -------
    pandas.DataFrame
        ``attrs["off_subject"]`` lists the records left out because their text holds none
        of the codebook's subject cues. Columns :data:`ASSIGN_COLUMNS`: ``field`` is
        extract, title, abstract or fulltext;
        ``method`` is cue or similarity; ``cue`` the cue phrases found ("; "-joined, empty for
        similarity); ``score`` the cue score or the similarity; ``page`` the page of a
        sentence of a PDF full text (None for other passages).
    """
    cb = codebook or load_theme_codebook()
    passages = build_passages(records, extracts, fulltexts, codebook=cb)
    subject = on_subject(passages, cb)
    off_subject = sorted(set(passages["record_id"]) - subject)
    passages = passages[passages["record_id"].isin(subject)]
    if not cb.scoring.title_evidence:
        passages = passages[passages["field"] != "title"].reset_index(drop=True)
    if passages.empty:
        empty = pd.DataFrame(columns=ASSIGN_COLUMNS)
        empty.attrs["off_subject"] = off_subject
        return empty
    sims = passage_similarity(passages["text"].tolist(), cb)
    cue_hits = match_cues(passages["text"].tolist(), cb)
    rows: list[tuple] = []
    ids = cb.ids
    for i, p in enumerate(passages.itertuples(index=False)):
        candidates = _candidates(p, cue_hits[i], sims[i], ids, cb)
        for tid, score, method, cues, sim, also in _best(candidates, cb.scoring.second_theme_ratio):
            rows.append((p.record_id, tid, p.text, p.field, score, method, cues, sim, also, p.page))
    out = _main_themes(pd.DataFrame(rows, columns=ASSIGN_COLUMNS), cb.scoring.paper_theme_share)
    log.debug("%d passages, %d theme assignments", len(passages), len(out))
    out = out.reset_index(drop=True)
    #: papers not about the codebook's subject (no subject cue), for the coverage table
    out.attrs["off_subject"] = off_subject
    return out


def on_subject(passages: pd.DataFrame, cb: ThemeCodebook) -> set[str]:
    """Record ids whose passages (title included) hold one of the codebook's subject cues;
    every record when the codebook lists none."""
    ids = set(passages["record_id"])
    if not cb.subject_cues or passages.empty:
        return ids
    phrases = sorted(cb.subject_cues, key=len, reverse=True)
    regex = re.compile("|".join(cue_regex(c) for c in phrases), re.IGNORECASE)
    hit = passages["text"].map(lambda t: regex.search(t) is not None)
    return set(passages.loc[hit, "record_id"])


def _main_themes(rows: pd.DataFrame, share: float) -> pd.DataFrame:
    """Only the themes a paper mainly speaks to: a theme holding fewer than ``share`` of
    the passages of the paper's largest theme is dropped for that paper, so a long guide
    that touches every theme in passing is counted under its own main themes, not all."""
    if rows.empty or share <= 0:
        return rows
    n = rows.groupby(["record_id", "theme_id"])["text"].transform("size")
    top = n.groupby(rows["record_id"]).transform("max")
    kept = rows[n >= share * top].copy()
    # a passage whose other theme was dropped for this paper serves one theme only
    present = set(zip(kept["record_id"], kept["theme_id"], kept["text"], strict=True))
    partner = zip(kept["record_id"], kept["also"], kept["text"], strict=True)
    kept["also"] = [a if (r, a, t) in present else "" for r, a, t in partner]
    return kept


def _candidates(
    p, hits: dict[str, dict[str, float]], sims: np.ndarray, ids: list[str], cb: ThemeCodebook
) -> list[tuple[str, float, str, str, float]]:
    """(theme, score, method, cues, similarity) of every theme the passage reaches."""
    threshold = cb.scoring.similarity_threshold
    base, min_cue = cb.scoring.cue_base, cb.scoring.min_cue_score
    out = []
    for j, tid in enumerate(ids):
        sim = float(sims[j])
        found = hits.get(tid)
        if found:
            score = 1.0 - (1.0 - base) ** sum(found.values())
            if score >= min_cue:
                out.append((tid, score, "cue", "; ".join(sorted(found)), sim))
                continue
        if sim >= threshold and not _too_short(p, cb):
            out.append((tid, sim, "similarity", "", sim))
    return out


def _best(
    candidates: list[tuple[str, float, str, str, float]], ratio: float
) -> list[tuple[str, float, str, str, float, str]]:
    """The best theme, and the second when it is as well supported: the same route (cue or
    similarity) and a score at least ``ratio`` of the best's. Each row names the other
    theme in ``also``. Cue matches rank above similarity alone; then score, similarity."""
    if not candidates:
        return []
    ranked = sorted(candidates, key=lambda c: (c[2] == "cue", c[1], c[4]), reverse=True)
    best = ranked[0]
    if len(ranked) > 1:
        second = ranked[1]
        if second[2] == best[2] and second[1] >= ratio * best[1]:
            return [(*best, second[0]), (*second, best[0])]
    return [(*best, "")]


def _too_short(p, cb: ThemeCodebook) -> bool:
    return p.field != "title" and len(p.text.split()) < cb.scoring.min_passage_words


def build_passages(
    records: pd.DataFrame,
    extracts: pd.DataFrame | None,
    fulltexts: pd.DataFrame | None,
    *,
    codebook: ThemeCodebook | None = None,
) -> pd.DataFrame:
    """The passages themes are assigned to: each extract whole, each title, and each
    sentence of abstracts and full texts (reference-list entries and over-long or very short
    fragments left out). Columns :data:`PASSAGE_COLUMNS`, in record order then
    :data:`FIELD_ORDER`; a sentence of a PDF full text has its page."""
    cb = codebook or load_theme_codebook()
    keep = kept_ids(records)
    order = {rid: k for k, rid in enumerate(keep)}
    to_kept = unique_record_ids(records)
    kept_rows = records.set_index(records["record_id"].astype(str)).loc[keep]
    rows: list[tuple[str, str, str, int | None, int]] = []

    def add(rid: str, field: str, text: str, pos: int, page: int | None = None) -> None:
        text = " ".join(str(text).split())
        if text:
            rows.append((rid, field, text, page, pos))

    def owner(rid: object) -> str | None:
        rid = str(rid)
        kept = to_kept.get(rid, rid if rid in order else None)
        return kept if kept in order else None

    if extracts is not None and len(extracts):
        for k, (rid, text) in enumerate(zip(extracts["record_id"], extracts["text"], strict=True)):
            kept = owner(rid) if pd.notna(rid) else None
            if kept is not None and isinstance(text, str):
                add(kept, "extract", text, k)
    for rid, title in kept_rows["title"].items():
        if isinstance(title, str):
            add(rid, "title", title, 0)
    long_texts: list[tuple[str, str, str, PagedText | None]] = []
    if "abstract" in kept_rows.columns:
        long_texts += [
            (rid, "abstract", a, None)
            for rid, a in kept_rows["abstract"].items()
            if isinstance(a, str)
        ]
    if fulltexts is not None and len(fulltexts):
        starts = fulltexts["page_starts"] if "page_starts" in fulltexts.columns else None
        for k, (rid, text) in enumerate(
            zip(fulltexts["record_id"], fulltexts["text"], strict=True)
        ):
            kept = owner(rid)
            if kept is not None and isinstance(text, str):
                pages = starts.iloc[k] if starts is not None else None
                paged = PagedText(text, tuple(pages)) if has_pages(pages) else None
                long_texts.append((kept, "fulltext", text, paged))
    max_chars = cb.scoring.max_passage_chars
    split = sentences([t for _, _, t, _ in long_texts])
    for (rid, field, _, paged), sents in zip(long_texts, split, strict=True):
        cursor = 0
        for k, s in enumerate(sents):
            page = None
            if paged is not None:  # sentences come in text order: look on from the last
                at = paged.find(s, cursor)
                at = paged.find(s) if at < 0 else at
                if at >= 0:
                    cursor, page = at, paged.page_of_normal(at)
            s = s.strip(_BULLETS)
            if len(s) > max_chars or looks_like_reference(s) or cb.quality.problem(s):
                continue
            add(rid, field, s, k, page)
    df = pd.DataFrame(rows, columns=[*PASSAGE_COLUMNS, "position"])
    df["page"] = pd.Series([None if pd.isna(v) else int(v) for v in df["page"]], dtype=object)
    df["_r"] = df["record_id"].map(order)
    df["_f"] = df["field"].map({f: i for i, f in enumerate(FIELD_ORDER)})
    df = df.sort_values(["_r", "_f", "position"], kind="stable")
    df = df.drop_duplicates(["record_id", "field", "text"])
    return df[PASSAGE_COLUMNS].reset_index(drop=True)


def passage_similarity(texts: list[str], codebook: ThemeCodebook) -> np.ndarray:
    """Cosine of each text to each theme's centroid, shape (len(texts), n themes)."""
    profiles = [t.profile_texts() for t in codebook.themes]
    flat = [p for prof in profiles for p in prof]
    both = tfidf().fit_transform([*texts, *flat])
    X, P = both[: len(texts)], both[len(texts) :].toarray()
    centroids, start = [], 0
    for prof in profiles:
        centroids.append(P[start : start + len(prof)].mean(axis=0))
        start += len(prof)
    C = unit_rows(np.vstack(centroids))
    return np.asarray(X @ C.T)


def match_cues(texts: list[str], codebook: ThemeCodebook) -> list[dict[str, dict[str, float]]]:
    """For each text: theme id -> {cue phrase: weight} of the distinct cues it holds."""
    matcher = _matcher(codebook)
    out: list[dict[str, dict[str, float]]] = []
    for text in texts:
        found: dict[str, dict[str, float]] = {}
        for m in matcher.regex.finditer(text):
            phrase, themes = matcher.groups[m.lastgroup or ""]
            for tid, weight in themes:
                found.setdefault(tid, {})[phrase] = weight
        out.append(found)
    return out


def _matcher(cb: ThemeCodebook) -> _Matcher:
    cached = _MATCHERS.get(cb.sha256)
    if cached is not None:
        return cached
    phrases: dict[str, list[tuple[str, float]]] = {}
    for theme in cb.themes:
        for cue in theme.cues:
            phrases.setdefault(cue.phrase, []).append((theme.id, cue.weight))
        for neg in theme.negative:
            phrases.setdefault(neg, [])
    # longest phrase first, so a longer cue (or a negative phrase) wins over one inside it;
    # alternatives are grouped by first letter behind one word-start check, which makes
    # the scan about 60 times faster than a flat alternation of every cue
    ordered = sorted(phrases, key=lambda p: (-len(p.replace("*", "")), p))
    groups: dict[str, tuple[str, list[tuple[str, float]]]] = {}
    by_letter: dict[str, list[str]] = {}
    for k, phrase in enumerate(ordered):
        name = f"c{k}"
        groups[name] = (phrase, phrases[phrase])
        by_letter.setdefault(phrase[0], []).append(f"(?P<{name}>{cue_regex(phrase, bare=True)})")
    alternatives = "|".join(
        f"(?={re.escape(letter)})(?:{'|'.join(alts)})" for letter, alts in sorted(by_letter.items())
    )
    regex = re.compile(rf"(?<!\w)(?:{alternatives})", re.IGNORECASE)
    matcher = _Matcher(regex, groups)
    _MATCHERS[cb.sha256] = matcher
    return matcher


_MATCHERS: dict[str, _Matcher] = {}
_QUOTE_RE = re.compile("['’]")


def cue_regex(phrase: str, *, bare: bool = False) -> str:
    """The regular expression of one cue phrase: whole words, any spacing between words, a
    hyphen that may also be a space or nothing, ``'`` or ``’``, and ``*`` for any ending.
    ``bare`` leaves out the check that the phrase starts a word (the caller makes it)."""
    words = []
    for word in phrase.split(" "):
        star = word.endswith("*")
        word = word.rstrip("*")
        pieces = [_QUOTE_RE.sub("['’]", re.escape(p)) for p in word.split("-")]
        pat = r"[\s-]?".join(pieces)
        words.append(pat + (r"\w*" if star else ""))
    body = r"[\s-]+".join(words) + r"(?!\w)"
    return body if bare else r"(?<!\w)" + body
