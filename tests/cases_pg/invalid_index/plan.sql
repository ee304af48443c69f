-- Phase 1: views in one transaction, then indexes one statement at a time (CONCURRENTLY cannot run in a transaction)

-- tuner:step 1 kind=drop_index transactional=false destructive=false object="subscriptions_user_chat"
-- reason: definition differs: the live index is INVALID (indisvalid = false: a failed concurrent build left it; queries never use it and IF NOT EXISTS would skip it); unique true -> false
DROP INDEX CONCURRENTLY IF EXISTS "public"."subscriptions_user_chat";

-- tuner:step 2 kind=replace_index transactional=false destructive=false object="subscriptions_user_chat"
-- reason: definition differs: the live index is INVALID (indisvalid = false: a failed concurrent build left it; queries never use it and IF NOT EXISTS would skip it); unique true -> false
CREATE INDEX CONCURRENTLY IF NOT EXISTS "subscriptions_user_chat" ON "public"."subscriptions" ("user_id", "chat_id");

-- Phase 3: statistics

-- tuner:step 3 kind=analyze transactional=false destructive=false object="subscriptions"
-- reason: refresh planner statistics after index changes
ANALYZE "public"."subscriptions";
