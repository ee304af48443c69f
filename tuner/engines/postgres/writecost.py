"""What maintaining a B-tree index costs per row written, modelled for PostgreSQL.

This module owns the PostgreSQL write-cost model of `tuner advise --workload`. The advise
session is read-only (EXPLAIN and HypoPG only), so nothing is measured there: the cost of
one index entry grows with the log of the table's rows (a deeper tree, and on a large table
more of its pages outside shared buffers) and with the key's columns. The constants come from
bench/advise_writecost.py (5,000-row INSERT batches, rolled back, medians, with and without
one B-tree index, PostgreSQL 15 on the CI machine; docs/BENCHMARKS.md):

    rows        index (a int)   model    index (a int, b int)   model
    10,000      0.69 µs/row     0.65     0.83                   0.81
    200,000     1.46            1.50     1.99                   1.87
    2,000,000   2.20            2.15     3.19                   2.69

A partial index maintains only the rows its WHERE keeps: PgEvaluator.write_cost multiplies the
model by that share, as the planner estimates it. A wide text key costs up to three times the
model (a 32-character md5 text key: 1.3 to 4.7 µs per row); the table in docs/BENCHMARKS.md is
a second run (the shared machine is noisy).
"""

from __future__ import annotations

import math

#: Microseconds per row per decade of the table's rows above a thousand (one int key column).
PER_DECADE_US = 0.65
#: The smallest cost per row (microseconds): a small table's index still takes an entry.
MIN_US = 0.5
#: Each key or INCLUDE column after the first adds this share.
PER_COLUMN = 0.25


def per_row_cost(rows: int, columns: int) -> float:
    """Seconds one written row costs a B-tree index of `columns` columns on a table of
    `rows` rows (the model above)."""
    decades = math.log10(max(rows, 10)) - 3
    us = max(MIN_US, PER_DECADE_US * decades) * (1 + PER_COLUMN * max(columns - 1, 0))
    return us * 1e-6
