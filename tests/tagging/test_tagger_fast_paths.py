"""The tagger's fast paths give what the straightforward code gives.

``_Engine.rows`` caches scores per (field, weight) sequence and skips evidence selection
for small clean groups; worker processes send evidence as tuples and the codebook once
as bytes; the output frame is built column by column. Each is checked here against the
plain computation, on tricky inputs (negation, duplicates, more hits than evidence
slots, long full texts, empty abstracts, non-English text).
"""

from __future__ import annotations

import math
import pickle
import random

import pandas as pd
import pytest

from synth.tagging.codebook import FIELDS, load_codebook
from synth.tagging.sentence_roles import ALWAYS_COUNT_FIELDS, load_sentence_roles
from synth.tagging.tagger import (
    EVIDENCE_KEYS,
    TAG_COLUMNS,
    _Cols,
    _engine,
    _engine_key,
    _payloads,
    _tag_chunk,
    tag,
)

#: fields whose hits a facet's counts_in can leave out (those sentence_roles.yml makes the
#: paper's own throughout, its title, keywords, extracts, venue and metadata, always count)
_ROLE_FIELDS = set(FIELDS) - load_sentence_roles().paper_fields


@pytest.fixture(scope="module")
def engine():
    return _engine(load_codebook())


def _reference_rows(eng, record_id, hits):
    """The scoring and evidence rules written plainly: group, sum per field, squash,
    combine, conditions, outrank, sort, one label for single-label facets, evidence by
    ``_choose_evidence``'s documented rule (strongest first when trimmed or when a hit
    counts against)."""
    groups: dict = {}
    for h in hits:
        allowed = eng.counts_in.get(h[0])  # a facet's counts_in: roles its cues count in
        if allowed and h[9] is not None and h[9] not in allowed and h[2] in _ROLE_FIELDS:
            continue
        groups.setdefault((h[0], h[1]), []).append(h)
    scored = []
    for key, group in groups.items():
        if not any(h[3] > 0 for h in group):
            continue
        per_field: dict = {}
        for h in group:
            per_field[h[2]] = per_field.get(h[2], 0.0) + h[3]
        total = 0.0
        for field, net in per_field.items():
            w = eng.field_weights.get(field, 1.0)
            if w <= 0 or net == 0:
                continue
            part = math.copysign(w * math.log2(1.0 + abs(net) / w), net)
            cap = eng.caps.get(field)
            if cap is not None:
                part = max(-cap, min(cap, part))
            total += part
        score = round(1.0 - math.exp(-total / eng.scale), 4) if total > 0 else 0.0
        if score >= eng.min_score and score > 0:
            r = eng.rank.get(key, (1_000_000, 1_000_000))
            scored.append((r[0], -score, r[1], key, group))
    for key, parts, least, need, same, roles in eng.combinations:
        # a label made of others: `need` parts at least `least` (with `same`: with
        # positive hits in one sentence, the earliest such, keeping only its hits, and the
        # parts dropped); the best score, all hits
        by_key = {s[3]: s for s in scored}
        found = [by_key[p] for p in parts if p in by_key and -by_key[p][1] >= least]
        if same:
            starts: dict = {}

            def counts(h, roles=roles):
                return h[3] > 0 and (roles is None or h[9] in roles)

            for f in found:
                for h in f[4]:
                    if counts(h):
                        starts[h[8]] = min(starts.get(h[8], h[6]), h[6])
            shared = [
                t for t in sorted(starts, key=starts.get)
                if sum(any(h[8] == t and counts(h) for h in f[4]) for f in found) >= need
            ]  # fmt: skip
            found = (
                [(*f[:4], [h for h in f[4] if h[8] == shared[0]]) for f in found
                 if any(h[8] == shared[0] and counts(h) for h in f[4])]
                if shared else []
            )  # fmt: skip
        if found and len(found) >= need:
            own = [by_key[key]] if key in by_key else []
            score = max(-f[1] for f in [*own, *found])
            r = eng.rank.get(key, (1_000_000, 1_000_000))
            group = [h for f in [*own, *found] for h in f[4]]
            gone = {key, *(f[3] for f in found)} if same else {key}
            scored = [s for s in scored if s[3] not in gone] + [(r[0], -score, r[1], key, group)]

    for facet, (weak, weak_fields) in eng.yielding.items():
        # a label known only by demonyms (or a journal's name) gives way to a label of the
        # facet with a place
        mine = [s for s in scored if s[3][0] == facet]
        only_weak = {
            s[3] for s in mine if all(h[5] in weak or h[2] in weak_fields for h in s[4] if h[3] > 0)
        }
        if len(mine) > 1 and len(only_weak) < len(mine):
            scored = [s for s in scored if s[3] not in only_weak]

    def outranked(scored):
        # first by where a label is named (best first; a label dropped drops nothing)
        gone: set = set()
        for s in sorted(scored, key=lambda e: e[1]):
            if s[3] not in gone:
                for other, fields in eng.outranks_in.get(s[3], ()):
                    if any(h[1] == s[3][1] and h[2] in fields and h[3] > 0 for h in s[4]):
                        gone.add((s[3][0], other))
        scored = [s for s in scored if s[3] not in gone]
        scores = {s[3]: -s[1] for s in scored}
        dropped = {
            (f, other)
            for (f, lab), sc in scores.items()
            for other, from_score in eng.outranks.get((f, lab), ())
            if scores.get((f, other), 2.0) <= sc or (from_score is not None and sc >= from_score)
        }
        return [s for s in scored if s[3] not in dropped]

    def dropped_by(decided, scored):
        # a cross-facet condition: when the record has one of `when` labels (of a
        # single-label facet: its best label once outranked), a label of the limited
        # facet needs `min_score` or a positive hit in one of `or_fields` (and `or_roles`)
        gone = set()
        for cond in (c for f in eng.cb.facets.values() for c in f.conditions):
            when = [s for s in decided if s[3][0] == cond.when_facet]
            if cond.when_best:
                when = sorted(when, key=lambda s: (s[1], s[2]))[:1]
            found = any(s[3][1] in cond.when_labels and -s[1] >= cond.when_score for s in when)
            if found != cond.when_absent:  # `absent`: when the record has none of them
                gone |= {
                    s[3] for s in scored
                    if s[3][0] == cond.facet and -s[1] < cond.min_score
                    and (cond.labels is None or s[3][1] in cond.labels)
                    and not any(h[2] in cond.or_fields and h[3] > 0
                                and (cond.or_roles is None or h[9] is None
                                     or h[9] in cond.or_roles or h[2] in ALWAYS_COUNT_FIELDS)
                                for h in s[4])
                }  # fmt: skip
        return gone

    # read the conditions on what is left, outranked, until a reading drops nothing more
    gone: set = set()
    while True:
        left = [s for s in scored if s[3] not in gone]
        more = dropped_by(outranked(left), left) - gone
        if not more:
            break
        gone |= more
    scored = [s for s in scored if s[3] not in gone]
    scored = sorted(outranked(scored))
    out, done = [], set()
    for _, neg, _, (facet, label), group in scored:
        if not eng.multi.get(facet, True):
            if facet in done:
                continue
            done.add(facet)
        ev = [dict(zip(EVIDENCE_KEYS, (h[2], h[8], h[7], h[5], h[4], h[3]), strict=True))
              for h in eng._choose_evidence(group)]  # fmt: skip
        out.append((record_id, facet, label, -neg, ev))
    return out


def _rows(eng, record_id, hits):
    cols = _Cols()
    eng.rows(record_id, list(hits), cols)
    return cols


def _random_hits(rng, eng, n):
    keys = list(eng.rank)
    fields = ["title", "keywords", "abstract", "extract", "fulltext", "venue", "metadata"]
    sentences = [f"Sentence {i}." for i in range(4)]
    hits = []
    for _ in range(n):
        facet, label = rng.choice(keys)
        field = rng.choice(fields)
        w = rng.choice([1.0, 2.0, 3.0, 0.5, -2.0, -1.0, 0.0])
        cue = rng.choice(["a", "b", "c"])
        s = rng.choice(sentences)
        role = rng.choice(["study", "background", "other", None])
        hits.append((facet, label, field, w, w < 0, cue, rng.randrange(500), cue.upper(), s, role))
    return hits


def test_rows_equal_the_plain_computation_on_random_hits(engine) -> None:
    rng = random.Random(3)
    for trial in range(400):
        hits = _random_hits(rng, engine, rng.randrange(1, 40))
        # the same hits again: the second pass is served from the score caches
        for _ in range(2):
            cols = _rows(engine, f"r{trial}", hits)
            got = list(zip(cols.record_id, cols.facet, cols.label, cols.score, cols.evidence,
                           strict=True))  # fmt: skip
            assert got == _reference_rows(engine, f"r{trial}", hits)


def test_small_clean_groups_keep_their_hits_in_order(engine) -> None:
    facet, label = next(iter(engine.rank))
    # a hit is (facet, label, field, weight, negated, cue, start, match, sentence, role)
    hits = [(facet, label, f, 2.0, False, c, i, c, s, "study")
            for i, (f, c, s) in enumerate([("title", "x", "T."), ("abstract", "y", "A."),
                                           ("abstract", "x", "B.")])]  # fmt: skip
    cols = _rows(engine, "r", hits)
    assert [e["sentence"] for e in cols.evidence[0]] == ["T.", "A.", "B."]
    # a duplicate (sentence, cue) or a hit against goes through the selection instead
    dup = [*hits, (facet, label, "abstract", 2.0, False, "y", 9, "y", "A.", "study")]
    assert [e["sentence"] for e in _rows(engine, "r", dup).evidence[0]] == ["T.", "A.", "B."]
    against = [*hits, (facet, label, "abstract", -2.0, True, "z", 9, "z", "N.", "study")]
    ev = _rows(engine, "r", against).evidence[0]
    assert ev[0]["sentence"] == "T." and {e["sentence"] for e in ev} == {"T.", "A.", "B.", "N."}


def test_empty_frame_keeps_columns_and_types() -> None:
    out = _Cols().frame("v")
    assert list(out.columns) == TAG_COLUMNS and len(out) == 0
    assert out["score"].dtype == float


def _tricky_records():
    long_text = " ".join(
        ["The service was not co-produced with patients, but staff co-designed it."] * 6000
        + ["Experience-based co-design was used in an acute hospital in Wales."] * 50
    )
    records = pd.DataFrame(
        {
            "record_id": ["neg", "empty", "nonen", "long", "plain", "none"],
            "title": [
                "Excluding self-management: a study without co-production",
                "A mixed-methods evaluation in primary care",
                "Coproducción de servicios de salud mental en España",
                "Co-design in a hospital",
                "Always Events in paediatric wards in New South Wales",
                None,
            ],
            "abstract": [
                "We did not use co-production. Patients, however, co-designed the tool.",
                "",
                "Este estudio describe la coproducción con pacientes y familias en Madrid.",
                None,
                "We used experience-based co-design (EBCD) in the NHS. Non-hierarchical "
                "shared power was rare. Co-production with carers shaped the service, and "
                "co-production was central; the pilot was not co-produced.\n\nIn the USA, "
                "NICE guidance.",
                None,
            ],
            "keywords": [["co-production"], None, ["salud"], [], ["EBCD", "UK"], None],
            "venue": ["BMJ Open", None, "Gaceta Sanitaria", None, "Health Expectations", None],
            "language": ["en", None, "es", None, None, None],
        }
    )
    fulltexts = pd.DataFrame({"record_id": ["long"], "text": [long_text]})
    extracts = pd.DataFrame(
        {"record_id": ["plain", "empty"], "text": ["Co-\nproduced with carers.", "  "]}
    )
    return records, extracts, fulltexts


def test_worker_path_equals_the_one_process_path_on_tricky_input(monkeypatch) -> None:
    from synth.tagging import tagger

    cb = load_codebook()
    records, extracts, fulltexts = _tricky_records()
    expected = tag(records, extracts=extracts, fulltexts=fulltexts, codebook=cb)
    assert {"neg", "nonen", "long", "plain"} <= set(expected["record_id"])
    assert expected.attrs["notes"]
    # what a worker does with each chunk: its rows come back as the bytes it pickled
    recs = _payloads(records, extracts, fulltexts)
    merged, notes = _Cols(), []
    monkeypatch.setattr(tagger.multiprocessing, "parent_process", lambda: object())
    for start, stop in ((0, 2), (2, 5), (5, len(recs))):
        sent = _tag_chunk((cb, recs), start, stop, 256)
        assert isinstance(sent, bytes)
        cols, chunk_notes, failures = pickle.loads(sent)
        assert failures == []
        merged.extend(cols)
        notes.extend(chunk_notes)
    got = merged.frame(cb.tag_version)
    pd.testing.assert_frame_equal(got, expected)
    assert notes == expected.attrs["notes"]
    negated = [e for ev in expected["evidence"] for e in ev if e["negated"]]
    assert negated and all(e["weight"] < 0 for e in negated)


def test_a_fresh_process_unpickles_the_codebook_it_is_sent(monkeypatch) -> None:
    from synth.tagging import tagger

    cb = load_codebook()
    records, extracts, fulltexts = _tricky_records()
    recs = _payloads(records, extracts, fulltexts)
    expected, _, _ = _tag_chunk((cb, recs), 0, len(recs), 64)
    monkeypatch.setattr(tagger, "_ENGINES", {})  # as in a new worker process
    got, _, _ = _tag_chunk(pickle.loads(pickle.dumps((cb, recs))), 0, len(recs), 64)
    assert got.evidence == expected.evidence and got.score == expected.score
    assert _engine_key(cb) in tagger._ENGINES


def test_hits_share_one_object_per_matched_text() -> None:
    """Millions of hits come from a few hundred surface forms: one string each keeps the
    frame small and a worker's rows cheap to send (pickle writes a reference)."""
    records = pd.DataFrame(
        {
            "record_id": ["a", "b"],
            "title": ["Co-production in primary care", "Co-production in primary care"],
            "abstract": ["We used co-production with carers.", "Co-production with carers."],
        }
    )
    tags = tag(records)
    matches = [e["match"] for ev in tags["evidence"] for e in ev if e["match"] == "Co-production"]
    assert len(matches) >= 2 and len({id(m) for m in matches}) == 1
