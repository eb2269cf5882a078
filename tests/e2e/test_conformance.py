"""Pinot's 200-query conformance suite (On_Time 2014, table `mytable`) against DuckDB on the
same rows, twice: with Pinot's default null semantics (nulls read as default values) and
with enableNullHandling=true (SQL nulls). The table is made and filled through the
controller API, as a user would.

Run by scripts/test.sh against `cuvee serve` (CUVEE_BROKER = host:port). Writes every
failure with its reason to $CUVEE_REPORT_DIR/conformance.txt (default: the temp folder).
"""
import json
import math
import os
import re
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

import duckdb
import fastavro
import pyarrow
import pytest

from pinot_compare import compare

BROKER = os.environ["CUVEE_BROKER"]
EXAMPLES = Path(os.environ.get("CUVEE_EXAMPLES", Path(__file__).resolve().parents[3] / "shared" / "pinot-examples"))
CONFORMANCE = EXAMPLES / "conformance"
SCHEMA = CONFORMANCE / "On_Time_On_Time_Performance_2014_100k_subset_nonulls.schema"
QUERIES = CONFORMANCE / "On_Time_On_Time_Performance_2014_100k_subset.test_queries_200.sql"
DATA = EXAMPLES / "airlineStats" / "rawdata" / "airlineStats_data.avro"
TABLE_CONFIG = Path(__file__).parent / "conformance" / "mytable_offline_table_config.json"

# Queries we know we answer differently, with the reason. Empty is the goal.
KNOWN_DIFFERENCES = {}


def http(method, path, body=None, content_type="application/json"):
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(f"http://{BROKER}{path}", data=data, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text or b"{}")
        except ValueError:
            return error.code, {"error": text.decode(errors="replace")}


def pinot_default(data_type, kind):
    metric = kind == "metric"
    return {
        "INT": 0 if metric else -(2**31),
        "LONG": 0 if metric else -(2**63),
        "FLOAT": 0.0 if metric else -math.inf,
        "DOUBLE": 0.0 if metric else -math.inf,
        "STRING": "null",
    }[data_type]


def columns():
    schema = json.loads(SCHEMA.read_text())
    out = []
    for key, kind in (("dimensionFieldSpecs", "dimension"), ("metricFieldSpecs", "metric"), ("dateTimeFieldSpecs", "datetime")):
        for spec in schema.get(key, []):
            out.append((spec["name"], spec["dataType"], kind, spec.get("singleValueField", True)))
    return out


def reference_table(con, name, null_handling):
    """The rows as cuvee stores them: nulls become default values unless null handling is on."""
    cols = columns()
    rows = []
    with open(DATA, "rb") as f:
        for record in fastavro.reader(f):
            row = []
            for column, data_type, kind, single in cols:
                value = record.get(column)
                if single:
                    row.append(value if value is not None or null_handling else pinot_default(data_type, kind))
                elif not value:
                    row.append(None if null_handling else [pinot_default(data_type, kind)])
                else:
                    row.append(value)
            rows.append(row)
    arrow_types = {"INT": pyarrow.int32(), "LONG": pyarrow.int64(), "FLOAT": pyarrow.float32(), "DOUBLE": pyarrow.float64(), "STRING": pyarrow.string()}
    schema = pyarrow.schema([(c, arrow_types[t] if sv else pyarrow.list_(arrow_types[t])) for c, t, _, sv in cols])
    table = pyarrow.Table.from_pylist([dict(zip((c for c, *_ in cols), row)) for row in rows], schema=schema)
    con.register(f"{name}_arrow", table)
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")


@pytest.fixture(scope="module")
def loaded():
    http("DELETE", "/tables/mytable")
    http("DELETE", "/schemas/mytable")
    status, body = http("POST", "/schemas", SCHEMA.read_text())
    assert status == 200, body
    status, body = http("POST", "/tables", TABLE_CONFIG.read_text())
    assert status == 200, body
    params = urllib.parse.urlencode({"tableNameWithType": "mytable_OFFLINE", "sourceURIStr": f"file://{DATA}", "batchConfigMapStr": json.dumps({"inputFormat": "avro"})})
    status, body = http("POST", f"/ingestFromURI?{params}")
    assert status == 200 and body["rowsImported"] == 9746, body
    con = duckdb.connect()
    reference_table(con, "mytable", null_handling=False)
    reference_table(con, "mytable_nulls", null_handling=True)
    yield con
    con.close()
    http("DELETE", "/tables/mytable")
    http("DELETE", "/schemas/mytable")


def queries():
    out = []
    for line in QUERIES.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(json.loads(line))
    return out


def reference_sql(query, table):
    sql = query["hsqls"][0] if query.get("hsqls") else query["sql"]
    sql = sql.replace("`", '"')
    sql = re.sub(r"\bARRAY_CONTAINS\s*\(", "list_contains(", sql, flags=re.IGNORECASE)
    # As Pinot's harness does: the reference returns up to 10,000 rows, whatever our LIMIT.
    sql = re.sub(r"\bLIMIT\s+\d+\s*$", "LIMIT 10000", sql.strip(), flags=re.IGNORECASE)
    return re.sub(r"\bmytable\b", table, sql)


def pinot_limit(sql):
    match = re.search(r"\bLIMIT\s+(\d+)\s*$", sql.strip(), re.IGNORECASE)
    return int(match.group(1)) if match else None


def run_suite(con, null_handling):
    failures = []
    for number, query in enumerate(queries(), start=1):
        sql = query["sql"]
        prefix = "SET enableNullHandling = true; " if null_handling else ""
        _, response = http("POST", "/query/sql", json.dumps({"sql": prefix + sql}))
        reference = con.execute(reference_sql(query, "mytable_nulls" if null_handling else "mytable")).fetchall()
        problem = compare(sql, response, reference, pinot_limit(sql))
        if problem:
            failures.append((number, sql, problem))
    return failures


def report(name, failures, total):
    folder = Path(os.environ.get("CUVEE_REPORT_DIR", tempfile.gettempdir()))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"conformance-{name}.txt"
    lines = [f"{total - len(failures)} of {total} queries agree with DuckDB ({name})"]
    lines += [f"#{n}: {problem}\n    {sql}" for n, sql, problem in failures]
    path.write_text("\n".join(lines) + "\n")
    print(lines[0], f"(details: {path})")
    return path


@pytest.mark.parametrize("null_handling", [False, True], ids=["default-nulls", "null-handling"])
def test_on_time_200_queries_agree_with_duckdb(loaded, null_handling):
    name = "null-handling" if null_handling else "default-nulls"
    failures = run_suite(loaded, null_handling)
    unexpected = [f for f in failures if f[0] not in KNOWN_DIFFERENCES]
    path = report(name, failures, len(queries()))
    assert not unexpected, f"{len(unexpected)} queries disagree with DuckDB ({name}); first: {unexpected[:3]}; all in {path}"
