"""The one jinja2 Environment over sql/, and the one place identifiers and literals are quoted.

Templates resolve as `sql/<engine>/<kind>.sql.j2`, falling back to `sql/common/<kind>.sql.j2`.
Everything that puts a name into SQL goes through `ident()`; values go through `literal()`;
free text in a `--` comment goes through `comment()`.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jinja2

from tuner.resources import data_dir


def ident(name: str) -> str:
    """Quote an identifier for SQLite and PostgreSQL: "name", with embedded quotes doubled."""
    return '"' + str(name).replace('"', '""') + '"'


def literal(value: Any) -> str:
    """Render a Python value as an SQL literal (strings single-quoted, booleans as 1/0)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def json_text(value: Any) -> str:
    """A value as JSON for a plan's step marker. jinja2's `tojson` is for HTML and writes `'`
    as `\\u0027`; here only what JSON itself needs is escaped (line breaks included)."""
    return json.dumps(value, ensure_ascii=False)


def comment(text: Any) -> str:
    """Text made safe for one `--` SQL comment line: each line break becomes a space, so a
    multi-line WHERE clause quoted in a reason cannot leave the comment and run as SQL."""
    return " ".join(line.strip() for line in str(text).splitlines())


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The shared Environment: strict undefined variables, no HTML escaping."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("sql"))),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["ident"] = ident
    env.filters["literal"] = literal
    env.filters["comment"] = comment
    env.filters["json"] = json_text
    return env


def render(engine: str, kind: str, **context: Any) -> str:
    """Render the template for `kind` on `engine`, stripped of surrounding blank lines."""
    template = environment().select_template(
        [f"{engine}/{kind}.sql.j2", f"common/{kind}.sql.j2"]
    )
    return template.render(**context).strip()
