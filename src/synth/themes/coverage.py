"""What the thematic synthesis covers, derived from the assignments (never typed in).

- :func:`coverage_table`: every included paper, the themes it is in, and the papers in no
  theme listed as such with the reason (only a title, or text that matched no theme).
- :func:`codebook_fit`: whether the theme codebook fits the corpus at all; below
  ``fit_share`` of the papers with text matching a theme, the page says so and leads with
  the emergent topics.
- :func:`findings_by_question`: for each review question, the themes and papers that speak
  to it, by TF-IDF similarity between the question and each theme's profile and passages,
  with the passage closest to the question as the evidence.
- :func:`evidence_gaps`: themes with few papers, the mix of study designs (the page's
  design counts), how many papers report outcomes (the codebook's outcome cues).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth.corpus.citation import citations
from synth.tagging.describe import unique_record_ids
from synth.themes.assign import cue_regex
from synth.themes.codebook import ThemeCodebook, load_theme_codebook
from synth.themes.text import kept_ids, tfidf

COVERAGE_COLUMNS = ["record_id", "citation", "themes", "n_passages", "status"]
QUESTION_COLUMNS = [
    "question", "theme_id", "heading", "link", "similarity", "papers", "record_ids", "evidence",
    "evidence_citation", "evidence_similarity",
]  # fmt: skip
#: coverage statuses of a paper in no theme
NO_TEXT = "no theme: only a title (no abstract, extract or full text to read)"
NO_MATCH = "no theme: its text matched no theme"
NO_SUBJECT = "no theme: its text is not about the codebook's subject"


def _text_owners(
    records: pd.DataFrame, extracts: pd.DataFrame | None, fulltexts: pd.DataFrame | None
) -> set[str]:
    """Kept record ids that have text beyond a title (abstract, extract or full text)."""
    keep = set(kept_ids(records))
    to_kept = unique_record_ids(records).to_dict()
    owners: set[str] = set()
    if "abstract" in records.columns:
        has = records["abstract"].map(lambda a: isinstance(a, str) and bool(a.strip()))
        owners |= {to_kept.get(str(r), str(r)) for r in records.loc[has, "record_id"]}
    for extra in (extracts, fulltexts):
        if extra is not None and len(extra):
            for rid, text in zip(extra["record_id"], extra["text"], strict=True):
                if isinstance(text, str) and text.strip():
                    owners.add(to_kept.get(str(rid), str(rid)))
    return owners & keep


def coverage_table(
    assignments: pd.DataFrame,
    records: pd.DataFrame,
    extracts: pd.DataFrame | None = None,
    fulltexts: pd.DataFrame | None = None,
    *,
    codebook: ThemeCodebook | None = None,
) -> pd.DataFrame:
    """One row per included (kept) paper, in record order: its citation, the headings of
    the themes it is in, how many of its passages were assigned, and a status ("in N
    themes", or why it is in none). Columns :data:`COVERAGE_COLUMNS`."""
    cb = codebook or load_theme_codebook()
    keep = kept_ids(records)
    kept = records.set_index(records["record_id"].astype(str)).loc[keep].reset_index(drop=True)
    cite = citations(kept).to_dict()
    with_text = _text_owners(records, extracts, fulltexts)
    order = {t.id: k for k, t in enumerate(cb.themes)}
    themes: dict[str, list[str]] = {}
    passages: dict[str, int] = {}
    if len(assignments):
        for rid, part in assignments.groupby(assignments["record_id"].astype(str)):
            ids = sorted(set(part["theme_id"]), key=lambda t: order.get(t, len(order)))
            themes[rid] = [cb.theme(t).heading if t in order else t for t in ids]
            passages[rid] = int(part["text"].nunique())
    off_subject = set(assignments.attrs.get("off_subject", ()))
    rows = []
    for rid in keep:
        got = themes.get(rid, [])
        if got:
            status = f"in {len(got)} theme{'' if len(got) == 1 else 's'}"
        elif rid not in with_text:
            status = NO_TEXT
        else:
            status = NO_SUBJECT if rid in off_subject else NO_MATCH
        rows.append((rid, cite.get(rid, rid), got, passages.get(rid, 0), status))
    return pd.DataFrame(rows, columns=COVERAGE_COLUMNS)


@dataclass(frozen=True)
class Fit:
    """How well the theme codebook fits the corpus."""

    papers: int  # included papers
    with_text: int  # of them, papers with text beyond a title
    matched: int  # papers in at least one theme
    share: float  # matched / with_text (0 when no paper has text)
    threshold: float

    @property
    def fits(self) -> bool:
        return self.with_text > 0 and self.share >= self.threshold

    def describe(self) -> str:
        """One plain sentence for the page."""
        base = (
            f"{self.matched} of the {self.with_text} papers with text beyond a title "
            f"({self.share:.0%}) match a theme of the codebook"
        )
        if not self.papers:
            return "No papers are selected, so there is nothing to synthesise."
        if not self.with_text:
            return (
                "No paper has text beyond a title, so the theme codebook cannot be applied; "
                "the emergent topics below are built from the titles."
            )
        if self.fits:
            return base + "."
        return (
            base + f", under the {self.threshold:.0%} at which the codebook fits: the codebook "
            "does not fit this corpus, so the themes below say little about it. "
            "The emergent topics, named by their distinctive terms, come first."
        )


def codebook_fit(coverage: pd.DataFrame, *, codebook: ThemeCodebook | None = None) -> Fit:
    """The share of papers with text that match any theme, against ``fit_share``."""
    cb = codebook or load_theme_codebook()
    matched = int((coverage["themes"].map(len) > 0).sum())
    with_text = int((coverage["status"] != NO_TEXT).sum())
    share = matched / with_text if with_text else 0.0
    return Fit(len(coverage), with_text, matched, share, cb.scoring.fit_share)


def findings_by_question(
    questions: Sequence[str],
    assignments: pd.DataFrame,
    records: pd.DataFrame,
    *,
    codebook: ThemeCodebook | None = None,
) -> pd.DataFrame:
    """For each question, each theme that speaks to it, its papers, and the theme's passage
    closest to the question as evidence. A theme speaks to a question when the question
    holds one of the theme's ``question_cues`` (``link`` names them) or when the TF-IDF
    cosine between the question and the theme's profile plus its assigned passages reaches
    ``question_threshold`` (``link`` is "similarity"). A question no theme reaches gets one
    row with an empty ``theme_id``. Columns :data:`QUESTION_COLUMNS`."""
    cb = codebook or load_theme_codebook()
    keep = kept_ids(records)
    kept = records.set_index(records["record_id"].astype(str)).loc[keep].reset_index(drop=True)
    cite = citations(kept).to_dict()
    threshold = cb.scoring.question_threshold
    a = (
        assignments.drop_duplicates(["theme_id", "record_id", "text"])
        if len(assignments)
        else assignments
    )
    theme_docs = []
    for t in cb.themes:
        texts = a.loc[a["theme_id"] == t.id, "text"].tolist() if len(a) else []
        theme_docs.append(" ".join([*t.profile_texts(), *texts]))
    passages = a["text"].tolist() if len(a) else []
    questions = [q for q in questions if isinstance(q, str) and q.strip()]
    if not questions:
        return pd.DataFrame(columns=QUESTION_COLUMNS)
    vec = tfidf().fit([*questions, *theme_docs, *passages])
    Q = vec.transform(questions)
    T = vec.transform(theme_docs)
    P = vec.transform(passages) if passages else None
    q_theme = (Q @ T.T).toarray()
    q_pass = (Q @ P.T).toarray() if P is not None else np.zeros((len(questions), 0))
    rows = []
    for i, question in enumerate(questions):
        cued = {j: _question_cues(question, t.question_cues) for j, t in enumerate(cb.themes)}
        linked = [
            j
            for j in np.argsort(-q_theme[i], kind="stable")
            if cued[j] or q_theme[i, j] >= threshold
        ]
        if not linked:
            rows.append((question, "", "", "", 0.0, [], [], "", "", 0.0))
            continue
        for j in linked:
            theme = cb.themes[j]
            link = "cue: " + ", ".join(cued[j]) if cued[j] else "similarity"
            mask = (a["theme_id"] == theme.id).to_numpy() if len(a) else np.zeros(0, bool)
            ids = list(dict.fromkeys(a.loc[mask, "record_id"].astype(str))) if mask.any() else []
            evidence, ev_cite, ev_sim = "", "", 0.0
            if mask.any():
                k = int(np.flatnonzero(mask)[np.argmax(q_pass[i, mask])])
                evidence = passages[k]
                rid = str(a["record_id"].iloc[k])
                ev_cite, ev_sim = cite.get(rid, rid), float(q_pass[i, k])
            rows.append(
                (
                    question, theme.id, theme.heading, link, float(q_theme[i, j]),
                    [cite.get(r, r) for r in ids], ids, evidence, ev_cite, ev_sim,
                )
            )  # fmt: skip
    return pd.DataFrame(rows, columns=QUESTION_COLUMNS)


def _question_cues(question: str, cues: Sequence[str]) -> list[str]:
    """The cues of ``cues`` that ``question`` holds (whole words, ``*`` any ending)."""
    return [c for c in cues if re.search(cue_regex(c), question, re.IGNORECASE)]


def evidence_gaps(
    summary: pd.DataFrame,
    coverage: pd.DataFrame,
    records: pd.DataFrame,
    extracts: pd.DataFrame | None = None,
    fulltexts: pd.DataFrame | None = None,
    *,
    designs: Mapping[str, int] | None = None,
    codebook: ThemeCodebook | None = None,
) -> dict[str, object]:
    """What the evidence does not cover, computed from the data:

    ``thin_themes``: (heading, papers) of themes with fewer than ``few_papers`` papers;
    ``designs``: design label -> papers, as given (the page passes the counts its design
    chart draws, :func:`synth.report.maps_data.counts_by_label`, so the two agree);
    ``outcomes``: papers with a sentence holding one of the codebook's outcome cues, of
    ``with_text`` papers that have text to read, and ``title_only`` papers that have none.
    """
    cb = codebook or load_theme_codebook()
    few = cb.scoring.few_papers
    thin = [
        (str(r.heading), int(r.n_papers)) for r in summary.itertuples() if int(r.n_papers) < few
    ]
    papers = coverage["record_id"].astype(str).tolist()
    reporting = _outcome_papers(records, extracts, fulltexts, set(papers), cb)
    with_text = int((coverage["status"] != NO_TEXT).sum())
    return {
        "few_papers": few,
        "thin_themes": thin,
        "designs": dict(designs or {}),
        "outcomes": len(reporting),
        "with_text": with_text,
        "title_only": len(papers) - with_text,
        "papers": len(papers),
    }


def _outcome_papers(
    records: pd.DataFrame,
    extracts: pd.DataFrame | None,
    fulltexts: pd.DataFrame | None,
    papers: set[str],
    cb: ThemeCodebook,
) -> set[str]:
    """Papers whose abstract, extracts or full text hold an outcome cue."""
    if not cb.outcome_cues:
        return set()
    regex = re.compile(
        "|".join(cue_regex(c) for c in sorted(cb.outcome_cues, key=len, reverse=True)),
        re.IGNORECASE,
    )
    to_kept = unique_record_ids(records).to_dict()
    found: set[str] = set()
    texts: list[tuple[object, object]] = []
    if "abstract" in records.columns:
        texts += list(zip(records["record_id"], records["abstract"], strict=True))
    for extra in (extracts, fulltexts):
        if extra is not None and len(extra):
            texts += list(zip(extra["record_id"], extra["text"], strict=True))
    for rid, text in texts:
        kept = to_kept.get(str(rid), str(rid))
        if kept in papers and kept not in found and isinstance(text, str) and regex.search(text):
            found.add(kept)
    return found
