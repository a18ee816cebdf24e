//! The backend contract suite: every behaviour a store must have, written once against
//! `&dyn Store`. A backend runs all of it with one line,
//! `crate::store::contract::store_contract_suite!(factory);`, where `factory()` returns a
//! fresh, empty [`Fixture`] (SQLite: `sqlite/tests.rs`).

// Test code (compiled outside `cfg(test)` only for other crates' backend tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::credentials::second_factor::{Admission, Proof, Settled, Throttle};

const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#;

/// A fresh, empty store and whatever keeps it alive (a temporary directory, a server).
pub struct Fixture {
    /// The store under test.
    pub store: Box<dyn Store>,
    /// Dropped after the store: removes what the store lived in.
    #[allow(dead_code)]
    pub keep: Box<dyn std::any::Any>,
}

/// What a factory returns: a [`Fixture`], or `Option<Fixture>` for a backend that may be
/// missing on a developer's machine (a server it cannot start).
pub trait IntoFixture {
    /// The fixture, if there is one.
    fn into_fixture(self) -> Option<Fixture>;
}

impl IntoFixture for Fixture {
    fn into_fixture(self) -> Option<Fixture> {
        Some(self)
    }
}

impl IntoFixture for Option<Fixture> {
    fn into_fixture(self) -> Option<Fixture> {
        self
    }
}

/// A user named `name` at path `/`.
pub fn user(s: &dyn Store, name: &str) -> User {
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

/// One `#[test]` per contract case, each on a fresh store from `$make()` (a
/// [`Fixture`]): `store_contract_suite!(my_backend_fixture);` in a backend's tests
/// (another crate's with the `contract` feature: `pam_iam::store_contract_suite!`).
#[macro_export]
#[doc(hidden)]
macro_rules! store_contract_suite {
    ($make:path) => {
        $crate::store_contract_suite!(@cases $make;
            user_lifecycle_and_conflicts,
            password_history_and_lockout,
            mfa_watermark_and_recovery_codes,
            policies_versions_attachments,
            roles_tags_hosts_audit_sessions_ids,
            access_keys_limit,
            a_locked_user_is_refused_and_counted_at_admission_and_at_success,
            ids_are_bound_to_entities_never_reused_and_skip_local_ones,
            session_policy_round_trip_and_mfa_update,
            a_session_for_a_replaced_role_or_user_is_refused,
            min_duration_setting_is_bounded,
            atomically_is_all_or_nothing,
            root_keys_and_sealed_secrets,
            mfa_seeds_are_sealed_at_rest,
            host_credentials_round_trip,
            replica_export_import_and_store_version,
            api_sessions_keep_their_sealed_secret
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                // `None`: the backend is not available here (the factory said why).
                if let Some(fixture) = $crate::store::contract::IntoFixture::into_fixture($make()) {
                    $crate::store::contract::$case(&*fixture.store);
                }
            }
        )*
    };
}
pub use crate::store_contract_suite;

/// See the suite's cases list.
pub fn user_lifecycle_and_conflicts(s: &dyn Store) {
    let u = user(s, "alice");
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

/// See the suite's cases list.
pub fn password_history_and_lockout(s: &dyn Store) {
    user(s, "alice");
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

/// See the suite's cases list.
pub fn mfa_watermark_and_recovery_codes(s: &dyn Store) {
    user(s, "alice");
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
    user(s, "bob");
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

/// See the suite's cases list.
pub fn policies_versions_attachments(s: &dyn Store) {
    user(s, "alice");
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

/// See the suite's cases list.
pub fn roles_tags_hosts_audit_sessions_ids(s: &dyn Store) {
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
            decision: if t % 2 == 0 {
                crate::audit::Decision::Allow
            } else {
                crate::audit::Decision::Deny
            },
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
        secret_sealed: None,
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

/// See the suite's cases list.
pub fn access_keys_limit(s: &dyn Store) {
    user(s, "alice");
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

/// See the suite's cases list.
pub fn a_locked_user_is_refused_and_counted_at_admission_and_at_success(s: &dyn Store) {
    user(s, "alice");
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

/// Ids are bound once, never reused, and skip local ones.
pub fn ids_are_bound_to_entities_never_reused_and_skip_local_ones(s: &dyn Store) {
    let none = |_: u32| false;
    let r = (70000, 70004);
    assert_eq!(s.linux_id("AIDAALICE").unwrap(), None);
    assert_eq!(
        assign_linux_id(s, "AIDAALICE", None, r, &none).unwrap(),
        70000
    );
    assert_eq!(
        assign_linux_id(s, "AIDAALICE", None, r, &none).unwrap(),
        70000
    );
    assert_eq!(s.linux_id("AIDAALICE").unwrap(), Some(70000));
    // Local accounts are skipped; groups share the sequence.
    assert_eq!(
        assign_linux_id(s, "AGPAOPS", None, r, &|i| i == 70001).unwrap(),
        70002
    );
    // Explicit ids: never one already handed out, and never changed afterwards.
    assert!(assign_linux_id(s, "AIDABOB", Some(70000), r, &none).is_err());
    assert_eq!(
        assign_linux_id(s, "AIDABOB", Some(5000), r, &none).unwrap(),
        5000
    );
    assert!(assign_linux_id(s, "AIDABOB", Some(5001), r, &none).is_err());
    // Ids only grow: 70001 (skipped above) is not handed out later.
    assert_eq!(
        assign_linux_id(s, "AIDACAROL", None, r, &none).unwrap(),
        70003
    );
    assert_eq!(
        assign_linux_id(s, "AIDADAVE", None, r, &none).unwrap(),
        70004
    );
    let e = assign_linux_id(s, "AIDAERIN", None, r, &none).unwrap_err();
    assert_eq!(e.code(), "LimitExceeded");
}

/// alice and the role admin, for the session cases.
fn sts_world(s: &dyn Store) {
    s.create_user(
        &NewUser {
            name: "alice".into(),
            path: "/".into(),
            ..Default::default()
        },
        1,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    s.create_role(
        &NewRole {
            name: "admin".into(),
            path: "/".into(),
            assume_role_policy_document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#.into(),
            max_session_duration: 3600,
            ..Default::default()
        },
        1,
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

fn session(id: &str) -> RoleSession {
    RoleSession {
        session_id: id.into(),
        user_name: "alice".into(),
        role_name: "admin".into(),
        session_name: "s".into(),
        token_hash: format!("h-{id}"),
        issued: 10,
        expires: 1000,
        scope: "tty:b:1:2:3".into(),
        revoked: None,
        mfa_time: None,
        role_id: None,
        user_id: None,
        secret_sealed: None,
    }
}

/// See the suite's cases list: iamd's temporary credentials (migration 11) are role
/// sessions with a sealed secret, found by the hash of their token; a user's own session
/// (`GetSessionToken`) has no role, root's neither a role nor a user; each is revocable.
pub fn api_sessions_keep_their_sealed_secret(s: &dyn Store) {
    sts_world(s);
    let ev = AuditEvent::default();
    let sealed: Vec<u8> = (0u8..=255).chain(0..40).collect();
    let role = RoleSession {
        scope: "iamd:127.0.0.1".into(),
        role_id: s.get_role("admin").map(|r| r.role_id).ok(),
        user_id: s.get_user("alice").map(|u| u.user_id).ok(),
        secret_sealed: Some(sealed.clone()),
        ..session("ASIAROLE")
    };
    let user = RoleSession {
        role_name: String::new(),
        session_name: String::new(),
        secret_sealed: Some(vec![1, 2, 3]),
        user_id: role.user_id.clone(),
        ..session("ASIAUSER")
    };
    let root = RoleSession {
        session_id: "ASIAROOT".into(),
        token_hash: "h-ASIAROOT".into(),
        user_name: String::new(),
        user_id: None,
        ..user.clone()
    };
    for x in [&role, &user, &root] {
        issue_role_session(s, x, None, &ev).unwrap_or_else(|e| panic!("{e}"));
    }
    let got = s.get_role_session("h-ASIAROLE").unwrap();
    assert_eq!(got, role);
    assert_eq!(
        got.secret_sealed.as_deref(),
        Some(&sealed[..]),
        "bytes intact"
    );
    assert_eq!(got.of(), SessionOf::Role);
    assert!(got.is_api());
    assert_eq!(
        s.get_role_session("h-ASIAUSER").unwrap().of(),
        SessionOf::User
    );
    assert_eq!(
        s.get_role_session("h-ASIAROOT").unwrap().of(),
        SessionOf::Root
    );
    assert!(
        !session("ASIAX").is_api(),
        "iam-sts sessions have no sealed secret"
    );
    assert!(matches!(
        s.get_role_session("h-nothing"),
        Err(StoreError::NoSuchEntity(_))
    ));
    let mine = s.list_role_sessions(Some("alice"), Some(15)).unwrap();
    assert_eq!(mine.len(), 2, "the role session and the user's own");
    s.revoke_role_session("ASIAUSER", 20).unwrap();
    assert_eq!(s.get_role_session("h-ASIAUSER").unwrap().revoked, Some(20));
}

/// See the suite's cases list.
pub fn session_policy_round_trip_and_mfa_update(s: &dyn Store) {
    sts_world(s);
    // Before any session policy exists, the table does not either: reads say None.
    assert_eq!(s.role_session_policy("ASIA1").ok(), Some(None));
    let ev = AuditEvent {
        action: "sts:AssumeRole".into(),
        ..Default::default()
    };
    issue_role_session(s, &session("ASIA1"), Some("{\"doc\":1}"), &ev)
        .unwrap_or_else(|e| panic!("{e}"));
    issue_role_session(s, &session("ASIA2"), None, &ev).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.role_session_policy("ASIA1").ok(),
        Some(Some("{\"doc\":1}".into()))
    );
    assert_eq!(s.role_session_policy("ASIA2").ok(), Some(None));
    s.set_role_session_mfa("ASIA2", 77)
        .unwrap_or_else(|e| panic!("{e}"));
    let all = s
        .list_role_sessions(Some("alice"), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        all.iter()
            .find(|r| r.session_id == "ASIA2")
            .and_then(|r| r.mfa_time),
        Some(77)
    );
    assert!(matches!(
        s.set_role_session_mfa("ASIA9", 1),
        Err(StoreError::NoSuchEntity(_))
    ));
}

/// See the suite's cases list.
pub fn a_session_for_a_replaced_role_or_user_is_refused(s: &dyn Store) {
    sts_world(s);
    let role_id = s.get_role("admin").map(|r| r.role_id).ok();
    let user_id = s.get_user("alice").map(|u| u.user_id).ok();
    let ev = AuditEvent::default();
    let mut ok = session("ASIA1");
    ok.role_id = role_id.clone();
    ok.user_id = user_id.clone();
    issue_role_session(s, &ok, None, &ev).unwrap_or_else(|e| panic!("{e}"));
    let mut stale_role = session("ASIA2");
    stale_role.role_id = Some("AROAOLD".into());
    stale_role.user_id = user_id;
    let mut stale_user = session("ASIA3");
    stale_user.role_id = role_id;
    stale_user.user_id = Some("AIDAOLD".into());
    for bad in [stale_role, stale_user] {
        assert!(matches!(
            issue_role_session(s, &bad, None, &ev),
            Err(StoreError::NoSuchEntity(_))
        ));
    }
    let all = s
        .list_role_sessions(Some("alice"), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.len(), 1);
    assert_eq!(
        s.list_audit(&Default::default()).map(|v| v.len()).ok(),
        Some(1)
    );
}

/// See the suite's cases list.
pub fn min_duration_setting_is_bounded(s: &dyn Store) {
    sts_world(s);
    assert_eq!(s.sts_min_session_duration().ok(), Some(None));
    s.set_sts_min_session_duration(Some(2))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.sts_min_session_duration().ok(), Some(Some(2)));
    assert!(s.set_sts_min_session_duration(Some(0)).is_err());
    assert!(s.set_sts_min_session_duration(Some(901)).is_err());
    s.set_sts_min_session_duration(None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.sts_min_session_duration().ok(), Some(None));
}

/// `atomically`: every step commits together or none does; a failed step alone rolls
/// back only itself when the body goes on.
pub fn atomically_is_all_or_nothing(s: &dyn Store) {
    let e = atomically(s, |tx| {
        user(tx, "alice");
        tx.tag(
            TagTarget::User,
            "alice",
            &[Tag {
                key: "team".into(),
                value: "ops".into(),
            }],
        )?;
        Err::<(), _>(StoreError::Validation("stop".into()))
    })
    .unwrap_err();
    assert_eq!(e.to_string(), "stop");
    assert_eq!(s.get_user("alice").unwrap_err().code(), "NoSuchEntity");
    assert!(s.list_users("/").unwrap().is_empty());

    let n = atomically(s, |tx| {
        user(tx, "bob");
        // A step that fails (quota: 51 tags) leaves nothing behind, and the body goes on.
        let many: Vec<Tag> = (0..51)
            .map(|i| Tag {
                key: format!("k{i}"),
                value: "v".into(),
            })
            .collect();
        assert_eq!(
            tx.tag(TagTarget::User, "bob", &many).unwrap_err().code(),
            "LimitExceeded"
        );
        // Nested: one more step of the same transaction.
        atomically(tx, |inner| {
            inner.create_group("ops", "/", 1)?;
            inner.add_user_to_group("ops", "bob")
        })?;
        Ok(tx.list_tags(TagTarget::User, "bob")?.len())
    })
    .unwrap();
    assert_eq!(n, 0);
    assert_eq!(s.list_groups_for_user("bob").unwrap().len(), 1);
}

/// TOTP seeds are sealed at rest (migration 10): no table holds a seed, yet every read
/// path (the device, the enabled device, the login's read) opens it.
pub fn mfa_seeds_are_sealed_at_rest(s: &dyn Store) {
    user(s, "alice");
    let seed = *b"seed-of-alice-20byte";
    let spare = *b"seed-of-spare-20byte";
    let a = s.create_virtual_mfa_device("alice", "/", &seed, 1).unwrap();
    let b = s
        .create_virtual_mfa_device("spare", "/", &spare, 1)
        .unwrap();
    s.enable_mfa_device("alice", &a.serial_number, -1, &[], 2)
        .unwrap();
    assert_eq!(
        s.mfa_secret(&b.serial_number).unwrap().seed.as_slice(),
        spare
    );
    assert_eq!(
        s.enabled_mfa("alice").unwrap().unwrap().seed.as_slice(),
        seed
    );
    let m = s.auth_info("alice").unwrap().unwrap().mfa.unwrap();
    assert_eq!(m.seed.as_slice(), seed);
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    let snap = s.export_snapshot().unwrap();
    let mut sealed = Vec::new();
    for t in &snap.tables {
        for row in &t.rows {
            for (col, v) in t.columns.iter().zip(row) {
                let bytes = match v {
                    crate::store::snapshot::Value::Bytes(b) => b.clone(),
                    crate::store::snapshot::Value::Text(x) => x.as_bytes().to_vec(),
                    _ => continue,
                };
                for needle in [&seed[..], &spare[..]] {
                    assert!(!contains(&bytes, needle), "{}.{col} holds a seed", t.name);
                }
                if (t.name, *col) == ("mfa_devices", "seed_sealed") {
                    sealed.push(bytes);
                }
            }
        }
    }
    assert_eq!(sealed.len(), 2, "both devices hold a sealed seed");
}

/// Root access keys and sealed secrets (migration 6).
pub fn root_keys_and_sealed_secrets(s: &dyn Store) {
    user(s, "bob");
    atomically(s, |t| {
        t.create_access_key("bob", "AKIAB", "h", 1)?;
        t.set_access_key_secret("AKIAB", b"sealed-b")
    })
    .unwrap();
    let c = s.access_key_credential("AKIAB").unwrap();
    assert!(!c.root);
    assert_eq!(c.key.user_name, "bob");
    assert_eq!(c.sealed_secret.as_deref(), Some(&b"sealed-b"[..]));
    s.create_root_access_key("AKIAR1", "h", b"sealed-r", 2)
        .unwrap();
    s.create_root_access_key("AKIAR2", "h", b"sealed-r2", 3)
        .unwrap();
    assert_eq!(
        s.create_root_access_key("AKIAR3", "h", b"x", 4)
            .unwrap_err()
            .code(),
        "LimitExceeded"
    );
    let c = s.access_key_credential("AKIAR1").unwrap();
    assert!(c.root);
    assert_eq!(c.key.user_name, "");
    assert_eq!(s.list_root_access_keys().unwrap().len(), 2);
    assert!(
        s.list_access_keys("bob").unwrap().len() == 1,
        "root keys are nobody's"
    );
    s.update_root_access_key("AKIAR1", Status::Inactive)
        .unwrap();
    assert_eq!(
        s.access_key_credential("AKIAR1").unwrap().key.status,
        Status::Inactive
    );
    s.record_access_key_use("AKIAR1", "iam", 9).unwrap();
    assert_eq!(
        s.access_key_credential("AKIAR1")
            .unwrap()
            .key
            .last_used_date,
        Some(9)
    );
    s.delete_root_access_key("AKIAR1").unwrap();
    assert_eq!(
        s.access_key_credential("AKIAR1").unwrap_err().code(),
        "NoSuchEntity"
    );
    assert_eq!(
        s.delete_root_access_key("AKIAR1").unwrap_err().code(),
        "NoSuchEntity"
    );
    // A key with only a hash (made before migration 6) is the one to rotate.
    assert!(s.unsealed_access_keys().unwrap().is_empty());
    s.create_access_key("bob", "AKIAOLD", "h", 1).unwrap();
    let old = s.unsealed_access_keys().unwrap();
    assert_eq!(
        old.iter()
            .map(|k| (k.access_key_id.as_str(), k.user_name.as_str()))
            .collect::<Vec<_>>(),
        [("AKIAOLD", "bob")]
    );
}

/// Host credentials (migration 8): one per host, its sealed secret, use, deletion.
pub fn host_credentials_round_trip(s: &dyn Store) {
    let v = s.store_version().unwrap();
    let c = s
        .create_host_credential("web1", "HKIAWEB1", "hash", b"sealed-1", 5)
        .unwrap();
    assert_eq!(
        (c.host.as_str(), c.key_id.as_str(), c.created),
        ("web1", "HKIAWEB1", 5)
    );
    assert_eq!(
        s.create_host_credential("WEB1", "HKIAWEB1B", "hash", b"x", 6)
            .unwrap_err()
            .code(),
        "EntityAlreadyExists",
        "host names compare without case"
    );
    s.create_host_credential("db1", "HKIADB1", "hash", b"sealed-2", 7)
        .unwrap();
    let (c, sealed) = s.host_credential("HKIAWEB1").unwrap();
    assert_eq!(
        (c.host.as_str(), sealed.as_slice()),
        ("web1", &b"sealed-1"[..])
    );
    assert_eq!(c.last_used, None);
    s.record_host_credential_use("HKIAWEB1", 9).unwrap();
    assert_eq!(s.host_credential("HKIAWEB1").unwrap().0.last_used, Some(9));
    let hosts: Vec<String> = s
        .list_host_credentials()
        .unwrap()
        .into_iter()
        .map(|c| c.host)
        .collect();
    assert_eq!(hosts, ["db1", "web1"]);
    s.delete_host_credential("web1").unwrap();
    assert_eq!(
        s.delete_host_credential("web1").unwrap_err().code(),
        "NoSuchEntity"
    );
    assert_eq!(
        s.host_credential("HKIAWEB1").unwrap_err().code(),
        "NoSuchEntity"
    );
    assert_eq!(
        s.store_version().unwrap(),
        v,
        "credentials are not in a replica: the version stays"
    );
}

/// The store version moves with every change a replica carries and only with those; a
/// host's export holds the replicated tables (its own host tags only) at that version;
/// importing it back restores exactly that view and version.
pub fn replica_export_import_and_store_version(s: &dyn Store) {
    use super::replica::REPLICA_TABLES;
    let v0 = s.store_version().unwrap();
    user(s, "alice");
    let v1 = s.store_version().unwrap();
    assert!(v1 > v0, "a new user moves the version ({v0} -> {v1})");
    let tag = |k: &str| Tag {
        key: k.into(),
        value: "v".into(),
    };
    s.tag_host("web1", &[tag("env")]).unwrap();
    s.tag_host("db1", &[tag("tier")]).unwrap();
    s.create_group("ops", "/", 1).unwrap();
    s.add_user_to_group("ops", "alice").unwrap();
    s.put_inline_policy(PrincipalKind::Group, "ops", "login", DOC)
        .unwrap();
    let v2 = s.store_version().unwrap();
    assert!(v2 > v1);
    // What a replica does not carry leaves the version alone.
    s.create_login_profile("alice", "hash", false, 2).unwrap();
    s.create_access_key("alice", "AKIAALICE", "h", 3).unwrap();
    s.append_audit(&AuditEvent {
        time: 4,
        user: "alice".into(),
        service: "sshd".into(),
        action: "host:Login".into(),
        decision: crate::audit::Decision::Allow,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(s.store_version().unwrap(), v2);

    let r = s.export_replica("web1").unwrap();
    assert_eq!(r.store_version, v2);
    assert_eq!(r.host, "web1");
    assert_eq!(r.schema_version, s.schema_version().unwrap());
    assert_eq!(r.account_id, s.account_id().unwrap());
    let names: Vec<&str> = r.tables.iter().map(|t| t.name.as_str()).collect();
    let expected: Vec<&str> = REPLICA_TABLES.iter().map(|(t, _)| *t).collect();
    assert_eq!(names, expected);
    let table = |r: &super::replica::Replica, n: &str| {
        r.tables.iter().find(|t| t.name == n).unwrap().clone()
    };
    let users = table(&r, "users");
    let name_col = users.columns.iter().position(|c| c == "name").unwrap();
    assert_eq!(users.rows.len(), 1);
    assert_eq!(users.rows[0][name_col], serde_json::json!("alice"));
    let hosts = table(&r, "host_tags");
    let host_col = hosts.columns.iter().position(|c| c == "host").unwrap();
    assert_eq!(hosts.rows.len(), 1, "only this host's tags");
    assert_eq!(hosts.rows[0][host_col], serde_json::json!("web1"));
    assert_eq!(table(&r, "group_inline").rows.len(), 1);

    // Later changes, then the replica imported back: exactly its view and version.
    user(s, "bob");
    s.delete_inline_policy(PrincipalKind::Group, "ops", "login")
        .unwrap();
    assert!(s.store_version().unwrap() > v2);
    // A replica store holds nothing a replica does not carry.
    s.delete_access_key("alice", "AKIAALICE").unwrap();
    s.delete_login_profile("alice").unwrap();
    s.import_replica(&r).unwrap();
    assert_eq!(s.store_version().unwrap(), v2);
    assert_eq!(s.get_user("bob").unwrap_err().code(), "NoSuchEntity");
    assert_eq!(s.export_replica("web1").unwrap(), r);
    user(s, "carol");
    assert!(
        s.store_version().unwrap() > v2,
        "versions go on after an import"
    );

    // A replica of another schema, or with a table a replica never carries, is refused
    // and changes nothing.
    let before = s.export_replica("web1").unwrap();
    let mut other = before.clone();
    other.schema_version += 1;
    assert!(s.import_replica(&other).is_err());
    let mut bad = before.clone();
    bad.tables[0].name = "login_profiles".into();
    assert!(s.import_replica(&bad).is_err());
    assert_eq!(s.export_replica("web1").unwrap(), before);
}
