//! An agent restarted resumes from the replica it kept (migration 18, `replica_origin`),
//! with the real programs ([`fleet_harness`]: `iamd` on a SQLite store, a host with its
//! `iam-agent`, relays, replica, offline state; pamtester). Proves: the first pull after
//! a restart is a delta from the version kept (its bytes against the whole view's), and
//! `account` decides on what changed while the agent was down; a replica pulled for
//! another host (the credentials replaced) is emptied at the start, before anything is
//! decided on it, even with the server unreachable, and the whole view is pulled once
//! it is back; a replica naming another store gets the whole view; a restart while
//! `iamd` is down keeps the last sync of before the restart, so offline logins are
//! allowed within `offline_max_age` of it and denied past it, and the pull once `iamd`
//! is back is a delta.

#[path = "../../tests/support/mod.rs"]
mod support;

mod fleet_harness;

use fleet_harness::{Fleet, Host, Login, Options, classify, login, wait_until};
use std::time::Duration;
use support::totp;

const PASSWORD: &str = "Correct-Horse-9-battery";

fn one_host(offline_max_age: Option<i64>) -> Fleet {
    Fleet::start(Options {
        hosts: 1,
        servers: 1,
        sqlite: true,
        offline_max_age,
        ..Options::default()
    })
}

/// The agent's log after byte `from`.
fn log_since(h: &Host, from: usize) -> String {
    h.agent_log().get(from..).unwrap_or_default().to_string()
}

/// The first "replica at store version" line logged after byte `from` (waited for).
fn sync_line(h: &Host, from: usize) -> String {
    wait_until(Duration::from_secs(30), "a sync logged", || {
        log_since(h, from).contains("iam-agent: replica at store version")
    });
    log_since(h, from)
        .lines()
        .find(|l| l.starts_with("iam-agent: replica at store version"))
        .unwrap()
        .to_string()
}

/// The byte count a sync line ends with (`…, N bytes)`).
fn bytes_of(line: &str) -> usize {
    let head = line.rsplit_once(" bytes)").map_or("", |(h, _)| h);
    head.rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no byte count in {line:?}"))
}

fn last_sync(h: &Host) -> i64 {
    rusqlite::Connection::open(&h.offline)
        .unwrap()
        .query_row("SELECT value FROM meta WHERE key = 'last_sync'", [], |r| {
            r.get(0)
        })
        .unwrap()
}

fn in_web(h: &Host, user: &str) -> bool {
    h.replica_has(&format!(
        "SELECT count(*) FROM group_members m JOIN users u ON u.pk = m.user_pk WHERE u.name = '{user}'"
    ))
}

#[test]
fn a_restarted_agent_resumes_with_a_delta_and_decides_on_what_changed_while_it_was_down() {
    require_root!();
    let mut f = one_host(None);
    if f.aws_password_user("alice", PASSWORD).is_none() {
        return;
    }
    f.aws_password_user("bob", PASSWORD).unwrap();
    // A store of some size, so a delta and the whole view differ.
    for i in 0..40 {
        f.iam(&["create-user", "--user-name", &format!("filler{i:02}")]);
    }
    let h = &f.hosts[0];
    wait_until(Duration::from_secs(30), "the users", || {
        h.has_user("filler39") && in_web(h, "bob") && h.serving()
    });
    let sb = h.sandbox(&[("alice", 2001), ("bob", 2002), ("carol", 2003)]);
    for u in ["alice", "bob"] {
        let out = login(&sb, u, &[PASSWORD], &format!("{u}-before"));
        assert_eq!(classify(&out), Login::Allowed, "{out}\n{}", h.agent_log());
    }

    f.hosts[0].stop_agent();
    let kept = f.hosts[0].replica_version().unwrap();
    // While the agent is down: carol joins, bob leaves the group that may log in.
    f.aws_password_user("carol", PASSWORD).unwrap();
    f.aws_ok(
        0,
        &[
            "iam",
            "remove-user-from-group",
            "--group-name",
            "web",
            "--user-name",
            "bob",
        ],
    )
    .unwrap();
    let from = f.hosts[0].agent_log().len();
    f.hosts[0].start_agent();
    let h = &f.hosts[0];
    let line = sync_line(h, from);
    let after = log_since(h, from);
    assert!(
        after.contains(&format!(
            "resuming from the replica at store version {kept} of store "
        )),
        "{after}"
    );
    assert!(
        line.contains(&format!("(delta from {kept}:")),
        "the first pull after the restart is a delta: {line}\n{after}"
    );
    let delta = bytes_of(&line);
    // The whole view at that version: what a new host's first pull brings.
    let mut other = f.add_host("web-02");
    other.start_agent();
    let full = bytes_of(&sync_line(&other, 0));
    eprintln!("after a restart: a delta of {delta} bytes; the whole view is {full} bytes");
    assert!(delta < full, "{delta} bytes vs {full}");
    let h = &f.hosts[0];
    wait_until(Duration::from_secs(10), "the delta applied", || {
        h.has_user("carol") && in_web(h, "carol") && !in_web(h, "bob") && h.serving()
    });
    let out = login(&sb, "carol", &[PASSWORD], "carol-after");
    assert_eq!(classify(&out), Login::Allowed, "{out}\n{}", h.agent_log());
    let out = login(&sb, "bob", &[PASSWORD], "bob-after");
    assert_eq!(classify(&out), Login::Denied, "bob left the group: {out}");
    let out = login(&sb, "alice", &[PASSWORD], "alice-after");
    assert_eq!(classify(&out), Login::Allowed, "{out}");
}

#[test]
fn a_replica_of_another_host_is_emptied_at_the_start_and_one_of_another_store_replaced() {
    require_root!();
    let mut f = one_host(Some(3600));
    if f.aws_password_user("alice", PASSWORD).is_none() {
        return;
    }
    f.iam(&[
        "tag-host",
        "--host-name",
        "web-09",
        "--tags",
        "Key=renamed,Value=yes",
    ]);
    let h = &f.hosts[0];
    wait_until(Duration::from_secs(30), "alice", || {
        h.has_user("alice") && h.serving()
    });
    let sb = h.sandbox(&[("alice", 2001)]);
    let out = login(&sb, "alice", &[PASSWORD], "online");
    assert_eq!(classify(&out), Login::Allowed, "{out}");

    // The host renamed web-09 (its credentials replaced) while cut off from iamd.
    f.hosts[0].stop_agent();
    f.hosts[0].partition();
    let fresh = f.hosts[0].dir.join("web-09.json");
    f.iam(&[
        "create-host-credentials",
        "--host-name",
        "web-09",
        "--credentials-file",
        fresh.to_str().unwrap(),
    ]);
    std::fs::rename(&fresh, &f.hosts[0].credentials).unwrap();
    let from = f.hosts[0].agent_log().len();
    f.hosts[0].start_agent();
    let h = &f.hosts[0];
    wait_until(Duration::from_secs(30), "the start offline", || {
        log_since(h, from).contains("every server is down") && h.serving()
    });
    let after = log_since(h, from);
    assert!(
        after.contains("discarded the kept replica")
            && after.contains(
                "the replica is of host web-01, and this host's credentials are for web-09"
            ),
        "{after}"
    );
    assert!(!h.has_user("alice"), "nothing of web-01's view is kept");
    assert_eq!(h.replica_version(), Some(0));
    let out = login(&sb, "alice", &[PASSWORD], "renamed-offline");
    assert_eq!(classify(&out), Login::Denied, "{out}");
    // Back online: the whole view, of web-09.
    f.hosts[0].reconnect();
    let h = &f.hosts[0];
    let line = sync_line(h, from);
    assert!(line.contains("(whole view,"), "{line}");
    wait_until(Duration::from_secs(10), "web-09's view", || {
        h.has_user("alice")
            && h.replica_has("SELECT count(*) FROM host_tags WHERE host = 'web-09'")
            && h.replica_has("SELECT count(*) FROM replica_origin WHERE host = 'web-09'")
    });

    // A replica naming another store than the server's (as one pulled from another
    // store would): the server answers the whole view, and the agent says so.
    f.hosts[0].stop_agent();
    let real: String = f.hosts[0]
        .query("SELECT store_id FROM replica_origin", |r| r.get(0))
        .unwrap();
    rusqlite::Connection::open(&f.hosts[0].replica)
        .unwrap()
        .execute("UPDATE replica_origin SET store_id = 'another'", [])
        .unwrap();
    let from = f.hosts[0].agent_log().len();
    f.hosts[0].start_agent();
    let h = &f.hosts[0];
    let line = sync_line(h, from);
    let after = log_since(h, from);
    assert!(line.contains("(whole view,"), "{line}\n{after}");
    assert!(
        after.contains(&format!(
            "is of store {real}, the replica was of store another: the whole view replaces it"
        )),
        "{after}"
    );
    let now: String = h
        .query("SELECT store_id FROM replica_origin", |r| r.get(0))
        .unwrap();
    assert_eq!(now, real);
}

#[test]
fn a_restart_while_iamd_is_down_keeps_the_last_sync_and_the_offline_rules_honest() {
    require_root!();
    let max_age = 600;
    let mut f = one_host(Some(max_age));
    let Some(seed) = f.aws_mfa_user("alice", PASSWORD) else {
        return;
    };
    let h = &f.hosts[0];
    wait_until(Duration::from_secs(30), "alice", || {
        h.has_user("alice") && h.serving()
    });
    let sb = h.sandbox(&[("alice", 2001)]);
    totp::wait_for_fresh_step(20);
    let step = support::now() / 30;
    let code_of = |s: i64| totp::code_at(&seed, s * 30);
    let out = login(&sb, "alice", &[PASSWORD, &code_of(step)], "online");
    assert_eq!(classify(&out), Login::Allowed, "{out}");

    // iamd down, and the agent restarted: it resumes, and its last sync is the one of
    // before the restart.
    f.hosts[0].stop_agent();
    f.kill_iamd(0);
    let synced = last_sync(&f.hosts[0]);
    let kept = f.hosts[0].replica_version().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let from = f.hosts[0].agent_log().len();
    f.hosts[0].start_agent();
    let h = &f.hosts[0];
    wait_until(Duration::from_secs(30), "the start offline", || {
        log_since(h, from).contains("every server is down") && h.serving()
    });
    let after = log_since(h, from);
    assert!(
        after.contains(&format!(
            "resuming from the replica at store version {kept}"
        )),
        "{after}"
    );
    assert_eq!(last_sync(h), synced, "a restart is no sync");
    let out = login(&sb, "alice", &[PASSWORD, &code_of(step + 1)], "offline");
    assert_eq!(
        classify(&out),
        Login::Allowed,
        "{out}\n{}\n{}",
        sb.syslog(),
        h.agent_log()
    );
    assert!(sb.syslog().contains("offline: "), "{}", sb.syslog());

    // The last sync older than offline_max_age (the host cut off that long), the agent
    // restarted again: denied, saying why; a restart does not make it young.
    f.hosts[0].stop_agent();
    rusqlite::Connection::open(&f.hosts[0].offline)
        .unwrap()
        .execute(
            "UPDATE meta SET value = ?1 WHERE key = 'last_sync'",
            [support::now() - max_age - 60],
        )
        .unwrap();
    let from = f.hosts[0].agent_log().len();
    f.hosts[0].start_agent();
    let h = &f.hosts[0];
    wait_until(Duration::from_secs(30), "the second start offline", || {
        log_since(h, from).contains("every server is down") && h.serving()
    });
    let out = login(&sb, "alice", &[PASSWORD, &code_of(step + 2)], "stale");
    assert_eq!(classify(&out), Login::Denied, "{out}");
    assert!(
        sb.syslog()
            .contains("the replica is older than offline_max_age"),
        "{}",
        sb.syslog()
    );
    // A clock earlier than the last sync: denied too, after a restart as before.
    f.hosts[0].stop_agent();
    rusqlite::Connection::open(&f.hosts[0].offline)
        .unwrap()
        .execute(
            "UPDATE meta SET value = ?1 WHERE key = 'last_sync'",
            [support::now() + 3600],
        )
        .unwrap();
    let from = f.hosts[0].agent_log().len();
    f.hosts[0].start_agent();
    let h = &f.hosts[0];
    wait_until(Duration::from_secs(30), "the third start offline", || {
        log_since(h, from).contains("every server is down") && h.serving()
    });
    let out = login(&sb, "alice", &[PASSWORD, &code_of(step + 2)], "clock");
    assert_eq!(classify(&out), Login::Denied, "{out}");
    assert!(
        sb.syslog().contains("is earlier than the last sync"),
        "{}",
        sb.syslog()
    );

    // iamd back: the first answered pull is a delta from the version kept.
    f.restart_iamd(0);
    let h = &f.hosts[0];
    let line = sync_line(h, from);
    assert!(
        line.contains(&format!("(delta from {kept}:")),
        "{line}\n{}",
        h.agent_log()
    );
}
