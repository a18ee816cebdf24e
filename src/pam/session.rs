//! `session`: record logins and logouts of IAM users in the audit trail.

use super::audit::{self, LoginItems};
use super::backend::Backend;
use super::handler::{PamCode, PamHandler};
use crate::audit::Decision;

/// Which end of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// pam_open_session
    Open,
    /// pam_close_session
    Close,
}

/// Record the session event; non-IAM users are left to other modules.
pub fn session<H: PamHandler>(h: &mut H, backend: &Backend, phase: Phase, now: i64) -> PamCode {
    let items = match LoginItems::read(h) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let event = match phase {
        Phase::Open => "open_session",
        Phase::Close => "close_session",
    };
    match backend.login_user(&items.user) {
        Ok(Some(_)) => {}
        Ok(None) => return PamCode::Ignore,
        Err(e) => {
            let rec = items.record(now, event, Decision::Error, &e.to_string());
            audit::report_failure(h, backend, &rec, &e);
            return PamCode::SessionErr;
        }
    }
    if audit::report(
        h,
        Some(backend),
        &items.record(now, event, Decision::Allow, "session"),
    ) {
        PamCode::Success
    } else {
        PamCode::SessionErr
    }
}
