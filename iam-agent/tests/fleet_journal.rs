//! The offline journal's limits on the whole fleet ([`fleet_harness`], a SQLite store,
//! real `iamd`, real `iam-agent`, pamtester, socat relays to partition one host):
//!
//! - the journal is bounded (agent.toml `journal_max_entries`): a warning from 80% of
//!   the bound on; at the bound an offline login is refused (the host fails closed) with
//!   a message to the user and a line in the agent's log, while online logins go on and
//!   shipping drains the journal, and the attempts refused while it was full reach the
//!   server's audit trail as one row per user;
//! - on a partition that drops packets (rather than refusing connections) a login with
//!   journal rows waiting costs no more than one without: it does not wait for the
//!   shipping thread, and servers known to be down get a short connection attempt; once
//!   the host is back, the journal still reaches the server before the login does, so a
//!   code used offline on this host is refused online.

#[path = "../../tests/support/mod.rs"]
mod support;

mod fleet_harness;

use fleet_harness::{AuditRow, Fleet, Host, Login, Options, classify, login, wait_until};
use std::time::Duration;
use support::sandbox::Sandbox;
use support::totp;

const PASSWORD: &str = "Correct-Horse-9-battery";

/// The `authenticate` rows of `user` on the store.
fn authenticate_rows(f: &Fleet, user: &str) -> Vec<AuditRow> {
    f.audit(Some(user))
        .into_iter()
        .filter(|r| r.action == "authenticate")
        .collect()
}

/// A SQLite fleet of one host and `servers` servers, offline logins on (1 hour), with
/// `extra` appended to the host's agent.toml, and alice (password + MFA) and bob
/// (password only) on its replica. `None` when the AWS CLI is absent outside CI.
fn fleet(servers: usize, extra: &str) -> Option<(Fleet, String)> {
    let mut f = Fleet::start(Options {
        hosts: 1,
        servers,
        sqlite: true,
        agents: false,
        offline_max_age: Some(3600),
        ..Options::default()
    });
    let h = &mut f.hosts[0];
    let mut toml = std::fs::read_to_string(&h.config).unwrap();
    toml.push_str(extra);
    std::fs::write(&h.config, toml).unwrap();
    h.start_agent();
    let alice = f.aws_mfa_user("alice", PASSWORD)?;
    f.aws_password_user("bob", PASSWORD)?;
    f.wait_all(Duration::from_secs(30), "alice and bob", |h| {
        h.has_user("alice") && h.has_user("bob") && h.serving()
    });
    Some((f, alice))
}

/// One value of the host's offline.db.
fn offline_count(h: &Host, sql: &str) -> i64 {
    let c = rusqlite::Connection::open(&h.offline).unwrap();
    c.execute_batch("PRAGMA busy_timeout = 5000").unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn a_full_journal_refuses_offline_logins_while_online_logins_go_on_and_drain_it() {
    require_root!();
    let Some((mut f, alice)) = fleet(1, "journal_max_entries = 5\n") else {
        return;
    };
    let sb = f.hosts[0].sandbox(&[("alice", 2001), ("bob", 2002)]);
    totp::wait_for_fresh_step(20);
    let step = support::now() / 30;
    let code_of = |s: i64| totp::code_at(&alice, s * 30);
    let out = login(&sb, "alice", &[PASSWORD, &code_of(step)], "online-1");
    assert_eq!(classify(&out), Login::Allowed, "{out}");

    // Cut off: bob (no material here) is denied three times, alice gets in with the next
    // step's code (the 4th row: 80% of 5, a warning), bob once more (the 5th: the bound).
    f.hosts[0].partition();
    for i in 0..3 {
        let out = login(&sb, "bob", &[PASSWORD, "000000"], &format!("bob-{i}"));
        assert_eq!(classify(&out), Login::Denied, "{out}");
    }
    let out = login(&sb, "alice", &[PASSWORD, &code_of(step + 1)], "off-alice");
    assert_eq!(classify(&out), Login::Allowed, "{out}");
    let log = f.hosts[0].agent_log();
    assert!(
        log.contains("warning: the offline journal holds 4 entries not yet shipped, 80%"),
        "{log}\n{} rows, config:\n{}",
        offline_count(&f.hosts[0], "SELECT count(*) FROM journal"),
        std::fs::read_to_string(&f.hosts[0].config).unwrap()
    );
    let out = login(&sb, "bob", &[PASSWORD, "000000"], "bob-3");
    assert_eq!(classify(&out), Login::Denied, "{out}");
    // Full: alice is refused offline, whatever she types, and told why.
    for tag in ["full-1", "full-2"] {
        let out = login(&sb, "alice", &[PASSWORD, &code_of(step + 1)], tag);
        assert_eq!(classify(&out), Login::Denied, "{out}");
        assert!(
            out.stderr.contains("its offline journal is full")
                || out.stdout.contains("its offline journal is full"),
            "the user is told: {out}"
        );
    }
    let log = f.hosts[0].agent_log();
    assert!(
        log.contains("offline login of \"alice\" refused: the offline journal holds 5 entries not yet shipped, its bound (journal_max_entries = 5)"),
        "{log}"
    );
    let h = &f.hosts[0];
    assert_eq!(offline_count(h, "SELECT count(*) FROM journal"), 5);
    assert_eq!(
        offline_count(
            h,
            "SELECT attempts FROM journal_overflow WHERE user = 'alice'"
        ),
        2
    );
    assert!(
        authenticate_rows(&f, "bob").is_empty(),
        "nothing arrived yet"
    );

    // Back online: a login is decided by iamd (the code of the step spent offline is
    // refused: the journal went first), the journal drains, and the two refusals
    // arrive as one row for alice.
    f.hosts[0].reconnect();
    let out = login(&sb, "alice", &[PASSWORD, &code_of(step + 1)], "online-2");
    assert_eq!(classify(&out), Login::Denied, "spent offline: {out}");
    wait_until(Duration::from_secs(60), "the journal and its count", || {
        authenticate_rows(&f, "alice")
            .iter()
            .any(|r| r.reason.contains("2 login attempt(s)"))
    });
    let bob = authenticate_rows(&f, "bob");
    let tags: Vec<&str> = bob.iter().map(|r| r.rhost.as_str()).collect();
    assert_eq!(tags, ["bob-0", "bob-1", "bob-2", "bob-3"], "{bob:?}");
    let alice_rows = authenticate_rows(&f, "alice");
    let full = alice_rows
        .iter()
        .find(|r| r.reason.contains("2 login attempt(s)"))
        .unwrap();
    assert_eq!(full.decision, "deny", "{full:?}");
    assert!(
        full.reason.contains("host/web-01") && full.reason.contains("journal was full"),
        "{full:?}"
    );
    assert!(
        alice_rows
            .iter()
            .any(|r| r.rhost == "off-alice" && r.decision == "allow"),
        "{alice_rows:?}"
    );
    wait_until(Duration::from_secs(30), "nothing left to ship", || {
        offline_count(
            &f.hosts[0],
            "SELECT count(*) FROM journal WHERE shipped = 0",
        ) == 0
    });
    // Room again: alice gets in offline with a fresh code (a step above the one spent).
    while support::now() / 30 < step + 2 {
        std::thread::sleep(Duration::from_millis(200));
    }
    f.hosts[0].partition();
    let out = login(
        &sb,
        "alice",
        &[PASSWORD, &totp::code(&alice, 0)],
        "off-again",
    );
    assert_eq!(
        classify(&out),
        Login::Allowed,
        "{out}\n{}",
        f.hosts[0].agent_log()
    );
}

#[test]
fn a_login_on_a_partition_that_drops_packets_does_not_wait_for_the_journal() {
    require_root!();
    let Some((mut f, alice)) = fleet(2, "") else {
        return;
    };
    let sb: Sandbox = f.hosts[0].sandbox(&[("alice", 2001), ("bob", 2002)]);
    totp::wait_for_fresh_step(20);
    let step = support::now() / 30;
    let code_of = |s: i64| totp::code_at(&alice, s * 30);
    let out = login(&sb, "alice", &[PASSWORD, &code_of(step)], "online");
    assert_eq!(classify(&out), Login::Allowed, "{out}");

    // Both servers behind a partition that drops SYNs; the sync loop finds it out.
    f.hosts[0].drop_packets();
    wait_until(
        Duration::from_secs(30),
        "the agent to see the servers down",
        || f.hosts[0].agent_log().contains("every server is down"),
    );
    let out = login(&sb, "alice", &[PASSWORD, &code_of(step + 1)], "off-alice");
    assert_eq!(
        classify(&out),
        Login::Allowed,
        "{out}\n{}",
        f.hosts[0].agent_log()
    );
    // Journal rows wait: each of bob's logins (no material: denied, no delay) takes
    // about one short connection attempt per server per call, no shipping wait.
    let mut took = Vec::new();
    for i in 0..5 {
        let out = login(&sb, "bob", &[PASSWORD, "000000"], &format!("bob-{i}"));
        assert_eq!(classify(&out), Login::Denied, "{out}");
        took.push(out.elapsed);
    }
    took.sort();
    println!("logins on a dropping partition with journal rows waiting: {took:?}");
    assert!(
        took[2] < Duration::from_secs(5),
        "median {:?} (before: one shipping attempt of up to 3 s and 2 s per server per call): {took:?}\n{}",
        took[2],
        f.hosts[0].agent_log()
    );
    assert!(
        authenticate_rows(&f, "bob").is_empty(),
        "nothing reached the store"
    );
    // Back: the first login sends the journal to its server before itself, so the code
    // alice used offline here is refused online at once, and the next step's passes.
    f.hosts[0].reconnect();
    let out = login(&sb, "alice", &[PASSWORD, &code_of(step + 1)], "replayed");
    assert_eq!(
        classify(&out),
        Login::Denied,
        "{out}\n{}",
        f.hosts[0].agent_log()
    );
    let rows = authenticate_rows(&f, "alice");
    assert!(
        rows.iter()
            .any(|r| r.rhost == "off-alice" && r.decision == "allow"),
        "the journal arrived: {rows:?}"
    );
    // A step above the one spent offline.
    while support::now() / 30 < step + 2 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = login(&sb, "alice", &[PASSWORD, &totp::code(&alice, 0)], "fresh");
    assert_eq!(classify(&out), Login::Allowed, "{out}");
}
