//! Schema migrations: `PRAGMA user_version` counts the migrations applied.

use super::schema::{MIGRATIONS, SEALED_SEEDS};
use super::*;
use crate::credentials::mfa_seed;

/// Bring the schema up to date inside one `BEGIN IMMEDIATE` transaction (so two
/// processes opening a fresh store at once migrate it exactly once). `secrets_key` is the
/// key file the plain MFA seeds of an older store are sealed under.
pub(super) fn migrate(conn: &Connection, read_only: bool, secrets_key: &Path) -> Result<()> {
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
    // Freed pages and cells are zeroed while seeds are sealed, so the plain seeds do not
    // linger in the file's free space.
    conn.pragma_update(None, "secure_delete", true)?;
    let done = migrate_in_transaction(conn, latest, secrets_key);
    conn.pragma_update(None, "secure_delete", false)?;
    let sealed = done?;
    if sealed > 0 {
        // The old pages are overwritten in the main file now, not at some later checkpoint.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    }
    Ok(())
}

/// The migration transaction; the number of plain seeds it sealed.
fn migrate_in_transaction(conn: &Connection, latest: i64, secrets_key: &Path) -> Result<usize> {
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let v: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let mut sealed = 0;
    for (i, m) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(v).unwrap_or(0))
    {
        tx.execute_batch(m)?;
        if i + 1 == SEALED_SEEDS {
            sealed = seal_plain_seeds(&tx, secrets_key)?;
        }
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
    Ok(sealed)
}

/// The end of migration [`SEALED_SEEDS`]: every plain seed sealed under the secrets key
/// (bound to its device), then the plain column dropped (the table is rewritten). A key
/// that cannot be had fails the whole migration: the store stays as it was.
fn seal_plain_seeds(tx: &Connection, secrets_key: &Path) -> Result<usize> {
    let rows = {
        let mut st = tx.prepare("SELECT pk, serial, seed FROM mfa_devices")?;
        st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                Zeroizing::new(r.get::<_, Vec<u8>>(2)?),
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?
    };
    if !rows.is_empty() {
        let probe: Option<(String, Vec<u8>)> = tx
            .query_row(
                "SELECT key_id, secret_sealed FROM access_keys WHERE secret_sealed IS NOT NULL
                 UNION ALL SELECT key_id, secret_sealed FROM root_access_keys WHERE secret_sealed IS NOT NULL
                 UNION ALL SELECT key_id, secret_sealed FROM host_credentials
                 LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let key = mfa_seed::migration_key(
            secrets_key,
            probe.as_ref().map(|(k, s)| (k.as_str(), s.as_slice())),
        )?;
        for (pk, serial, seed) in &rows {
            let sealed = mfa_seed::seal_with(&key, serial, seed)?;
            tx.execute(
                "UPDATE mfa_devices SET seed_sealed = ?1, seed = x'' WHERE pk = ?2",
                params![sealed, pk],
            )?;
        }
    }
    tx.execute_batch("ALTER TABLE mfa_devices DROP COLUMN seed")?;
    Ok(rows.len())
}
