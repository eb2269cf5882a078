"""A table from a topic in one step: Pinot's example data produced to a real Kafka-protocol
broker (tansu), `POST /topics/{topic}/infer` against `cuvee serve --kafka`, the proposed
schema and table config POSTed unchanged, and `SELECT COUNT(*)` equal to the messages
produced — for JSON with nested objects (githubEvents), flat JSON with times
(meetupRsvp, in the shape of Pinot's RSVP generator) and Avro datums (airlineStats).
Also `kafka_topic(…)` (SQL over a topic) on the Pinot and Postgres doors, `cuvee infer
--out`, `GET /topics` with offsets, and bad requests."""

import json
from collections import Counter
import os
import random
import subprocess
import tempfile
import urllib.error
import urllib.request

import fastavro
import psycopg
from confluent_kafka import Producer

from cuvee_http import wait_for, wait_for_health
from kafka_broker import Tansu, free_port

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "pinot-examples")


def http(port, method, path, body=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")




def produce(bootstrap, topic, payloads, partitions):
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i, payload in enumerate(payloads):
        producer.produce(topic, payload, partition=i % partitions)
        # tansu's high watermark is its last batch's base offset + 1: the last message of
        # each partition goes alone, so offsets (and the sample's end) are exact.
        if i >= len(payloads) - partitions - 1:
            producer.flush(30)
    producer.flush(30)


def github_events():
    with open(os.path.join(EXAMPLES, "githubEvents", "rawdata", "2021-07-21-few-hours.json"), "rb") as f:
        return [line.strip() for line in f if line.strip()]


def meetup_rsvps(n=600):
    """Messages in the shape of Pinot's MeetupRsvpStream (its example topic's generator)."""
    rng = random.Random(7)
    cities = [("San Francisco", "us"), ("London", "gb"), ("Berlin", "de"), ("Bangalore", "in"), ("Tokyo", "jp")]
    now = 1_700_000_000_000
    out = []
    for i in range(n):
        city, country = rng.choice(cities)
        out.append(json.dumps({
            "venue_name": f"venue {rng.randrange(40)}", "event_name": f"event {rng.randrange(120)}",
            "event_id": f"{rng.randrange(10**9):09d}", "event_time": now + rng.randrange(10**8),
            "group_city": city, "group_country": country, "group_id": rng.randrange(10**6),
            "group_name": f"group {rng.randrange(60)}", "group_lat": round(rng.uniform(-60, 60), 4),
            "group_lon": round(rng.uniform(-150, 150), 4), "mtime": now + i * 1000, "rsvp_count": rng.randrange(1, 5),
        }).encode())
    return out


def airline_stats(n=1500):
    """Avro binary datums (no container), written with the sample file's own schema."""
    import io

    with open(os.path.join(EXAMPLES, "airlineStats", "rawdata", "airlineStats_data.avro"), "rb") as f:
        reader = fastavro.reader(f)
        schema = reader.writer_schema
        records = [r for _, r in zip(range(n), reader)]
    parsed = fastavro.parse_schema(schema)
    payloads = []
    for record in records:
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, parsed, record)
        payloads.append(buffer.getvalue())
    return schema, payloads


def columns(proposal):
    return {c["name"]: c for c in proposal["columns"]}


def test_tables_from_topics_post_unchanged_and_count_every_message(cuvee_binary):
    kafka = Tansu()
    data_dir = tempfile.mkdtemp(prefix="cuvee-infer-")
    port, pg_port = free_port(), free_port()
    server = subprocess.Popen(
        [cuvee_binary, "serve", "--data-dir", data_dir, "--listen", f"127.0.0.1:{port}", "--kafka", kafka.bootstrap,
         "--pg-listen", f"127.0.0.1:{pg_port}", "--flight-listen", f"127.0.0.1:{free_port()}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_health(port)
        github, meetup = github_events(), meetup_rsvps()
        avro_schema, airline = airline_stats()
        for topic, payloads, partitions in [("githubEvents", github, 2), ("meetupRsvp", meetup, 3), ("airlineStats", airline, 2)]:
            kafka.create_topic(topic, partitions)
            produce(kafka.bootstrap, topic, payloads, partitions)

        status, listed = http(port, "GET", "/topics")
        assert status == 200, listed
        by_name = {t["topic"]: t for t in listed["topics"]}
        assert by_name["meetupRsvp"]["messages"] == len(meetup)
        assert [p["partition"] for p in by_name["meetupRsvp"]["partitions"]] == [0, 1, 2]

        expected = {"githubEvents": len(github), "meetupRsvp": len(meetup), "airlineStats": len(airline)}
        proposals = {}
        for topic, body in [("githubEvents", {}), ("meetupRsvp", {"messages": 300}), ("airlineStats", {"avroSchema": avro_schema})]:
            status, proposal = http(port, "POST", f"/topics/{topic}/infer", body)
            assert status == 200, (topic, proposal)
            assert proposal["sample"]["skipped"] == 0, proposal["sample"]
            proposals[topic] = proposal
            status, answer = http(port, "POST", "/schemas", proposal["schema"])
            assert status == 200, (topic, answer)
            status, answer = http(port, "POST", "/tables", proposal["tableConfig"])
            assert status == 200, (topic, answer)

        gh = columns(proposals["githubEvents"])
        assert gh["actor.login"]["dataType"] == "STRING", "nested objects are flattened Pinot's way"
        assert gh["created_at"]["role"] == "dateTime" and gh["created_at"]["dataType"] == "TIMESTAMP"
        assert "type" in proposals["githubEvents"]["tableConfig"]["tableIndexConfig"]["invertedIndexColumns"]
        assert proposals["githubEvents"]["tableConfig"]["ingestionConfig"]["complexTypeConfig"]["delimiter"] == "."
        assert proposals["meetupRsvp"]["sample"]["messages"] == 300
        rsvp = columns(proposals["meetupRsvp"])
        assert rsvp["rsvp_count"]["role"] == "metric" and rsvp["group_id"]["role"] == "dimension"
        assert rsvp["group_lat"]["dataType"] == "DOUBLE"
        assert proposals["meetupRsvp"]["tableConfig"]["segmentsConfig"]["timeColumnName"] in ("mtime", "event_time")
        air = columns(proposals["airlineStats"])
        assert air["DivAirports"]["multiValue"], "Avro arrays are multi-value columns"
        assert air["FlightNum"]["dataType"] == "INT", "the Avro schema's declared type wins"

        for table, produced in expected.items():
            def counted(table=table, produced=produced):
                status, answer = http(port, "POST", "/query/sql", {"sql": f"SELECT COUNT(*) FROM {table}"})
                return not answer.get("exceptions") and answer["resultTable"]["rows"][0][0] == produced
            wait_for(counted, f"{table} to hold all {produced} messages")

        status, answer = http(port, "POST", "/query/sql", {"sql": 'SELECT "actor.login", COUNT(*) FROM githubEvents GROUP BY 1 ORDER BY 2 DESC LIMIT 1'})
        assert not answer.get("exceptions") and answer["resultTable"]["rows"][0][0], answer

        # SQL over a topic, without a table, on the Pinot door ...
        def sql(text):
            status, answer = http(port, "POST", "/query/sql", {"sql": text})
            assert status == 200 and not answer.get("exceptions"), (text, answer)
            return answer["resultTable"]["rows"]

        assert sql("SELECT COUNT(*), COUNT(DISTINCT __partition) FROM kafka_topic('meetupRsvp', 100000)") == [[len(meetup), 3]]
        cities = Counter(json.loads(m)["group_city"] for m in meetup)
        rows = sql("SELECT group_city, COUNT(*) FROM kafka_topic('meetupRsvp', 100000) GROUP BY group_city")
        assert {city: n for city, n in rows} == cities
        assert sql("SELECT COUNT(*) FROM kafka_topic('meetupRsvp')") == [[100]], "the newest 100 by default"
        rows = sql("SELECT __partition, __offset FROM kafka_topic('meetupRsvp', 1, 5, 15) ORDER BY __offset")
        assert rows == [[1, offset] for offset in range(5, 15)]
        assert sql("SELECT COUNT(*) FROM kafka_topic('meetupRsvp', '2000-01-01 00:00:00')") == [[len(meetup)]]
        status, answer = http(port, "POST", "/query/sql", {"sql": "SELECT * FROM kafka_topic('meetupRsvp', 0)"})
        assert answer["exceptions"] and "kafka_topic('topic'" in answer["exceptions"][0]["message"], answer
        status, answer = http(port, "POST", "/query/sql", {"sql": "SELECT * FROM kafka_topic('no_such_topic')"})
        assert answer["exceptions"] and "no_such_topic" in answer["exceptions"][0]["message"], answer
        # ... and on the Postgres door.
        with psycopg.connect(f"host=127.0.0.1 port={pg_port} dbname=cuvee user=postgres connect_timeout=10") as connection:
            logins = connection.execute(
                """SELECT "actor.login", COUNT(*) FROM kafka_topic('githubEvents', 100000) GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3""").fetchall()
        expected_logins = Counter(json.loads(line)["actor"]["login"] for line in github)
        assert [n for _, n in logins] == sorted(expected_logins.values(), reverse=True)[:3]

        # The same proposal from the command line, as files.
        out = tempfile.mkdtemp(prefix="cuvee-infer-out-")
        subprocess.run([cuvee_binary, "infer", "--kafka", kafka.bootstrap, "--topic", "meetupRsvp", "--out", out],
                       check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(out, "meetupRsvp_realtime_table_config.json")) as f:
            assert json.load(f)["tableIndexConfig"]["streamConfigs"]["stream.kafka.topic.name"] == "meetupRsvp"
        with open(os.path.join(out, "meetupRsvp_schema.json")) as f:
            assert json.load(f)["schemaName"] == "meetupRsvp"

        # Bad requests are named, and nothing is read for them.
        assert http(port, "POST", "/topics/no_such_topic/infer", {})[0] == 404
        assert http(port, "POST", "/topics/bad%20name/infer", {})[0] == 400
        assert http(port, "POST", "/topics/meetupRsvp/infer", {"messages": 0})[0] == 400
        assert http(port, "POST", "/topics/meetupRsvp/infer", {"messages": 10**9})[0] == 400
        status, answer = http(port, "POST", "/topics/meetupRsvp/infer", {"bootstrap": "10.0.0.1:9092"})
        assert status == 400 and "unknown field" in answer["error"], answer
        status, answer = http(port, "POST", "/topics/airlineStats/infer", {})
        assert status == 400 and "Avro" in answer["error"], answer
    finally:
        server.terminate()
        server.wait(timeout=30)
        kafka.stop()


def test_a_server_without_kafka_says_so():
    broker = os.environ.get("CUVEE_BROKER")
    assert broker, "scripts/test.sh starts a server for the end-to-end tests (CUVEE_BROKER)"
    port = int(broker.rsplit(":", 1)[1])
    status, answer = http(port, "GET", "/topics")
    assert status == 501 and "--kafka" in answer["error"], answer

