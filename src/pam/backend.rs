//! What the PAM module needs from the store and from the credential code.
//!
//! Two narrow traits keep the login logic free of SQL and of slow crypto in unit tests:
//! `Backend` (the store, adapted in `store_backend.rs`) and `Crypto` (argon2id, the clock).

use zeroize::Zeroizing;

use super::handler::Secret;
use crate::credentials::second_factor::{FactorStore, Pacing};

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

/// One policy question for `account`: may this user do `action` on this host, now?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    /// IAM user name.
    pub user: String,
    /// `host:Login` or `host:Sudo`.
    pub action: String,
    /// Host name, the last part of the host ARN.
    pub host: String,
    /// PAM_SERVICE.
    pub service: Option<String>,
    /// PAM_TTY.
    pub tty: Option<String>,
    /// PAM_RHOST.
    pub rhost: Option<String>,
    /// Unix seconds of this login's MFA authentication; `None` without MFA.
    pub mfa_auth_time: Option<i64>,
    /// Unix seconds.
    pub now: i64,
}

/// The policy engine's answer, with what the audit trail needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessDecision {
    /// Allowed (and not explicitly denied).
    pub allowed: bool,
    /// Human text: the policy and statement that decided, or "no statement allows".
    pub reason: String,
}

/// One audit event, written to the store and to syslog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Unix seconds.
    pub time: i64,
    /// `authenticate`, the account action (`host:Login`, `host:Sudo`), `chauthtok`,
    /// `open_session`, `close_session`.
    pub event: String,
    /// PAM_USER.
    pub user: String,
    /// PAM_SERVICE.
    pub service: Option<String>,
    /// PAM_RHOST.
    pub rhost: Option<String>,
    /// PAM_TTY.
    pub tty: Option<String>,
    /// `allow`, `deny` or `error`.
    pub decision: String,
    /// Why.
    pub reason: String,
}

/// The store as PAM sees it. Every method is one short store call. The lockout state
/// (failures, lock, the attempt slots of the second-factor rate limit, the replay
/// watermark) is reached only through [`FactorStore`], the interface every caller of
/// `credentials::second_factor` shares.
pub trait Backend: FactorStore<Error = BackendError> {
    /// Look up an IAM user; `Ok(None)` when the store has no such user.
    fn login_user(&self, name: &str) -> Result<Option<LoginUser>, BackendError>;
    /// Expiry rules of the account password policy.
    fn expiry_rules(&self) -> Result<ExpiryRules, BackendError>;
    /// Change a password with the account password policy (reuse included) enforced;
    /// `Refused` carries the text for the user.
    fn change_password(&self, user: &str, new: &str, now: i64) -> Result<(), BackendError>;
    /// Evaluate the user's policies for the request.
    fn authorize(&self, req: &AccessRequest) -> Result<AccessDecision, BackendError>;
    /// Append to the audit trail.
    fn audit(&self, rec: &AuditRecord) -> Result<(), BackendError>;
    /// The secret that authenticates facts `auth` hands to `account` through the PAM
    /// environment; it lives only in the root-only store.
    fn auth_mac_key(&self) -> Result<Zeroizing<Vec<u8>>, BackendError>;
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
