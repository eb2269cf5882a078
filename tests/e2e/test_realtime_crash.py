"""Exactly once, proven the hard way: `cuvee serve` consumes a 3-partition topic while it is
killed again and again — SIGKILL at random moments, and aborts at failpoints inside sealing
(after the build, between segment write and manifest publish, after publish) and right after
a row is appended. After the last restart every message id must be there exactly once.

Two keyed tables ride along through the same crashes: a partial upsert (400 keys, each
message adding 1 to its key's `hits`, so a merge applied twice or lost shows in the sum) and
a dedup table (every id sent twice). Their key maps are rebuilt from the published snapshot
at each restart, and must end exactly where an uninterrupted run does.

Needs CUVEE_BIN (the cuvee binary); scripts/test.sh sets it."""

import json
import os
import random
import resource
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request

from confluent_kafka import Producer

from kafka_broker import Tansu, free_port
from realtime_table import realtime_table

MESSAGES = 6000
RATE = 600  # messages per second: production spans the crashes
MIN_CRASHES = 10
# Three tables seal and append three times as often as one: each point is rarer, so that
# SIGKILLs at random moments still happen between the aborts.
FAILPOINTS = "seal.after_build=0.01,seal.after_snapshot=0.015,seal.before_commit=0.03,seal.after_commit=0.01,consume.after_append=0.00005"
KEYS = 400

SCHEMA = {
    "schemaName": "crashy",
    "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}, {"name": "kind", "dataType": "STRING"}],
    "metricFieldSpecs": [{"name": "value", "dataType": "DOUBLE"}],
    "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}],
}


def table_config(bootstrap):
    return realtime_table("crashy", bootstrap, flush_rows=300, inverted=["kind"], sorted_column="id")


def keyed_schema(name):
    return {
        "schemaName": name,
        "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}, {"name": "kind", "dataType": "STRING"}],
        "metricFieldSpecs": [{"name": "value", "dataType": "LONG"}, {"name": "hits", "dataType": "LONG"}],
        "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}],
        "primaryKeyColumns": ["id"],
    }


def upsert_config(bootstrap):
    config = realtime_table("crashy_upsert", bootstrap, flush_rows=250, inverted=["kind"], sorted_column="kind")
    config["upsertConfig"] = {"mode": "PARTIAL", "partialUpsertStrategies": {"hits": "INCREMENT"}}
    return config


def dedup_config(bootstrap):
    config = realtime_table("crashy_dedup", bootstrap, flush_rows=200, sorted_column="kind")
    config["dedupConfig"] = {"dedupEnabled": True}
    return config


def http(port, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text.strip().startswith((b"{", b"[")) else text.decode()


def scalar(port, sql):
    answer = http(port, "POST", "/query/sql", {"sql": sql})
    assert not answer.get("exceptions"), answer
    return answer["resultTable"]["rows"][0][0]


def no_core_dumps():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class Cuvee:
    def __init__(self, binary, data_dir, failpoints):
        self.port = free_port()
        env = dict(os.environ)
        if failpoints:
            env["CUVEE_FAILPOINTS"] = failpoints
        self.process = subprocess.Popen(
            [binary, "serve", "--data-dir", data_dir, "--listen", f"127.0.0.1:{self.port}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=no_core_dumps,
        )

    def ready(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                http(self.port, "GET", "/health")
                return True
            except OSError:
                time.sleep(0.05)
        raise AssertionError("cuvee serve did not become ready")

    def kill(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        return self.process.wait()



def test_every_message_exactly_once_through_repeated_crashes(cuvee_binary):
    kafka = Tansu()
    data_dir = tempfile.mkdtemp(prefix="cuvee-crash-")
    rng = random.Random(20261125)
    try:
        kafka.create_topic("crashy", 3)
        kafka.create_topic("crashy_upsert", 3)
        kafka.create_topic("crashy_dedup", 3)
        producer = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 2})

        def produce():
            started = time.time()
            for i in range(MESSAGES):
                delay = started + i / RATE - time.time()
                if delay > 0:
                    time.sleep(delay)
                body = {"id": i, "kind": f"k{i % 7}", "value": i / 3, "ts": 1_700_000_000_000 + i}
                producer.produce("crashy", json.dumps(body).encode(), key=str(i), partition=i % 3)
                key = i % KEYS
                keyed = {"id": key, "kind": f"k{i % 5}", "value": i, "hits": 1, "ts": 1_700_000_000_000 + i}
                producer.produce("crashy_upsert", json.dumps(keyed).encode(), key=str(key), partition=key % 3)
                twice = {"id": i // 2, "kind": f"k{i % 5}", "value": i, "hits": 1, "ts": 1_700_000_000_000 + i}
                producer.produce("crashy_dedup", json.dumps(twice).encode(), key=str(i // 2), partition=(i // 2) % 3)
                producer.poll(0)
            producer.flush(30)

        # The tables are made by a life without failpoints (an abort mid-setup is not the test).
        server = Cuvee(cuvee_binary, data_dir, None)
        assert server.ready()
        http(server.port, "POST", "/schemas", SCHEMA)
        http(server.port, "POST", "/tables", table_config(kafka.bootstrap))
        http(server.port, "POST", "/schemas", keyed_schema("crashy_upsert"))
        http(server.port, "POST", "/tables", upsert_config(kafka.bootstrap))
        http(server.port, "POST", "/schemas", keyed_schema("crashy_dedup"))
        http(server.port, "POST", "/tables", dedup_config(kafka.bootstrap))
        server.kill()

        feeding = threading.Thread(target=produce)
        feeding.start()
        server = Cuvee(cuvee_binary, data_dir, FAILPOINTS)
        server.ready()

        killed = aborted = 0
        while feeding.is_alive() or killed + aborted < MIN_CRASHES:
            time.sleep(rng.uniform(0.2, 1.5))
            code = server.kill()
            if code == -signal.SIGKILL:
                killed += 1
            else:
                aborted += 1  # a failpoint fired first (SIGABRT)
            server = Cuvee(cuvee_binary, data_dir, FAILPOINTS)
            server.ready()
        feeding.join()
        server.kill()

        # The last life, without failpoints: it must catch up to exactly every message.
        server = Cuvee(cuvee_binary, data_dir, None)
        assert server.ready()
        deadline = time.time() + 90
        count = -1
        while time.time() < deadline:
            count = scalar(server.port, "SELECT COUNT(*) FROM crashy")
            if count >= MESSAGES:
                break
            time.sleep(0.2)
        time.sleep(1)  # anything still arriving would be a duplicate
        assert scalar(server.port, "SELECT COUNT(*) FROM crashy") == MESSAGES, f"after {killed} kills and {aborted} aborts"
        assert scalar(server.port, "SELECT COUNT(DISTINCT id) FROM crashy") == MESSAGES
        twice = http(server.port, "POST", "/query/sql", {"sql": "SELECT id, COUNT(*) AS n FROM crashy GROUP BY id HAVING COUNT(*) > 1 LIMIT 5"})
        assert twice["resultTable"]["rows"] == [], twice
        assert scalar(server.port, "SELECT MIN(id) FROM crashy") == 0
        assert scalar(server.port, "SELECT MAX(id) FROM crashy") == MESSAGES - 1
        # The keyed tables: every message stored once, merged once, kept once.
        skip = {"sql": "SELECT COUNT(*) FROM crashy_upsert", "queryOptions": "skipUpsert=true"}
        deadline = time.time() + 90
        while time.time() < deadline and http(server.port, "POST", "/query/sql", skip)["resultTable"]["rows"][0][0] < MESSAGES:
            time.sleep(0.2)
        while time.time() < deadline and scalar(server.port, "SELECT COUNT(*) FROM crashy_dedup") < MESSAGES // 2:
            time.sleep(0.2)
        time.sleep(1)
        assert http(server.port, "POST", "/query/sql", skip)["resultTable"]["rows"][0][0] == MESSAGES
        assert scalar(server.port, "SELECT COUNT(*) FROM crashy_upsert") == KEYS
        per_key = MESSAGES // KEYS
        assert scalar(server.port, "SELECT MIN(hits) FROM crashy_upsert") == per_key
        assert scalar(server.port, "SELECT MAX(hits) FROM crashy_upsert") == per_key
        assert scalar(server.port, "SELECT SUM(value) FROM crashy_upsert") == sum(range(MESSAGES - KEYS, MESSAGES))
        assert scalar(server.port, "SELECT COUNT(*) FROM crashy_dedup") == MESSAGES // 2
        assert scalar(server.port, "SELECT COUNT(DISTINCT id) FROM crashy_dedup") == MESSAGES // 2
        # The first of each pair is the one kept: an even value.
        assert scalar(server.port, "SELECT SUM(value) FROM crashy_dedup") == sum(range(0, MESSAGES, 2))
        segments = http(server.port, "GET", "/segments/crashy")[0]["REALTIME"]
        assert len(segments) >= MESSAGES // 300 // 2, segments
        assert killed + aborted >= MIN_CRASHES
        print(f"exactly once after {killed} SIGKILLs and {aborted} failpoint aborts; {len(segments)} segments published")
        server.kill()
    finally:
        kafka.stop()
