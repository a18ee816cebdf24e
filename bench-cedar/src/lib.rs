//! Both engines on the same scenarios (../benches/policy_scenarios): pam-iam's policy
//! engine and cedar-policy. Used by src/main.rs, in-process (`compare`: the two engines
//! measured batch by batch in turn) and in a fresh process (one load + one decision).

#[path = "../../benches/policy_scenarios/mod.rs"]
pub mod scenarios;

use cedar_policy as cedar;
use pam_iam::policy as iam;
use std::collections::HashMap;

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

/// Parses (and so validates: pam-iam always does) a principal's documents.
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

/// Cedar's validator over the scenarios' schema (parsed once: a long-lived process
/// keeps it; a fresh process pays for it in [`cedar_validator`]).
pub fn cedar_validator() -> cedar::Validator {
    let (schema, _warnings) =
        cedar::Schema::from_cedarschema_str(&scenarios::cedar_schema()).expect("cedar schema");
    cedar::Validator::new(schema)
}

/// Parses Cedar policy text (no validation).
pub fn cedar_parse(text: &str) -> cedar::PolicySet {
    text.parse().expect("cedar policies parse")
}

/// Parses Cedar policy text and validates it against the schema (strict mode), as
/// pam-iam's parse validates its documents.
pub fn cedar_load(text: &str, validator: &cedar::Validator) -> cedar::PolicySet {
    let ps = cedar_parse(text);
    let result = validator.validate(&ps, cedar::ValidationMode::Strict);
    assert!(
        result.validation_passed(),
        "cedar validation: {:?}",
        result.validation_errors().next()
    );
    ps
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

/// A Cedar policy set split by the action each policy names, built once, so a decision
/// only hands Cedar the policies of the request's action (what pam-iam's service index
/// does for services). Policies without an action constraint go into every subset.
pub struct CedarByAction {
    sets: HashMap<String, cedar::PolicySet>,
    any: cedar::PolicySet,
}

impl CedarByAction {
    /// Splits a policy set by action.
    pub fn new(ps: &cedar::PolicySet) -> Self {
        let mut names: Vec<String> = Vec::new();
        let mut any = Vec::new();
        let mut per: Vec<(cedar::Policy, Vec<String>)> = Vec::new();
        for p in ps.policies() {
            match p.action_constraint() {
                cedar::ActionConstraint::Any => any.push(p.clone()),
                cedar::ActionConstraint::Eq(a) => {
                    let a = a.id().unescaped().to_string();
                    names.push(a.clone());
                    per.push((p.clone(), vec![a]));
                }
                cedar::ActionConstraint::In(v) => {
                    let v: Vec<String> = v.iter().map(|a| a.id().unescaped().to_string()).collect();
                    names.extend(v.iter().cloned());
                    per.push((p.clone(), v));
                }
            }
        }
        names.sort();
        names.dedup();
        let mut sets = HashMap::new();
        for n in &names {
            let mut s = cedar::PolicySet::new();
            for p in &any {
                s.add(p.clone()).expect("add");
            }
            for (p, acts) in &per {
                if acts.contains(n) {
                    s.add(p.clone()).expect("add");
                }
            }
            sets.insert(n.clone(), s);
        }
        let mut any_set = cedar::PolicySet::new();
        for p in any {
            any_set.add(p).expect("add");
        }
        CedarByAction { sets, any: any_set }
    }

    /// The policies that can apply to an action.
    pub fn for_action(&self, action: &str) -> &cedar::PolicySet {
        self.sets.get(action).unwrap_or(&self.any)
    }

    /// Number of policies handed to Cedar for an action.
    pub fn len_for(&self, action: &str) -> usize {
        self.for_action(action).policies().count()
    }
}
