//! Linux accounts for IAM users through systemd's userdb drop-in directory, and the
//! public SSH key export read by `iam-authorized-keys`.
//!
//! Why userdb: Debian 12's default `nsswitch.conf` already has `passwd: files systemd`,
//! and nss-systemd resolves JSON records dropped into `/etc/userdb/` with no daemon and
//! no custom NSS code. `iam` keeps that directory in step with the store:
//!
//! - [`record`]: pure rendering of user, group and membership records (public fields
//!   only; nothing secret ever reaches a world-readable file).
//! - [`plan`]: pure comparison of the desired records with what the directory holds
//!   (drift: missing, extra, different, conflict). Only records carrying our marker are
//!   ever changed or removed.
//! - [`fsops`]: the few file operations (atomic write, atomic symlink, remove, scan).
//! - [`ids`]: UID/GID range and the monotonic, never-reusing allocation rule.
//! - [`keys`]: the root-owned public export of Active SSH keys (one file per user)
//!   and its hardened reader for sshd's `AuthorizedKeysCommand`.
//! - [`sync`]: the one entry point the CLI calls after every change.
//!
//! The store is reached only through [`source::Source`], so a store failure can never be
//! mistaken for "no users": [`sync::sync`] leaves the directory untouched when the
//! source cannot be read.

pub mod error;
pub mod fsops;
pub mod ids;
pub mod keys;
pub mod login;
pub mod plan;
pub mod record;
pub mod source;
pub mod store_source;
pub mod sync;

pub use error::UserdbError;
pub use ids::IdRange;
pub use plan::{Drift, DriftKind};
pub use record::{Account, GroupEntry, Snapshot};
pub use source::Source;
pub use store_source::{apply, ensure_ids};
pub use sync::{Config, Mode, Report, sync};

/// Default userdb drop-in directory read by nss-systemd.
pub const DEFAULT_DIR: &str = "/etc/userdb";

/// Environment variable overriding the userdb directory for `iam`.
pub const DIR_ENV: &str = "PAM_IAM_USERDB_DIR";

/// Marker written into every record we manage (the `service` field of the systemd
/// user/group record spec, "the service that defines or manages this record").
pub const SERVICE: &str = "pam-iam";

/// The local system group (made by the package, in `/etc/group`) that every IAM user
/// with a record joins through a membership file, so sshd can tell IAM users apart:
/// `Match Group iam-users` + `AuthorizedKeysFile none` keeps their keys to the ones in
/// IAM (a key planted in `~/.ssh/authorized_keys` would outlive a deactivation).
pub const ALL_USERS_GROUP: &str = "iam-users";
