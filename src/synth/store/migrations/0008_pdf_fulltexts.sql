-- synth review store: full texts read from PDFs, and their links to the records.
--
-- A PDF is stored once per content (`sha256`): importing the same file again adds nothing.
--   file       the path as given, relative to the folder it was imported from (or its name)
--   pages      pages read; chars: characters of the text (pages joined)
--   title, doi, year, authors (JSON list), abstract: what the reader found on the first
--              pages or in the document's metadata (NULL: not found)
-- `pdf_pages` holds each page's text (1-based), so page-aware code can say "p. 4";
-- `pdf_sections` the sections the headings allowed (abstract, methods, results, ...).
--
-- Which record a PDF is the full text of is an append-only event log, like the screening
-- decisions: synth's linker writes an automatic event (reviewer NULL) with the rule that
-- matched ('doi', 'title', or 'own-record' when no reference matched and the PDF became a
-- record of its own) and its score; a reviewer writes 'manual' events (link to a record,
-- or unlink). The current link is derived: the latest reviewer event if there is one,
-- else the latest automatic one. The linker never writes for a PDF a reviewer decided.

CREATE TABLE pdf_files (
    pdf_id       INTEGER PRIMARY KEY,
    sha256       TEXT NOT NULL UNIQUE,
    file         TEXT NOT NULL CHECK (length(file) > 0),
    size         INTEGER NOT NULL,
    pages        INTEGER NOT NULL,
    chars        INTEGER NOT NULL,
    title        TEXT,
    doi          TEXT,
    year         INTEGER,
    authors      TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(authors)),
    abstract     TEXT,
    imported_at  TEXT NOT NULL
);
CREATE INDEX pdf_files_doi ON pdf_files(doi);

CREATE TABLE pdf_pages (
    pdf_id  INTEGER NOT NULL REFERENCES pdf_files(pdf_id),
    page    INTEGER NOT NULL CHECK (page >= 1),
    text    TEXT NOT NULL,
    PRIMARY KEY (pdf_id, page)
);

CREATE TABLE pdf_sections (
    pdf_id    INTEGER NOT NULL REFERENCES pdf_files(pdf_id),
    position  INTEGER NOT NULL,
    name      TEXT NOT NULL,
    page      INTEGER NOT NULL,
    text      TEXT NOT NULL,
    PRIMARY KEY (pdf_id, position)
);

CREATE TABLE fulltext_link_events (
    event_id    INTEGER PRIMARY KEY,
    pdf_id      INTEGER NOT NULL REFERENCES pdf_files(pdf_id),
    record_id   TEXT REFERENCES records_all(record_id),
    action      TEXT NOT NULL CHECK (action IN ('link', 'unlink')),
    rule        TEXT NOT NULL CHECK (rule IN ('doi', 'title', 'manual', 'own-record')),
    score       REAL,
    reviewer    TEXT CHECK (reviewer IS NULL OR length(reviewer) > 0),
    note        TEXT,
    created_at  TEXT NOT NULL,
    CHECK ((action = 'link') = (record_id IS NOT NULL)),
    CHECK ((rule = 'manual') = (reviewer IS NOT NULL)),
    CHECK (action = 'link' OR rule = 'manual')
);
CREATE INDEX fulltext_link_events_pdf ON fulltext_link_events(pdf_id, event_id);
CREATE INDEX fulltext_link_events_record ON fulltext_link_events(record_id);

CREATE TRIGGER fulltext_link_events_no_update BEFORE UPDATE ON fulltext_link_events
BEGIN SELECT RAISE(ABORT, 'full-text link events are append-only: record a new one instead'); END;
CREATE TRIGGER fulltext_link_events_no_delete BEFORE DELETE ON fulltext_link_events
BEGIN SELECT RAISE(ABORT, 'full-text link events are append-only: they are never deleted'); END;
