//! Recovery codes offline, on the whole fleet ([`fleet_harness`]: PostgreSQL primary +
//! synchronous standby, two `iamd`, two hosts with their own `iam-agent`, replica,
//! offline state and socat relays; pamtester per host).
//!
//! Proves: a user who logged in on a partitioned host before gets in there with the
//! password and a recovery code in place of the TOTP code; the same code again is
//! refused there, and a wrong recovery code counts as an offline failure; on reconnect
//! the journal spends the code at the server (an online login with it is refused) and
//! the code used offline on both hosts is a replay incident (`iam list-replay-incidents`,
//! audited); a code spent online on one host stops opening the other offline once that
//! host's next online login of the user refreshed its material.

#[path = "../../tests/support/mod.rs"]
mod support;

mod fleet_harness;

use fleet_harness::{Fleet, Login, Options, classify, login, wait_until};
use pam_iam::credentials::recovery;
use std::time::Duration;
use support::totp;

const PASSWORD: &str = "Correct-Horse-9-battery";

/// The offline fleet with alice (password + MFA, made with the AWS CLI) on both
/// replicas and ten recovery codes made with `iam`: her seed and the codes. `None` when
/// the AWS CLI is absent outside CI.
fn fleet_with_codes() -> Option<(Fleet, String, Vec<String>)> {
    let f = Fleet::start(Options {
        offline_max_age: Some(3600),
        ..Options::default()
    });
    let seed = f.aws_mfa_user("alice", PASSWORD)?;
    let made = f.iam(&["create-recovery-codes", "--user-name", "alice"]);
    let codes: Vec<String> = made["RecoveryCodes"]
        .as_array()
        .expect("RecoveryCodes")
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10, "{made}");
    f.wait_all(Duration::from_secs(20), "alice", |h| {
        h.has_user("alice") && h.serving()
    });
    Some((f, seed, codes))
}

/// web-01's offline failure count of alice and its journal's (kind, recovery) rows.
fn offline_state(f: &Fleet, host: usize) -> (i64, Vec<(String, Option<String>)>) {
    let db = rusqlite::Connection::open(&f.hosts[host].offline).unwrap();
    let failures = db
        .query_row("SELECT failures FROM state WHERE user = 'alice'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let mut st = db
        .prepare("SELECT kind, recovery FROM journal ORDER BY seq")
        .unwrap();
    let rows = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    (failures, rows)
}

#[test]
fn a_recovery_code_opens_a_partitioned_host_once_and_is_spent_fleet_wide_on_reconnect() {
    require_root!();
    let Some((mut f, seed, codes)) = fleet_with_codes() else {
        return;
    };
    let boxes: Vec<_> = f
        .hosts
        .iter()
        .map(|h| h.sandbox(&[("alice", 2001)]))
        .collect();
    // Online on both hosts: each gets alice's material, with her recovery codes keyed in.
    totp::wait_for_fresh_step(20);
    let first_step = support::now() / 30;
    let (now, next) = totp::code_pair(&seed, 0);
    for (sb, code, tag) in [
        (&boxes[0], &now, "online-1"),
        (&boxes[1], &next, "online-2"),
    ] {
        let out = login(sb, "alice", &[PASSWORD, code], tag);
        assert_eq!(classify(&out), Login::Allowed, "{out}");
    }
    let paths: Vec<_> = f.hosts.iter().map(|h| h.offline.clone()).collect();
    let held = |i: usize| {
        let db = rusqlite::Connection::open(&paths[i]).unwrap();
        db.query_row("SELECT body FROM material WHERE user = 'alice'", [], |r| {
            r.get::<_, String>(0)
        })
        .unwrap()
    };
    for i in 0..2 {
        let body = held(i);
        assert!(body.contains("\"recovery\":["), "{body}");
        for c in &codes {
            let h = recovery::hash(c);
            assert!(
                !body.contains(&h) && !body.contains(&recovery::public_id(&h)),
                "{body}"
            );
        }
    }

    // Both cut off: the lost-phone user gets in on web-01 with a recovery code.
    for h in &mut f.hosts {
        h.partition();
    }
    let out = login(&boxes[0], "alice", &[PASSWORD, &codes[0]], "rc-offline-1");
    assert_eq!(
        classify(&out),
        Login::Allowed,
        "{out}\n{}",
        f.hosts[0].agent_log()
    );
    let log = boxes[0].syslog();
    assert!(
        log.contains("authenticate allow user=\"alice\"")
            && log.contains("offline: password + recovery code"),
        "{log}"
    );
    // The same code again: spent on this host. A code that is not hers: a failure.
    let out = login(&boxes[0], "alice", &[PASSWORD, &codes[0]], "rc-again");
    assert_eq!(classify(&out), Login::Denied, "{out}");
    let out = login(
        &boxes[0],
        "alice",
        &[PASSWORD, "zzzz-zzzz-zzzz-zzzz"],
        "rc-wrong",
    );
    assert_eq!(classify(&out), Login::Denied, "{out}");
    let id = recovery::public_id(&recovery::hash(&codes[0]));
    let (failures, rows) = offline_state(&f, 0);
    assert_eq!(failures, 2, "the replay and the wrong code count: {rows:?}");
    let journal: Vec<(&str, Option<&str>)> = rows
        .iter()
        .map(|(k, r)| (k.as_str(), r.as_deref()))
        .collect();
    assert_eq!(
        journal,
        [
            ("login", Some(id.as_str())),
            ("failure", None),
            ("failure", None)
        ]
    );
    // web-02 cannot know: the same code opens it once too.
    let out = login(&boxes[1], "alice", &[PASSWORD, &codes[0]], "rc-offline-2");
    assert_eq!(
        classify(&out),
        Login::Allowed,
        "{out}\n{}",
        f.hosts[1].agent_log()
    );

    // Reconnect: both journals arrive; the code is spent at the server and its two
    // offline uses are one replay incident.
    for h in &mut f.hosts {
        h.reconnect();
    }
    wait_until(
        Duration::from_secs(60),
        "both journals on the store",
        || {
            let rows = f.audit(Some("alice"));
            ["rc-offline-1", "rc-offline-2"]
                .iter()
                .all(|t| rows.iter().any(|r| r.rhost == *t && r.decision == "allow"))
        },
    );
    let listed = f.iam(&["list-replay-incidents"]);
    let incidents = listed["ReplayIncidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{listed}");
    let i = &incidents[0];
    assert_eq!(i["RecoveryCode"], id.as_str(), "{i}");
    assert_eq!(i["UserName"], "alice");
    let hosts = [
        i["First"]["HostName"].as_str().unwrap(),
        i["Second"]["HostName"].as_str().unwrap(),
    ];
    assert!(
        hosts.contains(&"web-01") && hosts.contains(&"web-02"),
        "{i}"
    );
    assert!(
        i["First"]["Offline"] == true && i["Second"]["Offline"] == true,
        "{i}"
    );
    let audited = f
        .audit(Some("alice"))
        .into_iter()
        .filter(|r| r.action == pam_iam::fleet::reconnect::REPLAY_ACTION)
        .collect::<Vec<_>>();
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert!(
        audited[0].reason.contains(&format!("recovery code {id}")),
        "{audited:?}"
    );
    // Spent fleet-wide: online, the code is refused on either host.
    let out = login(
        &boxes[1],
        "alice",
        &[PASSWORD, &codes[0]],
        "rc-online-spent",
    );
    assert_eq!(classify(&out), Login::Denied, "{out}");

    // codes[1] spent online on web-02; alice's next online login on web-01 refreshes its
    // material, and cut off again web-01 refuses codes[1] but takes codes[2].
    let out = login(&boxes[1], "alice", &[PASSWORD, &codes[1]], "rc-online");
    assert_eq!(
        classify(&out),
        Login::Allowed,
        "{out}\n{:?}\n{}",
        f.audit(Some("alice")),
        f.hosts[1].agent_log()
    );
    let before = held(0);
    // A step neither online login used (web-02 spent the one after web-01's).
    wait_until(Duration::from_secs(70), "a fresh TOTP step", || {
        support::now() / 30 >= first_step + 2 && totp::seconds_left() > 5
    });
    let fresh = totp::code(&seed, 0);
    let out = login(&boxes[0], "alice", &[PASSWORD, &fresh], "online-3");
    assert_eq!(
        classify(&out),
        Login::Allowed,
        "{out}\n{:?}\n{}",
        f.audit(Some("alice")),
        f.hosts[0].agent_log()
    );
    assert_ne!(
        held(0),
        before,
        "new material after a code was spent elsewhere"
    );
    f.hosts[0].partition();
    let out = login(
        &boxes[0],
        "alice",
        &[PASSWORD, &codes[1]],
        "rc-spent-elsewhere",
    );
    assert_eq!(classify(&out), Login::Denied, "{out}");
    let out = login(&boxes[0], "alice", &[PASSWORD, &codes[2]], "rc-offline-3");
    assert_eq!(
        classify(&out),
        Login::Allowed,
        "{out}\n{}",
        f.hosts[0].agent_log()
    );
}
