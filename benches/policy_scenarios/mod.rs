//! Benchmark scenarios, shared by benches/policy.rs, examples/policy_decide.rs and
//! bench-cedar/ (which include this file by path), so both engines decide the same
//! policies for the same request.
//!
//! A scenario is `policies × statements` rules. Rule (i, j), in the default layout
//! ([`Services::Ten`]):
//! - statement 9 of each policy: `Deny host:Sudo` (never matches a login);
//! - other statements: an Allow of one of ten services (`host:Log*` for j = 0,
//!   `SVC:Get*` otherwise), on `arn:aws:iam::123456789012:host/web-{i%10}-*`, with three
//!   conditions: `IpAddress aws:SourceIp 10.{i%10}.0.0/16`,
//!   `StringEquals aws:PrincipalTag/team team{j%5}`, `Bool aws:MultiFactorAuthPresent true`.
//!
//! In the [`Services::One`] layout every action is in the `host` service (`host:Log*`,
//! `host:Get*`, `host:Put*`, ..., `host:Sudo`), so pam-iam's service index cannot skip
//! any statement.
//!
//! The request: `host:Login` on `host/web-3-1` from 10.3.4.5, team0, with MFA: allowed by
//! statement 0 of every policy with i % 10 == 3.
#![allow(dead_code)]

use serde_json::json;

pub const SERVICES: [&str; 10] = [
    "host", "iam", "sts", "s3", "ec2", "kms", "ssm", "logs", "rds", "sqs",
];
pub const ACCT: &str = "123456789012";
pub const REQUEST_RESOURCE: &str = "arn:aws:iam::123456789012:host/web-3-1";
pub const REQUEST_IP: &str = "10.3.4.5";
pub const REQUEST_TEAM: &str = "team0";

/// One rule, engine-neutral.
pub struct Rule {
    pub deny: bool,
    /// IAM action pattern (may hold wildcards).
    pub iam_action: String,
    /// The concrete action Cedar names (Cedar has no action wildcards).
    pub cedar_action: String,
    pub resource_pattern: String,
    pub cidr: String,
    pub team: String,
}

/// Which services the actions of a scenario's rules are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Services {
    /// Ten services (`host`, `iam`, `sts`, ...): one rule in ten is a `host` one.
    Ten,
    /// Every action in `host`: a service index cannot help.
    One,
}

/// Verbs of the [`Services::One`] layout (statement j uses `VERBS[j % 10]`; 9 is the
/// Deny of `host:Sudo`).
pub const VERBS: [&str; 9] = [
    "Log", "Get", "Put", "List", "Describe", "Create", "Delete", "Update", "Tag",
];

/// Rule (i, j) of the default layout.
pub fn rule(i: usize, j: usize) -> Rule {
    rule_in(Services::Ten, i, j)
}

/// Rule (i, j) of a layout.
pub fn rule_in(layout: Services, i: usize, j: usize) -> Rule {
    let resource_pattern = format!("arn:aws:iam::{ACCT}:host/web-{}-*", i % 10);
    let cidr = format!("10.{}.0.0/16", i % 10);
    let team = format!("team{}", j % 5);
    if j % 10 == 9 {
        return Rule {
            deny: true,
            iam_action: "host:Sudo".into(),
            cedar_action: "host:Sudo".into(),
            resource_pattern,
            cidr,
            team,
        };
    }
    let (iam_action, cedar_action) = match layout {
        _ if j % 10 == 0 => ("host:Log*".to_string(), "host:Login".to_string()),
        Services::Ten => {
            let svc = SERVICES[j % 10];
            (format!("{svc}:Get*"), format!("{svc}:GetThing"))
        }
        Services::One => {
            let verb = VERBS[j % 10];
            (format!("host:{verb}*"), format!("host:{verb}Thing"))
        }
    };
    Rule {
        deny: false,
        iam_action,
        cedar_action,
        resource_pattern,
        cidr,
        team,
    }
}

/// Every concrete action the scenarios' Cedar policies name (for the Cedar schema).
pub fn cedar_actions() -> Vec<String> {
    let mut out = vec!["host:Login".to_string(), "host:Sudo".to_string()];
    out.extend(SERVICES[1..].iter().map(|s| format!("{s}:GetThing")));
    out.extend(VERBS[1..].iter().map(|v| format!("host:{v}Thing")));
    out.push("iam:ListThing".to_string());
    out
}

/// IAM JSON documents: `policies` documents of `statements` statements each.
pub fn iam_documents(policies: usize, statements: usize) -> Vec<String> {
    iam_documents_in(Services::Ten, policies, statements)
}

/// [`iam_documents`] in a layout.
pub fn iam_documents_in(layout: Services, policies: usize, statements: usize) -> Vec<String> {
    (0..policies)
        .map(|i| document(layout, i, 0..statements))
        .collect()
}

/// The same `policies × statements` rules, one document per rule (1,000 policies).
pub fn iam_documents_one_per_rule(policies: usize, statements: usize) -> Vec<String> {
    iam_documents_one_per_rule_in(Services::Ten, policies, statements)
}

/// [`iam_documents_one_per_rule`] in a layout.
pub fn iam_documents_one_per_rule_in(
    layout: Services,
    policies: usize,
    statements: usize,
) -> Vec<String> {
    (0..policies)
        .flat_map(|i| (0..statements).map(move |j| document(layout, i, j..j + 1)))
        .collect()
}

fn document(layout: Services, i: usize, js: std::ops::Range<usize>) -> String {
    let stmts: Vec<_> = js
        .map(|j| {
            let r = rule_in(layout, i, j);
            json!({
                "Sid": format!("P{i}S{j}"),
                "Effect": if r.deny { "Deny" } else { "Allow" },
                "Action": [r.iam_action],
                "Resource": [r.resource_pattern],
                "Condition": {
                    "IpAddress": {"aws:SourceIp": [r.cidr]},
                    "StringEquals": {"aws:PrincipalTag/team": [r.team]},
                    "Bool": {"aws:MultiFactorAuthPresent": "true"}
                }
            })
        })
        .collect();
    serde_json::to_string_pretty(&json!({"Version": "2012-10-17", "Statement": stmts}))
        .unwrap_or_default()
}

/// The same rules as Cedar policies (one Cedar policy per IAM statement).
pub fn cedar_policies(policies: usize, statements: usize) -> String {
    cedar_policies_in(Services::Ten, policies, statements)
}

/// [`cedar_policies`] in a layout.
pub fn cedar_policies_in(layout: Services, policies: usize, statements: usize) -> String {
    let mut out = String::new();
    for i in 0..policies {
        for j in 0..statements {
            let r = rule_in(layout, i, j);
            let when = format!(
                "context.resource_arn like \"{}\" && context.source_ip.isInRange(ip(\"{}\")) && context.team == \"{}\" && context.mfa == true",
                r.resource_pattern, r.cidr, r.team
            );
            let scope = format!("action == Action::\"{}\"", r.cedar_action);
            out.push_str(&cedar_policy(&format!("P{i}S{j}"), r.deny, &scope, &when));
        }
    }
    out
}

/// One Cedar policy: `permit` (or `forbid`) with the action scope and the `when` clause.
fn cedar_policy(id: &str, deny: bool, action_scope: &str, when: &str) -> String {
    let effect = if deny { "forbid" } else { "permit" };
    format!("@id(\"{id}\")\n{effect}(principal, {action_scope}, resource)\nwhen {{ {when} }};\n")
}

/// How many statements [`six_kb_policy`] holds.
fn six_kb_statements() -> usize {
    let mut n = 1;
    while serde_json::to_string(&six_kb_json(n + 1))
        .unwrap_or_default()
        .len()
        <= 5800
    {
        n += 1;
    }
    n
}

fn six_kb_json(n: usize) -> serde_json::Value {
    let stmts: Vec<_> = (0..n)
        .map(|j| {
            let r = rule(j, j);
            json!({
                "Sid": format!("S{j}"),
                "Effect": if r.deny { "Deny" } else { "Allow" },
                "Action": [r.iam_action, "iam:List*"],
                "Resource": [r.resource_pattern, format!("arn:aws:iam::{ACCT}:host/${{aws:username}}")],
                "Condition": {
                    "IpAddress": {"aws:SourceIp": [r.cidr, "2001:db8::/32"]},
                    "StringLike": {"aws:PrincipalTag/team": [r.team, "ops-*"]},
                    "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
                    "Bool": {"aws:MultiFactorAuthPresent": "true"}
                }
            })
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": stmts})
}

/// A managed policy of about 6 KB (non-whitespace), under the 6,144 quota.
pub fn six_kb_policy() -> String {
    serde_json::to_string_pretty(&six_kb_json(six_kb_statements())).unwrap_or_default()
}

/// The rules of [`six_kb_policy`] as Cedar policies, one per statement: the same
/// actions (Cedar names concrete actions), resources (`${aws:username}` becomes a
/// context attribute holding the user's host ARN), and conditions (`isInRange`, `like`,
/// `datetime` comparison, `==`). Validated against [`cedar_schema`].
pub fn cedar_six_kb_policies() -> String {
    let mut out = String::new();
    for j in 0..six_kb_statements() {
        let r = rule(j, j);
        let scope = format!(
            "action in [Action::\"{}\", Action::\"iam:ListThing\"]",
            r.cedar_action
        );
        let when = format!(
            "(context.resource_arn like \"{}\" || context.resource_arn == context.user_host_arn)\n\
             && (context.source_ip.isInRange(ip(\"{}\")) || context.source_ip.isInRange(ip(\"2001:db8::/32\")))\n\
             && (context.team like \"{}\" || context.team like \"ops-*\")\n\
             && context.now < datetime(\"2030-01-01T00:00:00Z\")\n\
             && context.mfa == true",
            r.resource_pattern, r.cidr, r.team
        );
        out.push_str(&cedar_policy(&format!("S{j}"), r.deny, &scope, &when));
    }
    out
}

/// The Cedar schema every scenario's policies validate against (the request shape:
/// what pam-iam's validator knows about condition keys and their types).
pub fn cedar_schema() -> String {
    let actions: Vec<String> = cedar_actions().iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "entity User;\nentity Host;\n\
         type Ctx = {{ resource_arn: String, user_host_arn: String, source_ip: ipaddr, team: String, mfa: Bool, now: datetime }};\n\
         action {} appliesTo {{ principal: [User], resource: [Host], context: Ctx }};\n",
        actions.join(", ")
    )
}
