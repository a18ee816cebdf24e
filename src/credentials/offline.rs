//! Offline material of fleet mode: what `iamd` hands a host after a successful online
//! password login of a user there, so that host alone can verify that user's password
//! and TOTP codes while no server is reachable, without ever holding the TOTP seed or a
//! password hash usable anywhere else.
//!
//! At issue time `iamd` has the password just verified. It derives
//! `K = argon2id(password, "pam-iam-offline-v1" ‖ salt ‖ host ‖ user)` (the store's
//! argon2 parameters, a fresh 16-byte salt) and gives the host:
//! - a verifier `HMAC-SHA256(K, "verifier" ‖ host ‖ user)`: it opens nothing at `iamd`
//!   (which verifies its own argon2id hash), and a thief must pay one argon2id per
//!   password guess to test it;
//! - for each coming TOTP step `s`, the tag `HMAC-SHA256(K, "totp" ‖ serial ‖ s ‖
//!   code(s))` truncated to [`TAG_LEN`] bytes: without `K` the 10⁶ codes of a step cannot
//!   be tried against its tag, so the material alone gives no code;
//! - for each of the user's unused recovery codes, the tag `HMAC-SHA256(K, "recovery"
//!   ‖ host ‖ user ‖ SHA-256(code))` truncated to [`TAG_LEN`] bytes, in no particular
//!   order and with no name: the server keeps only the codes' hashes and keys them
//!   under `K`, so the host holds neither a code nor a hash it could be looked up by.
//!   A code has 80 random bits: even with `K` (the password known) its tag gives no
//!   code, unlike a TOTP step's 10⁶.
//!
//! Every HMAC input part is length-prefixed, so no two part lists collide. The host,
//! offline, derives `K` from the typed password (one argon2id, [`unlock`]), compares
//! the verifier in constant time, and looks for the typed answer among the tags of the
//! steps around now that lie above its watermarks, or among the recovery tags
//! ([`match_answer`], the host's one offline second-factor check).

use base64ct::{Base64, Encoding};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{CredError, HashParams, constant_time_eq, hex, random_fill, recovery, totp, unhex};

/// Bytes of a step's tag.
pub const TAG_LEN: usize = 16;

/// The longest lifetime one issue covers (the server caps what a host asks for).
pub const MAX_LIFETIME: i64 = 30 * 86_400;

/// The most tags of one issue: every step of [`MAX_LIFETIME`] and the window after it.
pub const MAX_STEPS: i64 = MAX_LIFETIME / totp::STEP + 2;

/// Domain of the key derivation (a new construction gets a new name).
const DOMAIN: &str = "pam-iam-offline-v1";

/// A host's material for one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Material {
    /// The IAM user.
    pub user: String,
    /// The host it is bound to (the host credential's name at issue).
    pub host: String,
    /// argon2id parameters of the key derivation.
    pub params: HashParams,
    /// The salt (hex).
    pub salt: String,
    /// The password verifier (hex).
    pub verifier: String,
    /// The MFA device the tags are for (`None`: a user without one).
    pub serial: Option<String>,
    /// Which seed of that device ([`device_id`]), so a re-enrolled device under the
    /// same serial gets new material.
    pub device: Option<String>,
    /// The step of the first tag.
    pub first_step: i64,
    /// The tags of steps `first_step..`, concatenated ([`TAG_LEN`] bytes each, base64).
    pub tags: String,
    /// The device's replay watermark when the material was issued.
    pub watermark: i64,
    /// The tags of the user's unused recovery codes at issue (hex, [`TAG_LEN`] bytes
    /// each). `iamd` sends them beside the material (`"OfflineRecovery"`), so an agent
    /// older than them still reads the material; absent in material made before them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery: Vec<String>,
    /// Unix seconds of the issue (the server's clock).
    pub issued_at: i64,
    /// Unix seconds after which the material is void.
    pub expires_at: i64,
}

/// What a host says it holds for a user when it logs that user in online, so the server
/// issues new material only when that is stale ([`should_issue`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Held {
    /// [`Material::issued_at`].
    pub issued_at: i64,
    /// [`Material::device`].
    #[serde(default)]
    pub device: Option<String>,
}

impl Material {
    /// What a host tells the server it holds.
    pub fn held(&self) -> Held {
        Held {
            issued_at: self.issued_at,
            device: self.device.clone(),
        }
    }
}

/// What [`issue`] needs about the device.
pub struct IssueDevice<'a> {
    /// The device ARN.
    pub serial: &'a str,
    /// The seed.
    pub seed: &'a [u8],
    /// Its watermark now (the step just spent).
    pub watermark: i64,
    /// The hashes of the user's unused recovery codes ([`recovery::hash`]).
    pub recovery: &'a [String],
}

/// What one offline answer proved ([`match_answer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matched {
    /// A TOTP code of this step.
    Step(i64),
    /// A recovery code, by its public name ([`recovery::public_id`]): the host spends it
    /// under that name and journals it.
    Recovery(String),
}

/// A public name of one device's seed: a hash, so it identifies the seed without
/// revealing anything of it (the seed has 160 random bits).
pub fn device_id(serial: &str, seed: &[u8]) -> String {
    let m = mac(seed, &[b"device", serial.as_bytes()]).unwrap_or_default();
    hex(m.get(..16).unwrap_or_default())
}

/// What material is made for ([`Material::device`]): the device's seed and the set of
/// the user's unused recovery codes. A code spent or replaced anywhere changes it, so
/// the host's next online login for the user brings new material without that code.
/// With no recovery code it is [`device_id`], the name of material made before
/// recovery codes were accepted offline.
pub fn basis(serial: &str, seed: &[u8], recovery_hashes: &[String]) -> String {
    if recovery_hashes.is_empty() {
        return device_id(serial, seed);
    }
    let mut sorted: Vec<&[u8]> = recovery_hashes.iter().map(String::as_bytes).collect();
    sorted.sort_unstable();
    let mut parts: Vec<&[u8]> = vec![b"device", serial.as_bytes(), b"recovery"];
    parts.extend(sorted);
    let m = mac(seed, &parts).unwrap_or_default();
    hex(m.get(..16).unwrap_or_default())
}

/// Whether a successful online login should carry new material: the host asks for
/// `lifetime` seconds (0: it never decides offline) and holds `held`; new material when
/// it holds none, its half-life has passed, the password changed since (the old one
/// must stop working offline), or the device or recovery codes are not the ones it was
/// made for (`device`: [`basis`]).
pub fn should_issue(
    held: Option<&Held>,
    device: Option<&str>,
    password_changed: Option<i64>,
    lifetime: i64,
    now: i64,
) -> bool {
    if lifetime <= 0 {
        return false;
    }
    let Some(h) = held else {
        return true;
    };
    h.issued_at > now
        || password_changed.is_some_and(|c| c >= h.issued_at)
        || h.device.as_deref() != device
        || now >= h.issued_at.saturating_add(lifetime.min(MAX_LIFETIME) / 2)
}

/// Make the material of `user` on `host` from the password just verified, covering
/// `lifetime` seconds from `now` (at most [`MAX_LIFETIME`]): tags for the steps above
/// the device's watermark to the end of the lifetime.
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
    let verifier = hex(&verifier_tag(&key, host, user)?);
    let expires_at = now.saturating_add(lifetime.clamp(0, MAX_LIFETIME));
    let mut material = Material {
        user: user.to_string(),
        host: host.to_string(),
        params: *params,
        salt,
        verifier,
        serial: None,
        device: None,
        first_step: 0,
        tags: String::new(),
        watermark: -1,
        recovery: Vec::new(),
        issued_at: now,
        expires_at,
    };
    if let Some(d) = device {
        let codes = totp::StepCodes::new(d.seed)?;
        // Offline a code is looked for within one step of now, so the last tag is one
        // step past the expiry.
        let first = d.watermark.max(now.div_euclid(totp::STEP) - 1) + 1;
        let end = (expires_at.div_euclid(totp::STEP) + 2).min(first + MAX_STEPS);
        let mut raw = Vec::with_capacity(usize::try_from(end - first).unwrap_or(0) * TAG_LEN);
        for step in first..end {
            let code = codes
                .at(step)
                .ok_or_else(|| CredError::Seed("a step before 1970".into()))?;
            raw.extend_from_slice(&step_tag(&key, d.serial, step, &code)?);
        }
        material.serial = Some(d.serial.to_string());
        material.first_step = first;
        material.tags = Base64::encode_string(&raw);
        material.watermark = d.watermark;
        material.recovery = d
            .recovery
            .iter()
            .map(|h| recovery_tag(&key, host, user, h).map(|t| hex(&t)))
            .collect::<Result<_, _>>()?;
        material.device = Some(basis(d.serial, d.seed, d.recovery));
    }
    Ok(material)
}

/// A material's key, derived from the right password (wiped on drop).
pub struct Key(Zeroizing<[u8; 32]>);

/// The key of `material` from a typed password (one argon2id): `None` when the
/// password is wrong (the verifier does not match).
///
/// # Errors
/// [`CredError`] when argon2 refuses the material's parameters.
pub fn unlock(material: &Material, password: &str) -> Result<Option<Key>, CredError> {
    let key = derive_key(
        password,
        &material.user,
        &material.host,
        &material.salt,
        &material.params,
    )?;
    let want = unhex(&material.verifier).unwrap_or_default();
    let got = verifier_tag(&key, &material.host, &material.user)?;
    Ok(constant_time_eq(&want, &got).then_some(Key(key)))
}

/// The host's one offline second-factor check: what `answer` proves with the material
/// unlocked by `key`. Six digits are a TOTP code, matched as [`match_code`]; an answer
/// shaped like a recovery code ([`recovery::looks_like_code`]) is matched against every
/// recovery tag, in full (no early exit). `None`: it proves nothing. Whether the
/// step or the code is still unspent on this host is the caller's (its watermarks and
/// spent codes).
pub fn match_answer(
    material: &Material,
    key: &Key,
    answer: &str,
    now: i64,
    window: i64,
    above: i64,
) -> Option<Matched> {
    let answer = answer.trim();
    if !recovery::looks_like_code(answer) {
        return match_code(material, key, answer, now, window, above).map(Matched::Step);
    }
    material.serial.as_ref()?;
    let hash = Zeroizing::new(recovery::hash(answer));
    let got = recovery_tag(&key.0, &material.host, &material.user, &hash).ok()?;
    let mut found = false;
    for t in &material.recovery {
        let want = unhex(t).unwrap_or_default();
        found |= constant_time_eq(&want, &got);
    }
    found.then(|| Matched::Recovery(recovery::public_id(&hash)))
}

/// The step of `code` among the material's tags within `window` steps of `now` and
/// above `above` (the highest watermark the host knows): `None` when it matches none
/// of them. Every candidate step is compared in full (no early exit).
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
    let tags = Base64::decode_vec(&material.tags).ok()?;
    let here = now.div_euclid(totp::STEP);
    let mut found = None;
    for step in (here - window)..=(here + window) {
        if step <= above || step < material.first_step {
            continue;
        }
        let Ok(i) = usize::try_from(step - material.first_step) else {
            continue;
        };
        let Some(want) = tags.get(i * TAG_LEN..(i + 1) * TAG_LEN) else {
            continue;
        };
        let Ok(got) = step_tag(&key.0, serial, step, code) else {
            return None;
        };
        if constant_time_eq(want, &got) && found.is_none() {
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
    // The salt binds the key to this host and user (names hold no NUL).
    let full_salt = format!("{DOMAIN}\0{salt}\0{host}\0{user}");
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(password.as_bytes(), full_salt.as_bytes(), &mut out[..])
        .map_err(|e| CredError::Hash(e.to_string()))?;
    Ok(out)
}

/// HMAC-SHA256 of length-prefixed parts.
fn mac(key: &[u8], parts: &[&[u8]]) -> Result<Vec<u8>, CredError> {
    // HMAC takes keys of any length: this error never happens.
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .map_err(|e| CredError::Hash(format!("HMAC: {e}")))?;
    for p in parts {
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p);
    }
    Ok(m.finalize().into_bytes().to_vec())
}

fn verifier_tag(key: &[u8; 32], host: &str, user: &str) -> Result<Vec<u8>, CredError> {
    mac(key, &[b"verifier", host.as_bytes(), user.as_bytes()])
}

fn recovery_tag(
    key: &[u8; 32],
    host: &str,
    user: &str,
    code_hash: &str,
) -> Result<[u8; TAG_LEN], CredError> {
    let full = mac(
        key,
        &[
            b"recovery",
            host.as_bytes(),
            user.as_bytes(),
            code_hash.as_bytes(),
        ],
    )?;
    let mut t = [0u8; TAG_LEN];
    for (d, b) in t.iter_mut().zip(&full) {
        *d = *b;
    }
    Ok(t)
}

fn step_tag(
    key: &[u8; 32],
    serial: &str,
    step: i64,
    code: &str,
) -> Result<[u8; TAG_LEN], CredError> {
    let full = mac(
        key,
        &[
            b"totp",
            serial.as_bytes(),
            &step.to_be_bytes(),
            code.as_bytes(),
        ],
    )?;
    let mut t = [0u8; TAG_LEN];
    for (d, b) in t.iter_mut().zip(&full) {
        *d = *b;
    }
    Ok(t)
}

#[cfg(test)]
mod tests;
