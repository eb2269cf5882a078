"""`GET /metrics` while a topic streams in and queries run on every door: the output parses
as Prometheus' text format (prometheus_client's parser, the one Prometheus' Python tooling
uses), and the series move — rows ingested, offsets and lag, segments, the latency
histogram per door, errors by the door's code after a bad statement. `GET /queries` lists
a running statement. Needs CUVEE_BIN; scripts/test.sh sets it."""

import json
import os
import re
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import adbc_driver_flightsql.dbapi as flight_sql
import psycopg
import pytest
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from cuvee_http import wait_for
from kafka_broker import Tansu, free_port
from realtime_table import realtime_table

MESSAGES = 2000
SCHEMA = {
    "schemaName": "flow",
    "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}, {"name": "kind", "dataType": "STRING"}],
    "metricFieldSpecs": [{"name": "value", "dataType": "DOUBLE"}],
    "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}],
}


def http(port, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode(), response.headers


def scrape(port):
    text, headers = http(port, "GET", "/metrics")
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
    samples = {}
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("cuvee_"), family.name
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))





def test_metrics_move_with_ingestion_and_queries(cuvee_binary):
    kafka = Tansu()
    data_dir = tempfile.mkdtemp(prefix="cuvee-metrics-")
    port, pg_port, flight_port = free_port(), free_port(), free_port()
    server = subprocess.Popen(
        [cuvee_binary, "serve", "--data-dir", data_dir, "--listen", f"127.0.0.1:{port}",
         "--pg-listen", f"127.0.0.1:{pg_port}", "--flight-listen", f"127.0.0.1:{flight_port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        kafka.create_topic("flow", 2)
        def healthy():
            try:
                return http(port, "GET", "/health")[0] == "OK"
            except OSError:  # not listening yet
                return False

        wait_for(healthy, "cuvee serve")
        before = scrape(port)
        assert value(before, "cuvee_queries_total", door="postgres", outcome="ok") == 0
        assert value(before, "cuvee_process_resident_memory_bytes") > 0

        http(port, "POST", "/schemas", SCHEMA)
        http(port, "POST", "/tables", realtime_table("flow", kafka.bootstrap, flush_rows=500, inverted=["kind"]))
        producer = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 2})
        for i in range(MESSAGES):
            body = {"id": i, "kind": f"k{i % 5}", "value": i / 2, "ts": 1_700_000_000_000 + i}
            producer.produce("flow", json.dumps(body).encode(), partition=i % 2)
            # tansu reports a partition's high watermark as its last batch's base offset
            # + 1: each partition's last message goes in a batch of its own, so the
            # watermark (and the lag) are exact.
            if i >= MESSAGES - 3:
                producer.flush(30)
        producer.produce("flow", b"not json", partition=0)  # one dead letter
        producer.flush(30)

        def ingested():
            samples = scrape(port)
            total = lambda name: sum(value(samples, name, table="flow", partition=p) or 0 for p in ("0", "1"))
            # 1,000 rows per partition at 500 a segment: two seals each.
            done = total("cuvee_ingest_rows_total") == MESSAGES and total("cuvee_ingest_segments_published_total") == 4
            return samples if done else None

        samples = wait_for(ingested, f"{MESSAGES} rows and 4 sealed segments in the metrics")
        assert value(samples, "cuvee_ingest_dead_letters_total", table="flow", partition="0") == 1
        messages = sum(value(samples, "cuvee_ingest_messages_total", table="flow", partition=str(p)) for p in (0, 1))
        assert messages == MESSAGES + 1
        for p in ("0", "1"):
            assert value(samples, "cuvee_ingest_consumer_state", table="flow", partition=p, state="consuming") == 1
            latest = value(samples, "cuvee_ingest_latest_offset", table="flow", partition=p)
            assert latest == value(samples, "cuvee_ingest_current_offset", table="flow", partition=p), samples
            assert value(samples, "cuvee_ingest_records_lag", table="flow", partition=p) == 0
            assert value(samples, "cuvee_ingest_last_queryable_timestamp_seconds", table="flow", partition=p) > time.time() - 120
        assert value(samples, "cuvee_table_segments", table="flow", state="sealed") == 4
        assert sum(value(samples, "cuvee_ingest_seal_seconds_total", table="flow", partition=p) for p in ("0", "1")) > 0
        assert value(samples, "cuvee_table_segment_bytes", table="flow", state="sealed") > 0
        assert sum(value(samples, "cuvee_table_rows", table="flow", state=s) for s in ("sealed", "consuming")) == MESSAGES

        # Statements on every door, one of them failing on each.
        answer = json.loads(http(port, "POST", "/query/sql", {"sql": "SELECT COUNT(*) FROM flow"})[0])
        assert answer["resultTable"]["rows"] == [[MESSAGES]]
        bad = json.loads(http(port, "POST", "/query/sql", {"sql": "SELECT nope FROM flow"})[0])
        pinot_code = str(bad["exceptions"][0]["errorCode"])
        with psycopg.connect(f"host=127.0.0.1 port={pg_port} dbname=cuvee user=metrics connect_timeout=10", autocommit=True) as conn:
            assert len(conn.execute("SELECT id FROM flow LIMIT 7").fetchall()) == 7
            with pytest.raises(psycopg.errors.UndefinedTable):
                conn.execute("SELECT 1 FROM missing_table")
        with flight_sql.connect(f"grpc://127.0.0.1:{flight_port}") as conn, conn.cursor() as cursor:
            cursor.execute("SELECT kind FROM flow LIMIT 3")
            assert len(cursor.fetchall()) == 3

        after = scrape(port)
        assert value(after, "cuvee_queries_total", door="http", outcome="ok") >= 1
        assert value(after, "cuvee_query_errors_total", door="http", code=pinot_code) == 1
        assert value(after, "cuvee_query_errors_total", door="postgres", code="42P01") == 1
        assert value(after, "cuvee_query_rows_returned_total", door="postgres") >= 7
        assert value(after, "cuvee_query_rows_returned_total", door="flight") == 3
        for door in ("http", "postgres", "flight"):
            count = value(after, "cuvee_query_duration_seconds_count", door=door)
            assert count >= 1 and count == value(after, "cuvee_query_duration_seconds_bucket", door=door, le="+Inf")
            assert value(after, "cuvee_query_duration_seconds_sum", door=door) > 0
            assert value(after, "cuvee_queries_running", door=door) == 0

        # Every series the Grafana dashboard draws exists.
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "dashboards", "cuvee.json")) as f:
            drawn = set(re.findall(r"cuvee_[a-z_]+", f.read()))
        exported = {name for name, _ in after}
        assert drawn and drawn <= exported, drawn - exported

        # A statement whose rows are not all read yet is listed by GET /queries (an answer
        # of 4 M rows cannot sit in the channel and HTTP/2 windows); DELETE /query/{id}
        # stops it, and the client sees the cancel, not a short answer.
        with flight_sql.connect(f"grpc://127.0.0.1:{flight_port}") as conn, conn.cursor() as cursor:
            cursor.execute("SELECT a.id FROM flow a CROSS JOIN flow b")
            reader = cursor.fetch_record_batch()
            reader.read_next_batch()
            listed = json.loads(http(port, "GET", "/queries")[0])["queries"]
            held = [q for q in listed if q["door"] == "flight" and "CROSS JOIN" in q["sql"]]
            assert len(held) == 1 and held[0]["elapsedMs"] >= 0, listed
            answer = json.loads(http(port, "DELETE", f"/query/{held[0]['id']}")[0])
            assert answer["status"] == f"query {held[0]['id']} cancelled", answer
            with pytest.raises(Exception, match="cancelled"):
                while True:
                    reader.read_next_batch()
        wait_for(lambda: json.loads(http(port, "GET", "/queries")[0])["queries"] == [], "the statement to leave GET /queries")
        assert value(scrape(port), "cuvee_query_errors_total", door="flight", code="Cancelled") == 1
        with pytest.raises(urllib.error.HTTPError) as missing:
            http(port, "DELETE", "/query/999999")
        assert missing.value.code == 404
    finally:
        server.kill()
        server.wait()
        kafka.stop()
