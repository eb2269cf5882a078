"""The closed doors, tried as a hostile client would, with real clients on every door.

One `cuvee serve` of its own with a users file (an administrator, an analyst who may read
baseballStats, an outsider who may read another table), a TLS certificate for the HTTP API
and the Flight SQL door, a small admission limit and a short longest statement. Each test
names the attack in its name; each asserts the refusal *and* that nothing was lost.
"""

import base64
import http.client
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import psycopg
import pyarrow.flight as flight
import pytest

from flight_sql import statement_query

BIN = os.environ.get("CUVEE_BIN")
EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "pinot-examples", "baseballStats")
pytestmark = pytest.mark.skipif(not BIN, reason="CUVEE_BIN names the cuvee binary")

ADMIN = ("admin", "admin secret pass")
ADMIN_TOKEN = "admin-token-0123456789abcdef"
ANALYST = ("analyst", "analyst secret pass")
OUTSIDER = ("outsider", "outsider secret pass")
ROWS = 97889


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("security")
    data = folder / "data"
    subprocess.run(
        [BIN, "import", "--data-dir", str(data), "--schema", f"{EXAMPLES}/baseballStats_schema.json",
         "--table-config", f"{EXAMPLES}/baseballStats_offline_table_config.json",
         f"{EXAMPLES}/rawdata/baseballStats.zstd.parquet"],
        check=True, capture_output=True,
    )
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
        check=True, capture_output=True,
    )
    (folder / "outsider.pw").write_text(OUTSIDER[1] + "\n")
    users = {
        "users": [
            {"name": ADMIN[0], "passwordEnv": "E2E_ADMIN_PW", "token": ADMIN_TOKEN,
             "permissions": ["READ", "CREATE", "UPDATE", "DELETE"]},
            {"name": ANALYST[0], "password": ANALYST[1], "tables": ["baseballStats"]},
            {"name": OUTSIDER[0], "passwordFile": str(folder / "outsider.pw"), "tables": ["otherTable"]},
        ]
    }
    (folder / "users.json").write_text(json.dumps(users))
    ports = {"http": free_port(), "pg": free_port(), "flight": free_port()}
    process = subprocess.Popen(
        [BIN, "serve", "--data-dir", str(data), "--listen", f"127.0.0.1:{ports['http']}",
         "--pg-listen", f"127.0.0.1:{ports['pg']}", "--flight-listen", f"127.0.0.1:{ports['flight']}",
         "--users", str(folder / "users.json"), "--tls-cert", str(folder / "cert.pem"), "--tls-key", str(folder / "key.pem"),
         "--max-concurrent-queries", "2", "--query-queue-ms", "300", "--max-query-timeout-ms", "20000",
         "--http-header-timeout-ms", "5000",
         # A Kafka nobody listens on: topic calls must be refused before any is made.
         "--kafka", "127.0.0.1:9"],
        env={**os.environ, "E2E_ADMIN_PW": ADMIN[1]}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    context = ssl.create_default_context(cafile=str(folder / "cert.pem"))
    deadline = time.time() + 60
    while True:
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode())
        try:
            urllib.request.urlopen(f"https://127.0.0.1:{ports['http']}/health", context=context, timeout=1)
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)
    yield {**ports, "context": context, "cert": folder / "cert.pem", "folder": folder}
    process.terminate()
    process.wait(timeout=30)


def call(server, method, path, body=None, user=None, token=None, headers=None):
    """(status, parsed body) of an HTTPS call to the server's API."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if user:
        all_headers["Authorization"] = "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"https://127.0.0.1:{server['http']}{path}", data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, context=server["context"], timeout=30) as response:
            status, text, sent = response.status, response.read(), response.headers
    except urllib.error.HTTPError as e:
        status, text, sent = e.code, e.read(), e.headers
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = text.decode()
    return status, parsed, sent


def count(server, user):
    status, answer, _ = call(server, "POST", "/query/sql", {"sql": "SELECT COUNT(*) FROM baseballStats"}, user=user)
    assert status == 200, answer
    return answer


# ---- HTTP API -------------------------------------------------------------------------

def test_http_without_credentials_is_401_but_health_answers(server):
    for method, path, body in [("POST", "/query/sql", {"sql": "SELECT 1"}), ("GET", "/tables", None),
                               ("DELETE", "/tables/baseballStats", None), ("GET", "/debug/routing", None)]:
        status, answer, headers = call(server, method, path, body)
        assert status == 401, (path, answer)
        assert headers.get("WWW-Authenticate", "").startswith("Basic"), headers
    assert call(server, "GET", "/health")[0] == 200
    assert count(server, ADMIN)["resultTable"]["rows"] == [[ROWS]]


def test_console_asks_for_credentials_and_forbids_inline_script_and_framing(server):
    status, _, headers = call(server, "GET", "/")
    assert status == 401 and headers.get("WWW-Authenticate", "").startswith("Basic")
    status, page, headers = call(server, "GET", "/", user=ANALYST)
    assert status == 200 and "cuvee console" in page
    policy = headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, policy
    assert headers.get("X-Frame-Options") == "DENY"
    assert call(server, "GET", "/console/console.js", user=ANALYST)[0] == 200
    assert call(server, "GET", "/console/../../etc/passwd", user=ANALYST)[0] == 404


def test_topics_are_only_for_callers_who_read_every_table(server):
    # Refused before Kafka is contacted (the server's --kafka has no broker behind it).
    for method, path in [("GET", "/topics"), ("POST", "/topics/orders/infer")]:
        status, answer, _ = call(server, method, path, {} if method == "POST" else None, user=ANALYST)
        assert status == 403, (path, answer)
    status, answer, _ = call(server, "POST", "/query/sql", {"sql": "SELECT * FROM kafka_topic('orders')"}, user=ANALYST)
    assert answer["exceptions"] and "kafka_topic" in answer["exceptions"][0]["message"], answer
    assert "Kafka" not in answer["exceptions"][0]["message"].replace("kafka_topic", ""), "refused, not tried"
    with pg(server, ANALYST) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM kafka_topic('orders')")


def test_http_wrong_password_and_unknown_user_read_the_same(server):
    wrong = call(server, "GET", "/tables", user=(ANALYST[0], "guess"))
    unknown = call(server, "GET", "/tables", user=("nobody", ANALYST[1]))
    assert wrong[0] == unknown[0] == 401
    assert wrong[1] == unknown[1]


def test_http_token_and_basic_both_authenticate(server):
    assert call(server, "GET", "/tables", token=ADMIN_TOKEN)[0] == 200
    assert call(server, "GET", "/tables", token="not-a-token-at-all-0000")[0] == 401
    assert count(server, ANALYST)["resultTable"]["rows"] == [[ROWS]]


def test_http_reader_cannot_change_or_drop_tables(server):
    status, answer, _ = call(server, "DELETE", "/tables/baseballStats", user=ANALYST)
    assert status == 403 and "DELETE" in json.dumps(answer), answer
    schema = json.load(open(f"{EXAMPLES}/baseballStats_schema.json"))
    schema["schemaName"] = "analystMade"
    status, answer, _ = call(server, "POST", "/schemas", schema, user=ANALYST)
    assert status == 403 and "CREATE" in json.dumps(answer), answer
    status, _, _ = call(server, "POST", "/tables/baseballStats/pauseConsumption", user=ANALYST)
    assert status in (403, 404)
    assert count(server, ADMIN)["resultTable"]["rows"] == [[ROWS]], "nothing was lost"


def test_http_query_of_a_table_outside_the_users_scope_is_refused(server):
    status, answer, _ = call(server, "POST", "/query/sql", {"sql": "SELECT COUNT(*) FROM baseballStats"}, user=OUTSIDER)
    assert status == 200
    assert answer["exceptions"][0]["errorCode"] == 180, answer
    assert "baseballStats" in answer["exceptions"][0]["message"]
    # ... also hidden in a subquery
    sql = "SELECT 1 FROM (SELECT playerID FROM baseballStats LIMIT 1) t"
    answer = call(server, "POST", "/query/sql", {"sql": sql}, user=OUTSIDER)[1]
    assert answer["exceptions"][0]["errorCode"] == 180, answer
    # ... and listings do not show it
    status, tables, _ = call(server, "GET", "/tables", user=OUTSIDER)
    assert status == 200 and "baseballStats" not in json.dumps(tables), tables


def test_http_path_names_are_refused(server):
    schema = json.load(open(f"{EXAMPLES}/baseballStats_schema.json"))
    schema["schemaName"] = "../tables/baseballStats/manifest"
    status, answer, _ = call(server, "POST", "/schemas", schema, user=ADMIN)
    assert status == 400 and "name" in json.dumps(answer).lower(), answer
    status, _, _ = call(server, "DELETE", "/tables/%2E%2E", user=ADMIN)
    assert status in (400, 404)
    assert count(server, ADMIN)["resultTable"]["rows"] == [[ROWS]]


def test_http_ingest_from_a_server_path_is_refused(server):
    config = json.dumps({"inputFormat": "csv"})
    path = f"/ingestFromURI?tableNameWithType=baseballStats_OFFLINE&batchConfigMapStr={urllib.request.quote(config)}&sourceURIStr=file:///etc/passwd"
    status, answer, _ = call(server, "POST", path, user=ADMIN)
    assert status == 403 and "--ingest-allow" in json.dumps(answer), answer


def test_http_cross_site_request_is_refused(server):
    headers = {"Origin": "https://evil.example"}
    status, answer, _ = call(server, "DELETE", "/tables/baseballStats", user=ADMIN, headers=headers)
    assert status == 403 and "evil.example" in json.dumps(answer), answer
    status, _, _ = call(server, "GET", "/tables", user=ADMIN, headers={"Sec-Fetch-Site": "cross-site"})
    assert status == 403
    assert count(server, ADMIN)["resultTable"]["rows"] == [[ROWS]]


def test_http_plain_text_is_not_answered_when_tls_is_on(server):
    with pytest.raises((urllib.error.URLError, http.client.HTTPException, OSError)):
        urllib.request.urlopen(f"http://127.0.0.1:{server['http']}/health", timeout=5).read()


def test_http_timeout_beyond_the_servers_longest_is_refused(server):
    body = {"sql": "SELECT COUNT(*) FROM baseballStats", "queryOptions": "timeoutMs=999999999"}
    answer = call(server, "POST", "/query/sql", body, user=ADMIN)[1]
    assert answer["exceptions"] and "--max-query-timeout-ms" in answer["exceptions"][0]["message"], answer


def test_http_slow_headers_are_cut_off(server):
    # slowloris: a TLS handshake never started holds its connection only until the header timeout
    with socket.create_connection(("127.0.0.1", server["http"])) as s:
        s.settimeout(60)
        s.sendall(b"\x16")
        started = time.time()
        assert s.recv(100) == b""
        assert time.time() - started < 30, "cut off after --http-header-timeout-ms (5 s here)"


# ---- Flight SQL ------------------------------------------------------------------------

def flight_client(server):
    return flight.FlightClient(f"grpc+tls://127.0.0.1:{server['flight']}", tls_root_certs=server["cert"].read_bytes())


def flight_rows(client, sql, options):
    info = client.get_flight_info(flight.FlightDescriptor.for_command(statement(sql)), options)
    return client.do_get(info.endpoints[0].ticket, options).read_all()


def statement(sql):
    return statement_query(sql)


def test_flight_without_credentials_is_unauthenticated(server):
    client = flight_client(server)
    with pytest.raises(flight.FlightUnauthenticatedError):
        flight_rows(client, "SELECT 1", flight.FlightCallOptions())


def test_flight_handshake_gives_a_bearer_token_that_reads_what_the_user_may(server):
    client = flight_client(server)
    with pytest.raises(flight.FlightUnauthenticatedError):
        client.authenticate_basic_token(ANALYST[0], "wrong")
    header = client.authenticate_basic_token(*ANALYST)
    assert header[0] == b"authorization" and header[1].startswith(b"Bearer ")
    options = flight.FlightCallOptions(headers=[header])
    table = flight_rows(client, 'SELECT COUNT(*) AS n FROM "baseballStats"', options)
    assert table.column(0).to_pylist() == [ROWS]
    forged = flight.FlightCallOptions(headers=[(b"authorization", b"Bearer 00000000000000000000000000000000")])
    with pytest.raises(flight.FlightUnauthenticatedError):
        flight_rows(client, "SELECT 1", forged)


def test_flight_outsider_is_denied_the_table(server):
    client = flight_client(server)
    options = flight.FlightCallOptions(headers=[client.authenticate_basic_token(*OUTSIDER)])
    with pytest.raises(flight.FlightUnauthorizedError) as raised:
        flight_rows(client, 'SELECT COUNT(*) FROM "baseballStats"', options)
    assert "baseballStats" in str(raised.value)


def test_flight_writes_and_file_reads_are_refused_even_for_the_admin(server):
    client = flight_client(server)
    options = flight.FlightCallOptions(headers=[client.authenticate_basic_token(*ADMIN)])
    for sql in ["CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/etc/passwd'", "COPY (SELECT 1) TO 'x.csv'",
                'DROP TABLE "baseballStats"']:
        with pytest.raises(flight.FlightError):
            flight_rows(client, sql, options)
    assert not os.path.exists("x.csv")
    assert flight_rows(client, 'SELECT COUNT(*) FROM "baseballStats"', options).column(0).to_pylist() == [ROWS]


def test_flight_adbc_logs_in_with_username_and_password(server):
    import adbc_driver_flightsql
    import adbc_driver_flightsql.dbapi as flight_sql
    kwargs = {
        adbc_driver_flightsql.DatabaseOptions.TLS_ROOT_CERTS.value: server["cert"].read_text(),
        "username": ANALYST[0], "password": ANALYST[1],
    }
    with flight_sql.connect(f"grpc+tls://127.0.0.1:{server['flight']}", db_kwargs=kwargs) as connection:
        with connection.cursor() as cursor:
            cursor.execute('SELECT COUNT(*) FROM "baseballStats"')
            assert cursor.fetchall() == [(ROWS,)]


def test_admission_past_the_limit_is_refused_with_429_and_frees_up(server):
    # Two statements hold both places while their rows are not read; a third waits 300 ms
    # and is refused (Pinot 429); reading them to the end lets the next one in.
    client = flight_client(server)
    options = flight.FlightCallOptions(headers=[client.authenticate_basic_token(*ADMIN)])
    sql = 'SELECT * FROM "baseballStats"'
    readers = []
    for _ in range(2):
        info = client.get_flight_info(flight.FlightDescriptor.for_command(statement(sql)), options)
        reader = client.do_get(info.endpoints[0].ticket, options)
        reader.read_chunk()
        readers.append(reader)
    answer = call(server, "POST", "/query/sql", {"sql": "SELECT COUNT(*) FROM baseballStats"}, user=ADMIN)[1]
    assert answer["exceptions"] and answer["exceptions"][0]["errorCode"] == 429, answer
    assert "--max-concurrent-queries" in answer["exceptions"][0]["message"]
    for reader in readers:
        assert reader.read_all().num_rows > 0
    deadline = time.time() + 10
    while True:
        answer = call(server, "POST", "/query/sql", {"sql": "SELECT COUNT(*) FROM baseballStats"}, user=ADMIN)[1]
        if not answer["exceptions"] or time.time() > deadline:
            break
        time.sleep(0.1)
    assert answer["resultTable"]["rows"] == [[ROWS]], answer


# ---- Postgres --------------------------------------------------------------------------

def pg(server, user, **extra):
    password = f" password='{user[1]}'" if user[1] else ""
    return psycopg.connect(
        f"host=127.0.0.1 port={server['pg']} dbname=cuvee user={user[0]}{password} connect_timeout=10 sslmode=require",
        **extra,
    )


def test_postgres_logins_use_the_same_users(server):
    with pytest.raises(psycopg.OperationalError):
        pg(server, (ANALYST[0], "wrong"))
    with pytest.raises(psycopg.OperationalError):
        pg(server, ("nobody", ANALYST[1]))
    with pg(server, ANALYST) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute('SELECT COUNT(*) FROM "baseballStats"').fetchall() == [(ROWS,)]


def test_postgres_outsider_is_denied_the_table_but_sees_the_catalog(server):
    with pg(server, OUTSIDER) as conn:
        conn.autocommit = True
        for sql in ['SELECT COUNT(*) FROM "baseballStats"',
                    'WITH t AS (SELECT * FROM "baseballStats") SELECT COUNT(*) FROM t',
                    'SELECT 1 WHERE EXISTS (SELECT 1 FROM public."baseballStats")']:
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as raised:
                conn.execute(sql)
            assert "baseballStats" in str(raised.value)
        # prepared (extended protocol) too
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute('SELECT COUNT(*) FROM "baseballStats" WHERE "yearID" > %s', (2000,), prepare=True)
        assert conn.execute("SELECT COUNT(*) FROM pg_catalog.pg_class").fetchone()[0] >= 0


def test_postgres_drop_table_is_refused_and_nothing_is_lost(server):
    with pg(server, ADMIN) as conn:
        conn.autocommit = True
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute('DROP TABLE "baseballStats"')
        assert conn.execute('SELECT COUNT(*) FROM "baseballStats"').fetchall() == [(ROWS,)]


def test_no_sql_door_reads_server_files(server):
    attempts = ["SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM read_parquet('/etc/passwd')",
                "SELECT * FROM '/etc/passwd'", "SELECT pg_read_file('/etc/passwd')"]
    with pg(server, ADMIN) as conn:
        conn.autocommit = True
        for sql in attempts:
            with pytest.raises(psycopg.Error) as raised:
                conn.execute(sql)
            assert "root:" not in str(raised.value)
    for sql in attempts:
        answer = call(server, "POST", "/query/sql", {"sql": sql}, user=ADMIN)[1]
        assert answer["exceptions"] and "root:" not in json.dumps(answer), answer


# ---- Start-up refusals -----------------------------------------------------------------

def test_open_doors_beyond_loopback_are_refused_at_start(tmp_path):
    loopback = lambda: f"127.0.0.1:{free_port()}"
    anywhere = lambda: f"0.0.0.0:{free_port()}"
    for http, pg, flight_ in ((anywhere(), "off", "off"), (loopback(), anywhere(), "off"), (loopback(), "off", anywhere())):
        extra = ["--listen", http, "--pg-listen", pg, "--flight-listen", flight_]
        result = subprocess.run([BIN, "serve", "--data-dir", str(tmp_path), *extra], capture_output=True, timeout=60)
        assert result.returncode != 0, extra
        assert b"--users" in result.stderr and b"--insecure" in result.stderr, result.stderr


def test_a_bad_users_file_is_refused_at_start(tmp_path):
    cases = [
        ({"users": [{"name": "a", "password": "x", "permissions": ["READ", "DROP_EVERYTHING"]}]}, b"DROP_EVERYTHING"),
        ({"users": [{"name": "a", "token": "short"}]}, b"16"),
        ({"users": [{"name": "a:b", "password": "x"}]}, b":"),
        ({"users": [{"name": "a", "passwordEnv": "E2E_NOT_SET_ANYWHERE"}]}, b"E2E_NOT_SET_ANYWHERE"),
    ]
    for users, expected in cases:
        path = tmp_path / "users.json"
        path.write_text(json.dumps(users))
        result = subprocess.run([BIN, "serve", "--data-dir", str(tmp_path), "--users", str(path), "--listen",
                                 f"127.0.0.1:{free_port()}", "--pg-listen", "off", "--flight-listen", "off"],
                                capture_output=True, timeout=60)
        assert result.returncode != 0, users
        assert expected in result.stderr, result.stderr


def test_postgres_malformed_frame_ends_only_its_connection():
    # A Parse whose body is shorter than its parameter count panicked inside pgwire (found by
    # fuzz/'s postgres_framing target; vendor/pgwire now decodes within bounds): the door
    # ends that connection and keeps serving.
    address = os.environ.get("CUVEE_PG")
    if not address:
        pytest.skip("CUVEE_PG names a running cuvee serve without users")
    host, port = address.rsplit(":", 1)
    params = b"user\0e2e\0database\0cuvee\0\0"
    startup = (8 + len(params)).to_bytes(4, "big") + (196608).to_bytes(4, "big") + params
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(startup)
        received = b""
        while b"Z\0\0\0\x05" not in received:
            chunk = s.recv(4096)
            assert chunk, received
            received += chunk
        s.sendall(b"P\0\0\0\x08\0\0\0\x03")  # name "", query "", 3 parameter types, none sent
        s.settimeout(10)
        try:
            while s.recv(4096):
                pass
        except ConnectionResetError:
            pass
    with psycopg.connect(f"host={host} port={port} dbname=cuvee user=e2e connect_timeout=10") as conn:
        assert conn.execute("SELECT 41 + 1").fetchall() == [(42,)]
