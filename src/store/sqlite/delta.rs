//! A delta applied to an agent's replica (migration 17): the tables it lists are made
//! exactly its rows, row by row by primary key (rows it lacks deleted, changed ones
//! updated in place, new ones inserted), in one transaction, and the store version set.
//! Row by row rather than a table emptied and refilled: deleting a parent row cascades
//! to its children (user tags, memberships, attachments), which a delta that did not
//! change them does not resend; an update in place keeps them. A row the server deleted
//! takes its children with it here as it did there (and those tables changed too, so
//! they are in the delta as well).

use super::fleet::{sql_values, stamp_replica, stored};
use super::*;
use crate::store::replica::{self, REPLICA_TABLES, ReplicaDelta, ReplicaTable};
use std::collections::HashMap;

/// The key of a row (its primary-key values) as text, for the maps.
fn key_of(row: &[serde_json::Value], key: &[usize]) -> String {
    let k: Vec<&serde_json::Value> = key.iter().map(|&i| &row[i]).collect();
    serde_json::to_string(&k).unwrap_or_default()
}

/// One received table checked against the replica's schema: its columns must be the
/// ones a full export sends (a partial column set would leave the others stale), its
/// key the table's primary key (all columns when it has none).
struct Plan<'a> {
    table: &'a ReplicaTable,
    key: Vec<usize>,
    existing: HashMap<String, Vec<serde_json::Value>>,
    received: HashMap<String, &'a Vec<serde_json::Value>>,
}

fn plan<'a>(tx: &Connection, t: &'a ReplicaTable) -> Result<Plan<'a>> {
    let name = replica::check_table(&t.name)?;
    let cols = replica::columns(name)?;
    if t.columns
        .iter()
        .map(String::as_str)
        .ne(cols.iter().copied())
    {
        return Err(StoreError::Database(format!(
            "the delta's table {name} has the columns {:?}, a replica {cols:?}",
            t.columns
        )));
    }
    let mut st = tx.prepare("SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk")?;
    let pk = st
        .query_map([name], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let key: Vec<usize> = if pk.is_empty() {
        (0..cols.len()).collect()
    } else {
        pk.iter()
            .map(|c| {
                cols.iter().position(|x| x == c).ok_or_else(|| {
                    StoreError::Database(format!("{name}: key column {c} is not replicated"))
                })
            })
            .collect::<Result<_>>()?
    };
    let mut received = HashMap::with_capacity(t.rows.len());
    for row in &t.rows {
        if row.len() != cols.len() {
            return Err(StoreError::Database(format!(
                "the delta's table {name} has a row of {} values for {} columns",
                row.len(),
                cols.len()
            )));
        }
        if received.insert(key_of(row, &key), row).is_some() {
            return Err(StoreError::Database(format!(
                "the delta's table {name} holds one key twice"
            )));
        }
    }
    let mut st = tx.prepare(&format!("SELECT {} FROM {name}", cols.join(", ")))?;
    let mut q = st.query([])?;
    let mut existing = HashMap::new();
    while let Some(r) = q.next()? {
        let mut row = Vec::with_capacity(cols.len());
        for i in 0..cols.len() {
            row.push(replica::to_json(
                stored(r.get::<_, Value>(i)?, name)?,
                name,
            )?);
        }
        existing.insert(key_of(&row, &key), row);
    }
    Ok(Plan {
        table: t,
        key,
        existing,
        received,
    })
}

impl SqliteStore {
    pub(super) fn fleet_apply_delta(&self, d: &ReplicaDelta) -> Result<()> {
        self.write(|tx| {
            let r = &d.replica;
            let schema: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
            replica::check_schema(schema, r.schema_version)?;
            let held: i64 =
                tx.query_row("SELECT version FROM store_version WHERE id = 1", [], |row| {
                    row.get(0)
                })?;
            if held != d.from_version {
                return Err(StoreError::Database(format!(
                    "the replica is at store version {held} and the delta applies to {}: a full snapshot is needed",
                    d.from_version
                )));
            }
            tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
            // Parents before children, whatever order the tables came in.
            let mut tables: Vec<&ReplicaTable> = r.tables.iter().collect();
            let rank = |t: &ReplicaTable| REPLICA_TABLES.iter().position(|(n, _)| *n == t.name);
            tables.sort_by_key(|t| rank(t));
            let mut plans = Vec::with_capacity(tables.len());
            for t in tables {
                if plans.iter().any(|p: &Plan<'_>| p.table.name == t.name) {
                    return Err(StoreError::Database(format!(
                        "the delta lists table {} twice",
                        t.name
                    )));
                }
                plans.push(plan(tx, t)?);
            }
            // Deletes first, children before parents (a cascade then finds nothing).
            for p in plans.iter().rev() {
                let cols = &p.table.columns;
                let cond = p
                    .key
                    .iter()
                    .enumerate()
                    .map(|(i, &c)| format!("{} IS ?{}", cols[c], i + 1))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let mut st = tx.prepare(&format!("DELETE FROM {} WHERE {cond}", p.table.name))?;
                for (k, row) in &p.existing {
                    if !p.received.contains_key(k) {
                        let vals = sql_values(p.key.iter().map(|&i| &row[i]))?;
                        st.execute(rusqlite::params_from_iter(vals))?;
                    }
                }
            }
            // Then updates in place and inserts, parents first.
            for p in &plans {
                let cols = &p.table.columns;
                let name = &p.table.name;
                let others: Vec<usize> = (0..cols.len()).filter(|i| !p.key.contains(i)).collect();
                let n = cols.len();
                let marks = (1..=n).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
                let mut insert =
                    tx.prepare(&format!("INSERT INTO {name} ({}) VALUES ({marks})", cols.join(", ")))?;
                let set = others
                    .iter()
                    .map(|&c| format!("{} = ?{}", cols[c], c + 1))
                    .collect::<Vec<_>>()
                    .join(", ");
                let cond = p
                    .key
                    .iter()
                    .map(|&c| format!("{} IS ?{}", cols[c], c + 1))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let mut update = (!others.is_empty())
                    .then(|| tx.prepare(&format!("UPDATE {name} SET {set} WHERE {cond}")))
                    .transpose()?;
                let mut new = Vec::new();
                for (k, row) in &p.received {
                    match p.existing.get(k) {
                        Some(old) if old == *row => {}
                        Some(_) => {
                            let vals = sql_values(row.iter())?;
                            if let Some(u) = update.as_mut() {
                                u.execute(rusqlite::params_from_iter(vals))?;
                            }
                        }
                        None => new.push(*row),
                    }
                }
                for row in new {
                    insert.execute(rusqlite::params_from_iter(sql_values(row.iter())?))?;
                }
            }
            stamp_replica(tx, &r.account_id, r.store_version)
        })
    }
}
