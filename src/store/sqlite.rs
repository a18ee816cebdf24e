//! SQLite implementation of [`Store`]. One connection per process; every open sets WAL,
//! `busy_timeout`, `foreign_keys`, `synchronous=NORMAL` and `temp_store=MEMORY`; every method is one
//! transaction, `BEGIN IMMEDIATE` when it writes.

/// Role-session additions of the sts part (kept in their own file).
pub mod sts_ext;

use super::safe_open;
use super::schema::MIGRATIONS;
use super::*;
use crate::credentials::second_factor::{Admission, Proof, Settled, Slot, Throttle};
use crate::credentials::{HashParams, LockState, LockoutSettings, PasswordPolicy, ids};
use rusqlite::types::Value;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};
use std::time::Duration;
use zeroize::Zeroizing;

/// How long an administrator's writer waits for another writer before giving up (logins
/// wait [`super::LOGIN_BUSY_TIMEOUT`]).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// WAL pages after which a commit checkpoints (see `open_prepared`).
const WAL_AUTOCHECKPOINT: i64 = 100;
/// AWS quotas enforced here.
const MAX_TAGS: i64 = 50;
const MAX_ACCESS_KEYS: i64 = 2;
const MAX_SSH_KEYS: i64 = 5;
const MAX_POLICY_VERSIONS: i64 = 5;
const MAX_ATTACHED: i64 = 10;
const MAX_GROUPS_PER_USER: i64 = 10;

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
}

/// `Ok` when the statement changed a row; otherwise the entity was not there
/// (NoSuchEntity with `missing`'s message), so the caller's transaction rolls back.
fn found(changed: usize, missing: impl FnOnce() -> String) -> Result<()> {
    if changed == 0 {
        return Err(nse(missing()));
    }
    Ok(())
}

fn nse(msg: String) -> StoreError {
    StoreError::NoSuchEntity(msg)
}

fn version_num(version_id: &str) -> Result<i64> {
    version_id
        .strip_prefix('v')
        .and_then(|n| n.parse::<i64>().ok())
        .ok_or_else(|| {
            StoreError::Validation(format!(
                "Invalid version id {version_id}: expected v1, v2, …"
            ))
        })
}

fn inline_table(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::User => "user_inline",
        PrincipalKind::Group => "group_inline",
        PrincipalKind::Role => "role_inline",
    }
}

fn attached_table(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::User => "user_attached",
        PrincipalKind::Group => "group_attached",
        PrincipalKind::Role => "role_attached",
    }
}

fn tag_table(t: TagTarget) -> (&'static str, &'static str) {
    match t {
        TagTarget::User => ("user_tags", "user_pk"),
        TagTarget::Role => ("role_tags", "role_pk"),
    }
}

impl SqliteStore {
    /// Open (see [`super::open`]).
    ///
    /// # Errors
    /// As [`super::open`].
    pub fn open(opts: &OpenOptions) -> Result<SqliteStore> {
        Self::open_waiting(opts, BUSY_TIMEOUT)
    }

    /// [`SqliteStore::open`] waiting at most `busy_timeout` for another writer's lock
    /// (logins use [`super::LOGIN_BUSY_TIMEOUT`]).
    ///
    /// # Errors
    /// As [`super::open`].
    pub fn open_waiting(opts: &OpenOptions, busy_timeout: Duration) -> Result<SqliteStore> {
        let path = safe_open::prepare(opts)?;
        Self::open_prepared(path.clone(), opts, busy_timeout)
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
        migrate(&conn, read_only)?;
        let account_id: String =
            conn.query_row("SELECT account_id FROM account WHERE id = 1", [], |r| {
                r.get(0)
            })?;
        Ok(SqliteStore {
            conn,
            account_id,
            read_only,
            path,
        })
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        if self.read_only {
            return Err(StoreError::ReadOnly(
                "this operation writes; open the store read-write (as root)".into(),
            ));
        }
        let run = || {
            // Unstoppable by the user who started this process while it waits for and
            // holds the write lock (sudo, su, passwd keep their caller's real uid).
            let _unstoppable = super::stop_guard::StopGuard::engage();
            let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        };
        run().map_err(|e| explain_full_disk(e, &self.path))
    }

    fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    fn arn(&self, kind: &str, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:{kind}{path}{name}", self.account_id)
    }
}

/// Bring the schema up to date inside one `BEGIN IMMEDIATE` transaction (so two
/// processes opening a fresh store at once migrate it exactly once).
fn migrate(conn: &Connection, read_only: bool) -> Result<()> {
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
    let _unstoppable = super::stop_guard::StopGuard::engage();
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let v: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, m) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(v).unwrap_or(0))
    {
        tx.execute_batch(m)?;
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
    Ok(())
}

// ---- lookups shared by the methods ---------------------------------------------------------

fn user_pk(tx: &Connection, name: &str) -> Result<i64> {
    tx.query_row("SELECT pk FROM users WHERE name = ?1", [name], |r| r.get(0))
        .optional()?
        .ok_or_else(|| nse(format!("The user with name {name} cannot be found.")))
}

fn group_pk(tx: &Connection, name: &str) -> Result<i64> {
    tx.query_row("SELECT pk FROM groups WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or_else(|| nse(format!("The group with name {name} cannot be found.")))
}

fn role_pk(tx: &Connection, name: &str) -> Result<i64> {
    tx.query_row("SELECT pk FROM roles WHERE name = ?1", [name], |r| r.get(0))
        .optional()?
        .ok_or_else(|| nse(format!("The role with name {name} cannot be found.")))
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
    .ok_or_else(|| nse(format!("Policy {arn} does not exist or is not attachable.")))
}

fn tags_of(tx: &Connection, target: TagTarget, pk: i64) -> Result<Vec<Tag>> {
    let (table, col) = tag_table(target);
    let mut st = tx.prepare(&format!(
        "SELECT key, value FROM {table} WHERE {col} = ?1 ORDER BY key"
    ))?;
    let rows = st.query_map([pk], |r| {
        Ok(Tag {
            key: r.get(0)?,
            value: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn put_tags(tx: &Connection, target: TagTarget, pk: i64, tags: &[Tag]) -> Result<()> {
    let (table, col) = tag_table(target);
    for t in tags {
        validate_tag(t)?;
        tx.execute(
            &format!("INSERT INTO {table} ({col}, key, value) VALUES (?1, ?2, ?3) ON CONFLICT DO UPDATE SET value = excluded.value"),
            params![pk, t.key, t.value],
        )?;
    }
    let n: i64 = tx.query_row(
        &format!("SELECT count(*) FROM {table} WHERE {col} = ?1"),
        [pk],
        |r| r.get(0),
    )?;
    if n > MAX_TAGS {
        return Err(StoreError::LimitExceeded(format!(
            "An entity can have at most {MAX_TAGS} tags."
        )));
    }
    Ok(())
}

fn validate_tag(t: &Tag) -> Result<()> {
    if t.key.is_empty() || t.key.chars().count() > 128 || t.value.chars().count() > 256 {
        return Err(StoreError::Validation(format!(
            "Tag key must be 1-128 characters and value at most 256 characters: {}",
            t.key
        )));
    }
    if t.key.to_ascii_lowercase().starts_with("aws:") {
        return Err(StoreError::Validation(format!(
            "Tag keys may not start with aws: ({})",
            t.key
        )));
    }
    Ok(())
}

const USER_COLS: &str = "u.pk, u.name, u.user_id, u.path, u.created, p.arn, u.password_last_used \
     FROM users u LEFT JOIN policies p ON p.pk = u.boundary_pk";

impl SqliteStore {
    fn user_row(&self, r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, User)> {
        let name: String = r.get(1)?;
        let path: String = r.get(3)?;
        Ok((
            r.get(0)?,
            User {
                arn: self.arn("user", &path, &name),
                name,
                user_id: r.get(2)?,
                path,
                create_date: r.get(4)?,
                permissions_boundary: r.get(5)?,
                password_last_used: r.get(6)?,
                tags: Vec::new(),
            },
        ))
    }

    fn users_where(&self, tx: &Connection, cond: &str, arg: Value) -> Result<Vec<User>> {
        let mut st = tx.prepare(&format!("SELECT {USER_COLS} WHERE {cond} ORDER BY u.name"))?;
        let rows = st
            .query_map([arg], |r| self.user_row(r))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (pk, mut u) in rows {
            u.tags = tags_of(tx, TagTarget::User, pk)?;
            out.push(u);
        }
        Ok(out)
    }

    fn one_user(&self, tx: &Connection, cond: &str, arg: Value, what: &str) -> Result<User> {
        self.users_where(tx, cond, arg)?
            .into_iter()
            .next()
            .ok_or_else(|| nse(format!("The user with {what} cannot be found.")))
    }

    fn group_row(&self, r: &rusqlite::Row<'_>) -> rusqlite::Result<Group> {
        let name: String = r.get(0)?;
        let path: String = r.get(2)?;
        Ok(Group {
            arn: self.arn("group", &path, &name),
            name,
            group_id: r.get(1)?,
            path,
            create_date: r.get(3)?,
        })
    }

    fn groups_where(&self, tx: &Connection, sql_tail: &str, arg: Value) -> Result<Vec<Group>> {
        let mut st = tx.prepare(&format!(
            "SELECT g.name, g.group_id, g.path, g.created FROM groups g {sql_tail} ORDER BY g.name"
        ))?;
        let rows = st.query_map([arg], |r| self.group_row(r))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn policies_where(
        &self,
        tx: &Connection,
        cond: &str,
        arg: Value,
    ) -> Result<Vec<ManagedPolicy>> {
        let sql = format!(
            "SELECT p.name, p.policy_id, p.arn, p.path, p.description, p.default_version, p.created, p.updated,
               (SELECT count(*) FROM user_attached a WHERE a.policy_pk = p.pk)
             + (SELECT count(*) FROM group_attached a WHERE a.policy_pk = p.pk)
             + (SELECT count(*) FROM role_attached a WHERE a.policy_pk = p.pk),
               (SELECT count(*) FROM users x WHERE x.boundary_pk = p.pk)
             + (SELECT count(*) FROM roles x WHERE x.boundary_pk = p.pk)
             FROM policies p WHERE {cond} ORDER BY p.name"
        );
        let mut st = tx.prepare(&sql)?;
        let rows = st.query_map([arg], |r| {
            Ok(ManagedPolicy {
                name: r.get(0)?,
                policy_id: r.get(1)?,
                arn: r.get(2)?,
                path: r.get(3)?,
                description: r.get(4)?,
                default_version_id: format!("v{}", r.get::<_, i64>(5)?),
                create_date: r.get(6)?,
                update_date: r.get(7)?,
                attachment_count: r.get(8)?,
                permissions_boundary_usage_count: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn roles_where(&self, tx: &Connection, cond: &str, arg: Value) -> Result<Vec<Role>> {
        let mut st = tx.prepare(&format!(
            "SELECT r.pk, r.name, r.role_id, r.path, r.trust, r.description, r.max_session, p.arn, r.created
             FROM roles r LEFT JOIN policies p ON p.pk = r.boundary_pk WHERE {cond} ORDER BY r.name"
        ))?;
        let rows = st
            .query_map([arg], |r| {
                let name: String = r.get(1)?;
                let path: String = r.get(3)?;
                Ok((
                    r.get::<_, i64>(0)?,
                    Role {
                        arn: self.arn("role", &path, &name),
                        name,
                        role_id: r.get(2)?,
                        path,
                        assume_role_policy_document: r.get(4)?,
                        description: r.get(5)?,
                        max_session_duration: r.get(6)?,
                        permissions_boundary: r.get(7)?,
                        create_date: r.get(8)?,
                        tags: Vec::new(),
                    },
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::new();
        for (pk, mut role) in rows {
            role.tags = tags_of(tx, TagTarget::Role, pk)?;
            out.push(role);
        }
        Ok(out)
    }

    fn mfa_where(&self, tx: &Connection, cond: &str, arg: Value) -> Result<Vec<MfaDevice>> {
        let mut st = tx.prepare(&format!(
            "SELECT d.serial, d.name, d.path, u.name, d.enabled, d.created
             FROM mfa_devices d LEFT JOIN users u ON u.pk = d.user_pk WHERE {cond} ORDER BY d.name"
        ))?;
        let rows = st.query_map([arg], |r| {
            Ok(MfaDevice {
                serial_number: r.get(0)?,
                name: r.get(1)?,
                path: r.get(2)?,
                user_name: r.get(3)?,
                enable_date: r.get(4)?,
                create_date: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn applicable(
        &self,
        tx: &Connection,
        kind: PrincipalKind,
        pk: i64,
        group: Option<&str>,
    ) -> Result<Vec<ApplicablePolicy>> {
        let mut out = Vec::new();
        let mut st = tx.prepare(&format!(
            "SELECT name, document FROM {} WHERE owner_pk = ?1 ORDER BY name",
            inline_table(kind)
        ))?;
        let rows = st.query_map([pk], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (name, document) = row?;
            let origin = match group {
                Some(g) => PolicyOrigin::GroupInline(g.to_string()),
                None => PolicyOrigin::Inline,
            };
            out.push(ApplicablePolicy {
                source: name.clone(),
                name,
                origin,
                document,
            });
        }
        let mut st = tx.prepare(&format!(
            "SELECT p.arn, p.name, v.document FROM {} a JOIN policies p ON p.pk = a.policy_pk
             JOIN policy_versions v ON v.policy_pk = p.pk AND v.version = p.default_version
             WHERE a.owner_pk = ?1 ORDER BY p.name",
            attached_table(kind)
        ))?;
        let rows = st.query_map([pk], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (arn, name, document) = row?;
            let origin = match group {
                Some(g) => PolicyOrigin::GroupAttached(g.to_string()),
                None => PolicyOrigin::Attached,
            };
            out.push(ApplicablePolicy {
                source: arn,
                name,
                origin,
                document,
            });
        }
        Ok(out)
    }
}

fn boundary_of(tx: &Connection, table: &str, pk: i64) -> Result<Option<ApplicablePolicy>> {
    Ok(tx
        .query_row(
            &format!(
                "SELECT p.arn, p.name, v.document FROM {table} x JOIN policies p ON p.pk = x.boundary_pk
                 JOIN policy_versions v ON v.policy_pk = p.pk AND v.version = p.default_version WHERE x.pk = ?1"
            ),
            [pk],
            |r| {
                Ok(ApplicablePolicy {
                    source: r.get(0)?,
                    name: r.get(1)?,
                    origin: PolicyOrigin::Boundary,
                    document: r.get(2)?,
                })
            },
        )
        .optional()?)
}

fn count(tx: &Connection, sql: &str, pk: i64) -> Result<i64> {
    Ok(tx.query_row(sql, [pk], |r| r.get(0))?)
}

fn lock_state(tx: &Connection, pk: i64) -> Result<LockState> {
    Ok(tx
        .query_row(
            "SELECT failed_attempts, last_failure, locked_until FROM login_failures WHERE user_pk = ?1",
            [pk],
            |r| Ok(LockState { failed_attempts: r.get(0)?, last_failure: r.get(1)?, locked_until: r.get(2)? }),
        )
        .optional()?
        .unwrap_or_default())
}

/// One more failure under the lockout rule, saved; the state after.
fn count_failure(tx: &Connection, pk: i64, now: i64) -> Result<LockState> {
    let next = lock_state(tx, pk)?.after_failure(&lockout_settings(tx)?, now);
    tx.execute(
        "INSERT INTO login_failures (user_pk, failed_attempts, last_failure, locked_until) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO UPDATE SET failed_attempts = excluded.failed_attempts,
           last_failure = excluded.last_failure, locked_until = excluded.locked_until",
        params![pk, next.failed_attempts, next.last_failure, next.locked_until],
    )?;
    Ok(next)
}

/// When the user is locked at `now`: the attempt counts as a failure, and the lock's end
/// (after counting) is the answer.
fn refuse_if_locked(tx: &Connection, pk: i64, now: i64) -> Result<Option<i64>> {
    if !lock_state(tx, pk)?.is_locked(now) {
        return Ok(None);
    }
    let after = count_failure(tx, pk, now)?;
    Ok(Some(after.locked_until.unwrap_or(now)))
}

fn lockout_settings(tx: &Connection) -> Result<LockoutSettings> {
    Ok(tx
        .query_row(
            "SELECT max_failed_attempts, lockout_duration FROM lockout_settings WHERE id = 1",
            [],
            |r| {
                Ok(LockoutSettings {
                    max_failed_attempts: r.get(0)?,
                    lockout_duration_seconds: r.get(1)?,
                })
            },
        )
        .optional()?
        .unwrap_or_default())
}

fn mfa_secret_where(tx: &Connection, cond: &str, arg: Value) -> Result<Option<MfaSecret>> {
    Ok(tx
        .query_row(
            &format!(
                "SELECT d.serial, d.seed, d.watermark, u.name FROM mfa_devices d
                 LEFT JOIN users u ON u.pk = d.user_pk WHERE {cond}"
            ),
            [arg],
            |r| {
                Ok(MfaSecret {
                    serial_number: r.get(0)?,
                    seed: Zeroizing::new(r.get(1)?),
                    watermark: r.get(2)?,
                    user_name: r.get(3)?,
                })
            },
        )
        .optional()?)
}

fn login_profile(tx: &Connection, pk: i64, name: &str) -> Result<Option<LoginProfile>> {
    Ok(tx
        .query_row(
            "SELECT hash, reset_required, created, changed FROM login_profiles WHERE user_pk = ?1",
            [pk],
            |r| {
                Ok(LoginProfile {
                    user_name: name.to_string(),
                    password_hash: Zeroizing::new(r.get(0)?),
                    password_reset_required: r.get(1)?,
                    create_date: r.get(2)?,
                    password_last_changed: r.get(3)?,
                })
            },
        )
        .optional()?)
}

fn access_key_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AccessKey> {
    let status: String = r.get(2)?;
    Ok(AccessKey {
        access_key_id: r.get(0)?,
        user_name: r.get(1)?,
        status: Status::parse(&status).unwrap_or(Status::Inactive),
        create_date: r.get(3)?,
        last_used_date: r.get(4)?,
        last_used_service: r.get(5)?,
    })
}

fn ssh_key_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SshKey> {
    let status: String = r.get(4)?;
    Ok(SshKey {
        ssh_public_key_id: r.get(0)?,
        user_name: r.get(1)?,
        body: r.get(2)?,
        fingerprint: r.get(3)?,
        status: Status::parse(&status).unwrap_or(Status::Inactive),
        upload_date: r.get(5)?,
    })
}

fn session_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RoleSession> {
    Ok(RoleSession {
        session_id: r.get(0)?,
        user_name: r.get(1)?,
        role_name: r.get(2)?,
        session_name: r.get(3)?,
        token_hash: r.get(4)?,
        issued: r.get(5)?,
        expires: r.get(6)?,
        scope: r.get(7)?,
        revoked: r.get(8)?,
        mfa_time: r.get(9)?,
        role_id: r.get(10)?,
        user_id: r.get(11)?,
    })
}

/// Insert one role session (shared with the sts additions, which add its policy in the
/// same transaction).
pub(super) fn insert_role_session(tx: &Connection, s: &RoleSession) -> Result<()> {
    tx.execute(
        &format!("INSERT INTO role_sessions ({SESSION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
        params![s.session_id, s.user_name, s.role_name, s.session_name, s.token_hash, s.issued, s.expires, s.scope, s.revoked, s.mfa_time, s.role_id, s.user_id],
    )?;
    Ok(())
}

const SESSION_COLS: &str = "session_id, user_name, role_name, session_name, token_hash, issued, expires, scope, revoked, mfa_time, role_id, user_id";

/// Path prefixes compare exactly (case-sensitive, no wildcards), as AWS's PathPrefix.
fn exact_prefix(prefix: &str) -> Value {
    Value::Text(prefix.to_string())
}

impl Store for SqliteStore {
    fn account_id(&self) -> Result<String> {
        Ok(self.account_id.clone())
    }

    fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn hash_params(&self) -> Result<HashParams> {
        let v: Option<String> = self
            .conn
            .query_row("SELECT value FROM settings WHERE key = 'argon2'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match v {
            None => Ok(HashParams::default()),
            Some(s) => serde_json::from_str(&s)
                .map_err(|e| StoreError::Database(format!("bad argon2 setting: {e}"))),
        }
    }

    fn set_hash_params(&self, p: &HashParams) -> Result<()> {
        let json = serde_json::to_string(p).map_err(|e| StoreError::Database(e.to_string()))?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES ('argon2', ?1) ON CONFLICT DO UPDATE SET value = excluded.value",
                [json],
            )?;
            Ok(())
        })
    }

    fn account_summary(&self) -> Result<AccountSummary> {
        self.read(|tx| {
            let c = |sql: &str| -> Result<i64> { Ok(tx.query_row(sql, [], |r| r.get(0))?) };
            let entries = vec![
                ("Users", c("SELECT count(*) FROM users")?),
                ("UsersQuota", 5000),
                ("Groups", c("SELECT count(*) FROM groups")?),
                ("GroupsQuota", 300),
                ("GroupsPerUserQuota", MAX_GROUPS_PER_USER),
                ("Roles", c("SELECT count(*) FROM roles")?),
                ("RolesQuota", 1000),
                ("Policies", c("SELECT count(*) FROM policies")?),
                ("PoliciesQuota", 1500),
                ("PolicyVersionsInUse", c(
                    "SELECT (SELECT count(*) FROM user_attached) + (SELECT count(*) FROM group_attached) + (SELECT count(*) FROM role_attached)",
                )?),
                ("PolicyVersionsInUseQuota", 10000),
                ("VersionsPerPolicyQuota", MAX_POLICY_VERSIONS),
                ("AttachedPoliciesPerUserQuota", MAX_ATTACHED),
                ("AttachedPoliciesPerGroupQuota", MAX_ATTACHED),
                ("AttachedPoliciesPerRoleQuota", MAX_ATTACHED),
                ("MFADevices", c("SELECT count(*) FROM mfa_devices")?),
                ("MFADevicesInUse", c("SELECT count(*) FROM mfa_devices WHERE user_pk IS NOT NULL")?),
                ("AccessKeysPerUserQuota", MAX_ACCESS_KEYS),
                ("AccountAccessKeysPresent", 0),
                ("AccountMFAEnabled", 0),
            ];
            Ok(AccountSummary { entries })
        })
    }

    // ---- users ------------------------------------------------------------------------------

    fn create_user(&self, u: &NewUser, now: i64) -> Result<User> {
        self.write(|tx| {
            let exists: Option<i64> = tx.query_row("SELECT pk FROM users WHERE name = ?1", [&u.name], |r| r.get(0)).optional()?;
            if exists.is_some() {
                return Err(StoreError::EntityAlreadyExists(format!("User with name {} already exists.", u.name)));
            }
            let boundary = match &u.permissions_boundary {
                Some(arn) => Some(policy_pk(tx, arn)?),
                None => None,
            };
            let id = ids::new_id(ids::IdKind::User)?;
            tx.execute(
                "INSERT INTO users (name, user_id, path, created, boundary_pk) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![u.name, id, u.path, now, boundary],
            )?;
            let pk = tx.last_insert_rowid();
            put_tags(tx, TagTarget::User, pk, &u.tags)?;
            self.one_user(tx, "u.pk = ?1", Value::Integer(pk), "that id")
        })
    }

    fn get_user(&self, name: &str) -> Result<User> {
        self.read(|tx| {
            self.one_user(
                tx,
                "u.name = ?1",
                Value::Text(name.into()),
                &format!("name {name}"),
            )
        })
    }

    fn get_user_by_id(&self, user_id: &str) -> Result<User> {
        self.read(|tx| {
            self.one_user(
                tx,
                "u.user_id = ?1",
                Value::Text(user_id.into()),
                &format!("id {user_id}"),
            )
        })
    }

    fn list_users(&self, path_prefix: &str) -> Result<Vec<User>> {
        self.read(|tx| {
            self.users_where(
                tx,
                "substr(u.path, 1, length(?1)) = ?1",
                exact_prefix(path_prefix),
            )
        })
    }

    fn update_user(
        &self,
        name: &str,
        new_name: Option<&str>,
        new_path: Option<&str>,
    ) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, name)?;
            if let Some(n) = new_name {
                if n != name
                    && tx
                        .query_row("SELECT 1 FROM users WHERE name = ?1", [n], |_| Ok(()))
                        .optional()?
                        .is_some()
                {
                    return Err(StoreError::EntityAlreadyExists(format!(
                        "User with name {n} already exists."
                    )));
                }
                tx.execute("UPDATE users SET name = ?1 WHERE pk = ?2", params![n, pk])?;
            }
            if let Some(p) = new_path {
                tx.execute("UPDATE users SET path = ?1 WHERE pk = ?2", params![p, pk])?;
            }
            Ok(())
        })
    }

    fn delete_user(&self, name: &str) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, name)?;
            let checks: [(&str, &str); 7] = [
                (
                    "SELECT count(*) FROM login_profiles WHERE user_pk = ?1",
                    "must delete login profile first",
                ),
                (
                    "SELECT count(*) FROM access_keys WHERE user_pk = ?1",
                    "must delete access keys first",
                ),
                (
                    "SELECT count(*) FROM ssh_keys WHERE user_pk = ?1",
                    "must delete SSH public keys first",
                ),
                (
                    "SELECT count(*) FROM mfa_devices WHERE user_pk = ?1",
                    "must deactivate MFA devices first",
                ),
                (
                    "SELECT count(*) FROM group_members WHERE user_pk = ?1",
                    "must remove user from all groups first",
                ),
                (
                    "SELECT count(*) FROM user_attached WHERE owner_pk = ?1",
                    "must detach all policies first",
                ),
                (
                    "SELECT count(*) FROM user_inline WHERE owner_pk = ?1",
                    "must delete policies first",
                ),
            ];
            for (sql, msg) in checks {
                if count(tx, sql, pk)? > 0 {
                    return Err(StoreError::DeleteConflict(format!(
                        "Cannot delete entity, {msg}."
                    )));
                }
            }
            tx.execute("DELETE FROM users WHERE pk = ?1", [pk])?;
            Ok(())
        })
    }

    fn set_user_boundary(&self, name: &str, policy_arn: Option<&str>) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, name)?;
            let b = match policy_arn {
                Some(a) => Some(policy_pk(tx, a)?),
                None => None,
            };
            tx.execute(
                "UPDATE users SET boundary_pk = ?1 WHERE pk = ?2",
                params![b, pk],
            )?;
            Ok(())
        })
    }

    // ---- tags ---------------------------------------------------------------------------------

    fn tag(&self, target: TagTarget, name: &str, tags: &[Tag]) -> Result<()> {
        self.write(|tx| {
            let pk = match target {
                TagTarget::User => user_pk(tx, name)?,
                TagTarget::Role => role_pk(tx, name)?,
            };
            put_tags(tx, target, pk, tags)
        })
    }

    fn untag(&self, target: TagTarget, name: &str, keys: &[String]) -> Result<()> {
        self.write(|tx| {
            let pk = match target {
                TagTarget::User => user_pk(tx, name)?,
                TagTarget::Role => role_pk(tx, name)?,
            };
            let (table, col) = tag_table(target);
            for k in keys {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE {col} = ?1 AND key = ?2"),
                    params![pk, k],
                )?;
            }
            Ok(())
        })
    }

    fn list_tags(&self, target: TagTarget, name: &str) -> Result<Vec<Tag>> {
        self.read(|tx| {
            let pk = match target {
                TagTarget::User => user_pk(tx, name)?,
                TagTarget::Role => role_pk(tx, name)?,
            };
            tags_of(tx, target, pk)
        })
    }

    // ---- login profiles -----------------------------------------------------------------------

    fn create_login_profile(
        &self,
        user: &str,
        hash: &str,
        reset_required: bool,
        now: i64,
    ) -> Result<LoginProfile> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            if login_profile(tx, pk, user)?.is_some() {
                return Err(StoreError::EntityAlreadyExists(format!("Login Profile for user {user} already exists.")));
            }
            tx.execute(
                "INSERT INTO login_profiles (user_pk, hash, reset_required, created, changed) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![pk, hash, reset_required, now],
            )?;
            login_profile(tx, pk, user)?.ok_or_else(|| StoreError::Database("login profile vanished".into()))
        })
    }

    fn get_login_profile(&self, user: &str) -> Result<LoginProfile> {
        self.read(|tx| {
            let pk = user_pk(tx, user)?;
            login_profile(tx, pk, user)?
                .ok_or_else(|| nse(format!("Login Profile for User {user} cannot be found.")))
        })
    }

    fn update_login_profile(
        &self,
        user: &str,
        hash: Option<&str>,
        reset_required: Option<bool>,
        now: i64,
    ) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            let lp = login_profile(tx, pk, user)?.ok_or_else(|| nse(format!("Login Profile for User {user} cannot be found.")))?;
            if let Some(h) = hash {
                tx.execute(
                    "INSERT INTO password_history (user_pk, hash, retired) VALUES (?1, ?2, ?3)",
                    params![pk, lp.password_hash.as_str(), now],
                )?;
                // Keep the 24 most recent (AWS's maximum PasswordReusePrevention).
                tx.execute(
                    "DELETE FROM password_history WHERE user_pk = ?1 AND id NOT IN
                     (SELECT id FROM password_history WHERE user_pk = ?1 ORDER BY id DESC LIMIT 24)",
                    [pk],
                )?;
                tx.execute("UPDATE login_profiles SET hash = ?1, changed = ?2 WHERE user_pk = ?3", params![h, now, pk])?;
            }
            if let Some(r) = reset_required {
                tx.execute("UPDATE login_profiles SET reset_required = ?1 WHERE user_pk = ?2", params![r, pk])?;
            }
            Ok(())
        })
    }

    fn delete_login_profile(&self, user: &str) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            let n = tx.execute("DELETE FROM login_profiles WHERE user_pk = ?1", [pk])?;
            if n == 0 {
                return Err(nse(format!(
                    "Login Profile for User {user} cannot be found."
                )));
            }
            Ok(())
        })
    }

    fn password_history(&self, user: &str, depth: usize) -> Result<Vec<String>> {
        self.read(|tx| {
            let pk = user_pk(tx, user)?;
            let mut out = Vec::new();
            if let Some(lp) = login_profile(tx, pk, user)? {
                out.push(lp.password_hash.to_string());
            }
            let mut st = tx
                .prepare("SELECT hash FROM password_history WHERE user_pk = ?1 ORDER BY id DESC")?;
            let rows = st.query_map([pk], |r| r.get::<_, String>(0))?;
            for h in rows {
                out.push(h?);
            }
            out.truncate(depth);
            Ok(out)
        })
    }

    fn auth_info(&self, user: &str) -> Result<Option<AuthInfo>> {
        self.read(|tx| {
            let Some((pk, mut u)) = tx
                .query_row(
                    &format!("SELECT {USER_COLS} WHERE u.name = ?1"),
                    [user],
                    |r| self.user_row(r),
                )
                .optional()?
            else {
                return Ok(None);
            };
            u.tags = tags_of(tx, TagTarget::User, pk)?;
            Ok(Some(AuthInfo {
                login_profile: login_profile(tx, pk, user)?,
                lock: lock_state(tx, pk)?,
                mfa: mfa_secret_where(
                    tx,
                    "d.user_pk = ?1 AND d.enabled IS NOT NULL",
                    Value::Integer(pk),
                )?,
                user: u,
            }))
        })
    }

    fn get_password_policy(&self) -> Result<Option<PasswordPolicy>> {
        let v: Option<String> = self
            .conn
            .query_row("SELECT json FROM password_policy WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        v.map(|s| {
            serde_json::from_str(&s)
                .map_err(|e| StoreError::Database(format!("bad password policy: {e}")))
        })
        .transpose()
    }

    fn put_password_policy(&self, p: &PasswordPolicy) -> Result<()> {
        p.validate().map_err(StoreError::Validation)?;
        let json = serde_json::to_string(p).map_err(|e| StoreError::Database(e.to_string()))?;
        self.write(|tx| {
            tx.execute("INSERT INTO password_policy (id, json) VALUES (1, ?1) ON CONFLICT DO UPDATE SET json = excluded.json", [json])?;
            Ok(())
        })
    }

    fn delete_password_policy(&self) -> Result<()> {
        self.write(|tx| {
            let changed = tx.execute("DELETE FROM password_policy WHERE id = 1", [])?;
            found(changed, || {
                "The account policy with name PasswordPolicy cannot be found.".into()
            })
        })
    }

    // ---- lockout -------------------------------------------------------------------------------

    fn get_lockout_settings(&self) -> Result<LockoutSettings> {
        lockout_settings(&self.conn)
    }

    fn put_lockout_settings(&self, s: &LockoutSettings) -> Result<()> {
        if s.lockout_duration_seconds < 1 {
            return Err(StoreError::Validation(
                "LockoutDurationSeconds must be at least 1".into(),
            ));
        }
        self.write(|tx| {
            tx.execute(
                "INSERT INTO lockout_settings (id, max_failed_attempts, lockout_duration) VALUES (1, ?1, ?2)
                 ON CONFLICT DO UPDATE SET max_failed_attempts = excluded.max_failed_attempts, lockout_duration = excluded.lockout_duration",
                params![s.max_failed_attempts, s.lockout_duration_seconds],
            )?;
            Ok(())
        })
    }

    fn record_failure(&self, user: &str, now: i64) -> Result<LockState> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            count_failure(tx, pk, now)
        })
    }

    fn admit_attempt(&self, user: &str, now_ms: i64, throttle: &Throttle) -> Result<Admission> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            if let Some(until) = refuse_if_locked(tx, pk, now_ms.div_euclid(1000))? {
                return Ok(Admission::Locked { until });
            }
            let next: Option<i64> = tx
                .query_row(
                    "SELECT next_free_ms FROM factor_throttle WHERE user_pk = ?1",
                    [pk],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(match throttle.slot(next, now_ms) {
                Slot::Take {
                    wait_ms,
                    next_free_ms,
                } => {
                    tx.execute(
                        "INSERT INTO factor_throttle (user_pk, next_free_ms) VALUES (?1, ?2)
                         ON CONFLICT DO UPDATE SET next_free_ms = excluded.next_free_ms",
                        params![pk, next_free_ms],
                    )?;
                    Admission::Admitted { wait_ms }
                }
                Slot::Refuse { retry_after_ms } => Admission::Throttled { retry_after_ms },
            })
        })
    }

    fn settle_success(
        &self,
        user: &str,
        proof: &Proof<'_>,
        password_login: bool,
        now: i64,
    ) -> Result<Settled> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            if let Some(until) = refuse_if_locked(tx, pk, now)? {
                return Ok(Settled::Locked { until });
            }
            let spent = match proof {
                Proof::Nothing => 1,
                // Only the user's own enabled device, and only above its watermark.
                Proof::Totp { serial, step } => tx.execute(
                    "UPDATE mfa_devices SET watermark = ?1
                     WHERE serial = ?2 AND user_pk = ?3 AND enabled IS NOT NULL AND watermark < ?1",
                    params![step, serial, pk],
                )?,
                Proof::Recovery { code_hash } => tx.execute(
                    "UPDATE recovery_codes SET used = ?1 WHERE user_pk = ?2 AND code_hash = ?3 AND used IS NULL",
                    params![now, pk, code_hash],
                )?,
            };
            if spent == 0 {
                return Ok(Settled::Spent(count_failure(tx, pk, now)?));
            }
            tx.execute("DELETE FROM login_failures WHERE user_pk = ?1", [pk])?;
            if password_login {
                tx.execute(
                    "UPDATE users SET password_last_used = ?1 WHERE pk = ?2",
                    params![now, pk],
                )?;
            }
            Ok(Settled::Accepted)
        })
    }

    fn unlock_user(&self, user: &str) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            tx.execute("DELETE FROM login_failures WHERE user_pk = ?1", [pk])?;
            Ok(())
        })
    }

    fn lock_state(&self, user: &str) -> Result<LockState> {
        self.read(|tx| {
            let pk = user_pk(tx, user)?;
            lock_state(tx, pk)
        })
    }

    // ---- MFA -----------------------------------------------------------------------------------

    fn create_virtual_mfa_device(
        &self,
        name: &str,
        path: &str,
        seed: &[u8],
        now: i64,
    ) -> Result<MfaDevice> {
        self.write(|tx| {
            if tx.query_row("SELECT 1 FROM mfa_devices WHERE name = ?1", [name], |_| Ok(())).optional()?.is_some() {
                return Err(StoreError::EntityAlreadyExists(format!("MFADevice entity at the same path and name already exists: {name}.")));
            }
            let serial = self.arn("mfa", path, name);
            tx.execute(
                "INSERT INTO mfa_devices (name, serial, path, seed, created) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, serial, path, seed, now],
            )?;
            self.mfa_where(tx, "d.serial = ?1", Value::Text(serial))?
                .into_iter()
                .next()
                .ok_or_else(|| StoreError::Database("device vanished".into()))
        })
    }

    fn enable_mfa_device(
        &self,
        user: &str,
        serial: &str,
        watermark: i64,
        recovery_hashes: &[String],
        now: i64,
    ) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            let dev: Option<Option<i64>> = tx
                .query_row("SELECT user_pk FROM mfa_devices WHERE serial = ?1", [serial], |r| r.get(0))
                .optional()?;
            match dev {
                None => return Err(nse(format!("VirtualMFADevice with serial number {serial} doesn't exist."))),
                Some(Some(_)) => return Err(StoreError::EntityAlreadyExists("MFA device is already in use.".into())),
                Some(None) => {}
            }
            if count(tx, "SELECT count(*) FROM mfa_devices WHERE user_pk = ?1", pk)? > 0 {
                return Err(StoreError::LimitExceeded(format!(
                    "User {user} already has an MFA device; pam-iam supports one per user."
                )));
            }
            tx.execute(
                "UPDATE mfa_devices SET user_pk = ?1, enabled = ?2, watermark = max(watermark, ?3) WHERE serial = ?4",
                params![pk, now, watermark, serial],
            )?;
            tx.execute("DELETE FROM recovery_codes WHERE user_pk = ?1", [pk])?;
            for h in recovery_hashes {
                tx.execute("INSERT INTO recovery_codes (user_pk, code_hash) VALUES (?1, ?2)", params![pk, h])?;
            }
            Ok(())
        })
    }

    fn deactivate_mfa_device(&self, user: &str, serial: &str) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            let n = tx.execute(
                "UPDATE mfa_devices SET user_pk = NULL, enabled = NULL WHERE serial = ?1 AND user_pk = ?2",
                params![serial, pk],
            )?;
            if n == 0 {
                return Err(nse(format!("MFA Device with serial number {serial} for user {user} cannot be found.")));
            }
            tx.execute("DELETE FROM recovery_codes WHERE user_pk = ?1", [pk])?;
            Ok(())
        })
    }

    fn delete_virtual_mfa_device(&self, serial: &str) -> Result<()> {
        self.write(|tx| {
            let dev: Option<Option<i64>> = tx
                .query_row(
                    "SELECT user_pk FROM mfa_devices WHERE serial = ?1",
                    [serial],
                    |r| r.get(0),
                )
                .optional()?;
            match dev {
                None => Err(nse(format!(
                    "VirtualMFADevice with serial number {serial} doesn't exist."
                ))),
                Some(Some(_)) => Err(StoreError::DeleteConflict(
                    "MFA Device is in use; deactivate it first.".into(),
                )),
                Some(None) => {
                    tx.execute("DELETE FROM mfa_devices WHERE serial = ?1", [serial])?;
                    Ok(())
                }
            }
        })
    }

    fn list_mfa_devices(&self, user: &str) -> Result<Vec<MfaDevice>> {
        self.read(|tx| {
            let pk = user_pk(tx, user)?;
            self.mfa_where(tx, "d.user_pk = ?1", Value::Integer(pk))
        })
    }

    fn list_virtual_mfa_devices(&self, assigned: Option<bool>) -> Result<Vec<MfaDevice>> {
        self.read(|tx| {
            let cond = match assigned {
                None => "?1 IS NOT NULL",
                Some(true) => "?1 IS NOT NULL AND d.user_pk IS NOT NULL",
                Some(false) => "?1 IS NOT NULL AND d.user_pk IS NULL",
            };
            self.mfa_where(tx, cond, Value::Integer(1))
        })
    }

    fn mfa_secret(&self, serial: &str) -> Result<MfaSecret> {
        self.read(|tx| {
            mfa_secret_where(tx, "d.serial = ?1", Value::Text(serial.into()))?.ok_or_else(|| {
                nse(format!(
                    "VirtualMFADevice with serial number {serial} doesn't exist."
                ))
            })
        })
    }

    fn enabled_mfa(&self, user: &str) -> Result<Option<MfaSecret>> {
        self.read(|tx| {
            let pk = user_pk(tx, user)?;
            mfa_secret_where(
                tx,
                "d.user_pk = ?1 AND d.enabled IS NOT NULL",
                Value::Integer(pk),
            )
        })
    }

    fn set_totp_watermark(&self, serial: &str, step: i64) -> Result<()> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE mfa_devices SET watermark = ?1 WHERE serial = ?2",
                params![step, serial],
            )?;
            found(changed, || {
                format!("VirtualMFADevice with serial number {serial} doesn't exist.")
            })
        })
    }

    fn replace_recovery_codes(&self, user: &str, hashes: &[String]) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            tx.execute("DELETE FROM recovery_codes WHERE user_pk = ?1", [pk])?;
            for h in hashes {
                tx.execute(
                    "INSERT INTO recovery_codes (user_pk, code_hash) VALUES (?1, ?2)",
                    params![pk, h],
                )?;
            }
            Ok(())
        })
    }

    fn recovery_codes_left(&self, user: &str) -> Result<u32> {
        self.read(|tx| {
            let pk = user_pk(tx, user)?;
            Ok(tx.query_row(
                "SELECT count(*) FROM recovery_codes WHERE user_pk = ?1 AND used IS NULL",
                [pk],
                |r| r.get(0),
            )?)
        })
    }

    // ---- access keys ---------------------------------------------------------------------------

    fn create_access_key(
        &self,
        user: &str,
        key_id: &str,
        secret_hash: &str,
        now: i64,
    ) -> Result<AccessKey> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            if count(tx, "SELECT count(*) FROM access_keys WHERE user_pk = ?1", pk)? >= MAX_ACCESS_KEYS {
                return Err(StoreError::LimitExceeded(format!("Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS}")));
            }
            tx.execute(
                "INSERT INTO access_keys (key_id, user_pk, secret_hash, status, created) VALUES (?1, ?2, ?3, 'Active', ?4)",
                params![key_id, pk, secret_hash, now],
            )?;
            Ok(AccessKey {
                access_key_id: key_id.to_string(),
                user_name: user.to_string(),
                status: Status::Active,
                create_date: now,
                last_used_date: None,
                last_used_service: None,
            })
        })
    }

    fn list_access_keys(&self, user: &str) -> Result<Vec<AccessKey>> {
        self.read(|tx| {
            let pk = user_pk(tx, user)?;
            let mut st = tx.prepare(
                "SELECT k.key_id, u.name, k.status, k.created, k.last_used, k.last_used_service
                 FROM access_keys k JOIN users u ON u.pk = k.user_pk WHERE k.user_pk = ?1 ORDER BY k.created, k.key_id",
            )?;
            let rows = st.query_map([pk], access_key_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn get_access_key(&self, key_id: &str) -> Result<AccessKey> {
        self.read(|tx| {
            tx.query_row(
                "SELECT k.key_id, u.name, k.status, k.created, k.last_used, k.last_used_service
                 FROM access_keys k JOIN users u ON u.pk = k.user_pk WHERE k.key_id = ?1",
                [key_id],
                access_key_row,
            )
            .optional()?
            .ok_or_else(|| nse(format!("The Access Key with id {key_id} cannot be found.")))
        })
    }

    fn access_key_secret_hash(&self, key_id: &str) -> Result<String> {
        self.read(|tx| {
            tx.query_row(
                "SELECT secret_hash FROM access_keys WHERE key_id = ?1 AND status = 'Active'",
                [key_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| nse(format!("The Access Key with id {key_id} cannot be found.")))
        })
    }

    fn update_access_key(&self, user: &str, key_id: &str, status: Status) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            let changed = tx.execute(
                "UPDATE access_keys SET status = ?1 WHERE key_id = ?2 AND user_pk = ?3",
                params![status.as_str(), key_id, pk],
            )?;
            found(changed, || {
                format!("The Access Key with id {key_id} cannot be found.")
            })
        })
    }

    fn delete_access_key(&self, user: &str, key_id: &str) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            let changed = tx.execute(
                "DELETE FROM access_keys WHERE key_id = ?1 AND user_pk = ?2",
                params![key_id, pk],
            )?;
            found(changed, || {
                format!("The Access Key with id {key_id} cannot be found.")
            })
        })
    }

    fn record_access_key_use(&self, key_id: &str, service: &str, now: i64) -> Result<()> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE access_keys SET last_used = ?1, last_used_service = ?2 WHERE key_id = ?3",
                params![now, service, key_id],
            )?;
            found(changed, || {
                format!("The Access Key with id {key_id} cannot be found.")
            })
        })
    }

    // ---- SSH keys ------------------------------------------------------------------------------

    fn upload_ssh_public_key(
        &self,
        user: &str,
        key_id: &str,
        body: &str,
        fingerprint: &str,
        now: i64,
    ) -> Result<SshKey> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            if tx
                .query_row("SELECT 1 FROM ssh_keys WHERE user_pk = ?1 AND fingerprint = ?2", params![pk, fingerprint], |_| Ok(()))
                .optional()?
                .is_some()
            {
                return Err(StoreError::Other("DuplicateSSHPublicKey", "The public key is already associated with this user.".into()));
            }
            if count(tx, "SELECT count(*) FROM ssh_keys WHERE user_pk = ?1", pk)? >= MAX_SSH_KEYS {
                return Err(StoreError::LimitExceeded(format!("Cannot exceed quota for PublicKeysPerUser: {MAX_SSH_KEYS}")));
            }
            tx.execute(
                "INSERT INTO ssh_keys (key_id, user_pk, body, fingerprint, status, uploaded) VALUES (?1, ?2, ?3, ?4, 'Active', ?5)",
                params![key_id, pk, body, fingerprint, now],
            )?;
            Ok(SshKey {
                ssh_public_key_id: key_id.to_string(),
                user_name: user.to_string(),
                body: body.to_string(),
                fingerprint: fingerprint.to_string(),
                status: Status::Active,
                upload_date: now,
            })
        })
    }

    fn list_ssh_public_keys(&self, user: &str) -> Result<Vec<SshKey>> {
        self.read(|tx| {
            let pk = user_pk(tx, user)?;
            let mut st = tx.prepare(
                "SELECT k.key_id, u.name, k.body, k.fingerprint, k.status, k.uploaded
                 FROM ssh_keys k JOIN users u ON u.pk = k.user_pk WHERE k.user_pk = ?1 ORDER BY k.uploaded, k.key_id",
            )?;
            let rows = st.query_map([pk], ssh_key_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn get_ssh_public_key(&self, user: &str, key_id: &str) -> Result<SshKey> {
        self.list_ssh_public_keys(user)?
            .into_iter()
            .find(|k| k.ssh_public_key_id == key_id)
            .ok_or_else(|| nse(format!("The Public Key with id {key_id} cannot be found.")))
    }

    fn update_ssh_public_key(&self, user: &str, key_id: &str, status: Status) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            let changed = tx.execute(
                "UPDATE ssh_keys SET status = ?1 WHERE key_id = ?2 AND user_pk = ?3",
                params![status.as_str(), key_id, pk],
            )?;
            found(changed, || {
                format!("The Public Key with id {key_id} cannot be found.")
            })
        })
    }

    fn delete_ssh_public_key(&self, user: &str, key_id: &str) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            let changed = tx.execute(
                "DELETE FROM ssh_keys WHERE key_id = ?1 AND user_pk = ?2",
                params![key_id, pk],
            )?;
            found(changed, || {
                format!("The Public Key with id {key_id} cannot be found.")
            })
        })
    }

    // ---- groups --------------------------------------------------------------------------------

    fn create_group(&self, name: &str, path: &str, now: i64) -> Result<Group> {
        self.write(|tx| {
            if tx
                .query_row("SELECT 1 FROM groups WHERE name = ?1", [name], |_| Ok(()))
                .optional()?
                .is_some()
            {
                return Err(StoreError::EntityAlreadyExists(format!(
                    "Group with name {name} already exists."
                )));
            }
            let id = ids::new_id(ids::IdKind::Group)?;
            tx.execute(
                "INSERT INTO groups (name, group_id, path, created) VALUES (?1, ?2, ?3, ?4)",
                params![name, id, path, now],
            )?;
            Ok(Group {
                arn: self.arn("group", path, name),
                name: name.into(),
                group_id: id,
                path: path.into(),
                create_date: now,
            })
        })
    }

    fn get_group(&self, name: &str) -> Result<Group> {
        self.read(|tx| {
            self.groups_where(tx, "WHERE g.name = ?1", Value::Text(name.into()))?
                .into_iter()
                .next()
                .ok_or_else(|| nse(format!("The group with name {name} cannot be found.")))
        })
    }

    fn group_members(&self, name: &str) -> Result<Vec<User>> {
        self.read(|tx| {
            let pk = group_pk(tx, name)?;
            self.users_where(
                tx,
                "u.pk IN (SELECT user_pk FROM group_members WHERE group_pk = ?1)",
                Value::Integer(pk),
            )
        })
    }

    fn list_groups(&self, path_prefix: &str) -> Result<Vec<Group>> {
        self.read(|tx| {
            self.groups_where(
                tx,
                "WHERE substr(g.path, 1, length(?1)) = ?1",
                exact_prefix(path_prefix),
            )
        })
    }

    fn list_groups_for_user(&self, user: &str) -> Result<Vec<Group>> {
        self.read(|tx| {
            let pk = user_pk(tx, user)?;
            self.groups_where(
                tx,
                "JOIN group_members m ON m.group_pk = g.pk WHERE m.user_pk = ?1",
                Value::Integer(pk),
            )
        })
    }

    fn add_user_to_group(&self, group: &str, user: &str) -> Result<()> {
        self.write(|tx| {
            let g = group_pk(tx, group)?;
            let u = user_pk(tx, user)?;
            let n = tx.execute(
                "INSERT OR IGNORE INTO group_members (group_pk, user_pk) VALUES (?1, ?2)",
                params![g, u],
            )?;
            if n == 1
                && count(
                    tx,
                    "SELECT count(*) FROM group_members WHERE user_pk = ?1",
                    u,
                )? > MAX_GROUPS_PER_USER
            {
                return Err(StoreError::LimitExceeded(format!(
                    "Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}"
                )));
            }
            Ok(())
        })
    }

    fn remove_user_from_group(&self, group: &str, user: &str) -> Result<()> {
        self.write(|tx| {
            let g = group_pk(tx, group)?;
            let u = user_pk(tx, user)?;
            let changed = tx.execute(
                "DELETE FROM group_members WHERE group_pk = ?1 AND user_pk = ?2",
                params![g, u],
            )?;
            found(changed, || format!("User {user} is not in group {group}."))
        })
    }

    fn update_group(
        &self,
        name: &str,
        new_name: Option<&str>,
        new_path: Option<&str>,
    ) -> Result<()> {
        self.write(|tx| {
            let pk = group_pk(tx, name)?;
            if let Some(n) = new_name {
                let other: Option<i64> = tx
                    .query_row("SELECT pk FROM groups WHERE name = ?1", [n], |r| r.get(0))
                    .optional()?;
                if other.is_some_and(|o| o != pk) {
                    return Err(StoreError::EntityAlreadyExists(format!(
                        "Group with name {n} already exists."
                    )));
                }
                tx.execute("UPDATE groups SET name = ?1 WHERE pk = ?2", params![n, pk])?;
            }
            if let Some(p) = new_path {
                tx.execute("UPDATE groups SET path = ?1 WHERE pk = ?2", params![p, pk])?;
            }
            Ok(())
        })
    }

    fn delete_group(&self, name: &str) -> Result<()> {
        self.write(|tx| {
            let pk = group_pk(tx, name)?;
            if count(
                tx,
                "SELECT count(*) FROM group_members WHERE group_pk = ?1",
                pk,
            )? > 0
            {
                return Err(StoreError::DeleteConflict(
                    "Cannot delete entity, must remove users from group first.".into(),
                ));
            }
            if count(
                tx,
                "SELECT count(*) FROM group_attached WHERE owner_pk = ?1",
                pk,
            )? > 0
                || count(
                    tx,
                    "SELECT count(*) FROM group_inline WHERE owner_pk = ?1",
                    pk,
                )? > 0
            {
                return Err(StoreError::DeleteConflict(
                    "Cannot delete entity, must delete policies first.".into(),
                ));
            }
            tx.execute("DELETE FROM groups WHERE pk = ?1", [pk])?;
            Ok(())
        })
    }

    // ---- managed policies ------------------------------------------------------------------------

    fn create_policy(&self, p: &NewPolicy, now: i64) -> Result<ManagedPolicy> {
        self.write(|tx| {
            if tx.query_row("SELECT 1 FROM policies WHERE name = ?1", [&p.name], |_| Ok(())).optional()?.is_some() {
                return Err(StoreError::EntityAlreadyExists(format!(
                    "A policy called {} already exists. Duplicate names are not allowed.",
                    p.name
                )));
            }
            let id = ids::new_id(ids::IdKind::Policy)?;
            let arn = self.arn("policy", &p.path, &p.name);
            tx.execute(
                "INSERT INTO policies (name, policy_id, arn, path, description, created, updated, default_version, next_version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 1, 2)",
                params![p.name, id, arn, p.path, p.description, now],
            )?;
            let pk = tx.last_insert_rowid();
            tx.execute("INSERT INTO policy_versions (policy_pk, version, document, created) VALUES (?1, 1, ?2, ?3)", params![pk, p.document, now])?;
            self.policies_where(tx, "p.pk = ?1", Value::Integer(pk))?
                .into_iter()
                .next()
                .ok_or_else(|| StoreError::Database("policy vanished".into()))
        })
    }

    fn get_policy(&self, arn: &str) -> Result<ManagedPolicy> {
        self.read(|tx| {
            self.policies_where(tx, "p.arn = ?1", Value::Text(arn.into()))?
                .into_iter()
                .next()
                .ok_or_else(|| nse(format!("Policy {arn} was not found.")))
        })
    }

    fn list_policies(&self, path_prefix: &str, only_attached: bool) -> Result<Vec<ManagedPolicy>> {
        self.read(|tx| {
            let all = self.policies_where(
                tx,
                "substr(p.path, 1, length(?1)) = ?1",
                exact_prefix(path_prefix),
            )?;
            Ok(all
                .into_iter()
                .filter(|p| !only_attached || p.attachment_count > 0)
                .collect())
        })
    }

    fn delete_policy(&self, arn: &str) -> Result<()> {
        self.write(|tx| {
            let p = self
                .policies_where(tx, "p.arn = ?1", Value::Text(arn.into()))?
                .into_iter()
                .next()
                .ok_or_else(|| nse(format!("Policy {arn} was not found.")))?;
            if p.attachment_count > 0 || p.permissions_boundary_usage_count > 0 {
                return Err(StoreError::DeleteConflict("Cannot delete a policy attached to entities.".into()));
            }
            let pk = policy_pk(tx, arn)?;
            if count(tx, "SELECT count(*) FROM policy_versions WHERE policy_pk = ?1", pk)? > 1 {
                return Err(StoreError::DeleteConflict(
                    "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.".into(),
                ));
            }
            tx.execute("DELETE FROM policies WHERE pk = ?1", [pk])?;
            Ok(())
        })
    }

    fn create_policy_version(
        &self,
        arn: &str,
        document: &str,
        set_default: bool,
        now: i64,
    ) -> Result<PolicyVersion> {
        self.write(|tx| {
            let pk = policy_pk(tx, arn)?;
            if count(tx, "SELECT count(*) FROM policy_versions WHERE policy_pk = ?1", pk)? >= MAX_POLICY_VERSIONS {
                return Err(StoreError::LimitExceeded(
                    "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.".into(),
                ));
            }
            let v: i64 = tx.query_row("SELECT next_version FROM policies WHERE pk = ?1", [pk], |r| r.get(0))?;
            tx.execute("INSERT INTO policy_versions (policy_pk, version, document, created) VALUES (?1, ?2, ?3, ?4)", params![pk, v, document, now])?;
            tx.execute("UPDATE policies SET next_version = ?1 WHERE pk = ?2", params![v + 1, pk])?;
            if set_default {
                tx.execute("UPDATE policies SET default_version = ?1, updated = ?2 WHERE pk = ?3", params![v, now, pk])?;
            }
            Ok(PolicyVersion { version_id: format!("v{v}"), document: document.into(), is_default_version: set_default, create_date: now })
        })
    }

    fn get_policy_version(&self, arn: &str, version_id: &str) -> Result<PolicyVersion> {
        let v = version_num(version_id)?;
        self.list_policy_versions(arn)?
            .into_iter()
            .find(|x| x.version_id == format!("v{v}"))
            .ok_or_else(|| {
                nse(format!(
                    "Policy {arn} version {version_id} does not exist or is not attachable."
                ))
            })
    }

    fn list_policy_versions(&self, arn: &str) -> Result<Vec<PolicyVersion>> {
        self.read(|tx| {
            let pk = policy_pk(tx, arn)?;
            let mut st = tx.prepare(
                "SELECT v.version, v.document, v.version = p.default_version, v.created FROM policy_versions v
                 JOIN policies p ON p.pk = v.policy_pk WHERE v.policy_pk = ?1 ORDER BY v.version DESC",
            )?;
            let rows = st.query_map([pk], |r| {
                Ok(PolicyVersion {
                    version_id: format!("v{}", r.get::<_, i64>(0)?),
                    document: r.get(1)?,
                    is_default_version: r.get(2)?,
                    create_date: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn delete_policy_version(&self, arn: &str, version_id: &str) -> Result<()> {
        let v = version_num(version_id)?;
        self.write(|tx| {
            let pk = policy_pk(tx, arn)?;
            let default: i64 = tx.query_row(
                "SELECT default_version FROM policies WHERE pk = ?1",
                [pk],
                |r| r.get(0),
            )?;
            if default == v {
                return Err(StoreError::DeleteConflict(
                    "Cannot delete the default version of a policy.".into(),
                ));
            }
            let changed = tx.execute(
                "DELETE FROM policy_versions WHERE policy_pk = ?1 AND version = ?2",
                params![pk, v],
            )?;
            found(changed, || {
                format!("Policy {arn} version {version_id} does not exist.")
            })
        })
    }

    fn set_default_policy_version(&self, arn: &str, version_id: &str, now: i64) -> Result<()> {
        let v = version_num(version_id)?;
        self.write(|tx| {
            let pk = policy_pk(tx, arn)?;
            if tx
                .query_row(
                    "SELECT 1 FROM policy_versions WHERE policy_pk = ?1 AND version = ?2",
                    params![pk, v],
                    |_| Ok(()),
                )
                .optional()?
                .is_none()
            {
                return Err(nse(format!(
                    "Policy {arn} version {version_id} does not exist."
                )));
            }
            tx.execute(
                "UPDATE policies SET default_version = ?1, updated = ?2 WHERE pk = ?3",
                params![v, now, pk],
            )?;
            Ok(())
        })
    }

    fn attach_policy(&self, kind: PrincipalKind, name: &str, arn: &str) -> Result<()> {
        self.write(|tx| {
            let owner = principal_pk(tx, kind, name)?;
            let p = policy_pk(tx, arn)?;
            let table = attached_table(kind);
            let n = tx.execute(
                &format!("INSERT OR IGNORE INTO {table} (owner_pk, policy_pk) VALUES (?1, ?2)"),
                params![owner, p],
            )?;
            if n == 1
                && count(
                    tx,
                    &format!("SELECT count(*) FROM {table} WHERE owner_pk = ?1"),
                    owner,
                )? > MAX_ATTACHED
            {
                return Err(StoreError::LimitExceeded(format!(
                    "Cannot exceed quota for PoliciesPer{}: {MAX_ATTACHED}",
                    match kind {
                        PrincipalKind::User => "User",
                        PrincipalKind::Group => "Group",
                        PrincipalKind::Role => "Role",
                    }
                )));
            }
            Ok(())
        })
    }

    fn detach_policy(&self, kind: PrincipalKind, name: &str, arn: &str) -> Result<()> {
        self.write(|tx| {
            let owner = principal_pk(tx, kind, name)?;
            let p = policy_pk(tx, arn)?;
            let n = tx.execute(
                &format!(
                    "DELETE FROM {} WHERE owner_pk = ?1 AND policy_pk = ?2",
                    attached_table(kind)
                ),
                params![owner, p],
            )?;
            if n == 0 {
                return Err(nse(format!(
                    "Policy {arn} was not found attached to {} {name}.",
                    kind.word()
                )));
            }
            Ok(())
        })
    }

    fn list_attached_policies(
        &self,
        kind: PrincipalKind,
        name: &str,
    ) -> Result<Vec<AttachedPolicy>> {
        self.read(|tx| {
            let owner = principal_pk(tx, kind, name)?;
            let mut st = tx.prepare(&format!(
                "SELECT p.name, p.arn FROM {} a JOIN policies p ON p.pk = a.policy_pk WHERE a.owner_pk = ?1 ORDER BY p.name",
                attached_table(kind)
            ))?;
            let rows = st.query_map([owner], |r| Ok(AttachedPolicy { policy_name: r.get(0)?, policy_arn: r.get(1)? }))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn list_entities_for_policy(&self, arn: &str) -> Result<PolicyEntities> {
        self.read(|tx| {
            let p = policy_pk(tx, arn)?;
            let pairs = |sql: &str| -> Result<Vec<(String, String)>> {
                let mut st = tx.prepare(sql)?;
                let rows = st.query_map([p], |r| Ok((r.get(0)?, r.get(1)?)))?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            };
            Ok(PolicyEntities {
                groups: pairs("SELECT g.name, g.group_id FROM group_attached a JOIN groups g ON g.pk = a.owner_pk WHERE a.policy_pk = ?1 ORDER BY g.name")?,
                users: pairs("SELECT u.name, u.user_id FROM user_attached a JOIN users u ON u.pk = a.owner_pk WHERE a.policy_pk = ?1 ORDER BY u.name")?,
                roles: pairs("SELECT r.name, r.role_id FROM role_attached a JOIN roles r ON r.pk = a.owner_pk WHERE a.policy_pk = ?1 ORDER BY r.name")?,
            })
        })
    }

    // ---- inline policies ---------------------------------------------------------------------------

    fn put_inline_policy(
        &self,
        kind: PrincipalKind,
        name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<()> {
        self.write(|tx| {
            let owner = principal_pk(tx, kind, name)?;
            tx.execute(
                &format!(
                    "INSERT INTO {} (owner_pk, name, document) VALUES (?1, ?2, ?3) ON CONFLICT DO UPDATE SET document = excluded.document",
                    inline_table(kind)
                ),
                params![owner, policy_name, document],
            )?;
            Ok(())
        })
    }

    fn get_inline_policy(
        &self,
        kind: PrincipalKind,
        name: &str,
        policy_name: &str,
    ) -> Result<String> {
        self.read(|tx| {
            let owner = principal_pk(tx, kind, name)?;
            tx.query_row(
                &format!(
                    "SELECT document FROM {} WHERE owner_pk = ?1 AND name = ?2",
                    inline_table(kind)
                ),
                params![owner, policy_name],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| {
                nse(format!(
                    "The {} policy with name {policy_name} cannot be found.",
                    kind.word()
                ))
            })
        })
    }

    fn delete_inline_policy(
        &self,
        kind: PrincipalKind,
        name: &str,
        policy_name: &str,
    ) -> Result<()> {
        self.write(|tx| {
            let owner = principal_pk(tx, kind, name)?;
            let changed = tx.execute(
                &format!(
                    "DELETE FROM {} WHERE owner_pk = ?1 AND name = ?2",
                    inline_table(kind)
                ),
                params![owner, policy_name],
            )?;
            found(changed, || {
                format!(
                    "The {} policy with name {policy_name} cannot be found.",
                    kind.word()
                )
            })
        })
    }

    fn list_inline_policies(&self, kind: PrincipalKind, name: &str) -> Result<Vec<String>> {
        self.read(|tx| {
            let owner = principal_pk(tx, kind, name)?;
            let mut st = tx.prepare(&format!(
                "SELECT name FROM {} WHERE owner_pk = ?1 ORDER BY name",
                inline_table(kind)
            ))?;
            let rows = st.query_map([owner], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    // ---- roles ---------------------------------------------------------------------------------------

    fn create_role(&self, r: &NewRole, now: i64) -> Result<Role> {
        self.write(|tx| {
            if tx.query_row("SELECT 1 FROM roles WHERE name = ?1", [&r.name], |_| Ok(())).optional()?.is_some() {
                return Err(StoreError::EntityAlreadyExists(format!("Role with name {} already exists.", r.name)));
            }
            let boundary = match &r.permissions_boundary {
                Some(arn) => Some(policy_pk(tx, arn)?),
                None => None,
            };
            let id = ids::new_id(ids::IdKind::Role)?;
            tx.execute(
                "INSERT INTO roles (name, role_id, path, trust, description, max_session, boundary_pk, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![r.name, id, r.path, r.assume_role_policy_document, r.description, r.max_session_duration, boundary, now],
            )?;
            let pk = tx.last_insert_rowid();
            put_tags(tx, TagTarget::Role, pk, &r.tags)?;
            self.roles_where(tx, "r.pk = ?1", Value::Integer(pk))?
                .into_iter()
                .next()
                .ok_or_else(|| StoreError::Database("role vanished".into()))
        })
    }

    fn get_role(&self, name: &str) -> Result<Role> {
        self.read(|tx| {
            self.roles_where(tx, "r.name = ?1", Value::Text(name.into()))?
                .into_iter()
                .next()
                .ok_or_else(|| nse(format!("The role with name {name} cannot be found.")))
        })
    }

    fn list_roles(&self, path_prefix: &str) -> Result<Vec<Role>> {
        self.read(|tx| {
            self.roles_where(
                tx,
                "substr(r.path, 1, length(?1)) = ?1",
                exact_prefix(path_prefix),
            )
        })
    }

    fn update_role(
        &self,
        name: &str,
        description: Option<&str>,
        max_session_duration: Option<i64>,
    ) -> Result<()> {
        self.write(|tx| {
            let pk = role_pk(tx, name)?;
            if let Some(d) = description {
                tx.execute(
                    "UPDATE roles SET description = ?1 WHERE pk = ?2",
                    params![d, pk],
                )?;
            }
            if let Some(m) = max_session_duration {
                tx.execute(
                    "UPDATE roles SET max_session = ?1 WHERE pk = ?2",
                    params![m, pk],
                )?;
            }
            Ok(())
        })
    }

    fn update_assume_role_policy(&self, name: &str, document: &str) -> Result<()> {
        self.write(|tx| {
            let pk = role_pk(tx, name)?;
            tx.execute(
                "UPDATE roles SET trust = ?1 WHERE pk = ?2",
                params![document, pk],
            )?;
            Ok(())
        })
    }

    fn set_role_boundary(&self, name: &str, policy_arn: Option<&str>) -> Result<()> {
        self.write(|tx| {
            let pk = role_pk(tx, name)?;
            let b = match policy_arn {
                Some(a) => Some(policy_pk(tx, a)?),
                None => None,
            };
            tx.execute(
                "UPDATE roles SET boundary_pk = ?1 WHERE pk = ?2",
                params![b, pk],
            )?;
            Ok(())
        })
    }

    fn delete_role(&self, name: &str) -> Result<()> {
        self.write(|tx| {
            let pk = role_pk(tx, name)?;
            if count(
                tx,
                "SELECT count(*) FROM role_attached WHERE owner_pk = ?1",
                pk,
            )? > 0
                || count(
                    tx,
                    "SELECT count(*) FROM role_inline WHERE owner_pk = ?1",
                    pk,
                )? > 0
            {
                return Err(StoreError::DeleteConflict(
                    "Cannot delete entity, must detach all policies first.".into(),
                ));
            }
            tx.execute("DELETE FROM roles WHERE pk = ?1", [pk])?;
            Ok(())
        })
    }

    // ---- applicable policies -----------------------------------------------------------------------

    fn user_policies(&self, user: &str) -> Result<PrincipalPolicies> {
        self.read(|tx| {
            let pk = user_pk(tx, user)?;
            let mut identity = self.applicable(tx, PrincipalKind::User, pk, None)?;
            let mut st = tx.prepare(
                "SELECT g.pk, g.name FROM groups g JOIN group_members m ON m.group_pk = g.pk WHERE m.user_pk = ?1 ORDER BY g.name",
            )?;
            let groups = st.query_map([pk], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
            for (gpk, gname) in groups {
                identity.extend(self.applicable(tx, PrincipalKind::Group, gpk, Some(&gname))?);
            }
            Ok(PrincipalPolicies { identity, boundary: boundary_of(tx, "users", pk)? })
        })
    }

    fn role_policies(&self, role: &str) -> Result<PrincipalPolicies> {
        self.read(|tx| {
            let pk = role_pk(tx, role)?;
            Ok(PrincipalPolicies {
                identity: self.applicable(tx, PrincipalKind::Role, pk, None)?,
                boundary: boundary_of(tx, "roles", pk)?,
            })
        })
    }

    // ---- role sessions -------------------------------------------------------------------------------

    fn create_role_session(&self, s: &RoleSession) -> Result<()> {
        self.write(|tx| insert_role_session(tx, s))
    }

    fn get_role_session(&self, token_hash: &str) -> Result<RoleSession> {
        self.read(|tx| {
            tx.query_row(
                &format!("SELECT {SESSION_COLS} FROM role_sessions WHERE token_hash = ?1"),
                [token_hash],
                session_row,
            )
            .optional()?
            .ok_or_else(|| nse("The role session cannot be found.".into()))
        })
    }

    fn list_role_sessions(
        &self,
        user: Option<&str>,
        live_at: Option<i64>,
    ) -> Result<Vec<RoleSession>> {
        self.read(|tx| {
            let mut st = tx.prepare(&format!(
                "SELECT {SESSION_COLS} FROM role_sessions
                 WHERE (?1 IS NULL OR user_name = ?1) AND (?2 IS NULL OR (revoked IS NULL AND expires > ?2))
                 ORDER BY issued"
            ))?;
            let rows = st.query_map(params![user, live_at], session_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn revoke_role_session(&self, session_id: &str, now: i64) -> Result<()> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE role_sessions SET revoked = coalesce(revoked, ?1) WHERE session_id = ?2",
                params![now, session_id],
            )?;
            found(changed, || {
                format!("The role session {session_id} cannot be found.")
            })
        })
    }

    // ---- hosts -----------------------------------------------------------------------------------------

    fn tag_host(&self, host: &str, tags: &[Tag]) -> Result<()> {
        self.write(|tx| {
            for t in tags {
                validate_tag(t)?;
                tx.execute(
                    "INSERT INTO host_tags (host, key, value) VALUES (?1, ?2, ?3) ON CONFLICT DO UPDATE SET value = excluded.value",
                    params![host, t.key, t.value],
                )?;
            }
            let n: i64 = tx.query_row("SELECT count(*) FROM host_tags WHERE host = ?1", [host], |r| r.get(0))?;
            if n > MAX_TAGS {
                return Err(StoreError::LimitExceeded(format!("A host can have at most {MAX_TAGS} tags.")));
            }
            Ok(())
        })
    }

    fn untag_host(&self, host: &str, keys: &[String]) -> Result<()> {
        self.write(|tx| {
            for k in keys {
                tx.execute(
                    "DELETE FROM host_tags WHERE host = ?1 AND key = ?2",
                    params![host, k],
                )?;
            }
            Ok(())
        })
    }

    fn list_host_tags(&self, host: &str) -> Result<Vec<Tag>> {
        self.read(|tx| {
            let mut st =
                tx.prepare("SELECT key, value FROM host_tags WHERE host = ?1 ORDER BY key")?;
            let rows = st.query_map([host], |r| {
                Ok(Tag {
                    key: r.get(0)?,
                    value: r.get(1)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    // ---- audit -------------------------------------------------------------------------------------------

    fn append_audit(&self, e: &AuditEvent) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO audit_events (time, user, service, rhost, tty, action, decision, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![e.time, e.user, e.service, e.rhost, e.tty, e.action, e.decision, e.reason],
            )?;
            Ok(())
        })
    }

    fn list_audit(&self, f: &AuditFilter) -> Result<Vec<AuditEvent>> {
        self.read(|tx| {
            let limit = f.limit.map_or(-1, i64::from);
            let mut st = tx.prepare(
                "SELECT * FROM (SELECT id, time, user, service, rhost, tty, action, decision, reason FROM audit_events
                  WHERE (?1 IS NULL OR user = ?1) AND (?2 IS NULL OR time >= ?2) AND (?3 IS NULL OR time <= ?3)
                    AND (?4 IS NULL OR decision = ?4) AND (?5 IS NULL OR service = ?5)
                  ORDER BY time DESC, id DESC LIMIT ?6) ORDER BY time, id",
            )?;
            let rows = st.query_map(params![f.user, f.since, f.until, f.decision, f.service, limit], |r| {
                Ok(AuditEvent {
                    time: r.get(1)?,
                    user: r.get(2)?,
                    service: r.get(3)?,
                    rhost: r.get(4)?,
                    tty: r.get(5)?,
                    action: r.get(6)?,
                    decision: r.get(7)?,
                    reason: r.get(8)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    // ---- credential report ---------------------------------------------------------------------------------

    fn put_credential_report(&self, csv: &str, now: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO credential_report (id, generated, content) VALUES (1, ?1, ?2)
                 ON CONFLICT DO UPDATE SET generated = excluded.generated, content = excluded.content",
                params![now, csv],
            )?;
            Ok(())
        })
    }

    fn get_credential_report(&self) -> Result<Option<(String, i64)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT content, generated FROM credential_report WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    // ---- Linux ids -------------------------------------------------------------------------------------------

    fn allocate_id(&self, kind: IdSpace, name: &str, range: (u32, u32)) -> Result<u32> {
        let space = match kind {
            IdSpace::Uid => "uid",
            IdSpace::Gid => "gid",
        };
        self.write(|tx| {
            if let Some(id) = tx
                .query_row("SELECT id FROM id_allocations WHERE space = ?1 AND name = ?2", params![space, name], |r| r.get::<_, u32>(0))
                .optional()?
            {
                return Ok(id);
            }
            let next: i64 = tx.query_row(
                "SELECT coalesce(max(id) + 1, ?2) FROM id_allocations WHERE space = ?1 AND id BETWEEN ?2 AND ?3",
                params![space, range.0, range.1],
                |r| r.get(0),
            )?;
            let id = u32::try_from(next)
                .ok()
                .filter(|i| *i <= range.1)
                .ok_or_else(|| StoreError::LimitExceeded(format!("no free {space} left in {}..={}", range.0, range.1)))?;
            tx.execute("INSERT INTO id_allocations (space, name, id) VALUES (?1, ?2, ?3)", params![space, name, id])?;
            Ok(id)
        })
    }

    fn linux_id(&self, entity_id: &str) -> Result<Option<u32>> {
        self.read(|tx| super::linux_ids::lookup(tx, entity_id))
    }

    fn assign_linux_id(
        &self,
        entity_id: &str,
        explicit: Option<u32>,
        range: (u32, u32),
        in_use: &dyn Fn(u32) -> bool,
    ) -> Result<u32> {
        self.write(|tx| super::linux_ids::assign(tx, entity_id, explicit, range, in_use))
    }
}

#[cfg(test)]
mod temp_store_tests {
    use super::*;

    /// Open SQLite temp files of this process (SQLite names them `etilqs_*`; they are
    /// unlinked at once, so only /proc/self/fd shows them).
    fn open_temp_files() -> Vec<String> {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .map(|p| p.display().to_string())
            .filter(|p| p.contains("etilqs_"))
            .collect()
    }

    /// A sort far larger than SQLite's page cache: with temp files allowed it spills.
    const BIG_SORT: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 60000) \
                            SELECT x FROM c ORDER BY randomblob(200) || x";

    fn temp_files_during_big_sort(conn: &Connection) -> Vec<String> {
        let mut stmt = conn.prepare(BIG_SORT).unwrap();
        let mut rows = stmt.query([]).unwrap();
        // The first row comes after the whole input is sorted; the statement holds any
        // spill file until it is finalized.
        assert!(rows.next().unwrap().is_some());
        open_temp_files()
    }

    #[test]
    fn every_open_keeps_temp_data_in_memory() {
        let dir = crate::store::safe_open::private_tempdir();
        let db = dir.path().join("iam.db");
        let store = SqliteStore::open(&OpenOptions::new(&db, OpenMode::ReadWrite)).unwrap();
        let ts: i64 = store
            .conn
            .query_row("PRAGMA temp_store", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ts, 2, "temp_store=MEMORY on the store's connection");

        // Control: the same sort on a plain connection spills to a temp file in the
        // directory SQLITE_TMPDIR/TMPDIR names (so the check below can see a spill).
        let plain = Connection::open_in_memory().unwrap();
        let spilled = temp_files_during_big_sort(&plain);
        assert!(!spilled.is_empty(), "the control sort did not spill");
        drop(plain);

        let leaked = temp_files_during_big_sort(&store.conn);
        assert!(leaked.is_empty(), "the store spilled to {leaked:?}");
        let ro = SqliteStore::open(&OpenOptions::new(&db, OpenMode::ReadOnly)).unwrap();
        assert!(temp_files_during_big_sort(&ro.conn).is_empty());
    }
}
