//! The identity store: every user, credential, group, policy, role, session and audit
//! event. All SQL lives under this module; callers see the [`Store`] trait and plain
//! domain types, so a PostgreSQL backend can be added later beside [`sqlite`].

#[cfg(any(test, feature = "contract"))]
#[doc(hidden)]
pub mod contract;
mod ops;
pub mod replica;
pub mod rules;
pub mod service_user;
pub mod snapshot;
pub mod sqlite;
mod stop_guard;
#[cfg(test)]
pub(crate) mod temp;
mod traits;
mod types;

pub use crate::credentials::{LockState, LockoutSettings, PasswordPolicy};
pub use ops::*;
pub use traits::*;
pub use types::*;

/// The store traits, for `use crate::store::prelude::*;`: a [`Store`]'s methods live on
/// its per-aggregate sub-traits, which must be in scope to call them.
pub mod prelude {
    pub use super::traits::{
        AccessKeyStore, AccountStore, AuditStore, GroupStore, HostStore, LinuxIdStore,
        LockoutStore, LoginProfileStore, MfaStore, PolicyStore, ReconnectStore, RoleStore,
        SessionStore, SnapshotStore, SshKeyStore, Store, TagStore, UserStore,
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

/// Environment variable naming the key file that seals access-key and host-credential
/// secrets, for `iam` and `iamd` alike (default: [`Location::default_secrets_key`]).
pub const ENV_SECRETS_KEY: &str = "PAM_IAM_SECRETS_KEY";

/// How a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create if missing, migrate, write.
    ReadWrite,
    /// Never create, migrate or write: for readers such as a non-root `iam get-user`.
    ReadOnly,
}

/// Where a store lives, as `--db`, `PAM_IAM_DB` or the module's `db=` name it:
/// `sqlite:PATH` or a plain path for SQLite, `postgres://…` for PostgreSQL (issue 12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL: [`open`] reaches it through the backend a binary registered
    /// ([`register_server_backend`]).
    Postgres(String),
}

impl Location {
    /// Reads a location: `postgres://` / `postgresql://` URLs, `sqlite:PATH`, else a path.
    pub fn parse(s: &str) -> Location {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Location::Postgres(s.to_string())
        } else if let Some(path) = s.strip_prefix("sqlite:") {
            Location::Sqlite(PathBuf::from(path))
        } else {
            Location::Sqlite(PathBuf::from(s))
        }
    }

    /// The SQLite file, if this is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Location::Sqlite(p) => Some(p),
            Location::Postgres(_) => None,
        }
    }

    /// Where the key sealing PAM's auth facts lives unless the options say otherwise:
    /// beside a SQLite file (as it always has), [`DEFAULT_AUTH_KEY`] for a server store.
    pub fn default_auth_key(&self) -> PathBuf {
        self.key_file(AUTH_KEY_FILE, DEFAULT_AUTH_KEY)
    }

    /// Where the key sealing access-key secrets and MFA seeds lives unless `iamd` is told otherwise:
    /// beside a SQLite file, [`DEFAULT_SECRETS_KEY`] for a server store. It is a file
    /// of its own, never in the store, so a dump of the store alone holds no secret.
    pub fn default_secrets_key(&self) -> PathBuf {
        self.key_file(SECRETS_KEY_FILE, DEFAULT_SECRETS_KEY)
    }

    /// `file` beside a SQLite store, `server_default` for a server store.
    fn key_file(&self, file: &str, server_default: &str) -> PathBuf {
        match self {
            Location::Sqlite(p) => match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.join(file),
                _ => PathBuf::from(file),
            },
            Location::Postgres(_) => PathBuf::from(server_default),
        }
    }
}

/// File name of the access-key sealing key beside a SQLite store.
pub const SECRETS_KEY_FILE: &str = "pam_iam_secrets.key";

/// The access-key sealing key of a store that is not a local file.
pub const DEFAULT_SECRETS_KEY: &str = "/var/lib/pam-iam/pam_iam_secrets.key";

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "{}", p.display()),
            Location::Postgres(url) => f.write_str(url),
        }
    }
}

impl From<&str> for Location {
    fn from(s: &str) -> Self {
        Location::parse(s)
    }
}

impl From<String> for Location {
    fn from(s: String) -> Self {
        Location::parse(&s)
    }
}

impl From<&Path> for Location {
    fn from(p: &Path) -> Self {
        match p.to_str() {
            Some(s) => Location::parse(s),
            None => Location::Sqlite(p.to_path_buf()),
        }
    }
}

impl From<PathBuf> for Location {
    fn from(p: PathBuf) -> Self {
        Location::from(p.as_path())
    }
}

impl From<&PathBuf> for Location {
    fn from(p: &PathBuf) -> Self {
        Location::from(p.as_path())
    }
}

/// File name of the auth-facts key beside a SQLite store.
pub const AUTH_KEY_FILE: &str = "pam_iam_auth.key";

/// The auth-facts key of a store that is not a local file.
pub const DEFAULT_AUTH_KEY: &str = "/var/lib/pam-iam/pam_iam_auth.key";

/// Everything [`open`] needs to know.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Where the store lives.
    pub location: Location,
    /// Read-write or read-only.
    pub mode: OpenMode,
    /// Skip the owner/mode checks (symlinks are still refused). Only for tests and
    /// development; PAM and setuid helpers must never set it from the environment.
    pub insecure_ok: bool,
    /// How long to wait for another process's write lock; `None`: an administrator's
    /// default (10 s). Logins wait [`LOGIN_BUSY_TIMEOUT`].
    pub busy_timeout: Option<std::time::Duration>,
    /// The root-only file holding the key that seals PAM's auth facts between PAM
    /// phases (not store data: a file of this host). Default:
    /// [`Location::default_auth_key`].
    pub auth_key: PathBuf,
    /// The key file sealing secrets at rest (access-key secrets, MFA seeds): seeds are
    /// sealed under it on the way in and opened with it on the way out, never read in
    /// plain text. Default: [`Location::default_secrets_key`].
    pub secrets_key: PathBuf,
}

impl OpenOptions {
    /// Strict options for `location` (a path, `sqlite:PATH` or a URL).
    pub fn new(location: impl Into<Location>, mode: OpenMode) -> Self {
        let location = location.into();
        OpenOptions {
            auth_key: location.default_auth_key(),
            secrets_key: location.default_secrets_key(),
            location,
            mode,
            insecure_ok: false,
            busy_timeout: None,
        }
    }

    /// Read-write with strict checks, waiting at most [`LOGIN_BUSY_TIMEOUT`] for a lock:
    /// how PAM and iam-sts open the store.
    pub fn for_login(location: impl Into<Location>) -> Self {
        OpenOptions {
            busy_timeout: Some(LOGIN_BUSY_TIMEOUT),
            ..OpenOptions::new(location, OpenMode::ReadWrite)
        }
    }
}

/// Open the store at `opts.location`: for SQLite safely (owner, mode, no symlinks),
/// created (directory 0700, file 0600) when missing in read-write mode, and migrated.
///
/// # Errors
/// [`StoreError::Insecure`] naming the file and its mode, [`StoreError::Io`],
/// [`StoreError::Database`], [`StoreError::SchemaTooNew`], [`StoreError::Unsupported`]
/// for a backend this build does not have.
pub fn open(opts: &OpenOptions) -> Result<Box<dyn Store>> {
    match &opts.location {
        Location::Sqlite(_) => Ok(Box::new(sqlite::SqliteStore::open(opts)?)),
        Location::Postgres(url) => match SERVER_BACKEND.get() {
            Some(open) => open(opts),
            None => Err(StoreError::Unsupported(format!(
                "{}: this program reads only SQLite stores (PostgreSQL is for the iam CLI and the IAM server; pam_iam.so and iam-sts use a local store)",
                redact_url(url)
            ))),
        },
    }
}

/// Opens a store at a server location (`postgres://…`).
pub type ServerOpener = fn(&OpenOptions) -> Result<Box<dyn Store>>;

static SERVER_BACKEND: std::sync::OnceLock<ServerOpener> = std::sync::OnceLock::new();

/// Lets [`open`] reach PostgreSQL stores: a binary that links the backend crate (`iam`,
/// the IAM server) registers its opener once at start. The library itself links no
/// database client, so `pam_iam.so` and `iam-sts` never can.
pub fn register_server_backend(open: ServerOpener) {
    let _ = SERVER_BACKEND.set(open);
}

/// A URL without its password (`postgres://u:secret@h/db` -> `postgres://u:***@h/db`).
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.split_once('@') {
        Some(x) => x,
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// How long a login (PAM, sudo, iam-sts) waits for another process's write lock before
/// it fails closed. Every write is one short transaction (milliseconds), so only a stuck
/// or stopped writer makes a login wait this long; see docs/store.md, "Locks".
pub const LOGIN_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// [`open`] with [`OpenOptions::for_login`].
///
/// # Errors
/// As [`open`].
pub fn open_for_login(location: impl Into<Location>) -> Result<Box<dyn Store>> {
    open(&OpenOptions::for_login(location))
}

/// Shorthand for [`open`] with strict checks.
///
/// # Errors
/// As [`open`].
pub fn open_path(path: &Path, mode: OpenMode) -> Result<Box<dyn Store>> {
    open(&OpenOptions::new(path, mode))
}

/// [`Store::atomically`] returning what `f` computes: `f`'s steps commit together or
/// not at all. A server backend runs `f` again when the transaction lost a
/// serialization race, so `f` acts only through the store it is given.
///
/// # Errors
/// `f`'s error (everything rolled back) or the store's.
pub fn atomically<T>(store: &dyn Store, mut f: impl FnMut(&dyn Store) -> Result<T>) -> Result<T> {
    let mut out = None;
    store.atomically(&mut |s| {
        out = Some(f(s)?);
        Ok(())
    })?;
    out.ok_or_else(|| StoreError::Database("the transaction body did not run".into()))
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
    /// The location names a backend this build does not have.
    #[error("{0}")]
    Unsupported(String),
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
            StoreError::Insecure { .. }
            | StoreError::Io { .. }
            | StoreError::ReadOnly(_)
            | StoreError::Unsupported(_) => "StoreUnavailable",
            StoreError::Database(_) | StoreError::SchemaTooNew { .. } => "ServiceFailure",
            StoreError::Credential(_) => "ServiceFailure",
        }
    }
}

/// Result alias for store operations.
pub type Result<T> = std::result::Result<T, StoreError>;

#[cfg(test)]
mod tests;
