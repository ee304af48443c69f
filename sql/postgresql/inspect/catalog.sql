-- Every GUC the server knows, for the bundled catalog (sql/postgresql/settings.json) and for
-- checking a profile's names at plan time.
SELECT name, context, vartype, unit, min_val, max_val, enumvals
FROM pg_catalog.pg_settings
ORDER BY name
