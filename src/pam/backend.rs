//! What the PAM module needs from the store and from the credential code: [`Backend`],
//! the store (any `dyn Store`, opened with its safety checks) seen as the login phases
//! use it — every method one store call or one authz call, no SQL — and [`Crypto`]
//! (argon2id, the clock), a trait so unit tests pay neither argon2's cost nor real
//! waiting. The lockout state (failures, lock, the second factor's attempt slots and
//! replay watermark) is reached through [`Backend::store`], whose one `FactorStore` impl
//! every caller of `credentials::second_factor` shares.

use std::path::PathBuf;

use zeroize::Zeroizing;

use super::handler::Secret;
use crate::audit::Event;
use crate::authz::{self, AuthzError, Request, Verdict};
use crate::credentials::second_factor::{self, Pacing};
use crate::credentials::{self, HashParams};
use crate::store::{self, Store, StoreError};

/// Why the store could not answer; each maps to one documented PAM code.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum BackendError {
    /// The store is missing, unreadable, corrupt, has unsafe permissions or stays locked.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored policy does not parse: deny rather than guess.
    #[error("malformed stored policy: {0}")]
    BadPolicy(String),
    /// The store refused a change (password policy, reuse); the text is shown to the user.
    #[error("{0}")]
    Refused(String),
    /// Anything else.
    #[error("internal error: {0}")]
    Internal(String),
}

/// An enabled MFA device of a user.
#[derive(Clone)]
pub struct MfaDevice {
    /// The device ARN (`arn:aws:iam::ACCT:mfa/NAME`), the replay watermark's key.
    pub serial: String,
    /// The raw TOTP seed.
    pub seed: Zeroizing<Vec<u8>>,
}

/// The login-relevant part of an IAM user.
#[derive(Clone)]
pub struct LoginUser {
    /// IAM (= Linux) user name.
    pub name: String,
    /// The login profile's argon2id PHC string; `None` when the user has no password.
    pub password_hash: Option<Secret>,
    /// The administrator asked for a new password at next login.
    pub password_reset_required: bool,
    /// Unix seconds of the last password change.
    pub password_last_changed: Option<i64>,
    /// Unix seconds until which logins are refused (lockout); `None` when not locked.
    pub locked_until: Option<i64>,
    /// The user's enabled MFA device, if any.
    pub mfa: Option<MfaDevice>,
}

/// The account password policy parts `account` needs for expiry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpiryRules {
    /// `MaxPasswordAge` in days.
    pub max_password_age_days: Option<u32>,
    /// `HardExpiry`: an expired password cannot be changed by the user.
    pub hard_expiry: bool,
}

impl From<StoreError> for BackendError {
    fn from(e: StoreError) -> BackendError {
        match e {
            StoreError::Insecure { .. }
            | StoreError::Io { .. }
            | StoreError::Database(_)
            | StoreError::SchemaTooNew { .. }
            | StoreError::ReadOnly(_)
            | StoreError::Credential(credentials::CredError::SecretsKey(_)) => {
                BackendError::Unavailable(e.to_string())
            }
            other => BackendError::Internal(other.to_string()),
        }
    }
}

impl From<AuthzError> for BackendError {
    fn from(e: AuthzError) -> BackendError {
        match e {
            AuthzError::Store(s) => s.into(),
            bad @ (AuthzError::BadPolicy { .. } | AuthzError::BadTrustPolicy { .. }) => {
                BackendError::BadPolicy(bad.to_string())
            }
        }
    }
}

/// The store as PAM sees it: the store itself and the file of the auth-facts key.
pub struct Backend {
    store: Box<dyn Store>,
    /// The auth-facts key file (the store options' `auth_key`).
    auth_key: PathBuf,
    /// Every policy question asked, for unit tests of what `account` asks.
    #[cfg(test)]
    pub(crate) asked: std::cell::RefCell<Vec<Request>>,
}

/// Open the store for one PAM call. A missing store is an error (PAM never creates one).
///
/// # Errors
/// [`BackendError::Unavailable`] naming the file and the problem.
pub fn open(db: &str) -> Result<(Backend, RealCrypto), BackendError> {
    let opts = store::OpenOptions::for_login(db);
    if let Some(path) = opts.location.sqlite_path() {
        match std::fs::symlink_metadata(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BackendError::Unavailable(format!("{db} does not exist")));
            }
            Err(e) => return Err(BackendError::Unavailable(format!("{db}: {e}"))),
        }
    }
    let store = store::open(&opts)?;
    let params = store.hash_params()?;
    Ok((Backend::new(store, opts.auth_key), RealCrypto { params }))
}

impl Backend {
    /// The phases' view of an open store whose auth-facts key lives at `auth_key`.
    pub fn new(store: Box<dyn Store>, auth_key: PathBuf) -> Backend {
        Backend {
            store,
            auth_key,
            #[cfg(test)]
            asked: std::cell::RefCell::default(),
        }
    }

    /// The store: for the second-factor check and the lockout steps.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// Look up an IAM user; `Ok(None)` when the store has no such user.
    ///
    /// # Errors
    /// The store failed.
    pub fn login_user(&self, name: &str) -> Result<Option<LoginUser>, BackendError> {
        login_user(&*self.store, name)
    }

    /// Expiry rules of the account password policy.
    ///
    /// # Errors
    /// The store failed.
    pub fn expiry_rules(&self) -> Result<ExpiryRules, BackendError> {
        let p = self.store.get_password_policy()?.unwrap_or_default();
        Ok(ExpiryRules {
            max_password_age_days: p.max_password_age,
            hard_expiry: p.hard_expiry,
        })
    }

    /// Change a password with the account password policy (reuse included) enforced.
    ///
    /// # Errors
    /// `Refused` carries the text for the user; the store failed.
    pub fn change_password(&self, user: &str, new: &str, now: i64) -> Result<(), BackendError> {
        let hash = store::new_password_hash(&*self.store, user, new).map_err(|e| match e {
            store::NewPasswordError::Refused(why) => BackendError::Refused(why),
            store::NewPasswordError::Store(e) => e.into(),
        })?;
        Ok(self
            .store
            .update_login_profile(user, Some(&hash), Some(false), now)?)
    }

    /// Evaluate the user's policies for the request.
    ///
    /// # Errors
    /// The store failed or a stored policy does not parse.
    pub fn authorize(&self, req: &Request) -> Result<Verdict, BackendError> {
        #[cfg(test)]
        self.asked.borrow_mut().push(req.clone());
        Ok(authz::authorize(self.store.as_ref(), req)?)
    }

    /// Append to the audit trail.
    ///
    /// # Errors
    /// The store failed.
    pub fn audit(&self, e: &Event) -> Result<(), BackendError> {
        Ok(self.store.append_audit(e)?)
    }

    /// The secret that authenticates facts `auth` hands to `account` through the PAM
    /// environment; it lives only in a root-only file.
    ///
    /// # Errors
    /// The key file is unsafe or cannot be written.
    pub fn auth_mac_key(&self) -> Result<Zeroizing<Vec<u8>>, BackendError> {
        super::auth_key::auth_key(&self.auth_key)
    }
}

/// Look up an IAM user in any store (the module's, or `iamd`'s for a host's login);
/// `Ok(None)` when the store has no such user.
///
/// # Errors
/// The store failed.
pub fn login_user(store: &dyn Store, name: &str) -> Result<Option<LoginUser>, BackendError> {
    let Some(info) = store.auth_info(name)? else {
        return Ok(None);
    };
    let lp = info.login_profile;
    Ok(Some(LoginUser {
        name: info.user.name,
        password_hash: lp.as_ref().map(|p| p.password_hash.clone()),
        password_reset_required: lp.as_ref().is_some_and(|p| p.password_reset_required),
        password_last_changed: lp.as_ref().map(|p| p.password_last_changed),
        locked_until: info.lock.locked_until,
        mfa: info.mfa.map(|m| MfaDevice {
            serial: m.serial_number,
            seed: m.seed,
        }),
    }))
}

/// Credential checks and their clock, behind a trait so unit tests pay neither argon2's
/// cost nor real waiting.
pub trait Crypto {
    /// Verify a password against an argon2id PHC string.
    fn verify_password(&self, phc: &str, password: &str) -> bool;
    /// Spend the same time as a verification, for unknown and unusable accounts.
    fn verify_dummy(&self, password: &str);
    /// The clock of the second-factor check. Its fail delay is libpam's: every failure
    /// goes through `auth::deny`, which asks pam_fail_delay for `fail_delay=`.
    fn pacing(&self) -> &dyn Pacing;
}

/// argon2id through `credentials`, with the store's hash parameters for the dummy
/// verification, and the real clock.
pub struct RealCrypto {
    /// argon2 parameters of this store.
    pub params: HashParams,
}

impl Crypto for RealCrypto {
    fn verify_password(&self, phc: &str, password: &str) -> bool {
        credentials::verify_password(password.as_bytes(), phc)
    }

    fn verify_dummy(&self, password: &str) {
        let _ = credentials::verify_dummy(password.as_bytes(), &self.params);
    }

    fn pacing(&self) -> &dyn Pacing {
        &LibpamPacing
    }
}

/// The system clock and real waits for attempt slots; the fail delay is libpam's
/// (pam_fail_delay, asked for by `auth::deny`), so nothing sleeps for it here.
struct LibpamPacing;

impl Pacing for LibpamPacing {
    fn now_ms(&self) -> i64 {
        second_factor::unix_ms()
    }
    fn sleep(&self, d: std::time::Duration) {
        std::thread::sleep(d);
    }
    fn fail_delay(&self) {}
}
