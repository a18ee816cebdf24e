//! Logins in agent mode on the whole fleet ([`fleet_harness`]: PostgreSQL primary +
//! synchronous standby, two `iamd`, hosts with their own `iam-agent`, socket, replica,
//! credentials and socat relays): `pam_iam.so` → agent → `iamd` → PostgreSQL, with
//! pamtester per host and the real sshd + ssh client on two hosts.
//!
//! Online, proves: a user the AWS CLI created logs into two hosts (pamtester and ssh,
//! password + code); a code used on one host is refused on the other; a revoked host
//! credential is refused while the other host goes on; a server's error answer (its
//! store down) is final, never decided offline; with the PostgreSQL primary killed (-9),
//! the standby promoted and one `iamd` killed while logins run on both hosts, no
//! decision is wrong and every decided attempt has its audit row on the promoted store.
//!
//! Offline (a partitioned host), proves: a user who logged in there before gets in with
//! password + a fresh code, one who never did is denied, a replayed code is refused
//! locally; on reconnect the journal arrives and a code accepted offline on two hosts
//! is a replay incident; a replica older than `offline_max_age` denies; failures
//! counted offline reach the fleet lockout, shipped by an agent restarted while cut
//! off, and a journal shipped again (its acknowledgment lost) adds no row.

#[path = "../../tests/support/mod.rs"]
mod support;

mod fleet_harness;

use fleet_harness::{AuditRow, Fleet, Login, Options, classify, login, wait_until};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
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

/// One sandbox per host with the Linux accounts `users`.
fn sandboxes(f: &Fleet, users: &[(&str, u32)]) -> Vec<Sandbox> {
    f.hosts.iter().map(|h| h.sandbox(users)).collect()
}

#[test]
fn an_aws_cli_user_logs_into_two_hosts_and_a_code_counts_once_across_the_fleet() {
    require_root!();
    let f = Fleet::start(Options::default());
    let Some(alice) = f.aws_mfa_user("alice", PASSWORD) else {
        return;
    };
    let bob = f.aws_mfa_user("bob", PASSWORD).unwrap();
    f.wait_all(Duration::from_secs(20), "alice and bob", |h| {
        h.has_user("alice") && h.has_user("bob") && h.serving()
    });
    let (a, b) = (&f.hosts[0], &f.hosts[1]);
    let boxes = sandboxes(&f, &[("alice", 2001), ("bob", 2002)]);
    let (sa, sb) = (&boxes[0], &boxes[1]);

    // pamtester: alice on web-01 with this step's code; the same code on web-02 is a
    // replay, refused by the server; the next step's code on web-02 gets her in.
    totp::wait_for_fresh_step(20);
    let (now, next) = totp::code_pair(&alice, 0);
    let out = login(sa, "alice", &[PASSWORD, &now], "a1");
    assert_eq!(classify(&out), Login::Allowed, "{out}\n{}", a.agent_log());
    let out = login(sb, "alice", &[PASSWORD, &now], "a2");
    assert_eq!(classify(&out), Login::Denied, "a replayed code: {out}");
    let out = login(sb, "alice", &[PASSWORD, &next], "a3");
    assert_eq!(classify(&out), Login::Allowed, "{out}\n{}", b.agent_log());
    let out = login(sa, "alice", &["wrong-password", &next], "a4");
    assert_eq!(classify(&out), Login::Denied, "a wrong password: {out}");

    // The real sshd and ssh client: bob on both hosts, one code each.
    let (bnow, bnext) = totp::code_pair(&bob, 0);
    for (sandbox, code) in [(sa, &bnow), (sb, &bnext)] {
        let sshd = sandbox.start_sshd("AuthenticationMethods keyboard-interactive");
        let l = sshd.login(
            "bob",
            &[("Password:", PASSWORD), ("Verification code:", code)],
            &[],
        );
        assert!(l.ok(), "{l}\n{}", sshd.log());
        assert!(l.out.stdout.contains("LOGIN-OK bob"), "{l}");
    }
    // bob's code of web-01 over ssh again on web-02: a replay there too.
    let sshd = sb.start_sshd("AuthenticationMethods keyboard-interactive");
    let l = sshd.login(
        "bob",
        &[("Password:", PASSWORD), ("Verification code:", &bnow)],
        &[],
    );
    assert!(!l.ok(), "a replayed code over ssh: {l}");

    // Every decision is on the store's audit trail, attributed to its host by the
    // server (never by a field the host sends), tagged with the attempt.
    let rows = authenticate_rows(&f, "alice");
    let got: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r.rhost.as_str(), r.decision.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(got.len(), 4, "{rows:?}");
    assert!(
        got[0].0 == "a1" && got[0].1 == "allow" && got[0].2.starts_with("host/web-01: "),
        "{rows:?}"
    );
    assert_eq!(
        got[1],
        (
            "a2",
            "deny",
            "host/web-02: verification code already used (replay)"
        ),
        "{rows:?}"
    );
    assert!(
        got[2].0 == "a3" && got[2].1 == "allow" && got[2].2.starts_with("host/web-02: "),
        "{rows:?}"
    );
    assert!(
        got[3].0 == "a4" && got[3].1 == "deny" && got[3].2.starts_with("host/web-01: "),
        "{rows:?}"
    );
    let bob_rows = authenticate_rows(&f, "bob");
    let decisions: Vec<&str> = bob_rows.iter().map(|r| r.decision.as_str()).collect();
    assert_eq!(decisions, ["allow", "allow", "deny"], "{bob_rows:?}");
    assert!(
        bob_rows[0].reason.starts_with("host/web-01: ")
            && bob_rows[1].reason.starts_with("host/web-02: ")
            && bob_rows[2].reason.ends_with("(replay)"),
        "{bob_rows:?}"
    );
}

#[test]
fn a_revoked_host_is_refused_and_a_server_error_answer_is_never_decided_offline() {
    require_root!();
    let f = Fleet::start(Options::default());
    if f.aws_password_user("erin", PASSWORD).is_none() {
        return;
    }
    f.wait_all(Duration::from_secs(20), "erin", |h| {
        h.has_user("erin") && h.serving()
    });
    let boxes = sandboxes(&f, &[("erin", 2005)]);
    for (i, sb) in boxes.iter().enumerate() {
        let out = login(sb, "erin", &[PASSWORD], &format!("before-{i}"));
        assert_eq!(classify(&out), Login::Allowed, "{out}");
    }

    // web-01's host credential deleted at the server: its logins are refused (an answer,
    // HTTP 403, so final: not decided offline); web-02 goes on.
    f.iam(&["delete-host-credentials", "--host-name", "web-01"]);
    let out = login(&boxes[0], "erin", &[PASSWORD], "revoked");
    assert_eq!(classify(&out), Login::Unavailable, "{out}");
    let log = boxes[0].syslog();
    assert!(
        log.contains("authenticate error user=\"erin\"") && log.contains("InvalidClientTokenId"),
        "{log}"
    );
    assert!(!log.contains("offline"), "never decided offline: {log}");
    let out = login(&boxes[1], "erin", &[PASSWORD], "still-trusted");
    assert_eq!(classify(&out), Login::Allowed, "{out}");
    // The refusal is on the server's trail, and no login row came from web-01.
    let all = f.audit(None);
    assert!(
        all.iter()
            .any(|r| r.action.starts_with("host:") && r.decision == "deny"),
        "{all:?}"
    );
    assert!(
        !authenticate_rows(&f, "erin")
            .iter()
            .any(|r| r.rhost == "revoked"),
        "{all:?}"
    );

    // The store down (primary killed, the standby not yet promoted): both iamd answer
    // with an error (HTTP 5xx). That is an answer, so final: the login is undecided,
    // never handed to the offline rules (which would deny or, with material, allow).
    f.kill_primary();
    let out = login(&boxes[1], "erin", &[PASSWORD], "store-down");
    assert_eq!(classify(&out), Login::Unavailable, "{out}");
    let log = boxes[1].syslog();
    assert!(
        log.contains("authenticate error user=\"erin\"") && log.contains("HTTP 5"),
        "a server error is an error, final: {log}"
    );
    assert!(!log.contains("offline"), "never decided offline: {log}");
    assert!(
        f.hosts[1].agent_log().contains("answered HTTP 5"),
        "{}",
        f.hosts[1].agent_log()
    );

    // The standby promoted: logins are decided again, by the servers.
    f.promote_standby();
    let mut n = 0;
    wait_until(
        Duration::from_secs(60),
        "a login after the promotion",
        || {
            n += 1;
            let out = login(&boxes[1], "erin", &[PASSWORD], &format!("promoted-{n}"));
            let got = classify(&out);
            assert_ne!(got, Login::Denied, "the right password refused: {out}");
            got == Login::Allowed
        },
    );
    assert!(!boxes[1].syslog().contains("offline"));
}

/// One login attempt of the concurrent run.
#[derive(Debug)]
struct Attempt {
    tag: String,
    right: bool,
    got: Login,
}

#[test]
fn logins_through_a_primary_kill_and_an_iamd_kill_are_never_wrong_and_all_audited() {
    require_root!();
    let mut f = Fleet::start(Options::default());
    // dave: password only (a code allows one login per step, fleet-wide).
    if f.aws_password_user("dave", PASSWORD).is_none() {
        return;
    }
    f.wait_all(Duration::from_secs(20), "dave", |h| {
        h.has_user("dave") && h.serving()
    });
    let boxes = sandboxes(&f, &[("dave", 2004)]);
    let attempts: Mutex<Vec<Attempt>> = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    let decided = || {
        attempts
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.got != Login::Unavailable)
            .count()
    };
    let t0 = Instant::now();
    let mut events = Vec::new();
    std::thread::scope(|s| {
        // Each host logs dave in, one attempt after another, until told to stop: two of
        // three with his password, the third with a wrong one.
        for (h, sb) in boxes.iter().enumerate() {
            let (attempts, stop) = (&attempts, &stop);
            s.spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let right = i % 3 != 2;
                    let pw = if right { PASSWORD } else { "not-his-password" };
                    let tag = format!("h{h}-{i}");
                    let out = login(sb, "dave", &[pw], &tag);
                    let got = classify(&out);
                    if (right && got == Login::Denied) || (!right && got == Login::Allowed) {
                        eprintln!("WRONG {tag}: {out}");
                    }
                    attempts.lock().unwrap().push(Attempt { tag, right, got });
                    i += 1;
                }
            });
        }
        // Four more attempts decided, then the next blow, while the logins go on.
        let more_decided = |what: &str| {
            let before = decided();
            wait_until(
                Duration::from_secs(120),
                &format!("4 decided logins before {what}"),
                || decided() >= before + 4,
            );
        };
        let mut at =
            |what: &str| events.push(format!("{:>5.1} s {what}", t0.elapsed().as_secs_f64()));
        more_decided("the primary's kill");
        f.kill_primary();
        at("primary killed (-9)");
        std::thread::sleep(Duration::from_secs(2));
        f.promote_standby();
        at("standby promoted");
        more_decided("the kill of iamd #0");
        f.kill_iamd(0);
        at("iamd #0 killed (-9)");
        more_decided("the end of the run");
        more_decided("the end of the run");
        at("end");
        stop.store(true, Ordering::SeqCst);
    });
    let attempts = attempts.into_inner().unwrap();
    eprintln!("{}", events.join("\n"));
    for a in &attempts {
        eprintln!(
            "{} ({}): {:?}",
            a.tag,
            if a.right { "right" } else { "wrong" },
            a.got
        );
    }
    // Never wrong: a wrong password is never let in, the right one never refused as
    // wrong; the outage may only leave a login undecided.
    let wrong: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| (a.right && a.got == Login::Denied) || (!a.right && a.got == Login::Allowed))
        .collect();
    assert!(wrong.is_empty(), "wrong decisions: {wrong:?}");
    // After the outage every login decides again.
    let last: Vec<&Attempt> = attempts.iter().rev().take(4).collect();
    assert!(last.iter().all(|a| a.got != Login::Unavailable), "{last:?}");

    // Every decided attempt has its audit row on the promoted store, with its decision;
    // no row belongs to no attempt. (An attempt whose answer died with the killed iamd
    // is retried on the other one by the agent: two rows, both the same decision.)
    let rows = authenticate_rows(&f, "dave");
    let mut lost = Vec::new();
    let mut retried = 0;
    for a in &attempts {
        let mine: Vec<&AuditRow> = rows.iter().filter(|r| r.rhost == a.tag).collect();
        let want = match a.got {
            Login::Allowed => "allow",
            Login::Denied => "deny",
            Login::Unavailable => {
                assert!(mine.len() <= 1, "{a:?}: {mine:?}");
                continue;
            }
        };
        if mine.is_empty() {
            lost.push(&a.tag);
        }
        assert!(mine.iter().all(|r| r.decision == want), "{a:?}: {mine:?}");
        retried += usize::from(mine.len() > 1);
    }
    assert!(
        lost.is_empty(),
        "decided attempts without an audit row: {lost:?}"
    );
    for r in &rows {
        assert!(
            attempts.iter().any(|a| a.tag == r.rhost),
            "a row of no attempt: {r:?}"
        );
    }
    let undecided = attempts
        .iter()
        .filter(|a| a.got == Login::Unavailable)
        .count();
    eprintln!(
        "{} attempts: {} decided, {undecided} undecided, 0 wrong, 0 lost audit rows, {retried} retried",
        attempts.len(),
        attempts.len() - undecided
    );
}

/// The offline cases' fleet: agents with their own offline state and `offline_max_age`,
/// and `user` (password + MFA, made with the AWS CLI) on every replica. `None` when the
/// AWS CLI is absent outside CI.
fn offline_fleet(max_age: i64, users: &[&str]) -> Option<(Fleet, Vec<String>)> {
    let f = Fleet::start(Options {
        offline_max_age: Some(max_age),
        ..Options::default()
    });
    let mut seeds = Vec::new();
    for u in users {
        seeds.push(f.aws_mfa_user(u, PASSWORD)?);
    }
    f.wait_all(Duration::from_secs(20), "the users", |h| {
        users.iter().all(|u| h.has_user(u)) && h.serving()
    });
    Some((f, seeds))
}

#[test]
fn a_partitioned_host_lets_in_only_who_logged_in_there_before_with_a_fresh_code() {
    require_root!();
    let Some((mut f, seeds)) = offline_fleet(3600, &["alice", "bob"]) else {
        return;
    };
    let (alice, bob) = (&seeds[0], &seeds[1]);
    let boxes = sandboxes(&f, &[("alice", 2001), ("bob", 2002)]);
    // Online: alice on web-01 (the server hands web-01 her offline material), bob on
    // web-02 only.
    totp::wait_for_fresh_step(20);
    let (now, next) = totp::code_pair(alice, 0);
    let out = login(&boxes[0], "alice", &[PASSWORD, &now], "online");
    assert_eq!(classify(&out), Login::Allowed, "{out}");
    let out = login(
        &boxes[1],
        "bob",
        &[PASSWORD, &totp::code(bob, 0)],
        "bob-online",
    );
    assert_eq!(classify(&out), Login::Allowed, "{out}");

    f.hosts[0].partition();
    // The code already spent online is refused offline (the last-synced watermark).
    let out = login(&boxes[0], "alice", &[PASSWORD, &now], "spent");
    assert_eq!(classify(&out), Login::Denied, "{out}");
    // A fresh code: in, decided offline (and `account` sees pam-iam:Offline = true).
    let out = login(&boxes[0], "alice", &[PASSWORD, &next], "fresh");
    assert_eq!(
        classify(&out),
        Login::Allowed,
        "{out}\n{}\n{}",
        boxes[0].syslog(),
        f.hosts[0].agent_log()
    );
    let log = boxes[0].syslog();
    assert!(
        log.contains("authenticate allow user=\"alice\"") && log.contains("offline: "),
        "{log}"
    );
    // The same code again: a replay, refused locally (the local watermark).
    let out = login(&boxes[0], "alice", &[PASSWORD, &next], "replayed");
    assert_eq!(classify(&out), Login::Denied, "{out}");
    // A wrong password with a code of a step still unused: refused.
    let later = totp::code(alice, 60);
    let out = login(&boxes[0], "alice", &["not-her-password", &later], "wrong");
    assert_eq!(classify(&out), Login::Denied, "{out}");
    // bob never logged in on web-01: no material there, denied.
    let out = login(&boxes[0], "bob", &[PASSWORD, &totp::code(bob, 30)], "bob");
    assert_eq!(classify(&out), Login::Denied, "{out}");
    let log = boxes[0].syslog();
    assert!(
        log.contains("authenticate deny user=\"bob\"") && log.contains("offline: "),
        "{log}"
    );
    // Nothing of this reached the store while web-01 was cut off.
    assert!(
        authenticate_rows(&f, "alice")
            .iter()
            .all(|r| r.rhost == "online"),
        "{:?}",
        f.audit(Some("alice"))
    );
}

#[test]
fn on_reconnect_the_journal_arrives_and_a_code_accepted_offline_on_two_hosts_is_a_replay_incident()
{
    require_root!();
    let Some((mut f, seeds)) = offline_fleet(3600, &["alice"]) else {
        return;
    };
    let alice = &seeds[0];
    let boxes = sandboxes(&f, &[("alice", 2001)]);
    // Online on both hosts (material on both), steps s and s+1.
    totp::wait_for_fresh_step(20);
    let (now, next) = totp::code_pair(alice, 0);
    for (sb, code, tag) in [
        (&boxes[0], &now, "online-1"),
        (&boxes[1], &next, "online-2"),
    ] {
        let out = login(sb, "alice", &[PASSWORD, code], tag);
        assert_eq!(classify(&out), Login::Allowed, "{out}");
    }
    // Both hosts cut off; in the next step, the one code of step s+2 accepted offline on
    // each (each host's watermark alone cannot see the other's use).
    for h in &mut f.hosts {
        h.partition();
    }
    std::thread::sleep(Duration::from_secs(totp::seconds_left() + 1));
    let code = totp::code(alice, 30);
    for (i, sb) in boxes.iter().enumerate() {
        let out = login(sb, "alice", &[PASSWORD, &code], &format!("offline-{i}"));
        assert_eq!(
            classify(&out),
            Login::Allowed,
            "{out}\n{}",
            f.hosts[i].agent_log()
        );
    }
    // Reconnect: each journal arrives (in order, once), and the step used on both hosts
    // is a replay incident naming both.
    for h in &mut f.hosts {
        h.reconnect();
    }
    wait_until(
        Duration::from_secs(60),
        "both journals on the store",
        || {
            let rows = authenticate_rows(&f, "alice");
            ["offline-0", "offline-1"]
                .iter()
                .all(|t| rows.iter().filter(|r| r.rhost == *t).count() == 1)
        },
    );
    for r in authenticate_rows(&f, "alice")
        .iter()
        .filter(|r| r.rhost.starts_with("offline-"))
    {
        assert_eq!(r.decision, "allow", "{r:?}");
        assert!(r.reason.contains("offline"), "{r:?}");
    }
    // The incident: recorded once, its audit row naming the step's two hosts.
    let incidents: Vec<AuditRow> = f
        .audit(Some("alice"))
        .into_iter()
        .filter(|r| r.action == pam_iam::fleet::reconnect::REPLAY_ACTION)
        .collect();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert!(
        incidents[0].reason.contains("host/web-01") && incidents[0].reason.contains("host/web-02"),
        "{incidents:?}"
    );
    // The merged watermark: the code of s+2 is spent fleet-wide, online too.
    let out = login(&boxes[0], "alice", &[PASSWORD, &code], "after");
    assert_eq!(classify(&out), Login::Denied, "{out}");
}

#[test]
fn a_replica_older_than_offline_max_age_denies() {
    require_root!();
    // Material covers the steps up to offline_max_age ahead: 40 s covers the next one.
    let max_age = 40;
    let Some((mut f, seeds)) = offline_fleet(max_age, &["alice"]) else {
        return;
    };
    let alice = &seeds[0];
    let boxes = sandboxes(&f, &[("alice", 2001)]);
    totp::wait_for_fresh_step(20);
    let (now, next) = totp::code_pair(alice, 0);
    let out = login(&boxes[0], "alice", &[PASSWORD, &now], "online");
    assert_eq!(classify(&out), Login::Allowed, "{out}");
    f.hosts[0].partition();
    // Within offline_max_age of the last sync: in.
    let out = login(&boxes[0], "alice", &[PASSWORD, &next], "young");
    assert_eq!(
        classify(&out),
        Login::Allowed,
        "{out}\n{}",
        f.hosts[0].agent_log()
    );
    // Past it (and a step later, so the code is fresh): denied, saying why.
    std::thread::sleep(Duration::from_secs(
        (max_age as u64 + 1).max(totp::seconds_left() + 1),
    ));
    let code = totp::code(alice, 30);
    let out = login(&boxes[0], "alice", &[PASSWORD, &code], "old");
    assert_eq!(classify(&out), Login::Denied, "{out}");
    let log = boxes[0].syslog();
    assert!(
        log.contains("the replica is older than offline_max_age"),
        "{log}"
    );
}

#[test]
fn offline_failures_reach_the_fleet_lockout_and_a_journal_shipped_again_adds_nothing() {
    require_root!();
    let Some((mut f, seeds)) = offline_fleet(3600, &["alice"]) else {
        return;
    };
    let alice = &seeds[0];
    f.iam(&[
        "update-account-lockout-policy",
        "--max-failed-attempts",
        "3",
        "--lockout-duration-seconds",
        "600",
    ]);
    let boxes = sandboxes(&f, &[("alice", 2001)]);
    totp::wait_for_fresh_step(20);
    let step = support::now() / 30;
    let code_of = |s: i64| totp::code_at(alice, s * 30);
    let out = login(&boxes[0], "alice", &[PASSWORD, &code_of(step)], "online");
    assert_eq!(classify(&out), Login::Allowed, "{out}");

    // web-01 cut off: two wrong passwords (under the host's offline limit of 3) and a
    // login with the next step's code, all decided and journaled there.
    f.hosts[0].partition();
    for tag in ["off-wrong-1", "off-wrong-2"] {
        let out = login(
            &boxes[0],
            "alice",
            &["not-her-password", &code_of(step + 1)],
            tag,
        );
        assert_eq!(classify(&out), Login::Denied, "{out}");
    }
    let out = login(
        &boxes[0],
        "alice",
        &[PASSWORD, &code_of(step + 1)],
        "off-ok",
    );
    assert_eq!(
        classify(&out),
        Login::Allowed,
        "{out}\n{}",
        f.hosts[0].agent_log()
    );
    // The agent restarts while still cut off: the journal waits in offline.db.
    f.hosts[0].stop_agent();
    f.hosts[0].start_agent();
    let tags = ["off-wrong-1", "off-wrong-2", "off-ok"];
    let once = |f: &Fleet| {
        let rows = authenticate_rows(f, "alice");
        tags.iter()
            .map(|t| rows.iter().filter(|r| r.rhost == *t).count())
            .collect::<Vec<usize>>()
    };
    assert_eq!(once(&f), [0, 0, 0], "nothing arrives while cut off");
    f.hosts[0].reconnect();
    wait_until(
        Duration::from_secs(60),
        "web-01's journal on the store",
        || once(&f) == [1, 1, 1],
    );
    let failed = |f: &Fleet| {
        let st = f.iam(&["get-user-lockout-status", "--user-name", "alice"]);
        (
            st["LockoutStatus"]["FailedAttempts"].as_i64(),
            st["LockoutStatus"]["Locked"] == true,
        )
    };
    assert_eq!(failed(&f), (Some(2), false), "the offline failures counted");

    // The acknowledgment lost (offline.db put back to nothing shipped, the agent
    // restarted): the whole journal goes again and the server applies none of it.
    f.hosts[0].stop_agent();
    let db = rusqlite::Connection::open(&f.hosts[0].offline).unwrap();
    db.execute_batch(
        "UPDATE meta SET value = 0 WHERE key = 'journal_ack'; UPDATE journal SET shipped = 0",
    )
    .unwrap();
    drop(db);
    let shipped_before = f.hosts[0].agent_log().matches(" shipped to ").count();
    f.hosts[0].start_agent();
    wait_until(Duration::from_secs(60), "the journal shipped again", || {
        let log = f.hosts[0].agent_log();
        log.matches(" shipped to ").count() > shipped_before
    });
    let log = f.hosts[0].agent_log();
    let again = log.lines().rfind(|l| l.contains(" shipped to ")).unwrap();
    assert!(
        again.contains("entries 1..3 ") && again.contains(": 0 applied"),
        "{log}"
    );
    assert_eq!(once(&f), [1, 1, 1], "no row twice");
    assert_eq!(failed(&f), (Some(2), false), "no failure counted twice");
    assert!(
        !f.audit(Some("alice"))
            .iter()
            .any(|r| r.action == pam_iam::fleet::reconnect::REPLAY_ACTION),
        "a resent code is no replay: {:?}",
        f.audit(Some("alice"))
    );

    // One wrong password online on web-02 makes three: alice is locked fleet-wide, and
    // the right password with a fresh code is refused.
    let out = login(
        &boxes[1],
        "alice",
        &["not-her-password", &code_of(step + 2)],
        "on-wrong",
    );
    assert_eq!(classify(&out), Login::Denied, "{out}");
    assert_eq!(failed(&f), (Some(3), true));
    let fresh = code_of((step + 2).max(support::now() / 30));
    let out = login(&boxes[1], "alice", &[PASSWORD, &fresh], "locked");
    assert_eq!(classify(&out), Login::Denied, "{out}");
}
