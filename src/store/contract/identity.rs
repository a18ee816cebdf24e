//! Contract cases of identities: users, passwords and lockout, MFA devices, policies,
//! roles, tags, audit, access keys and ids.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

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
    assert!(!s.record_failure("alice", 100, None).unwrap().is_locked(100));
    let st = s.record_failure("alice", 101, None).unwrap();
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
        host: "web-01",
    };
    let rc = |code_hash| Proof::Recovery {
        code_hash,
        host: "web-01",
    };
    let settle = |p: &Proof<'_>| s.settle_success("alice", p, false, 3, None).unwrap();
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
    // The unused ones by hash (offline material), and a spend by hash (a journal's).
    assert_eq!(s.unused_recovery_hashes("alice").unwrap(), ["b"]);
    assert!(s.use_recovery_code("alice", "b", 4).unwrap());
    assert!(!s.use_recovery_code("alice", "b", 5).unwrap(), "spent once");
    assert!(!s.use_recovery_code("alice", "zzz", 5).unwrap());
    assert!(s.unused_recovery_hashes("alice").unwrap().is_empty());
    assert_eq!(
        settle(&rc("b")),
        spent(3),
        "spent by the journal: refused online"
    );
    assert_eq!(s.get_user("alice").unwrap().password_last_used, None);
    // Another user's device is not this user's proof.
    user(s, "bob");
    assert_eq!(
        s.settle_success("bob", &totp(99), false, 3, None).unwrap(),
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
        host: None,
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
        s.admit_attempt("alice", 100_000, &t, None).unwrap(),
        Admission::Admitted { wait_ms: 0 }
    );
    s.record_failure("alice", 100, None).unwrap();
    s.record_failure("alice", 100, None).unwrap();
    // Each refusal while locked counts and extends the lock (the one lockout rule).
    assert_eq!(
        s.admit_attempt("alice", 110_000, &t, None).unwrap(),
        Admission::Locked { until: 170 }
    );
    assert_eq!(
        s.settle_success("alice", &Proof::Nothing, true, 120, None)
            .unwrap(),
        Settled::Locked { until: 180 }
    );
    let st = s.lock_state("alice").unwrap();
    assert_eq!((st.failed_attempts, st.locked_until), (4, Some(180)));
    assert_eq!(s.get_user("alice").unwrap().password_last_used, None);
    // After the lock: admitted again, and a success clears the count.
    assert_eq!(
        s.admit_attempt("alice", 181_000, &t, None).unwrap(),
        Admission::Admitted { wait_ms: 0 }
    );
    assert_eq!(
        s.settle_success("alice", &Proof::Nothing, true, 181, None)
            .unwrap(),
        Settled::Accepted
    );
    assert_eq!(s.lock_state("alice").unwrap(), LockState::default());
    // The throttle slot survives the success (it is not part of the lockout state).
    assert_eq!(
        s.admit_attempt("alice", 181_100, &t, None).unwrap(),
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
