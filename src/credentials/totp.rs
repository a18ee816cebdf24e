//! TOTP (RFC 6238, SHA-1, 6 digits, 30 s) on top of totp-rs, always with an explicit time.
//! Verification returns the matched time step: the caller stores it as a watermark and
//! refuses any step at or below it, so a code is accepted once (RFC 6238 §5.2).

use super::{CredError, random_fill};
use totp_rs::{Algorithm, Builder, Totp};
use zeroize::Zeroizing;

/// Seconds per time step.
pub const STEP: i64 = 30;
/// Steps either side of now accepted at login (clock drift of ±30 s).
pub const LOGIN_WINDOW: u16 = 1;
/// Steps either side of now searched when enabling or resyncing a device (±5 min).
pub const ENABLE_WINDOW: i64 = 10;

/// A fresh 160-bit seed (RFC 4226 recommends 160 bits).
///
/// # Errors
/// [`CredError::Random`] when the OS random generator fails.
pub fn new_seed() -> Result<Zeroizing<Vec<u8>>, CredError> {
    let mut seed = Zeroizing::new(vec![0u8; 20]);
    random_fill(&mut seed)?;
    Ok(seed)
}

fn totp(seed: &[u8], skew: u16) -> Result<Totp, CredError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(skew)
        .with_step_duration(STEP as u64)
        .with_secret(seed.to_vec())
        .build()
        .map_err(|e| CredError::Seed(e.to_string()))
}

/// Verify `code` at time `now` accepting `window` steps either side; returns the matched
/// step. Times before 1970 never verify (totp-rs would panic on a negative clock).
///
/// # Errors
/// [`CredError::Seed`] when the seed is too short.
pub fn verify(seed: &[u8], code: &str, now: i64, window: u16) -> Result<Option<i64>, CredError> {
    let t = totp(seed, window)?;
    let Ok(now) = u64::try_from(now) else {
        return Ok(None);
    };
    Ok(t.check(code.trim(), now)
        .and_then(|s| i64::try_from(s).ok()))
}

/// The codes of one seed by time step: for the offline material `iamd` issues (keyed
/// tags of the coming steps' codes go to a host, never the seed). Built once for the
/// thousands of steps one issue covers.
pub struct StepCodes(Totp);

impl StepCodes {
    /// The generator of `seed`.
    ///
    /// # Errors
    /// [`CredError::Seed`] for an unusable seed.
    pub fn new(seed: &[u8]) -> Result<StepCodes, CredError> {
        Ok(StepCodes(totp(seed, 0)?))
    }

    /// The code of time step `step`; `None` before 1970.
    pub fn at(&self, step: i64) -> Option<Zeroizing<String>> {
        let t = u64::try_from(step.checked_mul(STEP)?).ok()?;
        Some(Zeroizing::new(self.0.generate(t).to_string()))
    }
}

/// The code of `seed` at unix second `t`, for unit tests of the callers (whole-program
/// tests use oathtool, an independent implementation).
#[cfg(test)]
pub(crate) fn code_at(seed: &[u8], t: i64) -> Result<Zeroizing<String>, CredError> {
    StepCodes::new(seed)?
        .at(t.div_euclid(STEP))
        .ok_or_else(|| CredError::Seed("time before 1970".into()))
}

/// Verify two consecutive codes (as AWS's EnableMFADevice and ResyncMFADevice do) within
/// [`ENABLE_WINDOW`] steps of `now`; returns the step of the second code.
///
/// # Errors
/// [`CredError::Seed`] when the seed is too short.
pub fn verify_consecutive(
    seed: &[u8],
    code1: &str,
    code2: &str,
    now: i64,
) -> Result<Option<i64>, CredError> {
    let t = totp(seed, 0)?;
    let origin = now.div_euclid(STEP);
    for step in (origin - ENABLE_WINDOW).max(0)..=(origin + ENABLE_WINDOW) {
        let (Ok(a), Ok(b)) = (u64::try_from(step * STEP), u64::try_from((step + 1) * STEP)) else {
            continue;
        };
        if t.check(code1.trim(), a).is_some() && t.check(code2.trim(), b).is_some() {
            return Ok(Some(step + 1));
        }
    }
    Ok(None)
}

/// RFC 4648 Base32 without padding, as authenticator apps and `oathtool -b` expect.
pub fn base32(data: &[u8]) -> Zeroizing<String> {
    Zeroizing::new(::base32::encode(
        ::base32::Alphabet::Rfc4648 { padding: false },
        data,
    ))
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `otpauth://` URI authenticator apps scan.
pub fn otpauth_uri(seed: &[u8], issuer: &str, account: &str) -> Zeroizing<String> {
    let secret = base32(seed);
    Zeroizing::new(format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period={STEP}",
        percent_encode(issuer),
        percent_encode(account),
        secret.as_str(),
        percent_encode(issuer)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B seed ("12345678901234567890"), SHA-1, 8-digit values truncated
    // to their last 6 digits.
    const SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_vectors() {
        assert_eq!(verify(SEED, "287082", 59, 0).unwrap(), Some(1));
        assert_eq!(
            verify(SEED, "081804", 1111111109, 0).unwrap(),
            Some(37037036)
        );
        assert_eq!(
            verify(SEED, "005924", 1234567890, 0).unwrap(),
            Some(41152263)
        );
        assert_eq!(verify(SEED, "000000", 59, 0).unwrap(), None);
    }

    #[test]
    fn window_and_negative_clock() {
        // 287082 is step 1; at t=65 (step 2) it needs a window of 1.
        assert_eq!(verify(SEED, "287082", 65, 0).unwrap(), None);
        assert_eq!(verify(SEED, "287082", 65, 1).unwrap(), Some(1));
        assert_eq!(verify(SEED, "287082", -5, 1).unwrap(), None);
    }

    #[test]
    fn consecutive_codes() {
        let t = totp(SEED, 0).unwrap();
        let c1 = t.generate(1000 * 30).to_string();
        let c2 = t.generate(1001 * 30).to_string();
        assert_eq!(
            verify_consecutive(SEED, &c1, &c2, 1000 * 30 + 5).unwrap(),
            Some(1001)
        );
        assert_eq!(verify_consecutive(SEED, &c2, &c1, 1000 * 30).unwrap(), None);
        assert_eq!(verify_consecutive(SEED, &c1, &c2, 2000 * 30).unwrap(), None);
    }

    #[test]
    fn base32_rfc4648() {
        assert_eq!(base32(b"").as_str(), "");
        assert_eq!(base32(b"f").as_str(), "MY");
        assert_eq!(base32(b"foobar").as_str(), "MZXW6YTBOI");
        assert_eq!(base32(SEED).as_str(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn uri_shape() {
        let u = otpauth_uri(SEED, "pam-iam", "alice@123456789012");
        assert!(
            u.starts_with("otpauth://totp/pam-iam:alice@123456789012?secret=GEZD"),
            "{}",
            *u
        );
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the time, the code of that time verifies and names its own step,
        /// and a code never verifies more than `window` steps away.
        #[test]
        fn code_of_time_t_matches_step_of_t(t in 0i64..4_000_000_000, seed in proptest::collection::vec(any::<u8>(), 16..40)) {
            let code = totp(&seed, 0).unwrap().generate(t as u64).to_string();
            prop_assert_eq!(verify(&seed, &code, t, 0).unwrap(), Some(t / STEP));
            prop_assert_eq!(verify(&seed, &code, t + STEP, 1).unwrap(), Some(t / STEP));
            let far = verify(&seed, &code, t + 3 * STEP, 1).unwrap();
            prop_assert!(far.is_none() || far != Some(t / STEP));
        }

        /// Garbage never verifies and never panics.
        #[test]
        fn garbage_never_verifies(code in ".{0,12}", t in any::<i64>()) {
            let r = verify(&[7u8; 20], &code, t, 1).unwrap();
            if let Some(step) = r {
                prop_assert!(code.trim().len() == 6 && step >= 0);
            }
        }
    }
}
