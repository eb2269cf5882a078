//! A row as segments take it: one field per schema column, in schema order.

use cuvee_catalog::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Null,
    Single(Value),
    /// A multi-value field; an empty list is a null.
    Multi(Vec<Value>),
}

pub type Row = Vec<FieldValue>;
