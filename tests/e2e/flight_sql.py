"""Flight SQL from Python two ways: the ADBC Flight SQL driver (what pandas, Polars and
DuckDB's ADBC scanner use) and bare `pyarrow.flight` with hand-encoded Flight SQL commands
(what every Flight SQL driver does underneath)."""

import pyarrow.flight as flight


def _varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number, payload):
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def statement_query(sql):
    """google.protobuf.Any{CommandStatementQuery{query}} — a Flight SQL statement command."""
    command = _field(1, sql.encode())
    return _field(1, b"type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery") + _field(2, command)


def run_with_pyarrow(address, sql):
    """A query through `pyarrow.flight` alone: GetFlightInfo, then DoGet of its ticket."""
    client = flight.connect(f"grpc://{address}")
    try:
        info = client.get_flight_info(flight.FlightDescriptor.for_command(statement_query(sql)))
        tables = [client.do_get(endpoint.ticket).read_all() for endpoint in info.endpoints]
        return info.schema, tables
    finally:
        client.close()
