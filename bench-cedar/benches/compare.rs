//! pam-iam vs cedar-policy, same scenarios, same run.
//!
//!   cd bench-cedar && cargo bench --bench compare -- --warm-up-time 1 --measurement-time 3
use bench_cedar::{scenarios, *};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn benches(c: &mut Criterion) {
    let ireq = iam_request();
    let creq = cedar_request();
    let entities = cedar_policy::Entities::empty();

    let docs_a = scenarios::iam_documents(10, 10);
    let text_a = scenarios::cedar_policies(10, 10);
    let set_a = iam_load(&docs_a);
    let ps_a = cedar_load(&text_a);
    assert!(pam_iam::policy::evaluate(&set_a, &ireq).is_allowed());
    assert!(cedar_decide(&ps_a, &creq, &entities));
    c.bench_function("a_decide_100_rules/pam-iam", |b| {
        b.iter(|| pam_iam::policy::evaluate(black_box(&set_a), black_box(&ireq)))
    });
    c.bench_function("a_decide_100_rules/cedar", |b| {
        b.iter(|| cedar_decide(black_box(&ps_a), black_box(&creq), &entities))
    });

    let docs_b = scenarios::iam_documents_one_per_rule(100, 10);
    let text_b = scenarios::cedar_policies(100, 10);
    let set_b = iam_load(&docs_b);
    let ps_b = cedar_load(&text_b);
    assert!(pam_iam::policy::evaluate(&set_b, &ireq).is_allowed());
    assert!(cedar_decide(&ps_b, &creq, &entities));
    c.bench_function("b_decide_1000_policies/pam-iam", |b| {
        b.iter(|| pam_iam::policy::evaluate(black_box(&set_b), black_box(&ireq)))
    });
    c.bench_function("b_decide_1000_policies/cedar", |b| {
        b.iter(|| cedar_decide(black_box(&ps_b), black_box(&creq), &entities))
    });

    // (c) ~6 KB of policy text: the IAM 6 KB document vs the first Cedar policies
    // totalling about 6 KB.
    let six = scenarios::six_kb_policy();
    let mut cedar_six = String::new();
    for chunk in text_a.split_inclusive("};\n") {
        if cedar_six.len() + chunk.len() > six.len() {
            break;
        }
        cedar_six.push_str(chunk);
    }
    c.bench_function("c_parse_6kb/pam-iam", |b| {
        b.iter(|| pam_iam::policy::Policy::parse(black_box(&six), pam_iam::policy::PolicyKind::Managed))
    });
    c.bench_function("c_parse_6kb/cedar", |b| {
        b.iter(|| black_box(&cedar_six).parse::<cedar_policy::PolicySet>())
    });

    c.bench_function("d_cold_100_rules/pam-iam", |b| {
        b.iter(|| pam_iam::policy::evaluate(&iam_load(black_box(&docs_a)), &ireq))
    });
    c.bench_function("d_cold_100_rules/cedar", |b| {
        b.iter(|| cedar_decide(&cedar_load(black_box(&text_a)), &creq, &entities))
    });
    c.bench_function("d_cold_1000_policies/pam-iam", |b| {
        b.iter(|| pam_iam::policy::evaluate(&iam_load(black_box(&docs_b)), &ireq))
    });
    c.bench_function("d_cold_1000_policies/cedar", |b| {
        b.iter(|| cedar_decide(&cedar_load(black_box(&text_b)), &creq, &entities))
    });
}

criterion_group!(compare, benches);
criterion_main!(compare);
