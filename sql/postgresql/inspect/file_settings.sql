-- What the configuration files say (postgresql.conf, conf.d, postgresql.auto.conf), in the
-- order the server reads them: the last line for a name wins. Written-but-pending values of
-- restart-required settings are only visible here. Needs superuser or pg_read_all_settings.
SELECT name, setting, sourcefile, seqno, applied, error
FROM pg_catalog.pg_file_settings
ORDER BY seqno
