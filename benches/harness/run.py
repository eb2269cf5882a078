#!/usr/bin/env python3
"""cuvee against DuckDB, chDB and DataFusion on Pinot's workload, in one run.

    benches/bench.sh                 # full size: 10 M rows (--rows 100000000 to opt in;
                                     # with --no-kafka under ~32 GiB: tansu holds the topic in memory)
    benches/bench.sh --smoke         # CI size: 20 k rows, answers checked, timings ignored

Builds in release mode (unless --bin/--tool/--load name built binaries), generates the
rows (benches/harness/events.rs), loads them into every system — cuvee by batch import
(one process, and a broker over two servers) and through Kafka (tansu, the same rows as
JSON) — checks every answer against every other system, then measures: per-query p50/p99
(one client, hot), QPS of the S1/S2/S3 mix at 1/4/16/64 clients with and without ingestion
at --rate events/s, ingest rows/s, freshness, bytes per row. Prints one table and writes it
as Markdown and JSON to --out (benches/results/<date>-<rows>/ by default)."""

import argparse
import datetime
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import check  # noqa: E402
import report  # noqa: E402
import systems  # noqa: E402
from cuvee_http import http, wait_for_health  # noqa: E402
from kafka_broker import Tansu, free_port  # noqa: E402

TIME_CAP_S, MIN_RUNS = 20, 10
EMBEDDED, HTTP, BROKER, REALTIME = "cuvee in process", "cuvee HTTP", "cuvee broker + 2 servers", "cuvee realtime (Kafka)"
UPSERT = "cuvee upsert (Kafka)"
# The queries timed again over the upsert table (the latest event per session_id).
UPSERT_QUERIES = ("S1", "S4", "S8")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--smoke", action="store_true", help="20 k rows, 3 runs, 1 s QPS rows: checks answers, keeps the harness working")
    p.add_argument("--runs", type=int, default=50, help="timed runs per query and system")
    p.add_argument("--qps-seconds", type=int, default=10)
    p.add_argument("--clients", default="1,4,16,64")
    p.add_argument("--rate", type=int, default=50_000, help="events/s produced while measuring QPS with ingestion")
    p.add_argument("--no-kafka", action="store_true", help="skip the realtime table, ingestion and freshness")
    p.add_argument("--work", type=Path, help="scratch folder for data (default: $CARGO_TARGET_DIR/bench)")
    p.add_argument("--out", type=Path, help="results folder (default: benches/results/<date>-<rows>)")
    p.add_argument("--bin", help="a built cuvee binary (skips the release build)")
    p.add_argument("--tool", help="the built bench tool (cuvee-bench)")
    p.add_argument("--load", help="the built http_load tool (cuvee-bench)")
    a = p.parse_args()
    if a.smoke:
        a.rows, a.runs, a.qps_seconds, a.clients, a.rate = 20_000, 3, 1, "1,4", 2_000
    a.clients = [int(c) for c in a.clients.split(",")]
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    a.work = a.work or target / "bench"
    a.out = a.out or ROOT / "benches" / "results" / f"{datetime.date.today()}-{a.rows}{'-smoke' if a.smoke else ''}"
    if not (a.bin and a.tool and a.load):
        print("bench: building cuvee, the harness and the load generator (release)", file=sys.stderr)
        # The quickstart's build first, then the tools, which reuse all of it (benches/Cargo.toml).
        subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "cuvee"], cwd=ROOT, check=True)
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "cuvee-bench"], cwd=ROOT, check=True)
        release = target / "release"
        a.bin, a.tool, a.load = a.bin or str(release / "cuvee"), a.tool or str(release / "bench"), a.load or str(release / "http_load")
    return a


def say(text):
    print(f"bench: {text}", file=sys.stderr, flush=True)


def tool(a, *args):
    out = subprocess.run([a.tool, *map(str, args)], check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else None


def machine_facts(a):
    memory = next((int(line.split()[1]) // 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {
        "machine": f"{os.cpu_count()} cores ({cpu}), {memory:,} MiB, {platform.system()} {platform.release()}",
        "cuvee": f"commit {commit}, {'debug' if '/debug/' in a.bin else 'release'} build",
        "run": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {a.rows:,} rows, {a.runs} timed runs per query (cap {TIME_CAP_S} s), QPS {a.qps_seconds} s per row",
    }


class Processes:
    def __init__(self):
        self.all = []

    def start(self, args, name):
        log = open(name, "w")
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self.all.append(process)
        return process

    def stop(self):
        for p in self.all:
            if p.poll() is None:
                p.terminate()
        for p in self.all:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def wait_rows(port, rows, what, deadline_s=3600):
    end = time.time() + deadline_s
    last = None
    while time.time() < end:
        try:
            answer = http(port, "POST", "/query/sql", {"sql": "SELECT COUNT(*) FROM events WHERE user_id >= 0"}, timeout=60)
            if answer.get("resultTable"):
                last = answer["resultTable"]["rows"][0][0]
                if last >= rows:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what}: {last} of {rows} rows after {deadline_s} s")


def start_cuvee(a, procs, logs):
    """One `cuvee serve` and a broker over two `cuvee server`s, all over the imported rows."""
    schema, config = HERE / "events_schema.json", HERE / "events_offline_table_config.json"
    files = sorted((a.work / "parquet").glob("*.parquet"))
    timings = {}
    for name, share in [("one", files), ("server-0", files[0::2]), ("server-1", files[1::2])]:
        data = a.work / f"cuvee-{name}"
        shutil.rmtree(data, ignore_errors=True)
        started = time.perf_counter()
        subprocess.run([a.bin, "import", "--data-dir", data, "--schema", schema, "--table-config", config, "--max-rows-per-segment", "5000000", *share], check=True, capture_output=True)
        timings[name] = time.perf_counter() - started
    off = ["--pg-listen", "off", "--flight-listen", "off"]
    one = free_port()
    procs.start([a.bin, "serve", "--data-dir", a.work / "cuvee-one", "--listen", f"127.0.0.1:{one}", *off], logs / "serve.log")
    grpc = []
    for i in range(2):
        port, g = free_port(), free_port()
        grpc.append(f"127.0.0.1:{g}")
        procs.start([a.bin, "server", "--data-dir", a.work / f"cuvee-server-{i}", "--ordinal", str(i), "--servers", "2", "--listen", f"127.0.0.1:{port}", "--grpc-listen", f"127.0.0.1:{g}"], logs / f"server-{i}.log")
    broker = free_port()
    procs.start([a.bin, "broker", "--servers", ",".join(grpc), "--listen", f"127.0.0.1:{broker}", *off], logs / "broker.log")
    for port in (one, broker):
        wait_for_health(port, deadline=120)
        wait_rows(port, a.rows, f"port {port}", deadline_s=120)
    return one, broker, timings["one"]


def start_realtime(a, procs, logs, kafka):
    """`cuvee serve` with a REALTIME table over a topic holding the same rows."""
    kafka.create_topic("events", 4)
    say(f"producing {a.rows:,} rows to Kafka")
    produced = tool(a, "produce", "--bootstrap", kafka.bootstrap, "--topic", "events", "--from", 0, "--to", a.rows)
    port = free_port()
    shutil.rmtree(a.work / "cuvee-rt", ignore_errors=True)
    procs.start([a.bin, "serve", "--data-dir", a.work / "cuvee-rt", "--listen", f"127.0.0.1:{port}", "--pg-listen", "off", "--flight-listen", "off"], logs / "realtime.log")
    wait_for_health(port)
    http(port, "POST", "/schemas", json.loads((HERE / "events_schema.json").read_text()))
    flush = max(5_000, a.rows // 10)
    config = (HERE / "events_realtime_table_config.json").read_text().replace("${KAFKA}", kafka.bootstrap).replace("${TOPIC}", "events").replace("${FLUSH_ROWS}", str(flush))
    started = time.perf_counter()
    http(port, "POST", "/tables", json.loads(config))
    wait_rows(port, a.rows, "the realtime table")
    seconds = time.perf_counter() - started
    say(f"realtime table: {a.rows:,} rows from a full topic in {seconds:.1f} s")
    return port, {"produce_rows_per_second": produced["rows_per_second"], "kafka_ingest_rows_per_second": a.rows / seconds, "flush_rows": flush}


def start_upsert(a, port, kafka):
    """The same events keyed by session_id into an upsert table on the realtime server: the
    latest event per session is what queries see."""
    kafka.create_topic("events_upsert", 4)
    say(f"producing {a.rows:,} rows keyed by session_id")
    tool(a, "produce", "--bootstrap", kafka.bootstrap, "--topic", "events_upsert", "--from", 0, "--to", a.rows, "--key", "session_id")
    schema = json.loads((HERE / "events_schema.json").read_text())
    schema.update({"schemaName": "events_upsert", "primaryKeyColumns": ["session_id"]})
    http(port, "POST", "/schemas", schema)
    flush = max(5_000, a.rows // 10)
    config = json.loads((HERE / "events_realtime_table_config.json").read_text().replace("${KAFKA}", kafka.bootstrap).replace("${TOPIC}", "events_upsert").replace("${FLUSH_ROWS}", str(flush)))
    config["tableName"] = "events_upsert"
    config["segmentsConfig"]["schemaName"] = "events_upsert"
    config["upsertConfig"] = {"mode": "FULL", "hashFunction": "MURMUR3"}
    started = time.perf_counter()
    http(port, "POST", "/tables", config)
    every = {"sql": "SELECT COUNT(*) FROM events_upsert", "queryOptions": "skipUpsert=true"}
    deadline = time.time() + 3600
    while http(port, "POST", "/query/sql", every)["resultTable"]["rows"][0][0] < a.rows:
        if time.time() > deadline:
            raise SystemExit("the upsert table did not load")
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    say(f"upsert table: {a.rows:,} rows from a full topic in {seconds:.1f} s")
    return {"upsert_ingest_rows_per_second": a.rows / seconds}


def upsert_reference(con, glob):
    """DuckDB's copy of what the upsert table shows: per session_id the event with the
    largest ts, ties to the one produced later (file, then row, order)."""
    con.execute(f"""CREATE TABLE events_upsert AS SELECT * EXCLUDE (filename, file_row_number) FROM read_parquet('{glob}', filename = true, file_row_number = true)
        QUALIFY row_number() OVER (PARTITION BY session_id ORDER BY ts DESC, filename DESC, file_row_number DESC) = 1""")


def timed_runs(a, run, statements):
    times, started = [], time.perf_counter()
    for i in range(a.runs):
        if i >= MIN_RUNS and time.perf_counter() - started > TIME_CAP_S:
            break
        began = time.perf_counter()
        run(statements[i % len(statements)])
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return {"p50_ms": times[len(times) // 2], "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))], "runs": len(times)}


def cross_check(queries, answers, reference_con):
    """answers[system][query id] = list of row lists, one per statement. Raises on any difference."""
    problems = []
    reference = answers["DuckDB"]
    for q in queries:
        windows = [check.percentile_windows(reference_con, sql) for sql in q["sql"]] if q["id"] == "S6" else None
        for system, by_query in answers.items():
            for i, sql in enumerate(q["sql"]):
                got = by_query[q["id"]][i]
                why = check.percentile_differs(got, windows[i]) if windows else check.differ(got, reference[q["id"]][i])
                if why:
                    problems.append(f"{q['id']} {system}: {why}\n    {sql}")
    return problems


def closed_loop(make_worker, statements, clients, seconds, warmup=1.0):
    """QPS and p99 of `clients` threads each sending the next statement as soon as the last returned."""
    latencies, lock, stop = [], threading.Lock(), threading.Event()
    start = time.perf_counter() + warmup
    end = start + seconds

    def client(seed):
        run, rng, mine = make_worker(), random.Random(seed), []
        while not stop.is_set():
            began = time.perf_counter()
            run(rng.choice(statements))
            done = time.perf_counter()
            if start <= began and done <= end:
                mine.append((done - began) * 1000)
            if done > end:
                break
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    [t.start() for t in threads]
    [t.join(timeout=seconds + warmup + 120) for t in threads]
    stop.set()
    latencies.sort()
    if not latencies:
        return {"qps": 0.0, "p50_ms": None, "p99_ms": None}
    return {"qps": len(latencies) / seconds, "p50_ms": latencies[len(latencies) // 2], "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]}


def http_load(a, port, clients, mix):
    out = subprocess.run([a.load, "--target", f"127.0.0.1:{port}", "--clients", str(clients), "--seconds", str(a.qps_seconds), "--warmup", "1", "--queries", mix], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    if result.get("errors"):
        raise RuntimeError(f"http_load on port {port}: {result['errors']} errors, first: {result.get('first_error')}")
    return result


def freshness(port, bootstrap, seconds):
    """Produce → visible, for a marker event every 100 ms while the feed runs."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    conn = systems.CuveeHttp("probe", port)
    samples, end, n = [], time.time() + seconds, 0
    while time.time() < end:
        n += 1
        marker = f"probe-{n}-{random.random():.6f}"
        event = {"ts": int(time.time() * 1000), "user_id": -1, "session_id": marker, "country": "c000", "device": "bot", "event_type": "event_00", "page": "/p/0000", "latency_ms": 0, "revenue": 0.0, "tags": []}
        began = time.perf_counter()
        producer.produce("events", json.dumps(event).encode())
        producer.flush(5)
        while time.perf_counter() - began < 10:
            if conn.run(f"SELECT COUNT(*) FROM events WHERE session_id = '{marker}'")[0][0]:
                samples.append((time.perf_counter() - began) * 1000)
                break
            time.sleep(0.001)
        time.sleep(max(0.0, 0.1 - (time.perf_counter() - began)))
    conn.close()
    samples.sort()
    if not samples:
        return None, None
    return samples[len(samples) // 2], samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main():
    a = parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    logs = a.work / "logs"
    logs.mkdir(exist_ok=True)
    facts = machine_facts(a)
    say(f"generating {a.rows:,} rows into {a.work}")
    generated = tool(a, "generate", "--out", a.work, "--rows", a.rows, "--draws", 4 if a.smoke else 16, *(["--files", 4] if a.smoke else []))
    queries = json.loads((a.work / "queries.json").read_text())
    glob = str(a.work / "parquet" / "*.parquet")

    procs, kafka, peers = Processes(), None, []
    extra = {"generated": generated}
    try:
        say("importing into cuvee (one process, two servers)")
        one, broker, import_s = start_cuvee(a, procs, logs)
        say("cuvee in process")
        embedded_out = a.work / "embedded.json"
        tool(a, "embedded", "--data-dir", a.work / "cuvee-one", "--queries", a.work / "queries.json", "--runs", a.runs, "--out", embedded_out)
        embedded = json.loads(embedded_out.read_text())
        errors = {k: v["error"] for k, v in embedded.items() if v["error"]}
        if errors:
            raise SystemExit(f"cuvee in process failed: {errors}")
        cuvee = [systems.CuveeHttp(HTTP, one), systems.CuveeHttp(BROKER, broker)]
        realtime = None
        if not a.no_kafka:
            kafka = Tansu()
            rt_port, extra["kafka"] = start_realtime(a, procs, logs, kafka)
            realtime = systems.CuveeHttp(REALTIME, rt_port)
            cuvee.append(realtime)
            extra["kafka"].update(start_upsert(a, rt_port, kafka))

        say("loading the peers")
        chdb_dir = a.work / "chdb"
        shutil.rmtree(chdb_dir, ignore_errors=True)
        chdb = systems.chdb_session(str(chdb_dir))
        peers = [
            systems.DuckDB(glob, native=True), systems.DuckDB(glob, native=False),
            systems.ChDB(glob, native=True, session=chdb), systems.ChDB(glob, native=False, session=chdb),
            systems.DataFusion(str(a.work / "parquet"), native=True), systems.DataFusion(str(a.work / "parquet"), native=False),
        ]
        load_s = {p.name: p.load() for p in peers}
        load_s[EMBEDDED] = import_s
        versions = sorted({p.version for p in peers})
        facts["peers"] = ", ".join(versions)
        names = [EMBEDDED] + [c.name for c in cuvee] + [p.name for p in peers]
        peer_names = [p.name for p in peers]

        say("cross-checking every answer")
        answers = {EMBEDDED: {q: r["answers"] for q, r in embedded.items()}}
        for s in cuvee + peers:
            answers[s.name] = {q["id"]: [s.run(sql) for sql in q["sql"]] for q in queries}
        problems = cross_check(queries, answers, peers[0].con)
        if problems:
            print("ANSWERS DIFFER:\n" + "\n".join(problems[:40]), file=sys.stderr)
            raise SystemExit(1)
        say(f"all {sum(len(q['sql']) for q in queries)} statements agree across {len(answers)} systems")

        upsert_latency = {}
        if realtime:
            upserted = [dict(q, sql=[sql.replace("FROM events", "FROM events_upsert") for sql in q["sql"]]) for q in queries if q["id"] in UPSERT_QUERIES]
            upsert_reference(peers[0].con, glob)
            mine = systems.CuveeHttp(UPSERT, rt_port)
            up_answers = {s.name: {q["id"]: [s.run(sql) for sql in q["sql"]] for q in upserted} for s in (peers[0], mine)}
            problems = cross_check(upserted, {"DuckDB": up_answers[peers[0].name], UPSERT: up_answers[UPSERT]}, peers[0].con)
            if problems:
                print("UPSERT ANSWERS DIFFER:\n" + "\n".join(problems[:40]), file=sys.stderr)
                raise SystemExit(1)
            say(f"upsert: {sum(len(q['sql']) for q in upserted)} statements agree with DuckDB's latest row per session")
            for s in (mine, peers[0]):
                upsert_latency[s.name] = {q["id"]: timed_runs(a, s.run, q["sql"]) for q in upserted}

        latency = {EMBEDDED: {q: {"p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"], "runs": r["runs"]} for q, r in embedded.items()}}
        for s in cuvee + peers:
            say(f"latency: {s.name}")
            latency[s.name] = {q["id"]: timed_runs(a, s.run, q["sql"]) for q in queries}

        mix_statements = [sql for q in queries if q["in_mix"] for sql in q["sql"]]
        mix = a.work / "mix.sql"
        mix.write_text("\n".join(mix_statements) + "\n")
        qps = {}
        for c in a.clients:
            say(f"QPS at {c} clients")
            for s in cuvee:
                qps[(s.name, c)] = http_load(a, s.port, c, mix)
            for p in peers:
                if p.native:
                    qps[(p.name, c)] = closed_loop(p.worker, mix_statements, c, a.qps_seconds)

        ingest_qps, fresh = {}, (None, None)
        if realtime:
            rows_to_feed = a.rate * (len(a.clients) * (a.qps_seconds + 3) + 20)
            say(f"feeding {a.rate:,} events/s")
            feed = subprocess.Popen([a.tool, "produce", "--bootstrap", kafka.bootstrap, "--topic", "events", "--from", str(a.rows), "--to", str(a.rows + rows_to_feed), "--rate", str(a.rate)], stdout=subprocess.DEVNULL)
            time.sleep(2)
            fresh = freshness(realtime.port, kafka.bootstrap, 3 if a.smoke else 10)
            count = lambda: realtime.run("SELECT COUNT(*) FROM events")[0][0]  # noqa: E731
            before, began = count(), time.perf_counter()
            for c in a.clients:
                ingest_qps[c] = http_load(a, realtime.port, c, mix)
            extra["ingested_while_measuring_rows_per_second"] = (count() - before) / (time.perf_counter() - began)
            feed.terminate()
            feed.wait()

        say("ingest path, memory and sizes")
        ingest = tool(a, "ingest", "--rows", min(a.rows, 1_000_000), "--data-dir", a.work / "cuvee-one", "--parquet-dir", a.work / "parquet", "--out", a.work / "ingest.json")
        extra.update({"upsert_latency": upsert_latency, "latency": latency, "qps": {f"{k[0]} @ {k[1]}": v for k, v in qps.items()}, "ingest_qps": ingest_qps, "ingest": ingest, "load_seconds": load_s})

        metrics = build_metrics(a, queries, names, latency, qps, ingest_qps, fresh, ingest, load_s, extra.get("kafka"), upsert_latency)
        report.finish(metrics, peer_names)
        text = report.write(a.out, facts, names, metrics, extra)
        print(text)
        say(f"written to {a.out}")
    finally:
        for s in peers:
            s.close()
        procs.stop()
        if kafka:
            kafka.stop()


def build_metrics(a, queries, names, latency, qps, ingest_qps, fresh, ingest, load_s, kafka, upsert_latency):
    goals = {"S1": ("max", 1.0), "S2": ("max", 1.5), "S3 1%": ("max", 0.5), "S4": ("max", 10.0)}
    ms = []
    ms.append(report.metric("load (import / insert / register)", {n: load_s.get(n) for n in names}, unit="s", cuvee=[EMBEDDED]))
    for q in queries:
        values = {n: latency.get(n, {}).get(q["id"], {}).get("p50_ms") for n in names}
        goal = ("ratio", 2.0) if q["id"] == "S7" else goals.get(q["id"])
        ms.append(report.metric(f"{q['id']} p50", values, goal=goal, cuvee=[EMBEDDED]))
        ms.append(report.metric(f"{q['id']} p99", {n: latency.get(n, {}).get(q["id"], {}).get("p99_ms") for n in names}, cuvee=[EMBEDDED]))
    http_like = [HTTP, BROKER, REALTIME]
    for c in a.clients:
        ms.append(report.metric(f"S1/S2/S3 mix QPS, {c} clients", {n: (qps.get((n, c)) or {}).get("qps") for n in names}, better="higher", unit="qps", cuvee=http_like))
        ms.append(report.metric(f"S1/S2/S3 mix p99, {c} clients", {n: (qps.get((n, c)) or {}).get("p99_ms") for n in names}, cuvee=http_like))
    for c, r in ingest_qps.items():
        goal = ("min", 2000) if c == 16 else None
        ms.append(report.metric(f"mix QPS, {c} clients, ingesting {a.rate:,}/s", {REALTIME: r["qps"]}, better="higher", unit="qps", goal=goal, cuvee=[REALTIME]))
        ms.append(report.metric(f"mix p99, {c} clients, ingesting {a.rate:,}/s", {REALTIME: r["p99_ms"]}, goal=("max", 20.0) if c == 16 else None, cuvee=[REALTIME]))
    if kafka:
        ms.append(report.metric("ingest from a full topic (JSON, 4 partitions, tansu)", {REALTIME: kafka["kafka_ingest_rows_per_second"]}, better="higher", unit="rows/s", cuvee=[REALTIME]))
        ms.append(report.metric("  the same keyed by session_id into an upsert table", {REALTIME: kafka["upsert_ingest_rows_per_second"]}, better="higher", unit="rows/s", cuvee=[REALTIME]))
    # Upsert: the realtime column is the append table, the DuckDB column its copy of the
    # latest row per session (a table made ahead of time: what upsert keeps current).
    for q in UPSERT_QUERIES:
        if upsert_latency:
            values = {REALTIME: upsert_latency[UPSERT][q]["p50_ms"], "DuckDB": upsert_latency["DuckDB"][q]["p50_ms"]}
            ms.append(report.metric(f"{q} p50, upsert by session_id", values, cuvee=[REALTIME]))
    ms.append(report.metric("ingest path per core, JSON", {EMBEDDED: ingest["json_rows_per_second"]}, better="higher", unit="rows/s", goal=("min", 300_000), cuvee=[EMBEDDED]))
    ms.append(report.metric("ingest path per core, Avro", {EMBEDDED: ingest["avro_rows_per_second"]}, better="higher", unit="rows/s", cuvee=[EMBEDDED]))
    if fresh[0] is not None:
        ms.append(report.metric(f"freshness p50 at {a.rate:,}/s", {REALTIME: fresh[0]}, goal=("max", 20.0), cuvee=[REALTIME]))
        ms.append(report.metric(f"freshness p99 at {a.rate:,}/s", {REALTIME: fresh[1]}, goal=("max", 100.0), cuvee=[REALTIME]))
    ms.append(report.metric("consuming segment memory", {EMBEDDED: ingest["consuming_bytes_per_row"]}, unit="B/row", goal=("max", 48.0), cuvee=[EMBEDDED]))
    imported = ingest["imported"]
    parquet = imported["parquet_zstd_bytes_per_row"]
    ms.append(report.metric(f"sealed size (Parquet+zstd: {parquet:.1f} B/row)", {EMBEDDED: imported["bytes_per_row"]}, unit="B/row", goal=("reference_times", 1.5), cuvee=[EMBEDDED], reference=parquet))
    for kind, per_row in sorted(imported["by_index"].items(), key=lambda kv: -kv[1]):
        ms.append(report.metric(f"  of which {kind}", {EMBEDDED: per_row}, unit="B/row"))
    return ms


if __name__ == "__main__":
    main()
