//! Store additions for role sessions, owned by the sts part (kept apart from the store
//! owner's files): a session's policy, a fresh MFA proof in a session, and the root-only
//! shortest session length. The session-policy table comes from schema migration 3.

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::store::{AuditEvent, Result, RoleSession, StoreError};

/// Settings key of the shortest role session (seconds); absent means AWS's 900.
const MIN_DURATION_KEY: &str = "sts.min_session_duration";

/// What iam-sts and the sudo decision need beyond the [`Store`] trait.
pub trait StsStoreExt {
    /// Records a session, its `--policy` session policy and its audit event in one
    /// transaction: no session exists without its limiting policy or its audit row,
    /// whatever kills the caller. The session's role and user ids are checked against the
    /// current ones in the same transaction, so a role replaced meanwhile is refused.
    fn create_role_session_audited(
        &self,
        s: &RoleSession,
        policy: Option<&str>,
        audit: &AuditEvent,
    ) -> Result<()>;
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
    fn create_role_session_audited(
        &self,
        s: &RoleSession,
        policy: Option<&str>,
        audit: &AuditEvent,
    ) -> Result<()> {
        self.write(|tx| {
            let current = |sql: &str, name: &str, id: &Option<String>| -> Result<bool> {
                Ok(match id {
                    Some(id) => tx
                        .query_row(sql, params![name, id], |_| Ok(()))
                        .optional()?
                        .is_some(),
                    None => true,
                })
            };
            if !current(
                "SELECT 1 FROM roles WHERE name = ?1 AND role_id = ?2",
                &s.role_name,
                &s.role_id,
            )? || !current(
                "SELECT 1 FROM users WHERE name = ?1 AND user_id = ?2",
                &s.user_name,
                &s.user_id,
            )? {
                return Err(StoreError::NoSuchEntity(format!(
                    "The role {} or the user {} was deleted or replaced while the session was being issued; assume the role again.",
                    s.role_name, s.user_name
                )));
            }
            super::insert_role_session(tx, s)?;
            if let Some(doc) = policy {
                tx.execute(
                    "INSERT INTO role_session_policies (session_id, document) VALUES (?1, ?2)",
                    params![s.session_id, doc],
                )?;
            }
            tx.execute(
                "INSERT INTO audit_events (time, user, service, rhost, tty, action, decision, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    audit.time,
                    audit.user,
                    audit.service,
                    audit.rhost,
                    audit.tty,
                    audit.action,
                    audit.decision,
                    audit.reason
                ],
            )?;
            Ok(())
        })
    }

    fn role_session_policy(&self, session_id: &str) -> Result<Option<String>> {
        self.read(|tx| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewRole, NewUser, OpenMode, OpenOptions, Store};

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = crate::store::safe_open::private_tempdir();
        let s = SqliteStore::open(&OpenOptions::new(
            dir.path().join("iam.db"),
            OpenMode::ReadWrite,
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        s.create_user(
            &NewUser {
                name: "alice".into(),
                path: "/".into(),
                ..Default::default()
            },
            1,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        s.create_role(
            &NewRole {
                name: "admin".into(),
                path: "/".into(),
                assume_role_policy_document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#.into(),
                max_session_duration: 3600,
                ..Default::default()
            },
            1,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        (dir, s)
    }

    fn session(id: &str) -> RoleSession {
        RoleSession {
            session_id: id.into(),
            user_name: "alice".into(),
            role_name: "admin".into(),
            session_name: "s".into(),
            token_hash: format!("h-{id}"),
            issued: 10,
            expires: 1000,
            scope: "tty:b:1:2:3".into(),
            revoked: None,
            mfa_time: None,
            role_id: None,
            user_id: None,
        }
    }

    #[test]
    fn session_policy_round_trip_and_mfa_update() {
        let (_d, s) = store();
        // Before any session policy exists, the table does not either: reads say None.
        assert_eq!(s.role_session_policy("ASIA1").ok(), Some(None));
        let ev = AuditEvent {
            action: "sts:AssumeRole".into(),
            ..Default::default()
        };
        s.create_role_session_audited(&session("ASIA1"), Some("{\"doc\":1}"), &ev)
            .unwrap_or_else(|e| panic!("{e}"));
        s.create_role_session_audited(&session("ASIA2"), None, &ev)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.role_session_policy("ASIA1").ok(),
            Some(Some("{\"doc\":1}".into()))
        );
        assert_eq!(s.role_session_policy("ASIA2").ok(), Some(None));
        s.set_role_session_mfa("ASIA2", 77)
            .unwrap_or_else(|e| panic!("{e}"));
        let all = s
            .list_role_sessions(Some("alice"), None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            all.iter()
                .find(|r| r.session_id == "ASIA2")
                .and_then(|r| r.mfa_time),
            Some(77)
        );
        assert!(matches!(
            s.set_role_session_mfa("ASIA9", 1),
            Err(StoreError::NoSuchEntity(_))
        ));
    }

    #[test]
    fn a_session_for_a_replaced_role_or_user_is_refused() {
        let (_d, s) = store();
        let role_id = s.get_role("admin").map(|r| r.role_id).ok();
        let user_id = s.get_user("alice").map(|u| u.user_id).ok();
        let ev = AuditEvent::default();
        let mut ok = session("ASIA1");
        ok.role_id = role_id.clone();
        ok.user_id = user_id.clone();
        s.create_role_session_audited(&ok, None, &ev)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut stale_role = session("ASIA2");
        stale_role.role_id = Some("AROAOLD".into());
        stale_role.user_id = user_id;
        let mut stale_user = session("ASIA3");
        stale_user.role_id = role_id;
        stale_user.user_id = Some("AIDAOLD".into());
        for bad in [stale_role, stale_user] {
            assert!(matches!(
                s.create_role_session_audited(&bad, None, &ev),
                Err(StoreError::NoSuchEntity(_))
            ));
        }
        let all = s
            .list_role_sessions(Some("alice"), None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(all.len(), 1);
        assert_eq!(
            s.list_audit(&Default::default()).map(|v| v.len()).ok(),
            Some(1)
        );
    }

    #[test]
    fn min_duration_setting_is_bounded() {
        let (_d, s) = store();
        assert_eq!(s.sts_min_session_duration().ok(), Some(None));
        s.set_sts_min_session_duration(Some(2))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.sts_min_session_duration().ok(), Some(Some(2)));
        assert!(s.set_sts_min_session_duration(Some(0)).is_err());
        assert!(s.set_sts_min_session_duration(Some(901)).is_err());
        s.set_sts_min_session_duration(None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.sts_min_session_duration().ok(), Some(None));
    }
}
