//! The account password policy's `AllowUsersToChangePassword`, as AWS documents it
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_enable-user-change.html>:
//! it "allows all users in the account access to the iam:ChangePassword action for
//! only their user and to the iam:GetAccountPasswordPolicy action"), through the real
//! AWS CLI: without it (or without a custom policy) a user needs an identity policy;
//! with it every IAM user changes its own password, an explicit deny still refuses,
//! and a wrong current password is refused and counted.

mod support;

use support::Server;

fn change(old: &str, new: &str) -> Vec<String> {
    [
        "iam",
        "change-password",
        "--old-password",
        old,
        "--new-password",
        new,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn allow_users_to_change_password_lets_each_user_change_only_its_own() {
    let Some(venv) = support::venv() else { return };
    let (s, root) = Server::start(venv);
    s.ok(&root, &["iam", "create-user", "--user-name", "carol"]);
    s.ok(
        &root,
        &[
            "iam",
            "create-login-profile",
            "--user-name",
            "carol",
            "--password",
            "first-secret-11",
        ],
    );
    let carol = s.key_for(&root, "carol");

    // No custom password policy: no policy of carol's allows it.
    let e = s.fails(
        &carol,
        &args(&change("first-secret-11", "second-secret-22")),
        "AccessDenied",
    );
    assert!(e.contains("iam:ChangePassword"), "{e}");
    s.fails(
        &carol,
        &["iam", "get-account-password-policy"],
        "AccessDenied",
    );
    // A custom policy without the flag: still not.
    s.ok(
        &root,
        &[
            "iam",
            "update-account-password-policy",
            "--minimum-password-length",
            "10",
        ],
    );
    s.fails(
        &carol,
        &args(&change("first-secret-11", "second-secret-22")),
        "AccessDenied",
    );

    // With it: carol changes her own password and reads the policy, nothing more.
    s.ok(
        &root,
        &[
            "iam",
            "update-account-password-policy",
            "--minimum-password-length",
            "10",
            "--allow-users-to-change-password",
        ],
    );
    let p = s.ok(&carol, &["iam", "get-account-password-policy"]);
    assert_eq!(
        p["PasswordPolicy"]["AllowUsersToChangePassword"], true,
        "{p}"
    );
    // A wrong current password: AccessDenied (AWS documents no error of its own for it).
    let e = s.fails(
        &carol,
        &args(&change("wrong-secret-00", "second-secret-22")),
        "AccessDenied",
    );
    assert!(e.contains("incorrect"), "{e}");
    s.fails(
        &carol,
        &args(&change("first-secret-11", "short")),
        "PasswordPolicyViolation",
    );
    s.ok(
        &carol,
        &args(&change("first-secret-11", "second-secret-22")),
    );
    s.fails(
        &carol,
        &["iam", "get-login-profile", "--user-name", "carol"],
        "AccessDenied",
    );
    let audit =
        String::from_utf8_lossy(&s.iam(&["list-audit-events", "--user-name", "carol"]).stdout)
            .into_owned();
    assert!(audit.contains("AllowUsersToChangePassword"), "{audit}");

    // An explicit deny still refuses.
    s.ok(
        &root,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "carol",
            "--policy-name",
            "no-change",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:ChangePassword","Resource":"*"}]}"#,
        ],
    );
    let e = s.fails(
        &carol,
        &args(&change("second-secret-22", "third-secret-33")),
        "AccessDenied",
    );
    assert!(e.contains("explicit deny"), "{e}");
}
