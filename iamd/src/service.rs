//! One API call, start to end, on a store thread: verify the SigV4 signature with the
//! key's sealed secret, know the caller, authorize the operation through the one
//! decision core (`pam_iam::authz`) on the resource AWS's Service Authorization
//! Reference names, run the `iam` CLI's own handler for it, paginate, and say what to
//! audit.

use crate::operations::{IAM_OPERATIONS, SELF_OPERATIONS, WIRE_REQUIRED};
use crate::paging::Paging;
use crate::query::{self, QueryRequest};
use crate::resource::{call_facts, resource};
use crate::sigv4::{self, Received, SigError};
use pam_iam::arn;
use pam_iam::audit::Decision;
use pam_iam::authz::own_password::{self, NoAccountPolicy};
use pam_iam::authz::{CallFacts, Principal, Request, Target};
use pam_iam::cli::api::{self, ArgValue};
use pam_iam::credentials::sealed;
use pam_iam::store::{AuditEvent, SessionOf, Store, StoreError, User};
use serde_json::{Value, json};
use std::path::Path;

/// The two services on the one endpoint, told apart by the credential scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `iam`, Version 2010-05-08.
    Iam,
    /// `sts`, Version 2011-06-15.
    Sts,
}

impl Service {
    /// The scope's service name.
    pub fn from_scope(s: &str) -> Option<Service> {
        match s {
            "iam" => Some(Service::Iam),
            "sts" => Some(Service::Sts),
            _ => None,
        }
    }

    /// The API version the service speaks.
    pub fn version(self) -> &'static str {
        match self {
            Service::Iam => "2010-05-08",
            Service::Sts => "2011-06-15",
        }
    }

    /// XML namespace.
    pub fn namespace(self) -> &'static str {
        match self {
            Service::Iam => crate::xml::IAM_NS,
            Service::Sts => crate::xml::STS_NS,
        }
    }

    /// Action prefix in policies.
    pub fn prefix(self) -> &'static str {
        match self {
            Service::Iam => "iam",
            Service::Sts => "sts",
        }
    }
}

/// An AWS error: code, message, HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// AWS code.
    pub code: String,
    /// Message.
    pub message: String,
}

impl ApiError {
    /// An error with AWS's status for `code`.
    pub fn new(code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: status_of(code),
            code: code.to_string(),
            message: message.into(),
        }
    }
}

impl From<SigError> for ApiError {
    fn from(e: SigError) -> Self {
        ApiError {
            status: e.status(),
            code: e.code().to_string(),
            message: e.message(),
        }
    }
}

impl From<pam_iam::cli::CliError> for ApiError {
    fn from(e: pam_iam::cli::CliError) -> Self {
        ApiError::new(&e.code, e.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::new(e.code(), e.to_string())
    }
}

/// The HTTP status AWS gives an error code (the service model's, for IAM and STS).
pub fn status_of(code: &str) -> u16 {
    match code {
        "NoSuchEntity" => 404,
        "MalformedQueryString" => 404,
        "EntityAlreadyExists"
        | "DeleteConflict"
        | "LimitExceeded"
        | "ConcurrentModification"
        | "EntityTemporarilyUnmodifiable" => 409,
        "AccessDenied"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "MissingAuthenticationToken"
        | "InvalidAuthenticationCode"
        | "ExpiredToken" => 403,
        "ServiceFailure" | "InternalFailure" => 500,
        "StoreUnavailable" | "ServiceUnavailable" => 503,
        "RequestEntityTooLarge" => 413,
        _ => 400,
    }
}

/// A request as the HTTP layer hands it over (owned: it crosses to a store thread).
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// Method.
    pub method: String,
    /// Raw path.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// Headers in order received.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// The peer's address.
    pub source_ip: String,
}

/// Who signed the request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The account root user (a root access key): allowed everything.
    Root,
    /// An IAM user, and the store version its access key was read at (what its kept
    /// policy set must be of: [`crate::policy_cache`]).
    User(User, i64),
    /// Temporary (`ASIA…`) credentials from `GetSessionToken` or `AssumeRole`.
    Temporary(Box<crate::sts::Temporary>),
}

impl Caller {
    /// The IAM user behind the credentials, as read to authenticate them (`None` for
    /// root and role sessions).
    pub fn user(&self) -> Option<&User> {
        match self {
            Caller::User(u, _) => Some(u),
            Caller::Temporary(t) => t.user.as_ref(),
            Caller::Root => None,
        }
    }

    /// The principal the decision core evaluates, the MFA time behind the credentials,
    /// and the ARN denials name; `None` for the account root user.
    fn principal(&self) -> Option<(Principal, Option<i64>, String)> {
        match self {
            Caller::Root => None,
            Caller::User(u, _) => Some((Principal::User(u.name.clone()), None, u.arn.clone())),
            Caller::Temporary(t) => t.principal().map(|(p, m)| (p, m, t.arn.clone())),
        }
    }
}

/// What the call returns, and what to audit and count.
#[derive(Debug)]
pub struct Reply {
    /// The service the response speaks for.
    pub service: Service,
    /// The operation (`CreateUser`), or `-` before it is known.
    pub action: String,
    /// The result or the error.
    pub result: Result<Option<Value>, ApiError>,
    /// The audit row, if the request got as far as naming a key.
    pub audit: Option<AuditEvent>,
    /// The key whose use to note, with the service.
    pub key_used: Option<(String, &'static str)>,
}

/// What a store thread needs besides the store.
pub struct Env<'a> {
    /// The key sealing access-key secrets.
    pub secrets_key: &'a [u8],
    /// The file it lives in (the CLI's handlers reseal new keys with it).
    pub secrets_key_path: &'a Path,
    /// Where the store is, for the host userdb refresh after a change.
    pub store_path: Option<&'a Path>,
    /// Unix seconds now.
    pub now: i64,
    /// Users' policy sets, kept per store version.
    pub policies: &'a crate::policy_cache::PolicyCache,
}

/// Handle one request on a store thread.
pub fn handle(store: &dyn Store, env: &Env<'_>, req: &HttpRequest) -> Reply {
    let mut reply = Reply {
        service: Service::Iam,
        action: "-".into(),
        result: Ok(None),
        audit: None,
        key_used: None,
    };
    let authz_header = req
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.clone());
    let rx = Received {
        method: &req.method,
        path: &req.path,
        query: &req.query,
        headers: &req.headers,
        body: &req.body,
    };
    let parsed = query::parse(&req.query, &req.body);
    if let Ok(q) = &parsed {
        reply.action = q.action.clone();
    }
    let mut audit = AuditEvent {
        time: env.now,
        user: "-".into(),
        service: "iamd".into(),
        rhost: Some(req.source_ip.clone()),
        tty: None,
        action: format!("iam:{}", reply.action),
        decision: Decision::Deny,
        reason: String::new(),
    };
    // Set when the call stored its own audit row (with the session it issued).
    let mut audited = false;
    let outcome = (|| -> Result<Option<Value>, ApiError> {
        let header = authz_header.ok_or(SigError::Missing)?;
        let auth = sigv4::parse_authorization(&header)?;
        audit.user = auth.access_key.clone();
        reply.service = Service::from_scope(&auth.service).ok_or_else(|| {
            SigError::Mismatch(format!(
                "Credential should be scoped to correct service: 'iam' or 'sts', not '{}'.",
                auth.service
            ))
        })?;
        audit.action = format!("{}:{}", reply.service.prefix(), reply.action);
        let (amz, t) = sigv4::request_time(&rx)?;
        sigv4::check_time(&auth, &amz, t, env.now)?;
        let caller = authenticate(store, env, &rx, &auth, &amz)?;
        audit.user = match &caller {
            Caller::Root => "root".into(),
            Caller::User(u, _) => u.name.clone(),
            Caller::Temporary(t) => t.audit_user(),
        };
        if let Caller::Temporary(t) = &caller {
            audit.reason = format!("session {}", t.session.session_id);
        } else {
            reply.key_used = Some((auth.access_key.clone(), reply.service.prefix()));
        }
        // Moved, not copied: the members may hold passwords, wiped after the call.
        let q = parsed.map_err(|e| ApiError::new(e.code, e.message))?;
        if q.version != reply.service.version() {
            return Err(ApiError::new(
                "InvalidAction",
                format!(
                    "Could not find operation {} for version {}",
                    q.action,
                    if q.version.is_empty() {
                        "NO_VERSION_SPECIFIED"
                    } else {
                        &q.version
                    }
                ),
            ));
        }
        match reply.service {
            Service::Iam => iam_call(store, env, &caller, q, &mut audit),
            Service::Sts => crate::sts::call(store, env, &caller, &q, &mut audit, &mut audited),
        }
    })();
    match &outcome {
        Ok(_) => {
            if audit.reason.is_empty() {
                audit.reason = "OK".into();
            } else {
                audit.reason.push_str("; OK");
            }
        }
        Err(e) => {
            if !audit.reason.is_empty() {
                audit.reason.push_str("; ");
            }
            audit.reason.push_str(&e.code);
        }
    }
    reply.result = outcome;
    reply.audit = (!audited).then_some(audit);
    reply
}

/// Find the key, open its sealed secret and check the signature.
fn authenticate(
    store: &dyn Store,
    env: &Env<'_>,
    rx: &Received<'_>,
    auth: &sigv4::Authorization,
    amz: &str,
) -> Result<Caller, ApiError> {
    if auth.access_key.starts_with("ASIA") {
        return crate::sts::authenticate(store, env, rx, auth, amz);
    }
    if rx.header("x-amz-security-token").is_some() {
        // A session token never goes with a long-term AKIA key.
        return Err(SigError::UnknownKey.into());
    }
    let cred = match store.access_key_credential(&auth.access_key) {
        Ok(c) => c,
        Err(StoreError::NoSuchEntity(_)) => return Err(SigError::UnknownKey.into()),
        Err(e) => return Err(e.into()),
    };
    if cred.key.status != pam_iam::store::Status::Active {
        return Err(SigError::UnknownKey.into());
    }
    let secret = cred
        .sealed_secret
        .as_deref()
        .and_then(|s| sealed::open(env.secrets_key, &auth.access_key, s))
        .ok_or(SigError::UnknownKey)?;
    sigv4::verify(rx, auth, amz, &secret)?;
    if cred.root {
        return Ok(Caller::Root);
    }
    match cred.user {
        Some(u) => Ok(Caller::User(u, cred.version)),
        None => Ok(Caller::User(
            store.get_user(&cred.key.user_name)?,
            cred.version,
        )),
    }
}

fn iam_call(
    store: &dyn Store,
    env: &Env<'_>,
    caller: &Caller,
    mut q: QueryRequest,
    audit: &mut AuditEvent,
) -> Result<Option<Value>, ApiError> {
    let out = iam_operation(store, env, caller, &mut q, audit);
    forget_passwords(&mut q);
    out
}

fn iam_operation(
    store: &dyn Store,
    env: &Env<'_>,
    caller: &Caller,
    q: &mut QueryRequest,
    audit: &mut AuditEvent,
) -> Result<Option<Value>, ApiError> {
    let invalid = || {
        ApiError::new(
            "InvalidAction",
            format!(
                "Could not find operation {} for version 2010-05-08",
                q.action
            ),
        )
    };
    if !IAM_OPERATIONS.contains(&q.action.as_str()) {
        return Err(invalid());
    }
    let op = api::operations().get(&q.action).ok_or_else(invalid)?;
    crate::sts::may_call_iam(caller)?;
    let account = store.account_id()?;
    // The caller itself where UserName is left out.
    let mut root_self = false;
    if SELF_OPERATIONS.contains(&q.action.as_str()) && q.scalar("UserName").is_none() {
        let me = match caller {
            Caller::User(u, _) => Some(u),
            Caller::Temporary(t) if t.session.of() != SessionOf::Role => t.user.as_ref(),
            Caller::Temporary(_) => {
                return Err(ApiError::new(
                    "ValidationError",
                    "Must specify userName when calling with non-User credentials",
                ));
            }
            Caller::Root => None,
        };
        match me {
            Some(u) => q
                .params
                .push(("UserName".into(), ArgValue::Scalar(u.name.clone()))),
            None => root_self = true,
        }
    }
    if q.action == "ChangePassword" {
        // The caller's own password, whoever the request names.
        let Some(u) = caller.user() else {
            return Err(ApiError::new(
                "InvalidUserType",
                "ChangePassword changes an IAM user's own password; the root user and role sessions have none here",
            ));
        };
        if q.take("UserName").is_some() {
            return Err(ApiError::new(
                "InvalidParameter",
                "UserName is not a parameter of ChangePassword",
            ));
        }
        q.params
            .push(("UserName".into(), ArgValue::Scalar(u.name.clone())));
    }
    for (_, m) in WIRE_REQUIRED.iter().filter(|(a, _)| *a == q.action) {
        if q.scalar(m).is_none() {
            return Err(ApiError::new(
                "ValidationError",
                format!(
                    "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                    api::lower_camel(m)
                ),
            ));
        }
    }
    let pages = Paging::take(op, q)?;
    let res = resource(store, &account, q, caller);
    let facts = call_facts(q, &res);
    let resource = res.arn;
    if !audit.reason.is_empty() {
        audit.reason.push_str("; ");
    }
    audit.reason.push_str(&format!("resource {resource}"));
    let action = format!("iam:{}", q.action);
    authorize(store, env, caller, &action, &resource, facts, audit)?;
    if root_self && q.action == "GetUser" {
        return Ok(Some(
            json!({"User": {"UserId": account, "Arn": arn::root(&account)}}),
        ));
    }
    let out = api::call(store, env.secrets_key_path, env.now, op, &q.params)?;
    if out.wrote {
        if let Some(p) = env.store_path {
            api::after_change(store, p);
        }
    }
    Ok(match out.result {
        Some(v) => Some(pages.apply(&q.action, v)?),
        None => None,
    })
}

/// Wipe the passwords a call carried once it has run.
fn forget_passwords(q: &mut QueryRequest) {
    use zeroize::Zeroize;
    let Some(op) = api::operations().get(&q.action) else {
        return;
    };
    for (k, v) in &mut q.params {
        if let (Some(api::ParamKind::Secret), ArgValue::Scalar(s)) =
            (op.param(k).map(|p| &p.kind), v)
        {
            s.zeroize();
        }
    }
}

/// Decide through the one decision core; root is allowed everything, as AWS root.
fn authorize(
    store: &dyn Store,
    env: &Env<'_>,
    caller: &Caller,
    action: &str,
    resource: &str,
    call: CallFacts,
    audit: &mut AuditEvent,
) -> Result<(), ApiError> {
    let Some((principal, mfa_time, caller_arn)) = caller.principal() else {
        audit.decision = Decision::Allow;
        audit.reason.push_str("; root user");
        return Ok(());
    };
    let user_policies = match caller {
        Caller::User(u, version) => Some(
            env.policies
                .get(store, &u.name, *version)
                .map_err(ApiError::from)?,
        ),
        _ => None,
    };
    let req = Request {
        rhost: audit.rhost.clone(),
        mfa_time,
        call,
        user: caller.user().cloned(),
        user_policies,
        ..Request::new(
            principal,
            action,
            Target::Arn(resource.to_string()),
            audit.time,
        )
    };
    let v =
        own_password::authorize_with_account_policy(store, &req, NoAccountPolicy::GrantsNothing)
            .map_err(|e| {
                ApiError::new(
                    "ServiceFailure",
                    format!("the request could not be authorized: {e}"),
                )
            })?;
    audit.decision = if v.allowed {
        Decision::Allow
    } else {
        Decision::Deny
    };
    audit.reason.push_str(&format!("; {}", v.reason));
    if v.allowed {
        return Ok(());
    }
    let why = if v.explicit_deny {
        "with an explicit deny in an identity-based policy".to_string()
    } else if v.decision.boundary_allowed == Some(false) {
        format!("because no permissions boundary allows the {action} action")
    } else {
        format!("because no identity-based policy allows the {action} action")
    };
    Err(ApiError::new(
        "AccessDenied",
        format!(
            "User: {caller_arn} is not authorized to perform: {action} on resource: {resource} {why}"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_operation_is_a_cli_operation() {
        let ops = api::operations();
        for name in IAM_OPERATIONS.iter().chain(SELF_OPERATIONS) {
            assert!(ops.contains_key(*name), "{name}");
        }
    }

    #[test]
    fn statuses() {
        assert_eq!(status_of("NoSuchEntity"), 404);
        assert_eq!(status_of("EntityAlreadyExists"), 409);
        assert_eq!(status_of("AccessDenied"), 403);
        assert_eq!(status_of("ValidationError"), 400);
        assert_eq!(status_of("ServiceFailure"), 500);
    }
}
