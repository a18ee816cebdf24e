//! A host's replica out of (and into) PostgreSQL, through the value mapping both
//! backends share (`pam_iam::store::replica`). The export is one REPEATABLE READ
//! snapshot that reads the store version with the tables: since versions are taken at
//! COMMIT under a lock (migration 9), every change committed after the snapshot has a
//! higher version than the one it reports, so a host that holds version V and waits for
//! another never misses a change.

use crate::db::{Db, g};
use crate::hosts::STORE_VERSION;
use crate::snapshot::{Param, advance_identities, quoted, value};
use pam_iam::store::Result;
use pam_iam::store::replica::{
    self, Exported, Held, Pulled, REPLICA_TABLES, Replica, ReplicaDelta, ReplicaTable, RowFilter,
};
use postgres::types::ToSql;

/// The advisory lock the version stamp holds until COMMIT ("pam-vers" in ASCII; the
/// same number as in migration 9).
const VERSION_LOCK: i64 = 0x7061_6d2d_7665_7273;

/// `host`'s view, read in the caller's snapshot.
pub(crate) fn export(db: &mut Db<'_>, account_id: &str, host: &str) -> Result<Replica> {
    let names: Vec<&str> = REPLICA_TABLES.iter().map(|(t, _)| *t).collect();
    export_tables(db, account_id, host, &names)
}

/// `host`'s view for a host holding `held`, read in the caller's snapshot: the change
/// rows of every version the snapshot holds are in it (they commit with their version,
/// migration 17), so the tables changed since `held` are exactly those it names.
pub(crate) fn export_since(
    db: &mut Db<'_>,
    account_id: &str,
    host: &str,
    held: Option<&Held>,
) -> Result<Pulled> {
    let r = db.one("SELECT store_id FROM store_identity WHERE id = 1", &[])?;
    let store_id: String = g(&r, 0)?;
    let r = db.one(STORE_VERSION, &[])?;
    let current: i64 = g(&r, 0)?;
    let exported = match replica::delta_base(held, &store_id, current) {
        Some(from) => {
            let changed = db
                .rows(
                    "SELECT DISTINCT tbl::text FROM store_changes WHERE version > $1",
                    &[&from],
                )?
                .iter()
                .map(|r| g::<String>(r, 0))
                .collect::<Result<Vec<_>>>()?;
            let names = replica::delta_tables(&changed);
            Exported::Delta(ReplicaDelta {
                from_version: from,
                replica: export_tables(db, account_id, host, &names)?,
            })
        }
        None => Exported::Full(export(db, account_id, host)?),
    };
    Ok(Pulled { store_id, exported })
}

/// The tables `names` of `host`'s view (in [`REPLICA_TABLES`] order).
fn export_tables(db: &mut Db<'_>, account_id: &str, host: &str, names: &[&str]) -> Result<Replica> {
    let r = db.one(STORE_VERSION, &[])?;
    let store_version: i64 = g(&r, 0)?;
    let schema_version = crate::migrate::version(db)?;
    let mut tables = Vec::with_capacity(names.len());
    for (name, filter) in REPLICA_TABLES.iter().filter(|(t, _)| names.contains(t)) {
        let cols = replica::columns(name)?;
        let order = (1..=cols.len())
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let select = format!(
            "SELECT {} FROM {}{}",
            quoted(&cols),
            replica::source(name),
            replica::where_clause(*filter, "$1")
        );
        let rows = match filter {
            RowFilter::All => db.rows(&format!("{select} ORDER BY {order}"), &[])?,
            RowFilter::ThisHost | RowFilter::ThisHostsSessions => {
                db.rows(&format!("{select} ORDER BY {order}"), &[&host])?
            }
        };
        let rows = rows
            .iter()
            .map(|r| {
                (0..cols.len())
                    .map(|i| replica::to_json(value(r, i)?, name))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        tables.push(ReplicaTable {
            name: (*name).to_string(),
            columns: cols.iter().map(|c| (*c).to_string()).collect(),
            rows,
        });
    }
    Ok(Replica {
        account_id: account_id.to_string(),
        schema_version,
        store_version,
        host: host.to_string(),
        tables,
    })
}

/// Replace the replicated tables with `r` and set the store version to `r`'s, in the
/// caller's transaction.
pub(crate) fn import(db: &mut Db<'_>, r: &Replica) -> Result<()> {
    replica::check_schema(crate::migrate::version(db)?, r.schema_version)?;
    // This transaction sets the version itself: the commit-time stamp stays out.
    db.exec(
        "SELECT set_config('pam_iam.version_stamped', 'on', true)",
        &[],
    )?;
    for (name, _) in REPLICA_TABLES.iter().rev() {
        db.exec(&format!("DELETE FROM \"{name}\""), &[])?;
    }
    for t in &r.tables {
        let name = replica::check_table(&t.name)?;
        let cols = t
            .columns
            .iter()
            .map(|c| replica::ident(c))
            .collect::<Result<Vec<_>>>()?;
        let marks = (1..=cols.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO \"{name}\" ({}) VALUES ({marks})",
            quoted(&cols)
        );
        for row in &t.rows {
            let vals = row
                .iter()
                .map(replica::from_json)
                .collect::<Result<Vec<_>>>()?;
            let params: Vec<Param<'_>> = vals.iter().map(Param).collect();
            let refs: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            db.exec(&sql, &refs)?;
        }
    }
    advance_identities(db)?;
    db.exec(
        "UPDATE account SET account_id = $1 WHERE id = 1",
        &[&r.account_id],
    )?;
    db.exec("SELECT pg_advisory_xact_lock($1)", &[&VERSION_LOCK])?;
    // The store now holds another store's view: its change log no longer describes its
    // versions, and a host holding one of its versions must not be sent a delta.
    db.exec("DELETE FROM store_changes", &[])?;
    db.exec(
        "UPDATE store_identity SET store_id = replace(gen_random_uuid()::text, '-', '')",
        &[],
    )?;
    db.exec("DELETE FROM store_version", &[])?;
    db.exec(
        "INSERT INTO store_version (version) VALUES ($1)",
        &[&r.store_version],
    )?;
    db.exec(
        "SELECT setval('store_version_seq', greatest($1, (SELECT last_value FROM store_version_seq)))",
        &[&r.store_version],
    )?;
    Ok(())
}
