//! Facts `auth` hands to `account` (did this login use MFA, and when; in fleet mode also
//! the password's expiry facts `iamd` answered with).
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
    /// Fleet mode: the password's expiry facts from the login's answer.
    pub expiry: Option<crate::credentials::ExpiryFacts>,
}

/// Expiry facts as one sealed field: `-`, or `EXPIRES.HR` (EXPIRES a number or `n`,
/// H and R the hard-expiry and reset-required bits).
fn expiry_field(e: Option<crate::credentials::ExpiryFacts>) -> String {
    match e {
        None => "-".into(),
        Some(e) => format!(
            "{}.{}{}",
            e.expires_at.map_or("n".into(), |t| t.to_string()),
            u8::from(e.hard_expiry),
            u8::from(e.reset_required)
        ),
    }
}

fn parse_expiry(s: &str) -> Option<Option<crate::credentials::ExpiryFacts>> {
    if s == "-" {
        return Some(None);
    }
    let (t, bits) = s.split_once('.')?;
    let expires_at = match t {
        "n" => None,
        t => Some(t.parse().ok()?),
    };
    let (hard_expiry, reset_required) = match bits {
        "00" => (false, false),
        "01" => (false, true),
        "10" => (true, false),
        "11" => (true, true),
        _ => return None,
    };
    Some(Some(crate::credentials::ExpiryFacts {
        expires_at,
        hard_expiry,
        reset_required,
    }))
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

/// The MAC of v1 (`expiry` = `None`) or v2 (with the expiry field) values.
fn mac(
    key: &[u8],
    b: &Binding<'_>,
    auth_time: i64,
    flags: u8,
    expiry: Option<&str>,
) -> Option<Hmac<Sha256>> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
    let (version, expiry) = match expiry {
        None => ("pam-iam-auth-v1", None),
        Some(e) => ("pam-iam-auth-v2", Some(e)),
    };
    let (t, f) = (auth_time.to_string(), flags.to_string());
    let mut parts = vec![version, b.user, b.service, b.rhost, t.as_str(), f.as_str()];
    parts.extend(expiry);
    for part in parts {
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
    let expiry = expiry_field(facts.expiry);
    let tag = mac(key, b, facts.auth_time, flags(facts), Some(&expiry))?
        .finalize()
        .into_bytes();
    Some(format!(
        "v2:{}:{}:{expiry}:{}",
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
    let parts: Vec<&str> = value.split(':').collect();
    let (t, m, expiry_text, tag) = match parts.as_slice() {
        ["v1", t, m, tag] => (*t, *m, None, *tag),
        ["v2", t, m, e, tag] => (*t, *m, Some(*e), *tag),
        _ => return None,
    };
    let expiry = match expiry_text {
        None => None,
        Some(e) => parse_expiry(e)?,
    };
    let auth_time: i64 = t.parse().ok()?;
    let flags: u8 = match m {
        "0" | "1" | "2" | "3" => m.parse().ok()?,
        _ => return None,
    };
    let tag = unhex(tag)?;
    mac(key, b, auth_time, flags, expiry_text)?
        .verify_slice(&tag)
        .ok()?;
    if auth_time > now + 5 || now - auth_time > max_age {
        return None;
    }
    Some(AuthFacts {
        auth_time,
        mfa: flags & 1 != 0,
        offline: flags & 2 != 0,
        expiry,
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
            expiry: None,
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
        // Expiry facts (fleet mode) are sealed too; a v1 value of before still opens.
        let exp = AuthFacts {
            expiry: Some(crate::credentials::ExpiryFacts {
                expires_at: Some(900),
                hard_expiry: false,
                reset_required: true,
            }),
            ..facts
        };
        let ve = seal(&key, &B, exp).unwrap();
        assert_eq!(open(&key, &B, &ve, 1010, 600), Some(exp));
        assert_eq!(
            open(&key, &B, &ve.replacen(".01:", ".00:", 1), 1010, 600),
            None
        );
        let tag = mac(&key, &B, 1000, 1, None)
            .unwrap()
            .finalize()
            .into_bytes();
        let v1 = format!("v1:1000:1:{}", hex(&tag));
        assert_eq!(open(&key, &B, &v1, 1010, 600), Some(facts));
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
        for junk in [
            "",
            "v1",
            "v1:1000:1:zz",
            "v2:1000:1:00",
            "v2:1000:1:x.00:00",
            &format!("{v}:x"),
        ] {
            assert_eq!(open(&key, &B, junk, 1010, 600), None, "{junk}");
        }
        assert_eq!(seal(b"", &B, facts), None);
    }
}
