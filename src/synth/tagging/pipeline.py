"""The tagger as a spaCy pipeline: a blank English tokenizer, the codebook's cues as a
span ruler, ``synth_sentence_roles_v1``, which marks each sentence study, background or
other, and ``synth_doc_labels_v1``, which turns cue spans into labelled hits.

Importing this module registers the three factories (``synth_cue_ruler_v1``,
``synth_sentence_roles_v1`` and ``synth_doc_labels_v1``; spaCy forbids '.' in factory
names, so the version is written ``_v1``); importing :mod:`synth` does not import spaCy at all.

Why the pipeline looks the way it does (measured on ~220-word abstracts, one core):

- Every cue is a phrase pattern matched on ``LOWER``. spaCy's token-pattern ``Matcher``
  cost more than the tokenizer itself even with two patterns, so the codebook's token
  patterns are expanded into phrases on load, and case-sensitive cues (``US``, ``NICE``) are
  checked in Python on the few spans that matched.
- ``synth_cue_ruler_v1`` is spaCy's ``SpanRuler`` (same patterns, same ``doc.spans`` output,
  same serialisation) with a leaner ``match``: the stock one builds every span through
  string lookups and a sorted set, which cost about as much as tokenising. A stock
  ``span_ruler`` with the same patterns works with ``synth_doc_labels_v1`` too.
- The tokenizer keeps up to :data:`TOKENIZER_CACHE_SIZE` chunks tokenized, not spaCy's
  10,000, which real abstracts fill within a few hundred records (every chunk left out
  goes through the affix expressions at each occurrence): tag() then tokenizes real
  abstracts faster than a bare ``spacy.blank("en")`` does.
- No sentencizer by default: it touches every token, while only the sentences that hold a
  cue are needed; ``synth_doc_labels_v1`` finds those from the text around each hit (and
  uses ``span.sent`` when a sentencizer or parser has already set sentence boundaries).
- Negation triggers are phrase patterns too, so finding them costs nothing extra; a cue is
  negated by a trigger a few tokens before it in the same sentence.
- The sentence roles' markers and headings (``sentence_roles.yml``) are phrase patterns of
  the same ruler, matched in the same pass as the cues: a second matcher over every token
  would cost a tenth of tokenising.
- All three components label a whole batch in ``pipe`` (``nlp.pipe`` otherwise walks each Doc
  through every component in turn), and the hits are kept as tuples: ``doc._.synth_labels``
  builds the dicts only when read.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.pipeline import SpanRuler
from spacy.tokens import Doc, Span, Token
from spacy.util import minibatch

from synth.tagging.codebook import FIELDS, Codebook, Cue, load_codebook
from synth.tagging.sentence_roles import Marks, SentenceRoles, load_sentence_roles

log = logging.getLogger(__name__)

#: ``doc.spans`` key the cue ruler writes and ``synth_doc_labels_v1`` reads.
CUE_SPANS_KEY = "synth_cues"
#: ``doc.user_data`` keys a caller may set before the pipeline runs: the exact text the doc
#: was made from (saves rebuilding it from tokens) and its segments, a list of
#: ``(start_char, end_char, field)``; a segment is a sentence boundary on both sides.
TEXT_KEY = "synth_text"
SEGMENTS_KEY = "synth_segments"
#: ``doc.user_data`` key where the cue ruler leaves raw matches (per spans key).
MATCHES_KEY = "synth_matches"
LABELS_ATTR = "synth_labels"
#: ``doc.user_data`` key of the compact hits (tuples laid out as :data:`HIT_FIELDS`).
HITS_KEY = "synth_hits"
#: ``doc.user_data`` key where ``synth_sentence_roles_v1`` leaves its :class:`Marks`.
ROLE_MARKS_KEY = "synth_role_marks"
#: Chunks (space-delimited strings) spaCy's tokenizer keeps tokenized in the tagger's
#: pipeline. spaCy's default, 10,000, is full after a few hundred abstracts, and every
#: chunk it did not keep goes through the prefix, suffix and infix expressions again at
#: each occurrence: on real abstracts that is most of the tokenizer's time. The cache
#: only saves work (a chunk's tokens are the same from it as without it); tagging the
#: 9,000 peer screening records twice (the second time upper-cased) held 40 MB more than
#: with spaCy's default.
TOKENIZER_CACHE_SIZE = 250_000
#: Words (lexemes) the tagger's pipeline learns from the records of a long run, beyond
#: those it was built with, before each chunk it tags forgets the words new to it
#: (:func:`chunk_words`). spaCy keeps every word it has met, about 500 bytes each, and a
#: corpus's vocabulary grows with it (rare terms, counts, names: 28,000 to 40,000 new
#: words per 10,000 generated records, to 100,000 and beyond). The tokenizer cache holds
#: chunks of text made of these words and is not filled inside a chunk that forgets, so
#: the zones wait until as many words are learned as it holds chunks: on generated
#: records it is full by 50,000 records, this many words are learned by 80,000.
VOCAB_GROWTH = TOKENIZER_CACHE_SIZE
#: Registered factory names.
CUE_RULER = "synth_cue_ruler_v1"
DOC_LABELS = "synth_doc_labels_v1"
SENTENCE_ROLES = "synth_sentence_roles_v1"


@cache
def _blank() -> Language:
    return spacy.blank("en")


#: Lexemes of each pipeline :func:`build_nlp` made, once built (its patterns' words).
_BUILT_WORDS: weakref.WeakKeyDictionary[Language, int] = weakref.WeakKeyDictionary()


def chunk_words(nlp: Language, growth: int | None = None) -> contextlib.AbstractContextManager[Any]:
    """The context in which ``nlp`` tags one chunk of a long run, so that its vocabulary
    stops growing with the corpus: nothing until it has learned ``growth`` words
    (default :data:`VOCAB_GROWTH`) beyond those it was built with, then spaCy's memory
    zone (:meth:`spacy.language.Language.memory_zone`), at whose end the words (and
    strings) new in the chunk are forgotten. The rows are the same either way (a word's
    lexeme is made again from its text when met again); the tokenizer cache is not
    filled inside a zone, which is why zones wait until it is full. No doc made inside
    may be read after it.

    Every process that tags a stream of chunks enters it per chunk: this one per chunk
    of a store (:func:`synth.tagging.tagger.tag_chunks`), each worker process of
    ``--n-process`` per span of records it is sent (:func:`synth.tagging.tagger._tag_span`),
    each Dask worker per partition (:func:`synth.distributed.tagging._tag_partition`).
    Each enters it holding the engine's lock, till the run in it is done
    (``synth.tagging.tagger._Engine.run_locked``), as does every other caller that runs
    the engine: a zone takes the new words of every thread that uses the pipeline, and
    frees them at its exit. Inside a zone already open on ``nlp`` (zones do not nest) it
    is nothing: the outer one forgets."""
    if getattr(nlp.vocab, "in_memory_zone", True):  # in one, or spaCy before zones (3.8)
        return contextlib.nullcontext()
    learned = len(nlp.vocab) - _BUILT_WORDS.get(nlp, 0)
    if learned < (VOCAB_GROWTH if growth is None else growth):
        return contextlib.nullcontext()
    return nlp.memory_zone()


def tokenizer_words(text: str) -> list[str]:
    """The tokens spaCy's blank English tokenizer makes of ``text``."""
    return [t.text for t in _blank().make_doc(text)]


@Language.factory(
    CUE_RULER,
    default_config={
        "spans_key": CUE_SPANS_KEY,
        "phrase_matcher_attr": "LOWER",
        "validate": False,
        "overwrite": True,
        "write_spans": True,
    },
)
def make_cue_ruler(
    nlp: Language, name: str, spans_key: str, phrase_matcher_attr: str, validate: bool,
    overwrite: bool, write_spans: bool,
) -> CueRuler:  # fmt: skip
    ruler = CueRuler(
        nlp,
        name,
        spans_key=spans_key,
        phrase_matcher_attr=phrase_matcher_attr,
        validate=validate,
        overwrite=overwrite,
        annotate_ents=False,
        spans_filter=None,
    )
    ruler.write_spans = write_spans
    return ruler


class CueRuler(SpanRuler):
    """spaCy's ``SpanRuler`` with a faster path for many phrase patterns.

    Besides ``doc.spans[spans_key]`` it leaves the raw matches in
    ``doc.user_data[MATCHES_KEY][spans_key]`` as ``(start, -end, span id hash)`` sorted (by
    start, longest first), which ``synth_doc_labels_v1`` reads without building a ``Span``
    per match. With ``write_spans=False`` (what :func:`synth.tagging.tag` uses) it writes
    only those: a ``Span`` costs several microseconds and a dense abstract has dozens of
    matches. Pattern format and serialisation are the ``SpanRuler``'s.
    """

    write_spans: bool = True

    def __call__(self, doc: Doc) -> Doc:
        raw = self.raw_matches(doc)
        doc.user_data.setdefault(MATCHES_KEY, {})[self.key] = raw
        if self.write_spans:
            self.set_annotations(doc, self._spans(doc, raw))
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Match a whole batch before handing it on (see :func:`_batched`)."""
        return _batched(self, stream, batch_size)

    def add_patterns(self, patterns: list[dict[str, Any]]) -> None:
        """The ``SpanRuler``'s, with the phrase matcher's keys entered in the vocab first
        without lexical attributes.

        ``PhraseMatcher.add`` makes a lexeme of each key, ``repr((label, id))``, and a new
        lexeme computes every lexical attribute (shape, like_num, like_url ...) of its
        string: for the codebook's 25,000 patterns, each its own key, that was half of
        :func:`build_nlp`. A key holds ", ", so no token is ever that string and nothing
        reads its lexeme's attributes; the pattern texts' own lexemes are made as usual.
        """
        vocab = self.nlp.vocab
        getters = vocab.lex_attr_getters
        vocab.lex_attr_getters = None
        try:
            for entry in patterns:
                label, ident = entry.get("label"), entry.get("id", "")
                if isinstance(entry.get("pattern"), str) and isinstance(label, str):
                    key = repr((label, ident))
                    if ", " in key and key not in vocab:
                        vocab[key]
        finally:
            vocab.lex_attr_getters = getters
        super().add_patterns(patterns)

    def match(self, doc: Doc) -> list[Span]:
        return self._spans(doc, self.raw_matches(doc))

    def _spans(self, doc: Doc, raw: list[tuple[int, int, int]]) -> list[Span]:
        labels = self._labels()
        return [Span(doc, s, -ne, label=labels[i], span_id=i) for s, ne, i in raw]

    def raw_matches(self, doc: Doc) -> list[tuple[int, int, int]]:
        """``(start, -end, span id hash)`` sorted: by start, longest first."""
        self._require_patterns()
        found = self.phrase_matcher(doc)
        if len(self.matcher):
            found = list(dict.fromkeys([*found, *self.matcher(doc, allow_missing=True)]))
        if not found:
            return []
        ids = self._ids()
        raw = [(s, -e, ids[m]) for m, s, e in found if s != e]
        raw.sort()
        return raw

    def _labels(self) -> dict[int, int]:
        """Span id hash -> label hash."""
        cached = getattr(self, "_label_cache", None)
        if cached is None or len(cached) != len(self._match_label_id_map):
            ids = self._ids()
            strings = self.nlp.vocab.strings
            cached = {
                ids[m_id]: strings.add(v["label"]) for m_id, v in self._match_label_id_map.items()
            }
            self._label_cache = cached
        return cached

    def _ids(self) -> dict[int, int]:
        """Match id -> span id hash (the pattern's id, or its label when it has none)."""
        cached = getattr(self, "_id_cache", None)
        if cached is None or len(cached) != len(self._match_label_id_map):
            strings = self.nlp.vocab.strings
            cached = {
                m_id: strings.add(v["id"] or v["label"])
                for m_id, v in self._match_label_id_map.items()
            }
            self._id_cache = cached
        return cached

    def clear(self) -> None:
        super().clear()
        self._id_cache = None
        self._label_cache = None


@Language.factory(SENTENCE_ROLES, default_config={"roles": None, "spans_key": CUE_SPANS_KEY})
def make_sentence_roles(
    nlp: Language, name: str, roles: str | None, spans_key: str
) -> SentenceRoleMarker:
    return SentenceRoleMarker(nlp, name, roles=roles, spans_key=spans_key)


class SentenceRoleMarker:
    """Find a doc's sentence-role markers and structured-abstract headings
    (``synth/data/sentence_roles.yml``) and leave them as :class:`Marks` in
    ``doc.user_data[ROLE_MARKS_KEY]``; ``synth_doc_labels_v1`` gives each hit the role of
    its sentence from them.

    The phrases are matched by the cue ruler in its own pass (:func:`build_nlp` adds
    :meth:`SentenceRoles.patterns` to it, as it adds the negation triggers): this component
    only picks them out of the ruler's raw matches, and checks the few heading candidates
    that start with a capital. Unless told the ruler holds them (``in_ruler``, which
    :func:`build_nlp` sets), it matches them itself: after a stock ``span_ruler``, say.
    """

    def __init__(
        self,
        nlp: Language,
        name: str = SENTENCE_ROLES,
        *,
        roles: str | Path | SentenceRoles | None = None,
        spans_key: str = CUE_SPANS_KEY,
    ) -> None:
        self.name = name
        self.nlp = nlp
        self.spans_key = spans_key
        #: whether the cue ruler before this component matches the role phrases
        #: (:func:`build_nlp` adds them to it); if not, this component matches them itself
        self.in_ruler = False
        self.use_rules(roles if isinstance(roles, SentenceRoles) else load_sentence_roles(roles))

    def use_rules(self, rules: SentenceRoles) -> None:
        """Use ``rules`` (allows rules built from text)."""
        self.rules = rules
        strings = self.nlp.vocab.strings
        #: pattern id hash -> (is a heading, role)
        self.kinds: dict[int, tuple[bool, str]] = {
            strings.add(p["id"]): (p["id"].split("|")[1] == "heading", p["id"].split("|")[2])
            for p in rules.patterns()
        }
        self._matcher: PhraseMatcher | None = None

    def __call__(self, doc: Doc) -> Doc:
        matches = None
        if self.in_ruler:
            raw = doc.user_data.get(MATCHES_KEY)
            matches = raw.get(self.spans_key) if isinstance(raw, dict) else None
        if matches is None:
            matches = self._own_matches(doc)  # a ruler without the role phrases
        doc.user_data[ROLE_MARKS_KEY] = self.marks(doc, matches)
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Mark a whole batch before handing it on (see :func:`_batched`)."""
        return _batched(self, stream, batch_size)

    def _own_matches(self, doc: Doc) -> list[tuple[int, int, int]]:
        if self._matcher is None:
            self._matcher = PhraseMatcher(self.nlp.vocab, attr="LOWER")
            strings = self.nlp.vocab.strings
            for p in self.rules.patterns():
                self._matcher.add(p["id"], [self.nlp.make_doc(p["pattern"])])
                strings.add(p["id"])
        return sorted((s, -e, m) for m, s, e in self._matcher(doc))

    def marks(self, doc: Doc, matches: list[tuple[int, int, int]]) -> Marks:
        """The markers and headings among ``matches`` (``(start, -end, id hash)`` sorted
        by start, longest first) as character offsets."""
        kinds = self.kinds
        marker_starts: list[int] = []
        marker_roles: list[str] = []
        heading_starts: list[int] = []
        heading_roles: list[str] = []
        reach = -1  # end of the last heading kept: a heading inside a longer one is not one
        for start, neg_end, sid in matches:
            kind = kinds.get(sid)
            if kind is None:
                continue
            token = doc[start]
            if not kind[0]:
                marker_starts.append(token.idx)
                marker_roles.append(kind[1])
            elif (
                start >= reach
                and not token.is_lower
                and _written_as_heading(doc, start, -neg_end, token)
            ):
                heading_starts.append(token.idx)
                heading_roles.append(kind[1])
                reach = -neg_end
        return Marks(marker_starts, marker_roles, heading_starts, heading_roles)


_HEADING_ENDS = frozenset({":", ".", "-", "—", "–"})
_BOUNDARY_BEFORE = frozenset({".", ":", ";", "?", "!"})


def _written_as_heading(doc: Doc, start: int, end: int, first: Token) -> bool:
    """Whether a heading phrase is written as a heading: "RESULTS", "METHODS AND
    FINDINGS:" or "Results:" (a colon after it, or a full stop at a sentence start), not
    the word "results" in a sentence. ``first`` is ``doc[start]``; the cheap tests go
    first (this runs on every capitalised "Patients" that starts a sentence)."""
    after = doc[end].text if end < len(doc) else ""
    if first.is_title and not first.is_upper:
        if after == ":":
            return True
        if after == ".":
            return _at_sentence_start(doc, start)
        # an export that lost the heading's line break: "Methods The design of the study
        # is ...", "Background Variability between ..." (a sentence that starts with the
        # word goes on in lower case: "Patients were ...")
        return (
            end < len(doc)
            and doc[end].is_title
            and (not doc[end].is_upper or len(doc[end]) == 1)  # "Methods A cluster ..."
            and _at_sentence_start(doc, start)
        )
    if not first.is_upper or (len(first) == 1 and after != ":"):
        return False
    if not all(doc[i].is_upper for i in range(start + 1, end) if doc[i].is_alpha):
        return False
    return after in _HEADING_ENDS or _at_sentence_start(doc, start)


def _at_sentence_start(doc: Doc, start: int) -> bool:
    if start == 0:
        return True
    before = doc[start - 1]
    return before.is_space or before.text in _BOUNDARY_BEFORE


@dataclass(frozen=True, slots=True)
class _CueInfo:
    facet: str
    label: str
    kind: str
    phrase: str
    #: signed weight per field (cue weight x field weight; negative for negative cues);
    #: a field missing here is one where the cue does not count
    weights: dict[str, float]
    case: tuple[tuple[int, str], ...]
    #: whether a negation trigger before the cue turns it (the facet's ``negation``)
    negatable: bool = True
    #: the furthest (tokens between) a trigger reaches this cue; None: the trigger's own
    negation_window: int | None = None
    #: a gazetteer place's eponym heads by their first word (:func:`_names_an_eponym`);
    #: None for every other cue
    eponyms: dict[str, tuple[tuple[str, ...], ...]] | None = None


@Language.factory(
    DOC_LABELS,
    default_config={
        "spans_key": CUE_SPANS_KEY,
        "codebook": None,
        "default_field": "abstract",
        "roles": None,
    },
)
def make_doc_labels(
    nlp: Language,
    name: str,
    spans_key: str,
    codebook: str | None,
    default_field: str,
    roles: str | None,
) -> DocLabels:
    return DocLabels(
        nlp, name, spans_key=spans_key, codebook=codebook, default_field=default_field,
        roles=roles,
    )  # fmt: skip


class DocLabels:
    """Turn cue matches into labelled hits: ``doc._.synth_labels`` is a list of dicts with
    ``facet, label, cue, match, sentence, negated, weight, field, start, end, role``.

    ``weight`` is the cue's weight times its field's weight, negative when the hit counts
    against the label (a negated cue, or one of the label's ``negative`` cues); ``start`` and
    ``end`` are character offsets. Cues nested inside a longer cue of the same facet are
    dropped ("experience-based co-design" is EBCD, not also co-design; "New South Wales" is
    not Wales). Set ``doc.user_data`` ``synth_text``/``synth_segments`` (see
    :data:`TEXT_KEY`) to name each part's field; otherwise the whole doc is
    ``default_field``.

    ``role`` is the hit's sentence role (``study``, ``background`` or ``other``, see
    :mod:`synth.tagging.sentence_roles`): fixed for whole fields (a title is the paper's
    own), otherwise from the markers and headings ``synth_sentence_roles_v1`` found; None
    when that component did not run (the hit then counts in every facet).

    The hits are kept compact (tuples, :data:`HITS_KEY`) and become dicts only when
    ``doc._.synth_labels`` is read; the tagger reads the tuples and builds evidence only
    for the hits it reports.
    """

    def __init__(
        self,
        nlp: Language,
        name: str = DOC_LABELS,
        *,
        spans_key: str = CUE_SPANS_KEY,
        codebook: str | Path | Codebook | None = None,
        default_field: str = "abstract",
        roles: str | Path | SentenceRoles | None = None,
    ) -> None:
        if default_field not in FIELDS:
            raise ValueError(f"default_field must be one of {FIELDS}, got {default_field!r}")
        self.name = name
        self.vocab = nlp.vocab
        self.spans_key = spans_key
        self.default_field = default_field
        self._codebook_ref = codebook
        self._cb: Codebook | None = codebook if isinstance(codebook, Codebook) else None
        self.roles = roles if isinstance(roles, SentenceRoles) else load_sentence_roles(roles)
        self._infos: dict[int, _CueInfo | int] | None = None
        self._max_window = 0
        # matched text, one object per distinct surface form: a few hundred forms make
        # most of the millions of hits, and shared objects pickle as references
        self._surfaces: dict[str, str] = {}
        if not Doc.has_extension(LABELS_ATTR):
            Doc.set_extension(LABELS_ATTR, getter=hit_dicts)

    # -- codebook -------------------------------------------------------------------------

    @property
    def codebook(self) -> Codebook:
        if self._cb is None:
            ref = self._codebook_ref
            self._cb = load_codebook(Path(ref) if isinstance(ref, str | Path) else None)
        return self._cb

    def use_roles(self, roles: SentenceRoles) -> None:
        """Use sentence-role rules already loaded (allows rules built from text)."""
        self.roles = roles
        self._infos = None

    def use_codebook(self, codebook: Codebook) -> None:
        """Use an already loaded codebook (saves a reload, allows one built from text)."""
        self._cb = codebook
        self._infos = None

    def _cue_infos(self) -> dict[int, _CueInfo | int]:
        if self._infos is None:
            cb = self.codebook
            strings = self.vocab.strings
            infos: dict[int, _CueInfo | int] = {
                strings.add(cue.id): self._info(cue) for cue in cb.cues()
            }
            neg = cb.negation
            windows = dict(neg.triggers)
            for pattern in neg.patterns():  # negation entries: the trigger's window, or -1
                kind, phrase = pattern["id"].split("|")[1:]
                window = windows.get(phrase, neg.window) if kind == "trigger" else _PSEUDO
                infos[strings.add(pattern["id"])] = window
            for pattern in self.roles.patterns():  # matched by the ruler for the roles
                infos[strings.add(pattern["id"])] = _ROLE_PHRASE
            self._max_window = max([neg.window, *windows.values()])
            self._infos = infos
        return self._infos

    def _info(self, cue: Cue) -> _CueInfo:
        cb = self.codebook
        facet = cb.facets.get(cue.facet)
        fields = facet.fields if facet is not None else frozenset(FIELDS)
        if cue.fields is not None:
            fields = fields & cue.fields
        if (
            facet is not None
            and facet.venue_cues == "listed"
            and not (cue.fields is not None and "venue" in cue.fields)
        ):
            fields = fields - {"venue"}  # a general journal's name says nothing here
        sign = -1.0 if cue.kind == "negative" else 1.0
        weights = {f: sign * cue.weight * cb.field_weights.get(f, 1.0) for f in fields}
        negatable = facet.negation if facet is not None else True
        reach = facet.negation_window if facet is not None else None
        eponyms = None
        if (
            facet is not None
            and facet.eponym_heads
            and cue.kind == "cue"
            and cue.phrase in facet.eponym_places
        ):
            eponyms = _heads_by_first_word(facet.eponym_heads)
        return _CueInfo(
            cue.facet, cue.label, cue.kind, cue.phrase, weights, cue.case, negatable, reach,
            eponyms,
        )  # fmt: skip

    def _unknown(self, doc: Doc, start: int, end: int, span_id: int) -> _CueInfo:
        """A match from someone else's patterns: facet/label from its id or its label."""
        try:
            ident = self.vocab.strings[span_id] if span_id else ""
        except KeyError:
            ident = ""
        parts = ident.split("|")
        if len(parts) == 4:
            facet, label, kind, phrase = parts
        else:
            label_text = ident
            if "/" not in label_text and self.spans_key in doc.spans:
                for s in doc.spans[self.spans_key]:
                    if (s.start, s.end, s.id) == (start, end, span_id):
                        label_text = s.label_
                        break
            facet, _, label = label_text.partition("/")
            kind, phrase = "cue", doc[start:end].text.lower()
        cue = Cue(facet or "unknown", label or facet or "unknown", kind, phrase)
        info = self._info(cue)
        self._cue_infos()[span_id] = info
        return info

    # -- the component --------------------------------------------------------------------

    def __call__(self, doc: Doc) -> Doc:
        raw = doc.user_data.get(MATCHES_KEY)
        matches = raw.get(self.spans_key) if isinstance(raw, dict) else None
        if matches is None:  # spans from a stock span_ruler or the caller's own component
            spans = doc.spans.get(self.spans_key, ())
            matches = sorted({(s.start, -s.end, s.id) for s in spans})
        hits = self.compact_hits(doc, matches) if matches else []
        doc.user_data[HITS_KEY] = hits
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Label a whole batch before handing it on (see :func:`_batched`)."""
        return _batched(self, stream, batch_size)

    def compact_hits(self, doc: Doc, matches: list[tuple[int, int, int]]) -> list[tuple]:
        """Hits as tuples (see :data:`HIT_FIELDS`) from matches ``(start, -end, id hash)``
        sorted by start and longest first.

        Matches come in text order, so the current segment and sentence only ever move
        forward: they are tracked, not looked up, per match.
        """
        infos = self._cue_infos()
        terminators = self.codebook.negation.terminators
        max_window = self._max_window
        limit = self.codebook.scoring.max_sentence_chars
        text = doc.user_data.get(TEXT_KEY)
        if text is None:
            text = doc.text
        segments = doc.user_data.get(SEGMENTS_KEY) or [(0, len(text), self.default_field)]
        marks = doc.user_data.get(ROLE_MARKS_KEY)
        rules = self.roles
        fixed_roles = rules.fields
        role: str | None = None
        role_s0 = -2
        # sentence boundaries set by a sentencizer/parser? (O(1): they set every token)
        use_sents = len(doc) > 1 and doc[1].is_sent_start is not None
        reach: dict[str, tuple[int, int, str]] = {}  # facet -> furthest-reaching kept cue
        triggers: list[tuple[int, int, int]] = []  # (start, end, window)
        pseudo = (-1, -1)
        seg = -1
        seg_start = seg_end = -1
        seg_title_case: bool | None = None  # the segment is a title in Title Case
        field = ""
        bounds: list[int] = []
        k = 0
        s0 = s1 = -1
        sentence = ""
        out: list[tuple] = []
        surfaces = self._surfaces
        if len(surfaces) > _SURFACES_MAX:
            surfaces.clear()
        for start, neg_end, sid in matches:
            end = -neg_end
            info = infos.get(sid)
            if info is None:
                info = self._unknown(doc, start, end, sid)
            if type(info) is int:  # negation trigger (its window), pseudo-negation, role phrase
                if info >= 0:
                    if not pseudo[0] <= start < pseudo[1]:
                        triggers.append((start, end, info))
                elif info == _PSEUDO:
                    pseudo = (start, end)
                continue  # a role marker or heading (_ROLE_PHRASE): the roles component's
            if info.case and not all(doc[start + j].text == t for j, t in info.case):
                continue
            facet = info.facet
            prev = reach.get(facet)
            if prev is not None and end <= prev[1]:
                if start != prev[0] or end != prev[1] or prev[2] == info.label:
                    continue  # nested in a longer cue of this facet
            else:
                reach[facet] = (start, end, info.label)
            first = doc[start]
            start_char = first.idx
            if start_char >= seg_end:  # move on to the segment holding this match
                while seg + 1 < len(segments) and segments[seg + 1][0] <= start_char:
                    seg += 1
                seg_start, seg_end, field = segments[seg] if seg >= 0 else (0, 0, "")
                bounds, k, s0, s1 = [], 0, -1, -1
                seg_title_case = None
                if start_char >= seg_end:
                    continue  # between segments (a separator)
            weight = info.weights.get(field)
            if weight is None:
                continue
            if info.eponyms is not None:  # "Framingham risk score": from there, no country
                if field == "title" and seg_title_case is None:
                    seg_title_case = _title_cased(text[seg_start:seg_end])
                # a Title Case title's capitals say nothing of where a name ends ("Primary
                # Care In Canada Scores Poorly"): its places are read as places
                if not (field == "title" and seg_title_case) and _names_an_eponym(
                    doc, end, info.eponyms
                ):
                    continue
            last = first if end - start == 1 else doc[end - 1]
            end_char = last.idx + len(last)
            if use_sents:
                sent = doc[start:end].sent
                a, b = max(sent.start_char, seg_start), min(sent.end_char, seg_end)
                if a != s0:
                    s0, s1 = a, b
                    sentence = _clip(text[s0:s1], limit, start_char - s0)
            elif start_char >= s1:  # move on to the sentence holding this match
                if not bounds:
                    bounds = _sentence_bounds(text, seg_start, seg_end)
                while bounds[k + 1] <= start_char:
                    k += 1
                s0, s1 = bounds[k], bounds[k + 1]
                sentence = _clip(text[s0:s1], limit, start_char - s0)
            if s0 != role_s0:  # a new sentence: its role
                role_s0 = s0
                role = fixed_roles.get(field)
                if role is None and marks is not None:
                    role = rules.role(marks, s0, s1, seg_start, seg_end)
            negated = False
            for t_start, t_end, t_window in (
                reversed(triggers) if triggers and info.negatable else ()
            ):
                gap = start - t_end
                if gap < 0:
                    continue  # the trigger is part of this cue ("not equal")
                if gap > max_window:
                    break
                if gap > t_window or doc[t_start].idx < s0:
                    continue
                if info.negation_window is not None and gap > info.negation_window:
                    continue
                if any(doc[j].lower_ in terminators for j in range(t_end, start)):
                    break
                negated = True
                break
            if negated:
                if info.kind == "negative":
                    continue  # "not tokenistic" says nothing either way
                weight = -weight
            match = text[start_char:end_char]
            out.append(
                (facet, info.label, field, weight, negated, info.phrase,
                 start_char, surfaces.setdefault(match, match), sentence, role)
            )  # fmt: skip
        return out


_SURFACES_MAX = 100_000
#: Capitalised words allowed between a place and its eponym head ("Nottingham Health
#: Profile", "Yale-New Haven Hospital Depressive Symptom scale").
EPONYM_GAP = 3


@cache
def _heads_by_first_word(
    heads: tuple[tuple[str, ...], ...],
) -> dict[str, tuple[tuple[str, ...], ...]]:
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for head in heads:
        by_first.setdefault(head[0], []).append(head)
    return {first: tuple(hs) for first, hs in by_first.items()}


def _names_an_eponym(doc: Doc, end: int, heads: dict[str, tuple[tuple[str, ...], ...]]) -> bool:
    """Whether the place ending at token ``end`` begins the name of an instrument, rule
    or declaration: an eponym head ("score", "Health Profile ... Index") follows it,
    directly or after at most :data:`EPONYM_GAP` Title-case words or unspaced hyphens. A
    place ending in a full stop ("the U.K.") ends its sentence; a line break, a word in
    capitals (a heading: "in Leeds RESULTS Scores ...") or any other word ends the name."""
    n = len(doc)
    if doc[end - 1].text.endswith("."):
        return False
    for j in range(end, min(end + EPONYM_GAP + 1, n)):
        tok = doc[j]
        for head in heads.get(tok.lower_, ()):
            if j + len(head) <= n and all(doc[j + k].lower_ == w for k, w in enumerate(head)):
                return True
        text = tok.text
        hyphen = text == "-" and not doc[j - 1].whitespace_ and not tok.whitespace_
        if not (hyphen or (text.istitle() and text.isalpha())):
            return False
    return False


def _title_cased(text: str) -> bool:
    """Whether a title capitalises (nearly) every word ("Primary Care In Canada Scores
    Poorly On Access"): its words then say nothing of where a name ends."""
    words = [w for w in text.split() if len(w) > 3 and w[:1].isalpha()]
    return len(words) >= 3 and sum(w[:1].isupper() for w in words) >= 0.8 * len(words)


#: ``_cue_infos`` values below 0: a pseudo-negation, a sentence-role marker or heading.
_PSEUDO = -1
_ROLE_PHRASE = -2


def _sentence_bounds(text: str, start: int, end: int) -> list[int]:
    """Sentence starts in ``text[start:end]``, then ``end``: after ". ", "? " or "! " when the
    next word does not start in lower case ("e.g. the" goes on), and after a blank line.
    ``str.find`` is several times faster here than a regular expression."""
    cuts = []
    find = text.find
    for mark in (". ", "? ", "! "):
        pos = find(mark, start, end)
        while pos >= 0:
            k = pos + 2
            while k < end and text[k] == " ":
                k += 1
            if k < end and not text[k].islower():
                cuts.append(k)
            pos = find(mark, k, end)
    pos = find("\n", start, end)
    while pos >= 0:
        k = pos + 1
        while k < end and text[k] in " \t\r":
            k += 1
        if k < end and text[k] == "\n":
            while k < end and text[k].isspace():
                k += 1
            cuts.append(k)
        pos = find("\n", k, end)
    if not cuts:
        return [start, end]
    cuts.sort()
    return [start, *cuts, end]


def _batched(component: Any, stream: Iterable[Doc], batch_size: int) -> Iterator[Doc]:
    """Run ``component`` over ``batch_size`` docs, then yield them.

    ``nlp.pipe`` chains components as generators, so a component without a batching
    ``pipe`` sees one doc, hands it on, and sees the next: each doc then goes through the
    tokenizer, the matcher's tables and the labeller's dicts in turn, and every stage finds
    the CPU caches full of the others' data. A batch per stage runs markedly faster.
    """
    for batch in minibatch(stream, size=max(1, batch_size)):
        for doc in batch:
            component(doc)
        yield from batch


#: The positions in a compact hit tuple.
HIT_FIELDS: tuple[str, ...] = (
    "facet", "label", "field", "weight", "negated", "cue", "start", "match", "sentence",
    "role",
)  # fmt: skip


def hit_dict(hit: tuple) -> dict[str, Any]:
    """A compact hit as the dict ``doc._.synth_labels`` shows."""
    facet, label, field, weight, negated, cue, start, match, sentence, role = hit
    return {
        "facet": facet,
        "label": label,
        "cue": cue,
        "match": match,
        "sentence": sentence,
        "negated": negated,
        "weight": weight,
        "field": field,
        "start": start,
        "end": start + len(match),
        "role": role,
    }


def hit_dicts(doc: Doc) -> list[dict[str, Any]]:
    """Getter of ``doc._.synth_labels``."""
    return [hit_dict(h) for h in doc.user_data.get(HITS_KEY) or ()]


def _clip(sentence: str, limit: int, at: int) -> str:
    """A sentence with whitespace collapsed, cut to ``limit`` characters around ``at``."""
    if len(sentence) <= limit and "\n" not in sentence and "  " not in sentence:
        return sentence.strip()  # the common case: already one clean line
    lead = len(sentence) - len(sentence.lstrip())
    at = len(" ".join(sentence[:at].split())) + 1 if at > lead else 0
    sentence = " ".join(sentence.split())
    if len(sentence) <= limit:
        return sentence
    lo = max(0, min(at - limit // 2, len(sentence) - limit))
    hi = lo + limit
    cut = sentence[lo:hi]
    if lo > 0:
        cut = "… " + cut.split(" ", 1)[-1]
    if hi < len(sentence):
        cut = cut.rsplit(" ", 1)[0] + " …"
    return cut


def build_nlp(
    codebook: Codebook | None = None,
    *,
    sentencizer: bool = False,
    write_spans: bool = True,
    roles: SentenceRoles | None = None,
) -> Language:
    """A blank English pipeline that tags with ``codebook`` (default: the package's).

    ``cue ruler`` (``synth_cue_ruler_v1``, span key ``synth_cues``), then
    ``synth_sentence_roles_v1`` (markers and headings of ``roles``, default the package's
    ``sentence_roles.yml``), then ``synth_doc_labels_v1``; ``sentencizer=True`` adds
    spaCy's sentencizer first, for callers who want ``doc.sents`` (hits then use its
    sentences; tagging is slower). ``write_spans=False`` leaves
    ``doc.spans["synth_cues"]`` unset (the hits are the same; :func:`synth.tagging.tag`
    uses it for speed).
    """
    cb = codebook or load_codebook()
    rules = roles or load_sentence_roles()
    rules_path = str(rules.path) if rules.path is not None else None
    nlp = spacy.blank("en")
    if sentencizer:
        nlp.add_pipe("sentencizer")
    ruler = nlp.add_pipe(CUE_RULER, config={"write_spans": write_spans})
    ruler.add_patterns(cb.patterns() + rules.patterns())
    # tokenizing thousands of patterns (the country gazetteer) leaves spaCy's tokenizer
    # cache slow for text (3x on abstracts); resetting its rules empties the cache
    nlp.tokenizer.rules = nlp.tokenizer.rules
    nlp.tokenizer.max_cache_size = max(nlp.tokenizer.max_cache_size, TOKENIZER_CACHE_SIZE)
    marker = nlp.add_pipe(SENTENCE_ROLES, config={"roles": rules_path})
    marker.in_ruler = True
    labels = nlp.add_pipe(
        "synth_doc_labels_v1",
        config={"codebook": str(cb.path) if cb.path is not None else None, "roles": rules_path},
    )
    labels.use_codebook(cb)
    if rules_path is None:  # rules built from text: hand them over
        marker.use_rules(rules)
        labels.use_roles(rules)
    log.debug("built tagger pipeline: %d cue patterns", len(ruler.patterns))
    _BUILT_WORDS[nlp] = len(nlp.vocab)
    return nlp
