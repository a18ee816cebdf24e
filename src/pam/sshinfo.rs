//! `mode=code` asks only for a verification code because sshd is meant to have checked a
//! public key first. That is a fact of the sshd configuration, not of PAM: checked here
//! from `SSH_AUTH_INFO_0`, which sshd (OpenSSH 7.8+, auth-pam.c `expose_authinfo`) puts
//! into the PAM environment before every keyboard-interactive and account phase, one
//! line per authentication method already completed (`publickey ssh-ed25519 AAAA…`).
//! It is set by sshd itself, whatever `ExposeAuthInfo` says; a client cannot set it.

use super::audit::{self, LoginItems};
use super::backend::Backend;
use super::handler::{PamCode, PamHandler, Priority};
use super::options::Options;
use crate::audit::Decision;

/// The PAM environment variable sshd fills with the completed methods.
pub const ENV_NAME: &str = "SSH_AUTH_INFO_0";

/// The method names (first word of each line) of an `SSH_AUTH_INFO_0` value.
pub fn methods(info: &str) -> Vec<&str> {
    info.lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

/// Has a public key been verified for this login before us?
pub fn publickey_done(info: Option<&str>) -> bool {
    info.is_some_and(|i| methods(i).contains(&"publickey"))
}

/// In `mode=code`: `None` when sshd verified a public key first; otherwise the refusal,
/// logged (naming the sshd setting that is missing) and audited, before any prompt so
/// the answer says nothing about the account.
pub fn require_publickey<H: PamHandler>(
    h: &mut H,
    opts: &Options,
    backend: &Backend,
    items: &LoginItems,
    now: i64,
) -> Option<PamCode> {
    let info = h.getenv(ENV_NAME);
    if publickey_done(info.as_deref()) {
        return None;
    }
    let seen = match info.as_deref() {
        None => format!("no {ENV_NAME} (not sshd?)"),
        Some(i) => format!("{ENV_NAME} lists {:?}", methods(i)),
    };
    h.syslog(
        Priority::Err,
        &format!(
            "mode=code: refusing user {:?}: no public key was verified first ({seen}); \
             sshd needs AuthenticationMethods publickey,keyboard-interactive",
            items.user
        ),
    );
    if opts.fail_delay_usec > 0 {
        h.fail_delay(opts.fail_delay_usec);
    }
    audit::report(
        h,
        Some(backend),
        &items.record(
            now,
            "authenticate",
            Decision::Deny,
            "mode=code without a verified public key",
        ),
    );
    Some(PamCode::AuthErr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_completed_publickey_counts() {
        assert!(publickey_done(Some(
            "publickey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK\n"
        )));
        assert!(publickey_done(Some(
            "password\npublickey ssh-rsa AAAAB3Nza\n"
        )));
        assert!(!publickey_done(None));
        assert!(!publickey_done(Some("")));
        assert!(!publickey_done(Some("keyboard-interactive/pam\n")));
        assert!(!publickey_done(Some("password\n")));
        assert!(!publickey_done(Some("hostbased ssh-ed25519 AAAA\n")));
        assert!(!publickey_done(Some("publickeyx ssh-ed25519 AAAA\n")));
        assert_eq!(
            methods("publickey ssh-ed25519 AAAA\nkeyboard-interactive/pam\n"),
            ["publickey", "keyboard-interactive/pam"]
        );
    }
}
