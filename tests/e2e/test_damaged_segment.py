"""Never a silent wrong answer: one byte flipped in one of baseballStats' four segment files,
then `cuvee serve` started over them (the attack in issue 16). No deep store holds a good
copy, so the segment cannot be repaired: every door must say the answer would be short —
Pinot's 305 (BrokerSegmentUnavailable) naming the segment, SQLSTATE XX001 on the Postgres
door, an error on the Flight SQL door — and `GET /segments` lists it in error with the
reason, while the files and the other segments stay as they were.

Needs CUVEE_BIN; scripts/test.sh sets it."""

import glob
import json
import os
import subprocess
import time
import urllib.request

import adbc_driver_flightsql.dbapi as flight_sql
import adbc_driver_manager
import psycopg
import pytest

from kafka_broker import free_port

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "pinot-examples", "baseballStats")



def post(port, sql):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/query/sql", data=json.dumps({"sql": sql}).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_a_damaged_segment_is_reported_by_every_door_never_answered_short(cuvee_binary, tmp_path):
    data = str(tmp_path / "data")
    subprocess.run(
        [cuvee_binary, "import", "--data-dir", data, "--max-rows-per-segment", "25000",
         "--schema", os.path.join(EXAMPLES, "baseballStats_schema.json"),
         "--table-config", os.path.join(EXAMPLES, "baseballStats_offline_table_config.json"),
         os.path.join(EXAMPLES, "rawdata", "baseballStats.zstd.parquet")],
        check=True, stdout=subprocess.DEVNULL,
    )
    files = sorted(glob.glob(os.path.join(data, "**", "*.cvs"), recursive=True))
    assert len(files) == 4, files
    damaged = files[len(files) // 2]
    segment = os.path.basename(damaged)[: -len(".cvs")]
    with open(damaged, "r+b") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(size // 2)
        byte = f.read(1)
        f.seek(size // 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    untouched = {path: open(path, "rb").read() for path in files}

    port, pg_port, flight_port = free_port(), free_port(), free_port()
    server = subprocess.Popen(
        [cuvee_binary, "serve", "--data-dir", data, "--listen", f"127.0.0.1:{port}",
         "--pg-listen", f"127.0.0.1:{pg_port}", "--flight-listen", f"127.0.0.1:{flight_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read()
                break
            except OSError:
                assert time.time() < deadline, "cuvee serve did not become ready"
                time.sleep(0.1)

        answer = post(port, "SELECT COUNT(*) FROM baseballStats")
        assert answer["exceptions"], answer
        exception = answer["exceptions"][0]
        assert exception["errorCode"] == 305 and segment in exception["message"], answer
        # Whatever rows come back are marked partial, never passed off as the answer.
        assert "resultTable" not in answer or answer["partialResult"] is True, answer

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/segments/baseballStats", timeout=30) as response:
            listing = json.loads(response.read())[0]
        in_error = listing["segmentsInError"]
        assert [s["segmentName"] for s in in_error] == [segment], listing
        assert in_error[0]["state"] == "ERROR" and in_error[0]["reason"], listing

        with psycopg.connect(f"host=127.0.0.1 port={pg_port} dbname=cuvee user=e2e connect_timeout=10") as conn:
            with pytest.raises(psycopg.Error) as failure:
                conn.execute("SELECT COUNT(*) FROM baseballStats").fetchall()
            assert failure.value.sqlstate == "XX001", failure.value
            assert segment in str(failure.value), failure.value

        with flight_sql.connect(f"grpc://127.0.0.1:{flight_port}") as conn, conn.cursor() as cursor:
            with pytest.raises(adbc_driver_manager.Error) as failure:
                cursor.execute("SELECT COUNT(*) FROM baseballStats")
                cursor.fetchall()
            assert segment in str(failure.value), failure.value
    finally:
        server.kill()
        server.wait()
    # Nothing was deleted or rewritten to make the answer fit.
    assert {path: open(path, "rb").read() for path in files} == untouched
