//! Facts `auth` hands to `account` (did this login use MFA, and when).
//!
//! sshd runs keyboard-interactive `auth` in a forked child, so `pam_set_data` cannot be
//! relied on. The facts travel as a PAM environment value sealed with an HMAC-SHA256
//! keyed by a secret kept in the root-only store and bound to user, service and rhost;
//! `account` verifies and removes it, so a user can neither forge nor replay it.

use crate::credentials::{hex, unhex};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The PAM environment variable carrying the sealed facts.
pub const ENV_NAME: &str = "PAM_IAM_AUTH";

/// What `account` learns about this login's authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthFacts {
    /// Unix seconds of the successful authentication.
    pub auth_time: i64,
    /// Whether a second factor (TOTP or recovery code) was verified.
    pub mfa: bool,
    /// Fleet mode: decided by the agent while `iamd` was unreachable.
    pub offline: bool,
}

/// The login these facts belong to.
pub struct Binding<'a> {
    /// PAM_USER
    pub user: &'a str,
    /// PAM_SERVICE
    pub service: &'a str,
    /// PAM_RHOST
    pub rhost: &'a str,
}

/// The facts' flags as one digit: bit 0 MFA, bit 1 offline (so a value sealed before
/// fleet mode, `0` or `1`, still opens).
fn flags(f: AuthFacts) -> u8 {
    u8::from(f.mfa) | (u8::from(f.offline) << 1)
}

fn mac(key: &[u8], b: &Binding<'_>, auth_time: i64, flags: u8) -> Option<Hmac<Sha256>> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
    for part in [
        "pam-iam-auth-v1",
        b.user,
        b.service,
        b.rhost,
        &auth_time.to_string(),
        &flags.to_string(),
    ] {
        m.update(&(part.len() as u64).to_be_bytes());
        m.update(part.as_bytes());
    }
    Some(m)
}

/// Seal facts into the environment value; `None` only for an unusable (empty) key.
pub fn seal(key: &[u8], b: &Binding<'_>, facts: AuthFacts) -> Option<String> {
    if key.is_empty() {
        return None;
    }
    let tag = mac(key, b, facts.auth_time, flags(facts))?
        .finalize()
        .into_bytes();
    Some(format!(
        "v1:{}:{}:{}",
        facts.auth_time,
        flags(facts),
        hex(&tag)
    ))
}

/// Verify a sealed value for this login; `None` when forged, for another login,
/// from the future, or older than `max_age` seconds.
pub fn open(key: &[u8], b: &Binding<'_>, value: &str, now: i64, max_age: i64) -> Option<AuthFacts> {
    if key.is_empty() {
        return None;
    }
    let mut it = value.split(':');
    let (v, t, m, tag) = (it.next()?, it.next()?, it.next()?, it.next()?);
    if v != "v1" || it.next().is_some() {
        return None;
    }
    let auth_time: i64 = t.parse().ok()?;
    let flags: u8 = match m {
        "0" | "1" | "2" | "3" => m.parse().ok()?,
        _ => return None,
    };
    let tag = unhex(tag)?;
    mac(key, b, auth_time, flags)?.verify_slice(&tag).ok()?;
    if auth_time > now + 5 || now - auth_time > max_age {
        return None;
    }
    Some(AuthFacts {
        auth_time,
        mfa: flags & 1 != 0,
        offline: flags & 2 != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Binding<'static> = Binding {
        user: "alice",
        service: "sshd",
        rhost: "10.0.0.5",
    };

    #[test]
    fn round_trip_and_tamper() {
        let key = b"k".repeat(32);
        let facts = AuthFacts {
            auth_time: 1000,
            mfa: true,
            offline: false,
        };
        let v = seal(&key, &B, facts).unwrap();
        assert_eq!(open(&key, &B, &v, 1010, 600), Some(facts));
        // expired, future
        assert_eq!(open(&key, &B, &v, 1601, 600), None);
        assert_eq!(open(&key, &B, &v, 900, 600), None);
        // another key, another user / service / rhost
        assert_eq!(open(&b"x".repeat(32), &B, &v, 1010, 600), None);
        let other = Binding { user: "bob", ..B };
        assert_eq!(open(&key, &other, &v, 1010, 600), None);
        let other = Binding {
            rhost: "10.0.0.6",
            ..B
        };
        assert_eq!(open(&key, &other, &v, 1010, 600), None);
        // flipped MFA bit, garbage
        let forged = v.replacen(":1:", ":0:", 1);
        assert_eq!(open(&key, &B, &forged, 1010, 600), None);
        // the offline bit is sealed too
        let off = AuthFacts {
            offline: true,
            ..facts
        };
        let v2 = seal(&key, &B, off).unwrap();
        assert_eq!(open(&key, &B, &v2, 1010, 600), Some(off));
        assert_eq!(
            open(&key, &B, &v2.replacen(":3:", ":1:", 1), 1010, 600),
            None
        );
        for junk in ["", "v1", "v1:1000:1:zz", "v2:1000:1:00", &format!("{v}:x")] {
            assert_eq!(open(&key, &B, junk, 1010, 600), None, "{junk}");
        }
        assert_eq!(seal(b"", &B, facts), None);
    }
}
