"""Latency of the same queries through cuvee's two doors, from one Python client process:
Pinot's HTTP API (one kept-alive connection) and the Postgres door (psycopg 3: simple
protocol, and a server-side prepared statement in binary). Not a test; numbers for notes.

    cargo build --release --bin cuvee
    benches/postgres_door.sh          # imports baseballStats, serves it, runs this

Prints p50/p99 in ms per query and door, and each door's ratio to HTTP.
"""
import http.client
import json
import os
import statistics
import time

import psycopg

HTTP_HOST, HTTP_PORT = os.environ["CUVEE_BROKER"].split(":")
PG_HOST, PG_PORT = os.environ["CUVEE_PG"].split(":")
RUNS = int(os.environ.get("RUNS", "2000"))

QUERIES = {
    "point (inverted)": ("SELECT COUNT(*), SUM(homeRuns) FROM baseballStats WHERE teamID = 'SFN'",
                         'SELECT COUNT(*), SUM("homeRuns") FROM "baseballStats" WHERE "teamID" = %s', ("SFN",)),
    "group-by top 5": ("SELECT teamID, SUM(homeRuns) AS hr FROM baseballStats GROUP BY teamID ORDER BY hr DESC LIMIT 5",
                       'SELECT "teamID", SUM("homeRuns") AS hr FROM "baseballStats" GROUP BY "teamID" ORDER BY hr DESC LIMIT %s', (5,)),
    "100 rows": ("SELECT playerID, yearID, hits FROM baseballStats WHERE yearID = 2000 LIMIT 100",
                 'SELECT "playerID", "yearID", hits FROM "baseballStats" WHERE "yearID" = %s LIMIT 100', (2000,)),
}


def timed(run):
    for _ in range(min(200, RUNS)):
        run()
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main():
    http_conn = http.client.HTTPConnection(HTTP_HOST, int(HTTP_PORT))
    pg = psycopg.connect(f"host={PG_HOST} port={PG_PORT} dbname=cuvee user=postgres", autocommit=True)
    simple = pg.cursor()
    binary = pg.cursor(binary=True)
    print(f"{'query':<18} {'door':<28} {'p50 ms':>8} {'p99 ms':>8} {'p50 vs HTTP':>12}")
    for name, (pinot_sql, pg_sql, params) in QUERIES.items():
        def over_http():
            http_conn.request("POST", "/query/sql", json.dumps({"sql": pinot_sql}), {"Content-Type": "application/json"})
            body = json.loads(http_conn.getresponse().read())
            assert not body.get("exceptions"), body

        def over_pg_simple():
            simple.execute(pg_sql.replace("%s", psycopg.sql.Literal(params[0]).as_string(pg)))
            simple.fetchall()

        def over_pg_prepared():
            binary.execute(pg_sql, params, prepare=True)
            binary.fetchall()

        base = None
        for door, run in (("HTTP /query/sql", over_http), ("postgres simple", over_pg_simple), ("postgres prepared binary", over_pg_prepared)):
            p50, p99 = timed(run)
            base = base or p50
            print(f"{name:<18} {door:<28} {p50:8.3f} {p99:8.3f} {p50 / base:11.2f}x")


if __name__ == "__main__":
    main()
