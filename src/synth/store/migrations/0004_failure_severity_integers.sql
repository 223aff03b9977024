-- synth review store, schema version 4: failures-report severities, and integers that
-- were stored as BLOBs put back as integers.
--
-- `import_failures.severity`: 'error' (the record or file was not imported: all rows so
-- far) or 'warning' (imported, but something needs a look, e.g. a record with a DOI and no
-- title). `sources.n_failures` counts errors; `sources.n_warnings` counts warnings.
--
-- Before this version a numpy integer handed to sqlite3 was bound as its raw bytes (a
-- BLOB: `b'\x02\x00...'` in `synth failures`). Such a value is the integer's bytes,
-- little-endian (8 bytes for int64, fewer for smaller types); each UPDATE below reads a
-- BLOB in an integer column back as that integer: byte i of hex() is added, shifted by
-- 8 * i bits. synth now converts numpy scalars on the way in (synth/store/adapters.py).

ALTER TABLE import_failures ADD COLUMN severity TEXT NOT NULL DEFAULT 'error'
    CHECK (severity IN ('error', 'warning'));
ALTER TABLE sources ADD COLUMN n_warnings INTEGER NOT NULL DEFAULT 0;

UPDATE OR REPLACE import_failures SET line = (
    WITH RECURSIVE b(i, v) AS (
        SELECT 0, 0
        UNION ALL
        SELECT i + 1, v + (((instr('0123456789ABCDEF', substr(hex(import_failures.line), 2 * i + 1, 1)) - 1) * 16
                          + instr('0123456789ABCDEF', substr(hex(import_failures.line), 2 * i + 2, 1)) - 1)
                          << (8 * i))
        FROM b WHERE i < length(import_failures.line)
    )
    SELECT v FROM b ORDER BY i DESC LIMIT 1
) WHERE typeof(line) = 'blob';

UPDATE OR REPLACE import_failures SET record = (
    WITH RECURSIVE b(i, v) AS (
        SELECT 0, 0
        UNION ALL
        SELECT i + 1, v + (((instr('0123456789ABCDEF', substr(hex(import_failures.record), 2 * i + 1, 1)) - 1) * 16
                          + instr('0123456789ABCDEF', substr(hex(import_failures.record), 2 * i + 2, 1)) - 1)
                          << (8 * i))
        FROM b WHERE i < length(import_failures.record)
    )
    SELECT v FROM b ORDER BY i DESC LIMIT 1
) WHERE typeof(record) = 'blob';

UPDATE OR REPLACE record_sightings SET position = (
    WITH RECURSIVE b(i, v) AS (
        SELECT 0, 0
        UNION ALL
        SELECT i + 1, v + (((instr('0123456789ABCDEF', substr(hex(record_sightings.position), 2 * i + 1, 1)) - 1) * 16
                          + instr('0123456789ABCDEF', substr(hex(record_sightings.position), 2 * i + 2, 1)) - 1)
                          << (8 * i))
        FROM b WHERE i < length(record_sightings.position)
    )
    SELECT v FROM b ORDER BY i DESC LIMIT 1
) WHERE typeof(position) = 'blob';

UPDATE OR REPLACE record_sightings SET line = (
    WITH RECURSIVE b(i, v) AS (
        SELECT 0, 0
        UNION ALL
        SELECT i + 1, v + (((instr('0123456789ABCDEF', substr(hex(record_sightings.line), 2 * i + 1, 1)) - 1) * 16
                          + instr('0123456789ABCDEF', substr(hex(record_sightings.line), 2 * i + 2, 1)) - 1)
                          << (8 * i))
        FROM b WHERE i < length(record_sightings.line)
    )
    SELECT v FROM b ORDER BY i DESC LIMIT 1
) WHERE typeof(line) = 'blob';

UPDATE OR REPLACE records SET year = (
    WITH RECURSIVE b(i, v) AS (
        SELECT 0, 0
        UNION ALL
        SELECT i + 1, v + (((instr('0123456789ABCDEF', substr(hex(records.year), 2 * i + 1, 1)) - 1) * 16
                          + instr('0123456789ABCDEF', substr(hex(records.year), 2 * i + 2, 1)) - 1)
                          << (8 * i))
        FROM b WHERE i < length(records.year)
    )
    SELECT v FROM b ORDER BY i DESC LIMIT 1
) WHERE typeof(year) = 'blob';

UPDATE OR REPLACE records SET position = (
    WITH RECURSIVE b(i, v) AS (
        SELECT 0, 0
        UNION ALL
        SELECT i + 1, v + (((instr('0123456789ABCDEF', substr(hex(records.position), 2 * i + 1, 1)) - 1) * 16
                          + instr('0123456789ABCDEF', substr(hex(records.position), 2 * i + 2, 1)) - 1)
                          << (8 * i))
        FROM b WHERE i < length(records.position)
    )
    SELECT v FROM b ORDER BY i DESC LIMIT 1
) WHERE typeof(position) = 'blob';

UPDATE OR REPLACE records SET line = (
    WITH RECURSIVE b(i, v) AS (
        SELECT 0, 0
        UNION ALL
        SELECT i + 1, v + (((instr('0123456789ABCDEF', substr(hex(records.line), 2 * i + 1, 1)) - 1) * 16
                          + instr('0123456789ABCDEF', substr(hex(records.line), 2 * i + 2, 1)) - 1)
                          << (8 * i))
        FROM b WHERE i < length(records.line)
    )
    SELECT v FROM b ORDER BY i DESC LIMIT 1
) WHERE typeof(line) = 'blob';

UPDATE OR REPLACE records SET label_included = (
    WITH RECURSIVE b(i, v) AS (
        SELECT 0, 0
        UNION ALL
        SELECT i + 1, v + (((instr('0123456789ABCDEF', substr(hex(records.label_included), 2 * i + 1, 1)) - 1) * 16
                          + instr('0123456789ABCDEF', substr(hex(records.label_included), 2 * i + 2, 1)) - 1)
                          << (8 * i))
        FROM b WHERE i < length(records.label_included)
    )
    SELECT v FROM b ORDER BY i DESC LIMIT 1
) WHERE typeof(label_included) = 'blob';

UPDATE OR REPLACE records SET grey = (
    WITH RECURSIVE b(i, v) AS (
        SELECT 0, 0
        UNION ALL
        SELECT i + 1, v + (((instr('0123456789ABCDEF', substr(hex(records.grey), 2 * i + 1, 1)) - 1) * 16
                          + instr('0123456789ABCDEF', substr(hex(records.grey), 2 * i + 2, 1)) - 1)
                          << (8 * i))
        FROM b WHERE i < length(records.grey)
    )
    SELECT v FROM b ORDER BY i DESC LIMIT 1
) WHERE typeof(grey) = 'blob';

UPDATE OR REPLACE extracts SET line = (
    WITH RECURSIVE b(i, v) AS (
        SELECT 0, 0
        UNION ALL
        SELECT i + 1, v + (((instr('0123456789ABCDEF', substr(hex(extracts.line), 2 * i + 1, 1)) - 1) * 16
                          + instr('0123456789ABCDEF', substr(hex(extracts.line), 2 * i + 2, 1)) - 1)
                          << (8 * i))
        FROM b WHERE i < length(extracts.line)
    )
    SELECT v FROM b ORDER BY i DESC LIMIT 1
) WHERE typeof(line) = 'blob';

UPDATE OR REPLACE fulltexts SET chars = (
    WITH RECURSIVE b(i, v) AS (
        SELECT 0, 0
        UNION ALL
        SELECT i + 1, v + (((instr('0123456789ABCDEF', substr(hex(fulltexts.chars), 2 * i + 1, 1)) - 1) * 16
                          + instr('0123456789ABCDEF', substr(hex(fulltexts.chars), 2 * i + 2, 1)) - 1)
                          << (8 * i))
        FROM b WHERE i < length(fulltexts.chars)
    )
    SELECT v FROM b ORDER BY i DESC LIMIT 1
) WHERE typeof(chars) = 'blob';

UPDATE OR REPLACE duplicate_groups SET is_kept = (
    WITH RECURSIVE b(i, v) AS (
        SELECT 0, 0
        UNION ALL
        SELECT i + 1, v + (((instr('0123456789ABCDEF', substr(hex(duplicate_groups.is_kept), 2 * i + 1, 1)) - 1) * 16
                          + instr('0123456789ABCDEF', substr(hex(duplicate_groups.is_kept), 2 * i + 2, 1)) - 1)
                          << (8 * i))
        FROM b WHERE i < length(duplicate_groups.is_kept)
    )
    SELECT v FROM b ORDER BY i DESC LIMIT 1
) WHERE typeof(is_kept) = 'blob';

UPDATE OR REPLACE duplicate_pairs SET author_match = (
    WITH RECURSIVE b(i, v) AS (
        SELECT 0, 0
        UNION ALL
        SELECT i + 1, v + (((instr('0123456789ABCDEF', substr(hex(duplicate_pairs.author_match), 2 * i + 1, 1)) - 1) * 16
                          + instr('0123456789ABCDEF', substr(hex(duplicate_pairs.author_match), 2 * i + 2, 1)) - 1)
                          << (8 * i))
        FROM b WHERE i < length(duplicate_pairs.author_match)
    )
    SELECT v FROM b ORDER BY i DESC LIMIT 1
) WHERE typeof(author_match) = 'blob';

UPDATE OR REPLACE duplicate_pairs SET year_diff = (
    WITH RECURSIVE b(i, v) AS (
        SELECT 0, 0
        UNION ALL
        SELECT i + 1, v + (((instr('0123456789ABCDEF', substr(hex(duplicate_pairs.year_diff), 2 * i + 1, 1)) - 1) * 16
                          + instr('0123456789ABCDEF', substr(hex(duplicate_pairs.year_diff), 2 * i + 2, 1)) - 1)
                          << (8 * i))
        FROM b WHERE i < length(duplicate_pairs.year_diff)
    )
    SELECT v FROM b ORDER BY i DESC LIMIT 1
) WHERE typeof(year_diff) = 'blob';
