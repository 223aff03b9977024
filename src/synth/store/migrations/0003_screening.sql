-- synth review store: screening events and saved settings.
--
-- `decisions` is rebuilt (data, ids and append-only triggers kept) so that one event log
-- with one id sequence holds every kind of screening event; a sibling table would need
-- two logs merged by timestamp to know which event came last. Columns added:
--   kind      'decision'   a reviewer's include / exclude / maybe (all rows so far);
--             'resolution' an arbiter's decision on a record the reviewers disagree on;
--             'retraction' an undo: cancels the event named in `retracts`. It is a new
--                          event, so the log keeps what was undone and when.
--   retracts  the event_id a retraction cancels (NULL for the other kinds).
-- `decision` is NULL exactly for retractions. `record_id` is the record the reviewer
-- saw; reading code maps it to the kept record of its duplicate group at query time, so
-- a decision follows the group as later imports regroup records.
--
-- `settings` keeps named JSON settings (e.g. the screening model's, for a seeded,
-- reproducible run); a save appends a row and the latest row per name is current.

CREATE TABLE decisions_v3 (
    event_id    INTEGER PRIMARY KEY,
    stage       TEXT NOT NULL CHECK (stage IN ('title_abstract', 'full_text')),
    record_id   TEXT NOT NULL REFERENCES records(record_id),
    reviewer    TEXT NOT NULL,
    kind        TEXT NOT NULL DEFAULT 'decision'
                CHECK (kind IN ('decision', 'resolution', 'retraction')),
    decision    TEXT CHECK (decision IN ('include', 'exclude', 'maybe')),
    reason      TEXT,
    note        TEXT,
    retracts    INTEGER REFERENCES decisions_v3(event_id),
    created_at  TEXT NOT NULL,
    CHECK ((kind = 'retraction') = (decision IS NULL)),
    CHECK ((kind = 'retraction') = (retracts IS NOT NULL))
);

INSERT INTO decisions_v3 (event_id, stage, record_id, reviewer, kind, decision, reason, note,
                          retracts, created_at)
SELECT event_id, stage, record_id, reviewer, 'decision', decision, reason, note, NULL, created_at
FROM decisions ORDER BY event_id;

DROP TRIGGER decisions_no_update;
DROP TRIGGER decisions_no_delete;
DROP INDEX decisions_record;
DROP TABLE decisions;
ALTER TABLE decisions_v3 RENAME TO decisions;

CREATE INDEX decisions_record ON decisions(record_id, stage);
CREATE INDEX decisions_stage ON decisions(stage, reviewer);
CREATE UNIQUE INDEX decisions_retracts ON decisions(retracts) WHERE retracts IS NOT NULL;

CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only events: record a new decision instead'); END;
CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only events: they are never deleted'); END;

CREATE TABLE settings (
    settings_id INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,   -- JSON object
    saved_at    TEXT NOT NULL
);
CREATE INDEX settings_name ON settings(name, settings_id);

CREATE TRIGGER settings_no_update BEFORE UPDATE ON settings
BEGIN SELECT RAISE(ABORT, 'settings are append-only: save them again instead'); END;
CREATE TRIGGER settings_no_delete BEFORE DELETE ON settings
BEGIN SELECT RAISE(ABORT, 'settings are append-only: save them again instead'); END;
