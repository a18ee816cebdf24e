//! The narrow view of a PAM handle the login logic needs.
//!
//! Everything in `src/pam/` except `ffi.rs` talks to PAM through this trait, so the
//! whole login state machine runs under a scripted fake in unit tests.

use zeroize::Zeroizing;

/// A secret string (password, code) that is wiped when dropped.
pub type Secret = Zeroizing<String>;

/// The PAM result codes this module returns; mapped to libpam's numbers in `ffi.rs` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PamCode {
    /// PAM_SUCCESS
    Success,
    /// PAM_AUTH_ERR: wrong password or code, locked or unusable account.
    AuthErr,
    /// PAM_USER_UNKNOWN: not an IAM user; lets a stack fall through to pam_unix.
    UserUnknown,
    /// PAM_PERM_DENIED: a policy (or its absence) denies the access.
    PermDenied,
    /// PAM_NEW_AUTHTOK_REQD: the password must be changed before the login completes.
    NewAuthtokReqd,
    /// PAM_ACCT_EXPIRED: the password expired and the account policy forbids changing it.
    AcctExpired,
    /// PAM_AUTHINFO_UNAVAIL: the store cannot be used (missing, corrupt, unsafe, locked).
    AuthinfoUnavail,
    /// PAM_SYSTEM_ERR: any other internal error.
    SystemErr,
    /// PAM_CRED_INSUFFICIENT: no usable credential (sudo: no role session); sudo does not
    /// retry it as it retries a wrong password.
    CredInsufficient,
    /// PAM_CONV_ERR: the application could not ask the user.
    ConvErr,
    /// PAM_AUTHTOK_ERR: the new password is refused (policy, mismatch, reuse).
    AuthtokErr,
    /// PAM_AUTHTOK_RECOVERY_ERR: the current password given to change it is wrong.
    AuthtokRecoveryErr,
    /// PAM_SESSION_ERR: the session could not be recorded.
    SessionErr,
    /// PAM_IGNORE: this module has no say (e.g. a session of a non-IAM user).
    Ignore,
    /// PAM_SERVICE_ERR: the module is misconfigured (bad option).
    ServiceErr,
}

impl PamCode {
    /// The libpam name, for logs and tests.
    pub fn name(self) -> &'static str {
        match self {
            PamCode::Success => "PAM_SUCCESS",
            PamCode::AuthErr => "PAM_AUTH_ERR",
            PamCode::UserUnknown => "PAM_USER_UNKNOWN",
            PamCode::PermDenied => "PAM_PERM_DENIED",
            PamCode::NewAuthtokReqd => "PAM_NEW_AUTHTOK_REQD",
            PamCode::AcctExpired => "PAM_ACCT_EXPIRED",
            PamCode::AuthinfoUnavail => "PAM_AUTHINFO_UNAVAIL",
            PamCode::SystemErr => "PAM_SYSTEM_ERR",
            PamCode::CredInsufficient => "PAM_CRED_INSUFFICIENT",
            PamCode::ConvErr => "PAM_CONV_ERR",
            PamCode::AuthtokErr => "PAM_AUTHTOK_ERR",
            PamCode::AuthtokRecoveryErr => "PAM_AUTHTOK_RECOVERY_ERR",
            PamCode::SessionErr => "PAM_SESSION_ERR",
            PamCode::Ignore => "PAM_IGNORE",
            PamCode::ServiceErr => "PAM_SERVICE_ERR",
        }
    }
}

/// Whether the user's answer is shown while typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Passwords and codes.
    Off,
    /// Visible answers.
    On,
}

/// syslog priority of a log line (facility is always authpriv, set by pam_syslog).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// A denial or failure worth an administrator's attention.
    Notice,
    /// A success.
    Info,
    /// The module cannot work (store or configuration broken).
    Err,
    /// Only with the `debug` option.
    Debug,
}

/// What the login logic needs from a PAM handle.
pub trait PamHandler {
    /// PAM_USER (asks the application when unset).
    fn user(&mut self) -> Result<String, PamCode>;
    /// PAM_SERVICE.
    fn service(&self) -> Option<String>;
    /// PAM_TTY.
    fn tty(&self) -> Option<String>;
    /// PAM_RHOST.
    fn rhost(&self) -> Option<String>;
    /// Ask the user; `Err(ConvErr)` when the application cannot.
    fn prompt(&mut self, echo: Echo, msg: &str) -> Result<Secret, PamCode>;
    /// Tell the user something (PAM_TEXT_INFO); ignored under PAM_SILENT.
    fn info(&mut self, msg: &str);
    /// Tell the user about an error (PAM_ERROR_MSG).
    fn error(&mut self, msg: &str);
    /// PAM_ERROR_MSG even under PAM_SILENT, which sudo always passes: the sudo role
    /// decision's hint (what to run) must reach the user.
    fn error_always(&mut self, msg: &str) {
        self.error(msg)
    }
    /// PAM_AUTHTOK as left by an earlier module.
    fn authtok(&self) -> Option<Secret>;
    /// Set PAM_AUTHTOK for later modules (pam_unix try_first_pass, chauthtok).
    fn set_authtok(&mut self, tok: &str) -> Result<(), PamCode>;
    /// PAM_OLDAUTHTOK.
    fn old_authtok(&self) -> Option<Secret>;
    /// Set PAM_OLDAUTHTOK.
    fn set_old_authtok(&mut self, tok: &str) -> Result<(), PamCode>;
    /// A PAM environment variable.
    fn getenv(&self, name: &str) -> Option<String>;
    /// Set (`Some`) or remove (`None`) a PAM environment variable.
    fn putenv(&mut self, name: &str, value: Option<&str>) -> Result<(), PamCode>;
    /// One line to syslog (authpriv), through pam_syslog.
    fn syslog(&mut self, prio: Priority, msg: &str);
    /// Ask libpam to delay the failure report by at least `usec`.
    fn fail_delay(&mut self, usec: u32);
    /// Whether the calling process runs as root (passwd by root skips the old password).
    fn caller_is_root(&self) -> bool;
    /// Keep the store `authenticate` opened for the next hook of this PAM transaction
    /// (`acct_mgmt`, back to back in a login), so a login opens and checks it once.
    /// Without a place to keep it (the default), it is closed now.
    fn keep_store(&mut self, store: super::KeptStore) {
        drop(store);
    }
    /// The store kept by the previous hook, taken (so it serves one more hook only).
    fn take_store(&mut self) -> Option<super::KeptStore> {
        None
    }
}
