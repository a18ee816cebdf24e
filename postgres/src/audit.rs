//! The audit trail in PostgreSQL.

use super::*;

/// Append one event in the open transaction (a login's row goes with the step that
/// decides it).
pub(crate) fn insert_event(db: &mut Db<'_>, e: &AuditEvent) -> Result<()> {
    db.exec(
        "INSERT INTO audit_events (time, \"user\", service, rhost, tty, action, decision, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &e.time,
            &e.user,
            &e.service,
            &e.rhost,
            &e.tty,
            &e.action,
            &e.decision.as_str(),
            &e.reason,
        ],
    )?;
    Ok(())
}

/// Writes the row `audit` makes of a step's answer in the step's transaction; the
/// answer.
pub(crate) fn with_row<T>(
    db: &mut Db<'_>,
    audit: pam_iam::credentials::second_factor::Record<'_, T>,
    out: T,
) -> Result<T> {
    if let Some(row) = audit.and_then(|f| f(&out)) {
        insert_event(db, &row)?;
    }
    Ok(out)
}

impl AuditStore for PgStore {
    fn append_audit(&self, e: &AuditEvent) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| insert_event(db, e))
    }

    fn append_audit_batch(&self, events: &[AuditEvent], uses: &[KeyUse]) -> Result<()> {
        if events.is_empty() && uses.is_empty() {
            return Ok(());
        }
        let col = |f: fn(&AuditEvent) -> Option<&str>| -> Vec<Option<&str>> {
            events.iter().map(f).collect()
        };
        let times: Vec<i64> = events.iter().map(|e| e.time).collect();
        let (user, service, rhost, tty) = (
            col(|e| Some(&e.user)),
            col(|e| Some(&e.service)),
            col(|e| e.rhost.as_deref()),
            col(|e| e.tty.as_deref()),
        );
        let (action, decision, reason) = (
            col(|e| Some(&e.action)),
            col(|e| Some(e.decision.as_str())),
            col(|e| Some(&e.reason)),
        );
        let key_ids: Vec<&str> = uses.iter().map(|u| u.key_id.as_str()).collect();
        let services: Vec<&str> = uses.iter().map(|u| u.service.as_str()).collect();
        let used: Vec<i64> = uses.iter().map(|u| u.time).collect();
        self.write(Iso::ReadCommitted, |db| {
            db.exec(
                AUDIT_BATCH,
                &[
                    &times, &user, &service, &rhost, &tty, &action, &decision, &reason, &key_ids,
                    &services, &used,
                ],
            )?;
            Ok(())
        })
    }

    fn list_audit(&self, f: &AuditFilter) -> Result<Vec<AuditEvent>> {
        self.read1(|db| {
            let limit: Option<i64> = f.limit.map(i64::from);
            db.rows(
                "SELECT * FROM (SELECT id, time, \"user\", service, rhost, tty, action, decision, reason FROM audit_events
                  WHERE ($1::text IS NULL OR \"user\" = $1::text) AND ($2::bigint IS NULL OR time >= $2::bigint)
                    AND ($3::bigint IS NULL OR time <= $3::bigint)
                    AND ($4::text IS NULL OR decision = $4::text) AND ($5::text IS NULL OR service = $5::text)
                  ORDER BY time DESC, id DESC LIMIT $6) x ORDER BY time, id",
                &[&f.user, &f.since, &f.until, &f.decision, &f.service, &limit],
            )?
            .iter()
            .map(|r| {
                Ok(AuditEvent {
                    time: g(r, 1)?,
                    user: g(r, 2)?,
                    service: g(r, 3)?,
                    rhost: g(r, 4)?,
                    tty: g(r, 5)?,
                    action: g(r, 6)?,
                    // A word this version does not know (none is written) reads as an
                    // error, never as an allow.
                    decision: pam_iam::audit::Decision::parse(&g::<String>(r, 7)?)
                        .unwrap_or(pam_iam::audit::Decision::Error),
                    reason: g(r, 8)?,
                })
            })
            .collect()
        })
    }
}

/// One statement for an audit batch (a single round trip inside its transaction): the
/// rows in order, then each key's latest use on whichever key table holds it.
const AUDIT_BATCH: &str = "WITH e AS (
    INSERT INTO audit_events (time, \"user\", service, rhost, tty, action, decision, reason)
    SELECT t, u, s, r, y, a, d, w
      FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
           WITH ORDINALITY AS x(t, u, s, r, y, a, d, w, n)
     ORDER BY n
  ), uses AS (
    SELECT DISTINCT ON (id) id, svc, t
      FROM unnest($9::text[], $10::text[], $11::bigint[]) WITH ORDINALITY AS x(id, svc, t, n)
     ORDER BY id, t DESC, n DESC
  ), k AS (
    UPDATE access_keys SET last_used = uses.t, last_used_service = uses.svc
      FROM uses WHERE access_keys.key_id = uses.id
  )
  UPDATE root_access_keys SET last_used = uses.t, last_used_service = uses.svc
    FROM uses WHERE root_access_keys.key_id = uses.id";
