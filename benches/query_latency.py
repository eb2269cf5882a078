"""DuckDB on the same rows and queries as cuvee's query_latency example, in the same run;
prints one table with both and the ratio. Answers are cross-checked before times count.

    python3 benches/query_latency.py <out-dir>     (run by benches/query_latency.sh)
"""
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
os.environ.setdefault("CUVEE_BROKER", "unused:0")
import test_conformance as conformance  # noqa: E402  (the Pinot-default-null loader)

RUNS = 60


def close(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= max(1e-6, abs(b) * 1e-9)
    return a == b


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "target" / "query-latency")
    cuvee = json.loads((out / "cuvee.json").read_text())
    con = duckdb.connect()
    con.execute(f"CREATE TABLE events AS SELECT * FROM '{out / 'events.parquet'}'")
    conformance.reference_table(con, "airlineStats", null_handling=False)
    rows_events = con.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    print(f"# machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, DuckDB {duckdb.__version__}")
    print(f"# events: {rows_events:,} rows; airlineStats: 9,746 rows; {RUNS} runs per query after 5 warm-up runs, single client")
    print()
    print(f"| table | query | cuvee p50 ms | cuvee p99 ms | DuckDB p50 ms | DuckDB p99 ms | DuckDB p50 / cuvee p50 |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for case in cuvee:
        sql = case["sql"]
        for _ in range(5):
            expected = con.execute(sql).fetchall()
        got = case["rows"]
        same = len(got) == len(expected) and all(all(close(a, b) for a, b in zip(g, e)) for g, e in zip(got, expected))
        if not same:
            print(f"ANSWERS DIFFER for {sql}: cuvee {got[:3]} vs DuckDB {[list(r) for r in expected[:3]]}", file=sys.stderr)
            sys.exit(1)
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            con.execute(sql).fetchall()
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p50, p99 = statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]
        print(f"| {case['table']} | {case['query']} | {case['p50_ms']:.3f} | {case['p99_ms']:.3f} | {p50:.3f} | {p99:.3f} | {p50 / case['p50_ms']:.2f}× |")


if __name__ == "__main__":
    main()
