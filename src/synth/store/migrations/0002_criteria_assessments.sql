-- synth review store, schema version 2: the tagger's criteria assessment and the decision
-- it suggests, per tagging run. Both are derived (a new run adds new rows); what a
-- reviewer decides goes to `decisions` as an event and is never overwritten by re-tagging.

CREATE TABLE criteria_assessments (
    run_id      INTEGER NOT NULL REFERENCES runs(run_id),
    record_id   TEXT NOT NULL REFERENCES records(record_id),
    criterion   TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('inclusion', 'exclusion')),
    status      TEXT NOT NULL CHECK (status IN ('met', 'not_met', 'unclear')),
    score       REAL,
    evidence    TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (run_id, record_id, criterion)
);

CREATE TABLE suggestions (
    run_id      INTEGER NOT NULL REFERENCES runs(run_id),
    record_id   TEXT NOT NULL REFERENCES records(record_id),
    decision    TEXT NOT NULL CHECK (decision IN ('include', 'exclude', 'unclear')),
    reason      TEXT,
    explanation TEXT,
    PRIMARY KEY (run_id, record_id)
);

CREATE INDEX tags_run ON tags(run_id);
