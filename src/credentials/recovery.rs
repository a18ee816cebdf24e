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
}
