//! The host's Linux accounts from the CLI: `iam sync-userdb [--check]`, the refresh of
//! the userdb directory and SSH key export that follows every change to the store, and
//! `create-user --uid`.

use std::path::Path;

use super::{CliError, Ctx, Effect, Op, Out};
use crate::store::{self, Store};
use crate::userdb::{self, Config, DIR_ENV, Mode, Report, keys::KEYS_DIR_ENV};
use clap::Subcommand;

/// userdb operations of `iam`.
#[derive(Debug, Subcommand)]
#[command(rename_all = "kebab-case")]
pub enum UserdbCommand {
    /// Compare the userdb directory (/etc/userdb) and the SSH key export with the store,
    /// print the drift, and repair it.
    SyncUserdb {
        /// Only report the drift (non-zero exit when something would change).
        #[arg(long)]
        check: bool,
    },
}

impl UserdbCommand {
    /// The handler and its effect on the store.
    pub(super) fn op(self) -> Op {
        match self {
            UserdbCommand::SyncUserdb { check } => Op::Store(
                Effect::SyncUserdb,
                Box::new(move |ctx| sync_userdb(ctx, check)),
            ),
        }
    }
}

/// Whether changes to the store at `store_path` refresh the host's userdb directory and
/// key export: always for the host's store (the default path), and for any other store
/// only when both directories are given explicitly (so a test or development store
/// never rewrites the machine's accounts).
/// `PAM_IAM_USERDB=off` turns the refresh off entirely (sandboxes, image builds).
pub(crate) fn manages_host(store_path: &Path) -> bool {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    if std::env::var_os("PAM_IAM_USERDB").is_some_and(|v| v == "off") {
        return false;
    }
    store_path == Path::new(store::DEFAULT_PATH) || (set(DIR_ENV) && set(KEYS_DIR_ENV))
}

fn run(store: &dyn Store, mode: Mode) -> Result<Report, userdb::UserdbError> {
    let cfg = Config::from_env()?;
    let host = userdb::login::host_name().map_err(userdb::UserdbError::Source)?;
    let login = |s: &dyn Store, user: &str| userdb::login::check(s, user, &host);
    userdb::apply(store, &cfg, &login, mode)
}

/// Called after a command that changed the store. A failure does not
/// undo the change (the store is the truth); it is reported so the admin can repair.
pub(crate) fn after_change(ctx: &Ctx, store_path: &Path) {
    if !manages_host(store_path) {
        return;
    }
    match run(ctx.store, Mode::Repair) {
        Ok(rep) => {
            for w in &rep.warnings {
                eprintln!("iam: userdb: {w}");
            }
        }
        Err(e) => eprintln!(
            "iam: warning: the store was changed but the userdb directory/key export were not: {e}; run `iam sync-userdb`"
        ),
    }
}

/// `iam sync-userdb [--check]`: print the drift, repair it unless `--check`.
fn sync_userdb(ctx: &Ctx, check: bool) -> Out {
    let mode = if check { Mode::Check } else { Mode::Repair };
    let rep = run(ctx.store, mode).map_err(|e| CliError::new("ServiceFailure", e.to_string()))?;
    for d in &rep.drift {
        println!("{d}");
    }
    for k in &rep.keys_drift {
        println!("keys      {k}");
    }
    for w in &rep.warnings {
        eprintln!("iam: userdb: {w}");
    }
    let n = rep.repairable();
    if check && n > 0 {
        return Err(CliError::new(
            "DriftDetected",
            format!(
                "{n} difference(s) between the store and the userdb directory/key export; run `iam sync-userdb` to repair"
            ),
        ));
    }
    Ok(None)
}

/// `create-user --uid N`: checks the id before creating the user, creates it, binds the
/// id; if the store refuses the id (already handed out), the new user is removed again
/// so nothing changed.
pub(crate) fn with_explicit_uid(
    ctx: &Ctx,
    user: &str,
    uid: Option<u32>,
    create: impl FnOnce(&Ctx) -> Out,
) -> Out {
    let Some(uid) = uid else {
        return create(ctx);
    };
    let cfg = Config::from_env().map_err(|e| CliError::validation(e.to_string()))?;
    let local = cfg
        .local_accounts()
        .map_err(|e| CliError::new("ServiceFailure", e.to_string()))?;
    let in_use = |id: u32| local.uids.contains(&id) || local.gids.contains(&id);
    userdb::ids::check_explicit(uid, &|_| false, &in_use)
        .map_err(|e| CliError::new("EntityAlreadyExists", e.to_string()))?;
    let out = create(ctx)?;
    let u = ctx.store.get_user(user)?;
    let range = (cfg.range.first, cfg.range.last);
    if let Err(e) = store::assign_linux_id(ctx.store, &u.user_id, Some(uid), range, &in_use) {
        let _ = ctx.store.delete_user(user);
        return Err(e.into());
    }
    Ok(out)
}

/// `sync-userdb` never creates a store: a missing store (a typo in `--db`, a lost
/// disk) must not read as "no users" and remove every record.
pub(crate) fn store_must_exist(path: &Path) -> Result<(), CliError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(()),
        Err(e) => Err(CliError::new(
            "StoreUnavailable",
            format!(
                "cannot use the store {}: {e}; the userdb directory and key export were left unchanged",
                path.display()
            ),
        )),
    }
}
