-- Phase 2: settings that cannot run inside a transaction

-- tuner:step 1 kind=set_pragma transactional=false destructive=false object="auto_vacuum"
-- reason: auto_vacuum: none -> full (takes effect at the VACUUM below)
PRAGMA auto_vacuum = full;

-- tuner:step 2 kind=vacuum transactional=false destructive=false object="database"
-- reason: rebuild the file so that auto_vacuum takes effect
VACUUM;
