//! The few file operations userdb needs, each done once and carefully: directory
//! checks, scan, atomic write (temp + fsync + rename), atomic symlink, removal.
//!
//! Temporary names start with `.`: nss-systemd (conf-files) ignores hidden files, so a
//! half-written record is never read.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::UserdbError;
use super::plan::{Entry, Found};

/// Largest record we read back when scanning; anything larger is not ours.
const MAX_RECORD: u64 = 64 * 1024;

/// Makes sure `dir` exists (created with `mode` if absent) and is safe to write into:
/// a real directory (not a symlink), owned by us (root), not writable by group/others.
pub fn ensure_dir(dir: &Path, mode: u32) -> Result<(), UserdbError> {
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(mode)
                .create(dir)
                .map_err(|e| UserdbError::io("create directory", dir, e))?;
            // The umask may have removed bits we want (e.g. o+rx for nss lookups).
            fs::set_permissions(dir, fs::Permissions::from_mode(mode))
                .map_err(|e| UserdbError::io("chmod", dir, e))?;
            Ok(())
        }
        Err(e) => Err(UserdbError::io("stat", dir, e)),
        Ok(md) => check_dir(dir, &md),
    }
}

fn check_dir(dir: &Path, md: &fs::Metadata) -> Result<(), UserdbError> {
    let unsafe_dir = |why: String| UserdbError::UnsafeDir {
        path: dir.to_path_buf(),
        why,
    };
    if md.file_type().is_symlink() {
        return Err(unsafe_dir("is a symlink".into()));
    }
    if !md.is_dir() {
        return Err(unsafe_dir("is not a directory".into()));
    }
    let euid = nix::unistd::geteuid().as_raw();
    if md.uid() != euid {
        return Err(unsafe_dir(format!("owned by uid {}, not {euid}", md.uid())));
    }
    if md.mode() & 0o022 != 0 {
        return Err(unsafe_dir(format!(
            "mode {:o} lets others write into it",
            md.mode() & 0o7777
        )));
    }
    Ok(())
}

/// Lists the directory: every visible entry with what it is. Regular files are read
/// (bounded, without following symlinks).
pub fn scan(dir: &Path) -> Result<BTreeMap<String, Found>, UserdbError> {
    let mut out = BTreeMap::new();
    let rd = fs::read_dir(dir).map_err(|e| UserdbError::io("read directory", dir, e))?;
    for ent in rd {
        let ent = ent.map_err(|e| UserdbError::io("read directory", dir, e))?;
        let Ok(name) = ent.file_name().into_string() else {
            continue; // not UTF-8: never ours
        };
        if name.starts_with('.') {
            continue;
        }
        let path = dir.join(&name);
        let md = match fs::symlink_metadata(&path) {
            Ok(md) => md,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(UserdbError::io("stat", path, e)),
        };
        let found = if md.file_type().is_symlink() {
            match fs::read_link(&path) {
                Ok(t) => Found::Symlink(t.to_string_lossy().into_owned()),
                Err(_) => Found::Other,
            }
        } else if md.is_file() {
            let text = if md.len() <= MAX_RECORD {
                read_nofollow(&path, MAX_RECORD).ok()
            } else {
                None
            };
            Found::File {
                text,
                mode: md.mode(),
            }
        } else {
            Found::Other
        };
        out.insert(name, found);
    }
    Ok(out)
}

/// Reads at most `max` bytes of a regular file, refusing symlinks.
pub fn read_nofollow(path: &Path, max: u64) -> std::io::Result<String> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    let mut s = String::new();
    f.take(max).read_to_string(&mut s)?;
    Ok(s)
}

const TMP_SUFFIX: &str = ".pam-iam-tmp";

fn tmp_name(name: &str) -> String {
    format!(".{name}.{}{TMP_SUFFIX}", std::process::id())
}

/// Holds an exclusive lock on `dir/.pam-iam.lock` (hidden: nss ignores it) so two `iam`
/// runs never interleave their changes to one directory. Released on drop.
pub struct DirLock {
    _lock: nix::fcntl::Flock<fs::File>,
}

/// Takes the directory lock (waiting for another `iam` holding it), then removes
/// temporaries a crashed run may have left.
pub fn lock_dir(dir: &Path) -> Result<DirLock, UserdbError> {
    let path = dir.join(".pam-iam.lock");
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| UserdbError::io("open lock", &path, e))?;
    let lock = nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| UserdbError::io("lock", &path, std::io::Error::from(e)))?;
    if let Ok(rd) = fs::read_dir(dir) {
        for ent in rd.flatten() {
            let name = ent.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') && name.ends_with(TMP_SUFFIX) {
                let _ = fs::remove_file(ent.path());
            }
        }
    }
    Ok(DirLock { _lock: lock })
}

fn remove_if_exists(path: &Path) -> Result<(), UserdbError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(UserdbError::io("remove", path, e)),
    }
}

/// Writes `text` to `dir/name` atomically with `mode`: a reader sees the old file or
/// the new one, never a partial one, even across a crash.
pub fn write_file(dir: &Path, name: &str, text: &str, mode: u32) -> Result<(), UserdbError> {
    let tmp = dir.join(tmp_name(name));
    let dst = dir.join(name);
    remove_if_exists(&tmp)?;
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .map_err(|e| UserdbError::io("create", &tmp, e))?;
    let res = (|| {
        f.write_all(text.as_bytes())?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.sync_all()
    })();
    drop(f);
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(UserdbError::io("write", &tmp, e));
    }
    fs::rename(&tmp, &dst).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        UserdbError::io("rename into place", &dst, e)
    })
}

/// Creates or replaces the symlink `dir/name` -> `target` atomically.
pub fn write_symlink(dir: &Path, name: &str, target: &str) -> Result<(), UserdbError> {
    let tmp = dir.join(tmp_name(name));
    let dst = dir.join(name);
    remove_if_exists(&tmp)?;
    std::os::unix::fs::symlink(target, &tmp).map_err(|e| UserdbError::io("symlink", &tmp, e))?;
    fs::rename(&tmp, &dst).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        UserdbError::io("rename into place", &dst, e)
    })
}

/// Removes `dir/name` (a file or symlink; never follows it).
pub fn remove(dir: &Path, name: &str) -> Result<(), UserdbError> {
    remove_if_exists(&dir.join(name))
}

/// Makes renames and removals in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<(), UserdbError> {
    let d = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map_err(|e| UserdbError::io("open directory", dir, e))?;
    d.sync_all().map_err(|e| UserdbError::io("fsync", dir, e))
}

/// Applies one desired entry.
pub fn apply_entry(dir: &Path, name: &str, entry: &Entry) -> Result<(), UserdbError> {
    match entry {
        Entry::File(text) => write_file(dir, name, text, 0o644),
        Entry::Symlink(target) => write_symlink(dir, name, target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).unwrap();
        d
    }

    #[test]
    fn atomic_write_replaces_and_sets_mode() {
        let d = tmpdir();
        write_file(d.path(), "a.user", "one\n", 0o644).unwrap();
        write_file(d.path(), "a.user", "two\n", 0o644).unwrap();
        let md = fs::metadata(d.path().join("a.user")).unwrap();
        assert_eq!(md.mode() & 0o7777, 0o644);
        assert_eq!(
            fs::read_to_string(d.path().join("a.user")).unwrap(),
            "two\n"
        );
        // No temporary left behind.
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn symlink_write_and_scan() {
        let d = tmpdir();
        write_file(d.path(), "a.user", "{}\n", 0o644).unwrap();
        write_symlink(d.path(), "7.user", "a.user").unwrap();
        write_symlink(d.path(), "7.user", "b.user").unwrap();
        fs::create_dir(d.path().join("sub")).unwrap();
        fs::write(d.path().join(".hidden"), "x").unwrap();
        let s = scan(d.path()).unwrap();
        assert_eq!(s["7.user"], Found::Symlink("b.user".into()));
        assert!(matches!(&s["a.user"], Found::File { text: Some(t), .. } if t == "{}\n"));
        assert_eq!(s["sub"], Found::Other);
        assert!(!s.contains_key(".hidden"));
        remove(d.path(), "7.user").unwrap();
        remove(d.path(), "7.user").unwrap();
        assert!(!scan(d.path()).unwrap().contains_key("7.user"));
    }

    #[test]
    fn write_refuses_to_follow_a_planted_temp_symlink() {
        let d = tmpdir();
        let victim = d.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let planted = d.path().join(tmp_name("a.user"));
        std::os::unix::fs::symlink(&victim, planted).unwrap();
        write_file(d.path(), "a.user", "new", 0o644).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(fs::read_to_string(d.path().join("a.user")).unwrap(), "new");
    }

    #[test]
    fn unsafe_directories_are_refused() {
        let d = tmpdir();
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            ensure_dir(d.path(), 0o755),
            Err(UserdbError::UnsafeDir { .. })
        ));
        let d2 = tmpdir();
        let link = d2.path().join("link");
        std::os::unix::fs::symlink(d2.path(), &link).unwrap();
        assert!(matches!(
            ensure_dir(&link, 0o755),
            Err(UserdbError::UnsafeDir { .. })
        ));
        let new = d2.path().join("new/userdb");
        ensure_dir(&new, 0o755).unwrap();
        assert_eq!(fs::metadata(&new).unwrap().mode() & 0o7777, 0o755);
    }
}
