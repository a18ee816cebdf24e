//! Fleet mode's host view of the store: what a host may know, and nothing else. A
//! replica is a full snapshot of the tables listed in [`REPLICA_TABLES`] (users, groups,
//! policies, roles, tags, SSH public keys, Linux id allocations for userdb records) and
//! of this host's own tags, at one store version. Tables holding password hashes, TOTP
//! seeds, recovery codes, access-key or host-credential secrets, role-session tokens,
//! lockout state or the audit trail are never in the list, so no backend can export them.

use serde::{Deserialize, Serialize};

/// Which rows of a table a host gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFilter {
    /// Every row (account-wide data).
    All,
    /// Only rows whose `host` column is the requesting host.
    ThisHost,
}

/// The tables a replica carries, parents before children (the order rows are inserted).
pub const REPLICA_TABLES: &[(&str, RowFilter)] = &[
    ("policies", RowFilter::All),
    ("policy_versions", RowFilter::All),
    ("users", RowFilter::All),
    ("user_tags", RowFilter::All),
    ("groups", RowFilter::All),
    ("group_members", RowFilter::All),
    ("roles", RowFilter::All),
    ("role_tags", RowFilter::All),
    ("user_attached", RowFilter::All),
    ("group_attached", RowFilter::All),
    ("role_attached", RowFilter::All),
    ("user_inline", RowFilter::All),
    ("group_inline", RowFilter::All),
    ("role_inline", RowFilter::All),
    ("ssh_keys", RowFilter::All),
    ("id_allocations", RowFilter::All),
    ("host_tags", RowFilter::ThisHost),
];

/// One table of a snapshot: its columns and rows (integers, text, reals or null).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaTable {
    /// Table name (one of [`REPLICA_TABLES`]).
    pub name: String,
    /// Column names, in the order of each row's values.
    pub columns: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<serde_json::Value>>,
}

/// A host's full view of the store at one version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replica {
    /// The account the store belongs to.
    pub account_id: String,
    /// The schema version both sides must share (the agent refuses another).
    pub schema_version: i64,
    /// The store version the snapshot was taken at.
    pub store_version: i64,
    /// The host the view is for.
    pub host: String,
    /// The tables.
    pub tables: Vec<ReplicaTable>,
}

/// The filter of a replicated table, `None` for a table a replica never carries.
pub fn filter_of(table: &str) -> Option<RowFilter> {
    REPLICA_TABLES
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, f)| *f)
}
