-- ALTER DATABASE ... SET and ALTER ROLE ... [IN DATABASE ...] SET values that apply to new
-- sessions of this database. setrole = 0: the database itself; setdatabase = 0: every database.
SELECT COALESCE(r.rolname, '') AS role, s.setdatabase <> 0 AS in_database,
       unnest(s.setconfig) AS item
FROM pg_catalog.pg_db_role_setting s
LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
WHERE s.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database
                            WHERE datname = current_database()))
ORDER BY 1, 2
