//! `iam` users, tags, groups, passwords, password policy and lockout: the real binary on a
//! temporary store, happy paths and every error path.

mod support;
use std::os::unix::fs::PermissionsExt;
use support::cli::*;

#[test]
fn user_lifecycle() {
    let iam = Cli::new();
    let v = iam.ok(&[
        "create-user",
        "--user-name",
        "alice",
        "--tags",
        "Key=team,Value=ops",
        "Key=env,Value=prod",
    ]);
    let u = &v["User"];
    assert_eq!(u["UserName"], "alice");
    assert!(u["UserId"].as_str().unwrap().starts_with("AIDA"));
    let acct = iam.account();
    assert_eq!(acct.len(), 12);
    assert_eq!(u["Arn"], format!("arn:aws:iam::{acct}:user/alice"));
    assert_eq!(u["Tags"].as_array().unwrap().len(), 2);
    assert_eq!(
        iam.ok(&["get-user", "--user-name", "alice"])["User"]["UserId"],
        u["UserId"]
    );
    iam.user("bob");
    let list = iam.ok(&["list-users"]);
    assert_eq!(list["Users"].as_array().unwrap().len(), 2);
    iam.ok(&[
        "update-user",
        "--user-name",
        "bob",
        "--new-user-name",
        "bobby",
        "--new-path",
        "/eng/",
    ]);
    assert_eq!(
        iam.ok(&["list-users", "--path-prefix", "/eng/"])["Users"][0]["UserName"],
        "bobby"
    );
    iam.ok(&["delete-user", "--user-name", "bobby"]);
    iam.err(&["get-user", "--user-name", "bobby"], "NoSuchEntity");
}

#[test]
fn user_errors() {
    let iam = Cli::new();
    iam.user("alice");
    iam.err(
        &["create-user", "--user-name", "alice"],
        "EntityAlreadyExists",
    );
    for bad in ["Alice", "9lives", "a.b", "root", "x y"] {
        iam.err(&["create-user", "--user-name", bad], "ValidationError");
    }
    iam.err(
        &["create-user", "--user-name", "carol", "--path", "nopath"],
        "ValidationError",
    );
    iam.err(
        &["create-user", "--user-name", "carol", "--tags", "team=ops"],
        "ValidationError",
    );
    iam.err(
        &[
            "create-user",
            "--user-name",
            "carol",
            "--permissions-boundary",
            "arn:aws:iam::1:policy/none",
        ],
        "NoSuchEntity",
    );
    iam.err(
        &[
            "update-user",
            "--user-name",
            "ghost",
            "--new-user-name",
            "g2",
        ],
        "NoSuchEntity",
    );
    iam.user("bob");
    iam.err(
        &[
            "update-user",
            "--user-name",
            "bob",
            "--new-user-name",
            "alice",
        ],
        "EntityAlreadyExists",
    );
    iam.err(
        &[
            "update-user",
            "--user-name",
            "bob",
            "--new-user-name",
            "Bob",
        ],
        "ValidationError",
    );
    iam.err(&["delete-user", "--user-name", "ghost"], "NoSuchEntity");
    // Usage errors exit 252 as the AWS CLI.
    let out = iam.run(&["create-user"]);
    assert_eq!(out.status.code(), Some(252));
}

#[test]
fn delete_user_conflicts_until_everything_is_gone() {
    let iam = Cli::new();
    iam.user("alice");
    iam.ok(&["create-group", "--group-name", "ops"]);
    iam.ok(&[
        "add-user-to-group",
        "--group-name",
        "ops",
        "--user-name",
        "alice",
    ]);
    iam.ok(&[
        "put-user-policy",
        "--user-name",
        "alice",
        "--policy-name",
        "p",
        "--policy-document",
        ALLOW_LOGIN,
    ]);
    iam.ok_with(
        &[
            "create-login-profile",
            "--user-name",
            "alice",
            "--password-stdin",
        ],
        Some("Sup3r-secret\n"),
    );
    iam.ok(&["create-access-key", "--user-name", "alice"]);
    let e = iam.err(&["delete-user", "--user-name", "alice"], "DeleteConflict");
    assert!(e.contains("login profile"), "{e}");
    iam.ok(&["delete-login-profile", "--user-name", "alice"]);
    assert!(
        iam.err(&["delete-user", "--user-name", "alice"], "DeleteConflict")
            .contains("access keys")
    );
    let k = iam.ok(&["list-access-keys", "--user-name", "alice"]);
    let id = k["AccessKeyMetadata"][0]["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    iam.ok(&["delete-access-key", "--access-key-id", &id]);
    assert!(
        iam.err(&["delete-user", "--user-name", "alice"], "DeleteConflict")
            .contains("groups")
    );
    iam.ok(&[
        "remove-user-from-group",
        "--group-name",
        "ops",
        "--user-name",
        "alice",
    ]);
    assert!(
        iam.err(&["delete-user", "--user-name", "alice"], "DeleteConflict")
            .contains("policies")
    );
    iam.ok(&[
        "delete-user-policy",
        "--user-name",
        "alice",
        "--policy-name",
        "p",
    ]);
    iam.ok(&["delete-user", "--user-name", "alice"]);
}

#[test]
fn user_tags_and_boundaries() {
    let iam = Cli::new();
    iam.user("alice");
    iam.ok(&[
        "tag-user",
        "--user-name",
        "alice",
        "--tags",
        r#"[{"Key":"team","Value":"ops"},{"Key":"level","Value":"3"}]"#,
    ]);
    iam.ok(&[
        "tag-user",
        "--user-name",
        "alice",
        "--tags",
        "Key=TEAM,Value=dev",
    ]);
    let t = iam.ok(&["list-user-tags", "--user-name", "alice"]);
    assert_eq!(
        t["Tags"],
        serde_json::json!([{"Key":"level","Value":"3"},{"Key":"team","Value":"dev"}])
    );
    iam.ok(&["untag-user", "--user-name", "alice", "--tag-keys", "level"]);
    assert_eq!(
        iam.ok(&["list-user-tags", "--user-name", "alice"])["Tags"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    iam.err(
        &[
            "tag-user",
            "--user-name",
            "alice",
            "--tags",
            "Key=aws:x,Value=1",
        ],
        "ValidationError",
    );
    iam.err(
        &[
            "tag-user",
            "--user-name",
            "ghost",
            "--tags",
            "Key=a,Value=1",
        ],
        "NoSuchEntity",
    );
    iam.err(&["list-user-tags", "--user-name", "ghost"], "NoSuchEntity");
    let p = iam.ok(&[
        "create-policy",
        "--policy-name",
        "bound",
        "--policy-document",
        ALLOW_LOGIN,
    ]);
    let arn = p["Policy"]["Arn"].as_str().unwrap();
    iam.ok(&[
        "put-user-permissions-boundary",
        "--user-name",
        "alice",
        "--permissions-boundary",
        arn,
    ]);
    let u = iam.ok(&["get-user", "--user-name", "alice"]);
    assert_eq!(
        u["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"],
        arn
    );
    assert_eq!(
        iam.ok(&["get-policy", "--policy-arn", arn])["Policy"]["PermissionsBoundaryUsageCount"],
        1
    );
    iam.err(&["delete-policy", "--policy-arn", arn], "DeleteConflict");
    iam.ok(&["delete-user-permissions-boundary", "--user-name", "alice"]);
    assert!(
        iam.ok(&["get-user", "--user-name", "alice"])["User"]
            .get("PermissionsBoundary")
            .is_none()
    );
    iam.err(
        &[
            "put-user-permissions-boundary",
            "--user-name",
            "alice",
            "--permissions-boundary",
            "arn:aws:iam::1:policy/x",
        ],
        "NoSuchEntity",
    );
}

#[test]
fn groups() {
    let iam = Cli::new();
    iam.user("alice");
    iam.user("bob");
    let g = iam.ok(&["create-group", "--group-name", "ops", "--path", "/team/"]);
    assert!(g["Group"]["GroupId"].as_str().unwrap().starts_with("AGPA"));
    assert!(
        g["Group"]["Arn"]
            .as_str()
            .unwrap()
            .ends_with(":group/team/ops")
    );
    iam.err(
        &["create-group", "--group-name", "OPS"],
        "EntityAlreadyExists",
    );
    iam.err(&["create-group", "--group-name", "a/b"], "ValidationError");
    iam.ok(&[
        "add-user-to-group",
        "--group-name",
        "ops",
        "--user-name",
        "alice",
    ]);
    iam.ok(&[
        "add-user-to-group",
        "--group-name",
        "ops",
        "--user-name",
        "bob",
    ]);
    iam.err(
        &[
            "add-user-to-group",
            "--group-name",
            "ops",
            "--user-name",
            "ghost",
        ],
        "NoSuchEntity",
    );
    iam.err(
        &[
            "add-user-to-group",
            "--group-name",
            "nope",
            "--user-name",
            "bob",
        ],
        "NoSuchEntity",
    );
    let gg = iam.ok(&["get-group", "--group-name", "ops"]);
    assert_eq!(gg["Users"].as_array().unwrap().len(), 2);
    assert_eq!(
        iam.ok(&["list-groups"])["Groups"].as_array().unwrap().len(),
        1
    );
    assert_eq!(
        iam.ok(&["list-groups-for-user", "--user-name", "alice"])["Groups"][0]["GroupName"],
        "ops"
    );
    iam.err(&["delete-group", "--group-name", "ops"], "DeleteConflict");
    iam.ok(&[
        "remove-user-from-group",
        "--group-name",
        "ops",
        "--user-name",
        "alice",
    ]);
    iam.err(
        &[
            "remove-user-from-group",
            "--group-name",
            "ops",
            "--user-name",
            "alice",
        ],
        "NoSuchEntity",
    );
    iam.ok(&[
        "remove-user-from-group",
        "--group-name",
        "ops",
        "--user-name",
        "bob",
    ]);
    iam.ok(&["create-group", "--group-name", "dev"]);
    iam.err(
        &[
            "update-group",
            "--group-name",
            "ops",
            "--new-group-name",
            "dev",
        ],
        "EntityAlreadyExists",
    );
    iam.err(&["update-group", "--group-name", "ops"], "ValidationError");
    iam.ok(&[
        "update-group",
        "--group-name",
        "ops",
        "--new-group-name",
        "sre",
        "--new-path",
        "/",
    ]);
    iam.ok(&["delete-group", "--group-name", "sre"]);
    iam.err(&["delete-group", "--group-name", "sre"], "NoSuchEntity");
    iam.err(&["get-group", "--group-name", "sre"], "NoSuchEntity");
}

#[test]
fn login_profiles_and_password_policy() {
    let iam = Cli::new();
    iam.user("alice");
    iam.err_with(
        &[
            "create-login-profile",
            "--user-name",
            "ghost",
            "--password-stdin",
        ],
        Some("Sup3r-secret\n"),
        "NoSuchEntity",
    );
    iam.err_with(
        &[
            "create-login-profile",
            "--user-name",
            "alice",
            "--password-stdin",
        ],
        Some("short\n"),
        "PasswordPolicyViolation",
    );
    iam.err_with(
        &[
            "create-login-profile",
            "--user-name",
            "alice",
            "--password-stdin",
        ],
        Some(""),
        "ValidationError",
    );
    let lp = iam.ok_with(
        &[
            "create-login-profile",
            "--user-name",
            "alice",
            "--password-stdin",
            "--password-reset-required",
        ],
        Some("Sup3r-secret\n"),
    );
    assert_eq!(lp["LoginProfile"]["PasswordResetRequired"], true);
    iam.err_with(
        &[
            "create-login-profile",
            "--user-name",
            "alice",
            "--password-stdin",
        ],
        Some("Sup3r-secret\n"),
        "EntityAlreadyExists",
    );
    assert_eq!(
        iam.ok(&["get-login-profile", "--user-name", "alice"])["LoginProfile"]["UserName"],
        "alice"
    );
    // The hash never leaves the store.
    assert!(
        !iam.ok_raw(&["get-login-profile", "--user-name", "alice"])
            .contains("argon2")
    );
    assert!(iam.dump().contains("$argon2id$v=19$m=19456,t=2,p=1$"));
    iam.ok(&[
        "update-login-profile",
        "--user-name",
        "alice",
        "--no-password-reset-required",
    ]);
    assert_eq!(
        iam.ok(&["get-login-profile", "--user-name", "alice"])["LoginProfile"]["PasswordResetRequired"],
        false
    );
    iam.err(
        &["update-login-profile", "--user-name", "alice"],
        "ValidationError",
    );
    iam.err(
        &["get-login-profile", "--user-name", "ghost"],
        "NoSuchEntity",
    );

    // Policy: every AWS field, enforced on every password set.
    iam.err(&["get-account-password-policy"], "NoSuchEntity");
    iam.ok(&[
        "update-account-password-policy",
        "--minimum-password-length",
        "12",
        "--require-symbols",
        "--require-numbers",
        "--require-uppercase-characters",
        "--require-lowercase-characters",
        "--allow-users-to-change-password",
        "--max-password-age",
        "90",
        "--password-reuse-prevention",
        "2",
        "--hard-expiry",
    ]);
    let p = iam.ok(&["get-account-password-policy"])["PasswordPolicy"].clone();
    assert_eq!(p["MinimumPasswordLength"], 12);
    assert_eq!(p["RequireSymbols"], true);
    assert_eq!(p["RequireNumbers"], true);
    assert_eq!(p["RequireUppercaseCharacters"], true);
    assert_eq!(p["RequireLowercaseCharacters"], true);
    assert_eq!(p["AllowUsersToChangePassword"], true);
    assert_eq!(p["MaxPasswordAge"], 90);
    assert_eq!(p["PasswordReusePrevention"], 2);
    assert_eq!(p["HardExpiry"], true);
    assert_eq!(p["ExpirePasswords"], true);
    for (pw, why) in [
        ("Sh0rt!a", "minimum length"),
        ("nouppercase1!x", "uppercase"),
        ("NOLOWERCASE1!X", "lowercase"),
        ("NoNumbersHere!", "number"),
        ("NoSymbols1234", "symbol"),
    ] {
        let e = iam.err_with(
            &[
                "update-login-profile",
                "--user-name",
                "alice",
                "--password-stdin",
            ],
            Some(&format!("{pw}\n")),
            "PasswordPolicyViolation",
        );
        assert!(e.contains(why), "{pw}: {e}");
    }
    // Reuse prevention: the current password and the one before are refused.
    iam.err_with(
        &[
            "update-login-profile",
            "--user-name",
            "alice",
            "--password-stdin",
        ],
        Some("Sup3r-secret\n"),
        "PasswordPolicyViolation",
    );
    iam.ok_with(
        &[
            "update-login-profile",
            "--user-name",
            "alice",
            "--password-stdin",
        ],
        Some("Second-Pass-1\n"),
    );
    iam.err_with(
        &[
            "update-login-profile",
            "--user-name",
            "alice",
            "--password-stdin",
        ],
        Some("Second-Pass-1\n"),
        "PasswordPolicyViolation",
    );
    iam.ok_with(
        &[
            "update-login-profile",
            "--user-name",
            "alice",
            "--password-stdin",
        ],
        Some("Third-Pass-22\n"),
    );
    iam.err_with(
        &[
            "update-login-profile",
            "--user-name",
            "alice",
            "--password-stdin",
        ],
        Some("Second-Pass-1\n"),
        "PasswordPolicyViolation",
    );
    iam.ok_with(
        &[
            "update-login-profile",
            "--user-name",
            "alice",
            "--password-stdin",
        ],
        Some("Sup3r-secret!X\n"),
    );
    iam.err(
        &[
            "update-account-password-policy",
            "--minimum-password-length",
            "5",
        ],
        "ValidationError",
    );
    iam.err(
        &[
            "update-account-password-policy",
            "--max-password-age",
            "2000",
        ],
        "ValidationError",
    );
    iam.err(
        &[
            "update-account-password-policy",
            "--password-reuse-prevention",
            "25",
        ],
        "ValidationError",
    );
    iam.ok(&["delete-account-password-policy"]);
    iam.err(&["delete-account-password-policy"], "NoSuchEntity");
    iam.ok(&["delete-login-profile", "--user-name", "alice"]);
    iam.err(
        &["delete-login-profile", "--user-name", "alice"],
        "NoSuchEntity",
    );
}

#[test]
fn password_never_from_argv_and_needs_a_terminal() {
    let iam = Cli::new();
    iam.user("alice");
    // `--password VALUE` is not accepted: the value would be a stray argument.
    let out = iam.run(&[
        "update-login-profile",
        "--user-name",
        "alice",
        "--password",
        "Sup3r-secret",
    ]);
    assert_eq!(out.status.code(), Some(252));
    // Without --password-stdin and without a terminal the CLI refuses instead of hanging.
    let out = std::process::Command::new("setsid")
        .arg("-w")
        .arg(support::cli::iam())
        .args(["create-login-profile", "--user-name", "alice"])
        .envs(iam.envs())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--password-stdin"));
}

#[test]
fn password_from_a_terminal() {
    // `script` gives the CLI a terminal; the password is typed twice without echo.
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        support::skip("script(1) (util-linux) not installed");
        return;
    }
    let iam = Cli::new();
    iam.user("alice");
    let cmd = format!(
        "{} create-login-profile --user-name alice",
        support::cli::iam().display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .envs(iam.envs())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Collect the terminal output in a thread; answer each prompt once it has appeared
    // (echo is off by then), however slow the machine is.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let seen = seen.clone();
        let mut stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 256];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let wait_for = |what: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !seen.lock().unwrap().contains(what) {
            assert!(
                std::time::Instant::now() < deadline,
                "no {what:?} prompt: {}",
                seen.lock().unwrap()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        wait_for("New password:");
        stdin.write_all(b"Typed-Secret-1\n").unwrap();
        wait_for("Retype password:");
        stdin.write_all(b"Typed-Secret-1\n").unwrap();
    }
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let text = seen.lock().unwrap().clone();
    assert!(status.success(), "{text}");
    assert!(
        !text.contains("Typed-Secret-1"),
        "the password was echoed: {text}"
    );
    assert_eq!(
        iam.ok(&["get-login-profile", "--user-name", "alice"])["LoginProfile"]["UserName"],
        "alice"
    );
}

#[test]
fn lockout_policy_and_unlock() {
    let iam = Cli::new();
    iam.user("alice");
    assert_eq!(
        iam.ok(&["get-account-lockout-policy"])["LockoutPolicy"]["Enabled"],
        false
    );
    iam.ok(&[
        "update-account-lockout-policy",
        "--max-failed-attempts",
        "3",
        "--lockout-duration-seconds",
        "600",
    ]);
    let p = iam.ok(&["get-account-lockout-policy"]);
    assert_eq!(p["LockoutPolicy"]["MaxFailedAttempts"], 3);
    assert_eq!(p["LockoutPolicy"]["LockoutDurationSeconds"], 600);
    iam.err(
        &[
            "update-account-lockout-policy",
            "--max-failed-attempts",
            "3",
            "--lockout-duration-seconds",
            "0",
        ],
        "ValidationError",
    );
    // Three failures recorded the way PAM records them lock the user.
    {
        let s = iam.store();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        for _ in 0..3 {
            s.record_failure("alice", now, None).unwrap();
        }
    }
    let st = iam.ok(&["get-user-lockout-status", "--user-name", "alice"]);
    assert_eq!(st["LockoutStatus"]["Locked"], true);
    assert_eq!(st["LockoutStatus"]["FailedAttempts"], 3);
    iam.ok(&["unlock-user", "--user-name", "alice"]);
    let st = iam.ok(&["get-user-lockout-status", "--user-name", "alice"]);
    assert_eq!(st["LockoutStatus"]["Locked"], false);
    assert_eq!(st["LockoutStatus"]["FailedAttempts"], 0);
    iam.err(&["unlock-user", "--user-name", "ghost"], "NoSuchEntity");
}

#[test]
fn hash_parameters_are_configurable() {
    let iam = Cli::new();
    iam.user("alice");
    iam.ok(&[
        "set-password-hash-parameters",
        "--memory-kib",
        "32768",
        "--iterations",
        "3",
        "--parallelism",
        "1",
    ]);
    iam.ok_with(
        &[
            "create-login-profile",
            "--user-name",
            "alice",
            "--password-stdin",
        ],
        Some("Sup3r-secret\n"),
    );
    assert!(iam.dump().contains("$argon2id$v=19$m=32768,t=3,p=1$"));
    iam.err(
        &["set-password-hash-parameters", "--memory-kib", "1"],
        "ValidationError",
    );
}

#[test]
fn sqlite_store_is_created_private_and_refused_when_unsafe() {
    let iam = Cli::sqlite();
    iam.user("alice");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&iam.db), 0o600);
    assert_eq!(mode(iam.db.parent().unwrap()), 0o700);
    std::fs::set_permissions(&iam.db, std::fs::Permissions::from_mode(0o664)).unwrap();
    let out = iam.run(&["get-user", "--user-name", "alice"]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(254));
    assert!(
        e.contains("iam.db") && e.contains("0664") && e.lines().count() == 1,
        "{e}"
    );
    let out = iam
        .cmd(&["get-user", "--user-name", "alice"])
        .env("PAM_IAM_INSECURE_STORE", "1")
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::set_permissions(&iam.db, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(
        iam.db.parent().unwrap(),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    let out = iam.run(&["get-user", "--user-name", "alice"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("0777"));
    std::fs::set_permissions(
        iam.db.parent().unwrap(),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let link = iam.dir().join("store/link.db");
    std::os::unix::fs::symlink(&iam.db, &link).unwrap();
    let out = iam
        .cmd(&["get-user", "--user-name", "alice"])
        .env("PAM_IAM_DB", &link)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("symbolic link"));
    // --db wins over the environment.
    let other = iam.dir().join("other/iam.db");
    let out = iam
        .cmd(&["--db", other.to_str().unwrap(), "list-users"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(other.exists());
}

#[test]
fn output_formats() {
    let iam = Cli::new();
    iam.ok(&[
        "create-user",
        "--user-name",
        "alice",
        "--tags",
        "Key=team,Value=ops",
    ]);
    let text = iam.ok_raw(&["get-user", "--user-name", "alice", "--output", "text"]);
    assert!(text.starts_with("USER\t/\talice\tAIDA"), "{text}");
    assert!(text.contains("TAGS\tteam\tops"), "{text}");
    let table = iam.ok_raw(&["get-user", "--user-name", "alice", "--output", "table"]);
    assert!(
        table.contains("GetUser") && table.contains("| UserName   | alice"),
        "{table}"
    );
    let json = iam.ok_raw(&["get-user", "--user-name", "alice"]);
    assert!(json.contains("\n    \"User\": {"), "{json}");
}

/// A CLI on a store an earlier version wrote (`sql`: a frozen fixture).
fn old_store(sql: &str) -> Cli {
    let iam = Cli::sqlite();
    let dir = iam.db.parent().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    rusqlite::Connection::open(&iam.db)
        .unwrap()
        .execute_batch(sql)
        .unwrap();
    std::fs::set_permissions(&iam.db, std::fs::Permissions::from_mode(0o600)).unwrap();
    iam
}

#[test]
fn sqlite_schema_v1_store_migrates_on_open() {
    let iam = old_store(include_str!("fixtures/store-v1.sql"));
    let u = iam.ok(&["get-user", "--user-name", "alice"]);
    assert_eq!(u["User"]["Arn"], "arn:aws:iam::123456789012:user/alice");
    assert_eq!(
        iam.ok(&["list-groups-for-user", "--user-name", "alice"])["Groups"][0]["GroupName"],
        "ops"
    );
    assert_eq!(
        iam.ok(&["list-audit-events"])["Events"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let v: i64 = rusqlite::Connection::open(&iam.db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        v, 18,
        "every migration applied (18: what an agent's replica is of, for resuming)"
    );
    // New features work on the migrated store.
    iam.ok(&["generate-credential-report"]);
}

/// `sqlite3 .dump` of a store holds no TOTP seed and no access-key secret: neither of a
/// device and a key made now, nor of the plain seeds an older store (schema 5) had,
/// which its first open sealed. The devices still work (a code from oathtool enables
/// one), and the key made before secrets were sealed is reported as needing rotation.
#[test]
fn sqlite_a_dump_of_the_store_holds_no_seed_and_no_secret() {
    let iam = old_store(include_str!("fixtures/store-v5-mfa.sql"));
    let k = iam.ok(&["create-access-key", "--user-name", "bob"]);
    let secret = k["AccessKey"]["SecretAccessKey"]
        .as_str()
        .unwrap()
        .to_string();
    let d = iam.ok(&[
        "create-virtual-mfa-device",
        "--virtual-mfa-device-name",
        "bob",
    ]);
    let seed_b32 = d["VirtualMFADevice"]["Base32StringSeed"]
        .as_str()
        .unwrap()
        .to_string();
    let (c1, c2) = support::totp::code_pair(&seed_b32, 0);
    iam.ok(&[
        "enable-mfa-device",
        "--user-name",
        "bob",
        "--serial-number",
        d["VirtualMFADevice"]["SerialNumber"].as_str().unwrap(),
        "--authentication-code1",
        &c1,
        "--authentication-code2",
        &c2,
    ]);
    let out = std::process::Command::new("sqlite3")
        .arg(&iam.db)
        .arg(".dump")
        .output()
        .expect("sqlite3 (Debian package sqlite3)");
    assert!(out.status.success());
    let dump = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(dump.contains("seed_sealed"), "the dump has the devices");
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let bob_seed = base32_decode(&seed_b32);
    for (what, needle) in [
        ("bob's seed", hex(&bob_seed)),
        ("bob's seed", seed_b32.to_lowercase()),
        ("the old plain seed", hex(b"12345678901234567890")),
        ("the old spare seed", hex(b"sparesparesparespare")),
        ("the access-key secret", secret.to_lowercase()),
        ("the access-key secret", hex(secret.as_bytes())),
    ] {
        assert!(!dump.contains(&needle), "the dump holds {what}");
    }
    // The key made before migration 6 has only a hash: it cannot sign a request.
    let keys = iam.ok(&["list-access-keys", "--user-name", "alice"]);
    let old = &keys["AccessKeyMetadata"][0];
    assert_eq!(old["AccessKeyId"], "AKIAOLDHASHONLY00001");
    assert_eq!(old["NeedsRotation"], true, "{keys}");
    let keys = iam.ok(&["list-access-keys", "--user-name", "bob"]);
    assert!(
        keys["AccessKeyMetadata"][0].get("NeedsRotation").is_none(),
        "{keys}"
    );
}

/// RFC 4648 Base32 (no padding) to bytes.
fn base32_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => continue,
        };
        buf = (buf << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    out
}

#[test]
fn tag_and_group_quotas() {
    let iam = Cli::new();
    iam.user("alice");
    let tags: Vec<String> = (0..51).map(|i| format!("Key=k{i},Value=v")).collect();
    let mut args = vec!["tag-user", "--user-name", "alice", "--tags"];
    args.extend(tags.iter().map(String::as_str));
    iam.err(&args, "LimitExceeded");
    args.pop();
    iam.ok(&args);
    for i in 0..10 {
        let g = format!("g{i}");
        iam.ok(&["create-group", "--group-name", &g]);
        iam.ok(&[
            "add-user-to-group",
            "--group-name",
            &g,
            "--user-name",
            "alice",
        ]);
    }
    iam.ok(&["create-group", "--group-name", "g10"]);
    iam.err(
        &[
            "add-user-to-group",
            "--group-name",
            "g10",
            "--user-name",
            "alice",
        ],
        "LimitExceeded",
    );
}
