//! Contract cases of secrets and fleet state: `atomically`, sealed MFA seeds and root
//! keys, host credentials, replica export and import with the store version.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

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
    let before = c.version;
    s.tag(
        TagTarget::User,
        "bob",
        &[Tag {
            key: "team".into(),
            value: "ops".into(),
        }],
    )
    .unwrap();
    let c = s.access_key_credential("AKIAB").unwrap();
    assert_eq!(
        c.user,
        Some(s.get_user("bob").unwrap()),
        "read with its user"
    );
    // Read at the store's version (what iamd keeps a policy set for), which a change
    // to the user moved; the policy set and its version come from one snapshot too.
    let now = s.store_version().unwrap();
    assert!(
        c.version > before && c.version == now,
        "{before} {c:?} {now}"
    );
    assert_eq!(
        s.versioned_user_policies("bob").unwrap(),
        (s.user_policies("bob").unwrap(), now)
    );
    assert!(matches!(
        s.versioned_user_policies("nobody"),
        Err(StoreError::NoSuchEntity(_))
    ));
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
    assert_eq!(c.user, None);
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

/// The API server's audit batch: rows appended in order with every field, each key's
/// latest use noted (a user's key and a root key alike), a deleted key skipped, and an
/// empty batch a no-op.
pub fn audit_batch_appends_in_order_and_notes_latest_key_uses(s: &dyn Store) {
    user(s, "bob");
    s.create_access_key("bob", "AKIAB", "h", 1).unwrap();
    s.create_root_access_key("AKIAR", "h", b"sealed", 1)
        .unwrap();
    s.append_audit_batch(&[], &[]).unwrap();
    let events: Vec<AuditEvent> = (0..3)
        .map(|i| AuditEvent {
            time: 10 + i,
            user: format!("u{i}"),
            service: "iamd".into(),
            rhost: Some(format!("10.0.0.{i}")),
            tty: (i == 1).then(|| "pts/1".into()),
            action: "iam:GetUser".into(),
            decision: crate::audit::Decision::Allow,
            reason: format!("r{i}"),
        })
        .collect();
    let used = |k: &str, svc: &str, t: i64| KeyUse {
        key_id: k.into(),
        service: svc.into(),
        time: t,
    };
    let uses = [
        used("AKIAB", "iam", 12),
        used("AKIAR", "sts", 11),
        used("AKIAB", "sts", 13),
        used("AKIAB", "iam", 12),
        used("AKIAGONE", "iam", 13),
    ];
    s.append_audit_batch(&events, &uses).unwrap();
    assert_eq!(s.list_audit(&AuditFilter::default()).unwrap(), events);
    let last = |k: &str| {
        let c = s.access_key_credential(k).unwrap().key;
        (c.last_used_date, c.last_used_service)
    };
    assert_eq!(last("AKIAB"), (Some(13), Some("sts".into())));
    assert_eq!(last("AKIAR"), (Some(11), Some("sts".into())));
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

/// A login's writes take no store version (migration 15): the watermark, a recovery
/// code, failures and a lock, the factor throttle, the password's last use, the audit
/// row and the last use of a key are in no replica, so no host pulls anything after a
/// login; a change a replica carries (a user's path) still moves the version, and the
/// replica never carries the password's last use.
pub fn a_login_moves_no_store_version(s: &dyn Store) {
    user(s, "alice");
    s.create_login_profile("alice", "hash", false, 1).unwrap();
    s.create_access_key("alice", "AKIAALICE", "h", 1).unwrap();
    s.create_host_credential("web1", "HKIAWEB1", "hash", b"sealed", 1)
        .unwrap();
    let d = s
        .create_virtual_mfa_device("alice", "/", &[7u8; 20], 1)
        .unwrap();
    s.enable_mfa_device("alice", &d.serial_number, 50, &["a".into()], 1)
        .unwrap();
    s.put_lockout_settings(&crate::credentials::lockout::LockoutSettings {
        max_failed_attempts: 2,
        lockout_duration_seconds: 60,
    })
    .unwrap();
    let v = s.store_version().unwrap();
    let same = |what: &str| {
        assert_eq!(
            s.store_version().unwrap(),
            v,
            "{what} moves no store version"
        );
    };
    // A password-only login settled, as `pam::verify` does it.
    assert_eq!(
        s.settle_success("alice", &Proof::Nothing, true, 10, None)
            .unwrap(),
        Settled::Accepted
    );
    assert_eq!(s.get_user("alice").unwrap().password_last_used, Some(10));
    same("a password login (PasswordLastUsed)");
    assert!(matches!(
        s.admit_attempt("alice", 11_000, &Throttle::DEFAULT, None)
            .unwrap(),
        Admission::Admitted { .. }
    ));
    same("a second-factor admission (throttle)");
    let totp = Proof::Totp {
        serial: &d.serial_number,
        step: 51,
        host: "",
    };
    assert_eq!(
        s.settle_success("alice", &totp, true, 12, None).unwrap(),
        Settled::Accepted
    );
    assert_eq!(
        s.auth_info("alice")
            .unwrap()
            .unwrap()
            .mfa
            .unwrap()
            .watermark,
        51
    );
    same("a code login (watermark)");
    assert_eq!(
        s.settle_success(
            "alice",
            &Proof::Recovery {
                code_hash: "a",
                host: "web-01",
            },
            true,
            13,
            None,
        )
        .unwrap(),
        Settled::Accepted
    );
    same("a recovery-code login");
    s.record_failure("alice", 14, None).unwrap();
    assert!(
        s.record_failure("alice", 15, None)
            .unwrap()
            .locked_until
            .is_some()
    );
    same("failures and the lock they reach");
    s.unlock_user("alice").unwrap();
    s.lock_user_until("alice", 100).unwrap();
    s.unlock_user("alice").unwrap();
    same("a lock and an unlock");
    s.append_audit(&AuditEvent {
        time: 16,
        user: "alice".into(),
        service: "sshd".into(),
        action: "authenticate".into(),
        decision: crate::audit::Decision::Allow,
        ..Default::default()
    })
    .unwrap();
    s.record_access_key_use("AKIAALICE", "iam", 17).unwrap();
    s.record_host_credential_use("HKIAWEB1", 18).unwrap();
    same("the audit row and the last use of keys");
    let users = s.export_replica("web1").unwrap();
    let users = users.tables.iter().find(|t| t.name == "users").unwrap();
    assert!(
        !users.columns.iter().any(|c| c == "password_last_used"),
        "a replica does not carry the password's last use: {:?}",
        users.columns
    );
    s.update_user("alice", None, Some("/ops/")).unwrap();
    assert!(
        s.store_version().unwrap() > v,
        "a change a replica carries still moves the version"
    );
}

/// The replica learns each user's enabled MFA device (serial, user, enable date) and
/// nothing of its seed: enabling and deactivating a device move the store version, a
/// watermark raised by a login does not, and an imported replica holds the same view
/// and answers which device a user has enabled.
pub fn replica_carries_enabled_mfa_devices_without_seeds(s: &dyn Store) {
    user(s, "alice");
    let devices = |r: &super::replica::Replica| {
        r.tables
            .iter()
            .find(|t| t.name == "replica_mfa_devices")
            .unwrap()
            .clone()
    };
    let seed = b"12345678901234567890";
    let d = s.create_virtual_mfa_device("alice", "/", seed, 5).unwrap();
    let v0 = s.store_version().unwrap();
    assert!(
        devices(&s.export_replica("web1").unwrap()).rows.is_empty(),
        "an unassigned device is no one's"
    );
    s.enable_mfa_device("alice", &d.serial_number, -1, &[], 7)
        .unwrap();
    let v1 = s.store_version().unwrap();
    assert!(v1 > v0, "enabling a device moves the version");
    let r = s.export_replica("web1").unwrap();
    let t = devices(&r);
    assert_eq!(t.columns, ["serial", "user_pk", "enabled"]);
    assert_eq!(t.rows.len(), 1);
    assert_eq!(t.rows[0][0], serde_json::json!(d.serial_number));
    assert_eq!(t.rows[0][2], serde_json::json!(7));
    assert!(
        !serde_json::to_string(&r)
            .unwrap()
            .contains("12345678901234567890"),
        "no seed in a replica"
    );
    assert!(s.raise_totp_watermark(&d.serial_number, 100).unwrap());
    assert_eq!(
        s.store_version().unwrap(),
        v1,
        "a login's watermark leaves the version alone"
    );
    s.deactivate_mfa_device("alice", &d.serial_number).unwrap();
    assert!(s.store_version().unwrap() > v1, "deactivating moves it");
    assert!(devices(&s.export_replica("web1").unwrap()).rows.is_empty());
    assert_eq!(
        s.replica_mfa_device("alice").unwrap(),
        None,
        "a server's own store holds no replica view"
    );
    // A replica holding the view imports (the table is one a replica carries), and
    // answers the offline rules' question.
    s.import_replica(&r).unwrap();
    assert_eq!(s.store_version().unwrap(), r.store_version);
    assert_eq!(
        s.replica_mfa_device("alice").unwrap(),
        Some(crate::store::ReplicaMfaDevice {
            serial_number: d.serial_number.clone(),
            enable_date: 7,
        })
    );
    assert_eq!(s.replica_mfa_device("nobody").unwrap(), None);
}
