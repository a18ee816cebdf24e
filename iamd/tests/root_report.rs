//! The account root user's row of the credential report (`<root_account>`, first, as
//! AWS's report has it): its two access keys' state, rotation and last use (noted by
//! iamd when the key signs a call), password and MFA columns as AWS gives the root user.

mod support;

use std::time::{Duration, Instant};
use support::{Server, signed_call};

#[test]
fn the_report_has_the_root_account_row_with_its_keys() {
    let (s, root) = Server::start_with(std::path::PathBuf::new(), &[]);
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
    assert!(
        s.iam(&["create-user", "--user-name", "alice"])
            .status
            .success()
    );
    // The first root key signs a call; iamd notes its use.
    let (st, body, _) = signed_call(
        s.port,
        &root,
        "sts",
        "Action=GetCallerIdentity&Version=2011-06-15",
    );
    assert_eq!(st, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let o = s.iam(&["get-access-key-last-used", "--access-key-id", &root.id]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        if v["AccessKeyLastUsed"]["LastUsedDate"].is_string() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the key's use was not noted: {v}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(s.iam(&["generate-credential-report"]).status.success());
    let out = s.iam(&["get-credential-report", "--output", "text"]);
    let csv = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let col = |row: &[&str], n: &str| row[header.iter().position(|h| *h == n).unwrap()].to_string();
    let r = &rows[0];
    assert_eq!(r.len(), header.len(), "{csv}");
    assert_eq!(col(r, "user"), "<root_account>", "{csv}");
    assert!(col(r, "arn").starts_with("arn:aws:iam::") && col(r, "arn").ends_with(":root"));
    assert_eq!(col(r, "password_enabled"), "not_supported");
    assert_eq!(col(r, "password_last_changed"), "not_supported");
    assert_eq!(col(r, "password_next_rotation"), "not_supported");
    assert_eq!(col(r, "mfa_active"), "false");
    assert_eq!(col(r, "access_key_1_active"), "true");
    assert_ne!(col(r, "access_key_1_last_rotated"), "N/A");
    assert_ne!(col(r, "access_key_1_last_used_date"), "N/A", "{csv}");
    assert_eq!(col(r, "access_key_1_last_used_service"), "sts");
    assert_eq!(col(r, "access_key_2_active"), "false");
    assert_ne!(col(r, "access_key_2_last_rotated"), "N/A");
    assert_eq!(col(r, "access_key_2_last_used_date"), "N/A");
    assert_eq!(col(&rows[1], "user"), "alice");
    assert_eq!(rows.len(), 2, "{csv}");
}
