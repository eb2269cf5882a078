"""Writes the expected results of the .slt files from DuckDB run over the same rows cuvee
loads (Pinot's default null values applied as cuvee's importer applies them).

    python3 tests/slt/generate.py   # needs duckdb, fastavro, pyarrow (scripts/setup.sh)

Each case: (file, title, pinot_sql, duckdb_sql or None for the same text, types, sort).
Queries whose expectations are Pinot-specific (names, types, null handling, error codes)
are written by hand in pinot_names_and_nulls.slt and not regenerated.
"""
import json
import math
import sys
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[3] / "shared" / "pinot-examples"
sys.path.insert(0, str(HERE.parents[2] / "tests" / "e2e"))


def baseball(con):
    schema = json.loads((EXAMPLES / "baseballStats" / "baseballStats_schema.json").read_text())
    cols = []
    for key, kind in (("dimensionFieldSpecs", "dimension"), ("metricFieldSpecs", "metric")):
        for f in schema.get(key, []):
            cols.append((f["name"], f["dataType"], kind))
    select = []
    for name, data_type, kind in cols:
        if data_type == "INT":
            default = "0" if kind == "metric" else str(-(2**31))
            select.append(f'coalesce(try_cast("{name}" AS INTEGER), {default}) AS "{name}"')
        else:
            select.append(f'coalesce("{name}", \'null\') AS "{name}"')
    path = EXAMPLES / "baseballStats" / "rawdata" / "baseballStats.zstd.parquet"
    con.execute(f"CREATE TABLE baseballStats AS SELECT {', '.join(select)} FROM '{path}'")


def airline(con):
    import os

    os.environ.setdefault("CUVEE_BROKER", "unused:0")
    import test_conformance as conformance

    # The conformance schema has airlineStats' columns but for the derived ts/tsRaw.
    conformance.reference_table(con, "airlineStats", null_handling=False)


CASES = [
    # filters.slt: every index path, on two segments.
    ("filters", "inverted index, equality", "SELECT COUNT(*) FROM baseballStats WHERE teamID = 'SFN'", None, "I", ""),
    ("filters", "inverted index, IN", "SELECT COUNT(*) FROM baseballStats WHERE teamID IN ('SFN', 'NYA', 'BOS')", None, "I", ""),
    ("filters", "inverted index, NOT IN", "SELECT COUNT(*) FROM baseballStats WHERE teamID NOT IN ('SFN', 'NYA')", None, "I", ""),
    ("filters", "sorted column, range", "SELECT COUNT(*), MIN(yearID), MAX(yearID) FROM baseballStats WHERE yearID BETWEEN 1990 AND 1999", None, "IRR", ""),
    ("filters", "sorted column, equality", "SELECT COUNT(*) FROM baseballStats WHERE yearID = 2000", None, "I", ""),
    ("filters", "range index", "SELECT COUNT(*) FROM baseballStats WHERE homeRuns >= 50", None, "I", ""),
    ("filters", "range index, open below", "SELECT COUNT(*) FROM baseballStats WHERE homeRuns < 1", None, "I", ""),
    ("filters", "bloom filter, no match", "SELECT COUNT(*) FROM baseballStats WHERE playerName = 'Nobody At All'", None, "I", ""),
    ("filters", "bloom filter column, match", "SELECT COUNT(*) FROM baseballStats WHERE playerName = 'Barry Lamar'", None, "I", ""),
    ("filters", "raw column scan", "SELECT COUNT(*) FROM baseballStats WHERE hits > 200", None, "I", ""),
    ("filters", "LIKE", "SELECT COUNT(*) FROM baseballStats WHERE playerName LIKE 'Barry%'", None, "I", ""),
    ("filters", "REGEXP_LIKE", "SELECT COUNT(*) FROM baseballStats WHERE REGEXP_LIKE(teamID, '^N')", "SELECT COUNT(*) FROM baseballStats WHERE regexp_matches(teamID, '^N')", "I", ""),
    ("filters", "OR and NOT across indexes", "SELECT COUNT(*) FROM baseballStats WHERE (teamID = 'SFN' OR homeRuns > 40) AND NOT yearID < 1950", None, "I", ""),
    ("filters", "default null value of a metric is 0", "SELECT COUNT(*) FROM baseballStats WHERE homeRuns = 0", None, "I", ""),
    ("filters", "no segment can match", "SELECT COUNT(*) FROM baseballStats WHERE yearID > 3000", None, "I", ""),
    # aggregations.slt
    ("aggregations", "global aggregates", "SELECT COUNT(*), SUM(homeRuns), MIN(hits), MAX(hits), AVG(runs) FROM baseballStats", None, "IRRRR", ""),
    ("aggregations", "group by, order by aggregate, limit", "SELECT teamID, SUM(homeRuns) FROM baseballStats GROUP BY teamID ORDER BY SUM(homeRuns) DESC, teamID LIMIT 5", None, "TR", ""),
    ("aggregations", "group by two columns with a filter", "SELECT league, yearID, COUNT(*) FROM baseballStats WHERE yearID >= 2010 GROUP BY league, yearID ORDER BY league, yearID LIMIT 20", None, "TII", ""),
    ("aggregations", "having", "SELECT teamID, COUNT(*) FROM baseballStats GROUP BY teamID HAVING COUNT(*) > 4000 ORDER BY teamID LIMIT 50", None, "TI", ""),
    ("aggregations", "distinct count", "SELECT DISTINCTCOUNT(playerID), COUNT(DISTINCT teamID) FROM baseballStats", "SELECT COUNT(DISTINCT playerID), COUNT(DISTINCT teamID) FROM baseballStats", "II", ""),
    ("aggregations", "selection, order, offset", "SELECT playerID, yearID, homeRuns FROM baseballStats ORDER BY homeRuns DESC, playerID, yearID LIMIT 5 OFFSET 2", None, "TII", ""),
    ("aggregations", "distinct", "SELECT DISTINCT league FROM baseballStats ORDER BY league LIMIT 20", None, "T", ""),
    ("aggregations", "default limit 10 on group by", "SELECT yearID, COUNT(*) FROM baseballStats GROUP BY yearID ORDER BY yearID", "SELECT yearID, COUNT(*) FROM baseballStats GROUP BY yearID ORDER BY yearID LIMIT 10", "II", ""),
    ("aggregations", "subquery (multi-stage)", "SELECT COUNT(*) FROM (SELECT teamID FROM baseballStats GROUP BY teamID HAVING SUM(homeRuns) > 10000) t", None, "I", ""),
    ("aggregations", "join (multi-stage)", "SELECT a.teamID, COUNT(*) FROM baseballStats a JOIN (SELECT DISTINCT teamID FROM baseballStats WHERE yearID = 2013) b ON a.teamID = b.teamID WHERE a.yearID = 2013 GROUP BY a.teamID ORDER BY a.teamID LIMIT 3", None, "TI", ""),
    ("aggregations", "window function", "SELECT teamID, yearID, RANK() OVER (PARTITION BY teamID ORDER BY yearID) FROM baseballStats WHERE playerID = 'bondsba01' ORDER BY yearID LIMIT 4", None, "TII", ""),
    # multi_value.slt: any-value and none-value semantics.
    ("multi_value", "equality is any value", "SELECT COUNT(*) FROM airlineStats WHERE DivAirports = 'DEN'", "SELECT COUNT(*) FROM airlineStats WHERE list_contains(DivAirports, 'DEN')", "I", ""),
    ("multi_value", "range is any value", "SELECT COUNT(*) FROM airlineStats WHERE DivWheelsOffs > 2000", "SELECT COUNT(*) FROM airlineStats WHERE len(list_filter(DivWheelsOffs, lambda x: x > 2000)) > 0", "I", ""),
    ("multi_value", "IN is any value", "SELECT COUNT(*) FROM airlineStats WHERE DivAirports IN ('DEN', 'ORD')", "SELECT COUNT(*) FROM airlineStats WHERE list_has_any(DivAirports, ['DEN', 'ORD'])", "I", ""),
    ("multi_value", "<> is no value", "SELECT COUNT(*) FROM airlineStats WHERE DivAirports <> 'null'", "SELECT COUNT(*) FROM airlineStats WHERE NOT list_contains(DivAirports, 'null')", "I", ""),
    ("multi_value", "NOT IN is no value", "SELECT COUNT(*) FROM airlineStats WHERE DivAirports NOT IN ('DEN', 'null')", "SELECT COUNT(*) FROM airlineStats WHERE NOT list_has_any(DivAirports, ['DEN', 'null'])", "I", ""),
    ("multi_value", "BETWEEN is any value", "SELECT COUNT(*) FROM airlineStats WHERE DivAirportIDs BETWEEN 11000 AND 11500", "SELECT COUNT(*) FROM airlineStats WHERE len(list_filter(DivAirportIDs, lambda x: x BETWEEN 11000 AND 11500)) > 0", "I", ""),
]


def render(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if v == int(v) and abs(v) < 1e15:
            return f"{v:.1f}"
        return f"{v:.9f}".rstrip("0")
    if isinstance(v, str) and v == "":
        return "(empty)"
    return str(v)


def main():
    con = duckdb.connect()
    baseball(con)
    airline(con)
    files = {}
    for file, title, sql, duck_sql, types, mode in CASES:
        rows = con.execute(duck_sql or sql).fetchall()
        rows = [[render(float(v)) if t == "R" and v is not None else render(v) for v, t in zip(row, types)] for row in rows]
        text = f"# {title}\nquery {types}{' rowsort' if mode == 'rowsort' else ''}\n{sql}\n----\n" + "".join(" ".join(r) + "\n" for r in rows)
        files.setdefault(file, []).append(text)
    for file, cases in files.items():
        header = f"# Generated by generate.py from DuckDB over the same rows; do not edit by hand.\n\n"
        (HERE / f"{file}.slt").write_text(header + "\n".join(cases))
        print(f"{file}.slt: {len(cases)} queries")


if __name__ == "__main__":
    main()
