//! `auth`: password, then verification code, with lockout, replay protection and
//! uniform behaviour for accounts that cannot log in.
//!
//! Read top to bottom: who is it → ask → verify the password → the second factor
//! (`credentials::second_factor`, shared with iam-sts and sudo) → settle the success in
//! one store transaction that re-checks the lock and writes the audit row → hand facts
//! to `account`.

use zeroize::Zeroizing;

use super::audit::{self, LoginItems};
use super::authfacts::{self, AuthFacts, Binding};
use super::backend::{Backend, BackendError, Crypto};
use super::handler::{Echo, PamCode, PamHandler, Priority, Secret};
use super::options::{Mode, Options};
use super::verify::{self, Presented, Rules, Verdict};
use crate::audit::Decision;
use crate::credentials::second_factor::CODE_PROMPT;
use crate::fleet::conf::AgentConf;
use crate::fleet::{client, proto};

/// The password prompt (the contract fixes it).
pub const PASSWORD_PROMPT: &str = "Password: ";
/// Digits of a TOTP code; in `mode=combined` the answer ends with them.
const TOTP_DIGITS: usize = 6;

/// What the user answered.
struct Answers {
    password: Option<Secret>,
    code: Option<Secret>,
}

/// Authenticate PAM_USER. Store errors have already been turned into `Err` by the caller
/// when the store could not be opened.
pub fn authenticate<H: PamHandler>(
    h: &mut H,
    opts: &Options,
    backend: &Backend,
    crypto: &dyn Crypto,
    now: i64,
) -> PamCode {
    let items = match begin(h, opts, backend, now) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let user = match backend.login_user(&items.user) {
        Ok(u) => u,
        Err(e) => return store_error(h, backend, &items, now, &e),
    };
    // Code-only mode (publickey already verified by sshd): non-IAM users fall through.
    if opts.mode == Mode::CodeOnly && user.is_none() {
        debug(h, opts, &format!("user {:?} not in the store", items.user));
        return PamCode::UserUnknown;
    }

    let answers = match ask_logged(h, opts, &items, verify::wants_code(user.as_ref())) {
        Ok(a) => a,
        Err(code) => return code,
    };
    // The key sealing the facts for `account`, read before the answers are settled: an
    // Allow committed with its audit row is then always handed over (only pam_putenv
    // can fail after it).
    let key = match user.as_ref().map(|_| backend.auth_mac_key()).transpose() {
        Ok(k) => k,
        Err(e) => return store_error(h, backend, &items, now, &e),
    };
    let presented = Presented {
        password: answers.password.as_ref().map(|p| p.as_str()),
        code: answers.code.as_ref().map(|c| c.as_str()),
    };
    // The host an accepted code is recorded as spent on (informational in local mode).
    let host = super::host_name(opts).unwrap_or_else(|_| "-".into());
    let rules = Rules {
        code_only: opts.mode == Mode::CodeOnly,
        window: opts.window,
        host: &host,
    };
    // The decision's audit row, written by the store with the decision.
    let record = |d: Decision, reason: &str| items.record(now, "authenticate", d, reason);
    let verdict = match verify::verify(
        backend.store(),
        crypto,
        &rules,
        user.as_ref(),
        &presented,
        now,
        &record,
    ) {
        Ok(v) => v,
        Err(e) => return store_error(h, backend, &items, now, &e),
    };
    let (reason, mfa) = match verdict {
        Verdict::Unknown => {
            debug(h, opts, &format!("user {:?} not in the store", items.user));
            // The same delay as a denied IAM user, should the rest of the stack fail too
            // (libpam applies it only to a failed result).
            if opts.fail_delay_usec > 0 {
                h.fail_delay(opts.fail_delay_usec);
            }
            return PamCode::UserUnknown;
        }
        Verdict::Denied { reason, uncounted } => {
            // Written with the counted failure, unless that failed: then tried alone,
            // and the answer is the one a proven login gets when its settle fails
            // (PAM_SYSTEM_ERR), so a store fault that only refuses writes does not tell
            // a right password from a wrong one without counting either.
            let Some(why) = uncounted else {
                return refuse(h, opts, None, &items, now, &reason);
            };
            h.syslog(Priority::Err, &why);
            refuse(h, opts, Some(backend), &items, now, &reason);
            return PamCode::SystemErr;
        }
        Verdict::Unrecorded { reason, error } => {
            // Nothing was spent or recorded: one line saying deny and why.
            audit::report_unwritten(h, &record(Decision::Allow, reason), &error);
            return PamCode::SystemErr;
        }
        Verdict::Allowed { reason, mfa } => (reason, mfa),
    };

    let facts = AuthFacts {
        auth_time: now,
        mfa,
        offline: false,
        expiry: None,
    };
    let handed = match &key {
        Some(k) => hand_over(h, k, &items, facts),
        None => Err(BackendError::Internal(
            "an allowed login without a user".into(),
        )),
    };
    if let Err(e) = handed {
        return store_error(h, backend, &items, now, &e);
    }
    // Already in the store's audit trail (with the settle): the syslog line.
    audit::report(h, None, &record(Decision::Allow, reason));
    PamCode::Success
}

/// The items of this login; in code-only mode sshd must have verified a public key
/// first (SSH_AUTH_INFO_0).
fn begin<H: PamHandler>(
    h: &mut H,
    opts: &Options,
    backend: &Backend,
    now: i64,
) -> Result<LoginItems, PamCode> {
    let items = LoginItems::read(h)?;
    if opts.mode == Mode::CodeOnly {
        if let Some(code) = super::sshinfo::require_publickey(h, opts, backend, &items, now) {
            return Err(code);
        }
    }
    Ok(items)
}

/// [`ask`], logging a failed conversation.
fn ask_logged<H: PamHandler>(
    h: &mut H,
    opts: &Options,
    items: &LoginItems,
    has_mfa: bool,
) -> Result<Answers, PamCode> {
    ask(h, opts, has_mfa).inspect_err(|_| {
        h.syslog(
            Priority::Notice,
            &format!("conversation failed for user {:?}", items.user),
        );
    })
}

/// Prompt as the mode and the account require. Unknown, password-less and locked
/// accounts get exactly the prompts a working account of the same kind would get; with
/// `code_prompt=always` every account gets both prompts (a code asked of an account
/// without a device is ignored).
fn ask<H: PamHandler>(h: &mut H, opts: &Options, has_mfa: bool) -> Result<Answers, PamCode> {
    match opts.mode {
        Mode::CodeOnly => {
            let code = h.prompt(Echo::Off, CODE_PROMPT)?;
            Ok(Answers {
                password: None,
                code: Some(code),
            })
        }
        Mode::PasswordThenCode => {
            let password = get_password(h, opts)?;
            let code = if has_mfa || opts.code_prompt_always {
                Some(h.prompt(Echo::Off, CODE_PROMPT)?)
            } else {
                None
            };
            Ok(Answers {
                password: Some(password),
                code,
            })
        }
        Mode::Combined => {
            let answer = get_password(h, opts)?;
            if !has_mfa {
                return Ok(Answers {
                    password: Some(answer),
                    code: None,
                });
            }
            let split = answer.len().saturating_sub(TOTP_DIGITS);
            if !answer.is_char_boundary(split) {
                return Ok(Answers {
                    password: Some(answer),
                    code: Some(Zeroizing::new(String::new())),
                });
            }
            let password = Zeroizing::new(answer[..split].to_string());
            let code = Zeroizing::new(answer[split..].to_string());
            // Later modules (pam_unix try_first_pass) see the password alone.
            let _ = h.set_authtok(&password);
            Ok(Answers {
                password: Some(password),
                code: Some(code),
            })
        }
    }
}

/// `use_first_pass` / `try_first_pass`, else prompt and leave the answer as PAM_AUTHTOK
/// for modules stacked after this one.
fn get_password<H: PamHandler>(h: &mut H, opts: &Options) -> Result<Secret, PamCode> {
    if opts.use_first_pass || opts.try_first_pass {
        if let Some(tok) = h.authtok() {
            return Ok(tok);
        }
        if opts.use_first_pass {
            return Err(PamCode::AuthErr);
        }
    }
    let pw = h.prompt(Echo::Off, PASSWORD_PROMPT)?;
    let _ = h.set_authtok(&pw);
    Ok(pw)
}

/// Seal this login's facts with `key` ([`Backend::auth_mac_key`]) into the PAM
/// environment for `account`.
fn hand_over<H: PamHandler>(
    h: &mut H,
    key: &[u8],
    items: &LoginItems,
    facts: AuthFacts,
) -> Result<(), BackendError> {
    let binding = Binding {
        user: &items.user,
        service: items.service.as_deref().unwrap_or(""),
        rhost: items.rhost.as_deref().unwrap_or(""),
    };
    let sealed = authfacts::seal(key, &binding, facts)
        .ok_or_else(|| BackendError::Internal("empty authentication key".into()))?;
    h.putenv(authfacts::ENV_NAME, Some(&sealed))
        .map_err(|c| BackendError::Internal(format!("pam_putenv: {}", c.name())))
}

/// Say no to a failure already counted: delay, audit.
fn refuse<H: PamHandler>(
    h: &mut H,
    opts: &Options,
    backend: Option<&Backend>,
    items: &LoginItems,
    now: i64,
    reason: &str,
) -> PamCode {
    if opts.fail_delay_usec > 0 {
        h.fail_delay(opts.fail_delay_usec);
    }
    audit::report(
        h,
        backend,
        &items.record(now, "authenticate", Decision::Deny, reason),
    );
    PamCode::AuthErr
}

/// Fail closed with one clear line.
pub(crate) fn store_error<H: PamHandler>(
    h: &mut H,
    backend: &Backend,
    items: &LoginItems,
    now: i64,
    e: &BackendError,
) -> PamCode {
    let code = error_code(e);
    let rec = items.record(now, "authenticate", Decision::Error, &format!("{e}"));
    audit::report_failure(h, backend, &rec, e);
    code
}

/// The documented PAM code of each store failure (see pam_iam(8)).
pub fn error_code(e: &BackendError) -> PamCode {
    match e {
        BackendError::Unavailable(_) => PamCode::AuthinfoUnavail,
        BackendError::BadPolicy(_) | BackendError::Internal(_) => PamCode::SystemErr,
        BackendError::Refused(_) => PamCode::AuthErr,
    }
}

pub(crate) fn debug<H: PamHandler>(h: &mut H, opts: &Options, msg: &str) {
    if opts.debug {
        h.syslog(Priority::Debug, msg);
    }
}

/// Fleet mode's `auth`: the same prompts, the answers verified by `iamd` through
/// `iam-agent` (or, while `iamd` is unreachable, by the agent's offline rules). The
/// replica (`backend`) serves the publickey check of `mode=code` and the auth-facts key;
/// the authenticate audit row is written where the decision is made (`iamd`'s store, or
/// the agent's journal), so here it is only logged.
pub fn authenticate_via_agent<H: PamHandler>(
    h: &mut H,
    opts: &Options,
    backend: &Backend,
    agent: &AgentConf,
    now: i64,
) -> PamCode {
    let items = match begin(h, opts, backend, now) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let unavailable = |h: &mut H, why: &str| {
        let rec = items.record(now, "authenticate", Decision::Error, why);
        audit::report(h, None, &rec);
        PamCode::AuthinfoUnavail
    };
    let prompts = client::call(
        agent,
        &proto::Request::Prompts {
            user: items.user.clone(),
        },
    );
    let (known, wants_code) = match prompts {
        Ok(proto::Answer::Prompts { known, mfa }) => (known, mfa),
        Ok(proto::Answer::Error { reason }) => return unavailable(h, &reason),
        Ok(other) => return unavailable(h, &format!("unexpected agent answer {other:?}")),
        Err(e) => return unavailable(h, &e.to_string()),
    };
    if opts.mode == Mode::CodeOnly && !known {
        debug(h, opts, &format!("user {:?} not in the store", items.user));
        return PamCode::UserUnknown;
    }
    let answers = match ask_logged(h, opts, &items, wants_code) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let req = proto::Request::Login(proto::LoginRequest {
        user: items.user.clone(),
        password: answers.password,
        code: answers.code,
        service: items.service.clone(),
        rhost: items.rhost.clone(),
        tty: items.tty.clone(),
        code_only: opts.mode == Mode::CodeOnly,
    });
    let answer = match client::call(agent, &req) {
        Ok(a) => a,
        Err(e) => return unavailable(h, &e.to_string()),
    };
    drop(req);
    match answer {
        proto::Answer::Allow {
            reason,
            mfa,
            offline,
            auth_time,
            expiry,
        } => {
            let facts = AuthFacts {
                auth_time,
                mfa,
                offline,
                expiry,
            };
            if let Err(e) = backend
                .auth_mac_key()
                .and_then(|key| hand_over(h, &key, &items, facts))
            {
                return store_error(h, backend, &items, now, &e);
            }
            let how = if offline { "offline: " } else { "iamd: " };
            audit::report(
                h,
                None,
                &items.record(
                    now,
                    "authenticate",
                    Decision::Allow,
                    &format!("{how}{reason}"),
                ),
            );
            PamCode::Success
        }
        proto::Answer::Deny {
            reason,
            offline,
            message,
        } => {
            if let Some(m) = message {
                h.error(&m);
            }
            let how = if offline { "offline: " } else { "iamd: " };
            refuse(h, opts, None, &items, now, &format!("{how}{reason}"))
        }
        proto::Answer::Unknown => {
            debug(h, opts, &format!("user {:?} not in the store", items.user));
            if opts.fail_delay_usec > 0 {
                h.fail_delay(opts.fail_delay_usec);
            }
            PamCode::UserUnknown
        }
        proto::Answer::Error { reason } => {
            if opts.fail_delay_usec > 0 {
                h.fail_delay(opts.fail_delay_usec);
            }
            unavailable(h, &reason)
        }
        proto::Answer::Assumed(_) => unavailable(h, "unexpected agent answer (a role session)"),
        other @ (proto::Answer::Prompts { .. }
        | proto::Answer::Status { .. }
        | proto::Answer::Refused { .. }
        | proto::Answer::Revoked { .. }
        | proto::Answer::SessionWindow { .. }) => {
            unavailable(h, &format!("unexpected agent answer {other:?}"))
        }
    }
}
