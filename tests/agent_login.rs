//! Fleet mode's online login with the real programs: one `iamd` on the server's store,
//! two hosts (`web-a`, `web-b`), each an `iam-agent` with its own host credentials,
//! replica and socket, and pamtester driving `pam_iam.so` in agent mode
//! (`/etc/pam-iam/pam_iam.conf`, here `conf=`). Proves: password + code online, a wrong
//! code, a code used on one host refused on the other, the audit rows written by
//! `iamd` and attributed to the host of the credential, a server error answer never
//! decided offline, a revoked host credential refused, `pam-iam:Offline` false online,
//! and the agent socket refusing a non-root caller.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::sandbox::{Sandbox, free_port};
use support::store::Iam;
use support::totp;
use support::{Proc, wait_until};

const PASSWORD: &str = "alice-Passw0rd";

struct World {
    sb: Sandbox,
    iam: Iam,
    seed: String,
    port: u16,
    iamd: Option<Proc>,
    agents: Vec<Proc>,
}

impl World {
    /// The server's store with alice (password + TOTP, allowed host:Login on web-*),
    /// one iamd, and the two hosts' agents with their replicas current.
    fn new() -> World {
        let mut sb = Sandbox::new();
        sb.user("alice", 2001);
        for host in ["web-a", "web-b"] {
            let conf = sb.path(&format!("{host}/pam_iam.conf"));
            sb.service(
                host,
                &format!(
                    "auth required {{module}} conf={c} fail_delay=0\naccount required {{module}} conf={c} host={host}\n",
                    c = conf.display()
                ),
            );
        }
        let iam = Iam::create(&sb.db());
        iam.user("alice", Some(PASSWORD));
        let (seed, _) = iam.mfa("alice");
        iam.web_group(&["alice"]);
        let port = free_port();
        let mut w = World {
            sb,
            iam,
            seed,
            port,
            iamd: None,
            agents: Vec::new(),
        };
        w.start_iamd();
        for host in ["web-a", "web-b"] {
            w.host(host);
        }
        w
    }

    fn iam_cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(support::bin("iam"))
            .args(args)
            .env("PAM_IAM_DB", self.sb.db())
            .env("PAM_IAM_USERDB", "off")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn start_iamd(&mut self) {
        let log = std::fs::File::create(self.sb.path("iamd.log")).unwrap();
        let p = Proc(
            Command::new(support::bin("iamd"))
                .args(["--db", &self.sb.db(), "--http", "--listen"])
                .arg(format!("127.0.0.1:{}", self.port))
                .env("PAM_IAM_USERDB", "off")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
        let port = self.port;
        wait_until(Duration::from_secs(30), "iamd healthy", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        self.iamd = Some(p);
    }

    /// Host credentials, agent.toml, pam_iam.conf and a running agent for `host`; waits
    /// for its replica.
    fn host(&mut self, host: &str) {
        let dir = self.sb.path(host);
        std::fs::create_dir_all(&dir).unwrap();
        let creds = dir.join("host-credentials.json");
        let o = self.iam_cli(&[
            "create-host-credentials",
            "--host-name",
            host,
            "--credentials-file",
            creds.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let replica = self.replica(host);
        let socket = dir.join("agent.sock");
        let cfg = self.sb.write(
            &format!("{host}/agent.toml"),
            &format!(
                "servers = [\"http://127.0.0.1:{}\"]\ncredentials = {creds:?}\nreplica = {replica:?}\nsocket = {socket:?}\nwait_seconds = 5\nretry_seconds = 1\n",
                self.port
            ),
            0o644,
        );
        self.sb.write(
            &format!("{host}/pam_iam.conf"),
            &format!(
                "# fleet mode\nmode = agent\nsocket = {}\nreplica = {}\ntimeout_seconds = 20\n",
                socket.display(),
                replica.display()
            ),
            0o644,
        );
        let log = std::fs::File::create(dir.join("agent.log")).unwrap();
        self.agents.push(Proc(
            Command::new(support::bin("iam-agent"))
                .arg("--config")
                .arg(&cfg)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        ));
        let log = dir.join("agent.log");
        wait_until(Duration::from_secs(30), "the replica", || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("replica at store version"))
                && socket.exists()
        });
    }

    fn replica(&self, host: &str) -> PathBuf {
        self.sb.path(&format!("store/{host}-replica.db"))
    }

    fn agent_log(&self, host: &str) -> String {
        std::fs::read_to_string(self.sb.path(&format!("{host}/agent.log"))).unwrap_or_default()
    }

    fn login(&self, host: &str, answers: &[&str]) -> support::Outcome {
        self.sb
            .pamtester(host, "alice", &["authenticate", "acct_mgmt"], answers)
    }

    /// The server's audit rows of alice: (action, decision, reason).
    fn audit(&self) -> Vec<(String, String, String)> {
        self.iam.audit("alice")
    }
}

#[test]
fn online_login_through_the_agent_wrong_code_and_a_code_replayed_on_another_host() {
    require_root!();
    let w = World::new();
    totp::wait_for_fresh_step(8);
    let code = totp::code(&w.seed, 0);

    let out = w.login("web-a", &[PASSWORD, &code]);
    assert!(
        out.ok(),
        "{out}\n{}\n{}",
        w.sb.syslog(),
        w.agent_log("web-a")
    );
    assert!(
        out.stderr.contains("Password: ") && out.stderr.contains("Verification code: "),
        "{out}"
    );
    let log = w.sb.syslog();
    assert!(
        log.contains("authenticate allow user=\"alice\" service=\"web-a\"")
            && log.contains("iamd: password + verification code"),
        "{log}"
    );
    // account decided on the replica, online.
    assert!(log.contains("host:Login allow user=\"alice\""), "{log}");

    // The same code on the other host: iamd's watermark is shared, so it is a replay.
    let out = w.login("web-b", &[PASSWORD, &code]);
    assert!(!out.ok(), "{out}");
    // A wrong code on the first.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let out = w.login("web-a", &[PASSWORD, wrong]);
    assert!(!out.ok(), "{out}");

    // iamd wrote the authenticate rows, attributed to the credential's host.
    let rows: Vec<(String, String, String)> = w
        .audit()
        .into_iter()
        .filter(|(a, _, _)| a == "authenticate")
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0].1, "allow", "{rows:?}");
    assert!(rows[0].2.starts_with("host/web-a: "), "{rows:?}");
    assert!(
        rows[1].1 == "deny" && rows[1].2 == "host/web-b: verification code already used (replay)",
        "{rows:?}"
    );
    assert!(
        rows[2].1 == "deny" && rows[2].2 == "host/web-a: wrong verification code",
        "{rows:?}"
    );
    // No secret or hash reached a replica (the login answer carries none).
    for host in ["web-a", "web-b"] {
        let bytes = std::fs::read(w.replica(host)).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("$argon2id$"),
            "{host}'s replica holds a hash"
        );
    }
}

#[test]
fn pam_iam_offline_is_false_online_and_gates_the_account_decision() {
    require_root!();
    let w = World::new();
    // Allow only when decided online: a policy on the key.
    let deny_offline = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"host:Login","Resource":"*","Condition":{"Bool":{"pam-iam:Offline":"false"}}}]}"#;
    w.iam.attach(
        pam_iam::store::PrincipalKind::User,
        "alice",
        "deny-online",
        deny_offline,
    );
    // Wait for the replica of web-a to carry it.
    let before = w
        .agent_log("web-a")
        .matches("replica at store version")
        .count();
    wait_until(Duration::from_secs(20), "the policy on web-a", || {
        w.agent_log("web-a")
            .matches("replica at store version")
            .count()
            > before
    });
    totp::wait_for_fresh_step(5);
    let out = w.login("web-a", &[PASSWORD, &totp::code(&w.seed, 0)]);
    assert!(!out.ok(), "{out}");
    let log = w.sb.syslog();
    assert!(
        log.contains("authenticate allow user=\"alice\"")
            && log.contains("host:Login deny user=\"alice\""),
        "the key is present and false online: {log}"
    );
}

#[test]
fn a_server_error_answer_is_final_and_only_no_connection_goes_offline() {
    require_root!();
    let mut w = World::new();
    // iamd gone; in its place a server that answers every request with HTTP 500.
    w.iamd = None;
    let script = w.sb.write(
        "fake-iamd.py",
        r#"import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def answer(self):
        n = int(self.headers.get('content-length') or 0)
        self.rfile.read(n)
        b = b'{"Error":{"Code":"ServiceFailure","Message":"the store is down"}}'
        self.send_response(500); self.send_header('content-length', str(len(b))); self.end_headers(); self.wfile.write(b)
    do_GET = answer
    do_POST = answer
    def log_message(self, *a): pass
http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
"#,
        0o644,
    );
    let fake = Proc(
        Command::new("/usr/bin/python3")
            .arg(&script)
            .arg(w.port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let port = w.port;
    wait_until(Duration::from_secs(20), "the fake server", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let out = w.login("web-a", &[PASSWORD, "123456"]);
    assert!(!out.ok(), "{out}");
    let log = w.sb.syslog();
    assert!(
        log.contains("authenticate error user=\"alice\"") && log.contains("HTTP 500"),
        "a server error is an error, final: {log}"
    );
    assert!(!log.contains("offline"), "never decided offline: {log}");

    // No server at all: a transport failure, decided by the offline rules.
    drop(fake);
    let out = w.login("web-a", &[PASSWORD, "123456"]);
    assert!(!out.ok(), "{out}");
    let log = w.sb.syslog();
    assert!(
        log.contains("authenticate deny user=\"alice\"") && log.contains("offline: "),
        "{log}"
    );
}

#[test]
fn a_revoked_host_credential_is_refused() {
    require_root!();
    let w = World::new();
    let o = w.iam_cli(&["delete-host-credentials", "--host-name", "web-a"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    totp::wait_for_fresh_step(5);
    let out = w.login("web-a", &[PASSWORD, &totp::code(&w.seed, 0)]);
    assert!(!out.ok(), "{out}");
    let log = w.sb.syslog();
    assert!(
        log.contains("authenticate error user=\"alice\"") && log.contains("InvalidClientTokenId"),
        "{log}"
    );
    // web-b, still trusted, logs alice in with the same (unspent) code.
    let out = w.login("web-b", &[PASSWORD, &totp::code(&w.seed, 0)]);
    assert!(out.ok(), "{out}\n{}", w.sb.syslog());
    // The refusal is in the server's audit trail under the key id.
    let f = pam_iam::store::AuditFilter::default();
    let rows = w.iam.store.list_audit(&f).unwrap();
    assert!(
        rows.iter()
            .any(|e| e.action == "host:VerifyLogin" || e.action == "host:Prompts"),
        "{rows:?}"
    );
}

#[test]
fn the_agent_socket_refuses_a_non_root_caller() {
    require_root!();
    let w = World::new();
    let socket = w.sb.path("web-a/agent.sock");
    // A Status request, framed: 4-byte length, JSON.
    let client = format!(
        r#"import socket, struct, json
s = socket.socket(socket.AF_UNIX); s.connect({socket:?})
b = json.dumps({{"op": "status"}}).encode(); s.sendall(struct.pack('>I', len(b)) + b)
n = struct.unpack('>I', s.recv(4))[0]; print(s.recv(n).decode())
"#,
        socket = socket.display().to_string()
    );
    let script = w.sb.write("client.py", &client, 0o644);
    let as_root = Command::new("/usr/bin/python3")
        .arg(&script)
        .output()
        .unwrap();
    let root_answer = String::from_utf8_lossy(&as_root.stdout);
    assert!(
        root_answer.contains("\"answer\":\"status\""),
        "{root_answer}"
    );
    let as_alice = Command::new("setpriv")
        .args([
            "--reuid=2001",
            "--regid=2001",
            "--clear-groups",
            "/usr/bin/python3",
        ])
        .arg(&script)
        .output()
        .unwrap();
    let answer = String::from_utf8_lossy(&as_alice.stdout);
    assert!(
        answer.contains("\"answer\":\"error\"") && answer.contains("root"),
        "{answer} {}",
        String::from_utf8_lossy(&as_alice.stderr)
    );
    assert!(
        w.agent_log("web-a")
            .contains("uid 2001 is neither root nor the iam-sts helper"),
        "{}",
        w.agent_log("web-a")
    );
}

/// Password expiry in fleet mode: the replica holds no login profile, so `account` used
/// to skip the age check; now `iamd`'s online login answer carries the expiry facts and
/// `account` applies the same rule as on a local store.
#[test]
fn an_expired_password_is_enforced_by_account_in_agent_mode() {
    require_root!();
    let w = World::new();
    let policy = |extra: &[&str]| {
        let mut args = vec!["update-account-password-policy", "--max-password-age", "1"];
        args.extend_from_slice(extra);
        let o = w.iam_cli(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    policy(&[]);
    // alice's password was set two days ago.
    let c = rusqlite::Connection::open(w.sb.db()).unwrap();
    c.execute(
        "UPDATE login_profiles SET changed = changed - 2 * 86400",
        [],
    )
    .unwrap();
    drop(c);
    totp::wait_for_fresh_step(8);
    let out = w.login("web-a", &[PASSWORD, &totp::code(&w.seed, 0)]);
    assert!(!out.ok(), "{out}");
    assert!(
        out.stderr
            .contains("You are required to change your password immediately"),
        "{out}"
    );
    let log = w.sb.syslog();
    assert!(
        log.contains("authenticate allow user=\"alice\"")
            && log.contains("change_required user=\"alice\"")
            && log.contains("password expired"),
        "{log}"
    );
    // HardExpiry: the account is expired, not to be changed by the user.
    policy(&["--hard-expiry"]);
    // The next step's code (the first one is spent; the window accepts one step ahead).
    let out = w.login("web-b", &[PASSWORD, &totp::code(&w.seed, 30)]);
    assert!(!out.ok(), "{out}");
    assert!(out.stderr.contains("Your password has expired"), "{out}");
}
