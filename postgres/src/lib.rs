//! The PostgreSQL store: the root crate's `store` traits on a server a fleet shares
//! (with streaming replication for failover). Linked by `iam` (and the IAM server),
//! never by `pam_iam.so` or `iam-sts`. Every method is one transaction; the isolation
//! each needs is in docs/postgres.md ("Transactions"): writes that read first run
//! `SERIALIZABLE` (retried a bounded number of times on a serialization failure), the
//! login counters (failures, lockout, second-factor slot, TOTP watermark, recovery codes)
//! are single conditional `UPDATE`s under `READ COMMITTED`, reads of several statements
//! `REPEATABLE READ READ ONLY`, reads of one statement no explicit transaction at all.
//! The AWS rules come from `pam_iam::store::rules`, as SQLite's do.

mod access_keys;
mod account;
mod audit;
pub mod conninfo;
mod db;
mod fleet;
mod groups;
mod hosts;
mod linux_ids;
pub mod listen;
mod login;
mod mfa;
mod migrate;
mod policies;
mod reconnect;
mod roles;
mod sessions;
mod snapshot;
mod ssh_keys;
mod users;
pub mod watch;

#[doc(hidden)]
pub mod testing;

use db::{Db, Iso, g};
use hosts::STORE_VERSION;
use pam_iam::store::rules;
use pam_iam::store::*;
use postgres::Client;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// Opens a PostgreSQL store at `opts.location` (a `postgres://` URL): connects (to the
/// first writable host of a multi-host URL when `target_session_attrs=read-write`),
/// migrates under an advisory lock (read-write mode) and checks the schema version. The
/// opener the `iam` binary registers with `pam_iam::store::register_server_backend`.
///
/// # Errors
/// One line naming the host and port for connection failures (unreachable, timeout,
/// authentication, TLS, read-only server), `SchemaTooNew` as SQLite, `Unsupported` for a
/// location that is not PostgreSQL.
pub fn open(opts: &OpenOptions) -> Result<Box<dyn Store>> {
    Ok(Box::new(PgStore::open(opts)?))
}

/// The PostgreSQL store: one connection, a cache of prepared statements.
pub struct PgStore {
    client: RefCell<Client>,
    stmts: RefCell<HashMap<String, postgres::Statement>>,
    target: conninfo::Target,
    account_id: String,
    read_only: bool,
    /// The key file MFA seeds are sealed under ([`OpenOptions::secrets_key`]).
    secrets_key: std::path::PathBuf,
    /// Inside [`Store::atomically`]: steps run as savepoints of the open transaction.
    in_transaction: Cell<bool>,
    /// Set by a step that hit a serialization failure or lost the connection: the whole
    /// transaction has to be run again.
    retry: Cell<bool>,
    /// The id of the open write transaction (to settle a COMMIT whose answer was lost).
    xid: Cell<Option<i64>>,
    /// Round trips to the server so far (see [`PgStore::round_trips`]).
    trips: Cell<u64>,
}

/// Clears [`PgStore::in_transaction`] when the transaction body ends, even by panic.
struct TransactionDepth<'a>(&'a Cell<bool>);

impl Drop for TransactionDepth<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// How often a transaction that lost a serialization race (or its connection before it
/// committed) runs again before the error is reported.
const MAX_ATTEMPTS: u32 = 12;

impl PgStore {
    /// Open (see [`open`]).
    ///
    /// # Errors
    /// As [`open`].
    pub fn open(opts: &OpenOptions) -> Result<PgStore> {
        let Location::Postgres(url) = &opts.location else {
            return Err(StoreError::Unsupported(format!(
                "{} is not a PostgreSQL store",
                opts.location
            )));
        };
        let target = conninfo::Target::parse(url)?;
        let mut client = target.connect(opts.mode == OpenMode::ReadWrite)?;
        let mut stmts = HashMap::new();
        let retry = Cell::new(false);
        let xid = Cell::new(None);
        let trips = Cell::new(0);
        let account_id = {
            let mut db = Db::new(&mut client, &mut stmts, &retry, &xid, &trips, &target);
            if opts.mode == OpenMode::ReadWrite {
                let r = db.one("SELECT pg_is_in_recovery()", &[])?;
                if g::<bool>(&r, 0)? {
                    return Err(db::standby(&target));
                }
            }
            migrate::migrate(&mut db, opts.mode == OpenMode::ReadOnly, &opts.secrets_key)?;
            let row = db.one("SELECT account_id FROM account WHERE id = 1", &[])?;
            g::<String>(&row, 0)?
        };
        Ok(PgStore {
            client: RefCell::new(client),
            stmts: RefCell::new(stmts),
            target,
            account_id,
            read_only: opts.mode == OpenMode::ReadOnly,
            secrets_key: opts.secrets_key.clone(),
            in_transaction: Cell::new(false),
            retry,
            xid,
            trips,
        })
    }

    /// Round trips to the server this store has made (statements, prepares, BEGIN and
    /// COMMIT), for benchmarks and the tests that bound them.
    pub fn round_trips(&self) -> u64 {
        self.trips.get()
    }

    fn arn(&self, kind: &str, path: &str, name: &str) -> String {
        pam_iam::arn::iam(&self.account_id, kind, path, name)
    }

    /// A fresh connection after the old one was lost (a restart, a failover: a
    /// multi-host URL reaches the new primary); prepared statements went with it.
    fn reconnect(&self) -> Result<()> {
        let c = self.target.connect(!self.read_only)?;
        *self.client.borrow_mut() = c;
        self.stmts.borrow_mut().clear();
        Ok(())
    }

    /// Runs `f` on the connection with no transaction of its own (inside `atomically`,
    /// or a single statement that is its own snapshot).
    fn raw<T>(&self, f: &mut dyn FnMut(&mut Db<'_>) -> Result<T>) -> Result<T> {
        let mut c = self.client.borrow_mut();
        let mut s = self.stmts.borrow_mut();
        let mut db = Db::new(
            &mut c,
            &mut s,
            &self.retry,
            &self.xid,
            &self.trips,
            &self.target,
        );
        f(&mut db)
    }

    /// One step that writes at isolation `iso`: its own transaction (run again on a
    /// serialization failure, at most [`MAX_ATTEMPTS`] times), or a savepoint inside
    /// [`Store::atomically`] (so the step is all-or-nothing there too).
    fn write<T>(&self, iso: Iso, mut f: impl FnMut(&mut Db<'_>) -> Result<T>) -> Result<T> {
        if self.read_only {
            return Err(StoreError::ReadOnly(
                "this operation writes; open the store read-write".into(),
            ));
        }
        if self.in_transaction.get() {
            return self.raw(&mut |db| db.savepoint(&mut f));
        }
        self.transaction(iso, &mut f)
    }

    /// A read: one statement runs alone (its own snapshot); several in one
    /// `REPEATABLE READ READ ONLY` transaction.
    fn read<T>(&self, mut f: impl FnMut(&mut Db<'_>) -> Result<T>) -> Result<T> {
        if self.in_transaction.get() {
            return self.raw(&mut f);
        }
        self.transaction(Iso::Snapshot, &mut f)
    }

    /// A read of exactly one statement: no BEGIN/COMMIT round trips.
    fn read1<T>(&self, mut f: impl FnMut(&mut Db<'_>) -> Result<T>) -> Result<T> {
        if self.in_transaction.get() {
            return self.raw(&mut f);
        }
        self.retrying(&mut |store| store.raw(&mut f))
    }

    /// `f` in its own transaction at `iso`, run again while it fails for a reason that a
    /// new attempt can cure.
    fn transaction<T>(&self, iso: Iso, f: &mut dyn FnMut(&mut Db<'_>) -> Result<T>) -> Result<T> {
        self.retrying(&mut |store| store.raw(&mut |db| db.transaction(iso, f)))
    }

    fn retrying<T>(&self, f: &mut dyn FnMut(&Self) -> Result<T>) -> Result<T> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.retry.set(false);
            let out = f(self);
            let again = self.retry.replace(false);
            match out {
                Err(e) if again && attempt < MAX_ATTEMPTS => {
                    if self.client.borrow().is_closed() {
                        // Nothing committed (a lost COMMIT is settled in Db::commit).
                        if let Err(re) = self.reconnect() {
                            return Err(db::lost(e, re));
                        }
                    }
                    db::backoff(attempt);
                }
                other => return other,
            }
        }
    }
}

impl Store for PgStore {
    fn atomically(&self, f: &mut dyn FnMut(&dyn Store) -> Result<()>) -> Result<()> {
        if self.in_transaction.get() {
            // Already inside: the outer transaction is the unit; this body a step of it.
            return self.nested(f);
        }
        if self.read_only {
            return Err(StoreError::ReadOnly(
                "this operation writes; open the store read-write".into(),
            ));
        }
        self.retrying(&mut |store| {
            store.raw(&mut |db| db.begin(Iso::Serializable))?;
            store.in_transaction.set(true);
            let out = {
                let _depth = TransactionDepth(&store.in_transaction);
                f(store)
            };
            match out {
                Ok(()) => store.raw(&mut |db| db.commit()),
                Err(e) => {
                    let _ = store.raw(&mut |db| {
                        db.rollback();
                        Ok(())
                    });
                    Err(e)
                }
            }
        })
    }
}

impl PgStore {
    /// A nested `atomically`: one savepoint around the whole body.
    fn nested(&self, f: &mut dyn FnMut(&dyn Store) -> Result<()>) -> Result<()> {
        self.raw(&mut |db| db.exec_batch("SAVEPOINT nested"))?;
        match f(self) {
            Ok(()) => self.raw(&mut |db| db.exec_batch("RELEASE nested")),
            Err(e) => {
                let _ = self.raw(&mut |db| db.exec_batch("ROLLBACK TO nested; RELEASE nested"));
                Err(e)
            }
        }
    }
}

// ---- lookups shared by the methods ---------------------------------------------------------

fn user_pk(db: &mut Db<'_>, name: &str) -> Result<i64> {
    match db.opt("SELECT pk FROM users WHERE name = $1", &[&name])? {
        Some(r) => g(&r, 0),
        None => Err(rules::no_such_user(name)),
    }
}

fn group_pk(db: &mut Db<'_>, name: &str) -> Result<i64> {
    match db.opt("SELECT pk FROM groups WHERE name = $1", &[&name])? {
        Some(r) => g(&r, 0),
        None => Err(rules::no_such_group(name)),
    }
}

fn role_pk(db: &mut Db<'_>, name: &str) -> Result<i64> {
    match db.opt("SELECT pk FROM roles WHERE name = $1", &[&name])? {
        Some(r) => g(&r, 0),
        None => Err(rules::no_such_role(name)),
    }
}

fn principal_pk(db: &mut Db<'_>, kind: PrincipalKind, name: &str) -> Result<i64> {
    match kind {
        PrincipalKind::User => user_pk(db, name),
        PrincipalKind::Group => group_pk(db, name),
        PrincipalKind::Role => role_pk(db, name),
    }
}

fn policy_pk(db: &mut Db<'_>, arn: &str) -> Result<i64> {
    match db.opt("SELECT pk FROM policies WHERE arn = $1", &[&arn])? {
        Some(r) => g(&r, 0),
        None => Err(rules::policy_not_attachable(arn)),
    }
}

fn count(db: &mut Db<'_>, sql: &str, pk: i64) -> Result<i64> {
    let r = db.one(sql, &[&pk])?;
    g(&r, 0)
}

/// `Ok` when the statement changed a row; otherwise the entity was not there.
fn found(changed: u64, missing: impl FnOnce() -> StoreError) -> Result<()> {
    if changed == 0 {
        return Err(missing());
    }
    Ok(())
}

/// Path prefixes compare exactly (case-sensitive, no wildcards), as AWS's PathPrefix.
fn prefix_cond(col: &str) -> String {
    format!("substr({col}, 1, length($1::text)) = $1::text")
}
