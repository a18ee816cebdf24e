//! Role sessions and sudo in fleet mode with the real programs: the server's store
//! behind one `iamd`, a host `web-a` whose `iam-agent` keeps the replica at the default
//! path (/var/lib/pam-iam/replica.db in the namespace, where no local store exists), the
//! real setuid `iam-sts` reading `/etc/pam-iam/pam_iam.conf` (`mode = agent`, in an
//! overlay /etc), and the real `sudo` with `pam_iam.so sudo`, run by an unprivileged test
//! user on a real terminal (`script`) in private mount namespaces.
//!
//! Proves: assume-role online (issued by iamd, bound to this terminal and host) then
//! sudo; a code-protected role through the agent; a revocation at the server refused on
//! the host after the sync; `iam-sts revoke-session` on the host revoking the caller's
//! own session at iamd (sudo refuses it at once) but not another user's; offline, a new
//! session refused in one line while an existing one works until the agent's offline
//! cap, then is refused.
//!
//! Runs as root; skipped with a message otherwise (a failure when CI=true).

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::agent;
use support::sandbox::free_port;
use support::sts::{ALICE, BOB, SUDO, World, db_path};
use support::{Outcome, Proc, wait_until};

/// The role-session world of `support::sts` with its store moved to the server.
struct Fleet {
    w: World,
    port: u16,
    iamd: Option<Proc>,
    agent: std::sync::Mutex<Proc>,
}

impl Fleet {
    /// `cap`: the agent's `offline_session_cap_seconds`.
    fn new(cap: u64) -> Fleet {
        let w = World::new();
        // The store (and its secrets key) move to the server: on the host nothing but the
        // replica exists at /var/lib/pam-iam.
        let server = w.sb.path("server");
        std::fs::create_dir_all(&server).unwrap();
        std::fs::set_permissions(&server, std::fs::Permissions::from_mode(0o700)).unwrap();
        let local = db_path(&w.sb);
        let dir = local.parent().unwrap().to_path_buf();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            std::fs::rename(&p, server.join(p.file_name().unwrap())).unwrap();
        }
        let port = free_port();
        let mut f = Fleet {
            port,
            iamd: None,
            agent: std::sync::Mutex::new(Proc(Command::new("true").spawn().unwrap())),
            w,
        };
        f.start_iamd();
        let creds = f.w.sb.path("host-credentials.json");
        let o = f.iam(&[
            "create-host-credentials",
            "--host-name",
            "web-a",
            "--credentials-file",
            creds.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let replica = dir.join("replica.db");
        let socket = f.w.sb.path("run/agent.sock");
        let cfg = f.w.sb.write(
            "agent.toml",
            &format!(
                "servers = [\"http://127.0.0.1:{port}\"]\ncredentials = {creds:?}\nreplica = {replica:?}\nsocket = {socket:?}\nwait_seconds = 5\nretry_seconds = 1\noffline_session_cap_seconds = {cap}\n"
            ),
            0o644,
        );
        // /etc/pam-iam/pam_iam.conf in the namespace, for iam-sts and pam_iam.so.
        f.w.sb.etc_overlay();
        std::fs::create_dir_all(f.w.sb.path("etc-upper/pam-iam")).unwrap();
        f.w.sb.write(
            "etc-upper/pam-iam/pam_iam.conf",
            &format!(
                "mode = agent\nsocket = {}\nreplica = /var/lib/pam-iam/replica.db\ntimeout_seconds = 20\n",
                socket.display()
            ),
            0o644,
        );
        f.agent =
            std::sync::Mutex::new(agent::spawn_agent(&cfg, &f.w.sb.path("agent.log"), &socket));
        // Flags the terminal's script and the test hand each other.
        let flags = f.w.sb.path("flags");
        std::fs::create_dir_all(&flags).unwrap();
        std::fs::set_permissions(&flags, std::fs::Permissions::from_mode(0o1777)).unwrap();
        f
    }

    /// Restarts the agent (the old one killed first), its log appended to.
    fn restart_agent(&self) {
        let mut a = self.agent.lock().unwrap();
        *a = Proc(Command::new("true").spawn().unwrap());
        *a = agent::respawn_agent(&self.w.sb.path("agent.toml"), &self.w.sb.path("agent.log"));
    }

    fn server_db(&self) -> PathBuf {
        self.w.sb.path("server/iam.db")
    }

    fn replica(&self) -> PathBuf {
        self.w.sb.path("varlib/pam-iam/replica.db")
    }

    fn start_iamd(&mut self) {
        let log = self.w.sb.path("iamd.log");
        self.iamd = Some(agent::spawn_iamd(&self.server_db(), self.port, &log));
    }

    fn iam(&self, args: &[&str]) -> std::process::Output {
        Command::new(support::bin("iam"))
            .args(args)
            .env("PAM_IAM_DB", self.server_db())
            .env("PAM_IAM_USERDB", "off")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// What a failed assertion shows: the terminal, syslog and the agent's log.
    fn diag(&self, out: &Outcome) -> String {
        format!(
            "{out}\nsyslog:\n{}\nagent:\n{}",
            self.w.sb.syslog(),
            self.agent_log()
        )
    }

    fn agent_log(&self) -> String {
        std::fs::read_to_string(self.w.sb.path("agent.log")).unwrap_or_default()
    }

    /// A shell line that waits until the test raises flag `name`.
    fn await_flag(&self, name: &str) -> String {
        format!(
            "while [ ! -e {} ]; do sleep 0.1; done",
            self.w.sb.path(&format!("flags/{name}")).display()
        )
    }

    /// A shell line that raises flag `name` for the test.
    fn raise(&self, name: &str) -> String {
        format!(
            "touch {}",
            self.w.sb.path(&format!("flags/{name}")).display()
        )
    }

    /// Waits for the terminal to raise `name`.
    fn wait_flag(&self, name: &str) {
        let p = self.w.sb.path(&format!("flags/{name}"));
        wait_until(Duration::from_secs(90), name, || p.exists());
    }

    fn set_flag(&self, name: &str) {
        std::fs::write(self.w.sb.path(&format!("flags/{name}")), "").unwrap();
    }

    /// Runs `script` as alice on one terminal while `steer` drives the test's side.
    fn terminal(&self, script: &str, steer: impl FnOnce() + Send) -> Outcome {
        std::thread::scope(|s| {
            let t = s.spawn(|| self.w.run(&World::term(ALICE, script)));
            steer();
            t.join().unwrap()
        })
    }
}

/// The `n`-th sudo of a terminal's script (from 1) exited 0.
fn sudo_ran(out: &Outcome, n: usize) -> bool {
    out.stdout
        .split("SUDO=")
        .nth(n)
        .is_some_and(|s| s.starts_with('0'))
}

fn count(replica: &Path, sql: &str) -> i64 {
    let c =
        rusqlite::Connection::open_with_flags(replica, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap_or(-1)
}

#[test]
fn assume_online_then_sudo_and_a_revoked_session_is_refused_after_the_sync() {
    require_root!();
    let f = Fleet::new(3600);
    let sts = f.w.sts();
    let mfa = format!(
        "{sts} assume-role --role-arn {} --role-session-name s2 --serial-number {} --token-code $(oathtool --totp -b {}); echo MFA=$?",
        f.w.role("mfa-admin"),
        f.w.serial(),
        f.w.seed_b32
    );
    let script = format!(
        "{}; {SUDO}; {mfa}; {sts} list-sessions; {}; {}; {SUDO}",
        f.w.assume("admin", ""),
        f.raise("assumed"),
        f.await_flag("revoked"),
    );
    let out = f.terminal(&script, || {
        f.wait_flag("assumed");
        // Every session of alice revoked at the server, by its id.
        let o = f.iam(&["list-role-sessions", "--user-name", "alice"]);
        let listed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let ids: Vec<String> = listed["RoleSessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["AccessKeyId"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids.len(), 2, "{listed}");
        for id in &ids {
            let o = f.iam(&["revoke-role-session", "--access-key-id", id]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        let t0 = Instant::now();
        while count(
            &f.replica(),
            "SELECT count(*) FROM role_sessions WHERE revoked IS NULL",
        ) != 0
        {
            if t0.elapsed() > Duration::from_secs(20) {
                let o = f.iam(&["list-role-sessions", "--all"]);
                f.set_flag("revoked");
                panic!(
                    "the revocations did not reach the replica: server {}\nreplica {} sessions, {} live\nagent: {}",
                    String::from_utf8_lossy(&o.stdout),
                    count(&f.replica(), "SELECT count(*) FROM role_sessions"),
                    count(&f.replica(), "SELECT count(*) FROM role_sessions WHERE revoked IS NULL"),
                    f.agent_log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        f.set_flag("revoked");
    });
    let diag = || f.diag(&out);
    assert!(out.stdout.contains("ASSUME=0"), "{}", diag());
    assert!(out.stdout.contains("\"AccessKeyId\": \"ASIA"), "{}", diag());
    assert!(out.stdout.contains("assumed-role/admin/s1"), "{}", diag());
    assert!(out.stdout.contains("MFA=0"), "{}", diag());
    let sudos: Vec<&str> = out.stdout.matches("SUDO=").collect();
    assert_eq!(sudos.len(), 2, "{}", diag());
    assert!(
        sudo_ran(&out, 1),
        "sudo right after assume-role: {}",
        diag()
    );
    assert!(!sudo_ran(&out, 2), "sudo after the revocation: {}", diag());
    assert!(
        out.stdout.contains("revoked"),
        "the user is told why: {}",
        diag()
    );

    // iamd issued the sessions (audited on the server's store, attributed to the host),
    // and the replica holds them with their token hashes only.
    let store = pam_iam::store::open(&pam_iam::store::OpenOptions::new(
        f.server_db(),
        pam_iam::store::OpenMode::ReadOnly,
    ))
    .unwrap();
    let events = store.list_audit(&Default::default()).unwrap();
    let assumed: Vec<_> = events
        .iter()
        .filter(|e| e.action == "sts:AssumeRole" && e.decision == "allow")
        .collect();
    assert_eq!(assumed.len(), 2, "{events:?}");
    assert!(
        assumed.iter().all(|e| e
            .tty
            .as_deref()
            .is_some_and(|t| t.starts_with("host/web-a: tty"))),
        "{events:?}"
    );
    let sessions = store.list_role_sessions(Some("alice"), None).unwrap();
    assert!(
        sessions
            .iter()
            .all(|s| s.host.as_deref() == Some("web-a") && s.secret_sealed.is_none()),
        "{sessions:?}"
    );
    let secret = out
        .stdout
        .split("\"SecretAccessKey\": \"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let bytes = std::fs::read(f.replica()).unwrap();
    assert!(
        !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "the replica holds the session secret"
    );
    assert_eq!(count(&f.replica(), "SELECT count(*) FROM role_sessions"), 2);
    // sudo's decisions were made on the replica, online.
    let log = f.w.sb.syslog();
    assert!(log.contains("sudo auth: user \"alice\" allowed"), "{log}");
}

/// `iam-sts revoke-session` on a host in agent mode: revoked at iamd by the local rule
/// (the caller's own sessions only), audited there, and held by the replica before the
/// helper returns, so the next sudo is refused; another user's session id is refused and
/// that session keeps working.
#[test]
fn revoke_session_on_the_host_revokes_only_the_callers_own_session_at_iamd() {
    require_root!();
    let f = Fleet::new(3600);
    let sts = f.w.sts();
    let bob = f.w.run(&World::term(
        BOB,
        &format!("{}; {SUDO}", f.w.assume("admin", "")),
    ));
    assert!(bob.stdout.contains("ASSUME=0"), "{}", f.diag(&bob));
    let bob_id = bob
        .stdout
        .split("\"AccessKeyId\": \"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let own = format!(
        "ID=$({sts} list-sessions | sed -n 's/.*\"AccessKeyId\": \"\\(ASIA[^\"]*\\)\".*/\\1/p' | head -1); echo OWNID=$ID"
    );
    let script = format!(
        "{}; {SUDO}; {sts} revoke-session --access-key-id {bob_id}; echo OTHER=$?; {own}; {sts} revoke-session --access-key-id $ID; echo OWN=$?; {SUDO}",
        f.w.assume("admin", ""),
    );
    let out = f.w.run(&World::term(ALICE, &script));
    let diag = || f.diag(&out);
    assert!(out.stdout.contains("ASSUME=0"), "{}", diag());
    assert!(
        sudo_ran(&out, 1),
        "sudo right after assume-role: {}",
        diag()
    );
    assert!(out.stdout.contains("OTHER=1"), "bob's session: {}", diag());
    assert!(
        out.stdout
            .contains("NoSuchEntity: you have no role session"),
        "{}",
        diag()
    );
    let alice_id = out
        .stdout
        .split("OWNID=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_default()
        .to_string();
    assert!(alice_id.starts_with("ASIA"), "{}", diag());
    assert!(out.stdout.contains("OWN=0"), "{}", diag());
    assert!(out.stdout.contains("RevokedAccessKeyIds"), "{}", diag());
    assert!(
        !sudo_ran(&out, 2),
        "sudo right after revoke-session: {}",
        diag()
    );

    // At the server: alice's session revoked, bob's not; both requests audited there,
    // attributed to the host.
    let store = pam_iam::store::open(&pam_iam::store::OpenOptions::new(
        f.server_db(),
        pam_iam::store::OpenMode::ReadOnly,
    ))
    .unwrap();
    let sessions = store.list_role_sessions(None, None).unwrap();
    let revoked = |id: &str| {
        sessions
            .iter()
            .find(|s| s.session_id == id)
            .map(|s| s.revoked.is_some())
    };
    assert_eq!(revoked(&alice_id), Some(true), "{sessions:?}");
    assert_eq!(revoked(&bob_id), Some(false), "{sessions:?}");
    let events = store.list_audit(&Default::default()).unwrap();
    let revokes: Vec<_> = events
        .iter()
        .filter(|e| e.action == "sts:RevokeSession" && e.user == "alice")
        .collect();
    assert_eq!(revokes.len(), 2, "{events:?}");
    assert!(
        revokes
            .iter()
            .any(|e| e.decision == "allow" && e.reason.contains(&alice_id)),
        "{events:?}"
    );
    assert!(
        revokes
            .iter()
            .any(|e| e.decision == "deny" && e.reason.contains(&bob_id)),
        "{events:?}"
    );
    assert!(
        revokes.iter().all(|e| e
            .tty
            .as_deref()
            .is_some_and(|t| t.starts_with("host/web-a: tty"))),
        "{events:?}"
    );
    // On the host, the replica holds both: alice's revoked, bob's still live.
    let live = |id: &str| {
        count(
            &f.replica(),
            &format!(
                "SELECT count(*) FROM role_sessions WHERE session_id = '{id}' AND revoked IS NULL"
            ),
        )
    };
    assert_eq!(live(&alice_id), 0);
    assert_eq!(live(&bob_id), 1);
}

/// Offline: a new session refused in one line, an existing one honoured until the
/// agent's cap counted from its last contact with `iamd`, also after the agent is
/// restarted while the host is cut off (the last contact is kept in offline.db), and
/// refused past it.
#[test]
fn offline_a_new_session_is_refused_and_an_existing_one_works_until_the_cap() {
    require_root!();
    let cap = 20;
    let mut f = Fleet::new(cap);
    let sts = f.w.sts();
    let script = format!(
        "{}; {}; {}; {SUDO}; {sts} assume-role --role-arn {} --role-session-name s3; echo NEW=$?; {}; {}; {SUDO}",
        f.w.assume("admin", ""),
        f.raise("assumed"),
        f.await_flag("offline"),
        f.w.role("admin"),
        f.raise("tried"),
        f.await_flag("capped"),
    );
    let iamd = f.iamd.take();
    let out = std::thread::scope(|s| {
        let fr = &f;
        let t = s.spawn(move || fr.w.run(&World::term(ALICE, &script)));
        fr.wait_flag("assumed");
        drop(iamd);
        let cut = Instant::now();
        wait_until(Duration::from_secs(20), "the agent offline", || {
            fr.agent_log().contains("every server is down")
        });
        // The agent restarted while the host is cut off: the cap still counts from the
        // last contact before the restart.
        fr.restart_agent();
        wait_until(Duration::from_secs(20), "the agent restarted", || {
            fr.agent_log().matches("serving").count() == 2
        });
        fr.set_flag("offline");
        fr.wait_flag("tried");
        let rest = Duration::from_secs(cap + 2).saturating_sub(cut.elapsed());
        std::thread::sleep(rest);
        fr.set_flag("capped");
        t.join().unwrap()
    });
    let diag = || f.diag(&out);
    assert!(out.stdout.contains("ASSUME=0"), "{}", diag());
    assert!(
        sudo_ran(&out, 1),
        "an existing session works offline within the cap: {}",
        diag()
    );
    assert!(out.stdout.contains("NEW=1"), "{}", diag());
    let refusals: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("iam-sts:"))
        .collect();
    assert_eq!(refusals.len(), 1, "one line: {}", diag());
    assert!(
        refusals[0].contains(
            "ServiceUnavailable: iamd cannot be reached from this host and new role sessions are issued only online"
        ),
        "{}",
        diag()
    );
    assert!(!sudo_ran(&out, 2), "past the cap: {}", diag());
    assert!(
        out.stdout.contains("honoured offline only until"),
        "{}",
        diag()
    );
}
