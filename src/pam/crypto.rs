//! The real `Crypto`: argon2id and TOTP (RFC 6238, SHA-1, 6 digits, 30 s).
//!
//! Interim: moves to `credentials::` calls once that module lands on main.

use argon2::{Argon2, PasswordVerifier};

use super::backend::Crypto;

/// A well-formed argon2id hash at the default cost (m=19456 KiB, t=2, p=1) that no
/// password matches; verifying against it costs what a real verification costs.
const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$cGFtLWlhbS1kdW1teS1zYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// argon2id + totp-rs.
pub struct RealCrypto;

impl Crypto for RealCrypto {
    fn verify_password(&self, phc: &str, password: &str) -> bool {
        Argon2::default()
            .verify_password(password.as_bytes(), phc)
            .is_ok()
    }

    fn verify_dummy(&self, password: &str) {
        let _ = Argon2::default().verify_password(password.as_bytes(), DUMMY_PHC);
    }

    fn check_totp(&self, seed: &[u8], code: &str, now: i64, window: u8) -> Option<u64> {
        let now = u64::try_from(now).ok()?;
        let totp = totp_rs::Builder::new()
            .with_algorithm(totp_rs::Algorithm::SHA1)
            .with_digits(6)
            .with_skew(u16::from(window))
            .with_step_duration(30)
            .with_secret(seed)
            .build_noncompliant();
        totp.check(code, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dummy_hash_parses_and_never_matches() {
        assert!(argon2::password_hash::phc::PasswordHash::new(DUMMY_PHC).is_ok());
        assert!(!RealCrypto.verify_password(DUMMY_PHC, ""));
    }

    #[test]
    fn totp_rfc6238_vector() {
        // RFC 6238 appendix B, SHA-1, T=59 -> 94287082 (8 digits) -> 6 digits 287082.
        let seed = b"12345678901234567890";
        assert_eq!(RealCrypto.check_totp(seed, "287082", 59, 0), Some(1));
        assert_eq!(RealCrypto.check_totp(seed, "287082", 59 + 30, 1), Some(1));
        assert_eq!(RealCrypto.check_totp(seed, "287082", 59 + 60, 1), None);
        assert_eq!(RealCrypto.check_totp(seed, "287082", -1, 1), None);
    }
}
