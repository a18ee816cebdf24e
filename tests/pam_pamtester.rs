//! pam_iam.so under the real libpam, driven by pamtester in private mount namespaces:
//! every authentication path, the account decision, password changes, sessions, the
//! fault cases, and 100 concurrent logins.

mod support;

use pam_iam::credentials::PasswordPolicy;
use pam_iam::store::PrincipalKind;
use support::now;
use support::sandbox::Sandbox;
use support::store::{Iam, allow_login};
use support::totp;

const STACK: &str = "auth required {module} db={db} fail_delay=0
account required {module} db={db} host=web-1
password required {module} db={db}
session required {module} db={db}
";

const AUTH_FAILED: &str = "Authentication failure";

/// A sandbox with alice (password + TOTP) and bob (password only), both in group `web`
/// whose policy allows host:Login on web-* hosts.
fn world() -> (Sandbox, Iam, String, Vec<String>) {
    let mut sb = Sandbox::new();
    sb.user("alice", 2001)
        .user("bob", 2002)
        .user("carol", 2003)
        .service("iam-test", STACK);
    let iam = Iam::create(&sb.db());
    iam.user("alice", Some("alice-Passw0rd"))
        .user("bob", Some("bob-Passw0rd"));
    let (seed, codes) = iam.mfa("alice");
    iam.web_group(&["alice", "bob"]);
    (sb, iam, seed, codes)
}

#[test]
fn password_and_code_login_with_session_audited() {
    require_root!();
    let (sb, iam, seed, _) = world();
    totp::wait_for_fresh_step(5);
    let ops = ["authenticate", "acct_mgmt", "open_session", "close_session"];
    let out = sb.pamtester(
        "iam-test",
        "alice",
        &ops,
        &["alice-Passw0rd", &totp::code(&seed, 0)],
    );
    assert!(out.ok(), "{out}\n{}", sb.syslog());
    assert!(
        out.stderr.contains("Password: ") && out.stderr.contains("Verification code: "),
        "{out}"
    );
    let audit = iam.audit("alice");
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|(a, d, _)| (a.as_str(), d.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("authenticate", "allow"),
            ("host:Login", "allow"),
            ("open_session", "allow"),
            ("close_session", "allow")
        ],
        "{audit:?}"
    );
    assert!(
        audit[1].2.contains("web-login statement 0 (Login)"),
        "{audit:?}"
    );
    let log = sb.syslog();
    assert!(
        log.contains("authenticate allow user=\"alice\" service=\"iam-test\""),
        "{log}"
    );
    // bob has no MFA device: one prompt
    let out = sb.pamtester(
        "iam-test",
        "bob",
        &["authenticate", "acct_mgmt"],
        &["bob-Passw0rd"],
    );
    assert!(out.ok(), "{out}");
    assert!(!out.stderr.contains("Verification code"), "{out}");
}

#[test]
fn wrong_password_or_code_fails_and_counts() {
    require_root!();
    let (sb, iam, seed, _) = world();
    totp::wait_for_fresh_step(5);
    let out = sb.pamtester(
        "iam-test",
        "alice",
        &["authenticate"],
        &["wrong", &totp::code(&seed, 0)],
    );
    assert!(!out.ok() && out.stderr.contains(AUTH_FAILED), "{out}");
    assert!(
        out.stderr.contains("Verification code: "),
        "the code is asked even after a wrong password: {out}"
    );
    let out = sb.pamtester(
        "iam-test",
        "alice",
        &["authenticate"],
        &["alice-Passw0rd", "000000"],
    );
    assert!(!out.ok(), "{out}");
    assert_eq!(iam.failures("alice"), 2);
    let reasons: Vec<String> = iam.audit("alice").into_iter().map(|(_, _, r)| r).collect();
    assert_eq!(reasons, ["wrong password", "wrong verification code"]);
    // the right answers still work (the code was not burnt by the failures) and clear the count
    let out = sb.pamtester(
        "iam-test",
        "alice",
        &["authenticate"],
        &["alice-Passw0rd", &totp::code(&seed, 0)],
    );
    assert!(out.ok(), "{out}");
    assert_eq!(iam.failures("alice"), 0);
}

#[test]
fn a_code_is_accepted_once_and_the_watermark_never_goes_back() {
    require_root!();
    let (sb, iam, seed, _) = world();
    totp::wait_for_fresh_step(8);
    let next = totp::code(&seed, 30);
    let now_code = totp::code(&seed, 0);
    let out = sb.pamtester(
        "iam-test",
        "alice",
        &["authenticate"],
        &["alice-Passw0rd", &next],
    );
    assert!(out.ok(), "next step's code is inside the ±1 window: {out}");
    let out = sb.pamtester(
        "iam-test",
        "alice",
        &["authenticate"],
        &["alice-Passw0rd", &next],
    );
    assert!(!out.ok(), "replay: {out}");
    let out = sb.pamtester(
        "iam-test",
        "alice",
        &["authenticate"],
        &["alice-Passw0rd", &now_code],
    );
    assert!(!out.ok(), "an older step after a newer one: {out}");
    let reasons: Vec<String> = iam.audit("alice").into_iter().map(|(_, _, r)| r).collect();
    assert_eq!(reasons[1], "verification code already used (replay)");
}

#[test]
fn recovery_codes_work_once() {
    require_root!();
    let (sb, iam, _, codes) = world();
    let out = sb.pamtester(
        "iam-test",
        "alice",
        &["authenticate", "acct_mgmt"],
        &["alice-Passw0rd", &codes[3]],
    );
    assert!(out.ok(), "{out}");
    let out = sb.pamtester(
        "iam-test",
        "alice",
        &["authenticate"],
        &["alice-Passw0rd", &codes[3]],
    );
    assert!(!out.ok(), "{out}");
    assert_eq!(iam.store.recovery_codes_left("alice").unwrap(), 9);
    assert_eq!(iam.audit("alice")[0].2, "password + recovery code");
}

#[test]
fn lockout_then_unlock() {
    require_root!();
    let (sb, iam, _, _) = world();
    iam.lockout(3, 900);
    for _ in 0..3 {
        assert!(
            !sb.pamtester("iam-test", "bob", &["authenticate"], &["bad"])
                .ok()
        );
    }
    let out = sb.pamtester("iam-test", "bob", &["authenticate"], &["bob-Passw0rd"]);
    assert!(
        !out.ok() && out.stderr.contains(AUTH_FAILED),
        "locked: {out}"
    );
    assert!(
        iam.audit("bob")
            .last()
            .unwrap()
            .2
            .starts_with("account locked until")
    );
    iam.store.unlock_user("bob").unwrap();
    let out = sb.pamtester("iam-test", "bob", &["authenticate"], &["bob-Passw0rd"]);
    assert!(out.ok(), "{out}");
}

#[test]
fn unknown_and_passwordless_users_fail_like_everyone_else() {
    require_root!();
    let (sb, iam, _, _) = world();
    iam.user("carol", None);
    let out = sb.pamtester("iam-test", "nobody-here", &["authenticate"], &["x"]);
    assert!(!out.ok() && out.stderr.contains("User not known"), "{out}");
    assert!(out.stderr.contains("Password: "), "{out}");
    let out = sb.pamtester("iam-test", "nobody-here", &["acct_mgmt"], &[]);
    assert!(
        out.stderr.contains("User not known"),
        "account: PAM_USER_UNKNOWN: {out}"
    );
    let out = sb.pamtester("iam-test", "carol", &["authenticate"], &["x"]);
    assert!(!out.ok() && out.stderr.contains(AUTH_FAILED), "{out}");
    assert!(
        out.stderr.contains("Password: ") && !out.stderr.contains("Verification"),
        "{out}"
    );
}

#[test]
fn local_accounts_fall_through_to_pam_unix() {
    require_root!();
    let (mut sb, _iam, _, _) = world();
    sb.unix_user("localadmin", 2100, "local-pw-1").service(
        "iam-fallthrough",
        "auth [success=done user_unknown=ignore default=die] {module} db={db} fail_delay=0
auth required pam_unix.so try_first_pass
account [success=ok user_unknown=ignore default=die] {module} db={db} host=web-1
account required pam_unix.so
",
    );
    let out = sb.pamtester(
        "iam-fallthrough",
        "localadmin",
        &["authenticate", "acct_mgmt"],
        &["local-pw-1"],
    );
    assert!(out.ok(), "{out}\n{}", sb.syslog());
    assert_eq!(
        out.stderr.matches("Password: ").count(),
        1,
        "asked once: {out}"
    );
    // an IAM user denied by policy does not fall through
    sb.service(
        "iam-fallthrough-db",
        &std::fs::read_to_string(sb.path("pam.d.src/iam-fallthrough"))
            .unwrap()
            .replace("host=web-1", "host=db-1"),
    );
    let out = sb.pamtester(
        "iam-fallthrough-db",
        "bob",
        &["authenticate", "acct_mgmt"],
        &["bob-Passw0rd"],
    );
    assert!(
        !out.ok() && out.stderr.contains("Permission denied"),
        "{out}"
    );
}

#[test]
fn policy_decides_per_host_with_the_reason_audited() {
    require_root!();
    let (mut sb, iam, _, _) = world();
    sb.service("iam-db", &STACK.replace("host=web-1", "host=db-1"));
    let out = sb.pamtester("iam-db", "bob", &["acct_mgmt"], &[]);
    assert!(
        !out.ok() && out.stderr.contains("Permission denied"),
        "{out}"
    );
    let (action, decision, reason) = iam.audit("bob").pop().unwrap();
    assert_eq!((action.as_str(), decision.as_str()), ("host:Login", "deny"));
    assert_eq!(reason, "host:Login on host db-1: no statement allows");
    assert!(
        sb.syslog().contains("no statement allows"),
        "{}",
        sb.syslog()
    );
}

#[test]
fn expired_passwords_must_change_or_are_refused_under_hard_expiry() {
    require_root!();
    let (sb, iam, _, _) = world();
    iam.user_at("dave", Some("dave-Passw0rd"), now() - 3 * 86_400);
    iam.group("web2", &["dave"]);
    iam.attach(
        PrincipalKind::Group,
        "web2",
        "web2-login",
        &allow_login(&iam.account, "*"),
    );
    let policy = PasswordPolicy {
        max_password_age: Some(1),
        password_reuse_prevention: Some(2),
        ..PasswordPolicy::default()
    };
    iam.password_policy(&policy);
    let mut sb2 = sb;
    sb2.user("dave", 2004);
    let out = sb2.pamtester(
        "iam-test",
        "dave",
        &["authenticate", "acct_mgmt"],
        &["dave-Passw0rd"],
    );
    assert!(
        !out.ok() && out.stderr.contains("new one required"),
        "{out}"
    );
    // the forced change: reuse of the current password is refused, a new one accepted
    let ops = ["chauthtok(PAM_CHANGE_EXPIRED_AUTHTOK)"];
    let out = sb2.pamtester(
        "iam-test",
        "dave",
        &ops,
        &["dave-Passw0rd", "dave-Passw0rd", "dave-Passw0rd"],
    );
    assert!(!out.ok(), "reuse: {out}");
    let out = sb2.pamtester(
        "iam-test",
        "dave",
        &ops,
        &["dave-Passw0rd", "dave-New-Passw0rd", "dave-New-Passw0rd"],
    );
    assert!(out.ok(), "{out}\n{}", sb2.syslog());
    let out = sb2.pamtester(
        "iam-test",
        "dave",
        &["authenticate", "acct_mgmt"],
        &["dave-New-Passw0rd"],
    );
    assert!(out.ok(), "{out}");
    // HardExpiry: an expired password is refused outright
    iam.user_at("erin", Some("erin-Passw0rd"), now() - 3 * 86_400);
    iam.group("web3", &["erin"]);
    iam.attach(
        PrincipalKind::Group,
        "web3",
        "web3-login",
        &allow_login(&iam.account, "*"),
    );
    iam.password_policy(&PasswordPolicy {
        hard_expiry: true,
        ..policy
    });
    sb2.user("erin", 2005);
    let out = sb2.pamtester(
        "iam-test",
        "erin",
        &["authenticate", "acct_mgmt"],
        &["erin-Passw0rd"],
    );
    assert!(!out.ok() && out.stderr.contains("expired"), "{out}");
}

fn assert_fails_closed(sb: &Sandbox, what: &str, expect_in_log: &str) {
    let out = sb.pamtester("iam-test", "bob", &["authenticate"], &["bob-Passw0rd"]);
    assert!(!out.ok(), "{what}: {out}");
    assert!(
        out.stderr.contains("cannot retrieve authentication info"),
        "{what}: {out}"
    );
    let log = sb.syslog();
    let ours: Vec<&str> = log.lines().filter(|l| l.contains("pam_iam")).collect();
    assert_eq!(ours.len(), 1, "{what}: one clear line: {log}");
    assert!(ours[0].contains(expect_in_log), "{what}: {log}");
    let _ = std::fs::remove_file(sb.path("syslog.txt"));
}

#[test]
fn unusable_stores_fail_closed() {
    require_root!();
    use std::os::unix::fs::PermissionsExt;
    let mut sb = Sandbox::new();
    sb.user("bob", 2002).service("iam-test", STACK);
    assert_fails_closed(&sb, "missing", "does not exist");

    let iam = Iam::create(&sb.db());
    iam.user("bob", Some("bob-Passw0rd"));
    drop(iam);
    std::fs::set_permissions(sb.db(), std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_fails_closed(&sb, "0644", "0644");
    std::fs::set_permissions(sb.db(), std::fs::Permissions::from_mode(0o600)).unwrap();

    // held by an exclusive lock from another process
    let mut holder = std::process::Command::new("python3")
        .args(["-c", "import sqlite3,sys,time\nc=sqlite3.connect(sys.argv[1],isolation_level=None)\nc.execute('PRAGMA locking_mode=EXCLUSIVE')\nc.execute('BEGIN EXCLUSIVE')\nc.execute('UPDATE lockout_settings SET max_failed_attempts=max_failed_attempts')\nprint('locked',flush=True)\ntime.sleep(60)", &sb.db()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "locked");
    let t = std::time::Instant::now();
    let out = sb.pamtester("iam-test", "bob", &["authenticate"], &["bob-Passw0rd"]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(!out.ok(), "locked: {out}");
    assert!(
        t.elapsed() < std::time::Duration::from_secs(40),
        "bounded wait: {:?}",
        t.elapsed()
    );
    assert!(sb.syslog().contains("locked"), "{out}\n{}", sb.syslog());
    let _ = std::fs::remove_file(sb.path("syslog.txt"));

    for f in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{f}", sb.db()));
    }
    std::fs::write(
        sb.db(),
        b"this is not a database, just garbage bytes ................",
    )
    .unwrap();
    assert_fails_closed(&sb, "corrupt", "not a database");
}

#[test]
fn a_hundred_concurrent_logins() {
    require_root!();
    let mut sb = Sandbox::new();
    sb.service("iam-test", STACK);
    let iam = Iam::create(&sb.db());
    iam.lockout(1000, 900);
    for i in 0..10 {
        let name = format!("u{i}");
        sb.user(&name, 3000 + i);
        iam.user(&name, Some(&format!("pw-{i}-Passw0rd")));
    }
    iam.group(
        "web",
        &(0..10)
            .map(|i| format!("u{i}"))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    iam.attach(
        PrincipalKind::Group,
        "web",
        "web-login",
        &allow_login(&iam.account, "web-*"),
    );
    // 100 logins at once: u0..u4 with the right password (10 each), u5..u9 with a
    // wrong one (10 each).
    let mut script = String::from("cd $T\n");
    for i in 0..10 {
        for j in 0..10 {
            let pw = if i < 5 {
                format!("pw-{i}-Passw0rd")
            } else {
                "wrong".to_string()
            };
            script += &format!(
                "(echo '{pw}' | timeout 120 pamtester iam-test u{i} authenticate acct_mgmt >out.{i}.{j} 2>&1; echo $? > rc.{i}.{j}) &\n"
            );
        }
    }
    script += "wait\n";
    let out = sb.run(&script, std::time::Duration::from_secs(240));
    assert!(out.ok(), "{out}");
    for i in 0..10 {
        for j in 0..10 {
            let rc = std::fs::read_to_string(sb.path(&format!("rc.{i}.{j}"))).unwrap();
            let o = std::fs::read_to_string(sb.path(&format!("out.{i}.{j}"))).unwrap();
            assert_eq!(rc.trim() == "0", i < 5, "u{i} #{j}: {o}\n{}", sb.syslog());
        }
        let want = if i < 5 { 0 } else { 10 };
        assert_eq!(
            iam.failures(&format!("u{i}")),
            want,
            "failure counter of u{i} is exact"
        );
    }
    let log = sb.syslog();
    assert!(!log.contains("database is locked"), "{log}");
    assert_eq!(log.matches("authenticate allow").count(), 50, "{log}");
    assert_eq!(log.matches("authenticate deny").count(), 50, "{log}");
    let denies = iam
        .store
        .list_audit(&pam_iam::store::AuditFilter {
            decision: Some("deny".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(denies.len(), 50);
}

/// The shipped pam.d/pam-iam fragment, pointed at a store that does not exist: root (any
/// uid-0 account) still gets in through pam_unix, while a local non-root user is refused
/// in `account`, because the module cannot tell who is an IAM user (fail closed).
#[test]
fn a_missing_store_never_locks_root_out_of_the_shipped_fragment() {
    require_root!();
    let fragment =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/pam.d/pam-iam")).unwrap();
    let stack: String = fragment
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            l.replace(
                "pam_iam.so",
                "{module} db=/nonexistent/pam-iam/iam.db fail_delay=0",
            )
        })
        .map(|l| l + "\n")
        .collect();
    let mut sb = Sandbox::new();
    sb.unix_user("toor", 0, "toor-pw-1")
        .unix_user("localadmin", 2100, "local-pw-1")
        .service("iam-fragment", &stack);

    let root = sb.pamtester(
        "iam-fragment",
        "toor",
        &["authenticate", "acct_mgmt"],
        &["toor-pw-1"],
    );
    assert!(root.ok(), "root must get in: {root}\n{}", sb.syslog());

    let local = sb.pamtester(
        "iam-fragment",
        "localadmin",
        &["authenticate", "acct_mgmt"],
        &["local-pw-1"],
    );
    assert!(
        !local.ok(),
        "a non-root user must not pass an unusable store: {local}"
    );
    assert!(
        sb.syslog().contains("/nonexistent/pam-iam/iam.db"),
        "{}",
        sb.syslog()
    );
}

/// One login (authenticate then acct_mgmt in one process) opens the store once: the
/// account phase uses the connection authentication opened, with the same decisions and
/// audit rows; a second PAM transaction in a new process opens it again.
#[test]
fn a_login_opens_the_store_once() {
    require_root!();
    let (sb, iam, _, _) = world();
    let input = sb.write("bob.in", "bob-Passw0rd\n", 0o600);
    let script = format!(
        "for i in 1 2; do strace -f -e trace=openat -o $T/trace.$i timeout 60 pamtester iam-test bob authenticate acct_mgmt < {} || exit 1; done
grep -c '{}\", O_RDWR' $T/trace.1 $T/trace.2",
        input.display(),
        sb.db()
    );
    let out = sb.run(&script, std::time::Duration::from_secs(120));
    assert!(out.ok(), "{out}\n{}", sb.syslog());
    let counts: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("/trace."))
        .filter_map(|l| l.rsplit(':').next())
        .collect();
    assert_eq!(counts, ["1", "1"], "store opens per login: {out}");
    let audit = iam.audit("bob");
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|(a, d, _)| (a.as_str(), d.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("authenticate", "allow"),
            ("host:Login", "allow"),
            ("authenticate", "allow"),
            ("host:Login", "allow")
        ],
        "{audit:?}"
    );
}

/// Every login's first open reads the whole WAL: it is checkpointed at 100 pages (not
/// SQLite's 1,000), so after 40 logins (~200 WAL frames written) the WAL file never grew
/// past ~100 frames plus one transaction's.
#[test]
fn the_wal_stays_short_across_logins() {
    require_root!();
    let (sb, iam, _, _) = world();
    let input = sb.write("bob.in", "bob-Passw0rd\n", 0o600);
    let script = format!(
        "for i in $(seq 40); do timeout 60 pamtester iam-test bob authenticate acct_mgmt < {} >/dev/null 2>&1 || exit 1; done
stat -c %s {}-wal",
        input.display(),
        sb.db()
    );
    let out = sb.run(&script, std::time::Duration::from_secs(180));
    assert!(out.ok(), "{out}\n{}", sb.syslog());
    let wal: u64 = out.stdout.trim().parse().unwrap();
    let frames = wal.saturating_sub(32) / (4096 + 24);
    assert!(frames <= 130, "WAL of {frames} frames ({wal} bytes)");
    assert_eq!(iam.audit("bob").len(), 80);
}

/// A store written before TOTP seeds were sealed (schema 5, by an earlier `iam`; seed
/// in plain text): the first login migrates it, sealing the seeds under a key made
/// beside the store, and password + code (oathtool) logs in. With the key file gone a
/// login with a code fails closed, saying which file is missing: the seed is never read
/// in plain text again.
#[test]
fn an_old_store_with_plain_seeds_logs_in_with_a_code_after_migration() {
    require_root!();
    use std::os::unix::fs::PermissionsExt;
    const SEED_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let mut sb = Sandbox::new();
    sb.user("alice", 2001).service("iam-test", STACK);
    let db = std::path::PathBuf::from(sb.db());
    let dir = db.parent().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(include_str!("fixtures/store-v5-mfa.sql"))
        .unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let plain = b"12345678901234567890";
    let holds = |p: &std::path::Path| {
        std::fs::read(p).is_ok_and(|b| b.windows(plain.len()).any(|w| w == plain))
    };
    assert!(holds(&db), "the old store holds the seed in plain text");
    totp::wait_for_fresh_step(5);
    let out = sb.pamtester(
        "iam-test",
        "alice",
        &["authenticate"],
        &["alice-Passw0rd", &totp::code(SEED_B32, 0)],
    );
    assert!(out.ok(), "{out}\n{}", sb.syslog());
    let key = dir.join("pam_iam_secrets.key");
    assert!(
        key.exists(),
        "the login made the secrets key beside the store"
    );
    let wal = dir.join("iam.db-wal");
    assert!(
        !holds(&db) && !holds(&wal),
        "no plain seed left in the store files"
    );
    let v: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert!(v >= 10, "migrated: {v}");
    // The key file gone: the next login with a code fails closed and says why.
    let _ = std::fs::remove_file(sb.path("syslog.txt"));
    std::fs::rename(&key, dir.join("elsewhere.key")).unwrap();
    let out = sb.pamtester(
        "iam-test",
        "alice",
        &["authenticate"],
        &["alice-Passw0rd", &totp::code(SEED_B32, 30)],
    );
    assert!(!out.ok(), "{out}");
    assert!(
        out.stderr.contains("cannot retrieve authentication info"),
        "{out}"
    );
    let log = sb.syslog();
    assert!(log.contains("pam_iam_secrets.key is missing"), "{log}");
    // Put back, the next step's code works again.
    std::fs::rename(dir.join("elsewhere.key"), &key).unwrap();
    let out = sb.pamtester(
        "iam-test",
        "alice",
        &["authenticate"],
        &["alice-Passw0rd", &totp::code(SEED_B32, 30)],
    );
    assert!(out.ok(), "{out}\n{}", sb.syslog());
}
