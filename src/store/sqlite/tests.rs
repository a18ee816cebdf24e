//! SQLite-only store tests (file modes, symlinks, read-only files, WAL, locks between
//! connections, migrations from frozen fixtures), and the backend contract suite run
//! against temporary SQLite files.

use crate::credentials::second_factor::{Admission, Proof, Settled, Throttle};
use crate::store::contract::{Fixture, store_contract_suite, user};
use crate::store::*;
use std::os::unix::fs::PermissionsExt;

/// The schema version a fresh or migrated store has.
const LATEST: i64 = super::schema::MIGRATIONS.len() as i64;

/// A fresh store in its own temporary directory.
fn fixture() -> Fixture {
    let dir = super::safe_open::private_tempdir();
    let path = dir.path().join("iam.db");
    let store = open_path(&path, OpenMode::ReadWrite).unwrap();
    Fixture {
        store,
        keep: Box::new(dir),
        refuse_audit: Box::new(move |refuse| {
            let sql = if refuse {
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events
                 BEGIN SELECT RAISE(ABORT, 'the audit table refuses writes (test fault)'); END"
            } else {
                "DROP TRIGGER refuse_audit"
            };
            rusqlite::Connection::open(&path)
                .and_then(|c| c.execute_batch(sql))
                .unwrap();
        }),
    }
}

store_contract_suite!(fixture);

#[test]
fn creates_file_0600_dir_0700_with_account_id() {
    let dir = super::safe_open::private_tempdir();
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
    assert_eq!(s.schema_version().unwrap(), LATEST);
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
    let dir = super::safe_open::private_tempdir();
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
    let dir = super::safe_open::private_tempdir();
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
    let dir = super::safe_open::private_tempdir();
    let db = dir.path().join("iam.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(include_str!("../../../tests/fixtures/store-v1.sql"))
            .unwrap();
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let s = open_path(&db, OpenMode::ReadWrite).unwrap();
    assert_eq!(s.schema_version().unwrap(), LATEST);
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
        s.settle_success("alice", &Proof::Nothing, true, 5, None)
            .unwrap(),
        Settled::Accepted
    );
    assert_eq!(s.get_user("alice").unwrap().password_last_used, Some(5));
    assert_eq!(s.list_audit(&AuditFilter::default()).unwrap().len(), 1);
}

#[test]
fn every_open_sets_wal_and_foreign_keys() {
    let dir = super::safe_open::private_tempdir();
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
    let dir = super::safe_open::private_tempdir();
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
                    s.record_failure("bob", 100, None).unwrap();
                    let p = Proof::Totp {
                        serial: &serial,
                        step,
                        host: "web-01",
                    };
                    if s.settle_success("alice", &p, false, 100, None).unwrap() == Settled::Accepted
                    {
                        accepted += 1;
                    }
                    let a = s
                        .admit_attempt("carol", 100_000, &Throttle::DEFAULT, None)
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

/// A store written before migration 5 gains the attempt slots and keeps its lockout
/// state: the two failures it counted still count toward the lock.
#[test]
fn migrates_v4_fixture() {
    let dir = super::safe_open::private_tempdir();
    let db = dir.path().join("iam.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(include_str!("../../../tests/fixtures/store-v4.sql"))
            .unwrap();
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let s = open_path(&db, OpenMode::ReadWrite).unwrap();
    assert_eq!(s.schema_version().unwrap(), LATEST);
    assert_eq!(s.lock_state("alice").unwrap().failed_attempts, 2);
    let t = Throttle::DEFAULT;
    assert_eq!(
        s.admit_attempt("alice", 1_700_000_200_000, &t, None)
            .unwrap(),
        Admission::Admitted { wait_ms: 0 }
    );
    assert_eq!(
        s.admit_attempt("alice", 1_700_000_200_000, &t, None)
            .unwrap(),
        Admission::Admitted { wait_ms: 500 }
    );
    let st = s.record_failure("alice", 1_700_000_200, None).unwrap();
    assert_eq!(st.locked_until, Some(1_700_001_100), "third failure locks");
    assert_eq!(
        s.admit_attempt("alice", 1_700_000_201_000, &t, None)
            .unwrap(),
        Admission::Locked {
            until: 1_700_001_101
        }
    );
}

/// The v5 fixture (an earlier `iam` wrote it: plain seeds) in a fresh directory.
fn v5_store_with_plain_seeds() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = super::safe_open::private_tempdir();
    let db = dir.path().join("iam.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(include_str!("../../../tests/fixtures/store-v5-mfa.sql"))
            .unwrap();
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    (dir, db)
}

const ALICE_DEVICE: &str = "arn:aws:iam::123456789012:mfa/alice";
const ALICE_SEED: &[u8] = b"12345678901234567890";
const SPARE_SEED: &[u8] = b"sparesparesparespare";

fn file_holds(path: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read(path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
}

/// Migration 10 seals every plain seed under the secrets key beside the store (made on
/// the way) and drops the plain column: neither the file nor its WAL holds a seed
/// afterwards, and every seed still opens. Without the key file, no seed is read.
#[test]
fn migration_10_seals_every_plain_seed_and_fails_closed_without_the_key() {
    let (dir, db) = v5_store_with_plain_seeds();
    assert!(file_holds(&db, ALICE_SEED), "the fixture holds plain seeds");
    let s = open_path(&db, OpenMode::ReadWrite).unwrap();
    assert_eq!(s.schema_version().unwrap(), LATEST);
    let key = dir.path().join(SECRETS_KEY_FILE);
    assert!(key.exists(), "the secrets key was made beside the store");
    assert_eq!(
        s.mfa_secret(ALICE_DEVICE).unwrap().seed.as_slice(),
        ALICE_SEED
    );
    let spare = "arn:aws:iam::123456789012:mfa/spare";
    assert_eq!(s.mfa_secret(spare).unwrap().seed.as_slice(), SPARE_SEED);
    let login = s.auth_info("alice").unwrap().unwrap().mfa.unwrap();
    assert_eq!((login.watermark, login.seed.as_slice()), (-1, ALICE_SEED));
    let c = rusqlite::Connection::open(&db).unwrap();
    let cols: Vec<String> = c
        .prepare("SELECT name FROM pragma_table_info('mfa_devices')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(
        cols.contains(&"seed_sealed".to_string()) && !cols.contains(&"seed".to_string()),
        "{cols:?}"
    );
    drop(c);
    for f in [db.clone(), dir.path().join("iam.db-wal")] {
        for seed in [ALICE_SEED, SPARE_SEED] {
            assert!(
                !file_holds(&f, seed),
                "{} still holds a plain seed",
                f.display()
            );
        }
    }
    // The key file gone: every read of a seed fails, saying which file is missing.
    std::fs::rename(&key, dir.path().join("moved.key")).unwrap();
    for e in [
        s.mfa_secret(ALICE_DEVICE).err().unwrap(),
        s.enabled_mfa("alice").err().unwrap(),
        s.auth_info("alice").err().unwrap(),
    ] {
        assert!(
            e.to_string().contains("pam_iam_secrets.key is missing"),
            "{e}"
        );
    }
    // Another key: nothing opens either (no fallback of any kind).
    crate::credentials::key_file::load_or_create(&key).unwrap();
    let e = s.auth_info("alice").err().unwrap();
    assert!(e.to_string().contains("does not open"), "{e}");
    // A new device on the store is sealed too.
    std::fs::rename(dir.path().join("moved.key"), &key).unwrap();
    s.create_virtual_mfa_device("carol", "/", b"carol-seed-20-bytes!", 1)
        .unwrap();
    assert!(!file_holds(&db, b"carol-seed-20-bytes!"));
    assert!(!file_holds(
        &dir.path().join("iam.db-wal"),
        b"carol-seed-20-bytes!"
    ));
}

/// A secrets key that cannot be used (here: readable by others) fails migration 10 as a
/// whole: the store stays at version 5 with its seeds, for a fixed key to seal.
#[test]
fn migration_10_without_a_usable_key_changes_nothing() {
    let (dir, db) = v5_store_with_plain_seeds();
    let key = dir.path().join(SECRETS_KEY_FILE);
    std::fs::write(&key, [9u8; 32]).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = open_path(&db, OpenMode::ReadWrite).err().unwrap();
    let msg = e.to_string();
    assert!(
        msg.contains("sealing the store's MFA seeds")
            && msg.contains("chmod 600")
            && msg.contains("nothing was changed"),
        "{msg}"
    );
    let c = rusqlite::Connection::open(&db).unwrap();
    let v: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 5);
    let seed: Vec<u8> = c
        .query_row(
            "SELECT seed FROM mfa_devices WHERE name = 'alice'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(seed, ALICE_SEED);
    drop(c);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let s = open_path(&db, OpenMode::ReadWrite).unwrap();
    assert_eq!(
        s.mfa_secret(ALICE_DEVICE).unwrap().seed.as_slice(),
        ALICE_SEED
    );
}

/// Stores that got the session-policy table before migration 3 (created on first use by
/// earlier builds) still migrate.
#[test]
fn migration_3_tolerates_an_existing_session_policy_table() {
    let dir = super::safe_open::private_tempdir();
    let db = dir.path().join("iam.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(include_str!("../../../tests/fixtures/store-v1.sql"))
            .unwrap();
        c.execute_batch(
            "CREATE TABLE role_session_policies (session_id TEXT PRIMARY KEY REFERENCES role_sessions(session_id) ON DELETE CASCADE, document TEXT NOT NULL)",
        )
        .unwrap();
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let s = open_path(&db, OpenMode::ReadWrite).unwrap();
    assert_eq!(s.schema_version().unwrap(), LATEST);
    assert_eq!(s.get_user("alice").unwrap().name, "alice");
}

/// Migration 4: role sessions get their role and user ids where those are provably the
/// ones they were issued for (created no later than the session), NULL otherwise.
#[test]
fn migration_4_binds_sessions_to_the_ids_they_were_issued_for() {
    let dir = super::safe_open::private_tempdir();
    let db = dir.path().join("iam.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(include_str!("../../../tests/fixtures/store-v3.sql"))
            .unwrap();
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let s = open_path(&db, OpenMode::ReadWrite).unwrap();
    assert_eq!(s.schema_version().unwrap(), LATEST);
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

#[cfg(test)]
mod temp_store_tests {
    use super::super::*;

    /// Open SQLite temp files of this process (SQLite names them `etilqs_*`; they are
    /// unlinked at once, so only /proc/self/fd shows them).
    fn open_temp_files() -> Vec<String> {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .map(|p| p.display().to_string())
            .filter(|p| p.contains("etilqs_"))
            .collect()
    }

    /// A sort far larger than SQLite's page cache: with temp files allowed it spills.
    const BIG_SORT: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 60000) \
                            SELECT x FROM c ORDER BY randomblob(200) || x";

    fn temp_files_during_big_sort(conn: &Connection) -> Vec<String> {
        let mut stmt = conn.prepare(BIG_SORT).unwrap();
        let mut rows = stmt.query([]).unwrap();
        // The first row comes after the whole input is sorted; the statement holds any
        // spill file until it is finalized.
        assert!(rows.next().unwrap().is_some());
        open_temp_files()
    }

    #[test]
    fn every_open_keeps_temp_data_in_memory() {
        let dir = crate::store::sqlite::safe_open::private_tempdir();
        let db = dir.path().join("iam.db");
        let store = SqliteStore::open(&OpenOptions::new(&db, OpenMode::ReadWrite)).unwrap();
        let ts: i64 = store
            .conn
            .query_row("PRAGMA temp_store", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ts, 2, "temp_store=MEMORY on the store's connection");

        // Control: the same sort on a plain connection spills to a temp file in the
        // directory SQLITE_TMPDIR/TMPDIR names (so the check below can see a spill).
        let plain = Connection::open_in_memory().unwrap();
        let spilled = temp_files_during_big_sort(&plain);
        assert!(!spilled.is_empty(), "the control sort did not spill");
        drop(plain);

        let leaked = temp_files_during_big_sort(&store.conn);
        assert!(leaked.is_empty(), "the store spilled to {leaked:?}");
        let ro = SqliteStore::open(&OpenOptions::new(&db, OpenMode::ReadOnly)).unwrap();
        assert!(temp_files_during_big_sort(&ro.conn).is_empty());
    }
}

#[test]
fn export_refuses_a_table_or_column_it_does_not_know() {
    for ddl in [
        "ALTER TABLE access_keys ADD COLUMN later BLOB",
        "CREATE TABLE later_table (x INTEGER)",
    ] {
        let dir = super::safe_open::private_tempdir();
        let db = dir.path().join("iam.db");
        let s = open_path(&db, OpenMode::ReadWrite).unwrap();
        assert!(s.export_snapshot().is_ok());
        rusqlite::Connection::open(&db)
            .unwrap()
            .execute_batch(ddl)
            .unwrap();
        let e = s.export_snapshot().unwrap_err().to_string();
        assert!(e.contains("refusing to copy a store partly"), "{ddl}: {e}");
    }
}
