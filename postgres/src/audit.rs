//! The audit trail in PostgreSQL.

use super::*;

impl AuditStore for PgStore {
    fn append_audit(&self, e: &AuditEvent) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            db.exec(
                "INSERT INTO audit_events (time, \"user\", service, rhost, tty, action, decision, reason)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[&e.time, &e.user, &e.service, &e.rhost, &e.tty, &e.action, &e.decision.as_str(), &e.reason],
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
