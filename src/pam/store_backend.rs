//! The real `Backend`: the SQLite store (opened with its safety checks), authz, and the
//! credential code. No SQL here: every call is one store method.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::backend::*;
use crate::authz::{self, AuthzError, Facts, Subject, Target};
use crate::credentials::second_factor::{
    self, Admission, FactorStore, Pacing, Proof, Settled, Throttle,
};
use crate::credentials::{self, HashParams, LockState};
use crate::store::{self, AuditEvent, Store, StoreError};

/// The store behind `Backend`.
pub struct StoreBackend {
    store: Box<dyn Store>,
    /// The auth-facts key file (the store options' `auth_key`).
    auth_key: PathBuf,
}

/// Open the store for one PAM call. A missing store is an error (PAM never creates one).
///
/// # Errors
/// [`BackendError::Unavailable`] naming the file and the problem.
pub fn open(db: &str) -> Result<(StoreBackend, RealCrypto), BackendError> {
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
    let store = store::open(&opts).map_err(from_store)?;
    let params = store.hash_params().map_err(from_store)?;
    let auth_key = opts.auth_key;
    Ok((StoreBackend { store, auth_key }, RealCrypto { params }))
}

fn from_store(e: StoreError) -> BackendError {
    match e {
        StoreError::Insecure { .. }
        | StoreError::Io { .. }
        | StoreError::Database(_)
        | StoreError::SchemaTooNew { .. }
        | StoreError::ReadOnly(_) => BackendError::Unavailable(e.to_string()),
        other => BackendError::Internal(other.to_string()),
    }
}

fn from_authz(e: AuthzError) -> BackendError {
    match e {
        AuthzError::Store(s) => from_store(s),
        bad @ (AuthzError::BadPolicy { .. } | AuthzError::BadTrustPolicy { .. }) => {
            BackendError::BadPolicy(bad.to_string())
        }
    }
}

impl FactorStore for StoreBackend {
    type Error = BackendError;

    fn admit(
        &self,
        user: &str,
        now_ms: i64,
        throttle: &Throttle,
    ) -> Result<Admission, Self::Error> {
        self.store
            .admit_attempt(user, now_ms, throttle)
            .map_err(from_store)
    }

    fn count_failure(&self, user: &str, now: i64) -> Result<LockState, Self::Error> {
        self.store.record_failure(user, now).map_err(from_store)
    }

    fn settle(
        &self,
        user: &str,
        proof: &Proof<'_>,
        password_login: bool,
        now: i64,
    ) -> Result<Settled, Self::Error> {
        self.store
            .settle_success(user, proof, password_login, now)
            .map_err(from_store)
    }
}

impl Backend for StoreBackend {
    fn login_user(&self, name: &str) -> Result<Option<LoginUser>, BackendError> {
        let Some(info) = self.store.auth_info(name).map_err(from_store)? else {
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

    fn expiry_rules(&self) -> Result<ExpiryRules, BackendError> {
        let p = self
            .store
            .get_password_policy()
            .map_err(from_store)?
            .unwrap_or_default();
        Ok(ExpiryRules {
            max_password_age_days: p.max_password_age,
            hard_expiry: p.hard_expiry,
        })
    }

    fn change_password(&self, user: &str, new: &str, now: i64) -> Result<(), BackendError> {
        let policy = self
            .store
            .get_password_policy()
            .map_err(from_store)?
            .unwrap_or_default();
        policy
            .check(new)
            .map_err(|v| BackendError::Refused(v.to_string()))?;
        let depth = policy.reuse_depth().max(1);
        let history = self
            .store
            .password_history(user, depth)
            .map_err(from_store)?;
        if history
            .iter()
            .any(|h| credentials::verify_password(new.as_bytes(), h))
        {
            return Err(BackendError::Refused(format!(
                "Password does not conform to the account password policy: it must differ from the last {depth} password(s)"
            )));
        }
        let params = self.store.hash_params().map_err(from_store)?;
        let hash = Zeroizing::new(
            credentials::hash_password(new.as_bytes(), &params)
                .map_err(|e| BackendError::Internal(e.to_string()))?,
        );
        self.store
            .update_login_profile(user, Some(&hash), Some(false), now)
            .map_err(from_store)
    }

    fn authorize(&self, req: &AccessRequest) -> Result<AccessDecision, BackendError> {
        let facts = Facts {
            action: req.action.clone(),
            target: Target::Host(req.host.clone()),
            mfa_time: req.mfa_auth_time,
            service: req.service.clone(),
            tty: req.tty.clone(),
            rhost: req.rhost.clone(),
            now: req.now,
        };
        let v = authz::authorize(self.store.as_ref(), Subject::User(&req.user), &facts)
            .map_err(from_authz)?;
        Ok(AccessDecision {
            allowed: v.allowed,
            reason: v.reason,
        })
    }

    fn audit(&self, rec: &AuditRecord) -> Result<(), BackendError> {
        let e = AuditEvent {
            time: rec.time,
            user: rec.user.clone(),
            service: rec.service.clone().unwrap_or_default(),
            rhost: rec.rhost.clone(),
            tty: rec.tty.clone(),
            action: rec.event.clone(),
            decision: rec.decision.clone(),
            reason: rec.reason.clone(),
        };
        self.store.append_audit(&e).map_err(from_store)
    }

    fn auth_mac_key(&self) -> Result<Zeroizing<Vec<u8>>, BackendError> {
        auth_key(&self.auth_key)
    }
}

/// The key sealing auth facts (see [`credentials::key_file`]).
fn auth_key(path: &Path) -> Result<Zeroizing<Vec<u8>>, BackendError> {
    credentials::key_file::load_or_create(path).map_err(BackendError::Unavailable)
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
