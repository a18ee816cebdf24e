//! Driving iamd with the real AWS CLI, shared by iamd's suites (their support includes
//! this file by path) and the root crate's `iamd_sshd` suite (which cannot use iamd's
//! support: it names `CARGO_BIN_EXE_iamd`, which only iamd's tests have): the AWS CLI
//! venv scripts/test makes, the environment `aws` runs in, iamd's health wait, and the
//! root access key `iam create-access-key` prints.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The venv with `aws` and boto3 (`IAMD_AWS_VENV`), or `None` (skip) outside CI.
pub fn venv() -> Option<PathBuf> {
    match std::env::var_os("IAMD_AWS_VENV") {
        Some(p) if Path::new(&p).join("bin/aws").exists() => Some(PathBuf::from(p)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("IAMD_AWS_VENV does not hold the AWS CLI venv (scripts/test makes it)")
        }
        _ => {
            eprintln!(
                "skipped: set IAMD_AWS_VENV to a venv with awscli and boto3 (see scripts/test)"
            );
            None
        }
    }
}

/// The environment `aws` runs in: only `PATH`, the key, a region, no config files, no
/// retries (a refusal must show as the first answer).
pub fn aws_env(c: &mut Command, id: &str, secret: &str) {
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", id)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_DEFAULT_REGION", "eu-west-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_MAX_ATTEMPTS", "1");
}

/// Wait up to 20 s for iamd on `port` to answer `GET /healthz` with 200; on failure,
/// panic with the server's log (`log`).
pub fn wait_healthy(port: u16, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut s = String::new();
            let _ = c.read_to_string(&mut s);
            if s.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "iamd did not become healthy: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// The root access key `iam create-access-key` (without `--user-name`) printed: (id,
/// secret); the command must have succeeded.
pub fn root_key(out: &std::process::Output) -> (String, String) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let k = &v["AccessKey"];
    assert!(k.get("UserName").is_none(), "a root key has no user: {v}");
    (
        k["AccessKeyId"].as_str().unwrap().into(),
        k["SecretAccessKey"].as_str().unwrap().into(),
    )
}
