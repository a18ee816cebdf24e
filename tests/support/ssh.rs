//! A real sshd inside a [`Sandbox`]'s namespace (listening on 127.0.0.1) and the real
//! OpenSSH client logging in over keyboard-interactive, prompts answered by an
//! `SSH_ASKPASS` script (no terminal needed).

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::sandbox::{Sandbox, free_port};
use super::{Outcome, run_with_timeout};

/// A new ed25519 key pair DIR/NAME (no passphrase, comment NAME); returns the private
/// key's path and the public key line (no trailing newline).
pub fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .status()
        .expect("ssh-keygen (Debian package openssh-client)");
    assert!(st.success(), "ssh-keygen {}", path.display());
    let public = std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap();
    (path, public.trim().to_string())
}

impl Sandbox {
    /// Start a real sshd on 127.0.0.1 inside the namespace. `config` is added to the
    /// base config (UsePAM, keyboard-interactive, our host key, pid file, port).
    pub fn start_sshd(&self, config: &str) -> Sshd {
        let port = free_port();
        let t = self.dir.path().display().to_string();
        if !self.path("ssh_host_ed25519_key").exists() {
            keygen(self.root(), "ssh_host_ed25519_key");
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
        // The client runs outside: sshd keeps the machine's loopback.
        let out = self.unshare(&script, false, Duration::from_secs(30));
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
        Sshd {
            pid,
            helpers: self.take_pids(),
            port,
            dir: self.dir.path().to_path_buf(),
        }
    }
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
        super::terminate(&[self.pid]);
        super::terminate(&self.helpers);
    }
}
