-- synth review store: the reviewer's GRADE-CERQual judgements on each review finding.
--
-- synth suggests a level for each of a finding's four components and an overall
-- confidence (synth.extraction.cerqual); a reviewer confirms or changes each. Every
-- judgement is an append-only event: the latest event per (finding, component) stands, a
-- NULL level clears the reviewer's judgement (the suggestion stands again), and the log
-- keeps who judged what and when.
--   finding_id  the finding (a theme id of the theme codebook)
--   component   one of the four CERQual components, or 'overall'
--   level       a component's concern level, or the overall confidence for 'overall'

CREATE TABLE finding_judgements (
    event_id    INTEGER PRIMARY KEY,
    finding_id  TEXT NOT NULL,
    component   TEXT NOT NULL CHECK (component IN (
                    'methodological_limitations', 'coherence', 'adequacy', 'relevance',
                    'overall')),
    level       TEXT,
    reviewer    TEXT NOT NULL,
    note        TEXT,
    created_at  TEXT NOT NULL,
    CHECK (level IS NULL
           OR (component = 'overall' AND level IN ('high', 'moderate', 'low', 'very low'))
           OR (component <> 'overall' AND level IN (
                   'no or very minor concerns', 'minor concerns', 'moderate concerns',
                   'serious concerns')))
);
CREATE INDEX finding_judgements_finding ON finding_judgements(finding_id, component, event_id);

CREATE TRIGGER finding_judgements_no_update BEFORE UPDATE ON finding_judgements
BEGIN SELECT RAISE(ABORT, 'finding judgements are append-only events: record a new one instead'); END;
CREATE TRIGGER finding_judgements_no_delete BEFORE DELETE ON finding_judgements
BEGIN SELECT RAISE(ABORT, 'finding judgements are append-only events: they are never deleted'); END;
