"""Replicas consuming one partition: two `cuvee server` processes with `--servers 2
--replicas 2` both consume every partition of a 4-partition tansu topic, with a shared deep
store (file://) and each its own flush threshold (`${FLUSH_ROWS}` in the mounted table
config), so their own seal points differ as time thresholds would make them differ. Each
segment is claimed in the deep store first and the other replica follows the claim: both
publish the same segments, the broker reads every row once, and with one replica killed the
other answers everything — whole, not partial. Restarted, the killed one takes what its peer
published meanwhile from the deep store.

A partial-upsert table rides along: replicas that seal at different points, follow each
other's claims, adopt each other's segments or consume a range again must still end with
the same latest row per key, each merge applied once.

Needs CUVEE_BIN (the cuvee binary); scripts/test.sh sets it."""

import json
import os
import subprocess
import tempfile
import time

import pytest
from confluent_kafka import Producer

from cuvee_http import http, wait_for_health
from kafka_broker import Tansu
from realtime_table import realtime_table
from test_cluster import SCHEMA, Server, query, start_broker, wait_until

PARTITIONS = 4
MESSAGES = 4000
KEYS = 100
KEYED_SCHEMA = {**SCHEMA, "schemaName": "keyed", "primaryKeyColumns": ["id"],
                "metricFieldSpecs": SCHEMA["metricFieldSpecs"] + [{"name": "hits", "dataType": "LONG"}]}
FLUSH_ROWS = [300, 420]


class Replica(Server):
    """A cluster server of `--servers 2 --replicas 2` with the shared deep store and its own
    flush threshold; killed and stopped as test_cluster's servers are."""

    def __init__(self, binary, ordinal, root, tables, kafka, deep):
        super().__init__(binary, ordinal, root, tables, kafka)
        self.deep = deep

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "server", "--data-dir", self.data_dir, "--listen", f"127.0.0.1:{self.port}", "--grpc-listen", f"127.0.0.1:{self.grpc}",
             "--ordinal", str(self.ordinal), "--servers", "2", "--replicas", "2", "--deep-store", self.deep,
             "--partition-discovery-ms", "300", "--tables", self.tables],
            stdout=subprocess.DEVNULL,
            env={**os.environ, "KAFKA_BOOTSTRAP": self.kafka, "FLUSH_ROWS": str(FLUSH_ROWS[self.ordinal])},
        )
        wait_for_health(self.port)

    def sealed_segments(self):
        listing = http(self.port, "GET", "/segments/events")
        return sorted(name for entry in listing for names in entry.values() for name in names)


def produce(kafka, ids):
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 5})
    for i in ids:
        producer.produce("events", json.dumps({"id": i, "kind": "k", "value": i % 10, "ts": 1_700_000_000_000 + i}).encode(), partition=i % PARTITIONS)
    assert producer.flush(30) == 0


def produce_keyed(kafka, ids):
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 5})
    for i in ids:
        key = i % KEYS
        body = {"id": key, "kind": f"k{i % 3}", "value": i, "hits": 1, "ts": 1_700_000_000_000 + i}
        producer.produce("keyed", json.dumps(body).encode(), key=str(key), partition=key % PARTITIONS)
    assert producer.flush(30) == 0


@pytest.fixture(scope="module")
def replicas():
    binary = os.environ["CUVEE_BIN"]
    kafka = Tansu()
    root = tempfile.mkdtemp(prefix="cuvee-replicas-")
    deep = f"file://{root}/deep"
    tables = os.path.join(root, "tables")
    os.makedirs(tables)
    with open(os.path.join(tables, "events_schema.json"), "w") as f:
        json.dump(SCHEMA, f)
    with open(os.path.join(tables, "events_realtime_table_config.json"), "w") as f:
        json.dump(realtime_table("events", "${KAFKA_BOOTSTRAP}", flush_rows="${FLUSH_ROWS}"), f)
    keyed = realtime_table("keyed", "${KAFKA_BOOTSTRAP}", flush_rows="${FLUSH_ROWS}", sorted_column="kind")
    keyed["upsertConfig"] = {"mode": "PARTIAL", "partialUpsertStrategies": {"hits": "INCREMENT"}}
    with open(os.path.join(tables, "keyed_schema.json"), "w") as f:
        json.dump(KEYED_SCHEMA, f)
    with open(os.path.join(tables, "keyed_realtime_table_config.json"), "w") as f:
        json.dump(keyed, f)
    servers = [Replica(binary, i, root, tables, kafka.bootstrap, deep) for i in range(2)]
    broker = None
    try:
        kafka.create_topic("events", PARTITIONS)
        kafka.create_topic("keyed", PARTITIONS)
        for server in servers:
            server.start()
        broker, broker_port, _, _ = start_broker(binary, ",".join(f"127.0.0.1:{s.grpc}" for s in servers))
        produce(kafka, range(MESSAGES))
        produce_keyed(kafka, range(MESSAGES))
        yield {"broker": broker_port, "servers": servers, "kafka": kafka}
    finally:
        if broker:
            broker.terminate()
            broker.wait(timeout=20)
        for server in servers:
            server.stop()
        kafka.stop()


def counted(port, expected):
    answer = query(port, "SELECT COUNT(*), COUNT(DISTINCT id) FROM events")
    rows = answer.get("resultTable", {}).get("rows")
    return (rows == [[expected, expected]] and not answer["partialResult"]) or answer


def test_every_row_is_read_once_and_both_replicas_hold_them_all(replicas):
    port = replicas["broker"]
    wait_until(lambda: counted(port, MESSAGES), "exact counts through the broker")
    for server in replicas["servers"]:
        wait_until(lambda: counted(server.port, MESSAGES), f"replica {server.ordinal} holds every row")
    answer = query(port, "SELECT SUM(value), MIN(id), MAX(id) FROM events")
    assert answer["resultTable"]["rows"] == [[sum(i % 10 for i in range(MESSAGES)), 0, MESSAGES - 1]]


def test_replicas_publish_the_same_segments(replicas):
    first, second = replicas["servers"]
    wait_until(lambda: counted(first.port, MESSAGES), "every row on the first replica")
    # The tails are below the thresholds: one replica seals them; the other follows its claim.
    http(first.port, "POST", "/tables/events/forceCommit")

    def published_everything(server):
        partitions = http(server.port, "GET", "/tables/events/consumingSegmentsInfo")["partitions"]
        return len(partitions) == PARTITIONS and all(p["publishedEndOffset"] == MESSAGES // PARTITIONS for p in partitions)

    def same_segments():
        done = all(published_everything(s) for s in (first, second))
        return (done and first.sealed_segments() == second.sealed_segments()) or (first.sealed_segments(), second.sealed_segments())

    wait_until(same_segments, "the same sealed segments on both replicas, up to the last offset")


def test_replicas_agree_on_upserted_rows(replicas):
    first, second = replicas["servers"]
    http(first.port, "POST", "/tables/keyed/forceCommit")
    want = [[KEYS, MESSAGES // KEYS, MESSAGES // KEYS, sum(range(MESSAGES - KEYS, MESSAGES))]]
    sql = "SELECT COUNT(*), MIN(hits), MAX(hits), SUM(value) FROM keyed"

    def agreed(server):
        every = query(server.port, "SELECT COUNT(*) FROM keyed", options="skipUpsert=true")
        answer = query(server.port, sql)
        stored = every.get("resultTable", {}).get("rows")
        return (stored == [[MESSAGES]] and answer.get("resultTable", {}).get("rows") == want) or (stored, answer)

    for server in (first, second):
        wait_until(lambda: agreed(server), f"replica {server.ordinal}: the latest row per key, each merge once")

    # Row for row the same on both (a replica consuming a range again shows older versions
    # until that range is published: checked once both are done).
    def same_rows():
        rows = [query(s.port, "SELECT id, value, hits FROM keyed ORDER BY id LIMIT 1000")["resultTable"]["rows"] for s in (first, second)]
        expected = [[k, float(MESSAGES - KEYS + k), MESSAGES // KEYS] for k in range(KEYS)]
        return (rows[0] == rows[1] == expected) or rows

    wait_until(same_rows, "the same latest row per key on both replicas")
    wait_until(lambda: counted_keyed(replicas["broker"]), "the broker's upserted answer")


def counted_keyed(port):
    answer = query(port, "SELECT COUNT(*), MIN(hits) FROM keyed")
    return answer.get("resultTable", {}).get("rows") == [[KEYS, MESSAGES // KEYS]] or answer


def test_a_killed_replica_leaves_whole_answers_and_catches_up(replicas):
    port, kafka = replicas["broker"], replicas["kafka"]
    victim, survivor = replicas["servers"]
    wait_until(lambda: counted(port, MESSAGES), "exact counts through the broker")

    def broker_sees_both_holding_everything():
        # The broker can only fail over to a replica its listings show holding the segments.
        servers = http(port, "GET", "/debug/routing")["servers"]
        sealed = [[t["sealedSegments"] for t in s["tables"] if t["table"] == "events"] for s in servers]
        expected = [len(victim.sealed_segments())]
        return (len(servers) == 2 and all(s == expected for s in sealed)) or (sealed, expected)

    wait_until(broker_sees_both_holding_everything, "the broker's listings show both replicas holding every segment")
    victim.kill()
    for _ in range(5):
        answer = query(port, "SELECT COUNT(*) FROM events")
        assert answer["partialResult"] is False and answer["exceptions"] == [], answer
        assert answer["resultTable"]["rows"] == [[MESSAGES]]
    produce(kafka, range(MESSAGES, MESSAGES + 1000))
    wait_until(lambda: counted(port, MESSAGES + 1000), "new rows through the surviving replica")
    victim.start()
    wait_until(lambda: counted(victim.port, MESSAGES + 1000), "the restarted replica holds every row")
    wait_until(lambda: counted(port, MESSAGES + 1000), "exact counts with both replicas")
    http(survivor.port, "POST", "/tables/events/forceCommit")

    def same_segments():
        ends = [[p["publishedEndOffset"] for p in http(s.port, "GET", "/tables/events/consumingSegmentsInfo")["partitions"]] for s in (victim, survivor)]
        done = all(e == [(MESSAGES + 1000) // PARTITIONS] * PARTITIONS for e in ends)
        return (done and victim.sealed_segments() == survivor.sealed_segments()) or (ends, victim.sealed_segments(), survivor.sealed_segments())

    wait_until(same_segments, "the same sealed segments after the restart, up to the last offset")
