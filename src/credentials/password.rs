//! argon2id password hashes in PHC string form, with a dummy hash for unknown users so a
//! login for a user that does not exist costs the same time as one that does.

use super::{CredError, random_fill};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use serde::{Deserialize, Serialize};

/// argon2id cost parameters; the default is OWASP's minimum recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes (computed sequentially: the `parallel` feature stays off inside PAM).
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl HashParams {
    fn argon2(&self) -> Result<Argon2<'static>, CredError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| CredError::Hash(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Hash a password with a fresh 16-byte salt.
///
/// # Errors
/// [`CredError`] when the parameters are invalid or the random generator fails.
pub fn hash_password(password: &[u8], params: &HashParams) -> Result<String, CredError> {
    let mut salt = [0u8; 16];
    random_fill(&mut salt)?;
    let hash = params
        .argon2()?
        .hash_password_with_salt(password, &salt)
        .map_err(|e| CredError::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `hash` (with the parameters stored in it).
/// A malformed hash never matches.
pub fn verify_password(password: &[u8], hash: &str) -> bool {
    let Ok(argon) = HashParams::default().argon2() else {
        return false;
    };
    argon.verify_password(password, hash).is_ok()
}

/// The PHC string verified for unknown users: the real parameters with a fixed salt and a
/// fixed output, so the work done equals a real verification and it never matches.
pub fn dummy_hash(params: &HashParams) -> String {
    format!(
        "$argon2id$v=19$m={},t={},p={}$cGFtLWlhbS1kdW1teS1z$RGVsaWJlcmF0ZWx5IG5vdCBhIHJlYWwgaGFzaCEhISE",
        params.memory_kib, params.iterations, params.parallelism
    )
}

/// Spend the time of one verification and return false: used when the user is unknown.
pub fn verify_dummy(password: &[u8], params: &HashParams) -> bool {
    let _ = verify_password(password, &dummy_hash(params));
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> HashParams {
        HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[test]
    fn hash_and_verify() {
        let h = hash_password(b"correct horse", &fast()).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{h}");
        assert!(verify_password(b"correct horse", &h));
        assert!(!verify_password(b"wrong", &h));
        assert!(!verify_password(b"x", "not a hash"));
    }

    #[test]
    fn default_params_are_owasp() {
        let h = hash_password(b"pw", &HashParams::default()).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
    }

    #[test]
    fn dummy_hash_parses_and_never_matches() {
        let d = dummy_hash(&fast());
        assert!(argon2::PasswordHash::new(&d).is_ok(), "{d}");
        assert!(!verify_password(b"", &d));
        assert!(!verify_dummy(b"anything", &fast()));
    }
}
