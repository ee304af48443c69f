-- Phase 1: transactional DDL, all or nothing
BEGIN IMMEDIATE;

-- tuner:step 1 kind=drop_index transactional=true destructive=false object="t_ab"
-- reason: definition differs: columns (a) -> (a, b)
DROP INDEX IF EXISTS "t_ab";

-- tuner:step 2 kind=replace_index transactional=true destructive=false object="t_ab"
-- reason: definition differs: columns (a) -> (a, b)
CREATE INDEX IF NOT EXISTS "t_ab" ON "t" ("a", "b");

COMMIT;

-- Phase 3: statistics

-- tuner:step 3 kind=analyze transactional=false destructive=false object="t"
-- reason: refresh planner statistics after index changes
ANALYZE "t";
