//! The PAM module `pam_iam.so`.
//!
//! `ffi.rs` is the only file that touches libpam; it adapts a PAM handle to the
//! [`handler::PamHandler`] trait and calls [`dispatch`]. Everything below is plain Rust,
//! generic over that trait and over [`backend::Backend`] (the store), so each login path
//! is unit-tested with a scripted fake:
//!
//! `pam_sm_authenticate` → [`dispatch`] → [`auth::authenticate`] → decision → PAM code.

pub mod account;
pub mod audit;
pub mod auth;
pub mod authfacts;
pub mod backend;
mod ffi;
pub mod handler;
pub mod options;
pub mod password;
pub mod session;
pub mod sshinfo;
pub mod store_backend;
pub mod sudo_role;
#[cfg(test)]
mod tests;

use backend::{Backend, BackendError};
use handler::{PamCode, PamHandler, Priority};
use options::Options;

/// The PAM entry point being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// pam_sm_authenticate
    Authenticate,
    /// pam_sm_setcred
    Setcred,
    /// pam_sm_acct_mgmt
    AcctMgmt,
    /// pam_sm_open_session
    OpenSession,
    /// pam_sm_close_session
    CloseSession,
    /// pam_sm_chauthtok
    Chauthtok {
        /// PAM_PRELIM_CHECK or PAM_UPDATE_AUTHTOK
        pass: password::Pass,
        /// PAM_CHANGE_EXPIRED_AUTHTOK
        expired: bool,
    },
}

/// Serve one hook: parse options, open the store, run the phase. The clock and the
/// store are read here, at the edge, and passed in.
pub fn dispatch<H: PamHandler>(h: &mut H, hook: Hook, args: &[String]) -> PamCode {
    let opts = match Options::parse(args) {
        Ok(o) => o,
        Err(e) => {
            h.syslog(Priority::Err, &format!("{e}"));
            return PamCode::ServiceErr;
        }
    };
    if hook == Hook::Setcred {
        // Nothing to set, but sshd drops the session unless setcred succeeds.
        return PamCode::Success;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    // `pam_iam.so sudo`: the role session of this terminal decides (sts).
    if opts.sudo && matches!(hook, Hook::Authenticate | Hook::AcctMgmt) {
        return sudo_role::decide(h, &opts, hook == Hook::Authenticate, now);
    }
    let (store, crypto) = match store_backend::open(&opts.db) {
        Ok(s) => s,
        Err(e) => return unavailable(h, hook, &opts, &e),
    };
    run(h, hook, &opts, &store, &crypto, now)
}

/// The phases, with the store and the clock given (tests call this directly).
pub fn run<H: PamHandler>(
    h: &mut H,
    hook: Hook,
    opts: &Options,
    backend: &dyn Backend,
    crypto: &dyn backend::Crypto,
    now: i64,
) -> PamCode {
    match hook {
        Hook::Authenticate => auth::authenticate(h, opts, backend, crypto, now),
        Hook::Setcred => PamCode::Success,
        Hook::AcctMgmt => {
            let host = match host_name(opts) {
                Ok(n) => n,
                Err(e) => {
                    h.syslog(Priority::Err, &format!("cannot read the host name: {e}"));
                    return PamCode::SystemErr;
                }
            };
            account::acct_mgmt(h, opts, backend, &host, now)
        }
        Hook::OpenSession => session::session(h, backend, session::Phase::Open, now),
        Hook::CloseSession => session::session(h, backend, session::Phase::Close, now),
        Hook::Chauthtok { pass, expired } => {
            password::chauthtok(h, opts, backend, crypto, pass, expired, now)
        }
    }
}

/// The store cannot be used: one clear syslog line, the documented code, no prompts.
fn unavailable<H: PamHandler>(h: &mut H, hook: Hook, opts: &Options, e: &BackendError) -> PamCode {
    let user = h.user().unwrap_or_default();
    h.syslog(
        Priority::Err,
        &format!(
            "denying user {user:?}: cannot use the store {}: {e}",
            opts.db
        ),
    );
    match hook {
        Hook::OpenSession | Hook::CloseSession => PamCode::SessionErr,
        Hook::Chauthtok { .. } => PamCode::AuthtokErr,
        _ => auth::error_code(e),
    }
}

/// This host's name in its ARN: `host=` or the kernel's host name.
fn host_name(opts: &Options) -> Result<String, String> {
    if let Some(h) = &opts.host {
        return Ok(h.clone());
    }
    nix::unistd::gethostname()
        .map_err(|e| e.to_string())?
        .into_string()
        .map_err(|_| "host name is not UTF-8".to_string())
}
