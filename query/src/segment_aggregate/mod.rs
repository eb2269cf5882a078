//! Aggregation inside the scan: a fragment's `AggregateExec(Partial)` of COUNT, SUM, AVG,
//! MIN, MAX and Pinot's PERCENTILE over numeric dictionary columns, grouped by dictionary
//! columns or not, or of an exact distinct count of a dictionary column (its state the
//! segment's distinct values, from the ids its docs use: `crate::distinct_count`),
//! directly over a `SegmentScanExec` of sealed segments, becomes a
//! [`SegmentAggregateExec`] that aggregates each segment's matching docs per combination of
//! dictionary ids (`ImmutableSegment::aggregate_groups`) and decodes each group's values
//! once, from its first doc. A percentile's state is each group's value counts (a
//! histogram over the dictionary), not every row's value. Its output is the partial
//! aggregate's own (group columns, then each aggregate's state in DataFusion's layout), so
//! the final aggregate above it — on this process or a broker — is unchanged.
//!
//! [`rewrite`] runs where fragments run ([`crate::fragment::run`]): every server executes
//! its fragment its own best way, and what crosses the wire stays the plain plan. A
//! realtime table's consuming segments aggregate on their ids too
//! (`MutableSnapshot::aggregate_groups`: unsorted dictionaries, so values are compared,
//! and measured columns may be kept raw). A segment, sealed or consuming, that cannot (a
//! column raw or multi-value in it, one it predates, nulls under null handling: a null
//! doc's id is its column's default value's) goes through the plain partial aggregate over
//! a scan of such segments alone, both streams of the same partial states: a table whose
//! config or format changed keeps its other segments on ids. Shapes it does not know are
//! left as they are: remote segments, other aggregates, a scan limit, and a query no
//! segment can answer on ids.
//!
//! `rewrite.rs` matches the plan shape and decides, segment by segment, what goes on ids;
//! `exec.rs` runs it.

mod exec;
mod rewrite;

pub use rewrite::rewrite;

use crate::scan::SegmentScanExec;
use cuvee_segments::Measure;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_plan::{ExecutionPlan, PlanProperties};
use std::fmt;
use std::sync::Arc;

pub struct SegmentAggregateExec {
    /// The scan it replaces, itself: its metrics (segments, docs, and this exec's groups,
    /// ids and decodes) are the ones `EXPLAIN ANALYZE` shows under the plan as planned.
    scan: Arc<SegmentScanExec>,
    group_columns: Vec<String>,
    /// The partial aggregate's aggregates, in order, and the columns they measure.
    outputs: Vec<Output>,
    /// The column of an [`Output::DistinctValues`] (then the only output, ungrouped).
    distinct_of: Option<String>,
    measures: Vec<Measure>,
    /// The partial aggregate's output: the group columns, then each aggregate's state.
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    /// The plain partial aggregate over the segments not aggregated on ids, same output;
    /// partition `p` of it streams after partition `p` on ids.
    rest: Option<Arc<dyn ExecutionPlan>>,
}

/// One aggregate of the partial aggregate, as states computed on ids. `measure` indexes
/// the exec's measures; a state's type is the partial aggregate's own.
#[derive(Debug, Clone, Copy)]
enum Output {
    /// COUNT(*), or COUNT(column) of a column without nulls: the group's docs.
    Count,
    Sum {
        measure: usize,
    },
    /// DataFusion's average state: the count (UInt64), then the sum (Float64).
    Avg {
        measure: usize,
    },
    Min {
        measure: usize,
    },
    Max {
        measure: usize,
    },
    /// Pinot's exact percentile: each group's distinct values with their counts.
    Percentile {
        measure: usize,
    },
    /// An exact distinct count's state (`crate::distinct_count`): the segment's distinct
    /// values of the exec's `distinct_of`, from the ids its docs use.
    DistinctValues,
}

impl fmt::Debug for SegmentAggregateExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SegmentAggregateExec({:?}, {:?})", self.group_columns, self.outputs)
    }
}

impl SegmentAggregateExec {
    /// The scan whose segments this aggregates (its metrics carry the scan's statistics).
    pub fn scan(&self) -> &SegmentScanExec {
        &self.scan
    }
}
