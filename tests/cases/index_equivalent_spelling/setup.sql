-- The same indexes as the profile, written with other case, quoting and spacing.
CREATE TABLE Users(id INTEGER PRIMARY KEY, UserName TEXT, score INTEGER, kind TEXT);
CREATE INDEX "Users_Name"   ON   users ( "USERNAME"  COLLATE nocase , [Score] desc );
CREATE INDEX users_lower ON "USERS"(LOWER( username ))   WHERE kind   =   'bot'AND score>0;
INSERT INTO Users(UserName, score, kind) VALUES ('Ann', 3, 'bot'), ('bob', 0, 'human');
