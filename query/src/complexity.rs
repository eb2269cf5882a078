//! Statements every SQL door refuses before parsing because parsing them would take
//! forever. sqlparser parses a compound name (`a.b.c`, `a.b[1].c`) by trying several
//! readings at each part and backtracking (`maybe_parse`), so time grows exponentially with
//! the parts: a 250-byte statement of 40 dotted parts (found by `fuzz/`'s `pinot_dialect`
//! target) held a core for over ten minutes. A tokenizer pass is linear; a name of more
//! than [`MAX_NAME_PARTS`] parts (`catalog.schema.table.column` is four; struct fields add
//! a few) is refused with a message saying so.
//!
//! The same backtracking makes a statement with many `:=` named arguments exponential when
//! it fails to parse (each open `f(a := …` is tried twice): 20 of them unclosed take 1.5 s,
//! 24 take 25 s, while the same nesting without `:=`, or with `=>`, parses in microseconds
//! (measured against sqlparser 0.62 in release). Pinot's SQL has no `:=`; more than
//! [`MAX_ASSIGNMENT_ARGUMENTS`] of them are refused.
//!
//! And names inside subscripts multiply: `a.b.c[a.b.c[…` left unclosed costs about 16×
//! per level (ten levels: 0.8 s; a 199-byte fuzzer input mixing them with `^` and calls:
//! over 10 s). The dotted parts written inside open brackets, summed over the levels, are
//! capped at [`MAX_PERIODS_IN_SUBSCRIPTS`] (at that cap the slowest shapes tried parse in
//! about a millisecond).

use crate::QueryError;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

/// The most parts one dotted name may have.
pub const MAX_NAME_PARTS: usize = 12;
/// The most `:=` named arguments one statement may have (8 unclosed parse in under 1 ms).
pub const MAX_ASSIGNMENT_ARGUMENTS: usize = 8;
/// The most periods inside open `[` subscripts, over all the levels open at once.
pub const MAX_PERIODS_IN_SUBSCRIPTS: usize = 16;

/// Refuses `sql` when parsing it could run away; statements that do not tokenize pass (the
/// parser reports them as it would).
pub fn check_complexity(sql: &str) -> Result<(), QueryError> {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else { return Ok(()) };
    let mut parts = 1usize;
    let mut assignments = 0usize;
    // Periods written inside each open `[`, innermost last.
    let mut subscripts: Vec<usize> = Vec::new();
    for token in tokens.iter().filter(|t| !matches!(t, Token::Whitespace(_))) {
        match token {
            Token::Assignment => {
                assignments += 1;
                parts = 1;
                if assignments > MAX_ASSIGNMENT_ARGUMENTS {
                    return Err(QueryError::TooComplex(format!(
                        "more than {MAX_ASSIGNMENT_ARGUMENTS} `:=` named arguments (write `name => value`)"
                    )));
                }
            }
            Token::Period => {
                parts += 1;
                if parts > MAX_NAME_PARTS {
                    return Err(QueryError::TooComplex(format!("a name has more than {MAX_NAME_PARTS} dotted parts")));
                }
                if let Some(innermost) = subscripts.last_mut() {
                    *innermost += 1;
                    if subscripts.iter().sum::<usize>() > MAX_PERIODS_IN_SUBSCRIPTS {
                        return Err(QueryError::TooComplex(format!(
                            "more than {MAX_PERIODS_IN_SUBSCRIPTS} dotted parts inside nested `[` subscripts"
                        )));
                    }
                }
            }
            Token::LBracket => subscripts.push(0),
            Token::RBracket => {
                subscripts.pop();
            }
            Token::Word(_) | Token::Number(..) => {}
            _ => parts = 1,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_dotted_names_are_refused_before_the_parser_sees_them() {
        assert!(check_complexity("SELECT cuvee.public.t.c, a.b[1].c FROM cuvee.public.t").is_ok());
        let found_by_the_fuzzer = "SELECT PERCENTL.ILETD.RERD.GECCENT.PERD.GILETD.ERCENTIL.ILETD.PERD.GECCENTILED.RERD.GECCTENT.PERD.GILETD.ERCENTIL.ILETD.P.eS0CENT.PERD";
        let refused = check_complexity(found_by_the_fuzzer).unwrap_err().to_string();
        assert!(refused.contains("dotted parts"), "{refused}");
        // Just under the limit parses quickly.
        let name = ["a"; MAX_NAME_PARTS].join(".");
        let sql = format!("SELECT {name} FROM t");
        assert!(check_complexity(&sql).is_ok());
        let started = std::time::Instant::now();
        let _ = datafusion::sql::sqlparser::parser::Parser::parse_sql(&GenericDialect {}, &sql);
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn many_assignment_arguments_are_refused_and_just_under_the_limit_parses_quickly() {
        let found_by_the_fuzzer = include_str!("../../fuzz/corpus/pinot_dialect/assignment_arguments_timeout.sql");
        let refused = check_complexity(found_by_the_fuzzer).unwrap_err().to_string();
        assert!(refused.contains(":="), "{refused}");
        let unclosed = |n: usize| format!("SELECT {}", "L(b), LA:=KK(".repeat(n));
        assert!(check_complexity(&unclosed(MAX_ASSIGNMENT_ARGUMENTS + 1)).is_err());
        // `=>` nests without backtracking and is not counted.
        let arrows = format!("SELECT {}1{} FROM t", "f(a => ".repeat(40), ")".repeat(40));
        assert!(check_complexity(&arrows).is_ok());
        for sql in [unclosed(MAX_ASSIGNMENT_ARGUMENTS), arrows] {
            assert!(check_complexity(&sql).is_ok());
            let started = std::time::Instant::now();
            let _ = datafusion::sql::sqlparser::parser::Parser::parse_sql(&GenericDialect {}, &sql);
            assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
        }
    }

    #[test]
    fn names_nested_in_subscripts_are_refused_past_the_cap() {
        let found_by_the_fuzzer = include_str!("../../fuzz/corpus/pinot_dialect/nested_subscripts_timeout.sql");
        let refused = check_complexity(found_by_the_fuzzer).unwrap_err().to_string();
        assert!(refused.contains("subscripts") || refused.contains("dotted parts"), "{refused}");
        assert!(check_complexity("SELECT t.a.b[1].c, x['k'].y, arr[1][2] FROM cuvee.public.t").is_ok());
        let unclosed = |n: usize| format!("SELECT {}", "f(a.b.c[".repeat(n));
        let deepest = (1..20).take_while(|&n| check_complexity(&unclosed(n)).is_ok()).last().unwrap();
        assert!(deepest >= 4, "{deepest}");
        let started = std::time::Instant::now();
        let _ = datafusion::sql::sqlparser::parser::Parser::parse_sql(&GenericDialect {}, &unclosed(deepest));
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }
}
