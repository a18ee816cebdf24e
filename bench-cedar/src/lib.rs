//! Both engines on the same scenarios (../benches/policy_scenarios): pam-iam's policy
//! engine and cedar-policy. Used by benches/compare.rs (criterion, in-process) and by
//! src/main.rs (one parse + one decision in a fresh process).

#[path = "../../benches/policy_scenarios/mod.rs"]
pub mod scenarios;

use cedar_policy as cedar;
use pam_iam::policy as iam;

/// The request of the scenarios, for pam-iam.
pub fn iam_request() -> iam::Request {
    let mut c = iam::Context::new();
    c.insert("aws:SourceIp", scenarios::REQUEST_IP);
    c.insert("aws:PrincipalTag/team", scenarios::REQUEST_TEAM);
    c.insert("aws:MultiFactorAuthPresent", "true");
    c.insert("aws:username", "alice");
    iam::Request {
        action: "host:Login".into(),
        resource: scenarios::REQUEST_RESOURCE.into(),
        principal_arn: "arn:aws:iam::123456789012:user/alice".into(),
        context: c,
    }
}

/// Parses a principal's documents (pam-iam).
pub fn iam_load(docs: &[String]) -> iam::PolicySet {
    let mut set = iam::PolicySet::default();
    for (i, d) in docs.iter().enumerate() {
        match iam::Policy::parse(d, iam::PolicyKind::Managed) {
            Ok(p) => set.identity.push((iam::Source::named(format!("p{i}")), p)),
            Err(e) => eprintln!("refused: {e}"),
        }
    }
    set
}

/// The same request for Cedar (everything the conditions read is in the context).
pub fn cedar_request() -> cedar::Request {
    let principal: cedar::EntityUid = r#"User::"alice""#.parse().expect("uid");
    let action: cedar::EntityUid = r#"Action::"host:Login""#.parse().expect("uid");
    let resource: cedar::EntityUid = r#"Host::"web-3-1""#.parse().expect("uid");
    let ctx = cedar::Context::from_json_value(
        serde_json::json!({
            "resource_arn": scenarios::REQUEST_RESOURCE,
            "source_ip": {"__extn": {"fn": "ip", "arg": scenarios::REQUEST_IP}},
            "team": scenarios::REQUEST_TEAM,
            "mfa": true,
        }),
        None,
    )
    .expect("context");
    cedar::Request::new(principal, action, resource, ctx, None).expect("request")
}

/// Parses Cedar policy text.
pub fn cedar_load(text: &str) -> cedar::PolicySet {
    text.parse().expect("cedar policies parse")
}

/// One Cedar decision; true when allowed.
pub fn cedar_decide(
    ps: &cedar::PolicySet,
    req: &cedar::Request,
    entities: &cedar::Entities,
) -> bool {
    cedar::Authorizer::new()
        .is_authorized(req, ps, entities)
        .decision()
        == cedar::Decision::Allow
}
