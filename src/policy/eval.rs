//! AWS evaluation logic over compiled policies.
//!
//! Within the principal's account: an explicit Deny in any policy wins; otherwise the
//! identity policies must Allow, and so must the permissions boundary (when set) and
//! the session policy (when set) — they intersect; otherwise the request is implicitly
//! denied. Trust policies are evaluated on their own with [`evaluate_trust`].

use super::context::Context;
use super::document::{
    ActionSpec, Policy, PrincipalId, ResourceSpec, ServiceIndex, Statement, StatementEffect,
    service_hash,
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
    /// The managed session policies of a role session (`AssumeRole`'s `PolicyArns`).
    /// With the session policy they are the session's policies: a request must be
    /// allowed by one of them as well.
    pub managed_session: Vec<(Source, Policy)>,
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

/// The request's action folded to ASCII lower case once per decision (compiled action
/// patterns are folded, and actions compare case-insensitively). Short actions stay on
/// the stack.
struct FoldedAction {
    inline: [u8; 64],
    heap: Vec<u8>,
    len: usize,
}

impl FoldedAction {
    fn of(action: &str) -> Self {
        let src = action.as_bytes();
        let mut a = FoldedAction {
            inline: [0; 64],
            heap: Vec::new(),
            len: src.len(),
        };
        if let Some(buf) = a.inline.get_mut(..src.len()) {
            buf.copy_from_slice(src);
            buf.make_ascii_lowercase();
        } else {
            a.heap = src.to_ascii_lowercase();
        }
        a
    }

    fn bytes(&self) -> &[u8] {
        match self.inline.get(..self.len) {
            Some(b) if self.heap.is_empty() => b,
            _ => &self.heap,
        }
    }
}

/// The parts of a folded action the index and the matchers need, computed once.
struct Action<'a> {
    folded: &'a [u8],
    /// Up to the first `:` (empty when there is none).
    service: &'a [u8],
    /// What follows `service:` (only used for actions found under their service).
    name: &'a [u8],
    hash: u64,
    bit: u64,
}

impl<'a> Action<'a> {
    fn of(f: &'a FoldedAction) -> Self {
        let folded = f.bytes();
        let (service, name) = match folded.iter().position(|&b| b == b':') {
            Some(i) => (&folded[..i], &folded[i + 1..]),
            None => (&folded[..0], &folded[..0]),
        };
        let hash = service_hash(service);
        Action {
            folded,
            service,
            name,
            hash,
            bit: ServiceIndex::bit(hash),
        }
    }
}

/// Whether a statement applies to the request (action, resource, principal, all
/// conditions).
fn statement_matches(st: &Statement, req: &Request, action: &[u8], missing: &mut Missing) -> bool {
    let action_ok = match &st.actions {
        ActionSpec::Action(pats) => pats.iter().any(|p| p.glob.matches_folded(action)),
        ActionSpec::NotAction(pats) => !pats.iter().any(|p| p.glob.matches_folded(action)),
    };
    action_ok && matches_beyond_action(st, req, missing)
}

/// [`statement_matches`] once the action is known to match.
fn matches_beyond_action(st: &Statement, req: &Request, missing: &mut Missing) -> bool {
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

/// The statements that matched in one decision, as (policy slot, statement index), in
/// slot order and by statement index within a slot. Identity policies are slots
/// `0..n`, then the boundary, then the session policy. One list for all policies, so a
/// decision over 1,000 policies allocates only for what matched.
#[derive(Default)]
struct Hits {
    allow: Vec<(u32, u32)>,
    deny: Vec<(u32, u32)>,
}

impl Hits {
    fn has_allow(&self, slot: u32) -> bool {
        self.allow.iter().any(|&(s, _)| s == slot)
    }

    fn has_deny(&self, slot: u32) -> bool {
        self.deny.iter().any(|&(s, _)| s == slot)
    }
}

/// Adds the statements of `p` that match to `hits`, under `slot`.
fn scan(
    p: &Policy,
    slot: u32,
    req: &Request,
    action: &Action<'_>,
    missing: &mut Missing,
    hits: &mut Hits,
) {
    let (any, specific) = p.index.candidates(action.service, action.hash);
    if any.is_empty() && specific.is_empty() {
        return;
    }
    let (allow0, deny0) = (hits.allow.len(), hits.deny.len());
    let mut add = |st: &Statement, i: u32| match st.effect {
        StatementEffect::Allow => hits.allow.push((slot, i)),
        StatementEffect::Deny => hits.deny.push((slot, i)),
    };
    for &i in any {
        if let Some(st) = p.statements.get(i as usize) {
            if statement_matches(st, req, action.folded, missing) {
                add(st, i);
            }
        }
    }
    for e in specific {
        if !e.names.iter().any(|g| g.matches_folded(action.name)) {
            continue;
        }
        if let Some(st) = p.statements.get(e.statement as usize) {
            if matches_beyond_action(st, req, missing) {
                add(st, e.statement);
            }
        }
    }
    // Each list is in document order; only hits from both need merging.
    if !any.is_empty() && !specific.is_empty() {
        hits.allow[allow0..].sort_unstable();
        hits.deny[deny0..].sort_unstable();
    }
}

fn report(set: &PolicySet, hits: &[(u32, u32)], out: &mut Vec<MatchedStatement>) {
    let n = set.identity.len();
    out.reserve(hits.len());
    for &(slot, i) in hits {
        let slot = slot as usize;
        let entry = if slot < n {
            set.identity.get(slot)
        } else if slot == n {
            set.boundary.as_ref()
        } else if slot == n + 1 {
            set.session.as_ref()
        } else {
            set.managed_session.get(slot - n - 2)
        };
        if let Some((src, p)) = entry {
            push_match(src, p, i, out);
        }
    }
}

fn push_match(src: &Source, p: &Policy, i: u32, out: &mut Vec<MatchedStatement>) {
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

/// Decides a request against a principal's policies with AWS's logic: explicit deny,
/// then allow (intersected with the boundary and the session policy), else implicit
/// deny. Never fails: anything unexpected in the request simply does not match.
pub fn evaluate(set: &PolicySet, req: &Request) -> Decision {
    let folded = FoldedAction::of(&req.action);
    let action = Action::of(&folded);
    let mut missing = Missing::default();
    let mut hits = Hits::default();
    // More than u32::MAX identity policies cannot be loaded; saturate rather than wrap.
    let n = u32::try_from(set.identity.len()).unwrap_or(u32::MAX - 2);
    for (slot, (_, p)) in (0..n).zip(&set.identity) {
        // Most of a large set is skipped here, without a call.
        if p.index.may_match(action.bit) {
            scan(p, slot, req, &action, &mut missing, &mut hits);
        }
    }
    let (b_slot, s_slot) = (n, n + 1);
    if let Some((_, p)) = &set.boundary {
        scan(p, b_slot, req, &action, &mut missing, &mut hits);
    }
    if let Some((_, p)) = &set.session {
        scan(p, s_slot, req, &action, &mut missing, &mut hits);
    }
    let managed = u32::try_from(set.managed_session.len()).unwrap_or(0);
    for (slot, (_, p)) in (s_slot + 1..).zip(&set.managed_session) {
        scan(p, slot, req, &action, &mut missing, &mut hits);
    }

    let boundary_allowed = set
        .boundary
        .as_ref()
        .map(|_| hits.has_allow(b_slot) && !hits.has_deny(b_slot));
    let mut matched = Vec::new();
    let effect = if !hits.deny.is_empty() {
        report(set, &hits.deny, &mut matched);
        Effect::ExplicitDeny
    } else {
        let id_allows = hits.allow.first().is_some_and(|&(s, _)| s < n);
        let b_ok = set.boundary.is_none() || hits.has_allow(b_slot);
        let s_ok = (set.session.is_none() && managed == 0)
            || (s_slot..=s_slot + managed).any(|slot| hits.has_allow(slot));
        if id_allows && b_ok && s_ok {
            report(set, &hits.allow, &mut matched);
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
    let mut hits = Hits::default();
    let folded = FoldedAction::of(&req.action);
    scan(
        policy,
        0,
        req,
        &Action::of(&folded),
        &mut missing,
        &mut hits,
    );
    let mut matched = Vec::new();
    let effect = if !hits.deny.is_empty() {
        for &(_, i) in &hits.deny {
            push_match(source, policy, i, &mut matched);
        }
        Effect::ExplicitDeny
    } else if !hits.allow.is_empty() {
        for &(_, i) in &hits.allow {
            push_match(source, policy, i, &mut matched);
        }
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
