-- The same views as the profile, written with other case, quoting, spacing and comments.
CREATE TABLE Users(ID INTEGER PRIMARY KEY, UserName TEXT, Active INTEGER);
CREATE VIEW "Active_Users"("Id", [name]) AS
    select  ID,USERNAME   from "USERS"   -- only the active ones
    where ACTIVE=1;
CREATE VIEW user_count AS SELECT count(*) AS n FROM users WHERE username <> 'bot';
INSERT INTO Users(UserName, Active) VALUES ('ann', 1), ('bob', 0);
