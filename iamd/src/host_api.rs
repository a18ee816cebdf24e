//! The host API of fleet mode: agents pull their host's replica, signed (SigV4, scope
//! service [`SERVICE`]) with the host credentials `iam create-host-credentials` issued.
//! The host is whoever the credential belongs to, never a name the request carries; a
//! host credential opens only this API and a user's or root key never opens it.
//!
//! `GET /host/v1/replica?since=V&wait=S[&store=ID]`: the host's view of the store
//! ([`pam_iam::store::replica`]) when the store version is not `V`; otherwise the
//! request waits up to `S` seconds (at most [`MAX_WAIT_SECS`]) for a change and answers
//! `{"StoreVersion":V,"Unchanged":true}` if none came. The view is
//! `{"StoreVersion","StoreId","Replica"}` (whole), or, for a host naming the `StoreId`
//! it holds `V` of (`store=ID`) and within the change log,
//! `{"StoreVersion","StoreId","FromVersion":V,"Delta"}`: the tables changed since `V`
//! (migration 17). A host that sends no `store` (an agent older than deltas) always gets
//! the whole view, as before.
//!
//! `POST /host/v1/journal` ([`JOURNAL_PATH`]): the host's offline journal
//! ([`pam_iam::fleet::proto::JournalBatch`]) merged by [`pam_iam::fleet::reconnect`];
//! answers `{"Ack":N}`, the highest entry applied, or 409 `JournalGap` with the `Ack` to
//! resume after.

use crate::service::{ApiError, HttpRequest};
use crate::sigv4::{self, Authorization, Received, SigError};
use pam_iam::audit::Decision;
use pam_iam::credentials::ExpiryFacts;
use pam_iam::credentials::{offline, sealed};
use pam_iam::fleet::proto::JournalBatch;
use pam_iam::fleet::reconnect::{self, JournalError, OnReplay};
use pam_iam::pam::backend::{BackendError, RealCrypto, login_user};
use pam_iam::pam::verify::{self, Presented, Rules, Verdict};
use pam_iam::store::replica::{Exported, Pulled};
use pam_iam::store::{AuditEvent, Store, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// The SigV4 credential scope's service for the host API.
pub const SERVICE: &str = "pam-iam-host";

/// The replica endpoint.
pub const REPLICA_PATH: &str = "/host/v1/replica";

/// Which prompts a user gets (`POST`, JSON `{"User":…}`).
pub const PROMPTS_PATH: &str = "/host/v1/prompts";

/// A login's answers verified (`POST`, JSON [`LoginBody`]).
pub const LOGIN_PATH: &str = "/host/v1/login";

/// A host's offline journal shipped on reconnect (`POST`, JSON
/// [`pam_iam::fleet::proto::JournalBatch`]).
pub const JOURNAL_PATH: &str = "/host/v1/journal";

/// The largest journal batch body read.
pub const MAX_JOURNAL_BODY: usize = 1024 * 1024;

/// The largest login body read.
pub const MAX_LOGIN_BODY: usize = 16 * 1024;

/// The longest a pull waits for a change.
pub const MAX_WAIT_SECS: u64 = 60;

/// The host that signed a request.
#[derive(Debug, Clone)]
pub struct HostCaller {
    /// Host name (from the credential).
    pub host: String,
    /// The credential's key id.
    pub key_id: String,
}

/// A pull's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    /// The version the agent holds (`None`: it holds none).
    pub since: Option<i64>,
    /// Seconds to wait for a change.
    pub wait: u64,
    /// The `StoreId` the agent's version is of (`None`: an agent that takes only whole
    /// views).
    pub store: Option<String>,
}

impl Pull {
    /// What the host holds, when it can take a delta (it named the store and a version).
    pub fn held(&self) -> Option<pam_iam::store::replica::Held> {
        Some(pam_iam::store::replica::Held {
            store_id: self.store.clone()?,
            version: self.since?,
        })
    }
}

/// Parse `since` and `wait`; any other parameter (a host name above all) is refused.
///
/// # Errors
/// `InvalidParameterValue` naming the parameter.
pub fn parse_pull(query: &str) -> Result<Pull, ApiError> {
    let mut p = Pull {
        since: None,
        wait: 0,
        store: None,
    };
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let bad = || {
            ApiError::new(
                "InvalidParameterValue",
                format!("{k}={v:?} is not a valid value"),
            )
        };
        match k.as_ref() {
            "since" => p.since = Some(v.parse().map_err(|_| bad())?),
            "wait" => p.wait = v.parse::<u64>().map_err(|_| bad())?.min(MAX_WAIT_SECS),
            "store"
                if !v.is_empty()
                    && v.len() <= 64
                    && v.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                p.store = Some(v.into_owned());
            }
            "store" => return Err(bad()),
            _ => {
                return Err(ApiError::new(
                    "InvalidParameterValue",
                    format!(
                        "the host API takes only since, wait and store, not {k:?}: a host is known by its credential"
                    ),
                ));
            }
        }
    }
    Ok(p)
}

/// Verify the signature with the host credential it names (on a store thread).
///
/// # Errors
/// AWS's signature errors; `InvalidClientTokenId` for an unknown (or deleted) credential.
pub fn authenticate(
    store: &dyn Store,
    secrets_key: &[u8],
    req: &HttpRequest,
    now: i64,
) -> Result<HostCaller, ApiError> {
    let rx = Received {
        method: &req.method,
        path: &req.path,
        query: &req.query,
        headers: &req.headers,
        body: &req.body,
    };
    let header = rx.header("authorization").ok_or(SigError::Missing)?;
    let auth = sigv4::parse_authorization(header)?;
    if auth.service != SERVICE {
        return Err(SigError::Mismatch(format!(
            "Credential should be scoped to correct service: '{SERVICE}', not '{}'.",
            auth.service
        ))
        .into());
    }
    let (amz, t) = sigv4::request_time(&rx)?;
    sigv4::check_time(&auth, &amz, t, now)?;
    let (cred, sealed_secret) = match store.host_credential(&auth.access_key) {
        Ok(c) => c,
        Err(StoreError::NoSuchEntity(_)) => return Err(SigError::UnknownKey.into()),
        Err(e) => return Err(e.into()),
    };
    let secret =
        sealed::open(secrets_key, &auth.access_key, &sealed_secret).ok_or(SigError::UnknownKey)?;
    sigv4::verify(&rx, &auth, &amz, &secret)?;
    Ok(HostCaller {
        host: cred.host,
        key_id: cred.key_id,
    })
}

/// The audit row of a host API call (`host:GetReplica`, `host:VerifyLogin`),
/// attributed to the credential's host.
pub fn audit(
    action: &str,
    caller: Option<&HostCaller>,
    key_hint: &str,
    ip: &str,
    now: i64,
    result: &Result<(), ApiError>,
) -> AuditEvent {
    AuditEvent {
        time: now,
        user: caller.map_or_else(|| key_hint.to_string(), |c| format!("host/{}", c.host)),
        service: "iamd".into(),
        rhost: Some(ip.to_string()),
        tty: None,
        action: action.into(),
        decision: if result.is_ok() {
            pam_iam::audit::Decision::Allow
        } else {
            pam_iam::audit::Decision::Deny
        },
        reason: match result {
            Ok(()) => "OK".into(),
            Err(e) => e.code.clone(),
        },
    }
}

/// The key id a request names, for the audit row of a refusal.
pub fn key_hint(req: &HttpRequest) -> String {
    req.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, v)| sigv4::parse_authorization(v).ok())
        .map_or_else(|| "-".into(), |a| a.access_key)
}

/// The answer to a pull: the whole view, or the tables changed since the host's version.
pub fn snapshot_body(p: &Pulled) -> Value {
    match &p.exported {
        Exported::Full(r) => {
            json!({ "StoreVersion": r.store_version, "StoreId": p.store_id, "Replica": r })
        }
        Exported::Delta(d) => json!({
            "StoreVersion": d.replica.store_version,
            "StoreId": p.store_id,
            "FromVersion": d.from_version,
            "Delta": d.replica,
        }),
    }
}

/// The answer when nothing changed.
pub fn unchanged_body(version: i64) -> Value {
    json!({ "StoreVersion": version, "Unchanged": true })
}

/// An error answer.
pub fn error_body(e: &ApiError) -> Value {
    json!({ "Error": { "Code": e.code, "Message": e.message } })
}

/// The headers to send with a signed `GET path?query` to `host` (the agent's side).
///
/// # Errors
/// As [`sign`].
pub fn sign_get(
    host: &str,
    path: &str,
    query: &str,
    key_id: &str,
    secret: &[u8],
    now: i64,
) -> Result<Vec<(String, String)>, ApiError> {
    sign("GET", host, path, query, b"", SERVICE, key_id, secret, now)
}

/// `host`, `x-amz-date` and `authorization` headers for a request, signed for
/// `service` by the same code that verifies signatures.
///
/// # Errors
/// A signature that cannot be computed (never for these headers).
#[allow(clippy::too_many_arguments)]
pub fn sign(
    method: &str,
    host: &str,
    path: &str,
    query: &str,
    body: &[u8],
    service: &str,
    key_id: &str,
    secret: &[u8],
    now: i64,
) -> Result<Vec<(String, String)>, ApiError> {
    let amz = sigv4::amz_date(now);
    let headers = vec![
        ("host".to_string(), host.to_string()),
        ("x-amz-date".to_string(), amz.clone()),
    ];
    let auth = Authorization {
        access_key: key_id.to_string(),
        date: amz[..8].to_string(),
        region: "fleet".into(),
        service: service.into(),
        signed_headers: vec!["host".into(), "x-amz-date".into()],
        signature: String::new(),
    };
    let rx = Received {
        method,
        path,
        query,
        headers: &headers,
        body,
    };
    let sig = sigv4::expected_signature(&rx, &auth, &amz, secret)?;
    let mut out = headers;
    out.push((
        "authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={key_id}/{}, SignedHeaders=host;x-amz-date, Signature={sig}",
            auth.scope()
        ),
    ));
    Ok(out)
}

/// `POST /host/v1/prompts`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptsBody {
    /// PAM_USER on the host.
    #[serde(rename = "User")]
    pub user: String,
}

/// `POST /host/v1/login`'s body: a login's answers and PAM items as the host saw them.
/// The host is the credential's; no field names it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// PAM_USER.
    #[serde(rename = "User")]
    pub user: String,
    /// The password (absent in code-only mode).
    #[serde(rename = "Password", default)]
    pub password: Option<Zeroizing<String>>,
    /// The verification or recovery code.
    #[serde(rename = "Code", default)]
    pub code: Option<Zeroizing<String>>,
    /// PAM_SERVICE.
    #[serde(rename = "Service", default)]
    pub service: Option<String>,
    /// PAM_RHOST.
    #[serde(rename = "Rhost", default)]
    pub rhost: Option<String>,
    /// PAM_TTY.
    #[serde(rename = "Tty", default)]
    pub tty: Option<String>,
    /// sshd verified a public key first (`mode=code`).
    #[serde(rename = "CodeOnly", default)]
    pub code_only: bool,
    /// Seconds of offline material the host asks for after a success (its
    /// `offline_max_age`; 0: it never decides offline).
    #[serde(rename = "OfflineSeconds", default)]
    pub offline_seconds: i64,
    /// The material the host holds for the user, if any (new material is issued only
    /// when that is stale: [`offline::should_issue`]).
    #[serde(rename = "OfflineHeld", default)]
    pub offline_held: Option<offline::Held>,
}

/// What a host API call over a JSON body answers: status and body, and the audit rows
/// the call leaves (written by the caller through the audit writer).
pub struct Served {
    /// HTTP status.
    pub status: u16,
    /// JSON answer.
    pub body: Value,
    /// The host the credential names (for metrics); `None` when not authenticated.
    pub caller: Option<HostCaller>,
}

fn refused(caller: Option<HostCaller>, e: &ApiError) -> Served {
    Served {
        status: e.status,
        body: error_body(e),
        caller,
    }
}

/// `POST /host/v1/prompts`: whether `User` is an IAM user and has an MFA device (the
/// prompts the host asks, the same the local module would).
pub fn serve_prompts(store: &dyn Store, secrets_key: &[u8], req: &HttpRequest, now: i64) -> Served {
    let caller = match authenticate(store, secrets_key, req, now) {
        Ok(c) => c,
        Err(e) => return refused(None, &e),
    };
    let body: PromptsBody = match serde_json::from_slice(&req.body) {
        Ok(b) => b,
        Err(e) => return refused(Some(caller), &bad_body(&e)),
    };
    match login_user(store, &body.user) {
        Ok(u) => Served {
            status: 200,
            body: json!({ "Known": u.is_some(), "Mfa": verify::wants_code(u.as_ref()) }),
            caller: Some(caller),
        },
        Err(e) => refused(Some(caller), &backend_error(&e)),
    }
}

/// `POST /host/v1/login`: the answers verified by the one login check of the product
/// (`pam::verify`, as the local module runs it), and the `authenticate` audit row,
/// attributed to the credential's host, written in the transaction that decides (an
/// Allow's with the settle that spends the code). Answers
/// `{"Decision":"Allow","Reason":…,"Mfa":…,"AuthTime":…,"Watermark":…}` (plus
/// `"Offline"`: new offline material for this host, when due), `{"Decision":"Deny",…}`
/// or `{"Decision":"Unknown"}`; a store failure is a 5xx (never a decision).
pub fn serve_login(store: &dyn Store, secrets_key: &[u8], req: &HttpRequest, now: i64) -> Served {
    let caller = match authenticate(store, secrets_key, req, now) {
        Ok(c) => c,
        Err(e) => return refused(None, &e),
    };
    let body: LoginBody = match serde_json::from_slice(&req.body) {
        Ok(b) => b,
        Err(e) => return refused(Some(caller), &bad_body(&e)),
    };
    // The `authenticate` row of a decision, attributed to the credential's host; the
    // store writes it with the decision (verify::verify).
    let record = |decision: Decision, reason: &str| AuditEvent {
        time: now,
        user: body.user.clone(),
        service: body.service.clone().unwrap_or_default(),
        rhost: body.rhost.clone(),
        tty: body.tty.clone(),
        action: "authenticate".into(),
        decision,
        reason: format!("host/{}: {reason}", caller.host),
    };
    let decided = (|| {
        let user = login_user(store, &body.user)?;
        // The password's expiry facts for the host's `account` (its replica has no login
        // profile); only for a user with a password.
        let expiry = match user.as_ref().filter(|u| u.password_hash.is_some()) {
            Some(u) => {
                let p = store.get_password_policy()?.unwrap_or_default();
                Some(ExpiryFacts::new(
                    p.max_password_age,
                    p.hard_expiry,
                    u.password_last_changed,
                    u.password_reset_required,
                ))
            }
            None => None,
        };
        let crypto = RealCrypto {
            params: store.hash_params()?,
        };
        let rules = Rules {
            code_only: body.code_only,
            window: DEFAULT_WINDOW,
            host: &caller.host,
        };
        let presented = Presented {
            password: body.password.as_ref().map(|p| p.as_str()),
            code: body.code.as_ref().map(|c| c.as_str()),
        };
        verify::verify(
            store,
            &crypto,
            &rules,
            user.as_ref(),
            &presented,
            now,
            &record,
        )
        .map(|v| (v, expiry))
    })();
    let (verdict, expiry) = match decided {
        Ok(v) => v,
        Err(e) => return refused(Some(caller), &backend_error(&e)),
    };
    // The row a decision left unwritten (an unknown user's, a denial whose failure could
    // not be counted), written now.
    let (unwritten, answer) = match &verdict {
        Verdict::Unknown => (
            Some(record(Decision::Deny, "not an IAM user")),
            json!({ "Decision": "Unknown" }),
        ),
        // A failure that could not be counted: its row is tried alone, and the answer is
        // the 5xx a proven login gets when its settle fails, so a store fault does not
        // tell a right password from a wrong one without counting either.
        Verdict::Denied {
            reason,
            uncounted: Some(why),
        } => {
            let _ = store.append_audit(&record(Decision::Deny, reason));
            return refused(Some(caller), &uncounted(why));
        }
        Verdict::Denied { reason, .. } => (None, json!({ "Decision": "Deny", "Reason": reason })),
        // Nothing spent or recorded: a 5xx, so the host asks again (here or on another
        // server) and the same code is still good.
        Verdict::Unrecorded { error, .. } => {
            return refused(Some(caller), &uncounted(error));
        }
        Verdict::Allowed { reason, mfa } => {
            let mut a = json!({ "Decision": "Allow", "Reason": reason, "Mfa": mfa, "AuthTime": now, "Expiry": expiry });
            // The login stands whatever happens to its offline material (the code is
            // spent, its audit row written): a failed issue only leaves the host without
            // new material.
            match offline_material(store, &caller.host, &body, now) {
                Ok((watermark, material)) => {
                    a["Watermark"] = json!(watermark);
                    if let Some(mut m) = material {
                        // The recovery tags go beside the material: an agent older than
                        // them refuses a material with a field it does not know, and
                        // ignores an answer's.
                        let recovery = std::mem::take(&mut m.recovery);
                        a["Offline"] = json!(m);
                        if !recovery.is_empty() {
                            a["OfflineRecovery"] = json!(recovery);
                        }
                    }
                }
                Err(e) => a["OfflineError"] = json!(e.to_string()),
            }
            (None, a)
        }
    };
    // No answer without its audit row.
    if let Some(row) = unwritten {
        if let Err(e) = store.append_audit(&row) {
            return refused(Some(caller), &ApiError::from(e));
        }
    }
    Served {
        status: 200,
        body: answer,
        caller: Some(caller),
    }
}

/// The 503 of a login decided but not written (nothing spent, counted or recorded): the
/// host asks again, here or on another server.
fn uncounted(error: &str) -> ApiError {
    ApiError {
        status: 503,
        code: "ServiceUnavailable".into(),
        message: format!("the login could not be recorded, nothing was spent or counted: {error}"),
    }
}

/// After a success: the device's watermark now (the host's last-synced watermark) and,
/// when the login had a password and what the host holds is stale, offline material
/// bound to the credential's host ([`offline::issue`]: keyed tags of the coming steps
/// and of the unused recovery codes, no seed, code or hash). Costs one argon2id when it
/// issues.
fn offline_material(
    store: &dyn Store,
    host: &str,
    body: &LoginBody,
    now: i64,
) -> Result<(i64, Option<offline::Material>), BackendError> {
    let info = store
        .auth_info(&body.user)
        .map_err(BackendError::from)?
        .ok_or_else(|| BackendError::Internal("the user vanished".into()))?;
    let watermark = info.mfa.as_ref().map_or(-1, |m| m.watermark);
    // Read after this login's settle: a recovery code it spent is not among them.
    let recovery = match &info.mfa {
        Some(_) => store
            .unused_recovery_hashes(&body.user)
            .map_err(BackendError::from)?,
        None => Vec::new(),
    };
    let device_id = info
        .mfa
        .as_ref()
        .map(|m| offline::basis(&m.serial_number, &m.seed, &recovery));
    let wanted = offline::should_issue(
        body.offline_held.as_ref(),
        device_id.as_deref(),
        info.login_profile.as_ref().map(|p| p.password_last_changed),
        body.offline_seconds,
        now,
    );
    let Some(password) = body.password.as_ref().filter(|_| wanted) else {
        return Ok((watermark, None));
    };
    let device = info.mfa.as_ref().map(|m| offline::IssueDevice {
        serial: &m.serial_number,
        seed: &m.seed,
        watermark: m.watermark,
        recovery: &recovery,
    });
    let params = store.hash_params().map_err(BackendError::from)?;
    let m = offline::issue(
        password,
        &body.user,
        host,
        &params,
        device.as_ref(),
        now,
        body.offline_seconds,
    )
    .map_err(|e| BackendError::Internal(format!("cannot issue offline material: {e}")))?;
    Ok((watermark, Some(m)))
}

/// `POST /host/v1/journal`: the batch applied in order and once per entry for the
/// credential's host (see [`reconnect::apply`]). 200 `{"Ack":N,"Applied":K,
/// "ReplayIncidents":I}`; 409 `JournalGap` (with `Ack`) when the batch skips entries;
/// 400 for a malformed batch; a store failure is a 5xx and nothing is applied.
pub fn serve_journal(
    store: &dyn Store,
    secrets_key: &[u8],
    req: &HttpRequest,
    now: i64,
    on_replay: OnReplay,
) -> Served {
    let caller = match authenticate(store, secrets_key, req, now) {
        Ok(c) => c,
        Err(e) => return refused(None, &e),
    };
    let batch: JournalBatch = match serde_json::from_slice(&req.body) {
        Ok(b) => b,
        Err(e) => return refused(Some(caller), &bad_body(&e)),
    };
    match reconnect::apply(store, &caller.host, &batch, now, on_replay) {
        Ok(a) => Served {
            status: 200,
            body: json!({
                "Ack": a.ack,
                "Applied": a.applied,
                "ReplayIncidents": a.incidents.len(),
            }),
            caller: Some(caller),
        },
        Err(gap @ JournalError::Gap { .. }) => {
            let ack = match gap {
                JournalError::Gap { ack, .. } => ack,
                _ => 0,
            };
            let e = ApiError {
                status: 409,
                code: "JournalGap".into(),
                message: gap.to_string(),
            };
            let mut body = error_body(&e);
            body["Ack"] = json!(ack);
            Served {
                status: 409,
                body,
                caller: Some(caller),
            }
        }
        Err(JournalError::Invalid(m)) => refused(
            Some(caller),
            &ApiError::new(
                "InvalidParameterValue",
                format!("the journal batch is refused: {m}"),
            ),
        ),
        Err(JournalError::Store(e)) => refused(Some(caller), &ApiError::from(e)),
    }
}

/// TOTP steps either side of now the server accepts (the module's default `window=`;
/// a host cannot widen it).
pub const DEFAULT_WINDOW: u8 = 1;

fn bad_body(e: &serde_json::Error) -> ApiError {
    ApiError::new(
        "InvalidParameterValue",
        format!("the request body is not the expected JSON: {e}"),
    )
}

fn backend_error(e: &BackendError) -> ApiError {
    ApiError {
        status: 503,
        code: "ServiceUnavailable".into(),
        message: e.to_string(),
    }
}

/// The headers to send with a signed `POST path` of a JSON body to `host`.
///
/// # Errors
/// As [`sign`].
pub fn sign_post(
    host: &str,
    path: &str,
    body: &[u8],
    key_id: &str,
    secret: &[u8],
    now: i64,
) -> Result<Vec<(String, String)>, ApiError> {
    sign("POST", host, path, "", body, SERVICE, key_id, secret, now)
}
