//! Policy variables: `${aws:username}`, `${aws:PrincipalTag/team}`, any request key,
//! defaults `${aws:username, 'nobody'}`, and the escapes `${*}` `${?}` `${$}`.
//!
//! Only under Version 2012-10-17; in older documents `${...}` is literal text, as AWS
//! documents. A variable whose key is missing (or multi-valued) and has no default does
//! not resolve, and the element holding it does not match.

use super::context::Context;
use std::borrow::Cow;

/// One piece of a string from a policy, split around its variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Policy text, where `*` and `?` are wildcards for the operators that have them.
    Text(Box<str>),
    /// Text from `${*}`, `${?}` or `${$}`: always literal, never a wildcard.
    Literal(Box<str>),
    /// A request key to substitute.
    Var(Var),
}

/// A variable reference: the key folded for lookup, as written for reports, and its
/// default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Var {
    pub(crate) key: Box<str>,
    pub(crate) display: Box<str>,
    pub(crate) default: Option<Box<str>>,
}

/// Keys the evaluation needed and did not find (reported as `MissingContextValues`).
#[derive(Debug, Default)]
pub(crate) struct Missing {
    pub(crate) keys: Vec<String>,
}

impl Missing {
    pub(crate) fn note(&mut self, key: &str) {
        if !self.keys.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            self.keys.push(key.to_owned());
        }
    }
}

impl Var {
    /// The substituted value, or `None` when it does not resolve.
    pub(crate) fn resolve<'a>(
        &'a self,
        ctx: &'a Context,
        missing: &mut Missing,
    ) -> Option<&'a str> {
        match ctx.single_folded(&self.key) {
            Some(v) => Some(v),
            None => match &self.default {
                Some(d) => Some(d),
                None => {
                    missing.note(&self.display);
                    None
                }
            },
        }
    }
}

/// A policy string with its variables located; built once at compile time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pub(crate) pieces: Vec<Piece>,
}

impl Template {
    /// Splits `s` around `${...}` when `vars` is on (Version 2012-10-17).
    pub(crate) fn parse(s: &str, vars: bool) -> Result<Template, String> {
        if !vars || !s.contains("${") {
            return Ok(Template {
                pieces: vec![Piece::Text(s.into())],
            });
        }
        let mut pieces = Vec::new();
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].into()));
            }
            let body = &rest[start + 2..];
            let (piece, used) = parse_var(body)?;
            pieces.push(piece);
            rest = &body[used..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.into()));
        }
        Ok(Template { pieces })
    }

    /// Whether the template holds at least one request-key variable.
    pub(crate) fn has_vars(&self) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::Var(_)))
    }

    /// The whole string with variables substituted; `None` if one does not resolve.
    pub(crate) fn resolve<'a>(
        &'a self,
        ctx: &'a Context,
        missing: &mut Missing,
    ) -> Option<Cow<'a, str>> {
        if let [Piece::Text(t) | Piece::Literal(t)] = self.pieces.as_slice() {
            return Some(Cow::Borrowed(t));
        }
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) | Piece::Literal(t) => out.push_str(t),
                Piece::Var(v) => out.push_str(v.resolve(ctx, missing)?),
            }
        }
        Some(Cow::Owned(out))
    }

    /// The text when the template holds no request-key variable.
    #[cfg(test)]
    pub(crate) fn constant(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) | Piece::Literal(t) => out.push_str(t),
                Piece::Var(_) => return None,
            }
        }
        Some(out)
    }

    /// Every variable key the template refers to (for reports and validation).
    pub(crate) fn vars(&self) -> impl Iterator<Item = &Var> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Var(v) => Some(v),
            _ => None,
        })
    }
}

/// Parses the inside of `${...}` (after the `${`); returns the piece and the bytes used
/// including the closing `}`.
fn parse_var(body: &str) -> Result<(Piece, usize), String> {
    let end_key = body
        .find([',', '}'])
        .ok_or_else(|| "policy variable is missing its closing '}'".to_string())?;
    let key = body[..end_key].trim();
    if key.is_empty() {
        return Err("policy variable '${}' names no key".into());
    }
    if key.contains(char::is_whitespace) {
        return Err(format!("policy variable '{key}' contains a space"));
    }
    let special = matches!(key, "*" | "?" | "$");
    if body.as_bytes().get(end_key) == Some(&b'}') {
        let piece = if special {
            Piece::Literal(key.into())
        } else {
            Piece::Var(Var {
                key: key.to_lowercase().into(),
                display: key.into(),
                default: None,
            })
        };
        return Ok((piece, end_key + 1));
    }
    if special {
        return Err(format!(
            "policy variable '${{{key}}}' cannot have a default"
        ));
    }
    // A default: , 'text' } with '' standing for one quote.
    let after = &body[end_key + 1..];
    let trimmed = after.trim_start();
    let mut i = after.len() - trimmed.len();
    if !trimmed.starts_with('\'') {
        return Err(format!(
            "policy variable '{key}': the default must be in single quotes, as in ${{{key}, 'value'}}"
        ));
    }
    i += 1;
    let bytes = after.as_bytes();
    let mut default = String::new();
    loop {
        let Some(rel) = after[i..].find('\'') else {
            return Err(format!(
                "policy variable '{key}': unterminated default value"
            ));
        };
        default.push_str(&after[i..i + rel]);
        i += rel + 1;
        if bytes.get(i) == Some(&b'\'') {
            default.push('\'');
            i += 1;
        } else {
            break;
        }
    }
    let tail = &after[i..];
    let tail_trimmed = tail.trim_start();
    if !tail_trimmed.starts_with('}') {
        return Err(format!(
            "policy variable '{key}' is missing its closing '}}' after the default"
        ));
    }
    let used = end_key + 1 + i + (tail.len() - tail_trimmed.len()) + 1;
    Ok((
        Piece::Var(Var {
            key: key.to_lowercase().into(),
            display: key.into(),
            default: Some(default.into()),
        }),
        used,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context::new()
            .with("aws:username", "alice")
            .with("aws:PrincipalTag/team", "ops")
    }

    struct Case {
        input: &'static str,
        want: Option<&'static str>,
    }

    #[test]
    fn resolution_table() {
        let cases = [
            Case {
                input: "home/${aws:username}/*",
                want: Some("home/alice/*"),
            },
            Case {
                input: "${AWS:UserName}",
                want: Some("alice"),
            },
            Case {
                input: "t-${aws:PrincipalTag/team}",
                want: Some("t-ops"),
            },
            Case {
                input: "${aws:userid}",
                want: None,
            },
            Case {
                input: "${aws:userid, 'nobody'}",
                want: Some("nobody"),
            },
            Case {
                input: "${aws:username,'x'}",
                want: Some("alice"),
            },
            Case {
                input: "${ aws:userid , 'it''s' }",
                want: Some("it's"),
            },
            Case {
                input: "a${*}b${?}c${$}",
                want: Some("a*b?c$"),
            },
            Case {
                input: "no vars",
                want: Some("no vars"),
            },
        ];
        for c in cases {
            let t = Template::parse(c.input, true).unwrap();
            let mut m = Missing::default();
            let got = t.resolve(&ctx(), &mut m).map(|s| s.into_owned());
            assert_eq!(got.as_deref(), c.want, "{}", c.input);
        }
    }

    #[test]
    fn unresolved_key_is_reported_missing() {
        let t = Template::parse("${aws:SourceIp}", true).unwrap();
        let mut m = Missing::default();
        assert!(t.resolve(&ctx(), &mut m).is_none());
        assert_eq!(m.keys, vec!["aws:SourceIp".to_string()]);
    }

    #[test]
    fn old_version_keeps_text_literal() {
        let t = Template::parse("${aws:username}", false).unwrap();
        assert_eq!(t.constant().as_deref(), Some("${aws:username}"));
    }

    #[test]
    fn malformed_variables_are_errors() {
        for bad in [
            "${aws:username",
            "${}",
            "${a, b}",
            "${a, 'b}",
            "${a, 'b' x}",
            "${*, 'x'}",
            "${a b}",
        ] {
            assert!(Template::parse(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn escaped_wildcards_are_literal_pieces() {
        let t = Template::parse("a${*}", true).unwrap();
        assert_eq!(
            t.pieces,
            vec![Piece::Text("a".into()), Piece::Literal("*".into())]
        );
        assert!(!t.has_vars());
    }
}
