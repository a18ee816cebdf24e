//! The backend contract suite (`pam_iam::store::contract`) on a real PostgreSQL 15,
//! one throwaway server for this binary, a fresh database per case.

use pam_iam::store::contract::Fixture;

fn pg_fixture() -> Option<Fixture> {
    let (url, store) = pam_iam_postgres::testing::fresh_store()?;
    let db = url
        .rsplit('/')
        .next()
        .and_then(|t| t.split('?').next())
        .unwrap_or_default()
        .to_string();
    Some(Fixture {
        store,
        keep: Box::new(()),
        refuse_audit: Box::new(move |refuse| {
            let sql = if refuse {
                "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS
                   $$ BEGIN RAISE EXCEPTION 'the audit table refuses writes (test fault)'; END $$;
                 CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events
                   FOR EACH ROW EXECUTE FUNCTION refuse_audit();"
            } else {
                "DROP TRIGGER refuse_audit ON audit_events; DROP FUNCTION refuse_audit();"
            };
            let server = pam_iam_postgres::testing::shared().expect("the shared server");
            server.psql(&db, sql).unwrap_or_else(|e| panic!("{e}"));
        }),
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

/// Deltas keep commit order (migration 17): a change made before a pull but committed
/// after it is in the next delta, though its table was written before the version the
/// host holds was taken; the change log of a store is pruned as versions go by, and the
/// version bump notifies listeners at commit (not before).
#[test]
fn a_delta_never_skips_a_change_committed_late_and_the_log_is_pruned() {
    use pam_iam::store::replica::{CHANGE_LOG_VERSIONS, Exported, Held};
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
    let connect = || {
        postgres::Client::connect(
            &format!(
                "host=127.0.0.1 port={} user=postgres dbname={db}",
                server.port
            ),
            postgres::NoTls,
        )
        .unwrap()
    };
    let mut listener = connect();
    listener
        .batch_execute("LISTEN pam_iam_store_version")
        .unwrap();
    let first = reader.export_replica_since("web1", None).unwrap();
    let mut slow = connect();
    let mut tx = slow.transaction().unwrap();
    tx.batch_execute("INSERT INTO host_tags (host, key, value) VALUES ('web1', 'early', 'v')")
        .unwrap();
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
    let held = |p: &replica::Pulled| Held {
        store_id: p.store_id.clone(),
        version: p.store_version(),
    };
    let mid = reader
        .export_replica_since("web1", Some(&held(&first)))
        .unwrap();
    let Exported::Delta(d) = &mid.exported else {
        panic!("a delta");
    };
    let names: Vec<&str> = d.replica.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["users"], "the slow change is not committed yet");
    use postgres::fallible_iterator::FallibleIterator;
    let notified: Vec<String> = listener
        .notifications()
        .timeout_iter(std::time::Duration::from_millis(500))
        .map(|n| Ok(n.payload().to_string()))
        .collect()
        .unwrap();
    assert_eq!(
        notified,
        [mid.store_version().to_string()],
        "one notice, at commit"
    );
    tx.commit().unwrap();
    let late = reader
        .export_replica_since("web1", Some(&held(&mid)))
        .unwrap();
    let Exported::Delta(d) = &late.exported else {
        panic!("a delta");
    };
    assert!(late.store_version() > mid.store_version());
    let tags = d.replica.tables.iter().find(|t| t.name == "host_tags");
    assert_eq!(
        tags.map(|t| t.rows.len()),
        Some(1),
        "the change committed late is in the delta: {d:?}"
    );
    // The log is pruned: it holds about the versions it keeps, not every one.
    let rows = |c: &mut postgres::Client| -> i64 {
        c.query_one("SELECT count(*) FROM store_changes", &[])
            .unwrap()
            .get(0)
    };
    let mut c = connect();
    for i in 0..CHANGE_LOG_VERSIONS + 250 {
        c.batch_execute(&format!(
            "INSERT INTO host_tags (host, key, value) VALUES ('web1', 'k{i}', 'v')"
        ))
        .unwrap();
    }
    let n = rows(&mut c);
    assert!(
        n > 0 && n <= CHANGE_LOG_VERSIONS + 100,
        "{n} change rows kept for {CHANGE_LOG_VERSIONS} versions"
    );
    let old = reader
        .export_replica_since("web1", Some(&held(&late)))
        .unwrap();
    assert!(
        matches!(old.exported, Exported::Full(_)),
        "behind the log: full"
    );
}

/// A schema-9 store (plain seeds, one access key sealed under `key`) in a fresh database
/// of the shared server; its name.
fn schema_9_store(server: &pam_iam_postgres::testing::Server, key: &[u8]) -> String {
    let name = server.fresh_db_name().unwrap();
    let mut sql = String::from(
        "CREATE TABLE pam_iam_schema (version BIGINT NOT NULL); INSERT INTO pam_iam_schema VALUES (9);\n",
    );
    sql.push_str(&pam_iam_postgres::testing::migrations_sql(9));
    sql.push('\n');
    let sealed =
        pam_iam::credentials::sealed::seal(key, "AKIAEXAMPLEKEY000001", SECRET.as_bytes()).unwrap();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    sql.push_str(&format!(
        "INSERT INTO account (id, account_id) VALUES (1, '123456789012');
         INSERT INTO users (name, user_id, path, created) VALUES ('alice', 'AIDAAAAAAAAAAAAAAAAAA', '/', 1);
         INSERT INTO mfa_devices (name, serial, path, seed, user_pk, enabled, created)
           SELECT 'alice', 'arn:aws:iam::123456789012:mfa/alice', '/', '\\x{}'::bytea, pk, 2, 1 FROM users;
         INSERT INTO mfa_devices (name, serial, path, seed, created)
           VALUES ('spare', 'arn:aws:iam::123456789012:mfa/spare', '/', '\\x{}'::bytea, 1);
         INSERT INTO access_keys (key_id, user_pk, secret_hash, status, created, secret_sealed)
           SELECT 'AKIAEXAMPLEKEY000001', pk, 'h', 'Active', 1, '\\x{}'::bytea FROM users;",
        hex(SEED),
        hex(SPARE),
        hex(&sealed)
    ));
    server.psql(&name, &sql).unwrap();
    name
}

const SEED: &[u8] = b"12345678901234567890";
const SPARE: &[u8] = b"sparesparesparespare";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// Migration 10 on PostgreSQL: a schema-9 store's plain seeds are sealed under the store's
/// secrets key and the plain column dropped, in one transaction; `pg_dump` of the
/// database then holds no seed and no access-key secret, in any encoding. A key file
/// that is not the one the store's secrets are sealed under changes nothing.
#[test]
fn migration_10_seals_plain_seeds_and_a_dump_holds_no_secret() {
    use pam_iam::store::*;
    let Some(server) = pam_iam_postgres::testing::shared() else {
        return;
    };
    let key = [5u8; 32];
    let name = schema_9_store(server, &key);
    let url = server.url(&name);
    let key_path = server.dir.join(format!("{name}.key"));
    // The wrong key first: refused, nothing changed.
    std::fs::write(&key_path, [6u8; 32]).unwrap();
    std::fs::set_permissions(
        &key_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let opts = OpenOptions {
        secrets_key: key_path.clone(),
        ..server.options(&url)
    };
    let e = pam_iam_postgres::open(&opts).err().unwrap().to_string();
    assert!(
        e.contains("is not the key") && e.contains("nothing was changed"),
        "{e}"
    );
    assert_eq!(
        server
            .psql(&name, "SELECT version FROM pam_iam_schema")
            .unwrap()
            .trim(),
        "9"
    );
    assert_eq!(
        server
            .psql(
                &name,
                "SELECT count(*) FROM mfa_devices WHERE seed IS NOT NULL"
            )
            .unwrap()
            .trim(),
        "2"
    );
    // The store's key: sealed.
    std::fs::write(&key_path, key).unwrap();
    let s = pam_iam_postgres::open(&opts).unwrap();
    assert_eq!(s.schema_version().unwrap(), 18);
    let alice = s.auth_info("alice").unwrap().unwrap().mfa.unwrap();
    assert_eq!(alice.seed.as_slice(), SEED);
    assert_eq!(
        s.mfa_secret("arn:aws:iam::123456789012:mfa/spare")
            .unwrap()
            .seed
            .as_slice(),
        SPARE
    );
    s.create_virtual_mfa_device("carol", "/", b"carol-seed-20-bytes!", 1)
        .unwrap();
    let out = pam_iam_postgres::testing::pg_command("pg_dump")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
        .arg(server.port.to_string())
        .arg(&name)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(dump.contains("seed_sealed"), "the dump has the devices");
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    for (what, needle) in [
        ("alice's seed", hex(SEED)),
        ("alice's seed", String::from_utf8_lossy(SEED).into_owned()),
        ("the spare seed", hex(SPARE)),
        ("carol's seed", hex(b"carol-seed-20-bytes!")),
        ("the access-key secret", SECRET.to_lowercase()),
        ("the access-key secret", hex(SECRET.as_bytes())),
    ] {
        assert!(!dump.contains(&needle), "pg_dump holds {what}");
    }
    // Without its key file the store opens, but no seed is read.
    std::fs::remove_file(&key_path).unwrap();
    let e = s.auth_info("alice").err().unwrap().to_string();
    assert!(e.contains("is missing"), "{e}");
}

/// The login's user lookup plans as one row whatever the statistics: on a small store
/// where autovacuum has analyzed `users` (every login writes it) but not the tables
/// joined to it, plain joins multiplied the generic plan's estimate to ~1M rows and its
/// cost to ~12M, past JIT's thresholds (a second of compilation per login). Planner
/// estimates are deterministic given the statistics, so this checks the plan, not time.
#[test]
fn the_login_lookup_plans_one_row_whatever_the_statistics() {
    use pam_iam::store::*;
    let Some(server) = pam_iam_postgres::testing::shared() else {
        return;
    };
    let name = server.fresh_db_name().unwrap();
    let s = pam_iam_postgres::PgStore::open(&server.options(&server.url(&name))).unwrap();
    for i in 0..8 {
        let u = format!("u{i}");
        s.create_user(
            &NewUser {
                name: u.clone(),
                path: "/".into(),
                ..Default::default()
            },
            1,
        )
        .unwrap();
        s.create_login_profile(&u, "h", false, 1).unwrap();
    }
    let plan = |analyze: &str| -> serde_json::Value {
        let out = server
            .psql(
                &name,
                &format!(
                    "{analyze} SET plan_cache_mode = force_generic_plan; PREPARE q(text) AS {}; EXPLAIN (FORMAT JSON) EXECUTE q('u0')",
                    pam_iam_postgres::testing::login_lookup_sql()
                ),
            )
            .unwrap();
        serde_json::from_str::<serde_json::Value>(&out).unwrap()[0]["Plan"].clone()
    };
    for analyze in ["", "ANALYZE users;", "ANALYZE;"] {
        let p = plan(analyze);
        let (rows, cost) = (
            p["Plan Rows"].as_f64().unwrap(),
            p["Total Cost"].as_f64().unwrap(),
        );
        assert!(
            rows <= 1.0 && cost < 1000.0,
            "after {analyze:?}: the generic plan estimates {rows} rows at cost {cost}: {p}"
        );
    }
}
