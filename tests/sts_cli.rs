//! `iam` role-session administration: list active sessions, revoke one, and AWS's
//! "Revoke active sessions" for a role. Runs the real `iam` binary on a private store.

mod support;

use std::process::Command;

use pam_iam::store::{NewRole, NewUser, OpenMode, OpenOptions, RoleSession};

fn iam(db: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(support::bin("iam"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("PAM_IAM_DB")
        .output()
        .expect("run iam");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn session(id: &str, user: &str, role: &str, issued: i64, expires: i64) -> RoleSession {
    RoleSession {
        session_id: id.into(),
        user_name: user.into(),
        role_name: role.into(),
        session_name: format!("{user}-s"),
        token_hash: format!("hash-{id}"),
        issued,
        expires,
        scope: "tty:boot:34816:100:200".into(),
        revoked: None,
        mfa_time: None,
        role_id: None,
        user_id: None,
        secret_sealed: None,
        host: None,
    }
}

#[test]
fn admins_list_and_revoke_role_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store/iam.db");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    {
        let s = pam_iam::store::open(&OpenOptions::new(&db, OpenMode::ReadWrite)).unwrap();
        for u in ["alice", "bob"] {
            s.create_user(
                &NewUser {
                    name: u.into(),
                    path: "/".into(),
                    ..Default::default()
                },
                now,
            )
            .unwrap();
        }
        for r in ["admin", "viewer"] {
            s.create_role(
                &NewRole {
                    name: r.into(),
                    path: "/".into(),
                    assume_role_policy_document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#.into(),
                    max_session_duration: 3600,
                    ..Default::default()
                },
                now,
            )
            .unwrap();
        }
        s.create_role_session(&session(
            "ASIAAAAAAAAAAAAAAAA1",
            "alice",
            "admin",
            now,
            now + 900,
        ))
        .unwrap();
        s.create_role_session(&session(
            "ASIAAAAAAAAAAAAAAAA2",
            "bob",
            "viewer",
            now,
            now + 900,
        ))
        .unwrap();
        s.create_role_session(&session(
            "ASIAAAAAAAAAAAAAAAA3",
            "bob",
            "admin",
            now - 7200,
            now - 3600,
        ))
        .unwrap();
    }

    let (ok, out, err) = iam(&db, &["list-role-sessions"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("ASIAAAAAAAAAAAAAAAA1") && out.contains("ASIAAAAAAAAAAAAAAAA2"),
        "{out}"
    );
    assert!(
        !out.contains("ASIAAAAAAAAAAAAAAAA3"),
        "expired sessions only with --all: {out}"
    );
    assert!(
        out.contains("assumed-role/admin/alice-s") && out.contains("tty 136:0"),
        "{out}"
    );
    let (_, out, _) = iam(
        &db,
        &["list-role-sessions", "--role-name", "admin", "--all"],
    );
    assert!(
        out.contains("ASIAAAAAAAAAAAAAAAA3") && !out.contains("ASIAAAAAAAAAAAAAAAA2"),
        "{out}"
    );

    let (ok, _, err) = iam(
        &db,
        &[
            "revoke-role-session",
            "--access-key-id",
            "ASIAAAAAAAAAAAAAAAA1",
        ],
    );
    assert!(ok, "{err}");
    let (_, out, _) = iam(&db, &["list-role-sessions"]);
    assert!(!out.contains("ASIAAAAAAAAAAAAAAAA1"), "{out}");
    let (ok, _, err) = iam(
        &db,
        &[
            "revoke-role-session",
            "--access-key-id",
            "ASIANOSUCHSESSION000",
        ],
    );
    assert!(!ok && err.contains("NoSuchEntity"), "{err}");

    let (ok, out, err) = iam(&db, &["revoke-role-sessions", "--role-name", "admin"]);
    assert!(ok, "{err}");
    assert!(out.contains("AWSRevokeOlderSessions"), "{out}");
    let (ok, out, err) = iam(
        &db,
        &[
            "get-role-policy",
            "--role-name",
            "admin",
            "--policy-name",
            "AWSRevokeOlderSessions",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("DateLessThan") && out.contains("aws:TokenIssueTime"),
        "{out}"
    );
    let (ok, _, err) = iam(&db, &["revoke-role-sessions", "--role-name", "nosuchrole"]);
    assert!(!ok && err.contains("NoSuchEntity"), "{err}");
}
