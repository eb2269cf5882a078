#!/usr/bin/env bash
# Serves baseballStats from a release build and runs benches/postgres_door.py against both doors.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-target}/release/cuvee"
[ -x "$bin" ] || { echo "build first: cargo build --release --bin cuvee" >&2; exit 1; }
data=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
examples=../shared/pinot-examples/baseballStats
"$bin" import --data-dir "$data" --schema "$examples/baseballStats_schema.json" \
  --table-config "$examples/baseballStats_offline_table_config.json" "$examples/rawdata/baseballStats.zstd.parquet" >/dev/null
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port); pg_port=$(free_port)
"$bin" serve --data-dir "$data" --listen "127.0.0.1:$port" --pg-listen "127.0.0.1:$pg_port" >/dev/null &
server=$!
for _ in $(seq 1 100); do (echo > "/dev/tcp/127.0.0.1/$pg_port") 2>/dev/null && break; sleep 0.1; done
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; psycopg $(python3 -c 'import psycopg; print(psycopg.__version__)')"
CUVEE_BROKER="127.0.0.1:$port" CUVEE_PG="127.0.0.1:$pg_port" python3 benches/postgres_door.py
