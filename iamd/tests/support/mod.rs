//! Starts `iamd` on a loopback port over a fresh store and drives it with the real AWS
//! CLI v1 and boto3 from the venv scripts/test creates (`IAMD_AWS_VENV`).
//!
//! The store is the whole-program harness's [`Cli`] store, so the backend switch is the
//! CLI suites' one: `PAM_IAM_TEST_BACKEND=postgres` runs the same test bodies on a fresh
//! database of one throwaway PostgreSQL cluster per test binary (scripts/test's
//! PostgreSQL pass); tests about the SQLite file itself are named `sqlite_…`.

#![allow(dead_code)]

/// The one harness of the whole-program tests (`tests/support` of the root crate).
#[path = "../../../tests/support/mod.rs"]
pub mod harness;

pub use harness::cli::Cli;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[path = "../../../tests/support/iamd_client.rs"]
pub mod client;
pub mod sts;

#[allow(unused_imports)]
pub use client::venv;

/// iamd on a store, not yet run: `--db` and the store's environment (its secrets key).
pub trait IamdOn {
    /// `iamd --db LOCATION` with the store's environment.
    fn iamd(&self) -> Command;
}

impl IamdOn for Cli {
    fn iamd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_iamd"));
        c.arg("--db")
            .arg(&self.location)
            .envs(self.envs())
            .env("PAM_IAM_INSECURE_STORE", "1")
            .env("PAM_IAM_USERDB", "off");
        c
    }
}

/// Credentials.
#[derive(Debug, Clone)]
pub struct Key {
    pub id: String,
    pub secret: String,
}

/// A running iamd over a temporary store.
pub struct Server {
    /// The server's own files (its log, files a test writes).
    pub dir: tempfile::TempDir,
    /// The store it serves, on the selected backend, and `iam` on it.
    pub store: Cli,
    pub port: u16,
    pub venv: PathBuf,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// A store with a root key (made by `iam create-access-key`), and iamd on it.
    pub fn start(venv: PathBuf) -> (Server, Key) {
        Server::start_full(venv, None, &[])
    }

    /// The same, with more iamd arguments (`--config`, `--max-connections`, …).
    pub fn start_with(venv: PathBuf, extra: &[&str]) -> (Server, Key) {
        Server::start_full(venv, None, extra)
    }

    /// The same, the store's account id set to `account` (AWS's documented examples name
    /// account 123456789012 in their ARNs) before anything is created in it.
    pub fn start_in(venv: PathBuf, account: Option<&str>) -> (Server, Key) {
        Server::start_full(venv, account, &[])
    }

    /// The same on `store` (e.g. [`Cli::postgres_on`] a server of the test's own).
    pub fn start_on(venv: PathBuf, store: Cli, extra: &[&str]) -> (Server, Key) {
        Server::start_full_on(venv, store, None, extra)
    }

    fn start_full(venv: PathBuf, account: Option<&str>, extra: &[&str]) -> (Server, Key) {
        Server::start_full_on(venv, Cli::new(), account, extra)
    }

    fn start_full_on(
        venv: PathBuf,
        store: Cli,
        account: Option<&str>,
        extra: &[&str],
    ) -> (Server, Key) {
        let dir = tempfile::tempdir().unwrap();
        let out = store
            .cmd(&["create-access-key"])
            .env("PAM_IAM_USERDB", "off")
            .output()
            .unwrap();
        let (id, secret) = client::root_key(&out);
        let root = Key { id, secret };
        if let Some(a) = account {
            store.sql(&format!("UPDATE account SET account_id = '{a}'"));
        }
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("iamd.log")).unwrap();
        let child = store
            .iamd()
            .args(["--http", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let s = Server {
            dir,
            store,
            port,
            venv,
            child,
        };
        client::wait_healthy(s.port, &s.dir.path().join("iamd.log"));
        (s, root)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("iamd.log")).unwrap_or_default()
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn client_env(&self, c: &mut Command, key: &Key) {
        client::aws_env(c, &key.id, &key.secret);
    }

    /// `aws --endpoint-url … ARGS` as `key`.
    pub fn aws(&self, key: &Key, args: &[&str]) -> Output {
        self.aws_with(key, &[], args)
    }

    /// The same, with `prefix` (e.g. `faketime -f -10m`) before the command.
    pub fn aws_with(&self, key: &Key, prefix: &[&str], args: &[&str]) -> Output {
        self.aws_full(key, None, prefix, args)
    }

    /// `aws …` with temporary credentials: `key` and its session token.
    pub fn aws_token(&self, key: &Key, token: &str, args: &[&str]) -> Output {
        self.aws_full(key, Some(token), &[], args)
    }

    /// `aws …` as `key` (with `token` as `AWS_SESSION_TOKEN`), after `prefix`.
    pub fn aws_full(
        &self,
        key: &Key,
        token: Option<&str>,
        prefix: &[&str],
        args: &[&str],
    ) -> Output {
        let aws = self.venv.join("bin/aws");
        let mut c = match prefix.split_first() {
            Some((p, rest)) => {
                let mut c = Command::new(p);
                c.args(rest).arg(&aws);
                c
            }
            None => Command::new(&aws),
        };
        self.client_env(&mut c, key);
        if let Some(t) = token {
            c.env("AWS_SESSION_TOKEN", t);
        }
        c.args(["--endpoint-url", &self.endpoint(), "--output", "json"])
            .args(args);
        c.output().unwrap()
    }

    /// `aws …` that must succeed; its JSON output (`null` when it prints nothing).
    pub fn ok(&self, key: &Key, args: &[&str]) -> serde_json::Value {
        self.ok_token(key, None, args)
    }

    /// [`Server::ok`] with an optional session token.
    pub fn ok_token(&self, key: &Key, token: Option<&str>, args: &[&str]) -> serde_json::Value {
        let o = self.aws_full(key, token, &[], args);
        assert!(
            o.status.success(),
            "aws {args:?}: {}\n{}",
            String::from_utf8_lossy(&o.stderr),
            self.log()
        );
        if o.stdout.iter().all(u8::is_ascii_whitespace) {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&o.stdout).unwrap()
        }
    }

    /// `aws …` that must fail with AWS error `code`; its stderr.
    pub fn fails(&self, key: &Key, args: &[&str], code: &str) -> String {
        self.fails_token(key, None, args, code)
    }

    /// [`Server::fails`] with an optional session token.
    pub fn fails_token(&self, key: &Key, token: Option<&str>, args: &[&str], code: &str) -> String {
        let o = self.aws_full(key, token, &[], args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!o.status.success(), "aws {args:?} succeeded");
        assert!(
            err.contains(&format!("({code})")),
            "aws {args:?}: want {code}, got {err}"
        );
        err
    }

    /// A Python script from the venv (`python3 SCRIPT ARGS`) as `key`.
    pub fn python(&self, key: &Key, script: &Path, args: &[&str]) -> Output {
        let mut c = Command::new(self.venv.join("bin/python3"));
        self.client_env(&mut c, key);
        c.arg(script).args(args);
        c.output().unwrap()
    }

    /// One raw body signed by botocore's signer: (HTTP status, body).
    pub fn raw(&self, key: &Key, service: &str, body: &str, extra: &[&str]) -> (u16, String) {
        self.raw_token(key, None, service, body, extra)
    }

    /// [`Server::raw`] with a session token (`AWS_SESSION_TOKEN`, signed by botocore).
    pub fn raw_token(
        &self,
        key: &Key,
        token: Option<&str>,
        service: &str,
        body: &str,
        extra: &[&str],
    ) -> (u16, String) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/raw_call.py");
        let mut args = vec![self.endpoint(), service.to_string(), body.to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut c = Command::new(self.venv.join("bin/python3"));
        self.client_env(&mut c, key);
        if let Some(t) = token {
            c.env("AWS_SESSION_TOKEN", t);
        }
        let o = c.arg(&script).args(&a).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let (status, body) = out.split_once('\n').unwrap();
        (status.trim().parse().unwrap(), body.to_string())
    }

    /// `iam ARGS` on the server's store (the local CLI, as Linux root).
    pub fn iam(&self, args: &[&str]) -> Output {
        self.store
            .cmd(args)
            .env("PAM_IAM_USERDB", "off")
            .output()
            .unwrap()
    }

    /// A new access key for `user`, made through the API by `by`.
    pub fn key_for(&self, by: &Key, user: &str) -> Key {
        let v = self.ok(by, &["iam", "create-access-key", "--user-name", user]);
        Key {
            id: v["AccessKey"]["AccessKeyId"].as_str().unwrap().into(),
            secret: v["AccessKey"]["SecretAccessKey"].as_str().unwrap().into(),
        }
    }
}

/// A request signed with the SigV4 code the server verifies with (the independent
/// signers are the real CLI and boto3 in aws_cli.rs); returns (status, body, time taken).
pub fn signed_call(port: u16, key: &Key, service: &str, body: &str) -> (u16, String, Duration) {
    let started = Instant::now();
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let amz = iamd::sigv4::amz_date(now);
    let host = format!("127.0.0.1:{port}");
    let ctype = "application/x-www-form-urlencoded; charset=utf-8";
    let headers = vec![
        ("content-type".to_string(), ctype.to_string()),
        ("host".to_string(), host.clone()),
        ("x-amz-date".to_string(), amz.clone()),
    ];
    let auth = iamd::sigv4::Authorization {
        access_key: key.id.clone(),
        date: amz[..8].to_string(),
        region: "us-east-1".into(),
        service: service.into(),
        signed_headers: vec!["content-type".into(), "host".into(), "x-amz-date".into()],
        signature: String::new(),
    };
    let rx = iamd::sigv4::Received {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: body.as_bytes(),
    };
    let sig = iamd::sigv4::expected_signature(&rx, &auth, &amz, key.secret.as_bytes()).unwrap();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: {ctype}\r\nX-Amz-Date: {amz}\r\nAuthorization: AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders=content-type;host;x-amz-date, Signature={sig}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        key.id,
        auth.scope(),
        body.len()
    );
    let (status, out) = exchange(port, &req);
    (status, out, started.elapsed())
}

/// One request on a fresh loopback connection (`Connection: close`): the status and the
/// whole answer as received.
fn exchange(port: u16, req: &str) -> (u16, String) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, out)
}

/// A `POST` of a JSON body to the host API (`path`), signed with a host credential (or
/// any key: the server decides) by the code the agent signs with: (status, JSON body).
pub fn host_post(port: u16, key: &Key, path: &str, body: &str) -> (u16, serde_json::Value) {
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let authority = format!("127.0.0.1:{port}");
    let headers = iamd::host_api::sign_post(
        &authority,
        path,
        body.as_bytes(),
        &key.id,
        key.secret.as_bytes(),
        now,
    )
    .unwrap();
    let mut req = format!("POST {path} HTTP/1.1\r\n");
    for (k, v) in &headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!(
        "content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    let (status, out) = exchange(port, &req);
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let json = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) => serde_json::from_str(&body[a..=b]).unwrap_or_default(),
        _ => serde_json::Value::Null,
    };
    (status, json)
}
