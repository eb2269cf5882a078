//! Catalog helper functions psql's and tools' introspection calls that
//! datafusion-pg-catalog does not define. cuvee has one schema on the search path and no
//! user-defined functions or types, so visibility is always true and function signatures
//! are empty.

use datafusion::arrow::array::{Array, BooleanArray, Int32Array, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{
    create_udf, ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use std::sync::Arc;

pub fn register(ctx: &SessionContext) {
    ctx.register_udf(to_regtype());
    ctx.register_udf(ScalarUDF::new_from_impl(JsonBuildObject::new()));
    // No sequences here: every column's serial sequence is NULL.
    ctx.register_udf(create_udf(
        "pg_get_serial_sequence",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            let rows = args
                .iter()
                .find_map(|a| match a {
                    ColumnarValue::Array(a) => Some(a.len()),
                    _ => None,
                })
                .unwrap_or(1);
            Ok(ColumnarValue::Array(Arc::new(StringArray::from(vec![None::<&str>; rows]))))
        }),
    ));
    for name in [
        "pg_function_is_visible",
        "pg_type_is_visible",
        "pg_operator_is_visible",
        "pg_opclass_is_visible",
        "pg_collation_is_visible",
        "pg_conversion_is_visible",
    ] {
        ctx.register_udf(always(name, DataType::Boolean));
    }
    for name in ["pg_get_function_result", "pg_get_function_arguments", "pg_get_function_identity_arguments"] {
        ctx.register_udf(always(name, DataType::Utf8));
    }
}

/// `name(oid)`: true for visibility, the empty string for a signature.
fn always(name: &str, returns: DataType) -> ScalarUDF {
    let output = returns.clone();
    create_udf(
        name,
        vec![DataType::Int64],
        returns,
        Volatility::Stable,
        Arc::new(move |args: &[ColumnarValue]| {
            let rows = match &args[0] {
                ColumnarValue::Array(array) => array.len(),
                ColumnarValue::Scalar(_) => 1,
            };
            Ok(ColumnarValue::Array(match output {
                DataType::Boolean => Arc::new(BooleanArray::from(vec![true; rows])),
                _ => Arc::new(StringArray::from(vec![""; rows])),
            }))
        }),
    )
}

/// The OIDs of the types cuvee's columns map to, by every name Postgres accepts for them.
fn type_oid(name: &str) -> Option<i32> {
    let name = name.trim().trim_start_matches("pg_catalog.").to_ascii_lowercase();
    Some(match name.as_str() {
        "bool" | "boolean" => 16,
        "bytea" => 17,
        "int8" | "bigint" => 20,
        "int2" | "smallint" => 21,
        "int4" | "int" | "integer" => 23,
        "text" => 25,
        "oid" => 26,
        "json" => 114,
        "float4" | "real" => 700,
        "float8" | "double precision" => 701,
        "varchar" | "character varying" => 1043,
        "date" => 1082,
        "time" => 1083,
        "timestamp" | "timestamp without time zone" => 1114,
        "timestamptz" | "timestamp with time zone" => 1184,
        "interval" => 1186,
        "numeric" | "decimal" => 1700,
        "uuid" => 2950,
        "jsonb" => 3802,
        _ => return None,
    })
}

/// `to_regtype(name)`: the type's OID, NULL for a type cuvee does not have (drivers probe
/// for `hstore`, `citext` … this way and expect NULL, not an error).
fn to_regtype() -> ScalarUDF {
    create_udf(
        "to_regtype",
        vec![DataType::Utf8],
        DataType::Int32,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            let names = args[0].to_array(1)?;
            let names = names
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| datafusion::error::DataFusionError::Internal("to_regtype: name is not text".into()))?;
            let oids: Int32Array = names.iter().map(|name| name.and_then(type_oid)).collect();
            Ok(ColumnarValue::Array(Arc::new(oids)))
        }),
    )
}

/// `json_build_object(key, value, …)` as JSON text (SQLAlchemy's column reflection builds
/// identity options with it).
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonBuildObject {
    signature: Signature,
}

impl JsonBuildObject {
    fn new() -> JsonBuildObject {
        JsonBuildObject { signature: Signature::variadic_any(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for JsonBuildObject {
    fn name(&self) -> &str {
        "json_build_object"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> datafusion::common::Result<ColumnarValue> {
        if !args.args.len().is_multiple_of(2) {
            return datafusion::common::exec_err!("json_build_object: argument list must have even number of elements");
        }
        let arrays =
            args.args.iter().map(|a| a.to_array(args.number_rows)).collect::<datafusion::common::Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(args.number_rows);
        for row in 0..args.number_rows {
            let mut object = serde_json::Map::new();
            for pair in arrays.chunks(2) {
                let key = ScalarValue::try_from_array(&pair[0], row)?;
                if key.is_null() {
                    return datafusion::common::exec_err!("json_build_object: null value not allowed for object key");
                }
                let key = match key.try_as_str() {
                    Some(Some(text)) => text.to_string(),
                    _ => key.to_string(),
                };
                object.insert(key, json_value(ScalarValue::try_from_array(&pair[1], row)?));
            }
            out.push(serde_json::Value::Object(object).to_string());
        }
        Ok(ColumnarValue::Array(Arc::new(StringArray::from(out))))
    }
}

fn json_value(value: ScalarValue) -> serde_json::Value {
    use serde_json::Value;
    if value.is_null() {
        return Value::Null;
    }
    match value {
        ScalarValue::Boolean(Some(b)) => Value::Bool(b),
        ScalarValue::Int8(Some(n)) => n.into(),
        ScalarValue::Int16(Some(n)) => n.into(),
        ScalarValue::Int32(Some(n)) => n.into(),
        ScalarValue::Int64(Some(n)) => n.into(),
        ScalarValue::UInt8(Some(n)) => n.into(),
        ScalarValue::UInt16(Some(n)) => n.into(),
        ScalarValue::UInt32(Some(n)) => n.into(),
        ScalarValue::UInt64(Some(n)) => n.into(),
        ScalarValue::Float32(Some(n)) => serde_json::Number::from_f64(n as f64).map_or(Value::Null, Value::Number),
        ScalarValue::Float64(Some(n)) => serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number),
        other => match other.try_as_str() {
            Some(Some(text)) => Value::String(text.to_string()),
            _ => Value::String(other.to_string()),
        },
    }
}
