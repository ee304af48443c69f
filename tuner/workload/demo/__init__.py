"""`tuner demo-db` and `tuner demo`: the demo data, and where the demo runs."""
