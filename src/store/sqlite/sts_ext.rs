//! Store additions for role sessions, owned by the sts part (kept apart from the store
//! owner's files): a session's policy, a fresh MFA proof in a session, and the root-only
//! shortest session length. The extra table is created on first write, so no migration
//! of the main schema is needed.

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::store::{Result, RoleSession, Store, StoreError};

/// Settings key of the shortest role session (seconds); absent means AWS's 900.
const MIN_DURATION_KEY: &str = "sts.min_session_duration";

const CREATE_POLICIES: &str = "CREATE TABLE IF NOT EXISTS role_session_policies (
  session_id TEXT PRIMARY KEY REFERENCES role_sessions(session_id) ON DELETE CASCADE,
  document TEXT NOT NULL
)";

/// What iam-sts and the sudo decision need beyond the [`Store`] trait.
pub trait StsStoreExt {
    /// Records a session together with its `--policy` session policy, in one transaction.
    fn create_role_session_with_policy(&self, s: &RoleSession, policy: Option<&str>) -> Result<()>;
    /// The session policy of a session, if it was given one.
    fn role_session_policy(&self, session_id: &str) -> Result<Option<String>>;
    /// Records a fresh MFA proof (sudo's re-prompt) in a session.
    fn set_role_session_mfa(&self, session_id: &str, t: i64) -> Result<()>;
    /// The shortest role session root allowed (for tests); `None`: AWS's 900 s.
    fn sts_min_session_duration(&self) -> Result<Option<i64>>;
    /// Sets (root only: the store is root's) or clears the shortest role session.
    fn set_sts_min_session_duration(&self, seconds: Option<i64>) -> Result<()>;
}

impl StsStoreExt for SqliteStore {
    fn create_role_session_with_policy(&self, s: &RoleSession, policy: Option<&str>) -> Result<()> {
        self.create_role_session(s)?;
        if let Some(doc) = policy {
            self.write(|tx| {
                tx.execute(CREATE_POLICIES, [])?;
                tx.execute(
                    "INSERT INTO role_session_policies (session_id, document) VALUES (?1, ?2)",
                    params![s.session_id, doc],
                )?;
                Ok(())
            })
            .inspect_err(|_| {
                // A session without its limiting policy must not stay usable.
                let _ = self.revoke_role_session(&s.session_id, s.issued);
            })?;
        }
        Ok(())
    }

    fn role_session_policy(&self, session_id: &str) -> Result<Option<String>> {
        self.read(|tx| {
            let exists = tx
                .query_row(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'role_session_policies'",
                    [],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if !exists {
                return Ok(None);
            }
            Ok(tx
                .query_row(
                    "SELECT document FROM role_session_policies WHERE session_id = ?1",
                    [session_id],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }

    fn set_role_session_mfa(&self, session_id: &str, t: i64) -> Result<()> {
        self.write(|tx| {
            if tx.execute(
                "UPDATE role_sessions SET mfa_time = ?1 WHERE session_id = ?2",
                params![t, session_id],
            )? == 0
            {
                return Err(StoreError::NoSuchEntity(format!(
                    "The role session {session_id} cannot be found."
                )));
            }
            Ok(())
        })
    }

    fn sts_min_session_duration(&self) -> Result<Option<i64>> {
        self.read(|tx| {
            let v: Option<String> = tx
                .query_row(
                    "SELECT value FROM settings WHERE key = ?1",
                    [MIN_DURATION_KEY],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(v.and_then(|s| s.parse::<i64>().ok()).filter(|n| *n >= 1))
        })
    }

    fn set_sts_min_session_duration(&self, seconds: Option<i64>) -> Result<()> {
        self.write(|tx| {
            match seconds {
                Some(n) if (1..=900).contains(&n) => {
                    tx.execute(
                        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT DO UPDATE SET value = excluded.value",
                        params![MIN_DURATION_KEY, n.to_string()],
                    )?;
                }
                Some(_) => {
                    return Err(StoreError::Validation(
                        "the shortest role session must be between 1 and 900 seconds".into(),
                    ));
                }
                None => {
                    tx.execute("DELETE FROM settings WHERE key = ?1", [MIN_DURATION_KEY])?;
                }
            }
            Ok(())
        })
    }
}
