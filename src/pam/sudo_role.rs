//! `pam_iam.so sudo`: in sudo's `auth` and `account`, the decision is the role session
//! in effect for this terminal (see `crate::sts::sudo`), not a password.
//!
//! This file only maps PAM to the sudo decision (invoking user, terminal scope, the
//! code prompt, the PAM code); the decision itself is `crate::sts::sudo`.

use super::handler::{Echo, PamCode, PamHandler, Priority};
use super::options::Options;
use crate::fleet::conf::{self, HostMode};
use crate::fleet::{client, proto};
use crate::sts::scope;
use crate::sts::sudo::{SudoOutcome, SudoRequest, sudo_decision_at};
use std::path::Path;

/// Decide one sudo `auth` (`auth = true`, may ask for a TOTP code) or `account`.
pub fn decide<H: PamHandler>(h: &mut H, opts: &Options, auth: bool, now: i64) -> PamCode {
    let phase = if auth { "auth" } else { "account" };
    // The invoking user is sudo's real uid; the terminal scope is sudo's own.
    let (caller, scope) = match (scope::caller(), scope::current()) {
        (Ok(c), Ok(s)) => (c, s),
        (Err(e), _) | (_, Err(e)) => {
            h.syslog(Priority::Err, &format!("sudo {phase}: {e}"));
            return PamCode::SystemErr;
        }
    };
    // Fleet mode: the replica holds this host's role sessions; the agent says until when
    // they count (always online; offline up to its cap).
    let (db, offline, honour_until) = match conf::load(Path::new(&opts.conf)) {
        Ok(HostMode::Local) => (opts.db.clone(), None, None),
        Ok(HostMode::Agent(a)) => match client::call(&a, &proto::Request::SessionWindow) {
            Ok(proto::Answer::SessionWindow { online, until }) => {
                (a.replica.display().to_string(), Some(!online), until)
            }
            Ok(_) => {
                h.syslog(
                    Priority::Err,
                    &format!("sudo {phase}: iam-agent gave an unexpected answer to SessionWindow"),
                );
                return PamCode::SystemErr;
            }
            Err(e) => {
                h.syslog(Priority::Err, &format!("sudo {phase}: {e}"));
                h.error_always(
                    "sudo through your role session is unavailable right now: iam-agent cannot be reached (the administrator finds why in syslog)",
                );
                return if auth {
                    PamCode::SystemErr
                } else {
                    PamCode::AuthinfoUnavail
                };
            }
        },
        Err(e) => {
            h.syslog(Priority::Err, &format!("sudo {phase}: {e}"));
            return PamCode::ServiceErr;
        }
    };
    let req = SudoRequest {
        user: caller.name.clone(),
        scope,
        service: h.service(),
        tty: h.tty(),
        rhost: h.rhost(),
        now,
        may_prompt: auth,
        offline,
        honour_until,
    };
    let outcome = sudo_decision_at(&db, opts.host.as_deref(), &req, &mut |msg: &str| {
        h.prompt(Echo::Off, msg).ok()
    });
    match outcome {
        SudoOutcome::Allowed { reason } => {
            h.syslog(
                Priority::Info,
                &format!("sudo {phase}: user {:?} allowed: {reason}", caller.name),
            );
            PamCode::Success
        }
        SudoOutcome::Denied { reason, message } => {
            // Also in account: with sudo's own timestamp, auth was skipped and this is
            // the only place the user learns why.
            h.error_always(&message);
            h.syslog(
                Priority::Notice,
                &format!("sudo {phase}: user {:?} denied: {reason}", caller.name),
            );
            // Not AUTH_ERR: sudo would retry it twice ("Sorry, try again").
            if auth {
                PamCode::CredInsufficient
            } else {
                PamCode::PermDenied
            }
        }
        SudoOutcome::NotIamUser => {
            if opts.debug {
                h.syslog(
                    Priority::Debug,
                    &format!("sudo {phase}: user {:?} is not an IAM user", caller.name),
                );
            }
            PamCode::UserUnknown
        }
        SudoOutcome::Unavailable(e) => {
            h.syslog(
                Priority::Err,
                &format!("sudo {phase}: denying user {:?}: {e}", caller.name),
            );
            h.error_always(
                "sudo through your role session is unavailable right now: the IAM store cannot be used (the administrator finds why in syslog)",
            );
            // Not AUTHINFO_UNAVAIL in auth: sudo would ask twice more, and each try would
            // wait the store's busy timeout again.
            if auth {
                PamCode::SystemErr
            } else {
                PamCode::AuthinfoUnavail
            }
        }
    }
}
