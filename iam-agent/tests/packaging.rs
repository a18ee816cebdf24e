//! The iam-agent package's files against the agent they ship with: the example
//! `/etc/pam-iam/agent.toml` names exactly the keys `Config` reads, is refused as
//! shipped (no server: exit 78, which the unit does not restart on) and accepted once
//! its keys are uncommented; the unit starts the agent on the default config only when
//! the default files exist. (tests/package.rs installs and runs the package itself.)

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A `key = value` line the example comments out (`#key = …` or `# key = …`), without
/// its `#`.
fn commented_key(line: &str) -> Option<&str> {
    let l = line.strip_prefix('#')?.trim_start();
    let (k, _) = l.split_once(" = ")?;
    (!k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')).then_some(l)
}

/// The keys of those lines.
fn example_keys(example: &str) -> BTreeSet<String> {
    example
        .lines()
        .filter_map(commented_key)
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, _)| k.to_string())
        .collect()
}

/// The `pub` fields of `struct Config` in src/config.rs.
fn config_fields(src: &str) -> BTreeSet<String> {
    let start = src.find("pub struct Config {").expect("struct Config");
    let body = &src[start..src[start..].find("\n}").map(|e| start + e).unwrap()];
    body.lines()
        .filter_map(|l| l.trim().strip_prefix("pub "))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, _)| k.trim().to_string())
        .filter(|k| !k.contains(' '))
        .collect()
}

fn check(config: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_iam-agent"))
        .arg("--config")
        .arg(config)
        .arg("--check")
        .output()
        .unwrap()
}

#[test]
fn the_example_agent_toml_names_every_key_and_only_real_ones() {
    let example = read("packaging/iam-agent/agent.toml");
    let keys = example_keys(&example);
    let fields = config_fields(&read("iam-agent/src/config.rs"));
    assert_eq!(keys, fields, "example keys vs Config fields");
}

#[test]
fn the_example_is_refused_as_shipped_and_accepted_uncommented() {
    let dir = tempfile::tempdir().unwrap();
    let example = read("packaging/iam-agent/agent.toml");
    // As shipped: no server, so the agent exits 78 (and the unit stays stopped).
    let shipped = dir.path().join("shipped.toml");
    std::fs::write(&shipped, &example).unwrap();
    let o = check(&shipped);
    assert_eq!(o.status.code(), Some(78), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("servers"),
        "{o:?}"
    );
    // Every key uncommented (a loopback server instead of the https:// examples), the
    // credentials file moved here: accepted.
    let creds = dir.path().join("host-credentials.json");
    std::fs::write(
        &creds,
        r#"{"HostName":"web-01","AccessKeyId":"HKIAEXAMPLE","SecretAccessKey":"x"}"#,
    )
    .unwrap();
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut text = String::new();
    for line in example.lines() {
        match commented_key(line) {
            // https:// needs a real CA file (iam-agent/tests/fleet_tls.rs has those).
            Some(l) if l.starts_with("ca_file") => {}
            Some(l) if l.starts_with("servers") => {
                text += "servers = [\"http://127.0.0.1:8443\"]\n"
            }
            Some(l) if l.starts_with("credentials") => {
                text += &format!("credentials = {creds:?}\n");
            }
            Some(l) => text += &format!("{l}\n"),
            None => text += &format!("{line}\n"),
        }
    }
    let full = dir.path().join("agent.toml");
    std::fs::write(&full, &text).unwrap();
    let o = check(&full);
    assert!(o.status.success(), "{o:?}\n{text}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("host web-01"));
    // The credentials file open to others: refused as a configuration error.
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = check(&full);
    assert_eq!(o.status.code(), Some(78), "{o:?}");
}

#[test]
fn the_unit_starts_the_default_config_only_when_the_default_files_exist() {
    let unit = read("packaging/iam-agent/iam-agent.service");
    let lines: Vec<&str> = unit.lines().map(str::trim).collect();
    for want in [
        "ExecStart=/usr/sbin/iam-agent --config /etc/pam-iam/agent.toml",
        "ConditionPathExists=/etc/pam-iam/agent.toml",
        "ConditionPathExists=/etc/pam-iam/host-credentials.json",
        "RestartPreventExitStatus=78",
        "ReadWritePaths=/var/lib/pam-iam",
        "RuntimeDirectory=pam-iam",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
    ] {
        assert!(lines.contains(&want), "the unit lacks {want}");
    }
    // The paths the unit names are the agent's defaults.
    let config = read("iam-agent/src/config.rs");
    for default in [
        "/etc/pam-iam/agent.toml",
        "/etc/pam-iam/host-credentials.json",
        "/var/lib/pam-iam/replica.db",
        "/run/pam-iam/agent.sock",
    ] {
        assert!(config.contains(default), "config.rs default {default}");
    }
}
