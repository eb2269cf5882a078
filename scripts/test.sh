#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test of the workspace.
# CI runs exactly this (.ci/run). Set PROPTEST_CASES to change the property-test size
# (default 1,000 cases).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

# Keep builds warm across runs on the same machine: a target folder outside the checkout.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/cuvee-target}"
export PROPTEST_CASES="${PROPTEST_CASES:-1000}"

# Tests read Pinot's sample data from ../shared/pinot-examples.
if [ ! -d ../shared/pinot-examples ]; then
  echo "error: ../shared/pinot-examples is missing (the tests use Pinot's sample data from there)" >&2
  exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Formatting and lints are part of the test: a change that breaks them fails here.
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked --features cuvee/failpoints --quiet -- -D warnings

set +e
# The crash test's failpoints are compiled into this build only (the `failpoints` feature).
cargo test --workspace --locked --features cuvee/failpoints 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# Benchmarks are not run in CI, but they must keep compiling (only these crates have any;
# checking the whole workspace in the bench profile would re-check DataFusion), and the
# benchmark's tools are built for the smoke run below.
cargo check -p cuvee-segments -p cuvee-ingest --benches --locked --quiet
cargo build -p cuvee-bench --locked --quiet --features cuvee/failpoints

# End to end with real clients: pinotdb (unmodified, from PyPI) and the Postgres clients
# (psql, psycopg, SQLAlchemy, pgjdbc, node-postgres) and Flight SQL clients (pyarrow.flight,
# ADBC) against `cuvee serve`; the crash and cluster tests run their own processes against
# a tansu broker; the Kubernetes manifests are validated against the API schemas.
e2e_status=0
if [ "$status" -eq 0 ]; then
  # Built by `cargo test` for tests/cli.rs, with the same features (no second build).
  bin="$CARGO_TARGET_DIR/debug/cuvee"
  data=$(mktemp -d)
  examples=../shared/pinot-examples/baseballStats
  "$bin" import --data-dir "$data" --schema "$examples/baseballStats_schema.json" \
    --table-config "$examples/baseballStats_offline_table_config.json" "$examples/rawdata/baseballStats.zstd.parquet"
  # Ports below the kernel's ephemeral range (tests/e2e/kafka_broker.py says why).
  read -r port pg_port flight_port < <(cd tests/e2e && python3 -c 'from kafka_broker import free_port; print(free_port(), free_port(), free_port())')
  "$bin" serve --data-dir "$data" --ingest-allow ../shared/pinot-examples --listen "127.0.0.1:$port" --pg-listen "127.0.0.1:$pg_port" --flight-listen "127.0.0.1:$flight_port" &
  server=$!
  for _ in $(seq 1 100); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health')" 2>/dev/null && break
    sleep 0.1
  done
  set +e
  CUVEE_BROKER="127.0.0.1:$port" CUVEE_PG="127.0.0.1:$pg_port" CUVEE_FLIGHT="127.0.0.1:$flight_port" CUVEE_BIN="$bin" python3 -m pytest -q -p no:cacheprovider tests/e2e 2>&1 | tee -a "$log"
  e2e_status=${PIPESTATUS[0]}
  set -e
  echo "the console's screenshots (tests/e2e/test_console.py): ${CUVEE_E2E_REPORT:-target/e2e-report}/console"
  kill "$server"; wait "$server" 2>/dev/null || true
  rm -rf "$data"
fi

# The benchmark harness at its smoke size (20 k rows, every system): every statement's
# answers must agree across cuvee (in process, HTTP, broker + 2 servers, Kafka-loaded) and
# DuckDB, chDB, DataFusion. Timings are printed, never asserted.
bench_status=0 bench_passed=0 bench_failed=0
if [ "$status" -eq 0 ]; then
  bench_work=$(mktemp -d)
  set +e
  python3 benches/harness/run.py --smoke --bin "$bin" --tool "$CARGO_TARGET_DIR/debug/bench" \
    --load "$CARGO_TARGET_DIR/debug/http_load" --work "$bench_work" --out "$bench_work/results" 2>&1 | tail -15
  bench_status=${PIPESTATUS[0]}
  set -e
  rm -rf "$bench_work"
  if [ "$bench_status" -eq 0 ]; then
    bench_passed=1; echo "bench smoke: answers agree"
  else
    bench_failed=1; echo "bench smoke: FAILED (exit $bench_status)"
  fi
fi

# One closing line for everything (cargo prints one per test target, pytest its own).
cargo_passed=$( (grep -oE '^test result: [A-Za-z]+\. [0-9]+ passed' "$log" || true) | awk '{s += $4} END {print s + 0}')
cargo_failed=$( (grep -oE '^test result: [A-Za-z]+\. [0-9]+ passed; [0-9]+ failed' "$log" || true) | awk '{s += $6} END {print s + 0}')
py_failed=$( (grep -E ' in [0-9.]+s' "$log" | grep -v '^test result' | grep -oE '[0-9]+ failed' || true) | tail -1 | awk '{print $1 + 0}')
# pytest's own summary line is the last "N passed ... in Xs" line.
py_passed=$( (grep -E ' in [0-9.]+s' "$log" | grep -v '^test result' | grep -oE '[0-9]+ passed' || true) | tail -1 | awk '{print $1 + 0}')
echo "tests: $((cargo_passed + ${py_passed:-0} + bench_passed)) passed, $((cargo_failed + ${py_failed:-0} + bench_failed)) failed"
if [ "$status" -ne 0 ]; then exit "$status"; fi
if [ "$e2e_status" -ne 0 ]; then exit "$e2e_status"; fi
exit "$bench_status"
