//! One way to ask "may this principal do this?": build the request context (every key
//! the contract lists), gather the principal's policies from the store, evaluate.
//! Used by the PAM module (`host:Login`, `host:Sudo`), iam-sts and iam-authorized-keys.

use std::net::IpAddr;
use std::sync::Arc;

use crate::arn;
use crate::time::iso8601;

use crate::policy::{
    self, Context, Decision, Effect, Policy, PolicyKind, PolicySet, Source, SourceType,
};
use crate::store::{
    ApplicablePolicy, PolicyOrigin, PrincipalKind, PrincipalPolicies, RoleSession, SessionContext,
    Store, StoreError, Tag, TagTarget, User,
};

pub mod own_password;
pub mod session;

/// Who asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An IAM user with long-term credentials, by name.
    User(String),
    /// A role session (the role's policies, limited by the session's policy).
    Session(Box<RoleSession>),
}

/// One question for the decision core: who asks to do what on which resource, and the
/// facts of the request (the PAM module, iam-sts, sudo and iam-authorized-keys all ask
/// this way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Who asks.
    pub principal: Principal,
    /// `host:Login`, `host:Sudo`, `sts:AssumeRole`, ...
    pub action: String,
    /// The target: `Target::Host(name)` gets the host ARN and host tags.
    pub target: Target,
    /// Unix seconds of the MFA authentication behind this request, if any.
    pub mfa_time: Option<i64>,
    /// PAM_SERVICE (`host:Service`).
    pub service: Option<String>,
    /// PAM_TTY (`host:Tty`).
    pub tty: Option<String>,
    /// PAM_RHOST; becomes `aws:SourceIp` when it is an IP address.
    pub rhost: Option<String>,
    /// Unix seconds.
    pub now: i64,
    /// Fleet mode (`pam-iam:Offline`): decided while `iamd` was unreachable; `None`
    /// outside fleet mode (the key is absent).
    pub offline: Option<bool>,
    /// What an API call asks to set and what its resource already is (iamd); empty for
    /// logins, sudo and role assumption.
    pub call: CallFacts,
    /// What an `AssumeRole` call passes (empty for everything else).
    pub assume: AssumeFacts,
    /// The principal's user as the caller read it a moment ago (iamd, to check the
    /// signature): used instead of reading it again, when its name is the principal's.
    pub user: Option<User>,
    /// That user's policy set as the caller holds it (iamd's cache, kept for the store
    /// version its credential was read at): used with [`Request::user`] instead of
    /// reading the policies again.
    pub user_policies: Option<Arc<PrincipalPolicies>>,
}

/// The condition keys of an API call beyond the principal's: what the call sets and the
/// resource it names as it stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFacts {
    /// Tags the call sets: `aws:RequestTag/KEY`, and their keys in `aws:TagKeys`.
    pub request_tags: Vec<Tag>,
    /// Tag keys the call names without values (`UntagUser`): `aws:TagKeys`.
    pub tag_keys: Vec<String>,
    /// `iam:PolicyARN`: the managed policy an `Attach*`/`Detach*Policy` call names.
    pub policy_arn: Option<String>,
    /// `iam:PermissionsBoundary`: the boundary the call sets, or the one the user or
    /// role it changes has.
    pub permissions_boundary: Option<String>,
    /// The tags of the IAM resource the call names: `aws:ResourceTag/KEY` and
    /// `iam:ResourceTag/KEY`.
    pub resource_tags: Vec<Tag>,
}

/// The `sts:` condition keys of an `AssumeRole` call (the session tags it passes are
/// [`CallFacts::request_tags`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssumeFacts {
    /// `sts:ExternalId`.
    pub external_id: Option<String>,
    /// `sts:SourceIdentity`: the source identity the call sets.
    pub source_identity: Option<String>,
    /// `sts:TransitiveTagKeys`.
    pub transitive_tag_keys: Vec<String>,
}

impl Request {
    /// `principal` asks for `action` on `target` at `now`, with no other facts.
    pub fn new(principal: Principal, action: &str, target: Target, now: i64) -> Request {
        Request {
            principal,
            action: action.to_string(),
            target,
            mfa_time: None,
            service: None,
            tty: None,
            rhost: None,
            now,
            offline: None,
            call: CallFacts::default(),
            assume: AssumeFacts::default(),
            user: None,
            user_policies: None,
        }
    }
}

/// The resource of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Target {
    /// This host (`arn:aws:iam::ACCT:host/NAME`).
    Host(String),
    /// Any other ARN (a role for `sts:AssumeRole`).
    Arn(String),
    /// Unset (a programming error: evaluates to an empty resource, never allowed).
    #[default]
    None,
}

/// The answer, with what audit lines and messages need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Allowed and not explicitly denied.
    pub allowed: bool,
    /// An explicit Deny matched.
    pub explicit_deny: bool,
    /// The policies and statements that decided, or "no statement allows".
    pub reason: String,
    /// Condition keys the policies read that the request did not carry.
    pub missing_context: Vec<String>,
    /// Some policy has a condition on `aws:MultiFactorAuth*` (a fresh MFA proof could
    /// change the answer).
    pub uses_mfa: bool,
    /// The full engine decision.
    pub decision: Decision,
}

impl Verdict {
    /// A denial decided before any policy was read (a session that no longer counts).
    pub fn denied(reason: String) -> Verdict {
        decided(
            Decision {
                effect: Effect::ImplicitDeny,
                matched: Vec::new(),
                missing_context: Vec::new(),
                boundary_allowed: None,
            },
            reason,
            false,
        )
    }
}

/// Why no decision could be made; callers deny.
#[derive(Debug, thiserror::Error)]
pub enum AuthzError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A role's stored trust policy no longer parses: nobody may assume the role until
    /// it is fixed.
    #[error("the trust policy of role {role} is malformed: {error}")]
    BadTrustPolicy {
        /// The role's name.
        role: String,
        /// The parser's message.
        error: String,
    },
    /// A stored policy no longer parses: nothing is allowed until it is fixed.
    #[error("stored policy {policy} is malformed: {error}")]
    BadPolicy {
        /// Policy ARN or inline name.
        policy: String,
        /// The parser's message.
        error: String,
    },
}

/// Decide one request against the store. A role session whose role or user was
/// replaced since it was issued is denied before any policy is read (it must not lend
/// the new role's policies to the old session).
///
/// # Errors
/// [`AuthzError`] when the store fails or a stored policy does not parse.
pub fn authorize(store: &dyn Store, req: &Request) -> Result<Verdict, AuthzError> {
    let account = store.account_id()?;
    let mut managed = Vec::new();
    let (caller, kind, policies, session_policy) = match &req.principal {
        Principal::User(name) => {
            let (u, policies) = match (&req.user, &req.user_policies) {
                (Some(u), Some(p)) if u.name == *name => (u.clone(), Arc::clone(p)),
                (Some(u), None) if u.name == *name => {
                    (u.clone(), Arc::new(store.user_policies(name)?))
                }
                _ => (store.get_user(name)?, Arc::new(store.user_policies(name)?)),
            };
            (Caller::user(&u), PrincipalKind::User, policies, None)
        }
        Principal::Session(s) => {
            if let Some(why) = session::ended(store, s)? {
                return Ok(Verdict::denied(format!("the role session ended: {why}")));
            }
            let r = store.get_role(&s.role_name)?;
            let extra = store.role_session_context(&s.session_id)?;
            let p = Caller::session(&account, &r, s, extra.as_ref());
            let doc = store.role_session_policy(&s.session_id)?;
            managed = managed_session_policies(store, extra.as_ref())?;
            (
                p,
                PrincipalKind::Role,
                Arc::new(store.role_policies(&s.role_name)?),
                doc,
            )
        }
    };
    let (resource, resource_tags) = match &req.target {
        Target::Host(h) => (arn::host(&account, h), store.list_host_tags(h)?),
        Target::Arn(a) => (a.clone(), Vec::new()),
        Target::None => (String::new(), Vec::new()),
    };
    let mentions_mfa = |d: &str| d.to_ascii_lowercase().contains("aws:multifactorauth");
    let uses_mfa = policies
        .identity
        .iter()
        .chain(policies.boundary.iter())
        .any(|p| mentions_mfa(&p.document))
        || session_policy.as_deref().is_some_and(mentions_mfa)
        || managed.iter().any(|(_, d)| mentions_mfa(d));
    let mut set = policy_set(&policies, kind, session_policy.as_deref())?;
    set.managed_session = managed
        .iter()
        .map(|(arn, doc)| {
            Policy::parse(doc, PolicyKind::Managed)
                .map(|p| (Source::new(arn.clone(), SourceType::UserManaged), p))
                .map_err(|e| AuthzError::BadPolicy {
                    policy: arn.clone(),
                    error: e.to_string(),
                })
        })
        .collect::<Result<_, _>>()?;
    let context = build_context(&caller, &resource_tags, req);
    let question = policy::Request {
        action: req.action.clone(),
        resource,
        principal_arn: caller.arn.clone(),
        context,
    };
    let decision = policy::evaluate(&set, &question);
    Ok(verdict(decision, uses_mfa))
}

/// Decide whether the principal asking (`req.principal`) may assume a role by the role's
/// trust policy (the resource policy of `sts:AssumeRole`): the IAM user, or the role
/// session (role chaining: it matches a trust policy naming its role's ARN or its own
/// assumed-role ARN) is the principal, the role's tags are the resource tags, `req`
/// (target: the role's ARN) the rest of the context. A session that no longer counts
/// is denied.
///
/// # Errors
/// [`AuthzError`] when the store fails or the trust policy does not parse.
pub fn trust(
    store: &dyn Store,
    role: &str,
    trust_policy: &str,
    req: &Request,
) -> Result<Verdict, AuthzError> {
    let who = match &req.principal {
        Principal::User(user) => Caller::user(&store.get_user(user)?),
        Principal::Session(s) => {
            if let Some(why) = session::ended(store, s)? {
                return Ok(Verdict::denied(format!("the role session ended: {why}")));
            }
            let extra = store.role_session_context(&s.session_id)?;
            Caller::session(
                &store.account_id()?,
                &store.get_role(&s.role_name)?,
                s,
                extra.as_ref(),
            )
        }
    };
    let role_tags = store.list_tags(TagTarget::Role, role)?;
    let trust =
        Policy::parse(trust_policy, PolicyKind::Trust).map_err(|e| AuthzError::BadTrustPolicy {
            role: role.to_string(),
            error: e.to_string(),
        })?;
    let resource = match &req.target {
        Target::Arn(a) => a.clone(),
        Target::Host(_) | Target::None => String::new(),
    };
    let question = policy::Request {
        action: req.action.clone(),
        resource,
        principal_arn: who.arn.clone(),
        context: build_context(&who, &role_tags, req),
    };
    let uses_mfa = trust_policy
        .to_ascii_lowercase()
        .contains("aws:multifactorauth");
    let decision = policy::evaluate_trust(&trust, &question);
    let reason = if decision.matched.is_empty() {
        "no statement of the trust policy allows it".to_string()
    } else {
        decision
            .matched
            .iter()
            .map(|m| {
                format!(
                    "trust policy statement {}{}",
                    m.index,
                    m.sid
                        .as_ref()
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(decided(decision, reason, uses_mfa))
}

/// The requesting principal's identity, as the request context needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// User ARN, or the assumed-role session ARN.
    pub arn: String,
    /// `User` or `AssumedRole`.
    pub kind: &'static str,
    /// Set for users only (as in AWS).
    pub user_name: Option<String>,
    /// `AIDA…`, or `AROA…:session` for sessions.
    pub user_id: String,
    /// Principal tags (the user's, or the role's).
    pub tags: Vec<Tag>,
    /// Session name, issue time and role ARN, for sessions.
    pub session: Option<(String, i64, String)>,
    /// `aws:SourceIdentity`: the source identity of a role session, if it was given one.
    pub source_identity: Option<String>,
}

impl Caller {
    /// An IAM user as the principal of a request: the one place that says which user
    /// fields become `aws:username`, `aws:userid`, `aws:PrincipalArn` and the tags.
    pub fn user(u: &User) -> Caller {
        Caller {
            arn: u.arn.clone(),
            kind: "User",
            user_name: Some(u.name.clone()),
            user_id: u.user_id.clone(),
            tags: u.tags.clone(),
            session: None,
            source_identity: None,
        }
    }

    /// A role session of `role` as the principal of a request: the assumed-role ARN,
    /// `aws:PrincipalArn` the role's; its tags are the role's, each overridden by a
    /// session tag of the same key (keys compare case-insensitively, as AWS's), and its
    /// source identity `aws:SourceIdentity`.
    pub fn session(
        account: &str,
        role: &crate::store::Role,
        s: &RoleSession,
        extra: Option<&SessionContext>,
    ) -> Caller {
        let mut tags: Vec<Tag> = role.tags.clone();
        if let Some(c) = extra {
            tags.retain(|t| !c.tags.iter().any(|x| x.key.eq_ignore_ascii_case(&t.key)));
            tags.extend(c.tags.iter().cloned());
        }
        Caller {
            arn: arn::assumed_role(account, &role.name, &s.session_name),
            kind: "AssumedRole",
            user_name: None,
            user_id: format!("{}:{}", role.role_id, s.session_name),
            tags,
            session: Some((s.session_name.clone(), s.issued, role.arn.clone())),
            source_identity: extra.and_then(|c| c.source_identity.clone()),
        }
    }
}

/// Every condition key of the contract for one request. Pure.
pub fn build_context(p: &Caller, resource_tags: &[Tag], f: &Request) -> Context {
    let mut c = Context::new();
    if let Some(n) = &p.user_name {
        c.insert("aws:username", n.clone());
    }
    c.insert("aws:userid", p.user_id.clone());
    c.insert("aws:PrincipalType", p.kind);
    match &p.session {
        Some((name, issued, role_arn)) => {
            c.insert("aws:PrincipalArn", role_arn.clone());
            c.insert("sts:RoleSessionName", name.clone());
            c.insert("aws:TokenIssueTime", iso8601(*issued));
        }
        None => c.insert("aws:PrincipalArn", p.arn.clone()),
    }
    if let Some(s) = &p.source_identity {
        c.insert("aws:SourceIdentity", s.clone());
    }
    for t in &p.tags {
        c.insert(&format!("aws:PrincipalTag/{}", t.key), t.value.clone());
    }
    for t in resource_tags {
        c.insert(&format!("aws:ResourceTag/{}", t.key), t.value.clone());
    }
    if let Some(ip) = f.rhost.as_deref().and_then(source_ip) {
        c.insert("aws:SourceIp", ip);
    }
    c.insert("aws:CurrentTime", iso8601(f.now));
    c.insert("aws:EpochTime", f.now.to_string());
    match f.mfa_time {
        Some(t) => {
            c.insert("aws:MultiFactorAuthPresent", "true");
            c.insert("aws:MultiFactorAuthAge", (f.now - t).max(0).to_string());
        }
        None => c.insert("aws:MultiFactorAuthPresent", "false"),
    }
    if let Target::Host(h) = &f.target {
        c.insert("host:Name", h.clone());
    }
    if let Some(s) = &f.service {
        c.insert("host:Service", s.clone());
    }
    if let Some(t) = &f.tty {
        c.insert("host:Tty", t.clone());
    }
    if let Some(o) = f.offline {
        c.insert("pam-iam:Offline", if o { "true" } else { "false" });
    }
    let call = &f.call;
    for t in &call.request_tags {
        c.insert(&format!("aws:RequestTag/{}", t.key), t.value.clone());
    }
    if !call.request_tags.is_empty() || !call.tag_keys.is_empty() {
        let keys = call.request_tags.iter().map(|t| t.key.clone());
        c.insert_values(
            "aws:TagKeys",
            keys.chain(call.tag_keys.iter().cloned()).collect(),
        );
    }
    if let Some(p) = &call.policy_arn {
        c.insert("iam:PolicyARN", p.clone());
    }
    if let Some(b) = &call.permissions_boundary {
        c.insert("iam:PermissionsBoundary", b.clone());
    }
    let assume = &f.assume;
    if let Some(x) = &assume.external_id {
        c.insert("sts:ExternalId", x.clone());
    }
    if let Some(x) = &assume.source_identity {
        c.insert("sts:SourceIdentity", x.clone());
    }
    if !assume.transitive_tag_keys.is_empty() {
        c.insert_values("sts:TransitiveTagKeys", assume.transitive_tag_keys.clone());
    }
    for t in &call.resource_tags {
        c.insert(&format!("aws:ResourceTag/{}", t.key), t.value.clone());
        c.insert(&format!("iam:ResourceTag/{}", t.key), t.value.clone());
    }
    c
}

/// A policy that allows nothing: what a managed session policy deleted since the
/// session was issued still counts as (the session stays narrowed, never widened).
const ALLOWS_NOTHING: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"*","Resource":"*"}]}"#;

/// The managed session policies of a session (`PolicyArns`), each as (ARN, the document
/// of its default version now).
fn managed_session_policies(
    store: &dyn Store,
    extra: Option<&SessionContext>,
) -> Result<Vec<(String, String)>, AuthzError> {
    let mut out = Vec::new();
    for arn in extra.map(|c| c.policy_arns.as_slice()).unwrap_or_default() {
        let doc = match store.get_policy(arn) {
            Ok(p) => {
                store
                    .get_policy_version(arn, &p.default_version_id)?
                    .document
            }
            Err(StoreError::NoSuchEntity(_)) => ALLOWS_NOTHING.to_string(),
            Err(e) => return Err(e.into()),
        };
        out.push((arn.clone(), doc));
    }
    Ok(out)
}

/// PAM_RHOST as an address (`::ffff:a.b.c.d` becomes `a.b.c.d`); host names give none.
pub fn source_ip(rhost: &str) -> Option<String> {
    let ip: IpAddr = rhost
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.to_string(), |v4| v4.to_string()),
        IpAddr::V4(v4) => v4.to_string(),
    })
}

/// The principal's policy set: its stored identity policies (a user's own and its
/// groups'), its boundary and a session policy, parsed as the kinds they were stored as
/// (`principal` says whose inline policies they are). The one parse of stored policies
/// for every caller: the PAM module, iam-sts, sudo, iam-authorized-keys and the
/// simulator. A document that does not parse is an error (fail closed), named by its
/// source.
///
/// # Errors
/// [`AuthzError::BadPolicy`].
pub fn policy_set(
    p: &crate::store::PrincipalPolicies,
    principal: PrincipalKind,
    session: Option<&str>,
) -> Result<PolicySet, AuthzError> {
    let parse = |a: &ApplicablePolicy, stype: SourceType, kind: PolicyKind| {
        Policy::parse(&a.document, kind)
            .map(|policy| (Source::new(a.source.clone(), stype), policy))
            .map_err(|e| AuthzError::BadPolicy {
                policy: a.source.clone(),
                error: e.to_string(),
            })
    };
    let identity_kind = |a: &ApplicablePolicy| match (&a.origin, principal) {
        (PolicyOrigin::Inline, PrincipalKind::User) => (SourceType::User, PolicyKind::UserInline),
        (PolicyOrigin::Inline, PrincipalKind::Group) | (PolicyOrigin::GroupInline(_), _) => {
            (SourceType::Group, PolicyKind::GroupInline)
        }
        (PolicyOrigin::Inline, PrincipalKind::Role) => (SourceType::Role, PolicyKind::RoleInline),
        (PolicyOrigin::Attached | PolicyOrigin::GroupAttached(_) | PolicyOrigin::Boundary, _) => {
            (SourceType::UserManaged, PolicyKind::Managed)
        }
    };
    let identity = p
        .identity
        .iter()
        .map(|a| {
            let (stype, kind) = identity_kind(a);
            parse(a, stype, kind)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let boundary = p
        .boundary
        .as_ref()
        .map(|b| parse(b, SourceType::UserManaged, PolicyKind::Boundary))
        .transpose()?;
    let session = session
        .map(|d| {
            Policy::parse(d, PolicyKind::Session)
                .map(|p| (Source::new("session policy", SourceType::None), p))
                .map_err(|e| AuthzError::BadPolicy {
                    policy: "session policy".into(),
                    error: e.to_string(),
                })
        })
        .transpose()?;
    Ok(PolicySet {
        identity,
        boundary,
        session,
        managed_session: Vec::new(),
    })
}

fn verdict(decision: Decision, uses_mfa: bool) -> Verdict {
    let statements = |d: &Decision| {
        d.matched
            .iter()
            .map(|m| match &m.sid {
                Some(sid) => format!("{} statement {} ({sid})", m.source, m.index),
                None => format!("{} statement {}", m.source, m.index),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let reason = match decision.effect {
        Effect::Allowed => format!("allowed by {}", statements(&decision)),
        Effect::ExplicitDeny => format!("explicit deny by {}", statements(&decision)),
        Effect::ImplicitDeny if decision.boundary_allowed == Some(false) => {
            "no statement allows (the permissions boundary does not allow it)".to_string()
        }
        Effect::ImplicitDeny => "no statement allows".to_string(),
    };
    decided(decision, reason, uses_mfa)
}

/// A verdict from an engine decision and its reason.
fn decided(decision: Decision, reason: String, uses_mfa: bool) -> Verdict {
    Verdict {
        allowed: decision.effect == Effect::Allowed,
        explicit_deny: decision.effect == Effect::ExplicitDeny,
        reason,
        missing_context: decision.missing_context.clone(),
        uses_mfa,
        decision,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Caller {
        Caller {
            arn: "arn:aws:iam::123456789012:user/alice".into(),
            kind: "User",
            user_name: Some("alice".into()),
            user_id: "AIDAEXAMPLE".into(),
            tags: vec![Tag {
                key: "team".into(),
                value: "web".into(),
            }],
            session: None,
            source_identity: None,
        }
    }

    #[test]
    fn every_contract_key() {
        let f = Request {
            principal: Principal::User("alice".into()),
            action: "host:Login".into(),
            target: Target::Host("web-1".into()),
            mfa_time: Some(1_700_000_000),
            service: Some("sshd".into()),
            tty: Some("ssh".into()),
            rhost: Some("::ffff:10.0.0.5".into()),
            now: 1_700_000_042,
            offline: None,
            call: CallFacts::default(),
            assume: AssumeFacts::default(),
            user: None,
            user_policies: None,
        };
        let c = build_context(
            &alice(),
            &[Tag {
                key: "env".into(),
                value: "prod".into(),
            }],
            &f,
        );
        let get = |k: &str| c.get(k).map(|v| v.join(","));
        assert_eq!(get("aws:username").as_deref(), Some("alice"));
        assert_eq!(get("aws:userid").as_deref(), Some("AIDAEXAMPLE"));
        assert_eq!(
            get("aws:PrincipalArn").as_deref(),
            Some("arn:aws:iam::123456789012:user/alice")
        );
        assert_eq!(get("aws:PrincipalType").as_deref(), Some("User"));
        assert_eq!(get("aws:PrincipalTag/team").as_deref(), Some("web"));
        assert_eq!(get("aws:ResourceTag/env").as_deref(), Some("prod"));
        assert_eq!(get("aws:SourceIp").as_deref(), Some("10.0.0.5"));
        assert_eq!(
            get("aws:CurrentTime").as_deref(),
            Some("2023-11-14T22:14:02Z")
        );
        assert_eq!(get("aws:EpochTime").as_deref(), Some("1700000042"));
        assert_eq!(get("aws:MultiFactorAuthPresent").as_deref(), Some("true"));
        assert_eq!(get("aws:MultiFactorAuthAge").as_deref(), Some("42"));
        assert_eq!(get("host:Name").as_deref(), Some("web-1"));
        assert_eq!(get("host:Service").as_deref(), Some("sshd"));
        assert_eq!(get("host:Tty").as_deref(), Some("ssh"));
    }

    #[test]
    fn local_logins_and_sessions() {
        let f = Request {
            rhost: Some("workstation.example".into()),
            ..Request::new(Principal::User("alice".into()), "", Target::None, 0)
        };
        let c = build_context(&alice(), &[], &f);
        assert!(c.get("aws:SourceIp").is_none());
        assert_eq!(c.get("aws:MultiFactorAuthPresent").unwrap(), ["false"]);
        assert!(c.get("aws:MultiFactorAuthAge").is_none());
        let p = Caller {
            arn: "arn:aws:sts::123456789012:assumed-role/admin/alice".into(),
            kind: "AssumedRole",
            user_name: None,
            user_id: "AROAEXAMPLE:alice".into(),
            tags: vec![],
            session: Some((
                "alice".into(),
                86_400,
                "arn:aws:iam::123456789012:role/admin".into(),
            )),
            source_identity: Some("alice@corp".into()),
        };
        let c = build_context(&p, &[], &f);
        assert_eq!(c.get("aws:SourceIdentity").unwrap(), ["alice@corp"]);
        assert!(c.get("aws:username").is_none());
        assert_eq!(
            c.get("aws:PrincipalArn").unwrap(),
            ["arn:aws:iam::123456789012:role/admin"]
        );
        assert_eq!(c.get("sts:RoleSessionName").unwrap(), ["alice"]);
        assert_eq!(
            c.get("aws:TokenIssueTime").unwrap(),
            ["1970-01-02T00:00:00Z"]
        );
    }

    #[test]
    fn api_call_keys() {
        let tag = |k: &str, v: &str| Tag {
            key: k.into(),
            value: v.into(),
        };
        let f = Request {
            call: CallFacts {
                request_tags: vec![tag("team", "web"), tag("env", "dev")],
                tag_keys: vec!["old".into()],
                policy_arn: Some("arn:aws:iam::123456789012:policy/p".into()),
                permissions_boundary: Some("arn:aws:iam::123456789012:policy/b".into()),
                resource_tags: vec![tag("owner", "ops")],
            },
            ..Request::new(
                Principal::User("alice".into()),
                "iam:TagUser",
                Target::None,
                0,
            )
        };
        let c = build_context(&alice(), &[], &f);
        assert_eq!(c.get("aws:RequestTag/team").unwrap(), ["web"]);
        assert_eq!(c.get("aws:TagKeys").unwrap(), ["team", "env", "old"]);
        assert_eq!(
            c.get("iam:PolicyARN").unwrap(),
            ["arn:aws:iam::123456789012:policy/p"]
        );
        assert_eq!(
            c.get("iam:PermissionsBoundary").unwrap(),
            ["arn:aws:iam::123456789012:policy/b"]
        );
        assert_eq!(c.get("aws:ResourceTag/owner").unwrap(), ["ops"]);
        assert_eq!(c.get("iam:ResourceTag/owner").unwrap(), ["ops"]);
        // A call that sets no tags has no aws:TagKeys, as AWS.
        let c = build_context(
            &alice(),
            &[],
            &Request::new(Principal::User("a".into()), "", Target::None, 0),
        );
        assert!(c.get("aws:TagKeys").is_none());
        assert!(c.get("iam:PermissionsBoundary").is_none());
    }

    #[test]
    fn source_ip_forms() {
        assert_eq!(source_ip("10.1.2.3").as_deref(), Some("10.1.2.3"));
        assert_eq!(source_ip("::1").as_deref(), Some("::1"));
        assert_eq!(source_ip("[2001:db8::1]").as_deref(), Some("2001:db8::1"));
        assert_eq!(source_ip("host.example"), None);
        assert_eq!(source_ip(""), None);
    }
}
