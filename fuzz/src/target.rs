//! The function both fuzz drivers call (cargo-fuzz's `fuzz_targets/policy.rs` and the
//! stable smoke harness `tests/policy_fuzz_smoke.rs`). It must never panic.
//!
//! Input layout (lossy UTF-8): `POLICY \0 REQUEST-LINES \0 CONTEXT-ENTRIES`, where the
//! request lines are `action`, `resource`, `principal`, then `key=value` context pairs
//! (`key=a|b|c` for multi-valued keys). The policy kind is picked from the input length.

use pam_iam::policy::{
    Context, Policy, PolicyKind, PolicySet, Request, Source, evaluate, evaluate_trust, simulate,
};

const KINDS: [PolicyKind; 7] = [
    PolicyKind::Managed,
    PolicyKind::UserInline,
    PolicyKind::GroupInline,
    PolicyKind::RoleInline,
    PolicyKind::Trust,
    PolicyKind::Boundary,
    PolicyKind::Session,
];

pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\0');
    let policy_text = parts.next().unwrap_or("");
    let request_text = parts.next().unwrap_or("");
    let entries_text = parts.next().unwrap_or("");

    let mut lines = request_text.lines();
    let action = lines.next().unwrap_or("host:Login").to_string();
    let resource = lines.next().unwrap_or("*").to_string();
    let principal_arn = lines
        .next()
        .unwrap_or("arn:aws:iam::123456789012:user/alice")
        .to_string();
    let mut context = Context::new();
    for l in lines {
        if let Some((k, v)) = l.split_once('=') {
            if v.contains('|') {
                context.insert_values(k, v.split('|').map(str::to_string).collect());
            } else {
                context.insert(k, v);
            }
        }
    }
    if let Ok(entries) = simulate::parse_context_entries(entries_text) {
        if let Ok(extra) = simulate::context_from_entries(&entries) {
            let _ = extra.len();
        }
    }
    let req = Request {
        action,
        resource,
        principal_arn,
        context,
    };

    let kind = KINDS[data.len() % KINDS.len()];
    let Ok(policy) = Policy::parse(policy_text, kind) else {
        return;
    };
    let _ = simulate::statement_positions(policy_text);
    if kind == PolicyKind::Trust {
        let _ = evaluate_trust(&policy, &req);
        return;
    }
    let mut set = PolicySet {
        identity: vec![(Source::named("fuzz"), policy.clone())],
        boundary: None,
        session: None,
        managed_session: Vec::new(),
    };
    let d1 = evaluate(&set, &req);
    set.boundary = Some((Source::named("boundary"), policy.clone()));
    set.session = Some((Source::named("session"), policy));
    let d2 = evaluate(&set, &req);
    // The same policy as identity, boundary and session cannot change the decision.
    assert_eq!(
        d1.effect, d2.effect,
        "same policy as boundary/session changed the decision"
    );
    let results = simulate::simulate(
        &set,
        std::slice::from_ref(&req.action),
        std::slice::from_ref(&req.resource),
        &req.principal_arn,
        &req.context,
    );
    let _ = simulate::results_json(&results, &[("fuzz", policy_text)]);
}
