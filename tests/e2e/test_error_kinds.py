"""The same failure, through every door, gets the code its kind maps to on that door:
Pinot's query error code on the HTTP API, the SQLSTATE on the Postgres door, the Flight
status (as ADBC reports it) on the Flight SQL door — one mapping per door, from one kind
(ARCHITECTURE.md, "Errors"). Run by scripts/test.sh against `cuvee serve` over baseballStats.
"""
import json
import os
import urllib.request

import adbc_driver_flightsql.dbapi as flight_sql
import adbc_driver_manager
import psycopg
import pytest

BROKER = os.environ.get("CUVEE_BROKER")
PG = os.environ.get("CUVEE_PG")
FLIGHT = os.environ.get("CUVEE_FLIGHT")
pytestmark = [
    pytest.mark.skipif(not (BROKER and PG and FLIGHT), reason="CUVEE_BROKER, CUVEE_PG and CUVEE_FLIGHT name a running cuvee serve"),
    pytest.mark.filterwarnings("ignore:Cannot disable autocommit"),
]

Status = adbc_driver_manager.AdbcStatusCode

# (what fails, the statement, Pinot's code, the SQLSTATE, ADBC's status for the Flight code)
FAILURES = [
    ("syntax", "SELEC 1", 150, "42601", Status.INVALID_ARGUMENT),
    ("missing table", "SELECT x FROM no_such_table", 190, "42P01", Status.NOT_FOUND),
    ("missing column", 'SELECT no_such_column FROM "baseballStats"', 710, "42703", Status.INVALID_ARGUMENT),
    ("missing function", "SELECT no_such_function(1)", 700, "42883", Status.INVALID_ARGUMENT),
    ("a value with no answer", "SELECT CAST('not a number' AS INT)", 200, "22P02", Status.INVALID_ARGUMENT),
    ("tables change through the controller, not SQL", 'DROP TABLE "baseballStats"', 180, "42501", Status.UNAUTHORIZED),
]


def pinot_code(sql):
    request = urllib.request.Request(
        f"http://{BROKER}/query/sql", data=json.dumps({"sql": sql}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    assert answer["exceptions"], answer
    return answer["exceptions"][0]["errorCode"], answer["exceptions"][0]["message"]


def sqlstate(sql):
    host, port = PG.split(":")
    with psycopg.connect(f"host={host} port={port} dbname=cuvee user=postgres connect_timeout=10", autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as raised:
            conn.execute(sql)
        return raised.value.sqlstate, str(raised.value)


def flight_status(sql):
    with flight_sql.connect(f"grpc://{FLIGHT}") as connection, connection.cursor() as cursor:
        with pytest.raises(adbc_driver_manager.Error) as raised:
            cursor.execute(sql)
            cursor.fetchall()
        return raised.value.status_code, str(raised.value)


@pytest.mark.parametrize("what, sql, code, state, status", FAILURES, ids=[f[0] for f in FAILURES])
def test_one_failure_one_code_per_door(what, sql, code, state, status):
    got_code, message = pinot_code(sql)
    assert got_code == code, f"{what} over HTTP: {message}"
    got_state, message = sqlstate(sql)
    assert got_state == state, f"{what} over Postgres: {message}"
    got_status, message = flight_status(sql)
    assert got_status == status, f"{what} over Flight SQL: {message}"
