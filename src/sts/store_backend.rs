//! The real backend: the store, authz and the credential code behind `StsBackend`.

use super::backend::StsBackend;
use super::error::StsError;

/// The store opened for role sessions.
pub struct StoreBackend {
    _private: (),
}

impl StoreBackend {
    /// Opens the store at `path` through the store's safe-open checks. `syslog`: also
    /// write audit lines to syslog (iam-sts; the PAM module logs through pam_syslog).
    pub fn open(path: &str, syslog: bool) -> Result<Box<dyn StsBackend>, StsError> {
        let _ = syslog;
        Err(StsError::Store(format!(
            "{path}: the store is not built yet"
        )))
    }
}
