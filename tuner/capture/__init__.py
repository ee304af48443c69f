"""Workload capture: record every statement an application runs, aggregated per statement
shape, into an SQLite capture file. Engine-independent: the engine only names the SQL dialect.
"""
