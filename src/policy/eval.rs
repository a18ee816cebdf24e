//! AWS evaluation logic over compiled policies.
//!
//! Within the principal's account: an explicit Deny in any policy wins; otherwise the
//! identity policies must Allow, and so must the permissions boundary (when set) and
//! the session policy (when set) — they intersect; otherwise the request is implicitly
//! denied. Trust policies are evaluated on their own with [`evaluate_trust`].

use super::context::Context;
use super::document::{
    ActionSpec, Policy, PrincipalId, ResourceSpec, Statement, StatementEffect, service_bit,
};
use super::variables::Missing;

/// The outcome of an evaluation, in AWS's three values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// At least one Allow, no Deny, and every intersecting policy allows.
    Allowed,
    /// A statement with `"Effect": "Deny"` matched.
    ExplicitDeny,
    /// Nothing allowed it (the default).
    ImplicitDeny,
}

impl Effect {
    /// AWS's simulator spelling (`allowed`, `explicitDeny`, `implicitDeny`).
    pub fn as_aws_str(self) -> &'static str {
        match self {
            Effect::Allowed => "allowed",
            Effect::ExplicitDeny => "explicitDeny",
            Effect::ImplicitDeny => "implicitDeny",
        }
    }
}

/// Where a policy came from, in AWS simulator terms (`SourcePolicyType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceType {
    /// An inline policy of the user.
    User,
    /// An inline policy of a group the user is in.
    Group,
    /// An inline policy of the role.
    Role,
    /// A customer managed policy.
    UserManaged,
    /// An AWS managed policy (not used by pam-iam stores, kept for the simulator shape).
    AwsManaged,
    /// A resource-based policy, such as a role trust policy.
    Resource,
    /// A document given to the simulator (`--policy-input-list`), shown as `IAM Policy`.
    Input,
    /// Anything else: boundaries and session policies known only by name.
    None,
}

impl SourceType {
    /// AWS's spelling in `MatchedStatements[].SourcePolicyType`.
    pub fn as_aws_str(self) -> &'static str {
        match self {
            SourceType::User => "user",
            SourceType::Group => "group",
            SourceType::Role => "role",
            SourceType::UserManaged => "user-managed",
            SourceType::AwsManaged => "aws-managed",
            SourceType::Resource => "resource",
            SourceType::Input => "IAM Policy",
            SourceType::None => "none",
        }
    }
}

/// Names a policy in decisions (policy ARN for managed policies, a name such as
/// `user/alice/inline-name` for inline ones), so logs say which policy decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Policy ARN or name.
    pub id: String,
    /// What kind of policy it is.
    pub kind: SourceType,
}

impl Source {
    /// A source with an explicit type.
    pub fn new(id: impl Into<String>, kind: SourceType) -> Self {
        Source {
            id: id.into(),
            kind,
        }
    }

    /// A source known only by name (type `none`).
    pub fn named(id: impl Into<String>) -> Self {
        Self::new(id, SourceType::None)
    }
}

/// One request to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `service:Action`, compared case-insensitively (`host:Login`).
    pub action: String,
    /// The resource ARN, compared case-sensitively.
    pub resource: String,
    /// Who asks (user ARN or assumed-role session ARN); trust policies match it.
    pub principal_arn: String,
    /// Condition keys of the request.
    pub context: Context,
}

/// Every policy that applies to one principal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicySet {
    /// User inline + attached + each group's policies, or the role's.
    pub identity: Vec<(Source, Policy)>,
    /// The permissions boundary, if the principal has one.
    pub boundary: Option<(Source, Policy)>,
    /// The session policy of a role session, if it was given one.
    pub session: Option<(Source, Policy)>,
}

/// A statement that decided (or took part in) a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement {
    /// Policy ARN or name ([`Source::id`]).
    pub source: String,
    /// [`Source::kind`].
    pub source_type: SourceType,
    /// Statement index in the document (0-based).
    pub index: usize,
    /// The statement's Sid, if any.
    pub sid: Option<String>,
    /// Allow or Deny.
    pub effect: StatementEffect,
}

/// The result of an evaluation, with the reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allowed, explicit deny, or implicit deny.
    pub effect: Effect,
    /// For an explicit deny: the Deny statements that matched. For allowed: the Allow
    /// statements (identity, boundary, session). For an implicit deny: empty.
    pub matched: Vec<MatchedStatement>,
    /// Condition keys (and variable keys) the matching statements read that the request
    /// did not carry.
    pub missing_context: Vec<String>,
    /// `Some(allowed)` when a permissions boundary was part of the evaluation.
    pub boundary_allowed: Option<bool>,
}

impl Decision {
    /// Shorthand for `effect == Effect::Allowed`.
    pub fn is_allowed(&self) -> bool {
        self.effect == Effect::Allowed
    }
}

fn account_of(arn: &str) -> Option<&str> {
    let mut it = arn.splitn(6, ':');
    if it.next()? != "arn" {
        return None;
    }
    it.nth(3)
}

fn principal_id_matches(id: &PrincipalId, req: &Request) -> bool {
    let alt = req.context.single_folded("aws:principalarn");
    match id {
        PrincipalId::Any => true,
        PrincipalId::Account(a) => {
            account_of(&req.principal_arn) == Some(a)
                || alt.and_then(account_of) == Some(a)
                || req.context.single_folded("aws:principalaccount") == Some(a)
        }
        PrincipalId::Exact(e) => **e == *req.principal_arn || alt == Some(e),
    }
}

/// Whether a statement applies to the request (action, resource, principal, all
/// conditions).
fn statement_matches(st: &Statement, req: &Request, missing: &mut Missing) -> bool {
    let action = req.action.as_str();
    let action_ok = match &st.actions {
        ActionSpec::Action(pats) => pats.iter().any(|p| p.glob.matches_plain(action, true)),
        ActionSpec::NotAction(pats) => !pats.iter().any(|p| p.glob.matches_plain(action, true)),
    };
    if !action_ok {
        return false;
    }
    let ctx = &req.context;
    let resource_ok = match &st.resources {
        ResourceSpec::Resource(gs) => gs
            .iter()
            .any(|g| g.matches(&req.resource, false, ctx, missing)),
        ResourceSpec::NotResource(gs) => !gs
            .iter()
            .any(|g| g.matches(&req.resource, false, ctx, missing)),
        ResourceSpec::Absent => true,
    };
    if !resource_ok {
        return false;
    }
    if let Some(p) = &st.principal {
        let any = p.ids.iter().any(|id| principal_id_matches(id, req));
        if any == p.negated {
            return false;
        }
    }
    // AND across conditions; after the first false, keep only noting missing keys so
    // MissingContextValues lists every key the statement needs.
    let mut ok = true;
    for c in &st.conditions {
        if ok {
            ok = c.eval(ctx, missing);
        } else {
            c.note_missing(ctx, missing);
        }
    }
    ok
}

#[derive(Default)]
struct Hits {
    allow: Vec<u32>,
    deny: Vec<u32>,
}

/// The request's action service and its index bit, computed once per decision.
struct Service<'a> {
    name: &'a str,
    bit: u64,
}

impl<'a> Service<'a> {
    fn of(action: &'a str) -> Self {
        let name = action.split_once(':').map_or("", |(s, _)| s);
        Service {
            name,
            bit: service_bit(name),
        }
    }
}

fn scan(p: &Policy, req: &Request, service: &Service<'_>, missing: &mut Missing) -> Hits {
    let mut hits = Hits::default();
    let (any, specific) = p.index.candidates(service.name, service.bit);
    for &i in any.iter().chain(specific) {
        let Some(st) = p.statements.get(i as usize) else {
            continue;
        };
        if statement_matches(st, req, missing) {
            match st.effect {
                StatementEffect::Allow => hits.allow.push(i),
                StatementEffect::Deny => hits.deny.push(i),
            }
        }
    }
    hits.allow.sort_unstable();
    hits.deny.sort_unstable();
    hits
}

fn report(src: &Source, p: &Policy, idx: &[u32], out: &mut Vec<MatchedStatement>) {
    for &i in idx {
        if let Some(st) = p.statements.get(i as usize) {
            out.push(MatchedStatement {
                source: src.id.clone(),
                source_type: src.kind,
                index: i as usize,
                sid: st.sid.as_deref().map(str::to_owned),
                effect: st.effect,
            });
        }
    }
}

/// Decides a request against a principal's policies with AWS's logic: explicit deny,
/// then allow (intersected with the boundary and the session policy), else implicit
/// deny. Never fails: anything unexpected in the request simply does not match.
pub fn evaluate(set: &PolicySet, req: &Request) -> Decision {
    let service = Service::of(&req.action);
    let mut missing = Missing::default();
    let identity: Vec<Hits> = set
        .identity
        .iter()
        .map(|(_, p)| scan(p, req, &service, &mut missing))
        .collect();
    let boundary = set
        .boundary
        .as_ref()
        .map(|(_, p)| scan(p, req, &service, &mut missing));
    let session = set
        .session
        .as_ref()
        .map(|(_, p)| scan(p, req, &service, &mut missing));

    let any_deny = identity.iter().any(|h| !h.deny.is_empty())
        || boundary.as_ref().is_some_and(|h| !h.deny.is_empty())
        || session.as_ref().is_some_and(|h| !h.deny.is_empty());
    let boundary_allowed = boundary
        .as_ref()
        .map(|h| !h.allow.is_empty() && h.deny.is_empty());
    let mut matched = Vec::new();
    let effect = if any_deny {
        for ((src, p), h) in set.identity.iter().zip(&identity) {
            report(src, p, &h.deny, &mut matched);
        }
        if let (Some((src, p)), Some(h)) = (&set.boundary, &boundary) {
            report(src, p, &h.deny, &mut matched);
        }
        if let (Some((src, p)), Some(h)) = (&set.session, &session) {
            report(src, p, &h.deny, &mut matched);
        }
        Effect::ExplicitDeny
    } else {
        let id_allows = identity.iter().any(|h| !h.allow.is_empty());
        let b_ok = boundary.as_ref().is_none_or(|h| !h.allow.is_empty());
        let s_ok = session.as_ref().is_none_or(|h| !h.allow.is_empty());
        if id_allows && b_ok && s_ok {
            for ((src, p), h) in set.identity.iter().zip(&identity) {
                report(src, p, &h.allow, &mut matched);
            }
            if let (Some((src, p)), Some(h)) = (&set.boundary, &boundary) {
                report(src, p, &h.allow, &mut matched);
            }
            if let (Some((src, p)), Some(h)) = (&set.session, &session) {
                report(src, p, &h.allow, &mut matched);
            }
            Effect::Allowed
        } else {
            Effect::ImplicitDeny
        }
    };
    Decision {
        effect,
        matched,
        missing_context: missing.keys,
        boundary_allowed,
    }
}

/// Decides whether `req.principal_arn` may perform `req.action` (normally
/// `sts:AssumeRole`) under a role's trust policy: a statement must match the principal
/// (`Principal` / `NotPrincipal`), the action and the conditions; a Deny wins.
pub fn evaluate_trust(policy: &Policy, req: &Request) -> Decision {
    evaluate_trust_from(
        &Source::new("AssumeRolePolicyDocument", SourceType::Resource),
        policy,
        req,
    )
}

/// [`evaluate_trust`] with the trust policy named (for example by the role ARN).
pub fn evaluate_trust_from(source: &Source, policy: &Policy, req: &Request) -> Decision {
    let mut missing = Missing::default();
    let hits = scan(policy, req, &Service::of(&req.action), &mut missing);
    let mut matched = Vec::new();
    let effect = if !hits.deny.is_empty() {
        report(source, policy, &hits.deny, &mut matched);
        Effect::ExplicitDeny
    } else if !hits.allow.is_empty() {
        report(source, policy, &hits.allow, &mut matched);
        Effect::Allowed
    } else {
        Effect::ImplicitDeny
    };
    Decision {
        effect,
        matched,
        missing_context: missing.keys,
        boundary_allowed: None,
    }
}
