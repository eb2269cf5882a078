//! Parser for Pinot transform and filter expressions: function calls (`toEpochDays(ts)`),
//! column names (bare or `"quoted"`), `'string'` literals (`''` escapes a quote), numbers,
//! infix arithmetic and comparison, `AND`/`OR`/`NOT`, and parentheses.

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Column(String),
    Text(String),
    Number(f64),
    Integer(i64),
    Bool(bool),
    Null,
    Call(String, Vec<Expr>),
}

pub fn parse(text: &str) -> Result<Expr, String> {
    let tokens = tokenize(text)?;
    let mut parser = Parser { tokens, at: 0 };
    let expr = parser.or()?;
    match parser.tokens.get(parser.at) {
        None => Ok(expr),
        Some(t) => Err(format!("unexpected {t:?} after the end of the expression")),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Quoted(String),
    Text(String),
    Number(String),
    Op(&'static str),
    Open,
    Close,
    Comma,
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1
            }
            ')' => {
                out.push(Token::Close);
                i += 1
            }
            ',' => {
                out.push(Token::Comma);
                i += 1
            }
            '\'' | '"' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("unterminated {quote}quoted{quote} text")),
                        Some(&ch) if ch == quote => {
                            if chars.get(i + 1) == Some(&quote) {
                                s.push(quote);
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1
                        }
                    }
                }
                out.push(if quote == '\'' { Token::Text(s) } else { Token::Quoted(s) });
            }
            c if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || chars[i] == '.'
                        || ((chars[i] == '-' || chars[i] == '+') && matches!(chars[i - 1], 'e' | 'E')))
                {
                    i += 1;
                }
                out.push(Token::Number(chars[start..i].iter().collect()));
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '$' | '.')) {
                    i += 1;
                }
                out.push(Token::Ident(chars[start..i].iter().collect()));
            }
            _ => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let op = match two.as_str() {
                    "<=" => Some("<="),
                    ">=" => Some(">="),
                    "<>" | "!=" => Some("<>"),
                    "==" => Some("="),
                    _ => None,
                };
                if let Some(op) = op {
                    out.push(Token::Op(op));
                    i += 2;
                    continue;
                }
                let op = match c {
                    '+' => "+",
                    '-' => "-",
                    '*' => "*",
                    '/' => "/",
                    '%' => "%",
                    '=' => "=",
                    '<' => "<",
                    '>' => ">",
                    other => return Err(format!("unexpected character '{other}' at position {i}")),
                };
                out.push(Token::Op(op));
                i += 1;
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.keyword("OR") {
            self.at += 1;
            left = Expr::Call("or".into(), vec![left, self.and()?]);
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.not()?;
        while self.keyword("AND") {
            self.at += 1;
            left = Expr::Call("and".into(), vec![left, self.not()?]);
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.keyword("NOT") {
            self.at += 1;
            return Ok(Expr::Call("not".into(), vec![self.not()?]));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let left = self.additive()?;
        if let Some(Token::Op(op @ ("=" | "<>" | "<" | "<=" | ">" | ">="))) = self.peek().cloned() {
            self.at += 1;
            let name = match op {
                "=" => "equals",
                "<>" => "notequals",
                "<" => "lessthan",
                "<=" => "lessthanorequal",
                ">" => "greaterthan",
                _ => "greaterthanorequal",
            };
            return Ok(Expr::Call(name.into(), vec![left, self.additive()?]));
        }
        Ok(left)
    }

    fn additive(&mut self) -> Result<Expr, String> {
        let mut left = self.multiplicative()?;
        while let Some(Token::Op(op @ ("+" | "-"))) = self.peek().cloned() {
            self.at += 1;
            let name = if op == "+" { "plus" } else { "minus" };
            left = Expr::Call(name.into(), vec![left, self.multiplicative()?]);
        }
        Ok(left)
    }

    fn multiplicative(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while let Some(Token::Op(op @ ("*" | "/" | "%"))) = self.peek().cloned() {
            self.at += 1;
            let name = match op {
                "*" => "times",
                "/" => "divide",
                _ => "mod",
            };
            left = Expr::Call(name.into(), vec![left, self.unary()?]);
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if let Some(Token::Op("-")) = self.peek() {
            self.at += 1;
            return Ok(match self.unary()? {
                Expr::Integer(i) => Expr::Integer(-i),
                Expr::Number(n) => Expr::Number(-n),
                other => Expr::Call("minus".into(), vec![Expr::Integer(0), other]),
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let token = self.peek().cloned().ok_or("the expression ends too early")?;
        self.at += 1;
        match token {
            Token::Open => {
                let inner = self.or()?;
                match self.peek() {
                    Some(Token::Close) => {
                        self.at += 1;
                        Ok(inner)
                    }
                    _ => Err("missing ')'".into()),
                }
            }
            Token::Text(s) => Ok(Expr::Text(s)),
            Token::Quoted(s) => Ok(Expr::Column(s)),
            Token::Number(n) => match n.parse::<i64>() {
                Ok(i) => Ok(Expr::Integer(i)),
                Err(_) => n.parse::<f64>().map(Expr::Number).map_err(|_| format!("\"{n}\" is not a number")),
            },
            Token::Ident(name) => {
                if let Some(Token::Open) = self.peek() {
                    self.at += 1;
                    let mut args = Vec::new();
                    if let Some(Token::Close) = self.peek() {
                        self.at += 1;
                        return Ok(Expr::Call(name.to_ascii_lowercase(), args));
                    }
                    loop {
                        args.push(self.or()?);
                        match self.peek() {
                            Some(Token::Comma) => self.at += 1,
                            Some(Token::Close) => {
                                self.at += 1;
                                break;
                            }
                            _ => return Err(format!("expected ',' or ')' in the arguments of {name}")),
                        }
                    }
                    return Ok(Expr::Call(name.to_ascii_lowercase(), args));
                }
                Ok(match name.to_ascii_lowercase().as_str() {
                    "true" => Expr::Bool(true),
                    "false" => Expr::Bool(false),
                    "null" => Expr::Null,
                    _ => Expr::Column(name),
                })
            }
            Token::Op(op) => Err(format!("unexpected operator '{op}'")),
            Token::Close => Err("unexpected ')'".into()),
            Token::Comma => Err("unexpected ','".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pinot_examples() {
        assert_eq!(
            parse("fromDateTime(created_at, 'yyyy-MM-dd''T''HH:mm:ss''Z''')").unwrap(),
            Expr::Call(
                "fromdatetime".into(),
                vec![Expr::Column("created_at".into()), Expr::Text("yyyy-MM-dd'T'HH:mm:ss'Z'".into())]
            )
        );
        assert_eq!(
            parse("toEpochDays(\"timestamp\")").unwrap(),
            Expr::Call("toepochdays".into(), vec![Expr::Column("timestamp".into())])
        );
        assert_eq!(parse("1704067200000").unwrap(), Expr::Integer(1_704_067_200_000));
        assert_eq!(
            parse("a + b * 2 > 3 AND NOT c = 'x'").unwrap(),
            Expr::Call(
                "and".into(),
                vec![
                    Expr::Call(
                        "greaterthan".into(),
                        vec![
                            Expr::Call(
                                "plus".into(),
                                vec![
                                    Expr::Column("a".into()),
                                    Expr::Call("times".into(), vec![Expr::Column("b".into()), Expr::Integer(2)])
                                ]
                            ),
                            Expr::Integer(3)
                        ]
                    ),
                    Expr::Call(
                        "not".into(),
                        vec![Expr::Call("equals".into(), vec![Expr::Column("c".into()), Expr::Text("x".into())])]
                    ),
                ]
            )
        );
        assert!(parse("f(a,").is_err());
        assert!(parse("'open").is_err());
        assert!(parse("a b").is_err());
    }
}
