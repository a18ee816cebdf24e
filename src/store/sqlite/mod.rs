//! SQLite implementation of [`Store`]. One connection per process; every open sets WAL,
//! `busy_timeout`, `foreign_keys`, `synchronous=NORMAL` and `temp_store=MEMORY`; every
//! method is one transaction, `BEGIN IMMEDIATE` when it writes. One file per aggregate; the file
//! checks before SQLite touches the store are in [`safe_open`], the schema in [`schema`]
//! and [`migrate`].

mod access_keys;
mod account;
mod audit;
mod delta;
mod fleet;
mod groups;
mod hosts;
mod linux_ids;
mod login;
mod mfa;
mod migrate;
mod policies;
mod reconnect;
mod roles;
pub(crate) mod safe_open;
mod schema;
mod sessions;
mod snapshot;
mod ssh_keys;
mod users;

#[cfg(test)]
mod tests;

use fleet::store_version_in;
use mfa::*;
use migrate::migrate;
use users::*;

use super::*;
use crate::credentials::second_factor::{Admission, Proof, Record, Settled, Slot, Throttle};
use crate::credentials::{HashParams, LockState, LockoutSettings, PasswordPolicy, ids};
use rusqlite::types::Value;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};
use std::cell::Cell;
use std::time::Duration;
use zeroize::Zeroizing;

/// How long an administrator's writer waits for another writer before giving up (logins
/// wait [`super::LOGIN_BUSY_TIMEOUT`]).
/// WAL pages after which a commit checkpoints (see `open_prepared`).
const WAL_AUTOCHECKPOINT: i64 = 100;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Prepared statements kept per connection (rusqlite's least-recently-used cache).
const STATEMENT_CACHE: usize = 64;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            // Say what to do, not SQLite's "attempt to write a readonly database".
            Some(rusqlite::ErrorCode::ReadOnly) => StoreError::ReadOnly(format!(
                "the store (or its -wal/-shm files) is not writable by uid {}; run as root ({e})",
                nix::unistd::geteuid()
            )),
            // The busy timeout ran out: another process kept the write lock.
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Database(format!(
                    "the store is busy: another process held its write lock longer than this program waits; nothing was changed, failing closed (try again; if it persists, find the process holding the store with: fuser -v {}) ({e})",
                    super::DEFAULT_PATH
                ))
            }
            _ => StoreError::Database(e.to_string()),
        }
    }
}

/// SQLite reports a full disk as "disk I/O error" as often as "database or disk is
/// full" (creating or growing the -wal/-shm files): when the file system holding the
/// store has no free blocks or inodes left, say so.
fn explain_full_disk(e: StoreError, path: &std::path::Path) -> StoreError {
    let StoreError::Database(msg) = e else {
        return e;
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let full = nix::sys::statvfs::statvfs(dir).ok().and_then(|v| {
        let blocks = if nix::unistd::geteuid().is_root() {
            v.blocks_free()
        } else {
            v.blocks_available()
        };
        match (blocks, v.files_free()) {
            (0, _) => Some("no free space"),
            (_, 0) => Some("no free inodes"),
            _ => None,
        }
    });
    match full {
        Some(what) => StoreError::Database(format!(
            "{msg}: the file system holding {} has {what} left",
            dir.display()
        )),
        None => StoreError::Database(msg),
    }
}

/// The SQLite store.
pub struct SqliteStore {
    conn: Connection,
    account_id: String,
    read_only: bool,
    path: std::path::PathBuf,
    /// The key file MFA seeds are sealed under ([`OpenOptions::secrets_key`]).
    secrets_key: std::path::PathBuf,
    /// Inside [`Store::atomically`]: steps run as savepoints of the open transaction.
    in_transaction: Cell<bool>,
}

/// Clears [`SqliteStore::in_transaction`] when the transaction body ends, even by panic.
struct TransactionDepth<'a>(&'a Cell<bool>);

impl Drop for TransactionDepth<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// `Ok` when the statement changed a row; otherwise the entity was not there
/// (NoSuchEntity with `missing`'s message), so the caller's transaction rolls back.
fn found(changed: usize, missing: impl FnOnce() -> StoreError) -> Result<()> {
    if changed == 0 {
        return Err(missing());
    }
    Ok(())
}

impl SqliteStore {
    /// Open (see [`super::open`]); waits `opts.busy_timeout` (default 10 s) for locks.
    ///
    /// # Errors
    /// As [`super::open`]; [`StoreError::Unsupported`] for a location that is not SQLite.
    pub fn open(opts: &OpenOptions) -> Result<SqliteStore> {
        let Some(file) = opts.location.sqlite_path() else {
            return Err(StoreError::Unsupported(format!(
                "{} is not a SQLite store",
                opts.location
            )));
        };
        let path = safe_open::prepare(file, opts)?;
        Self::open_prepared(
            path.clone(),
            opts,
            opts.busy_timeout.unwrap_or(BUSY_TIMEOUT),
        )
        .map_err(|e| explain_full_disk(e, &path))
    }

    fn open_prepared(
        path: std::path::PathBuf,
        opts: &OpenOptions,
        busy_timeout: Duration,
    ) -> Result<SqliteStore> {
        let read_only = opts.mode == OpenMode::ReadOnly;
        let mut flags = OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        flags |= if read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
        };
        let conn = Connection::open_with_flags(&path, flags)?;
        // Via the pragma, not `Connection::busy_timeout`: rusqlite 0.43's method (and its
        // hooks) link `sqlite3_set_clientdata`, which Debian 12's SQLite 3.40 lacks.
        conn.pragma_update(
            None,
            "busy_timeout",
            i64::try_from(busy_timeout.as_millis()).unwrap_or(i64::MAX),
        )?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // Sorts and temporary tables stay in memory: the PAM module and iam-sts run as
        // root in a user's process environment, and a temp file would go to the
        // directory the user names in SQLITE_TMPDIR/TMPDIR.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        if !read_only {
            let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))?;
            }
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Each login is a short-lived process: without this, closing the last connection
        // checkpoints and deletes the WAL (two fsyncs per close, every PAM phase).
        // Durability is unchanged.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )?;
        // But the first open in a fresh process rebuilds the WAL index by reading the
        // whole WAL (~1.3 µs a frame): checkpoint at WAL_AUTOCHECKPOINT pages instead of
        // SQLite's 1,000, so a login reads at most ~100 frames and pays a checkpoint's
        // two fsyncs about once in a dozen logins (docs/benchmarks-login.md).
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT)?;
        migrate(&conn, read_only, &opts.secrets_key)?;
        // The statements a long-lived process (iamd) runs again and again are prepared
        // once (`prepare_cached`): parsing and planning were most of an API call's time.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let account_id: String =
            conn.query_row("SELECT account_id FROM account WHERE id = 1", [], |r| {
                r.get(0)
            })?;
        Ok(SqliteStore {
            conn,
            account_id,
            read_only,
            path,
            secrets_key: opts.secrets_key.clone(),
            in_transaction: Cell::new(false),
        })
    }

    /// Runs a step that writes: its own `BEGIN IMMEDIATE` transaction, or a savepoint
    /// inside [`Store::atomically`] (so the step is all-or-nothing there too).
    fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if self.read_only {
            return Err(StoreError::ReadOnly(
                "this operation writes; open the store read-write (as root)".into(),
            ));
        }
        let run = || {
            if self.in_transaction.get() {
                self.conn.execute_batch("SAVEPOINT step")?;
                return match f(&self.conn) {
                    Ok(out) => {
                        self.conn.execute_batch("RELEASE step")?;
                        Ok(out)
                    }
                    Err(e) => {
                        self.conn.execute_batch("ROLLBACK TO step; RELEASE step")?;
                        Err(e)
                    }
                };
            }
            // Unstoppable by the user who started this process while it waits for and
            // holds the write lock (sudo, su, passwd keep their caller's real uid).
            let _unstoppable = crate::store::stop_guard::StopGuard::engage();
            let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        };
        run().map_err(|e| explain_full_disk(e, &self.path))
    }

    /// Runs a step that only reads: its own deferred transaction (one snapshot), or
    /// directly inside [`Store::atomically`].
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if self.in_transaction.get() {
            return f(&self.conn);
        }
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    fn arn(&self, kind: &str, path: &str, name: &str) -> String {
        crate::arn::iam(&self.account_id, kind, path, name)
    }
}

// ---- lookups shared by the methods ---------------------------------------------------------

/// Renames and/or moves row `pk` of `table` (`users`, `groups`): a new name another row
/// already has (under the table's collation: exact for users, any case for groups) is
/// refused with `taken(name)`; the row's own name is never a conflict.
fn rename(
    tx: &Connection,
    table: &str,
    pk: i64,
    new_name: Option<&str>,
    new_path: Option<&str>,
    taken: fn(&str) -> StoreError,
) -> Result<()> {
    if let Some(n) = new_name {
        let other: Option<i64> = tx
            .query_row(
                &format!("SELECT pk FROM {table} WHERE name = ?1"),
                [n],
                |r| r.get(0),
            )
            .optional()?;
        if other.is_some_and(|o| o != pk) {
            return Err(taken(n));
        }
        tx.execute(
            &format!("UPDATE {table} SET name = ?1 WHERE pk = ?2"),
            params![n, pk],
        )?;
    }
    if let Some(p) = new_path {
        tx.execute(
            &format!("UPDATE {table} SET path = ?1 WHERE pk = ?2"),
            params![p, pk],
        )?;
    }
    Ok(())
}

fn user_pk(tx: &Connection, name: &str) -> Result<i64> {
    tx.prepare_cached("SELECT pk FROM users WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?
        .ok_or_else(|| rules::no_such_user(name))
}

fn group_pk(tx: &Connection, name: &str) -> Result<i64> {
    tx.query_row("SELECT pk FROM groups WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or_else(|| rules::no_such_group(name))
}

fn role_pk(tx: &Connection, name: &str) -> Result<i64> {
    tx.query_row("SELECT pk FROM roles WHERE name = ?1", [name], |r| r.get(0))
        .optional()?
        .ok_or_else(|| rules::no_such_role(name))
}

fn principal_pk(tx: &Connection, kind: PrincipalKind, name: &str) -> Result<i64> {
    match kind {
        PrincipalKind::User => user_pk(tx, name),
        PrincipalKind::Group => group_pk(tx, name),
        PrincipalKind::Role => role_pk(tx, name),
    }
}

fn policy_pk(tx: &Connection, arn: &str) -> Result<i64> {
    tx.query_row("SELECT pk FROM policies WHERE arn = ?1", [arn], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or_else(|| rules::policy_not_attachable(arn))
}

fn count(tx: &Connection, sql: &str, pk: i64) -> Result<i64> {
    Ok(tx.query_row(sql, [pk], |r| r.get(0))?)
}

/// Path prefixes compare exactly (case-sensitive, no wildcards), as AWS's PathPrefix.
fn exact_prefix(prefix: &str) -> Value {
    Value::Text(prefix.to_string())
}

impl Store for SqliteStore {
    fn atomically(&self, f: &mut dyn FnMut(&dyn Store) -> Result<()>) -> Result<()> {
        if self.in_transaction.get() {
            // Already inside: the outer transaction is the unit; this body a step of it.
            return self.write(|_| f(self));
        }
        self.write(|_| {
            self.in_transaction.set(true);
            let _depth = TransactionDepth(&self.in_transaction);
            f(self)
        })
    }
}
