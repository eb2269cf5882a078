"""QPS and latency of a selective query mix on a table ingesting from Kafka, one process
(`cuvee serve`) against a cluster (`cuvee broker` + 2 `cuvee server` splitting the
partitions, then 2 servers each consuming every partition with `--replicas 2`), on this
machine.

The table: `events` (user_id sorted, country and device inverted), preloaded with ROWS rows
from a 4-partition topic on tansu, then fed RATE more events/s while the load runs. The mix
(benches/cluster_qps.sql): equality on inverted columns, a sorted-column range, a filtered
top-10. Load: benches/http_load.rs (closed loop, HTTP/1.1 keep-alive).

Environment: CUVEE_BIN, HTTP_LOAD (built binaries), ROWS (default 1,000,000), RATE (5,000/s),
SECONDS (20)."""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from kafka_broker import Tansu, free_port  # noqa: E402
from realtime_table import realtime_table  # noqa: E402
from cuvee_http import wait_for_health  # noqa: E402
from confluent_kafka import Producer  # noqa: E402

BIN = os.environ["CUVEE_BIN"]
LOAD = os.environ["HTTP_LOAD"]
ROWS = int(os.environ.get("ROWS", 1_000_000))
RATE = int(os.environ.get("RATE", 5_000))
SECONDS = int(os.environ.get("SECONDS", 20))
USERS, COUNTRIES, DEVICES = 1_000_000, 200, 10
QUERIES = os.path.join(os.path.dirname(__file__), "cluster_qps.sql")

SCHEMA = {
    "schemaName": "events",
    "dimensionFieldSpecs": [
        {"name": "user_id", "dataType": "LONG"},
        {"name": "country", "dataType": "STRING"},
        {"name": "device", "dataType": "STRING"},
    ],
    "metricFieldSpecs": [{"name": "latency_ms", "dataType": "DOUBLE"}],
    "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}],
}


def table_config(bootstrap):
    return realtime_table("events", bootstrap, flush_rows=250_000, inverted=["country", "device"], sorted_column="user_id")


def event(rng, i):
    return {
        "ts": 1_700_000_000_000 + i,
        "user_id": int(USERS * rng.random() ** 3),  # power law: a few heavy users
        "country": f"c{min(int(COUNTRIES * rng.random() ** 2), COUNTRIES - 1)}",
        "device": f"d{rng.randrange(DEVICES)}",
        "latency_ms": round(rng.gammavariate(2.0, 40.0), 3),
    }


def post(port, path, body):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def wait_rows(port, rows, deadline=600):
    end = time.time() + deadline
    while time.time() < end:
        answer = post(port, "/query/sql", {"sql": "SELECT COUNT(*) FROM events WHERE user_id >= 0"})
        if answer.get("resultTable") and answer["resultTable"]["rows"][0][0] >= rows:
            return
        time.sleep(0.5)
    raise RuntimeError("rows did not arrive")


def load(port, clients):
    out = subprocess.run([LOAD, "--target", f"127.0.0.1:{port}", "--clients", str(clients), "--seconds", str(SECONDS), "--queries", QUERIES], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


class Feed:
    """RATE events/s into the topic while the load runs."""

    def __init__(self, bootstrap, start):
        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        self.stop, self.next = threading.Event(), start
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        rng = random.Random(7)
        while not self.stop.is_set():
            started = time.time()
            for _ in range(RATE // 10):
                self.producer.produce("events", json.dumps(event(rng, self.next)).encode())
                self.next += 1
            self.producer.poll(0)
            time.sleep(max(0.0, 0.1 - (time.time() - started)))
        self.producer.flush(10)

    def close(self):
        self.stop.set()
        self.thread.join()


def main():
    kafka = Tansu()
    root = tempfile.mkdtemp(prefix="cuvee-qps-")
    processes = []
    try:
        kafka.create_topic("events", 4)
        producer = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 20, "batch.num.messages": 10000})
        rng = random.Random(42)
        started = time.time()
        for i in range(ROWS):
            producer.produce("events", json.dumps(event(rng, i)).encode())
            if i % 50_000 == 0:
                producer.poll(0)
        producer.flush(60)
        print(f"preloaded {ROWS:,} events in {time.time() - started:.1f} s", file=sys.stderr)
        feed = Feed(kafka.bootstrap, ROWS)
        results = {}

        # One process.
        port = free_port()
        processes.append(subprocess.Popen([BIN, "serve", "--data-dir", os.path.join(root, "embedded"), "--listen", f"127.0.0.1:{port}", "--pg-listen", "off", "--flight-listen", "off"], stdout=subprocess.DEVNULL))
        wait_for_health(port)
        post(port, "/schemas", SCHEMA)
        post(port, "/tables", table_config(kafka.bootstrap))
        wait_rows(port, ROWS)
        results["one process, 1 client"] = load(port, 1)
        results["one process, 16 clients"] = load(port, 16)
        processes.pop().terminate()

        # The cluster: 2 servers splitting the partitions, then 2 replicas of every partition.
        for name, replicas in [("broker + 2 servers", 1), ("broker + 2 replicas", 2)]:
            grpc = []
            for ordinal in range(2):
                http, g = free_port(), free_port()
                grpc.append(f"127.0.0.1:{g}")
                args = [BIN, "server", "--ordinal", str(ordinal), "--servers", "2", "--replicas", str(replicas), "--data-dir", os.path.join(root, f"{replicas}-server-{ordinal}"),
                        "--listen", f"127.0.0.1:{http}", "--grpc-listen", f"127.0.0.1:{g}"]
                if replicas > 1:
                    args += ["--deep-store", f"file://{root}/deep"]
                processes.append(subprocess.Popen(args, stdout=subprocess.DEVNULL))
                wait_for_health(http)
                post(http, "/schemas", SCHEMA)
                post(http, "/tables", table_config(kafka.bootstrap))
            port = free_port()
            processes.append(subprocess.Popen([BIN, "broker", "--servers", ",".join(grpc), "--listen", f"127.0.0.1:{port}", "--pg-listen", "off", "--flight-listen", "off"], stdout=subprocess.DEVNULL))
            wait_for_health(port)
            wait_rows(port, ROWS)
            results[f"{name}, 1 client"] = load(port, 1)
            results[f"{name}, 16 clients"] = load(port, 16)
            for _ in range(3):
                p = processes.pop()
                p.terminate()
                p.wait(timeout=30)
        feed.close()

        print(f"| setup (ingesting {RATE:,} events/s, {ROWS:,} preloaded) | QPS | p50 ms | p99 ms | errors | partial |")
        print("|---|---|---|---|---|---|")
        for name, r in results.items():
            print(f"| {name} | {r['qps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | {r['partial']} |")
        hop = results["broker + 2 servers, 1 client"]["p50_ms"] - results["one process, 1 client"]["p50_ms"]
        print(f"\nbroker hop (p50, 1 client, cluster minus one process): {hop:+.2f} ms")
        for name, r in results.items():
            if r.get("first_error"):
                print(f"{name}: first error: {r['first_error']}", file=sys.stderr)
    finally:
        for p in processes:
            p.terminate()
            p.wait(timeout=30)
        kafka.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
