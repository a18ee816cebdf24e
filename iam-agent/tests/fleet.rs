//! Fleet mode's first slice with the real programs on loopback: `iam` issues host
//! credentials on the server's store, two `iamd` serve it, `iam-agent` keeps a replica.
//! Proves: the replica holds no secret (every table checked, and the files' bytes), a
//! change reaches the replica (propagation printed), failover to the second server, the
//! last good replica kept while every server is down, a revoked host refused, and a host
//! confined to the host API and its own view.

#[path = "../../tests/support/mod.rs"]
mod support;

mod fleet_harness;

use fleet_harness::{Proc, free_port, healthy, http, wait_until};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{bin, now};

struct Fleet {
    dir: tempfile::TempDir,
    db: PathBuf,
}

struct Creds {
    host: String,
    key_id: String,
    secret: String,
    file: PathBuf,
}

impl Fleet {
    fn new() -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("iam.db");
        Fleet { dir, db }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn iam_in(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut c = Command::new(bin("iam"));
        c.args(args)
            .env("PAM_IAM_DB", &self.db)
            .env("PAM_IAM_INSECURE_STORE", "1")
            .env("PAM_IAM_USERDB", "off")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut ch = c.spawn().unwrap();
        ch.stdin
            .take()
            .unwrap()
            .write_all(stdin.unwrap_or("").as_bytes())
            .unwrap();
        ch.wait_with_output().unwrap()
    }

    /// `iam ARGS` on the server's store, which must succeed; its JSON (or null).
    fn iam(&self, args: &[&str]) -> serde_json::Value {
        let o = self.iam_in(args, None);
        assert!(
            o.status.success(),
            "iam {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null)
    }

    fn host_credentials(&self, host: &str) -> Creds {
        let file = self.path(&format!("{host}.json"));
        self.iam(&[
            "create-host-credentials",
            "--host-name",
            host,
            "--credentials-file",
            file.to_str().unwrap(),
        ]);
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        Creds {
            host: host.into(),
            key_id: v["AccessKeyId"].as_str().unwrap().into(),
            secret: v["SecretAccessKey"].as_str().unwrap().into(),
            file,
        }
    }

    /// `iamd` on `port` with `extra` flags.
    fn iamd(&self, port: u16, extra: &[&str]) -> Proc {
        let log = std::fs::File::create(self.path(&format!("iamd-{port}.log"))).unwrap();
        let p = Proc::spawn(
            Command::new(bin("iamd"))
                .args(["--db", self.db.to_str().unwrap(), "--http", "--listen"])
                .arg(format!("127.0.0.1:{port}"))
                .args(extra)
                .env("PAM_IAM_INSECURE_STORE", "1")
                .env("PAM_IAM_USERDB", "off")
                .stdout(Stdio::null())
                .stderr(log),
        );
        wait_until(Duration::from_secs(20), "iamd healthy", || healthy(port));
        p
    }

    /// An agent for `c` over `ports`; its replica and log live in the fleet directory.
    fn agent(&self, c: &Creds, ports: &[u16]) -> (Proc, PathBuf, PathBuf) {
        let replica = self.path(&format!("{}-replica.db", c.host));
        let log = self.path(&format!("{}-agent.log", c.host));
        let servers: Vec<String> = ports
            .iter()
            .map(|p| format!("\"http://127.0.0.1:{p}\""))
            .collect();
        let cfg = self.path(&format!("{}-agent.toml", c.host));
        std::fs::write(
            &cfg,
            format!(
                "servers = [{}]\ncredentials = {:?}\nreplica = {:?}\noffline = {:?}\nwait_seconds = 5\nretry_seconds = 1\n",
                servers.join(", "),
                c.file,
                replica,
                self.path(&format!("{}-offline.db", c.host)),
            ),
        )
        .unwrap();
        let p = Proc::spawn(
            Command::new(bin("iam-agent"))
                .arg("--config")
                .arg(&cfg)
                .env("PAM_IAM_INSECURE_STORE", "1")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap()),
        );
        (p, replica, log)
    }
}

/// A request signed with `key_id`/`secret` for `service`: (status, body).
#[allow(clippy::too_many_arguments)]
fn signed(
    port: u16,
    method: &str,
    path: &str,
    query: &str,
    body: &str,
    service: &str,
    key_id: &str,
    secret: &str,
) -> (u16, String) {
    let authority = format!("127.0.0.1:{port}");
    let h = iamd::host_api::sign(
        method,
        &authority,
        path,
        query,
        body.as_bytes(),
        service,
        key_id,
        secret.as_bytes(),
        now(),
    )
    .unwrap();
    let target = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    let mut req = format!("{method} {target} HTTP/1.1\r\n");
    for (k, v) in h {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!(
            "content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("connection: close\r\n\r\n");
    req.push_str(body);
    let out = http(port, &req).unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = out.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

fn pull(port: u16, c: &Creds, query: &str) -> (u16, String) {
    signed(
        port,
        "GET",
        "/host/v1/replica",
        query,
        "",
        "pam-iam-host",
        &c.key_id,
        &c.secret,
    )
}

fn replica_version(replica: &Path) -> Option<i64> {
    let c =
        rusqlite::Connection::open_with_flags(replica, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    c.query_row("SELECT version FROM store_version", [], |r| r.get(0))
        .ok()
}

fn server_version(f: &Fleet) -> i64 {
    let c = rusqlite::Connection::open(&f.db).unwrap();
    c.query_row("SELECT version FROM store_version", [], |r| r.get(0))
        .unwrap()
}

fn replica_has(replica: &Path, sql: &str) -> bool {
    let Ok(c) =
        rusqlite::Connection::open_with_flags(replica, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return false;
    };
    c.query_row(sql, [], |r| r.get::<_, i64>(0))
        .is_ok_and(|n| n > 0)
}

fn totp(seed: &str, offset: &str) -> String {
    let o = Command::new("oathtool")
        .args(["--totp", "-b", seed, "-N", offset])
        .output()
        .expect("oathtool (apt-get install oathtool)");
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

const LOGIN: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#;

/// A store with every kind of secret: a password, an enabled TOTP device (so recovery
/// codes), an access key, a root key; and what a host may know: a group, policies, a
/// role, tags, an SSH key.
fn populated(f: &Fleet) -> Vec<String> {
    f.iam(&[
        "create-user",
        "--user-name",
        "alice",
        "--tags",
        "Key=team,Value=web",
    ]);
    let o = f.iam_in(
        &[
            "create-login-profile",
            "--user-name",
            "alice",
            "--password-stdin",
        ],
        Some("Correct-Horse-9-battery\n"),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dev = f.iam(&[
        "create-virtual-mfa-device",
        "--virtual-mfa-device-name",
        "alice",
    ]);
    let seed = dev["VirtualMFADevice"]["Base32StringSeed"]
        .as_str()
        .unwrap()
        .to_string();
    let serial = dev["VirtualMFADevice"]["SerialNumber"]
        .as_str()
        .unwrap()
        .to_string();
    let enabled = f.iam(&[
        "enable-mfa-device",
        "--user-name",
        "alice",
        "--serial-number",
        &serial,
        "--authentication-code1",
        &totp(&seed, "now - 30 seconds"),
        "--authentication-code2",
        &totp(&seed, "now"),
    ]);
    let key = f.iam(&["create-access-key", "--user-name", "alice"]);
    let root = f.iam(&["create-access-key"]);
    f.iam(&["create-group", "--group-name", "web"]);
    f.iam(&[
        "add-user-to-group",
        "--group-name",
        "web",
        "--user-name",
        "alice",
    ]);
    f.iam(&[
        "create-policy",
        "--policy-name",
        "login",
        "--policy-document",
        LOGIN,
    ]);
    f.iam(&[
        "put-user-policy",
        "--user-name",
        "alice",
        "--policy-name",
        "inline",
        "--policy-document",
        LOGIN,
    ]);
    f.iam(&[
        "create-role",
        "--role-name",
        "ops",
        "--assume-role-policy-document",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#,
    ]);
    f.iam(&[
        "upload-ssh-public-key",
        "--user-name",
        "alice",
        "--ssh-public-key-body",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHvQ0tN4B5b6U9m1pXoCj8fJzq4y6Qm3c0mXx9rJm2Qd alice@x",
    ]);
    f.iam(&[
        "tag-host",
        "--host-name",
        "web-01",
        "--tags",
        "Key=env,Value=prod",
    ]);
    f.iam(&[
        "tag-host",
        "--host-name",
        "web-02",
        "--tags",
        "Key=env,Value=secret-dev",
    ]);
    let mut secrets = vec![
        seed,
        key["AccessKey"]["SecretAccessKey"].as_str().unwrap().into(),
        root["AccessKey"]["SecretAccessKey"]
            .as_str()
            .unwrap()
            .into(),
        "$argon2".into(),
    ];
    if let Some(codes) = enabled["RecoveryCodes"].as_array() {
        secrets.extend(codes.iter().filter_map(|c| c.as_str().map(String::from)));
    }
    secrets
}

/// Tables a replica may fill (the rest must be empty): store::replica's list, plus the
/// account row, the version and the replica-only list of enabled MFA devices (serial and
/// enable date, so offline logins can refuse material older than the device; never the
/// seed, which stays in `mfa_devices`, empty here), and the replica file's own random
/// store identity (migration 17; the change log, `store_changes`, stays empty), and what
/// the replica is of (migration 18: the server store's id, host, key id, versions).
const MAY_HOLD: &[&str] = &[
    "account",
    "store_version",
    "store_identity",
    "replica_origin",
    "policies",
    "policy_versions",
    "users",
    "user_tags",
    "groups",
    "group_members",
    "roles",
    "role_tags",
    "user_attached",
    "group_attached",
    "role_attached",
    "user_inline",
    "group_inline",
    "role_inline",
    "ssh_keys",
    "id_allocations",
    "host_tags",
    "replica_mfa_devices",
];

#[test]
fn replica_holds_only_what_a_host_may_know() {
    let f = Fleet::new();
    let secrets = populated(&f);
    let web01 = f.host_credentials("web-01");
    let host_secret = web01.secret.clone();
    let port = free_port();
    let _d = f.iamd(port, &[]);
    let (_agent, replica, log) = f.agent(&web01, &[port]);
    let want = server_version(&f);
    wait_until(Duration::from_secs(20), "the first replica", || {
        replica_version(&replica) == Some(want)
    });
    let mode = std::fs::metadata(&replica).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600,
        "replica mode"
    );
    let c = rusqlite::Connection::open(&replica).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(tables.len() > 25, "the same store schema: {tables:?}");
    for t in &tables {
        let n: i64 = c
            .query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| r.get(0))
            .unwrap();
        if !MAY_HOLD.contains(&t.as_str()) {
            assert_eq!(n, 0, "table {t} must be empty in a replica");
        }
    }
    // What a host may know arrived.
    for (sql, what) in [
        ("SELECT count(*) FROM users WHERE name = 'alice'", "user"),
        ("SELECT count(*) FROM group_members", "membership"),
        (
            "SELECT count(*) FROM policies WHERE name = 'login'",
            "policy",
        ),
        ("SELECT count(*) FROM user_inline", "inline policy"),
        ("SELECT count(*) FROM roles WHERE name = 'ops'", "role"),
        ("SELECT count(*) FROM ssh_keys", "SSH key"),
        (
            "SELECT count(*) FROM replica_mfa_devices",
            "enabled MFA device (serial and date)",
        ),
        ("SELECT count(*) FROM user_tags", "user tag"),
        (
            "SELECT count(*) FROM host_tags WHERE host = 'web-01'",
            "own host tag",
        ),
    ] {
        assert!(
            replica_has(&replica, sql),
            "{what} missing from the replica"
        );
    }
    assert!(
        !replica_has(
            &replica,
            "SELECT count(*) FROM host_tags WHERE host <> 'web-01'"
        ),
        "another host's tags"
    );
    let acct: String = c
        .query_row("SELECT account_id FROM account", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        acct,
        f.iam(&["get-user", "--user-name", "alice"])["User"]["Arn"]
            .as_str()
            .unwrap()
            .split(':')
            .nth(4)
            .unwrap()
    );
    drop(c);
    // No secret's bytes anywhere in the replica's files (database and WAL).
    let mut bytes = Vec::new();
    for ext in ["", "-wal"] {
        let p = PathBuf::from(format!("{}{ext}", replica.display()));
        if let Ok(b) = std::fs::read(&p) {
            bytes.extend(b);
        }
    }
    for s in secrets.iter().chain(std::iter::once(&host_secret)) {
        assert!(
            !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
            "secret {s:?} found in the replica"
        );
    }
    // The replica is a store the local tools read.
    let o = Command::new(bin("iam"))
        .args([
            "--db",
            replica.to_str().unwrap(),
            "list-groups-for-user",
            "--user-name",
            "alice",
        ])
        .env("PAM_IAM_INSECURE_STORE", "1")
        .env("PAM_IAM_USERDB", "off")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("\"web\""),
        "{} {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        std::fs::read_to_string(log)
            .unwrap()
            .contains("replica at store version")
    );
}

#[test]
fn changes_propagate_and_the_agent_fails_over_and_keeps_its_replica() {
    let f = Fleet::new();
    f.iam(&["create-user", "--user-name", "bob"]);
    f.iam(&[
        "create-policy",
        "--policy-name",
        "login",
        "--policy-document",
        LOGIN,
    ]);
    let web01 = f.host_credentials("web-01");
    let (pa, pb) = (free_port(), free_port());
    let a = f.iamd(pa, &[]);
    let b = f.iamd(pb, &[]);
    let (_agent, replica, log) = f.agent(&web01, &[pa, pb]);
    let v0 = server_version(&f);
    wait_until(Duration::from_secs(20), "the first replica", || {
        replica_version(&replica) == Some(v0)
    });
    let attached = "SELECT count(*) FROM user_attached";
    // Propagation: a change made with the CLI, until it is in the replica.
    let mut ms = Vec::new();
    for _ in 0..5 {
        let t0 = Instant::now();
        f.iam(&[
            "attach-user-policy",
            "--user-name",
            "bob",
            "--policy-arn",
            &format!("arn:aws:iam::{}:policy/login", acct(&f)),
        ]);
        let cli = t0.elapsed();
        let d = wait_until(Duration::from_secs(10), "the attachment", || {
            replica_has(&replica, attached)
        });
        ms.push((cli + d).as_millis());
        f.iam(&[
            "detach-user-policy",
            "--user-name",
            "bob",
            "--policy-arn",
            &format!("arn:aws:iam::{}:policy/login", acct(&f)),
        ]);
        wait_until(Duration::from_secs(10), "the detachment", || {
            !replica_has(&replica, attached)
        });
    }
    ms.sort_unstable();
    eprintln!(
        "propagation (CLI start to replica), ms: {ms:?}, median {}",
        ms[2]
    );

    // The first server goes down: the second takes over.
    drop(a);
    f.iam(&["create-user", "--user-name", "carol"]);
    wait_until(
        Duration::from_secs(20),
        "failover to the second iamd",
        || replica_has(&replica, "SELECT count(*) FROM users WHERE name = 'carol'"),
    );
    // Every server down: the replica stays as it was, readable.
    drop(b);
    let kept = replica_version(&replica).unwrap();
    f.iam(&["create-user", "--user-name", "dave"]);
    wait_until(Duration::from_secs(20), "the agent to notice", || {
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("every server is down; keeping the replica at version")
    });
    assert_eq!(replica_version(&replica), Some(kept));
    assert!(replica_has(
        &replica,
        "SELECT count(*) FROM users WHERE name = 'carol'"
    ));
    assert!(!replica_has(
        &replica,
        "SELECT count(*) FROM users WHERE name = 'dave'"
    ));
    // A server back: the agent catches up.
    let _a = f.iamd(pa, &[]);
    wait_until(Duration::from_secs(20), "the catch-up", || {
        replica_has(&replica, "SELECT count(*) FROM users WHERE name = 'dave'")
    });
}

fn acct(f: &Fleet) -> String {
    f.iam(&["get-user", "--user-name", "bob"])["User"]["Arn"]
        .as_str()
        .unwrap()
        .split(':')
        .nth(4)
        .unwrap()
        .to_string()
}

#[test]
fn a_host_is_confined_to_its_own_view_and_a_revoked_host_is_refused() {
    let f = Fleet::new();
    f.iam(&["create-user", "--user-name", "erin"]);
    f.iam(&[
        "tag-host",
        "--host-name",
        "web-01",
        "--tags",
        "Key=env,Value=prod",
    ]);
    f.iam(&[
        "tag-host",
        "--host-name",
        "web-02",
        "--tags",
        "Key=env,Value=dev",
    ]);
    let key = f.iam(&["create-access-key", "--user-name", "erin"]);
    let (kid, ksecret) = (
        key["AccessKey"]["AccessKeyId"]
            .as_str()
            .unwrap()
            .to_string(),
        key["AccessKey"]["SecretAccessKey"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    let web01 = f.host_credentials("web-01");
    let web02 = f.host_credentials("web-02");
    let port = free_port();
    let _d = f.iamd(port, &[]);

    // Each host gets its own view, decided by its credential.
    let (s, body) = pull(port, &web01, "");
    assert_eq!(s, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["Replica"]["host"], "web-01");
    assert!(body.contains("prod") && !body.contains("\"dev\""), "{body}");
    let (_, body2) = pull(port, &web02, "");
    assert!(
        body2.contains("\"dev\"") && !body2.contains("prod"),
        "{body2}"
    );
    // A host cannot name another host's view.
    let (s, body) = pull(port, &web01, "host=web-02");
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("InvalidParameterValue"), "{body}");
    // A long poll with nothing changing answers Unchanged after the wait.
    let ver = v["StoreVersion"].as_i64().unwrap();
    let t0 = Instant::now();
    let (s, body) = pull(port, &web01, &format!("since={ver}&wait=1"));
    assert_eq!(
        (s, body.contains("\"Unchanged\":true")),
        (200, true),
        "{body}"
    );
    assert!(t0.elapsed() >= Duration::from_millis(900));

    // A host credential opens only the host API: on the IAM API it is unknown…
    let (s, body) = signed(
        port,
        "POST",
        "/",
        "",
        "Action=ListUsers&Version=2010-05-08",
        "iam",
        &web01.key_id,
        &web01.secret,
    );
    assert_eq!(s, 403, "{body}");
    assert!(body.contains("InvalidClientTokenId"), "{body}");
    // …and a user's access key does not open the host API, nor the host key another scope.
    let (s, body) = signed(
        port,
        "GET",
        "/host/v1/replica",
        "",
        "",
        "pam-iam-host",
        &kid,
        &ksecret,
    );
    assert_eq!(s, 403, "{body}");
    assert!(body.contains("InvalidClientTokenId"), "{body}");
    let (s, body) = signed(
        port,
        "GET",
        "/host/v1/replica",
        "",
        "",
        "iam",
        &web01.key_id,
        &web01.secret,
    );
    assert_eq!(s, 403, "{body}");
    assert!(body.contains("SignatureDoesNotMatch"), "{body}");
    // A wrong secret is refused.
    let forged = Creds {
        host: "web-01".into(),
        key_id: web01.key_id.clone(),
        secret: "x".repeat(40),
        file: web01.file.clone(),
    };
    assert_eq!(pull(port, &forged, "").0, 403);

    // Revoked: the agent is refused and keeps its last replica; the refusal is audited.
    let (_agent, replica, log) = f.agent(&web01, &[port]);
    let want = server_version(&f);
    wait_until(Duration::from_secs(20), "the first replica", || {
        replica_version(&replica) == Some(want)
    });
    f.iam(&["delete-host-credentials", "--host-name", "web-01"]);
    let (s, body) = pull(port, &web01, "");
    assert_eq!(s, 403, "{body}");
    assert!(body.contains("InvalidClientTokenId"), "{body}");
    f.iam(&["create-user", "--user-name", "frank"]);
    wait_until(Duration::from_secs(20), "the agent to be refused", || {
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("InvalidClientTokenId")
    });
    assert!(!replica_has(
        &replica,
        "SELECT count(*) FROM users WHERE name = 'frank'"
    ));
    assert!(replica_has(
        &replica,
        "SELECT count(*) FROM users WHERE name = 'erin'"
    ));
    let listed = f.iam(&["list-host-credentials"]);
    assert_eq!(
        listed["HostCredentials"].as_array().unwrap().len(),
        1,
        "{listed}"
    );
    let audit = f.iam(&["list-audit-events"]);
    let s = audit.to_string();
    assert!(
        s.contains("host/web-02") && s.contains("host:GetReplica"),
        "{s}"
    );
    // The other host goes on.
    assert_eq!(pull(port, &web02, "").0, 200);
}

/// A long poll is never cut by the idle timeout (2 s here; 60 s = the longest wait by
/// default): cut, the answer would be empty and `signed` panic.
#[test]
fn a_long_poll_is_answered_before_the_idle_timeout_cuts_it() {
    let f = Fleet::new();
    let web01 = f.host_credentials("web-01");
    let port = free_port();
    let _d = f.iamd(port, &["--idle-timeout", "2"]);
    let ver = server_version(&f);
    for wait in [2, 5] {
        let (s, body) = pull(port, &web01, &format!("since={ver}&wait={wait}"));
        assert!(s == 200 && body.contains("\"Unchanged\":true"), "{body}");
    }
}
