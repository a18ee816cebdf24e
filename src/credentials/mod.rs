//! Credential logic: password hashing and policy, TOTP, recovery codes, lockout rules, the
//! one second-factor check (`second_factor`) and AWS-style identifiers. Pure apart from the
//! OS random generator; the clock is passed in (`second_factor` takes it as `Pacing`).

pub mod ids;
pub mod key_file;
pub mod lockout;
pub mod mfa_seed;
pub mod offline;
pub mod password;
pub mod password_policy;
pub mod recovery;
pub mod sealed;
pub mod second_factor;
pub mod totp;

pub use lockout::{LockState, LockoutSettings};
pub use password::{HashParams, hash_password, verify_dummy, verify_password};
pub use password_policy::{ExpiryFacts, PasswordPolicy, PasswordState, PolicyViolation};

/// Errors of the credential primitives; all of them mean "do not grant".
#[derive(Debug, thiserror::Error)]
pub enum CredError {
    /// The operating system random generator failed; nothing secret can be made.
    #[error("the operating system random generator failed: {0}")]
    Random(String),
    /// argon2 refused the parameters or the stored hash is malformed.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The TOTP seed is unusable (too short).
    #[error("the MFA seed is invalid: {0}")]
    Seed(String),
    /// The key file sealing secrets at rest is missing, unsafe or not the right one
    /// (nothing sealed is ever read in plain text instead).
    #[error("{0}")]
    SecretsKey(String),
}

/// Fill `buf` from the OS random generator (getrandom(2)), the only randomness source.
///
/// # Errors
/// [`CredError::Random`] when the kernel refuses.
pub fn random_fill(buf: &mut [u8]) -> Result<(), CredError> {
    getrandom::fill(buf).map_err(|e| CredError::Random(e.to_string()))
}

/// SHA-256 as lowercase hex: for high-entropy secrets (access keys, recovery codes,
/// session tokens), where a slow hash buys nothing and lookups by hash are needed.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(data))
}

/// Bytes as lowercase hex (MACs, salts and verifiers kept in text files and JSON).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The bytes of [`hex`] text; `None` for anything else.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// Compare two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    diff == 0
}
