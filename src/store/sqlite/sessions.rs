//! Role sessions in SQLite.

use super::*;

pub(super) fn session_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RoleSession> {
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

pub(super) const SESSION_COLS: &str = "session_id, user_name, role_name, session_name, token_hash, issued, expires, scope, revoked, mfa_time, role_id, user_id";

impl SessionStore for SqliteStore {
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
            insert_role_session(tx, s)?;
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
}

#[cfg(test)]
mod tests {
    use crate::store::prelude::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{
        AuditEvent, NewRole, NewUser, OpenMode, OpenOptions, RoleSession, StoreError,
    };

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
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
