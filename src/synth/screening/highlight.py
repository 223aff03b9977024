"""A record as safe HTML for the screening app: evidence and criteria cues highlighted.

Every string from the corpus (title, authors, abstract, venue, evidence sentences, notes)
is escaped: a title is data, never markup. Highlights are computed as character spans on
the *raw* text and the text between span boundaries is escaped piece by piece, so a cue
can never split an entity or open a tag.

Evidence comes from two places: the tagger's tags (``synth.store.tags.current_tags``:
each tag's evidence is a list of ``{field, sentence, match, cue, negated, weight}``) and
the criteria assessment (``load_assessment``: per record and criterion a status and the
same kind of evidence). Evidence in the title or abstract is marked in place; evidence
found elsewhere (full text, extracts, metadata) is listed under the abstract.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pandas as pd

CSS_PREFIX = "synth-scr"
IN_PLACE_FIELDS = ("title", "abstract")
FIELD_NAMES = {
    "fulltext": "full text",
    "extract": "extract",
    "metadata": "record",
    "venue": "venue",
    "keywords": "keywords",
    "title": "title",
    "abstract": "abstract",
}
STATUS_SIGNS = {"met": ("✓", "met"), "not_met": ("✗", "not met"), "unclear": ("?", "unclear")}

STYLE = """
<style>
.synth-scr { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 14px;
  line-height: 1.5; color: #1f2328; max-width: 60em; }
.synth-scr .synth-scr-meta { color: #57606a; font-size: 13px; }
.synth-scr .synth-scr-title { font-size: 19px; font-weight: 600; margin: 4px 0; }
.synth-scr .synth-scr-authors { color: #424a53; margin-bottom: 6px; }
.synth-scr .synth-scr-abstract { margin: 8px 0; text-align: justify; }
.synth-scr .synth-scr-missing { color: #8c959f; font-style: italic; }
.synth-scr mark { padding: 0 1px; border-radius: 2px; color: inherit; }
.synth-scr mark.synth-scr-ev { background: #fff3b0; }
.synth-scr mark.synth-scr-cue { background: #ffd33d; font-weight: 600; }
.synth-scr mark.synth-scr-neg { background: #ffd7d5; text-decoration: line-through; }
.synth-scr .synth-scr-chip { display: inline-block; border-radius: 10px; padding: 0 8px;
  margin: 2px 3px 2px 0; font-size: 12px; border: 1px solid rgba(0,0,0,.12); }
.synth-scr .synth-scr-chip b { font-weight: 600; }
.synth-scr .synth-scr-crit { margin: 2px 0; }
.synth-scr .synth-scr-badge { display: inline-block; min-width: 5.5em; font-size: 12px;
  border-radius: 3px; padding: 0 4px; margin-right: 6px; text-align: center; }
.synth-scr .synth-scr-met { background: #dafbe1; color: #1a7f37; }
.synth-scr .synth-scr-not_met { background: #ffebe9; color: #cf222e; }
.synth-scr .synth-scr-unclear { background: #eaeef2; color: #57606a; }
.synth-scr .synth-scr-field { color: #57606a; font-size: 12px; margin-right: 4px; }
.synth-scr .synth-scr-label { color: #57606a; font-size: 12px; }
.synth-scr details { margin: 6px 0; }
.synth-scr summary { cursor: pointer; font-weight: 600; }
.synth-scr ul { margin: 4px 0; padding-left: 1.3em; }
.synth-scr .synth-scr-suggest { color: #424a53; font-size: 13px; }
.synth-scr .synth-scr-fulltext-body { white-space: pre-wrap; max-height: 40em; overflow-y: auto;
  border: 1px solid #d0d7de; padding: 4px 8px; }
.synth-scr .synth-scr-page { color: #57606a; font-size: 12px; text-align: center;
  margin: 8px 0; white-space: normal; }
</style>
"""


@dataclass(frozen=True)
class Span:
    """A highlighted stretch of raw text: ``kind`` is ``ev`` (sentence), ``cue`` or ``neg``."""

    start: int
    end: int
    kind: str
    label: str


def esc(value: Any) -> str:
    """Escape any value for HTML text or attributes; missing values become ''."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    return html.escape(str(value), quote=True)


def _text(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    return str(value)


# ---------------------------------------------------------------- spans


def _find(text: str, needle: str, start: int = 0, end: int | None = None) -> int:
    """Index of ``needle`` in ``text[start:end]`` (exact, else case-insensitive); -1."""
    if not needle:
        return -1
    end = len(text) if end is None else end
    at = text.find(needle, start, end)
    if at < 0:
        at = text.casefold().find(needle.casefold(), start, end)
    return at


def evidence_spans(text: str, evidence: Iterable[Mapping[str, Any]], label: str) -> list[Span]:
    """Spans of ``text`` that ``evidence`` items point at: their sentence and cue match."""
    spans: list[Span] = []
    for item in evidence:
        sentence = _text(item.get("sentence")).strip().strip("…").strip()
        match = _text(item.get("match"))
        lo, hi = 0, len(text)
        at = _find(text, sentence) if sentence else -1
        if at >= 0:
            lo, hi = at, at + len(sentence)
            spans.append(Span(lo, hi, "ev", label))
        cue_at = _find(text, match, lo, hi)
        if cue_at < 0 and at >= 0:
            cue_at = _find(text, match)
        if cue_at >= 0:
            kind = "neg" if item.get("negated") else "cue"
            cue = _text(item.get("cue")) or match
            spans.append(Span(cue_at, cue_at + len(match), kind, f"{label} · cue “{cue}”"))
    return spans


def highlight(text: str, spans: Sequence[Span]) -> str:
    """``text`` escaped, with each span wrapped in ``<mark>`` (overlaps merged per piece)."""
    if not spans:
        return esc(text)
    cuts = sorted({0, len(text), *(s.start for s in spans), *(s.end for s in spans)})
    out: list[str] = []
    for lo, hi in itertools.pairwise(cuts):
        if lo >= hi:
            continue
        piece = esc(text[lo:hi])
        active = [s for s in spans if s.start <= lo and s.end >= hi]
        if not active:
            out.append(piece)
            continue
        kinds = {s.kind for s in active}
        kind = "neg" if "neg" in kinds else "cue" if "cue" in kinds else "ev"
        classes = f"{CSS_PREFIX}-{kind}" + ("" if kind == "ev" else f" {CSS_PREFIX}-ev")
        shown = [s for s in active if s.kind == kind] if kind != "ev" else active
        labels = "; ".join(dict.fromkeys(s.label for s in shown))
        out.append(f'<mark class="{classes}" title="{esc(labels)}">{piece}</mark>')
    return "".join(out)


# ---------------------------------------------------------------- evidence sources


def _tag_label(facet: Any, label: Any) -> str:
    return f"{_text(facet)}: {_text(label)}"


def _evidence_items(
    tags: pd.DataFrame | None, assessment: pd.DataFrame | None
) -> list[tuple[str, dict[str, Any]]]:
    """(label, evidence item) for every evidence item of one record, tags first."""
    items: list[tuple[str, dict[str, Any]]] = []
    if tags is not None:
        for t in tags.itertuples():
            for ev in t.evidence if isinstance(t.evidence, list) else []:
                if isinstance(ev, Mapping):
                    items.append((_tag_label(t.facet, t.label), dict(ev)))
    if assessment is not None:
        for a in assessment.itertuples():
            for ev in a.evidence if isinstance(a.evidence, list) else []:
                if isinstance(ev, Mapping):
                    status = STATUS_SIGNS.get(str(a.status), ("", str(a.status)))[1]
                    items.append((f"criterion {_text(a.criterion)} ({status})", dict(ev)))
    return items


def _field_spans(text: str, field: str, items: list[tuple[str, dict[str, Any]]]) -> list[Span]:
    spans: list[Span] = []
    for label, ev in items:
        if ev.get("field") == field:
            spans.extend(evidence_spans(text, [ev], label))
    return spans


# ---------------------------------------------------------------- pieces


def chips_html(tags: pd.DataFrame | None) -> str:
    """The record's tags as chips (facet: label), coloured by facet, score on hover."""
    if tags is None or tags.empty:
        return f'<span class="{CSS_PREFIX}-missing">no tags</span>'
    chips = []
    seen: set[tuple[str, str]] = set()
    for t in tags.sort_values(["facet", "label"], kind="stable").itertuples():
        key = (_text(t.facet), _text(t.label))
        if key in seen:
            continue
        seen.add(key)
        hue = int(hashlib.sha1(key[0].encode("utf-8")).hexdigest()[:4], 16) % 360
        source = _text(getattr(t, "source", ""))
        mark = " ✓" if source.startswith("reviewer") else ""
        score = getattr(t, "score", None)
        hover = f"{key[0]}: {key[1]} · {source}" + (
            f" · score {float(score):.2f}" if score is not None and score == score else ""
        )
        chips.append(
            f'<span class="{CSS_PREFIX}-chip" style="background:hsl({hue},70%,93%)" '
            f'title="{esc(hover)}"><b>{esc(key[0])}</b>: {esc(key[1])}{mark}</span>'
        )
    return "".join(chips)


def _criteria_html(assessment: pd.DataFrame | None, criteria: Mapping[str, str]) -> str:
    if assessment is None or assessment.empty:
        return ""
    rows = []
    for a in assessment.itertuples():
        sign, word = STATUS_SIGNS.get(str(a.status), ("", str(a.status)))
        status = re.sub(r"[^a-z_]", "", str(a.status))
        text = criteria.get(str(a.criterion), "")
        ev = a.evidence
        if isinstance(ev, Mapping) and "year" in ev:  # {field, year, year_min, year_max}
            span = f"{_text(ev.get('year_min')) or '…'}–{_text(ev.get('year_max')) or '…'}"
            detail = f"year {esc(ev.get('year')) or 'unknown'} in {esc(span)}"
        elif isinstance(ev, Mapping):
            detail = " · ".join(f"{esc(k)} {esc(v)}" for k, v in ev.items() if k != "field")
        elif isinstance(ev, list) and ev:
            first = ev[0] if isinstance(ev[0], Mapping) else {}
            cue = first.get("match") or first.get("cue")
            where = FIELD_NAMES.get(_text(first.get("field")), _text(first.get("field")))
            detail = f"cue “{esc(cue)}” in {esc(where)}" + (
                f" (+{len(ev) - 1} more)" if len(ev) > 1 else ""
            )
        else:
            detail = "no evidence"
        rows.append(
            f'<div class="{CSS_PREFIX}-crit"><span class="{CSS_PREFIX}-badge '
            f'{CSS_PREFIX}-{status}">{sign} {esc(word)}</span>{esc(a.kind)} '
            f"<b>{esc(a.criterion)}</b>"
            + (f' <span class="{CSS_PREFIX}-label">{esc(text)}</span>' if text else "")
            + f' <span class="{CSS_PREFIX}-field">— {detail}</span></div>'
        )
    return f"<details open><summary>Criteria ({len(rows)})</summary>{''.join(rows)}</details>"


def _where(field: str, ev: Mapping[str, Any]) -> str:
    """Where an evidence sentence stands: its field, or a PDF's section and page."""
    page = ev.get("page")
    if isinstance(page, int):
        return f"{_text(ev.get('section')) or FIELD_NAMES.get(field, field)} · p. {page}"
    return FIELD_NAMES.get(field, field)


def _elsewhere_html(
    items: list[tuple[str, dict[str, Any]]], limit: int, shown: Iterable[str] = IN_PLACE_FIELDS
) -> str:
    """Evidence sentences from outside the fields ``shown`` in place (title, abstract),
    cue highlighted, deduplicated; a PDF's with its section and page."""
    by_sentence: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {}
    in_place = set(shown)
    for label, ev in items:
        field = _text(ev.get("field"))
        if field in in_place or not _text(ev.get("sentence")):
            continue
        by_sentence.setdefault((field, _text(ev.get("sentence"))), []).append((label, ev))
    if not by_sentence:
        return ""
    lis = []
    for (field, sentence), group in list(by_sentence.items())[:limit]:
        spans = []
        for label, ev in group:
            at = _find(sentence, _text(ev.get("match")))
            if at >= 0:
                kind = "neg" if ev.get("negated") else "cue"
                spans.append(Span(at, at + len(_text(ev.get("match"))), kind, label))
        labels = ", ".join(dict.fromkeys(label for label, _ in group))
        lis.append(
            f'<li><span class="{CSS_PREFIX}-field">{esc(_where(field, group[0][1]))}</span>'
            f"{highlight(sentence, spans)} "
            f'<span class="{CSS_PREFIX}-label">— {esc(labels)}</span></li>'
        )
    more = len(by_sentence) - len(lis)
    tail = f'<li class="{CSS_PREFIX}-missing">… {more} more</li>' if more > 0 else ""
    return (
        f"<details><summary>Evidence beyond the abstract ({len(by_sentence)})</summary>"
        f"<ul>{''.join(lis)}{tail}</ul></details>"
    )


def _sentence_pattern(sentence: str) -> re.Pattern[str] | None:
    """A sentence as the tagger quotes it (whitespace collapsed, clipped with "…") as a
    pattern that finds it in a full text whatever its line breaks: its longest piece."""
    piece = max(sentence.split("…"), key=len, default="").split()
    if not piece:
        return None
    return re.compile(r"\s+".join(re.escape(w) for w in piece), re.IGNORECASE)


def fulltext_spans(
    text: str, items: list[tuple[str, dict[str, Any]]], starts: Sequence[int] | None = None
) -> list[Span]:
    """Spans of a full text that evidence items point at (their sentence and cue), found
    across line breaks; an item naming its page is looked for on that page first."""
    from synth.fulltext.passages import page_pieces

    pages = {p: (lo, lo + len(t)) for p, lo, t in page_pieces(text, starts) if p is not None}
    spans: list[Span] = []
    for label, ev in items:
        pattern = _sentence_pattern(_text(ev.get("sentence")))
        lo, hi = pages.get(ev.get("page"), (0, len(text)))  # type: ignore[arg-type]
        found = None if pattern is None else pattern.search(text, lo, hi) or pattern.search(text)
        if found is not None:
            spans.append(Span(found.start(), found.end(), "ev", label))
            lo, hi = found.start(), found.end()
        match = _text(ev.get("match"))
        cue_at = _find(text, match, lo, hi)  # the sentence not found: the cue on its own
        if cue_at >= 0:
            kind = "neg" if ev.get("negated") else "cue"
            cue = _text(ev.get("cue")) or match
            spans.append(Span(cue_at, cue_at + len(match), kind, f"{label} · cue “{cue}”"))
    return spans


def fulltext_html(
    fulltext: Mapping[str, Any] | str,
    *,
    tags: pd.DataFrame | None = None,
    assessment: pd.DataFrame | None = None,
    open_: bool = False,
) -> str:
    """A record's full text (a :func:`synth.store.views.load_fulltexts` row, or a text)
    as a collapsible block, page by page ("— p. 3 —" before each page of a PDF), every
    tagger's and criterion's evidence sentence marked where it stands in it."""
    row = {"text": fulltext} if isinstance(fulltext, str) else dict(fulltext)
    text = _text(row.get("text"))
    if not text:
        note = _text(row.get("note"))
        return f'<p class="{CSS_PREFIX}-missing">{esc(note)}</p>' if note else ""
    starts = row.get("page_starts")
    starts = tuple(starts) if isinstance(starts, tuple | list) and starts else None
    from synth.fulltext.passages import page_pieces

    spans = fulltext_spans(text, _evidence_items(tags, assessment), starts)
    body = []
    for page, lo, piece in page_pieces(text, starts):
        hi = lo + len(piece)
        shifted = [
            Span(max(s.start, lo) - lo, min(s.end, hi) - lo, s.kind, s.label)
            for s in spans
            if s.start < hi and s.end > lo
        ]
        if page is not None:
            body.append(f'<div class="{CSS_PREFIX}-page">— p. {page} —</div>')
        body.append(highlight(piece, shifted))
    source = _text(row.get("source"))
    what = f"PDF, {len(starts)} page{'s' if len(starts) != 1 else ''}" if starts else source
    member = _text(row.get("from_record"))
    if member:
        what += f"; the full text of duplicate {member}"
    marked = len({(s.start, s.end) for s in spans if s.kind == "ev"})
    return (
        f'<details class="{CSS_PREFIX}-fulltext"{" open" if open_ else ""}><summary><b>Full text'
        f"</b> ({esc(what + ', ' if what else '')}{len(text):,} characters; {marked} evidence"
        f" passage{'' if marked == 1 else 's'} marked)</summary>"
        f'<div class="{CSS_PREFIX}-fulltext-body">{"".join(body)}</div></details>'
    )


def _meta_html(record: Mapping[str, Any]) -> str:
    parts = []
    for name in ("year", "venue", "pub_type", "database"):
        value = _text(record.get(name))
        if value:
            parts.append(esc(value))
    doi = _text(record.get("doi"))
    if doi:
        href = "https://doi.org/" + quote(doi, safe="/:;()._-")
        parts.append(f'<a href="{esc(href)}" target="_blank" rel="noopener">doi:{esc(doi)}</a>')
    return " · ".join(parts)


# ---------------------------------------------------------------- the record


def record_html(
    record: Mapping[str, Any],
    *,
    tags: pd.DataFrame | None = None,
    assessment: pd.DataFrame | None = None,
    criteria: Mapping[str, str] | None = None,
    suggestion: Mapping[str, Any] | None = None,
    max_evidence: int = 12,
    style: bool = True,
    fulltext: Mapping[str, Any] | None = None,
) -> str:
    """One record for the screening panel, as an escaped HTML fragment.

    Parameters
    ----------
    record
        The record's fields (title, authors, year, venue, abstract, keywords, doi, ...).
    tags, assessment
        This record's rows of ``current_tags`` and ``load_assessment`` (or None).
    criteria
        Criterion id -> text, shown beside each criterion's status.
    suggestion
        The tagger's suggested decision for the record (``decision``, ``explanation``).
    fulltext
        The record's full text (a ``load_fulltexts`` row), shown open at the end, page by
        page, with the evidence marked (:func:`fulltext_html`); the full-text stage.
    """
    items = _evidence_items(tags, assessment)
    title = _text(record.get("title")) or "(untitled)"
    abstract = _text(record.get("abstract"))
    authors = record.get("authors")
    authors = [str(a) for a in authors] if isinstance(authors, list | tuple) else []
    if len(authors) > 12:
        authors = [*authors[:10], f"… ({len(authors) - 10} more)"]
    keywords = record.get("keywords")
    keywords = [str(k) for k in keywords] if isinstance(keywords, list | tuple) else []

    parts = [STYLE if style else "", f'<div class="{CSS_PREFIX}">']
    parts.append(f'<div class="{CSS_PREFIX}-meta">{_meta_html(record)}</div>')
    parts.append(
        f'<div class="{CSS_PREFIX}-title">{highlight(title, _field_spans(title, "title", items))}'
        "</div>"
    )
    parts.append(
        f'<div class="{CSS_PREFIX}-authors">'
        + (esc("; ".join(authors)) if authors else f'<span class="{CSS_PREFIX}-missing">'
           "no authors</span>")
        + "</div>"
    )  # fmt: skip
    parts.append(f"<div>{chips_html(tags)}</div>")
    if abstract:
        body = highlight(abstract, _field_spans(abstract, "abstract", items))
    else:
        body = f'<span class="{CSS_PREFIX}-missing">No abstract in the record.</span>'
    parts.append(f'<div class="{CSS_PREFIX}-abstract">{body}</div>')
    if keywords:
        parts.append(f'<div class="{CSS_PREFIX}-meta">Keywords: {esc("; ".join(keywords))}</div>')
    if suggestion:
        decision = _text(suggestion.get("decision"))
        explanation = _text(suggestion.get("explanation"))
        parts.append(
            f'<div class="{CSS_PREFIX}-suggest">Tagger suggests <b>{esc(decision)}</b>'
            + (f": {esc(explanation)}" if explanation else "")
            + "</div>"
        )
    parts.append(_criteria_html(assessment, criteria or {}))
    # the tagger read a PDF's abstract when the record has none: list its evidence
    shown = [f for f in IN_PLACE_FIELDS if f != "abstract" or abstract]
    parts.append(_elsewhere_html(items, max_evidence, shown))
    if fulltext is not None:
        parts.append(fulltext_html(fulltext, tags=tags, assessment=assessment, open_=True))
    parts.append("</div>")
    return "".join(parts)


def page_html(fragment: str, *, title: str = "synth screening") -> str:
    """A standalone page around a fragment (for a screenshot or a saved copy)."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title></head><body>{fragment}</body></html>"
    )
