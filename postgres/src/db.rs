//! One connection's statements and transactions: prepared statements cached by text
//! (one round trip per statement), errors turned into one-line [`StoreError`]s, and the
//! bookkeeping that lets a transaction run again (serialization failure, a connection
//! lost before COMMIT) or find out whether a COMMIT whose answer was lost happened.

use crate::conninfo::Target;
use pam_iam::store::{Result, StoreError};
use postgres::types::{FromSql, ToSql};
use postgres::{Client, Row, SimpleQueryMessage, Statement};
use std::cell::Cell;
use std::collections::HashMap;

/// Parameters of a statement.
pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Transaction isolation an operation needs (docs/postgres.md, "Transactions").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Iso {
    /// Read-then-write with checks over several rows (quotas, conflicts, "is it still
    /// there"): `SERIALIZABLE`, run again on a serialization failure.
    Serializable,
    /// Single conditional `UPDATE`s (counters, watermark, slots): `READ COMMITTED`, where
    /// a concurrent change to the same row makes the condition fail instead of being lost.
    ReadCommitted,
    /// Several reads that must agree: `REPEATABLE READ READ ONLY`.
    Snapshot,
}

/// A connection borrowed for one store call.
pub(crate) struct Db<'a> {
    c: &'a mut Client,
    stmts: &'a mut HashMap<String, Statement>,
    retry: &'a Cell<bool>,
    target: &'a Target,
    /// The transaction id of the open write transaction, to settle a lost COMMIT.
    xid: &'a Cell<Option<i64>>,
    /// Messages exchanged with the server (a round trip each), for the benchmark and
    /// the round-trip test.
    trips: &'a Cell<u64>,
}

/// Get column `i` of a row, as a store error when the type is not what the code expects.
pub(crate) fn g<'r, T: FromSql<'r>>(r: &'r Row, i: usize) -> Result<T> {
    r.try_get(i)
        .map_err(|e| StoreError::Database(format!("unexpected column {i}: {e}")))
}

impl Drop for Db<'_> {
    fn drop(&mut self) {
        // Whatever was sent has been answered (or has failed) by now.
        crate::watch::answered();
    }
}

/// SQLSTATEs after which the same transaction, run again, may succeed.
const RETRYABLE: [&str; 2] = ["40001", "40P01"];

impl<'a> Db<'a> {
    pub(crate) fn new(
        c: &'a mut Client,
        stmts: &'a mut HashMap<String, Statement>,
        retry: &'a Cell<bool>,
        xid: &'a Cell<Option<i64>>,
        trips: &'a Cell<u64>,
        target: &'a Target,
    ) -> Db<'a> {
        Db {
            c,
            stmts,
            retry,
            target,
            xid,
            trips,
        }
    }

    /// A one-line store error for `e`; notes whether running the transaction again may
    /// cure it.
    pub(crate) fn err(&self, e: postgres::Error) -> StoreError {
        let code = e.code().map(|c| c.code().to_string());
        if e.is_closed() || code.as_deref().is_some_and(|c| RETRYABLE.contains(&c)) {
            self.retry.set(true);
        }
        explain(&e, self.target)
    }

    /// A round trip starts (refused once a watchdog gave up waiting: see `watch`).
    fn trip(&self) -> Result<()> {
        crate::watch::progress(self.target.describe())?;
        self.trips.set(self.trips.get() + 1);
        Ok(())
    }

    fn prep(&mut self, sql: &str) -> Result<Statement> {
        self.trip()?;
        if let Some(s) = self.stmts.get(sql) {
            return Ok(s.clone());
        }
        // Preparing is a round trip of its own, once per statement and connection.
        self.trip()?;
        let s = self.c.prepare(sql).map_err(|e| self.err(e))?;
        self.stmts.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    /// Every row of a query.
    pub(crate) fn rows(&mut self, sql: &str, p: Params<'_>) -> Result<Vec<Row>> {
        let s = self.prep(sql)?;
        self.c.query(&s, p).map_err(|e| self.err(e))
    }

    /// At most one row.
    pub(crate) fn opt(&mut self, sql: &str, p: Params<'_>) -> Result<Option<Row>> {
        let s = self.prep(sql)?;
        self.c.query_opt(&s, p).map_err(|e| self.err(e))
    }

    /// Exactly one row.
    pub(crate) fn one(&mut self, sql: &str, p: Params<'_>) -> Result<Row> {
        let s = self.prep(sql)?;
        self.c.query_one(&s, p).map_err(|e| self.err(e))
    }

    /// A statement's changed-row count.
    pub(crate) fn exec(&mut self, sql: &str, p: Params<'_>) -> Result<u64> {
        let s = self.prep(sql)?;
        self.c.execute(&s, p).map_err(|e| self.err(e))
    }

    /// Statements without parameters (DDL, transaction control).
    pub(crate) fn exec_batch(&mut self, sql: &str) -> Result<()> {
        self.trip()?;
        self.c.batch_execute(sql).map_err(|e| self.err(e))
    }

    /// `BEGIN` at `iso`; a write transaction also learns its id (same round trip).
    pub(crate) fn begin(&mut self, iso: Iso) -> Result<()> {
        let sql = match iso {
            Iso::Serializable => "BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT txid_current()",
            Iso::ReadCommitted => "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT txid_current()",
            Iso::Snapshot => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        crate::watch::begin(self.target.describe());
        self.trip()?;
        let msgs = self.c.simple_query(sql).map_err(|e| self.err(e))?;
        self.xid.set(msgs.iter().find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).and_then(|v| v.parse().ok()),
            _ => None,
        }));
        Ok(())
    }

    /// `COMMIT`. When the answer is lost (the server went away), a new connection asks
    /// the server whether the transaction committed, so the caller is told which.
    pub(crate) fn commit(&mut self) -> Result<()> {
        self.trips.set(self.trips.get() + 1);
        if let Err(e) = crate::watch::commit_sent() {
            self.rollback();
            return Err(e);
        }
        let out = match self.c.batch_execute("COMMIT") {
            Ok(()) => {
                self.xid.set(None);
                Ok(())
            }
            Err(e) if e.is_closed() || e.code().is_none() && self.c.is_closed() => {
                let first = explain(&e, self.target);
                self.settle_lost_commit(first)
            }
            Err(e) => Err(self.err(e)),
        };
        crate::watch::end();
        out
    }

    fn settle_lost_commit(&mut self, first: StoreError) -> Result<()> {
        let Some(xid) = self.xid.take() else {
            // A read-only transaction: nothing to lose.
            return Err(first);
        };
        let unknown = |why: String| {
            StoreError::Database(format!(
                "{first}; the connection was lost while committing and {why}, so whether the change was applied is unknown: check with a read (e.g. iam get-…) before retrying"
            ))
        };
        let mut c = match self.target.connect(true) {
            Ok(c) => c,
            Err(e) => return Err(unknown(format!("reconnecting failed ({e})"))),
        };
        // The old backend may not have noticed the lost connection yet ("in progress"):
        // ask again for a little while.
        let mut status = c.query_one("SELECT txid_status($1)", &[&xid]);
        for _ in 0..50 {
            match &status {
                Ok(r)
                    if r.try_get::<_, Option<String>>(0).ok().flatten().as_deref()
                        == Some("in progress") =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    status = c.query_one("SELECT txid_status($1)", &[&xid]);
                }
                _ => break,
            }
        }
        *self.c = c;
        self.stmts.clear();
        let not_committed = |why: &str| {
            // Nothing was changed: running the transaction again is safe.
            self.retry.set(true);
            StoreError::Database(format!("{first}; {why}: nothing was changed"))
        };
        match status {
            Ok(r) => match r.try_get::<_, Option<String>>(0) {
                Ok(Some(s)) if s == "committed" => Ok(()),
                Ok(Some(s)) if s == "aborted" => Err(not_committed(
                    "the connection was lost before the change committed",
                )),
                Ok(s) => Err(unknown(format!("the server reports it as {s:?}"))),
                Err(e) => Err(unknown(e.to_string())),
            },
            // A promoted standby that never saw the transaction: "in the future".
            Err(e) if e.code().is_some() => Err(not_committed(
                "the server now serving the store never received the change",
            )),
            Err(e) => Err(unknown(explain(&e, self.target).to_string())),
        }
    }

    /// `ROLLBACK`, best effort (a lost connection has rolled back already).
    pub(crate) fn rollback(&mut self) {
        crate::watch::end();
        self.xid.set(None);
        if !self.c.is_closed() {
            let _ = self.c.batch_execute("ROLLBACK");
        }
    }

    /// `f` as one transaction at `iso`.
    pub(crate) fn transaction<T>(
        &mut self,
        iso: Iso,
        f: &mut dyn FnMut(&mut Db<'_>) -> Result<T>,
    ) -> Result<T> {
        self.begin(iso)?;
        match f(self) {
            Ok(out) => {
                self.commit()?;
                Ok(out)
            }
            Err(e) => {
                self.rollback();
                Err(e)
            }
        }
    }

    /// `f` as a savepoint of the open transaction.
    pub(crate) fn savepoint<T>(
        &mut self,
        f: &mut dyn FnMut(&mut Db<'_>) -> Result<T>,
    ) -> Result<T> {
        self.exec_batch("SAVEPOINT step")?;
        match f(self) {
            Ok(out) => {
                self.exec_batch("RELEASE step")?;
                Ok(out)
            }
            Err(e) => {
                if !self.c.is_closed() {
                    let _ = self.c.batch_execute("ROLLBACK TO step; RELEASE step");
                }
                Err(e)
            }
        }
    }
}

/// One line for a client error: the server's message (with SQLSTATE) or what happened to
/// the connection, naming the server.
pub(crate) fn explain(e: &postgres::Error, target: &Target) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let standby = code == "25006" || code == "0A000" && db.message().contains("hot standby");
        return match code {
            _ if standby => StoreError::ReadOnly(format!(
                "{} is a read-only server (a standby in recovery): give the primary, or every host with target_session_attrs=read-write ({})",
                target.describe(),
                db.message()
            )),
            // Class 53, insufficient resources: the statement failed before anything
            // committed, so the transaction rolled back whole.
            c if c.starts_with("53") => {
                let (what, fix) = match c {
                    "53100" => (
                        "its disk is full (no space left on the device holding its data)",
                        "free space on the server, then run the command again",
                    ),
                    "53200" => (
                        "it is out of memory",
                        "run the command again later, or give the server more memory",
                    ),
                    "53300" => (
                        "it has no free connection slots (max_connections reached)",
                        "run the command again later, or raise max_connections",
                    ),
                    _ => (
                        "it is out of a resource (see its log)",
                        "fix that on the server, then run the command again",
                    ),
                };
                StoreError::Database(format!(
                    "the PostgreSQL server {}: {what}: nothing was changed; {fix} ({}, SQLSTATE {code})",
                    target.describe(),
                    db.message()
                ))
            }
            _ => StoreError::Database(format!(
                "PostgreSQL {}: {} (SQLSTATE {code})",
                target.describe(),
                db.message()
            )),
        };
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    StoreError::Database(format!(
        "PostgreSQL {}: {}",
        target.describe(),
        msg.replace('\n', " ")
    ))
}

/// A read-write open reached a standby.
pub(crate) fn standby(target: &Target) -> StoreError {
    StoreError::ReadOnly(format!(
        "{} is a read-only server (a standby in recovery): give the primary, or every host with target_session_attrs=read-write",
        target.describe()
    ))
}

/// The error of a lost connection that could not be re-established.
pub(crate) fn lost(first: StoreError, reconnect: StoreError) -> StoreError {
    StoreError::Database(format!(
        "{first}; reconnecting failed: {reconnect}; nothing was changed"
    ))
}

/// Waits a little before attempt `attempt + 1` (exponential with jitter, at most ~0.3 s),
/// so racing transactions spread out.
pub(crate) fn backoff(attempt: u32) {
    let cap = 5u64.saturating_mul(1 << attempt.min(6));
    let mut b = [0u8; 2];
    let jitter = match getrandom_bytes(&mut b) {
        true => u64::from(u16::from_le_bytes(b)) % cap.max(1),
        false => cap / 2,
    };
    std::thread::sleep(std::time::Duration::from_millis(cap / 2 + jitter));
}

fn getrandom_bytes(b: &mut [u8]) -> bool {
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, b))
        .is_ok()
}
