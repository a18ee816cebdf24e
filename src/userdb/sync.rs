//! The one entry point `iam` calls: after every change to the store, and for
//! `iam sync-userdb [--check]`.

use std::path::{Path, PathBuf};

use super::ids::{IdRange, RANGE_ENV};
use super::keys::{self, DEFAULT_KEYS_DIR, KEYS_DIR_ENV};
use super::plan::{self, Drift, Local};
use super::{DEFAULT_DIR, DIR_ENV, Source, UserdbError, fsops};

/// Where records and key files go, and which ids are ours.
#[derive(Debug, Clone)]
pub struct Config {
    /// The userdb drop-in directory (default `/etc/userdb`).
    pub dir: PathBuf,
    /// The SSH key export directory (default `/var/lib/pam-iam-keys`).
    pub keys_dir: PathBuf,
    /// UID/GID range.
    pub range: IdRange,
    /// The machine's own account files, whose names and ids win over ours.
    pub passwd: PathBuf,
    pub group: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            dir: DEFAULT_DIR.into(),
            keys_dir: DEFAULT_KEYS_DIR.into(),
            range: IdRange::default(),
            passwd: "/etc/passwd".into(),
            group: "/etc/group".into(),
        }
    }
}

impl Config {
    /// Defaults overridden by `PAM_IAM_USERDB_DIR`, `PAM_IAM_KEYS_DIR`, `PAM_IAM_ID_RANGE`.
    ///
    /// # Errors
    /// [`UserdbError::InvalidRange`] for an unparsable range.
    pub fn from_env() -> Result<Config, UserdbError> {
        let mut c = Config::default();
        if let Some(d) = std::env::var_os(DIR_ENV).filter(|d| !d.is_empty()) {
            c.dir = d.into();
        }
        if let Some(d) = std::env::var_os(KEYS_DIR_ENV).filter(|d| !d.is_empty()) {
            c.keys_dir = d.into();
        }
        if let Ok(r) = std::env::var(RANGE_ENV) {
            if !r.is_empty() {
                c.range = r.parse()?;
            }
        }
        Ok(c)
    }

    /// The machine's own accounts (missing files count as empty).
    ///
    /// # Errors
    /// [`UserdbError::Io`] when a file exists but cannot be read.
    pub fn local_accounts(&self) -> Result<Local, UserdbError> {
        let read = |p: &Path| match std::fs::read_to_string(p) {
            Ok(s) => Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(UserdbError::io("read", p, e)),
        };
        Ok(Local::parse(&read(&self.passwd)?, &read(&self.group)?))
    }
}

/// Report only, or repair too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Check,
    Repair,
}

/// What a sync found (and, in repair mode, fixed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Record drift (conflicts included; they are never "repaired").
    pub drift: Vec<Drift>,
    /// Key export drift (`missing alice`, ...).
    pub keys_drift: Vec<String>,
    /// Things worth telling the administrator that are not drift.
    pub warnings: Vec<String>,
}

impl Report {
    /// Differences a repair would change (conflicts excluded: they stay by design).
    pub fn repairable(&self) -> usize {
        self.drift
            .iter()
            .filter(|d| d.kind != plan::DriftKind::Conflict)
            .count()
            + self.keys_drift.len()
    }
}

/// Compares the userdb directory and key export with the store and, in
/// [`Mode::Repair`], fixes them.
///
/// If the store cannot be read, returns [`UserdbError::Source`] before touching
/// anything: records are never removed because the store was unavailable.
///
/// # Errors
/// [`UserdbError::Source`], [`UserdbError::UnsafeDir`], [`UserdbError::Io`].
pub fn sync(source: &dyn Source, cfg: &Config, mode: Mode) -> Result<Report, UserdbError> {
    // Read everything first: any failure here leaves the directories as they are.
    let snap = source.snapshot().map_err(UserdbError::Source)?;
    let key_users = source.key_export().map_err(UserdbError::Source)?;
    let local = cfg.local_accounts()?;

    let repair = mode == Mode::Repair;
    let _lock = if repair {
        fsops::ensure_dir(&cfg.dir, 0o755)?;
        Some(fsops::lock_dir(&cfg.dir)?)
    } else {
        None
    };
    let found = if cfg.dir.exists() {
        fsops::scan(&cfg.dir)?
    } else {
        Default::default()
    };
    let (want, conflicts) = plan::desired(&snap, &local);
    let p = plan::plan(&want, conflicts, &found, &cfg.range);
    if repair {
        for (name, entry) in &p.writes {
            fsops::apply_entry(&cfg.dir, name, entry)?;
        }
        for name in &p.removes {
            fsops::remove(&cfg.dir, name)?;
        }
        fsops::sync_dir(&cfg.dir)?;
    }
    let k = keys::export(&cfg.keys_dir, &key_users, repair)?;
    let mut warnings = snap.warnings;
    warnings.extend(k.warnings);
    Ok(Report {
        drift: p.drift,
        keys_drift: k.drift,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::userdb::keys::UserKeys;
    use crate::userdb::plan::DriftKind;
    use crate::userdb::record::{Account, GroupEntry, Snapshot};
    use std::os::unix::fs::PermissionsExt;

    struct Fake(Result<Snapshot, String>);
    impl Source for Fake {
        fn snapshot(&self) -> Result<Snapshot, String> {
            self.0.clone()
        }
        fn key_export(&self) -> Result<Vec<UserKeys>, String> {
            self.0.clone().map(|_| Vec::new())
        }
    }

    fn cfg(root: &Path) -> Config {
        Config {
            dir: root.join("userdb"),
            keys_dir: root.join("keys"),
            range: IdRange::default(),
            passwd: root.join("passwd"),
            group: root.join("group"),
        }
    }

    fn snap() -> Snapshot {
        let (a, _) = Account::from_tags("alice", 70000, 70000, &[]);
        Snapshot {
            users: vec![a],
            groups: vec![GroupEntry {
                name: "ops".into(),
                gid: 70001,
                members: vec!["alice".into()],
            }],
            ..Default::default()
        }
    }

    #[test]
    fn repair_then_check_is_clean_and_store_failure_touches_nothing() {
        let d = tempfile::tempdir().unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let c = cfg(d.path());

        let rep = sync(&Fake(Ok(snap())), &c, Mode::Check).unwrap();
        assert_eq!(rep.repairable(), 7);
        assert!(!c.dir.exists(), "check mode writes nothing");

        sync(&Fake(Ok(snap())), &c, Mode::Repair).unwrap();
        let rep = sync(&Fake(Ok(snap())), &c, Mode::Check).unwrap();
        assert_eq!(rep, Report::default());
        assert!(c.dir.join("70000.user").is_symlink());

        let before = fsops::scan(&c.dir).unwrap();
        let err = sync(
            &Fake(Err("database disk image is malformed".into())),
            &c,
            Mode::Repair,
        )
        .unwrap_err();
        assert!(err.to_string().contains("left unchanged"), "{err}");
        assert_eq!(fsops::scan(&c.dir).unwrap(), before);

        // An empty store is a real answer: our records go, foreign ones stay.
        std::fs::write(c.dir.join("other.user"), "{\"userName\":\"other\"}").unwrap();
        let rep = sync(&Fake(Ok(Snapshot::default())), &c, Mode::Repair).unwrap();
        assert!(rep.drift.iter().all(|d| d.kind == DriftKind::Extra));
        let left: Vec<String> = fsops::scan(&c.dir).unwrap().into_keys().collect();
        assert_eq!(left, ["other.user"]);
    }
}
