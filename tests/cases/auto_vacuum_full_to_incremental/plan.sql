-- Phase 2: settings that cannot run inside a transaction

-- tuner:step 1 kind=set_pragma transactional=false destructive=false object="auto_vacuum"
-- reason: auto_vacuum: full -> incremental
PRAGMA auto_vacuum = incremental;
