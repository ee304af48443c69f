"""Database engines: the Engine protocol (base.py), the lookup from a name or a `--db` target to
an engine (lookup.py, the only module that imports an engine package), and one package per
engine (sqlite/, postgres/), each with the same parts."""
