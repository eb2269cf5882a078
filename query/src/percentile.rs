//! `pinot_percentile(x, p)`: Pinot's exact percentile — the value at index ⌊n · p / 100⌋ of
//! the sorted non-null values (the last one at p = 100) — as one aggregate.
//!
//! The state is every value (a list of DOUBLE), like Pinot's own exact percentile, so it
//! stays exact when servers' partial states are merged on a broker; the answer is picked
//! with a selection (O(n)), not a sort. It replaces `array_agg(x ORDER BY x)` + indexing,
//! which made DataFusion sort every input row of every group.

use datafusion::arrow::array::{Array, ArrayRef, Float64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::cast::{as_float64_array, as_list_array};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};
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
        let p = args.exprs.get(1).and_then(|e| (e.as_ref() as &dyn std::any::Any).downcast_ref::<Literal>()).and_then(|l| match l.value().cast_to(&DataType::Float64) {
            Ok(ScalarValue::Float64(Some(p))) => Some(p),
            _ => None,
        });
        match p {
            Some(p) if (0.0..=100.0).contains(&p) => Ok(Box::new(Values { p, values: Vec::new() })),
            _ => plan_err!("{NAME}: the percentile must be a number literal from 0 to 100"),
        }
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let item = Arc::new(Field::new_list_field(DataType::Float64, true));
        Ok(vec![Arc::new(Field::new(format!("{}[values]", args.name), DataType::List(item), true))])
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
        let n = self.values.len();
        if n == 0 {
            return Ok(ScalarValue::Float64(None));
        }
        let index = ((n as f64 * self.p / 100.0).floor() as usize).min(n - 1);
        let (_, value, _) = self.values.select_nth_unstable_by(index, f64::total_cmp);
        Ok(ScalarValue::Float64(Some(*value)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.values.capacity() * std::mem::size_of::<f64>()
    }
}
