//! The sandbox of the whole-program tests: a private world for one test. Each script
//! runs in a fresh private mount namespace (and, when asked, a private network
//! namespace with its own loopback) that sees the sandbox's /etc/pam.d, test users in
//! /etc/passwd, /etc/group and /etc/shadow, bind mounts, an optional overlay /etc with a
//! private /etc/userdb, and a private /dev whose /dev/log socket captures syslog.
//! Helpers a script starts in the background are recorded in $T/pids and killed by PID.
//! Nothing outside the namespaces changes.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::{Outcome, module_so, run_with_timeout};

/// How long [`Sandbox::run_ok`] lets a script run.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

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
    etc_overlay: bool,
    net: bool,
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
            etc_overlay: false,
            net: false,
        }
    }

    /// A new sandbox with [`Sandbox::etc_userdb`]: the world of the userdb tests.
    pub fn with_etc_userdb() -> Sandbox {
        let mut sb = Sandbox::new();
        sb.etc_userdb();
        sb
    }

    /// The sandbox directory ($T in scripts).
    pub fn root(&self) -> &std::path::Path {
        self.dir.path()
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
        let text =
            std::fs::read_to_string(super::workspace_dir().join("pam.d").join(name)).unwrap();
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
        self.write("nsswitch.conf", NSSWITCH_SYSTEMD, 0o644);
        std::fs::copy(
            super::bin("iam-authorized-keys"),
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

    /// An overlay /etc (upper layer in the sandbox) whose /etc/userdb is the sandbox's
    /// `userdb/` ([`Sandbox::userdb`]) and whose nsswitch.conf resolves `systemd`, so
    /// systemd userdb records resolve without touching the machine's /etc.
    pub fn etc_userdb(&mut self) -> &mut Self {
        for d in ["userdb", "etc-upper", "etc-work"] {
            std::fs::create_dir_all(self.path(d)).unwrap();
            std::fs::set_permissions(self.path(d), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        self.write("nsswitch.conf", NSSWITCH_SYSTEMD, 0o644);
        self.etc_overlay = true;
        self
    }

    /// An overlay /etc (upper layer `etc-upper/` in the sandbox, where a test writes the
    /// files /etc should gain, such as /etc/pam-iam/pam_iam.conf) that otherwise is the
    /// machine's: its /etc/userdb is empty and its nsswitch.conf a copy of the real one.
    pub fn etc_overlay(&mut self) -> &mut Self {
        for d in ["userdb", "etc-upper", "etc-work"] {
            std::fs::create_dir_all(self.path(d)).unwrap();
            std::fs::set_permissions(self.path(d), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let ns = std::fs::read_to_string("/etc/nsswitch.conf").unwrap_or_default();
        self.write("nsswitch.conf", &ns, 0o644);
        self.etc_overlay = true;
        self
    }

    /// The records directory of [`Sandbox::etc_userdb`] (seen as /etc/userdb).
    pub fn userdb(&self) -> PathBuf {
        self.path("userdb")
    }

    /// The SSH key export directory of the userdb tests.
    pub fn keys(&self) -> PathBuf {
        self.path("keys")
    }

    /// Run scripts in a private network namespace too, with loopback up (a test sshd
    /// started by the script may then listen on any port). [`Sandbox::start_sshd`] keeps
    /// the machine's loopback: its client runs outside the namespace.
    pub fn private_net(&mut self) -> &mut Self {
        self.net = true;
        self
    }

    /// The store at its default path, /var/lib/pam-iam/iam.db in the namespace
    /// (`varlib/` of the sandbox bound over /var/lib, the store directory 0700).
    /// Returns the store's path outside the namespace.
    pub fn default_store(&mut self) -> PathBuf {
        std::fs::create_dir_all(self.path("varlib/pam-iam")).unwrap();
        std::fs::set_permissions(self.path("varlib"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::fs::set_permissions(
            self.path("varlib/pam-iam"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        let varlib = self.path("varlib");
        self.bind(varlib, "/var/lib");
        self.path("varlib/pam-iam/iam.db")
    }

    /// A root-owned setuid (4755) copy of the workspace binary `name` at $T/bin/NAME,
    /// where test users can reach it. Returns its path.
    pub fn setuid_bin(&self, name: &str) -> PathBuf {
        let dst = self.path(&format!("bin/{name}"));
        std::fs::create_dir_all(self.path("bin")).unwrap();
        std::fs::copy(super::bin(name), &dst).unwrap();
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o4755)).unwrap();
        dst
    }

    /// /etc/sudoers letting root and `users` run anything, with sudo's own timestamp
    /// off (so its cache never hides a PAM decision), and a sudo PAM service of
    /// `pam_iam.so sudo` for auth and account.
    pub fn sudo(&mut self, users: &[&str]) -> &mut Self {
        let sudoers = format!(
            "Defaults timestamp_timeout=0\nDefaults lecture=never\n\
             root ALL=(ALL:ALL) ALL\n{} ALL=(ALL:ALL) ALL\n",
            users.join(",")
        );
        let file = self.write("etc/sudoers", &sudoers, 0o440);
        self.bind(file, "/etc/sudoers");
        self.service(
            "sudo",
            "auth required {module} sudo\naccount required {module} sudo\nsession required pam_permit.so\n",
        )
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
    pub(crate) fn prelude(&self) -> String {
        let t = self.dir.path().display().to_string();
        let mut s = String::from("set -e\n");
        s += &format!("T={t}\n");
        if self.etc_overlay {
            s += "mount -t overlay overlay -o lowerdir=/etc,upperdir=$T/etc-upper,workdir=$T/etc-work /etc\n\
                  mkdir -p /etc/userdb\n\
                  mount --bind $T/userdb /etc/userdb\n\
                  mount --bind $T/nsswitch.conf /etc/nsswitch.conf\n";
        }
        if self.net {
            s += "ip link set lo up\n";
        }
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
# A previous run's "ready" must not pass for this listener's (the redirect below may
# truncate the file only after the wait loop has looked at it).
rm -f $T/syslog.ready
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
# Up to 10 s: on a loaded machine a niced python can take seconds to start, and a line
# logged before it listens is lost.
for i in $(seq 500); do [ -s $T/syslog.ready ] && break; sleep 0.02; done
[ -s $T/syslog.ready ] || echo "harness: the /dev/log listener did not start within 10 s" >&2
# On exit, a marker through /dev/log: once it is in the file, every line logged before it
# is too (datagrams are read in order), so the listener can be killed without losing any.
__sync=harness-sync-$$-$RANDOM
trap '__rc=$?; logger -u /dev/log -t harness-sync "$__sync" 2>/dev/null; for i in $(seq 750); do grep -qF "$__sync" $T/syslog.txt 2>/dev/null && break; sleep 0.02; done; exit $__rc' EXIT
"#;
        }
        s += "set +e\n";
        s
    }

    /// Run a bash script inside fresh private namespaces (bounded by `timeout`).
    /// Background helpers it starts are killed by PID afterwards (listed in $T/pids).
    pub fn run(&self, script: &str, timeout: Duration) -> Outcome {
        let out = self.unshare(script, self.net, timeout);
        self.kill_helpers();
        out
    }

    /// [`Sandbox::run`] with the default timeout, which must succeed: returns stdout,
    /// and panics with the script and both streams otherwise.
    pub fn run_ok(&self, script: &str) -> String {
        let out = self.run(script, RUN_TIMEOUT);
        assert!(out.ok(), "script failed: {script}\n{out}");
        out.stdout
    }

    /// The prelude and `script` under `unshare --mount` (and `--net`).
    pub(crate) fn unshare(&self, script: &str, net: bool, timeout: Duration) -> Outcome {
        let full = format!("{}\n{}", self.prelude(), script);
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "--propagation", "private"]);
        if net {
            cmd.arg("--net");
        }
        cmd.args(["--", "bash", "-c", &full]);
        run_with_timeout(&mut cmd, None, timeout)
    }

    /// Kills (by PID) the helpers recorded in $T/pids, and forgets them.
    fn kill_helpers(&self) {
        super::terminate(&self.take_pids());
    }

    /// The PIDs recorded in $T/pids since the last call.
    pub(crate) fn take_pids(&self) -> Vec<i32> {
        let pids = std::fs::read_to_string(self.path("pids")).unwrap_or_default();
        let _ = std::fs::remove_file(self.path("pids"));
        pids.lines().filter_map(|l| l.trim().parse().ok()).collect()
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
}

/// An nsswitch.conf that resolves systemd userdb records after the files.
pub const NSSWITCH_SYSTEMD: &str = "passwd: files systemd\ngroup: files systemd\nshadow: files systemd\ngshadow: files systemd\nhosts: files\n";

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
