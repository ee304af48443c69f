-- The tuner capture file, format version 1: an SQLite database that tuner.capture writes and
-- users may query. Several processes merge into one file: each flush is one BEGIN IMMEDIATE
-- transaction of the upserts in merge_*.sql, in WAL mode.
--
-- meta: format = 'tuner-capture', version = '1', engine ('sqlite' or 'postgresql'),
-- created_at (UTC, ISO 8601), created_by (the tuner version).
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- One row per statement shape (the fingerprint of its normalized text). Times are seconds.
-- With sampling, calls, total_s and rows are estimates (each timed execution counts 1/sample
-- times); observed is the number of executions actually timed.
CREATE TABLE IF NOT EXISTS statements (
    fingerprint   TEXT PRIMARY KEY,   -- 16 hex digits of the SHA-1 of text
    kind          TEXT NOT NULL,      -- select insert upsert update delete merge ddl
                                      -- transaction pragma other unparsed
    text          TEXT NOT NULL,      -- normalized: values are placeholders, IN-lists folded
    reads         TEXT NOT NULL,      -- JSON array of the tables it reads
    writes        TEXT NOT NULL,      -- JSON array of the tables it writes
    calls         INTEGER NOT NULL,
    observed      INTEGER NOT NULL,
    total_s       REAL NOT NULL,
    max_s         REAL NOT NULL,
    rows          INTEGER NOT NULL,   -- rows returned or changed, where the driver said
    sample_sql    TEXT,               -- the raw text of the slowest execution seen
    sample_params TEXT,               -- its parameters, as JSON
    first_seen    TEXT NOT NULL,      -- UTC, ISO 8601
    last_seen     TEXT NOT NULL
);

-- A latency histogram per statement: `calls` executions took less than 2^bucket
-- microseconds (and at least 2^(bucket-1); bucket 0: under one microsecond).
CREATE TABLE IF NOT EXISTS latency (
    fingerprint TEXT NOT NULL,
    bucket      INTEGER NOT NULL,
    calls       INTEGER NOT NULL,
    PRIMARY KEY (fingerprint, bucket)
) WITHOUT ROWID;

-- Statements the parser could not read (their statements row has kind 'unparsed' and a
-- fallback text): the parser's message and one raw text.
CREATE TABLE IF NOT EXISTS unparsed (
    fingerprint TEXT PRIMARY KEY,
    error       TEXT NOT NULL,
    sample_sql  TEXT NOT NULL
);
