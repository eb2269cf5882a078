//! # cuvee-query
//!
//! Will answer: *what is the result of this SQL?* — DataFusion over cuvee segments
//! (TableProvider, SegmentScanExec, predicate pushdown into `cuvee-segments`' predicate IR,
//! Pinot SQL functions and semantics, the plan-fragment codec).
//!
//! Empty until the "SQL over segments" issue: DataFusion is not a dependency yet, so that the
//! storage layer builds and tests in seconds. `cuvee-segments` already exposes what this crate
//! needs: `Predicate` evaluation to doc-id bitmaps, pruning by metadata, and decoding to Arrow.
