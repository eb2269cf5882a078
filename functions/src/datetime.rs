//! The date-time family: `toEpoch<Unit>[Rounded|Bucket]`, `fromEpoch<Unit>[Bucket]`,
//! `toDateTime`, `fromDateTime`, `now`, `DATETRUNC`, `DATETIMECONVERT`, `AGO`.

use crate::error::{FunctionError, Result};
use crate::{Datum, Function, ResultType, Returns};
use cuvee_catalog::{DateTimeFormatSpec, FormattedTime, Granularity, Value};

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

macro_rules! epoch {
    ($name:literal, $min:literal, $max:literal) => {
        function!($name, $min, $max, Returns::Long, epoch_call, strict: true, sql: true)
    };
}

pub(crate) static FUNCTIONS: &[Function] = &[
    epoch!("toepochseconds", 1, 1),
    epoch!("toepochminutes", 1, 1),
    epoch!("toepochhours", 1, 1),
    epoch!("toepochdays", 1, 1),
    epoch!("toepochsecondsrounded", 2, 2),
    epoch!("toepochminutesrounded", 2, 2),
    epoch!("toepochhoursrounded", 2, 2),
    epoch!("toepochdaysrounded", 2, 2),
    epoch!("toepochsecondsbucket", 2, 2),
    epoch!("toepochminutesbucket", 2, 2),
    epoch!("toepochhoursbucket", 2, 2),
    epoch!("toepochdaysbucket", 2, 2),
    epoch!("fromepochseconds", 1, 1),
    epoch!("fromepochminutes", 1, 1),
    epoch!("fromepochhours", 1, 1),
    epoch!("fromepochdays", 1, 1),
    epoch!("fromepochsecondsbucket", 2, 2),
    epoch!("fromepochminutesbucket", 2, 2),
    epoch!("fromepochhoursbucket", 2, 2),
    epoch!("fromepochdaysbucket", 2, 2),
    function!("todatetime", 2, 3, Returns::Text, to_date_time, strict: true, sql: true),
    function!("fromdatetime", 2, 3, Returns::Long, from_date_time, strict: true, sql: true),
    Function {
        name: "now",
        min_args: 0,
        max_args: 0,
        strict: true,
        returns: Returns::Long,
        sql: false,
        volatile: true,
        body: |_, _| Ok(Datum::Long(now_ms())),
    },
    function!("datetrunc", 2, 5, Returns::Long, date_trunc, strict: true, sql: true),
    function!("datetimeconvert", 4, 4, Returns::ByArgument, date_time_convert, strict: true, sql: true),
    Function {
        name: "ago",
        min_args: 1,
        max_args: 1,
        strict: true,
        returns: Returns::Long,
        sql: true,
        volatile: true,
        body: ago,
    },
];

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// How an epoch function turns its LONG argument into its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EpochOp {
    /// `toEpoch<Unit>`: milliseconds to whole units.
    To,
    /// `toEpoch<Unit>Rounded(ms, n)`: whole units rounded down to a multiple of n.
    ToRounded,
    /// `toEpoch<Unit>Bucket(ms, n)`: the index of the n-unit bucket.
    ToBucket,
    /// `fromEpoch<Unit>`: units to milliseconds.
    From,
    /// `fromEpoch<Unit>Bucket(b, n)`: an n-unit bucket index to milliseconds.
    FromBucket,
}

fn epoch_op(name: &str) -> Option<(EpochOp, i64)> {
    let (op, rest) = if let Some(rest) = name.strip_prefix("toepoch") {
        if let Some(unit) = rest.strip_suffix("rounded") {
            (EpochOp::ToRounded, unit)
        } else if let Some(unit) = rest.strip_suffix("bucket") {
            (EpochOp::ToBucket, unit)
        } else {
            (EpochOp::To, rest)
        }
    } else {
        let rest = name.strip_prefix("fromepoch")?;
        match rest.strip_suffix("bucket") {
            Some(unit) => (EpochOp::FromBucket, unit),
            None => (EpochOp::From, rest),
        }
    };
    let unit = match rest {
        "seconds" => SECOND,
        "minutes" => MINUTE,
        "hours" => HOUR,
        "days" => DAY,
        _ => return None,
    };
    Some((op, unit))
}

/// A function of one LONG, the other arguments fixed: what the query engine applies to a
/// whole array ([`Function::long_kernel`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongKernel(KernelOp);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KernelOp {
    Epoch {
        op: EpochOp,
        unit_ms: i64,
        n: i64,
    },
    /// DATETRUNC to a fixed-length unit: the value in `input_ms` units, truncated to
    /// `unit_ms`, answered in `output_ms` units.
    Truncate {
        input_ms: i64,
        unit_ms: i64,
        output_ms: i64,
    },
}

impl LongKernel {
    pub fn apply(&self, v: i64) -> Result<i64> {
        match self.0 {
            KernelOp::Epoch { op, unit_ms, n } => Ok(epoch(op, unit_ms, v, n)),
            KernelOp::Truncate { input_ms, unit_ms, output_ms } => {
                let millis = v.checked_mul(input_ms).ok_or("the value overflows")?;
                Ok((millis - millis.rem_euclid(unit_ms)).div_euclid(output_ms))
            }
        }
    }
}

fn epoch(op: EpochOp, unit_ms: i64, v: i64, n: i64) -> i64 {
    match op {
        EpochOp::To => v.div_euclid(unit_ms),
        EpochOp::ToRounded => {
            let n = n.max(1);
            v.div_euclid(unit_ms).div_euclid(n) * n
        }
        EpochOp::ToBucket => v.div_euclid(unit_ms).div_euclid(n.max(1)),
        EpochOp::From => v.saturating_mul(unit_ms),
        EpochOp::FromBucket => v.saturating_mul(n).saturating_mul(unit_ms),
    }
}

fn epoch_call(name: &str, args: &[Datum]) -> Result<Datum> {
    let (op, unit_ms) = epoch_op(name).ok_or_else(|| FunctionError::Unknown(name.to_string()))?;
    let n = args.get(1).map(Datum::as_long).transpose()?.unwrap_or(1);
    Ok(Datum::Long(epoch(op, unit_ms, args[0].as_long()?, n)))
}

pub(crate) fn long_kernel(name: &str, constants: &[Option<Datum>]) -> Option<LongKernel> {
    let constant_long = |i: usize| constants.get(i).cloned().flatten().and_then(|d| d.as_long().ok());
    if let Some((op, unit_ms)) = epoch_op(name) {
        let n = match op {
            EpochOp::To | EpochOp::From => 1,
            _ => constant_long(1)?,
        };
        return Some(LongKernel(KernelOp::Epoch { op, unit_ms, n }));
    }
    if name != "datetrunc" {
        return None;
    }
    let text = |i: usize| match constants.get(i) {
        None => Some(None),
        Some(Some(Datum::Text(t))) => Some(Some(t.clone())),
        Some(_) => None,
    };
    let unit_ms = fixed_unit_ms(&text(0)??)?;
    let input_ms = match text(2)? {
        Some(unit) => time_unit_ms(&unit).ok()?,
        None => 1,
    };
    if let Some(zone) = text(3)? {
        check_utc(&zone).ok()?;
    }
    let output_ms = match text(4)? {
        Some(unit) => time_unit_ms(&unit).ok()?,
        None => input_ms,
    };
    Some(LongKernel(KernelOp::Truncate { input_ms, unit_ms, output_ms }))
}

fn date_format(pattern: &Datum, zone: Option<&Datum>) -> Result<DateTimeFormatSpec> {
    let zone = zone.map_or_else(|| "UTC".to_string(), Datum::as_text);
    DateTimeFormatSpec::parse(&format!("SIMPLE_DATE_FORMAT|{}|{zone}", pattern.as_text()))
        .map_err(|e| FunctionError::InvalidArgument(e.to_string()))
}

fn to_date_time(_: &str, args: &[Datum]) -> Result<Datum> {
    Ok(match date_format(&args[1], args.get(2))?.from_millis(args[0].as_long()?) {
        FormattedTime::Text(t) => Datum::Text(t),
        FormattedTime::Number(n) => Datum::Long(n),
    })
}

fn from_date_time(_: &str, args: &[Datum]) -> Result<Datum> {
    let format = date_format(&args[1], args.get(2))?;
    let millis = format.to_millis(&Value::String(args[0].as_text())).map_err(|e| e.to_string())?;
    Ok(Datum::Long(millis))
}

/// Milliseconds in one of a time unit's names (`SECONDS`, `hour`, `DAYS`…).
fn time_unit_ms(name: &str) -> Result<i64> {
    Ok(match name.to_ascii_uppercase().trim_end_matches('S') {
        "NANOSECOND" | "MICROSECOND" | "MILLISECOND" => 1,
        "SECOND" => SECOND,
        "MINUTE" => MINUTE,
        "HOUR" => HOUR,
        "DAY" => DAY,
        other => return Err(format!("unknown time unit {other}").into()),
    })
}

/// DATETRUNC's units of a fixed length, in milliseconds.
fn fixed_unit_ms(unit: &str) -> Option<i64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "millisecond" => 1,
        "second" => SECOND,
        "minute" => MINUTE,
        "hour" => HOUR,
        "day" => DAY,
        _ => return None,
    })
}

fn check_utc(zone: &str) -> Result<()> {
    if matches!(zone.to_ascii_uppercase().as_str(), "UTC" | "GMT" | "Z" | "ETC/UTC") {
        Ok(())
    } else {
        Err(format!("time zone {zone}: only UTC is supported").into())
    }
}

/// DATETRUNC(unit, value[, inputTimeUnit[, timeZone[, outputTimeUnit]]]), UTC.
fn date_trunc(_: &str, args: &[Datum]) -> Result<Datum> {
    let input_ms = args.get(2).map(|u| time_unit_ms(&u.as_text())).transpose()?.unwrap_or(1);
    if let Some(zone) = args.get(3) {
        check_utc(&zone.as_text())?;
    }
    let output_ms = args.get(4).map(|u| time_unit_ms(&u.as_text())).transpose()?.unwrap_or(input_ms);
    let value = args[1].as_long()?;
    let millis = value.checked_mul(input_ms).ok_or("the value overflows")?;
    let truncated = truncate_millis(millis, &args[0].as_text())?;
    Ok(Datum::Long(truncated.div_euclid(output_ms)))
}

fn truncate_millis(millis: i64, unit: &str) -> Result<i64> {
    use chrono::{Datelike, TimeZone, Utc};
    if let Some(unit_ms) = fixed_unit_ms(unit) {
        return Ok(millis - millis.rem_euclid(unit_ms));
    }
    let lower = unit.to_ascii_lowercase();
    if !matches!(lower.as_str(), "week" | "month" | "quarter" | "year") {
        return Err(format!(
            "unknown unit {lower} (millisecond, second, minute, hour, day, week, month, quarter, year)"
        )
        .into());
    }
    let at = Utc.timestamp_millis_opt(millis).single().ok_or("the value is out of range")?;
    let date = at.date_naive();
    let start = match lower.as_str() {
        "week" => date - chrono::Duration::days(i64::from(date.weekday().num_days_from_monday())),
        "month" => date.with_day(1).ok_or("bad date")?,
        "quarter" => chrono::NaiveDate::from_ymd_opt(date.year(), (date.month0() / 3) * 3 + 1, 1).ok_or("bad date")?,
        _ => chrono::NaiveDate::from_ymd_opt(date.year(), 1, 1).ok_or("bad date")?,
    };
    Ok(start.and_hms_opt(0, 0, 0).ok_or("bad date")?.and_utc().timestamp_millis())
}

fn catalog_value(datum: &Datum) -> Value {
    match datum {
        Datum::Long(i) => Value::Long(*i),
        Datum::Double(f) => Value::Double(*f),
        other => Value::String(other.as_text()),
    }
}

/// DATETIMECONVERT(value, inputFormat, outputFormat, outputGranularity).
fn date_time_convert(_: &str, args: &[Datum]) -> Result<Datum> {
    let invalid = |e: cuvee_catalog::CatalogError| FunctionError::InvalidArgument(e.to_string());
    let input = DateTimeFormatSpec::parse(&args[1].as_text()).map_err(invalid)?;
    let output = DateTimeFormatSpec::parse(&args[2].as_text()).map_err(invalid)?;
    let granularity = Granularity::parse(&args[3].as_text()).map_err(invalid)?.millis().max(1);
    let millis = input.to_millis(&catalog_value(&args[0])).map_err(invalid)?;
    Ok(match output.from_millis(millis - millis.rem_euclid(granularity)) {
        FormattedTime::Number(n) => Datum::Long(n),
        FormattedTime::Text(t) => Datum::Text(t),
    })
}

/// DATETIMECONVERT answers a number or text as its output format says.
pub(crate) fn convert_result_type(format: Option<String>) -> Result<ResultType> {
    let Some(format) = format else {
        return Err("DATETIMECONVERT: the output format must be a string literal".into());
    };
    let spec = DateTimeFormatSpec::parse(&format).map_err(|e| format!("DATETIMECONVERT: {e}"))?;
    Ok(match spec.from_millis(0) {
        FormattedTime::Number(_) => ResultType::Long,
        FormattedTime::Text(_) => ResultType::Text,
    })
}

/// AGO('PT1H'): now minus an ISO-8601 duration, in epoch milliseconds.
fn ago(_: &str, args: &[Datum]) -> Result<Datum> {
    Ok(Datum::Long(now_ms() - iso_duration_ms(&args[0].as_text())?))
}

fn iso_duration_ms(text: &str) -> Result<i64> {
    let bad =
        || FunctionError::InvalidArgument(format!("\"{text}\" is not an ISO-8601 duration such as P1D or PT1H30M"));
    let upper = text.trim().to_ascii_uppercase();
    let rest = upper.strip_prefix('P').ok_or_else(bad)?;
    let (days, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut total = 0f64;
    let mut parse = |part: &str, units: &[(char, f64)]| -> Result<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let (_, ms) = units.iter().find(|(u, _)| *u == c).ok_or_else(bad)?;
            total += number.parse::<f64>().map_err(|_| bad())? * ms;
            number.clear();
        }
        if number.is_empty() {
            Ok(())
        } else {
            Err(bad())
        }
    };
    parse(days, &[('W', 604_800_000.0), ('D', 86_400_000.0)])?;
    parse(time, &[('H', 3_600_000.0), ('M', 60_000.0), ('S', 1_000.0)])?;
    Ok(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup;

    fn call(name: &str, args: &[Datum]) -> Result<Datum> {
        lookup(name)?.call(args)
    }

    fn text(s: &str) -> Datum {
        Datum::Text(s.to_string())
    }

    #[test]
    fn epoch_functions() {
        assert_eq!(call("toEpochDays", &[Datum::Long(86_400_001)]).unwrap(), Datum::Long(1));
        assert_eq!(call("fromEpochDays", &[Datum::Long(2)]).unwrap(), Datum::Long(172_800_000));
        assert_eq!(
            call("toEpochMinutesRounded", &[Datum::Long(17 * MINUTE), Datum::Long(5)]).unwrap(),
            Datum::Long(15)
        );
        assert_eq!(call("toEpochMinutesBucket", &[Datum::Long(17 * MINUTE), Datum::Long(5)]).unwrap(), Datum::Long(3));
        assert_eq!(call("fromEpochHoursBucket", &[Datum::Long(3), Datum::Long(2)]).unwrap(), Datum::Long(6 * HOUR));
        assert_eq!(call("toEpochSeconds", &[Datum::Long(-1)]).unwrap(), Datum::Long(-1));
    }

    #[test]
    fn kernels_agree_with_calls() {
        let cases: &[(&str, Vec<Datum>)] = &[
            ("toepochhours", vec![]),
            ("toepochminutesbucket", vec![Datum::Long(15)]),
            ("toepochdaysrounded", vec![Datum::Long(7)]),
            ("fromepochseconds", vec![]),
            ("fromepochdaysbucket", vec![Datum::Long(3)]),
            ("datetrunc", vec![text("hour")]),
            ("datetrunc", vec![text("day"), text("SECONDS"), text("UTC"), text("HOURS")]),
        ];
        for (name, rest) in cases {
            let function = lookup(name).unwrap();
            for v in [0i64, 1, -1, 1_389_793_530_123, -86_400_001, 12_345] {
                let mut args = vec![Datum::Long(v)];
                args.extend(rest.iter().cloned());
                if *name == "datetrunc" {
                    args.swap(0, 1);
                }
                let constants: Vec<Option<Datum>> = args.iter().map(|a| Some(a.clone())).collect();
                let kernel = function.long_kernel(&constants).unwrap_or_else(|| panic!("{name} has a kernel"));
                assert_eq!(Datum::Long(kernel.apply(v).unwrap()), function.call(&args).unwrap(), "{name}({v})");
            }
        }
        assert!(lookup("datetrunc").unwrap().long_kernel(&[Some(text("month")), None]).is_none());
        assert!(lookup("toepochminutesbucket").unwrap().long_kernel(&[None, None]).is_none());
    }

    #[test]
    fn date_functions() {
        // 2014-01-15T13:45:30.123Z
        let ms = 1_389_793_530_123i64;
        assert_eq!(call("datetrunc", &[text("hour"), Datum::Long(ms)]).unwrap(), Datum::Long(1_389_790_800_000));
        assert_eq!(call("datetrunc", &[text("month"), Datum::Long(ms)]).unwrap(), Datum::Long(1_388_534_400_000));
        assert_eq!(
            call("datetrunc", &[text("week"), Datum::Long(ms / 1000), text("SECONDS")]).unwrap(),
            Datum::Long(1_389_571_200)
        );
        assert!(
            call("datetrunc", &[text("day"), Datum::Long(ms), text("MILLISECONDS"), text("America/New_York")]).is_err()
        );
        let args = [Datum::Long(ms), text("1:MILLISECONDS:EPOCH"), text("1:HOURS:EPOCH"), text("1:HOURS")];
        assert_eq!(call("datetimeconvert", &args).unwrap(), Datum::Long(ms / HOUR));
        let args = [
            Datum::Long(ms),
            text("1:MILLISECONDS:EPOCH"),
            text("1:DAYS:SIMPLE_DATE_FORMAT:yyyy-MM-dd"),
            text("1:DAYS"),
        ];
        assert_eq!(call("datetimeconvert", &args).unwrap(), text("2014-01-15"));
        assert_eq!(iso_duration_ms("PT1H30M").unwrap(), 5_400_000);
        assert_eq!(iso_duration_ms("P2D").unwrap(), 172_800_000);
        assert!(iso_duration_ms("1H").is_err());
        let parsed = call("fromDateTime", &[text("2021-07-21T06:00:00Z"), text("yyyy-MM-dd'T'HH:mm:ss'Z'")]);
        assert_eq!(parsed.unwrap(), Datum::Long(1_626_847_200_000));
        assert_eq!(call("toDateTime", &[Datum::Long(DAY), text("yyyy-MM-dd")]).unwrap(), text("1970-01-02"));
        let format = |f: &str| convert_result_type(Some(f.to_string())).unwrap();
        assert_eq!(format("1:HOURS:EPOCH"), ResultType::Long);
        assert_eq!(format("1:DAYS:SIMPLE_DATE_FORMAT:yyyy-MM-dd"), ResultType::Text);
    }
}
