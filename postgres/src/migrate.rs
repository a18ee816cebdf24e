//! Schema migrations: the SQL files under `postgres/migrations/`, twins of SQLite's
//! migrations and numbered alike. `pam_iam_schema.version` counts the migrations
//! applied; they run in one transaction while holding a session-level advisory lock, so
//! two processes opening a fresh store at once migrate it exactly once.

use crate::db::{Db, Iso, g};
use pam_iam::credentials::{ids, mfa_seed};
use pam_iam::store::{Result, StoreError};
use std::path::Path;
use zeroize::Zeroizing;

/// Every migration in order; the schema version is how many are applied.
pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_core.sql"),
    include_str!("../migrations/0002_sessions_ids_report_settings.sql"),
    include_str!("../migrations/0003_role_session_policies.sql"),
    include_str!("../migrations/0004_session_principal_ids.sql"),
    include_str!("../migrations/0005_factor_throttle.sql"),
    include_str!("../migrations/0006_sealed_secrets_root_keys.sql"),
    include_str!("../migrations/0007_reserved.sql"),
    include_str!("../migrations/0008_fleet_hosts.sql"),
    include_str!("../migrations/0009_commit_ordered_store_version.sql"),
    include_str!("../migrations/0010_sealed_mfa_seeds.sql"),
    include_str!("../migrations/0011_api_session_secrets.sql"),
    include_str!("../migrations/0012_session_context.sql"),
    include_str!("../migrations/0013_host_role_sessions.sql"),
    include_str!("../migrations/0014_fleet_spent_steps.sql"),
    include_str!("../migrations/0015_login_writes_keep_the_version.sql"),
    include_str!("../migrations/0016_replica_mfa_devices.sql"),
    include_str!("../migrations/0017_store_changes.sql"),
    include_str!("../migrations/0018_replica_origin.sql"),
];

/// The migration whose SQL [`migrate`] completes by sealing the plain seeds.
const SEALED_SEEDS: usize = 10;

/// The advisory lock key migrations hold ("pam-iam" in ASCII).
const LOCK_KEY: i64 = 0x0070_616d_2d69_616d;

/// Bring the schema up to date (see the module doc); `secrets_key` is the key file the
/// plain MFA seeds of an older store are sealed under.
pub(crate) fn migrate(db: &mut Db<'_>, read_only: bool, secrets_key: &Path) -> Result<()> {
    let latest = MIGRATIONS.len() as i64;
    let v = version(db)?;
    if v > latest {
        return Err(too_new(v, latest));
    }
    if v == latest {
        return Ok(());
    }
    if read_only {
        return Err(StoreError::ReadOnly(format!(
            "the store has schema version {v} and needs migrating to {latest}; run any iam command with a read-write location first"
        )));
    }
    // The lock is the session's, taken before the transaction begins: a transaction
    // that began before another process committed its migration would look the tables
    // up in a stale catalog cache (an advisory lock does not refresh it) and migrate
    // again ("relation pam_iam_schema already exists").
    db.exec("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])?;
    let out = db.transaction(Iso::ReadCommitted, &mut |db| {
        // Another process may have migrated while this one waited for the lock.
        let v = version(db)?;
        if v > latest {
            return Err(too_new(v, latest));
        }
        let mut sealed = 0;
        for (i, m) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(v).unwrap_or(0))
        {
            if i == 0 {
                db.exec_batch("CREATE TABLE pam_iam_schema (version BIGINT NOT NULL)")?;
                db.exec_batch("INSERT INTO pam_iam_schema (version) VALUES (0)")?;
            }
            db.exec_batch(m)?;
            if i + 1 == SEALED_SEEDS {
                sealed = seal_plain_seeds(db, secrets_key)?;
            }
            if i == 0 {
                let acct = ids::new_account_id()?;
                db.exec(
                    "INSERT INTO account (id, account_id) VALUES (1, $1)",
                    &[&acct],
                )?;
            }
        }
        db.exec("UPDATE pam_iam_schema SET version = $1", &[&latest])?;
        Ok(sealed)
    });
    // A lost connection has released the lock already.
    let _ = db.exec("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY]);
    if out? > 0 {
        // The sealing UPDATEs left the plain seeds in dead row versions: rewrite the
        // (small) table now rather than at some later vacuum.
        db.exec_batch("VACUUM FULL mfa_devices")?;
    }
    Ok(())
}

/// The end of migration [`SEALED_SEEDS`]: every plain seed sealed under the secrets key
/// (bound to its device), then the plain column dropped. A key that cannot be had fails
/// the whole migration: the store stays as it was.
fn seal_plain_seeds(db: &mut Db<'_>, secrets_key: &Path) -> Result<usize> {
    let rows = db.rows("SELECT pk, serial, seed FROM mfa_devices", &[])?;
    if !rows.is_empty() {
        let probe = db.opt(
            "SELECT key_id, secret_sealed FROM access_keys WHERE secret_sealed IS NOT NULL
             UNION ALL SELECT key_id, secret_sealed FROM root_access_keys WHERE secret_sealed IS NOT NULL
             UNION ALL SELECT key_id, secret_sealed FROM host_credentials
             LIMIT 1",
            &[],
        )?;
        let probe = match probe {
            Some(r) => Some((g::<String>(&r, 0)?, g::<Vec<u8>>(&r, 1)?)),
            None => None,
        };
        let key = mfa_seed::migration_key(
            secrets_key,
            probe.as_ref().map(|(k, s)| (k.as_str(), s.as_slice())),
        )?;
        for r in &rows {
            let (pk, serial) = (g::<i64>(r, 0)?, g::<String>(r, 1)?);
            let seed = Zeroizing::new(g::<Vec<u8>>(r, 2)?);
            let sealed = mfa_seed::seal_with(&key, &serial, &seed)?;
            db.exec(
                "UPDATE mfa_devices SET seed_sealed = $1 WHERE pk = $2",
                &[&sealed, &pk],
            )?;
        }
    }
    db.exec_batch("ALTER TABLE mfa_devices DROP COLUMN seed")?;
    Ok(rows.len())
}

fn too_new(found: i64, supported: i64) -> StoreError {
    StoreError::SchemaTooNew { found, supported }
}

/// The version, reading the table only when it exists (one round trip when it does not).
pub(crate) fn version(db: &mut Db<'_>) -> Result<i64> {
    let r = db.one("SELECT to_regclass('pam_iam_schema') IS NOT NULL", &[])?;
    if !g::<bool>(&r, 0)? {
        return Ok(0);
    }
    let r = db.one(
        "SELECT coalesce(max(version), 0)::bigint FROM pam_iam_schema",
        &[],
    )?;
    g(&r, 0)
}
