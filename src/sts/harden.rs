//! Process hygiene for the setuid `iam-sts`, done first thing in `main`.
//!
//! A setuid program inherits everything from an untrusted caller: environment, file
//! descriptors, signal dispositions, resource limits, umask, scheduling. The loader already
//! ignores `LD_PRELOAD`/`LD_LIBRARY_PATH` for setuid binaries (AT_SECURE); this module
//! removes the rest of the caller's influence, like `unix_chkpwd` and sudo-rs do.
//!
//! Before the store is opened the helper also stops being the caller's process at all
//! ([`become_root`]): with the caller's real uid it could be `kill -STOP`ped inside a
//! write transaction, and every login and sudo on the host would wait on that lock.

use std::ffi::OsString;

use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};

/// The only PATH `iam-sts` runs with.
pub const SAFE_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";
/// Most arguments `iam-sts` accepts.
pub const MAX_ARGS: usize = 32;
/// Largest single argument (a session policy is at most 2048 characters in AWS; the
/// rest are short).
pub const MAX_ARG_BYTES: usize = 4096;
/// Largest total of all arguments.
pub const MAX_TOTAL_ARG_BYTES: usize = 8192;

/// Problems with what the caller handed the process.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HardenError {
    /// Too many arguments.
    #[error("ValidationError: too many arguments (at most {MAX_ARGS})")]
    TooManyArgs,
    /// One argument is too long.
    #[error("ValidationError: an argument is longer than {MAX_ARG_BYTES} bytes")]
    ArgTooLong,
    /// All arguments together are too long.
    #[error("ValidationError: the arguments are longer than {MAX_TOTAL_ARG_BYTES} bytes")]
    ArgsTooLong,
    /// An argument is not UTF-8.
    #[error("ValidationError: arguments must be valid UTF-8")]
    NotUtf8,
    /// The binary is not setuid root, so it can neither read the store nor protect itself.
    #[error(
        "ServiceFailure: iam-sts runs with effective uid {0}, not 0: it must be installed owned by root with mode 4755 (ask an administrator)"
    )]
    NotSetuidRoot(u32),
    /// Dropping the caller's ids failed (the kernel refused setresuid/setresgid/setgroups).
    #[error("ServiceFailure: cannot switch to root ids ({0}); refusing to continue")]
    Switch(String),
}

/// What the caller's environment may still decide, captured before it is wiped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Inherited {
    /// `PAM_IAM_DB`, kept only when the real uid is 0.
    pub db_override: Option<String>,
}

/// Wipes the environment (keeping `PAM_IAM_DB` only for a root caller), sets a fixed
/// PATH, umask 077, no core dumps, and makes sure fds 0-2 are open so that a file the
/// helper opens can never become someone's stdout.
pub fn sanitize_process(real_uid: u32) -> Inherited {
    let db_override = if real_uid == 0 {
        std::env::var("PAM_IAM_DB").ok().filter(|v| !v.is_empty())
    } else {
        None
    };
    let keys: Vec<OsString> = std::env::vars_os().map(|(k, _)| k).collect();
    for k in keys {
        // SAFETY: called at the very start of main, before any thread is spawned, so no
        // other thread can read the environment concurrently.
        unsafe { std::env::remove_var(&k) };
    }
    // SAFETY: as above, single-threaded at this point.
    unsafe { std::env::set_var("PATH", SAFE_PATH) };
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads the struct we pass by pointer; it lives for the call.
    unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
    // The caller's limits must not cut a store write in half (SIGXFSZ, SIGXCPU, failed
    // allocations): lift them (euid 0 may raise hard limits; failures leave them as they
    // were, and every store change is one transaction anyway).
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    for res in [
        libc::RLIMIT_FSIZE,
        libc::RLIMIT_CPU,
        libc::RLIMIT_AS,
        libc::RLIMIT_DATA,
    ] {
        // SAFETY: as above.
        unsafe { libc::setrlimit(res, &unlimited) };
    }
    // Where a limit could not be lifted (some sandboxes refuse even euid 0), a write past
    // it fails with EFBIG and the transaction rolls back, instead of SIGXFSZ killing the
    // process halfway.
    // SAFETY: SIG_IGN is a valid disposition for SIGXFSZ; no handler code runs.
    let _ =
        unsafe { nix::sys::signal::signal(Signal::SIGXFSZ, nix::sys::signal::SigHandler::SigIgn) };
    ensure_std_fds();
    Inherited { db_override }
}

fn ensure_std_fds() {
    for fd in 0..=2 {
        // SAFETY: fcntl(F_GETFD) only queries the descriptor table.
        let open = unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1;
        if !open {
            // SAFETY: the path is a valid NUL-terminated C string; open returns the lowest
            // free fd, which is `fd` because all lower ones are open.
            unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        }
    }
}

/// Makes the process fully root: no supplementary groups, real, effective and saved gid 0,
/// then the same for the uid. Called after the caller's facts are recorded (see
/// `scope::record`) and before the store is opened. From then on the caller cannot signal
/// the helper (kill(2) needs the sender's uid to match the target's real or saved uid;
/// SIGCONT within one session is the only exception, and it is harmless), cannot ptrace
/// it, and cannot lower its scheduling (reset here) to starve it while it holds the
/// store's write lock. Stop signals from the terminal (^Z, background reads and writes)
/// are ignored as well, so nothing short of root stops the helper.
///
/// # Errors
/// [`HardenError::NotSetuidRoot`] when the effective uid is not 0 (not installed setuid),
/// [`HardenError::Switch`] when the kernel refuses, or the ids are not all 0 afterwards.
pub fn become_root() -> Result<(), HardenError> {
    use nix::unistd::{Gid, Uid, getresgid, getresuid, setgroups, setresgid, setresuid};
    let euid = nix::unistd::geteuid();
    if !euid.is_root() {
        return Err(HardenError::NotSetuidRoot(euid.as_raw()));
    }
    let sw = |what: &str, e: nix::Error| HardenError::Switch(format!("{what}: {e}"));
    setgroups(&[]).map_err(|e| sw("setgroups", e))?;
    let root_g = Gid::from_raw(0);
    setresgid(root_g, root_g, root_g).map_err(|e| sw("setresgid", e))?;
    let root_u = Uid::from_raw(0);
    setresuid(root_u, root_u, root_u).map_err(|e| sw("setresuid", e))?;
    let u = getresuid().map_err(|e| sw("getresuid", e))?;
    let g = getresgid().map_err(|e| sw("getresgid", e))?;
    let all_root = [u.real, u.effective, u.saved].iter().all(|x| x.is_root())
        && [g.real, g.effective, g.saved]
            .iter()
            .all(|x| x.as_raw() == 0);
    if !all_root {
        return Err(HardenError::Switch(
            "the ids are not all 0 after the switch".to_string(),
        ));
    }
    reset_scheduling();
    for s in [Signal::SIGTSTP, Signal::SIGTTIN, Signal::SIGTTOU] {
        // SAFETY: SIG_IGN is a valid disposition for the stop signals; no handler runs.
        let _ = unsafe { nix::sys::signal::signal(s, nix::sys::signal::SigHandler::SigIgn) };
    }
    Ok(())
}

/// Undoes what a caller can do to make the helper slow while it holds a lock: `nice 19`,
/// `chrt --idle`/`--batch`, `ionice -c3`. Failures leave the inherited values (the helper
/// still works, only slower); every store wait is bounded anyway (see docs/store.md).
fn reset_scheduling() {
    // SAFETY: setpriority only reads its integer arguments.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 0) };
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_setscheduler reads the struct we pass by pointer; it lives for the call.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &param) };
    // ioprio_set(IOPRIO_WHO_PROCESS, self, IOPRIO_CLASS_NONE): the default I/O class.
    // SAFETY: a plain syscall with integer arguments.
    unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, 0) };
}

/// Checks argument count and sizes and converts them to UTF-8.
pub fn bounded_args(args: impl IntoIterator<Item = OsString>) -> Result<Vec<String>, HardenError> {
    let mut out = Vec::new();
    let mut total = 0usize;
    for a in args {
        if out.len() >= MAX_ARGS {
            return Err(HardenError::TooManyArgs);
        }
        let len = a.len();
        if len > MAX_ARG_BYTES {
            return Err(HardenError::ArgTooLong);
        }
        total += len;
        if total > MAX_TOTAL_ARG_BYTES {
            return Err(HardenError::ArgsTooLong);
        }
        out.push(a.into_string().map_err(|_| HardenError::NotUtf8)?);
    }
    Ok(out)
}

/// While alive, SIGINT, SIGQUIT, SIGTSTP, SIGHUP and SIGTERM are held, so a store write
/// (TOTP watermark, session row, audit event) is never cut in half by the caller.
pub struct SignalGuard {
    old: SigSet,
}

impl SignalGuard {
    /// Blocks the signals until the guard is dropped.
    pub fn block() -> Self {
        let mut set = SigSet::empty();
        for s in [
            Signal::SIGINT,
            Signal::SIGQUIT,
            Signal::SIGTSTP,
            Signal::SIGHUP,
            Signal::SIGTERM,
        ] {
            set.add(s);
        }
        let mut old = SigSet::empty();
        // Failure leaves the mask unchanged; the write still happens, only unguarded.
        let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old));
        SignalGuard { old }
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn args_within_bounds_pass() {
        assert_eq!(
            bounded_args(os(&["iam-sts", "get-caller-identity"])),
            Ok(vec![
                "iam-sts".to_string(),
                "get-caller-identity".to_string()
            ])
        );
    }

    #[test]
    fn oversized_args_fail() {
        let big = "x".repeat(MAX_ARG_BYTES + 1);
        assert_eq!(bounded_args(os(&[&big])), Err(HardenError::ArgTooLong));
        let many: Vec<OsString> = (0..=MAX_ARGS).map(|_| OsString::from("a")).collect();
        assert_eq!(bounded_args(many), Err(HardenError::TooManyArgs));
        let half = "y".repeat(MAX_ARG_BYTES);
        assert_eq!(
            bounded_args(os(&[&half, &half, &half])),
            Err(HardenError::ArgsTooLong)
        );
    }

    #[test]
    fn signal_guard_blocks_and_restores() {
        let before = SigSet::thread_get_mask().unwrap_or_else(|e| panic!("{e}"));
        {
            let _g = SignalGuard::block();
            let during = SigSet::thread_get_mask().unwrap_or_else(|e| panic!("{e}"));
            assert!(during.contains(Signal::SIGINT));
            assert!(during.contains(Signal::SIGTSTP));
        }
        let after = SigSet::thread_get_mask().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            before.contains(Signal::SIGINT),
            after.contains(Signal::SIGINT)
        );
    }
}
