-- Phase 1: transactional DDL, all or nothing
BEGIN IMMEDIATE;

-- tuner:step 1 kind=drop_view transactional=true destructive=false object="active_users"
-- reason: replaced: dropped before it is created again
DROP VIEW IF EXISTS "active_users";

-- tuner:step 2 kind=replace_view transactional=true destructive=false object="active_users"
-- reason: definition differs: columns (from SELECT) -> (id, username); query differs
CREATE VIEW IF NOT EXISTS "active_users" ("id", "username") AS SELECT id, username FROM users WHERE active <> 0;

-- tuner:step 3 kind=restore_trigger transactional=true destructive=false object="active_users_insert"
-- reason: DROP VIEW active_users dropped this INSTEAD OF trigger; restored verbatim
CREATE TRIGGER active_users_insert INSTEAD OF INSERT ON active_users
BEGIN
    INSERT INTO users(username, active) VALUES (NEW.username, 1);
END;

COMMIT;
