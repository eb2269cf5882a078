"""Pinot's rules for comparing an answer with a reference engine's (H2 in Pinot's own
harness, DuckDB here), as ../shared/pinot-examples/conformance/README.md states them."""
import math
import re

MAX_ROWS = 10_000


def shape(sql):
    """'group', 'aggregation' (one row) or 'selection'."""
    upper = sql.upper()
    if re.search(r"\bGROUP\s+BY\b", upper):
        return "group"
    if re.search(r"\b(COUNT|SUM|MIN|MAX|AVG)\s*\(", upper) and not re.search(r"\bDISTINCT\b", upper):
        return "aggregation"
    return "selection"


def order_by_positions(sql, column_names):
    """Indexes of the result columns named in ORDER BY (plain column names only)."""
    match = re.search(r"\bORDER\s+BY\s+(.*?)(\bLIMIT\b|$)", sql, re.IGNORECASE | re.DOTALL)
    if not match:
        return None
    positions = []
    for term in match.group(1).split(","):
        name = re.sub(r"\s+(ASC|DESC)\s*$", "", term.strip(), flags=re.IGNORECASE).strip().strip('"')
        lowered = [c.lower() for c in column_names]
        if name.lower() in lowered:
            positions.append(lowered.index(name.lower()))
    return positions


def same_value(actual, expected):
    if isinstance(expected, (list, tuple)):
        return isinstance(actual, (list, tuple)) and len(actual) == len(expected) and all(same_value(a, e) for a, e in zip(actual, expected))
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return bool(actual) == bool(expected)
    if isinstance(expected, (int, float)):
        actual = as_number(actual)
        if actual is None:
            return False
        if math.isinf(expected) or math.isinf(actual):
            return actual == expected
        return abs(actual - expected) <= max(1.0, abs(expected) * 1e-5)
    return str(actual) == str(expected)


def as_number(value):
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def same_row(actual, expected):
    return len(actual) == len(expected) and all(same_value(a, e) for a, e in zip(actual, expected))


def compare(sql, response, reference_rows, reference_limit):
    """None when the answer is right, else why it is not."""
    if response.get("exceptions"):
        return f"exceptions: {response['exceptions']}"
    table = response.get("resultTable") or {}
    rows = table.get("rows", [])
    names = table.get("dataSchema", {}).get("columnNames", [])
    reference_rows = reference_rows[:MAX_ROWS]
    kind = shape(sql)
    if kind == "aggregation":
        if len(rows) != 1:
            return f"aggregation returned {len(rows)} rows"
        expected = reference_rows[0]
        for i, e in enumerate(expected):
            if e is None:
                # No value: with null handling ours is null too; without it Pinot answers a
                # default, which is right only when no row matched.
                if rows[0][i] is not None and response.get("numDocsScanned") != 0:
                    return f"column {i}: reference is NULL, got {rows[0][i]!r} with numDocsScanned = {response.get('numDocsScanned')}"
                continue
            if not same_value(rows[0][i], e):
                return f"column {i} ({names[i] if i < len(names) else '?'}): got {rows[0][i]!r}, expected {e!r}"
        return None
    if not reference_rows:
        if rows:
            return f"reference has no rows, got {len(rows)}"
        if kind == "selection" and response.get("numDocsScanned") != 0:
            return f"no rows, but numDocsScanned = {response.get('numDocsScanned')}"
        return None
    limit = reference_limit if reference_limit is not None else 10
    if len(rows) < min(limit, len(reference_rows)):
        return f"{len(rows)} rows, expected {min(limit, len(reference_rows))}"
    positions = order_by_positions(sql, names)
    if positions:
        for i, row in enumerate(rows):
            if i >= len(reference_rows):
                return f"row {i} past the reference's {len(reference_rows)} rows"
            for p in positions:
                if not same_value(row[p], reference_rows[i][p]):
                    return f"row {i} ORDER BY column {names[p]}: got {row[p]!r}, expected {reference_rows[i][p]!r}"
            if kind == "group" and not same_row(row, reference_rows[i]):
                return f"row {i}: got {row}, expected {list(reference_rows[i])}"
    for row in rows:
        if not any(same_row(row, r) for r in reference_rows):
            return f"row {row} is not in the reference result"
    return None
