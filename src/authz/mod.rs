//! One way to ask "may this principal do this?": build the request context (every key
//! the contract lists), gather the principal's policies from the store, evaluate.
//! Used by the PAM module (`host:Login`, `host:Sudo`), iam-sts and iam-authorized-keys.

use std::net::IpAddr;

use crate::policy::{
    self, Context, Decision, Effect, Policy, PolicyKind, PolicySet, Request, Source, SourceType,
};
use crate::store::{ApplicablePolicy, PolicyOrigin, RoleSession, Store, StoreError, Tag, User};

/// Who asks.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// An IAM user with long-term credentials.
    User(&'a str),
    /// A role session, with its optional session policy document.
    Session(&'a RoleSession, Option<&'a str>),
}

/// What is asked and the facts of the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
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

/// Why no decision could be made; callers deny.
#[derive(Debug, thiserror::Error)]
pub enum AuthzError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored policy no longer parses: nothing is allowed until it is fixed.
    #[error("stored policy {policy} is malformed: {error}")]
    BadPolicy {
        /// Policy ARN or inline name.
        policy: String,
        /// The parser's message.
        error: String,
    },
}

/// Decide one request against the store.
///
/// # Errors
/// [`AuthzError`] when the store fails or a stored policy does not parse.
pub fn authorize(
    store: &dyn Store,
    subject: Subject<'_>,
    facts: &Facts,
) -> Result<Verdict, AuthzError> {
    let account = store.account_id()?;
    let (principal, policies, session_policy) = match subject {
        Subject::User(name) => {
            let u = store.get_user(name)?;
            (Principal::user(&u), store.user_policies(name)?, None)
        }
        Subject::Session(s, session_policy) => {
            let r = store.get_role(&s.role_name)?;
            let p = Principal {
                arn: format!(
                    "arn:aws:sts::{account}:assumed-role/{}/{}",
                    r.name, s.session_name
                ),
                kind: "AssumedRole",
                user_name: None,
                user_id: format!("{}:{}", r.role_id, s.session_name),
                tags: r.tags.clone(),
                session: Some((s.session_name.clone(), s.issued, r.arn.clone())),
            };
            (p, store.role_policies(&s.role_name)?, session_policy)
        }
    };
    let (resource, resource_tags) = match &facts.target {
        Target::Host(h) => (host_arn(&account, h), store.list_host_tags(h)?),
        Target::Arn(a) => (a.clone(), Vec::new()),
        Target::None => (String::new(), Vec::new()),
    };
    let mentions_mfa = |d: &str| d.to_ascii_lowercase().contains("aws:multifactorauth");
    let uses_mfa = policies
        .identity
        .iter()
        .chain(policies.boundary.iter())
        .any(|p| mentions_mfa(&p.document))
        || session_policy.is_some_and(mentions_mfa);
    let set = policy_set(&policies, session_policy)?;
    let context = build_context(&principal, &resource_tags, facts);
    let req = Request {
        action: facts.action.clone(),
        resource,
        principal_arn: principal.arn.clone(),
        context,
    };
    let decision = policy::evaluate(&set, &req);
    Ok(verdict(decision, uses_mfa))
}

/// The ARN of a host.
pub fn host_arn(account: &str, host: &str) -> String {
    format!("arn:aws:iam::{account}:host/{host}")
}

/// The requesting principal, as the context needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
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
}

impl Principal {
    /// An IAM user as the principal of a request: the one place that says which user
    /// fields become `aws:username`, `aws:userid`, `aws:PrincipalArn` and the tags.
    pub fn user(u: &User) -> Principal {
        Principal {
            arn: u.arn.clone(),
            kind: "User",
            user_name: Some(u.name.clone()),
            user_id: u.user_id.clone(),
            tags: u.tags.clone(),
            session: None,
        }
    }
}

/// Every condition key of the contract for one request. Pure.
pub fn build_context(p: &Principal, resource_tags: &[Tag], f: &Facts) -> Context {
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
    c
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

/// Parse the stored documents into a policy set; a document that does not parse is an
/// error (fail closed), named by its source.
///
/// # Errors
/// [`AuthzError::BadPolicy`].
pub fn policy_set(
    p: &crate::store::PrincipalPolicies,
    session: Option<&str>,
) -> Result<PolicySet, AuthzError> {
    let parse = |a: &ApplicablePolicy| -> Result<(Source, Policy), AuthzError> {
        let (kind, stype) = match &a.origin {
            PolicyOrigin::Inline if a.source.starts_with("arn:") => {
                (PolicyKind::Managed, SourceType::UserManaged)
            }
            PolicyOrigin::Inline => (PolicyKind::RoleInline, SourceType::User),
            PolicyOrigin::Attached | PolicyOrigin::GroupAttached(_) => {
                (PolicyKind::Managed, SourceType::UserManaged)
            }
            PolicyOrigin::GroupInline(_) => (PolicyKind::GroupInline, SourceType::Group),
            PolicyOrigin::Boundary => (PolicyKind::Boundary, SourceType::None),
        };
        let source = match &a.origin {
            PolicyOrigin::GroupInline(g) => format!("group/{g}/{}", a.source),
            _ => a.source.clone(),
        };
        let policy = Policy::parse(&a.document, kind).map_err(|e| AuthzError::BadPolicy {
            policy: source.clone(),
            error: e.to_string(),
        })?;
        Ok((Source::new(source, stype), policy))
    };
    let identity = p
        .identity
        .iter()
        .map(parse)
        .collect::<Result<Vec<_>, _>>()?;
    let boundary = p.boundary.as_ref().map(parse).transpose()?;
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
    Verdict {
        allowed: decision.effect == Effect::Allowed,
        explicit_deny: decision.effect == Effect::ExplicitDeny,
        reason,
        missing_context: decision.missing_context.clone(),
        uses_mfa,
        decision,
    }
}

/// Unix seconds as `2026-11-28T06:20:00Z` (aws:CurrentTime's format).
pub fn iso8601(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Principal {
        Principal {
            arn: "arn:aws:iam::123456789012:user/alice".into(),
            kind: "User",
            user_name: Some("alice".into()),
            user_id: "AIDAEXAMPLE".into(),
            tags: vec![Tag {
                key: "team".into(),
                value: "web".into(),
            }],
            session: None,
        }
    }

    #[test]
    fn every_contract_key() {
        let f = Facts {
            action: "host:Login".into(),
            target: Target::Host("web-1".into()),
            mfa_time: Some(1_700_000_000),
            service: Some("sshd".into()),
            tty: Some("ssh".into()),
            rhost: Some("::ffff:10.0.0.5".into()),
            now: 1_700_000_042,
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
        let f = Facts {
            rhost: Some("workstation.example".into()),
            now: 0,
            ..Facts::default()
        };
        let c = build_context(&alice(), &[], &f);
        assert!(c.get("aws:SourceIp").is_none());
        assert_eq!(c.get("aws:MultiFactorAuthPresent").unwrap(), ["false"]);
        assert!(c.get("aws:MultiFactorAuthAge").is_none());
        let p = Principal {
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
        };
        let c = build_context(&p, &[], &f);
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
    fn source_ip_forms() {
        assert_eq!(source_ip("10.1.2.3").as_deref(), Some("10.1.2.3"));
        assert_eq!(source_ip("::1").as_deref(), Some("::1"));
        assert_eq!(source_ip("[2001:db8::1]").as_deref(), Some("2001:db8::1"));
        assert_eq!(source_ip("host.example"), None);
        assert_eq!(source_ip(""), None);
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_798_675_200), "2026-12-31T00:00:00Z");
    }
}
