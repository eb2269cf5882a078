//! `pinot_percentile(x, p)`: Pinot's exact percentile — the value at index ⌊n · p / 100⌋ of
//! the sorted non-null values (the last one at p = 100) — as one aggregate.
//!
//! The state is every value (a list of DOUBLE), like Pinot's own exact percentile, so it
//! stays exact when servers' partial states are merged on a broker; the answer is picked
//! with a selection (O(n)), not a sort. It replaces `array_agg(x ORDER BY x)` + indexing,
//! which made DataFusion sort every input row of every group.

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, Float64Array, ListArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::cast::{as_float64_array, as_list_array};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{plan_err, Result, ScalarValue};
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
        Ok(Box::new(Values { p: percent(&args)?, values: Vec::new() }))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(GroupedValues { p: percent(&args)?, groups: Vec::new() }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let item = Arc::new(Field::new_list_field(DataType::Float64, true));
        Ok(vec![Arc::new(Field::new(format!("{}[values]", args.name), DataType::List(item), true))])
    }
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
        _ => plan_err!("{NAME}: the percentile must be a number literal from 0 to 100"),
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

/// Every group's values at once (a GROUP BY): one vector per group, filled row by row,
/// instead of DataFusion slicing the batch per group for one accumulator each.
#[derive(Debug)]
struct GroupedValues {
    p: f64,
    groups: Vec<Vec<f64>>,
}

impl GroupsAccumulator for GroupedValues {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups.resize_with(total_num_groups, Vec::new);
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
        self.groups.resize_with(total_num_groups, Vec::new);
        let lists = as_list_array(&values[0])?;
        for (row, &group) in group_indices.iter().enumerate() {
            if lists.is_null(row) {
                continue;
            }
            let list = lists.value(row);
            let doubles = as_float64_array(&list)?;
            self.groups[group].extend(doubles.iter().flatten());
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let p = self.p;
        let picked: Float64Array =
            emit_to.take_needed(&mut self.groups).into_iter().map(|mut values| pick(&mut values, p)).collect();
        Ok(Arc::new(picked))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let groups = emit_to.take_needed(&mut self.groups);
        let offsets = OffsetBuffer::from_lengths(groups.iter().map(Vec::len));
        let values = Float64Array::from(groups.into_iter().flatten().collect::<Vec<f64>>());
        let item = Arc::new(Field::new_list_field(DataType::Float64, true));
        Ok(vec![Arc::new(ListArray::try_new(item, offsets, Arc::new(values), None)?)])
    }

    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        let doubles = cast(&values[0], &DataType::Float64)?;
        let doubles = as_float64_array(&doubles)?;
        let keep = |row: usize| !doubles.is_null(row) && opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row));
        let offsets = OffsetBuffer::from_lengths((0..doubles.len()).map(|row| keep(row) as usize));
        let kept = Float64Array::from(
            (0..doubles.len()).filter(|&row| keep(row)).map(|row| doubles.value(row)).collect::<Vec<f64>>(),
        );
        let item = Arc::new(Field::new_list_field(DataType::Float64, true));
        Ok(vec![Arc::new(ListArray::try_new(item, offsets, Arc::new(kept), None)?)])
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.groups.capacity() * std::mem::size_of::<Vec<f64>>()
            + self.groups.iter().map(|g| g.capacity() * 8).sum::<usize>()
    }
}

#[derive(Debug)]
struct Values {
    p: f64,
    values: Vec<f64>,
}

impl Values {
    fn extend(&mut self, array: &Float64Array) {
        if array.null_count() == 0 {
            self.values.extend_from_slice(array.values());
        } else {
            self.values.extend(array.iter().flatten());
        }
    }
}

impl Accumulator for Values {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let doubles = cast(&values[0], &DataType::Float64)?;
        self.extend(as_float64_array(&doubles)?);
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = as_list_array(&states[0])?;
        for list in lists.iter().flatten() {
            self.extend(as_float64_array(&list)?);
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values: ArrayRef = Arc::new(Float64Array::from(std::mem::take(&mut self.values)));
        Ok(vec![SingleRowListArrayBuilder::new(values).build_list_scalar()])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(pick(&mut self.values, self.p)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.values.capacity() * std::mem::size_of::<f64>()
    }
}
