//! Benchmark scenarios, shared by benches/policy.rs and bench-cedar/ (which includes this
//! file by path), so both engines decide the same policies for the same request.
//!
//! A scenario is `policies × statements` rules. Rule (i, j):
//! - statement 9 of each policy: `Deny host:Sudo` (never matches a login);
//! - other statements: an Allow of one of ten services (`host:Log*` for j = 0,
//!   `SVC:Get*` otherwise), on `arn:aws:iam::123456789012:host/web-{i%10}-*`, with three
//!   conditions: `IpAddress aws:SourceIp 10.{i%10}.0.0/16`,
//!   `StringEquals aws:PrincipalTag/team team{j%5}`, `Bool aws:MultiFactorAuthPresent true`.
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

pub fn rule(i: usize, j: usize) -> Rule {
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
    let svc = SERVICES[j % 10];
    let (iam_action, cedar_action) = if svc == "host" {
        ("host:Log*".to_string(), "host:Login".to_string())
    } else {
        (format!("{svc}:Get*"), format!("{svc}:GetThing"))
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

/// IAM JSON documents: `policies` documents of `statements` statements each.
pub fn iam_documents(policies: usize, statements: usize) -> Vec<String> {
    (0..policies).map(|i| document(i, 0..statements)).collect()
}

/// The same `policies × statements` rules, one document per rule (1,000 policies).
pub fn iam_documents_one_per_rule(policies: usize, statements: usize) -> Vec<String> {
    (0..policies)
        .flat_map(|i| (0..statements).map(move |j| document(i, j..j + 1)))
        .collect()
}

fn document(i: usize, js: std::ops::Range<usize>) -> String {
    let stmts: Vec<_> = js
        .map(|j| {
            let r = rule(i, j);
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
    let mut out = String::new();
    for i in 0..policies {
        for j in 0..statements {
            let r = rule(i, j);
            out.push_str(&format!(
                "@id(\"P{i}S{j}\")\n{}(principal, action == Action::\"{}\", resource)\nwhen {{ context.resource_arn like \"{}\" && context.source_ip.isInRange(ip(\"{}\")) && context.team == \"{}\" && context.mfa == true }};\n",
                if r.deny { "forbid" } else { "permit" },
                r.cedar_action,
                r.resource_pattern,
                r.cidr,
                r.team,
            ));
        }
    }
    out
}

/// A managed policy of about 6 KB (non-whitespace), under the 6,144 quota.
pub fn six_kb_policy() -> String {
    let mut stmts = Vec::new();
    let mut j = 0;
    loop {
        let r = rule(j, j);
        let s = json!({
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
        });
        stmts.push(s);
        let doc = serde_json::to_string(&json!({"Version": "2012-10-17", "Statement": stmts}))
            .unwrap_or_default();
        if doc.len() > 5800 {
            stmts.pop();
            return serde_json::to_string_pretty(
                &json!({"Version": "2012-10-17", "Statement": stmts}),
            )
            .unwrap_or_default();
        }
        j += 1;
    }
}
