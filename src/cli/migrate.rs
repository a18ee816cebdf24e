//! `iam migrate-store --from LOCATION --to LOCATION`: copies a whole store between
//! backends (SQLite ⇄ PostgreSQL), every row of every table: entities with their ids,
//! secret hashes, TOTP watermarks, Linux ids, sessions and the audit trail. The source
//! is opened read-only and read in one snapshot; the copy and a verifying re-read (row
//! counts and SHA-256 per table) are one transaction in the target, so a failed check
//! keeps nothing. A target holding anything beyond its fresh account row is refused.

use super::{CliError, Op, Out};
use crate::store::{self, OpenMode, OpenOptions, snapshot};
use clap::Subcommand;
use serde_json::json;

/// Moving a store between backends.
#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Copy a whole store (every entity and id, secret hashes, watermarks, Linux ids,
    /// sessions, audit) into a fresh store, SQLite or PostgreSQL; verifies row counts
    /// and checksums per table and refuses a target that is not empty.
    MigrateStore {
        /// The store to copy (a path, sqlite:PATH or postgres://…); read, never changed.
        #[arg(long, value_name = "LOCATION")]
        from: String,
        /// The new store (created and migrated if missing; must be empty).
        #[arg(long, value_name = "LOCATION")]
        to: String,
    },
}

impl MigrateCommand {
    /// The handler: it opens both stores itself.
    pub(crate) fn op(self) -> Op {
        match self {
            MigrateCommand::MigrateStore { from, to } => {
                Op::NoStore(Box::new(move || migrate_store(&from, &to)))
            }
        }
    }
}

fn migrate_store(from: &str, to: &str) -> Out {
    let (src_loc, dst_loc) = (store::Location::parse(from), store::Location::parse(to));
    if src_loc == dst_loc {
        return Err(CliError::validation(
            "--from and --to name the same store; give a fresh target",
        ));
    }
    let insecure_ok = std::env::var(store::ENV_INSECURE).is_ok_and(|v| v == "1");
    let open = |loc: store::Location, mode| {
        store::open(&OpenOptions {
            insecure_ok,
            ..OpenOptions::new(loc, mode)
        })
    };
    let snap = {
        let src = open(src_loc.clone(), OpenMode::ReadOnly)?;
        src.export_snapshot()?
    };
    let dst = open(dst_loc.clone(), OpenMode::ReadWrite)?;
    store::atomically(&*dst, |tx| {
        tx.import_snapshot(&snap)?;
        snapshot::verify(&snap, &tx.export_snapshot()?)
    })?;
    let tables: Vec<_> = snap
        .summary()
        .into_iter()
        .map(|(t, n, sum)| json!({"Table": t, "Rows": n, "Sha256": sum}))
        .collect();
    Ok(Some(json!({
        "From": src_loc.to_string(),
        "To": dst_loc.to_string(),
        "SchemaVersion": snap.schema_version,
        "Verified": true,
        "Tables": tables,
    })))
}
