-- Phase 2: settings that cannot run inside a transaction

-- tuner:step 1 kind=set_pragma transactional=false destructive=false object="journal_mode"
-- reason: page_size cannot change in WAL mode: leave WAL for the VACUUM
PRAGMA journal_mode = delete;

-- tuner:step 2 kind=set_pragma transactional=false destructive=false object="page_size"
-- reason: page_size: 4096 -> 8192 (takes effect at the VACUUM below)
PRAGMA page_size = 8192;

-- tuner:step 3 kind=vacuum transactional=false destructive=false object="database"
-- reason: rebuild the file so that page_size takes effect
VACUUM;

-- tuner:step 4 kind=set_pragma transactional=false destructive=false object="journal_mode"
-- reason: return to WAL after the VACUUM
PRAGMA journal_mode = wal;
