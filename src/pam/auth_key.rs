//! The key sealing PAM's auth facts between `auth` and `account`: a root-only file of
//! this host (not store data), created on first use (see [`credentials::key_file`]).

use std::path::Path;

use zeroize::Zeroizing;

use super::backend::BackendError;
use crate::credentials;

/// The key sealing auth facts: 32 random bytes in a root-only file beside the store,
/// created atomically on first use, refused if a link, foreign-owned or readable by
/// others; a short key left by an older version is replaced.
pub fn auth_key(path: &Path) -> Result<Zeroizing<Vec<u8>>, BackendError> {
    credentials::key_file::load_or_create(path).map_err(BackendError::Unavailable)
}
