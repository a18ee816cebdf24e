//! TOTP seeds at rest. A seed is sealed like an access-key secret ([`super::sealed`],
//! ChaCha20-Poly1305) under the store's secrets key file (`pam_iam_secrets.key` beside a
//! SQLite store), bound to the device's serial ARN, so a dump or backup of the database
//! alone holds no seed and a sealed seed cannot be moved to another device. [`open`] is
//! the only way a seed comes out of a store: both backends call it for every caller (the
//! PAM module, `iam-sts`, the `iam` CLI, `iamd`). It never falls back to plain text: a
//! missing or wrong key file is an error naming the file.

use std::path::Path;

use zeroize::Zeroizing;

use super::{CredError, key_file, sealed};

/// What binds a sealed seed to its device (and keeps it apart from access-key secrets,
/// which are bound to their key id under the same key).
fn aad(serial: &str) -> String {
    format!("mfa-seed:{serial}")
}

/// Seal `seed` for device `serial` under `key` (32 bytes).
///
/// # Errors
/// [`CredError::Random`] when no nonce can be drawn, [`CredError::Seed`] for a bad key.
pub fn seal_with(key: &[u8], serial: &str, seed: &[u8]) -> Result<Vec<u8>, CredError> {
    sealed::seal(key, &aad(serial), seed)
}

/// Seal a new device's seed under the key file at `key_path`, created on first use.
///
/// # Errors
/// [`CredError::SecretsKey`] when the key file cannot be read or made.
pub fn seal(key_path: &Path, serial: &str, seed: &[u8]) -> Result<Vec<u8>, CredError> {
    let key = key_file::load_or_create(key_path)
        .map_err(|e| CredError::SecretsKey(format!("the secrets key: {e}")))?;
    seal_with(&key, serial, seed)
}

/// The key at `key_path` for opening seeds: it must exist (a fresh key opens nothing).
///
/// # Errors
/// [`CredError::SecretsKey`] naming the file and what to do.
pub fn opening_key(key_path: &Path) -> Result<Zeroizing<Vec<u8>>, CredError> {
    match key_file::load(key_path) {
        Ok(Some(k)) if k.len() >= 32 => Ok(k),
        Ok(Some(_)) => Err(CredError::SecretsKey(format!(
            "the secrets key {} is truncated: the MFA seeds sealed under it cannot be opened (restore the file from a backup)",
            key_path.display()
        ))),
        Ok(None) => Err(CredError::SecretsKey(format!(
            "the secrets key {} is missing: the store's MFA seeds are sealed under it and cannot be opened (restore the file from a backup, or re-enrol the devices)",
            key_path.display()
        ))),
        Err(e) => Err(CredError::SecretsKey(format!("the secrets key: {e}"))),
    }
}

/// The key an older store's plain seeds are sealed under when it is migrated. `probe` is
/// one secret the store already holds sealed (an access-key id and its sealed secret),
/// if any: the key file must open it, so seeds are never sealed under a key other than
/// the one the store's secrets already use. A store with no sealed secret yet gets a
/// key file made now.
///
/// # Errors
/// [`CredError::SecretsKey`] naming the file: unsafe, missing while the store already
/// holds sealed secrets, or not the key they are sealed under.
pub fn migration_key(
    key_path: &Path,
    probe: Option<(&str, &[u8])>,
) -> Result<Zeroizing<Vec<u8>>, CredError> {
    let why = |what: String| {
        CredError::SecretsKey(format!(
            "sealing the store's MFA seeds (schema migration): {what}; nothing was changed"
        ))
    };
    let key = match (key_file::load(key_path), probe) {
        (Err(e), _) => return Err(why(e)),
        (Ok(Some(k)), _) if k.len() >= 32 => k,
        (Ok(_), Some(_)) => {
            return Err(why(format!(
                "the secrets key {} is missing or truncated but the store holds secrets sealed under a key: run the upgrade where that key file is (iamd's --secrets-key), or copy it to this path",
                key_path.display()
            )));
        }
        (Ok(_), None) => key_file::load_or_create(key_path).map_err(why)?,
    };
    if let Some((id, secret)) = probe {
        if sealed::open(&key, id, secret).is_none() {
            return Err(why(format!(
                "{} is not the key the store's secrets are sealed under (access key {id} does not open with it): run the upgrade with the right key file",
                key_path.display()
            )));
        }
    }
    Ok(key)
}

/// Open the sealed seed of device `serial` with `key`.
///
/// # Errors
/// [`CredError::SecretsKey`] when it does not open (another key, or altered bytes).
pub fn open_with(
    key: &[u8],
    serial: &str,
    sealed_seed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CredError> {
    sealed::open(key, &aad(serial), sealed_seed).ok_or_else(|| {
        CredError::SecretsKey(format!(
            "the MFA seed of {serial} does not open with the store's secrets key (sealed under another key file, or altered)"
        ))
    })
}

/// Open the sealed seed of device `serial` with the key file at `key_path`: how every
/// program gets a seed out of a store.
///
/// # Errors
/// [`CredError::SecretsKey`]: the key file is missing, unsafe or not the one the seed was
/// sealed under, or the bytes were altered.
pub fn open(
    key_path: &Path,
    serial: &str,
    sealed_seed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CredError> {
    open_with(&opening_key(key_path)?, serial, sealed_seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_seeds_open_only_with_their_key_and_device() {
        let dir = crate::store::sqlite::safe_open::private_tempdir();
        let path = dir.path().join("pam_iam_secrets.key");
        let missing = open(&path, "arn:x:mfa/a", b"whatever").unwrap_err();
        assert!(missing.to_string().contains("is missing"), "{missing}");
        let s = seal(&path, "arn:x:mfa/a", b"12345678901234567890").unwrap();
        assert_eq!(
            open(&path, "arn:x:mfa/a", &s).unwrap().as_slice(),
            b"12345678901234567890"
        );
        let moved = open(&path, "arn:x:mfa/b", &s).unwrap_err();
        assert!(moved.to_string().contains("does not open"), "{moved}");
        // An access-key secret sealed under the same key is not a seed.
        let key = opening_key(&path).unwrap();
        let ak = sealed::seal(&key, "arn:x:mfa/a", b"12345678901234567890").unwrap();
        assert!(open(&path, "arn:x:mfa/a", &ak).is_err());
        std::fs::remove_file(&path).unwrap();
        assert!(
            open(&path, "arn:x:mfa/a", &s).is_err(),
            "never without the key"
        );
    }

    #[test]
    fn the_migration_seals_only_under_the_stores_own_key() {
        let dir = crate::store::sqlite::safe_open::private_tempdir();
        let path = dir.path().join("pam_iam_secrets.key");
        let (real, other) = ([1u8; 32], [2u8; 32]);
        let probe = sealed::seal(&real, "AKIA1", b"secret").unwrap();
        // Missing while the store holds sealed secrets: refused, no key made.
        let e = migration_key(&path, Some(("AKIA1", &probe))).unwrap_err();
        assert!(e.to_string().contains("is missing"), "{e}");
        assert!(!path.exists());
        // Missing and nothing sealed yet: made.
        let k = migration_key(&path, None).unwrap();
        assert_eq!(k.len(), 32);
        // Present but another key than the secrets': refused.
        std::fs::write(&path, other).unwrap();
        let e = migration_key(&path, Some(("AKIA1", &probe))).unwrap_err();
        assert!(e.to_string().contains("is not the key"), "{e}");
        std::fs::write(&path, real).unwrap();
        assert_eq!(
            migration_key(&path, Some(("AKIA1", &probe)))
                .unwrap()
                .as_slice(),
            real
        );
    }
}
