//! The real `iam` binary against a real PostgreSQL 15 (one throwaway server for this
//! binary): `--db postgres://…` and `PAM_IAM_DB`, `iam migrate-store` SQLite →
//! PostgreSQL → SQLite with byte-identical canonical exports, and the refusals.

use pam_iam::credentials::second_factor::Proof;
use pam_iam::store::{self, *};
use pam_iam_postgres::testing;
use std::process::Command;

const IAM: &str = env!("CARGO_BIN_EXE_iam");
const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#;

fn iam(db: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(IAM)
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("PAM_IAM_DB")
        .env("PAM_IAM_USERDB", "off")
        .output()
        .expect("run iam");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Read-write, every store (SQLite or PostgreSQL) with the shared server's secrets key,
/// so seeds sealed in one open in another after `migrate-store` copied them.
fn open_rw(loc: &str) -> Box<dyn Store> {
    store::register_server_backend(pam_iam_postgres::open);
    let server = testing::shared().expect("the shared server");
    store::open(&server.options(loc)).unwrap_or_else(|e| panic!("{loc}: {e}"))
}

fn tag(k: &str, v: &str) -> Tag {
    Tag {
        key: k.into(),
        value: v.into(),
    }
}

/// A store with a row in every table.
fn populate(s: &dyn Store) {
    let p = s
        .create_policy(
            &NewPolicy {
                name: "web".into(),
                path: "/".into(),
                description: Some("tab\there\nnewline \\ slash".into()),
                document: DOC.into(),
                tags: vec![],
            },
            10,
        )
        .unwrap();
    s.create_policy_version(&p.arn, DOC, true, 11).unwrap();
    for (i, name) in ["alice", "bob", "Zed_1"].iter().enumerate() {
        s.create_user(
            &NewUser {
                name: (*name).into(),
                path: "/eng/".into(),
                permissions_boundary: (i == 0).then(|| p.arn.clone()),
                tags: vec![tag("team", "ops"), tag("Env", "prod")],
            },
            20 + i as i64,
        )
        .unwrap();
    }
    s.create_login_profile(
        "alice",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
        false,
        30,
    )
    .unwrap();
    s.update_login_profile("alice", Some("$argon2id$second"), Some(true), 31)
        .unwrap();
    let d = s
        .create_virtual_mfa_device("alice", "/", &[1, 2, 3, 255, 0, 9], 40)
        .unwrap();
    s.enable_mfa_device(
        "alice",
        &d.serial_number,
        1000,
        &["rc1".into(), "rc2".into()],
        41,
    )
    .unwrap();
    s.settle_success(
        "alice",
        &Proof::Totp {
            serial: &d.serial_number,
            step: 1001,
            host: "web-01",
        },
        true,
        42,
        None,
    )
    .unwrap();
    s.put_lockout_settings(&LockoutSettings {
        max_failed_attempts: 3,
        lockout_duration_seconds: 60,
    })
    .unwrap();
    s.record_failure("bob", 50, None).unwrap();
    s.admit_attempt(
        "bob",
        50_000,
        &pam_iam::credentials::second_factor::Throttle::DEFAULT,
        None,
    )
    .unwrap();
    s.create_access_key("alice", "AKIAEXAMPLE1", "secret-hash", 60)
        .unwrap();
    s.record_access_key_use("AKIAEXAMPLE1", "sts", 61).unwrap();
    s.set_access_key_secret("AKIAEXAMPLE1", b"sealed-1")
        .unwrap();
    s.create_root_access_key("AKIAROOTEXAMPLE", "root-hash", b"sealed-r", 62)
        .unwrap();
    s.upload_ssh_public_key(
        "bob",
        "APKAEXAMPLE1",
        "ssh-ed25519 AAAA bob",
        "SHA256:x",
        62,
    )
    .unwrap();
    s.create_group("ops", "/", 70).unwrap();
    s.add_user_to_group("ops", "alice").unwrap();
    s.attach_policy(PrincipalKind::Group, "ops", &p.arn)
        .unwrap();
    s.attach_policy(PrincipalKind::User, "Zed_1", &p.arn)
        .unwrap();
    s.put_inline_policy(PrincipalKind::User, "bob", "own", DOC)
        .unwrap();
    s.put_inline_policy(PrincipalKind::Group, "ops", "g", DOC)
        .unwrap();
    s.create_role(
        &NewRole {
            name: "admin".into(),
            path: "/".into(),
            assume_role_policy_document: DOC.into(),
            description: None,
            max_session_duration: 3600,
            permissions_boundary: Some(p.arn.clone()),
            tags: vec![tag("k", "v")],
        },
        80,
    )
    .unwrap();
    s.attach_policy(PrincipalKind::Role, "admin", &p.arn)
        .unwrap();
    s.put_inline_policy(PrincipalKind::Role, "admin", "r", DOC)
        .unwrap();
    let sess = RoleSession {
        session_id: "ASIAEXAMPLE".into(),
        user_name: "alice".into(),
        role_name: "admin".into(),
        session_name: "s".into(),
        token_hash: "th".into(),
        issued: 90,
        expires: 990,
        scope: "tty:1".into(),
        revoked: None,
        mfa_time: Some(89),
        role_id: None,
        user_id: None,
        secret_sealed: None,
        host: None,
    };
    let context = SessionContext {
        source_identity: Some("alice-src".into()),
        tags: vec![tag("team", "ops")],
        ..Default::default()
    };
    issue_role_session_with(
        s,
        &sess,
        Some("{\"d\":1}"),
        Some(&context),
        &AuditEvent::default(),
    )
    .unwrap();
    s.tag_host("web1", &[tag("env", "prod")]).unwrap();
    s.create_host_credential("web1", "HKIAWEB1", "h", b"sealed-host", 13)
        .unwrap();
    for t in 0..3 {
        s.append_audit(&AuditEvent {
            time: 100 + t,
            user: "alice".into(),
            service: "sshd".into(),
            rhost: Some("10.0.0.1".into()),
            tty: None,
            action: "host:Login".into(),
            decision: pam_iam::audit::Decision::Allow,
            reason: "ok".into(),
        })
        .unwrap();
    }
    let alice = s.get_user("alice").unwrap();
    assign_linux_id(s, &alice.user_id, None, (60000, 60100), &|_| false).unwrap();
    s.allocate_id(IdSpace::Gid, "legacy", (70000, 70010))
        .unwrap();
    s.put_password_policy(&PasswordPolicy::default()).unwrap();
    s.put_credential_report("user,arn\n", 110).unwrap();
    s.set_sts_min_session_duration(Some(5)).unwrap();
    let spent = |host: &str, offline| SpentStep {
        serial: "arn:aws:iam::123456789012:mfa/alice".into(),
        step: 4242,
        host: host.into(),
        user: "alice".into(),
        time: 120,
        offline,
    };
    s.record_spent_step(&spent("web1", true)).unwrap();
    s.set_journal_position("web1", "0123456789abcdef0123456789abcdef", 7, 121)
        .unwrap();
    s.record_replay_incident(&ReplayIncident {
        id: 0,
        time: 122,
        user: "alice".into(),
        serial: "arn:aws:iam::123456789012:mfa/alice".into(),
        step: 4242,
        first: spent("web2", false),
        second: spent("web1", true),
        action: "audit".into(),
    })
    .unwrap();
}

#[test]
fn migrate_store_round_trips_sqlite_postgres_sqlite_byte_identical() {
    let Some(server) = testing::shared() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let a = dir.path().join("a.db");
    let b = dir.path().join("b.db");
    let a_loc = a.to_str().unwrap().to_string();
    let b_loc = format!("sqlite:{}", b.display());
    let pg = server.fresh_db().unwrap();
    {
        let s = open_rw(&a_loc);
        populate(&*s);
    }
    let before = open_rw(&a_loc).export_snapshot().unwrap();
    assert!(
        before.tables.iter().all(|t| !t.rows.is_empty()),
        "every table has a row: {:?}",
        before
            .tables
            .iter()
            .filter(|t| t.rows.is_empty())
            .map(|t| t.name)
            .collect::<Vec<_>>()
    );

    let (ok, out, err) = iam(&a_loc, &["migrate-store", "--from", &a_loc, "--to", &pg]);
    assert!(ok, "{err}");
    assert!(out.contains("\"Verified\": true"), "{out}");
    assert!(
        !out.contains("secret-hash") && !out.contains("argon2"),
        "{out}"
    );
    let (ok, _, err) = iam(&pg, &["migrate-store", "--from", &pg, "--to", &b_loc]);
    assert!(ok, "{err}");

    let on_pg = open_rw(&pg).export_snapshot().unwrap();
    let after = open_rw(&b_loc).export_snapshot().unwrap();
    assert_eq!(
        on_pg.canonical_bytes(),
        before.canonical_bytes(),
        "SQLite -> PostgreSQL"
    );
    assert_eq!(
        after.canonical_bytes(),
        before.canonical_bytes(),
        "PostgreSQL -> SQLite"
    );

    // The copy is a working store: same account, ARNs, secrets and watermark.
    let (ok, out, err) = iam(&pg, &["get-user", "--user-name", "alice"]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&open_rw(&a_loc).account_id().unwrap()),
        "{out}"
    );
    let s = open_rw(&pg);
    let info = s.auth_info("alice").unwrap().unwrap();
    assert_eq!(info.mfa.unwrap().watermark, 1001);
    assert_eq!(
        info.login_profile.unwrap().password_hash.as_str(),
        "$argon2id$second"
    );
    // New rows continue after the copied ids.
    s.append_audit(&AuditEvent::default()).unwrap();
    s.create_group("more", "/", 1).unwrap();

    // A non-empty target is refused and left as it was.
    let before_pg = s.export_snapshot().unwrap();
    let (ok, _, err) = iam(&a_loc, &["migrate-store", "--from", &a_loc, "--to", &pg]);
    assert!(!ok);
    assert!(
        err.contains("EntityAlreadyExists") && err.contains("not empty"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(s.export_snapshot().unwrap(), before_pg);
}

#[test]
fn the_cli_works_on_postgres_through_db_and_pam_iam_db() {
    let Some(server) = testing::shared() else {
        return;
    };
    let pg = server.fresh_db().unwrap();
    let (ok, out, err) = iam(&pg, &["create-user", "--user-name", "carol"]);
    assert!(ok, "{err}");
    assert!(out.contains("arn:aws:iam::"), "{out}");
    let out = Command::new(IAM)
        .args(["list-users", "--output", "text"])
        .env("PAM_IAM_DB", &pg)
        .env("PAM_IAM_USERDB", "off")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("carol"));
    // Errors are AWS's, as on SQLite.
    let (ok, _, err) = iam(&pg, &["create-user", "--user-name", "carol"]);
    assert!(!ok);
    assert!(err.contains("EntityAlreadyExists"), "{err}");
}

fn iam_env(db: &str, env: &[(&str, &std::path::Path)], args: &[&str]) -> (bool, String, String) {
    let mut c = Command::new(IAM);
    c.arg("--db")
        .arg(db)
        .args(args)
        .env_remove("PAM_IAM_DB")
        .env_remove("PAM_IAM_SECRETS_KEY")
        .env("PAM_IAM_USERDB", "off");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run iam");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A PostgreSQL store is not a file, so the key sealing access-key and host-credential
/// secrets cannot sit beside it: `PAM_IAM_SECRETS_KEY` names the file (default
/// /var/lib/pam-iam/pam_iam_secrets.key), created 0600 on first use; the secret in the
/// store opens with it. A key file that cannot be made is one line and writes nothing.
#[test]
fn create_access_key_on_postgres_seals_under_the_secrets_key_file() {
    use std::os::unix::fs::PermissionsExt;
    let Some(server) = testing::shared() else {
        return;
    };
    let db = server.fresh_db().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("keys/secrets.key");
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    let env = [("PAM_IAM_SECRETS_KEY", key.as_path())];
    let (ok, _, err) = iam_env(&db, &env, &["create-user", "--user-name", "alice"]);
    assert!(ok, "{err}");

    // A key file that cannot be created: one line, no key in the store.
    let bad = dir.path().join("missing/dir/secrets.key");
    let (ok, _, err) = iam_env(
        &db,
        &[("PAM_IAM_SECRETS_KEY", bad.as_path())],
        &["create-access-key", "--user-name", "alice"],
    );
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("the secrets key") && err.contains("missing/dir"),
        "{err}"
    );
    let (_, out, _) = iam_env(&db, &env, &["list-access-keys", "--user-name", "alice"]);
    assert!(out.contains("\"AccessKeyMetadata\": []"), "{out}");

    let (ok, out, err) = iam_env(&db, &env, &["create-access-key", "--user-name", "alice"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = v["AccessKey"]["AccessKeyId"].as_str().unwrap();
    let secret = v["AccessKey"]["SecretAccessKey"].as_str().unwrap();
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the key file is the owner's alone");
    let bytes = std::fs::read(&key).unwrap();
    let store = open_rw(&db);
    let sealed = store
        .access_key_credential(id)
        .unwrap()
        .sealed_secret
        .unwrap();
    assert_eq!(
        pam_iam::credentials::sealed::open(&bytes, id, &sealed)
            .as_deref()
            .map(Vec::as_slice),
        Some(secret.as_bytes()),
        "the secret in PostgreSQL opens with the key file"
    );

    // Host credentials use the same file.
    let creds = dir.path().join("web1.json");
    let (ok, _, err) = iam_env(
        &db,
        &env,
        &[
            "create-host-credentials",
            "--host-name",
            "web1",
            "--credentials-file",
            creds.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&creds).unwrap()).unwrap();
    let hid = c["AccessKeyId"].as_str().unwrap();
    let (_, sealed) = store.host_credential(hid).unwrap();
    assert_eq!(
        pam_iam::credentials::sealed::open(&bytes, hid, &sealed)
            .as_deref()
            .map(Vec::as_slice),
        Some(c["SecretAccessKey"].as_str().unwrap().as_bytes())
    );
}
