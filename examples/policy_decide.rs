//! Runs one policy benchmark scenario N times, for instruction counts that do not move
//! with the machine's load (benches/policy_scenarios; docs/benchmarks-policy.md):
//!
//!   cargo build --release --example policy_decide
//!   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \
//!       target/release/examples/policy_decide b 1000
//!   callgrind_annotate /tmp/cg.out | head -40
//!
//! Scenarios: `a` (10 policies × 10 statements), `b` (1,000 policies), `one` (1,000
//! policies, every action in one service), `parse` (parse + validate the 6 KB policy).
//! Setup (parsing the scenario's policies) runs once before the N iterations; subtract
//! a run with N = 0 to get the cost of the iterations alone.
use pam_iam::policy::{Context, Policy, PolicyKind, PolicySet, Request, Source, evaluate};
use std::hint::black_box;

#[path = "../benches/policy_scenarios/mod.rs"]
mod scenarios;

fn load(docs: &[String]) -> PolicySet {
    let mut set = PolicySet::default();
    for (i, d) in docs.iter().enumerate() {
        let p = Policy::parse(d, PolicyKind::Managed).expect("scenario policy parses");
        set.identity.push((Source::named(format!("p{i}")), p));
    }
    set
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("b", String::as_str);
    let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let mut c = Context::new();
    c.insert("aws:SourceIp", scenarios::REQUEST_IP);
    c.insert("aws:PrincipalTag/team", scenarios::REQUEST_TEAM);
    c.insert("aws:MultiFactorAuthPresent", "true");
    c.insert("aws:username", "alice");
    let req = Request {
        action: "host:Login".into(),
        resource: scenarios::REQUEST_RESOURCE.into(),
        principal_arn: "arn:aws:iam::123456789012:user/alice".into(),
        context: c,
    };
    let docs = match which {
        "a" => scenarios::iam_documents(10, 10),
        "b" => scenarios::iam_documents_one_per_rule(100, 10),
        "one" => scenarios::iam_documents_one_per_rule_in(scenarios::Services::One, 100, 10),
        "parse" => {
            let six = scenarios::six_kb_policy();
            for _ in 0..n {
                black_box(Policy::parse(black_box(&six), PolicyKind::Managed).is_ok());
            }
            return;
        }
        other => {
            eprintln!("policy_decide: unknown scenario {other:?} (a, b, one, parse)");
            std::process::exit(2);
        }
    };
    let set = load(&docs);
    assert!(evaluate(&set, &req).is_allowed());
    for _ in 0..n {
        black_box(evaluate(black_box(&set), black_box(&req)));
    }
}
