//! Policy engine benchmarks (criterion). Scenarios: benches/policy_scenarios.
//!
//!   cargo bench --bench policy -- --warm-up-time 1 --measurement-time 3
//!
//! (a) one decision, 10 policies x 10 statements with wildcards and conditions;
//! (b) one decision, 1,000 policies; (c) parse + validate a 6 KB policy;
//! (d) cold path: parse a principal's 10 policies from JSON and decide once
//!     (and the same for 1,000 policies).

use criterion::{Criterion, criterion_group, criterion_main};
use pam_iam::policy::{Context, Policy, PolicyKind, PolicySet, Request, Source, evaluate};
use std::hint::black_box;

#[path = "policy_scenarios/mod.rs"]
mod scenarios;

fn request() -> Request {
    let mut c = Context::new();
    c.insert("aws:SourceIp", scenarios::REQUEST_IP);
    c.insert("aws:PrincipalTag/team", scenarios::REQUEST_TEAM);
    c.insert("aws:MultiFactorAuthPresent", "true");
    c.insert("aws:username", "alice");
    Request {
        action: "host:Login".into(),
        resource: scenarios::REQUEST_RESOURCE.into(),
        principal_arn: "arn:aws:iam::123456789012:user/alice".into(),
        context: c,
    }
}

fn load(docs: &[String]) -> PolicySet {
    let mut set = PolicySet::default();
    for (i, d) in docs.iter().enumerate() {
        if let Ok(p) = Policy::parse(d, PolicyKind::Managed) {
            set.identity.push((Source::named(format!("p{i}")), p));
        }
    }
    set
}

fn benches(c: &mut Criterion) {
    let req = request();
    let docs_a = scenarios::iam_documents(10, 10);
    let set_a = load(&docs_a);
    assert_eq!(set_a.identity.len(), 10);
    assert!(evaluate(&set_a, &req).is_allowed());
    c.bench_function("a_decide_10x10", |b| {
        b.iter(|| evaluate(black_box(&set_a), black_box(&req)))
    });

    let docs_b = scenarios::iam_documents_one_per_rule(100, 10);
    let set_b = load(&docs_b);
    assert_eq!(set_b.identity.len(), 1000);
    assert!(evaluate(&set_b, &req).is_allowed());
    c.bench_function("b_decide_1000_policies", |b| {
        b.iter(|| evaluate(black_box(&set_b), black_box(&req)))
    });

    let six = scenarios::six_kb_policy();
    assert!(Policy::parse(&six, PolicyKind::Managed).is_ok());
    c.bench_function("c_parse_validate_6kb", |b| {
        b.iter(|| Policy::parse(black_box(&six), PolicyKind::Managed))
    });

    c.bench_function("d_cold_parse_10x10_and_decide", |b| {
        b.iter(|| evaluate(&load(black_box(&docs_a)), black_box(&req)))
    });
    c.bench_function("d_cold_parse_1000_and_decide", |b| {
        b.iter(|| evaluate(&load(black_box(&docs_b)), black_box(&req)))
    });
}

criterion_group!(policy, benches);
criterion_main!(policy);
