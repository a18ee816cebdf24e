//! The host's offline state (`/var/lib/pam-iam/offline.db`, root, 0600, the agent's
//! own SQLite file, not the store's schema): the offline material `iamd` handed this
//! host after online logins, the watermarks, the offline failure counts, the time of the
//! last sync with a server, and the journal of what was decided offline (audit rows,
//! spent steps, failures) for the server to merge on reconnect.
//!
//! The offline rules ([`Offline::decide`]), applied only when no server can be reached:
//! deny when offline logins are off (`offline_max_age = 0`), when no server ever
//! answered, when the local clock is earlier than the last sync or that sync is older
//! than `offline_max_age`, when this host holds no unexpired material for the user, and
//! in `mode=code` (the material opens with the password). Otherwise the password must
//! unlock the material (one argon2id) and the code must match a step above both the
//! last-synced and the local watermark, which then moves to it, or be one of the
//! material's recovery codes not yet spent on this host, which is then spent here. Failures count against
//! the host's offline limit (the one lockout rule, [`LockState::after_failure`], with
//! lower settings than a fleet's), each answered after a delay, recovery-code guesses
//! as TOTP ones. Every offline decision
//! is journaled, in order, in the same transaction as its state change; the journal is
//! shipped to `iamd` once a server answers again ([`crate::ship`], its position in
//! offline.db: [`journal`]).

use pam_iam::credentials::offline::{self, Held, Matched, Material};
use pam_iam::credentials::{ExpiryFacts, LockState, LockoutSettings};
use pam_iam::fleet::proto::LoginRequest;
use pam_iam::store::ReplicaMfaDevice;
use rusqlite::{Connection, OptionalExtension, params};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The delay before answering an offline failure (on top of libpam's `fail_delay`).
pub const FAIL_DELAY: Duration = Duration::from_secs(2);

/// The TOTP steps either side of now accepted offline (as online).
const WINDOW: i64 = 1;

/// The last contact with a server is written at most this often (seconds): a restart
/// then measures the offline session cap from at most this much earlier, never later.
const CONTACT_EVERY: i64 = 10;

/// Material past its use is dropped at most this often (seconds), on a sync.
const PRUNE_EVERY: i64 = 3600;

/// The state file's format (`PRAGMA user_version`): 2 added `journal_overflow` (an
/// agent of format 1 would not ship its counts, so it refuses the file); 3 added the
/// journal's `recovery` column and `recovery_spent` (a file of format 1 or 2 gains them
/// on open; an agent of format 2 would ship a recovery-code login as one without a
/// code, so it refuses the file).
const FORMAT: i64 = 3;

/// How long a recovery code spent here stays refused here (seconds): past the life of
/// any material that can hold it. Material is issued with the codes the server has not
/// seen spent, and lives at most [`offline::MAX_LIFETIME`]; a journal still unshipped a
/// lifetime after the spend is the remaining gap (see docs/fleet.md).
const RECOVERY_SPENT_KEPT: i64 = 2 * offline::MAX_LIFETIME;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS material (
  user TEXT PRIMARY KEY,
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
  user TEXT PRIMARY KEY,
  synced_watermark INTEGER NOT NULL DEFAULT -1,
  local_watermark INTEGER NOT NULL DEFAULT -1,
  failures INTEGER NOT NULL DEFAULT 0,
  last_failure INTEGER,
  locked_until INTEGER
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value NOT NULL);
CREATE TABLE IF NOT EXISTS expiry (
  user TEXT PRIMARY KEY,
  facts TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journal (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time INTEGER NOT NULL,
  user TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('login', 'failure', 'deny')),
  serial TEXT,
  step INTEGER,
  reason TEXT NOT NULL,
  service TEXT,
  rhost TEXT,
  tty TEXT,
  shipped INTEGER NOT NULL DEFAULT 0,
  recovery TEXT
);
CREATE TABLE IF NOT EXISTS recovery_spent (
  user TEXT NOT NULL,
  code TEXT NOT NULL,
  time INTEGER NOT NULL,
  PRIMARY KEY (user, code)
);
CREATE TABLE IF NOT EXISTS journal_overflow (
  user TEXT PRIMARY KEY,
  attempts INTEGER NOT NULL,
  first INTEGER NOT NULL,
  last INTEGER NOT NULL
);
";

/// What an offline login spent.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Spend<'a> {
    /// A TOTP step of a device (serial, step).
    Step(&'a str, i64),
    /// A recovery code, by its public id.
    Recovery(String),
}

/// How the offline rules decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    /// Proven offline.
    Allow {
        /// Audit text.
        reason: String,
        /// A code was verified.
        mfa: bool,
        /// The password's expiry facts of the user's last online login here, for
        /// `account` (the one rule, [`ExpiryFacts::state`]).
        expiry: ExpiryFacts,
    },
    /// Refused offline.
    Deny {
        /// Audit text.
        reason: String,
    },
    /// Refused without a journal row: the journal holds `journal_max_entries` rows not
    /// yet shipped (the attempt is counted in `journal_overflow`).
    Full {
        /// For the agent's log.
        reason: String,
    },
}

/// What a journal row records (the `kind` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Allowed.
    Login,
    /// Refused after a credential was checked (counted toward the lockout).
    Failure,
    /// Refused before any credential was checked (audited only).
    Deny,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Login => "login",
            Kind::Failure => "failure",
            Kind::Deny => "deny",
        }
    }
}

/// The offline state.
pub struct Offline {
    db: Mutex<Connection>,
    /// This host (the credential's name): material of another host is never used.
    host: String,
    /// Seconds material and replica stay usable offline (0: never offline).
    pub max_age: i64,
    /// The host's offline lockout.
    lockout: LockoutSettings,
    /// Before answering a failure.
    delay: Duration,
    /// The last contact written to the file (Unix seconds).
    contact_written: AtomicI64,
    /// The last prune of unusable material (Unix seconds, 0: none yet).
    pruned_at: AtomicI64,
    /// The journal may hold entries the server has not acknowledged (set with each
    /// entry written, cleared by the shipper once it found none left).
    journal_pending: AtomicBool,
    /// The most rows the journal holds (agent.toml `journal_max_entries`).
    pub journal_max: i64,
    /// The last share of the bound (percent) warned of.
    journal_warned: AtomicI64,
}

fn db_err(e: rusqlite::Error) -> String {
    format!("the offline state: {e}")
}

impl Offline {
    /// Open (create, 0600) the state file.
    ///
    /// # Errors
    /// The file cannot be opened or made, or is of a newer format.
    pub fn open(
        path: &Path,
        host: &str,
        max_age: i64,
        lockout: LockoutSettings,
    ) -> Result<Offline, String> {
        let at = |e: std::io::Error| format!("{}: {e}", path.display());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(at)?;
        }
        // Made 0600 before SQLite writes a byte (its journal files take the same mode).
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(at)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(at)?;
        let c = Connection::open(path).map_err(db_err)?;
        // The pragma, not `Connection::busy_timeout` (which links a symbol Debian 12's
        // SQLite lacks).
        c.pragma_update(None, "busy_timeout", 5000)
            .map_err(db_err)?;
        let format: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db_err)?;
        if format > FORMAT {
            return Err(format!(
                "{} is of format {format}, newer than this agent's {FORMAT}: upgrade the agent or move the file away",
                path.display()
            ));
        }
        c.execute_batch(SCHEMA).map_err(db_err)?;
        // Format 1's journal has no `recovery` column.
        let has: bool = c
            .query_row(
                "SELECT count(*) FROM pragma_table_info('journal') WHERE name = 'recovery'",
                [],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        if !has {
            c.execute_batch("ALTER TABLE journal ADD COLUMN recovery TEXT")
                .map_err(db_err)?;
        }
        c.execute_batch(&format!("PRAGMA user_version = {FORMAT}"))
            .map_err(db_err)?;
        let pending = journal::init(&c).map_err(db_err)?;
        Ok(Offline {
            db: Mutex::new(c),
            host: host.to_string(),
            max_age,
            lockout,
            delay: FAIL_DELAY,
            contact_written: AtomicI64::new(0),
            pruned_at: AtomicI64::new(0),
            journal_pending: AtomicBool::new(pending),
            journal_max: journal::DEFAULT_MAX_ENTRIES,
            journal_warned: AtomicI64::new(0),
        })
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, String> {
        self.db
            .lock()
            .map_err(|_| "the offline state lock is poisoned".to_string())
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, String> {
        f(&*self.conn()?).map_err(db_err)
    }

    /// A server confirmed the replica current at `now` (the host's clock). Kept as the
    /// maximum: a clock turned back never moves the last sync back with it.
    pub fn note_sync(&self, now: i64) {
        if let Err(e) = self.with(|c| {
            c.execute(
                "INSERT INTO meta(key, value) VALUES ('last_sync', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = max(value, ?1)",
                [now],
            )
        }) {
            crate::log(&format!("cannot note the sync: {e}"));
        }
        let pruned = self.pruned_at.load(Ordering::SeqCst);
        if now < pruned || now - pruned >= PRUNE_EVERY {
            self.pruned_at.store(now, Ordering::SeqCst);
            if let Err(e) = self.prune(now) {
                crate::log(&format!("cannot drop unusable offline material: {e}"));
            }
        }
    }

    /// Drop the material no offline login can use at `now` any more (expired, issued
    /// more than `offline_max_age` ago, or unreadable) with its user's expiry facts, so
    /// offline.db does not keep, for every user who ever logged in here, a password
    /// verifier and code tags a thief could still search; how many were dropped.
    ///
    /// # Errors
    /// The state file cannot be read or written.
    pub fn prune(&self, now: i64) -> Result<usize, String> {
        let mut c = self.conn()?;
        let tx = c.transaction().map_err(db_err)?;
        let rows: Vec<(String, String)> = {
            let mut st = tx
                .prepare("SELECT user, body FROM material")
                .map_err(db_err)?;
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .and_then(Iterator::collect)
                .map_err(db_err)?
        };
        let mut dropped = 0;
        for (user, body) in rows {
            let usable = serde_json::from_str::<Material>(&body)
                .is_ok_and(|m| now < m.expires_at && now - m.issued_at <= self.max_age);
            if !usable {
                tx.execute("DELETE FROM material WHERE user = ?1", [&user])
                    .map_err(db_err)?;
                tx.execute("DELETE FROM expiry WHERE user = ?1", [&user])
                    .map_err(db_err)?;
                dropped += 1;
            }
        }
        tx.execute(
            "DELETE FROM recovery_spent WHERE time < ?1",
            [now - RECOVERY_SPENT_KEPT],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(dropped)
    }

    /// A server answered at `now` (any answer: a login's, a refusal, a pull): kept, as a
    /// maximum, so the offline session cap and the clock rule count from the real last
    /// contact after the agent restarts. Written at most every [`CONTACT_EVERY`] s.
    pub fn note_contact(&self, now: i64) {
        let written = self.contact_written.load(Ordering::SeqCst);
        if now >= written && now - written < CONTACT_EVERY {
            return;
        }
        match self.with(|c| {
            c.execute(
                "INSERT INTO meta(key, value) VALUES ('last_contact', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = max(value, ?1)",
                [now],
            )
        }) {
            Ok(_) => self.contact_written.store(now, Ordering::SeqCst),
            Err(e) => crate::log(&format!("cannot note the contact: {e}")),
        }
    }

    /// The last time a server answered this host, as kept across restarts (a sync is a
    /// contact too); `None` when no server ever did.
    ///
    /// # Errors
    /// The state file cannot be read.
    pub fn last_contact(&self) -> Result<Option<i64>, String> {
        self.with(|c| {
            c.query_row(
                "SELECT max(value) FROM meta WHERE key IN ('last_contact', 'last_sync')",
                [],
                |r| r.get(0),
            )
        })
    }

    fn last_sync(&self) -> Result<Option<i64>, String> {
        self.with(|c| {
            c.query_row("SELECT value FROM meta WHERE key = 'last_sync'", [], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    /// The material held for `user` (an unreadable row counts as none).
    pub fn material(&self, user: &str) -> Result<Option<Material>, String> {
        let body: Option<String> = self.with(|c| {
            c.query_row("SELECT body FROM material WHERE user = ?1", [user], |r| {
                r.get(0)
            })
            .optional()
        })?;
        Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
    }

    /// What an online login tells the server this host holds for `user`.
    pub fn held(&self, user: &str) -> Option<Held> {
        self.material(user).ok().flatten().map(|m| m.held())
    }

    /// After an online success: keep new material (only if it is for this host and
    /// user, and whole), the last-synced watermark and the password's expiry facts the
    /// server answered (`None`: it sent none, so none is kept), and clear the offline
    /// failures.
    ///
    /// # Errors
    /// The state file cannot be written.
    pub fn online_success(
        &self,
        user: &str,
        material: Option<Material>,
        watermark: Option<i64>,
        expiry: Option<&ExpiryFacts>,
    ) -> Result<(), String> {
        let mut c = self.conn()?;
        let tx = c.transaction().map_err(db_err)?;
        if let Some(m) = material {
            if m.host != self.host || m.user != user {
                return Err(format!(
                    "refusing offline material for {}@{} on host {} for user {user}",
                    m.user, m.host, self.host
                ));
            }
            let body = serde_json::to_string(&m).map_err(|e| e.to_string())?;
            tx.execute(
                "INSERT INTO material(user, body) VALUES (?1, ?2)
                 ON CONFLICT(user) DO UPDATE SET body = ?2",
                params![user, body],
            )
            .map_err(db_err)?;
        }
        tx.execute(
            "INSERT INTO state(user, synced_watermark) VALUES (?1, ?2)
             ON CONFLICT(user) DO UPDATE SET synced_watermark = max(synced_watermark, ?2),
               failures = 0, last_failure = NULL, locked_until = NULL",
            params![user, watermark.unwrap_or(-1)],
        )
        .map_err(db_err)?;
        match expiry {
            Some(e) => {
                let facts = serde_json::to_string(e).map_err(|e| e.to_string())?;
                tx.execute(
                    "INSERT INTO expiry(user, facts) VALUES (?1, ?2)
                     ON CONFLICT(user) DO UPDATE SET facts = ?2",
                    params![user, facts],
                )
            }
            None => tx.execute("DELETE FROM expiry WHERE user = ?1", [user]),
        }
        .map_err(db_err)?;
        tx.commit().map_err(db_err)
    }

    /// The expiry facts kept for `user` (an unreadable row counts as none).
    fn expiry(&self, user: &str) -> Result<Option<ExpiryFacts>, String> {
        let facts: Option<String> = self.with(|c| {
            c.query_row("SELECT facts FROM expiry WHERE user = ?1", [user], |r| {
                r.get(0)
            })
            .optional()
        })?;
        Ok(facts.and_then(|f| serde_json::from_str(&f).ok()))
    }

    /// A server said `user` is not an IAM user (any more): drop its material.
    pub fn forget(&self, user: &str) {
        if let Err(e) = self.with(|c| c.execute("DELETE FROM material WHERE user = ?1", [user])) {
            crate::log(&format!(
                "cannot drop the offline material of {user:?}: {e}"
            ));
        }
    }

    /// The prompts offline: a user with material gets those of its device; any other
    /// user of the replica is asked for a code (and then refused without material).
    pub fn prompts(&self, user: &str, known: bool) -> (bool, bool) {
        match self.material(user).ok().flatten() {
            Some(m) => (true, m.serial.is_some()),
            None => (known, known),
        }
    }

    /// Decide a login of a user the replica knows, while no server can be reached;
    /// `device` is the MFA device the replica shows the user enabled
    /// ([`pam_iam::store::HostStore::replica_mfa_device`]).
    ///
    /// # Errors
    /// The state file failed (the login is refused).
    pub fn decide(
        &self,
        l: &LoginRequest,
        now: i64,
        device: Option<&ReplicaMfaDevice>,
    ) -> Result<Decided, String> {
        // No row can be written: refused before anything is checked.
        if let Some(full) = self.journal_full(l, now)? {
            return Ok(full);
        }
        let m = match self.usable_material(&l.user, now)? {
            Ok(m) => m,
            Err(why) => return self.deny(l, now, &why),
        };
        if let Err(why) = covers(&m, device) {
            return self.deny(l, now, &why);
        }
        // Without them `account` could not enforce the password's age offline.
        let Some(expiry) = self.expiry(&l.user)? else {
            return self.deny(
                l,
                now,
                "this host holds no password-expiry facts for the user (log in online once)",
            );
        };
        let Some(password) = l.password.as_deref() else {
            return self.deny(
                l,
                now,
                "mode=code cannot be decided offline (the offline material opens with the password)",
            );
        };
        let lock = self.lock_state(&l.user)?;
        if lock.is_locked(now) {
            let until = lock.locked_until.unwrap_or(now);
            return self.fail(l, now, &format!("locked offline until {until}"));
        }
        let key = match offline::unlock(&m, password) {
            Ok(Some(k)) => k,
            Ok(None) => return self.fail(l, now, "wrong password"),
            Err(e) => return Err(e.to_string()),
        };
        let Some(serial) = m.serial.clone() else {
            return self.succeed(l, now, None, "password", expiry);
        };
        let (synced, local) = self.watermarks(&l.user)?;
        let above = synced.max(local).max(m.watermark);
        let code = l.code.as_deref().map_or("", |c| c.as_str());
        match offline::match_answer(&m, &key, code, now, WINDOW, above) {
            Some(Matched::Step(step)) => self.succeed(
                l,
                now,
                Some(Spend::Step(&serial, step)),
                "password + verification code",
                expiry,
            ),
            Some(Matched::Recovery(id)) => self.succeed(
                l,
                now,
                Some(Spend::Recovery(id)),
                "password + recovery code",
                expiry,
            ),
            None => self.fail(l, now, "wrong or already used verification code"),
        }
    }

    /// The user's material if the rules let it be used at `now`, or why not.
    fn usable_material(&self, user: &str, now: i64) -> Result<Result<Material, String>, String> {
        if self.max_age <= 0 {
            return Ok(Err(
                "offline logins are off on this host (offline_max_age = 0)".into(),
            ));
        }
        let Some(last) = self.last_sync()? else {
            return Ok(Err("no server has ever answered this host".into()));
        };
        if now < last {
            return Ok(Err(format!(
                "the local clock ({now}) is earlier than the last sync ({last})"
            )));
        }
        if now - last > self.max_age {
            return Ok(Err(format!(
                "the replica is older than offline_max_age ({} s since the last sync, at most {})",
                now - last,
                self.max_age
            )));
        }
        let Some(m) = self.material(user)? else {
            return Ok(Err(
                "this host holds no offline material for the user (no online login here within offline_max_age)"
                    .into(),
            ));
        };
        if m.host != self.host || m.user != user {
            return Ok(Err(format!(
                "the offline material held for the user is for {}@{}, not this host",
                m.user, m.host
            )));
        }
        if now >= m.expires_at || now - m.issued_at > self.max_age {
            return Ok(Err(format!(
                "the offline material of the user expired (issued at {}, usable until {})",
                m.issued_at,
                m.expires_at.min(m.issued_at + self.max_age)
            )));
        }
        Ok(Ok(m))
    }

    fn lock_state(&self, user: &str) -> Result<LockState, String> {
        self.with(|c| read_lock(c, user))
    }

    fn watermarks(&self, user: &str) -> Result<(i64, i64), String> {
        Ok(self
            .with(|c| {
                c.query_row(
                    "SELECT synced_watermark, local_watermark FROM state WHERE user = ?1",
                    [user],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
            })?
            .unwrap_or((-1, -1)))
    }

    /// Refuse before any credential was checked: journaled, not counted.
    fn deny(&self, l: &LoginRequest, now: i64, why: &str) -> Result<Decided, String> {
        let c = self.conn()?;
        let r = journal(
            &c,
            self.journal_max,
            l,
            now,
            Kind::Deny,
            None,
            &format!("offline: {why}"),
        );
        drop(c);
        let Some(waiting) = Self::written(r)? else {
            return self.refused_full(l, now);
        };
        self.journal_filling(waiting);
        Ok(Decided::Deny { reason: why.into() })
    }

    /// The success: the step spent (only if it is still above both watermarks and the
    /// user was not locked meanwhile, checked in the same statement) or the recovery
    /// code (only if it was not spent here before), the failures cleared and the journal
    /// row, in one transaction.
    fn succeed(
        &self,
        l: &LoginRequest,
        now: i64,
        spent: Option<Spend<'_>>,
        how: &str,
        expiry: ExpiryFacts,
    ) -> Result<Decided, String> {
        let settled = {
            let mut c = self.conn()?;
            let tx = c.transaction().map_err(db_err)?;
            tx.execute("INSERT OR IGNORE INTO state(user) VALUES (?1)", [&l.user])
                .map_err(db_err)?;
            // A step must still be above both watermarks at this moment (a concurrent
            // login may have spent it), and a lock reached meanwhile wins.
            let changed = match &spent {
                Some(Spend::Step(_, step)) => tx.execute(
                    "UPDATE state SET local_watermark = ?2, failures = 0, last_failure = NULL,
                       locked_until = NULL
                     WHERE user = ?1 AND local_watermark < ?2 AND synced_watermark < ?2
                       AND (locked_until IS NULL OR locked_until <= ?3)",
                    params![l.user, step, now],
                ),
                Some(Spend::Recovery(_)) | None => tx.execute(
                    "UPDATE state SET failures = 0, last_failure = NULL, locked_until = NULL
                     WHERE user = ?1 AND (locked_until IS NULL OR locked_until <= ?2)",
                    params![l.user, now],
                ),
            }
            .map_err(db_err)?;
            // Not committed unless the code was unspent here (the failures stay).
            let changed = match &spent {
                Some(Spend::Recovery(id)) if changed == 1 => tx
                    .execute(
                        "INSERT INTO recovery_spent(user, code, time) VALUES (?1, ?2, ?3)
                         ON CONFLICT DO NOTHING",
                        params![l.user, id, now],
                    )
                    .map_err(db_err)?,
                _ => changed,
            };
            if changed == 1 {
                let reason = format!("offline: {how}");
                let r = journal(
                    &tx,
                    self.journal_max,
                    l,
                    now,
                    Kind::Login,
                    spent.as_ref(),
                    &reason,
                );
                if r.is_ok() {
                    tx.commit().map_err(db_err)?;
                } else {
                    // Full (or failed): nothing spent, the login is not allowed.
                    drop(tx);
                }
                drop(c);
                let Some(waiting) = Self::written(r)? else {
                    return self.refused_full(l, now);
                };
                self.journal_filling(waiting);
            }
            changed == 1
        };
        if settled {
            Ok(Decided::Allow {
                reason: how.into(),
                mfa: spent.is_some(),
                expiry,
            })
        } else {
            self.fail(
                l,
                now,
                "verification or recovery code already used, or locked during this login",
            )
        }
    }

    /// Count a failure (the one lockout rule with the host's offline settings), journal
    /// it in the same transaction, and answer after the delay.
    fn fail(&self, l: &LoginRequest, now: i64, reason: &str) -> Result<Decided, String> {
        let why = {
            let mut c = self.conn()?;
            let tx = c.transaction().map_err(db_err)?;
            let before = read_lock(&tx, &l.user).map_err(db_err)?;
            let after = before.after_failure(&self.lockout, now);
            tx.execute(
                "INSERT INTO state(user, failures, last_failure, locked_until) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(user) DO UPDATE SET failures = ?2, last_failure = ?3, locked_until = ?4",
                params![l.user, after.failed_attempts, after.last_failure, after.locked_until],
            )
            .map_err(db_err)?;
            let why = match after.locked_until {
                Some(until) if !before.is_locked(now) => {
                    format!("{reason}; locked offline until {until}")
                }
                _ => reason.to_string(),
            };
            let r = journal(
                &tx,
                self.journal_max,
                l,
                now,
                Kind::Failure,
                None,
                &format!("offline: {why}"),
            );
            if r.is_ok() {
                tx.commit().map_err(db_err)?;
            } else {
                // Full (or failed): the failure is not counted either.
                drop(tx);
            }
            drop(c);
            let Some(waiting) = Self::written(r)? else {
                return self.refused_full(l, now);
            };
            self.journal_filling(waiting);
            why
        };
        std::thread::sleep(self.delay);
        Ok(Decided::Deny { reason: why })
    }
}

/// Append one decision to the journal, unless `max` rows wait already (text cut to
/// what the server takes); the rows waiting before it.
fn journal(
    c: &Connection,
    max: i64,
    l: &LoginRequest,
    now: i64,
    kind: Kind,
    spent: Option<&Spend<'_>>,
    reason: &str,
) -> Result<i64, journal::Unwritten> {
    let waiting = journal::room(c, max)?;
    let clip = |s: Option<&String>| s.cloned().map(journal::clip);
    let (serial, step, recovery) = match spent {
        Some(Spend::Step(serial, step)) => {
            (Some(journal::clip(serial.to_string())), Some(*step), None)
        }
        Some(Spend::Recovery(id)) => (None, None, Some(id.clone())),
        None => (None, None, None),
    };
    c.execute(
        "INSERT INTO journal(time, user, kind, serial, step, recovery, reason, service, rhost, tty)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            now,
            journal::clip(l.user.clone()),
            kind.as_str(),
            serial,
            step,
            recovery,
            journal::clip(reason.to_string()),
            clip(l.service.as_ref()),
            clip(l.rhost.as_ref()),
            clip(l.tty.as_ref())
        ],
    )?;
    Ok(waiting)
}

pub mod journal;
mod rules;
use rules::{covers, read_lock};

#[cfg(test)]
mod tests;
