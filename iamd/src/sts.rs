//! STS over the API: `GetCallerIdentity`, `GetSessionToken` and `AssumeRole`, and the
//! temporary (`ASIA…`) credentials they issue. Those are role sessions in the store
//! (`store::RoleSession`, the sessions `iam-sts` issues for sudo, listed by
//! `iam list-role-sessions` and revocable), with the secret sealed like access keys' and
//! the token stored as a hash. `AssumeRole` runs `iam-sts`'s own logic
//! (`sts::assume::assume_role_as`: identity policy, trust policy, duration, session
//! policy, the one second-factor check); `GetSessionToken` checks its code through the
//! same `verify_mfa`.

use crate::query::QueryRequest;
use crate::service::{ApiError, Caller, Env};
use crate::sigv4::{self, Received, SigError};
use pam_iam::arn;
use pam_iam::audit::{Decision, Event};
use pam_iam::authz::session::{self, SessionStatus};
use pam_iam::authz::{self, Principal, Request, Target};
use pam_iam::credentials::{self, sealed};
use pam_iam::store::{AuditEvent, RoleSession, SessionOf, Store, StoreError, User};
use pam_iam::sts::assume::{self, AssumeRoleArgs, Issuer, Keeping, Minted};
use pam_iam::sts::backend::Backend;
use pam_iam::sts::error::StsError;
use pam_iam::sts::model::{self, ValidationError};
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// `GetSessionToken`'s durations (AWS): 15 minutes to 36 hours, 12 hours by default; for
/// the account root user at most one hour, one hour by default.
const USER_MAX: i64 = 129_600;
const USER_DEFAULT: i64 = 43_200;
const ROOT_MAX: i64 = 3_600;

/// A caller signing with temporary credentials: its session, and who it acts as.
#[derive(Debug, Clone)]
pub struct Temporary {
    /// The stored session.
    pub session: RoleSession,
    /// The assumed-role ARN (role sessions), the user's ARN, or root's.
    pub arn: String,
    /// The user (a `GetSessionToken` session of an IAM user).
    pub user: Option<User>,
}

impl Temporary {
    /// The principal the decision core evaluates, with the session's MFA time; `None`
    /// for the account root user (allowed everything).
    pub fn principal(&self) -> Option<(Principal, Option<i64>)> {
        match self.session.of() {
            SessionOf::Role => Some((
                Principal::Session(Box::new(self.session.clone())),
                self.session.mfa_time,
            )),
            SessionOf::User => Some((
                Principal::User(self.session.user_name.clone()),
                self.session.mfa_time,
            )),
            SessionOf::Root => None,
        }
    }

    /// Who the audit trail names: the session ARN for role sessions, the user (or
    /// `root`) for their own sessions.
    pub fn audit_user(&self) -> String {
        match self.session.of() {
            SessionOf::Role => self.arn.clone(),
            SessionOf::User => self.session.user_name.clone(),
            SessionOf::Root => "root".into(),
        }
    }
}

fn invalid_token(why: &str) -> ApiError {
    let mut e = ApiError::from(SigError::UnknownKey);
    if !why.is_empty() {
        e.message = format!("{} ({why})", e.message);
    }
    e
}

/// Authenticate a request signed with an `ASIA…` key: the `X-Amz-Security-Token` must
/// be sent and signed and name a session issued over the API for that key; the
/// signature is checked with the session's sealed secret; then the session must be
/// neither expired (`ExpiredToken`) nor revoked nor ended (its role or user deleted or
/// replaced).
///
/// # Errors
/// `InvalidClientTokenId`, `SignatureDoesNotMatch`, `ExpiredToken` as AWS answers.
pub fn authenticate(
    store: &dyn Store,
    env: &Env<'_>,
    rx: &Received<'_>,
    auth: &sigv4::Authorization,
    amz: &str,
) -> Result<Caller, ApiError> {
    let token = rx
        .header("x-amz-security-token")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid_token("temporary credentials need their session token"))?;
    if !auth
        .signed_headers
        .iter()
        .any(|h| h == "x-amz-security-token")
    {
        return Err(invalid_token("X-Amz-Security-Token must be signed"));
    }
    let s = match store.get_role_session(&credentials::sha256_hex(token.as_bytes())) {
        Ok(s) => s,
        Err(StoreError::NoSuchEntity(_)) => return Err(invalid_token("")),
        Err(e) => return Err(e.into()),
    };
    if s.session_id != auth.access_key {
        return Err(invalid_token(""));
    }
    let secret = s
        .secret_sealed
        .as_deref()
        .and_then(|b| sealed::open(env.secrets_key, &s.session_id, b))
        .ok_or_else(|| invalid_token(""))?;
    sigv4::verify(rx, auth, amz, &secret)?;
    let ended = session::ended(store, &s)?;
    match session::status(&s, ended.is_some(), env.now) {
        SessionStatus::Active => {}
        SessionStatus::Expired => {
            return Err(ApiError::new(
                "ExpiredToken",
                "The security token included in the request is expired",
            ));
        }
        SessionStatus::Revoked => return Err(invalid_token("the session was revoked")),
        SessionStatus::Ended => {
            return Err(invalid_token(&format!(
                "the session ended: {}",
                ended.unwrap_or_default()
            )));
        }
    }
    let account = store.account_id()?;
    let (arn, user) = match s.of() {
        SessionOf::Role => (
            arn::assumed_role(&account, &s.role_name, &s.session_name),
            None,
        ),
        SessionOf::User => {
            let u = store.get_user(&s.user_name)?;
            (u.arn.clone(), Some(u))
        }
        SessionOf::Root => (arn::root(&account), None),
    };
    Ok(Caller::Temporary(Box::new(Temporary {
        session: s,
        arn,
        user,
    })))
}

/// AWS's rule for `GetSessionToken` credentials: they call IAM only with MFA.
///
/// # Errors
/// `AccessDenied` for a user's session without MFA.
pub fn may_call_iam(caller: &Caller) -> Result<(), ApiError> {
    match caller {
        Caller::Temporary(t)
            if t.session.of() != SessionOf::Role && t.session.mfa_time.is_none() =>
        {
            Err(ApiError::new(
                "AccessDenied",
                format!(
                    "User: {} is not authorized to call IAM with session credentials obtained without MFA (call sts get-session-token with --serial-number and --token-code)",
                    t.arn
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// One STS call. `audited` is set when the call wrote its own audit row (a session and
/// its audit event are stored in one transaction).
pub fn call(
    store: &dyn Store,
    env: &Env<'_>,
    caller: &Caller,
    q: &QueryRequest,
    audit: &mut AuditEvent,
    audited: &mut bool,
) -> Result<Option<Value>, ApiError> {
    crate::sts_members::check(q)?;
    match q.action.as_str() {
        // Always allowed, as AWS: it needs no permission.
        "GetCallerIdentity" => {
            audit.decision = Decision::Allow;
            let account = store.account_id()?;
            let (arn, id) = match caller {
                Caller::Root => (arn::root(&account), account.clone()),
                Caller::User(u, _) => (u.arn.clone(), u.user_id.clone()),
                Caller::Temporary(t) => match t.session.of() {
                    SessionOf::Role => {
                        let id = format!(
                            "{}:{}",
                            t.session.role_id.as_deref().unwrap_or_default(),
                            t.session.session_name
                        );
                        (t.arn.clone(), id)
                    }
                    SessionOf::User => (
                        t.arn.clone(),
                        t.user
                            .as_ref()
                            .map(|u| u.user_id.clone())
                            .unwrap_or_default(),
                    ),
                    SessionOf::Root => (t.arn.clone(), account.clone()),
                },
            };
            Ok(Some(json!({"UserId": id, "Account": account, "Arn": arn})))
        }
        "GetSessionToken" => get_session_token(store, env, caller, q, audit, audited),
        "AssumeRole" => assume_role(store, env, caller, q, audit, audited),
        // `sts_members::check` knows every served operation.
        other => Err(ApiError::new(
            "InternalFailure",
            format!("operation {other} is in the STS table but not served"),
        )),
    }
}

/// An STS error as AWS words it: the code, and the message without its code prefix.
fn api_error(e: &StsError) -> ApiError {
    let code = e.code();
    let text = e.to_string();
    let message = text
        .strip_prefix(&format!("{code}: "))
        .unwrap_or(&text)
        .to_string();
    match e {
        StsError::Validation(ValidationError::Duration { max, .. }) => ApiError::new(
            "ValidationError",
            format!(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role ({max} s), or is below the minimum."
            ),
        ),
        StsError::MfaRequired { .. } => ApiError::new(
            "AccessDenied",
            "the role's trust policy requires MFA: pass SerialNumber and TokenCode",
        ),
        _ => ApiError::new(code, message),
    }
}

fn int_member(q: &QueryRequest, name: &str) -> Result<Option<i64>, ApiError> {
    q.scalar(name)
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                ApiError::new(
                    "ValidationError",
                    format!("1 validation error detected: Value '{v}' at '{name}' failed to satisfy constraint: Member must be a number"),
                )
            })
        })
        .transpose()
}

fn required<'q>(q: &'q QueryRequest, name: &str) -> Result<&'q str, ApiError> {
    q.scalar(name).ok_or_else(|| {
        ApiError::new(
            "ValidationError",
            format!("1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"),
        )
    })
}

/// `SerialNumber` and `TokenCode`, checked for shape (both or neither).
fn mfa_members(q: &QueryRequest) -> Result<Option<(String, Zeroizing<String>)>, ApiError> {
    match (q.scalar("SerialNumber"), q.scalar("TokenCode")) {
        (None, None) => Ok(None),
        (Some(s), Some(c)) => {
            model::validate_serial(s).map_err(|e| api_error(&e.into()))?;
            model::validate_token_code(c).map_err(|e| api_error(&e.into()))?;
            Ok(Some((s.to_string(), Zeroizing::new(c.to_string()))))
        }
        (Some(_), None) => Err(ApiError::new(
            "ValidationError",
            "TokenCode is required with SerialNumber",
        )),
        (None, Some(_)) => Err(ApiError::new(
            "ValidationError",
            "SerialNumber is required with TokenCode",
        )),
    }
}

fn credentials_json(m: &Minted, expires: i64) -> Value {
    json!({
        "AccessKeyId": m.access_key_id,
        "SecretAccessKey": m.secret.as_str(),
        "SessionToken": m.token.as_str(),
        "Expiration": pam_iam::time::iso8601(expires),
    })
}

fn backend<'s>(store: &'s dyn Store) -> Backend<'s> {
    Backend::borrowing(store, "iamd".into())
}

fn scope(audit: &AuditEvent) -> String {
    format!("iamd:{}", audit.rhost.as_deref().unwrap_or("-"))
}

/// `GetSessionToken`: temporary credentials of the caller itself, an MFA session when a
/// code is given (checked through the one second-factor check).
fn get_session_token(
    store: &dyn Store,
    env: &Env<'_>,
    caller: &Caller,
    q: &QueryRequest,
    audit: &mut AuditEvent,
    audited: &mut bool,
) -> Result<Option<Value>, ApiError> {
    let b = backend(store);
    let (user, max, default) = match caller {
        Caller::Root => (None, ROOT_MAX, ROOT_MAX),
        Caller::User(u, _) => (Some(u), USER_MAX, USER_DEFAULT),
        Caller::Temporary(t) => {
            return Err(ApiError::new(
                "AccessDenied",
                format!(
                    "User: {} is not authorized to perform: sts:GetSessionToken: Cannot call GetSessionToken with session credentials",
                    t.arn
                ),
            ));
        }
    };
    let min = b.min_session_duration().map_err(|e| api_error(&e))?;
    let duration = match int_member(q, "DurationSeconds")? {
        None => default,
        Some(d) if (min..=max).contains(&d) => d,
        Some(d) => {
            return Err(ApiError::new(
                "ValidationError",
                format!(
                    "1 validation error detected: Value '{d}' at 'durationSeconds' failed to satisfy constraint: Member must have value between {min} and {max}"
                ),
            ));
        }
    };
    let mfa = mfa_members(q)?;
    if let Some(u) = user {
        // No permission is needed, as on AWS; an explicit deny still refuses.
        let req = Request {
            rhost: audit.rhost.clone(),
            ..Request::new(
                Principal::User(u.name.clone()),
                "sts:GetSessionToken",
                Target::Arn(u.arn.clone()),
                env.now,
            )
        };
        let v = authz::authorize(store, &req).map_err(|e| api_error(&e.into()))?;
        if v.explicit_deny {
            audit.reason = format!("explicit deny by {}", v.reason);
            return Err(ApiError::new(
                "AccessDenied",
                format!(
                    "User: {} is not authorized to perform: sts:GetSessionToken on resource: {} with an explicit deny in an identity-based policy",
                    u.arn, u.arn
                ),
            ));
        }
    }
    let mut mfa_time = None;
    if let Some((serial, code)) = &mfa {
        let Some(u) = user else {
            return Err(ApiError::new(
                "AccessDenied",
                "MultiFactorAuthentication failed: the account root user has no MFA device here",
            ));
        };
        let sts_user = b
            .user(&u.name)
            .map_err(|e| api_error(&e))?
            .ok_or_else(|| ApiError::new("AccessDenied", "the user no longer exists"))?;
        assume::verify_mfa(&b, &sts_user, Some(serial), code).map_err(|e| api_error(&e))?;
        mfa_time = Some(env.now);
    }
    let minted = assume::mint(
        &b,
        Keeping::Api {
            secrets_key: env.secrets_key,
        },
    )
    .map_err(|e| api_error(&e))?;
    let s = RoleSession {
        session_id: minted.access_key_id.clone(),
        user_name: user.map(|u| u.name.clone()).unwrap_or_default(),
        role_name: String::new(),
        session_name: String::new(),
        token_hash: minted.token_hash.clone(),
        issued: env.now,
        expires: env.now + duration,
        scope: scope(audit),
        revoked: None,
        mfa_time,
        role_id: None,
        user_id: user.map(|u| u.user_id.clone()),
        secret_sealed: minted.secret_sealed.clone(),
        host: None,
    };
    let event = Event {
        decision: Decision::Allow,
        reason: format!(
            "issued session {} until {}{}",
            s.session_id,
            pam_iam::time::iso8601(s.expires),
            if mfa_time.is_some() { ", with MFA" } else { "" }
        ),
        ..audit.clone()
    };
    b.insert_session(&s, None, &event)
        .map_err(|e| api_error(&e))?;
    *audited = true;
    Ok(Some(
        json!({"Credentials": credentials_json(&minted, s.expires)}),
    ))
}

/// `AssumeRole`, through iam-sts's own `assume_role_as`.
fn assume_role(
    store: &dyn Store,
    env: &Env<'_>,
    caller: &Caller,
    q: &QueryRequest,
    audit: &mut AuditEvent,
    audited: &mut bool,
) -> Result<Option<Value>, ApiError> {
    let (user, prior_mfa, from_session) = match caller {
        Caller::User(u, _) => (u.name.clone(), None, None),
        Caller::Temporary(t) if t.session.of() == SessionOf::User => {
            (t.session.user_name.clone(), t.session.mfa_time, None)
        }
        // Role chaining: the session asks, on behalf of the user who assumed it; the MFA
        // behind the calling session does not carry over.
        Caller::Temporary(t) if t.session.of() == SessionOf::Role => (
            t.session.user_name.clone(),
            None,
            Some(Box::new(t.session.clone())),
        ),
        Caller::Root => {
            return Err(ApiError::new(
                "AccessDenied",
                "Roles may not be assumed by root accounts.",
            ));
        }
        Caller::Temporary(_) => {
            return Err(ApiError::new(
                "AccessDenied",
                "Roles may not be assumed by root accounts.",
            ));
        }
    };
    let mfa = mfa_members(q)?;
    let args = AssumeRoleArgs {
        role_arn: required(q, "RoleArn")?.to_string(),
        session_name: required(q, "RoleSessionName")?.to_string(),
        duration: int_member(q, "DurationSeconds")?,
        serial: mfa.as_ref().map(|(s, _)| s.clone()),
        code: mfa.map(|(_, c)| c),
        policy: q.scalar("Policy").map(str::to_string),
        external_id: q.scalar("ExternalId").map(str::to_string),
        passed: crate::sts_members::passed(q)?,
        from_session,
    };
    if !audit.reason.is_empty() {
        audit.reason.push_str("; ");
    }
    audit
        .reason
        .push_str(&format!("resource {}", args.role_arn));
    let issuer = Issuer {
        service: "iamd",
        scope: scope(audit),
        tty: None,
        rhost: audit.rhost.clone(),
        keeping: Keeping::Api {
            secrets_key: env.secrets_key,
        },
        host: None,
    };
    let b = backend(store);
    let out = assume::assume_role_as(&b, &user, env.now, prior_mfa, &issuer, &args, &mut |_| None)
        .map_err(|e| {
            if e.code() == "AccessDenied" {
                audit.reason = format!("{}; {e}", audit.reason);
            }
            api_error(&e)
        })?;
    *audited = true;
    audit.decision = Decision::Allow;
    Ok(Some(out.to_json()))
}
