//! `pinot_percentile(x, p)`: Pinot's exact percentile — the value at index ⌊n · p / 100⌋ of
//! the sorted non-null values (the last one at p = 100) — as one aggregate.
//!
//! The state is the values with their counts, so it stays exact when servers' partial
//! states are merged on a broker: two lists, the values (DOUBLE) and how many times each
//! occurs (UBIGINT). A row-at-a-time update keeps every value and sends a null counts list
//! ("each once", nothing to store per value); an aggregate over dictionary ids
//! (`crate::segment_aggregate`) sends each distinct value once with its count — a
//! histogram over the dictionary instead of every row's value. The answer is picked by
//! selection (O(n)) over plain values, or by walking the counts of the sorted distinct
//! values; it replaces `array_agg(x ORDER BY x)` + indexing, which sorted every row.

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, Float64Array, ListArray, UInt64Array};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::cast::{as_float64_array, as_list_array, as_uint64_array};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};
use datafusion::physical_expr::expressions::Literal;
use std::sync::Arc;

pub const NAME: &str = "pinot_percentile";

pub fn udaf() -> AggregateUDF {
    AggregateUDF::from(PinotPercentile { signature: Signature::any(2, Volatility::Immutable) })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct PinotPercentile {
    signature: Signature,
}

impl AggregateUDFImpl for PinotPercentile {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        if !args[0].is_numeric() && !args[0].is_null() {
            return plan_err!("{NAME} needs a numeric column, not {}", args[0]);
        }
        Ok(DataType::Float64)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Values { p: percent(&args)?, values: Weighted::default() }))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(GroupedValues { p: percent(&args)?, groups: Vec::new() }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(format!("{}[values]", args.name), values_type(), true)),
            Arc::new(Field::new(format!("{}[counts]", args.name), counts_type(), true)),
        ])
    }
}

/// The state's first list: the values.
pub fn values_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
}

/// The state's second list: each value's count, or null for "each value once".
pub fn counts_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::UInt64, true)))
}

/// Per group, `(values, counts)` as the two state lists; a group without counts sends a
/// null counts list.
pub fn state_arrays(groups: Vec<Weighted>) -> Result<Vec<ArrayRef>> {
    let value_offsets = OffsetBuffer::from_lengths(groups.iter().map(|g| g.values.len()));
    let count_offsets = OffsetBuffer::from_lengths(groups.iter().map(|g| g.counts.as_ref().map_or(0, Vec::len)));
    let counted = NullBuffer::from(groups.iter().map(|g| g.counts.is_some()).collect::<Vec<bool>>());
    let (mut values, mut counts) = (Vec::new(), Vec::new());
    for group in groups {
        values.extend(group.values);
        counts.extend(group.counts.unwrap_or_default());
    }
    let item = |t: DataType| Arc::new(Field::new_list_field(t, true));
    let values =
        ListArray::try_new(item(DataType::Float64), value_offsets, Arc::new(Float64Array::from(values)), None)?;
    let counts =
        ListArray::try_new(item(DataType::UInt64), count_offsets, Arc::new(UInt64Array::from(counts)), Some(counted))?;
    Ok(vec![Arc::new(values), Arc::new(counts)])
}

/// One group's values, each once or with a count.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Weighted {
    pub values: Vec<f64>,
    /// One per value, when any value came with a count.
    pub counts: Option<Vec<u64>>,
}

impl Weighted {
    fn push(&mut self, value: f64) {
        self.values.push(value);
        if let Some(counts) = &mut self.counts {
            counts.push(1);
        }
    }

    fn extend_once(&mut self, values: &Float64Array) {
        if values.null_count() == 0 {
            self.values.extend_from_slice(values.values());
        } else {
            self.values.extend(values.iter().flatten());
        }
        if let Some(counts) = &mut self.counts {
            counts.resize(self.values.len(), 1);
        }
    }

    fn extend_counted(&mut self, values: &Float64Array, counts: &UInt64Array) -> Result<()> {
        if values.len() != counts.len() || values.null_count() > 0 || counts.null_count() > 0 {
            return exec_err!("{NAME}: a state's counts do not match its values");
        }
        let own = self.counts.get_or_insert_with(|| vec![1; self.values.len()]);
        own.extend_from_slice(counts.values());
        self.values.extend_from_slice(values.values());
        Ok(())
    }

    /// Merges one row of a state: its values list and its counts list (null: each once).
    fn merge(&mut self, values: &ListArray, counts: &ListArray, row: usize) -> Result<()> {
        if values.is_null(row) {
            return Ok(());
        }
        let list = values.value(row);
        let doubles = as_float64_array(&list)?;
        if counts.is_null(row) {
            self.extend_once(doubles);
            Ok(())
        } else {
            let counted = counts.value(row);
            self.extend_counted(doubles, as_uint64_array(&counted)?)
        }
    }

    fn pick(&mut self, p: f64) -> Option<f64> {
        match &self.counts {
            None => pick(&mut self.values, p),
            Some(counts) => pick_counted(&self.values, counts, p),
        }
    }

    fn bytes(&self) -> usize {
        self.values.capacity() * 8 + self.counts.as_ref().map_or(0, |c| c.capacity() * 8)
    }
}

fn merge_rows(groups: &mut [Weighted], states: &[ArrayRef], group_of: impl Fn(usize) -> usize) -> Result<()> {
    let [values, counts] = states else {
        return exec_err!("{NAME}: a state is two lists, not {}", states.len());
    };
    let (values, counts) = (as_list_array(values)?, as_list_array(counts)?);
    for row in 0..values.len() {
        groups[group_of(row)].merge(values, counts, row)?;
    }
    Ok(())
}

/// The percentile argument: a number literal from 0 to 100.
fn percent(args: &AccumulatorArgs) -> Result<f64> {
    let p =
        args.exprs.get(1).and_then(|e| (e.as_ref() as &dyn std::any::Any).downcast_ref::<Literal>()).and_then(|l| {
            match l.value().cast_to(&DataType::Float64) {
                Ok(ScalarValue::Float64(Some(p))) => Some(p),
                _ => None,
            }
        });
    match p {
        Some(p) if (0.0..=100.0).contains(&p) => Ok(p),
        Some(p) => plan_err!("PERCENTILE: the percentile must be from 0 to 100, not {p}"),
        None => plan_err!("PERCENTILE: the percentile must be a number literal from 0 to 100"),
    }
}

/// Pinot's pick: the value at index ⌊n · p / 100⌋ of the sorted values, by selection.
fn pick(values: &mut [f64], p: f64) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let index = ((n as f64 * p / 100.0).floor() as usize).min(n - 1);
    let (_, value, _) = values.select_nth_unstable_by(index, f64::total_cmp);
    Some(*value)
}

/// Pinot's pick over distinct-or-not values with counts: sorted by value, the one whose
/// run of counts covers index ⌊n · p / 100⌋, n the sum of the counts.
fn pick_counted(values: &[f64], counts: &[u64], p: f64) -> Option<f64> {
    let n: u64 = counts.iter().sum();
    if n == 0 {
        return None;
    }
    let index = ((n as f64 * p / 100.0).floor() as u64).min(n - 1);
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_unstable_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut seen = 0u64;
    for i in order {
        seen += counts[i];
        if seen > index {
            return Some(values[i]);
        }
    }
    None
}

/// Every group's values at once (a GROUP BY): one vector per group, filled row by row,
/// instead of DataFusion slicing the batch per group for one accumulator each.
#[derive(Debug)]
struct GroupedValues {
    p: f64,
    groups: Vec<Weighted>,
}

impl GroupsAccumulator for GroupedValues {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups.resize_with(total_num_groups, Weighted::default);
        let doubles = cast(&values[0], &DataType::Float64)?;
        let doubles = as_float64_array(&doubles)?;
        for (row, &group) in group_indices.iter().enumerate() {
            if doubles.is_null(row) || opt_filter.is_some_and(|f| !f.is_valid(row) || !f.value(row)) {
                continue;
            }
            self.groups[group].push(doubles.value(row));
        }
        Ok(())
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        self.groups.resize_with(total_num_groups, Weighted::default);
        merge_rows(&mut self.groups, values, |row| group_indices[row])
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let p = self.p;
        let picked: Float64Array =
            emit_to.take_needed(&mut self.groups).into_iter().map(|mut group| group.pick(p)).collect();
        Ok(Arc::new(picked))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        state_arrays(emit_to.take_needed(&mut self.groups))
    }

    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        let doubles = cast(&values[0], &DataType::Float64)?;
        let doubles = as_float64_array(&doubles)?;
        let keep = |row: usize| !doubles.is_null(row) && opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row));
        let groups = (0..doubles.len())
            .map(|row| Weighted { values: if keep(row) { vec![doubles.value(row)] } else { Vec::new() }, counts: None })
            .collect();
        state_arrays(groups)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.groups.capacity() * std::mem::size_of::<Weighted>()
            + self.groups.iter().map(Weighted::bytes).sum::<usize>()
    }
}

#[derive(Debug)]
struct Values {
    p: f64,
    values: Weighted,
}

impl Accumulator for Values {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let doubles = cast(&values[0], &DataType::Float64)?;
        self.values.extend_once(as_float64_array(&doubles)?);
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        merge_rows(std::slice::from_mut(&mut self.values), states, |_| 0)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let Weighted { values, counts } = std::mem::take(&mut self.values);
        let values: ArrayRef = Arc::new(Float64Array::from(values));
        let counts = match counts {
            Some(counts) => {
                SingleRowListArrayBuilder::new(Arc::new(UInt64Array::from(counts)) as ArrayRef).build_list_scalar()
            }
            None => ScalarValue::try_from(&counts_type())?,
        };
        Ok(vec![SingleRowListArrayBuilder::new(values).build_list_scalar(), counts])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(self.values.pick(self.p)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.values.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values with counts pick what the same values, repeated, pick.
    #[test]
    fn counted_values_pick_what_repeated_values_pick() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        for _ in 0..500 {
            let distinct = 1 + next(20) as usize;
            let values: Vec<f64> = (0..distinct).map(|_| next(50) as f64 - 10.0).collect();
            let counts: Vec<u64> = (0..distinct).map(|_| next(4)).collect();
            let mut repeated: Vec<f64> =
                values.iter().zip(&counts).flat_map(|(&v, &c)| std::iter::repeat_n(v, c as usize)).collect();
            for p in [0.0, 1.0, 25.0, 50.0, 90.0, 99.0, 100.0] {
                assert_eq!(pick_counted(&values, &counts, p), pick(&mut repeated, p), "{values:?} {counts:?} {p}");
            }
        }
    }
}
