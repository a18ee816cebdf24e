//! argon2id password hashes in PHC string form, with a dummy hash for unknown users so a
//! login for a user that does not exist costs the same time as one that does.
//!
//! Every hash (new, verified, dummy) runs in [`WorkMemory`]: argon2's m KiB block in a
//! mapping of its own, backed by transparent huge pages where the kernel allows and
//! pre-faulted in one call, so a fresh process (every PAM login) does not pay ~5,000
//! page faults on first touch; it is wiped and unmapped when the hash is done.

use std::ptr::NonNull;

use super::{CredError, constant_time_eq, random_fill};
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

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
    pub(crate) fn argon2(&self) -> Result<Argon2<'static>, CredError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| CredError::Hash(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Hash a password with a fresh 16-byte salt.
///
/// # Errors
/// [`CredError`] when the parameters are invalid, the random generator fails or the
/// working memory cannot be mapped.
pub fn hash_password(password: &[u8], params: &HashParams) -> Result<String, CredError> {
    let mut salt = [0u8; 16];
    random_fill(&mut salt)?;
    let argon = params.argon2()?;
    let mut out = Zeroizing::new([0u8; Params::DEFAULT_OUTPUT_LEN]);
    compute(&argon, password, &salt, &mut out[..])?;
    fn hash_err(e: impl std::fmt::Display) -> CredError {
        CredError::Hash(e.to_string())
    }
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).map_err(hash_err)?,
        salt: Some(Salt::new(&salt).map_err(hash_err)?),
        hash: Some(Output::new(&out[..]).map_err(hash_err)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `hash`, computed with the algorithm,
/// version, parameters, salt and output length stored in it (as argon2's own
/// `PasswordVerifier` does). A malformed hash, or memory that cannot be mapped, never
/// matches.
pub fn verify_password(password: &[u8], hash: &str) -> bool {
    let Ok(phc) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(phc.algorithm.as_str()) else {
        return false;
    };
    let version = match phc.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&phc) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params);
    let mut out = Zeroizing::new(vec![0u8; expected.len()]);
    if compute(&argon, password, salt.as_ref(), &mut out).is_err() {
        return false;
    }
    constant_time_eq(&out, expected.as_bytes())
}

/// One argon2 computation into `out`, in freshly mapped working memory.
fn compute(
    argon: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), CredError> {
    let mut memory = WorkMemory::new(argon.params().block_count())?;
    argon
        .hash_password_into_with_memory(password, salt, out, memory.blocks())
        .map_err(|e| CredError::Hash(e.to_string()))
}

/// A transparent huge page (x86-64 and aarch64 with 4 KiB base pages).
const HUGE_PAGE: usize = 2 << 20;
/// argon2's working memory: `count` 1 KiB blocks in an anonymous private mapping of
/// their own, aligned to 2 MiB and advised `MADV_HUGEPAGE` (≈ 10 huge-page faults instead
/// of ≈ 5,000 small ones for OWASP's 19 MiB, measured in docs/benchmarks-login.md),
/// pre-faulted in one call (`MADV_POPULATE_WRITE`) and kept out of core dumps
/// (`MADV_DONTDUMP`). Dropping it wipes every block (`explicit_bzero`, which the compiler
/// may not elide) and unmaps it.
struct WorkMemory {
    /// Start of the whole mapping (what `munmap` gets).
    map: NonNull<libc::c_void>,
    /// Length of the whole mapping.
    map_len: usize,
    /// The first block: the 2 MiB-aligned address inside the mapping.
    blocks: NonNull<Block>,
    /// Number of blocks.
    count: usize,
}

impl WorkMemory {
    fn new(count: usize) -> Result<WorkMemory, CredError> {
        let too_big = || CredError::Hash(format!("argon2 memory of {count} KiB is too large"));
        let len = count.checked_mul(Block::SIZE).ok_or_else(too_big)?;
        let huge_len = len
            .div_ceil(HUGE_PAGE)
            .checked_mul(HUGE_PAGE)
            .ok_or_else(too_big)?;
        // One huge page of slack so a 2 MiB-aligned start fits inside the mapping.
        let map_len = huge_len.checked_add(HUGE_PAGE).ok_or_else(too_big)?;
        // SAFETY: an anonymous private mapping at an address the kernel chooses, with no
        // file and no fixed address: it aliases nothing. The result is checked below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(CredError::Hash(format!(
                "cannot map {count} KiB of argon2 memory: {}",
                std::io::Error::last_os_error()
            )));
        }
        let map = NonNull::new(p).ok_or_else(too_big)?;
        let offset = (p as usize).next_multiple_of(HUGE_PAGE) - p as usize;
        // SAFETY: `offset < HUGE_PAGE` and the mapping is `huge_len + HUGE_PAGE` long, so
        // the aligned start and the `len` bytes after it lie inside the mapping.
        let start = unsafe { p.cast::<u8>().add(offset) };
        let memory = WorkMemory {
            map,
            map_len,
            blocks: NonNull::new(start.cast::<Block>()).ok_or_else(too_big)?,
            count,
        };
        // Huge pages only for a block of at least one (a test's 64 KiB hash should not
        // zero 2 MiB); then every advice covers whole huge pages, so that no advice
        // splits the mapping inside one and forces its tail back to small pages.
        let range = if len >= HUGE_PAGE { huge_len } else { len };
        let advice = [
            (libc::MADV_HUGEPAGE, len >= HUGE_PAGE),
            (libc::MADV_DONTDUMP, true),
            // Fault every page in, zeroed and writable, in one call.
            (libc::MADV_POPULATE_WRITE, true),
        ];
        for (advice, wanted) in advice {
            if wanted {
                // Advice only: each may fail (THP off, a kernel before 5.14 without
                // MADV_POPULATE_WRITE) without harm, so the result is ignored: the pages
                // then fault in as small pages on first touch.
                // SAFETY: `start..start + range` lies inside the mapping made above;
                // advice changes no contents (POPULATE_WRITE faults zero pages in, as a
                // first write would).
                let _ = unsafe { libc::madvise(start.cast(), range, advice) };
            }
        }
        Ok(memory)
    }

    fn blocks(&mut self) -> &mut [Block] {
        // SAFETY: `blocks` points at `count` blocks inside a readable, writable mapping
        // owned by `self` (borrowed mutably here, so unaliased); fresh anonymous memory is
        // zero-filled, and all-zero bits are a valid `Block` (plain `u64`s), 2 MiB-aligned
        // (more than `Block`'s 64).
        unsafe { std::slice::from_raw_parts_mut(self.blocks.as_ptr(), self.count) }
    }

    /// Zero every block, in a way the compiler may not remove as a dead store.
    fn wipe(&mut self) {
        // SAFETY: the `count` blocks lie inside the mapping, which is mapped and writable
        // while `self` lives; explicit_bzero is a memset the compiler keeps.
        unsafe { libc::explicit_bzero(self.blocks.as_ptr().cast(), self.count * Block::SIZE) };
    }
}

impl Drop for WorkMemory {
    fn drop(&mut self) {
        self.wipe();
        // SAFETY: exactly the mapping made in `new`, unmapped once; no reference into it
        // outlives `self`.
        let _ = unsafe { libc::munmap(self.map.as_ptr(), self.map_len) };
    }
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

    /// The crate's own hasher and verifier (its heap memory) against ours, both ways, at
    /// the default parameters and at p=2: same bytes, so every stored hash still verifies.
    #[test]
    fn agrees_with_the_argon2_crate() {
        use argon2::{PasswordHasher, PasswordVerifier};
        for params in [
            HashParams::default(),
            HashParams {
                memory_kib: 256,
                iterations: 3,
                parallelism: 2,
            },
        ] {
            let crate_hash = params
                .argon2()
                .unwrap()
                .hash_password_with_salt(b"pw", b"0123456789abcdef")
                .unwrap()
                .to_string();
            assert!(verify_password(b"pw", &crate_hash), "{crate_hash}");
            assert!(!verify_password(b"pW", &crate_hash));
            let ours = hash_password(b"pw", &params).unwrap();
            let phc = argon2::PasswordHash::new(&ours).unwrap();
            assert!(
                params
                    .argon2()
                    .unwrap()
                    .verify_password(b"pw", &phc)
                    .is_ok()
            );
            assert!(
                params
                    .argon2()
                    .unwrap()
                    .verify_password(b"pW", &phc)
                    .is_err()
            );
        }
    }

    /// The parameters come from the PHC string: a hash made at other parameters verifies,
    /// and the same output under a changed parameter does not.
    #[test]
    fn verification_uses_the_stored_parameters() {
        let h = hash_password(b"pw", &fast()).unwrap();
        assert!(verify_password(b"pw", &h));
        let changed = h.replace("m=64,t=1,", "m=64,t=2,");
        assert_ne!(changed, h);
        assert!(!verify_password(b"pw", &changed));
        let argon2i = h.replace("$argon2id$", "$argon2i$");
        assert!(!verify_password(b"pw", &argon2i));
        assert!(!verify_password(b"pw", &h.replace("$v=19$", "$v=7$")));
    }

    #[test]
    fn work_memory_is_aligned_advised_and_wiped() {
        let count = HashParams::default().memory_kib as usize;
        let mut m = WorkMemory::new(count).unwrap();
        let start = m.blocks.as_ptr() as usize;
        assert_eq!(start % HUGE_PAGE, 0);
        assert!(
            m.blocks()
                .iter()
                .all(|b| b.as_ref().iter().all(|&w| w == 0))
        );
        // The mapping is advised for huge pages: THPeligible in smaps whenever the
        // kernel's THP mode is `always` or `madvise` (whether huge pages were free is
        // the kernel's business and not asserted).
        let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .unwrap_or_default();
        if thp.contains("[always]") || thp.contains("[madvise]") {
            let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
            let mut ours = false;
            let mut eligible = None;
            for line in smaps.lines() {
                let mut words = line.split_whitespace();
                let first = words.next().unwrap_or("");
                if let Some((a, b)) = first.split_once('-') {
                    if let (Ok(a), Ok(b)) =
                        (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                    {
                        ours = a <= start && start < b;
                    }
                } else if ours && first == "THPeligible:" {
                    eligible = words.next().map(str::to_string);
                }
            }
            assert_eq!(eligible.as_deref(), Some("1"), "{smaps}");
        }
        for b in m.blocks().iter_mut() {
            b.as_mut().fill(0x5a5a_5a5a_5a5a_5a5a);
        }
        m.wipe();
        assert!(
            m.blocks()
                .iter()
                .all(|b| b.as_ref().iter().all(|&w| w == 0))
        );
    }

    #[test]
    fn absurd_memory_is_an_error_not_a_panic() {
        assert!(WorkMemory::new(usize::MAX / 512).is_err());
    }

    #[test]
    fn dummy_hash_parses_and_never_matches() {
        let d = dummy_hash(&fast());
        assert!(argon2::PasswordHash::new(&d).is_ok(), "{d}");
        assert!(!verify_password(b"", &d));
        assert!(!verify_dummy(b"anything", &fast()));
    }
}
