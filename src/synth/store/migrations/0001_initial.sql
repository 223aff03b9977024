-- synth review store, schema version 1.
-- Event tables (decisions, tag_overrides, group_events) are append-only: triggers refuse
-- UPDATE and DELETE, so a review's history is its audit trail.

CREATE TABLE sources (
    source_id     INTEGER PRIMARY KEY,
    sha256        TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    path          TEXT,
    format        TEXT NOT NULL,
    database      TEXT,
    encoding      TEXT,
    encoding_how  TEXT,
    size          INTEGER NOT NULL,
    n_records     INTEGER NOT NULL,
    n_failures    INTEGER NOT NULL,
    n_new         INTEGER NOT NULL,
    imported_at   TEXT NOT NULL
);

CREATE TABLE records (
    record_id      TEXT PRIMARY KEY,
    source_id      INTEGER NOT NULL REFERENCES sources(source_id),
    title          TEXT,
    authors        TEXT NOT NULL DEFAULT '[]',   -- JSON list
    year           INTEGER,
    venue          TEXT,
    volume         TEXT,
    issue          TEXT,
    pages          TEXT,
    publisher      TEXT,
    doi            TEXT,
    pmid           TEXT,
    url            TEXT,
    abstract       TEXT,
    keywords       TEXT NOT NULL DEFAULT '[]',   -- JSON list
    language       TEXT,
    pub_type       TEXT,
    grey           INTEGER,
    label_included INTEGER,
    source_key     TEXT,
    source_file    TEXT NOT NULL,
    source_format  TEXT NOT NULL,
    database       TEXT,
    position       INTEGER,
    line           INTEGER,
    extra          TEXT NOT NULL DEFAULT '{}'    -- JSON object
);
CREATE INDEX records_doi ON records(doi);
CREATE INDEX records_pmid ON records(pmid);
CREATE INDEX records_source_key ON records(source_key);
CREATE INDEX records_source ON records(source_id);

-- Also a record in another source: the same record id seen again (kept as provenance).
CREATE TABLE record_sightings (
    record_id  TEXT NOT NULL REFERENCES records(record_id),
    source_id  INTEGER NOT NULL REFERENCES sources(source_id),
    position   INTEGER,
    line       INTEGER,
    PRIMARY KEY (record_id, source_id, position)
);

CREATE TABLE import_failures (
    failure_id INTEGER PRIMARY KEY,
    source_id  INTEGER REFERENCES sources(source_id),
    file       TEXT NOT NULL,
    line       INTEGER,
    record     INTEGER,
    reason     TEXT NOT NULL,
    raw        TEXT
);

-- Duplicate groups are derived (recomputed after each import from the records and the
-- reviewers' group events); the pairs keep the evidence for each link.
CREATE TABLE duplicate_groups (
    record_id  TEXT PRIMARY KEY REFERENCES records(record_id),
    group_id   TEXT NOT NULL,
    is_kept    INTEGER NOT NULL
);
CREATE INDEX duplicate_groups_group ON duplicate_groups(group_id);

CREATE TABLE duplicate_pairs (
    record_a     TEXT NOT NULL,
    record_b     TEXT NOT NULL,
    rule         TEXT NOT NULL,
    score        REAL,
    title_score  REAL,
    author_match INTEGER,
    year_diff    INTEGER,
    PRIMARY KEY (record_a, record_b)
);

CREATE TABLE group_events (
    event_id    INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('split', 'unsplit')),
    record_a    TEXT NOT NULL,
    record_b    TEXT NOT NULL,
    reviewer    TEXT,
    note        TEXT,
    created_at  TEXT NOT NULL
);

CREATE TABLE extracts (
    extract_id  TEXT PRIMARY KEY,
    source_id   INTEGER NOT NULL REFERENCES sources(source_id),
    ref         TEXT NOT NULL,
    record_id   TEXT REFERENCES records(record_id),   -- resolved from ref (key or DOI)
    page        TEXT,
    kind        TEXT NOT NULL,
    section     TEXT,
    text        TEXT NOT NULL,
    source_file TEXT NOT NULL,
    line        INTEGER
);
CREATE INDEX extracts_record ON extracts(record_id);

CREATE TABLE fulltexts (
    record_id   TEXT PRIMARY KEY REFERENCES records(record_id),
    source_id   INTEGER NOT NULL REFERENCES sources(source_id),
    text        TEXT NOT NULL,
    chars       INTEGER NOT NULL
);

CREATE TABLE runs (
    run_id      INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,             -- import, dedupe, tag, review
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    params      TEXT NOT NULL DEFAULT '{}',
    version     TEXT NOT NULL
);

-- Tags are written by a tagging run (rule or model); re-tagging adds a new run.
CREATE TABLE tags (
    tag_id      INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(run_id),
    record_id   TEXT NOT NULL REFERENCES records(record_id),
    facet       TEXT NOT NULL,
    label       TEXT NOT NULL,
    score       REAL,
    evidence    TEXT NOT NULL DEFAULT '[]',   -- JSON list of {sentence, match, cue, field}
    source      TEXT NOT NULL,                -- rule | model
    version     TEXT NOT NULL
);
CREATE INDEX tags_record ON tags(record_id, facet);

CREATE TABLE tag_overrides (
    event_id    INTEGER PRIMARY KEY,
    record_id   TEXT NOT NULL REFERENCES records(record_id),
    facet       TEXT NOT NULL,
    label       TEXT NOT NULL,
    verdict     TEXT NOT NULL CHECK (verdict IN ('confirm', 'reject', 'set')),
    reviewer    TEXT NOT NULL,
    note        TEXT,
    created_at  TEXT NOT NULL
);

CREATE TABLE decisions (
    event_id    INTEGER PRIMARY KEY,
    stage       TEXT NOT NULL CHECK (stage IN ('title_abstract', 'full_text')),
    record_id   TEXT NOT NULL REFERENCES records(record_id),
    reviewer    TEXT NOT NULL,
    decision    TEXT NOT NULL CHECK (decision IN ('include', 'exclude', 'maybe')),
    reason      TEXT,
    note        TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX decisions_record ON decisions(record_id, stage);

CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only events: record a new decision instead'); END;
CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only events: they are never deleted'); END;
CREATE TRIGGER tag_overrides_no_update BEFORE UPDATE ON tag_overrides
BEGIN SELECT RAISE(ABORT, 'tag overrides are append-only events'); END;
CREATE TRIGGER tag_overrides_no_delete BEFORE DELETE ON tag_overrides
BEGIN SELECT RAISE(ABORT, 'tag overrides are append-only events'); END;
CREATE TRIGGER group_events_no_update BEFORE UPDATE ON group_events
BEGIN SELECT RAISE(ABORT, 'duplicate-group events are append-only'); END;
CREATE TRIGGER group_events_no_delete BEFORE DELETE ON group_events
BEGIN SELECT RAISE(ABORT, 'duplicate-group events are append-only'); END;
