-- Phase 1: transactional DDL, all or nothing
BEGIN IMMEDIATE;

-- tuner:step 1 kind=set_setting transactional=true destructive=false object="user_version"
-- reason: user_version: 0 -> 7
PRAGMA user_version = 7;

COMMIT;

-- Phase 2: settings that cannot run inside a transaction

-- tuner:step 2 kind=set_pragma transactional=false destructive=false object="auto_vacuum"
-- reason: auto_vacuum: none -> incremental (takes effect at the VACUUM below)
PRAGMA auto_vacuum = incremental;

-- tuner:step 3 kind=set_pragma transactional=false destructive=false object="page_size"
-- reason: page_size: 4096 -> 8192 (takes effect at the VACUUM below)
PRAGMA page_size = 8192;

-- tuner:step 4 kind=vacuum transactional=false destructive=false object="database"
-- reason: rebuild the file so that auto_vacuum, page_size take effect
VACUUM;

-- tuner:step 5 kind=set_pragma transactional=false destructive=false object="journal_mode"
-- reason: journal_mode: delete -> wal
PRAGMA journal_mode = wal;
