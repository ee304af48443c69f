-- Phase 2: settings that cannot run inside a transaction

-- tuner:step 1 kind=set_pragma transactional=false destructive=false object="journal_mode"
-- reason: journal_mode: wal -> delete
PRAGMA journal_mode = delete;
