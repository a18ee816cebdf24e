//! `POST /host/v1/assume-role`: `iam-sts assume-role` on a host in fleet mode. The
//! setuid helper asks its agent, the agent signs this call with the host credential, and
//! the session is issued here by the same `sts::assume::assume_role_as` that iam-sts runs
//! on a local store (identity and trust policy, duration, session policy, the one
//! second-factor check with its watermark and lockout). The session is bound to the
//! caller's terminal scope and to the credential's host, never to a host the body names:
//! only that host's replica carries it (token hash only), so only sudo there honours it.
//!
//! Answers `{"Decision":"Allow","AccessKeyId":…,"StoreVersion":V}` (V: a store version
//! that includes the session, for the agent to wait for in its replica), or
//! `{"Decision":"Deny","Code":…,"Message":…,"MfaSerial":…}`; a store outage is a 503.
//!
//! `POST /host/v1/revoke-session`: `iam-sts revoke-session` on such a host, by the one
//! rule of a local store (`sts::sessions::revoke_own`: the caller's own sessions only),
//! confined to the sessions issued for the credential's host. Answers
//! `{"Decision":"Allow","RevokedAccessKeyIds":[…],"StoreVersion":V}` or a Deny as above;
//! each revocation and each refusal is audited here (`sts:RevokeSession`).

use crate::host_api::{self, Served};
use crate::service::{ApiError, HttpRequest};
use pam_iam::audit::{Decision, Event};
use pam_iam::store::Store;
use pam_iam::sts::assume::{self, AssumeRoleArgs, Issuer, Keeping};
use pam_iam::sts::backend::Backend;
use pam_iam::sts::error::StsError;
use pam_iam::sts::passed::Passed;
use pam_iam::sts::sessions::{self, Revoker};
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

/// The endpoint.
pub const ASSUME_PATH: &str = "/host/v1/assume-role";
/// The revocation endpoint.
pub const REVOKE_PATH: &str = "/host/v1/revoke-session";

/// The body the agent sends for `iam-sts revoke-session`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    /// The Linux (= IAM) user the setuid helper found as the real uid.
    #[serde(rename = "User")]
    pub user: String,
    /// `--access-key-id` (`None`: all the caller's active sessions of this host).
    #[serde(rename = "AccessKeyId", default)]
    pub access_key_id: Option<String>,
    /// The terminal scope for people.
    #[serde(rename = "Tty", default)]
    pub tty: Option<String>,
}

/// The calling host and its request's JSON body, or the answer refusing them.
fn authenticated<T: serde::de::DeserializeOwned>(
    store: &dyn Store,
    secrets_key: &[u8],
    req: &HttpRequest,
    now: i64,
) -> Result<(host_api::HostCaller, T), Box<Served>> {
    let caller = match host_api::authenticate(store, secrets_key, req, now) {
        Ok(c) => c,
        Err(e) => return Err(Box::new(answer(None, e.status, host_api::error_body(&e)))),
    };
    match serde_json::from_slice(&req.body) {
        Ok(b) => Ok((caller, b)),
        Err(e) => {
            let e = ApiError::new(
                "InvalidParameterValue",
                format!("the request body is not the expected JSON: {e}"),
            );
            Err(Box::new(answer(
                Some(caller),
                e.status,
                host_api::error_body(&e),
            )))
        }
    }
}

/// Serve one revoke-session of a host (on a store thread).
pub fn serve_revoke(store: &dyn Store, secrets_key: &[u8], req: &HttpRequest, now: i64) -> Served {
    let (caller, body) = match authenticated::<RevokeBody>(store, secrets_key, req, now) {
        Ok(x) => x,
        Err(refused) => return *refused,
    };
    let who = Revoker {
        user: &body.user,
        now,
        tty: format!(
            "host/{}: {}",
            caller.host,
            body.tty.as_deref().unwrap_or("")
        ),
        host: Some(&caller.host),
    };
    let b = Backend::borrowing(store, caller.host.clone());
    let result = sessions::revoke_own(&b, &who, body.access_key_id.as_deref());
    let outcome = match result {
        Ok(v) => store.store_version().map(|version| {
            json!({
                "Decision": "Allow",
                "RevokedAccessKeyIds": v["RevokedAccessKeyIds"],
                "StoreVersion": version,
            })
        }),
        // The store could not answer: not a decision (the agent may try another server).
        Err(StsError::Store(e)) => Err(e),
        Err(e) => {
            let rec = Event {
                time: now,
                action: "sts:RevokeSession".to_string(),
                user: body.user.clone(),
                decision: Decision::Deny,
                reason: e.to_string(),
                service: "iam-sts".to_string(),
                rhost: None,
                tty: Some(who.tty.clone()),
            };
            store
                .append_audit(&rec)
                .map(|()| json!({ "Decision": "Deny", "Code": e.code(), "Message": e.to_string() }))
        }
    };
    match outcome {
        Ok(v) => answer(Some(caller), 200, v),
        Err(e) => {
            let e = ApiError {
                status: 503,
                code: "ServiceUnavailable".into(),
                message: e.to_string(),
            };
            answer(Some(caller), e.status, host_api::error_body(&e))
        }
    }
}

/// The body the agent sends: the helper's arguments, caller and terminal scope.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssumeBody {
    /// The Linux (= IAM) user the setuid helper found as the real uid.
    #[serde(rename = "User")]
    pub user: String,
    /// `--role-arn`.
    #[serde(rename = "RoleArn")]
    pub role_arn: String,
    /// `--role-session-name`.
    #[serde(rename = "RoleSessionName")]
    pub session_name: String,
    /// `--duration-seconds`.
    #[serde(rename = "DurationSeconds", default)]
    pub duration: Option<i64>,
    /// `--serial-number`.
    #[serde(rename = "SerialNumber", default)]
    pub serial: Option<String>,
    /// The code.
    #[serde(rename = "TokenCode", default)]
    pub code: Option<Zeroizing<String>>,
    /// `--policy`.
    #[serde(rename = "Policy", default)]
    pub policy: Option<String>,
    /// `--external-id`.
    #[serde(rename = "ExternalId", default)]
    pub external_id: Option<String>,
    /// `--source-identity`, `--tags`, `--transitive-tag-keys`, `--policy-arns`.
    #[serde(rename = "Passed", default)]
    pub passed: Passed,
    /// The terminal scope key sudo on the host matches.
    #[serde(rename = "Scope")]
    pub scope: String,
    /// The terminal scope for people.
    #[serde(rename = "Tty", default)]
    pub tty: Option<String>,
}

/// Serve one assume-role of a host (on a store thread).
pub fn serve_assume(store: &dyn Store, secrets_key: &[u8], req: &HttpRequest, now: i64) -> Served {
    let (caller, body) = match authenticated::<AssumeBody>(store, secrets_key, req, now) {
        Ok(x) => x,
        Err(refused) => return *refused,
    };
    let issuer = Issuer {
        service: "iam-sts",
        scope: body.scope.clone(),
        tty: Some(format!(
            "host/{}: {}",
            caller.host,
            body.tty.as_deref().unwrap_or("")
        )),
        rhost: None,
        keeping: Keeping::Terminal,
        host: Some(caller.host.clone()),
    };
    let args = AssumeRoleArgs {
        role_arn: body.role_arn.clone(),
        session_name: body.session_name.clone(),
        duration: body.duration,
        serial: body.serial.clone(),
        code: body.code.clone(),
        policy: body.policy.clone(),
        external_id: body.external_id.clone(),
        passed: body.passed.clone(),
        ..AssumeRoleArgs::default()
    };
    let b = Backend::borrowing(store, caller.host.clone());
    match assume::assume_role_as(&b, &body.user, now, None, &issuer, &args, &mut |_| None) {
        Ok(out) => {
            let version = match store.store_version() {
                Ok(v) => v,
                Err(e) => {
                    let e = ApiError::from(e);
                    return answer(Some(caller), e.status, host_api::error_body(&e));
                }
            };
            answer(
                Some(caller),
                200,
                json!({
                    "Decision": "Allow",
                    "AccessKeyId": out.access_key_id,
                    "SecretAccessKey": out.secret_access_key,
                    "SessionToken": out.session_token,
                    "Expiration": out.expiration,
                    "AssumedRoleId": out.assumed_role_id,
                    "Arn": out.arn,
                    "StoreVersion": version,
                }),
            )
        }
        // The store could not answer: not a decision (the agent may try another server).
        Err(StsError::Store(e)) => {
            let e = ApiError {
                status: 503,
                code: "ServiceUnavailable".into(),
                message: e.to_string(),
            };
            answer(Some(caller), e.status, host_api::error_body(&e))
        }
        Err(e) => {
            let mfa_serial = match &e {
                StsError::MfaRequired { serial } => Some(serial.clone()),
                _ => None,
            };
            let rec = assume::refusal_event(&body.user, now, &args, &e, &issuer);
            if let Err(err) = store.append_audit(&rec) {
                let err = ApiError::from(err);
                return answer(Some(caller), err.status, host_api::error_body(&err));
            }
            answer(
                Some(caller),
                200,
                json!({
                    "Decision": "Deny",
                    "Code": e.code(),
                    "Message": e.to_string(),
                    "MfaSerial": mfa_serial,
                }),
            )
        }
    }
}

fn answer(caller: Option<host_api::HostCaller>, status: u16, body: serde_json::Value) -> Served {
    Served {
        status,
        body,
        caller,
    }
}
