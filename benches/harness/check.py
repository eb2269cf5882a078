"""Answers cross-checked between systems before any time counts.

Numbers compare with a relative tolerance of 1e-9 (float sums depend on the order rows are
added in); everything else exactly, row by row, in order (every query orders its rows or
returns one). S6's percentiles compare against the window of ranks ⌊n · 0.99⌋ ± 1 of the
true sorted values, computed by DuckDB: engines define the percentile's rank differently
(Pinot and ClickHouse take ⌊n · p⌋, DuckDB's `quantile_disc` ⌈n · p⌉ − 1, DataFusion's
`percentile_cont` interpolates between ranks of (n − 1) · p)."""

import decimal
import re


def _number(v):
    return isinstance(v, (int, float, decimal.Decimal)) and not isinstance(v, bool)


def same_value(a, b):
    if _number(a) and _number(b):
        a, b = float(a), float(b)
        return abs(a - b) <= max(1e-6, 1e-9 * max(abs(a), abs(b)))
    return a == b


def differ(got, expected):
    """None if the rows agree, else what differs first."""
    if len(got) != len(expected):
        return f"{len(got)} rows, expected {len(expected)}: {got[:3]} vs {expected[:3]}"
    for i, (g, e) in enumerate(zip(got, expected)):
        if len(g) != len(e) or not all(same_value(a, b) for a, b in zip(g, e)):
            return f"row {i}: {g} vs {e}"
    return None


SINCE = re.compile(r"ts >= (\d+)")


def percentile_windows(con, sql):
    """{device: (lowest, highest)} acceptable 99th percentiles for an S6 statement."""
    since = int(SINCE.search(sql).group(1))
    rows = con.execute(
        f"""WITH ranked AS (
              SELECT device, latency_ms,
                     row_number() OVER (PARTITION BY device ORDER BY latency_ms) - 1 AS rank,
                     count(*) OVER (PARTITION BY device) AS n
              FROM events WHERE ts >= {since})
            SELECT device,
                   min(latency_ms) FILTER (WHERE rank = greatest(floor(n * 0.99) - 1, 0)),
                   max(latency_ms) FILTER (WHERE rank = least(floor(n * 0.99) + 1, n - 1))
            FROM ranked GROUP BY device ORDER BY device"""
    ).fetchall()
    return {device: (lo, hi) for device, lo, hi in rows}


def percentile_differs(got, windows):
    if [r[0] for r in got] != sorted(windows):
        return f"devices {[r[0] for r in got]} vs {sorted(windows)}"
    for device, value in got:
        lo, hi = windows[device]
        if value is None or not lo <= float(value) <= hi:
            return f"{device}: {value} outside the ranks' window [{lo}, {hi}]"
    return None
