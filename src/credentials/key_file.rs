//! Key files: a 32-byte secret in a file only its owner (root, or the server's user) can
//! read, created atomically on first use. The PAM module's auth-facts key and the key
//! sealing access-key secrets (`sealed`) are such files.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// A 32-byte key in a root-only (or owner-only) file, created on first use, refused if
/// a link, foreign-owned or readable by others.
///
/// Created atomically: written and synced under a temporary name, then linked into
/// place (which fails if another login got there first; theirs is read). A login killed
/// or out of disk space mid-way leaves at most a stray temporary file, never a short key
/// that would refuse every later login. A short key left by an older version is replaced.
pub fn load_or_create(path: &Path) -> Result<Zeroizing<Vec<u8>>, String> {
    let unavailable = |m: String| format!("{}: {m}", path.display());
    match load(path) {
        Ok(Some(key)) if key.len() >= 32 => return Ok(key),
        Ok(Some(_short)) => {
            let tmp = write_new_key(path)?;
            let renamed = std::fs::rename(&tmp, path);
            let _ = std::fs::remove_file(&tmp);
            renamed.map_err(|e| unavailable(e.to_string()))?;
        }
        Ok(None) => {
            let tmp = write_new_key(path)?;
            let linked = std::fs::hard_link(&tmp, path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => remove_stale_temporaries(path),
                // Another login created it first: theirs is read below.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(unavailable(e.to_string())),
            }
        }
        Err(e) => return Err(e),
    }
    match load(path)? {
        Some(key) if key.len() >= 32 => Ok(key),
        _ => Err(unavailable("key file is truncated".into())),
    }
}

/// The key file's bytes (`None` when it does not exist), after the ownership checks.
pub fn load(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
    let unavailable = |m: String| format!("{}: {m}", path.display());
    let mut f = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unavailable(e.to_string())),
    };
    let md = f.metadata().map_err(|e| unavailable(e.to_string()))?;
    check_key_file(&md).map_err(unavailable)?;
    let mut key = Zeroizing::new(Vec::new());
    f.read_to_end(&mut key)
        .map_err(|e| unavailable(e.to_string()))?;
    Ok(Some(key))
}

/// Temporary key files of earlier first logins that were killed mid-way (older than a
/// minute, so never one a concurrent login is still writing).
fn remove_stale_temporaries(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return;
    };
    let prefix = format!("{name}.tmp.");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let stale = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 60);
        if stale
            && e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix))
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// A fresh key, written and synced to a new temporary file beside `path` (0600); the
/// file is removed again if anything fails.
fn write_new_key(path: &Path) -> Result<PathBuf, String> {
    let mut key = Zeroizing::new(vec![0u8; 32]);
    super::random_fill(&mut key).map_err(|e| e.to_string())?;
    let mut nonce = [0u8; 8];
    super::random_fill(&mut nonce).map_err(|e| e.to_string())?;
    let name = format!(
        "{}.tmp.{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("key"),
        nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let tmp = path.with_file_name(name);
    let unavailable = |m: String| format!("{}: {m}", tmp.display());
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(|e| unavailable(e.to_string()))?;
    if let Err(e) = f.write_all(&key).and_then(|()| f.sync_all()) {
        drop(f);
        let _ = std::fs::remove_file(&tmp);
        return Err(unavailable(e.to_string()));
    }
    Ok(tmp)
}

fn check_key_file(md: &std::fs::Metadata) -> Result<(), String> {
    if !crate::store::service_user::trusted_owner(md.uid()) {
        return Err(format!(
            "owned by uid {}, not root, the caller or the iamd system user",
            md.uid()
        ));
    }
    if md.mode() & 0o077 != 0 {
        return Err(format!(
            "mode {:04o} gives group/others access (chmod 600)",
            md.mode() & 0o7777
        ));
    }
    Ok(())
}
