//! Where the `iam` binary is: it lives in the `iam-cli` workspace crate (so it can link
//! the PostgreSQL backend), not in this package, so `CARGO_BIN_EXE_iam` is not set here.
//! It is `target/<profile>/iam`, built first when missing or older than the sources
//! (as `common::module_so` does for pam_iam.so).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The newest modification time of the files under `dir`.
fn newest(dir: &Path) -> std::time::SystemTime {
    let mut t = std::time::SystemTime::UNIX_EPOCH;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            let m = if p.is_dir() {
                newest(&p)
            } else {
                e.metadata().and_then(|m| m.modified()).unwrap_or(t)
            };
            t = t.max(m);
        }
    }
    t
}

/// The `iam` CLI for these tests (built on first use if stale).
pub fn iam() -> &'static str {
    static IAM: OnceLock<String> = OnceLock::new();
    IAM.get_or_init(|| {
        // target/<profile>/deps/<test> -> target/<profile>/iam
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("target/debug"));
        let bin = profile_dir.join("iam");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let src = ["src", "iam-cli/src", "postgres/src", "postgres/migrations"]
            .iter()
            .map(|d| newest(&root.join(d)))
            .max()
            .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
        let stale = std::fs::metadata(&bin)
            .and_then(|m| m.modified())
            .map_or(true, |m| m < src);
        if stale {
            let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
            cmd.args(["build", "-p", "iam-cli", "--bin", "iam"])
                .current_dir(root);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            let st = cmd.status().expect("cargo build -p iam-cli");
            assert!(st.success(), "cargo build -p iam-cli failed");
        }
        assert!(bin.exists(), "{} missing", bin.display());
        bin.to_string_lossy().into_owned()
    })
}
