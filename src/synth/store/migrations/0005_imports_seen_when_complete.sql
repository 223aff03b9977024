-- synth review store, schema version 5: a file is imported in short transactions (so a
-- reviewer's decision never waits long for the write lock) and still seen all or nothing.
--
-- `sources.complete` is 0 while a file's rows are being written and 1 once all are: the
-- import commits the `sources` row first (complete = 0), its records, sightings, failures,
-- extracts and full texts in short transactions, and sets complete = 1 last. Rows of an
-- import killed midway stay with complete = 0 until the next import removes them.
--
-- The tables become `<name>_all` (every row written) and `<name>` is a view of the rows of
-- complete sources, so every reader's SQL stays as it was and none can see a half-imported
-- file. Only imports write the `_all` tables. Foreign keys from other tables (decisions,
-- tags, duplicate_groups, ...) follow the renamed tables (SQLite rewrites REFERENCES on
-- RENAME); indexes follow their tables. An INSERT into the `sources` or `records` view
-- still works (a trigger writes the table; such a source is complete).

ALTER TABLE sources ADD COLUMN complete INTEGER NOT NULL DEFAULT 1 CHECK (complete IN (0, 1));

ALTER TABLE sources RENAME TO sources_all;
ALTER TABLE records RENAME TO records_all;
ALTER TABLE record_sightings RENAME TO record_sightings_all;
ALTER TABLE import_failures RENAME TO import_failures_all;
ALTER TABLE extracts RENAME TO extracts_all;
ALTER TABLE fulltexts RENAME TO fulltexts_all;

-- removing what a killed import left, source by source
CREATE INDEX record_sightings_source ON record_sightings_all(source_id);
CREATE INDEX import_failures_source ON import_failures_all(source_id);

-- `+source_id`: the filter is checked on each row and never chosen to drive a query (the
-- planner would otherwise walk a table by its source index, e.g. records under a join of
-- duplicate_pairs, 3-4 times slower than the plans before this version).
CREATE VIEW sources AS
SELECT source_id, sha256, name, path, format, database, encoding, encoding_how, size,
       n_records, n_failures, n_new, imported_at, n_warnings
FROM sources_all WHERE complete = 1;

CREATE VIEW records AS
SELECT * FROM records_all
WHERE +source_id IN (SELECT source_id FROM sources_all WHERE complete = 1);

CREATE VIEW record_sightings AS
SELECT * FROM record_sightings_all
WHERE +source_id IN (SELECT source_id FROM sources_all WHERE complete = 1);

-- a file that could not be read at all has no source (source_id NULL): always shown
CREATE VIEW import_failures AS
SELECT * FROM import_failures_all
WHERE source_id IS NULL OR +source_id IN (SELECT source_id FROM sources_all WHERE complete = 1);

CREATE VIEW extracts AS
SELECT * FROM extracts_all
WHERE +source_id IN (SELECT source_id FROM sources_all WHERE complete = 1);

CREATE VIEW fulltexts AS
SELECT * FROM fulltexts_all
WHERE +source_id IN (SELECT source_id FROM sources_all WHERE complete = 1);

CREATE TRIGGER sources_insert INSTEAD OF INSERT ON sources
BEGIN
    INSERT INTO sources_all (source_id, sha256, name, path, format, database, encoding,
                             encoding_how, size, n_records, n_failures, n_new, imported_at,
                             n_warnings, complete)
    VALUES (NEW.source_id, NEW.sha256, NEW.name, NEW.path, NEW.format, NEW.database,
            NEW.encoding, NEW.encoding_how, NEW.size, NEW.n_records, NEW.n_failures, NEW.n_new,
            NEW.imported_at, coalesce(NEW.n_warnings, 0), 1);
END;

CREATE TRIGGER records_insert INSTEAD OF INSERT ON records
BEGIN
    INSERT INTO records_all (record_id, source_id, title, authors, year, venue, volume, issue,
                             pages, publisher, doi, pmid, url, abstract, keywords, language,
                             pub_type, grey, label_included, source_key, source_file,
                             source_format, database, position, line, extra)
    VALUES (NEW.record_id, NEW.source_id, NEW.title, coalesce(NEW.authors, '[]'), NEW.year,
            NEW.venue, NEW.volume, NEW.issue, NEW.pages, NEW.publisher, NEW.doi, NEW.pmid,
            NEW.url, NEW.abstract, coalesce(NEW.keywords, '[]'), NEW.language, NEW.pub_type,
            NEW.grey, NEW.label_included, NEW.source_key, NEW.source_file, NEW.source_format,
            NEW.database, NEW.position, NEW.line, coalesce(NEW.extra, '{}'));
END;
