-- What the connected role may do with the profile's settings: ALTER SYSTEM needs superuser or
-- GRANT ALTER SYSTEM ON PARAMETER (PostgreSQL 15+); ALTER DATABASE SET needs the database's
-- owner (or superuser), and a superuser-context setting also the SET privilege on it.
SELECT p.name,
       pg_catalog.has_parameter_privilege(p.name, 'ALTER SYSTEM') AS alter_system,
       pg_catalog.has_parameter_privilege(p.name, 'SET') AS can_set,
       (SELECT pg_catalog.pg_has_role(d.datdba, 'MEMBER') FROM pg_catalog.pg_database d
        WHERE d.datname = pg_catalog.current_database()) AS owns_database,
       current_user AS role
FROM unnest(%(names)s::text[]) AS p(name)
