"""The Postgres door with real clients: psql, psycopg 3 (text and binary), SQLAlchemy's
inspector, pgjdbc (binary after the first execution), node-postgres; errors and their
SQLSTATEs, cancel and statement_timeout, malformed protocol input, logins and TLS; the
introspection queries dashboard tools send (tests/e2e/postgres_replay/).

Run by scripts/test.sh, which serves baseballStats with `cuvee serve` and sets CUVEE_PG
(the Postgres door), CUVEE_BROKER (the HTTP API, for comparing answers) and CUVEE_BIN.
"""
import json
import os
import pathlib
import socket
import subprocess
import threading
import time
import urllib.request

import psycopg
import pytest
from kafka_broker import free_port

PG_HOST, PG_PORT = os.environ["CUVEE_PG"].split(":")
HTTP = os.environ["CUVEE_BROKER"]
HERE = pathlib.Path(__file__).parent
DSN = f"host={PG_HOST} port={PG_PORT} dbname=cuvee user=postgres connect_timeout=10"
JDBC_JAR = "/usr/share/java/postgresql.jar"

TOP_TEAMS = (
    'SELECT "teamID", SUM("homeRuns") AS hr, MAX("yearID") AS last_year FROM "baseballStats" '
    'WHERE "yearID" >= {year} AND league = {league} GROUP BY "teamID" ORDER BY hr DESC, "teamID" LIMIT 5'
)
# Runs for minutes unless stopped: 97,889² pairs through a nested-loop join.
ENDLESS = 'SELECT count(*) FROM "baseballStats" a, "baseballStats" b WHERE a."yearID" + b."hits" = -1'


def http_rows(sql):
    request = urllib.request.Request(
        f"http://{HTTP}/query/sql", data=json.dumps({"sql": sql}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.load(response)
    assert not body.get("exceptions"), body["exceptions"]
    return [list(row) for row in body["resultTable"]["rows"]]


def psql(*commands):
    args = ["psql", "-h", PG_HOST, "-p", PG_PORT, "-d", "cuvee", "-U", "postgres", "-X", "-v", "ON_ERROR_STOP=1"]
    for command in commands:
        args += ["-c", command]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_psql_meta_commands():
    assert "cuvee" in psql(r"\l")
    assert "baseballStats" in psql(r"\dt")
    described = psql(r'\d "baseballStats"')
    assert "homeRuns" in described and "integer" in described and "text" in described
    assert "public" in psql(r"\dn")
    assert "160006" in psql("SELECT current_setting('server_version_num')")
    assert "97889" in psql('SELECT count(*) FROM "baseballStats"')
    # Unaliased expressions are named as Postgres names them.
    header = psql('SELECT count(*), max("yearID"), 1 + 1, version() FROM "baseballStats"').splitlines()[0]
    assert [h.strip() for h in header.split("|")] == ["count", "max", "?column?", "version"]


@pytest.mark.parametrize("binary", [False, True])
def test_psycopg_answers_equal_the_http_api(binary):
    expected = http_rows(TOP_TEAMS.format(year=2000, league="'AL'"))
    with psycopg.connect(DSN) as conn:
        assert conn.info.server_version == 160006
        assert conn.info.parameter_status("server_version").startswith("16.6 (cuvee")
        cursor = conn.cursor(binary=binary)
        for prepare in (False, True, True):
            cursor.execute(TOP_TEAMS.format(year="%s", league="%s"), (2000, "AL"), prepare=prepare)
            assert [d.name for d in cursor.description] == ["teamID", "hr", "last_year"]
            assert [list(row) for row in cursor.fetchall()] == expected
        # Parameters only the client types (nothing in the plan says what `$1` is).
        cursor.execute("SELECT %s AS a, %s AS b, %s AS c", (1.5, 7, "x"), prepare=True)
        assert cursor.fetchall() == [(1.5, 7, "x")]
        cursor.execute('SELECT "playerName", "yearID" FROM "baseballStats" WHERE "playerID" = %s ORDER BY "yearID" LIMIT 2', ("aardsda01",))
        assert cursor.fetchall() == [tuple(r) for r in http_rows("SELECT playerName, yearID FROM baseballStats WHERE playerID = 'aardsda01' ORDER BY yearID LIMIT 2")]


def test_no_pinot_default_limit_on_this_door():
    with psycopg.connect(DSN) as conn:
        rows = conn.execute('SELECT "playerID" FROM "baseballStats" WHERE "teamID" = %s', ("SFN",)).fetchall()
    assert len(rows) == 2206


def test_several_statements_in_one_message():
    with psycopg.connect(DSN, autocommit=True) as conn:
        cursor = conn.execute("SELECT 1 AS one; SET application_name = 'e2e'; SELECT 2 AS two")
        results = []
        while True:
            if cursor.description:
                results.append(cursor.fetchall())
            if not cursor.nextset():
                break
        assert results == [[(1,)], [(2,)]]


def test_sqlalchemy_inspector():
    import sqlalchemy as sa

    engine = sa.create_engine(f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/cuvee")
    inspector = sa.inspect(engine)
    assert "public" in inspector.get_schema_names()
    assert "baseballStats" in inspector.get_table_names()
    columns = {c["name"]: str(c["type"]) for c in inspector.get_columns("baseballStats")}
    assert len(columns) == 25 and columns["homeRuns"] == "INTEGER" and columns["playerName"] == "TEXT"
    # What Superset's table view asks next: cuvee tables have no keys or Postgres indexes.
    assert inspector.get_pk_constraint("baseballStats")["constrained_columns"] == []
    assert inspector.get_foreign_keys("baseballStats") == []
    assert inspector.get_indexes("baseballStats") == []
    assert inspector.get_unique_constraints("baseballStats") == []
    assert inspector.get_table_comment("baseballStats") == {"text": None}
    engine.dispose()


def test_tables_made_through_the_controller_appear_and_vanish_at_once():
    from test_conformance import http
    from test_mse_resource_queries import multipart

    table = "pgLiveTable"
    http("DELETE", f"/tables/{table}")
    http("DELETE", f"/schemas/{table}")
    columns = [{"name": "city", "dataType": "STRING"}, {"name": "visits", "dataType": "INT"}]
    assert http("POST", "/schemas", json.dumps({"schemaName": table, "dimensionFieldSpecs": columns}))[0] == 200
    config = {"tableName": table, "tableType": "OFFLINE", "segmentsConfig": {"schemaName": table}, "tableIndexConfig": {}, "metadata": {}, "tenants": {}}
    assert http("POST", "/tables", json.dumps(config))[0] == 200
    try:
        with psycopg.connect(DSN, autocommit=True) as conn:
            listed = "SELECT relname FROM pg_catalog.pg_class WHERE relname = %s"
            assert conn.execute(listed, (table,)).fetchall() == [(table,)]
            rows = "".join(json.dumps({"city": c, "visits": v}) + "\n" for c, v in [("Lyon", 3), ("Reims", 5)])
            body, content_type = multipart("rows.json", rows.encode())
            status, _ = http("POST", f"/ingestFromFile?tableNameWithType={table}_OFFLINE&batchConfigMapStr=%7B%22inputFormat%22%3A%22json%22%7D", body, content_type)
            assert status == 200
            # The same connection sees the new rows: nothing is cached per session.
            assert conn.execute(f'SELECT sum(visits) FROM "{table}"').fetchall() == [(8,)]
            http("DELETE", f"/tables/{table}")
            assert conn.execute(listed, (table,)).fetchall() == []
            with pytest.raises(psycopg.errors.UndefinedTable):
                conn.execute(f'SELECT * FROM "{table}"')
    finally:
        http("DELETE", f"/tables/{table}")
        http("DELETE", f"/schemas/{table}")


def test_pgjdbc_binary_prepared():
    url = f"jdbc:postgresql://{PG_HOST}:{PG_PORT}/cuvee?prepareThreshold=1&binaryTransfer=true"
    done = subprocess.run(["java", "-cp", JDBC_JAR, str(HERE / "jdbc" / "PgjdbcCheck.java"), url], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[0] == {"product": "PostgreSQL", "version": lines[0]["version"]} and lines[0]["version"].startswith("16.6")
    assert "baseballStats" in lines[1]["tables"]
    assert lines[2] == {"columns": 25, "first": "playerID:text"}
    expected = [row[:1] + row[1:] for row in http_rows(TOP_TEAMS.format(year=2000, league="'AL'").replace("LIMIT 5", "LIMIT 3"))]
    for run in range(3):
        assert lines[3 + run] == {"run": run, "rows": expected}
    assert lines[6] == {"sqlstate": "42P01"}


def test_node_postgres():
    done = subprocess.run(["node", str(HERE / "node" / "check.js"), PG_HOST, PG_PORT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[0] == {"count": "97889"}
    expected = [row[:2] for row in http_rows(TOP_TEAMS.format(year=2000, league="'AL'").replace("LIMIT 5", "LIMIT 3"))]
    assert lines[1] == {"rows": expected, "same": True}
    assert lines[2] == {"sqlstate": "42703"}
    assert lines[3] == {"after": "1"}


@pytest.mark.parametrize(
    "sql, sqlstate",
    [
        ("SELEC 1", "42601"),
        ("SELECT * FROM no_such_table", "42P01"),
        ('SELECT no_such_column FROM "baseballStats"', "42703"),
        ("SELECT no_such_function(1)", "42883"),
        ("SELECT 1 / 0", "22012"),
        ("SHOW no_such_setting", "42704"),
    ],
)
def test_errors_carry_their_sqlstate(sql, sqlstate):
    with psycopg.connect(DSN, autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as raised:
            conn.execute(sql).fetchall()
        assert raised.value.sqlstate == sqlstate, raised.value
        assert conn.execute("SELECT 1").fetchall() == [(1,)]
    if sqlstate == "42P01":
        assert 'relation "no_such_table" does not exist' in str(raised.value)


def test_statement_timeout_stops_a_long_query():
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("SET statement_timeout = 300")
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute(ENDLESS).fetchall()
        conn.execute("SET statement_timeout = 0")
        assert conn.execute("SELECT 1").fetchall() == [(1,)]


def test_cancel_request_stops_a_running_query():
    with psycopg.connect(DSN, autocommit=True) as conn:
        threading.Timer(0.5, conn.cancel).start()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute(ENDLESS).fetchall()
        assert conn.execute('SELECT count(*) FROM "baseballStats"').fetchall() == [(97889,)]


def test_bad_protocol_input_and_vanishing_clients_leave_the_server_serving():
    garbage = [
        b"\x00\x00\x00\x08\x12\x34\x56\x78",  # a startup packet with an unknown protocol
        b"\xff\xff\xff\xff" + b"x" * 64,  # an absurd length
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # the wrong protocol altogether
    ]
    for payload in garbage:
        with socket.create_connection((PG_HOST, int(PG_PORT)), timeout=10) as raw:
            raw.sendall(payload)
            try:
                raw.recv(1024)  # an error message or a closed socket; either is fine
            except (ConnectionResetError, socket.timeout):
                pass
    # A client that goes away in the middle of a query.
    conn = psycopg.connect(DSN, autocommit=True)
    conn.pgconn.send_query(ENDLESS.encode())
    time.sleep(0.3)
    conn.pgconn.finish()
    with psycopg.connect(DSN) as conn:
        assert conn.execute('SELECT count(*) FROM "baseballStats"').fetchall() == [(97889,)]


KNOWN_GAP = "-- known gap:"


def test_tool_introspection_replays():
    """Each fixture holds the statements a tool sends on connect and while browsing tables,
    run to the last row. A statement marked `-- known gap: why` must still fail (strictly:
    when it starts to pass, the marker has to go)."""
    fixtures = sorted((HERE / "postgres_replay").glob("*.sql"))
    assert fixtures
    failures = []
    for fixture in fixtures:
        chunks = [c.strip() for c in fixture.read_text().split("\n;\n")]
        with psycopg.connect(DSN, autocommit=True) as conn:
            for chunk in chunks:
                known_gap = KNOWN_GAP in chunk
                body = "\n".join(l for l in chunk.splitlines() if not l.startswith("--")).strip()
                if not body:
                    continue
                try:
                    cursor = conn.execute(body)
                    if cursor.description:
                        cursor.fetchall()
                    if known_gap:
                        failures.append(f"{fixture.name}: now passes, drop its known-gap marker: {body[:80]}")
                except psycopg.Error as e:
                    if not known_gap:
                        failures.append(f"{fixture.name}: {body[:80]}…: {e}")
    assert not failures, "\n".join(failures)


# Logins and TLS: a server of its own, with a users file and a certificate.
@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("secured")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
        check=True, capture_output=True,
    )
    servers = {}
    for method in ("scram-sha-256", "md5"):
        users = folder / f"users-{method}.json"
        users.write_text(json.dumps({"method": method, "users": [{"name": "grafana", "passwordEnv": "E2E_PG_PASSWORD"}]}))
        pg_port, http_port = free_port(), free_port()
        process = subprocess.Popen(
            [os.environ["CUVEE_BIN"], "serve", "--data-dir", str(folder / method), "--listen", f"127.0.0.1:{http_port}",
             "--pg-listen", f"127.0.0.1:{pg_port}", "--pg-users", str(users),
             "--pg-tls-cert", str(folder / "cert.pem"), "--pg-tls-key", str(folder / "key.pem")],
            env={**os.environ, "E2E_PG_PASSWORD": "s3cret pass"}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        wait_for_port(pg_port, process)
        servers[method] = (pg_port, process)
    yield servers
    for _, process in servers.values():
        process.terminate()
        process.wait(timeout=30)


def wait_for_port(port, process):
    for _ in range(200):
        if process.poll() is not None:
            raise AssertionError(f"cuvee serve exited: {process.stderr.read().decode()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


@pytest.mark.parametrize("method", ["scram-sha-256", "md5"])
def test_logins_need_the_right_password(secured, method):
    port = secured[method][0]
    base = f"host=127.0.0.1 port={port} dbname=cuvee connect_timeout=10"
    for bad in (f"{base} user=grafana", f"{base} user=grafana password=wrong", f"{base} user=nobody password='s3cret pass'"):
        with pytest.raises(psycopg.OperationalError) as raised:
            psycopg.connect(bad + " sslmode=disable")
        assert "password" in str(raised.value).lower()
    with psycopg.connect(f"{base} user=grafana password='s3cret pass' sslmode=require") as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT 41 + 1").fetchall() == [(42,)]
    with psycopg.connect(f"{base} user=grafana password='s3cret pass' sslmode=disable") as conn:
        assert not conn.pgconn.ssl_in_use


def test_connections_past_the_limit_are_refused_with_53300(tmp_path):
    pg_port, http_port = free_port(), free_port()
    process = subprocess.Popen(
        [os.environ["CUVEE_BIN"], "serve", "--data-dir", str(tmp_path), "--listen", f"127.0.0.1:{http_port}",
         "--pg-listen", f"127.0.0.1:{pg_port}", "--pg-max-connections", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(pg_port, process)
        dsn = f"host=127.0.0.1 port={pg_port} dbname=cuvee user=postgres connect_timeout=10 sslmode=disable"

        def connect_once_a_place_frees():
            # The server notices a closed connection asynchronously: wait_for_port's probe
            # or a client that just closed may still hold a place for a moment.
            for _ in range(100):
                try:
                    return psycopg.connect(dsn)
                except psycopg.OperationalError as e:
                    if "too many clients" not in str(e):
                        raise
                    time.sleep(0.05)
            return psycopg.connect(dsn)

        first, second = connect_once_a_place_frees(), connect_once_a_place_frees()
        with pytest.raises(psycopg.OperationalError) as raised:
            psycopg.connect(dsn)
        assert "too many clients" in str(raised.value)
        first.close()
        third = connect_once_a_place_frees()
        assert third.execute("SELECT 1").fetchall() == [(1,)]
        second.close()
        third.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
