CREATE TABLE users(id INTEGER PRIMARY KEY, username TEXT, active INTEGER);
CREATE VIEW active_users AS SELECT id, username FROM users WHERE active = 1;
-- DROP VIEW drops this trigger with the view: the plan must restore it, verbatim.
CREATE TRIGGER active_users_insert INSTEAD OF INSERT ON active_users
BEGIN
    INSERT INTO users(username, active) VALUES (NEW.username, 1);
END;
-- A trigger on a table is never touched.
CREATE TRIGGER users_no_empty BEFORE INSERT ON users WHEN NEW.username = ''
BEGIN
    SELECT RAISE(ABORT, 'empty username');
END;
INSERT INTO users(username, active) VALUES ('ann', 1), ('bob', 0);
