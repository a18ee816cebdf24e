//! Fleet mode in SQLite: host credentials, the store version, and a host's replica
//! exported from (and imported into) the tables [`crate::store::replica`] lists.

use super::*;
use crate::store::replica::{
    self, Exported, Held, Pulled, REPLICA_TABLES, Replica, ReplicaDelta, ReplicaTable, RowFilter,
};
use crate::store::snapshot;

fn host_credential_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HostCredential> {
    Ok(HostCredential {
        host: r.get(0)?,
        key_id: r.get(1)?,
        created: r.get(2)?,
        last_used: r.get(3)?,
    })
}

/// A SQLite value as the value both backends export (no replicated column is real).
/// A replica row's JSON values as SQLite values.
pub(super) fn sql_values<'v>(
    vals: impl Iterator<Item = &'v serde_json::Value>,
) -> Result<Vec<rusqlite::types::Value>> {
    vals.map(|v| Ok(super::snapshot::sql_value(&replica::from_json(v)?)))
        .collect()
}

/// A replica written (whole or by a delta) is at the server's account and version; the
/// rows' own version triggers logged their tables, and a replica keeps no log.
pub(super) fn stamp_replica(tx: &Connection, account_id: &str, version: i64) -> Result<()> {
    tx.execute(
        "UPDATE account SET account_id = ?1 WHERE id = 1",
        [account_id],
    )?;
    tx.execute(
        "UPDATE store_version SET version = ?1 WHERE id = 1",
        [version],
    )?;
    tx.execute("DELETE FROM store_changes", [])?;
    Ok(())
}

pub(super) fn stored(v: Value, table: &str) -> Result<snapshot::Value> {
    Ok(match v {
        Value::Null => snapshot::Value::Null,
        Value::Integer(i) => snapshot::Value::Int(i),
        Value::Text(t) => snapshot::Value::Text(t),
        Value::Blob(b) => snapshot::Value::Bytes(b),
        Value::Real(_) => {
            return Err(StoreError::Database(format!(
                "replicated table {table} holds a floating-point value; refusing to export it"
            )));
        }
    })
}

impl SqliteStore {
    pub(super) fn fleet_create_credential(
        &self,
        host: &str,
        key_id: &str,
        secret_hash: &str,
        sealed: &[u8],
        now: i64,
    ) -> Result<HostCredential> {
        self.write(|tx| {
            let exists: Option<String> = tx
                .query_row("SELECT key_id FROM host_credentials WHERE host = ?1", [host], |r| r.get(0))
                .optional()?;
            if let Some(k) = exists {
                return Err(StoreError::EntityAlreadyExists(format!(
                    "Host {host} already has credentials ({k}); delete them first with iam delete-host-credentials --host-name {host}"
                )));
            }
            tx.execute(
                "INSERT INTO host_credentials (host, key_id, secret_hash, secret_sealed, created) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![host, key_id, secret_hash, sealed, now],
            )?;
            Ok(HostCredential {
                host: host.to_string(),
                key_id: key_id.to_string(),
                created: now,
                last_used: None,
            })
        })
    }

    pub(super) fn fleet_list_credentials(&self) -> Result<Vec<HostCredential>> {
        self.read(|tx| {
            let mut st = tx.prepare(
                "SELECT host, key_id, created, last_used FROM host_credentials ORDER BY host",
            )?;
            let rows = st.query_map([], host_credential_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    pub(super) fn fleet_delete_credential(&self, host: &str) -> Result<()> {
        self.write(|tx| {
            let n = tx.execute("DELETE FROM host_credentials WHERE host = ?1", [host])?;
            found(n, || {
                StoreError::NoSuchEntity(format!("Host {host} has no credentials."))
            })
        })
    }

    pub(super) fn fleet_credential(&self, key_id: &str) -> Result<(HostCredential, Vec<u8>)> {
        self.read(|tx| {
            tx.query_row(
                "SELECT host, key_id, created, last_used, secret_sealed FROM host_credentials WHERE key_id = ?1",
                [key_id],
                |r| Ok((host_credential_row(r)?, r.get::<_, Vec<u8>>(4)?)),
            )
            .optional()?
            .ok_or_else(|| {
                StoreError::NoSuchEntity(format!("The host credential {key_id} does not exist."))
            })
        })
    }

    pub(super) fn fleet_record_use(&self, key_id: &str, now: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE host_credentials SET last_used = ?2 WHERE key_id = ?1",
                params![key_id, now],
            )?;
            Ok(())
        })
    }

    pub(super) fn fleet_store_version(&self) -> Result<i64> {
        self.read(store_version_in)
    }

    pub(super) fn fleet_export(&self, host: &str) -> Result<Replica> {
        self.read(|tx| {
            let names: Vec<&str> = REPLICA_TABLES.iter().map(|(t, _)| *t).collect();
            self.export_tables(tx, host, &names)
        })
    }

    /// The view of `host` holding the tables `names` (in [`REPLICA_TABLES`] order), at
    /// the version read in the caller's transaction.
    fn export_tables(&self, tx: &Connection, host: &str, names: &[&str]) -> Result<Replica> {
        let store_version: i64 =
            tx.query_row("SELECT version FROM store_version WHERE id = 1", [], |r| {
                r.get(0)
            })?;
        let schema_version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let mut tables = Vec::with_capacity(names.len());
        for (name, filter) in REPLICA_TABLES.iter().filter(|(t, _)| names.contains(t)) {
            let cols = replica::columns(name)?;
            let sql = format!(
                "SELECT {} FROM {}{}",
                cols.join(", "),
                replica::source(name),
                replica::where_clause(*filter, "?1")
            );
            let mut st = tx.prepare(&sql)?;
            let columns: Vec<String> = cols.iter().map(|c| (*c).to_string()).collect();
            let n = columns.len();
            let mut q = match filter {
                RowFilter::All => st.query([])?,
                RowFilter::ThisHost | RowFilter::ThisHostsSessions => st.query([host])?,
            };
            let mut rows = Vec::new();
            while let Some(r) = q.next()? {
                let mut row = Vec::with_capacity(n);
                for i in 0..n {
                    row.push(replica::to_json(
                        stored(r.get::<_, Value>(i)?, name)?,
                        name,
                    )?);
                }
                rows.push(row);
            }
            tables.push(ReplicaTable {
                name: (*name).to_string(),
                columns,
                rows,
            });
        }
        Ok(Replica {
            account_id: self.account_id.clone(),
            schema_version,
            store_version,
            host: host.to_string(),
            tables,
        })
    }

    pub(super) fn fleet_export_since(&self, host: &str, held: Option<&Held>) -> Result<Pulled> {
        self.read(|tx| {
            let store_id: String = tx.query_row(
                "SELECT store_id FROM store_identity WHERE id = 1",
                [],
                |r| r.get(0),
            )?;
            let current: i64 =
                tx.query_row("SELECT version FROM store_version WHERE id = 1", [], |r| {
                    r.get(0)
                })?;
            let exported = match replica::delta_base(held, &store_id, current) {
                Some(from) => {
                    let mut st =
                        tx.prepare("SELECT DISTINCT tbl FROM store_changes WHERE version > ?1")?;
                    let changed = st
                        .query_map([from], |r| r.get::<_, String>(0))?
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    let names = replica::delta_tables(&changed);
                    Exported::Delta(ReplicaDelta {
                        from_version: from,
                        replica: self.export_tables(tx, host, &names)?,
                    })
                }
                None => {
                    let names: Vec<&str> = REPLICA_TABLES.iter().map(|(t, _)| *t).collect();
                    Exported::Full(self.export_tables(tx, host, &names)?)
                }
            };
            Ok(Pulled { store_id, exported })
        })
    }

    pub(super) fn fleet_import(&self, r: &Replica) -> Result<()> {
        self.write(|tx| {
            let schema: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
            replica::check_schema(schema, r.schema_version)?;
            tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
            for (name, _) in REPLICA_TABLES.iter().rev() {
                tx.execute(&format!("DELETE FROM {name}"), [])?;
            }
            for t in &r.tables {
                let cols = t
                    .columns
                    .iter()
                    .map(|c| replica::ident(c))
                    .collect::<Result<Vec<_>>>()?;
                let marks = (1..=cols.len())
                    .map(|i| format!("?{i}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut st = tx.prepare(&format!(
                    "INSERT INTO {} ({}) VALUES ({marks})",
                    replica::check_table(&t.name)?,
                    cols.join(", ")
                ))?;
                for row in &t.rows {
                    st.execute(rusqlite::params_from_iter(sql_values(row.iter())?))?;
                }
            }
            stamp_replica(tx, &r.account_id, r.store_version)?;
            // It holds another store's view now: a host holding one of its own versions
            // must not be sent a delta of it.
            tx.execute(
                "UPDATE store_identity SET store_id = lower(hex(randomblob(16)))",
                [],
            )?;
            Ok(())
        })
    }
}

/// The store version, read in `tx`.
pub(super) fn store_version_in(tx: &Connection) -> Result<i64> {
    let mut st = tx.prepare_cached("SELECT version FROM store_version WHERE id = 1")?;
    Ok(st.query_row([], |r| r.get(0))?)
}
