//! Errors of the userdb and SSH key export, written for the administrator who reads them.

use std::path::PathBuf;

/// Everything that can go wrong while keeping the userdb directory and the key export
/// in step with the store. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum UserdbError {
    /// The store could not be read: nothing was changed, on purpose.
    #[error(
        "could not read the IAM store ({0}); the userdb directory and key export were left unchanged"
    )]
    Source(String),

    /// A directory we write into is unsafe (not root-owned, writable by others, a symlink).
    #[error("{path}: {why}; fix its owner/mode (root, 0755) and retry", path = .path.display())]
    UnsafeDir { path: PathBuf, why: String },

    /// A file operation failed.
    #[error("{op} {path}: {source}", path = .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A name that cannot be a Linux user or group name (or a file name) was refused.
    #[error(
        "ValidationError: {0:?} is not a valid Linux user/group name (lowercase letters, digits, '_' and '-', starting with a letter or '_', at most 32 characters)"
    )]
    InvalidName(String),

    /// An id range given by the administrator does not parse or is unsafe.
    #[error(
        "ValidationError: invalid id range {0:?}: expected FIRST-LAST with 1000 <= FIRST <= LAST < 4294967294 (e.g. 70000-99999)"
    )]
    InvalidRange(String),

    /// Every id of the range has been handed out once (ids are never reused).
    #[error(
        "LimitExceeded: the UID/GID range {first}-{last} is exhausted (ids are never reused); widen it with --id-range or PAM_IAM_ID_RANGE"
    )]
    RangeExhausted { first: u32, last: u32 },

    /// An explicit id asked by the administrator cannot be used.
    #[error("EntityAlreadyExists: id {id} cannot be used: {why}")]
    IdUnavailable { id: u32, why: String },

    /// `--check` found drift.
    #[error(
        "the userdb directory has drifted from the store ({0} difference(s)); run `iam sync-userdb` to repair"
    )]
    Drifted(usize),
}

impl UserdbError {
    /// Shorthand for an I/O error on a path.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        UserdbError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
