-- The running value of every GUC, with what the server itself knows about it.
-- pending_restart: the configuration file holds a value that needs a restart to take effect.
SELECT name, setting, unit, vartype, context, source, boot_val, reset_val, pending_restart,
       min_val, max_val, enumvals
FROM pg_catalog.pg_settings
ORDER BY name
