//! The host's offline state (`/var/lib/pam-iam/offline.db`, root, 0600, the agent's
//! own SQLite file: nothing of it is the store's schema): the offline material `iamd`
//! handed this host after online logins, the watermarks, the offline failure counts,
//! the time of the last answer from a server, and the journal of what was decided
//! offline (audit rows, spent steps, failures) for the server to merge on reconnect.
//!
//! The offline rules ([`Offline::decide`]): a login is decided here only when no server
//! can be reached, and only for a user whose material this host holds and has not
//! expired, while the last answer of a server is at most `offline_max_age` old and the
//! local clock is not earlier than it; the password must unlock the material and the
//! code must match a step above both the last-synced and the local watermark; failures
//! count against a lower limit than the fleet's, each delayed.

use pam_iam::credentials::offline::{self, Material};
use pam_iam::fleet::proto::{Answer, LoginRequest};
use rusqlite::{Connection, OptionalExtension, params};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// Offline failures in a row that lock the user on this host.
pub const MAX_FAILURES: i64 = 3;
/// How long such a lock lasts.
pub const LOCK_SECONDS: i64 = 900;
/// The delay before answering an offline failure.
pub const FAIL_DELAY: Duration = Duration::from_secs(2);

/// The offline state.
pub struct Offline {
    db: Mutex<Connection>,
    /// Seconds material and replica stay usable offline (0: never offline).
    pub max_age: i64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS material (user TEXT PRIMARY KEY, body TEXT NOT NULL, issued_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state (user TEXT PRIMARY KEY, synced_watermark INTEGER NOT NULL DEFAULT -1,
  local_watermark INTEGER NOT NULL DEFAULT -1, failures INTEGER NOT NULL DEFAULT 0, locked_until INTEGER);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL,
  user TEXT NOT NULL, kind TEXT NOT NULL, serial TEXT, step INTEGER, reason TEXT NOT NULL,
  service TEXT, rhost TEXT, tty TEXT, shipped INTEGER NOT NULL DEFAULT 0);
";

fn db_err(e: rusqlite::Error) -> String {
    format!("the offline state: {e}")
}

impl Offline {
    /// Open (create, 0600) the state file.
    ///
    /// # Errors
    /// The file cannot be opened or made.
    pub fn open(path: &Path, max_age: i64) -> Result<Offline, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let c = Connection::open(path).map_err(db_err)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        c.busy_timeout(Duration::from_secs(5)).map_err(db_err)?;
        c.execute_batch(SCHEMA).map_err(db_err)?;
        Ok(Offline {
            db: Mutex::new(c),
            max_age,
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, String> {
        let c = self.db.lock().map_err(|_| "the offline state lock".to_string())?;
        f(&c).map_err(db_err)
    }

    /// A server answered at `now`.
    pub fn note_sync(&self, now: i64) {
        let _ = self.with(|c| {
            c.execute(
                "INSERT INTO meta(key, value) VALUES ('last_sync', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = max(value, ?1)",
                [now],
            )
        });
    }

    fn last_sync(&self) -> Result<Option<i64>, String> {
        self.with(|c| {
            c.query_row("SELECT value FROM meta WHERE key = 'last_sync'", [], |r| r.get(0))
                .optional()
        })
    }

    /// The material held for `user`.
    pub fn material(&self, user: &str) -> Result<Option<Material>, String> {
        let body: Option<String> = self.with(|c| {
            c.query_row("SELECT body FROM material WHERE user = ?1", [user], |r| r.get(0))
                .optional()
        })?;
        Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
    }

    /// Whether an online login should ask for fresh material (none, or half its life
    /// gone).
    pub fn wants_material(&self, user: &str, now: i64) -> bool {
        self.max_age > 0
            && !self
                .material(user)
                .ok()
                .flatten()
                .is_some_and(|m| now < m.issued_at + self.max_age / 2)
    }

    /// After an online success: keep new material (checked to be for this host and
    /// user) and the last-synced watermark.
    pub fn online_success(
        &self,
        host: &str,
        user: &str,
        material: Option<Material>,
        watermark: Option<i64>,
    ) -> Result<(), String> {
        if let Some(m) = material.filter(|m| m.host == host && m.user == user) {
            let body = serde_json::to_string(&m).map_err(|e| e.to_string())?;
            self.with(|c| {
                c.execute(
                    "INSERT INTO material(user, body, issued_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(user) DO UPDATE SET body = ?2, issued_at = ?3",
                    params![user, body, m.issued_at],
                )
            })?;
        }
        let w = watermark.unwrap_or(-1);
        self.with(|c| {
            c.execute(
                "INSERT INTO state(user, synced_watermark) VALUES (?1, ?2)
                 ON CONFLICT(user) DO UPDATE SET synced_watermark = max(synced_watermark, ?2),
                   failures = 0, locked_until = NULL",
                params![user, w],
            )
        })?;
        Ok(())
    }

    /// The prompts offline: a user with material gets the prompts of its device.
    pub fn prompts(&self, user: &str, known: bool) -> Answer {
        match self.material(user).ok().flatten() {
            Some(m) => Answer::Prompts {
                known: true,
                mfa: m.serial.is_some(),
            },
            None => Answer::Prompts { known, mfa: known },
        }
    }

    /// Decide a login while no server can be reached.
    pub fn decide(&self, l: &LoginRequest, now: i64) -> Answer {
        match self.decide_inner(l, now) {
            Ok(Ok((reason, mfa))) => Answer::Allow {
                reason,
                mfa,
                offline: true,
                auth_time: now,
            },
            Ok(Err(reason)) => Answer::Deny {
                reason,
                offline: true,
            },
            Err(e) => Answer::Error { reason: e },
        }
    }

    #[allow(clippy::type_complexity)]
    fn decide_inner(
        &self,
        l: &LoginRequest,
        now: i64,
    ) -> Result<Result<(String, bool), String>, String> {
        if self.max_age <= 0 {
            return Ok(Err("iamd is unreachable and offline logins are off (offline_max_age = 0)".into()));
        }
        let Some(last) = self.last_sync()? else {
            return Ok(Err("iamd is unreachable and has never answered this host".into()));
        };
        if now < last {
            return Ok(Err(format!(
                "the local clock ({now}) is earlier than the last sync ({last}): refusing offline"
            )));
        }
        if now - last > self.max_age {
            return Ok(Err(format!(
                "the replica is older than offline_max_age ({} s since the last sync, at most {})",
                now - last,
                self.max_age
            )));
        }
        let Some(m) = self.material(&l.user)? else {
            return Ok(Err(
                "iamd is unreachable and this host holds no offline material for the user".into(),
            ));
        };
        if now >= m.expires_at || now - m.issued_at > self.max_age {
            return Ok(Err("the offline material of the user has expired".into()));
        }
        let (synced, local, locked_until): (i64, i64, Option<i64>) = self
            .with(|c| {
                c.query_row(
                    "SELECT synced_watermark, local_watermark, locked_until FROM state WHERE user = ?1",
                    [&l.user],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
            })?
            .unwrap_or((-1, -1, None));
        if let Some(until) = locked_until.filter(|t| *t > now) {
            return self.fail(l, now, &format!("locked offline until {until}"));
        }
        let Some(password) = l.password.as_deref() else {
            return self.fail(l, now, "offline logins need the password");
        };
        let key = match offline::unlock(&m, password) {
            Ok(Some(k)) => k,
            Ok(None) => return self.fail(l, now, "wrong password"),
            Err(e) => return Err(e.to_string()),
        };
        let Some(serial) = m.serial.clone() else {
            self.journal(l, now, "login", None, None, "offline: password")?;
            self.clear(&l.user)?;
            return Ok(Ok(("password".into(), false)));
        };
        let above = synced.max(local).max(m.watermark);
        let code = l.code.as_deref().map_or("", |c| c.as_str());
        let Some(step) = offline::match_code(&m, &key, code, now, 1, above) else {
            return self.fail(l, now, "wrong or already used verification code");
        };
        self.with(|c| {
            c.execute(
                "INSERT INTO state(user, local_watermark) VALUES (?1, ?2)
                 ON CONFLICT(user) DO UPDATE SET local_watermark = max(local_watermark, ?2),
                   failures = 0, locked_until = NULL",
                params![l.user, step],
            )
        })?;
        self.journal(
            l,
            now,
            "login",
            Some(&serial),
            Some(step),
            "offline: password + verification code",
        )?;
        Ok(Ok(("password + verification code".into(), true)))
    }

    fn clear(&self, user: &str) -> Result<(), String> {
        self.with(|c| {
            c.execute(
                "UPDATE state SET failures = 0, locked_until = NULL WHERE user = ?1",
                [user],
            )
        })
        .map(|_| ())
    }

    /// Count an offline failure (locking at [`MAX_FAILURES`]), journal it, delay.
    #[allow(clippy::type_complexity)]
    fn fail(
        &self,
        l: &LoginRequest,
        now: i64,
        reason: &str,
    ) -> Result<Result<(String, bool), String>, String> {
        let failures: i64 = self.with(|c| {
            c.execute(
                "INSERT INTO state(user, failures) VALUES (?1, 1)
                 ON CONFLICT(user) DO UPDATE SET failures = failures + 1",
                [&l.user],
            )?;
            c.query_row("SELECT failures FROM state WHERE user = ?1", [&l.user], |r| {
                r.get(0)
            })
        })?;
        let mut why = reason.to_string();
        if failures >= MAX_FAILURES {
            self.with(|c| {
                c.execute(
                    "UPDATE state SET locked_until = ?2, failures = 0 WHERE user = ?1",
                    params![l.user, now + LOCK_SECONDS],
                )
            })?;
            why = format!("{reason}; locked offline for {LOCK_SECONDS} s");
        }
        self.journal(l, now, "failure", None, None, &format!("offline: {why}"))?;
        std::thread::sleep(FAIL_DELAY);
        Ok(Err(why))
    }

    fn journal(
        &self,
        l: &LoginRequest,
        now: i64,
        kind: &str,
        serial: Option<&str>,
        step: Option<i64>,
        reason: &str,
    ) -> Result<(), String> {
        self.with(|c| {
            c.execute(
                "INSERT INTO journal(time, user, kind, serial, step, reason, service, rhost, tty)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![now, l.user, kind, serial, step, reason, l.service, l.rhost, l.tty],
            )
        })
        .map(|_| ())
    }
}
