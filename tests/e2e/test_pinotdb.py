"""pinotdb (the unmodified PyPI package) against `cuvee serve`.

Run by scripts/test.sh, which imports baseballStats, starts the server and sets
CUVEE_BROKER to its host:port.
"""
import os

import pytest
from pinotdb import connect
from pinotdb.exceptions import DatabaseError

HOST, PORT = os.environ["CUVEE_BROKER"].split(":")


@pytest.fixture
def cursor():
    connection = connect(host=HOST, port=int(PORT), path="/query/sql", scheme="http")
    yield connection.cursor()
    connection.close()


def test_aggregation_matches_duckdb(cursor):
    cursor.execute("SELECT COUNT(*), SUM(homeRuns) FROM baseballStats WHERE teamID = 'SFN'")
    assert cursor.fetchall() == [[2206, 8080]]


def test_group_by_with_description(cursor):
    cursor.execute(
        "SELECT teamID, SUM(homeRuns) AS hr FROM baseballStats "
        "GROUP BY teamID ORDER BY hr DESC LIMIT 3"
    )
    assert [d[0] for d in cursor.description] == ["teamID", "hr"]
    assert cursor.fetchall() == [["NYA", 14859], ["CHN", 13202], ["DET", 12854]]


def test_pinot_default_limit_and_query_options(cursor):
    cursor.execute("SELECT playerID FROM baseballStats")
    assert len(cursor.fetchall()) == 10
    cursor.execute("SELECT playerID FROM baseballStats LIMIT 3", queryOptions="timeoutMs=5000")
    assert len(cursor.fetchall()) == 3


def test_errors_reach_the_client(cursor):
    with pytest.raises(DatabaseError, match="710|nope"):
        cursor.execute("SELECT nope FROM baseballStats")
    with pytest.raises(DatabaseError, match="190"):
        cursor.execute("SELECT * FROM missingTable")


def test_sqlalchemy_dialect_lists_tables_and_columns():
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(f"pinot://{HOST}:{PORT}/query/sql?controller=http://{HOST}:{PORT}/")
    inspector = inspect(engine)
    assert "baseballStats" in inspector.get_table_names()
    columns = {c["name"]: str(c["type"]) for c in inspector.get_columns("baseballStats")}
    assert len(columns) == 25
    # pinotdb maps Pinot STRING to VARCHAR and INT to BIGINT.
    assert columns["playerID"] == "VARCHAR" and columns["homeRuns"] == "BIGINT"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM baseballStats")).fetchall() == [(97889,)]
