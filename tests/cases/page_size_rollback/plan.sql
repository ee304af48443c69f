-- Phase 2: settings that cannot run inside a transaction

-- tuner:step 1 kind=set_pragma transactional=false destructive=false object="page_size"
-- reason: page_size: 4096 -> 16384 (takes effect at the VACUUM below)
PRAGMA page_size = 16384;

-- tuner:step 2 kind=vacuum transactional=false destructive=false object="database"
-- reason: rebuild the file so that page_size takes effect
VACUUM;
