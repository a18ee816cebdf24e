//! The journal's shipping position, kept in offline.db (its `meta` table) so that what
//! the server acknowledged survives an agent restart:
//! - `journal_id`: the journal's id, made once with the file (16 bytes of SQLite's
//!   `randomblob`, in hex). A re-created offline.db is a new journal to the server and
//!   starts again at `Seq` 1, so the server's once-per-(host, journal, seq) rule never
//!   skips a new entry as an old one.
//! - `journal_ack`: the highest `Seq` the server said it applied (a `JournalGap`
//!   refusal may move it back: the server is then behind what this host thought).
//! - `journal_base`: the table's `seq` minus the wire's `Seq`. It moves only when the
//!   journal starts afresh under a new id: when the server lacks entries this host no
//!   longer holds, or acknowledges more of this id than this host ever wrote (the file
//!   was restored from a copy). Either way, the entries still held are shipped whole.
//!
//! Acknowledged rows are marked `shipped` and kept [`SHIPPED_KEPT`] for the host's own
//! inspection, then deleted; `AUTOINCREMENT` never reuses a `seq`, so the numbering
//! stays gapless and increasing.
//!
//! **The bound** (agent.toml `journal_max_entries`, default [`DEFAULT_MAX_ENTRIES`]):
//! the rows not yet acknowledged never exceed it, and neither do all rows (shipped rows
//! kept for inspection go first, oldest first, to make room). No row is ever dropped
//! unshipped: once the bound is reached a new offline decision is refused without a row
//! of its own (the host fails closed) and only counted per user in `journal_overflow`
//! (at most one row per user the replica knows); once shipping made room again, each
//! user's count becomes one `deny` row (how many attempts, first and last time), so the
//! server's audit trail accounts for every attempt. A warning is logged from
//! [`WARN_FROM`] % of the bound on, every [`WARN_STEP`] %.

use super::{Decided, Offline, db_err};
use pam_iam::fleet::proto::LoginRequest;
use pam_iam::fleet::proto::{JournalEntry, JournalKind, MAX_JOURNAL_ENTRIES};
use pam_iam::fleet::reconnect::MAX_TEXT;
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::atomic::Ordering;

const ID: &str = "journal_id";
const BASE: &str = "journal_base";
const ACK: &str = "journal_ack";

/// How long rows the server acknowledged stay in offline.db (seconds).
pub const SHIPPED_KEPT: i64 = 30 * 86_400;

/// The most bytes of entries one batch carries (`iamd` reads a body of at most 1 MiB).
pub const MAX_BATCH_BYTES: usize = 768 * 1024;

/// The default bound of journal rows (agent.toml `journal_max_entries`): a host cut
/// off for days at a login a minute writes a few thousand; each row is at most
/// six text fields of [`MAX_TEXT`] bytes (cut when written, as the server would cut
/// them), typically about 250 bytes, so the journal stays under 25 MB at the typical
/// size.
pub const DEFAULT_MAX_ENTRIES: i64 = 100_000;

/// The largest `journal_max_entries` accepted.
pub const MAX_MAX_ENTRIES: i64 = 10_000_000;

/// The share of the bound (percent) from which each new row logs a warning ...
pub const WARN_FROM: i64 = 80;
/// ... once per this many percent more.
pub const WARN_STEP: i64 = 5;

/// Why a journal row was not written.
#[derive(Debug)]
pub(super) enum Unwritten {
    /// The journal holds its bound of rows not yet acknowledged.
    Full,
    /// The state file failed.
    Db(rusqlite::Error),
}

impl From<rusqlite::Error> for Unwritten {
    fn from(e: rusqlite::Error) -> Unwritten {
        Unwritten::Db(e)
    }
}

/// The rows not yet acknowledged by the server.
pub(super) fn pending(c: &Connection) -> rusqlite::Result<i64> {
    let (base, ack) = position(c)?;
    c.query_row(
        "SELECT count(*) FROM journal WHERE seq > ?1",
        [base + ack],
        |r| r.get(0),
    )
}

/// Before a row is written: `Full` when `max` rows wait already; else shipped rows are
/// deleted, oldest first, until the whole table holds fewer than `max`; the rows
/// waiting.
pub(super) fn room(c: &Connection, max: i64) -> Result<i64, Unwritten> {
    let waiting = pending(c)?;
    if waiting >= max {
        return Err(Unwritten::Full);
    }
    let total: i64 = c.query_row("SELECT count(*) FROM journal", [], |r| r.get(0))?;
    if total >= max {
        c.execute(
            "DELETE FROM journal WHERE seq IN
               (SELECT seq FROM journal WHERE shipped = 1 ORDER BY seq LIMIT ?1)",
            [total - max + 1],
        )?;
    }
    Ok(waiting)
}

/// An attempt refused because the journal is full, counted for `user` (one row per
/// user: bounded by the users the replica knows).
pub(super) fn overflow(c: &Connection, user: &str, now: i64) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO journal_overflow(user, attempts, first, last) VALUES (?1, 1, ?2, ?2)
         ON CONFLICT(user) DO UPDATE SET attempts = attempts + 1,
           first = min(first, ?2), last = max(last, ?2)",
        params![user, now],
    )
    .map(|_| ())
}

/// Once there is room for them, the attempts refused while the journal was full become
/// one `deny` row per user (at the time of the last), so the server audits them; how
/// many rows were written.
pub(super) fn flush_overflow(c: &Connection, max: i64) -> rusqlite::Result<usize> {
    let users: Vec<(String, i64, i64, i64)> = {
        let mut st =
            c.prepare("SELECT user, attempts, first, last FROM journal_overflow ORDER BY last")?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    let n = users.len() as i64;
    if users.is_empty() || pending(c)? + n > max {
        return Ok(0);
    }
    let total: i64 = c.query_row("SELECT count(*) FROM journal", [], |r| r.get(0))?;
    if total + n > max {
        c.execute(
            "DELETE FROM journal WHERE seq IN
               (SELECT seq FROM journal WHERE shipped = 1 ORDER BY seq LIMIT ?1)",
            [total + n - max],
        )?;
    }
    for (user, attempts, first, last) in &users {
        let reason = format!(
            "offline: {attempts} login attempt(s) from {} to {} refused on this host without a journal entry of their own: its journal was full (journal_max_entries = {max}) while no server could be reached",
            pam_iam::time::iso8601(*first),
            pam_iam::time::iso8601(*last)
        );
        c.execute(
            "INSERT INTO journal(time, user, kind, reason) VALUES (?1, ?2, 'deny', ?3)",
            params![last, clip(user.clone()), reason],
        )?;
    }
    c.execute("DELETE FROM journal_overflow", [])?;
    Ok(users.len())
}

/// The next entries to ship.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The journal's id.
    pub journal: String,
    /// Consecutive entries from the acknowledged position + 1, oldest first.
    pub entries: Vec<JournalEntry>,
    /// The table's `seq` of the first entry (for the logs).
    pub first_row: i64,
}

/// What an acknowledgment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acked {
    /// The position is the server's now; `rest`: entries remain above it.
    Moved {
        /// Entries remain to ship.
        rest: bool,
    },
    /// The server holds more of this journal than this host ever wrote: the entries
    /// still held go under a new journal id (named here).
    Restarted {
        /// The new id.
        journal: String,
    },
    /// The journal is not the one the batch was of any more: nothing changed.
    Stale,
}

/// Give a journal its id (once) and say whether entries wait to be shipped.
pub(super) fn init(c: &Connection) -> rusqlite::Result<bool> {
    c.execute(
        "INSERT OR IGNORE INTO meta(key, value) VALUES (?1, lower(hex(randomblob(16))))",
        [ID],
    )?;
    let (base, ack) = position(c)?;
    c.query_row(
        "SELECT EXISTS(SELECT 1 FROM journal WHERE seq > ?1)",
        [base + ack],
        |r| r.get(0),
    )
}

fn meta_i64(c: &Connection, key: &str) -> rusqlite::Result<i64> {
    Ok(
        c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| {
            r.get::<_, i64>(0)
        })
        .optional()?
        .unwrap_or(0),
    )
}

fn set_meta(c: &Connection, key: &str, value: i64) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO meta(key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = ?2",
        params![key, value],
    )
    .map(|_| ())
}

fn journal_id(c: &Connection) -> rusqlite::Result<String> {
    c.query_row("SELECT value FROM meta WHERE key = ?1", [ID], |r| r.get(0))
}

/// (base, ack).
fn position(c: &Connection) -> rusqlite::Result<(i64, i64)> {
    Ok((meta_i64(c, BASE)?, meta_i64(c, ACK)?))
}

/// Start the journal afresh under a new id, its `Seq` 1 at the table's `first_row`.
fn restart(c: &Connection, first_row: i64) -> rusqlite::Result<String> {
    c.execute(
        "UPDATE meta SET value = lower(hex(randomblob(16))) WHERE key = ?1",
        [ID],
    )?;
    set_meta(c, BASE, first_row - 1)?;
    set_meta(c, ACK, 0)?;
    journal_id(c)
}

/// A text field cut to what the server accepts (at a character boundary).
pub(super) fn clip(mut s: String) -> String {
    if s.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

fn kind(s: &str) -> rusqlite::Result<JournalKind> {
    match s {
        "login" => Ok(JournalKind::Login),
        "failure" => Ok(JournalKind::Failure),
        "deny" => Ok(JournalKind::Deny),
        other => Err(rusqlite::Error::FromSqlConversionFailure(
            3,
            rusqlite::types::Type::Text,
            format!("journal kind {other:?}").into(),
        )),
    }
}

impl Offline {
    /// When the journal holds `journal_max_entries` rows not yet shipped: the attempt is
    /// counted in `journal_overflow` and refused ([`Decided::Full`]).
    ///
    /// # Errors
    /// The state file failed.
    pub(super) fn journal_full(
        &self,
        l: &LoginRequest,
        now: i64,
    ) -> Result<Option<Decided>, String> {
        let waiting = self.with(pending)?;
        if waiting < self.journal_max {
            return Ok(None);
        }
        self.refused_full(l, now).map(Some)
    }

    /// A row written (`Some`, with the rows waiting before it), or refused as full
    /// (`None`).
    ///
    /// # Errors
    /// The state file failed.
    pub(super) fn written(r: Result<i64, Unwritten>) -> Result<Option<i64>, String> {
        match r {
            Ok(waiting) => Ok(Some(waiting)),
            Err(Unwritten::Full) => Ok(None),
            Err(Unwritten::Db(e)) => Err(db_err(e)),
        }
    }

    /// Refuse `l` because the journal is full: counted for its user, logged, and
    /// answered with [`Decided::Full`].
    ///
    /// # Errors
    /// The state file failed.
    pub(super) fn refused_full(&self, l: &LoginRequest, now: i64) -> Result<Decided, String> {
        let waiting = self.with(|c| {
            overflow(c, &l.user, now)?;
            pending(c)
        })?;
        let reason = format!(
            "the offline journal holds {waiting} entries not yet shipped, its bound (journal_max_entries = {}): offline logins are refused until a server takes the journal (the attempt is counted and shipped as part of one row for the user)",
            self.journal_max
        );
        crate::log(&format!("offline login of {:?} refused: {reason}", l.user));
        Ok(Decided::Full { reason })
    }

    /// A row was written with `waiting` rows before it: shipping is due, and from
    /// [`WARN_FROM`] % of the bound on a warning is logged every [`WARN_STEP`] %.
    pub(super) fn journal_filling(&self, waiting: i64) {
        self.journal_pending.store(true, Ordering::SeqCst);
        let now_waiting = waiting + 1;
        let share = now_waiting.saturating_mul(100) / self.journal_max.max(1);
        if share < WARN_FROM {
            self.journal_warned.store(0, Ordering::SeqCst);
            return;
        }
        let step = share - share % WARN_STEP;
        if self.journal_warned.fetch_max(step, Ordering::SeqCst) < step {
            crate::log(&format!(
                "warning: the offline journal holds {now_waiting} entries not yet shipped, {share}% of journal_max_entries = {}: at the bound this host refuses offline logins until a server takes the journal (reconnect it to iamd)",
                self.journal_max
            ));
        }
    }

    /// Whether the journal may hold entries the server has not acknowledged.
    pub fn journal_pending(&self) -> bool {
        self.journal_pending.load(Ordering::SeqCst)
    }

    /// The journal's id and the highest `Seq` acknowledged.
    ///
    /// # Errors
    /// The state file cannot be read.
    pub fn journal_position(&self) -> Result<(String, i64), String> {
        self.with(|c| Ok((journal_id(c)?, position(c)?.1)))
    }

    /// The next batch to ship: up to [`MAX_JOURNAL_ENTRIES`] consecutive entries (and
    /// [`MAX_BATCH_BYTES`]) above the acknowledged position; `None`, and nothing
    /// pending any more, when there are none. When the next entry is no longer held,
    /// the journal starts afresh under a new id (logged).
    ///
    /// # Errors
    /// The state file cannot be read.
    pub fn next_batch(&self) -> Result<Option<Batch>, String> {
        let mut c = self.conn()?;
        let tx = c.transaction().map_err(db_err)?;
        let (mut base, ack) = position(&tx).map_err(db_err)?;
        let rows = {
            let mut st = tx
                .prepare(
                    "SELECT seq, time, user, kind, serial, step, reason, service, rhost, tty, recovery
                     FROM journal WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )
                .map_err(db_err)?;
            st.query_map(params![base + ack, MAX_JOURNAL_ENTRIES as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    JournalEntry {
                        seq: 0,
                        time: r.get(1)?,
                        user: clip(r.get(2)?),
                        kind: kind(&r.get::<_, String>(3)?)?,
                        serial: r.get::<_, Option<String>>(4)?.map(clip),
                        step: r.get(5)?,
                        recovery_code: r.get(10)?,
                        reason: clip(r.get(6)?),
                        service: r.get::<_, Option<String>>(7)?.map(clip),
                        rhost: r.get::<_, Option<String>>(8)?.map(clip),
                        tty: r.get::<_, Option<String>>(9)?.map(clip),
                    },
                ))
            })
            .map_err(db_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db_err)?
        };
        let Some(&(first_row, _)) = rows.first() else {
            self.journal_pending.store(false, Ordering::SeqCst);
            return Ok(None);
        };
        if first_row != base + ack + 1 {
            let id = restart(&tx, first_row).map_err(db_err)?;
            crate::log(&format!(
                "the server acknowledged journal entry {ack}, but this host no longer holds entry {}: shipping the entries it holds (from row {first_row}) as a new journal {id}",
                ack + 1
            ));
            base = first_row - 1;
        }
        let journal = journal_id(&tx).map_err(db_err)?;
        let mut entries = Vec::with_capacity(rows.len());
        let mut bytes = 0;
        for (row, mut e) in rows {
            e.seq = row - base;
            bytes += serde_json::to_vec(&e).map_or(0, |v| v.len());
            if !entries.is_empty() && bytes > MAX_BATCH_BYTES {
                break;
            }
            entries.push(e);
        }
        tx.commit().map_err(db_err)?;
        Ok(Some(Batch {
            journal,
            entries,
            first_row,
        }))
    }

    /// The server acknowledged entries up to `ack` of `sent.journal` (its answer to
    /// `sent`, or the `Ack` of its gap refusal): that is the position now, the rows up to
    /// it are marked shipped, and shipped rows older than [`SHIPPED_KEPT`] deleted.
    ///
    /// # Errors
    /// The state file cannot be written.
    pub fn journal_acked(&self, sent: &Batch, ack: i64, now: i64) -> Result<Acked, String> {
        let mut c = self.conn()?;
        let tx = c.transaction().map_err(db_err)?;
        if journal_id(&tx).map_err(db_err)? != sent.journal {
            return Ok(Acked::Stale);
        }
        let (base, _) = position(&tx).map_err(db_err)?;
        let head: i64 = tx
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'journal'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?
            .unwrap_or(0);
        if ack > head - base {
            let journal = restart(&tx, sent.first_row).map_err(db_err)?;
            tx.commit().map_err(db_err)?;
            return Ok(Acked::Restarted { journal });
        }
        set_meta(&tx, ACK, ack.max(0)).map_err(db_err)?;
        tx.execute(
            "UPDATE journal SET shipped = (seq <= ?1) WHERE seq > ?2",
            params![base + ack.max(0), base],
        )
        .map_err(db_err)?;
        tx.execute(
            "DELETE FROM journal WHERE shipped = 1 AND time < ?1",
            [now - SHIPPED_KEPT],
        )
        .map_err(db_err)?;
        let flushed = flush_overflow(&tx, self.journal_max).map_err(db_err)?;
        let rest: bool = tx
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM journal WHERE seq > ?1)",
                [base + ack.max(0)],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        if flushed > 0 {
            crate::log(&format!(
                "the journal has room again: {flushed} row(s) account for the attempts refused while it was full"
            ));
        }
        Ok(Acked::Moved { rest })
    }
}

#[cfg(test)]
mod tests;
