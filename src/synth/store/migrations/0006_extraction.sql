-- synth review store: data extraction and appraisal as append-only events.
--
-- One row per saved field of a form (an extraction form or an appraisal tool), like the
-- screening `decisions`: a change of mind is a new event (the latest per reviewer wins),
-- so the log keeps every value a field ever had, who gave it and when.
--   value     the field's value as JSON text; NULL = the reviewer cleared the field
--             (a consensus with NULL value: the reviewers settled on "no value").
--   kind      'value'      a reviewer's own value;
--             'consensus'  the value two extractors settled on (the latest one stands).
--   source    'reviewer' (typed by the reviewer) or 'accepted-suggestion' (the tagger's
--             pre-filled value, accepted as it was).
-- `form_id` and `field_id` are not checked against a form here: a form is a data file
-- that may be edited later, and a value that no longer fits it is kept and flagged by the
-- reading code, never refused or dropped. `record_id` is the record the reviewer saw;
-- reading code maps it to the kept record of its duplicate group at query time. (It
-- references `records_all`: since version 5 `records` is a view of complete imports.)

CREATE TABLE extraction_events (
    event_id    INTEGER PRIMARY KEY,
    record_id   TEXT NOT NULL REFERENCES records_all(record_id),
    form_id     TEXT NOT NULL CHECK (length(form_id) > 0),
    field_id    TEXT NOT NULL CHECK (length(field_id) > 0),
    value       TEXT CHECK (value IS NULL OR json_valid(value)),
    reviewer    TEXT NOT NULL CHECK (length(reviewer) > 0),
    kind        TEXT NOT NULL DEFAULT 'value' CHECK (kind IN ('value', 'consensus')),
    source      TEXT NOT NULL DEFAULT 'reviewer'
                CHECK (source IN ('reviewer', 'accepted-suggestion')),
    created_at  TEXT NOT NULL
);

CREATE INDEX extraction_events_form ON extraction_events(form_id, record_id, field_id);
CREATE INDEX extraction_events_record ON extraction_events(record_id);

CREATE TRIGGER extraction_events_no_update BEFORE UPDATE ON extraction_events
BEGIN SELECT RAISE(ABORT, 'extraction events are append-only: record a new value instead'); END;
CREATE TRIGGER extraction_events_no_delete BEFORE DELETE ON extraction_events
BEGIN SELECT RAISE(ABORT, 'extraction events are append-only: they are never deleted'); END;
