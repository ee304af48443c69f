CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT);
CREATE INDEX t_ab ON t(a);
INSERT INTO t(a, b) VALUES (1, 'x'), (2, 'y'), (2, 'z');
