//! Pure helpers behind `iam simulate-custom-policy` and `iam simulate-principal-policy`.
//!
//! How the CLI wires them (the CLI does the I/O: `file://` reads, store look-ups, printing):
//!
//! 1. Build the [`PolicySet`]:
//!    - simulate-custom-policy: [`custom_policy_set`] with the texts of
//!      `--policy-input-list` and `--permissions-boundary-policy-input-list` (read
//!      `file://` arguments first). Its error is a `MalformedPolicyDocument` to print.
//!    - simulate-principal-policy: the principal's real policies, as authz gathers them
//!      for PAM (user inline + attached + groups' + boundary, or the role's), plus any
//!      `--policy-input-list` documents pushed onto `identity` with
//!      [`Source::new`]`("PolicyInputList.N", SourceType::Input)`.
//! 2. Parse `--context-entries`: [`parse_context_entries_args`] takes the raw argument
//!    strings (AWS JSON form, inline or already read from `file://`, or shorthand
//!    `ContextKeyName=aws:SourceIp,ContextKeyValues=10.0.0.5,ContextKeyType=ip`, several
//!    entries separated by spaces), then [`context_from_entries`] checks each value
//!    against its `ContextKeyType` and gives the [`Context`].
//! 3. [`simulate`] with `--action-names`, `--resource-arns` (empty means `*`) and the
//!    caller (`--caller-arn`, or the `--policy-source-arn` principal).
//! 4. Print [`results_json`] (`{"EvaluationResults": [...], "IsTruncated": false}`) for
//!    `--output json`; `EvaluationResult` fields serve `table`/`text`.
//!
//! Errors are [`SimulateError`]: print its message with `InvalidInput` as the code.

use super::context::Context;
use super::document::{Policy, PolicyError, PolicyKind};
use super::eval::{Decision, PolicySet, Request, Source, SourceType, evaluate};
use super::json::Json;
use super::values::{decode_base64, parse_bool, parse_date, parse_number};
use serde_json::{Value, json};

/// Why simulator input was refused (AWS code `InvalidInput`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimulateError {
    /// `--context-entries` could not be read.
    #[error("InvalidInput: --context-entries: {0}")]
    ContextEntries(String),
}

impl SimulateError {
    /// The AWS error code to print.
    pub fn code(&self) -> &'static str {
        "InvalidInput"
    }
}

/// AWS's `ContextKeyType`, which says how to read the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextKeyType {
    /// `string`
    String,
    /// `stringList`
    StringList,
    /// `numeric`
    Numeric,
    /// `numericList`
    NumericList,
    /// `boolean`
    Boolean,
    /// `booleanList`
    BooleanList,
    /// `ip`
    Ip,
    /// `ipList`
    IpList,
    /// `binary`
    Binary,
    /// `binaryList`
    BinaryList,
    /// `date`
    Date,
    /// `dateList`
    DateList,
}

impl ContextKeyType {
    /// Reads AWS's spelling (case-insensitive, as the AWS CLI accepts it).
    pub fn parse(s: &str) -> Option<Self> {
        use ContextKeyType::*;
        let all = [
            ("string", String),
            ("stringList", StringList),
            ("numeric", Numeric),
            ("numericList", NumericList),
            ("boolean", Boolean),
            ("booleanList", BooleanList),
            ("ip", Ip),
            ("ipList", IpList),
            ("binary", Binary),
            ("binaryList", BinaryList),
            ("date", Date),
            ("dateList", DateList),
        ];
        all.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, t)| *t)
    }

    fn check(self, v: &str) -> bool {
        use ContextKeyType::*;
        match self {
            String | StringList => true,
            Numeric | NumericList => parse_number(v).is_some(),
            Boolean | BooleanList => parse_bool(v).is_some(),
            Ip | IpList => v.parse::<std::net::IpAddr>().is_ok(),
            Binary | BinaryList => decode_base64(v).is_some(),
            Date | DateList => parse_date(v).is_some(),
        }
    }

    fn is_list(self) -> bool {
        use ContextKeyType::*;
        matches!(
            self,
            StringList | NumericList | BooleanList | IpList | BinaryList | DateList
        )
    }
}

/// One `--context-entries` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextEntry {
    /// `ContextKeyName`.
    pub key: String,
    /// `ContextKeyValues`.
    pub values: Vec<String>,
    /// `ContextKeyType`.
    pub key_type: ContextKeyType,
}

fn bad(msg: impl Into<String>) -> SimulateError {
    SimulateError::ContextEntries(msg.into())
}

/// Parses every `--context-entries` argument (each JSON or shorthand).
///
/// # Errors
/// [`SimulateError`] naming the entry and what is wrong with it.
pub fn parse_context_entries_args(args: &[String]) -> Result<Vec<ContextEntry>, SimulateError> {
    let mut out = Vec::new();
    for a in args {
        out.extend(parse_context_entries(a)?);
    }
    Ok(out)
}

/// Parses one `--context-entries` value: AWS's JSON form (an array of entries or one
/// entry object) or the shorthand, several entries separated by whitespace.
///
/// # Errors
/// [`SimulateError`] naming what is wrong.
pub fn parse_context_entries(input: &str) -> Result<Vec<ContextEntry>, SimulateError> {
    let t = input.trim();
    if t.starts_with('[') || t.starts_with('{') {
        return parse_json_entries(t);
    }
    t.split_whitespace().map(parse_shorthand).collect()
}

fn parse_json_entries(t: &str) -> Result<Vec<ContextEntry>, SimulateError> {
    let j = Json::parse(t).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    let items = match j {
        Json::Array(items) => items,
        obj @ Json::Object(_) => vec![obj],
        o => {
            return Err(bad(format!(
                "expected an array of entries, not {}",
                o.type_name()
            )));
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, it)| {
            let Json::Object(kv) = it else {
                return Err(bad(format!("entry {i} is not an object")));
            };
            let mut key = None;
            let mut values = None;
            let mut ty = None;
            for (k, v) in kv {
                match (k.as_str(), v) {
                    ("ContextKeyName", Json::String(s)) => key = Some(s),
                    ("ContextKeyValues", Json::Array(vs)) => {
                        values = Some(
                            vs.into_iter()
                                .map(|v| match v {
                                    Json::String(s) | Json::Number(s) => Ok(s),
                                    Json::Bool(b) => Ok(b.to_string()),
                                    o => Err(bad(format!(
                                        "entry {i}: ContextKeyValues entries must be strings, not {}",
                                        o.type_name()
                                    ))),
                                })
                                .collect::<Result<Vec<_>, _>>()?,
                        );
                    }
                    ("ContextKeyValues", Json::String(s)) => values = Some(vec![s]),
                    ("ContextKeyType", Json::String(s)) => ty = Some(s),
                    (other, _) => {
                        return Err(bad(format!(
                            "entry {i}: unexpected {other:?} (use ContextKeyName, ContextKeyValues, ContextKeyType)"
                        )));
                    }
                }
            }
            build_entry(key, values, ty.as_deref(), &format!("entry {i}"))
        })
        .collect()
}

fn build_entry(
    key: Option<String>,
    values: Option<Vec<String>>,
    ty: Option<&str>,
    what: &str,
) -> Result<ContextEntry, SimulateError> {
    let key = key
        .filter(|k| !k.is_empty())
        .ok_or_else(|| bad(format!("{what}: ContextKeyName is required")))?;
    let values = values.ok_or_else(|| bad(format!("{what}: ContextKeyValues is required")))?;
    let key_type = match ty {
        None => ContextKeyType::String,
        Some(t) => ContextKeyType::parse(t).ok_or_else(|| {
            bad(format!(
                "{what}: ContextKeyType {t:?} is not one of string, stringList, numeric, \
                 numericList, boolean, booleanList, ip, ipList, binary, binaryList, date, dateList"
            ))
        })?,
    };
    Ok(ContextEntry {
        key,
        values,
        key_type,
    })
}

/// `ContextKeyName=k,ContextKeyValues=v1,v2,ContextKeyType=stringList` (values may also be
/// bracketed: `ContextKeyValues=[v1,v2]`).
fn parse_shorthand(s: &str) -> Result<ContextEntry, SimulateError> {
    let mut key = None;
    let mut values: Option<Vec<String>> = None;
    let mut ty: Option<String> = None;
    let mut current = "";
    for tok in s.split(',') {
        if let Some(v) = tok.strip_prefix("ContextKeyName=") {
            key = Some(v.to_string());
            current = "name";
        } else if let Some(v) = tok.strip_prefix("ContextKeyValues=") {
            let v = v.strip_prefix('[').unwrap_or(v);
            let v = v.strip_suffix(']').unwrap_or(v);
            values = Some(if v.is_empty() {
                Vec::new()
            } else {
                vec![v.to_string()]
            });
            current = "values";
        } else if let Some(v) = tok.strip_prefix("ContextKeyType=") {
            ty = Some(v.to_string());
            current = "type";
        } else {
            match (current, values.as_mut()) {
                ("values", Some(vs)) => {
                    let v = tok.strip_suffix(']').unwrap_or(tok);
                    vs.push(v.to_string());
                }
                _ => {
                    return Err(bad(format!(
                        "{s:?}: unexpected {tok:?} (shorthand is \
                         ContextKeyName=KEY,ContextKeyValues=V1,V2,ContextKeyType=TYPE)"
                    )));
                }
            }
        }
    }
    build_entry(key, values, ty.as_deref(), &format!("{s:?}"))
}

/// Checks each entry's values against its type and builds the request context.
///
/// # Errors
/// [`SimulateError`] naming the key and the value that does not fit its type.
pub fn context_from_entries(entries: &[ContextEntry]) -> Result<Context, SimulateError> {
    let mut ctx = Context::new();
    for e in entries {
        if !e.key_type.is_list() && e.values.len() > 1 {
            return Err(bad(format!(
                "{}: type {:?} takes one value, got {} (use the List type)",
                e.key,
                e.key_type,
                e.values.len()
            )));
        }
        if let Some(v) = e.values.iter().find(|v| !e.key_type.check(v)) {
            return Err(bad(format!(
                "{}: {v:?} is not a valid {:?} value",
                e.key, e.key_type
            )));
        }
        ctx.insert_values(&e.key, e.values.clone());
    }
    Ok(ctx)
}

/// Builds the policy set of `simulate-custom-policy`: each input document is named
/// `PolicyInputList.N` (1-based, as AWS names them); boundary documents are
/// `PermissionsBoundaryPolicyInputList.N`. AWS takes one boundary; several are
/// intersected here.
///
/// # Errors
/// The first document's [`PolicyError`], with the document named in its field.
pub fn custom_policy_set(policies: &[&str], boundaries: &[&str]) -> Result<PolicySet, PolicyError> {
    let mut set = PolicySet::default();
    for (i, text) in policies.iter().enumerate() {
        let name = format!("PolicyInputList.{}", i + 1);
        let p = Policy::parse(text, PolicyKind::Managed).map_err(|e| name_doc(e, &name))?;
        set.identity.push((Source::new(name, SourceType::Input), p));
    }
    if let Some((i, text)) = boundaries.iter().enumerate().next() {
        let name = format!("PermissionsBoundaryPolicyInputList.{}", i + 1);
        let p = Policy::parse(text, PolicyKind::Boundary).map_err(|e| name_doc(e, &name))?;
        set.boundary = Some((Source::new(name, SourceType::Input), p));
    }
    Ok(set)
}

fn name_doc(mut e: PolicyError, name: &str) -> PolicyError {
    e.message = format!("{name}: {}", e.message);
    e
}

/// One action × resource result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationResult {
    /// `EvalActionName`.
    pub action: String,
    /// `EvalResourceName`.
    pub resource: String,
    /// The decision with its matched statements and missing keys.
    pub decision: Decision,
}

/// Evaluates every action against every resource (`*` when none is given), as the
/// AWS simulator does.
pub fn simulate(
    set: &PolicySet,
    actions: &[String],
    resources: &[String],
    caller_arn: &str,
    context: &Context,
) -> Vec<EvaluationResult> {
    let star = ["*".to_string()];
    let resources = if resources.is_empty() {
        &star[..]
    } else {
        resources
    };
    let mut out = Vec::with_capacity(actions.len() * resources.len());
    for a in actions {
        for r in resources {
            let req = Request {
                action: a.clone(),
                resource: r.clone(),
                principal_arn: caller_arn.to_string(),
                context: context.clone(),
            };
            out.push(EvaluationResult {
                action: a.clone(),
                resource: r.clone(),
                decision: evaluate(set, &req),
            });
        }
    }
    out
}

/// A statement's start and end as ((line, column), (line, column)), 1-based.
pub type Span = ((usize, usize), (usize, usize));

/// Where each statement of a document starts and ends (1-based line and column), for
/// `MatchedStatements[].StartPosition/EndPosition`. Best effort: empty when the text is
/// not a policy object.
pub fn statement_positions(text: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let (mut line, mut col) = (1usize, 0usize);
    let mut depth = 0usize;
    let mut in_str = false;
    let mut esc = false;
    let mut last_key = String::new();
    let mut cur = String::new();
    let mut stmt_depth: Option<usize> = None;
    let mut start = (0, 0);
    let mut expecting_value = false;
    for ch in text.chars() {
        if ch == '\n' {
            line += 1;
            col = 0;
        } else {
            col += 1;
        }
        if in_str {
            if esc {
                esc = false;
            } else if ch == '\\' {
                esc = true;
            } else if ch == '"' {
                in_str = false;
                if depth == 1 {
                    last_key = std::mem::take(&mut cur);
                }
            } else if depth == 1 {
                cur.push(ch);
            }
            continue;
        }
        match ch {
            '"' => {
                in_str = true;
                cur.clear();
            }
            ':' if depth == 1 => expecting_value = last_key == "Statement",
            '{' | '[' => {
                depth += 1;
                if ch == '{' && stmt_depth.is_none() {
                    let in_array = depth == 3 && expecting_value;
                    let single = depth == 2 && expecting_value;
                    if in_array || single {
                        stmt_depth = Some(depth);
                        start = (line, col);
                    }
                }
            }
            '}' | ']' => {
                if ch == '}' && stmt_depth == Some(depth) {
                    out.push((start, (line, col + 1)));
                    stmt_depth = None;
                }
                depth = depth.saturating_sub(1);
                if depth <= 1 {
                    expecting_value = false;
                }
            }
            ',' if depth == 1 => expecting_value = false,
            _ => {}
        }
    }
    out
}

fn result_json(r: &EvaluationResult, positions: &dyn Fn(&str) -> Option<Vec<Span>>) -> Value {
    let matched: Vec<Value> = r
        .decision
        .matched
        .iter()
        .map(|m| {
            let mut o = json!({
                "SourcePolicyId": m.source,
                "SourcePolicyType": m.source_type.as_aws_str(),
            });
            if let Some(((sl, sc), (el, ec))) =
                positions(&m.source).and_then(|p| p.get(m.index).copied())
            {
                o["StartPosition"] = json!({"Line": sl, "Column": sc});
                o["EndPosition"] = json!({"Line": el, "Column": ec});
            }
            o
        })
        .collect();
    let mut o = json!({
        "EvalActionName": r.action,
        "EvalResourceName": r.resource,
        "EvalDecision": r.decision.effect.as_aws_str(),
        "MatchedStatements": matched,
        "MissingContextValues": r.decision.missing_context,
    });
    if let Some(b) = r.decision.boundary_allowed {
        o["PermissionsBoundaryDecisionDetail"] = json!({"AllowedByPermissionsBoundary": b});
    }
    o
}

/// AWS's output shape: `{"EvaluationResults": [...], "IsTruncated": false}`.
/// `documents` maps a source id (such as `PolicyInputList.1`) to its text, so matched
/// statements get `StartPosition`/`EndPosition`; pass `&[]` to omit them.
pub fn results_json(results: &[EvaluationResult], documents: &[(&str, &str)]) -> Value {
    let positions = |id: &str| {
        documents
            .iter()
            .find(|(n, _)| *n == id)
            .map(|(_, text)| statement_positions(text))
    };
    json!({
        "EvaluationResults": results.iter().map(|r| result_json(r, &positions)).collect::<Vec<_>>(),
        "IsTruncated": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_entries_json_and_shorthand() {
        let json = r#"[{"ContextKeyName":"aws:SourceIp","ContextKeyValues":["10.0.0.5"],"ContextKeyType":"ip"},
                       {"ContextKeyName":"aws:TagKeys","ContextKeyValues":["a","b"],"ContextKeyType":"stringList"}]"#;
        let e = parse_context_entries(json).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].key_type, ContextKeyType::Ip);
        assert_eq!(e[1].values, vec!["a", "b"]);
        let short = "ContextKeyName=aws:SourceIp,ContextKeyValues=10.0.0.5,ContextKeyType=ip \
                     ContextKeyName=aws:TagKeys,ContextKeyValues=a,b,ContextKeyType=stringList \
                     ContextKeyName=aws:username,ContextKeyValues=[alice]";
        let s = parse_context_entries(short).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[..2], e[..]);
        assert_eq!(s[2].values, vec!["alice"]);
        assert_eq!(s[2].key_type, ContextKeyType::String);
        let args = vec![
            "ContextKeyName=aws:SourceIp,ContextKeyValues=10.0.0.5,ContextKeyType=ip".to_string(),
            r#"{"ContextKeyName":"aws:username","ContextKeyValues":["bob"]}"#.to_string(),
        ];
        let ctx = context_from_entries(&parse_context_entries_args(&args).unwrap()).unwrap();
        assert_eq!(ctx.get("AWS:SOURCEIP"), Some(&["10.0.0.5".to_string()][..]));
        assert_eq!(ctx.get("aws:username"), Some(&["bob".to_string()][..]));
    }

    #[test]
    fn context_entries_errors() {
        for bad in [
            "ContextKeyName=aws:SourceIp,ContextKeyValues=not-an-ip,ContextKeyType=ip",
            "ContextKeyName=k:k,ContextKeyValues=1,2,ContextKeyType=numeric",
            "ContextKeyName=k:k,ContextKeyValues=x,ContextKeyType=numeric",
            "ContextKeyName=k:k,ContextKeyValues=x,ContextKeyType=colour",
            "ContextKeyValues=x",
            "ContextKeyName=k:k",
            "Bogus=1",
            r#"[{"ContextKeyName":"k:k","ContextKeyValues":[{}]}]"#,
            r#"[{"ContextKeyName":"k:k","ContextKeyValues":["x"],"Extra":1}]"#,
            "[",
        ] {
            let r = parse_context_entries(bad).and_then(|e| context_from_entries(&e));
            let err = r.expect_err(bad);
            assert!(
                err.to_string()
                    .starts_with("InvalidInput: --context-entries"),
                "{err}"
            );
        }
    }

    #[test]
    fn custom_policy_result_shape() {
        let doc = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Sid\": \"Login\",\n      \"Effect\": \"Allow\",\n      \"Action\": \"host:Login\",\n      \"Resource\": \"*\",\n      \"Condition\": {\"IpAddress\": {\"aws:SourceIp\": \"10.0.0.0/8\"}}\n    },\n    {\"Effect\": \"Deny\", \"Action\": \"host:Sudo\", \"Resource\": \"*\"}\n  ]\n}";
        let boundary = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"host:*","Resource":"*"}}"#;
        let set = custom_policy_set(&[doc], &[boundary]).unwrap();
        let ctx = context_from_entries(
            &parse_context_entries(
                "ContextKeyName=aws:SourceIp,ContextKeyValues=10.1.1.1,ContextKeyType=ip",
            )
            .unwrap(),
        )
        .unwrap();
        let actions = vec![
            "host:Login".to_string(),
            "host:Sudo".to_string(),
            "iam:CreateUser".to_string(),
        ];
        let results = simulate(
            &set,
            &actions,
            &[],
            "arn:aws:iam::123456789012:user/alice",
            &ctx,
        );
        let out = results_json(&results, &[("PolicyInputList.1", doc)]);
        let r = &out["EvaluationResults"];
        assert_eq!(r[0]["EvalActionName"], "host:Login");
        assert_eq!(r[0]["EvalResourceName"], "*");
        assert_eq!(r[0]["EvalDecision"], "allowed");
        let m = &r[0]["MatchedStatements"];
        assert_eq!(m[0]["SourcePolicyId"], "PolicyInputList.1");
        assert_eq!(m[0]["SourcePolicyType"], "IAM Policy");
        assert_eq!(m[0]["StartPosition"], json!({"Line": 4, "Column": 5}));
        assert_eq!(m[0]["EndPosition"], json!({"Line": 10, "Column": 6}));
        assert_eq!(
            m[1]["SourcePolicyId"],
            "PermissionsBoundaryPolicyInputList.1"
        );
        assert_eq!(
            r[0]["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"],
            true
        );
        assert_eq!(r[1]["EvalDecision"], "explicitDeny");
        assert_eq!(
            r[1]["MatchedStatements"][0]["StartPosition"],
            json!({"Line": 11, "Column": 5})
        );
        assert_eq!(r[2]["EvalDecision"], "implicitDeny");
        assert_eq!(r[2]["MatchedStatements"], json!([]));
        assert_eq!(out["IsTruncated"], false);
        // Missing key reported when the simulator is not told the source address.
        let results = simulate(&set, &actions[..1], &[], "", &Context::new());
        let out = results_json(&results, &[]);
        assert_eq!(out["EvaluationResults"][0]["EvalDecision"], "implicitDeny");
        assert_eq!(
            out["EvaluationResults"][0]["MissingContextValues"],
            json!(["aws:SourceIp"])
        );
    }

    #[test]
    fn malformed_input_policy_is_named() {
        let err = custom_policy_set(&["{}", "x"], &[]).unwrap_err();
        assert!(
            err.message
                .starts_with("PolicyInputList.1: Syntax errors in policy."),
            "{err}"
        );
    }

    #[test]
    fn positions_of_single_statement_object() {
        let doc = r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
        assert_eq!(statement_positions(doc), vec![((1, 14), (1, 60))]);
        assert!(statement_positions("not json").is_empty());
    }
}
