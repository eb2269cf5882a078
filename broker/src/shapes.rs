//! The dialect's work kept per shape of a query's text: a query whose text differs from an
//! earlier one only in the literals its template takes out (see
//! [`cuvee_query::plan_cache::template`]) is not parsed again — its literals are read
//! straight from the text into the kept template. Parsing, the complexity check, Pinot's
//! rewrites and the template were ~0.2 M instructions a statement, as much as the rest of a
//! kept plan's hit (`benches/README.md`).
//!
//! A text's **shape** is the text with every literal token — a number `12` or `4.5`, a
//! string `'…'` — masked, plus the request's options. The first query of a shape is
//! prepared in full; its shape is kept only when each of its template's literals is exactly
//! one token of the text (by position, checked against the parser's spans) whose value the
//! token gives back unchanged. Every other literal token of the text (a `LIMIT`, a function
//! argument) must read the same in a later query, or that query is prepared in full. The
//! scan of the text is deliberately narrow: anything it does not read the way sqlparser's
//! tokenizer would for every content of a literal — comments, prefixed or dollar-quoted
//! strings, exponents, a literal touching a name — makes the text have no shape, and the
//! query is prepared in full. So two texts of one shape differ only inside tokens the
//! tokenizer reads as literals of the same kinds, and parse to the same statement but for
//! those literals' values.

use crate::dialect::{prepare, split_option_suffix, DialectError, PinotQuery};
use cuvee_query::plan_cache::{literal_of_number, negate, Recent, Template, MAX_TEMPLATE_BYTES};
use datafusion::common::ScalarValue;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The longest text given a shape, in bytes.
const MAX_SCANNED_BYTES: usize = 64 << 10;

/// Shapes kept per process, least recently used out first (as many as kept plans).
#[derive(Debug)]
pub struct Shapes {
    /// `None` when nothing is kept (`--plan-cache-entries 0`).
    entries: Option<Recent<Arc<Shape>>>,
    hits: AtomicU64,
}

/// What a shape's first query prepared, and how later texts fill it.
#[derive(Debug)]
struct Shape {
    options: BTreeMap<String, String>,
    template: Template,
    /// Each literal token of the text, in order.
    slots: Vec<Slot>,
}

#[derive(Debug, PartialEq)]
enum Slot {
    /// The template's literal of this index, the token's value negated when a minus sign
    /// precedes it in the text.
    Literal { index: usize, negated: bool },
    /// A token the template keeps in its text: a later query must have the same.
    Fixed(String),
}

impl Shapes {
    pub fn new(capacity: usize) -> Shapes {
        Shapes { entries: (capacity > 0).then(|| Recent::new(capacity)), hits: AtomicU64::new(0) }
    }

    /// Queries prepared from a kept shape.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// [`prepare`], from the text's kept shape when it has one.
    pub fn prepare(&self, text: &str, query_options: Option<&str>) -> Result<PinotQuery, DialectError> {
        let Some(entries) = &self.entries else { return prepare(text, query_options) };
        let (parsed, suffix) = split_option_suffix(text);
        // Scanning keeps a few words a character: long texts (IN lists of thousands) are
        // prepared in full.
        if parsed.len() > MAX_SCANNED_BYTES {
            return prepare(text, query_options);
        }
        let Some(scanned) = scan(&parsed) else { return prepare(text, query_options) };
        // Each part with its length: a client's option text may hold any character, so no
        // separator could keep `OPTION(a\0b)` apart from `OPTION(a)` with options `b`.
        let (suffix, options) = (suffix.unwrap_or_default(), query_options.unwrap_or(""));
        let key = format!("{}:{}{}:{}{}", suffix.len(), suffix, options.len(), options, scanned.skeleton);
        if key.len() > MAX_TEMPLATE_BYTES {
            return prepare(text, query_options);
        }
        let kept = entries.get(&key);
        if let Some(query) = kept.and_then(|shape| fill(&shape, &parsed, &scanned.tokens, text, query_options)) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(query);
        }
        let query = prepare(text, query_options)?;
        if let Some(shape) = query.template.as_ref().and_then(|t| shape_of(t, &query, &parsed, &scanned.tokens)) {
            entries.insert(key, Arc::new(shape));
        }
        Ok(query)
    }
}

/// The shape of a fully prepared query, when its template's literals are exactly tokens of
/// the text that give back their values.
fn shape_of(template: &Template, query: &PinotQuery, parsed: &str, tokens: &[Token]) -> Option<Shape> {
    let mut slots: Vec<Slot> = tokens.iter().map(|t| Slot::Fixed(parsed[t.start..t.end].to_string())).collect();
    for (index, (at, literal)) in template.origins.iter().zip(&template.literals).enumerate() {
        let position = tokens.iter().position(|t| (t.line, t.column) == (at.line, at.column))?;
        let value = value_of(&tokens[position], parsed, at.negated)?;
        if value != *literal || !matches!(slots[position], Slot::Fixed(_)) {
            return None;
        }
        slots[position] = Slot::Literal { index, negated: at.negated };
    }
    (template.origins.len() == template.literals.len()).then(|| Shape {
        options: query.options.clone(),
        template: template.clone(),
        slots,
    })
}

/// The query of a text of `shape`'s shape, its literals read from `tokens`; `None` when a
/// fixed token differs or a literal does not read as the template's kind.
fn fill(shape: &Shape, parsed: &str, tokens: &[Token], text: &str, query_options: Option<&str>) -> Option<PinotQuery> {
    if tokens.len() != shape.slots.len() {
        return None;
    }
    let mut literals = shape.template.literals.clone();
    for (token, slot) in tokens.iter().zip(&shape.slots) {
        match slot {
            Slot::Fixed(raw) if parsed[token.start..token.end] == **raw => {}
            Slot::Fixed(_) => return None,
            Slot::Literal { index, negated } => {
                let value = value_of(token, parsed, *negated)?;
                let kept = literals.get_mut(*index)?;
                if matches!(kept, ScalarValue::Utf8(_)) != matches!(value, ScalarValue::Utf8(_)) {
                    return None;
                }
                *kept = value;
            }
        }
    }
    let template = Template { literals, ..shape.template.clone() };
    Some(PinotQuery::from_shape(text, query_options, shape.options.clone(), template))
}

/// A literal token of a text: where it is (bytes, and the line and column in characters as
/// sqlparser counts them) and what kind it is.
#[derive(Debug, Clone, PartialEq)]
struct Token {
    start: usize,
    end: usize,
    line: u64,
    column: u64,
    text: bool,
}

/// A text with its literal tokens masked, and the tokens.
#[derive(Debug)]
struct Scanned {
    skeleton: String,
    tokens: Vec<Token>,
}

/// The token's value as the template takes it out (a string unquoted, a number typed as
/// DataFusion types it, negated when the text has a minus before it).
fn value_of(token: &Token, parsed: &str, negated: bool) -> Option<ScalarValue> {
    let raw = &parsed[token.start..token.end];
    if token.text {
        if negated {
            return None;
        }
        return Some(ScalarValue::Utf8(Some(raw[1..raw.len() - 1].replace("''", "'"))));
    }
    let value = literal_of_number(raw)?;
    if negated {
        negate(value)
    } else {
        Some(value)
    }
}

/// Reads the literal tokens of a text; `None` for a text this narrow scan does not read
/// exactly as sqlparser's tokenizer does (see the module doc).
fn scan(text: &str) -> Option<Scanned> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let name_char = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$' || !c.is_ascii());
    let mut skeleton = String::with_capacity(text.len());
    let mut tokens = Vec::new();
    let (mut line, mut column) = (1u64, 1u64);
    let mut i = 0;
    // Moves past char i, counting lines and columns as the tokenizer does.
    let advance = |i: &mut usize, line: &mut u64, column: &mut u64| {
        if at(*i) == Some('\n') {
            *line += 1;
            *column = 1;
        } else {
            *column += 1;
        }
        *i += 1;
    };
    while let Some(c) = at(i) {
        let before = i.checked_sub(1).and_then(at);
        let start = (line, column, chars[i].0);
        match c {
            '\'' => {
                if name_char(before) || before == Some('\'') {
                    return None;
                }
                advance(&mut i, &mut line, &mut column);
                loop {
                    match at(i) {
                        None => return None,
                        Some('\'') if at(i + 1) == Some('\'') => {
                            advance(&mut i, &mut line, &mut column);
                            advance(&mut i, &mut line, &mut column);
                        }
                        Some('\'') => break,
                        Some(_) => advance(&mut i, &mut line, &mut column),
                    }
                }
                advance(&mut i, &mut line, &mut column);
                if name_char(at(i)) || at(i) == Some('\'') {
                    return None;
                }
                let end = chars.get(i).map_or(text.len(), |&(b, _)| b);
                tokens.push(Token { start: start.2, end, line: start.0, column: start.1, text: true });
                skeleton.push('\u{1}');
            }
            '0'..='9' => {
                if name_char(before) || before == Some('.') {
                    return None;
                }
                while at(i).is_some_and(|c| c.is_ascii_digit()) {
                    advance(&mut i, &mut line, &mut column);
                }
                if at(i) == Some('.') && at(i + 1).is_some_and(|c| c.is_ascii_digit()) {
                    advance(&mut i, &mut line, &mut column);
                    while at(i).is_some_and(|c| c.is_ascii_digit()) {
                        advance(&mut i, &mut line, &mut column);
                    }
                }
                if name_char(at(i)) || matches!(at(i), Some('.' | '\'' | '"')) {
                    return None;
                }
                let end = chars.get(i).map_or(text.len(), |&(b, _)| b);
                tokens.push(Token { start: start.2, end, line: start.0, column: start.1, text: false });
                skeleton.push('\u{2}');
            }
            '"' | '`' => {
                // A quoted name: copied whole (a quote inside it is no string).
                skeleton.push(c);
                advance(&mut i, &mut line, &mut column);
                loop {
                    let inner = at(i)?;
                    skeleton.push(inner);
                    advance(&mut i, &mut line, &mut column);
                    if inner == c {
                        if at(i) == Some(c) {
                            skeleton.push(c);
                            advance(&mut i, &mut line, &mut column);
                            continue;
                        }
                        break;
                    }
                }
            }
            // Comments, dollar quoting, parameters, escapes: not read here.
            '-' if at(i + 1) == Some('-') => return None,
            '/' if at(i + 1) == Some('*') => return None,
            '$' | '?' | '\\' | '\u{0}' | '\u{1}' | '\u{2}' => return None,
            c if name_char(Some(c)) => {
                // A name or keyword, digits in it included.
                while name_char(at(i)) {
                    skeleton.push(at(i)?);
                    advance(&mut i, &mut line, &mut column);
                }
            }
            c => {
                skeleton.push(c);
                advance(&mut i, &mut line, &mut column);
            }
        }
    }
    Some(Scanned { skeleton, tokens })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same query, but for where its literals were written.
    fn same(a: &PinotQuery, b: &PinotQuery) {
        assert_eq!(a.options, b.options);
        let (a_template, b_template) = (a.template.as_ref().unwrap(), b.template.as_ref().unwrap());
        assert_eq!(a_template.key, b_template.key);
        assert_eq!(a_template.statement, b_template.statement);
        assert_eq!(a_template.literals, b_template.literals);
        assert_eq!(a.sql().unwrap(), b.sql().unwrap());
    }

    #[test]
    fn random_literals_read_as_a_full_prepare_reads_them() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let skeletons = [
            "SELECT COUNT(*) FROM t WHERE a = # AND b = @",
            "SELECT a, SUM(c) FROM t WHERE a BETWEEN # AND # AND b IN (@, @) GROUP BY a LIMIT 7",
            "SELECT a FROM t WHERE a > # OR b <> @ ORDER BY a",
        ];
        let alphabet = ['a', 'Z', '\'', ' ', 'é', '\n', '%', '9', '-', '"'];
        let shapes = Shapes::new(64);
        for round in 0..600 {
            let mut text = String::new();
            for c in skeletons[round % skeletons.len()].chars() {
                match c {
                    '#' => text.push_str(&match next() % 5 {
                        0 => format!("{}", next() % 1000),
                        1 => format!("-{}", next() % 100_000),
                        2 => format!("{}.{}", next() % 100, next() % 1000),
                        3 => format!("- {}.5", next() % 10),
                        _ => format!("{}", next()),
                    }),
                    '@' => {
                        let len = (next() % 6) as usize;
                        let inner: String =
                            (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
                        text.push_str(&format!("'{}'", inner.replace('\'', "''")));
                    }
                    c => text.push(c),
                }
            }
            match (prepare(&text, None), shapes.prepare(&text, None)) {
                (Ok(full), Ok(from_shape)) => same(&full, &from_shape),
                (Err(full), Err(from_shape)) => assert_eq!(full, from_shape),
                (full, from_shape) => panic!("{text}: {full:?} / {from_shape:?}"),
            }
        }
        assert!(shapes.hits() > 400, "{}", shapes.hits());
    }

    #[test]
    fn a_shape_reads_new_literals_as_the_parser_would() {
        let shapes = Shapes::new(16);
        let cases = [
            (
                "SELECT COUNT(*) FROM t WHERE a = -5 AND b = 'x' LIMIT 3",
                "SELECT COUNT(*) FROM t WHERE a = -7 AND b = 'O''Neil' LIMIT 3",
            ),
            (
                "SELECT a FROM t WHERE a BETWEEN 1 AND 2.5 AND c IN ('p', 'q')",
                "SELECT a FROM t WHERE a BETWEEN 10 AND 0.5 AND c IN ('é\n', '')",
            ),
            ("SELECT a FROM t WHERE x > -1 OPTION(timeoutMs=20)", "SELECT a FROM t WHERE x > -99 OPTION(timeoutMs=20)"),
            (
                "SET timeoutMs = 50; SELECT \"it's\" FROM t WHERE c1 = 'a'",
                "SET timeoutMs = 50; SELECT \"it's\" FROM t WHERE c1 = 'zz'",
            ),
        ];
        for (first, second) in cases {
            same(&shapes.prepare(first, None).unwrap(), &prepare(first, None).unwrap());
            let hits = shapes.hits();
            let from_shape = shapes.prepare(second, Some("a=1")).unwrap();
            same(&from_shape, &prepare(second, Some("a=1")).unwrap());
            assert_eq!(shapes.hits(), hits, "other options are another shape: {second}");
            let from_shape = shapes.prepare(second, None).unwrap();
            assert_eq!(shapes.hits(), hits + 1, "{second}");
            same(&from_shape, &prepare(second, None).unwrap());
        }
    }

    #[test]
    fn hostile_texts_and_options_get_no_other_querys_shape() {
        let shapes = Shapes::new(16);
        // An option text holding the old separator: each part is keyed with its length.
        let a = shapes.prepare("SELECT a FROM t WHERE a = 1 OPTION(timeoutMs=5\u{0}enableNullHandling=true)", None);
        let b = shapes.prepare("SELECT a FROM t WHERE a = 2 OPTION(timeoutMs=5)", Some("enableNullHandling=true\u{0}"));
        same(
            &b.unwrap(),
            &prepare("SELECT a FROM t WHERE a = 2 OPTION(timeoutMs=5)", Some("enableNullHandling=true\u{0}")).unwrap(),
        );
        assert!(a.is_ok());
        assert_eq!(shapes.hits(), 0);
        // A NUL inside a string is the literal's content, masked like any other.
        // Statements that are not one query are refused as without shapes, every time.
        for text in ["DROP TABLE t", "SELECT 1; DROP TABLE t", "SET a = 1;", "SELECT a FROM t WHERE a = '\u{0}'"] {
            for _ in 0..2 {
                assert_eq!(shapes.prepare(text, None).map(|_| ()), prepare(text, None).map(|_| ()), "{text}");
            }
        }
        // A text past the scanned bound is prepared in full, not scanned.
        let hits = shapes.hits();
        let long = format!("SELECT a FROM t WHERE a IN ({}1)", "1, ".repeat(MAX_SCANNED_BYTES / 3));
        assert!(shapes.prepare(&long, None).is_ok() && shapes.prepare(&long, None).is_ok());
        assert_eq!(shapes.hits(), hits);
    }

    #[test]
    fn a_literal_the_template_keeps_must_read_the_same() {
        let shapes = Shapes::new(16);
        shapes.prepare("SELECT a FROM t WHERE a = 1 LIMIT 5", None).unwrap();
        let other_limit = shapes.prepare("SELECT a FROM t WHERE a = 2 LIMIT 6", None).unwrap();
        assert_eq!(shapes.hits(), 0);
        same(&other_limit, &prepare("SELECT a FROM t WHERE a = 2 LIMIT 6", None).unwrap());
        // `a - 5` keeps its 5; only `x = -5` is the template's.
        shapes.prepare("SELECT a FROM t WHERE y = a - 5 AND x = -5", None).unwrap();
        let q = shapes.prepare("SELECT a FROM t WHERE y = a - 7 AND x = -5", None).unwrap();
        same(&q, &prepare("SELECT a FROM t WHERE y = a - 7 AND x = -5", None).unwrap());
    }

    #[test]
    fn texts_the_scan_does_not_read_have_no_shape() {
        for text in [
            "SELECT a FROM t WHERE a = 1 -- 'x'",
            "SELECT a FROM t WHERE a = 1 /* 'x' */",
            "SELECT a FROM t WHERE a = E'x'",
            "SELECT a FROM t WHERE a = 1e5",
            "SELECT a FROM t WHERE a = 0x10",
            "SELECT a FROM t WHERE a = 'x''",
            "SELECT a FROM t WHERE a = $1",
            "SELECT a FROM t WHERE a = 5.",
        ] {
            assert!(scan(text).is_none(), "{text}");
        }
        let scanned = scan("SELECT c1, \"q'\" FROM t WHERE x = 'a''b' AND y = 12.5").unwrap();
        assert_eq!(scanned.skeleton, "SELECT c1, \"q'\" FROM t WHERE x = \u{1} AND y = \u{2}");
        assert_eq!(scanned.tokens.len(), 2);
        assert_eq!((scanned.tokens[1].line, scanned.tokens[1].column), (1, 49));
    }
}
