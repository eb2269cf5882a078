"""The systems a benchmark run measures, each behind one small interface:

    system.name, system.load() -> seconds, system.run(sql) -> rows (lists), system.close()
    system.worker() -> a callable(sql) for one concurrent client (None: cannot run clients)

Peers run in this process through their own best path: DuckDB (native table, or a view
over the Parquet files), chDB (a MergeTree table ordered by time, or `file()` over the
Parquet), DataFusion (record batches in memory, or the Parquet files). cuvee runs as its
own processes (HTTP), or in process through the Rust half of the harness.

Dialect shims, only where the SQL must differ: S6's `PERCENTILE(col, 99)` (Pinot's rule,
the sorted value at index ⌊n · p / 100⌋) becomes each engine's exact percentile —
ClickHouse's `quantileExact` (the same rule), DuckDB's `quantile_disc` and DataFusion's
`percentile_cont` (one rank away at most: the checker allows that window)."""

import http.client
import json
import os
import re
import time

PERCENTILE = re.compile(r"PERCENTILE\((\w+), (\d+)\)")


def percentile_shim(replacement):
    return lambda sql: PERCENTILE.sub(lambda m: replacement(m.group(1), int(m.group(2)) / 100), sql)


class DuckDB:
    def __init__(self, parquet_glob, native):
        import duckdb

        self.name = "DuckDB" if native else "DuckDB on Parquet"
        self.version = f"duckdb {duckdb.__version__}"
        self.glob, self.native = parquet_glob, native
        self.con = duckdb.connect()
        self.shim = percentile_shim(lambda col, q: f"quantile_disc({col}, {q})")

    def load(self):
        started = time.perf_counter()
        if self.native:
            self.con.execute(f"CREATE TABLE events AS SELECT * FROM read_parquet('{self.glob}')")
        else:
            self.con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{self.glob}')")
        return time.perf_counter() - started

    def run(self, sql):
        return [list(r) for r in self.con.execute(self.shim(sql)).fetchall()]

    def worker(self):
        cursor = self.con.cursor()
        return lambda sql: cursor.execute(self.shim(sql)).fetchall()

    def close(self):
        self.con.close()


def chdb_session(path):
    """chDB runs one embedded server per process: both chDB variants share its session."""
    import chdb.session

    return chdb.session.Session(path)


class ChDB:
    def __init__(self, parquet_glob, native, session):
        import chdb

        self.name = "chDB MergeTree" if native else "chDB on Parquet"
        self.version = f"chdb {chdb.__version__} (ClickHouse {chdb.engine_version})"
        self.glob, self.native = parquet_glob, native
        self.session = session
        # SQL's SUM of no rows is NULL; ClickHouse's is 0 unless asked (a setting, not a SQL shim).
        self.session.query("SET aggregate_functions_null_for_empty = 1")
        source = "events" if native else f"file('{parquet_glob}', Parquet)"
        percentile = percentile_shim(lambda col, q: f"quantileExact({q})({col})")
        self.shim = lambda sql: percentile(sql).replace("FROM events", f"FROM {source}")

    def load(self):
        started = time.perf_counter()
        if self.native:
            self.session.query("DROP TABLE IF EXISTS events")
            self.session.query(
                "CREATE TABLE events (ts Int64, user_id Int64, session_id String, country LowCardinality(String), "
                "device LowCardinality(String), event_type LowCardinality(String), page LowCardinality(String), "
                "latency_ms Int32, revenue Float64, tags Array(String)) ENGINE = MergeTree ORDER BY ts"
            )
            self.session.query(f"INSERT INTO events SELECT * FROM file('{self.glob}', Parquet)")
            self.session.query("OPTIMIZE TABLE events FINAL")
        return time.perf_counter() - started

    def run(self, sql):
        table = self.session.query(self.shim(sql), "ArrowTable")
        return [list(r.values()) for r in table.to_pylist()]

    def worker(self):
        # chDB serialises the queries of one session; clients share it.
        return lambda sql: self.session.query(self.shim(sql), "ArrowTable")

    def close(self):
        pass  # the shared session closes with the process


class DataFusion:
    def __init__(self, parquet_dir, native):
        import datafusion

        self.name = "DataFusion in memory" if native else "DataFusion on Parquet"
        self.version = f"datafusion-python {datafusion.__version__}"
        self.dir, self.native = parquet_dir, native
        self.ctx = datafusion.SessionContext()
        self.shim = percentile_shim(lambda col, q: f"percentile_cont({q}) WITHIN GROUP (ORDER BY {col})")

    def load(self):
        started = time.perf_counter()
        if self.native:
            batches = self.ctx.read_parquet(self.dir).collect()
            # One partition per core, as DataFusion's own MemTable would be scanned.
            parts = max(1, os.cpu_count() or 1)
            self.ctx.register_record_batches("events", [batches[i::parts] for i in range(parts) if batches[i::parts]])
        else:
            self.ctx.register_parquet("events", self.dir)
        return time.perf_counter() - started

    def run(self, sql):
        rows = []
        for batch in self.ctx.sql(self.shim(sql)).collect():
            rows.extend(list(r.values()) for r in batch.to_pylist())
        return rows

    def worker(self):
        return lambda sql: self.ctx.sql(self.shim(sql)).collect()

    def close(self):
        pass


class CuveeHttp:
    """A cuvee process (serve, or a cluster's broker) through Pinot's HTTP query API."""

    def __init__(self, name, port):
        self.name, self.port = name, port
        self.version = "cuvee"
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def load(self):
        return 0.0

    def query(self, sql, connection=None):
        connection = connection or self.connection
        body, headers = json.dumps({"sql": sql}), {"Content-Type": "application/json"}
        try:
            connection.request("POST", "/query/sql", body=body, headers=headers)
            response = connection.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closes keep-alive connections idle past its timeout (as any HTTP
            # server does); a client reconnects, as requests/urllib3 do for pinotdb.
            connection.close()
            connection.request("POST", "/query/sql", body=body, headers=headers)
            response = connection.getresponse()
        return json.loads(response.read())

    def run(self, sql):
        answer = self.query(sql)
        if answer.get("exceptions"):
            raise RuntimeError(f"{self.name}: {answer['exceptions'][0]}")
        return answer["resultTable"]["rows"]

    def worker(self):
        return None  # concurrent clients come from http_load (Rust), not Python threads

    def close(self):
        self.connection.close()


class Precomputed:
    """cuvee in process: answers and times measured by the Rust half (`bench embedded`)."""

    def __init__(self, name, results):
        self.name, self.results, self.version = name, results, "cuvee"

    def load(self):
        return 0.0

    def worker(self):
        return None

    def close(self):
        pass
