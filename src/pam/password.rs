//! `password`: change an IAM user's password under the account password policy,
//! including the forced change at login (PAM_CHANGE_EXPIRED_AUTHTOK) over SSH.

use super::audit::{self, LoginItems};
use super::backend::{Backend, BackendError, Crypto};
use super::handler::{Echo, PamCode, PamHandler, Priority, Secret};
use super::options::Options;
use crate::audit::Decision;
use crate::authz::own_password::{self, NoAccountPolicy};
use crate::authz::{Principal, Request, Target};
use crate::credentials::second_factor::{FactorStore, Proof, Settled};

/// Prompts, as passwd(1) users know them.
pub const CURRENT_PROMPT: &str = "Current password: ";
/// New password prompt.
pub const NEW_PROMPT: &str = "New password: ";
/// Confirmation prompt.
pub const RETYPE_PROMPT: &str = "Retype new password: ";
/// Shown to a locked user who tries to change the password.
pub const LOCKED: &str = "Your IAM account is locked after too many failed attempts; try again later or ask an administrator (iam unlock-user).";

/// Shown to a user whose policies do not let them change their own password.
pub const NOT_ALLOWED: &str = "You may not change your IAM password: no policy of yours allows iam:ChangePassword and the account password policy does not allow users to change their passwords; ask an administrator";

/// Which of libpam's two chauthtok passes this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// PAM_PRELIM_CHECK: can this module change the password at all?
    Prelim,
    /// PAM_UPDATE_AUTHTOK: do it.
    Update,
}

/// Change PAM_USER's password. `expired` is PAM_CHANGE_EXPIRED_AUTHTOK.
pub fn chauthtok<H: PamHandler>(
    h: &mut H,
    opts: &Options,
    backend: &Backend,
    crypto: &dyn Crypto,
    pass: Pass,
    expired: bool,
    now: i64,
) -> PamCode {
    let items = match LoginItems::read(h) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let report_err = |h: &mut H, e: &BackendError| {
        let rec = items.record(now, "chauthtok", Decision::Error, &e.to_string());
        audit::report_failure(h, backend, &rec, e);
        super::auth::error_code(e)
    };
    let user = match backend.login_user(&items.user) {
        Ok(Some(u)) => u,
        Ok(None) => return PamCode::UserUnknown,
        Err(e) => return report_err(h, &e),
    };
    // A locked user cannot change the password: checking the current one would be a
    // way to keep guessing around the lockout.
    if let Some(until) = user.locked_until.filter(|t| *t > now) {
        return refuse_locked(h, backend, &items, now, until);
    }
    // A user changing their own password (root setting someone's is an administrator):
    // the one rule of who may, as iamd's ChangePassword decides it.
    let own = expired || !h.caller_is_root();
    if own {
        match may_change_own(backend, &user.name, now) {
            Ok(None) => {}
            Ok(Some(why)) => {
                h.error(&format!("{NOT_ALLOWED} ({why})."));
                audit::report(
                    h,
                    Some(backend),
                    &items.record(now, "chauthtok", Decision::Deny, &why),
                );
                return PamCode::PermDenied;
            }
            Err(e) => return report_err(h, &e),
        }
    }
    if pass == Pass::Prelim {
        return PamCode::Success;
    }

    // The current password: asked of users, not of root running passwd for someone,
    // and always for the forced change at login (as pam_unix does).
    if own {
        let Some(phc) = user.password_hash.clone() else {
            audit::report(
                h,
                Some(backend),
                &items.record(
                    now,
                    "chauthtok",
                    Decision::Deny,
                    "no login profile (password)",
                ),
            );
            return PamCode::AuthtokErr;
        };
        let old = match old_password(h, opts) {
            Ok(p) => p,
            Err(c) => return c,
        };
        if !crypto.verify_password(&phc, &old) {
            // The failure and its audit row in one transaction; if that fails, the row
            // is tried on its own.
            let rec = items.record(now, "chauthtok", Decision::Deny, "wrong current password");
            let row = |_: &crate::credentials::LockState| Some(rec.clone());
            let counted = backend
                .store()
                .count_failure(&user.name, now, Some(&row))
                .is_ok();
            if opts.fail_delay_usec > 0 {
                h.fail_delay(opts.fail_delay_usec);
            }
            audit::report(h, (!counted).then_some(backend), &rec);
            return PamCode::AuthtokRecoveryErr;
        }
        // The right current password is a successful authentication: settled as a login
        // is, re-checking the lock at this moment (another attempt may have locked the
        // user while this one waited at the prompt).
        match backend
            .store()
            .settle(&user.name, &Proof::Nothing, false, now, None)
            .map_err(BackendError::from)
        {
            Ok(Settled::Accepted) => {}
            Ok(Settled::Locked { until }) => {
                return refuse_locked(h, backend, &items, now, until);
            }
            Ok(Settled::Spent(_)) => {
                return report_err(
                    h,
                    &BackendError::Internal("nothing to spend was spent".into()),
                );
            }
            Err(e) => return report_err(h, &e),
        }
        let _ = h.set_old_authtok(&old);
    }

    let new = match new_password(h, opts) {
        Ok(p) => p,
        Err(c) => return c,
    };
    match backend.change_password(&user.name, &new, now) {
        Ok(()) => {}
        Err(BackendError::Refused(msg)) => {
            h.error(&msg);
            audit::report(
                h,
                Some(backend),
                &items.record(now, "chauthtok", Decision::Deny, &msg),
            );
            return PamCode::AuthtokErr;
        }
        Err(e) => return report_err(h, &e),
    }
    let _ = h.set_authtok(&new);
    h.info("Password changed.");
    if !audit::report(
        h,
        Some(backend),
        &items.record(now, "chauthtok", Decision::Allow, "password changed"),
    ) {
        h.syslog(Priority::Err, "password changed but not audited");
    }
    PamCode::Success
}

/// Why the user may not change their own password (`None`: they may), by the one rule
/// (`authz::own_password`); an account with no custom password policy lets them.
fn may_change_own(backend: &Backend, name: &str, now: i64) -> Result<Option<String>, BackendError> {
    let store = backend.store();
    let u = store.get_user(name)?;
    let arn = crate::arn::user(&store.account_id()?, &u.path, &u.name);
    let req = Request {
        user: Some(u),
        ..Request::new(
            Principal::User(name.to_string()),
            "iam:ChangePassword",
            Target::Arn(arn),
            now,
        )
    };
    let v =
        own_password::authorize_with_account_policy(store, &req, NoAccountPolicy::LetsUsersChange)?;
    Ok((!v.allowed).then(|| format!("iam:ChangePassword: {}", v.reason)))
}

/// A locked user may not change the password, whether the lock was there before the
/// prompt or arrived while the user typed: say so, audit it, refuse.
fn refuse_locked<H: PamHandler>(
    h: &mut H,
    backend: &Backend,
    items: &LoginItems,
    now: i64,
    until: i64,
) -> PamCode {
    h.error(LOCKED);
    audit::report(
        h,
        Some(backend),
        &items.record(
            now,
            "chauthtok",
            Decision::Deny,
            &format!("account locked until {until}"),
        ),
    );
    PamCode::PermDenied
}

fn old_password<H: PamHandler>(h: &mut H, opts: &Options) -> Result<Secret, PamCode> {
    if opts.use_first_pass || opts.try_first_pass {
        if let Some(t) = h.old_authtok() {
            return Ok(t);
        }
        if opts.use_first_pass {
            return Err(PamCode::AuthtokRecoveryErr);
        }
    }
    h.prompt(Echo::Off, CURRENT_PROMPT)
}

fn new_password<H: PamHandler>(h: &mut H, opts: &Options) -> Result<Secret, PamCode> {
    if opts.use_authtok {
        return h.authtok().ok_or(PamCode::AuthtokErr);
    }
    let new = h.prompt(Echo::Off, NEW_PROMPT)?;
    let again = h.prompt(Echo::Off, RETYPE_PROMPT)?;
    if *new != *again {
        h.error("Sorry, passwords do not match.");
        return Err(PamCode::AuthtokErr);
    }
    if new.is_empty() {
        h.error("No password has been supplied.");
        return Err(PamCode::AuthtokErr);
    }
    Ok(new)
}
