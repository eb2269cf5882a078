"""Pinot's geospatial examples through a real Kafka broker (tansu): every example table
config posts (meetupRsvp and its upsert variants included, Kinesis excepted); meetupRsvp
events in the shape of Pinot's RSVP generator become points at ingestion
(`toSphericalGeography(stPoint(group_lon, group_lat))`) and answer distance and polygon
queries through the H3 index once sealed (EXPLAIN ANALYZE shows it), with the answers
checked against Pinot's great-circle formula computed here, not by cuvee.

Needs CUVEE_BIN (the cuvee binary); scripts/test.sh sets it."""

import glob
import json
import math
import os
import random
import subprocess
import tempfile
import time
import urllib.error

import pytest
from confluent_kafka import Producer

from cuvee_http import http, wait_for, wait_for_health
from kafka_broker import Tansu, free_port

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "pinot-examples")
EARTH_RADIUS_M = 6371010.0
CITIES = {"San Francisco": (-122.4194, 37.7749), "London": (-0.1278, 51.5074), "Tokyo": (139.6917, 35.6895),
          "Bangalore": (77.5946, 12.9716), "Auckland": (174.7633, -36.8485)}


def great_circle_m(a, b):
    """Pinot's ST_Distance for two geography points (its Vincenty form on a sphere)."""
    (lon1, lat1), (lon2, lat2) = a, b
    p1, p2 = math.radians(lat1), math.radians(lat2)
    d = math.radians(lon1) - math.radians(lon2)
    t1 = math.cos(p2) * math.sin(d)
    t2 = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(d)
    t3 = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(d)
    return math.atan2(math.sqrt(t1 * t1 + t2 * t2), t3) * EARTH_RADIUS_M


class Server:
    def __init__(self, binary):
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary, "serve", "--data-dir", tempfile.mkdtemp(prefix="cuvee-geo-"), "--listen", f"127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.names = set()
        wait_for_health(self.port)

    def post(self, path, body):
        try:
            http(self.port, "POST", path, body)
            return None
        except urllib.error.HTTPError as e:
            return f"HTTP {e.code}: {e.read().decode()}"

    def query(self, sql):
        answer = http(self.port, "POST", "/query/sql", {"sql": sql}, timeout=60)
        assert not answer.get("exceptions"), answer
        return answer["resultTable"]["rows"]

    def stop(self):
        self.process.kill()
        self.process.wait()


@pytest.fixture(scope="module")
def kafka():
    broker = Tansu()
    yield broker
    broker.stop()


def stream_maps(config):
    ingestion = config.get("ingestionConfig", {}).get("streamIngestionConfig", {}).get("streamConfigMaps", [])
    legacy = config.get("tableIndexConfig", {}).get("streamConfigs")
    return ingestion + ([legacy] if legacy else [])


def pointed_at(config, kafka):
    """The config with its Kafka stream read from the test broker, from the start."""
    for stream in stream_maps(config):
        stream["stream.kafka.broker.list"] = kafka.bootstrap
        stream["stream.kafka.consumer.prop.auto.offset.reset"] = "smallest"
    return config


def raw_name(config):
    name = config["tableName"]
    for suffix in ("_OFFLINE", "_REALTIME"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def examples():
    """(schema, table config, path) for every example config, paired with the schema of
    its table's name in its folder (the realtime variant for a realtime config)."""
    out = []
    for config_path in sorted(glob.glob(os.path.join(EXAMPLES, "**", "*_table_config.json"), recursive=True)):
        with open(config_path) as f:
            config = json.load(f)
        schemas = []
        for schema_path in sorted(glob.glob(os.path.join(os.path.dirname(config_path), "*schema*.json"))):
            with open(schema_path) as f:
                schema = json.load(f)
            if schema.get("schemaName") == raw_name(config):
                schemas.append((os.path.basename(schema_path), schema))
        if not schemas:
            continue
        realtime = config["tableType"] == "REALTIME"
        schema = next((s for n, s in schemas if realtime and "realtime" in n.lower()), schemas[0][1])
        out.append((schema, config, os.path.relpath(config_path, EXAMPLES)))
    return out


def test_every_example_table_config_posts(kafka, cuvee_binary):
    # A name two examples share (ssb's and tpch's `customer`; the halves of a hybrid
    # table) goes to another server.
    servers = []
    try:
        posted, refused, topics = [], [], set()
        for schema, config, path in examples():
            kinesis = any(s.get("streamType") == "kinesis" for s in stream_maps(config))
            for stream in stream_maps(config):
                topic = stream.get("stream.kafka.topic.name")
                if stream.get("streamType") == "kafka" and topic not in topics:
                    kafka.create_topic(topic, 1)
                    topics.add(topic)
            server = next((s for s in servers if raw_name(config) not in s.names), None)
            if server is None:
                server = Server(cuvee_binary)
                servers.append(server)
            server.names.add(raw_name(config))
            problem = server.post("/schemas", schema) or server.post("/tables", pointed_at(config, kafka))
            if kinesis:
                assert problem and "streamType" in problem, f"{path}: {problem}"
            elif problem:
                refused.append(f"{path}: {problem}")
            else:
                posted.append(path)
        assert not refused, "\n".join(refused)
        for name in ("meetupRsvp", "upsertMeetupRsvp", "upsertPartialMeetupRsvp", "starbucksStores"):
            assert any(f"/{name}_" in p for p in posted), f"{name} in {posted}"
        assert len(posted) >= 20, posted
    finally:
        for server in servers:
            server.stop()


def rsvps(n, now_ms):
    """Messages in the shape of Pinot's MeetupRsvpStream, grouped around a few cities."""
    rng = random.Random(19)
    out = []
    for i in range(n):
        city = rng.choice(sorted(CITIES))
        lon, lat = CITIES[city]
        out.append({
            "venue_name": f"venue {rng.randrange(40)}", "event_name": f"event {rng.randrange(120)}",
            "event_id": f"{rng.randrange(10**9):09d}", "event_time": now_ms - rng.randrange(10**7),
            "group_city": city, "group_country": "xx", "group_id": rng.randrange(10**6),
            "group_name": f"group {rng.randrange(60)}",
            "group_lat": round(lat + rng.uniform(-0.6, 0.6), 5), "group_lon": round(lon + rng.uniform(-0.6, 0.6), 5),
            "mtime": now_ms - i, "rsvp_count": rng.randrange(1, 5),
        })
    return out


def test_meetup_rsvps_answer_distance_queries_through_the_h3_index(kafka, cuvee_binary):
    with open(os.path.join(EXAMPLES, "meetupRsvp", "meetupRsvp_schema.json")) as f:
        schema = json.load(f)
    with open(os.path.join(EXAMPLES, "meetupRsvp", "meetupRsvp_realtime_table_config.json")) as f:
        config = pointed_at(json.load(f), kafka)
    # Pinot's example has no index on `location`; a user adds one the way starbucksStores does.
    config["fieldConfigList"].append(
        {"name": "location", "encodingType": "RAW", "indexTypes": ["H3"], "properties": {"resolutions": "6, 8"}})
    topic = "meetupRsvpGeo"
    stream_maps(config)[0]["stream.kafka.topic.name"] = topic
    kafka.create_topic(topic, 2)
    rows = rsvps(4000, int(time.time() * 1000))
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 5})
    for i, row in enumerate(rows):
        producer.produce(topic, json.dumps(row).encode(), partition=i % 2)
    producer.flush(30)

    server = Server(cuvee_binary)
    try:
        assert server.post("/schemas", schema) is None
        assert server.post("/tables", config) is None
        wait_for(lambda: server.query("SELECT COUNT(*) FROM meetupRsvp") == [[len(rows)]], "every RSVP", 60)

        def within(centre, metres, inclusive=False):
            def keep(d):
                return d <= metres if inclusive else d < metres
            return sorted(r["event_id"] for r in rows if keep(great_circle_m((r["group_lon"], r["group_lat"]), centre)))

        sf = CITIES["San Francisco"]
        near_sf = f"ST_Distance(location, ST_Point({sf[0]}, {sf[1]}, 1)) < 30000"
        expected = within(sf, 30000)
        assert 50 < len(expected) < 700, len(expected)
        fresh = server.query(f"SELECT event_id FROM meetupRsvp WHERE {near_sf} ORDER BY event_id LIMIT 10000")
        assert [r[0] for r in fresh] == expected, "consuming segments"
        fresh_plan = "\n".join(str(r[-1]) for r in server.query(f"EXPLAIN ANALYZE SELECT COUNT(*) FROM meetupRsvp WHERE {near_sf}"))
        assert "leaves_by_h3_index=2" in fresh_plan, "each partition's consuming segment has the index too\n" + fresh_plan

        http(server.port, "POST", "/tables/meetupRsvp/forceCommit")
        wait_for(lambda: all(p["rowsInConsumingSegment"] == 0 for p in
                             http(server.port, "GET", "/tables/meetupRsvp/consumingSegmentsInfo")["partitions"])
                 and server.query("SELECT COUNT(*) FROM meetupRsvp") == [[len(rows)]],
                 "the consuming segments to be sealed", 60)
        sealed = server.query(f"SELECT event_id FROM meetupRsvp WHERE {near_sf} ORDER BY event_id LIMIT 10000")
        assert [r[0] for r in sealed] == expected, "sealed segments, through the H3 index"

        # Auckland's points within 80 km (inclusive), counted by city, the point from text.
        auckland = CITIES["Auckland"]
        counted = server.query(
            f"SELECT group_city, COUNT(*) FROM meetupRsvp WHERE ST_Distance(location, "
            f"ST_GeogFromText('POINT ({auckland[0]} {auckland[1]})')) <= 80000 GROUP BY group_city")
        assert counted == [["Auckland", len(within(auckland, 80000, inclusive=True))]], counted

        # A polygon around London: strictly inside, as ST_Within is.
        box = (-0.5, 51.3, 0.3, 51.7)
        polygon = f"POLYGON (({box[0]} {box[1]}, {box[2]} {box[1]}, {box[2]} {box[3]}, {box[0]} {box[3]}, {box[0]} {box[1]}))"
        inside = sum(1 for r in rows if box[0] < r["group_lon"] < box[2] and box[1] < r["group_lat"] < box[3])
        assert server.query(f"SELECT COUNT(*) FROM meetupRsvp WHERE ST_Within(location, ST_GeogFromText('{polygon}')) = 1") == [[inside]]

        plan = server.query(f"EXPLAIN ANALYZE SELECT COUNT(*) FROM meetupRsvp WHERE {near_sf}")
        text = "\n".join(str(r[-1]) for r in plan)
        assert "leaves_by_h3_index=" in text and "leaves_by_h3_index=0" not in text, text
        assert "FilterExec" not in text, "the H3 answer is exact: no filter above the scan\n" + text

        # The shape round-trips as Pinot renders it: hex BYTES, and text.
        first = next(r for r in rows if min(abs(r["group_lon"]), abs(r["group_lat"])) > 0.001)
        shape = server.query(f"SELECT location, ST_AsText(location) FROM meetupRsvp WHERE event_id = '{first['event_id']}' LIMIT 1")
        assert shape[0][1] == f"POINT ({first['group_lon']} {first['group_lat']})", shape
        assert shape[0][0].startswith("80"), "a geography point: Pinot's type byte 0x80"
    finally:
        server.stop()


def java_hash_partition(text, partitions):
    """Pinot's HashCode partition function: |String.hashCode()| mod n."""
    h = 0
    for unit in text.encode("utf-16-be").hex(" ", 2).split():
        h = (h * 31 + int(unit, 16)) & 0xFFFFFFFF
    h = h - (1 << 32) if h >= 1 << 31 else h
    return abs(h) % partitions


def test_upsert_meetup_examples_keep_one_row_per_event_and_find_it_by_place(kafka, cuvee_binary):
    """Pinot's upsertMeetupRsvp and upsertPartialMeetupRsvp configs as shipped (only the
    broker address changed): five RSVPs per event, partitioned by event_id as their
    `segmentPartitionConfig` says; FULL keeps the latest, PARTIAL adds the counts, appends
    the venues and unions the group names; the partial table's own H3 index answers."""
    rng = random.Random(23)
    now = int(time.time() * 1000)
    events = []
    for e in range(240):
        city = sorted(CITIES)[e % len(CITIES)]
        lon, lat = CITIES[city]
        events.append((f"ev{e:04d}", city, round(lon + rng.uniform(-0.5, 0.5), 5), round(lat + rng.uniform(-0.5, 0.5), 5)))
    rows = []
    for version in range(5):
        for event_id, city, lon, lat in events:
            rows.append({
                "event_id": event_id, "event_name": f"{event_id} v{version}", "venue_name": [f"venue {version}"],
                "event_time": now, "group_city": city, "group_country": "xx", "group_id": 7,
                "group_name": [f"group {version % 2}"], "group_lat": lat, "group_lon": lon,
                "mtime": now - 100_000 + version * 1000 + len(rows) % 7, "rsvp_count": version + 1,
            })
    server = Server(cuvee_binary)
    try:
        for name in ("upsertMeetupRsvp", "upsertPartialMeetupRsvp"):
            with open(os.path.join(EXAMPLES, name, f"{name}_schema.json")) as f:
                schema = json.load(f)
            with open(os.path.join(EXAMPLES, name, f"{name}_realtime_table_config.json")) as f:
                config = pointed_at(json.load(f), kafka)
            topic = stream_maps(config)[0]["stream.kafka.topic.name"] + "Geo"
            stream_maps(config)[0]["stream.kafka.topic.name"] = topic
            kafka.create_topic(topic, 2)
            producer = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 5})
            for row in rows:
                message = dict(row)
                if name == "upsertMeetupRsvp":
                    message["venue_name"], message["group_name"] = message["venue_name"][0], message["group_name"][0]
                producer.produce(topic, json.dumps(message).encode(), key=row["event_id"].encode(),
                                 partition=java_hash_partition(row["event_id"], 2))
            producer.flush(30)
            assert server.post("/schemas", schema) is None
            assert server.post("/tables", config) is None

        def settled(name):
            return server.query(f"SET skipUpsert = true; SELECT COUNT(*) FROM {name}") == [[len(rows)]]

        for name in ("upsertMeetupRsvp", "upsertPartialMeetupRsvp"):
            wait_for(lambda: settled(name), f"every RSVP in {name}", 60)
            assert server.query(f"SELECT COUNT(*) FROM {name}") == [[len(events)]], name

        latest = server.query("SELECT event_id, event_name, rsvp_count FROM upsertMeetupRsvp ORDER BY event_id LIMIT 1000")
        assert latest == [[e[0], f"{e[0]} v4", 5] for e in events]

        merged = server.query(
            "SELECT event_id, rsvp_count, venue_name, group_name FROM upsertPartialMeetupRsvp ORDER BY event_id LIMIT 1000")
        assert merged == [[e[0], 15, [f"venue {v}" for v in range(5)], ["group 0", "group 1"]] for e in events], merged[:2]

        http(server.port, "POST", "/tables/upsertPartialMeetupRsvp/forceCommit")
        wait_for(lambda: all(p["rowsInConsumingSegment"] == 0 for p in
                             http(server.port, "GET", "/tables/upsertPartialMeetupRsvp/consumingSegmentsInfo")["partitions"])
                 and server.query("SELECT COUNT(*) FROM upsertPartialMeetupRsvp") == [[len(events)]],
                 "the partial-upsert table's segments to be sealed", 60)
        tokyo = CITIES["Tokyo"]
        near = f"ST_Distance(location, ST_Point({tokyo[0]}, {tokyo[1]}, 1)) < 40000"
        expected = sorted(e[0] for e in events if great_circle_m((e[2], e[3]), tokyo) < 40000)
        assert expected, "some events near Tokyo"
        found = server.query(f"SELECT event_id, rsvp_count FROM upsertPartialMeetupRsvp WHERE {near} ORDER BY event_id LIMIT 1000")
        assert found == [[e, 15] for e in expected], found
        plan = "\n".join(str(r[-1]) for r in server.query(f"EXPLAIN ANALYZE SELECT COUNT(*) FROM upsertPartialMeetupRsvp WHERE {near}"))
        assert "leaves_by_h3_index=" in plan and "leaves_by_h3_index=0" not in plan, plan
    finally:
        server.stop()
