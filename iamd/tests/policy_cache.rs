//! iamd keeps a user's policy set between signed calls for the store version it was read
//! at (`iamd::policy_cache`). Every kind of change to what makes up the set, made by
//! another writer (the local `iam` CLI on the same store, so iamd learns of it only from
//! the store), decides the very next call; and unchanged sets are reused (the cache's
//! counters on `/metrics`). On SQLite here, on PostgreSQL in scripts/test's PostgreSQL
//! pass (`PAM_IAM_TEST_BACKEND=postgres`).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use support::{Key, Server, free_port, signed_call};

const ALLOW_GET_USER: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#;
const DENY_GET_USER: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:GetUser","Resource":"*"}]}"#;
/// The inline policy that lets alice call `GetUser`.
const PUT_ALLOW: [&str; 7] = [
    "put-user-policy",
    "--user-name",
    "alice",
    "--policy-name",
    "allow",
    "--policy-document",
    ALLOW_GET_USER,
];
const ALLOW_LIST_USERS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}"#;

/// `iamd_policy_cache_{name}_total` from `/metrics`.
fn counter(port: u16, name: &str) -> u64 {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).unwrap();
    let metric = format!("iamd_policy_cache_{name}_total ");
    text.lines()
        .find_map(|l| l.strip_prefix(&metric))
        .unwrap_or_else(|| panic!("no {metric} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// `iam ARGS` on the store, which must succeed; its JSON output, if any.
fn iam(s: &Server, args: &[&str]) -> serde_json::Value {
    let o = s.iam(args);
    assert!(
        o.status.success(),
        "iam {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null)
}

/// A signed `GetUser` of the caller itself: its HTTP status.
fn get_user(s: &Server, key: &Key) -> u16 {
    let (status, body, _) = signed_call(s.port, key, "iam", "Action=GetUser&Version=2010-05-08");
    match status {
        200 => assert!(body.contains("<UserName>alice</UserName>"), "{body}"),
        403 => assert!(body.contains("<Code>AccessDenied</Code>"), "{body}"),
        _ => panic!("{status}: {body}"),
    }
    status
}

#[test]
fn a_kept_policy_set_is_never_used_after_any_change_another_writer_makes() {
    let metrics = free_port();
    let listen = format!("127.0.0.1:{metrics}");
    // No AWS CLI here: requests are signed in the test, changes made by the local CLI.
    let (s, _root) = Server::start_with(
        PathBuf::from("/nonexistent"),
        &["--metrics-listen", &listen],
    );
    iam(&s, &["create-user", "--user-name", "alice"]);
    iam(&s, &PUT_ALLOW);
    let k = iam(&s, &["create-access-key", "--user-name", "alice"]);
    let key = Key {
        id: k["AccessKey"]["AccessKeyId"].as_str().unwrap().into(),
        secret: k["AccessKey"]["SecretAccessKey"].as_str().unwrap().into(),
    };
    // What the changes below attach: made first, so only the change itself moves.
    iam(&s, &["create-group", "--group-name", "ops"]);
    iam(&s, &["create-group", "--group-name", "deniers"]);
    iam(
        &s,
        &[
            "put-group-policy",
            "--group-name",
            "deniers",
            "--policy-name",
            "deny",
            "--policy-document",
            DENY_GET_USER,
        ],
    );
    let arn = |v: serde_json::Value| v["Policy"]["Arn"].as_str().unwrap().to_string();
    let deny = arn(iam(
        &s,
        &[
            "create-policy",
            "--policy-name",
            "deny",
            "--policy-document",
            DENY_GET_USER,
        ],
    ));
    let versioned = arn(iam(
        &s,
        &[
            "create-policy",
            "--policy-name",
            "versioned",
            "--policy-document",
            ALLOW_LIST_USERS,
        ],
    ));
    let boundary = arn(iam(
        &s,
        &[
            "create-policy",
            "--policy-name",
            "boundary",
            "--policy-document",
            ALLOW_LIST_USERS,
        ],
    ));
    iam(
        &s,
        &[
            "attach-user-policy",
            "--user-name",
            "alice",
            "--policy-arn",
            &versioned,
        ],
    );

    // Unchanged, the set is read once and then reused.
    assert_eq!(get_user(&s, &key), 200);
    let hits = counter(metrics, "hits");
    assert_eq!(get_user(&s, &key), 200);
    assert_eq!(get_user(&s, &key), 200);
    assert!(
        counter(metrics, "hits") >= hits + 2,
        "the set was not reused"
    );

    let cases: [(&str, Vec<&str>, Vec<&str>); 8] = [
        (
            "an inline deny",
            vec![
                "put-user-policy",
                "--user-name",
                "alice",
                "--policy-name",
                "deny",
                "--policy-document",
                DENY_GET_USER,
            ],
            vec![
                "delete-user-policy",
                "--user-name",
                "alice",
                "--policy-name",
                "deny",
            ],
        ),
        (
            "the allowing inline policy removed",
            vec![
                "delete-user-policy",
                "--user-name",
                "alice",
                "--policy-name",
                "allow",
            ],
            PUT_ALLOW.to_vec(),
        ),
        (
            "membership of a denying group",
            vec![
                "add-user-to-group",
                "--user-name",
                "alice",
                "--group-name",
                "deniers",
            ],
            vec![
                "remove-user-from-group",
                "--user-name",
                "alice",
                "--group-name",
                "deniers",
            ],
        ),
        (
            "a managed deny attached",
            vec![
                "attach-user-policy",
                "--user-name",
                "alice",
                "--policy-arn",
                &deny,
            ],
            vec![
                "detach-user-policy",
                "--user-name",
                "alice",
                "--policy-arn",
                &deny,
            ],
        ),
        (
            "a new default version of an attached policy",
            vec![
                "create-policy-version",
                "--policy-arn",
                &versioned,
                "--policy-document",
                DENY_GET_USER,
                "--set-as-default",
            ],
            vec![
                "set-default-policy-version",
                "--policy-arn",
                &versioned,
                "--version-id",
                "v1",
            ],
        ),
        (
            "a permissions boundary that does not allow it",
            vec![
                "put-user-permissions-boundary",
                "--user-name",
                "alice",
                "--permissions-boundary",
                &boundary,
            ],
            vec!["delete-user-permissions-boundary", "--user-name", "alice"],
        ),
        (
            "a deny put on a group alice is in",
            vec![
                "put-group-policy",
                "--group-name",
                "ops",
                "--policy-name",
                "deny",
                "--policy-document",
                DENY_GET_USER,
            ],
            vec![
                "delete-group-policy",
                "--group-name",
                "ops",
                "--policy-name",
                "deny",
            ],
        ),
        (
            "a managed deny attached to that group",
            vec![
                "attach-group-policy",
                "--group-name",
                "ops",
                "--policy-arn",
                &deny,
            ],
            vec![
                "detach-group-policy",
                "--group-name",
                "ops",
                "--policy-arn",
                &deny,
            ],
        ),
    ];
    iam(
        &s,
        &[
            "add-user-to-group",
            "--user-name",
            "alice",
            "--group-name",
            "ops",
        ],
    );
    assert_eq!(get_user(&s, &key), 200);
    for (what, change, undo) in &cases {
        // Kept at the current version first.
        assert_eq!(get_user(&s, &key), 200, "before {what}");
        iam(&s, change);
        assert_eq!(
            get_user(&s, &key),
            403,
            "{what}: the next call must be denied"
        );
        assert_eq!(get_user(&s, &key), 403, "{what}: and the one after");
        iam(&s, undo);
        assert_eq!(get_user(&s, &key), 200, "{what} undone: allowed again");
    }
    assert!(
        counter(metrics, "misses") > 2 * cases.len() as u64,
        "every change must be read anew"
    );
}
