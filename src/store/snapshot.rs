//! A whole store as plain rows, for `iam migrate-store`: every table of the schema (the
//! same tables and columns in every backend), every row, secret hashes, watermarks, ids
//! and the audit trail included. Rows are sorted here, not by a backend's collation, so
//! the canonical bytes of a store are the same whichever backend holds it.

use super::{Result, StoreError};
use sha2::{Digest, Sha256};

/// Every table, in an order that satisfies the foreign keys, with its columns. A table
/// added by a migration is added here too (export refuses a store holding a table this
/// list does not know, so nothing is ever left behind silently).
pub const TABLES: &[(&str, &[&str])] = &[
    ("account", &["id", "account_id"]),
    (
        "policies",
        &[
            "pk",
            "name",
            "policy_id",
            "arn",
            "path",
            "description",
            "created",
            "updated",
            "default_version",
            "next_version",
        ],
    ),
    (
        "policy_versions",
        &["policy_pk", "version", "document", "created"],
    ),
    (
        "users",
        &[
            "pk",
            "name",
            "user_id",
            "path",
            "created",
            "boundary_pk",
            "password_last_used",
        ],
    ),
    ("user_tags", &["user_pk", "key", "value"]),
    (
        "login_profiles",
        &["user_pk", "hash", "reset_required", "created", "changed"],
    ),
    ("password_history", &["id", "user_pk", "hash", "retired"]),
    ("password_policy", &["id", "json"]),
    (
        "lockout_settings",
        &["id", "max_failed_attempts", "lockout_duration"],
    ),
    (
        "login_failures",
        &["user_pk", "failed_attempts", "last_failure", "locked_until"],
    ),
    (
        "mfa_devices",
        &[
            "pk",
            "name",
            "serial",
            "path",
            "user_pk",
            "enabled",
            "watermark",
            "created",
            "seed_sealed",
        ],
    ),
    ("recovery_codes", &["id", "user_pk", "code_hash", "used"]),
    (
        "access_keys",
        &[
            "pk",
            "key_id",
            "user_pk",
            "secret_hash",
            "status",
            "created",
            "last_used",
            "last_used_service",
            "secret_sealed",
        ],
    ),
    (
        "root_access_keys",
        &[
            "pk",
            "key_id",
            "secret_hash",
            "secret_sealed",
            "status",
            "created",
            "last_used",
            "last_used_service",
        ],
    ),
    (
        "ssh_keys",
        &[
            "pk",
            "key_id",
            "user_pk",
            "body",
            "fingerprint",
            "status",
            "uploaded",
        ],
    ),
    ("groups", &["pk", "name", "group_id", "path", "created"]),
    ("group_members", &["group_pk", "user_pk"]),
    (
        "roles",
        &[
            "pk",
            "name",
            "role_id",
            "path",
            "trust",
            "description",
            "max_session",
            "boundary_pk",
            "created",
        ],
    ),
    ("role_tags", &["role_pk", "key", "value"]),
    ("user_attached", &["owner_pk", "policy_pk"]),
    ("group_attached", &["owner_pk", "policy_pk"]),
    ("role_attached", &["owner_pk", "policy_pk"]),
    ("user_inline", &["owner_pk", "name", "document"]),
    ("group_inline", &["owner_pk", "name", "document"]),
    ("role_inline", &["owner_pk", "name", "document"]),
    ("host_tags", &["host", "key", "value"]),
    (
        "audit_events",
        &[
            "id", "time", "user", "service", "rhost", "tty", "action", "decision", "reason",
        ],
    ),
    (
        "role_sessions",
        &[
            "session_id",
            "user_name",
            "role_name",
            "session_name",
            "token_hash",
            "issued",
            "expires",
            "scope",
            "revoked",
            "mfa_time",
            "role_id",
            "user_id",
            "secret_sealed",
            "host",
        ],
    ),
    ("role_session_policies", &["session_id", "document"]),
    ("role_session_context", &["session_id", "document"]),
    ("id_allocations", &["space", "name", "id"]),
    ("credential_report", &["id", "generated", "content"]),
    ("settings", &["key", "value"]),
    ("factor_throttle", &["user_pk", "next_free_ms"]),
    (
        "host_credentials",
        &[
            "pk",
            "host",
            "key_id",
            "secret_hash",
            "secret_sealed",
            "created",
            "last_used",
        ],
    ),
    (
        "mfa_spent_steps",
        &["serial", "step", "host", "user_name", "time", "offline"],
    ),
    ("host_journals", &["host", "journal", "seq", "updated"]),
    (
        "replay_incidents",
        &[
            "id",
            "time",
            "user_name",
            "serial",
            "step",
            "first_host",
            "first_time",
            "first_offline",
            "second_host",
            "second_time",
            "second_offline",
            "action",
        ],
    ),
];

/// Tables a store derives and never copies: the fleet store version (migration 8) starts
/// afresh in the target, whose agents resync fully; a replica's view of the enabled MFA
/// devices (migration 16) is empty on a server and comes with each replica; the change
/// log of the store versions and the store's identity (migration 17) belong to the
/// source store (the target has its own, so no host applies a delta of one to the other);
/// what an agent's replica is of (migration 18, SQLite only) belongs to that replica.
pub const DERIVED_TABLES: &[&str] = &[
    "store_version",
    "replica_mfa_devices",
    "store_changes",
    "store_identity",
    "replica_origin",
];

/// Whether `name` is a table of the schema (copied or derived).
pub fn known_table(name: &str) -> bool {
    TABLES.iter().any(|(t, _)| *t == name) || DERIVED_TABLES.contains(&name)
}

/// One stored value (the store's column types: integers, text, bytes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes (sealed secrets and seeds).
    Bytes(Vec<u8>),
}

/// One table's rows, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Table name.
    pub name: &'static str,
    /// Its columns, as in [`TABLES`].
    pub columns: &'static [&'static str],
    /// Every row, sorted (see [`Snapshot::new`]).
    pub rows: Vec<Vec<Value>>,
}

/// A whole store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Schema version it was taken at.
    pub schema_version: i64,
    /// Every table of [`TABLES`], in that order.
    pub tables: Vec<Table>,
}

impl Snapshot {
    /// A snapshot from each table's rows (in any order), sorted canonically.
    pub fn new(schema_version: i64, mut tables: Vec<Table>) -> Snapshot {
        for t in &mut tables {
            t.rows.sort();
        }
        Snapshot {
            schema_version,
            tables,
        }
    }

    /// The canonical bytes of the whole store: equal bytes, equal stores.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = format!("schema {}\n", self.schema_version).into_bytes();
        for t in &self.tables {
            out.extend_from_slice(&table_bytes(t));
        }
        out
    }

    /// (table, rows, SHA-256 of its canonical bytes), for `migrate-store`'s check.
    pub fn summary(&self) -> Vec<(&'static str, usize, String)> {
        self.tables
            .iter()
            .map(|t| {
                let digest = Sha256::digest(table_bytes(t));
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                (t.name, t.rows.len(), hex)
            })
            .collect()
    }

    /// Whether the store holds anything beyond its account row.
    pub fn is_empty_store(&self) -> bool {
        self.tables
            .iter()
            .all(|t| t.name == "account" || t.rows.is_empty())
    }
}

fn table_bytes(t: &Table) -> Vec<u8> {
    let mut out = format!("table {} {}\n", t.name, t.columns.join(",")).into_bytes();
    for r in &t.rows {
        for (i, v) in r.iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            match v {
                Value::Null => out.extend_from_slice(b"N"),
                Value::Int(n) => out.extend_from_slice(format!("I{n}").as_bytes()),
                Value::Text(s) => {
                    out.push(b'T');
                    out.extend_from_slice(escape(s.as_bytes()).as_slice());
                }
                Value::Bytes(b) => {
                    out.push(b'B');
                    for x in b {
                        out.extend_from_slice(format!("{x:02x}").as_bytes());
                    }
                }
            }
        }
        out.push(b'\n');
    }
    out
}

/// Tabs, newlines and backslashes escaped, so rows stay one line each.
fn escape(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    for &c in b {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The error for a table the snapshot list does not know.
pub fn unknown_table(name: &str) -> StoreError {
    StoreError::Database(format!(
        "the store holds a table `{name}` that migrate-store does not know; refusing to copy a store partly (this build is older than the store's schema?)"
    ))
}

/// Checks that a table's columns (as the backend lists them) are exactly the ones
/// [`TABLES`] names, so a column a migration added is never left behind silently.
///
/// # Errors
/// [`StoreError::Database`] naming the table and the difference.
pub fn check_columns(table: &str, known: &[&str], actual: &[String]) -> Result<()> {
    let mut a: Vec<&str> = actual.iter().map(String::as_str).collect();
    let mut k = known.to_vec();
    a.sort_unstable();
    k.sort_unstable();
    if a != k {
        return Err(StoreError::Database(format!(
            "table {table} has the columns {a:?}, migrate-store knows {k:?}; refusing to copy a store partly (this build does not match the store's schema)"
        )));
    }
    Ok(())
}

/// Checks that a copy holds exactly what was copied (counts and checksums per table).
///
/// # Errors
/// [`StoreError::Database`] naming the first table that differs.
pub fn verify(source: &Snapshot, copy: &Snapshot) -> Result<()> {
    if source.schema_version != copy.schema_version {
        return Err(StoreError::Database(format!(
            "schema versions differ: source {}, target {}",
            source.schema_version, copy.schema_version
        )));
    }
    for ((name, n, sum), (_, m, sum2)) in source.summary().into_iter().zip(copy.summary()) {
        if n != m || sum != sum2 {
            return Err(StoreError::Database(format!(
                "the copy of table {name} differs ({n} rows, sha256 {sum} in the source; {m} rows, sha256 {sum2} in the target); nothing was kept"
            )));
        }
    }
    Ok(())
}
