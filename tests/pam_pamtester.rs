//! pam_iam.so under the real libpam, driven by pamtester in private mount namespaces.

mod common;

use common::{Sandbox, should_run};

const STACK: &str = "auth required {module} db={db} fail_delay=0
account required {module} db={db} host=web-1
password required {module} db={db}
session required {module} db={db}
";

#[test]
fn missing_store_fails_closed_with_one_clear_syslog_line() {
    if !should_run("missing_store_fails_closed_with_one_clear_syslog_line") {
        return;
    }
    let mut sb = Sandbox::new();
    sb.user("alice", 2001).service("iam-test", STACK);
    let out = sb.pamtester("iam-test", "alice", &["authenticate"], &["pw"]);
    assert!(!out.ok(), "{out}");
    assert!(
        out.stderr
            .contains("Authentication service cannot retrieve authentication info"),
        "{out}"
    );
    let log = sb.syslog();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("pam_iam")).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines[0].contains("authpriv") || lines[0].starts_with("<83>"),
        "{log}"
    );
    assert!(
        lines[0].contains("cannot use the store") && lines[0].contains("iam.db"),
        "{log}"
    );
}

#[test]
fn bad_option_is_a_service_error() {
    if !should_run("bad_option_is_a_service_error") {
        return;
    }
    let mut sb = Sandbox::new();
    sb.user("alice", 2001)
        .service("iam-test", "auth required {module} db={db} frobnicate\n");
    let out = sb.pamtester("iam-test", "alice", &["authenticate"], &["pw"]);
    assert!(!out.ok(), "{out}");
    assert!(
        sb.syslog()
            .contains("unknown module argument \"frobnicate\""),
        "{}",
        sb.syslog()
    );
}
