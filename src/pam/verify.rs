//! The one verification of a login's answers over any `dyn Store`: password (argon2id,
//! or the dummy hash for accounts that cannot log in), then the second factor
//! (`credentials::second_factor`: window, watermark, lockout, rate limit), then the
//! success settled in one store transaction that re-checks the lock. The PAM module's
//! local path and `iamd`'s host API (fleet mode's online login) both call [`verify`];
//! they differ only in where the answers come from and where the audit row goes.

use super::backend::{BackendError, Crypto, LoginUser};
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

/// The decision on the answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not an IAM user (the stack may fall through to pam_unix).
    Unknown,
    /// Refused; the failure is counted (or, for a lock reached while this login
    /// waited, was counted by the settling transaction).
    Denied {
        /// Audit text.
        reason: String,
        /// The failure could not be counted (logged by the caller, the login is refused
        /// anyway).
        uncounted: Option<String>,
    },
    /// Proven and settled (watermark moved, failures cleared).
    Allowed {
        /// Audit text: `password`, `password + verification code`, …
        reason: &'static str,
        /// A second factor was verified.
        mfa: bool,
    },
}

/// Whether the prompts must include the code: the account has an MFA device. Unknown
/// and password-less accounts get the prompts of an account without one.
pub fn wants_code(user: Option<&LoginUser>) -> bool {
    user.is_some_and(|u| u.mfa.is_some())
}

/// Verify the answers for `user` (as looked up before the prompts) at `now`.
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
    if u.password_hash.is_none() && !rules.code_only {
        return Ok(deny(store, u, now, "no login profile (password)".into()));
    }
    if let Some(until) = u.locked_until.filter(|t| *t > now) {
        return Ok(deny(store, u, now, format!("account locked until {until}")));
    }
    if !password_ok {
        return Ok(deny(store, u, now, "wrong password".into()));
    }
    let password_login = p.password.is_some();
    let Some(device) = &u.mfa else {
        if rules.code_only {
            return Ok(deny(store, u, now, "no MFA device (mode=code)".into()));
        }
        // The success, re-checking the lock at this moment: a lock reached by other
        // attempts while this one waited at a prompt wins.
        return match store.settle(&u.name, &Proof::Nothing, password_login, now)? {
            Settled::Accepted => Ok(Verdict::Allowed {
                reason: "password",
                mfa: false,
            }),
            Settled::Locked { until } => Ok(Verdict::Denied {
                reason: format!("account locked until {until} (locked during this login)"),
                uncounted: None,
            }),
            Settled::Spent(_) => Err(BackendError::Internal("nothing to spend was spent".into())),
        };
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
    };
    let outcome =
        second_factor::verify(store, crypto.pacing(), &attempt).map_err(BackendError::from)?;
    Ok(match outcome {
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
    })
}

/// Count a failure of an IAM user and refuse.
fn deny(store: &dyn Store, u: &LoginUser, now: i64, reason: String) -> Verdict {
    let uncounted = store
        .count_failure(&u.name, now)
        .err()
        .map(|e| format!("cannot count the failed login: {e}"));
    Verdict::Denied { reason, uncounted }
}
