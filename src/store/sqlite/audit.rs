//! The audit trail in SQLite.

use super::*;

/// Append one event in the open transaction (a login's row goes with the step that
/// decides it).
pub(super) fn insert_event(tx: &Connection, e: &AuditEvent) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO audit_events (time, user, service, rhost, tty, action, decision, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        e.time,
        e.user,
        e.service,
        e.rhost,
        e.tty,
        e.action,
        e.decision.as_str(),
        e.reason
    ])?;
    Ok(())
}

/// Writes the row `audit` makes of a step's answer in the step's transaction; the
/// answer.
pub(super) fn with_row<T>(tx: &Connection, audit: Record<'_, T>, out: T) -> Result<T> {
    if let Some(row) = audit.and_then(|f| f(&out)) {
        insert_event(tx, &row)?;
    }
    Ok(out)
}

impl AuditStore for SqliteStore {
    fn append_audit(&self, e: &AuditEvent) -> Result<()> {
        self.write(|tx| insert_event(tx, e))
    }

    fn append_audit_batch(&self, events: &[AuditEvent], uses: &[KeyUse]) -> Result<()> {
        self.write(|tx| {
            let mut ins = tx.prepare_cached(
                "INSERT INTO audit_events (time, user, service, rhost, tty, action, decision, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for e in events {
                ins.execute(params![e.time, e.user, e.service, e.rhost, e.tty, e.action, e.decision.as_str(), e.reason])?;
            }
            let mut latest: Vec<&KeyUse> = Vec::new();
            for u in uses {
                match latest.iter_mut().find(|l| l.key_id == u.key_id) {
                    Some(l) if l.time <= u.time => *l = u,
                    Some(_) => {}
                    None => latest.push(u),
                }
            }
            for table in ["access_keys", "root_access_keys"] {
                let mut up = tx.prepare_cached(&format!(
                    "UPDATE {table} SET last_used = ?1, last_used_service = ?2 WHERE key_id = ?3"
                ))?;
                for u in &latest {
                    up.execute(params![u.time, u.service, u.key_id])?;
                }
            }
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
                    // A word this version does not know (none is written) reads as an
                    // error, never as an allow.
                    decision: crate::audit::Decision::parse(&r.get::<_, String>(7)?)
                        .unwrap_or(crate::audit::Decision::Error),
                    reason: r.get(8)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}
