"""The Arrow Flight SQL door of `cuvee serve` (CUVEE_FLIGHT, set by scripts/test.sh) over
baseballStats: answers through ADBC and bare pyarrow.flight equal the HTTP API's; the
metadata calls tools start with; errors named, connection still usable."""

import json
import os
import urllib.request

import adbc_driver_flightsql.dbapi as flight_sql
import pyarrow as pa
import pytest

from flight_sql import run_with_pyarrow

FLIGHT = os.environ.get("CUVEE_FLIGHT")
BROKER = os.environ.get("CUVEE_BROKER")
pytestmark = [
    pytest.mark.skipif(not FLIGHT or not BROKER, reason="CUVEE_FLIGHT and CUVEE_BROKER name a running cuvee serve"),
    # The door is read-only with no transactions, which ADBC's DB-API layer notes on connect.
    pytest.mark.filterwarnings("ignore:Cannot disable autocommit"),
]


def http_rows(sql):
    request = urllib.request.Request(f"http://{BROKER}/query/sql", data=json.dumps({"sql": sql}).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    assert answer["exceptions"] == [], answer
    return [tuple(row) for row in answer["resultTable"]["rows"]]


QUERIES = [
    # (Flight SQL: standard SQL, Pinot HTTP API with an explicit LIMIT so both see all rows)
    'SELECT "teamID", COUNT(*) AS n, SUM("homeRuns") AS hr FROM "baseballStats" WHERE "yearID" >= 2000 GROUP BY "teamID" ORDER BY n DESC, "teamID" LIMIT 5',
    'SELECT "playerName", "homeRuns" FROM "baseballStats" WHERE "teamID" = \'SFN\' ORDER BY "homeRuns" DESC, "playerName" LIMIT 5',
    'SELECT COUNT(DISTINCT "playerID") AS players, MAX("yearID") AS latest FROM "baseballStats"',
]


@pytest.fixture
def connection():
    with flight_sql.connect(f"grpc://{FLIGHT}") as connection:
        yield connection


def normalized(rows):
    # Pinot renders SUM as DOUBLE; standard SQL keeps integers integral.
    return [tuple(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for v in row) for row in rows]


@pytest.mark.parametrize("sql", QUERIES)
def test_adbc_answers_equal_the_http_api(connection, sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        got = cursor.fetchall()
    assert normalized(got) == normalized(http_rows(sql.replace('"', "")))


@pytest.mark.parametrize("sql", QUERIES)
def test_pyarrow_flight_answers_equal_the_http_api(sql):
    schema, tables = run_with_pyarrow(FLIGHT, sql)
    table = pa.concat_tables(tables)
    assert table.schema.names == schema.names
    got = [tuple(row.values()) for row in table.to_pylist()]
    assert normalized(got) == normalized(http_rows(sql.replace('"', "")))


def test_all_rows_stream_with_no_default_limit(connection):
    with connection.cursor() as cursor:
        cursor.execute('SELECT "playerID", "yearID" FROM "baseballStats"')
        table = cursor.fetch_arrow_table()
    assert table.num_rows == 97889
    assert table.schema.field("yearID").type == pa.int32()


def test_metadata_calls(connection):
    objects = connection.adbc_get_objects(depth="tables").read_all().to_pylist()
    assert [c["catalog_name"] for c in objects] == ["cuvee"]
    schemas = objects[0]["catalog_db_schemas"]
    assert [s["db_schema_name"] for s in schemas] == ["public"]
    assert "baseballStats" in [t["table_name"] for t in schemas[0]["db_schema_tables"]]
    schema = connection.adbc_get_table_schema("baseballStats")
    assert schema.field("playerName").type == pa.string() and schema.field("homeRuns").type == pa.int32()
    assert connection.adbc_get_table_types() == ["TABLE"]
    info = connection.adbc_get_info()
    assert info["vendor_name"] == "cuvee"


def test_errors_name_what_was_wrong_and_the_connection_goes_on(connection):
    with connection.cursor() as cursor:
        with pytest.raises(flight_sql.ProgrammingError, match="nowhere"):
            cursor.execute("SELECT x FROM nowhere")
        with pytest.raises(flight_sql.ProgrammingError, match="nope"):
            cursor.execute('SELECT nope FROM "baseballStats"')
        cursor.execute('SELECT COUNT(*) FROM "baseballStats"')
        assert cursor.fetchone() == (97889,)


def test_prepared_statements_take_parameters(connection):
    sql = 'SELECT COUNT(*), MAX("homeRuns") FROM "baseballStats" WHERE "teamID" = ? AND "yearID" >= ?'
    with connection.cursor() as cursor:
        for team, year in [("SFN", 2000), ("NYA", 1990)]:
            cursor.execute(sql, (team, year))
            got = cursor.fetchall()
            expected = http_rows(f"SELECT COUNT(*), MAX(homeRuns) FROM baseballStats WHERE teamID = '{team}' AND yearID >= {year}")
            assert normalized(got) == normalized(expected)
        # The same statement with $n placeholders, and a bound value that does not fit.
        cursor.execute('SELECT COUNT(*) FROM "baseballStats" WHERE "yearID" = $1', (2004,))
        assert cursor.fetchone() == http_rows("SELECT COUNT(*) FROM baseballStats WHERE yearID = 2004")[0]
        with pytest.raises(flight_sql.Error):
            cursor.execute('SELECT COUNT(*) FROM "baseballStats" WHERE "yearID" = ?', ("not a year",))
            cursor.fetchall()
