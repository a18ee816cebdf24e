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

use support::agent;
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
    max_age: i64,
}

impl World {
    /// The server's store with alice (password + TOTP, allowed host:Login on web-*),
    /// one iamd, and the two hosts' agents with their replicas current.
    fn new() -> World {
        World::with_offline_max_age(3 * 86_400)
    }

    /// [`World::new`] with the agents' `offline_max_age`.
    fn with_offline_max_age(max_age: i64) -> World {
        let mut sb = Sandbox::new();
        sb.user("alice", 2001);
        for host in ["web-a", "web-b"] {
            let conf = sb.path(&format!("{host}/pam_iam.conf"));
            sb.service(
                host,
                &format!(
                    "auth required {{module}} conf={c} fail_delay=0\naccount required {{module}} conf={c} host={host}\npassword required {{module}} conf={c}\n",
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
            max_age,
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
        let log = self.sb.path("iamd.log");
        self.iamd = Some(agent::spawn_iamd(self.sb.db().as_ref(), self.port, &log));
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
                "servers = [\"http://127.0.0.1:{}\"]\ncredentials = {creds:?}\nreplica = {replica:?}\nsocket = {socket:?}\noffline = {offline:?}\noffline_max_age = {}\nwait_seconds = 5\nretry_seconds = 1\n",
                self.port,
                self.max_age,
                offline = self.offline_db(host),
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
        self.agents
            .push(agent::spawn_agent(&cfg, &dir.join("agent.log"), &socket));
    }

    /// Waits until `host`'s replica carries every change committed so far.
    fn synced(&self, host: &str) {
        let log = self.sb.path(&format!("{host}/agent.log"));
        agent::wait_for_replica(
            self.sb.db().as_ref(),
            &log,
            &format!("the replica of {host}"),
        );
    }

    fn replica(&self, host: &str) -> PathBuf {
        self.sb.path(&format!("store/{host}-replica.db"))
    }

    fn offline_db(&self, host: &str) -> PathBuf {
        self.sb.path(&format!("store/{host}-offline.db"))
    }

    /// The journal of `host`'s offline decisions: (kind, step, reason).
    fn journal(&self, host: &str) -> Vec<(String, Option<i64>, String)> {
        let c = rusqlite::Connection::open(self.offline_db(host)).unwrap();
        let mut st = c
            .prepare("SELECT kind, step, reason FROM journal ORDER BY seq")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// Run SQL on `host`'s offline state, as an operator (or a clock) could change it.
    fn offline_sql(&self, host: &str, sql: &str) {
        let c = rusqlite::Connection::open(self.offline_db(host)).unwrap();
        c.execute_batch(sql).unwrap();
    }

    /// Cut every host off from the server (a transport failure, as a partition).
    fn partition(&mut self) {
        self.iamd = None;
    }

    /// The syslog written since `mark` (a length of [`Sandbox::syslog`]).
    fn syslog_since(&self, mark: usize) -> String {
        self.sb.syslog().get(mark..).unwrap_or_default().to_string()
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
    w.synced("web-a");
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

/// A user's online login leaves offline material on that host (no seed, no hash);
/// offline there, a fresh code is accepted once, a code at or below the last-synced
/// watermark or the local one is refused; a host where the user failed or never logged
/// in online holds nothing and denies, even given another host's material.
#[test]
fn offline_a_fresh_code_once_only_on_a_host_the_user_logged_into_online() {
    require_root!();
    let mut w = World::new();
    totp::wait_for_fresh_step(22);
    let t = support::now();
    let seed = w.seed.clone();
    let code = |k: i64| totp::code_at(&seed, t + 30 * k);
    // web-b: a failed online login (wrong code) gets no material.
    let wrong = if code(0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let out = w.login("web-b", &[PASSWORD, wrong]);
    assert!(!out.ok(), "{out}");
    // web-a: two successes online, the previous step's code then the current one (so
    // the material's tags cover a step the server spent after the issue).
    for k in [-1, 0] {
        let out = w.login("web-a", &[PASSWORD, &code(k)]);
        assert!(
            out.ok(),
            "{out}\n{}\n{}",
            w.sb.syslog(),
            w.agent_log("web-a")
        );
    }
    let bytes = std::fs::read(w.offline_db("web-a")).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("\"tags\""), "material kept on web-a");
    assert!(
        !text.contains("$argon2id$") && !text.contains(&w.seed),
        "a secret on web-a"
    );
    let b = std::fs::read(w.offline_db("web-b")).unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&b).contains("\"tags\""),
        "material on web-b after a failure"
    );

    w.partition();
    // The step the server spent last (above the material's own watermark): refused by
    // the last-synced watermark.
    let mark = w.sb.syslog().len();
    let out = w.login("web-a", &[PASSWORD, &code(0)]);
    assert!(!out.ok(), "{out}");
    assert!(
        w.syslog_since(mark)
            .contains("offline: wrong or already used verification code"),
        "{}",
        w.syslog_since(mark)
    );
    // The next step's code: accepted offline, and account runs on the replica.
    let mark = w.sb.syslog().len();
    let out = w.login("web-a", &[PASSWORD, &code(1)]);
    assert!(
        out.ok(),
        "{out}\n{}\n{}",
        w.sb.syslog(),
        w.agent_log("web-a")
    );
    let log = w.syslog_since(mark);
    assert!(
        log.contains("authenticate allow user=\"alice\"")
            && log.contains("offline: password + verification code")
            && log.contains("host:Login allow user=\"alice\""),
        "{log}"
    );
    // Replayed on web-a: refused by the local watermark.
    let out = w.login("web-a", &[PASSWORD, &code(1)]);
    assert!(!out.ok(), "{out}");
    // web-b never logged alice in: no material, denied, with a fresh code too.
    let mark = w.sb.syslog().len();
    let out = w.login("web-b", &[PASSWORD, &code(1)]);
    assert!(!out.ok(), "{out}");
    assert!(
        w.syslog_since(mark).contains("holds no offline material"),
        "{}",
        w.syslog_since(mark)
    );
    // web-a's material copied into web-b's state: bound to web-a, refused.
    let a = w.offline_db("web-a");
    w.offline_sql(
        "web-b",
        &format!(
            "ATTACH {:?} AS a; INSERT INTO material SELECT * FROM a.material;",
            a.display().to_string()
        ),
    );
    let mark = w.sb.syslog().len();
    let out = w.login("web-b", &[PASSWORD, &code(1)]);
    assert!(!out.ok(), "{out}");
    assert!(
        w.syslog_since(mark).contains("not this host"),
        "{}",
        w.syslog_since(mark)
    );
    // web-a's journal: every offline decision in order, the spent step with the login.
    let j = w.journal("web-a");
    let kinds: Vec<&str> = j.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(kinds, ["failure", "login", "failure"], "{j:?}");
    assert_eq!(j[1].1, Some(t.div_euclid(30) + 1), "{j:?}");
    let kinds: Vec<String> = w.journal("web-b").into_iter().map(|(k, _, _)| k).collect();
    assert_eq!(kinds, ["deny", "deny"]);
}

/// Offline failures count against the host's lower limit (3 in a row lock the user on
/// this host), each answered after the agent's delay; the right answers are then refused.
#[test]
fn offline_failures_lock_at_the_lower_limit_each_after_a_delay() {
    require_root!();
    let mut w = World::new();
    totp::wait_for_fresh_step(8);
    let t = support::now();
    let out = w.login("web-a", &[PASSWORD, &totp::code_at(&w.seed, t)]);
    assert!(out.ok(), "{out}\n{}", w.agent_log("web-a"));
    w.partition();
    let next = totp::code_at(&w.seed, t + 30);
    for _ in 0..3 {
        let out = w.login("web-a", &["not-the-password", &next]);
        assert!(!out.ok(), "{out}");
        assert!(
            out.elapsed >= Duration::from_secs(2),
            "an offline failure answered without the delay: {:?}",
            out.elapsed
        );
    }
    let mark = w.sb.syslog().len();
    let out = w.login("web-a", &[PASSWORD, &next]);
    assert!(!out.ok(), "{out}");
    assert!(
        w.syslog_since(mark).contains("locked offline until"),
        "{}",
        w.syslog_since(mark)
    );
    let j = w.journal("web-a");
    assert_eq!(j.len(), 4, "{j:?}");
    assert!(j.iter().all(|(k, _, _)| k == "failure"), "{j:?}");
    assert!(j[2].2.contains("locked offline"), "{j:?}");
}

/// Offline is refused when the local clock is earlier than the last sync, when the last
/// sync is older than `offline_max_age`, and when the material expired; the same login
/// passes once each is put right (so each refusal is its own rule's).
#[test]
fn offline_refused_for_a_clock_before_the_last_sync_a_stale_sync_or_stale_material() {
    require_root!();
    let mut w = World::new();
    totp::wait_for_fresh_step(12);
    let t = support::now();
    let out = w.login("web-a", &[PASSWORD, &totp::code_at(&w.seed, t)]);
    assert!(out.ok(), "{out}\n{}", w.agent_log("web-a"));
    w.partition();
    let next = totp::code_at(&w.seed, t + 30);
    let now = support::now();
    let day = 86_400;
    for (sql, why) in [
        (
            format!(
                "UPDATE meta SET value = {} WHERE key = 'last_sync'",
                now + 3600
            ),
            "is earlier than the last sync",
        ),
        (
            format!(
                "UPDATE meta SET value = {} WHERE key = 'last_sync'",
                now - 3 * day - 60
            ),
            "the replica is older than offline_max_age",
        ),
        (
            format!(
                "UPDATE meta SET value = {now} WHERE key = 'last_sync';
                 UPDATE material SET body = json_set(body, '$.expires_at', {})",
                now - 1
            ),
            "the offline material of the user expired",
        ),
    ] {
        w.offline_sql("web-a", &sql);
        let mark = w.sb.syslog().len();
        let out = w.login("web-a", &[PASSWORD, &next]);
        assert!(!out.ok(), "{why}: {out}");
        assert!(
            w.syslog_since(mark).contains(why),
            "{why}: {}",
            w.syslog_since(mark)
        );
    }
    w.offline_sql(
        "web-a",
        &format!(
            "UPDATE material SET body = json_set(body, '$.expires_at', {})",
            now + day
        ),
    );
    let out = w.login("web-a", &[PASSWORD, &next]);
    assert!(out.ok(), "{out}\n{}", w.sb.syslog());
    let kinds: Vec<String> = w.journal("web-a").into_iter().map(|(k, _, _)| k).collect();
    assert_eq!(kinds, ["deny", "deny", "deny", "login"]);
}

/// `offline_max_age = 0`: the host asks for no material and never decides offline.
#[test]
fn offline_max_age_zero_never_decides_offline() {
    require_root!();
    let mut w = World::with_offline_max_age(0);
    totp::wait_for_fresh_step(8);
    let t = support::now();
    let out = w.login("web-a", &[PASSWORD, &totp::code_at(&w.seed, t)]);
    assert!(out.ok(), "{out}");
    let c = rusqlite::Connection::open(w.offline_db("web-a")).unwrap();
    let n: i64 = c
        .query_row("SELECT count(*) FROM material", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0, "material issued with offline_max_age = 0");
    w.partition();
    let mark = w.sb.syslog().len();
    let out = w.login("web-a", &[PASSWORD, &totp::code_at(&w.seed, t + 30)]);
    assert!(!out.ok(), "{out}");
    assert!(
        w.syslog_since(mark)
            .contains("offline logins are off on this host (offline_max_age = 0)"),
        "{}",
        w.syslog_since(mark)
    );
}

/// A login decided offline reaches `account` with `pam-iam:Offline` = true (a policy
/// denying offline logins refuses it after `auth` accepted it), and a password change
/// offline is refused.
#[test]
fn pam_iam_offline_is_true_offline_and_a_password_change_is_refused() {
    require_root!();
    let mut w = World::new();
    let deny_offline = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"host:Login","Resource":"*","Condition":{"Bool":{"pam-iam:Offline":"true"}}}]}"#;
    w.iam.attach(
        pam_iam::store::PrincipalKind::User,
        "alice",
        "deny-offline",
        deny_offline,
    );
    w.synced("web-a");
    totp::wait_for_fresh_step(10);
    let t = support::now();
    let out = w.login("web-a", &[PASSWORD, &totp::code_at(&w.seed, t)]);
    assert!(out.ok(), "online, pam-iam:Offline is false: {out}");
    w.partition();
    let mark = w.sb.syslog().len();
    let out = w.login("web-a", &[PASSWORD, &totp::code_at(&w.seed, t + 30)]);
    assert!(!out.ok(), "{out}");
    let log = w.syslog_since(mark);
    assert!(
        log.contains("authenticate allow user=\"alice\"")
            && log.contains("offline: password + verification code")
            && log.contains("host:Login deny user=\"alice\""),
        "{log}"
    );
    let out = w.sb.pamtester(
        "web-a",
        "alice",
        &["chauthtok"],
        &[PASSWORD, "N3w-Passw0rd!", "N3w-Passw0rd!"],
    );
    assert!(!out.ok(), "{out}");
    assert!(
        out.stderr.contains("changed with iamd"),
        "{out}\n{}",
        w.sb.syslog()
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

/// Offline, `account` enforces the password's age too: an offline login carries the
/// expiry facts of the user's last online login on this host, so a password that
/// expires while the host is cut off must be changed (at iamd) before the login passes.
#[test]
fn a_password_expiring_while_the_host_is_cut_off_is_enforced_offline() {
    require_root!();
    let mut w = World::new();
    let o = w.iam_cli(&["update-account-password-policy", "--max-password-age", "1"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    totp::wait_for_fresh_step(8);
    let t = support::now();
    // alice's password expires 15 s from now (a day's age less 15 s).
    let c = rusqlite::Connection::open(w.sb.db()).unwrap();
    c.execute("UPDATE login_profiles SET changed = ?1", [t - 86_400 + 15])
        .unwrap();
    drop(c);
    let out = w.login("web-a", &[PASSWORD, &totp::code_at(&w.seed, t)]);
    assert!(out.ok(), "still valid online: {out}\n{}", w.sb.syslog());
    w.partition();
    // Past the expiry, at the next step.
    let next = (t.div_euclid(30) + 1) * 30;
    while support::now() < next.max(t + 16) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let mark = w.sb.syslog().len();
    let out = w.login(
        "web-a",
        &[PASSWORD, &totp::code_at(&w.seed, support::now())],
    );
    assert!(!out.ok(), "{out}");
    assert!(
        out.stderr
            .contains("You are required to change your password immediately"),
        "{out}"
    );
    let log = w.syslog_since(mark);
    assert!(
        log.contains("authenticate allow user=\"alice\"")
            && log.contains("offline: password + verification code")
            && log.contains("change_required user=\"alice\"")
            && log.contains("password expired"),
        "{log}"
    );
}

/// Offline material covers the MFA device the user had at its issue. The replica shows
/// the devices users have enabled (serial, date, no seed), so offline a host refuses
/// material that a device enabled since would bypass (bob logged in with his password
/// alone, then enrolled a device) and material for a device no longer enabled (alice's,
/// deactivated at the server): both denied, journalled as `deny`, never counted.
#[test]
fn offline_refuses_material_that_does_not_cover_the_users_current_mfa_device() {
    require_root!();
    let mut w = World::new();
    w.sb.user("bob", 2002);
    w.iam.user("bob", Some(PASSWORD));
    w.iam.store.add_user_to_group("web", "bob").unwrap();
    w.synced("web-a");
    totp::wait_for_fresh_step(15);
    let t = support::now();
    let bob = |w: &World, answers: &[&str]| {
        w.sb.pamtester("web-a", "bob", &["authenticate", "acct_mgmt"], answers)
    };
    let out = bob(&w, &[PASSWORD]);
    assert!(
        out.ok(),
        "bob online, password only: {out}\n{}",
        w.sb.syslog()
    );
    let out = w.login("web-a", &[PASSWORD, &totp::code_at(&w.seed, t)]);
    assert!(out.ok(), "alice online: {out}\n{}", w.sb.syslog());
    // At the server: bob enrolls a device, alice's is deactivated.
    let (bob_seed, _) = w.iam.mfa("bob");
    let serial = w.iam.store.list_mfa_devices("alice").unwrap()[0]
        .serial_number
        .clone();
    w.iam.store.deactivate_mfa_device("alice", &serial).unwrap();
    w.synced("web-a");
    let c = rusqlite::Connection::open(w.replica("web-a")).unwrap();
    let seen: Vec<String> = c
        .prepare("SELECT serial FROM replica_mfa_devices")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(seen.len(), 1, "bob's device only: {seen:?}");
    drop(c);

    w.partition();
    let mark = w.sb.syslog().len();
    let out = bob(&w, &[PASSWORD, &totp::code_at(&bob_seed, t)]);
    assert!(!out.ok(), "bob offline past his new device: {out}");
    assert!(
        w.syslog_since(mark)
            .contains("that this host's offline material does not cover"),
        "{}",
        w.syslog_since(mark)
    );
    let mark = w.sb.syslog().len();
    let out = w.login("web-a", &[PASSWORD, &totp::code_at(&w.seed, t + 30)]);
    assert!(!out.ok(), "alice offline with a deactivated device: {out}");
    assert!(
        w.syslog_since(mark)
            .contains("is no longer enabled for the user"),
        "{}",
        w.syslog_since(mark)
    );
    let kinds: Vec<String> = w.journal("web-a").into_iter().map(|(k, _, _)| k).collect();
    assert_eq!(kinds, ["deny", "deny"]);
}
