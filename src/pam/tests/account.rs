//! `account` (the policy decision, expiry) and the session hooks.

use super::*;

#[test]
fn account_allows_and_passes_every_fact() {
    let w = World::new();
    let (a, b, pam) = login(&w, "alice", &["alice-pw", &code_at(NOW)], NOW);
    assert_eq!((a, b), (PamCode::Success, PamCode::Success));
    assert!(pam.env.is_empty(), "the sealed facts are consumed");
    let req = w.asked()[0].clone();
    assert_eq!(
        req,
        Request {
            principal: Principal::User("alice".into()),
            action: "host:Login".into(),
            target: Target::Host("web-1".into()),
            service: Some("sshd".into()),
            tty: Some("ssh".into()),
            rhost: Some("10.0.0.5".into()),
            mfa_time: Some(NOW),
            now: NOW + 2,
            offline: None,
            call: Default::default(),
            assume: Default::default(),
            user: None,
            user_policies: None,
        }
    );
    let a = w.last_audit();
    assert_eq!(
        (a.action.as_str(), a.decision.as_str()),
        ("host:Login", "allow")
    );
}

#[test]
fn account_without_mfa_or_with_forged_facts() {
    let w = World::new();
    let (_, b, _) = login(&w, "bob", &["bob-pw"], NOW);
    assert_eq!(b, PamCode::Success);
    assert_eq!(w.asked()[0].mfa_time, None);
    // publickey login: no facts at all
    let mut pam = FakePam::new("alice", &[]);
    assert_eq!(w.run(&mut pam, Hook::AcctMgmt, NOW), PamCode::Success);
    assert_eq!(w.asked()[1].mfa_time, None);
    // a user-supplied value claiming MFA is ignored
    let mut pam = FakePam::new("alice", &[]);
    pam.env.insert(
        authfacts::ENV_NAME.into(),
        format!("v1:{NOW}:1:{}", "00".repeat(32)),
    );
    assert_eq!(w.run(&mut pam, Hook::AcctMgmt, NOW), PamCode::Success);
    assert_eq!(w.asked()[2].mfa_time, None);
    assert!(pam.env.is_empty());
    // facts sealed for another rhost do not count
    let mut pam = FakePam::new("alice", &["alice-pw", &code_at(NOW)]);
    w.run(&mut pam, Hook::Authenticate, NOW);
    pam.rhost = Some("10.9.9.9".into());
    w.run(&mut pam, Hook::AcctMgmt, NOW);
    assert_eq!(w.asked()[3].mfa_time, None);
}

#[test]
fn account_denial_names_the_deciding_statement() {
    let w = World::new();
    w.store()
        .put_inline_policy(
            PrincipalKind::User,
            "bob",
            "no-lab",
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"DenyLab","Effect":"Deny","Action":"host:Login","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.5/32"}}}]}"#,
        )
        .unwrap();
    let (a, b, _) = login(&w, "bob", &["bob-pw"], NOW);
    assert_eq!((a, b), (PamCode::Success, PamCode::PermDenied));
    let rec = w.last_audit();
    assert_eq!(rec.decision, Decision::Deny);
    assert!(
        rec.reason.contains("DenyLab") && rec.reason.contains("host:Login on host web-1"),
        "{}",
        rec.reason
    );
}

#[test]
fn account_unknown_user_and_errors() {
    let w = World::new();
    let mut pam = FakePam::new("root", &[]);
    assert_eq!(w.run(&mut pam, Hook::AcctMgmt, NOW), PamCode::UserUnknown);
    // A stored policy that no longer parses.
    w.temp.sql("UPDATE user_inline SET document = 'not JSON'");
    let mut pam = FakePam::new("bob", &[]);
    assert_eq!(w.run(&mut pam, Hook::AcctMgmt, NOW), PamCode::SystemErr);
    assert_eq!(w.last_audit().decision, Decision::Error);
}

#[test]
fn sudo_service_asks_host_sudo() {
    let w = World::new();
    let mut pam = FakePam::new("bob", &[]);
    pam.service = Some("sudo".into());
    w.run(&mut pam, Hook::AcctMgmt, NOW);
    assert_eq!(w.asked()[0].action, "host:Sudo");
}

#[test]
fn expired_passwords() {
    let w = World::new();
    w.set_expiry(ExpiryRules {
        max_password_age_days: Some(1),
        hard_expiry: false,
    });
    let mut pam = FakePam::new("bob", &[]);
    assert_eq!(
        w.run(&mut pam, Hook::AcctMgmt, NOW),
        PamCode::NewAuthtokReqd
    );
    w.set_expiry(ExpiryRules {
        max_password_age_days: Some(1),
        hard_expiry: true,
    });
    let mut pam = FakePam::new("bob", &[]);
    assert_eq!(w.run(&mut pam, Hook::AcctMgmt, NOW), PamCode::AcctExpired);
    // not yet expired
    let mut pam = FakePam::new("bob", &[]);
    assert_eq!(w.run(&mut pam, Hook::AcctMgmt, NOW - 10), PamCode::Success);
    // an administrator's reset request always allows the change
    w.require_reset("bob");
    let mut pam = FakePam::new("bob", &[]);
    assert_eq!(
        w.run(&mut pam, Hook::AcctMgmt, NOW - 10),
        PamCode::NewAuthtokReqd
    );
}

#[test]
fn sessions_are_audited() {
    let w = World::new();
    let mut pam = FakePam::new("bob", &[]);
    assert_eq!(w.run(&mut pam, Hook::OpenSession, NOW), PamCode::Success);
    assert_eq!(w.last_audit().action, "open_session");
    assert_eq!(
        w.run(&mut pam, Hook::CloseSession, NOW + 5),
        PamCode::Success
    );
    let a = w.last_audit();
    assert_eq!(
        (a.action.as_str(), a.time, a.tty.as_deref()),
        ("close_session", NOW + 5, Some("ssh"))
    );
    let mut pam = FakePam::new("root", &[]);
    assert_eq!(w.run(&mut pam, Hook::OpenSession, NOW), PamCode::Ignore);
    assert_eq!(w.run(&mut pam, Hook::Setcred, NOW), PamCode::Success);
}
