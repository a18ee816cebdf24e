//! Fleet mode over TLS with the real programs ([`fleet_harness`] with `tls`: `iamd
//! --tls-cert/--tls-key` on a certificate for 127.0.0.1 signed by a CA made with the
//! `openssl` CLI; the agent on `https://127.0.0.1:PORT` with that CA as `ca_file`).
//!
//! Proves: the replica syncs and a password + TOTP login (pamtester) is decided online
//! by `iamd` over TLS, with neither the password nor the code on the wire in clear (the
//! bytes a relay carried are read); an agent whose `ca_file` holds another CA, and a
//! server whose certificate is for another name, are refused at the handshake: the
//! agent logs which server and why, nothing reaches the server (no audit row), and the
//! login follows the offline rules (a user without offline material on the host is
//! denied, one with it gets in with a fresh code, decided offline); so is an expired
//! certificate; with a valid one again the same agent is back online by itself. A
//! `ca_file` changed in place is read again at the next connection, without a restart,
//! and checked again (owner, mode).

#[path = "../../tests/support/mod.rs"]
mod support;

mod fleet_harness;

use fleet_harness::{Fleet, Host, Login, Options, Proc, classify, login, tls, wait_until};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::totp;

const PASSWORD: &str = "Correct-Horse-9-battery";

/// Replace `from` by `to` in the host's agent.toml and restart its agent.
fn reconfigure(h: &mut Host, from: &str, to: &str) {
    let text = std::fs::read_to_string(&h.config).unwrap();
    assert!(text.contains(from), "{from:?} not in {text}");
    std::fs::write(&h.config, text.replace(from, to)).unwrap();
    h.stop_agent();
    h.start_agent();
}

/// Wait for `needle` in the host's agent log.
fn wait_log(h: &Host, needle: &str) {
    wait_until(Duration::from_secs(20), needle, || {
        h.agent_log().contains(needle)
    });
}

#[test]
fn a_login_goes_over_tls_and_a_certificate_the_agent_cannot_verify_makes_the_host_offline() {
    require_root!();
    let mut f = Fleet::start(Options {
        tls: true,
        sqlite: true,
        servers: 1,
        hosts: 1,
        offline_max_age: Some(3600),
        ..Options::default()
    });
    // The AWS CLI over TLS too (--ca-bundle with the fleet's CA).
    let Some(alice) = f.aws_mfa_user("alice", PASSWORD) else {
        return;
    };
    let bob = f.aws_mfa_user("bob", PASSWORD).unwrap();
    f.wait_all(Duration::from_secs(20), "alice and bob", |h| {
        h.has_user("alice") && h.has_user("bob") && h.serving()
    });
    let iamd_port = f.servers[0].port;
    let relay_port = f.hosts[0].relay_ports[0];
    assert!(
        f.hosts[0]
            .agent_log()
            .contains(&format!("from https://127.0.0.1:{relay_port}")),
        "{}",
        f.hosts[0].agent_log()
    );

    // Online over TLS, through a relay that keeps a copy of every byte it carries.
    let wire = f.path("wire");
    std::fs::create_dir_all(&wire).unwrap();
    let tap_port = fleet_harness::free_port();
    let _tap = Proc::spawn(
        Command::new("socat")
            .arg("-r")
            .arg(wire.join("to-iamd"))
            .arg("-R")
            .arg(wire.join("from-iamd"))
            .arg(format!(
                "TCP-LISTEN:{tap_port},bind=127.0.0.1,reuseaddr,fork"
            ))
            .arg(format!("TCP:127.0.0.1:{iamd_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_until(Duration::from_secs(10), "the tap to listen", || {
        std::net::TcpStream::connect(("127.0.0.1", tap_port)).is_ok()
    });
    reconfigure(
        &mut f.hosts[0],
        &format!("127.0.0.1:{relay_port}"),
        &format!("127.0.0.1:{tap_port}"),
    );
    wait_log(&f.hosts[0], &format!("from https://127.0.0.1:{tap_port}"));
    let sb = f.hosts[0].sandbox(&[("alice", 2001), ("bob", 2002)]);
    totp::wait_for_fresh_step(20);
    let (now, next) = totp::code_pair(&alice, 0);
    let out = login(&sb, "alice", &[PASSWORD, &now], "tls-online");
    assert_eq!(
        classify(&out),
        Login::Allowed,
        "{out}\n{}",
        f.hosts[0].agent_log()
    );
    let rows = f.audit(Some("alice"));
    assert!(
        rows.iter().any(|r| r.action == "authenticate"
            && r.decision == "allow"
            && r.rhost == "tls-online"),
        "decided by iamd: {rows:?}"
    );
    let sent = std::fs::read(wire.join("to-iamd")).unwrap_or_default();
    let got = std::fs::read(wire.join("from-iamd")).unwrap_or_default();
    assert!(
        sent.len() > 1000 && got.len() > 1000,
        "the tap carried the login"
    );
    let has = |hay: &[u8], needle: &str| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
    for needle in [PASSWORD, now.as_str(), "/host/v1/login", "alice"] {
        assert!(
            !has(&sent, needle) && !has(&got, needle),
            "{needle:?} crossed the wire in clear"
        );
    }

    // ca_file names another CA: the handshake fails, logged with the server and why.
    let ca = f.tls.clone().unwrap().0;
    let other = tls::make_ca(&f.path("tls"), "other");
    reconfigure(
        &mut f.hosts[0],
        &format!("{:?}", ca.cert),
        &format!("{:?}", other.cert),
    );
    wait_log(
        &f.hosts[0],
        &format!(
            "https://127.0.0.1:{tap_port}: TLS handshake failed: its certificate is not signed by a CA in ca_file {}",
            other.cert.display()
        ),
    );
    wait_log(&f.hosts[0], "every server is down");
    // bob never logged in here: no offline material, denied offline.
    let out = login(&sb, "bob", &[PASSWORD, &totp::code(&bob, 0)], "bob-ca");
    assert_eq!(classify(&out), Login::Denied, "{out}");
    let log = sb.syslog();
    assert!(
        log.contains("authenticate deny user=\"bob\"") && log.contains("offline: "),
        "{log}"
    );
    // alice did: her fresh code gets her in, decided offline by the host.
    let out = login(&sb, "alice", &[PASSWORD, &next], "alice-ca");
    assert_eq!(
        classify(&out),
        Login::Allowed,
        "{out}\n{}",
        f.hosts[0].agent_log()
    );
    assert!(sb.syslog().contains("authenticate allow user=\"alice\""));

    // The right CA again, but the server's certificate is for another name.
    let wrong = tls::issue(&ca, &f.path("tls"), "wrong-name", "DNS:iamd.example.net");
    f.tls.as_mut().unwrap().1 = wrong;
    f.kill_iamd(0);
    f.restart_iamd(0);
    reconfigure(
        &mut f.hosts[0],
        &format!("{:?}", other.cert),
        &format!("{:?}", ca.cert),
    );
    wait_log(
        &f.hosts[0],
        &format!(
            "https://127.0.0.1:{tap_port}: TLS handshake failed: its certificate is not valid for \"127.0.0.1\""
        ),
    );
    let out = login(&sb, "bob", &[PASSWORD, &totp::code(&bob, 30)], "bob-name");
    assert_eq!(classify(&out), Login::Denied, "{out}");

    // The right name, but expired (signed by the right CA three days ago).
    let expired = tls::issue_backdated(&ca, &f.path("tls"), "expired", "IP:127.0.0.1", "-3d");
    f.tls.as_mut().unwrap().1 = expired;
    f.kill_iamd(0);
    f.restart_iamd(0);
    wait_log(
        &f.hosts[0],
        &format!("https://127.0.0.1:{tap_port}: TLS handshake failed: its certificate has expired"),
    );
    let out = login(
        &sb,
        "bob",
        &[PASSWORD, &totp::code(&bob, 60)],
        "bob-expired",
    );
    assert_eq!(classify(&out), Login::Denied, "{out}");

    // No refused server heard of these attempts: they never left the host (its
    // journal holds them).
    let rows = f.audit(Some("bob"));
    assert!(
        rows.iter().all(|r| !r.rhost.starts_with("bob-")),
        "{rows:?}"
    );
    assert!(
        f.audit(Some("alice")).iter().all(|r| r.rhost != "alice-ca"),
        "decided offline"
    );

    // A valid certificate again: the same agent is back online by itself, and bob's
    // login is decided by iamd (only the certificates were wrong).
    let good = tls::issue(&ca, &f.path("tls"), "iamd-again", "IP:127.0.0.1");
    f.tls.as_mut().unwrap().1 = good;
    let synced = f.hosts[0]
        .agent_log()
        .matches("replica at store version")
        .count();
    f.kill_iamd(0);
    f.restart_iamd(0);
    wait_until(Duration::from_secs(20), "the agent back online", || {
        f.hosts[0]
            .agent_log()
            .matches("replica at store version")
            .count()
            > synced
    });
    totp::wait_for_fresh_step(10);
    let out = login(&sb, "bob", &[PASSWORD, &totp::code(&bob, 0)], "online-bob");
    assert_eq!(
        classify(&out),
        Login::Allowed,
        "{out}\n{}",
        f.hosts[0].agent_log()
    );
    assert!(
        f.audit(Some("bob"))
            .iter()
            .any(|r| r.rhost == "online-bob" && r.decision == "allow"),
        "decided by iamd"
    );

    // Once online, the journal brings the host's offline decisions to the store.
    wait_until(Duration::from_secs(20), "the journal shipped", || {
        f.audit(Some("bob"))
            .iter()
            .any(|r| r.rhost == "bob-expired")
    });
    let rows = f.audit(Some("bob"));
    assert!(
        !rows
            .iter()
            .any(|r| r.rhost.starts_with("bob-") && r.decision == "allow"),
        "{rows:?}"
    );
}

/// Write `pem` as `path` (root, `mode`) by a rename, as an administrator's tools do.
fn put_ca(path: &std::path::Path, pem: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_extension("new");
    std::fs::copy(pem, &tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn a_changed_ca_file_is_read_again_without_a_restart_and_checked_again() {
    require_root!();
    let mut f = Fleet::start(Options {
        tls: true,
        sqlite: true,
        servers: 1,
        hosts: 1,
        ..Options::default()
    });
    // The host's own copy of the CA, as /etc/pam-iam/iamd-ca.pem would be.
    let ca = f.tls.clone().unwrap().0;
    let mine = f.hosts[0].dir.join("iamd-ca.pem");
    put_ca(&mine, &ca.cert, 0o644);
    reconfigure(
        &mut f.hosts[0],
        &format!("{:?}", ca.cert),
        &format!("{mine:?}"),
    );
    f.iam(&["create-user", "--user-name", "carol"]);
    wait_until(Duration::from_secs(20), "carol", || {
        f.hosts[0].has_user("carol")
    });

    // Another CA put in its place: the next connection is refused at the handshake,
    // without a restart, and nothing more reaches the replica.
    let other = tls::make_ca(&f.path("tls"), "other");
    put_ca(&mine, &other.cert, 0o644);
    f.iam(&["create-user", "--user-name", "dave"]);
    wait_log(
        &f.hosts[0],
        &format!(
            "ca_file {} changed: its CA certificates are used from now on",
            mine.display()
        ),
    );
    wait_log(
        &f.hosts[0],
        &format!(
            "TLS handshake failed: its certificate is not signed by a CA in ca_file {}",
            mine.display()
        ),
    );
    f.iam(&["create-user", "--user-name", "erin"]);
    std::thread::sleep(Duration::from_secs(4));
    assert!(!f.hosts[0].has_user("erin"), "{}", f.hosts[0].agent_log());

    // The right CA, but writable by others: refused when read, so still offline.
    put_ca(&mine, &ca.cert, 0o666);
    wait_log(
        &f.hosts[0],
        &format!(
            "ca_file changed and cannot be used: ca_file {} must be owned by uid 0 and writable by no one else",
            mine.display()
        ),
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(!f.hosts[0].has_user("erin"), "{}", f.hosts[0].agent_log());

    // Its mode put right (the same bytes): read again, and the agent is back.
    std::fs::set_permissions(&mine, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    wait_until(Duration::from_secs(20), "erin", || {
        f.hosts[0].has_user("erin")
    });
    assert!(f.hosts[0].has_user("dave"));
}
