//! Validation and compilation in one pass: every refusal names the statement (index and
//! Sid) and the field, and uses AWS's wording where AWS has one.

use super::condition::{Cmp, Condition, Values, parse_operator, split_arn};
use super::document::{
    ActionPat, ActionSpec, Policy, PolicyError, PolicyKind, PrincipalId, PrincipalSpec,
    ResourceSpec, ServiceIndex, Statement, StatementEffect, Version,
};
use super::json::Json;
use super::pattern::Glob;
use super::values::{Cidr, decode_base64, parse_bool, parse_date, parse_number};
use super::variables::{Piece, Template};

const SYNTAX: &str = "Syntax errors in policy.";
const VENDOR: &str = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";

fn syntax(detail: impl std::fmt::Display) -> PolicyError {
    PolicyError::malformed(format!("{SYNTAX} {detail}"))
}

/// Where in the document we are, for error locations.
#[derive(Clone, Copy)]
struct Loc<'a> {
    index: Option<usize>,
    sid: Option<&'a str>,
}

impl Loc<'_> {
    fn err(&self, e: PolicyError, field: &str) -> PolicyError {
        e.at(self.index, self.sid, field)
    }
}

/// Parses, validates and compiles (size was already checked by the caller).
pub(crate) fn compile(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
    let doc = Json::parse(text).map_err(|e| syntax(format!("Invalid JSON: {e}.")))?;
    let Json::Object(top) = doc else {
        return Err(syntax(format!(
            "The document must be a JSON object, not {}.",
            doc.type_name()
        )));
    };
    let top_loc = Loc {
        index: None,
        sid: None,
    };
    let mut version = Version::V2008_10_17;
    let mut id = None;
    let mut statement = None;
    for (k, v) in &top {
        match k.as_str() {
            "Version" => {
                version = match v {
                    Json::String(s) if s == "2012-10-17" => Version::V2012_10_17,
                    Json::String(s) if s == "2008-10-17" => Version::V2008_10_17,
                    other => {
                        let shown = match other {
                            Json::String(s) => format!("{s:?}"),
                            o => o.type_name().to_string(),
                        };
                        return Err(top_loc.err(
                            PolicyError::malformed(format!(
                                "Policy document must be version 2012-10-17 or greater. \
                                 Version {shown} is not a policy language version: use \"2012-10-17\"."
                            )),
                            "Version",
                        ));
                    }
                }
            }
            "Id" => match v {
                Json::String(s) => id = Some(s.clone()),
                o => {
                    return Err(top_loc.err(
                        syntax(format!("Id must be a string, not {}.", o.type_name())),
                        "Id",
                    ));
                }
            },
            "Statement" => statement = Some(v),
            other => {
                return Err(top_loc.err(syntax(format!("Unknown element {other:?}.")), other));
            }
        }
    }
    let statement = statement
        .ok_or_else(|| top_loc.err(syntax("Missing required field Statement."), "Statement"))?;
    let raw: Vec<&Json> = match statement {
        Json::Array(items) => items.iter().collect(),
        obj @ Json::Object(_) => vec![obj],
        o => {
            return Err(top_loc.err(
                syntax(format!(
                    "Statement must be an object or an array of objects, not {}.",
                    o.type_name()
                )),
                "Statement",
            ));
        }
    };
    if raw.is_empty() {
        // AWS refuses an empty Statement array with its generic syntax error.
        return Err(top_loc.err(
            syntax("Statement must hold at least one statement."),
            "Statement",
        ));
    }
    let vars = version == Version::V2012_10_17;
    let mut statements = Vec::with_capacity(raw.len());
    let mut sids: Vec<&str> = Vec::new();
    for (i, st) in raw.into_iter().enumerate() {
        let compiled = compile_statement(i, st, kind, vars)?;
        if let Some(Json::String(sid)) = statement_sid(st) {
            if !sid.is_empty() {
                if sids.contains(&sid.as_str()) {
                    return Err(PolicyError::malformed(
                        "Statement IDs (SID) in a single policy must be unique.",
                    )
                    .at(Some(i), Some(sid), "Sid"));
                }
                sids.push(sid);
            }
        }
        statements.push(compiled);
    }
    let index = ServiceIndex::build(&statements);
    Ok(Policy {
        version,
        id,
        kind,
        statements,
        index,
    })
}

fn statement_sid(st: &Json) -> Option<&Json> {
    match st {
        Json::Object(kv) => get(kv, "Sid"),
        _ => None,
    }
}

const STATEMENT_FIELDS: [&str; 9] = [
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
];

fn get<'a>(kv: &'a [(String, Json)], key: &str) -> Option<&'a Json> {
    kv.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// A string or an array of strings (AWS's "one or many" element shape).
fn strings<'a>(v: &'a Json, loc: Loc<'_>, field: &str) -> Result<Vec<&'a str>, PolicyError> {
    match v {
        Json::String(s) => Ok(vec![s.as_str()]),
        Json::Array(items) => items
            .iter()
            .map(|it| match it {
                Json::String(s) => Ok(s.as_str()),
                o => Err(loc.err(
                    syntax(format!(
                        "{field} entries must be strings, not {}.",
                        o.type_name()
                    )),
                    field,
                )),
            })
            .collect(),
        o => Err(loc.err(
            syntax(format!(
                "{field} must be a string or an array of strings, not {}.",
                o.type_name()
            )),
            field,
        )),
    }
}

fn compile_statement(
    i: usize,
    st: &Json,
    kind: PolicyKind,
    vars: bool,
) -> Result<Statement, PolicyError> {
    let mut loc = Loc {
        index: Some(i),
        sid: None,
    };
    let Json::Object(kv) = st else {
        return Err(loc.err(
            syntax(format!(
                "Each statement must be an object, not {}.",
                st.type_name()
            )),
            "Statement",
        ));
    };
    let sid = match get(kv, "Sid") {
        None => None,
        Some(Json::String(s)) => Some(s.as_str()),
        Some(o) => {
            return Err(loc.err(
                syntax(format!("Sid must be a string, not {}.", o.type_name())),
                "Sid",
            ));
        }
    };
    loc.sid = sid;
    if let Some(s) = sid {
        if !kind.is_trust() && !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(loc.err(
                PolicyError::malformed(
                    "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies \
                     the regular expression [0-9A-Za-z]*",
                ),
                "Sid",
            ));
        }
    }
    for (k, _) in kv {
        if !STATEMENT_FIELDS.contains(&k.as_str()) {
            return Err(loc.err(
                syntax(format!(
                    "Unknown element {k:?} (a statement has Sid, Effect, Action or NotAction, \
                     Resource or NotResource, Principal or NotPrincipal, Condition)."
                )),
                k,
            ));
        }
    }

    let effect = match get(kv, "Effect") {
        None => {
            return Err(loc.err(
                PolicyError::malformed("Missing required field Effect"),
                "Effect",
            ));
        }
        Some(Json::String(s)) if s == "Allow" => StatementEffect::Allow,
        Some(Json::String(s)) if s == "Deny" => StatementEffect::Deny,
        Some(Json::String(s)) => {
            return Err(loc.err(
                PolicyError::malformed(format!("Invalid effect: {s} (use Allow or Deny)")),
                "Effect",
            ));
        }
        Some(o) => {
            return Err(loc.err(
                syntax(format!(
                    "Effect must be \"Allow\" or \"Deny\", not {}.",
                    o.type_name()
                )),
                "Effect",
            ));
        }
    };

    let actions = match (get(kv, "Action"), get(kv, "NotAction")) {
        (Some(_), Some(_)) => {
            return Err(loc.err(
                syntax("A statement cannot have both Action and NotAction."),
                "NotAction",
            ));
        }
        (Some(a), None) => ActionSpec::Action(compile_actions(a, loc, "Action")?),
        (None, Some(a)) => ActionSpec::NotAction(compile_actions(a, loc, "NotAction")?),
        (None, None) => {
            return Err(loc.err(
                PolicyError::malformed("Policy statement must contain actions."),
                "Action",
            ));
        }
    };

    let resources = match (get(kv, "Resource"), get(kv, "NotResource")) {
        // A trust policy's resource is the role itself: AWS refuses the element.
        (Some(_), _) | (_, Some(_)) if kind.is_trust() => {
            let field = if get(kv, "Resource").is_some() {
                "Resource"
            } else {
                "NotResource"
            };
            return Err(loc.err(
                PolicyError::malformed(format!("Has prohibited field {field}")),
                field,
            ));
        }
        (Some(_), Some(_)) => {
            return Err(loc.err(
                syntax("A statement cannot have both Resource and NotResource."),
                "NotResource",
            ));
        }
        (Some(r), None) => ResourceSpec::Resource(compile_resources(r, loc, "Resource", vars)?),
        (None, Some(r)) => {
            ResourceSpec::NotResource(compile_resources(r, loc, "NotResource", vars)?)
        }
        (None, None) if kind.is_trust() => ResourceSpec::Absent,
        (None, None) => {
            return Err(loc.err(
                PolicyError::malformed("Policy statement must contain resources."),
                "Resource",
            ));
        }
    };

    let principal = match (get(kv, "Principal"), get(kv, "NotPrincipal")) {
        (Some(_), _) | (_, Some(_)) if !kind.is_trust() => {
            let field = if get(kv, "Principal").is_some() {
                "Principal"
            } else {
                "NotPrincipal"
            };
            return Err(loc.err(
                PolicyError::malformed("Policy document should not specify a principal."),
                field,
            ));
        }
        (Some(_), Some(_)) => {
            return Err(loc.err(
                syntax("A statement cannot have both Principal and NotPrincipal."),
                "NotPrincipal",
            ));
        }
        (Some(p), None) => Some(compile_principal(p, false, loc, "Principal")?),
        (None, Some(p)) => Some(compile_principal(p, true, loc, "NotPrincipal")?),
        (None, None) if kind.is_trust() => {
            return Err(loc.err(
                PolicyError::malformed("Missing required field Principal"),
                "Principal",
            ));
        }
        (None, None) => None,
    };

    let conditions = match get(kv, "Condition") {
        None => Vec::new(),
        Some(c) => compile_conditions(c, loc, vars)?,
    };

    Ok(Statement {
        sid: sid.map(Into::into),
        effect,
        actions,
        resources,
        principal,
        conditions,
    })
}

fn compile_actions(v: &Json, loc: Loc<'_>, field: &str) -> Result<Vec<ActionPat>, PolicyError> {
    let list = strings(v, loc, field)?;
    if list.is_empty() {
        return Err(loc.err(
            PolicyError::malformed("Policy statement must contain actions."),
            field,
        ));
    }
    list.into_iter()
        .map(|a| {
            if a == "*" {
                return Ok(ActionPat {
                    glob: Glob::Any,
                    service: None,
                });
            }
            let Some((vendor, name)) = a.split_once(':') else {
                return Err(loc.err(
                    PolicyError::malformed(format!("{VENDOR} Action {a:?} has none.")),
                    field,
                ));
            };
            if name.contains(':') {
                return Err(loc.err(
                    PolicyError::malformed(format!(
                        "Actions/Condition can contain only one colon. Action {a:?} has more."
                    )),
                    field,
                ));
            }
            if vendor.is_empty() || name.is_empty() || a.contains(char::is_whitespace) {
                return Err(loc.err(
                    PolicyError::malformed(format!("{VENDOR} Action {a:?} is not service:Name.")),
                    field,
                ));
            }
            let service =
                (!vendor.contains(['*', '?'])).then(|| vendor.to_ascii_lowercase().into());
            Ok(ActionPat {
                glob: Glob::from_text(a, true),
                service,
            })
        })
        .collect()
}

fn template(s: &str, vars: bool, loc: Loc<'_>, field: &str) -> Result<Template, PolicyError> {
    Template::parse(s, vars).map_err(|e| loc.err(syntax(format!("{e} in {s:?}.")), field))
}

fn compile_resources(
    v: &Json,
    loc: Loc<'_>,
    field: &str,
    vars: bool,
) -> Result<Vec<Glob>, PolicyError> {
    let list = strings(v, loc, field)?;
    if list.is_empty() {
        return Err(loc.err(
            PolicyError::malformed("Policy statement must contain resources."),
            field,
        ));
    }
    list.into_iter()
        .map(|r| {
            if r != "*" {
                let Some(segs) = split_arn(r).filter(|s| s[0] == "arn") else {
                    return Err(loc.err(
                        PolicyError::malformed(format!(
                            "Resource {r} must be in ARN format or \"*\"."
                        )),
                        field,
                    ));
                };
                if segs[2].is_empty() || segs[2].contains(['*', '?']) || segs[1].contains('?') {
                    return Err(loc.err(
                        PolicyError::malformed(format!(
                            "Resource vendor must be fully qualified and cannot contain regexes. \
                             ({r})"
                        )),
                        field,
                    ));
                }
            }
            Ok(Glob::compile(&template(r, vars, loc, field)?, false))
        })
        .collect()
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn compile_principal(
    v: &Json,
    negated: bool,
    loc: Loc<'_>,
    field: &str,
) -> Result<PrincipalSpec, PolicyError> {
    let invalid = |shown: String| {
        loc.err(
            PolicyError::malformed(format!("Invalid principal in policy: {shown}")),
            field,
        )
    };
    let mut ids = Vec::new();
    match v {
        Json::String(s) if s == "*" => ids.push(PrincipalId::Any),
        Json::Object(kv) => {
            if kv.is_empty() {
                return Err(invalid("{}".into()));
            }
            for (ptype, val) in kv {
                let list = strings(val, loc, field)?;
                if list.is_empty() {
                    return Err(invalid(format!("{ptype:?}:[]")));
                }
                for p in list {
                    let id = match ptype.as_str() {
                        "AWS" => {
                            if p == "*" {
                                PrincipalId::Any
                            } else if is_account_id(p) {
                                PrincipalId::Account(p.into())
                            } else {
                                match split_arn(p) {
                                    Some(seg)
                                        if seg[0] == "arn"
                                            && !p.contains(['*', '?'])
                                            && (seg[2] == "iam" || seg[2] == "sts") =>
                                    {
                                        if seg[5] == "root" && is_account_id(seg[4]) {
                                            PrincipalId::Account(seg[4].into())
                                        } else {
                                            PrincipalId::Exact(p.into())
                                        }
                                    }
                                    _ => return Err(invalid(format!("\"AWS\":{p:?}"))),
                                }
                            }
                        }
                        "Service" | "Federated" | "CanonicalUser" => {
                            if p.is_empty() || p.contains(['*', '?']) && p != "*" {
                                return Err(invalid(format!("{ptype:?}:{p:?}")));
                            }
                            if p == "*" {
                                PrincipalId::Any
                            } else {
                                PrincipalId::Exact(p.into())
                            }
                        }
                        other => {
                            return Err(loc.err(
                                syntax(format!(
                                    "Unknown principal type {other:?} (use AWS, Service, Federated or CanonicalUser)."
                                )),
                                field,
                            ));
                        }
                    };
                    ids.push(id);
                }
            }
        }
        Json::String(s) => return Err(invalid(format!("{s:?}"))),
        o => {
            return Err(loc.err(
                syntax(format!(
                    "{field} must be \"*\" or an object, not {}.",
                    o.type_name()
                )),
                field,
            ));
        }
    }
    Ok(PrincipalSpec { negated, ids })
}

/// Condition values: a string, number or boolean, or an array of them.
fn condition_values(v: &Json, loc: Loc<'_>, field: &str) -> Result<Vec<String>, PolicyError> {
    let one = |j: &Json| -> Result<String, PolicyError> {
        match j {
            Json::String(s) => Ok(s.clone()),
            Json::Number(n) => Ok(n.clone()),
            Json::Bool(b) => Ok(b.to_string()),
            o => Err(loc.err(
                syntax(format!(
                    "Condition values must be strings, numbers or booleans, not {}.",
                    o.type_name()
                )),
                field,
            )),
        }
    };
    match v {
        Json::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

fn compile_conditions(c: &Json, loc: Loc<'_>, vars: bool) -> Result<Vec<Condition>, PolicyError> {
    let Json::Object(ops) = c else {
        return Err(loc.err(
            syntax(format!(
                "Condition must be an object, not {}.",
                c.type_name()
            )),
            "Condition",
        ));
    };
    let mut out = Vec::new();
    for (op, block) in ops {
        let field_op = format!("Condition.{op}");
        let spec = parse_operator(op).ok_or_else(|| {
            loc.err(
                PolicyError::malformed(format!("Invalid Condition type : {op}")),
                &field_op,
            )
        })?;
        let Json::Object(keys) = block else {
            return Err(loc.err(
                syntax(format!(
                    "Condition operator {op} must map keys to values, not {}.",
                    block.type_name()
                )),
                &field_op,
            ));
        };
        for (key, raw) in keys {
            let field = format!("Condition.{op}.{key}");
            match key.split_once(':') {
                Some((vendor, name)) if !vendor.is_empty() && !name.is_empty() => {}
                _ => {
                    return Err(loc.err(
                        PolicyError::malformed(format!("{VENDOR} Condition key {key:?} has none.")),
                        &field,
                    ));
                }
            }
            let strs = condition_values(raw, loc, &field)?;
            let bad = |what: &str, s: &str| {
                loc.err(
                    syntax(format!("{s:?} is not {what} (operator {op}).")),
                    &field,
                )
            };
            let cmp = if spec.base.ends_with("LessThan") {
                Cmp::Lt
            } else if spec.base.ends_with("LessThanEquals") {
                Cmp::Le
            } else if spec.base.ends_with("GreaterThan") {
                Cmp::Gt
            } else if spec.base.ends_with("GreaterThanEquals") {
                Cmp::Ge
            } else {
                Cmp::Eq
            };
            let values = match spec.base {
                "StringEquals" => Values::Str(
                    strs.iter()
                        .map(|s| template(s, vars, loc, &field))
                        .collect::<Result<_, _>>()?,
                ),
                "StringEqualsIgnoreCase" => Values::StrIc(
                    strs.iter()
                        .map(|s| template(s, vars, loc, &field).map(lower_template))
                        .collect::<Result<_, _>>()?,
                ),
                "StringLike" => Values::Like(
                    strs.iter()
                        .map(|s| template(s, vars, loc, &field).map(|t| Glob::compile(&t, false)))
                        .collect::<Result<_, _>>()?,
                ),
                b if b.starts_with("Numeric") => Values::Num(
                    cmp,
                    strs.iter()
                        .map(|s| parse_number(s).ok_or_else(|| bad("a number", s)))
                        .collect::<Result<_, _>>()?,
                ),
                b if b.starts_with("Date") => Values::Date(
                    cmp,
                    strs.iter()
                        .map(|s| {
                            parse_date(s).ok_or_else(|| {
                                bad("a date (ISO 8601 such as 2026-01-31T00:00:00Z, or epoch seconds)", s)
                            })
                        })
                        .collect::<Result<_, _>>()?,
                ),
                "Bool" => Values::Bool(
                    strs.iter()
                        .map(|s| parse_bool(s).ok_or_else(|| bad("true or false", s)))
                        .collect::<Result<_, _>>()?,
                ),
                "Null" => Values::Null(
                    strs.iter()
                        .map(|s| parse_bool(s).ok_or_else(|| bad("true or false", s)))
                        .collect::<Result<_, _>>()?,
                ),
                "BinaryEquals" => Values::Binary(
                    strs.iter()
                        .map(|s| decode_base64(s).ok_or_else(|| bad("base64", s)))
                        .collect::<Result<_, _>>()?,
                ),
                "IpAddress" => Values::Ip(
                    strs.iter()
                        .map(|s| {
                            Cidr::parse(s).ok_or_else(|| {
                                bad("an IP address or CIDR block (203.0.113.0/24, 2001:db8::/32)", s)
                            })
                        })
                        .collect::<Result<_, _>>()?,
                ),
                _ => Values::Arn(
                    strs.iter()
                        .map(|s| {
                            let segs = split_arn(s).ok_or_else(|| bad("an ARN (arn:partition:service:region:account:resource)", s))?;
                            segs.iter()
                                .map(|seg| template(seg, vars, loc, &field).map(|t| Glob::compile(&t, false)))
                                .collect::<Result<Vec<_>, _>>()
                        })
                        .collect::<Result<_, _>>()?,
                ),
            };
            out.push(Condition {
                operator: op.as_str().into(),
                key: key.to_lowercase().into(),
                display_key: key.as_str().into(),
                negated: spec.negated,
                if_exists: spec.if_exists,
                set: spec.set,
                values,
            });
        }
    }
    Ok(out)
}

/// Lower-cases the constant text of a template (IgnoreCase operators).
fn lower_template(t: Template) -> Template {
    Template {
        pieces: t
            .pieces
            .into_iter()
            .map(|p| match p {
                Piece::Text(s) => Piece::Text(s.to_lowercase().into()),
                Piece::Literal(s) => Piece::Literal(s.to_lowercase().into()),
                v => v,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(doc: &str, kind: PolicyKind) -> PolicyError {
        compile(doc, kind).expect_err(doc)
    }

    #[test]
    fn an_empty_statement_array_is_a_syntax_error() {
        let e = err(
            r#"{"Version":"2012-10-17","Statement":[]}"#,
            PolicyKind::Managed,
        );
        assert!(e.message.starts_with("Syntax errors in policy."), "{e}");
        assert_eq!(e.field.as_deref(), Some("Statement"));
        assert_eq!(e.statement, None);
        // One statement is enough.
        compile(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#,
            PolicyKind::Managed,
        )
        .unwrap();
    }

    #[test]
    fn an_action_with_two_colons_is_refused() {
        for action in ["ssh:Log:in", "host::Login", "host:Login:"] {
            for field in ["Action", "NotAction"] {
                let doc = format!(
                    r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"S1","Effect":"Allow","{field}":["host:Login","{action}"],"Resource":"*"}}]}}"#
                );
                let e = err(&doc, PolicyKind::Managed);
                assert!(
                    e.message
                        .starts_with("Actions/Condition can contain only one colon."),
                    "{action}: {e}"
                );
                assert!(e.message.contains(action), "{e}");
                assert_eq!(
                    (e.statement, e.sid.as_deref(), e.field.as_deref()),
                    (Some(0), Some("S1"), Some(field))
                );
            }
        }
        // Wildcards after the one colon stay valid.
        compile(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:*","Resource":"*"}]}"#,
            PolicyKind::Managed,
        )
        .unwrap();
    }

    #[test]
    fn a_trust_policy_with_resource_is_refused() {
        for field in ["Resource", "NotResource"] {
            let doc = format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::123456789012:user/alice"}},"Action":"sts:AssumeRole","{field}":"*"}}]}}"#
            );
            let e = err(&doc, PolicyKind::Trust);
            assert_eq!(e.message, format!("Has prohibited field {field}"), "{e}");
            assert_eq!((e.statement, e.field.as_deref()), (Some(0), Some(field)));
        }
        compile(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"sts:AssumeRole"}]}"#,
            PolicyKind::Trust,
        )
        .unwrap();
    }
}
