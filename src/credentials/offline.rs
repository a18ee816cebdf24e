//! Offline material of fleet mode: what `iamd` hands a host after a successful online
//! login of a user there, so the host can verify that user's password and TOTP codes
//! while `iamd` is unreachable, without ever holding the TOTP seed or a reusable
//! password hash.
//!
//! At issue time `iamd` has the password in hand. It derives a key
//! `K = argon2id(password, salt ‖ host ‖ user)` (the store's argon2 parameters, a fresh
//! salt) and gives the host:
//! - a password verifier `HMAC(K, "verifier" ‖ host ‖ user)`: bound to this host and
//!   user (the salt carries both), useless as a login elsewhere, and one argon2id per
//!   guess to attack;
//! - for each coming TOTP step `s` of the device, the tag `HMAC(K, "totp" ‖ serial ‖ s ‖
//!   code(s))` truncated to 16 bytes: without `K` (without the password) the 10⁶ codes
//!   of a step cannot be tried against its tag.
//!
//! The host, offline, derives `K` from the typed password (one argon2id), checks the
//! verifier, and finds the typed code's step among its tags.

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{CredError, HashParams, constant_time_eq, random_fill, totp};

/// Bytes of a step's tag.
pub const TAG_LEN: usize = 16;

/// The most steps one issue covers (30 days).
pub const MAX_STEPS: i64 = 30 * 86_400 / totp::STEP;

/// A host's material for one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Material {
    /// The IAM user.
    pub user: String,
    /// The host it is bound to.
    pub host: String,
    /// argon2id parameters of the key derivation.
    pub params: HashParams,
    /// The salt (hex).
    pub salt: String,
    /// The password verifier (hex).
    pub verifier: String,
    /// The MFA device the tags are for (`None`: a user without one).
    pub serial: Option<String>,
    /// The step of the first tag.
    pub first_step: i64,
    /// The tags of steps `first_step..`, concatenated (hex, [`TAG_LEN`] bytes each).
    pub tags: String,
    /// The device's replay watermark when the material was issued.
    pub watermark: i64,
    /// Unix seconds of the issue.
    pub issued_at: i64,
    /// Unix seconds after which the material is void.
    pub expires_at: i64,
}

/// What [`issue`] needs about the device.
pub struct IssueDevice<'a> {
    /// The device ARN.
    pub serial: &'a str,
    /// The seed.
    pub seed: &'a [u8],
    /// Its watermark now (the step just spent).
    pub watermark: i64,
}

/// Make the material of `user` on `host` from the password just verified, covering
/// `lifetime` seconds from `now` (tags for the steps above the watermark up to the
/// end of the lifetime, at most [`MAX_STEPS`]).
///
/// # Errors
/// [`CredError`] when argon2 or the random generator fail, or the seed is unusable.
pub fn issue(
    password: &str,
    user: &str,
    host: &str,
    params: &HashParams,
    device: Option<&IssueDevice<'_>>,
    now: i64,
    lifetime: i64,
) -> Result<Material, CredError> {
    let mut salt = [0u8; 16];
    random_fill(&mut salt)?;
    let salt = hex(&salt);
    let key = derive_key(password, user, host, &salt, params)?;
    let verifier = hex(&verifier_tag(&key, host, user));
    let expires_at = now.saturating_add(lifetime.max(0));
    let (serial, first_step, tags, watermark) = match device {
        None => (None, 0, String::new(), 0),
        Some(d) => {
            let first = d.watermark.max(now.div_euclid(totp::STEP) - 1) + 1;
            let last = (expires_at.div_euclid(totp::STEP) + 1).min(first + MAX_STEPS);
            let mut tags = String::with_capacity(((last - first).max(0) as usize) * TAG_LEN * 2);
            for step in first..last {
                let code = totp::code_at_step(d.seed, step)?;
                tags.push_str(&hex(&step_tag(&key, d.serial, step, &code)));
            }
            (Some(d.serial.to_string()), first, tags, d.watermark)
        }
    };
    Ok(Material {
        user: user.to_string(),
        host: host.to_string(),
        params: *params,
        salt,
        verifier,
        serial,
        first_step,
        tags,
        watermark,
        issued_at: now,
        expires_at,
    })
}

/// The key of `material` from a typed password (one argon2id): `None` when the
/// password is wrong (the verifier does not match).
///
/// # Errors
/// [`CredError`] when argon2 fails.
pub fn unlock(material: &Material, password: &str) -> Result<Option<Key>, CredError> {
    let key = derive_key(
        password,
        &material.user,
        &material.host,
        &material.salt,
        &material.params,
    )?;
    let want = unhex(&material.verifier).unwrap_or_default();
    let got = verifier_tag(&key, &material.host, &material.user);
    Ok(constant_time_eq(&want, &got).then_some(Key(key)))
}

/// A material's key, derived from the right password.
pub struct Key(Zeroizing<[u8; 32]>);

/// The step of `code` among the material's tags within `window` steps of `now`, above
/// `above` (the higher of the synced and the local watermark): `None` when it matches
/// none of them.
pub fn match_code(
    material: &Material,
    key: &Key,
    code: &str,
    now: i64,
    window: i64,
    above: i64,
) -> Option<i64> {
    let serial = material.serial.as_deref()?;
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let tags = unhex(&material.tags)?;
    let here = now.div_euclid(totp::STEP);
    let mut found = None;
    for step in (here - window)..=(here + window) {
        if step <= above || step < material.first_step {
            continue;
        }
        let i = usize::try_from(step - material.first_step).ok()?;
        let Some(want) = tags.get(i * TAG_LEN..(i + 1) * TAG_LEN) else {
            continue;
        };
        if constant_time_eq(want, &step_tag(&key.0, serial, step, code)) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

fn derive_key(
    password: &str,
    user: &str,
    host: &str,
    salt: &str,
    params: &HashParams,
) -> Result<Zeroizing<[u8; 32]>, CredError> {
    let argon = params.argon2()?;
    // The salt binds the key to this host and user; argon2 takes any salt length ≥ 8.
    let full_salt = format!("pam-iam-offline-v1\0{salt}\0{host}\0{user}");
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(password.as_bytes(), full_salt.as_bytes(), &mut out[..])
        .map_err(|e| CredError::Hash(e.to_string()))?;
    Ok(out)
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    for p in parts {
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

fn verifier_tag(key: &[u8; 32], host: &str, user: &str) -> [u8; 32] {
    hmac(key, &[b"verifier", host.as_bytes(), user.as_bytes()])
}

fn step_tag(key: &[u8; 32], serial: &str, step: i64, code: &str) -> [u8; TAG_LEN] {
    let full = hmac(
        key,
        &[
            b"totp",
            serial.as_bytes(),
            &step.to_be_bytes(),
            code.as_bytes(),
        ],
    );
    let mut t = [0u8; TAG_LEN];
    t.copy_from_slice(&full[..TAG_LEN]);
    t
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: HashParams = HashParams {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn the_right_password_and_a_fresh_code_only_once_per_step() {
        let seed = b"12345678901234567890";
        let now = 1_700_000_000;
        let step = now / totp::STEP;
        let dev = IssueDevice {
            serial: "arn:aws:iam::1:mfa/a",
            seed,
            watermark: step,
        };
        let m = issue("pw", "alice", "web-a", &CHEAP, Some(&dev), now, 3600).unwrap();
        assert_eq!(m.first_step, step + 1);
        assert_eq!(m.tags.len(), ((3600 / 30) + 1) as usize * TAG_LEN * 2);
        assert!(!m.tags.contains(&hex(seed)), "no seed in the material");
        assert!(unlock(&m, "wrong").unwrap().is_none());
        let k = unlock(&m, "pw").unwrap().unwrap();
        let later = now + 600;
        let code = totp::code_at_step(seed, later / 30).unwrap();
        assert_eq!(match_code(&m, &k, &code, later, 1, step), Some(later / 30));
        // at or below the watermark: refused
        assert_eq!(match_code(&m, &k, &code, later, 1, later / 30), None);
        // a code of the spent step (issue time): refused
        let spent = totp::code_at_step(seed, step).unwrap();
        assert_eq!(match_code(&m, &k, &spent, now, 1, step), None);
        // a wrong code, a code after the material ends
        assert_eq!(match_code(&m, &k, "000000", later, 0, step).filter(|_| code != *"000000"), None);
        let end = now + 7200;
        let code = totp::code_at_step(seed, end / 30).unwrap();
        assert_eq!(match_code(&m, &k, &code, end, 0, step), None);
        // bound to host and user: the same password on another host's material fails
        let other = Material {
            host: "web-b".into(),
            ..m.clone()
        };
        assert!(unlock(&other, "pw").unwrap().is_none());
    }
}
