//! The identity store: every user, credential, group, policy, role, session and audit
//! event. All SQL lives under this module; callers see the [`Store`] trait and plain
//! domain types, so a PostgreSQL backend can be added later beside [`sqlite`].

pub mod sqlite;
mod traits;
mod types;

pub use crate::credentials::{LockState, LockoutSettings, PasswordPolicy};
pub use traits::*;
pub use types::*;

/// The store traits, for `use crate::store::prelude::*;`: a [`Store`]'s methods live on
/// its per-aggregate sub-traits, which must be in scope to call them.
pub mod prelude {
    pub use super::traits::{
        AccessKeyStore, AccountStore, AuditStore, GroupStore, HostStore, LinuxIdStore,
        LockoutStore, LoginProfileStore, MfaStore, PolicyStore, RoleStore, SessionStore,
        SshKeyStore, Store, TagStore, UserStore,
    };
}

use std::path::{Path, PathBuf};

/// Where the store lives unless `--db`, `PAM_IAM_DB` or the module's `db=` says otherwise.
pub const DEFAULT_PATH: &str = "/var/lib/pam-iam/iam.db";

/// Environment variable the CLIs read for the store path.
pub const ENV_DB: &str = "PAM_IAM_DB";

/// Environment variable that lets the `iam` CLI (never PAM or the setuid helper) skip the
/// owner/mode checks, for tests and development stores in a user's home.
pub const ENV_INSECURE: &str = "PAM_IAM_INSECURE_STORE";

/// How a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create if missing, migrate, write.
    ReadWrite,
    /// Never create, migrate or write: for readers such as a non-root `iam get-user`.
    ReadOnly,
}

/// Everything [`open`] needs to know.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Path of the database file.
    pub path: PathBuf,
    /// Read-write or read-only.
    pub mode: OpenMode,
    /// Skip the owner/mode checks (symlinks are still refused). Only for tests and
    /// development; PAM and setuid helpers must never set it from the environment.
    pub insecure_ok: bool,
}

impl OpenOptions {
    /// Strict options for `path`.
    pub fn new(path: impl Into<PathBuf>, mode: OpenMode) -> Self {
        OpenOptions {
            path: path.into(),
            mode,
            insecure_ok: false,
        }
    }
}

/// Open the store safely (owner, mode, no symlinks), create it (directory 0700, file 0600)
/// when missing in read-write mode, and apply pending schema migrations.
///
/// # Errors
/// [`StoreError::Insecure`] naming the file and its mode, [`StoreError::Io`],
/// [`StoreError::Database`], [`StoreError::SchemaTooNew`].
pub fn open(opts: &OpenOptions) -> Result<Box<dyn Store>> {
    Ok(Box::new(sqlite::SqliteStore::open(opts)?))
}

/// How long a login (PAM, sudo, iam-sts) waits for another process's write lock before
/// it fails closed. Every write is one short transaction (milliseconds), so only a stuck
/// or stopped writer makes a login wait this long; see docs/store.md, "Locks".
pub const LOGIN_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// [`open_path`] read-write for a login: strict checks, waiting at most
/// [`LOGIN_BUSY_TIMEOUT`] for a lock.
///
/// # Errors
/// As [`open`].
pub fn open_for_login(path: &Path) -> Result<Box<dyn Store>> {
    Ok(Box::new(sqlite::SqliteStore::open_waiting(
        &OpenOptions::new(path, OpenMode::ReadWrite),
        LOGIN_BUSY_TIMEOUT,
    )?))
}

/// Shorthand for [`open`] with strict checks.
///
/// # Errors
/// As [`open`].
pub fn open_path(path: &Path, mode: OpenMode) -> Result<Box<dyn Store>> {
    open(&OpenOptions::new(path, mode))
}

/// Store errors; [`StoreError::code`] gives the AWS error code the CLI prints.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// AWS `NoSuchEntity`.
    #[error("{0}")]
    NoSuchEntity(String),
    /// AWS `EntityAlreadyExists`.
    #[error("{0}")]
    EntityAlreadyExists(String),
    /// AWS `DeleteConflict`.
    #[error("{0}")]
    DeleteConflict(String),
    /// AWS `LimitExceeded`.
    #[error("{0}")]
    LimitExceeded(String),
    /// AWS `ValidationError`.
    #[error("{0}")]
    Validation(String),
    /// AWS `InvalidAuthenticationCode` etc.: a caller-specific code and message.
    #[error("{1}")]
    Other(&'static str, String),
    /// The file or a directory on its path is unsafe (StrictModes-like refusal).
    #[error("refusing to use store: {path}: {reason}")]
    Insecure {
        /// The offending file or directory.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A file-system error while opening.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// SQLite failed (corrupt file, disk full, …).
    #[error("store database error: {0}")]
    Database(String),
    /// Written by a newer pam-iam.
    #[error("store schema version {found} is newer than this program supports ({supported})")]
    SchemaTooNew {
        /// user_version in the file.
        found: i64,
        /// Highest version this build knows.
        supported: i64,
    },
    /// A write was attempted on a read-only store, or migration is needed.
    #[error("store not writable here: {0}")]
    ReadOnly(String),
    /// Generating a random id failed.
    #[error(transparent)]
    Credential(#[from] crate::credentials::CredError),
}

impl StoreError {
    /// The AWS error code, as printed by the CLI.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NoSuchEntity(_) => "NoSuchEntity",
            StoreError::EntityAlreadyExists(_) => "EntityAlreadyExists",
            StoreError::DeleteConflict(_) => "DeleteConflict",
            StoreError::LimitExceeded(_) => "LimitExceeded",
            StoreError::Validation(_) => "ValidationError",
            StoreError::Other(code, _) => code,
            StoreError::Insecure { .. } | StoreError::Io { .. } | StoreError::ReadOnly(_) => {
                "StoreUnavailable"
            }
            StoreError::Database(_) | StoreError::SchemaTooNew { .. } => "ServiceFailure",
            StoreError::Credential(_) => "ServiceFailure",
        }
    }
}

/// Result alias for store operations.
pub type Result<T> = std::result::Result<T, StoreError>;

#[cfg(test)]
mod tests;
