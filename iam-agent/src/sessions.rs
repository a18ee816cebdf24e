//! Role sessions through the agent: `iam-sts assume-role` forwarded to `iamd`
//! ([`iamd::host_sts`], online only), and the window in which sudo on this host honours
//! the sessions its replica holds (always online; offline until the last contact with
//! `iamd` plus `offline_session_cap_seconds`, so a revocation the host cannot hear of is
//! honoured for a bounded time only).

use crate::serve::{Ctx, Forwarded, forward, forward_with};
use iamd::host_sts;
use pam_iam::fleet::proto::{Answer, AssumeRequest, AssumedRole, RevokeRequest};
use pam_iam::sts::passed::Passed;
use serde::Serialize;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// How long an issued session may take to reach this host's replica before the helper
/// is answered anyway (sudo then works once it arrives).
const REPLICA_WAIT: Duration = Duration::from_secs(5);

/// The host API's body (secrets borrowed, serialised into a zeroizing buffer).
#[derive(Serialize)]
struct AssumeBodyOut<'a> {
    #[serde(rename = "User")]
    user: &'a str,
    #[serde(rename = "RoleArn")]
    role_arn: &'a str,
    #[serde(rename = "RoleSessionName")]
    session_name: &'a str,
    #[serde(rename = "DurationSeconds", skip_serializing_if = "Option::is_none")]
    duration: Option<i64>,
    #[serde(rename = "SerialNumber", skip_serializing_if = "Option::is_none")]
    serial: Option<&'a str>,
    #[serde(rename = "TokenCode", skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    #[serde(rename = "Policy", skip_serializing_if = "Option::is_none")]
    policy: Option<&'a str>,
    #[serde(rename = "ExternalId", skip_serializing_if = "Option::is_none")]
    external_id: Option<&'a str>,
    #[serde(rename = "Passed", skip_serializing_if = "Passed::is_empty")]
    passed: &'a Passed,
    #[serde(rename = "Scope")]
    scope: &'a str,
    #[serde(rename = "Tty")]
    tty: &'a str,
}

/// `iam-sts assume-role`: issued by `iamd`, refused offline.
pub fn assume(ctx: &Ctx, a: &AssumeRequest) -> Answer {
    let out = AssumeBodyOut {
        user: &a.user,
        role_arn: &a.role_arn,
        session_name: &a.session_name,
        duration: a.duration,
        serial: a.serial.as_deref(),
        code: a.code.as_deref().map(String::as_str),
        policy: a.policy.as_deref(),
        external_id: a.external_id.as_deref(),
        passed: &a.passed,
        scope: &a.scope,
        tty: &a.tty,
    };
    let mut body = Zeroizing::new(Vec::with_capacity(8192));
    if let Err(e) = serde_json::to_writer(&mut *body, &out) {
        return Answer::Error {
            reason: format!("cannot encode the request: {e}"),
        };
    }
    // A code is checked by the server's one second-factor check: with this host's
    // offline steps merged first.
    match forward_with(ctx, host_sts::ASSUME_PATH, &body, a.code.is_some()) {
        Forwarded::Answer(mut v) => match v["Decision"].as_str() {
            Some("Allow") => {
                let text = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or("").to_string();
                let secret = Zeroizing::new(text(&v, "SecretAccessKey"));
                let token = Zeroizing::new(text(&v, "SessionToken"));
                // The secrets leave the JSON value (the zeroizing copies above are kept).
                zeroize_strings(&mut v);
                wait_for_replica(ctx, v["StoreVersion"].as_i64().unwrap_or(0));
                Answer::Assumed(AssumedRole {
                    access_key_id: text(&v, "AccessKeyId"),
                    secret_access_key: secret,
                    session_token: token,
                    expiration: v["Expiration"].as_i64().unwrap_or(0),
                    assumed_role_id: text(&v, "AssumedRoleId"),
                    arn: text(&v, "Arn"),
                })
            }
            Some("Deny") => Answer::Refused {
                code: v["Code"].as_str().unwrap_or("AccessDenied").to_string(),
                message: v["Message"].as_str().unwrap_or("").to_string(),
                mfa_serial: v["MfaSerial"].as_str().map(str::to_string),
            },
            _ => Answer::Error {
                reason: format!("iamd answered an unknown decision: {v}"),
            },
        },
        Forwarded::Final(reason) => Answer::Error { reason },
        Forwarded::Unreachable => Answer::Refused {
            code: "ServiceUnavailable".into(),
            message: format!(
                "ServiceUnavailable: iamd cannot be reached from this host and new role sessions are issued only online (fleet mode); role sessions you already have keep working here until {}",
                window_text(ctx)
            ),
            mfa_serial: None,
        },
    }
}

/// `iam-sts revoke-session`: revoked at `iamd` (its one rule: the caller's own sessions
/// of this host), refused offline. The answer waits (bounded) until the replica holds
/// the revocation, so sudo here refuses the session as soon as the helper returns.
pub fn revoke(ctx: &Ctx, r: &RevokeRequest) -> Answer {
    let body = serde_json::json!({
        "User": r.user,
        "AccessKeyId": r.access_key_id,
        "Tty": r.tty,
    })
    .to_string();
    match forward(ctx, host_sts::REVOKE_PATH, body.as_bytes()) {
        Forwarded::Answer(v) => match v["Decision"].as_str() {
            Some("Allow") => {
                wait_for_replica(ctx, v["StoreVersion"].as_i64().unwrap_or(0));
                Answer::Revoked {
                    access_key_ids: v["RevokedAccessKeyIds"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                }
            }
            Some("Deny") => Answer::Refused {
                code: v["Code"].as_str().unwrap_or("AccessDenied").to_string(),
                message: v["Message"].as_str().unwrap_or("").to_string(),
                mfa_serial: None,
            },
            _ => Answer::Error {
                reason: format!("iamd answered an unknown decision: {v}"),
            },
        },
        Forwarded::Final(reason) => Answer::Error { reason },
        Forwarded::Unreachable => Answer::Refused {
            code: "ServiceUnavailable".into(),
            message: format!(
                "ServiceUnavailable: iamd cannot be reached from this host and role sessions are revoked only at iamd (fleet mode); try again once it is back (an offline host honours sessions until {})",
                window_text(ctx)
            ),
            mfa_serial: None,
        },
    }
}

/// Overwrites the secret members of an answer before it is dropped.
fn zeroize_strings(v: &mut serde_json::Value) {
    for k in ["SecretAccessKey", "SessionToken"] {
        if let Some(serde_json::Value::String(s)) = v.get_mut(k) {
            zeroize::Zeroize::zeroize(s);
        }
    }
}

/// Waits (bounded) until the replica holds `version`, so sudo right after assume-role
/// finds the session.
fn wait_for_replica(ctx: &Ctx, version: i64) {
    let t0 = Instant::now();
    while ctx.shared.replica_version.load(Ordering::SeqCst) < version && t0.elapsed() < REPLICA_WAIT
    {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Until when sessions count: `None` online, else the last contact with `iamd` (kept
/// in offline.db across restarts) plus the cap. Nothing is honoured when no server ever
/// answered this host (the agent's start then) or when the local clock is earlier than
/// that contact (now: a clock turned back must not stretch the cap).
pub fn until(ctx: &Ctx) -> Option<i64> {
    if ctx.shared.online.load(Ordering::SeqCst) {
        return None;
    }
    let last = ctx.shared.last_contact.load(Ordering::SeqCst);
    let cap = i64::try_from(ctx.session_cap).unwrap_or(i64::MAX);
    let now = crate::now();
    Some(if last == 0 {
        ctx.shared.started
    } else if now < last {
        now
    } else {
        last.saturating_add(cap)
    })
}

fn window_text(ctx: &Ctx) -> String {
    match until(ctx) {
        Some(t) => format!(
            "{} (their expiry, at most {} s after this host last reached iamd)",
            pam_iam::time::iso8601(t),
            ctx.session_cap
        ),
        None => "their expiry".to_string(),
    }
}

/// [`pam_iam::fleet::proto::Request::SessionWindow`].
pub fn window(ctx: &Ctx) -> Answer {
    Answer::SessionWindow {
        online: ctx.shared.online.load(Ordering::SeqCst),
        until: until(ctx),
    }
}
