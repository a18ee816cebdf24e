//! Everything that can go wrong in `iam-sts` and in the sudo decision, each message
//! starting with the AWS error code and saying what to do.

use super::harden::HardenError;
use super::model::ValidationError;
use super::scope::ScopeError;
use crate::authz::AuthzError;
use crate::store::StoreError;

/// Errors of role sessions.
#[derive(Debug, thiserror::Error)]
pub enum StsError {
    /// Bad input (AWS ValidationError and friends).
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Too many or too large arguments.
    #[error(transparent)]
    Input(#[from] HardenError),
    /// The caller or its terminal could not be determined.
    #[error("AccessDenied: {0}")]
    Scope(#[from] ScopeError),
    /// The Linux user has no IAM user of the same name.
    #[error(
        "AccessDenied: Linux user {0:?} is not an IAM user on this host (ask an administrator: iam create-user --user-name {0})"
    )]
    NotIamUser(String),
    /// A policy (identity or trust) does not allow the request.
    #[error("AccessDenied: {0}")]
    AccessDenied(String),
    /// `--policy` is not a valid session policy.
    #[error("MalformedPolicyDocument: --policy: {0}")]
    MalformedPolicy(String),
    /// The trust policy wants MFA and no code could be asked for.
    #[error(
        "AccessDenied: the role requires MFA: add --serial-number {serial} --token-code CODE (run from a terminal to be asked)"
    )]
    MfaRequired {
        /// The caller's MFA device ARN, or a placeholder.
        serial: String,
    },
    /// Wrong code, wrong device, or no device.
    #[error("AccessDenied: MultiFactorAuthentication failed: {0}")]
    Mfa(String),
    /// `--db`/`PAM_IAM_DB` from a caller who is not root.
    #[error("AccessDenied: --db is only for root; iam-sts always uses the host's store")]
    DbNotAllowed,
    /// No such role session among the caller's.
    #[error(
        "NoSuchEntity: you have no role session with access key id {0:?} (see iam-sts list-sessions)"
    )]
    NoSuchSession(String),
    /// The store is unsafe, locked past the wait, or broken.
    #[error("ServiceFailure: the IAM store is unavailable: {0} (ask an administrator)")]
    Store(#[from] StoreError),
    /// There is no store at the path.
    #[error(
        "ServiceFailure: the IAM store is unavailable: {0} does not exist (create it with: iam create-account) (ask an administrator)"
    )]
    NoStore(String),
    /// A stored policy (identity, boundary or trust) no longer parses: nothing it
    /// governs is allowed until it is fixed. Not an outage: the store answered.
    #[error(
        "ServiceFailure: {what} is malformed: {error} (ask an administrator to fix it; until then nothing it governs is allowed)"
    )]
    BadPolicy {
        /// `stored policy ARN` or `the trust policy of role NAME`.
        what: String,
        /// The parser's message.
        error: String,
    },
    /// The random generator or another internal part failed.
    #[error("ServiceFailure: {0}")]
    Internal(String),
    /// Fleet mode: the refusal `iamd` (or the agent) gave, its AWS code first.
    #[error("{0}")]
    Remote(String),
}

impl From<AuthzError> for StsError {
    fn from(e: AuthzError) -> Self {
        match e {
            AuthzError::Store(e) => StsError::Store(e),
            AuthzError::BadTrustPolicy { role, error } => StsError::BadPolicy {
                what: format!("the trust policy of role {role}"),
                error,
            },
            AuthzError::BadPolicy { policy, error } => StsError::BadPolicy {
                what: format!("stored policy {policy}"),
                error,
            },
        }
    }
}

impl StsError {
    /// Short machine word for audit records.
    pub fn code(&self) -> &'static str {
        match self {
            StsError::Input(HardenError::NotSetuidRoot(_) | HardenError::Switch(_)) => {
                "ServiceFailure"
            }
            StsError::Validation(_) | StsError::Input(_) => "ValidationError",
            StsError::MalformedPolicy(_) => "MalformedPolicyDocument",
            StsError::NoSuchSession(_) => "NoSuchEntity",
            StsError::Store(_)
            | StsError::NoStore(_)
            | StsError::BadPolicy { .. }
            | StsError::Internal(_) => "ServiceFailure",
            _ => "AccessDenied",
        }
    }
}
