//! Contract cases of fleet reconnect (migration 14): accepted MFA steps, hosts' journal
//! positions, replay incidents, and a journal merged through `fleet::reconnect::apply`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::fleet::proto::{JournalBatch, JournalEntry, JournalKind};
use crate::fleet::reconnect::{self, JournalError, LOCKED_UNTIL_UNLOCKED, OnReplay};

/// The TOTP step "now" of these cases (the code itself is never checked here).
const NOW: i64 = 1_800_000_000;
const STEP: i64 = NOW / 30;

fn spent(host: &str, step: i64, time: i64, offline: bool) -> SpentStep {
    SpentStep {
        serial: "arn:aws:iam::123456789012:mfa/alice".into(),
        step,
        host: host.into(),
        user: "alice".into(),
        time,
        offline,
    }
}

/// alice with an enabled device at watermark `STEP - 10`; its serial.
fn alice_with_device(s: &dyn Store) -> String {
    user(s, "alice");
    let d = s
        .create_virtual_mfa_device("alice", "/", &[7u8; 20], 1)
        .unwrap();
    s.enable_mfa_device("alice", &d.serial_number, STEP - 10, &[], 2)
        .unwrap();
    d.serial_number
}

/// See the suite's cases list: the primitives reconnect composes.
pub fn spent_steps_journal_positions_and_incidents_round_trip(s: &dyn Store) {
    // Steps: the earlier acceptances of a (serial, step) come back; the same host again
    // keeps its first row.
    assert!(
        s.record_spent_step(&spent("web-01", 5, 100, false))
            .unwrap()
            .is_empty()
    );
    assert!(
        s.record_spent_step(&spent("web-01", 6, 101, false))
            .unwrap()
            .is_empty()
    );
    let earlier = s.record_spent_step(&spent("web-02", 5, 102, true)).unwrap();
    assert_eq!(earlier, vec![spent("web-01", 5, 100, false)]);
    let again = s.record_spent_step(&spent("web-01", 5, 103, true)).unwrap();
    assert_eq!(again.len(), 2, "{again:?}");
    let serial = "arn:aws:iam::123456789012:mfa/alice";
    assert_eq!(
        s.spent_steps(serial).unwrap(),
        vec![
            spent("web-01", 5, 100, false),
            spent("web-02", 5, 102, true),
            spent("web-01", 6, 101, false),
        ]
    );
    assert_eq!(s.prune_spent_steps(102).unwrap(), 2);
    assert_eq!(
        s.spent_steps(serial).unwrap(),
        vec![spent("web-02", 5, 102, true)]
    );

    // Journal positions, per host and journal.
    assert_eq!(s.journal_position("web-01", "j1").unwrap(), 0);
    s.set_journal_position("web-01", "j1", 7, 100).unwrap();
    s.set_journal_position("web-01", "j2", 2, 100).unwrap();
    s.set_journal_position("web-01", "j1", 9, 101).unwrap();
    assert_eq!(s.journal_position("web-01", "j1").unwrap(), 9);
    assert_eq!(s.journal_position("web-01", "j2").unwrap(), 2);
    assert_eq!(s.journal_position("web-02", "j1").unwrap(), 0);

    // Incidents, in order, from a time on.
    let incident = |time| ReplayIncident {
        id: 0,
        time,
        user: "alice".into(),
        serial: serial.into(),
        step: 5,
        first: spent("web-01", 5, 100, false),
        second: spent("web-02", 5, 102, true),
        action: "audit".into(),
    };
    s.record_replay_incident(&incident(200)).unwrap();
    s.record_replay_incident(&incident(300)).unwrap();
    let all = s.list_replay_incidents(None).unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].id > 0 && all[1].id > all[0].id, "{all:?}");
    assert_eq!(
        ReplayIncident {
            id: 0,
            ..all[0].clone()
        },
        incident(200)
    );
    assert_eq!(s.list_replay_incidents(Some(250)).unwrap().len(), 1);

    // Watermarks only rise; a lock until unlock stays over a shorter one.
    let serial = alice_with_device(s);
    assert!(!s.raise_totp_watermark(&serial, STEP - 11).unwrap());
    assert!(s.raise_totp_watermark(&serial, STEP - 5).unwrap());
    assert!(
        !s.raise_totp_watermark("arn:aws:iam::123456789012:mfa/none", 1)
            .unwrap()
    );
    assert_eq!(s.mfa_secret(&serial).unwrap().watermark, STEP - 5);
    s.lock_user_until("alice", LOCKED_UNTIL_UNLOCKED).unwrap();
    s.lock_user_until("alice", NOW + 60).unwrap();
    assert_eq!(
        s.lock_state("alice").unwrap().locked_until,
        Some(LOCKED_UNTIL_UNLOCKED)
    );
    s.unlock_user("alice").unwrap();
    assert!(!s.lock_state("alice").unwrap().is_locked(NOW));
}

/// See the suite's cases list: the one second-factor check's settle records the step
/// it accepts on the login's host, in its own transaction; a refused step records
/// nothing.
pub fn an_accepted_code_is_recorded_as_spent_by_the_settle(s: &dyn Store) {
    let serial = alice_with_device(s);
    let totp = |step, host| Proof::Totp {
        serial: &serial,
        step,
        host,
    };
    assert_eq!(
        s.settle_success("alice", &totp(STEP, "web-02"), true, NOW, None)
            .unwrap(),
        Settled::Accepted
    );
    assert!(matches!(
        s.settle_success("alice", &totp(STEP, "web-03"), true, NOW, None)
            .unwrap(),
        Settled::Spent(_)
    ));
    let want = spent_online("alice", &serial, STEP, "web-02", NOW);
    assert_eq!(s.spent_steps(&serial).unwrap(), vec![want]);
}

fn entry(seq: i64, kind: JournalKind, step: Option<i64>, serial: &str) -> JournalEntry {
    JournalEntry {
        seq,
        time: NOW - 100 + seq,
        user: "alice".into(),
        kind,
        serial: step.map(|_| serial.to_string()),
        step,
        recovery_code: None,
        reason: match kind {
            JournalKind::Login => "offline: password + verification code".into(),
            _ => "offline: wrong password".into(),
        },
        service: Some("sshd".into()),
        rhost: Some("10.0.0.9".into()),
        tty: None,
    }
}

fn batch(entries: Vec<JournalEntry>) -> JournalBatch {
    JournalBatch {
        journal: "0123456789abcdef0123456789abcdef".into(),
        entries,
    }
}

fn offline_rows(s: &dyn Store) -> Vec<AuditEvent> {
    s.list_audit(&AuditFilter::default())
        .unwrap()
        .into_iter()
        .filter(|e| e.reason.contains("offline (journal entry"))
        .collect()
}

/// See the suite's cases list: a journal applies in order and once per entry, a gap is
/// refused with nothing applied, watermarks merge by maximum, failures merge into the
/// lockout (never shortening a lock), and a step accepted online on one host and
/// offline on another is a replay incident that, by `on_replay`, locks the user and
/// revokes its live role sessions.
pub fn a_journal_merges_once_in_order_and_reveals_a_replay(s: &dyn Store) {
    let serial = alice_with_device(s);
    s.put_lockout_settings(&LockoutSettings {
        max_failed_attempts: 3,
        lockout_duration_seconds: 600,
    })
    .unwrap();
    // web-02 accepted STEP online while web-01 was cut off.
    s.settle_success(
        "alice",
        &Proof::Totp {
            serial: &serial,
            step: STEP,
            host: "web-02",
        },
        true,
        NOW - 200,
        None,
    )
    .unwrap();
    let first = batch(vec![
        entry(1, JournalKind::Login, Some(STEP - 3), &serial),
        entry(2, JournalKind::Failure, None, &serial),
        entry(3, JournalKind::Deny, None, &serial),
    ]);
    let a = reconnect::apply(s, "web-01", &first, NOW, OnReplay::Audit).unwrap();
    assert_eq!((a.ack, a.applied, a.incidents.len()), (3, 3, 0));
    assert_eq!(
        s.mfa_secret(&serial).unwrap().watermark,
        STEP,
        "max, not the older step"
    );
    let rows = offline_rows(s);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(
        rows[0].reason,
        "host/web-01 offline (journal entry 1): password + verification code"
    );
    assert_eq!(
        (
            rows[0].time,
            rows[0].rhost.as_deref(),
            rows[0].service.as_str()
        ),
        (NOW - 99, Some("10.0.0.9"), "sshd")
    );
    assert_eq!(rows[1].decision, crate::audit::Decision::Deny);
    assert_eq!(
        s.lock_state("alice").unwrap().failed_attempts,
        1,
        "deny is not counted"
    );

    // Resent whole: nothing changes. Resent with one more: only that one applies.
    let again = reconnect::apply(s, "web-01", &first, NOW, OnReplay::Audit).unwrap();
    assert_eq!((again.ack, again.applied), (3, 0));
    assert_eq!(offline_rows(s).len(), 3);
    let mut more = first.entries.clone();
    more.push(entry(4, JournalKind::Failure, None, &serial));
    let a = reconnect::apply(s, "web-01", &batch(more), NOW, OnReplay::Audit).unwrap();
    assert_eq!((a.ack, a.applied), (4, 1));
    assert_eq!(s.lock_state("alice").unwrap().failed_attempts, 2);

    // A gap: refused, nothing applied, the position named.
    let gap = batch(vec![entry(6, JournalKind::Failure, None, &serial)]);
    match reconnect::apply(s, "web-01", &gap, NOW, OnReplay::Audit) {
        Err(JournalError::Gap { ack: 4, got: 6, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(offline_rows(s).len(), 4);
    assert_eq!(s.lock_state("alice").unwrap().failed_attempts, 2);
    // Another host's journal of the same id is its own.
    assert_eq!(s.journal_position("web-03", &first.journal).unwrap(), 0);

    // The third failure locks, from its own time.
    let a = reconnect::apply(
        s,
        "web-01",
        &batch(vec![entry(5, JournalKind::Failure, None, &serial)]),
        NOW,
        OnReplay::Audit,
    )
    .unwrap();
    assert_eq!(a.ack, 5);
    let lock = s.lock_state("alice").unwrap();
    assert_eq!(lock.locked_until, Some(NOW - 95 + 600), "{lock:?}");
    s.unlock_user("alice").unwrap();

    // web-01, offline, accepted STEP too: a replay incident naming both hosts; with
    // lock-and-revoke-sessions the user is locked and its live sessions revoked.
    user(s, "bob");
    for (id, who, expires) in [
        ("ASIALIVE", "alice", NOW + 900),
        ("ASIABOB", "bob", NOW + 900),
    ] {
        s.create_role_session(&RoleSession {
            session_id: id.into(),
            user_name: who.into(),
            role_name: String::new(),
            session_name: "s".into(),
            token_hash: format!("h-{id}"),
            issued: NOW - 10,
            expires,
            scope: "tty:b:1:2:3".into(),
            revoked: None,
            mfa_time: None,
            role_id: None,
            user_id: None,
            secret_sealed: None,
            host: None,
        })
        .unwrap();
    }
    let replay = batch(vec![entry(6, JournalKind::Login, Some(STEP), &serial)]);
    let a = reconnect::apply(s, "web-01", &replay, NOW, OnReplay::LockAndRevokeSessions).unwrap();
    assert_eq!(a.incidents.len(), 1);
    let listed = s.list_replay_incidents(None).unwrap();
    assert_eq!(listed.len(), 1);
    let i = &listed[0];
    assert_eq!(
        (i.user.as_str(), i.serial.as_str(), i.step, i.time),
        ("alice", serial.as_str(), STEP, NOW)
    );
    assert_eq!(
        (i.first.host.as_str(), i.first.offline, i.first.time),
        ("web-02", false, NOW - 200)
    );
    assert_eq!((i.second.host.as_str(), i.second.offline), ("web-01", true));
    assert_eq!(i.action, "lock-and-revoke-sessions");
    let audit = s.list_audit(&AuditFilter::default()).unwrap();
    let row = audit
        .iter()
        .find(|e| e.action == reconnect::REPLAY_ACTION)
        .expect("the incident's audit row");
    assert!(
        row.reason.contains("host/web-02 (online")
            && row.reason.contains("host/web-01 (offline")
            && row.reason.contains(&serial)
            && row.reason.contains("1 role session(s) revoked"),
        "{}",
        row.reason
    );
    assert_eq!(row.user, "alice");
    assert_eq!(
        s.lock_state("alice").unwrap().locked_until,
        Some(LOCKED_UNTIL_UNLOCKED)
    );
    assert!(s.get_role_session("h-ASIALIVE").unwrap().revoked.is_some());
    assert!(s.get_role_session("h-ASIABOB").unwrap().revoked.is_none());
    assert_eq!(s.mfa_secret(&serial).unwrap().watermark, STEP);

    // With "audit" alone nothing is locked: a second incident on another host.
    s.unlock_user("alice").unwrap();
    let other = JournalBatch {
        journal: "other".into(),
        ..replay
    };
    let mut e = other.entries[0].clone();
    e.seq = 1;
    let a = reconnect::apply(
        s,
        "web-03",
        &JournalBatch {
            entries: vec![e],
            ..other
        },
        NOW,
        OnReplay::Audit,
    )
    .unwrap();
    assert_eq!(
        a.incidents.len(),
        2,
        "web-03 replays both earlier acceptances"
    );
    assert!(!s.lock_state("alice").unwrap().is_locked(NOW));
}

/// See the suite's cases list: a journal's recovery code (by its public id) is spent at
/// the server, the online path then refuses it, and each further acceptance of it (online
/// before the journal came, offline on another host) is a replay incident.
pub fn a_recovery_code_spent_offline_is_spent_fleet_wide_and_a_second_use_is_an_incident(
    s: &dyn Store,
) {
    use crate::credentials::recovery;
    user(s, "alice");
    let d = s
        .create_virtual_mfa_device("alice", "/", &[7u8; 20], 1)
        .unwrap();
    let (a, b) = (
        recovery::hash("aaaa-bbbb-cccc-dddd"),
        recovery::hash("eeee-ffff-gggg-hhhh"),
    );
    s.enable_mfa_device(
        "alice",
        &d.serial_number,
        STEP - 10,
        &[a.clone(), b.clone()],
        2,
    )
    .unwrap();
    let used = |seq: i64, hash: &str| JournalEntry {
        recovery_code: Some(recovery::public_id(hash)),
        reason: "offline: password + recovery code".into(),
        ..entry(seq, JournalKind::Login, None, "")
    };
    // web-01 spent `a` offline: spent at the server, no incident.
    let got =
        reconnect::apply(s, "web-01", &batch(vec![used(1, &a)]), NOW, OnReplay::Audit).unwrap();
    assert_eq!((got.ack, got.incidents.len()), (1, 0));
    assert_eq!(
        s.unused_recovery_hashes("alice").unwrap(),
        std::slice::from_ref(&b)
    );
    let online = |hash: &str, host: &str| {
        s.settle_success(
            "alice",
            &Proof::Recovery {
                code_hash: hash,
                host,
            },
            true,
            NOW,
            None,
        )
        .unwrap()
    };
    assert!(
        matches!(online(&a, "web-02"), Settled::Spent(_)),
        "refused online once the journal spent it"
    );
    // web-03 spent `a` offline too: an incident naming web-01 and web-03.
    let other = JournalBatch {
        journal: "other".into(),
        entries: vec![used(1, &a)],
    };
    let got = reconnect::apply(s, "web-03", &other, NOW, OnReplay::Lock).unwrap();
    assert_eq!(got.incidents.len(), 1);
    let i = &got.incidents[0];
    assert_eq!(i.serial, recovery::spent_key(&a));
    assert_eq!(
        (
            i.first.host.as_str(),
            i.first.offline,
            i.second.host.as_str()
        ),
        ("web-01", true, "web-03")
    );
    assert_eq!(
        s.lock_state("alice").unwrap().locked_until,
        Some(LOCKED_UNTIL_UNLOCKED)
    );
    s.unlock_user("alice").unwrap();
    // `b` used online on web-02 before web-01's journal of it arrives: an incident too.
    assert_eq!(online(&b, "web-02"), Settled::Accepted);
    let got =
        reconnect::apply(s, "web-01", &batch(vec![used(2, &b)]), NOW, OnReplay::Audit).unwrap();
    assert_eq!(got.incidents.len(), 1);
    assert_eq!(
        (
            got.incidents[0].first.host.as_str(),
            got.incidents[0].first.offline
        ),
        ("web-02", false)
    );
    assert_eq!(s.list_replay_incidents(None).unwrap().len(), 2);
    let audit = s.list_audit(&AuditFilter::default()).unwrap();
    let named = format!("recovery code {} of alice", recovery::public_id(&b));
    let row = audit
        .iter()
        .find(|e| e.action == reconnect::REPLAY_ACTION && e.reason.contains(&named))
        .expect("the incident's audit row");
    assert!(
        row.reason.contains("host/web-02 (online") && row.reason.contains("host/web-01 (offline"),
        "{}",
        row.reason
    );
    // The device's watermark is untouched by recovery codes.
    assert_eq!(s.mfa_secret(&d.serial_number).unwrap().watermark, STEP - 10);
}
