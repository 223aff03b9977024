-- synth review store, schema version 9: a finding judgement always names its finding and
-- its reviewer, checked by the database itself.
--
-- Migration 0007 made finding_id and reviewer NOT NULL, but an empty or blank text still
-- passed; synth.extraction.cerqual.record_judgement refuses one, and now so does the
-- table, whatever writes to it. (component and level were already bound to their lists by
-- CHECKs, so neither can be empty.) SQLite cannot add a CHECK to a table, so the table is
-- rebuilt: a new table with the checks, every event copied in order with its event id,
-- the old one dropped (DROP TABLE fires no triggers), the new one renamed, and its index
-- and its append-only triggers made again. No table references finding_judgements. An
-- event with an empty finding or reviewer (only a hand edit could have written one) stops
-- the migration with a CHECK error rather than being dropped or changed.

CREATE TABLE finding_judgements_checked (
    event_id    INTEGER PRIMARY KEY,
    finding_id  TEXT NOT NULL CHECK (length(trim(finding_id)) > 0),
    component   TEXT NOT NULL CHECK (component IN (
                    'methodological_limitations', 'coherence', 'adequacy', 'relevance',
                    'overall')),
    level       TEXT,
    reviewer    TEXT NOT NULL CHECK (length(trim(reviewer)) > 0),
    note        TEXT,
    created_at  TEXT NOT NULL CHECK (length(trim(created_at)) > 0),
    CHECK (level IS NULL
           OR (component = 'overall' AND level IN ('high', 'moderate', 'low', 'very low'))
           OR (component <> 'overall' AND level IN (
                   'no or very minor concerns', 'minor concerns', 'moderate concerns',
                   'serious concerns')))
);

INSERT INTO finding_judgements_checked
    (event_id, finding_id, component, level, reviewer, note, created_at)
SELECT event_id, finding_id, component, level, reviewer, note, created_at
FROM finding_judgements ORDER BY event_id;

DROP TABLE finding_judgements;
ALTER TABLE finding_judgements_checked RENAME TO finding_judgements;

CREATE INDEX finding_judgements_finding ON finding_judgements(finding_id, component, event_id);

CREATE TRIGGER finding_judgements_no_update BEFORE UPDATE ON finding_judgements
BEGIN SELECT RAISE(ABORT, 'finding judgements are append-only events: record a new one instead'); END;
CREATE TRIGGER finding_judgements_no_delete BEFORE DELETE ON finding_judgements
BEGIN SELECT RAISE(ABORT, 'finding judgements are append-only events: they are never deleted'); END;
