//! One-time recovery codes, issued when MFA is enabled: shown once, stored as SHA-256
//! (each code carries 80 random bits, so a slow hash adds nothing).

use super::{CredError, random_fill, sha256_hex};
use zeroize::Zeroizing;

/// How many codes are issued at once.
pub const COUNT: usize = 10;

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Ten fresh codes like `k7qm-2xhd-9fze-wq4p` (letters and digits 2-7).
///
/// # Errors
/// [`CredError::Random`] when the OS random generator fails.
pub fn generate() -> Result<Vec<Zeroizing<String>>, CredError> {
    let mut codes = Vec::with_capacity(COUNT);
    for _ in 0..COUNT {
        let mut raw = Zeroizing::new([0u8; 16]);
        random_fill(raw.as_mut())?;
        let mut code = Zeroizing::new(String::with_capacity(19));
        for (i, b) in raw.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                code.push('-');
            }
            code.push(ALPHABET[usize::from(b & 31)] as char);
        }
        codes.push(code);
    }
    Ok(codes)
}

/// The stored form of a code, as typed by a user: case, spaces and dashes do not matter.
pub fn hash(code: &str) -> String {
    let norm: Zeroizing<String> = Zeroizing::new(
        code.chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect(),
    );
    sha256_hex(norm.as_bytes())
}

/// A code's public name, for fleet mode: the host that spent a code offline tells
/// `iamd` which one by this name (the journal's `RecoveryCode`), and the spend is kept
/// under it. A hash of the stored hash under its own domain: it names one code and
/// reveals nothing usable (the code has 80 random bits), and it is not the stored hash,
/// so it opens no lookup of the store's `recovery_codes` on its own.
pub fn public_id(code_hash: &str) -> String {
    let full = sha256_hex(format!("pam-iam-recovery-code-id\0{code_hash}").as_bytes());
    full.get(..32).unwrap_or_default().to_string()
}

/// The prefix of a recovery code's key among the spent second factors (the store's
/// `mfa_spent_steps.serial`, with step 0), so a code accepted on two hosts is found as a
/// replay incident exactly as a TOTP step is.
pub const SPENT_PREFIX: &str = "recovery-code/";

/// The spent-factor key ([`SPENT_PREFIX`] + [`public_id`]) of the code of `code_hash`.
pub fn spent_key(code_hash: &str) -> String {
    spent_key_of_id(&public_id(code_hash))
}

/// The spent-factor key of a code by its public id.
pub fn spent_key_of_id(id: &str) -> String {
    format!("{SPENT_PREFIX}{id}")
}

/// Whether `s` is a public id ([`public_id`]: 32 lowercase hex digits).
pub fn is_public_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether a typed answer looks like a recovery code rather than a TOTP code.
pub fn looks_like_code(answer: &str) -> bool {
    let n = answer.chars().filter(|c| c.is_ascii_alphanumeric()).count();
    n == 16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_distinct_codes_hash_normalized() {
        let codes = generate().unwrap();
        assert_eq!(codes.len(), 10);
        assert_eq!(codes[0].len(), 19);
        assert_ne!(codes[0], codes[1]);
        let c = codes[0].as_str();
        assert_eq!(hash(c), hash(&c.to_uppercase().replace('-', " ")));
        assert!(looks_like_code(c));
        assert!(!looks_like_code("123456"));
    }

    #[test]
    fn a_public_id_names_one_code_and_is_neither_the_code_nor_its_hash() {
        let codes = generate().unwrap();
        let h = hash(&codes[0]);
        let id = public_id(&h);
        assert!(is_public_id(&id), "{id}");
        assert_eq!(id, public_id(&hash(&codes[0].to_uppercase())));
        assert_ne!(id, public_id(&hash(&codes[1])));
        assert!(!h.contains(&id) && !id.contains(codes[0].as_str()));
        assert_eq!(spent_key(&h), format!("recovery-code/{id}"));
        assert!(!is_public_id(&h) && !is_public_id("ABCDEF0123456789abcdef0123456789"));
    }
}
