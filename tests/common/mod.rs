//! The shared harness for whole-program tests: real pamtester, sshd, ssh and sudo,
//! each inside a private mount namespace with its own /etc/pam.d, passwd files and
//! (optionally) a captured /dev/log. Nothing outside the namespace changes.
//!
//! ```ignore
//! if !common::should_run("alice logs in") { return; }
//! let mut sb = common::Sandbox::new();
//! sb.user("alice", 2001).service("iam-test", &sb.stack("auth required {module} db={db}"));
//! let out = sb.pamtester("iam-test", "alice", &["authenticate"], &["pw"]);
//! assert!(out.ok(), "{out}");
//! ```
#![allow(dead_code)]

#[path = "../bin_path/mod.rs"]
pub mod bin_path;
pub mod iam;
pub mod sts;

use std::fmt;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Root-only tests: run as root; otherwise skip with a message, unless CI=true, where a
/// missing root is a failure (so CI never silently skips the real-program proofs).
pub fn should_run(test: &str) -> bool {
    if nix_is_root() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: needs root, and CI=true forbids skipping");
    }
    eprintln!(
        "SKIP {test}: needs root (run the tests as root; CI=true turns this skip into a failure)"
    );
    false
}

fn nix_is_root() -> bool {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() == 0 }
}

/// target/<profile>, found from the running test binary (target/<profile>/deps/x).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf()
}

/// The built module, target/<profile>/libpam_iam.so, built here if missing or stale.
pub fn module_so() -> PathBuf {
    let so = target_dir().join("libpam_iam.so");
    let profile_release = target_dir().file_name().is_some_and(|n| n == "release");
    // Rebuild when any source file is newer than the module (cheap when it is not).
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
    let src = newest(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let stale = std::fs::metadata(&so)
        .and_then(|m| m.modified())
        .map_or(true, |m| m < src);
    if stale {
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(["build", "--lib"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_release {
            cmd.arg("--release");
        }
        let st = cmd.status().expect("cargo build --lib");
        assert!(st.success(), "cargo build --lib failed");
    }
    assert!(so.exists(), "{} missing", so.display());
    so
}

/// The `iam` CLI built with these tests.
pub fn iam_bin() -> PathBuf {
    PathBuf::from(bin_path::iam())
}

/// A TOTP code for a base32 seed at `now + offset` seconds, from oathtool (an
/// independent implementation).
pub fn oathtool(seed_b32: &str, offset_secs: i64) -> String {
    let out = Command::new("oathtool")
        .args([
            "--totp",
            "-b",
            seed_b32,
            "-N",
            &format!("now + {offset_secs} seconds"),
        ])
        .output()
        .expect("oathtool");
    assert!(
        out.status.success(),
        "oathtool: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Seconds left in the current 30 s TOTP step; tests that need two distinct codes
/// wait for a fresh step when too close to the edge.
pub fn totp_seconds_left() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    30 - now % 30
}

/// Wait until at least `secs` seconds remain in the current TOTP step.
pub fn wait_for_fresh_step(secs: u64) {
    while totp_seconds_left() < secs {
        std::thread::sleep(Duration::from_millis(200));
    }
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

/// Run a command with a hard timeout; the whole process group is killed on expiry.
pub fn run_with_timeout(cmd: &mut Command, stdin: Option<&str>, timeout: Duration) -> Outcome {
    use std::os::unix::process::CommandExt;
    let start = Instant::now();
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
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
    let mut child = cmd.spawn().expect("spawn");
    if let Some(input) = stdin {
        let mut si = child.stdin.take().unwrap();
        let _ = si.write_all(input.as_bytes());
    }
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let out = child.wait_with_output();
        let _ = tx.send(());
        out
    });
    if rx.recv_timeout(timeout).is_err() {
        // SAFETY: kill(2) on the process group we created for this child.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
    let out = waiter.join().unwrap().expect("wait");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// A Linux account in the sandbox's /etc/passwd, /etc/group and /etc/shadow.
#[derive(Clone)]
pub struct TestUser {
    /// Login name.
    pub name: String,
    /// uid = gid.
    pub uid: u32,
    /// crypt(3) hash for /etc/shadow (`*` = no Unix password).
    pub shadow: String,
}

/// A private world for one test: temp dir, PAM services, users, captured syslog.
pub struct Sandbox {
    /// Everything of this test lives here (removed on drop).
    pub dir: tempfile::TempDir,
    services: Vec<(String, String)>,
    users: Vec<TestUser>,
    binds: Vec<(PathBuf, PathBuf)>,
    syslog: bool,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// A new sandbox with the built module copied in as `pam_iam.so`.
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("pam-iam-test.")
            .tempdir()
            .expect("tempdir");
        // sshd's unprivileged child and test users must be able to reach files here.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::copy(module_so(), dir.path().join("pam_iam.so")).expect("copy module");
        // The store's own directory: root only, as the store's safety checks demand.
        std::fs::create_dir(dir.path().join("store")).unwrap();
        std::fs::set_permissions(
            dir.path().join("store"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        Sandbox {
            dir,
            services: Vec::new(),
            users: Vec::new(),
            binds: Vec::new(),
            syslog: true,
        }
    }

    /// A path inside the sandbox directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Absolute path of the module, for `auth required {module}` lines.
    pub fn module(&self) -> String {
        self.path("pam_iam.so").display().to_string()
    }

    /// The store path tests use (`db={db}`), in a 0700 directory.
    pub fn db(&self) -> String {
        self.path("store/iam.db").display().to_string()
    }

    /// Expand `{module}` and `{db}` in a PAM service text.
    pub fn stack(&self, text: &str) -> String {
        let mut s = text
            .replace("{module}", &self.module())
            .replace("{db}", &self.db());
        if !s.ends_with('\n') {
            s.push('\n');
        }
        s
    }

    /// A shipped PAM service file (`pam.d/NAME` of the repository) with the test module
    /// and store: comments and `@include` lines dropped, `fail_delay=0` on every
    /// pam_iam line and `host=HOST` on its account lines.
    pub fn shipped_stack(&self, name: &str, host: &str) -> String {
        let text = std::fs::read_to_string(format!("{}/pam.d/{name}", env!("CARGO_MANIFEST_DIR")))
            .unwrap();
        let mut out = String::new();
        for line in text.lines() {
            let l = line.trim_start();
            if l.starts_with('#') || l.starts_with("@include") || l.is_empty() {
                continue;
            }
            if l.contains("pam_iam.so") {
                let extra = if l.starts_with("account") {
                    format!(" host={host}")
                } else {
                    String::new()
                };
                out += &line.replace(
                    "pam_iam.so",
                    &format!("{} db={} fail_delay=0{extra}", self.module(), self.db()),
                );
            } else {
                out += line;
            }
            out.push('\n');
        }
        out
    }

    /// Accounts from systemd userdb records, as `iam` writes them: `run/userdb` (seen as
    /// /run/userdb), an nsswitch.conf with `systemd`, and the built `iam-authorized-keys`
    /// at /usr/local/sbin, all reachable by sshd's unprivileged users.
    pub fn userdb_nss(&mut self) -> &mut Self {
        for d in ["run", "sbin", "home"] {
            std::fs::create_dir_all(self.path(d)).unwrap();
            std::fs::set_permissions(self.path(d), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        self.write(
            "nsswitch.conf",
            "passwd: files systemd\ngroup: files systemd\nshadow: files systemd\ngshadow: files systemd\nhosts: files\n",
            0o644,
        );
        std::fs::copy(
            env!("CARGO_BIN_EXE_iam-authorized-keys"),
            self.path("sbin/iam-authorized-keys"),
        )
        .unwrap();
        let (run, ns, sbin) = (
            self.path("run"),
            self.path("nsswitch.conf"),
            self.path("sbin"),
        );
        self.bind(run, "/run")
            .bind(ns, "/etc/nsswitch.conf")
            .bind(sbin, "/usr/local/sbin")
    }

    /// Install /etc/pam.d/NAME in the namespace (`{module}`/`{db}` expanded).
    pub fn service(&mut self, name: &str, text: &str) -> &mut Self {
        let t = self.stack(text);
        self.services.push((name.into(), t));
        self
    }

    /// Add a Linux account without a Unix password.
    pub fn user(&mut self, name: &str, uid: u32) -> &mut Self {
        self.users.push(TestUser {
            name: name.into(),
            uid,
            shadow: "*".into(),
        });
        self
    }

    /// Add a Linux account with a Unix password (yescrypt, as Debian 12 makes them).
    pub fn unix_user(&mut self, name: &str, uid: u32, password: &str) -> &mut Self {
        self.users.push(TestUser {
            name: name.into(),
            uid,
            shadow: yescrypt(password),
        });
        self
    }

    /// Bind-mount `src` over `dst` in the namespace.
    pub fn bind(&mut self, src: impl Into<PathBuf>, dst: impl Into<PathBuf>) -> &mut Self {
        self.binds.push((src.into(), dst.into()));
        self
    }

    /// Write a file into the sandbox directory.
    pub fn write(&self, rel: &str, text: &str, mode: u32) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    /// What pam_syslog wrote (authpriv lines captured on the namespace's /dev/log).
    pub fn syslog(&self) -> String {
        std::fs::read_to_string(self.path("syslog.txt")).unwrap_or_default()
    }

    /// Bash that builds the namespace's view: /etc/pam.d, passwd files, binds, and a
    /// /dev whose `log` socket is ours. Runs inside `unshare --mount`.
    fn prelude(&self) -> String {
        let t = self.dir.path().display().to_string();
        let mut s = String::from("set -e\n");
        s += &format!("T={t}\n");
        s += "mkdir -p $T/pam.d && cp -a /etc/pam.d/. $T/pam.d/\n";
        for (name, text) in &self.services {
            std::fs::create_dir_all(self.path("pam.d.src")).unwrap();
            std::fs::write(self.path(&format!("pam.d.src/{name}")), text).unwrap();
            s += &format!("cp $T/pam.d.src/{name} $T/pam.d/{name}\n");
        }
        s += "mount --bind $T/pam.d /etc/pam.d\n";
        if !self.users.is_empty() {
            let mut passwd = std::fs::read_to_string("/etc/passwd").unwrap();
            let mut group = std::fs::read_to_string("/etc/group").unwrap();
            let mut shadow = std::fs::read_to_string("/etc/shadow").unwrap();
            for u in &self.users {
                let home = self.path(&format!("home/{}", u.name));
                std::fs::create_dir_all(&home).unwrap();
                let _ = std::os::unix::fs::chown(&home, Some(u.uid), Some(u.uid));
                passwd += &format!(
                    "{}:x:{}:{}::{}:/bin/bash\n",
                    u.name,
                    u.uid,
                    u.uid,
                    home.display()
                );
                group += &format!("{}:x:{}:\n", u.name, u.uid);
                shadow += &format!("{}:{}:19000:0:99999:7:::\n", u.name, u.shadow);
            }
            self.write("etc/passwd", &passwd, 0o644);
            self.write("etc/group", &group, 0o644);
            self.write("etc/shadow", &shadow, 0o640);
            s += "for f in passwd group shadow; do mount --bind $T/etc/$f /etc/$f; done\n";
        }
        for (src, dst) in &self.binds {
            s += &format!("mount --bind {} {}\n", src.display(), dst.display());
        }
        if self.syslog {
            // A private /dev with the real nodes bound in and our own /dev/log socket.
            s += r#"mkdir -p $T/dev
mount -t tmpfs -o mode=755 tmpfs $T/dev
for n in null zero full random urandom tty; do touch $T/dev/$n; mount --bind /dev/$n $T/dev/$n; done
# A private devpts instance: a bind-mounted /dev/ptmx cannot find its pts (script, sudo).
mkdir -p $T/dev/pts && mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts $T/dev/pts && ln -s pts/ptmx $T/dev/ptmx
for d in shm mqueue; do if [ -d /dev/$d ]; then mkdir -p $T/dev/$d; mount --bind /dev/$d $T/dev/$d; fi; done
ln -s /proc/self/fd $T/dev/fd; ln -s /proc/self/fd/0 $T/dev/stdin; ln -s /proc/self/fd/1 $T/dev/stdout; ln -s /proc/self/fd/2 $T/dev/stderr
mount --rbind $T/dev /dev
python3 -c '
import socket, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
f = open(sys.argv[1], "ab", 0)
print("ready", flush=True)
while True:
    f.write(s.recv(65536) + b"\n")
' $T/syslog.txt > $T/syslog.ready 2>/dev/null </dev/null &
echo $! >> $T/pids
disown $!
for i in $(seq 100); do [ -s $T/syslog.ready ] && break; sleep 0.02; done
# On exit, a marker through /dev/log: once it is in the file, every line logged before it
# is too (datagrams are read in order), so the listener can be killed without losing any.
__sync=harness-sync-$$-$RANDOM
trap '__rc=$?; logger -u /dev/log -t harness-sync "$__sync" 2>/dev/null; for i in $(seq 250); do grep -qF "$__sync" $T/syslog.txt 2>/dev/null && break; sleep 0.02; done; exit $__rc' EXIT
"#;
        }
        s += "set +e\n";
        s
    }

    /// Run a bash script inside a fresh private mount namespace (bounded by `timeout`).
    /// Background helpers it starts are killed by PID afterwards (listed in $T/pids).
    pub fn run(&self, script: &str, timeout: Duration) -> Outcome {
        let full = format!("{}\n{}", self.prelude(), script);
        let out = run_with_timeout(
            Command::new("unshare").args([
                "--mount",
                "--propagation",
                "private",
                "--",
                "bash",
                "-c",
                &full,
            ]),
            None,
            timeout,
        );
        self.kill_helpers();
        out
    }

    fn kill_helpers(&self) {
        if let Ok(pids) = std::fs::read_to_string(self.path("pids")) {
            for pid in pids.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                // SAFETY: kill(2) on a PID our own script recorded.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            let _ = std::fs::remove_file(self.path("pids"));
        }
    }

    /// pamtester SERVICE USER OPS..., answering prompts (one per line) from `answers`.
    pub fn pamtester(&self, service: &str, user: &str, ops: &[&str], answers: &[&str]) -> Outcome {
        let input = self.write("pamtester.in", &(answers.join("\n") + "\n"), 0o600);
        let ops: Vec<String> = ops.iter().map(|o| format!("'{o}'")).collect();
        let script = format!(
            "timeout 60 pamtester -v {service} {user} {} < {}",
            ops.join(" "),
            input.display()
        );
        self.run(&script, Duration::from_secs(90))
    }

    /// Start a real sshd on 127.0.0.1 inside the namespace. `config` is added to the
    /// base config (UsePAM, keyboard-interactive, our host key, pid file, port).
    pub fn start_sshd(&self, config: &str) -> Sshd {
        let port = free_port();
        let t = self.dir.path().display().to_string();
        if !self.path("ssh_host_ed25519_key").exists() {
            let st = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(self.path("ssh_host_ed25519_key"))
                .status()
                .unwrap();
            assert!(st.success());
        }
        let cfg = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {t}/ssh_host_ed25519_key\nPidFile {t}/sshd.pid\n\
             UsePAM yes\nKbdInteractiveAuthentication yes\nPasswordAuthentication no\nStrictModes no\n\
             PermitRootLogin yes\nLogLevel VERBOSE\nMaxAuthTries 3\nLoginGraceTime 60\n\
             AuthorizedKeysFile {t}/authorized_keys/%u\n{config}\n"
        );
        // Match blocks must come last; keep whatever the caller gave at the end.
        self.write("sshd_config", &cfg, 0o644);
        let _ = std::fs::remove_file(self.path("sshd.pid"));
        let script = format!(
            "mkdir -p /run/sshd\n/usr/sbin/sshd -f {t}/sshd_config -E {t}/sshd.log\necho sshd-started"
        );
        let full = format!("{}\n{}", self.prelude(), script);
        let out = run_with_timeout(
            Command::new("unshare").args([
                "--mount",
                "--propagation",
                "private",
                "--",
                "bash",
                "-c",
                &full,
            ]),
            None,
            Duration::from_secs(30),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        let pid = loop {
            if let Some(pid) = std::fs::read_to_string(self.path("sshd.pid"))
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
            {
                break pid;
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not start: {out}\n{}",
                std::fs::read_to_string(self.path("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        // wait until it listens
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd not listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        let helpers = std::fs::read_to_string(self.path("pids")).unwrap_or_default();
        let _ = std::fs::remove_file(self.path("pids"));
        Sshd {
            pid,
            helpers: helpers
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect(),
            port,
            dir: self.dir.path().to_path_buf(),
        }
    }
}

/// A port nobody listens on right now (127.0.0.1).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A yescrypt hash as Debian's passwd makes them (libcrypt via Python).
pub fn yescrypt(password: &str) -> String {
    let out = Command::new("python3")
        .args(["-W", "ignore", "-c", "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_SHA512).replace('$6$','$y$j9T$',1)[:29]))", password])
        .output()
        .unwrap();
    let h = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        h.starts_with("$y$"),
        "yescrypt hash: {h:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    h
}

/// A running test sshd; killed by PID on drop.
pub struct Sshd {
    /// sshd's PID (from its PidFile).
    pub pid: i32,
    helpers: Vec<i32>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
}

/// What an SSH login attempt showed.
pub struct SshLogin {
    /// The client's result (255 = authentication failed).
    pub out: Outcome,
    /// The prompts the client was shown, in order.
    pub prompts: Vec<String>,
}

impl SshLogin {
    /// The remote command ran.
    pub fn ok(&self) -> bool {
        self.out.ok() && self.out.stdout.contains("LOGIN-OK")
    }
}

impl fmt::Display for SshLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "prompts {:?}\n{}", self.prompts, self.out)
    }
}

impl Sshd {
    /// sshd's log (-E).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }

    /// Log in with the real OpenSSH client over keyboard-interactive. `answers` maps a
    /// prompt prefix (e.g. "Password:") to the answers given, in order, each time it
    /// appears (SSH_ASKPASS_REQUIRE=force). Runs `echo LOGIN-OK $(id -un)` remotely.
    pub fn login(&self, user: &str, answers: &[(&str, &str)], extra_args: &[&str]) -> SshLogin {
        self.login_cmd(user, answers, extra_args, "echo LOGIN-OK $(id -un)")
    }

    /// [`Sshd::login`] running `command` remotely.
    pub fn login_cmd(
        &self,
        user: &str,
        answers: &[(&str, &str)],
        extra_args: &[&str],
        command: &str,
    ) -> SshLogin {
        let n = std::fs::read_dir(&self.dir).map(|d| d.count()).unwrap_or(0);
        let ask_dir = self.dir.join(format!("askpass.{n}.{}", std::process::id()));
        std::fs::create_dir_all(&ask_dir).unwrap();
        let mut script = String::from(
            "#!/bin/bash\nD=\"$(dirname \"$0\")\"\necho \"$1\" >> \"$D/prompts\"\ncase \"$1\" in\n",
        );
        let mut seen: Vec<&str> = Vec::new();
        for (prefix, _) in answers {
            if seen.contains(prefix) {
                continue;
            }
            seen.push(prefix);
            let vals: Vec<&str> = answers
                .iter()
                .filter(|(p, _)| p == prefix)
                .map(|(_, a)| *a)
                .collect();
            let key = seen.len();
            std::fs::write(ask_dir.join(format!("a{key}")), vals.join("\n") + "\n").unwrap();
            script += &format!(
                "  *'{}'*) c=$(cat \"$D/c{key}\" 2>/dev/null || echo 0); c=$((c+1)); echo $c > \"$D/c{key}\"; sed -n \"${{c}}p\" \"$D/a{key}\"; exit 0;;\n",
                prefix.trim_end()
            );
        }
        script += "  *yes/no*) echo yes; exit 0;;\n  *) exit 1;;\nesac\n";
        let ask = ask_dir.join("askpass");
        std::fs::write(&ask, script).unwrap();
        std::fs::set_permissions(&ask, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut cmd = Command::new("ssh");
        cmd.env("SSH_ASKPASS", &ask)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .args(["-p", &self.port.to_string()])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
            ])
            .args([
                "-o",
                "NumberOfPasswordPrompts=1",
                "-o",
                "ConnectTimeout=10",
                "-o",
                "BatchMode=no",
            ])
            .args(extra_args);
        if !extra_args.contains(&"-i") {
            cmd.args([
                "-o",
                "PreferredAuthentications=keyboard-interactive",
                "-o",
                "PubkeyAuthentication=no",
            ]);
        }
        cmd.args(["-l", user, "127.0.0.1", command]);
        let out = run_with_timeout(&mut cmd, None, Duration::from_secs(60));
        let prompts = std::fs::read_to_string(ask_dir.join("prompts"))
            .unwrap_or_default()
            .lines()
            // OpenSSH 9 prefixes keyboard-interactive prompts with "(user@host) ".
            .map(|l| match (l.starts_with('('), l.find(") ")) {
                (true, Some(i)) => l[i + 2..].to_string(),
                _ => l.to_string(),
            })
            .collect();
        SshLogin { out, prompts }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the PIDs of the sshd and helpers this harness started.
        unsafe {
            libc::kill(self.pid, libc::SIGTERM);
            for p in &self.helpers {
                libc::kill(*p, libc::SIGTERM);
            }
        }
    }
}
