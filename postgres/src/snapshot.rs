//! The whole PostgreSQL store as rows, and back (`iam migrate-store`). The export reads
//! one REPEATABLE READ snapshot; the import runs SERIALIZABLE, then moves each identity
//! column's sequence past the copied ids.

use super::*;
use pam_iam::store::snapshot::{self, Snapshot, TABLES, Table, Value};
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

pub(crate) fn quoted(cols: &[&str]) -> String {
    cols.iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A snapshot value as a statement parameter.
#[derive(Debug)]
pub(crate) struct Param<'a>(pub(crate) &'a Value);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(n) => n.to_sql(ty, out),
            Value::Text(s) => s.to_sql(ty, out),
            Value::Bytes(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::INT8 | Type::TEXT | Type::BYTEA)
    }

    to_sql_checked!();
}

pub(crate) fn value(r: &postgres::Row, i: usize) -> Result<Value> {
    let ty = r.columns()[i].type_().clone();
    Ok(match ty {
        Type::INT8 => g::<Option<i64>>(r, i)?.map_or(Value::Null, Value::Int),
        Type::TEXT => g::<Option<String>>(r, i)?.map_or(Value::Null, Value::Text),
        Type::BYTEA => g::<Option<Vec<u8>>>(r, i)?.map_or(Value::Null, Value::Bytes),
        other => {
            return Err(StoreError::Database(format!(
                "column {} has type {other}, which the snapshot does not carry",
                r.columns()[i].name()
            )));
        }
    })
}

impl SnapshotStore for PgStore {
    fn export_snapshot(&self) -> Result<Snapshot> {
        self.read(|db| {
            let names = db.rows(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                &[],
            )?;
            for r in &names {
                let name: String = g(r, 0)?;
                if name != "pam_iam_schema" && !snapshot::known_table(&name) {
                    return Err(snapshot::unknown_table(&name));
                }
            }
            let version = migrate::version(db)?;
            let mut tables = Vec::with_capacity(TABLES.len());
            for (name, cols) in TABLES {
                let actual = db
                    .rows(
                        "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
                        &[name],
                    )?
                    .iter()
                    .map(|r| g::<String>(r, 0))
                    .collect::<Result<Vec<_>>>()?;
                snapshot::check_columns(name, cols, &actual)?;
                let rows = db.rows(&format!("SELECT {} FROM \"{name}\"", quoted(cols)), &[])?;
                let rows = rows
                    .iter()
                    .map(|r| (0..cols.len()).map(|i| value(r, i)).collect::<Result<Vec<_>>>())
                    .collect::<Result<Vec<_>>>()?;
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
        self.write(Iso::Serializable, |db| {
            let version = migrate::version(db)?;
            if version != s.schema_version {
                return Err(StoreError::Database(format!(
                    "the target has schema version {version}, the source {}; both must be the same",
                    s.schema_version
                )));
            }
            for (name, _) in TABLES.iter().filter(|(n, _)| *n != "account") {
                let r = db.one(&format!("SELECT count(*) FROM \"{name}\""), &[])?;
                let n: i64 = g(&r, 0)?;
                if n > 0 {
                    return Err(StoreError::EntityAlreadyExists(format!(
                        "the target store is not empty (table {name} has {n} rows); migrate-store copies only into a fresh store"
                    )));
                }
            }
            db.exec("DELETE FROM account", &[])?;
            for t in &s.tables {
                let marks = (1..=t.columns.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "INSERT INTO \"{}\" ({}) VALUES ({marks})",
                    t.name,
                    quoted(t.columns)
                );
                for r in &t.rows {
                    let params: Vec<Param<'_>> = r.iter().map(Param).collect();
                    let refs: Vec<&(dyn ToSql + Sync)> =
                        params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                    db.exec(&sql, &refs)?;
                }
            }
            advance_identities(db)?;
            Ok(())
        })
    }
}

/// Identity columns continue after copied ids (explicit ids do not move their sequences).
pub(crate) fn advance_identities(db: &mut Db<'_>) -> Result<()> {
    let idents = db.rows(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
        &[],
    )?;
    for r in &idents {
        let (t, c): (String, String) = (g(r, 0)?, g(r, 1)?);
        db.exec(
            &format!(
                "SELECT setval(pg_get_serial_sequence('\"{t}\"', '{c}'), coalesce((SELECT max(\"{c}\") FROM \"{t}\"), 0) + 1, false)"
            ),
            &[],
        )?;
    }
    Ok(())
}
