//! Behaviour tests of the policy engine, derived from AWS's documentation examples:
//! every condition operator (a case that holds, one that does not, the missing key),
//! validation errors, and the evaluation logic; one file each, sharing the request
//! builders below.

use super::*;

mod conditions;
mod evaluation;
mod validation;

const ACCT: &str = "123456789012";

fn ctx(pairs: &[(&str, &str)]) -> Context {
    let mut c = Context::new();
    for (k, v) in pairs {
        c.insert(k, *v);
    }
    c
}

fn req(action: &str, resource: &str, context: Context) -> Request {
    Request {
        action: action.into(),
        resource: resource.into(),
        principal_arn: format!("arn:aws:iam::{ACCT}:user/alice"),
        context,
    }
}

fn set_of(docs: &[&str]) -> PolicySet {
    PolicySet {
        identity: docs
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let p = Policy::parse(d, PolicyKind::Managed)
                    .unwrap_or_else(|e| panic!("policy {i} refused: {e}\n{d}"));
                (Source::named(format!("p{i}")), p)
            })
            .collect(),
        boundary: None,
        session: None,
        managed_session: Vec::new(),
    }
}
