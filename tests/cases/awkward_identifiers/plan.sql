-- Phase 1: transactional DDL, all or nothing
BEGIN IMMEDIATE;

-- tuner:step 1 kind=drop_index transactional=true destructive=false object="it's \"idx\""
-- reason: definition differs: columns (first name) -> (first name, say "hi")
DROP INDEX IF EXISTS "it's ""idx""";

-- tuner:step 2 kind=replace_index transactional=true destructive=false object="it's \"idx\""
-- reason: definition differs: columns (first name) -> (first name, say "hi")
CREATE INDEX IF NOT EXISTS "it's ""idx""" ON "my ""odd"" table" ("first name", "say ""hi""");

-- tuner:step 3 kind=create_index transactional=true destructive=false object="order by \"order\""
-- reason: index missing
CREATE INDEX IF NOT EXISTS "order by ""order""" ON "my ""odd"" table" ("order" DESC, "First Name" COLLATE "nocase") WHERE "say ""hi""" <> 'it''s';

-- tuner:step 4 kind=create_view transactional=true destructive=false object="odd \"view\""
-- reason: view missing
CREATE VIEW IF NOT EXISTS "odd ""view""" ("who", "what's said") AS SELECT "first name", "say ""hi""" FROM "my ""odd"" table";

COMMIT;

-- Phase 3: statistics

-- tuner:step 5 kind=analyze transactional=false destructive=false object="my \"odd\" table"
-- reason: refresh planner statistics after index changes
ANALYZE "my ""odd"" table";
