//! The backend contract suite (`pam_iam::store::contract`) on a real PostgreSQL 15,
//! one throwaway server for this binary, a fresh database per case.

use pam_iam::store::contract::Fixture;

fn pg_fixture() -> Option<Fixture> {
    let (_, store) = pam_iam_postgres::testing::fresh_store()?;
    Some(Fixture {
        store,
        keep: Box::new(()),
    })
}

pam_iam::store_contract_suite!(pg_fixture);

/// What a login reads (user, credentials, lock, MFA device, every group's and the
/// user's own policies, the boundary) for a user in 10 groups with 20 managed policies:
/// two round trips, whatever the number of groups and policies (no query per group).
#[test]
fn a_login_read_is_two_round_trips() {
    use pam_iam::store::*;
    let Some(server) = pam_iam_postgres::testing::shared() else {
        return;
    };
    let url = server.fresh_db().unwrap();
    let s = pam_iam_postgres::PgStore::open(&OpenOptions::new(url.as_str(), OpenMode::ReadWrite))
        .unwrap();
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#;
    s.create_user(
        &NewUser {
            name: "alice".into(),
            path: "/".into(),
            ..Default::default()
        },
        1,
    )
    .unwrap();
    s.create_login_profile("alice", "h", false, 1).unwrap();
    s.put_inline_policy(PrincipalKind::User, "alice", "own", doc)
        .unwrap();
    for g in 0..10 {
        let gname = format!("g{g}");
        s.create_group(&gname, "/", 1).unwrap();
        s.add_user_to_group(&gname, "alice").unwrap();
        for k in 0..2 {
            let p = s
                .create_policy(
                    &NewPolicy {
                        name: format!("p{g}_{k}"),
                        path: "/".into(),
                        document: doc.into(),
                        ..Default::default()
                    },
                    1,
                )
                .unwrap();
            s.attach_policy(PrincipalKind::Group, &gname, &p.arn)
                .unwrap();
        }
    }
    let read = || {
        let a = s.auth_info("alice").unwrap().unwrap();
        let p = s.user_policies("alice").unwrap();
        assert!(a.login_profile.is_some());
        assert_eq!(p.identity.len(), 21);
    };
    read(); // prepares the two statements (once per connection)
    let before = s.round_trips();
    read();
    assert_eq!(s.round_trips() - before, 2);
}

/// Store versions are in commit order (migration 9): a transaction that changed a
/// replicated table before another but commits after it still gets the higher version.
/// A host that pulled in between holds the second change's version without the first
/// change; when the first commits, the version must move past what the host holds, or
/// the host's long poll would never learn of it.
#[test]
fn store_versions_follow_commit_order() {
    use pam_iam::store::*;
    let Some(server) = pam_iam_postgres::testing::shared() else {
        return;
    };
    let db = server.fresh_db_name().unwrap();
    let url = server.url(&db);
    let open = || {
        pam_iam_postgres::PgStore::open(&OpenOptions::new(url.as_str(), OpenMode::ReadWrite))
            .unwrap()
    };
    let (writer, reader) = (open(), open());
    // The slow transaction: changes a replicated table, then waits before COMMIT.
    let mut slow = postgres::Client::connect(
        &format!(
            "host=127.0.0.1 port={} user=postgres dbname={db}",
            server.port
        ),
        postgres::NoTls,
    )
    .unwrap();
    let mut tx = slow.transaction().unwrap();
    tx.batch_execute("INSERT INTO host_tags (host, key, value) VALUES ('web1', 'early', 'v')")
        .unwrap();
    // Meanwhile another change commits, and the host pulls.
    writer
        .create_user(
            &NewUser {
                name: "late".into(),
                path: "/".into(),
                ..Default::default()
            },
            1,
        )
        .unwrap();
    let pulled = reader.export_replica("web1").unwrap();
    let tags = pulled
        .tables
        .iter()
        .find(|t| t.name == "host_tags")
        .unwrap();
    assert!(tags.rows.is_empty(), "the slow change is not committed yet");
    assert_eq!(reader.store_version().unwrap(), pulled.store_version);
    tx.commit().unwrap();
    let now = reader.store_version().unwrap();
    assert!(
        now > pulled.store_version,
        "a change committed after the pull at version {} must get a higher version (now {now})",
        pulled.store_version
    );
    let again = reader.export_replica("web1").unwrap();
    assert_eq!(again.store_version, now);
    let tags = again.tables.iter().find(|t| t.name == "host_tags").unwrap();
    assert_eq!(tags.rows.len(), 1);
}
