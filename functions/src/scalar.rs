//! Strings, arithmetic, comparison and logic, with Pinot's names. Arithmetic answers
//! DOUBLE, as Pinot's `plus`/`minus`/`times`/`divide` do.

use crate::error::{FunctionError, Result};
use crate::{Datum, Function, Returns};
use std::cmp::Ordering;

macro_rules! scalar {
    ($name:literal, $min:literal, $max:literal, $returns:expr, $body:expr) => {
        function!($name, $min, $max, $returns, $body, strict: true, sql: false)
    };
    ($name:literal, $min:literal, $max:literal, $returns:expr, $body:expr, sees_nulls) => {
        function!($name, $min, $max, $returns, $body, strict: false, sql: false)
    };
}

pub(crate) static FUNCTIONS: &[Function] = &[
    scalar!("lower", 1, 1, Returns::Text, |_, a| Ok(Datum::Text(a[0].as_text().to_lowercase()))),
    scalar!("upper", 1, 1, Returns::Text, |_, a| Ok(Datum::Text(a[0].as_text().to_uppercase()))),
    scalar!("trim", 1, 1, Returns::Text, |_, a| Ok(Datum::Text(a[0].as_text().trim().to_string()))),
    scalar!("ltrim", 1, 1, Returns::Text, |_, a| Ok(Datum::Text(a[0].as_text().trim_start().to_string()))),
    scalar!("rtrim", 1, 1, Returns::Text, |_, a| Ok(Datum::Text(a[0].as_text().trim_end().to_string()))),
    scalar!("length", 1, 1, Returns::Long, |_, a| Ok(Datum::Long(a[0].as_text().chars().count() as i64))),
    scalar!("reverse", 1, 1, Returns::Text, |_, a| Ok(Datum::Text(a[0].as_text().chars().rev().collect()))),
    scalar!("concat", 2, 3, Returns::Text, |_, a| {
        let separator = a.get(2).map(Datum::as_text).unwrap_or_default();
        Ok(Datum::Text(format!("{}{separator}{}", a[0].as_text(), a[1].as_text())))
    }),
    scalar!("substr", 2, 3, Returns::Text, substr),
    scalar!("replace", 3, 3, Returns::Text, |_, a| {
        Ok(Datum::Text(a[0].as_text().replace(&a[1].as_text(), &a[2].as_text())))
    }),
    scalar!("split", 2, 2, Returns::TextList, |_, a| {
        let delimiter = a[1].as_text();
        if delimiter.is_empty() {
            return Err("split: the delimiter is empty".into());
        }
        Ok(Datum::List(a[0].as_text().split(delimiter.as_str()).map(|s| Datum::Text(s.to_string())).collect()))
    }),
    scalar!("strpos", 2, 2, Returns::Long, |_, a| {
        Ok(Datum::Long(a[0].as_text().find(&a[1].as_text()).map_or(-1, |i| i as i64)))
    }),
    scalar!("startswith", 2, 2, Returns::Bool, |_, a| Ok(Datum::Bool(a[0].as_text().starts_with(&a[1].as_text())))),
    scalar!("endswith", 2, 2, Returns::Bool, |_, a| Ok(Datum::Bool(a[0].as_text().ends_with(&a[1].as_text())))),
    scalar!("contains", 2, 2, Returns::Bool, |_, a| Ok(Datum::Bool(a[0].as_text().contains(&a[1].as_text())))),
    scalar!("plus", 2, 2, Returns::Double, |_, a| Ok(Datum::Double(a[0].as_double()? + a[1].as_double()?))),
    scalar!("add", 2, 2, Returns::Double, |_, a| Ok(Datum::Double(a[0].as_double()? + a[1].as_double()?))),
    scalar!("minus", 2, 2, Returns::Double, |_, a| Ok(Datum::Double(a[0].as_double()? - a[1].as_double()?))),
    scalar!("sub", 2, 2, Returns::Double, |_, a| Ok(Datum::Double(a[0].as_double()? - a[1].as_double()?))),
    scalar!("times", 2, 2, Returns::Double, |_, a| Ok(Datum::Double(a[0].as_double()? * a[1].as_double()?))),
    scalar!("mult", 2, 2, Returns::Double, |_, a| Ok(Datum::Double(a[0].as_double()? * a[1].as_double()?))),
    scalar!("divide", 2, 2, Returns::Double, divide),
    scalar!("div", 2, 2, Returns::Double, divide),
    scalar!("mod", 2, 2, Returns::Double, |_, a| {
        let d = a[1].as_double()?;
        if d == 0.0 {
            return Err(FunctionError::DivisionByZero("modulo by zero".into()));
        }
        Ok(Datum::Double(a[0].as_double()? % d))
    }),
    scalar!("abs", 1, 1, Returns::Double, |_, a| Ok(Datum::Double(a[0].as_double()?.abs()))),
    scalar!("ceil", 1, 1, Returns::Double, |_, a| Ok(Datum::Double(a[0].as_double()?.ceil()))),
    scalar!("floor", 1, 1, Returns::Double, |_, a| Ok(Datum::Double(a[0].as_double()?.floor()))),
    scalar!("round", 1, 2, Returns::Double, |_, a| {
        let scale = a.get(1).map(Datum::as_long).transpose()?.unwrap_or(0).clamp(-15, 15) as i32;
        let factor = 10f64.powi(scale);
        Ok(Datum::Double((a[0].as_double()? * factor).round() / factor))
    }),
    scalar!("sqrt", 1, 1, Returns::Double, |_, a| Ok(Datum::Double(a[0].as_double()?.sqrt()))),
    scalar!("equals", 2, 2, Returns::Bool, |_, a| Ok(Datum::Bool(compare(&a[0], &a[1]).is_eq()))),
    scalar!("notequals", 2, 2, Returns::Bool, |_, a| Ok(Datum::Bool(!compare(&a[0], &a[1]).is_eq()))),
    scalar!("lessthan", 2, 2, Returns::Bool, |_, a| Ok(Datum::Bool(compare(&a[0], &a[1]).is_lt()))),
    scalar!("lessthanorequal", 2, 2, Returns::Bool, |_, a| Ok(Datum::Bool(compare(&a[0], &a[1]).is_le()))),
    scalar!("greaterthan", 2, 2, Returns::Bool, |_, a| Ok(Datum::Bool(compare(&a[0], &a[1]).is_gt()))),
    scalar!("greaterthanorequal", 2, 2, Returns::Bool, |_, a| Ok(Datum::Bool(compare(&a[0], &a[1]).is_ge()))),
    scalar!(
        "and",
        2,
        2,
        Returns::Bool,
        |_, a| Ok(match (a[0].truth(), a[1].truth()) {
            (Some(false), _) | (_, Some(false)) => Datum::Bool(false),
            (Some(true), Some(true)) => Datum::Bool(true),
            _ => Datum::Null,
        }),
        sees_nulls
    ),
    scalar!(
        "or",
        2,
        2,
        Returns::Bool,
        |_, a| Ok(match (a[0].truth(), a[1].truth()) {
            (Some(true), _) | (_, Some(true)) => Datum::Bool(true),
            (Some(false), Some(false)) => Datum::Bool(false),
            _ => Datum::Null,
        }),
        sees_nulls
    ),
    scalar!("not", 1, 1, Returns::Bool, |_, a| Ok(a[0].truth().map_or(Datum::Null, |b| Datum::Bool(!b))), sees_nulls),
    scalar!("isnull", 1, 1, Returns::Bool, |_, a| Ok(Datum::Bool(a[0].is_null())), sees_nulls),
    scalar!("isnotnull", 1, 1, Returns::Bool, |_, a| Ok(Datum::Bool(!a[0].is_null())), sees_nulls),
    scalar!("arraylength", 1, 1, Returns::Long, |_, a| Ok(Datum::Long(match &a[0] {
        Datum::List(items) => items.len() as i64,
        _ => 1,
    }))),
];

fn divide(_: &str, a: &[Datum]) -> Result<Datum> {
    let d = a[1].as_double()?;
    if d == 0.0 {
        return Err(FunctionError::DivisionByZero("division by zero".into()));
    }
    Ok(Datum::Double(a[0].as_double()? / d))
}

/// `substr(text, begin[, end])`: characters `[begin, end)`, `end` -1 or absent for the rest.
fn substr(_: &str, a: &[Datum]) -> Result<Datum> {
    let chars: Vec<char> = a[0].as_text().chars().collect();
    let begin = usize::try_from(a[1].as_long()?.max(0)).unwrap_or(usize::MAX).min(chars.len());
    let end = match a.get(2).map(Datum::as_long).transpose()? {
        None | Some(-1) => chars.len(),
        Some(e) => usize::try_from(e.max(0)).unwrap_or(usize::MAX).clamp(begin, chars.len()),
    };
    Ok(Datum::Text(chars[begin..end].iter().collect()))
}

/// Numbers numerically when both are numbers, else as text.
fn compare(a: &Datum, b: &Datum) -> Ordering {
    match (a.as_double(), b.as_double()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.as_text().cmp(&b.as_text()),
    }
}

#[cfg(test)]
mod tests {
    use crate::{lookup, Datum};

    fn call(name: &str, args: &[Datum]) -> Datum {
        lookup(name).unwrap().call(args).unwrap()
    }

    fn text(s: &str) -> Datum {
        Datum::Text(s.to_string())
    }

    #[test]
    fn strings_arithmetic_and_logic() {
        assert_eq!(call("lower", &[call("upper", &[text("AbC")])]), text("abc"));
        assert_eq!(call("split", &[text("a,b"), text(",")]), Datum::List(vec![text("a"), text("b")]));
        assert_eq!(call("substr", &[text("héllo"), Datum::Long(1), Datum::Long(3)]), text("él"));
        assert_eq!(call("concat", &[text("a"), text("b"), text("-")]), text("a-b"));
        assert_eq!(
            call("plus", &[call("times", &[Datum::Long(3), Datum::Long(2)]), Datum::Long(1)]),
            Datum::Double(7.0)
        );
        assert_eq!(call("greaterthan", &[Datum::Long(3), text("2")]), Datum::Bool(true));
        assert_eq!(call("equals", &[text("x"), text("x")]), Datum::Bool(true));
        assert_eq!(call("round", &[Datum::Double(2.345), Datum::Long(2)]), Datum::Double(2.35));
        assert_eq!(call("arraylength", &[Datum::List(vec![text("a"), text("b")])]), Datum::Long(2));
        let zero = lookup("divide").unwrap().call(&[Datum::Long(1), Datum::Long(0)]).unwrap_err();
        assert_eq!(zero.to_string(), "division by zero");
    }
}
