//! Store unit tests against real temporary SQLite files.

use super::*;
use crate::credentials::second_factor::{Admission, Proof, Settled, Throttle};
use std::os::unix::fs::PermissionsExt;

const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#;

fn temp() -> (tempfile::TempDir, Box<dyn Store>) {
    let dir = crate::store::safe_open::private_tempdir();
    let s = open_path(&dir.path().join("iam.db"), OpenMode::ReadWrite).unwrap();
    (dir, s)
}

fn user(s: &dyn Store, name: &str) -> User {
    s.create_user(
        &NewUser {
            name: name.into(),
            path: "/".into(),
            ..Default::default()
        },
        100,
    )
    .unwrap()
}

#[test]
fn creates_file_0600_dir_0700_with_account_id() {
    let dir = crate::store::safe_open::private_tempdir();
    let db = dir.path().join("sub/iam.db");
    let s = open_path(&db, OpenMode::ReadWrite).unwrap();
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(db.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let acct = s.account_id().unwrap();
    assert_eq!(acct.len(), 12);
    assert_eq!(s.schema_version().unwrap(), 5);
    drop(s);
    // Fixed at creation: reopening keeps it.
    assert_eq!(
        open_path(&db, OpenMode::ReadWrite)
            .unwrap()
            .account_id()
            .unwrap(),
        acct
    );
}

#[test]
fn refuses_insecure_modes_and_symlinks() {
    let dir = crate::store::safe_open::private_tempdir();
    let db = dir.path().join("iam.db");
    drop(open_path(&db, OpenMode::ReadWrite).unwrap());
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = open_path(&db, OpenMode::ReadWrite)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("iam.db") && err.contains("0644"), "{err}");
    // The explicit insecure option skips the mode check.
    let mut o = OpenOptions::new(&db, OpenMode::ReadWrite);
    o.insecure_ok = true;
    assert!(open(&o).is_ok());
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = open_path(&db, OpenMode::ReadWrite)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("0777") && err.contains("directory"), "{err}");
    // Group or others may not even read or search the directory (077, as for the file).
    for m in [0o750, 0o705, 0o710] {
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(m)).unwrap();
        let err = open_path(&db, OpenMode::ReadOnly)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains(&format!("{m:04o}")) && err.contains("the store directory"),
            "{err}"
        );
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    // The journal files hold the same data: 0644 (or 0640) is refused, naming the file.
    drop(open_path(&db, OpenMode::ReadWrite).unwrap());
    for side in ["iam.db-wal", "iam.db-shm"] {
        let p = dir.path().join(side);
        assert!(p.exists(), "{side} stays after close");
        for m in [0o644, 0o640, 0o604] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).unwrap();
            let err = open_path(&db, OpenMode::ReadWrite)
                .err()
                .unwrap()
                .to_string();
            assert!(
                err.contains(side) && err.contains(&format!("{m:04o}")),
                "{err}"
            );
        }
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    assert!(open_path(&db, OpenMode::ReadWrite).is_ok());
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&db, &link).unwrap();
    let err = open_path(&link, OpenMode::ReadWrite)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("symbolic link"), "{err}");
}

#[test]
fn read_only_never_creates() {
    let dir = crate::store::safe_open::private_tempdir();
    let db = dir.path().join("iam.db");
    assert!(open_path(&db, OpenMode::ReadOnly).is_err());
    assert!(!db.exists());
    let s = open_path(&db, OpenMode::ReadWrite).unwrap();
    user(&*s, "alice");
    drop(s);
    let ro = open_path(&db, OpenMode::ReadOnly).unwrap();
    assert_eq!(ro.get_user("alice").unwrap().name, "alice");
    assert_eq!(
        ro.create_user(
            &NewUser {
                name: "bob".into(),
                path: "/".into(),
                ..Default::default()
            },
            1
        )
        .err()
        .unwrap()
        .code(),
        "StoreUnavailable"
    );
}

#[test]
fn migrates_v1_fixture() {
    let dir = crate::store::safe_open::private_tempdir();
    let db = dir.path().join("iam.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(include_str!("../../tests/fixtures/store-v1.sql"))
            .unwrap();
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let s = open_path(&db, OpenMode::ReadWrite).unwrap();
    assert_eq!(s.schema_version().unwrap(), 5);
    assert_eq!(s.account_id().unwrap(), "123456789012");
    let u = s.get_user("alice").unwrap();
    assert_eq!(u.arn, "arn:aws:iam::123456789012:user/alice");
    assert_eq!(u.password_last_used, None);
    assert_eq!(
        u.tags,
        vec![Tag {
            key: "team".into(),
            value: "ops".into()
        }]
    );
    let p = s.user_policies("alice").unwrap();
    assert_eq!(p.identity.len(), 1);
    assert_eq!(
        p.identity[0].origin,
        PolicyOrigin::GroupAttached("ops".into())
    );
    assert_eq!(
        s.settle_success("alice", &Proof::Nothing, true, 5).unwrap(),
        Settled::Accepted
    );
    assert_eq!(s.get_user("alice").unwrap().password_last_used, Some(5));
    assert_eq!(s.list_audit(&AuditFilter::default()).unwrap().len(), 1);
}

#[test]
fn user_lifecycle_and_conflicts() {
    let (_d, s) = temp();
    let u = user(&*s, "alice");
    assert!(u.user_id.starts_with("AIDA"));
    assert_eq!(
        s.create_user(
            &NewUser {
                name: "alice".into(),
                path: "/".into(),
                ..Default::default()
            },
            1
        )
        .err()
        .unwrap()
        .code(),
        "EntityAlreadyExists"
    );
    assert_eq!(s.get_user("nobody").err().unwrap().code(), "NoSuchEntity");
    s.create_login_profile("alice", "h1", true, 10).unwrap();
    assert_eq!(
        s.delete_user("alice").err().unwrap().code(),
        "DeleteConflict"
    );
    s.delete_login_profile("alice").unwrap();
    s.create_group("ops", "/", 1).unwrap();
    s.add_user_to_group("ops", "alice").unwrap();
    s.add_user_to_group("ops", "alice").unwrap();
    assert_eq!(s.group_members("ops").unwrap().len(), 1);
    assert_eq!(
        s.delete_user("alice").err().unwrap().code(),
        "DeleteConflict"
    );
    assert_eq!(
        s.delete_group("ops").err().unwrap().code(),
        "DeleteConflict"
    );
    s.remove_user_from_group("ops", "alice").unwrap();
    s.update_user("alice", Some("alice2"), Some("/eng/"))
        .unwrap();
    assert_eq!(
        s.get_user("alice2").unwrap().arn,
        format!("arn:aws:iam::{}:user/eng/alice2", s.account_id().unwrap())
    );
    assert_eq!(s.list_users("/eng/").unwrap().len(), 1);
    assert_eq!(s.list_users("/x/").unwrap().len(), 0);
    // Exact, case-sensitive prefixes: no LIKE wildcards.
    assert_eq!(s.list_users("/ENG/").unwrap().len(), 0);
    assert_eq!(s.list_users("/%").unwrap().len(), 0);
    s.delete_user("alice2").unwrap();
    s.delete_group("ops").unwrap();
}

#[test]
fn password_history_and_lockout() {
    let (_d, s) = temp();
    user(&*s, "alice");
    s.create_login_profile("alice", "h1", false, 10).unwrap();
    s.update_login_profile("alice", Some("h2"), None, 20)
        .unwrap();
    s.update_login_profile("alice", Some("h3"), Some(true), 30)
        .unwrap();
    assert_eq!(s.password_history("alice", 2).unwrap(), vec!["h3", "h2"]);
    let lp = s.get_login_profile("alice").unwrap();
    assert!(lp.password_reset_required);
    assert_eq!(lp.password_last_changed, 30);
    s.put_lockout_settings(&LockoutSettings {
        max_failed_attempts: 2,
        lockout_duration_seconds: 60,
    })
    .unwrap();
    assert!(!s.record_failure("alice", 100).unwrap().is_locked(100));
    let st = s.record_failure("alice", 101).unwrap();
    assert_eq!(st.locked_until, Some(161));
    assert!(s.auth_info("alice").unwrap().unwrap().lock.is_locked(120));
    s.unlock_user("alice").unwrap();
    assert_eq!(s.lock_state("alice").unwrap(), LockState::default());
    assert!(s.auth_info("ghost").unwrap().is_none());
}

#[test]
fn mfa_watermark_and_recovery_codes() {
    let (_d, s) = temp();
    user(&*s, "alice");
    let d = s
        .create_virtual_mfa_device("alice", "/", &[7u8; 20], 1)
        .unwrap();
    assert!(d.serial_number.ends_with(":mfa/alice"));
    assert!(s.enabled_mfa("alice").unwrap().is_none());
    s.enable_mfa_device("alice", &d.serial_number, 50, &["a".into(), "b".into()], 2)
        .unwrap();
    let m = s.auth_info("alice").unwrap().unwrap().mfa.unwrap();
    assert_eq!((m.watermark, m.seed.as_slice()), (50, &[7u8; 20][..]));
    let totp = |step| Proof::Totp {
        serial: &d.serial_number,
        step,
    };
    let rc = |code_hash| Proof::Recovery { code_hash };
    let settle = |p: &Proof<'_>| s.settle_success("alice", p, false, 3).unwrap();
    let spent = |n| {
        Settled::Spent(LockState {
            failed_attempts: n,
            last_failure: Some(3),
            locked_until: None,
        })
    };
    assert_eq!(settle(&totp(50)), spent(1));
    assert_eq!(settle(&totp(51)), Settled::Accepted);
    assert_eq!(settle(&totp(51)), spent(1), "the success cleared the count");
    assert_eq!(settle(&rc("a")), Settled::Accepted);
    assert_eq!(settle(&rc("a")), spent(1));
    assert_eq!(settle(&rc("zzz")), spent(2));
    assert_eq!(s.recovery_codes_left("alice").unwrap(), 1);
    assert_eq!(s.get_user("alice").unwrap().password_last_used, None);
    // Another user's device is not this user's proof.
    user(&*s, "bob");
    assert_eq!(
        s.settle_success("bob", &totp(99), false, 3).unwrap(),
        Settled::Spent(LockState {
            failed_attempts: 1,
            last_failure: Some(3),
            locked_until: None
        })
    );
    assert_eq!(
        s.delete_virtual_mfa_device(&d.serial_number)
            .err()
            .unwrap()
            .code(),
        "DeleteConflict"
    );
    assert_eq!(
        s.delete_user("alice").err().unwrap().code(),
        "DeleteConflict"
    );
    s.deactivate_mfa_device("alice", &d.serial_number).unwrap();
    assert_eq!(s.recovery_codes_left("alice").unwrap(), 0);
    s.delete_virtual_mfa_device(&d.serial_number).unwrap();
}

#[test]
fn policies_versions_attachments() {
    let (_d, s) = temp();
    user(&*s, "alice");
    s.create_group("ops", "/", 1).unwrap();
    s.add_user_to_group("ops", "alice").unwrap();
    let p = s
        .create_policy(
            &NewPolicy {
                name: "web".into(),
                path: "/".into(),
                document: DOC.into(),
                ..Default::default()
            },
            1,
        )
        .unwrap();
    assert!(p.policy_id.starts_with("ANPA"));
    assert_eq!(p.default_version_id, "v1");
    for i in 2..=5 {
        let v = s.create_policy_version(&p.arn, DOC, i == 5, 2).unwrap();
        assert_eq!(v.version_id, format!("v{i}"));
    }
    assert_eq!(
        s.create_policy_version(&p.arn, DOC, false, 3)
            .err()
            .unwrap()
            .code(),
        "LimitExceeded"
    );
    assert_eq!(s.get_policy(&p.arn).unwrap().default_version_id, "v5");
    assert_eq!(
        s.delete_policy_version(&p.arn, "v5").err().unwrap().code(),
        "DeleteConflict"
    );
    s.delete_policy_version(&p.arn, "v1").unwrap();
    s.create_policy_version(&p.arn, DOC, false, 3).unwrap();
    s.attach_policy(PrincipalKind::Group, "ops", &p.arn)
        .unwrap();
    s.put_inline_policy(PrincipalKind::User, "alice", "own", DOC)
        .unwrap();
    let pp = s.user_policies("alice").unwrap();
    assert_eq!(pp.identity.len(), 2);
    assert_eq!(pp.identity[0].origin, PolicyOrigin::Inline);
    assert_eq!(pp.identity[1].source, p.arn);
    assert_eq!(
        s.delete_policy(&p.arn).err().unwrap().code(),
        "DeleteConflict"
    );
    let e = s.list_entities_for_policy(&p.arn).unwrap();
    assert_eq!(e.groups.len(), 1);
    s.set_user_boundary("alice", Some(&p.arn)).unwrap();
    assert_eq!(
        s.user_policies("alice").unwrap().boundary.unwrap().source,
        p.arn
    );
    assert_eq!(
        s.detach_policy(PrincipalKind::User, "alice", &p.arn)
            .err()
            .unwrap()
            .code(),
        "NoSuchEntity"
    );
}

#[test]
fn roles_tags_hosts_audit_sessions_ids() {
    let (_d, s) = temp();
    let r = s
        .create_role(
            &NewRole {
                name: "admin".into(),
                path: "/".into(),
                assume_role_policy_document: DOC.into(),
                max_session_duration: 3600,
                ..Default::default()
            },
            1,
        )
        .unwrap();
    assert!(r.role_id.starts_with("AROA"));
    s.tag(
        TagTarget::Role,
        "admin",
        &[Tag {
            key: "k".into(),
            value: "v".into(),
        }],
    )
    .unwrap();
    assert_eq!(s.get_role("admin").unwrap().tags.len(), 1);
    s.tag_host(
        "web1",
        &[Tag {
            key: "env".into(),
            value: "prod".into(),
        }],
    )
    .unwrap();
    s.tag_host(
        "web1",
        &[Tag {
            key: "ENV".into(),
            value: "dev".into(),
        }],
    )
    .unwrap();
    assert_eq!(
        s.list_host_tags("web1").unwrap(),
        vec![Tag {
            key: "env".into(),
            value: "dev".into()
        }]
    );
    s.untag_host("web1", &["env".into()]).unwrap();
    assert!(s.list_host_tags("web1").unwrap().is_empty());
    for t in 0..5 {
        s.append_audit(&AuditEvent {
            time: t,
            user: "alice".into(),
            service: "sshd".into(),
            action: "host:Login".into(),
            decision: if t % 2 == 0 { "allow" } else { "deny" }.into(),
            ..Default::default()
        })
        .unwrap();
    }
    let f = AuditFilter {
        decision: Some("deny".into()),
        ..Default::default()
    };
    assert_eq!(s.list_audit(&f).unwrap().len(), 2);
    let f = AuditFilter {
        limit: Some(2),
        ..Default::default()
    };
    assert_eq!(
        s.list_audit(&f)
            .unwrap()
            .iter()
            .map(|e| e.time)
            .collect::<Vec<_>>(),
        vec![3, 4]
    );
    let sess = RoleSession {
        session_id: "ASIAX".into(),
        user_name: "alice".into(),
        role_name: "admin".into(),
        session_name: "s".into(),
        token_hash: "th".into(),
        issued: 10,
        expires: 20,
        scope: "pts/1".into(),
        revoked: None,
        mfa_time: Some(9),
        role_id: Some("AROAX".into()),
        user_id: Some("AIDAX".into()),
    };
    s.create_role_session(&sess).unwrap();
    assert_eq!(s.get_role_session("th").unwrap(), sess);
    assert_eq!(
        s.list_role_sessions(Some("alice"), Some(15)).unwrap().len(),
        1
    );
    assert_eq!(
        s.list_role_sessions(Some("alice"), Some(25)).unwrap().len(),
        0
    );
    s.revoke_role_session("ASIAX", 12).unwrap();
    assert_eq!(s.list_role_sessions(None, Some(15)).unwrap().len(), 0);
    assert_eq!(
        s.allocate_id(IdSpace::Uid, "alice", (60000, 60001))
            .unwrap(),
        60000
    );
    assert_eq!(
        s.allocate_id(IdSpace::Uid, "alice", (60000, 60001))
            .unwrap(),
        60000
    );
    assert_eq!(
        s.allocate_id(IdSpace::Uid, "bob", (60000, 60001)).unwrap(),
        60001
    );
    assert_eq!(
        s.allocate_id(IdSpace::Uid, "carol", (60000, 60001))
            .err()
            .unwrap()
            .code(),
        "LimitExceeded"
    );
}

#[test]
fn access_keys_limit() {
    let (_d, s) = temp();
    user(&*s, "alice");
    s.create_access_key("alice", "AKIA1", "h", 1).unwrap();
    s.create_access_key("alice", "AKIA2", "h", 1).unwrap();
    assert_eq!(
        s.create_access_key("alice", "AKIA3", "h", 1)
            .err()
            .unwrap()
            .code(),
        "LimitExceeded"
    );
    s.update_access_key("alice", "AKIA1", Status::Inactive)
        .unwrap();
    assert!(s.access_key_secret_hash("AKIA1").is_err());
    s.record_access_key_use("AKIA2", "sts", 5).unwrap();
    assert_eq!(s.get_access_key("AKIA2").unwrap().last_used_date, Some(5));
    assert_eq!(s.list_access_keys("alice").unwrap().len(), 2);
}

#[test]
fn every_open_sets_wal_and_foreign_keys() {
    let dir = crate::store::safe_open::private_tempdir();
    let db = dir.path().join("iam.db");
    drop(open_path(&db, OpenMode::ReadWrite).unwrap());
    let c = rusqlite::Connection::open(&db).unwrap();
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal", "WAL is persistent in the file");
    // foreign_keys is per connection: the store's own connection enforces it.
    let s = open_path(&db, OpenMode::ReadWrite).unwrap();
    user(&*s, "alice");
    s.create_group("ops", "/", 1).unwrap();
    s.add_user_to_group("ops", "alice").unwrap();
    assert_eq!(
        s.delete_user("alice").err().unwrap().code(),
        "DeleteConflict"
    );
}

/// Read-then-write methods take the write lock first: racing connections never lose an
/// update, never accept the same TOTP step twice and never hand out the same attempt slot.
#[test]
fn concurrent_connections_are_serialised() {
    let dir = crate::store::safe_open::private_tempdir();
    let db = dir.path().join("iam.db");
    let serial = {
        let s = open_path(&db, OpenMode::ReadWrite).unwrap();
        for name in ["alice", "bob", "carol"] {
            user(&*s, name);
        }
        s.put_lockout_settings(&LockoutSettings {
            max_failed_attempts: 1000,
            lockout_duration_seconds: 60,
        })
        .unwrap();
        let d = s
            .create_virtual_mfa_device("alice", "/", &[1u8; 20], 1)
            .unwrap();
        s.enable_mfa_device("alice", &d.serial_number, 10, &[], 1)
            .unwrap();
        d.serial_number
    };
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let db = db.clone();
            let serial = serial.clone();
            std::thread::spawn(move || {
                let s = open_path(&db, OpenMode::ReadWrite).unwrap();
                let (mut accepted, mut admitted) = (0, 0);
                for step in 11..=30 {
                    s.record_failure("bob", 100).unwrap();
                    let p = Proof::Totp {
                        serial: &serial,
                        step,
                    };
                    if s.settle_success("alice", &p, false, 100).unwrap() == Settled::Accepted {
                        accepted += 1;
                    }
                    let a = s
                        .admit_attempt("carol", 100_000, &Throttle::DEFAULT)
                        .unwrap();
                    if matches!(a, Admission::Admitted { .. }) {
                        admitted += 1;
                    }
                }
                (accepted, admitted)
            })
        })
        .collect();
    let (mut accepted, mut admitted) = (0, 0);
    for t in threads {
        let (a, b) = t.join().unwrap();
        accepted += a;
        admitted += b;
    }
    let s = open_path(&db, OpenMode::ReadWrite).unwrap();
    // Each of the 20 steps was accepted exactly once across all connections.
    assert_eq!(accepted, 20);
    assert_eq!(s.mfa_secret(&serial).unwrap().watermark, 30);
    assert_eq!(s.lock_state("bob").unwrap().failed_attempts, 160);
    // 160 attempts in the same millisecond: three slots (now, +0.5 s, +1 s), no more.
    assert_eq!(admitted, 3);
}

#[test]
fn a_locked_user_is_refused_and_counted_at_admission_and_at_success() {
    let (_d, s) = temp();
    user(&*s, "alice");
    s.put_lockout_settings(&LockoutSettings {
        max_failed_attempts: 2,
        lockout_duration_seconds: 60,
    })
    .unwrap();
    let t = Throttle::DEFAULT;
    assert_eq!(
        s.admit_attempt("alice", 100_000, &t).unwrap(),
        Admission::Admitted { wait_ms: 0 }
    );
    s.record_failure("alice", 100).unwrap();
    s.record_failure("alice", 100).unwrap();
    // Each refusal while locked counts and extends the lock (the one lockout rule).
    assert_eq!(
        s.admit_attempt("alice", 110_000, &t).unwrap(),
        Admission::Locked { until: 170 }
    );
    assert_eq!(
        s.settle_success("alice", &Proof::Nothing, true, 120)
            .unwrap(),
        Settled::Locked { until: 180 }
    );
    let st = s.lock_state("alice").unwrap();
    assert_eq!((st.failed_attempts, st.locked_until), (4, Some(180)));
    assert_eq!(s.get_user("alice").unwrap().password_last_used, None);
    // After the lock: admitted again, and a success clears the count.
    assert_eq!(
        s.admit_attempt("alice", 181_000, &t).unwrap(),
        Admission::Admitted { wait_ms: 0 }
    );
    assert_eq!(
        s.settle_success("alice", &Proof::Nothing, true, 181)
            .unwrap(),
        Settled::Accepted
    );
    assert_eq!(s.lock_state("alice").unwrap(), LockState::default());
    // The throttle slot survives the success (it is not part of the lockout state).
    assert_eq!(
        s.admit_attempt("alice", 181_100, &t).unwrap(),
        Admission::Admitted { wait_ms: 400 }
    );
}

/// A store written before migration 5 gains the attempt slots and keeps its lockout
/// state: the two failures it counted still count toward the lock.
#[test]
fn migrates_v4_fixture() {
    let dir = crate::store::safe_open::private_tempdir();
    let db = dir.path().join("iam.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(include_str!("../../tests/fixtures/store-v4.sql"))
            .unwrap();
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let s = open_path(&db, OpenMode::ReadWrite).unwrap();
    assert_eq!(s.schema_version().unwrap(), 5);
    assert_eq!(s.lock_state("alice").unwrap().failed_attempts, 2);
    let t = Throttle::DEFAULT;
    assert_eq!(
        s.admit_attempt("alice", 1_700_000_200_000, &t).unwrap(),
        Admission::Admitted { wait_ms: 0 }
    );
    assert_eq!(
        s.admit_attempt("alice", 1_700_000_200_000, &t).unwrap(),
        Admission::Admitted { wait_ms: 500 }
    );
    let st = s.record_failure("alice", 1_700_000_200).unwrap();
    assert_eq!(st.locked_until, Some(1_700_001_100), "third failure locks");
    assert_eq!(
        s.admit_attempt("alice", 1_700_000_201_000, &t).unwrap(),
        Admission::Locked {
            until: 1_700_001_101
        }
    );
}

/// Stores that got the session-policy table before migration 3 (created on first use by
/// earlier builds) still migrate.
#[test]
fn migration_3_tolerates_an_existing_session_policy_table() {
    let dir = crate::store::safe_open::private_tempdir();
    let db = dir.path().join("iam.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(include_str!("../../tests/fixtures/store-v1.sql"))
            .unwrap();
        c.execute_batch(
            "CREATE TABLE role_session_policies (session_id TEXT PRIMARY KEY REFERENCES role_sessions(session_id) ON DELETE CASCADE, document TEXT NOT NULL)",
        )
        .unwrap();
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let s = open_path(&db, OpenMode::ReadWrite).unwrap();
    assert_eq!(s.schema_version().unwrap(), 5);
    assert_eq!(s.get_user("alice").unwrap().name, "alice");
}

/// Migration 4: role sessions get their role and user ids where those are provably the
/// ones they were issued for (created no later than the session), NULL otherwise.
#[test]
fn migration_4_binds_sessions_to_the_ids_they_were_issued_for() {
    let dir = crate::store::safe_open::private_tempdir();
    let db = dir.path().join("iam.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(include_str!("../../tests/fixtures/store-v3.sql"))
            .unwrap();
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let s = open_path(&db, OpenMode::ReadWrite).unwrap();
    assert_eq!(s.schema_version().unwrap(), 5);
    let ids = |id: &str| {
        let all = s.list_role_sessions(None, None).unwrap();
        let r = all.iter().find(|r| r.session_id == id).unwrap();
        (r.role_id.clone(), r.user_id.clone())
    };
    assert_eq!(
        ids("ASIAAAAAAAAAAAAAAAA1"),
        (
            Some("AROAAAAAAAAAAAAAAAAAA".into()),
            Some("AIDAAAAAAAAAAAAAAAAAA".into())
        )
    );
    // Role `ops` was created after this session was issued: not the same role.
    assert_eq!(
        ids("ASIAAAAAAAAAAAAAAAA2"),
        (None, Some("AIDAAAAAAAAAAAAAAAAAA".into()))
    );
    // User `bob` likewise.
    assert_eq!(
        ids("ASIAAAAAAAAAAAAAAAA3"),
        (Some("AROAAAAAAAAAAAAAAAAAA".into()), None)
    );
    // A deleted role has no id to give.
    assert_eq!(ids("ASIAAAAAAAAAAAAAAAA4").0, None);
    // The rest of the v3 store is intact.
    assert_eq!(s.get_role("ops").unwrap().role_id, "AROACCCCCCCCCCCCCCCCC");
    assert_eq!(s.get_user("alice").unwrap().name, "alice");
}
