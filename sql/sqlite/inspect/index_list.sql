-- The indexes of one table: name, unique, origin ('c' CREATE INDEX, 'u' UNIQUE, 'pk'), partial.
SELECT name, "unique", origin, partial FROM pragma_index_list(?) ORDER BY name
