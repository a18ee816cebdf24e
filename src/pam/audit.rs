//! One way to report a decision: the store's audit table and the one syslog line.

use super::backend::Backend;
use super::handler::{PamHandler, Priority};
use crate::audit::{Decision, Event, line};

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

    /// An audit event of this login: `action` is `authenticate`, the account action
    /// (`host:Login`, `host:Sudo`), `chauthtok`, `open_session` or `close_session`.
    pub fn record(&self, now: i64, action: &str, decision: Decision, reason: &str) -> Event {
        Event {
            time: now,
            action: action.to_string(),
            user: self.user.clone(),
            service: self.service.clone().unwrap_or_default(),
            rhost: self.rhost.clone(),
            tty: self.tty.clone(),
            decision,
            reason: reason.to_string(),
        }
    }
}

/// Append to the store, then log one syslog line. Returns false when the store write
/// failed: callers turn an unaudited allow into a denial, so that line says "deny" and
/// why (never an "allow" line for a login that was refused).
pub fn report<H: PamHandler>(h: &mut H, backend: Option<&Backend>, rec: &Event) -> bool {
    let stored = match backend {
        Some(b) => b.audit(rec),
        None => Ok(()),
    };
    match stored {
        Ok(()) => {
            let prio = match rec.decision {
                Decision::Allow => Priority::Info,
                Decision::Error => Priority::Err,
                Decision::Deny | Decision::ChangeRequired => Priority::Notice,
            };
            h.syslog(prio, &line(rec));
            true
        }
        Err(e) => {
            report_unwritten(h, rec, &e);
            false
        }
    }
}

/// The one syslog line of a decision whose audit row could not be written (`rec`):
/// an Allow reads as the denial it became, and says why.
pub fn report_unwritten<H: PamHandler>(h: &mut H, rec: &Event, e: &dyn std::fmt::Display) {
    let mut unaudited = rec.clone();
    if rec.decision == Decision::Allow {
        unaudited.decision = Decision::Deny;
        unaudited.reason = format!(
            "cannot write the audit trail, so not allowing ({}): {e}",
            rec.reason
        );
    } else {
        unaudited.reason = format!("{}; not in the audit trail: {e}", rec.reason);
    }
    h.syslog(Priority::Err, &line(&unaudited));
}

/// Report a store failure: one syslog line; the store's audit table too, unless the
/// store itself is what failed (a second "cannot write" line would only repeat it).
pub fn report_failure<H: PamHandler>(
    h: &mut H,
    backend: &Backend,
    rec: &Event,
    e: &super::backend::BackendError,
) {
    let target = match e {
        super::backend::BackendError::Unavailable(_) => None,
        _ => Some(backend),
    };
    report(h, target, rec);
}
