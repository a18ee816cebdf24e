//! `iam-sts assume-role` in fleet mode (`mode = agent` in `/etc/pam-iam/pam_iam.conf`):
//! the helper opens no store and no network socket. It sends the request to `iam-agent`
//! over its Unix socket (`fleet::client`, blocking std I/O), the agent forwards it to
//! `iamd`, and `iamd` issues the session with the same `assume::assume_role_as` as a
//! local store, bound to this terminal and this host. Offline, new sessions are refused.
//! `revoke-session` goes the same way to `iamd`, which applies the local store's one rule
//! (`sessions::revoke_own`) to the sessions of this host.

use zeroize::Zeroizing;

use super::assume::{AssumeRoleArgs, CallContext, Prompt};
use super::error::StsError;
use super::model::AssumeRoleOutput;
use crate::credentials::second_factor::CODE_PROMPT;
use crate::fleet::client;
use crate::fleet::conf::AgentConf;
use crate::fleet::proto::{Answer, AssumeRequest, Request, RevokeRequest};

/// Assume a role through the agent. When `iamd` answers that a code would change the
/// answer and none was given, the code is asked for once at the terminal and the request
/// sent again with it.
///
/// # Errors
/// The refusal `iamd` gave (its message), offline, or the agent unreachable.
pub fn assume_role(
    conf: &AgentConf,
    ctx: &CallContext,
    args: &AssumeRoleArgs,
    prompt: &mut Prompt<'_>,
) -> Result<AssumeRoleOutput, StsError> {
    let mut serial = args.serial.clone();
    let mut code = args.code.clone();
    loop {
        let req = Request::AssumeRole(AssumeRequest {
            user: ctx.user.clone(),
            role_arn: args.role_arn.clone(),
            session_name: args.session_name.clone(),
            duration: args.duration,
            serial: serial.clone(),
            code: code.clone(),
            policy: args.policy.clone(),
            external_id: args.external_id.clone(),
            passed: args.passed.clone(),
            scope: ctx.scope.key(),
            tty: ctx.scope.describe(),
        });
        let answer = client::call(conf, &req)
            .map_err(|e| StsError::Remote(format!("ServiceFailure: {e}")))?;
        match answer {
            Answer::Assumed(a) => {
                return Ok(AssumeRoleOutput {
                    access_key_id: a.access_key_id,
                    secret_access_key: a.secret_access_key.to_string(),
                    session_token: a.session_token.to_string(),
                    expiration: a.expiration,
                    assumed_role_id: a.assumed_role_id,
                    arn: a.arn,
                    source_identity: None,
                    packed_policy_size: None,
                });
            }
            Answer::Refused {
                mfa_serial: Some(s),
                ..
            } if code.is_none() => {
                let typed: Zeroizing<String> = prompt(CODE_PROMPT)
                    .ok_or_else(|| StsError::MfaRequired { serial: s.clone() })?;
                serial = Some(s);
                code = Some(typed);
            }
            Answer::Refused { message, .. } => return Err(StsError::Remote(message)),
            Answer::Error { reason } => {
                return Err(StsError::Remote(format!("ServiceFailure: {reason}")));
            }
            other => {
                return Err(StsError::Internal(format!(
                    "iam-agent gave an answer that is not about a role session: {other:?}"
                )));
            }
        }
    }
}

/// `revoke-session` through the agent: the caller's own session (or all of them) of
/// this host, revoked at `iamd`. The same JSON as on a local store.
///
/// # Errors
/// The refusal `iamd` gave (another user's session is `NoSuchEntity`), offline, or the
/// agent unreachable.
pub fn revoke_session(
    conf: &AgentConf,
    ctx: &CallContext,
    access_key_id: Option<&str>,
) -> Result<serde_json::Value, StsError> {
    let req = Request::RevokeSession(RevokeRequest {
        user: ctx.user.clone(),
        access_key_id: access_key_id.map(str::to_string),
        tty: ctx.scope.describe(),
    });
    match client::call(conf, &req).map_err(|e| StsError::Remote(format!("ServiceFailure: {e}")))? {
        Answer::Revoked { access_key_ids } => {
            Ok(serde_json::json!({ "RevokedAccessKeyIds": access_key_ids }))
        }
        Answer::Refused { message, .. } => Err(StsError::Remote(message)),
        Answer::Error { reason } => Err(StsError::Remote(format!("ServiceFailure: {reason}"))),
        other => Err(StsError::Internal(format!(
            "iam-agent gave an answer that is not about a revocation: {other:?}"
        ))),
    }
}
