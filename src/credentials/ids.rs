//! AWS-style identifiers and access-key secrets, all from the OS random generator.

use super::{CredError, random_fill};
use zeroize::Zeroizing;

/// RFC 4648 Base32 alphabet: AWS ids use upper-case letters and digits 2-7 as well.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Alphabet of AWS secret access keys (base64 without padding).
const SECRET_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The kinds of entity that carry an AWS unique id; the prefix tells them apart in logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// `AIDA…`
    User,
    /// `AGPA…`
    Group,
    /// `AROA…`
    Role,
    /// `ANPA…`
    Policy,
    /// `AKIA…` (20 characters, like AWS access key ids)
    AccessKey,
    /// `ASIA…` temporary (role session) keys
    SessionKey,
    /// `APKA…` SSH public key ids
    SshKey,
    /// `HKIA…` host credentials (fleet mode)
    HostKey,
}

impl IdKind {
    fn prefix(self) -> &'static str {
        match self {
            IdKind::User => "AIDA",
            IdKind::Group => "AGPA",
            IdKind::Role => "AROA",
            IdKind::Policy => "ANPA",
            IdKind::AccessKey => "AKIA",
            IdKind::SessionKey => "ASIA",
            IdKind::SshKey => "APKA",
            IdKind::HostKey => "HKIA",
        }
    }

    fn random_len(self) -> usize {
        match self {
            IdKind::AccessKey | IdKind::SessionKey | IdKind::SshKey | IdKind::HostKey => 16,
            _ => 17,
        }
    }
}

/// A fresh unique id such as `AIDAJQABLZS4A3QDU576Q`.
///
/// # Errors
/// [`CredError::Random`] when the OS random generator fails.
pub fn new_id(kind: IdKind) -> Result<String, CredError> {
    let mut bytes = vec![0u8; kind.random_len()];
    random_fill(&mut bytes)?;
    Ok(id_from_bytes(kind, &bytes))
}

/// The id for `kind` made from caller-supplied random bytes (one character per byte),
/// for callers that draw randomness through their own backend, as `iam-sts` does.
pub fn id_from_bytes(kind: IdKind, bytes: &[u8]) -> String {
    let mut id = String::from(kind.prefix());
    id.extend(bytes.iter().map(|b| BASE32[usize::from(b & 31)] as char));
    id
}

/// A secret in the AWS secret-key alphabet made from caller-supplied random bytes (one
/// character per byte, 6 bits each).
pub fn secret_from_bytes(bytes: &[u8]) -> Zeroizing<String> {
    let mut s = Zeroizing::new(String::with_capacity(bytes.len()));
    s.extend(
        bytes
            .iter()
            .map(|b| SECRET_ALPHABET[usize::from(b & 63)] as char),
    );
    s
}

/// A 12-digit account id, fixed when a store is created.
///
/// # Errors
/// [`CredError::Random`] when the OS random generator fails.
pub fn new_account_id() -> Result<String, CredError> {
    let mut out = String::with_capacity(12);
    while out.len() < 12 {
        let mut b = [0u8; 16];
        random_fill(&mut b)?;
        // Rejection sampling keeps the digits uniform.
        for x in b.iter().filter(|x| **x < 250) {
            if out.len() < 12 {
                out.push(char::from(b'0' + x % 10));
            }
        }
    }
    Ok(out)
}

/// A 40-character secret access key (240 bits), shown once and stored only hashed.
///
/// # Errors
/// [`CredError::Random`] when the OS random generator fails.
pub fn new_secret_access_key() -> Result<Zeroizing<String>, CredError> {
    let mut bytes = Zeroizing::new([0u8; 40]);
    random_fill(bytes.as_mut())?;
    Ok(secret_from_bytes(bytes.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_aws_shape() {
        let u = new_id(IdKind::User).unwrap();
        assert!(u.starts_with("AIDA") && u.len() == 21, "{u}");
        let k = new_id(IdKind::AccessKey).unwrap();
        assert!(k.starts_with("AKIA") && k.len() == 20, "{k}");
        assert!(
            k.chars()
                .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
        );
        assert_ne!(new_id(IdKind::Role).unwrap(), new_id(IdKind::Role).unwrap());
    }

    #[test]
    fn account_id_is_12_digits() {
        let a = new_account_id().unwrap();
        assert_eq!(a.len(), 12);
        assert!(a.chars().all(|c| c.is_ascii_digit()));
    }

    #[test]
    fn secret_key_is_40_chars() {
        let s = new_secret_access_key().unwrap();
        assert_eq!(s.len(), 40);
    }
}
