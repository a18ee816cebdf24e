//! Role sessions in PostgreSQL.

use super::*;

const SESSION_COLS: &str = "session_id, user_name, role_name, session_name, token_hash, issued, expires, scope, revoked, mfa_time, role_id, user_id, secret_sealed, host";

fn session_row(r: &postgres::Row) -> Result<RoleSession> {
    Ok(RoleSession {
        session_id: g(r, 0)?,
        user_name: g(r, 1)?,
        role_name: g(r, 2)?,
        session_name: g(r, 3)?,
        token_hash: g(r, 4)?,
        issued: g(r, 5)?,
        expires: g(r, 6)?,
        scope: g(r, 7)?,
        revoked: g(r, 8)?,
        mfa_time: g(r, 9)?,
        role_id: g(r, 10)?,
        user_id: g(r, 11)?,
        secret_sealed: g(r, 12)?,
        host: g(r, 13)?,
    })
}

impl SessionStore for PgStore {
    fn create_role_session(&self, s: &RoleSession) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            db.exec(
                &format!("INSERT INTO role_sessions ({SESSION_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"),
                &[&s.session_id, &s.user_name, &s.role_name, &s.session_name, &s.token_hash, &s.issued, &s.expires, &s.scope, &s.revoked, &s.mfa_time, &s.role_id, &s.user_id, &s.secret_sealed, &s.host],
            )?;
            Ok(())
        })
    }

    fn get_role_session(&self, token_hash: &str) -> Result<RoleSession> {
        self.read1(|db| {
            match db.opt(
                &format!("SELECT {SESSION_COLS} FROM role_sessions WHERE token_hash = $1"),
                &[&token_hash],
            )? {
                Some(r) => session_row(&r),
                None => Err(rules::no_such_role_session()),
            }
        })
    }

    fn list_role_sessions(
        &self,
        user: Option<&str>,
        live_at: Option<i64>,
    ) -> Result<Vec<RoleSession>> {
        self.read1(|db| {
            db.rows(
                &format!(
                    "SELECT {SESSION_COLS} FROM role_sessions
                     WHERE ($1::text IS NULL OR user_name = $1::text) AND ($2::bigint IS NULL OR (revoked IS NULL AND expires > $2::bigint))
                     ORDER BY issued, session_id"
                ),
                &[&user, &live_at],
            )?
            .iter()
            .map(session_row)
            .collect()
        })
    }

    fn revoke_role_session(&self, session_id: &str, now: i64) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            let n = db.exec(
                "UPDATE role_sessions SET revoked = coalesce(revoked, $1) WHERE session_id = $2",
                &[&now, &session_id],
            )?;
            found(n, || rules::no_such_role_session_id(session_id))
        })
    }

    fn prune_host_sessions(&self, expired_before: i64) -> Result<u64> {
        self.write(Iso::ReadCommitted, |db| {
            // Their policies and contexts go by ON DELETE CASCADE.
            db.exec(
                "DELETE FROM role_sessions WHERE host IS NOT NULL AND expires < $1",
                &[&expired_before],
            )
        })
    }

    fn put_role_session_policy(&self, session_id: &str, document: &str) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            db.exec(
                "INSERT INTO role_session_policies (session_id, document) VALUES ($1, $2)",
                &[&session_id, &document],
            )?;
            Ok(())
        })
    }

    fn role_session_policy(&self, session_id: &str) -> Result<Option<String>> {
        self.read1(|db| {
            match db.opt(
                "SELECT document FROM role_session_policies WHERE session_id = $1",
                &[&session_id],
            )? {
                Some(r) => Ok(Some(g(&r, 0)?)),
                None => Ok(None),
            }
        })
    }

    fn put_role_session_context(&self, session_id: &str, c: &SessionContext) -> Result<()> {
        let doc = serde_json::to_string(c)
            .map_err(|e| StoreError::Database(format!("session context: {e}")))?;
        self.write(Iso::ReadCommitted, |db| {
            db.exec(
                "INSERT INTO role_session_context (session_id, document) VALUES ($1, $2)",
                &[&session_id, &doc],
            )?;
            Ok(())
        })
    }

    fn role_session_context(&self, session_id: &str) -> Result<Option<SessionContext>> {
        let doc: Option<String> = self.read1(|db| {
            match db.opt(
                "SELECT document FROM role_session_context WHERE session_id = $1",
                &[&session_id],
            )? {
                Some(r) => Ok(Some(g(&r, 0)?)),
                None => Ok(None),
            }
        })?;
        doc.map(|d| {
            serde_json::from_str(&d).map_err(|e| {
                StoreError::Database(format!("session {session_id}: stored context: {e}"))
            })
        })
        .transpose()
    }

    fn set_role_session_mfa(&self, session_id: &str, t: i64) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            let n = db.exec(
                "UPDATE role_sessions SET mfa_time = $1 WHERE session_id = $2",
                &[&t, &session_id],
            )?;
            found(n, || rules::no_such_role_session_id(session_id))
        })
    }
}
