//! The one harness of the whole-program tests. Every `tests/*.rs` that runs a real
//! program declares `mod support;` and takes what it needs:
//!
//! - [`bin`] and [`module_so`]: the workspace's binaries and the PAM module, found in the
//!   target directory of the running test executable;
//! - [`require_root!`](crate::require_root): skip a root-only test with a clear message,
//!   or fail it under `CI=true`;
//! - [`sandbox`]: private mount (and network) namespaces with binds, an overlay /etc,
//!   test users, PAM services and a captured /dev/log; helpers killed by PID;
//! - [`ssh`]: a real sshd in the sandbox and the real OpenSSH client;
//! - [`store`]: a store set up through the store's own API;
//! - [`cli`]: the `iam` CLI driven as an administrator would;
//! - [`sts`]: the role-session world (setuid `iam-sts`, real sudo);
//! - [`agent`]: fleet mode on one machine (`iamd` on a SQLite store, `iam-agent`s);
//! - [`totp`]: codes from oathtool, an independent TOTP implementation.
//!
//! ```ignore
//! mod support;
//! use support::sandbox::Sandbox;
//!
//! #[test]
//! fn alice_logs_in() {
//!     require_root!();
//!     let mut sb = Sandbox::new();
//!     sb.user("alice", 2001).service("iam-test", "auth required {module} db={db}");
//!     let out = sb.pamtester("iam-test", "alice", &["authenticate"], &["pw"]);
//!     assert!(out.ok(), "{out}");
//! }
//! ```
#![allow(dead_code)]

pub mod agent;
pub mod cli;
pub mod sandbox;
pub mod ssh;
pub mod store;
pub mod sts;
pub mod totp;

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Skips the calling test (returns from it) when not root, with a message naming the
/// test; under `CI=true` a missing root fails the test instead, so CI never silently
/// skips the real-program proofs. Use as the first line of a root-only `#[test]`.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::support::root_or_skip() {
            return;
        }
    };
}

/// The check behind [`require_root!`](crate::require_root): true when root; otherwise
/// [`skip`]s (or fails under `CI=true`) and returns false.
pub fn root_or_skip() -> bool {
    if is_root() {
        return true;
    }
    skip("needs root (private namespaces, real sshd/sudo/pamtester); run the tests as root");
    false
}

/// Says why the calling test skips (the caller then returns): a SKIP line naming the
/// test, or, under `CI=true`, a panic, because CI has everything a test needs and must
/// never silently skip a proof.
pub fn skip(why: &str) {
    // libtest runs each test on a thread named after it.
    let thread = std::thread::current();
    let test = thread
        .name()
        .filter(|n| *n != "main")
        .unwrap_or("this test");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: {why}, and CI=true forbids skipping");
    }
    eprintln!("SKIP {test}: {why} (CI=true turns this skip into a failure)");
}

/// Whether the tests run as root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The workspace's root directory (the one holding Cargo.lock), also when this harness
/// is compiled into another member's tests (`#[path]`, as iam-agent's fleet tests do).
pub fn workspace_dir() -> &'static Path {
    let mut d = Path::new(env!("CARGO_MANIFEST_DIR"));
    while !d.join("Cargo.lock").exists() {
        match d.parent() {
            Some(p) => d = p,
            None => return Path::new(env!("CARGO_MANIFEST_DIR")),
        }
    }
    d
}

/// target/<profile>, found from the running test executable (target/<profile>/deps/x).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf()
}

/// The workspace binary `name` (`iam`, `iam-sts`, `iam-authorized-keys`, …) as built in
/// target/<profile>/, whichever workspace crate defines it.
///
/// How it gets built: Cargo builds a package's binaries whenever one of that package's
/// integration tests is selected, so for the root crate's binaries a `cargo test` of any
/// suite here has just built them. A binary of another workspace member (the `iam` CLI
/// in its own crate) is built by a plain `cargo test` at the root when that member, a
/// default member, has an integration test of its own. In every other case (one suite
/// run alone with `cargo test --test NAME`, a member without integration tests) a
/// binary missing here or older than the workspace's sources is built by this function,
/// once per test process, with `cargo build --bin NAME` at the workspace root in the
/// profile of this executable (Cargo finds the member that defines NAME).
pub fn bin(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let path = target_dir().join(name);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|n| n == name) {
        if stale(&path, true) {
            cargo_build(&["--bin", name]);
        }
        built.push(name.to_string());
    }
    assert!(
        path.exists(),
        "{} missing (build it with `cargo build --release --bin {name}`)",
        path.display()
    );
    path
}

/// The built PAM module, target/<profile>/libpam_iam.so, built here if missing or older
/// than the sources.
pub fn module_so() -> PathBuf {
    let so = target_dir().join("libpam_iam.so");
    if stale(&so, false) {
        cargo_build(&["--lib"]);
    }
    assert!(so.exists(), "{} missing", so.display());
    so
}

/// True when `artifact` is missing or older than some file in the root crate's `src/`
/// (and, with `members`, in `src/` of every member directory with a Cargo.toml).
fn stale(artifact: &Path, members: bool) -> bool {
    fn newest(dir: &Path) -> std::time::SystemTime {
        let mut t = std::time::UNIX_EPOCH;
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
    let root = workspace_dir();
    let mut src = newest(&root.join("src"));
    let dirs = std::fs::read_dir(root).into_iter().flatten().flatten();
    for member in dirs.map(|e| e.path()).filter(|_| members) {
        if member.join("Cargo.toml").is_file() && member.join("src").is_dir() {
            src = src.max(newest(&member.join("src")));
        }
    }
    std::fs::metadata(artifact)
        .and_then(|m| m.modified())
        .map_or(true, |m| m < src)
}

/// `cargo build ARGS` at the workspace root, in the profile of this test executable.
fn cargo_build(args: &[&str]) {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.arg("build").args(args).current_dir(workspace_dir());
    if target_dir().file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let st = cmd.status().expect("run cargo build");
    assert!(st.success(), "cargo build {args:?} failed");
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Single-quotes for sh.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A finished program: exit status and what it printed.
pub struct Outcome {
    /// Exit code (-1 when killed).
    pub code: i32,
    /// stdout
    pub stdout: String,
    /// stderr
    pub stderr: String,
    /// Wall time.
    pub elapsed: Duration,
}

impl Outcome {
    /// Exit code 0.
    pub fn ok(&self) -> bool {
        self.code == 0
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit {} after {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Run a command with a hard timeout; its whole process group is killed on expiry.
pub fn run_with_timeout(cmd: &mut Command, stdin: Option<&str>, timeout: Duration) -> Outcome {
    use std::os::unix::process::CommandExt;
    let start = Instant::now();
    // A session of its own, as a login shell has (its pid is also its process group, for
    // the kill below). CI starts jobs with no session in their pid namespace, and a
    // terminal-less iam-sts needs its parent in the caller's session.
    // SAFETY: setsid(2) is async-signal-safe; the closure allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let child = spawn(cmd, stdin);
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let out = child.wait_with_output();
        let _ = tx.send(());
        out
    });
    if rx.recv_timeout(timeout).is_err() {
        kill_group(pid);
    }
    let out = waiter.join().unwrap().expect("wait");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// Starts `cmd` with stdout and stderr captured and `stdin` written to its input (or
/// /dev/null). A program may exit before reading its input: a broken pipe then is part
/// of its outcome, not a test error.
pub fn spawn(cmd: &mut Command, stdin: Option<&str>) -> std::process::Child {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    if let Some(input) = stdin {
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    }
    child
}

/// SIGTERM to each PID (a helper the harness started and recorded); never by name.
pub fn terminate(pids: &[i32]) {
    for &pid in pids {
        if pid > 1 {
            // SAFETY: kill(2) on a PID this harness recorded for a process it started.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }
}

/// SIGKILL to the process group `pgid` (a child started in a group of its own).
fn kill_group(pgid: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) on the process group created for a child of this harness.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
}

/// A child killed (by its PID) on drop.
pub struct Proc(pub std::process::Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `f` every 20 ms until it holds; panics naming `what` after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let t0 = std::time::Instant::now();
    while t0.elapsed() < limit {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}
