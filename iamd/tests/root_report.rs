//! The account root user's row of the credential report, fetched with the real AWS CLI
//! (`generate-credential-report`, then `get-credential-report`'s base64 CSV): first, as
//! AWS's report has it, with its two access keys' state, rotation and last use (noted by
//! iamd when the key signs a call) and the password columns AWS gives the root user.

mod support;

use base64ct::Encoding;
use std::time::{Duration, Instant};
use support::Server;

#[test]
fn the_report_has_the_root_account_row_first_with_its_keys() {
    let Some(venv) = support::venv() else { return };
    let (s, root) = Server::start(venv);
    // A second root key, put away.
    let out = s.iam(&["create-access-key"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let second = v["AccessKey"]["AccessKeyId"].as_str().unwrap().to_string();
    let out = s.iam(&[
        "update-access-key",
        "--access-key-id",
        &second,
        "--status",
        "Inactive",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.ok(&root, &["iam", "create-user", "--user-name", "alice"]);
    let acct = s.ok(&root, &["sts", "get-caller-identity"])["Account"]
        .as_str()
        .unwrap()
        .to_string();
    // iamd notes the first key's use after answering.
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.ok(
        &root,
        &[
            "iam",
            "get-access-key-last-used",
            "--access-key-id",
            &root.id,
        ],
    )["AccessKeyLastUsed"]["LastUsedDate"]
        .is_null()
    {
        assert!(
            Instant::now() < deadline,
            "the root key's use was not noted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    s.fails(&root, &["iam", "get-credential-report"], "ReportNotPresent");
    let g = s.ok(&root, &["iam", "generate-credential-report"]);
    assert_eq!(g["State"], "COMPLETE", "{g}");
    let r = s.ok(&root, &["iam", "get-credential-report"]);
    assert_eq!(r["ReportFormat"], "text/csv", "{r}");
    let csv = String::from_utf8(
        base64ct::Base64::decode_vec(r["Content"].as_str().expect("Content")).unwrap(),
    )
    .unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let col = |row: &[&str], n: &str| {
        row[header
            .iter()
            .position(|h| *h == n)
            .unwrap_or_else(|| panic!("{n}"))]
        .to_string()
    };
    let r = &rows[0];
    assert_eq!(r.len(), header.len(), "{csv}");
    assert_eq!(col(r, "user"), "<root_account>", "{csv}");
    assert_eq!(col(r, "arn"), format!("arn:aws:iam::{acct}:root"));
    for c in [
        "password_enabled",
        "password_last_changed",
        "password_next_rotation",
    ] {
        assert_eq!(col(r, c), "not_supported", "{c}: {csv}");
    }
    assert_eq!(col(r, "password_last_used"), "N/A");
    assert_eq!(col(r, "mfa_active"), "false");
    // Both keys were made in the same second: the report orders them by creation, then
    // by id, so either may be key 1.
    let (used, unused) = if col(r, "access_key_1_active") == "true" {
        ("access_key_1", "access_key_2")
    } else {
        ("access_key_2", "access_key_1")
    };
    let k = |key: &str, c: &str| col(r, &format!("{key}_{c}"));
    assert_eq!(k(used, "active"), "true", "{csv}");
    assert_ne!(k(used, "last_rotated"), "N/A");
    assert_ne!(k(used, "last_used_date"), "N/A", "{csv}");
    assert!(
        ["iam", "sts"].contains(&k(used, "last_used_service").as_str()),
        "{csv}"
    );
    assert_eq!(k(used, "needs_rotation"), "false");
    assert_eq!(k(unused, "active"), "false", "{csv}");
    assert_ne!(k(unused, "last_rotated"), "N/A");
    assert_eq!(k(unused, "last_used_date"), "N/A");
    assert_eq!(k(unused, "needs_rotation"), "false");
    assert_eq!(col(&rows[1], "user"), "alice");
    assert_eq!(col(&rows[1], "password_enabled"), "false");
    assert_eq!(rows.len(), 2, "{csv}");

    // `iam` on the server's store reads the same report.
    let out = s.iam(&["get-credential-report", "--output", "text"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), csv);
}
