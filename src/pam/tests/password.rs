//! `chauthtok`: changing a password, and what refuses it.

use super::*;

#[test]
fn a_locked_user_cannot_change_the_password() {
    let w = World::new();
    for _ in 0..LOCK_AFTER {
        assert_eq!(w.auth("bob", &["bad"], NOW).0, PamCode::AuthErr);
    }
    let mut pam = FakePam::new("bob", &["bob-pw", "new-password-1", "new-password-1"]);
    pam.root = false;
    assert_eq!(chauthtok(&w, &mut pam, false), PamCode::PermDenied);
    assert!(
        pam.prompts.is_empty(),
        "no password is checked while locked"
    );
    assert_eq!(pam.messages, [crate::pam::password::LOCKED]);
    assert!(w.last_audit().reason.starts_with("account locked until"));
    // Locked while the current password was being typed: refused at that moment.
    let w = World::new();
    let before = w.store().get_login_profile("bob").unwrap().password_hash;
    w.crypto.locked_by_others.replace(Some("bob"));
    let mut pam = FakePam::new("bob", &["bob-pw", "new-password-1", "new-password-1"]);
    pam.root = false;
    let update = Hook::Chauthtok {
        pass: Pass::Update,
        expired: false,
    };
    assert_eq!(w.run(&mut pam, update, NOW), PamCode::PermDenied);
    assert_eq!(pam.prompts, ["Current password: "]);
    assert_eq!(
        w.store().get_login_profile("bob").unwrap().password_hash,
        before,
        "password unchanged"
    );
    assert_eq!(w.failures("bob"), LOCK_AFTER + 1);
}

#[test]
fn forced_change_then_login() {
    let w = World::new();
    w.require_reset("bob");
    let mut pam = FakePam::new("bob", &["bob-pw", "new-password-1", "new-password-1"]);
    assert_eq!(chauthtok(&w, &mut pam, true), PamCode::Success);
    assert_eq!(
        pam.prompts,
        [
            "Current password: ",
            "New password: ",
            "Retype new password: "
        ]
    );
    assert_eq!(w.last_audit().reason, "password changed");
    let (a, b, _) = login(&w, "bob", &["new-password-1"], NOW);
    assert_eq!((a, b), (PamCode::Success, PamCode::Success));
}

#[test]
fn change_refusals() {
    let w = World::new();
    let mut pam = FakePam::new("bob", &["wrong", "x", "x"]);
    assert_eq!(chauthtok(&w, &mut pam, true), PamCode::AuthtokRecoveryErr);
    let mut pam = FakePam::new("bob", &["bob-pw", "new-password-1", "new-password-2"]);
    assert_eq!(chauthtok(&w, &mut pam, true), PamCode::AuthtokErr);
    let mut pam = FakePam::new("bob", &["bob-pw", "short", "short"]);
    assert_eq!(chauthtok(&w, &mut pam, true), PamCode::AuthtokErr);
    assert!(
        pam.messages
            .iter()
            .any(|m| m.contains("minimum length of 8")),
        "{:?}",
        pam.messages
    );
    // reuse prevention: change twice, then back to the first new one
    let mut pam = FakePam::new("bob", &["bob-pw", "new-password-1", "new-password-1"]);
    assert_eq!(chauthtok(&w, &mut pam, true), PamCode::Success);
    let mut pam = FakePam::new(
        "bob",
        &["new-password-1", "new-password-2", "new-password-2"],
    );
    pam.root = false;
    assert_eq!(chauthtok(&w, &mut pam, false), PamCode::Success);
    let mut pam = FakePam::new(
        "bob",
        &["new-password-2", "new-password-1", "new-password-1"],
    );
    pam.root = false;
    assert_eq!(chauthtok(&w, &mut pam, false), PamCode::AuthtokErr);
    assert_eq!(
        w.last_audit().reason,
        "Password does not conform to the account password policy: it must differ from the last 24 password(s)"
    );
    // root running passwd for a user is not asked the current password
    let mut pam = FakePam::new("bob", &["root-set-pw-1", "root-set-pw-1"]);
    assert_eq!(chauthtok(&w, &mut pam, false), PamCode::Success);
    assert_eq!(pam.prompts, ["New password: ", "Retype new password: "]);
    // a user (not root) is
    let mut pam = FakePam::new("bob", &["root-set-pw-1", "user-set-pw-1", "user-set-pw-1"]);
    pam.root = false;
    assert_eq!(chauthtok(&w, &mut pam, false), PamCode::Success);
    let mut pam = FakePam::new("root", &[]);
    assert_eq!(chauthtok(&w, &mut pam, false), PamCode::UserUnknown);
}

#[test]
fn changing_your_own_password_follows_the_account_policy_and_your_policies() {
    let w = World::new();
    let set_allow = |allow: bool| {
        w.store()
            .put_password_policy(&PasswordPolicy {
                allow_users_to_change_password: allow,
                ..PasswordPolicy::default()
            })
            .unwrap();
    };
    let own_change = |current: &str, new: &str| {
        let mut pam = FakePam::new("bob", &[current, new, new]);
        pam.root = false;
        (chauthtok(&w, &mut pam, false), pam)
    };
    // The account policy says users may not: refused before any prompt, and audited.
    set_allow(false);
    let (rc, pam) = own_change("bob-pw", "new-password-1");
    assert_eq!(rc, PamCode::PermDenied);
    assert!(pam.prompts.is_empty(), "{:?}", pam.prompts);
    assert!(pam.messages[0].starts_with(crate::pam::password::NOT_ALLOWED));
    assert!(w.last_audit().reason.starts_with("iam:ChangePassword: "));
    // The forced change at login follows the same rule.
    w.require_reset("bob");
    let mut pam = FakePam::new("bob", &["bob-pw", "new-password-1", "new-password-1"]);
    assert_eq!(chauthtok(&w, &mut pam, true), PamCode::PermDenied);
    // Root setting bob's password is an administrator, not bob.
    let mut pam = FakePam::new("bob", &["root-set-pw-1", "root-set-pw-1"]);
    assert_eq!(chauthtok(&w, &mut pam, false), PamCode::Success);
    // A policy of bob's allowing it (AWS's IAMUserChangePassword) is enough.
    let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ChangePassword","Resource":"arn:aws:iam::*:user/${aws:username}"}]}"#;
    w.store()
        .put_inline_policy(PrincipalKind::User, "bob", "self", allow)
        .unwrap();
    assert_eq!(
        own_change("root-set-pw-1", "new-password-2").0,
        PamCode::Success
    );
    // The account policy allowing it, and an explicit deny of bob's refusing it.
    w.store()
        .delete_inline_policy(PrincipalKind::User, "bob", "self")
        .unwrap();
    set_allow(true);
    assert_eq!(
        own_change("new-password-2", "new-password-3").0,
        PamCode::Success
    );
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:ChangePassword","Resource":"*"}]}"#;
    w.store()
        .put_inline_policy(PrincipalKind::User, "bob", "no", deny)
        .unwrap();
    assert_eq!(
        own_change("new-password-3", "new-password-4").0,
        PamCode::PermDenied
    );
}
