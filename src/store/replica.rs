//! Fleet mode's host view of the store: what a host may know, and nothing else. A
//! replica is a full snapshot of the tables listed in [`REPLICA_TABLES`] (users, groups,
//! policies, roles, tags, SSH public keys, Linux id allocations for userdb records) and
//! of this host's own tags and of the role sessions issued for this host (fleet mode's
//! `iam-sts`, with their session policies), at one store version. Tables holding password
//! hashes, TOTP seeds, recovery codes, access-key or host-credential secrets, lockout
//! state or the audit trail are never in the list, so no backend can export them; of a
//! role session only its token hash goes (the sealed secret column of API sessions is
//! never exported, [`OMITTED_COLUMNS`], and such sessions belong to no host anyway).

use serde::{Deserialize, Serialize};

/// Which rows of a table a host gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFilter {
    /// Every row (account-wide data).
    All,
    /// Only rows whose `host` column is the requesting host.
    ThisHost,
    /// Only rows of the requesting host's role sessions (by `session_id`).
    ThisHostsSessions,
}

/// Replica-only tables: empty on a server's store, filled in a host's replica from a
/// query over the server's own tables, so a host learns facts of a table it may not
/// hold (the MFA devices users have enabled, without their seeds). Name, columns, query.
pub const REPLICA_ONLY: &[(&str, &[&str], &str)] = &[(
    "replica_mfa_devices",
    &["serial", "user_pk", "enabled"],
    "SELECT serial, user_pk, enabled FROM mfa_devices WHERE user_pk IS NOT NULL AND enabled IS NOT NULL",
)];

/// What an export selects `table`'s rows from: the table itself, or the query of a
/// [`REPLICA_ONLY`] table (valid SQL on both backends).
pub fn source(table: &str) -> String {
    match REPLICA_ONLY.iter().find(|(t, _, _)| *t == table) {
        Some((t, _, query)) => format!("({query}) AS {t}"),
        None => format!("\"{table}\""),
    }
}

/// Columns of replicated tables a replica never carries: a secret, and what a login
/// writes (a user's password last use: no host decides on it, and carrying it would
/// make every login a new store version that every host pulls; migration 15 keeps its
/// writes from moving the version).
pub const OMITTED_COLUMNS: &[(&str, &str)] = &[
    ("role_sessions", "secret_sealed"),
    ("users", "password_last_used"),
];

/// The columns of replicated `table` a replica carries, in the schema's order (both
/// backends export exactly these).
///
/// # Errors
/// A table the snapshot schema does not know.
pub fn columns(table: &str) -> super::Result<Vec<&'static str>> {
    if let Some((_, cols, _)) = REPLICA_ONLY.iter().find(|(t, _, _)| *t == table) {
        return Ok(cols.to_vec());
    }
    let all = super::snapshot::TABLES
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, c)| *c)
        .ok_or_else(|| {
            super::StoreError::Database(format!("replicated table {table} is not in the schema"))
        })?;
    Ok(all
        .iter()
        .copied()
        .filter(|c| !OMITTED_COLUMNS.contains(&(table, *c)))
        .collect())
}

/// The `WHERE` clause of a filter, `param` being the host's placeholder (`?1`, `$1`).
pub fn where_clause(filter: RowFilter, param: &str) -> String {
    match filter {
        RowFilter::All => String::new(),
        RowFilter::ThisHost => format!(" WHERE host = {param}"),
        RowFilter::ThisHostsSessions => format!(
            " WHERE session_id IN (SELECT session_id FROM role_sessions WHERE host = {param})"
        ),
    }
}

/// The tables a replica carries, parents before children (the order rows are inserted).
pub const REPLICA_TABLES: &[(&str, RowFilter)] = &[
    ("policies", RowFilter::All),
    ("policy_versions", RowFilter::All),
    ("users", RowFilter::All),
    ("replica_mfa_devices", RowFilter::All),
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
    ("role_sessions", RowFilter::ThisHost),
    ("role_session_policies", RowFilter::ThisHostsSessions),
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

/// How many store versions the change log (`store_changes`, migration 17) keeps: a
/// host holding a version at least this far behind the store's is sent a full
/// snapshot. Each version that is a multiple of 100 prunes what fell out (see the
/// migration); the same rule on both backends.
pub const CHANGE_LOG_VERSIONS: i64 = 1000;

/// What a host holds, as it tells the server: the store's identity and the version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The `store_identity` of the store the replica came from.
    pub store_id: String,
    /// The store version the replica is at.
    pub version: i64,
}

/// What an agent's replica is of (migration 18, `replica_origin`): the store it was
/// pulled from (that store's `store_identity`), the host and host credential it was
/// pulled for, and the store and schema versions it was last written at. Recorded with
/// each full snapshot an agent writes (a delta moves the version), so a restarted agent
/// can ask for a delta from where it stopped ([`resume`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaOrigin {
    /// The server store's `store_identity`.
    pub store_id: String,
    /// The host the view is of.
    pub host: String,
    /// The host credential's key id the view was pulled with.
    pub key_id: String,
    /// The store version written last (by a snapshot or a delta).
    pub store_version: i64,
    /// The replica's schema version when the snapshot was written.
    pub schema_version: i64,
}

/// Why a kept replica cannot be resumed from: the agent then empties it (nothing is
/// decided on it) and pulls the whole view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresumable {
    /// No origin recorded: a new replica, one written before migration 18, or one whose
    /// server sent no store identity.
    NoOrigin,
    /// Pulled for another host (the host was renamed or its credentials replaced).
    OtherHost {
        /// The replica's host.
        held: String,
        /// This host's credential's.
        this: String,
    },
    /// Pulled with another host credential: it may be of another store.
    OtherCredential {
        /// The replica's key id.
        held: String,
        /// This host's.
        this: String,
    },
    /// Its store version moved since the agent wrote it (written by something else).
    Changed {
        /// The version the agent wrote.
        written: i64,
        /// The version it holds.
        holds: i64,
    },
    /// Migrated since it was written: a replica-only table it gained is not filled.
    Schema {
        /// The schema version it was written under.
        written: i64,
        /// Its schema version now.
        now: i64,
    },
}

impl std::fmt::Display for Unresumable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unresumable::NoOrigin => f.write_str(
                "the replica records no origin (new, or written before this version of the agent)",
            ),
            Unresumable::OtherHost { held, this } => write!(
                f,
                "the replica is of host {held}, and this host's credentials are for {this} (host renamed or credentials replaced)"
            ),
            Unresumable::OtherCredential { held, this } => write!(
                f,
                "the replica was pulled with host credential {held}, and this host's is {this} (credentials replaced: the replica may be of another store)"
            ),
            Unresumable::Changed { written, holds } => write!(
                f,
                "the agent wrote the replica at store version {written}, and it holds {holds} (changed by something else)"
            ),
            Unresumable::Schema { written, now } => write!(
                f,
                "the replica was written under schema version {written} and is at {now} now (migrated: what the migration added is not in it)"
            ),
        }
    }
}

/// Whether an agent whose credential is `key_id` for `host` may resume from its kept
/// replica, whose origin is `origin` and which holds store version `holds` under schema
/// version `schema`: then what to tell the server it holds (its next pull may be a
/// delta; the server answers the whole view when its store is another or its change
/// log no longer reaches that far). The replica was then exactly the host's view at
/// that version when last written, so the offline rules may decide on it, counting
/// from the last sync the agent kept (never the restart).
///
/// # Errors
/// Why not ([`Unresumable`]).
pub fn resume(
    origin: Option<&ReplicaOrigin>,
    host: &str,
    key_id: &str,
    holds: i64,
    schema: i64,
) -> Result<Held, Unresumable> {
    let o = origin.ok_or(Unresumable::NoOrigin)?;
    if o.host != host {
        return Err(Unresumable::OtherHost {
            held: o.host.clone(),
            this: host.to_string(),
        });
    }
    if o.key_id != key_id {
        return Err(Unresumable::OtherCredential {
            held: o.key_id.clone(),
            this: key_id.to_string(),
        });
    }
    if o.store_version != holds {
        return Err(Unresumable::Changed {
            written: o.store_version,
            holds,
        });
    }
    if o.schema_version != schema {
        return Err(Unresumable::Schema {
            written: o.schema_version,
            now: schema,
        });
    }
    Ok(Held {
        store_id: o.store_id.clone(),
        version: holds,
    })
}

/// The tables a host needs resent after the change log named `changed` (tables of the
/// server's schema), in [`REPLICA_TABLES`] order: a replicated table itself; the MFA
/// devices for the replica-only table derived from them; a role session change also
/// resends the session policies (written in the session's transaction, and filtered by
/// the sessions: [`RowFilter::ThisHostsSessions`]). Anything else (the account row: its
/// id rides every answer) resends nothing.
pub fn delta_tables<S: AsRef<str>>(changed: &[S]) -> Vec<&'static str> {
    let hit = |t: &str| changed.iter().any(|c| c.as_ref() == t);
    REPLICA_TABLES
        .iter()
        .map(|(t, _)| *t)
        .filter(|t| match *t {
            "replica_mfa_devices" => hit("mfa_devices"),
            "role_session_policies" => hit("role_sessions") || hit(t),
            t => hit(t),
        })
        .collect()
}

/// Whether a host holding `held` may be sent a delta from a store `store_id` at
/// `current`: the same store, not ahead of it, and within the change log. `Some(from)`
/// is the version the delta starts after.
pub fn delta_base(held: Option<&Held>, store_id: &str, current: i64) -> Option<i64> {
    let h = held?;
    (h.store_id == store_id && h.version <= current && h.version >= current - CHANGE_LOG_VERSIONS)
        .then_some(h.version)
}

/// A host's changed tables since one version: each table listed is sent whole (this
/// host's rows of it), every other table is as the host holds it. Applying it to a
/// replica at `from_version` gives exactly the full snapshot at `store_version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaDelta {
    /// The version the delta applies to (the host's).
    pub from_version: i64,
    /// The changed tables at the new version (`store_version` inside), in
    /// [`REPLICA_TABLES`] order; `host`, `account_id`, `schema_version` as a snapshot's.
    pub replica: Replica,
}

/// What a pull is answered with.
#[derive(Debug, Clone, PartialEq)]
pub enum Exported {
    /// The whole view.
    Full(Replica),
    /// The tables changed since the host's version.
    Delta(ReplicaDelta),
}

/// An export and the identity of the store it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Pulled {
    /// `store_identity` (migration 17).
    pub store_id: String,
    /// The answer.
    pub exported: Exported,
}

impl Pulled {
    /// The store version the answer brings the host to.
    pub fn store_version(&self) -> i64 {
        match &self.exported {
            Exported::Full(r) => r.store_version,
            Exported::Delta(d) => d.replica.store_version,
        }
    }
}

/// The filter of a replicated table, `None` for a table a replica never carries.
pub fn filter_of(table: &str) -> Option<RowFilter> {
    REPLICA_TABLES
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, f)| *f)
}

/// A stored value as a replica's JSON scalar (both backends export through this).
///
/// # Errors
/// Bytes: no replicated table holds any, so a blob is refused rather than guessed at.
pub fn to_json(v: super::snapshot::Value, table: &str) -> super::Result<serde_json::Value> {
    use super::snapshot::Value;
    Ok(match v {
        Value::Null => serde_json::Value::Null,
        Value::Int(i) => serde_json::Value::from(i),
        Value::Text(t) => serde_json::Value::String(t),
        Value::Bytes(_) => {
            return Err(super::StoreError::Database(format!(
                "replicated table {table} holds a blob; refusing to export it"
            )));
        }
    })
}

/// A replica's JSON scalar as a stored value (both backends import through this).
///
/// # Errors
/// A value no replicated column holds (an array, an object, a fraction).
pub fn from_json(v: &serde_json::Value) -> super::Result<super::snapshot::Value> {
    use super::snapshot::Value;
    Ok(match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Int(i64::from(*b)),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => {
                return Err(super::StoreError::Database(format!(
                    "a replica value is not an integer: {n}"
                )));
            }
        },
        serde_json::Value::String(s) => Value::Text(s.clone()),
        other => {
            return Err(super::StoreError::Database(format!(
                "a replica value is not a scalar: {other}"
            )));
        }
    })
}

/// A table or column name of a received replica that is a plain identifier (they are
/// spliced into SQL).
///
/// # Errors
/// Anything else.
pub fn ident(s: &str) -> super::Result<&str> {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
    {
        Ok(s)
    } else {
        Err(super::StoreError::Database(format!(
            "not a column or table name: {s:?}"
        )))
    }
}

/// A received table a replica may carry.
///
/// # Errors
/// A table a replica never carries.
pub fn check_table(name: &str) -> super::Result<&str> {
    if filter_of(name).is_none() {
        return Err(super::StoreError::Database(format!(
            "the server sent table {name:?}, which a replica never carries"
        )));
    }
    ident(name)
}

/// A replica's schema version must be the store's own.
///
/// # Errors
/// The two versions and what to do.
pub fn check_schema(store: i64, replica: i64) -> super::Result<()> {
    if store != replica {
        return Err(super::StoreError::Database(format!(
            "the server's store has schema version {replica} and this replica {store}: install the same pam-iam version on both"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_resumes_only_when_it_is_this_hosts_this_credentials_and_untouched() {
        let o = ReplicaOrigin {
            store_id: "s1".into(),
            host: "web-01".into(),
            key_id: "HKIA1".into(),
            store_version: 42,
            schema_version: 18,
        };
        let held = resume(Some(&o), "web-01", "HKIA1", 42, 18).unwrap();
        assert_eq!((held.store_id.as_str(), held.version), ("s1", 42));
        assert_eq!(
            resume(None, "web-01", "HKIA1", 42, 18),
            Err(Unresumable::NoOrigin)
        );
        assert!(matches!(
            resume(Some(&o), "web-09", "HKIA1", 42, 18),
            Err(Unresumable::OtherHost { .. })
        ));
        assert!(matches!(
            resume(Some(&o), "web-01", "HKIA2", 42, 18),
            Err(Unresumable::OtherCredential { .. })
        ));
        assert!(matches!(
            resume(Some(&o), "web-01", "HKIA1", 43, 18),
            Err(Unresumable::Changed { .. })
        ));
        assert!(matches!(
            resume(Some(&o), "web-01", "HKIA1", 42, 19),
            Err(Unresumable::Schema { .. })
        ));
    }
}
