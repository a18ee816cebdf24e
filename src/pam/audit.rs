//! One way to report a decision: the store's audit table and one syslog line.

use super::backend::{AuditRecord, Backend};
use super::handler::{PamHandler, Priority};

/// What PAM says about who is logging in from where; read once per hook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginItems {
    /// PAM_USER
    pub user: String,
    /// PAM_SERVICE
    pub service: Option<String>,
    /// PAM_RHOST
    pub rhost: Option<String>,
    /// PAM_TTY
    pub tty: Option<String>,
}

impl LoginItems {
    /// Read the items; the user is asked for by libpam when unset.
    pub fn read<H: PamHandler>(h: &mut H) -> Result<LoginItems, super::handler::PamCode> {
        Ok(LoginItems {
            user: h.user()?,
            service: h.service(),
            rhost: h.rhost(),
            tty: h.tty(),
        })
    }

    /// An audit record for this login.
    pub fn record(&self, now: i64, event: &str, decision: &str, reason: &str) -> AuditRecord {
        AuditRecord {
            time: now,
            event: event.to_string(),
            user: self.user.clone(),
            service: self.service.clone(),
            rhost: self.rhost.clone(),
            tty: self.tty.clone(),
            decision: decision.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// The syslog line of an audit record. Values are quoted and escaped: PAM_USER and
/// PAM_RHOST come from the network.
pub fn line(rec: &AuditRecord) -> String {
    let opt = |o: &Option<String>| format!("{:?}", o.as_deref().unwrap_or(""));
    format!(
        "{} {} user={:?} service={} rhost={} tty={} reason={:?}",
        rec.event,
        rec.decision,
        rec.user,
        opt(&rec.service),
        opt(&rec.rhost),
        opt(&rec.tty),
        rec.reason
    )
}

/// Append to the store, then log one syslog line. Returns false when the store write
/// failed: callers turn an unaudited allow into a denial, so that line says "deny" and
/// why (never an "allow" line for a login that was refused).
pub fn report<H: PamHandler>(h: &mut H, backend: Option<&Backend>, rec: &AuditRecord) -> bool {
    let stored = match backend {
        Some(b) => b.audit(rec),
        None => Ok(()),
    };
    match stored {
        Ok(()) => {
            let prio = match rec.decision.as_str() {
                "allow" => Priority::Info,
                "error" => Priority::Err,
                _ => Priority::Notice,
            };
            h.syslog(prio, &line(rec));
            true
        }
        Err(e) => {
            let mut unaudited = rec.clone();
            if rec.decision == "allow" {
                unaudited.decision = "deny".into();
                unaudited.reason = format!(
                    "cannot write the audit trail, so not allowing ({}): {e}",
                    rec.reason
                );
            } else {
                unaudited.reason = format!("{}; not in the audit trail: {e}", rec.reason);
            }
            h.syslog(Priority::Err, &line(&unaudited));
            false
        }
    }
}

/// Report a store failure: one syslog line; the store's audit table too, unless the
/// store itself is what failed (a second "cannot write" line would only repeat it).
pub fn report_failure<H: PamHandler>(
    h: &mut H,
    backend: &Backend,
    rec: &AuditRecord,
    e: &super::backend::BackendError,
) {
    let target = match e {
        super::backend::BackendError::Unavailable(_) => None,
        _ => Some(backend),
    };
    report(h, target, rec);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_escapes_network_values() {
        let items = LoginItems {
            user: "ev\"il\nuser".into(),
            service: Some("sshd".into()),
            rhost: None,
            tty: Some("ssh".into()),
        };
        let l = line(&items.record(1, "auth", "deny", "wrong password"));
        assert_eq!(
            l,
            r#"auth deny user="ev\"il\nuser" service="sshd" rhost="" tty="ssh" reason="wrong password""#
        );
    }
}
