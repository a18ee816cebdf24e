//! Contract cases of role sessions: iam-sts and API sessions, session policies, replaced
//! roles or users, the minimum duration setting.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

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

/// alice's `admin` session `id` of no host, issued at 10, expiring at 1000.
pub(super) fn session(id: &str) -> RoleSession {
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
        host: None,
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

/// See the suite's cases list: what an API session carries beyond its row (migration
/// 12) is written with the session in one transaction (a failed issue writes none),
/// read back whole, and absent for a session that carries nothing.
pub fn session_context_round_trip_in_the_session_transaction(s: &dyn Store) {
    sts_world(s);
    let ev = AuditEvent::default();
    let c = SessionContext {
        source_identity: Some("alice@corp".into()),
        tags: vec![Tag {
            key: "team".into(),
            value: "web ops/é".into(),
        }],
        transitive_tag_keys: vec!["team".into()],
        policy_arns: vec!["arn:aws:iam::123456789012:policy/p".into()],
    };
    issue_role_session_with(s, &session("ASIACTX"), None, Some(&c), &ev)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.role_session_context("ASIACTX").unwrap(), Some(c.clone()));
    issue_role_session_with(
        s,
        &session("ASIANONE"),
        None,
        Some(&SessionContext::default()),
        &ev,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.role_session_context("ASIANONE").unwrap(), None);
    assert_eq!(s.role_session_context("ASIAGHOST").unwrap(), None);
    // A failed issue (the session id taken) writes no context either.
    let other = SessionContext {
        source_identity: Some("mallory".into()),
        ..SessionContext::default()
    };
    let again = RoleSession {
        token_hash: "h-other".into(),
        ..session("ASIACTX")
    };
    assert!(issue_role_session_with(s, &again, None, Some(&other), &ev).is_err());
    assert_eq!(s.role_session_context("ASIACTX").unwrap(), Some(c));
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

/// Fleet mode (migration 13): a role session issued for a host rides that host's
/// replica only, with its session policy and without the sealed-secret column; issuing
/// or revoking it moves the store version (so the revocation reaches the host by the
/// normal sync), while sessions of no host leave the version alone.
pub fn host_sessions_ride_their_hosts_replica_only(s: &dyn Store) {
    let v0 = s.store_version().unwrap();
    s.create_role_session(&session("ASIALOCAL")).unwrap();
    assert_eq!(
        s.store_version().unwrap(),
        v0,
        "a session of no host is not replicated: the version stays"
    );
    let mut h = session("ASIAWEB1");
    h.host = Some("web1".into());
    crate::store::issue_role_session(s, &h, Some(DOC), &AuditEvent::default()).unwrap();
    let v1 = s.store_version().unwrap();
    assert!(v1 > v0, "a host's session moves the version ({v0} -> {v1})");
    let table = |r: &super::replica::Replica, n: &str| {
        r.tables.iter().find(|t| t.name == n).unwrap().clone()
    };
    let r = s.export_replica("web1").unwrap();
    let sessions = table(&r, "role_sessions");
    assert!(
        !sessions.columns.iter().any(|c| c == "secret_sealed"),
        "{:?}",
        sessions.columns
    );
    let id = sessions
        .columns
        .iter()
        .position(|c| c == "session_id")
        .unwrap();
    assert_eq!(sessions.rows.len(), 1, "only web1's session");
    assert_eq!(sessions.rows[0][id], serde_json::json!("ASIAWEB1"));
    assert_eq!(table(&r, "role_session_policies").rows.len(), 1);
    let other = s.export_replica("db1").unwrap();
    assert!(table(&other, "role_sessions").rows.is_empty());
    assert!(table(&other, "role_session_policies").rows.is_empty());

    s.revoke_role_session("ASIAWEB1", 50).unwrap();
    let v2 = s.store_version().unwrap();
    assert!(v2 > v1, "a revocation moves the version");
    s.revoke_role_session("ASIALOCAL", 50).unwrap();
    assert_eq!(s.store_version().unwrap(), v2);
    let revoked = s.export_replica("web1").unwrap();
    // A replica store holds exactly the host's sessions, revocation included.
    s.import_replica(&revoked).unwrap();
    let held = s.list_role_sessions(Some("alice"), None).unwrap();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].session_id, "ASIAWEB1");
    assert_eq!(held[0].host.as_deref(), Some("web1"));
    assert_eq!(held[0].revoked, Some(50));
    assert_eq!(
        s.role_session_policy("ASIAWEB1").unwrap().as_deref(),
        Some(DOC)
    );
}

/// Expired host sessions are deleted by `prune_host_sessions` (iamd runs it), with their
/// session policies, and leave the host's replica; live, just-expired and local
/// sessions stay.
pub fn expired_host_sessions_are_pruned_with_their_policies(s: &dyn Store) {
    let host = |id: &str, expires: i64| {
        let mut h = session(id);
        h.host = Some("web1".into());
        h.expires = expires;
        h
    };
    let old = host("ASIAOLD", 500);
    crate::store::issue_role_session(s, &old, Some(DOC), &AuditEvent::default()).unwrap();
    s.create_role_session(&host("ASIANEW", 2000)).unwrap();
    let mut local = session("ASIALOCAL");
    local.expires = 500;
    s.create_role_session(&local).unwrap();
    let v0 = s.store_version().unwrap();
    assert_eq!(
        s.prune_host_sessions(400).unwrap(),
        0,
        "not expired before 400"
    );
    assert_eq!(s.prune_host_sessions(1000).unwrap(), 1);
    assert!(s.store_version().unwrap() > v0, "the replicas hear of it");
    let ids: Vec<String> = s
        .list_role_sessions(None, None)
        .unwrap()
        .into_iter()
        .map(|r| r.session_id)
        .collect();
    assert!(ids.contains(&"ASIANEW".to_string()), "{ids:?}");
    assert!(
        ids.contains(&"ASIALOCAL".to_string()),
        "a local session stays: {ids:?}"
    );
    assert!(!ids.contains(&"ASIAOLD".to_string()), "{ids:?}");
    assert_eq!(s.role_session_policy("ASIAOLD").unwrap(), None);
    let r = s.export_replica("web1").unwrap();
    let t = r.tables.iter().find(|t| t.name == "role_sessions").unwrap();
    assert_eq!(t.rows.len(), 1);
    assert_eq!(s.prune_host_sessions(1000).unwrap(), 0, "once");
}
