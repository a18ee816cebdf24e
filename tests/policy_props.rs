//! Property tests of the evaluation logic: statement order never changes a decision;
//! adding a Deny never turns a deny into an allow; adding an Allow never turns an
//! explicit deny into an allow.

use pam_iam::policy::{Context, Effect, Policy, PolicyKind, PolicySet, Request, Source, evaluate};
use proptest::prelude::*;
use serde_json::{Value, json};

const ACTIONS: &[&str] = &[
    "host:Login",
    "host:Sudo",
    "host:*",
    "HOST:log*",
    "iam:*",
    "*",
    "sts:AssumeRole",
    "iam:Create?ser",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:iam::123456789012:host/web1",
    "arn:aws:iam::*:host/web*",
    "arn:aws:iam::123456789012:host/${aws:username}",
    "arn:aws:iam::123456789012:host/db?",
];
const CONDITIONS: &[&str] = &[
    r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
    r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
    r#"{"Bool":{"aws:MultiFactorAuthPresent":"true"}}"#,
    r#"{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}"#,
    r#"{"StringEquals":{"aws:username":["alice","bob"]}}"#,
    r#"{"StringNotLike":{"host:Service":"ssh*"}}"#,
    r#"{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}"#,
    r#"{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
    r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}"#,
    r#"{"ForAnyValue:StringLike":{"aws:TagKeys":["a*"]}}"#,
    r#"{"Null":{"aws:TokenIssueTime":"true"}}"#,
];

#[derive(Debug, Clone)]
struct Stmt {
    deny: bool,
    not_action: bool,
    actions: Vec<usize>,
    not_resource: bool,
    resources: Vec<usize>,
    conditions: Vec<usize>,
}

fn stmt() -> impl Strategy<Value = Stmt> {
    (
        any::<bool>(),
        prop::bool::weighted(0.15),
        prop::collection::vec(0..ACTIONS.len(), 1..3),
        prop::bool::weighted(0.15),
        prop::collection::vec(0..RESOURCES.len(), 1..3),
        prop::collection::vec(0..CONDITIONS.len(), 0..3),
    )
        .prop_map(
            |(deny, not_action, actions, not_resource, resources, conditions)| Stmt {
                deny,
                not_action,
                actions,
                not_resource,
                resources,
                conditions,
            },
        )
}

fn stmt_json(s: &Stmt, sid: usize) -> Value {
    let mut o = json!({
        "Sid": format!("S{sid}"),
        "Effect": if s.deny { "Deny" } else { "Allow" },
    });
    let actions: Vec<&str> = s.actions.iter().map(|&i| ACTIONS[i]).collect();
    o[if s.not_action { "NotAction" } else { "Action" }] = json!(actions);
    let resources: Vec<&str> = s.resources.iter().map(|&i| RESOURCES[i]).collect();
    o[if s.not_resource {
        "NotResource"
    } else {
        "Resource"
    }] = json!(resources);
    let mut cond = serde_json::Map::new();
    for &c in &s.conditions {
        let v: Value = serde_json::from_str(CONDITIONS[c]).expect("fixture");
        if let Value::Object(m) = v {
            for (k, v) in m {
                cond.entry(k).or_insert(v);
            }
        }
    }
    if !cond.is_empty() {
        o["Condition"] = Value::Object(cond);
    }
    o
}

/// Policies as lists of statements; each statement keeps a unique Sid so reordering
/// keeps the document valid.
fn build(policies: &[Vec<(usize, Stmt)>]) -> PolicySet {
    let identity = policies
        .iter()
        .enumerate()
        .map(|(i, stmts)| {
            let doc = json!({
                "Version": "2012-10-17",
                "Statement": stmts.iter().map(|(sid, s)| stmt_json(s, *sid)).collect::<Vec<_>>(),
            });
            let p = Policy::parse(&doc.to_string(), PolicyKind::RoleInline)
                .expect("generated policy is valid");
            (Source::named(format!("p{i}")), p)
        })
        .collect();
    PolicySet {
        identity,
        boundary: None,
        session: None,
        managed_session: Vec::new(),
    }
}

fn request() -> impl Strategy<Value = Request> {
    (
        prop::sample::select(vec![
            "host:Login",
            "host:Sudo",
            "iam:CreateUser",
            "sts:AssumeRole",
            "ec2:Run",
        ]),
        prop::sample::select(vec![
            "arn:aws:iam::123456789012:host/web1",
            "arn:aws:iam::123456789012:host/db1",
            "arn:aws:iam::123456789012:host/alice",
        ]),
        prop::option::of(prop::sample::select(vec!["10.1.2.3", "192.0.2.1", "::1"])),
        prop::option::of(any::<bool>()),
        prop::option::of(prop::sample::select(vec!["alice", "bob", "carol"])),
        prop::option::of(prop::collection::vec(
            prop::sample::select(vec!["a", "b", "c", "ab"]),
            0..3,
        )),
        prop::option::of(prop::sample::select(vec!["sshd", "sudo", "login"])),
    )
        .prop_map(|(action, resource, ip, mfa, user, tags, service)| {
            let mut c = Context::new();
            if let Some(ip) = ip {
                c.insert("aws:SourceIp", ip);
            }
            if let Some(m) = mfa {
                c.insert("aws:MultiFactorAuthPresent", m.to_string());
                c.insert("aws:MultiFactorAuthAge", if m { "100" } else { "7200" });
            }
            if let Some(u) = user {
                c.insert("aws:username", u);
            }
            if let Some(t) = tags {
                c.insert_values("aws:TagKeys", t.into_iter().map(String::from).collect());
            }
            if let Some(s) = service {
                c.insert("host:Service", s);
            }
            c.insert("aws:CurrentTime", "2026-06-01T00:00:00Z");
            Request {
                action: action.into(),
                resource: resource.into(),
                principal_arn: "arn:aws:iam::123456789012:user/alice".into(),
                context: c,
            }
        })
}

fn numbered(policies: Vec<Vec<Stmt>>) -> Vec<Vec<(usize, Stmt)>> {
    let mut n = 0;
    policies
        .into_iter()
        .map(|p| {
            p.into_iter()
                .map(|s| {
                    n += 1;
                    (n, s)
                })
                .collect()
        })
        .collect()
}

fn policies() -> impl Strategy<Value = Vec<Vec<Stmt>>> {
    prop::collection::vec(prop::collection::vec(stmt(), 1..6), 1..4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn statement_order_never_changes_a_decision(
        ps in policies(),
        r in request(),
        seed in any::<u64>(),
    ) {
        let ps = numbered(ps);
        let before = evaluate(&build(&ps), &r);
        // Reverse every policy's statements and the policy order, then rotate by seed.
        let mut shuffled: Vec<Vec<(usize, Stmt)>> = ps.iter().rev().map(|p| {
            let mut p = p.clone();
            p.reverse();
            let k = (seed as usize) % p.len().max(1);
            p.rotate_left(k);
            p
        }).collect();
        let k = (seed as usize >> 8) % shuffled.len().max(1);
        shuffled.rotate_left(k);
        let after = evaluate(&build(&shuffled), &r);
        prop_assert_eq!(before.effect, after.effect);
        let sids = |d: &pam_iam::policy::Decision| {
            let mut v: Vec<String> = d.matched.iter().filter_map(|m| m.sid.clone()).collect();
            v.sort();
            v
        };
        prop_assert_eq!(sids(&before), sids(&after));
        let mut mb = before.missing_context.clone();
        let mut ma = after.missing_context.clone();
        mb.sort();
        ma.sort();
        prop_assert_eq!(mb, ma);
    }

    #[test]
    fn adding_a_deny_never_turns_deny_into_allow(
        ps in policies(),
        mut extra in stmt(),
        at in any::<prop::sample::Index>(),
        r in request(),
    ) {
        let mut ps = numbered(ps);
        let before = evaluate(&build(&ps), &r);
        extra.deny = true;
        let i = at.index(ps.len());
        ps[i].push((1000, extra));
        let after = evaluate(&build(&ps), &r);
        if before.effect != Effect::Allowed {
            prop_assert_ne!(after.effect, Effect::Allowed);
        }
        if before.effect == Effect::ExplicitDeny {
            prop_assert_eq!(after.effect, Effect::ExplicitDeny);
        }
    }

    #[test]
    fn adding_an_allow_never_turns_explicit_deny_into_allow(
        ps in policies(),
        mut extra in stmt(),
        new_policy in any::<bool>(),
        at in any::<prop::sample::Index>(),
        r in request(),
    ) {
        let mut ps = numbered(ps);
        let before = evaluate(&build(&ps), &r);
        extra.deny = false;
        if new_policy {
            ps.push(vec![(1000, extra)]);
        } else {
            let i = at.index(ps.len());
            ps[i].push((1000, extra));
        }
        let after = evaluate(&build(&ps), &r);
        if before.effect == Effect::ExplicitDeny {
            prop_assert_eq!(after.effect, Effect::ExplicitDeny);
        }
        if before.effect == Effect::Allowed {
            prop_assert_eq!(after.effect, Effect::Allowed);
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_text(s in ".{0,400}") {
        for kind in [PolicyKind::Managed, PolicyKind::Trust] {
            let _ = Policy::parse(&s, kind);
        }
    }
}
