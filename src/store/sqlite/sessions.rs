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
        secret_sealed: r.get(12)?,
        host: r.get(13)?,
    })
}

/// Insert one role session (shared with the sts additions, which add its policy in the
/// same transaction).
pub(super) fn insert_role_session(tx: &Connection, s: &RoleSession) -> Result<()> {
    tx.execute(
        &format!("INSERT INTO role_sessions ({SESSION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
        params![s.session_id, s.user_name, s.role_name, s.session_name, s.token_hash, s.issued, s.expires, s.scope, s.revoked, s.mfa_time, s.role_id, s.user_id, s.secret_sealed, s.host],
    )?;
    Ok(())
}

pub(super) const SESSION_COLS: &str = "session_id, user_name, role_name, session_name, token_hash, issued, expires, scope, revoked, mfa_time, role_id, user_id, secret_sealed, host";

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
            .ok_or_else(rules::no_such_role_session)
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
            found(changed, || rules::no_such_role_session_id(session_id))
        })
    }

    fn prune_host_sessions(&self, expired_before: i64) -> Result<u64> {
        self.write(|tx| {
            // Their policies and contexts go by ON DELETE CASCADE.
            let n = tx.execute(
                "DELETE FROM role_sessions WHERE host IS NOT NULL AND expires < ?1",
                params![expired_before],
            )?;
            Ok(n as u64)
        })
    }

    fn put_role_session_policy(&self, session_id: &str, document: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO role_session_policies (session_id, document) VALUES (?1, ?2)",
                params![session_id, document],
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

    fn put_role_session_context(&self, session_id: &str, c: &SessionContext) -> Result<()> {
        let doc = serde_json::to_string(c)
            .map_err(|e| StoreError::Database(format!("session context: {e}")))?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO role_session_context (session_id, document) VALUES (?1, ?2)",
                params![session_id, doc],
            )?;
            Ok(())
        })
    }

    fn role_session_context(&self, session_id: &str) -> Result<Option<SessionContext>> {
        let doc: Option<String> = self.read(|tx| {
            Ok(tx
                .query_row(
                    "SELECT document FROM role_session_context WHERE session_id = ?1",
                    [session_id],
                    |r| r.get(0),
                )
                .optional()?)
        })?;
        doc.map(|d| {
            serde_json::from_str(&d).map_err(|e| {
                StoreError::Database(format!("session {session_id}: stored context: {e}"))
            })
        })
        .transpose()
    }

    fn set_role_session_mfa(&self, session_id: &str, t: i64) -> Result<()> {
        self.write(|tx| {
            if tx.execute(
                "UPDATE role_sessions SET mfa_time = ?1 WHERE session_id = ?2",
                params![t, session_id],
            )? == 0
            {
                return Err(rules::no_such_role_session_id(session_id));
            }
            Ok(())
        })
    }
}
