//! Process hygiene for the setuid `iam-sts`, done first thing in `main`.
//!
//! A setuid program inherits everything from an untrusted caller: environment, file
//! descriptors, signal dispositions, resource limits, umask. The loader already ignores
//! `LD_PRELOAD`/`LD_LIBRARY_PATH` for setuid binaries (AT_SECURE); this module removes the
//! rest of the caller's influence, like `unix_chkpwd` and sudo-rs do.

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
