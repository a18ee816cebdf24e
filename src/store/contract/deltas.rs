//! Fleet deltas (migration 17): a replica kept by deltas is exactly the replica a full
//! snapshot gives, after every kind of change; a host not holding this store's recent
//! versions gets a full snapshot; a replica records what it is of (migration 18), so a
//! restarted agent resumes from it.

use super::replica::{CHANGE_LOG_VERSIONS, Exported, Held, Pulled, Unresumable, resume};
use super::*;
use std::path::{Path, PathBuf};

/// A private directory for two SQLite replicas, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        use std::os::unix::fs::DirBuilderExt;
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "pam-iam-deltas-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        std::fs::DirBuilder::new().mode(0o700).create(&p).unwrap();
        Dir(p)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every table of a SQLite file but its own identity, each sorted, as text: two
/// replicas holding the same are equal here.
fn dump(path: &Path) -> Vec<(String, Vec<String>)> {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut st = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> 'store_identity' ORDER BY name")
        .unwrap();
    let names: Vec<String> = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    names
        .into_iter()
        .map(|t| {
            let mut st = c.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
            let n = st.column_count();
            let mut rows: Vec<String> = st
                .query_map([], |r| {
                    Ok((0..n)
                        .map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap()))
                        .collect::<Vec<_>>()
                        .join("|"))
                })
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            rows.sort();
            (t, rows)
        })
        .collect()
}

fn held(p: &Pulled) -> Held {
    Held {
        store_id: p.store_id.clone(),
        version: p.store_version(),
    }
}

fn tags(keys: &[&str]) -> Vec<Tag> {
    keys.iter()
        .map(|k| Tag {
            key: (*k).into(),
            value: format!("v-{k}"),
        })
        .collect()
}

/// A replica kept by deltas equals a replica made from the full snapshot, after each of
/// a series of changes of every kind a replica carries (users, tags, groups and
/// members, policies and versions, attachments, inline policies, roles, SSH keys, Linux
/// ids, MFA devices, this and another host's tags and role sessions), also for a delta
/// spanning several changes; a delta holds only the changed tables, and of the
/// host-filtered ones only this host's rows; a change no replica carries sends nothing.
pub fn deltas_rebuild_exactly_the_full_snapshot(s: &dyn Store) {
    let dir = Dir::new();
    let (dp, fp) = (dir.0.join("delta.db"), dir.0.join("full.db"));
    let by_delta = open_path(&dp, OpenMode::ReadWrite).unwrap();
    let by_full = open_path(&fp, OpenMode::ReadWrite).unwrap();
    let first = s.export_replica_since("web1", None).unwrap();
    let Exported::Full(r) = &first.exported else {
        panic!("a host holding nothing gets a full snapshot");
    };
    by_delta.import_replica(r).unwrap();
    let mut h = held(&first);
    // The delta since the last applied one (its tables; its JSON): applied and checked
    // against a full snapshot, unless `skip` (then the next check's delta spans it).
    let mut pull = |what: &str, skip: bool| -> (Vec<String>, String) {
        let p = s.export_replica_since("web1", Some(&h)).unwrap();
        assert_eq!(p.store_version(), s.store_version().unwrap(), "{what}");
        let Exported::Delta(d) = &p.exported else {
            panic!("{what}: a host just behind gets a delta");
        };
        assert_eq!(d.from_version, h.version, "{what}");
        let names: Vec<String> = d.replica.tables.iter().map(|t| t.name.clone()).collect();
        let json = serde_json::to_string(&d.replica).unwrap();
        if skip {
            return (names, json);
        }
        by_delta
            .apply_replica_delta(d)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        by_full
            .import_replica(&s.export_replica("web1").unwrap())
            .unwrap();
        assert_eq!(dump(&dp), dump(&fp), "{what}: the delta replica differs");
        assert_eq!(by_delta.store_version().unwrap(), p.store_version());
        h = held(&p);
        (names, json)
    };
    let same = |a: Vec<String>, b: &[&str], what: &str| {
        assert_eq!(
            a,
            b.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            "{what}"
        );
    };

    user(s, "alice");
    same(pull("a new user", false).0, &["users"], "only users");
    s.tag(TagTarget::User, "alice", &tags(&["team", "site"]))
        .unwrap();
    same(pull("user tags", false).0, &["user_tags"], "only user tags");
    s.untag(TagTarget::User, "alice", &["site".into()]).unwrap();
    pull("a tag removed", false);
    s.create_group("ops", "/", 1).unwrap();
    s.add_user_to_group("ops", "alice").unwrap();
    pull("a group and a member", false);
    let p = s
        .create_policy(
            &NewPolicy {
                name: "login".into(),
                path: "/".into(),
                document: DOC.into(),
                ..Default::default()
            },
            1,
        )
        .unwrap();
    pull("a policy", false);
    s.attach_policy(PrincipalKind::User, "alice", &p.arn)
        .unwrap();
    same(
        pull("attach", false).0,
        &["user_attached"],
        "only the attachment",
    );
    s.attach_policy(PrincipalKind::Group, "ops", &p.arn)
        .unwrap();
    s.create_policy_version(&p.arn, DOC, true, 2).unwrap();
    pull("a group attachment and a policy version", false);
    s.detach_policy(PrincipalKind::User, "alice", &p.arn)
        .unwrap();
    s.put_inline_policy(PrincipalKind::User, "alice", "inline", DOC)
        .unwrap();
    pull("detach and an inline policy", false);
    s.create_role(
        &NewRole {
            name: "admin".into(),
            path: "/".into(),
            assume_role_policy_document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#.into(),
            max_session_duration: 3600,
            tags: tags(&["tier"]),
            ..Default::default()
        },
        1,
    )
    .unwrap();
    s.attach_policy(PrincipalKind::Role, "admin", &p.arn)
        .unwrap();
    s.put_inline_policy(PrincipalKind::Role, "admin", "r", DOC)
        .unwrap();
    pull("a role, its tag, attachment and inline policy", false);
    s.upload_ssh_public_key("alice", "APKAALICE1", "ssh-ed25519 AAAA alice", "fp1", 3)
        .unwrap();
    pull("an SSH key", false);
    s.update_ssh_public_key("alice", "APKAALICE1", Status::Inactive)
        .unwrap();
    pull("an SSH key made inactive", false);
    s.allocate_id(IdSpace::Uid, "alice", (70000, 80000))
        .unwrap();
    pull("a Linux id", false);
    let d = s
        .create_virtual_mfa_device("alice", "/", &[7u8; 20], 4)
        .unwrap();
    s.enable_mfa_device("alice", &d.serial_number, 1, &[], 4)
        .unwrap();
    same(
        pull("an MFA device enabled", false).0,
        &["replica_mfa_devices"],
        "the replica's MFA view only",
    );
    // Host tags: this host's, then another host's (the delta says nothing of it).
    s.tag_host("web1", &tags(&["env"])).unwrap();
    pull("this host's tag", false);
    s.tag_host("db1", &tags(&["secret-tier"])).unwrap();
    let (names, json) = pull("another host's tag", false);
    same(names, &["host_tags"], "host tags, this host's rows");
    assert!(
        !json.contains("secret-tier"),
        "another host's tags never reach this host"
    );
    // Role sessions: this host's issued, another host's, one of no host, a revocation.
    let session = |id: &str, host: Option<&str>| RoleSession {
        host: host.map(str::to_string),
        ..super::sessions::session(id)
    };
    crate::store::issue_role_session(
        s,
        &session("ASIAWEB1", Some("web1")),
        Some(DOC),
        &AuditEvent::default(),
    )
    .unwrap();
    same(
        pull("this host's session", false).0,
        &["role_sessions", "role_session_policies"],
        "the sessions and their policies",
    );
    crate::store::issue_role_session(
        s,
        &session("ASIADB1", Some("db1")),
        Some(DOC),
        &AuditEvent::default(),
    )
    .unwrap();
    let v = s.store_version().unwrap();
    s.create_role_session(&session("ASIALOCAL", None)).unwrap();
    assert_eq!(s.store_version().unwrap(), v, "no host's session");
    let (names, json) = pull("another host's session", false);
    same(
        names,
        &["role_sessions", "role_session_policies"],
        "the sessions",
    );
    assert!(!json.contains("ASIADB1") && !json.contains("ASIALOCAL"));
    s.revoke_role_session("ASIAWEB1", 50).unwrap();
    pull("a revocation", false);
    // Several changes in one delta, deletions with their cascades, a renamed user, a
    // user made again under a deleted one's name.
    s.deactivate_mfa_device("alice", &d.serial_number).unwrap();
    s.delete_virtual_mfa_device(&d.serial_number).unwrap();
    s.delete_ssh_public_key("alice", "APKAALICE1").unwrap();
    s.remove_user_from_group("ops", "alice").unwrap();
    s.untag_host("web1", &["env".into()]).unwrap();
    user(s, "bob");
    s.tag(TagTarget::User, "bob", &tags(&["b"])).unwrap();
    s.add_user_to_group("ops", "bob").unwrap();
    pull("several changes at once", false);
    s.delete_inline_policy(PrincipalKind::User, "alice", "inline")
        .unwrap();
    s.remove_user_from_group("ops", "bob").unwrap();
    s.delete_user("bob").unwrap();
    pull("a user deleted with its tags and membership", false);
    user(s, "bob");
    s.update_user("alice", Some("carol"), Some("/staff/"))
        .unwrap();
    s.tag(TagTarget::User, "bob", &tags(&["again"])).unwrap();
    pull("a user made again, another renamed", false);
    s.detach_policy(PrincipalKind::Group, "ops", &p.arn)
        .unwrap();
    s.detach_policy(PrincipalKind::Role, "admin", &p.arn)
        .unwrap();
    s.delete_inline_policy(PrincipalKind::Role, "admin", "r")
        .unwrap();
    s.delete_role("admin").unwrap();
    s.delete_group("ops").unwrap();
    pull("a role and a group deleted", false);
    // What no replica carries sends nothing.
    s.create_access_key("bob", "AKIABOB", "h", 5).unwrap();
    let names = pull("an access key", true).0;
    assert!(names.is_empty(), "an access key resends nothing: {names:?}");
    // The replica kept by deltas takes a full snapshot as well.
    by_delta
        .import_replica(&s.export_replica("web1").unwrap())
        .unwrap();
    assert_eq!(dump(&dp), dump(&fp));
}

/// A host gets a full snapshot when it holds nothing, a version of another store, a
/// version ahead of the store's, or one older than the change log keeps; the log is
/// pruned as the versions go by. A delta never applies to a replica at another version.
pub fn a_host_behind_the_change_log_gets_a_full_snapshot(s: &dyn Store) {
    user(s, "alice");
    let first = s.export_replica_since("web1", None).unwrap();
    assert!(matches!(first.exported, Exported::Full(_)));
    let old = held(&first);
    let full = |h: &Held, what: &str| {
        let p = s.export_replica_since("web1", Some(h)).unwrap();
        assert!(matches!(p.exported, Exported::Full(_)), "{what}: full");
        assert_eq!(p.store_id, first.store_id, "one store, one identity");
    };
    full(
        &Held {
            store_id: "another-store".into(),
            version: old.version,
        },
        "another store",
    );
    full(
        &Held {
            store_id: old.store_id.clone(),
            version: old.version + 1,
        },
        "a version ahead of the store",
    );
    // One version per change on every backend (one row per transaction).
    let mut last = old.version;
    let mut i = 0;
    while s.store_version().unwrap() <= old.version + CHANGE_LOG_VERSIONS {
        s.tag_host(
            "web1",
            &[Tag {
                key: "n".into(),
                value: i.to_string(),
            }],
        )
        .unwrap();
        let v = s.store_version().unwrap();
        assert!(v > last);
        last = v;
        i += 1;
    }
    full(&old, "a host behind the change log");
    // One just within the log gets a delta of exactly what changed.
    let near = Held {
        store_id: old.store_id.clone(),
        version: last - 3,
    };
    let p = s.export_replica_since("web1", Some(&near)).unwrap();
    let Exported::Delta(d) = &p.exported else {
        panic!("a host within the change log gets a delta");
    };
    assert_eq!(d.from_version, near.version);
    let names: Vec<&str> = d.replica.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["host_tags"]);
    // A delta applies to a replica at its base version only, else nothing changes.
    let dir = Dir::new();
    let path = dir.0.join("r.db");
    let replica = open_path(&path, OpenMode::ReadWrite).unwrap();
    let Exported::Full(r) = &first.exported else {
        unreachable!()
    };
    replica.import_replica(r).unwrap();
    let before = dump(&path);
    let e = replica.apply_replica_delta(d).unwrap_err().to_string();
    assert!(e.contains("full snapshot is needed"), "{e}");
    assert_eq!(dump(&path), before);
}

/// A replica written with [`Store::import_replica_of`] records the server store, host,
/// credential and versions it is of (migration 18), a delta moves its version, and
/// [`resume`] then names exactly what the agent holds; a replica written by anything
/// else (a write of its own, an import that records nothing) is not resumed from.
pub fn a_replica_records_its_origin_and_resumes_only_untouched(s: &dyn Store) {
    let dir = Dir::new();
    let path = dir.0.join("r.db");
    let replica = open_path(&path, OpenMode::ReadWrite).unwrap();
    assert_eq!(replica.replica_origin().unwrap(), None, "a new replica");
    let first = s.export_replica_since("web1", None).unwrap();
    let Exported::Full(r) = &first.exported else {
        panic!("a host holding nothing gets a full snapshot");
    };
    replica
        .import_replica_of(r, &first.store_id, "HKIATEST")
        .unwrap();
    let schema = replica.schema_version().unwrap();
    let o = replica.replica_origin().unwrap().expect("recorded");
    assert_eq!(
        (o.store_id.as_str(), o.host.as_str(), o.key_id.as_str()),
        (first.store_id.as_str(), "web1", "HKIATEST")
    );
    assert_eq!(
        (o.store_version, o.schema_version),
        (r.store_version, schema)
    );
    user(s, "resumed");
    let p = s.export_replica_since("web1", Some(&held(&first))).unwrap();
    let Exported::Delta(d) = &p.exported else {
        panic!("a host just behind gets a delta");
    };
    replica.apply_replica_delta(d).unwrap();
    let holds = replica.store_version().unwrap();
    assert_eq!(holds, p.store_version());
    let o = replica.replica_origin().unwrap().unwrap();
    assert_eq!(o.store_version, holds, "a delta moves the recorded version");
    let h = resume(Some(&o), "web1", "HKIATEST", holds, schema).unwrap();
    assert_eq!(h, held(&p));
    // What the server answers the resumed agent: a delta from there (nothing new).
    let again = s.export_replica_since("web1", Some(&h)).unwrap();
    assert!(matches!(again.exported, Exported::Delta(_)));
    // A write to the replica by something else moves its version, not its origin.
    user(&*replica, "local");
    let moved = replica.store_version().unwrap();
    let o = replica.replica_origin().unwrap();
    assert!(matches!(
        resume(o.as_ref(), "web1", "HKIATEST", moved, schema),
        Err(Unresumable::Changed { .. })
    ));
    // An import that records no origin clears it.
    replica.import_replica(r).unwrap();
    assert_eq!(replica.replica_origin().unwrap(), None);
}
