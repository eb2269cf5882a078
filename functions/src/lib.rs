//! # cuvee-functions
//!
//! Answers: *what does this Pinot function compute?* Pinot's scalar functions — the
//! date-time family, JSON extraction, strings, arithmetic, comparison and logic — as one
//! table of typed functions over [`Datum`]s. Ingestion transforms and filters call them
//! through [`Function::call`]; the query engine registers the ones DataFusion lacks
//! ([`Function::sql`]) and applies the time-bucketing ones to whole arrays at once
//! ([`Function::long_kernel`]), so a value computed at ingestion and at query time agree.
//!
//! Geospatial functions (`ST_Point`, `ST_Distance`, `geoToH3`…) take and return shapes as
//! BYTES in Pinot's serialisation; [`Shape`] is that value, shared with the segment
//! format's H3 index and geospatial filters.
//!
//! A leaf: it knows neither Arrow nor SQL. Time zones: UTC and fixed offsets, as the
//! catalog's date-time formats.

/// One entry of a function table (a function whose value does not depend on when it runs).
macro_rules! function {
    ($name:literal, $min:literal, $max:literal, $returns:expr, $body:expr, strict: $strict:literal, sql: $sql:literal) => {
        $crate::Function {
            name: $name,
            min_args: $min,
            max_args: $max,
            strict: $strict,
            returns: $returns,
            sql: $sql,
            volatile: false,
            body: $body,
        }
    };
}

mod datetime;
mod datum;
mod error;
pub mod geo;
mod json;
mod scalar;

pub use datetime::LongKernel;
pub use datum::{float, Datum};
pub use error::{FunctionError, Result};
pub use geo::Shape;
pub use json::json_path;

/// What a function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    Long,
    Double,
    Text,
    Bool,
    /// A list of text (a multi-value result).
    TextList,
    /// BYTES (a serialised shape).
    Bytes,
    /// Whatever the value found is (JSON extraction without a type).
    Any,
    /// Decided by a literal argument ([`Function::return_type`]).
    ByArgument,
}

/// A result type once the arguments are known ([`Function::return_type`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultType {
    Int,
    Long,
    Float,
    Double,
    Text,
    Bool,
    TextList,
    Bytes,
}

pub(crate) type Body = fn(&str, &[Datum]) -> Result<Datum>;

/// One of Pinot's functions.
pub struct Function {
    /// Lower-case, as looked up.
    pub name: &'static str,
    pub min_args: usize,
    pub max_args: usize,
    /// A null argument makes the result null without calling the function; the boolean
    /// connectives, null tests and extractions with defaults see nulls themselves.
    pub strict: bool,
    pub returns: Returns,
    /// Registered as a SQL function: DataFusion lacks it, or means something else by it.
    pub sql: bool,
    /// The value depends on when it is called (`now`, `ago`).
    pub volatile: bool,
    body: Body,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Function({})", self.name)
    }
}

/// Names Pinot has that cuvee refuses, and why.
const UNSUPPORTED: &[(&str, &str)] = &[(
    "groovy",
    "Groovy transforms are not supported (they need a JVM and run arbitrary code); use built-in functions",
)];

fn all() -> impl Iterator<Item = &'static Function> {
    datetime::FUNCTIONS.iter().chain(json::FUNCTIONS).chain(scalar::FUNCTIONS).chain(geo::FUNCTIONS)
}

/// The function of this name (any case).
pub fn lookup(name: &str) -> Result<&'static Function> {
    let lower = name.to_ascii_lowercase();
    if let Some((_, reason)) = UNSUPPORTED.iter().find(|(n, _)| *n == lower) {
        return Err(FunctionError::Unsupported { name: lower, reason });
    }
    all().find(|f| f.name == lower).ok_or(FunctionError::Unknown(lower))
}

/// Every function registered as SQL ([`Function::sql`]).
pub fn sql_functions() -> impl Iterator<Item = &'static Function> {
    all().filter(|f| f.sql)
}

impl Function {
    /// Checks a call's argument count.
    pub fn check_arity(&self, count: usize) -> Result<()> {
        if count < self.min_args || count > self.max_args {
            let expected = if self.min_args == self.max_args {
                self.min_args.to_string()
            } else {
                format!("{} to {}", self.min_args, self.max_args)
            };
            return Err(FunctionError::Arity { name: self.name.to_string(), expected, got: count });
        }
        Ok(())
    }

    /// Calls the function: arity checked, nulls handled by [`Function::strict`].
    pub fn call(&self, args: &[Datum]) -> Result<Datum> {
        self.check_arity(args.len())?;
        if self.strict && args.iter().any(Datum::is_null) {
            return Ok(Datum::Null);
        }
        (self.body)(self.name, args)
    }

    /// The result type, given the literal text arguments the call has (`literal(i)` is
    /// the i-th argument when it is a text literal).
    pub fn return_type(&self, literal: impl Fn(usize) -> Option<String>) -> Result<ResultType> {
        Ok(match self.returns {
            Returns::Long => ResultType::Long,
            Returns::Double => ResultType::Double,
            Returns::Text | Returns::Any => ResultType::Text,
            Returns::Bool => ResultType::Bool,
            Returns::TextList => ResultType::TextList,
            Returns::Bytes => ResultType::Bytes,
            Returns::ByArgument => match self.name {
                "datetimeconvert" => datetime::convert_result_type(literal(2))?,
                _ => json::extract_result_type(self.name, literal(2))?,
            },
        })
    }

    /// The function as one integer operation, when it is one of the time-bucketing
    /// functions over a LONG and its other arguments are the constants given: the query
    /// engine then applies it to a whole array.
    pub fn long_kernel(&self, constants: &[Option<Datum>]) -> Option<LongKernel> {
        datetime::long_kernel(self.name, constants)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[Datum]) -> Result<Datum> {
        lookup(name)?.call(args)
    }

    #[test]
    fn looks_up_by_any_case_and_refuses_what_it_cannot_run() {
        assert_eq!(lookup("toEpochDays").unwrap().name, "toepochdays");
        assert!(lookup("Groovy").unwrap_err().to_string().contains("Groovy transforms are not supported"));
        assert_eq!(lookup("frobnicate").unwrap_err().to_string(), "unknown function frobnicate");
        let arity = lookup("lower").unwrap().check_arity(2).unwrap_err().to_string();
        assert_eq!(arity, "lower takes 1 arguments, got 2");
        assert_eq!(
            lookup("substr").unwrap().check_arity(4).unwrap_err().to_string(),
            "substr takes 2 to 3 arguments, got 4"
        );
    }

    #[test]
    fn nulls_propagate_except_where_the_function_sees_them() {
        assert_eq!(call("plus", &[Datum::Long(1), Datum::Null]).unwrap(), Datum::Null);
        assert_eq!(call("isnull", &[Datum::Null]).unwrap(), Datum::Bool(true));
        assert_eq!(call("and", &[Datum::Null, Datum::Bool(false)]).unwrap(), Datum::Bool(false));
        assert_eq!(call("or", &[Datum::Null, Datum::Bool(false)]).unwrap(), Datum::Null);
    }

    #[test]
    fn every_name_is_unique() {
        let mut names: Vec<&str> = all().map(|f| f.name).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
    }
}
