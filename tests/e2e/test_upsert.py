"""Upsert and dedup through a real Kafka broker (tansu), on Pinot's own test data
(`../shared/pinot-examples/conformance/upsert-dedup/`): the latest row per primary key,
partial merges, the first row per key, `skipUpsert`, and the same answers after a seal and
after a restart (which rebuilds the key map from the published snapshot).

Needs CUVEE_BIN (the cuvee binary); scripts/test.sh sets it."""

import csv
import io
import json
import os
import subprocess
import tarfile
import tempfile
import time

import pytest
from confluent_kafka import Producer

from cuvee_http import http, wait_for, wait_for_health
from kafka_broker import Tansu, free_port

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "pinot-examples", "conformance", "upsert-dedup")


def csv_rows(archive):
    with tarfile.open(os.path.join(DATA, archive)) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(".csv"))
        text = tar.extractfile(member).read().decode()
    return [row for row in csv.reader(io.StringIO(text)) if row]


def schema(file, name):
    with open(os.path.join(DATA, file)) as f:
        body = json.load(f)
    body["schemaName"] = name
    return body


def table(name, bootstrap, time_column, **extra):
    config = {
        "tableName": name,
        "tableType": "REALTIME",
        "segmentsConfig": {"timeColumnName": time_column, "schemaName": name, "replication": "1"},
        "tableIndexConfig": {
            "streamConfigs": {
                "streamType": "kafka",
                "stream.kafka.topic.name": name,
                "stream.kafka.broker.list": bootstrap,
                "stream.kafka.decoder.class.name": "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder",
                "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
                "realtime.segment.flush.threshold.rows": "100000",
            }
        },
        "routing": {"instanceSelectorType": "strictReplicaGroup"},
        "tenants": {},
        "metadata": {},
    }
    config.update(extra)
    return config


class Server:
    def __init__(self, binary, data_dir):
        self.binary, self.data_dir = binary, data_dir
        self.start()

    def start(self):
        self.port = free_port()
        self.process = subprocess.Popen(
            [self.binary, "serve", "--data-dir", self.data_dir, "--listen", f"127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_health(self.port)

    def restart(self):
        self.process.terminate()
        self.process.wait(30)
        self.start()

    def stop(self):
        self.process.kill()
        self.process.wait()

    def query(self, sql, options=None):
        body = {"sql": sql}
        if options:
            body["queryOptions"] = options
        answer = http(self.port, "POST", "/query/sql", body)
        assert not answer.get("exceptions"), answer
        return answer["resultTable"]["rows"]

    def scalar(self, sql, options=None):
        return self.query(sql, options)[0][0]


@pytest.fixture(scope="module")
def kafka():
    broker = Tansu()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def server(cuvee_binary):
    data_dir = tempfile.mkdtemp(prefix="cuvee-upsert-")
    s = Server(cuvee_binary, data_dir)
    yield s
    s.stop()


def produce(kafka, topic, rows, key, partitions=2):
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 2})
    for row in rows:
        # The topic is partitioned by the primary key, as upsert requires.
        producer.produce(topic, json.dumps(row).encode(), key=str(row[key]).encode(), partition=int(row[key]) % partitions)
    producer.flush(30)


def game_scores(rows, multi_value_game=False):
    out = []
    for player, name, game, score, ts, deleted in rows:
        out.append({
            "playerId": int(player),
            "name": name,
            "game": [game] if multi_value_game else game,
            "score": float(score),
            "timestampInEpoch": int(ts),
            "deleted": deleted.lower() == "true",
        })
    return out


def latest_by_key(rows):
    """Pinot's rule: per key the row with the largest comparison value, ties to the later."""
    latest = {}
    for row in rows:
        previous = latest.get(row["playerId"])
        if previous is None or row["timestampInEpoch"] >= previous["timestampInEpoch"]:
            latest[row["playerId"]] = row
    return latest


def partitions(server, name):
    return http(server.port, "GET", f"/tables/{name}/consumingSegmentsInfo")["partitions"]


def seal_all(server, name, rows_expected):
    """Force-commits and waits until every row is in a published segment."""
    http(server.port, "POST", f"/tables/{name}/forceCommit")
    wait_for(lambda: server.scalar(f"SELECT COUNT(*) FROM {name}", "skipUpsert=true") == rows_expected
             and all(p["rowsInConsumingSegment"] == 0 for p in partitions(server, name)),
             "the consuming segments to be sealed", 60)


def test_game_scores_keep_the_latest_row_per_player(kafka, server):
    name = "gameScores"
    kafka.create_topic(name, 2)
    http(server.port, "POST", "/schemas", schema("upsert_table_test.schema", name))
    http(server.port, "POST", "/tables", table(name, kafka.bootstrap, "timestampInEpoch",
                                               upsertConfig={"mode": "FULL", "deleteRecordColumn": "deleted"}))
    rows = game_scores(csv_rows("gameScores_csv.tar.gz"))
    produce(kafka, name, rows, "playerId")
    wait_for(lambda: server.scalar(f"SELECT COUNT(*) FROM {name}", "skipUpsert=true") == 10, "all 10 rows", 60)
    expected = {p: r["score"] for p, r in latest_by_key(rows).items()}

    def answers():
        assert server.scalar(f"SELECT COUNT(*) FROM {name}") == 3
        assert server.scalar(f"SELECT COUNT(*) FROM {name}", "skipUpsert=true") == 10
        got = {p: s for p, s in server.query(f"SELECT playerId, score FROM {name} ORDER BY playerId")}
        assert got == pytest.approx(expected), got
        # Filters combine with the valid docs, through an index or a scan alike.
        assert server.scalar(f"SELECT COUNT(*) FROM {name} WHERE name = 'Suess'") == 1
        assert server.scalar(f"SELECT COUNT(*) FROM {name} WHERE name = 'Suess'", "skipUpsert=true") == 6
        assert server.query(f"SELECT name, COUNT(*) FROM {name} GROUP BY name ORDER BY name") == [["Clifford", 1], ["Suess", 1], ["Zook", 1]]

    answers()  # consuming
    seal_all(server, name, 10)
    answers()  # sealed, docs reordered
    server.restart()
    wait_for(lambda: server.scalar(f"SELECT COUNT(*) FROM {name}", "skipUpsert=true") == 10, "the table after a restart", 60)
    answers()  # the key map rebuilt from the snapshot
    assert sum(p["primaryKeys"] for p in partitions(server, name)) == 3

    # A delete hides the key; a later row brings it back.
    produce(kafka, name, [{"playerId": 101, "name": "Suess", "game": "counter-strike", "score": 1.0,
                           "timestampInEpoch": 1_700_000_000_000_0, "deleted": True}], "playerId")
    wait_for(lambda: server.scalar(f"SELECT COUNT(*) FROM {name}") == 2, "the delete", 30)
    produce(kafka, name, [{"playerId": 101, "name": "Suess", "game": "counter-strike", "score": 7.0,
                           "timestampInEpoch": 1_700_000_000_000_1, "deleted": False}], "playerId")
    wait_for(lambda: server.scalar(f"SELECT COUNT(*) FROM {name}") == 3, "the key back", 30)
    assert server.scalar(f"SELECT score FROM {name} WHERE playerId = 101") == 7.0


def test_large_game_scores_match_a_model(kafka, server):
    name = "gameScoresLarge"
    kafka.create_topic(name, 2)
    http(server.port, "POST", "/schemas", schema("upsert_table_test.schema", name))
    http(server.port, "POST", "/tables", table(name, kafka.bootstrap, "timestampInEpoch", upsertConfig={"mode": "FULL"}))
    rows = game_scores(csv_rows("gameScores_large_csv.tar.gz"))
    produce(kafka, name, rows[:600], "playerId")
    wait_for(lambda: server.scalar(f"SELECT COUNT(*) FROM {name}", "skipUpsert=true") == 600, "the first 600 rows", 60)
    seal_all(server, name, 600)
    produce(kafka, name, rows[600:], "playerId")
    wait_for(lambda: server.scalar(f"SELECT COUNT(*) FROM {name}", "skipUpsert=true") == len(rows), "every row", 60)
    expected = {p: r["score"] for p, r in latest_by_key(rows).items()}
    got = {p: s for p, s in server.query(f"SELECT playerId, score FROM {name} ORDER BY playerId")}
    assert got == pytest.approx(expected)
    assert server.scalar(f"SELECT SUM(score) FROM {name}") == pytest.approx(sum(expected.values()))


def test_partial_upsert_merges_by_strategy(kafka, server):
    name = "gameScoresPartial"
    kafka.create_topic(name, 2)
    http(server.port, "POST", "/schemas", schema("partial_upsert_table_test.schema", name))
    http(server.port, "POST", "/tables", table(name, kafka.bootstrap, "timestampInEpoch", upsertConfig={
        "mode": "PARTIAL",
        "partialUpsertStrategies": {"score": "INCREMENT", "game": "UNION", "name": "IGNORE"},
    }))
    rows = game_scores(csv_rows("gameScores_partial_upsert_csv.tar.gz"), multi_value_game=True)
    produce(kafka, name, rows, "playerId")
    wait_for(lambda: server.scalar(f"SELECT COUNT(*) FROM {name}", "skipUpsert=true") == 10, "all 10 rows", 60)

    # The model: rows older than their key's latest are hidden and merge nothing.
    merged = {}
    for row in rows:
        previous = merged.get(row["playerId"])
        if previous and row["timestampInEpoch"] < previous["timestampInEpoch"]:
            continue
        if previous:
            row = dict(row, score=previous["score"] + row["score"], name=previous["name"],
                       game=previous["game"] + [g for g in row["game"] if g not in previous["game"]])
        merged[row["playerId"]] = row

    def answers():
        assert server.scalar(f"SELECT COUNT(*) FROM {name}") == 3
        got = server.query(f"SELECT playerId, name, score, game FROM {name} ORDER BY playerId")
        want = [[p, r["name"], r["score"], r["game"]] for p, r in sorted(merged.items())]
        for g, w in zip(got, want):
            assert g[:2] == w[:2] and g[2] == pytest.approx(w[2]) and g[3] == w[3], (got, want)
        assert len(got) == len(want)

    answers()
    seal_all(server, name, 10)
    answers()
    server.restart()
    wait_for(lambda: server.scalar(f"SELECT COUNT(*) FROM {name}", "skipUpsert=true") == 10, "the table after a restart", 60)
    answers()


def test_dedup_keeps_the_first_row_per_key(kafka, server):
    name = "dedupTest"
    kafka.create_topic(name, 2)
    http(server.port, "POST", "/schemas", schema("dedupIngestionTestSchema.schema", name))
    http(server.port, "POST", "/tables", table(name, kafka.bootstrap, "DaysSinceEpoch", dedupConfig={"dedupEnabled": True, "hashFunction": "MURMUR3"}))
    # dedupIngestionTestData.avro, as JSON: ids 0–4, each twice, names 0–9.
    rows = [{"id": i % 5, "name": str(i), "DaysSinceEpoch": 16071} for i in range(10)]
    produce(kafka, name, rows[:7], "id")
    wait_for(lambda: server.scalar(f"SELECT COUNT(*) FROM {name}") == 5, "the first occurrences", 60)
    seal_all(server, name, 5)
    server.restart()
    produce(kafka, name, rows[7:], "id")
    wait_for(lambda: sum(p["rowsDroppedByKey"] for p in partitions(server, name)) >= 3,
             "the last duplicates to be dropped", 60)
    assert server.query(f"SELECT id, name FROM {name} ORDER BY id") == [[i, str(i)] for i in range(5)]
    assert server.scalar(f"SELECT COUNT(*) FROM {name}", "skipUpsert=true") == 5


def test_refusals_name_what_is_wrong(kafka, server):
    name = "badUpsert"
    http(server.port, "POST", "/schemas", schema("upsert_table_test.schema", name))
    with pytest.raises(Exception) as error:
        http(server.port, "POST", "/tables", table(name, kafka.bootstrap, "timestampInEpoch",
                                                   upsertConfig={"mode": "PARTIAL", "partialUpsertStrategies": {"name": "INCREMENT"}}))
    body = error.value.read().decode()
    assert "upsertConfig.partialUpsertStrategies.name" in body and "INCREMENT needs a single-value number" in body, body


def test_the_key_rule_cannot_change_under_a_table(kafka, server):
    """gameScores' key maps were built by FULL upsert on playerId: another rule is refused."""
    config = table("gameScores", kafka.bootstrap, "timestampInEpoch", upsertConfig={"mode": "PARTIAL"})
    with pytest.raises(Exception) as error:
        http(server.port, "PUT", "/tables/gameScores", config)
    body = error.value.read().decode()
    assert "upsertConfig, dedupConfig and the schema's primaryKeyColumns cannot change" in body, body
    assert server.scalar("SELECT COUNT(*) FROM gameScores") == 3
