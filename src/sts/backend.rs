//! What role sessions need from the store, the policy engine and the credential code.
//!
//! One narrow trait keeps `assume-role` and the sudo decision free of SQL and testable
//! with a scripted fake; `store_backend.rs` adapts the real store + authz to it.

use zeroize::Zeroizing;

use super::error::StsError;
use crate::credentials::second_factor::{FactorStore, Pacing};

/// The caller as an IAM user.
#[derive(Clone)]
pub struct StsUser {
    /// User name (= Linux user name).
    pub name: String,
    /// `arn:aws:iam::ACCT:user/NAME`.
    pub arn: String,
    /// `AIDA…`.
    pub id: String,
    /// The enabled MFA device: serial ARN and seed.
    pub mfa: Option<(String, Zeroizing<Vec<u8>>)>,
}

/// A role as `assume-role` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsRole {
    /// Role name.
    pub name: String,
    /// `arn:aws:iam::ACCT:role/NAME`.
    pub arn: String,
    /// `AROA…`.
    pub id: String,
    /// MaxSessionDuration in seconds (3600 unless set).
    pub max_session_duration: i64,
    /// The trust policy document (JSON).
    pub trust_policy: String,
}

/// A stored role session. The secret access key and token are kept only as a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSession {
    /// `ASIA…`, the session's public id.
    pub access_key_id: String,
    /// IAM user who assumed it.
    pub user: String,
    /// Role name.
    pub role: String,
    /// Role ARN.
    pub role_arn: String,
    /// `AROA…` of the role it was issued for.
    pub role_id: String,
    /// `AIDA…` of the user who assumed it.
    pub user_id: String,
    /// Why the session no longer counts although it is neither expired nor revoked: its
    /// role or user was deleted (perhaps created again under the same name) since.
    pub ended: Option<String>,
    /// `--role-session-name`.
    pub session_name: String,
    /// `TerminalScope::key()` of the terminal it was assumed in.
    pub scope: String,
    /// People-readable scope (`tty 136:3 (session 1234)`).
    pub scope_label: String,
    /// Unix seconds (aws:TokenIssueTime).
    pub issued: i64,
    /// Unix seconds.
    pub expires: i64,
    /// Unix seconds of the last MFA proof in this session.
    pub mfa_time: Option<i64>,
    /// SHA-256 (hex) of the secret access key and session token.
    pub secret_hash: String,
    /// The `--policy` session policy, if any.
    pub session_policy: Option<String>,
    /// Unix seconds of revocation.
    pub revoked: Option<i64>,
}

impl RoleSession {
    /// Usable at `now`: not expired, not revoked, and its role and user are still the
    /// ones it was issued for.
    pub fn active(&self, now: i64) -> bool {
        self.revoked.is_none() && self.ended.is_none() && now < self.expires
    }
}

/// Who a policy question is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An IAM user with long-term credentials.
    User(String),
    /// A role session (policies of the role, plus its session policy).
    Session(Box<RoleSession>),
}

/// One policy question, context facts included; authz turns it into a policy request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Who asks.
    pub principal: Principal,
    /// `sts:AssumeRole`, `host:Sudo`.
    pub action: String,
    /// Role or host ARN.
    pub resource: String,
    /// Unix seconds of the MFA proof behind this request.
    pub mfa_time: Option<i64>,
    /// PAM_SERVICE, `None` for iam-sts.
    pub service: Option<String>,
    /// PAM_TTY or the terminal name.
    pub tty: Option<String>,
    /// Client address (PAM_RHOST) when it is an address.
    pub source_ip: Option<String>,
    /// Unix seconds.
    pub now: i64,
}

/// The policy engine's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Allowed and not explicitly denied.
    pub allowed: bool,
    /// Explicitly denied.
    pub explicit_deny: bool,
    /// Which statements decided, for audit and messages.
    pub reason: String,
    /// Condition keys the policies used that the request did not have.
    pub missing_context: Vec<String>,
    /// Some evaluated policy has a condition on `aws:MultiFactorAuth*`, so a fresh
    /// TOTP proof could change the answer.
    pub uses_mfa: bool,
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsAudit {
    /// Unix seconds.
    pub time: i64,
    /// `assume-role`, `sudo`, `revoke-session`.
    pub event: String,
    /// IAM user.
    pub user: String,
    /// `allow`, `deny`, `error`.
    pub decision: String,
    /// Why, with the role / session.
    pub reason: String,
    /// PAM service (`sudo`) or `iam-sts`.
    pub service: String,
    /// Terminal scope description.
    pub tty: Option<String>,
}

/// The store, authz and the clock as role sessions see them. MFA codes are checked by
/// `credentials::second_factor` through the [`FactorStore`] part, the interface PAM's
/// logins share.
pub trait StsBackend: FactorStore<Error = StsError> {
    /// The 12-digit account id of this store.
    fn account_id(&self) -> Result<String, StsError>;
    /// Host name used in `arn:aws:iam::ACCT:host/NAME`.
    fn host_name(&self) -> Result<String, StsError>;
    /// An IAM user by name.
    fn user(&self, name: &str) -> Result<Option<StsUser>, StsError>;
    /// A role by name.
    fn role(&self, name: &str) -> Result<Option<StsRole>, StsError>;
    /// The shortest session allowed (900 unless root lowered it, for tests).
    fn min_session_duration(&self) -> Result<i64, StsError>;
    /// The clock of the second-factor check (waits for attempt slots, the fail delay).
    fn pacing(&self) -> &dyn Pacing;
    /// Evaluate the principal's identity policies (user, or role + session policy).
    fn authorize(&self, q: &Question) -> Result<Verdict, StsError>;
    /// Evaluate a role's trust policy for a user.
    fn trust(&self, role: &StsRole, q: &Question) -> Result<Verdict, StsError>;
    /// Store a new session together with its audit event, atomically.
    fn insert_session(&self, s: &RoleSession, audit: &StsAudit) -> Result<(), StsError>;
    /// Sessions of a user, newest first: only those active at `live_at` when given.
    /// `session_policy` may be left unset here; `authorize` looks it up itself.
    fn sessions_of(&self, user: &str, live_at: Option<i64>) -> Result<Vec<RoleSession>, StsError>;
    /// Mark a session revoked; false when the user has no such session.
    fn revoke_session(&self, user: &str, access_key_id: &str, now: i64) -> Result<bool, StsError>;
    /// Record a fresh MFA proof in a session.
    fn set_session_mfa(&self, access_key_id: &str, t: i64) -> Result<(), StsError>;
    /// Append to the audit trail (and syslog where the backend owns it).
    fn audit(&self, rec: &StsAudit) -> Result<(), StsError>;
    /// Refuses a `--policy` that is not a valid session policy.
    fn validate_session_policy(&self, json: &str) -> Result<(), StsError>;
    /// The stored form of a session secret (SHA-256, hex).
    fn hash_secret(&self, secret: &[u8]) -> String;
    /// `n` random bytes from the OS.
    fn random(&self, n: usize) -> Result<Zeroizing<Vec<u8>>, StsError>;
}
