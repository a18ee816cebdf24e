//! `iam-authorized-keys USER`: sshd's `AuthorizedKeysCommand`.
//!
//! Prints USER's Active SSH public keys from the root-owned export `iam` maintains
//! (see `pam_iam::userdb::keys`), and nothing when there are none or `host:Login`
//! cannot be allowed for USER here. Runs as an unprivileged `AuthorizedKeysCommandUser`:
//! it never opens the store, reads no environment, runs no other program, validates
//! the name, refuses unsafe files and bounds its output. Problems go to syslog
//! (authpriv), never to sshd's stdout.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)]

use std::ffi::CString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use pam_iam::userdb::keys::{DEFAULT_KEYS_DIR, ReadError, read_keys};

const USAGE: &str = "usage: iam-authorized-keys [--keys-dir DIR] USER";

fn log(priority: libc::c_int, msg: &str) {
    let Ok(msg) = CString::new(msg.replace('\0', "?")) else {
        return;
    };
    // SAFETY: the ident is a static C string; the format is a literal "%s" whose one
    // argument is a valid NUL-terminated string living across the call.
    unsafe {
        libc::openlog(
            c"iam-authorized-keys".as_ptr(),
            libc::LOG_PID,
            libc::LOG_AUTHPRIV,
        );
        libc::syslog(priority, c"%s".as_ptr(), msg.as_ptr());
        libc::closelog();
    }
}

fn parse_args(args: &[String]) -> Option<(PathBuf, &str)> {
    match args {
        [user] => Some((PathBuf::from(DEFAULT_KEYS_DIR), user.as_str())),
        [flag, dir, user] if flag == "--keys-dir" && dir.starts_with('/') => {
            Some((PathBuf::from(dir), user.as_str()))
        }
        _ => None,
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).take(4).collect();
    let Some((dir, user)) = parse_args(&args) else {
        let _ = writeln!(std::io::stderr(), "{USAGE}");
        return ExitCode::from(2);
    };
    match read_keys(&dir, user) {
        Ok(keys) => {
            let mut out = std::io::stdout().lock();
            for k in keys {
                if writeln!(out, "{k}").is_err() {
                    break;
                }
            }
            let _ = out.flush();
        }
        Err(ReadError::NoKeys) => {}
        Err(ReadError::InvalidName) => log(libc::LOG_NOTICE, "refused an invalid user name"),
        Err(e) => log(libc::LOG_WARNING, &format!("no keys for {user}: {e}")),
    }
    ExitCode::SUCCESS
}
