//! `auth`: password, then verification code, with lockout, replay protection and
//! uniform behaviour for accounts that cannot log in.
//!
//! Read top to bottom: who is it → ask → verify the password → the second factor
//! (`credentials::second_factor`, shared with iam-sts and sudo) → settle the success in
//! one store transaction that re-checks the lock → hand facts to `account`.

use zeroize::Zeroizing;

use super::audit::{self, LoginItems};
use super::authfacts::{self, AuthFacts, Binding};
use super::backend::{Backend, BackendError, Crypto, LoginUser};
use super::handler::{Echo, PamCode, PamHandler, Priority, Secret};
use super::options::{Mode, Options};
use crate::audit::Decision;
use crate::credentials::second_factor::{
    self, Attempt, CODE_PROMPT, Device, FactorStore, Outcome, Proof, Settled,
};

/// The password prompt (the contract fixes it).
pub const PASSWORD_PROMPT: &str = "Password: ";
/// Digits of a TOTP code; in `mode=combined` the answer ends with them.
const TOTP_DIGITS: usize = 6;

/// The state of the account as far as logging in goes. Everything but `Usable` must
/// look the same to the person at the prompt.
enum Standing<'a> {
    Unknown,
    NoPassword(&'a LoginUser),
    Locked(&'a LoginUser, i64),
    Usable(&'a LoginUser),
}

/// What the user answered.
struct Answers {
    password: Option<Secret>,
    code: Option<Secret>,
}

/// How the second factor went.
enum Factor {
    /// The user has no MFA device (password mode).
    NotRequired,
    /// The shared check ran (and settled the success, or counted the failure).
    Checked(Outcome),
    /// `mode=code` for a user without an MFA device.
    Missing,
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
    let items = match LoginItems::read(h) {
        Ok(i) => i,
        Err(code) => return code,
    };
    // Code only: sshd must have verified a public key first (SSH_AUTH_INFO_0).
    if opts.mode == Mode::CodeOnly {
        if let Some(code) = super::sshinfo::require_publickey(h, opts, backend, &items, now) {
            return code;
        }
    }
    let user = match backend.login_user(&items.user) {
        Ok(u) => u,
        Err(e) => return store_error(h, backend, &items, now, &e),
    };
    let standing = match &user {
        None => Standing::Unknown,
        Some(u) if u.password_hash.is_none() && opts.mode != Mode::CodeOnly => {
            Standing::NoPassword(u)
        }
        Some(u) => match u.locked_until {
            Some(t) if t > now => Standing::Locked(u, t),
            _ => Standing::Usable(u),
        },
    };

    // Code-only mode (publickey already verified by sshd): non-IAM users fall through.
    if opts.mode == Mode::CodeOnly && matches!(standing, Standing::Unknown) {
        debug(h, opts, &format!("user {:?} not in the store", items.user));
        return PamCode::UserUnknown;
    }

    let has_mfa = match &standing {
        Standing::Unknown => false,
        Standing::NoPassword(u) | Standing::Locked(u, _) | Standing::Usable(u) => u.mfa.is_some(),
    };
    let answers = match ask(h, opts, has_mfa) {
        Ok(a) => a,
        Err(code) => {
            h.syslog(
                Priority::Notice,
                &format!("conversation failed for user {:?}", items.user),
            );
            return code;
        }
    };

    // Verify the password (or spend the same time on the dummy hash).
    let password_ok = match (&standing, &answers.password) {
        (_, None) => true, // code-only mode: publickey was the first factor
        (Standing::Usable(u), Some(pw)) | (Standing::Locked(u, _), Some(pw)) => {
            match &u.password_hash {
                Some(phc) => crypto.verify_password(phc, pw),
                None => {
                    crypto.verify_dummy(pw);
                    false
                }
            }
        }
        (_, Some(pw)) => {
            crypto.verify_dummy(pw);
            false
        }
    };

    let u = match standing {
        Standing::Unknown => {
            debug(h, opts, &format!("user {:?} not in the store", items.user));
            // The same delay as a denied IAM user, should the rest of the stack fail too
            // (libpam applies it only to a failed result).
            if opts.fail_delay_usec > 0 {
                h.fail_delay(opts.fail_delay_usec);
            }
            return PamCode::UserUnknown;
        }
        Standing::NoPassword(u) => {
            return deny(
                h,
                opts,
                backend,
                &items,
                now,
                u,
                "no login profile (password)",
            );
        }
        Standing::Locked(u, until) => {
            return deny(
                h,
                opts,
                backend,
                &items,
                now,
                u,
                &format!("account locked until {until}"),
            );
        }
        Standing::Usable(u) => u,
    };
    if !password_ok {
        return deny(h, opts, backend, &items, now, u, "wrong password");
    }

    let password_login = answers.password.is_some();
    let factor = match second_factor(
        opts,
        backend,
        crypto,
        u,
        answers.code.as_ref(),
        password_login,
    ) {
        Ok(f) => f,
        Err(e) => return store_error(h, backend, &items, now, &e),
    };
    let reason = match factor {
        Factor::NotRequired => {
            // The success, re-checking the lock at this moment: a lock reached by other
            // attempts while this one waited at a prompt wins.
            match backend
                .store()
                .settle(&u.name, &Proof::Nothing, password_login, now)
                .map_err(BackendError::from)
            {
                Ok(Settled::Accepted) => "password",
                Ok(Settled::Locked { until }) => {
                    let why = format!("account locked until {until} (locked during this login)");
                    return refuse(h, opts, backend, &items, now, &why);
                }
                Ok(Settled::Spent(_)) => {
                    let e = BackendError::Internal("nothing to spend was spent".into());
                    return store_error(h, backend, &items, now, &e);
                }
                Err(e) => return store_error(h, backend, &items, now, &e),
            }
        }
        Factor::Checked(Outcome::Totp) if !password_login => "publickey + verification code",
        Factor::Checked(Outcome::Totp) => "password + verification code",
        Factor::Checked(Outcome::Recovery) => "password + recovery code",
        // Counted by the check already.
        Factor::Checked(failed) => {
            return refuse(h, opts, backend, &items, now, &failed.reason());
        }
        Factor::Missing => {
            return deny(
                h,
                opts,
                backend,
                &items,
                now,
                u,
                "no MFA device (mode=code)",
            );
        }
    };
    let mfa = matches!(factor, Factor::Checked(_));

    if let Err(e) = hand_over(
        h,
        backend,
        &items,
        AuthFacts {
            auth_time: now,
            mfa,
        },
    ) {
        return store_error(h, backend, &items, now, &e);
    }
    if !audit::report(
        h,
        Some(backend),
        &items.record(now, "authenticate", Decision::Allow, reason),
    ) {
        return PamCode::SystemErr;
    }
    PamCode::Success
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

/// The second factor, through the one check of the product (window, recovery codes,
/// replay watermark, lockout, rate limit); on success it has also settled the login.
fn second_factor(
    opts: &Options,
    backend: &Backend,
    crypto: &dyn Crypto,
    u: &LoginUser,
    code: Option<&Secret>,
    password_login: bool,
) -> Result<Factor, BackendError> {
    let Some(device) = &u.mfa else {
        return Ok(if opts.mode == Mode::CodeOnly {
            Factor::Missing
        } else {
            Factor::NotRequired
        });
    };
    let attempt = Attempt {
        user: &u.name,
        device: Device {
            serial: &device.serial,
            seed: &device.seed,
        },
        answer: code.map_or("", |c| c.as_str()),
        window: u16::from(opts.window),
        password_login,
    };
    second_factor::verify(backend.store(), crypto.pacing(), &attempt)
        .map(Factor::Checked)
        .map_err(BackendError::from)
}

/// Seal this login's facts into the PAM environment for `account`.
fn hand_over<H: PamHandler>(
    h: &mut H,
    backend: &Backend,
    items: &LoginItems,
    facts: AuthFacts,
) -> Result<(), BackendError> {
    let key = backend.auth_mac_key()?;
    let binding = Binding {
        user: &items.user,
        service: items.service.as_deref().unwrap_or(""),
        rhost: items.rhost.as_deref().unwrap_or(""),
    };
    let sealed = authfacts::seal(&key, &binding, facts)
        .ok_or_else(|| BackendError::Internal("empty authentication key".into()))?;
    h.putenv(authfacts::ENV_NAME, Some(&sealed))
        .map_err(|c| BackendError::Internal(format!("pam_putenv: {}", c.name())))
}

/// A failed login of an IAM user: count it, then [`refuse`].
fn deny<H: PamHandler>(
    h: &mut H,
    opts: &Options,
    backend: &Backend,
    items: &LoginItems,
    now: i64,
    u: &LoginUser,
    reason: &str,
) -> PamCode {
    if let Err(e) = backend.store().count_failure(&u.name, now) {
        h.syslog(
            Priority::Err,
            &format!("cannot count the failed login: {e}"),
        );
    }
    refuse(h, opts, backend, items, now, reason)
}

/// Say no to a failure already counted: delay, audit.
fn refuse<H: PamHandler>(
    h: &mut H,
    opts: &Options,
    backend: &Backend,
    items: &LoginItems,
    now: i64,
    reason: &str,
) -> PamCode {
    if opts.fail_delay_usec > 0 {
        h.fail_delay(opts.fail_delay_usec);
    }
    audit::report(
        h,
        Some(backend),
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
