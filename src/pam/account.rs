//! `account`: may this IAM user log in to this host now? Policy first, then password age.

use super::audit::{self, LoginItems};
use super::auth::{debug, error_code};
use super::authfacts::{self, Binding};
use super::backend::{Backend, BackendError};
use super::handler::{PamCode, PamHandler, Priority};
use super::options::Options;
use crate::audit::Decision;
use crate::authz::{Principal, Request, Target};
use crate::credentials::{ExpiryFacts, PasswordState};
use crate::fleet::conf::AgentConf;
use crate::fleet::{client, proto};

/// Decide the account phase for PAM_USER on `host`. In fleet mode (`agent`) the
/// store is the replica and the decision carries `pam-iam:Offline`: from the facts of
/// this login's `auth`, else (a publickey login) whether the agent reaches `iamd` now.
pub fn acct_mgmt<H: PamHandler>(
    h: &mut H,
    opts: &Options,
    backend: &Backend,
    agent: Option<&AgentConf>,
    host: &str,
    now: i64,
) -> PamCode {
    let items = match LoginItems::read(h) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let action = opts.account_action(items.service.as_deref());
    let report = |h: &mut H, decision: Decision, reason: &str| -> bool {
        audit::report(
            h,
            Some(backend),
            &items.record(now, &action, decision, reason),
        )
    };
    let fail = |h: &mut H, e: &BackendError| -> PamCode {
        let rec = items.record(now, &action, Decision::Error, &e.to_string());
        audit::report_failure(h, backend, &rec, e);
        error_code(e)
    };
    let user = match backend.login_user(&items.user) {
        Ok(Some(u)) => u,
        Ok(None) => {
            debug(
                h,
                opts,
                &format!("account: user {:?} not in the store", items.user),
            );
            return PamCode::UserUnknown;
        }
        Err(e) => return fail(h, &e),
    };

    // The facts `auth` sealed for this very login (absent after publickey, or forged).
    // Consumed here, so they never reach the user's session environment.
    let sealed = h.getenv(authfacts::ENV_NAME);
    let _ = h.putenv(authfacts::ENV_NAME, None);
    let facts = match sealed {
        None => None,
        Some(v) => {
            let key = match backend.auth_mac_key() {
                Ok(k) => k,
                Err(e) => return fail(h, &e),
            };
            let binding = Binding {
                user: &items.user,
                service: items.service.as_deref().unwrap_or(""),
                rhost: items.rhost.as_deref().unwrap_or(""),
            };
            let f = authfacts::open(&key, &binding, &v, now, opts.auth_max_age);
            if f.is_none() {
                h.syslog(
                    Priority::Notice,
                    &format!(
                        "account: ignoring an invalid or stale {} for user {:?}",
                        authfacts::ENV_NAME,
                        items.user
                    ),
                );
            }
            f
        }
    };

    let req = Request {
        principal: Principal::User(user.name.clone()),
        action: action.clone(),
        target: Target::Host(host.to_string()),
        mfa_time: facts.filter(|f| f.mfa).map(|f| f.auth_time),
        service: items.service.clone(),
        tty: items.tty.clone(),
        rhost: items.rhost.clone(),
        now,
        offline: agent.map(|a| match facts {
            Some(f) => f.offline,
            None => !matches!(
                client::call(a, &proto::Request::Status),
                Ok(proto::Answer::Status { online: true })
            ),
        }),
        call: crate::authz::CallFacts::default(),
        assume: crate::authz::AssumeFacts::default(),
        user: None,
        user_policies: None,
    };
    let decision = match backend.authorize(&req) {
        Ok(d) => d,
        Err(e) => return fail(h, &e),
    };
    let reason = format!("{action} on host {host}: {}", decision.reason);
    if !decision.allowed {
        report(h, Decision::Deny, &reason);
        return PamCode::PermDenied;
    }

    // Password age, for users who have a password: the store's facts, or in fleet mode
    // (the replica holds no login profile) those `iamd`'s login answer carried (none
    // after a publickey-only login: not decided then).
    let expiry = match agent {
        Some(_) => facts.and_then(|f| f.expiry),
        None if user.password_hash.is_some() => {
            let rules = match backend.expiry_rules() {
                Ok(r) => r,
                Err(e) => return fail(h, &e),
            };
            Some(ExpiryFacts::new(
                rules.max_password_age_days,
                rules.hard_expiry,
                user.password_last_changed,
                user.password_reset_required,
            ))
        }
        None => None,
    };
    match expiry.map(|e| (e, e.state(now))) {
        Some((_, PasswordState::HardExpired)) => {
            report(h, Decision::Deny, "password expired (HardExpiry)");
            h.error("Your password has expired; ask an administrator to reset it.");
            return PamCode::AcctExpired;
        }
        Some((e, PasswordState::MustChange)) => {
            let why = if e.reset_required {
                "password reset required"
            } else {
                "password expired"
            };
            report(h, Decision::ChangeRequired, why);
            h.error("You are required to change your password immediately.");
            return PamCode::NewAuthtokReqd;
        }
        _ => {}
    }

    if !report(h, Decision::Allow, &reason) {
        return PamCode::SystemErr;
    }
    PamCode::Success
}
