//! Expired host role sessions are deleted by `iamd` (at its start, then hourly): a host
//! session expired more than a day ago goes, with its session policy, and leaves the
//! host's replica; a host session expired an hour ago, a live one and an expired local
//! one stay. On the backend the CLI suites select (`PAM_IAM_TEST_BACKEND`).

mod support;

use pam_iam::store::RoleSession;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use support::{Cli, Server};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn session(id: &str, host: Option<&str>, expires: i64) -> RoleSession {
    RoleSession {
        session_id: id.into(),
        user_name: "alice".into(),
        role_name: "admin".into(),
        session_name: "s".into(),
        token_hash: format!("h-{id}"),
        issued: expires - 3600,
        expires,
        scope: "tty:b:1:2:3".into(),
        revoked: None,
        mfa_time: None,
        role_id: None,
        user_id: None,
        secret_sealed: None,
        host: host.map(str::to_string),
    }
}

#[test]
fn iamd_deletes_host_sessions_expired_over_a_day_ago() {
    let cli = Cli::new();
    cli.ok(&["create-user", "--user-name", "alice"]);
    let t = now();
    let doc =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    {
        let store = cli.store();
        let old = session("ASIAOLDHOST", Some("web-a"), t - 2 * 86_400);
        pam_iam::store::issue_role_session(&*store, &old, Some(doc), &Default::default()).unwrap();
        for s in [
            session("ASIARECENT", Some("web-a"), t - 3600),
            session("ASIALIVE", Some("web-a"), t + 3600),
            session("ASIAOLDLOCAL", None, t - 2 * 86_400),
        ] {
            store.create_role_session(&s).unwrap();
        }
    }
    let (server, _root) = Server::start_on(PathBuf::new(), cli, &[]);
    let ids = || -> Vec<String> {
        server
            .store
            .store()
            .list_role_sessions(None, None)
            .unwrap()
            .into_iter()
            .map(|s| s.session_id)
            .collect()
    };
    let t0 = Instant::now();
    while ids().contains(&"ASIAOLDHOST".to_string()) {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the expired host session is still there: {:?}\n{}",
            ids(),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut left = ids();
    left.sort();
    assert_eq!(left, ["ASIALIVE", "ASIAOLDLOCAL", "ASIARECENT"]);
    let store = server.store.store();
    assert_eq!(store.role_session_policy("ASIAOLDHOST").unwrap(), None);
    let r = store.export_replica("web-a").unwrap();
    let t = r.tables.iter().find(|t| t.name == "role_sessions").unwrap();
    assert_eq!(
        t.rows.len(),
        2,
        "the replica keeps the recent and the live one"
    );
    assert!(
        server.log().contains("deleted 1 host role session"),
        "{}",
        server.log()
    );
}
