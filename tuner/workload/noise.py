"""Whether two samples of timings differ beyond noise, and how a change of time is worded.

This module owns the one statistical test `tuner bench --compare` applies to every ratio it
reports: a two-sided Mann-Whitney U test (rank-based, so one slow outlier run cannot make a
difference look real) at the 5% level, exact for small samples and the normal approximation
for large ones. Its main use is telling the user that too few runs were made: three runs a
side can never be told apart (the smallest two-sided p-value of 3 against 3 is 2/20 = 0.1),
so an identical copy timed "1.6x faster" with --runs 3 is reported as within noise.
"""

from __future__ import annotations

import math
from functools import cache

ALPHA = 0.05
#: Above this many pairs (n x m) the exact distribution is replaced by the normal one.
EXACT_PAIRS = 900


def within_noise(a: list[float], b: list[float], alpha: float = ALPHA) -> bool:
    """True when samples `a` and `b` are not told apart at level `alpha` (or are empty)."""
    return not a or not b or p_value(a, b) >= alpha


def p_value(a: list[float], b: list[float]) -> float:
    """The two-sided Mann-Whitney p-value of `a` against `b` (ties take mid-ranks)."""
    n, m = len(a), len(b)
    u = _u_statistic(a, b)
    low = min(u, n * m - u)
    if n * m <= EXACT_PAIRS:
        counts = _u_counts(n, m)
        at_most = sum(counts[: math.floor(low) + 1])
        return min(1.0, 2 * at_most / math.comb(n + m, n))
    merged = sorted(a + b)
    ties = sum(t**3 - t for t in _tie_sizes(merged))
    var = n * m / 12 * ((n + m + 1) - ties / ((n + m) * (n + m - 1)))
    if var <= 0:
        return 1.0
    z = (n * m / 2 - low - 0.5) / math.sqrt(var)  # continuity correction
    return min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2)))


def change_words(before: float, after: float) -> str:
    """A change of time in words: "1.58x slower", "1.58x faster" or "the same"."""
    if before <= 0 or after <= 0:
        return "-"
    ratio = after / before
    if round(ratio, 2) == 1.0:
        return "the same"
    return f"{ratio:.2f}x slower" if ratio > 1 else f"{1 / ratio:.2f}x faster"


def _u_statistic(a: list[float], b: list[float]) -> float:
    """U of `a`: the pairs (x in a, y in b) with x > y, a tie counting one half."""
    return sum(1.0 if x > y else 0.5 if x == y else 0.0 for x in a for y in b)


def _tie_sizes(ordered: list[float]) -> list[int]:
    sizes, run = [], 1
    for prev, cur in zip(ordered, ordered[1:], strict=False):
        if cur == prev:
            run += 1
        else:
            sizes.append(run)
            run = 1
    sizes.append(run)
    return sizes


@cache
def _u_counts(n: int, m: int) -> tuple[int, ...]:
    """How many of the C(n+m, n) orderings give U = 0, 1, ..., n*m (no ties)."""
    if n == 0 or m == 0:
        return (1,)
    with_last_of_a = _u_counts(n - 1, m)  # the largest value is in a: it beats all m of b
    with_last_of_b = _u_counts(n, m - 1)
    counts = [0] * (n * m + 1)
    for u, c in enumerate(with_last_of_a):
        counts[u + m] += c
    for u, c in enumerate(with_last_of_b):
        counts[u] += c
    return tuple(counts)
