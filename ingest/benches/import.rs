//! Batch import speed: reading, transforming and building segments for Pinot's samples.
//! `cargo bench -p cuvee-ingest`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use cuvee_catalog::{Schema, Table, TableConfigJson};
use cuvee_ingest::{import, ImportOptions};
use std::path::PathBuf;

fn import_samples(c: &mut Criterion) {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/pinot-examples");
    let mut group = c.benchmark_group("import");
    group.sample_size(10);
    for (name, schema, config, data, rows) in [
        (
            "baseballStats_parquet",
            "baseballStats/baseballStats_schema.json",
            "baseballStats/baseballStats_offline_table_config.json",
            "baseballStats/rawdata/baseballStats.zstd.parquet",
            97_889u64,
        ),
        (
            "airlineStats_avro",
            "airlineStats/airlineStats_schema.json",
            "airlineStats/airlineStats_offline_table_config.json",
            "airlineStats/rawdata/airlineStats_data.avro",
            9_746,
        ),
    ] {
        let schema = Schema::from_json(&std::fs::read_to_string(examples.join(schema)).unwrap()).unwrap();
        let config = TableConfigJson::from_json(&std::fs::read_to_string(examples.join(config)).unwrap()).unwrap();
        let table = Table::new(schema, config).unwrap();
        group.throughput(Throughput::Elements(rows));
        group.bench_function(name, |b| {
            b.iter(|| {
                let dir = tempfile::tempdir().unwrap();
                import(
                    &table,
                    &[examples.join(data)],
                    dir.path(),
                    &ImportOptions { progress: false, ..Default::default() },
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, import_samples);
criterion_main!(benches);
