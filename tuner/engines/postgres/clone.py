"""Owns the scratch clone `tuner bench --compare` measures on PostgreSQL: a database of its
own on the same server, `tuner_compare_<random>`, filled with `pg_dump -Fc` + `pg_restore`
and dropped when the comparison ends, on failure and Ctrl-C too.

Why not `CREATE DATABASE ... TEMPLATE <source>`: PostgreSQL refuses it while any other session
is connected to the source (https://www.postgresql.org/docs/current/manage-ag-templatedbs.html),
which a live application always is. pg_dump reads one consistent snapshot under ACCESS SHARE
locks, so the application goes on writing. The clone gets the source's encoding, collation
and its own `ALTER DATABASE ... SET` values (pg_dump leaves those out without --create), and
is VACUUMed and ANALYZEd (pg_restore carries no planner statistics and sets no
visibility map, which index-only scans need). Nothing here prints: progress goes
to `say`, and says the scratch database's name, so a user can see it exists.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tuner.engines.postgres.backup import _without_password, client_tool
from tuner.engines.postgres.conn import connect, driver, first_line, one, redact
from tuner.engines.postgres.settings import render_values
from tuner.errors import DatabaseError
from tuner.render import render

ENGINE = "postgresql"
PREFIX = "tuner_compare_"
NEEDED = "bench --compare clones the database with it"
INSTEAD = "run bench without --compare"


def with_database(url: str, name: str) -> str:
    """`url` pointing at the database `name` on the same server (query options kept)."""
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


@contextmanager
def scratch_clone(url: str, say: Callable[[str], None]) -> Iterator[tuple[str, str]]:
    """Yield (URL, name) of a fresh clone of the database at `url`; drop it afterwards."""
    psycopg = driver()
    where = redact(url)
    name = PREFIX + secrets.token_hex(4)
    with connect(url, application_name="tuner bench --compare") as conn:
        tools = [client_tool(conn, tool, NEEDED, INSTEAD) for tool in ("pg_dump", "pg_restore")]
        try:
            source = one(conn.execute(render(ENGINE, "bench/source_database")))
            conn.execute(render(ENGINE, "bench/create_scratch", name=name, encoding=source[0],
                                collate=source[1], ctype=source[2]))
        except psycopg.Error as exc:
            raise DatabaseError(where, f"cannot create the scratch database {name} for "
                                f"--compare: {first_line(exc)} (the role needs CREATEDB)") \
                from None
    clone = with_database(url, name)
    say(f"Created the scratch database {name} on the same server; it is dropped when the "
        "comparison ends.")
    try:
        say(f"Cloning {where} into {name} (pg_dump -Fc, pg_restore; the source is only "
            "read) ...")
        _dump_restore(tools[0], tools[1], url, clone, name)
        with connect(clone) as conn:
            try:
                for item in source[3]:
                    setting, _, value = item.partition("=")
                    conn.execute(render(ENGINE, "alter_database_set", database=name,
                                        name=setting, values=render_values(setting, value)))
                say(f"Vacuuming and analyzing {name} (pg_restore carries no statistics or "
                    "visibility map) ...")
                conn.execute(render(ENGINE, "bench/analyze_all"))
            except psycopg.Error as exc:
                raise DatabaseError(redact(clone), f"cannot prepare the scratch clone: "
                                    f"{first_line(exc)}") from None
        yield clone, name
    except BaseException:
        _drop(url, name, say, failing=True)
        raise
    _drop(url, name, say)


def _dump_restore(pg_dump: str, pg_restore: str, url: str, clone: str, name: str) -> None:
    """pg_dump -Fc of `url` into a temporary file, pg_restore of it into `clone`. Owners and
    grants are left out (--no-owner --no-acl): the clone is scratch, and the roles that own
    the source's objects need not be the one running tuner."""
    source, password = _without_password(url)
    target, _ = _without_password(clone)
    env = dict(os.environ)
    if password is not None:  # never on the command line, where `ps` shows it
        env["PGPASSWORD"] = password
    with tempfile.TemporaryDirectory(prefix="tuner-compare-") as tmp:
        dump = Path(tmp) / "source.dump"
        for args, what in (
                ([pg_dump, "--no-password", "--format=custom", "--file", str(dump),
                  "--dbname", source], "pg_dump of the source"),
                ([pg_restore, "--no-password", "--no-owner", "--no-acl", "--exit-on-error",
                  "--dbname", target, str(dump)], f"pg_restore into {name}")):
            done = subprocess.run(args, env=env, capture_output=True, text=True, umask=0o077)
            if done.returncode != 0:
                why = next((line for line in done.stderr.splitlines() if line.strip()),
                           "failed")
                raise DatabaseError(redact(url), f"--compare: {what} failed (exit "
                                    f"{done.returncode}): {why.strip()}")


def _drop(url: str, name: str, say: Callable[[str], None], failing: bool = False) -> None:
    """DROP the scratch database (sessions still on it are ended). A failure names it, so
    the user can drop it by hand: an error, or only a note while another error (`failing`,
    Ctrl-C included) is on its way out."""
    try:
        with connect(url, application_name="tuner bench --compare") as conn:
            conn.execute(render(ENGINE, "bench/drop_scratch", name=name))
    except (driver().Error, DatabaseError) as exc:
        detail = first_line(exc)
        if failing:
            say(f"Could not drop the scratch database {name}: {detail}; drop it with: "
                f"DROP DATABASE {name} WITH (FORCE)")
            return
        raise DatabaseError(redact(url), f"cannot drop the scratch database {name}: {detail}; "
                            f"drop it with: DROP DATABASE {name} WITH (FORCE)") from None
    say(f"Dropped the scratch database {name}.")
