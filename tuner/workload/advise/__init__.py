"""`tuner advise`: the entry point (run.py, through the lookup), its data (model.py), the
engine-neutral search (search.py) and its covering pass (widen.py), and `--write` (write.py)."""
