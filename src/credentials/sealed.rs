//! Secrets the server must use again (access-key secrets for SigV4's HMAC) are kept
//! sealed at rest: ChaCha20-Poly1305 under a key file that is not part of the store, so
//! a database dump or backup alone leaks no secret. The AAD binds a sealed value to what
//! it belongs to (the access key id), so rows cannot be swapped.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use zeroize::Zeroizing;

use super::CredError;

/// Version byte of the sealed format: `1 || nonce(12) || ciphertext+tag`.
const VERSION: u8 = 1;

/// Seal `plaintext` under `key` (32 bytes), bound to `aad`.
///
/// # Errors
/// [`CredError::Random`] when no nonce can be drawn, [`CredError::Seed`] for a key of
/// the wrong length.
pub fn seal(key: &[u8], aad: &str, plaintext: &[u8]) -> Result<Vec<u8>, CredError> {
    let cipher = ChaCha20Poly1305::new_from_slice(key)
        .map_err(|_| CredError::Seed("the sealing key must be 32 bytes".into()))?;
    let mut nonce = [0u8; 12];
    super::random_fill(&mut nonce)?;
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| CredError::Seed("sealing failed".into()))?;
    let mut out = Vec::with_capacity(1 + 12 + ct.len());
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Open a value sealed by [`seal`] with the same key and AAD; `None` when the key, the
/// AAD or the bytes differ (tampered, swapped, or sealed under another key).
pub fn open(key: &[u8], aad: &str, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let cipher = ChaCha20Poly1305::new_from_slice(key).ok()?;
    let (&version, rest) = sealed.split_first()?;
    if version != VERSION || rest.len() < 12 + 16 {
        return None;
    }
    let (nonce, ct) = rest.split_at(12);
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ct,
                aad: aad.as_bytes(),
            },
        )
        .ok()
        .map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let key = [7u8; 32];
        let s = seal(&key, "AKIA1", b"secret").unwrap();
        assert_eq!(open(&key, "AKIA1", &s).unwrap().as_slice(), b"secret");
        assert!(open(&key, "AKIA2", &s).is_none(), "bound to its key id");
        assert!(open(&[8u8; 32], "AKIA1", &s).is_none(), "another key");
        let mut t = s.clone();
        *t.last_mut().unwrap() ^= 1;
        assert!(open(&key, "AKIA1", &t).is_none(), "tampered");
        assert!(open(&key, "AKIA1", &s[..10]).is_none(), "short");
        assert_ne!(seal(&key, "AKIA1", b"secret").unwrap(), s, "fresh nonce");
    }
}
