"""`tuner bench`: the entry points (run.py, through the lookup), the measurement loop and the
report every engine fills (measure.py), and the HTML page (html.py)."""
