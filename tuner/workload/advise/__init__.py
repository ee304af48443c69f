"""`tuner advise`: the entry point (run.py, through the lookup), its data (model.py), the
engine-neutral search (search.py) and its covering pass (widen.py), `--write` (write.py), and
advice from a capture: its reads, weights and writes (workload.py) and the rule that weighs
each index's read saving against its write cost (weigh.py)."""
