//! The PAM module `pam_iam.so`.
//!
//! `sys.rs` is the whole C binding and `ffi.rs` its only user: it adapts a PAM handle
//! to the [`handler::PamHandler`] trait and calls [`dispatch`]. Everything below is
//! plain Rust, generic over that trait and given a [`backend::Backend`] (the store), so
//! each login path is unit-tested with a scripted handle over a temporary store:
//!
//! `pam_sm_authenticate` → [`dispatch`] → [`auth::authenticate`] → decision → PAM code.

pub mod account;
pub mod audit;
pub mod auth;
pub mod auth_key;
pub mod authfacts;
pub mod backend;
mod ffi;
pub mod handler;
pub mod options;
pub mod password;
pub mod session;
pub mod sshinfo;
pub mod sudo_role;
mod sys;
#[cfg(test)]
mod tests;
pub mod verify;

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
    // The host's mode: the local store, or fleet mode through iam-agent (whose replica
    // is then the store every phase reads).
    let mut opts = opts;
    let agent = match crate::fleet::conf::load(std::path::Path::new(&opts.conf)) {
        Ok(crate::fleet::conf::HostMode::Local) => None,
        Ok(crate::fleet::conf::HostMode::Agent(a)) => {
            opts.db = a.replica.display().to_string();
            Some(a)
        }
        Err(e) => {
            let user = h.user().unwrap_or_default();
            h.syslog(Priority::Err, &format!("denying user {user:?}: {e}"));
            return PamCode::ServiceErr;
        }
    };
    let opts = opts;
    let kept = match h.take_store().and_then(|k| k.still_current(&opts.db)) {
        Some(k) => k,
        None => match KeptStore::open(&opts.db) {
            Ok(k) => k,
            Err(e) => return unavailable(h, hook, &opts, &e),
        },
    };
    let Some((store, crypto)) = &kept.open else {
        return PamCode::SystemErr;
    };
    let code = match (&agent, hook) {
        (Some(a), Hook::Authenticate) => auth::authenticate_via_agent(h, &opts, store, a, now),
        (Some(a), Hook::AcctMgmt) => match host_name(&opts) {
            Ok(host) => account::acct_mgmt(h, &opts, store, Some(a), &host, now),
            Err(e) => {
                h.syslog(Priority::Err, &format!("cannot read the host name: {e}"));
                PamCode::SystemErr
            }
        },
        (Some(_), Hook::Chauthtok { .. }) => {
            h.error("Passwords of IAM users are changed with iamd (aws iam change-password) in fleet mode.");
            h.syslog(
                Priority::Notice,
                "chauthtok refused: fleet mode changes passwords at iamd",
            );
            PamCode::AuthtokErr
        }
        _ => run(h, hook, &opts, store, crypto, now),
    };
    if hook == Hook::Authenticate {
        h.keep_store(kept);
    }
    code
}

/// The store as one hook opened it, for the next hook of the same PAM transaction:
/// `authenticate` keeps it on the PAM handle and `acct_mgmt` takes it, so a login opens
/// the store, checks its files and rebuilds SQLite's WAL index once instead of twice.
/// It is used again only in the process that opened it (an SQLite connection must not
/// cross fork(2): elsewhere it is left alone, never closed) and only while `db` still
/// names the same file; anything else opens the store afresh. Closed at `pam_end`.
pub struct KeptStore {
    pid: u32,
    db: String,
    /// (device, inode) of `db` when it was opened.
    file: (u64, u64),
    /// Always `Some` until dropped.
    open: Option<(Backend, backend::RealCrypto)>,
}

impl KeptStore {
    fn open(db: &str) -> Result<KeptStore, BackendError> {
        let open = backend::open(db)?;
        // Unreadable now (removed since): (0, 0) never matches, so no hook reuses it.
        let file = file_id(db).unwrap_or_default();
        Ok(KeptStore {
            pid: std::process::id(),
            db: db.to_string(),
            file,
            open: Some(open),
        })
    }

    /// `self` if it may serve this hook: same process, same `db`, same file.
    fn still_current(self, db: &str) -> Option<KeptStore> {
        (self.pid == std::process::id() && self.db == db && file_id(db) == Some(self.file))
            .then_some(self)
    }
}

impl Drop for KeptStore {
    fn drop(&mut self) {
        if self.pid != std::process::id() {
            // A copy inherited across fork(2): closing it here could disturb the
            // parent's SQLite locks; the parent closes the real one.
            std::mem::forget(self.open.take());
        }
    }
}

/// (device, inode) of `path` itself (not a link's target).
fn file_id(path: &str) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// The phases, with the store and the clock given (tests call this directly).
pub fn run<H: PamHandler>(
    h: &mut H,
    hook: Hook,
    opts: &Options,
    backend: &Backend,
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
            account::acct_mgmt(h, opts, backend, None, &host, now)
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

#[cfg(test)]
mod kept_store_tests {
    use super::*;
    use crate::store::{OpenMode, open_path};

    fn store() -> (tempfile::TempDir, String) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let db = dir.path().join("iam.db");
        drop(open_path(&db, OpenMode::ReadWrite).unwrap());
        (dir, db.display().to_string())
    }

    #[test]
    fn serves_the_next_hook_for_the_same_file_only() {
        let (dir, db) = store();
        let kept = KeptStore::open(&db).unwrap();
        let kept = kept
            .still_current(&db)
            .expect("same db, same file, same process");
        assert!(
            kept.still_current(&format!("{db}x")).is_none(),
            "another db"
        );

        let kept = KeptStore::open(&db).unwrap();
        let other = dir.path().join("other.db");
        drop(open_path(&other, OpenMode::ReadWrite).unwrap());
        std::fs::rename(&other, &db).unwrap();
        assert!(
            kept.still_current(&db).is_none(),
            "db replaced by another file"
        );
    }

    #[test]
    fn a_copy_in_another_process_is_never_used_or_closed() {
        let (_dir, db) = store();
        let mut kept = KeptStore::open(&db).unwrap();
        kept.pid = kept.pid.wrapping_add(1); // as seen from a forked child
        assert!(kept.still_current(&db).is_none());
        // Dropped (in still_current) without closing: nothing to observe but no panic;
        // the store still opens and works.
        let again = KeptStore::open(&db).unwrap();
        assert!(
            again
                .open
                .as_ref()
                .unwrap()
                .0
                .login_user("nobody")
                .unwrap()
                .is_none()
        );
    }
}
