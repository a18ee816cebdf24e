//! Schema migrations: `PRAGMA user_version` counts the migrations applied.

use super::schema::MIGRATIONS;
use super::*;

/// Bring the schema up to date inside one `BEGIN IMMEDIATE` transaction (so two
/// processes opening a fresh store at once migrate it exactly once).
pub(super) fn migrate(conn: &Connection, read_only: bool) -> Result<()> {
    let latest = MIGRATIONS.len() as i64;
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if v > latest {
        return Err(StoreError::SchemaTooNew {
            found: v,
            supported: latest,
        });
    }
    if v == latest {
        return Ok(());
    }
    if read_only {
        return Err(StoreError::ReadOnly(format!(
            "the store has schema version {v} and needs migrating to {latest}; run any iam command as root first"
        )));
    }
    let _unstoppable = crate::store::stop_guard::StopGuard::engage();
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let v: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, m) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(v).unwrap_or(0))
    {
        tx.execute_batch(m)?;
        if i == 0 {
            let acct = ids::new_account_id()?;
            tx.execute(
                "INSERT INTO account (id, account_id) VALUES (1, ?1)",
                [acct],
            )?;
        }
    }
    tx.pragma_update(None, "user_version", latest)?;
    let fk_errors: i64 =
        tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })?;
    if fk_errors != 0 {
        return Err(StoreError::Database(format!(
            "{fk_errors} foreign key violations after migration"
        )));
    }
    tx.commit()?;
    Ok(())
}
