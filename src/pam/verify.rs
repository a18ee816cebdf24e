//! The one verification of a login's answers over any `dyn Store`: password (argon2id,
//! or the dummy hash for accounts that cannot log in), then the second factor
//! (`credentials::second_factor`: window, watermark, lockout, rate limit), then the
//! success settled in one store transaction that re-checks the lock. The PAM module's
//! local path and `iamd`'s host API (fleet mode's online login) both call [`verify`];
//! they differ only in where the answers come from and what their audit row says.
//!
//! ## No decision without its audit row
//! Every decision that changes the store is written with its `authenticate` audit row
//! in the one transaction that decides it: an Allow's row with the settle that spends
//! the code, a denial's row with the failure it counts. So a row that cannot be written
//! leaves nothing spent or counted ([`Verdict::Unrecorded`]: the same code is accepted
//! when the host asks again, on this server or another), and a decision the caller is
//! told about is always in the trail.

use std::cell::Cell;

use super::backend::{BackendError, Crypto, LoginUser};
use crate::audit::{Decision, Event};
use crate::credentials::second_factor::{
    self, Attempt, Device, FactorStore, Outcome, Proof, Settled,
};
use crate::store::Store;

/// How the login asks (from the module's `mode=`), and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules<'a> {
    /// `mode=code`: sshd verified a public key; no password is asked.
    pub code_only: bool,
    /// TOTP steps accepted either side of now.
    pub window: u8,
    /// The host the login is on (its name in `host/NAME`): where an accepted code is
    /// recorded as spent.
    pub host: &'a str,
}

/// What the person at the prompt answered.
#[derive(Clone, Copy)]
pub struct Presented<'a> {
    /// The password (`None` in code-only mode).
    pub password: Option<&'a str>,
    /// The verification or recovery code (`None` when not asked).
    pub code: Option<&'a str>,
}

/// The audit row of a decision on this login, made by the caller (its user, service,
/// host and how it words the reason) and written by the store with the decision.
pub type Record<'a> = &'a dyn Fn(Decision, &str) -> Event;

/// The decision on the answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not an IAM user (the stack may fall through to pam_unix). Nothing was written:
    /// the caller audits it if it wants to.
    Unknown,
    /// Refused; the failure is counted (or, for a lock reached while this login
    /// waited, was counted by the settling transaction), with its audit row.
    Denied {
        /// Audit text.
        reason: String,
        /// The store failed: the failure was neither counted nor audited (logged by the
        /// caller, who may try to write the row itself; the login is refused anyway).
        uncounted: Option<String>,
    },
    /// Proven and settled (watermark moved, failures cleared), with its audit row.
    Allowed {
        /// Audit text: `password`, `password + verification code`, …
        reason: &'static str,
        /// A second factor was verified.
        mfa: bool,
    },
    /// Proven, but the settle could not be committed with its audit row: nothing was
    /// spent, counted or recorded, and the login is not allowed (PAM: PAM_SYSTEM_ERR;
    /// iamd: a 5xx, so the host asks again and the same code still works).
    Unrecorded {
        /// The audit text the Allow would have had.
        reason: &'static str,
        /// Why the transaction failed.
        error: String,
    },
}

impl Verdict {
    /// The decision and reason of the audit row (`None` for [`Verdict::Unknown`] and
    /// [`Verdict::Unrecorded`], which have none).
    pub fn row(&self) -> Option<(Decision, &str)> {
        match self {
            Verdict::Denied { reason, .. } => Some((Decision::Deny, reason)),
            Verdict::Allowed { reason, .. } => Some((Decision::Allow, reason)),
            Verdict::Unknown | Verdict::Unrecorded { .. } => None,
        }
    }
}

/// Whether the prompts must include the code: the account has an MFA device. Unknown
/// and password-less accounts get the prompts of an account without one.
pub fn wants_code(user: Option<&LoginUser>) -> bool {
    user.is_some_and(|u| u.mfa.is_some())
}

/// Verify the answers for `user` (as looked up before the prompts) at `now`; every
/// decision but [`Verdict::Unknown`] is written with the row `record` makes of it, in
/// the transaction that decides it.
///
/// # Errors
/// The store failed; the caller fails closed.
pub fn verify(
    store: &dyn Store,
    crypto: &dyn Crypto,
    rules: &Rules<'_>,
    user: Option<&LoginUser>,
    p: &Presented<'_>,
    now: i64,
    record: Record<'_>,
) -> Result<Verdict, BackendError> {
    // The password first (or the same time on the dummy hash), whatever the account.
    let usable_hash = user.and_then(|u| u.password_hash.as_deref());
    let password_ok = match (p.password, usable_hash) {
        (None, _) => true, // code-only: publickey was the first factor
        (Some(pw), Some(phc)) if user.is_some() => crypto.verify_password(phc, pw),
        (Some(pw), _) => {
            crypto.verify_dummy(pw);
            false
        }
    };
    let Some(u) = user else {
        return Ok(Verdict::Unknown);
    };
    let refuse = |reason: String| deny(store, u, now, reason, record);
    if u.password_hash.is_none() && !rules.code_only {
        return Ok(refuse("no login profile (password)".into()));
    }
    if let Some(until) = u.locked_until.filter(|t| *t > now) {
        return Ok(refuse(format!("account locked until {until}")));
    }
    if !password_ok {
        return Ok(refuse("wrong password".into()));
    }
    let password_login = p.password.is_some();
    // The Allow whose row the store was last asked to write: if the transaction then
    // fails, that Allow is what could not be recorded.
    let allowing: Cell<Option<&'static str>> = Cell::new(None);
    let row_of = |v: &Verdict| {
        allowing.set(match v {
            Verdict::Allowed { reason, .. } => Some(*reason),
            _ => None,
        });
        v.row().map(|(d, r)| record(d, r))
    };
    let unrecorded = |e: BackendError| match allowing.get() {
        Some(reason) => Ok(Verdict::Unrecorded {
            reason,
            error: e.to_string(),
        }),
        None => Err(e),
    };
    let Some(device) = &u.mfa else {
        if rules.code_only {
            return Ok(refuse("no MFA device (mode=code)".into()));
        }
        // The success, re-checking the lock at this moment: a lock reached by other
        // attempts while this one waited at a prompt wins.
        let row = |s: &Settled| password_only(s).and_then(|v| row_of(&v));
        return match store.settle(&u.name, &Proof::Nothing, password_login, now, Some(&row)) {
            Ok(s) => password_only(&s)
                .ok_or_else(|| BackendError::Internal("nothing to spend was spent".into())),
            Err(e) => unrecorded(e.into()),
        };
    };
    let row = |o: &Outcome| {
        // Every outcome has a row (a denial's or an Allow's).
        let v = verdict_of(*o, password_login);
        row_of(&v).unwrap_or_else(|| record(Decision::Deny, &o.reason()))
    };
    let attempt = Attempt {
        user: &u.name,
        device: Device {
            serial: &device.serial,
            seed: &device.seed,
        },
        answer: p.code.unwrap_or(""),
        window: u16::from(rules.window),
        password_login,
        host: rules.host,
        record: Some(&row),
    };
    match second_factor::verify(store, crypto.pacing(), &attempt) {
        Ok(outcome) => Ok(verdict_of(outcome, password_login)),
        Err(e) => unrecorded(e.into()),
    }
}

/// The verdict of a password-only login's settle (`None`: a spent proof, which a
/// password-only login has none of).
fn password_only(s: &Settled) -> Option<Verdict> {
    match s {
        Settled::Accepted => Some(Verdict::Allowed {
            reason: "password",
            mfa: false,
        }),
        Settled::Locked { until } => Some(Verdict::Denied {
            reason: format!("account locked until {until} (locked during this login)"),
            uncounted: None,
        }),
        Settled::Spent(_) => None,
    }
}

/// The verdict of a second-factor outcome.
fn verdict_of(outcome: Outcome, password_login: bool) -> Verdict {
    match outcome {
        Outcome::Totp if !password_login => Verdict::Allowed {
            reason: "publickey + verification code",
            mfa: true,
        },
        Outcome::Totp => Verdict::Allowed {
            reason: "password + verification code",
            mfa: true,
        },
        Outcome::Recovery => Verdict::Allowed {
            reason: "password + recovery code",
            mfa: true,
        },
        // Counted by the check already.
        failed => Verdict::Denied {
            reason: failed.reason(),
            uncounted: None,
        },
    }
}

/// Count a failure of an IAM user with its audit row, and refuse.
fn deny(store: &dyn Store, u: &LoginUser, now: i64, reason: String, record: Record<'_>) -> Verdict {
    let row = |_: &crate::credentials::LockState| Some(record(Decision::Deny, &reason));
    let uncounted = store
        .count_failure(&u.name, now, Some(&row))
        .err()
        .map(|e| format!("cannot count the failed login: {e}"));
    Verdict::Denied { reason, uncounted }
}
