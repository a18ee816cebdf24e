//! Condition operators, compiled and evaluated.
//!
//! Semantics (AWS "IAM JSON policy elements: Condition operators"):
//! - AND across operators and keys, OR across the values of one key.
//! - A negated operator (`StringNotEquals`, `NotIpAddress`, `ArnNotLike`, ...) is the
//!   negation of its positive form over all values: true when no value matches, and
//!   true when the key is missing.
//! - A positive operator on a missing key is false; `...IfExists` makes a missing key
//!   true.
//! - `ForAnyValue:` is true when at least one request value matches (false for a
//!   missing or empty key); `ForAllValues:` is true when every request value matches
//!   (true for a missing or empty key).
//! - `Null` tests presence: `"Null": {"k": "true"}` holds when `k` is absent.

use super::context::Context;
use super::pattern::Glob;
use super::values::{Cidr, decode_base64, parse_bool, parse_date, parse_number};
use super::variables::{Missing, Template};

/// Numeric and date comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, req: T, pol: T) -> bool {
        match self {
            Cmp::Eq => req == pol,
            Cmp::Lt => req < pol,
            Cmp::Le => req <= pol,
            Cmp::Gt => req > pol,
            Cmp::Ge => req >= pol,
        }
    }
}

/// `ForAnyValue:` / `ForAllValues:` / neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOp {
    Single,
    ForAny,
    ForAll,
}

/// The policy values of one condition, in the operator's own type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Values {
    /// StringEquals (case-sensitive), values possibly holding variables.
    Str(Vec<Template>),
    /// StringEqualsIgnoreCase: constants stored lower-cased.
    StrIc(Vec<Template>),
    /// StringLike.
    Like(Vec<Glob>),
    Num(Cmp, Vec<f64>),
    Date(Cmp, Vec<i64>),
    Bool(Vec<bool>),
    Binary(Vec<Vec<u8>>),
    Ip(Vec<Cidr>),
    /// ArnEquals / ArnLike: six segment patterns each (the last is the resource part).
    Arn(Vec<Vec<Glob>>),
    /// Null: `true` = the key must be absent.
    Null(Vec<bool>),
}

/// One compiled `"Operator": {"key": values}` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    pub(crate) operator: Box<str>,
    pub(crate) key: Box<str>,
    pub(crate) display_key: Box<str>,
    pub(crate) negated: bool,
    pub(crate) if_exists: bool,
    pub(crate) set: SetOp,
    pub(crate) values: Values,
}

/// What an operator name means.
pub(crate) struct OperatorSpec {
    pub(crate) base: &'static str,
    pub(crate) negated: bool,
    pub(crate) if_exists: bool,
    pub(crate) set: SetOp,
}

/// Splits an operator name into qualifier, base, negation and `IfExists`; `None` for
/// a name AWS does not document.
pub(crate) fn parse_operator(name: &str) -> Option<OperatorSpec> {
    let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
        (SetOp::ForAny, r)
    } else if let Some(r) = name.strip_prefix("ForAllValues:") {
        (SetOp::ForAll, r)
    } else {
        (SetOp::Single, name)
    };
    let (rest, if_exists) = match rest.strip_suffix("IfExists") {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let (base, negated) = match rest {
        "StringEquals" => ("StringEquals", false),
        "StringNotEquals" => ("StringEquals", true),
        "StringEqualsIgnoreCase" => ("StringEqualsIgnoreCase", false),
        "StringNotEqualsIgnoreCase" => ("StringEqualsIgnoreCase", true),
        "StringLike" => ("StringLike", false),
        "StringNotLike" => ("StringLike", true),
        "NumericEquals" => ("NumericEquals", false),
        "NumericNotEquals" => ("NumericEquals", true),
        "NumericLessThan" => ("NumericLessThan", false),
        "NumericLessThanEquals" => ("NumericLessThanEquals", false),
        "NumericGreaterThan" => ("NumericGreaterThan", false),
        "NumericGreaterThanEquals" => ("NumericGreaterThanEquals", false),
        "DateEquals" => ("DateEquals", false),
        "DateNotEquals" => ("DateEquals", true),
        "DateLessThan" => ("DateLessThan", false),
        "DateLessThanEquals" => ("DateLessThanEquals", false),
        "DateGreaterThan" => ("DateGreaterThan", false),
        "DateGreaterThanEquals" => ("DateGreaterThanEquals", false),
        "Bool" => ("Bool", false),
        "BinaryEquals" => ("BinaryEquals", false),
        "IpAddress" => ("IpAddress", false),
        "NotIpAddress" => ("IpAddress", true),
        "ArnEquals" => ("ArnEquals", false),
        "ArnLike" => ("ArnEquals", false),
        "ArnNotEquals" => ("ArnEquals", true),
        "ArnNotLike" => ("ArnEquals", true),
        "Null" if !if_exists => ("Null", false),
        _ => return None,
    };
    Some(OperatorSpec {
        base,
        negated,
        if_exists,
        set,
    })
}

/// Splits an ARN (or ARN pattern) into its six segments; the sixth keeps its colons.
/// `:` inside `${...}` does not split.
pub(crate) fn split_arn(s: &str) -> Option<Vec<&str>> {
    let mut out = Vec::with_capacity(6);
    let mut start = 0;
    let mut depth = 0usize;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() && out.len() < 5 {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth > 0 => depth -= 1,
            b':' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if out.len() < 5 {
        return None;
    }
    out.push(&s[start..]);
    Some(out)
}

impl Condition {
    /// Evaluates against the request context, noting missing keys.
    pub(crate) fn eval(&self, ctx: &Context, missing: &mut Missing) -> bool {
        let present = ctx.get_folded(&self.key).filter(|v| !v.is_empty());
        if let Values::Null(wants) = &self.values {
            let absent = present.is_none();
            return wants.contains(&absent);
        }
        let Some(vals) = present else {
            missing.note(&self.display_key);
            if self.if_exists {
                return true;
            }
            return match self.set {
                SetOp::ForAll => true,
                SetOp::ForAny => false,
                SetOp::Single => self.negated,
            };
        };
        match self.set {
            SetOp::Single => {
                let any = vals.iter().any(|v| self.value_matches(v, ctx, missing));
                any != self.negated
            }
            SetOp::ForAny => vals
                .iter()
                .any(|v| self.value_matches(v, ctx, missing) != self.negated),
            SetOp::ForAll => vals
                .iter()
                .all(|v| self.value_matches(v, ctx, missing) != self.negated),
        }
    }

    /// Whether one request value matches at least one policy value (positive form).
    fn value_matches(&self, v: &str, ctx: &Context, missing: &mut Missing) -> bool {
        match &self.values {
            Values::Str(ts) => ts
                .iter()
                .any(|t| t.resolve(ctx, missing).is_some_and(|p| *p == *v)),
            Values::StrIc(ts) => {
                let lv = v.to_lowercase();
                ts.iter().any(|t| {
                    t.resolve(ctx, missing)
                        .is_some_and(|p| p.to_lowercase() == lv)
                })
            }
            Values::Like(gs) => gs.iter().any(|g| g.matches(v, false, ctx, missing)),
            Values::Num(cmp, ns) => match parse_number(v) {
                Some(x) => ns.iter().any(|n| cmp.holds(x, *n)),
                None => false,
            },
            Values::Date(cmp, ds) => match parse_date(v) {
                Some(x) => ds.iter().any(|d| cmp.holds(x, *d)),
                None => false,
            },
            Values::Bool(bs) => match parse_bool(v) {
                Some(x) => bs.contains(&x),
                None => false,
            },
            Values::Binary(bs) => match decode_base64(v) {
                Some(x) => bs.contains(&x),
                None => false,
            },
            Values::Ip(cs) => cs.iter().any(|c| c.contains_str(v)),
            Values::Arn(pats) => match split_arn(v) {
                Some(segs) => pats.iter().any(|p| {
                    p.len() == segs.len()
                        && p.iter()
                            .zip(&segs)
                            .all(|(g, s)| g.matches(s, false, ctx, missing))
                }),
                None => false,
            },
            Values::Null(_) => false,
        }
    }

    /// Notes the keys this condition reads (its key and its variables) when absent.
    pub(crate) fn note_missing(&self, ctx: &Context, missing: &mut Missing) {
        if !matches!(self.values, Values::Null(_)) && ctx.get_folded(&self.key).is_none() {
            missing.note(&self.display_key);
        }
        let templates: &[Template] = match &self.values {
            Values::Str(ts) | Values::StrIc(ts) => ts,
            _ => &[],
        };
        for t in templates {
            for v in t.vars() {
                if v.default.is_none() && ctx.single_folded(&v.key).is_none() {
                    missing.note(&v.display);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names() {
        let s = parse_operator("ForAllValues:StringNotEqualsIgnoreCaseIfExists").unwrap();
        assert_eq!(s.base, "StringEqualsIgnoreCase");
        assert!(s.negated && s.if_exists);
        assert_eq!(s.set, SetOp::ForAll);
        assert!(parse_operator("NullIfExists").is_none());
        assert!(parse_operator("StringEqualz").is_none());
        assert!(parse_operator("stringequals").is_none());
    }

    #[test]
    fn arn_split_keeps_resource_colons() {
        assert_eq!(
            split_arn("arn:aws:sts::1:assumed-role/r/s:x").unwrap(),
            vec!["arn", "aws", "sts", "", "1", "assumed-role/r/s:x"]
        );
        assert_eq!(
            split_arn("arn:aws:s3:::b/${aws:username}").unwrap()[5],
            "b/${aws:username}"
        );
        assert_eq!(split_arn("arn:${a:b}:c:d:e:f").unwrap()[1], "${a:b}");
        assert!(split_arn("arn:aws:iam").is_none());
    }
}
