-- Names with spaces, double quotes, single quotes and a keyword, to prove every name is quoted.
CREATE TABLE "my ""odd"" table"(
    id INTEGER PRIMARY KEY,
    "first name" TEXT,
    "say ""hi""" TEXT,
    "order" INTEGER
);
CREATE INDEX "it's ""idx""" ON "my ""odd"" table"("first name");
INSERT INTO "my ""odd"" table"("first name", "say ""hi""", "order")
    VALUES ('ann', 'hi', 1), ('bob', 'yo', 2);
