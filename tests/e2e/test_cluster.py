"""A cluster on 127.0.0.1: one `cuvee broker` and three `cuvee server` processes consuming a
6-partition topic on tansu (server i of 3 consumes partitions p with p mod 3 = i). Answers
through the broker equal the rows produced, exactly; a killed server makes answers partial
(flagged, with the server named) but never hangs them; restarted, it reloads its segments,
resumes from its published offsets, and the counts are exact again.

Needs CUVEE_BIN (the cuvee binary); scripts/test.sh sets it."""

import json
import os
import signal
import subprocess
import tempfile
import time

import psycopg
import pytest
from confluent_kafka import Producer

from cuvee_http import http, wait_for_health
from kafka_broker import Tansu, free_port
from realtime_table import realtime_table

PARTITIONS = 6
SERVERS = 3
MESSAGES = 6000
KINDS = ["click", "view", "buy", "share", "like"]

SCHEMA = {
    "schemaName": "events",
    "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}, {"name": "kind", "dataType": "STRING"}],
    "metricFieldSpecs": [{"name": "value", "dataType": "DOUBLE"}],
    "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}],
}


def table_config(bootstrap):
    return realtime_table("events", bootstrap, flush_rows=400, inverted=["kind"])


def query(port, sql, options=None, timeout=30):
    body = {"sql": sql}
    if options:
        body["queryOptions"] = options
    return http(port, "POST", "/query/sql", body, timeout)


def wait_until(check, what, deadline=60):
    end = time.time() + deadline
    last = None
    while time.time() < end:
        last = check()
        if last is True:
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: still {last!r} after {deadline} s")


def start_broker(binary, addresses, attempts=3):
    """A broker on free ports. A port found free can be taken before the broker binds it
    (the servers' Kafka clients open ephemeral ports all the time): then the broker exits
    naming the address, and it starts again on other ports."""
    for _ in range(attempts):
        broker_port, pg_port, flight_port = free_port(), free_port(), free_port()
        broker = subprocess.Popen(
            [binary, "broker", "--servers", addresses, "--listen", f"127.0.0.1:{broker_port}", "--pg-listen", f"127.0.0.1:{pg_port}",
             "--flight-listen", f"127.0.0.1:{flight_port}", "--routing-refresh-ms", "200"],
            stdout=subprocess.DEVNULL,
        )
        end = time.time() + 30
        while time.time() < end and broker.poll() is None:
            try:
                http(broker_port, "GET", "/health", timeout=1)
                return broker, broker_port, pg_port, flight_port
            except OSError:
                time.sleep(0.1)
        broker.kill()
        broker.wait()
    raise RuntimeError(f"the broker did not start in {attempts} attempts")


class Server:
    def __init__(self, binary, ordinal, root, tables, kafka):
        self.binary, self.ordinal, self.tables, self.kafka = binary, ordinal, tables, kafka
        self.data_dir = os.path.join(root, f"server-{ordinal}")
        self.port, self.grpc = free_port(), free_port()
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "server", "--data-dir", self.data_dir, "--listen", f"127.0.0.1:{self.port}", "--grpc-listen", f"127.0.0.1:{self.grpc}",
             "--ordinal", str(self.ordinal), "--servers", str(SERVERS), "--partition-discovery-ms", "300", "--tables", self.tables],
            stdout=subprocess.DEVNULL,
            env={**os.environ, "KAFKA_BOOTSTRAP": self.kafka},
        )
        wait_for_health(self.port)

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def cluster():
    binary = os.environ["CUVEE_BIN"]
    kafka = Tansu()
    root = tempfile.mkdtemp(prefix="cuvee-cluster-")
    # The table definitions as a ConfigMap would mount them; the Kafka address from the
    # environment.
    tables = os.path.join(root, "tables")
    os.makedirs(tables)
    with open(os.path.join(tables, "events_schema.json"), "w") as f:
        json.dump(SCHEMA, f)
    with open(os.path.join(tables, "events_realtime_table_config.json"), "w") as f:
        json.dump(table_config("${KAFKA_BOOTSTRAP}"), f)
    servers = [Server(binary, i, root, tables, kafka.bootstrap) for i in range(SERVERS)]
    broker = None
    try:
        kafka.create_topic("events", PARTITIONS)
        for server in servers:
            server.start()
        addresses = ",".join(f"127.0.0.1:{s.grpc}" for s in servers)
        broker, broker_port, pg_port, flight_port = start_broker(binary, addresses)
        producer = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 5})
        rows = []
        for i in range(MESSAGES):
            row = {"id": i, "kind": KINDS[i % len(KINDS)], "value": (i % 97) * 0.5, "ts": 1_700_000_000_000 + i}
            rows.append(row)
            producer.produce("events", json.dumps(row).encode(), partition=i % PARTITIONS)
        assert producer.flush(30) == 0
        yield {"broker": broker_port, "pg": pg_port, "flight": flight_port, "servers": servers, "rows": rows}
    finally:
        if broker:
            broker.terminate()
            broker.wait(timeout=20)
        for server in servers:
            server.stop()
        kafka.stop()


def all_rows_visible(port):
    rows = count(port)[1]
    return rows == MESSAGES or rows


def count(port, options=None):
    answer = query(port, "SELECT COUNT(*) FROM events WHERE id >= 0", options)
    return answer, (answer["resultTable"]["rows"][0][0] if answer.get("resultTable") else None)


def test_answers_through_the_broker_are_exact(cluster):
    port, rows = cluster["broker"], cluster["rows"]
    wait_until(lambda: all_rows_visible(port), "rows visible through the broker")
    answer = query(port, "SELECT kind, COUNT(*), SUM(value), MIN(id), MAX(id) FROM events GROUP BY kind ORDER BY kind")
    assert answer["exceptions"] == []
    assert (answer["numServersQueried"], answer["numServersResponded"], answer["partialResult"]) == (SERVERS, SERVERS, False)
    expected = []
    for kind in sorted(KINDS):
        mine = [r for r in rows if r["kind"] == kind]
        expected.append([kind, len(mine), sum(r["value"] for r in mine), min(r["id"] for r in mine), max(r["id"] for r in mine)])
    assert answer["resultTable"]["rows"] == expected
    distinct = query(port, "SELECT COUNT(DISTINCT id), PERCENTILE(value, 90) FROM events")
    values = sorted(r["value"] for r in rows)
    assert distinct["resultTable"]["rows"] == [[MESSAGES, values[int(MESSAGES * 90 / 100)]]]
    top = query(port, "SELECT id, value FROM events WHERE kind = 'buy' ORDER BY value DESC, id ASC LIMIT 4")
    buys = sorted((r for r in rows if r["kind"] == "buy"), key=lambda r: (-r["value"], r["id"]))[:4]
    assert top["resultTable"]["rows"] == [[r["id"], r["value"]] for r in buys]
    # The broker's /metrics times the fragments it sent, per server.
    fragments = broker_metrics(port)
    for server in cluster["servers"]:
        address = f"127.0.0.1:{server.grpc}"
        assert fragments.get(("cuvee_broker_fragments_total", address, "ok"), 0) >= 3, fragments
        assert fragments.get(("cuvee_broker_fragment_duration_seconds_count", address), 0) >= 3, fragments


def broker_metrics(port):
    """The broker's fragment series, keyed by (name, server[, end])."""
    from prometheus_client.parser import text_string_to_metric_families

    text = http(port, "GET", "/metrics")
    text = text if isinstance(text, str) else text.decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("cuvee_broker_fragment") and "le" not in sample.labels:
                key = (sample.name, sample.labels["server"]) + ((sample.labels["end"],) if "end" in sample.labels else ())
                out[key] = sample.value
    return out


def test_each_server_consumes_its_share_of_the_partitions(cluster):
    port = cluster["broker"]
    wait_until(lambda: all_rows_visible(port), "rows visible through the broker")
    for server in cluster["servers"]:
        mine = [p for p in range(PARTITIONS) if p % SERVERS == server.ordinal]
        expected = sum(1 for i in range(MESSAGES) if i % PARTITIONS in mine)
        assert count(server.port)[1] == expected


def test_postgres_door_of_the_broker_scatters_too(cluster):
    wait_until(lambda: all_rows_visible(cluster["broker"]), "rows visible through the broker")
    with psycopg.connect(host="127.0.0.1", port=cluster["pg"], dbname="cuvee", user="cuvee", autocommit=True) as connection:
        got = connection.execute("SELECT kind, COUNT(*) FROM events GROUP BY kind ORDER BY kind").fetchall()
    assert got == [(kind, MESSAGES // len(KINDS)) for kind in sorted(KINDS)]


@pytest.mark.filterwarnings("ignore:Cannot disable autocommit")
def test_flight_sql_door_of_the_broker_scatters_too(cluster):
    import adbc_driver_flightsql.dbapi as flight_sql
    from flight_sql import run_with_pyarrow

    wait_until(lambda: all_rows_visible(cluster["broker"]), "rows visible through the broker")
    sql = "SELECT kind, COUNT(*) AS n, MAX(id) AS last FROM events GROUP BY kind ORDER BY kind"
    expected = [tuple(row) for row in query(cluster["broker"], sql)["resultTable"]["rows"]]
    with flight_sql.connect(f"grpc://127.0.0.1:{cluster['flight']}") as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        assert cursor.fetchall() == expected
    _, tables = run_with_pyarrow(f"127.0.0.1:{cluster['flight']}", sql)
    assert [tuple(r.values()) for t in tables for r in t.to_pylist()] == expected


def test_a_stalled_server_is_reported_at_the_deadline_not_waited_for(cluster):
    port, stalled = cluster["broker"], cluster["servers"][2]
    wait_until(lambda: all_rows_visible(port), "rows visible through the broker")
    stalled.process.send_signal(signal.SIGSTOP)  # connections open, nothing answers
    try:
        started = time.time()
        answer = query(port, "SELECT COUNT(*) FROM events WHERE id >= 0", "timeoutMs=1000")
        took = time.time() - started
    finally:
        stalled.process.send_signal(signal.SIGCONT)
    assert took < 5, took
    assert answer["partialResult"] is True, answer
    assert [e["errorCode"] for e in answer["exceptions"]] == [427], answer
    assert f"127.0.0.1:{stalled.grpc}" in answer["exceptions"][0]["message"]
    assert (answer["numServersQueried"], answer["numServersResponded"]) == (SERVERS, SERVERS - 1)
    stopped = broker_metrics(port)
    address = f"127.0.0.1:{stalled.grpc}"
    not_ok = stopped.get(("cuvee_broker_fragments_total", address, "dropped"), 0) + stopped.get(("cuvee_broker_fragments_total", address, "error"), 0)
    assert not_ok >= 1, stopped
    wait_until(lambda: all_rows_visible(port), "whole answers once the server goes on")


def test_a_stalled_server_fails_a_postgres_statement_instead_of_hanging_it(cluster):
    """A Postgres statement has no deadline unless the session sets one; a server that stops
    answering must still end it (HTTP/2 pings find it), as an error naming the server."""
    stalled = cluster["servers"][0]
    wait_until(lambda: all_rows_visible(cluster["broker"]), "rows visible through the broker")
    stalled.process.send_signal(signal.SIGSTOP)
    try:
        started = time.time()
        with psycopg.connect(host="127.0.0.1", port=cluster["pg"], dbname="cuvee", user="cuvee", autocommit=True) as connection:
            with pytest.raises(psycopg.Error) as failure:
                connection.execute("SELECT COUNT(*) FROM events WHERE id >= 0").fetchall()
        took = time.time() - started
    finally:
        stalled.process.send_signal(signal.SIGCONT)
    assert took < 30, took
    assert f"127.0.0.1:{stalled.grpc}" in str(failure.value), str(failure.value)
    print(f"stalled server: the Postgres statement failed after {took:.1f} s: {failure.value}")
    wait_until(lambda: all_rows_visible(cluster["broker"]), "whole answers once the server goes on")


def test_a_killed_server_makes_answers_partial_then_exact_after_restart(cluster):
    port, victim = cluster["broker"], cluster["servers"][1]
    wait_until(lambda: all_rows_visible(port), "rows visible through the broker")
    victim.kill()
    address = f"127.0.0.1:{victim.grpc}"

    def marked_down():
        servers = {s["server"]: s for s in http(port, "GET", "/debug/routing")["servers"]}
        return servers[address]["healthy"] is False or servers[address]

    wait_until(marked_down, "the routing shows the killed server as down", deadline=10)
    started = time.time()
    answer, rows = count(port)
    assert time.time() - started < 10
    assert answer["partialResult"] is True
    assert (answer["numServersQueried"], answer["numServersResponded"]) == (SERVERS, SERVERS - 1)
    assert [e["errorCode"] for e in answer["exceptions"]] == [425]
    assert f"127.0.0.1:{victim.grpc}" in answer["exceptions"][0]["message"]
    assert rows < MESSAGES
    strict = query(port, "SELECT COUNT(*) FROM events WHERE id >= 0", "allowPartialResults=false")
    assert strict["exceptions"] and not strict.get("resultTable"), strict
    # A short deadline still answers, with what the other servers had.
    quick = query(port, "SELECT COUNT(*) FROM events WHERE id >= 0", "timeoutMs=500")
    assert quick["partialResult"] is True

    victim.start()
    def exact():
        answer, rows = count(port)
        return (rows, answer["partialResult"]) == (MESSAGES, False) or (rows, answer["exceptions"])

    wait_until(exact, "exact counts after the restart")
    answer = query(port, "SELECT COUNT(DISTINCT id) FROM events")
    assert answer["resultTable"]["rows"] == [[MESSAGES]] and answer["exceptions"] == []

    def all_healthy():
        routing = http(port, "GET", "/debug/routing")
        return all(s["healthy"] and s["tables"][0]["table"] == "events" for s in routing["servers"]) or routing

    wait_until(all_healthy, "the routing shows every server healthy again", deadline=10)
