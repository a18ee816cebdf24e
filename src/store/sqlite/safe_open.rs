//! The StrictModes-like checks made before SQLite touches the file: the store, its
//! `-wal`/`-shm` journal files and its directory must belong to root, the caller or the
//! `iamd` system user (`store::service_user`) and
//! give group and others no access at all (mode & 077 == 0: the journal files hold the
//! same secrets as the database, and a directory others may read or search lets them
//! watch its files); no symlinks; created as directory 0700 and file 0600.

use super::{OpenMode, OpenOptions, StoreError};
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

fn insecure(path: &Path, reason: String) -> StoreError {
    StoreError::Insecure {
        path: path.to_path_buf(),
        reason,
    }
}

fn io_err(path: &Path, source: io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn owner_ok(uid: u32) -> bool {
    crate::store::service_user::trusted_owner(uid)
}

fn check_owner_mode(
    path: &Path,
    md: &fs::Metadata,
    forbidden: u32,
    what: &str,
) -> Result<(), StoreError> {
    let mode = md.mode() & 0o7777;
    if !owner_ok(md.uid()) {
        return Err(insecure(
            path,
            format!(
                "{what} is owned by uid {}, not root, the caller (uid {}) or the iamd system user",
                md.uid(),
                nix::unistd::geteuid()
            ),
        ));
    }
    if mode & forbidden != 0 {
        return Err(insecure(
            path,
            format!(
                "{what} has mode {mode:04o}, which gives group/others access it must not (chmod go-rwx {})",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// Check (and in read-write mode create) the directory and the file; returns the path
/// SQLite should open.
pub(crate) fn prepare(path: &Path, opts: &OpenOptions) -> Result<PathBuf, StoreError> {
    if path.as_os_str().is_empty() {
        return Err(StoreError::Validation("the store path is empty".into()));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound && opts.mode == OpenMode::ReadWrite => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| io_err(&dir, e))?;
        }
        Err(e) => return Err(io_err(&dir, e)),
        Ok(_) => {}
    }
    let dmd = fs::symlink_metadata(&dir).map_err(|e| io_err(&dir, e))?;
    if dmd.file_type().is_symlink() {
        return Err(insecure(
            &dir,
            "the store directory is a symbolic link".into(),
        ));
    }
    if !dmd.is_dir() {
        return Err(insecure(
            &dir,
            "the store directory is not a directory".into(),
        ));
    }
    if !opts.insecure_ok {
        check_owner_mode(&dir, &dmd, 0o077, "the store directory")?;
        check_ancestors(&dir)?;
    }

    // O_PATH: closing this descriptor must not release the POSIX locks SQLite holds on
    // the file through this process's other connections (closing any other kind of
    // descriptor does, and then another process closing its connection believes it is
    // the last one, checkpoints and deletes the WAL under the live connections).
    let mut oo = fs::OpenOptions::new();
    oo.read(true)
        .custom_flags(libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC);
    let file = match oo.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound && opts.mode == OpenMode::ReadWrite => {
            let mut c = fs::OpenOptions::new();
            c.read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
            match c.open(path) {
                Ok(f) => f,
                // Another process created it between our two opens: use theirs.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    oo.open(path).map_err(|e| io_err(path, e))?
                }
                Err(e) => return Err(io_err(path, e)),
            }
        }
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(insecure(path, "the store is a symbolic link".into()));
        }
        Err(e) => return Err(io_err(path, e)),
    };
    let md = file.metadata().map_err(|e| io_err(path, e))?;
    if md.file_type().is_symlink() {
        return Err(insecure(path, "the store is a symbolic link".into()));
    }
    if !md.is_file() {
        return Err(insecure(path, "the store is not a regular file".into()));
    }
    if !opts.insecure_ok {
        check_owner_mode(path, &md, 0o077, "the store")?;
    }
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let side = PathBuf::from(side);
        match fs::symlink_metadata(&side) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(insecure(
                    &side,
                    "a store journal file is a symbolic link".into(),
                ));
            }
            Ok(m) if !opts.insecure_ok => {
                check_owner_mode(&side, &m, 0o077, "a store journal file")?
            }
            _ => {}
        }
    }
    Ok(path.to_path_buf())
}

/// Every directory above the store's must be owned by root or the caller and, when
/// writable by others, sticky (like /tmp), so nobody else can swap the store directory.
fn check_ancestors(dir: &Path) -> Result<(), StoreError> {
    let abs = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| io_err(dir, e))?
            .join(dir)
    };
    for anc in abs.ancestors().skip(1) {
        let md = fs::metadata(anc).map_err(|e| io_err(anc, e))?;
        let mode = md.mode() & 0o7777;
        if !owner_ok(md.uid()) {
            return Err(insecure(
                anc,
                format!(
                    "a directory above the store is owned by uid {}, not root or the caller",
                    md.uid()
                ),
            ));
        }
        if mode & 0o022 != 0 && mode & 0o1000 == 0 {
            return Err(insecure(
                anc,
                format!(
                    "a directory above the store has mode {mode:04o} (writable by group/others, not sticky)"
                ),
            ));
        }
    }
    Ok(())
}

/// A temporary directory the store's checks accept (0700; `tempfile` follows the umask).
#[cfg(test)]
pub(crate) fn private_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .permissions(fs::Permissions::from_mode(0o700))
        .tempdir()
        .expect("tempdir")
}
