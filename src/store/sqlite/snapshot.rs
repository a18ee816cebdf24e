//! The whole SQLite store as rows, and back (`iam migrate-store`).

use super::*;
use crate::store::snapshot::{self, Snapshot, TABLES, Table};
use rusqlite::types::ValueRef;

fn quoted(cols: &[&str]) -> String {
    cols.iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A stored value as a SQLite parameter.
pub(super) fn sql_value(v: &snapshot::Value) -> Value {
    match v {
        snapshot::Value::Null => Value::Null,
        snapshot::Value::Int(n) => Value::Integer(*n),
        snapshot::Value::Text(t) => Value::Text(t.clone()),
        snapshot::Value::Bytes(b) => Value::Blob(b.clone()),
    }
}

impl SnapshotStore for SqliteStore {
    fn export_snapshot(&self) -> Result<Snapshot> {
        self.read(|tx| {
            let mut st = tx.prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
            )?;
            for name in st.query_map([], |r| r.get::<_, String>(0))? {
                let name = name?;
                if !snapshot::known_table(&name) {
                    return Err(snapshot::unknown_table(&name));
                }
            }
            let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            let mut tables = Vec::with_capacity(TABLES.len());
            for (name, cols) in TABLES {
                let mut st = tx.prepare("SELECT name FROM pragma_table_info(?1)")?;
                let actual = st
                    .query_map([name], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                snapshot::check_columns(name, cols, &actual)?;
                let mut st = tx.prepare(&format!("SELECT {} FROM \"{name}\"", quoted(cols)))?;
                let mut rows = Vec::new();
                let mut q = st.query([])?;
                while let Some(r) = q.next()? {
                    let mut row = Vec::with_capacity(cols.len());
                    for i in 0..cols.len() {
                        row.push(match r.get_ref(i)? {
                            ValueRef::Null => snapshot::Value::Null,
                            ValueRef::Integer(n) => snapshot::Value::Int(n),
                            ValueRef::Text(t) => {
                                snapshot::Value::Text(String::from_utf8_lossy(t).into_owned())
                            }
                            ValueRef::Blob(b) => snapshot::Value::Bytes(b.to_vec()),
                            ValueRef::Real(_) => {
                                return Err(StoreError::Database(format!(
                                    "{name}.{}: a floating-point value, which no column holds",
                                    cols[i]
                                )));
                            }
                        });
                    }
                    rows.push(row);
                }
                tables.push(Table {
                    name,
                    columns: cols,
                    rows,
                });
            }
            Ok(Snapshot::new(version, tables))
        })
    }

    fn import_snapshot(&self, s: &Snapshot) -> Result<()> {
        self.write(|tx| {
            let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if version != s.schema_version {
                return Err(StoreError::Database(format!(
                    "the target has schema version {version}, the source {}; both must be the same",
                    s.schema_version
                )));
            }
            for (name, _) in TABLES.iter().filter(|(n, _)| *n != "account") {
                let n: i64 = tx.query_row(&format!("SELECT count(*) FROM \"{name}\""), [], |r| r.get(0))?;
                if n > 0 {
                    return Err(StoreError::EntityAlreadyExists(format!(
                        "the target store is not empty (table {name} has {n} rows); migrate-store copies only into a fresh store"
                    )));
                }
            }
            tx.execute("DELETE FROM account", [])?;
            for t in &s.tables {
                let marks = (1..=t.columns.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
                let mut st = tx.prepare(&format!(
                    "INSERT INTO \"{}\" ({}) VALUES ({marks})",
                    t.name,
                    quoted(t.columns)
                ))?;
                for r in &t.rows {
                    let vals: Vec<Value> = r.iter().map(sql_value).collect();
                    st.execute(rusqlite::params_from_iter(vals))?;
                }
            }
            Ok(())
        })
    }
}
