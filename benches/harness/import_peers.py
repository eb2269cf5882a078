"""Import wall time of the same Parquet files: cuvee builds (one or more `import_files`
binaries, e.g. a parent commit's and this one's) against chDB's MergeTree load and DuckDB's
`CREATE TABLE`, as `run.py` loads them, run alternately.

    python3 benches/harness/import_peers.py --files 'DIR/*.parquet' --rounds 2 BIN [BIN...]

BIN is `cargo build --release -p cuvee-ingest --example import_files`'s binary."""

import argparse
import glob
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import systems  # noqa: E402


def cuvee(binary, files):
    schema, config = HERE / "events_schema.json", HERE / "events_offline_table_config.json"
    out = subprocess.run([binary, str(schema), str(config), *files], capture_output=True, text=True, check=True)
    return float(out.stdout.split(" in ")[1].split(" s")[0])


def chdb(pattern):
    with tempfile.TemporaryDirectory() as work:
        session = systems.chdb_session(str(Path(work) / "chdb"))
        try:
            return systems.ChDB(pattern, True, session).load()
        finally:
            session.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", required=True, help="a glob of the benchmark's Parquet files")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("binaries", nargs="+")
    a = p.parse_args()
    files = sorted(glob.glob(a.files))
    if not files:
        raise SystemExit(f"no files match {a.files}")
    runs = [(b, lambda b=b: cuvee(b, files)) for b in a.binaries]
    runs += [("chDB MergeTree", lambda: chdb(a.files)), ("DuckDB", lambda: systems.DuckDB(a.files, True).load())]
    for r in range(a.rounds):
        for name, run in runs:
            print(f"round {r + 1}: {name}: {run():.2f} s", flush=True)


if __name__ == "__main__":
    main()
