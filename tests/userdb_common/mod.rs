//! Shared helpers of the userdb and authorized-keys tests: root check and a private
//! mount namespace whose /etc is an overlay (so /etc/userdb can exist there without
//! touching the machine), with a temporary userdb directory and nsswitch.conf
//! bind-mounted in.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// True when the test may run; prints why it is skipped otherwise. Under CI=true a
/// non-root run fails instead of skipping.
pub fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: needs root (CI=true forbids skipping)"
    );
    eprintln!("{test}: SKIPPED: needs root (private mount namespaces); run as root or in CI");
    false
}

/// A scratch tree: `userdb/` (the directory `iam` maintains), `keys/`, `nsswitch.conf`,
/// and overlay work directories. World-traversable so unprivileged programs (sshd's
/// AuthorizedKeysCommandUser, the logged-in user) can resolve names.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("pam-iam-userdb-")
            .tempdir()
            .unwrap();
        let root = dir.path();
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
        for d in ["userdb", "etc-upper", "etc-work"] {
            std::fs::create_dir(root.join(d)).unwrap();
            std::fs::set_permissions(root.join(d), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::write(
            root.join("nsswitch.conf"),
            "passwd: files systemd\ngroup: files systemd\nshadow: files systemd\ngshadow: files systemd\nhosts: files\n",
        )
        .unwrap();
        Sandbox { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn userdb(&self) -> PathBuf {
        self.path().join("userdb")
    }

    pub fn keys(&self) -> PathBuf {
        self.path().join("keys")
    }

    /// The shell prologue that builds the private /etc. `extra` runs right after (more
    /// bind mounts), then `script`.
    pub fn prologue(&self) -> String {
        let r = self.path().display();
        format!(
            "set -e\n\
             mount -t overlay overlay -o lowerdir=/etc,upperdir={r}/etc-upper,workdir={r}/etc-work /etc\n\
             mkdir -p /etc/userdb\n\
             mount --bind {r}/userdb /etc/userdb\n\
             mount --bind {r}/nsswitch.conf /etc/nsswitch.conf\n\
             set +e\n"
        )
    }

    /// Runs `script` with bash in a private mount namespace (plus a private network
    /// namespace with loopback up when `net`).
    pub fn run(&self, net: bool, script: &str) -> Output {
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "--propagation", "private"]);
        let mut full = self.prologue();
        if net {
            cmd.arg("--net");
            full.push_str("ip link set lo up\n");
        }
        full.push_str(script);
        cmd.args(["--", "bash", "-c", &full]);
        cmd.output().unwrap()
    }

    /// Like [`run`] but returns stdout and panics with both streams on failure.
    pub fn run_ok(&self, net: bool, script: &str) -> String {
        let out = self.run(net, script);
        let so = String::from_utf8_lossy(&out.stdout).into_owned();
        let se = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "script failed: {script}\nstdout:\n{so}\nstderr:\n{se}"
        );
        so
    }
}
