use super::*;
use pam_iam::credentials::HashParams;
use pam_iam::credentials::offline::IssueDevice;
use pam_iam::credentials::totp::StepCodes;
use zeroize::Zeroizing;

const CHEAP: HashParams = HashParams {
    memory_kib: 1024,
    iterations: 1,
    parallelism: 1,
};
const SEED: &[u8] = b"12345678901234567890";
const NOW: i64 = 1_700_000_010;
const DAY: i64 = 86_400;

fn state(dir: &tempfile::TempDir) -> Offline {
    let mut o = Offline::open(
        &dir.path().join("offline.db"),
        "web-a",
        3 * DAY,
        LockoutSettings {
            max_failed_attempts: 3,
            lockout_duration_seconds: 900,
        },
    )
    .unwrap();
    o.delay = Duration::ZERO;
    o
}

fn issued(o: &Offline) {
    let dev = IssueDevice {
        serial: "arn:aws:iam::1:mfa/alice",
        seed: SEED,
        watermark: NOW / 30,
        recovery: &[],
    };
    let m = offline::issue("pw", "alice", "web-a", &CHEAP, Some(&dev), NOW, 3 * DAY).unwrap();
    o.online_success(
        "alice",
        Some(m),
        Some(NOW / 30),
        Some(&ExpiryFacts::default()),
    )
    .unwrap();
    o.note_sync(NOW);
}

/// The device the replica shows alice enabled: the one of her material, enabled before.
fn device() -> ReplicaMfaDevice {
    ReplicaMfaDevice {
        serial_number: "arn:aws:iam::1:mfa/alice".into(),
        enable_date: NOW - 100,
    }
}

fn login(password: &str, t: i64) -> LoginRequest {
    LoginRequest {
        user: "alice".into(),
        password: Some(Zeroizing::new(password.into())),
        code: Some(Zeroizing::new(
            StepCodes::new(SEED)
                .unwrap()
                .at(t / 30)
                .unwrap()
                .to_string(),
        )),
        service: Some("sshd".into()),
        rhost: None,
        tty: None,
        code_only: false,
    }
}

fn kinds(o: &Offline) -> Vec<String> {
    o.with(|c| {
        let mut st = c.prepare("SELECT kind FROM journal ORDER BY seq")?;
        st.query_map([], |r| r.get(0))?.collect()
    })
    .unwrap()
}

fn allowed(d: &Decided) -> bool {
    matches!(d, Decided::Allow { .. })
}

#[test]
fn a_fresh_code_once_and_every_decision_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let o = state(&dir);
    issued(&o);
    let t = NOW + 60;
    assert!(allowed(
        &o.decide(&login("pw", t), t, Some(&device())).unwrap()
    ));
    // replayed
    assert!(!allowed(
        &o.decide(&login("pw", t), t + 5, Some(&device())).unwrap()
    ));
    // the step spent online at issue
    assert!(!allowed(
        &o.decide(&login("pw", NOW), NOW + 1, Some(&device()))
            .unwrap()
    ));
    assert_eq!(kinds(&o), ["login", "failure", "failure"]);
    let mode = std::fs::metadata(dir.path().join("offline.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_stale_sync_a_clock_turned_back_expired_or_missing_material_deny_unconsidered() {
    let dir = tempfile::tempdir().unwrap();
    let o = state(&dir);
    // No sync, no material.
    let t = NOW + 60;
    assert!(!allowed(
        &o.decide(&login("pw", t), t, Some(&device())).unwrap()
    ));
    issued(&o);
    // Clock before the last sync.
    assert!(!allowed(
        &o.decide(&login("pw", NOW - 60), NOW - 60, Some(&device()))
            .unwrap()
    ));
    // A sync older than offline_max_age.
    let late = NOW + 3 * DAY + 60;
    assert!(!allowed(
        &o.decide(&login("pw", late), late, Some(&device())).unwrap()
    ));
    // A note_sync never moves the last sync back.
    o.note_sync(NOW - 1000);
    assert!(!allowed(
        &o.decide(&login("pw", NOW - 60), NOW - 60, Some(&device()))
            .unwrap()
    ));
    // Fresh sync, but the material is past offline_max_age: denied too.
    o.note_sync(late);
    assert!(!allowed(
        &o.decide(&login("pw", late), late, Some(&device())).unwrap()
    ));
    // None of these counted.
    assert_eq!(o.lock_state("alice").unwrap().failed_attempts, 0);
    assert_eq!(kinds(&o), ["deny", "deny", "deny", "deny", "deny"]);
}

#[test]
fn three_failures_lock_offline_and_an_online_success_clears_them() {
    let dir = tempfile::tempdir().unwrap();
    let o = state(&dir);
    issued(&o);
    let t = NOW + 60;
    for _ in 0..3 {
        assert!(!allowed(
            &o.decide(&login("nope", t), t, Some(&device())).unwrap()
        ));
    }
    let d = o.decide(&login("pw", t), t, Some(&device())).unwrap();
    assert!(
        matches!(&d, Decided::Deny { reason } if reason.contains("locked offline")),
        "{d:?}"
    );
    // after the lock
    let later = t + 901;
    assert!(allowed(
        &o.decide(&login("pw", later), later, Some(&device()))
            .unwrap()
    ));
    for _ in 0..3 {
        o.decide(&login("nope", later), later, Some(&device()))
            .unwrap();
    }
    o.online_success("alice", None, None, Some(&ExpiryFacts::default()))
        .unwrap();
    let t2 = later + 60;
    assert!(allowed(
        &o.decide(&login("pw", t2), t2, Some(&device())).unwrap()
    ));
}

#[test]
fn material_not_covering_the_users_current_device_denies_unconsidered() {
    let dir = tempfile::tempdir().unwrap();
    let o = state(&dir);
    issued(&o);
    let t = NOW + 60;
    let deny = |d: Option<&ReplicaMfaDevice>, t: i64, why: &str| {
        let got = o.decide(&login("pw", t), t, d).unwrap();
        assert!(
            matches!(&got, Decided::Deny { reason } if reason.contains(why)),
            "{d:?}: {got:?}"
        );
    };
    // Deactivated at the server.
    deny(None, t, "is no longer enabled for the user");
    // Another device enrolled since.
    let other = ReplicaMfaDevice {
        serial_number: "arn:aws:iam::1:mfa/alice2".into(),
        enable_date: NOW + 30,
    };
    deny(Some(&other), t, "does not cover");
    // The same serial re-enabled after the material was made.
    let again = ReplicaMfaDevice {
        enable_date: NOW + 1,
        ..device()
    };
    deny(Some(&again), t, "does not cover");
    // Enabled at the second of the issue: covered.
    let same = ReplicaMfaDevice {
        enable_date: NOW,
        ..device()
    };
    assert!(allowed(&o.decide(&login("pw", t), t, Some(&same)).unwrap()));
    // Password-only material while the user has a device now.
    let m = offline::issue("pw", "alice", "web-a", &CHEAP, None, NOW, DAY).unwrap();
    o.online_success("alice", Some(m), None, Some(&ExpiryFacts::default()))
        .unwrap();
    deny(Some(&device()), t + 30, "does not cover");
    // ... and without one it is the user's whole sign-in.
    assert!(allowed(
        &o.decide(&login("pw", t + 30), t + 30, None).unwrap()
    ));
    assert_eq!(o.lock_state("alice").unwrap().failed_attempts, 0);
    assert_eq!(
        kinds(&o),
        ["deny", "deny", "deny", "login", "deny", "login"]
    );
}

#[test]
fn material_for_another_host_or_user_is_refused_and_code_only_is_denied() {
    let dir = tempfile::tempdir().unwrap();
    let o = state(&dir);
    let m = offline::issue("pw", "alice", "web-b", &CHEAP, None, NOW, DAY).unwrap();
    assert!(o.online_success("alice", Some(m), None, None).is_err());
    let m = offline::issue("pw", "alice", "web-a", &CHEAP, None, NOW, DAY).unwrap();
    assert!(o.online_success("bob", Some(m), None, None).is_err());
    assert!(o.material("alice").unwrap().is_none());
    issued(&o);
    let mut l = login("pw", NOW + 60);
    l.password = None;
    l.code_only = true;
    assert!(!allowed(&o.decide(&l, NOW + 60, Some(&device())).unwrap()));
    assert_eq!(kinds(&o), ["deny"]);
}

#[test]
fn an_offline_allow_carries_the_last_online_expiry_facts_and_none_kept_denies() {
    let dir = tempfile::tempdir().unwrap();
    let o = state(&dir);
    issued(&o);
    let facts = ExpiryFacts {
        expires_at: Some(NOW + 30),
        hard_expiry: true,
        reset_required: false,
    };
    o.online_success("alice", None, None, Some(&facts)).unwrap();
    let t = NOW + 60;
    match o.decide(&login("pw", t), t, Some(&device())).unwrap() {
        Decided::Allow { expiry, .. } => {
            assert_eq!(expiry, facts);
            assert_eq!(
                expiry.state(t),
                pam_iam::credentials::PasswordState::HardExpired
            );
        }
        d => panic!("{d:?}"),
    }
    // An online answer without facts leaves none: offline then denies, uncounted.
    o.online_success("alice", None, None, None).unwrap();
    let t = NOW + 120;
    let d = o.decide(&login("pw", t), t, Some(&device())).unwrap();
    assert!(
        matches!(&d, Decided::Deny { reason } if reason.contains("password-expiry facts")),
        "{d:?}"
    );
    assert_eq!(kinds(&o), ["login", "deny"]);
}

#[test]
fn the_last_contact_survives_a_reopen_and_never_moves_back() {
    let dir = tempfile::tempdir().unwrap();
    let o = state(&dir);
    assert_eq!(o.last_contact().unwrap(), None);
    o.note_contact(NOW);
    // Within CONTACT_EVERY nothing is written; later it is.
    o.note_contact(NOW + 1);
    assert_eq!(o.last_contact().unwrap(), Some(NOW));
    o.note_contact(NOW + CONTACT_EVERY);
    drop(o);
    let o = state(&dir);
    assert_eq!(o.last_contact().unwrap(), Some(NOW + CONTACT_EVERY));
    // A clock turned back never moves it back; a later sync counts as a contact.
    o.note_contact(NOW - 1000);
    assert_eq!(o.last_contact().unwrap(), Some(NOW + CONTACT_EVERY));
    o.note_sync(NOW + 100);
    assert_eq!(o.last_contact().unwrap(), Some(NOW + 100));
}

#[test]
fn material_past_its_use_is_pruned_on_a_sync_and_usable_material_kept() {
    let dir = tempfile::tempdir().unwrap();
    let o = state(&dir);
    issued(&o);
    // Usable: kept.
    assert_eq!(o.prune(NOW + DAY).unwrap(), 0);
    assert!(o.material("alice").unwrap().is_some());
    // Past offline_max_age (3 days): a sync drops it and its expiry facts.
    o.note_sync(NOW + 3 * DAY + 1);
    assert!(o.material("alice").unwrap().is_none());
    assert!(o.expiry("alice").unwrap().is_none());
    // An unreadable row is dropped too; the next sync within the hour does not prune.
    o.with(|c| c.execute("INSERT INTO material(user, body) VALUES ('bob', '{')", []))
        .unwrap();
    o.note_sync(NOW + 3 * DAY + 60);
    assert_eq!(o.prune(NOW + 3 * DAY + 60).unwrap(), 1);
}

const CODES: [&str; 2] = ["k7qm-2xhd-9fze-wq4p", "aaaa-bbbb-cccc-dddd"];

/// Material for alice with the recovery codes `codes` unused at the server.
fn issued_with_codes(o: &Offline, codes: &[&str], at: i64) {
    let hashes: Vec<String> = codes.iter().map(|c| recovery::hash(c)).collect();
    let dev = IssueDevice {
        serial: "arn:aws:iam::1:mfa/alice",
        seed: SEED,
        watermark: at / 30,
        recovery: &hashes,
    };
    let m = offline::issue("pw", "alice", "web-a", &CHEAP, Some(&dev), at, 3 * DAY).unwrap();
    o.online_success(
        "alice",
        Some(m),
        Some(at / 30),
        Some(&ExpiryFacts::default()),
    )
    .unwrap();
    o.note_sync(at);
}

fn with_answer(password: &str, answer: &str) -> LoginRequest {
    LoginRequest {
        code: Some(Zeroizing::new(answer.into())),
        ..login(password, NOW)
    }
}

/// A journal row's kind, serial, step and recovery code.
type Spent = (String, Option<String>, Option<i64>, Option<String>);

/// The journal's rows.
fn spends(o: &Offline) -> Vec<Spent> {
    o.with(|c| {
        let mut st = c.prepare("SELECT kind, serial, step, recovery FROM journal ORDER BY seq")?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect()
    })
    .unwrap()
}

use pam_iam::credentials::recovery;

#[test]
fn a_recovery_code_opens_once_offline_is_journaled_and_a_wrong_one_counts() {
    let dir = tempfile::tempdir().unwrap();
    let o = state(&dir);
    issued_with_codes(&o, &CODES, NOW);
    let t = NOW + 60;
    let d = o
        .decide(&with_answer("pw", CODES[0]), t, Some(&device()))
        .unwrap();
    assert!(
        matches!(&d, Decided::Allow { reason, mfa: true, .. } if reason == "password + recovery code"),
        "{d:?}"
    );
    // The same code again, even as typed differently: spent here.
    let again = with_answer("pw", &CODES[0].to_uppercase());
    assert!(!allowed(&o.decide(&again, t + 1, Some(&device())).unwrap()));
    // A code that is none of hers; the right code with a wrong password.
    let wrong = with_answer("pw", "zzzz-zzzz-zzzz-zzzz");
    assert!(!allowed(&o.decide(&wrong, t + 2, Some(&device())).unwrap()));
    assert_eq!(o.lock_state("alice").unwrap().failed_attempts, 2);
    let d = o
        .decide(&with_answer("nope", CODES[1]), t + 3, Some(&device()))
        .unwrap();
    assert!(
        matches!(&d, Decided::Deny { reason } if reason.contains("locked offline")),
        "{d:?}"
    );
    // Locked at the host's limit: the other, unspent code is refused now.
    assert!(!allowed(
        &o.decide(&with_answer("pw", CODES[1]), t + 4, Some(&device()))
            .unwrap()
    ));
    let id = recovery::public_id(&recovery::hash(CODES[0]));
    let rows = spends(&o);
    assert_eq!(rows[0], ("login".into(), None, None, Some(id.clone())));
    assert!(
        rows[1..].iter().all(|r| r.0 == "failure" && r.3.is_none()),
        "{rows:?}"
    );
    // Shipped as the entry's RecoveryCode, without Serial or Step.
    let b = o.next_batch().unwrap().unwrap();
    assert_eq!(b.entries[0].recovery_code.as_deref(), Some(id.as_str()));
    assert_eq!(
        (b.entries[0].serial.as_ref(), b.entries[0].step),
        (None, None)
    );
    assert!(
        pam_iam::fleet::reconnect::check(&pam_iam::fleet::proto::JournalBatch {
            journal: b.journal.clone(),
            entries: b.entries.clone(),
        })
        .is_ok()
    );
}

#[test]
fn a_code_spent_here_stays_refused_under_new_material_that_still_lists_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = state(&dir);
    issued_with_codes(&o, &CODES, NOW);
    let t = NOW + 60;
    assert!(allowed(
        &o.decide(&with_answer("pw", CODES[0]), t, Some(&device()))
            .unwrap()
    ));
    // Online again before the journal reached the server: new material with both codes.
    issued_with_codes(&o, &CODES, t + 10);
    let t = t + 20;
    assert!(!allowed(
        &o.decide(&with_answer("pw", CODES[0]), t, Some(&device()))
            .unwrap()
    ));
    assert!(allowed(
        &o.decide(&with_answer("pw", CODES[1]), t + 1, Some(&device()))
            .unwrap()
    ));
    // Material without the code (the server saw it spent): refused as none of hers.
    issued_with_codes(&o, &CODES[1..], t + 10);
    let t = t + 20;
    assert!(!allowed(
        &o.decide(&with_answer("pw", CODES[0]), t, Some(&device()))
            .unwrap()
    ));
    // A prune keeps what is spent within its window.
    o.prune(t).unwrap();
    let kept: i64 = o
        .with(|c| c.query_row("SELECT count(*) FROM recovery_spent", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(kept, 2);
}

#[test]
fn an_older_state_file_gains_the_recovery_column_and_keeps_its_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offline.db");
    {
        let c = Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL,
               user TEXT NOT NULL, kind TEXT NOT NULL, serial TEXT, step INTEGER,
               reason TEXT NOT NULL, service TEXT, rhost TEXT, tty TEXT,
               shipped INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE meta (key TEXT PRIMARY KEY, value NOT NULL);
             INSERT INTO journal(time, user, kind, reason) VALUES (1, 'alice', 'deny', 'x');
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let o = state(&dir);
    let rows = spends(&o);
    assert_eq!(rows, [("deny".into(), None, None, None)]);
    let format: i64 = o
        .with(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(format, 3);
}
