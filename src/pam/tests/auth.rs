//! `authenticate`: passwords, codes, recovery codes, lockout, prompts and modes.

use super::*;

#[test]
fn password_only_user() {
    let w = World::new();
    let (code, pam) = w.auth("bob", &["bob-pw"], NOW);
    assert_eq!(code, PamCode::Success);
    assert_eq!(pam.prompts, [PW]);
    assert_eq!(pam.authtok.as_deref(), Some("bob-pw"));
    assert!(pam.env.contains_key(authfacts::ENV_NAME));
    let a = w.last_audit();
    assert_eq!(
        (a.action.as_str(), a.decision.as_str(), a.reason.as_str()),
        ("authenticate", "allow", "password")
    );
    assert!(
        pam.log
            .iter()
            .any(|l| l.starts_with("authenticate allow user=\"bob\"")),
        "{:?}",
        pam.log
    );
}

#[test]
fn password_and_code() {
    let w = World::new();
    let (code, pam) = w.auth("alice", &["alice-pw", &code_at(NOW)], NOW);
    assert_eq!(code, PamCode::Success);
    assert_eq!(pam.prompts, [PW, CODE]);
    assert_eq!(w.last_audit().reason, "password + verification code");
}

#[test]
fn wrong_password_still_asks_code_and_burns_nothing() {
    let w = World::new();
    let (code, pam) = w.auth("alice", &["nope", &code_at(NOW)], NOW);
    assert_eq!(code, PamCode::AuthErr);
    assert_eq!(pam.prompts, [PW, CODE]);
    assert_eq!(pam.delays, [2_000_000]);
    assert!(pam.env.is_empty());
    assert_eq!(w.failures("alice"), 1);
    assert_eq!(w.watermark("alice"), -1, "no code spent");
    assert_eq!(w.last_audit().reason, "wrong password");
    // the same code still works with the right password
    assert_eq!(
        w.auth("alice", &["alice-pw", &code_at(NOW)], NOW).0,
        PamCode::Success
    );
    assert!(w.failures("alice") == 0, "success clears failures");
}

#[test]
fn wrong_code_counts() {
    let w = World::new();
    let (code, _) = w.auth("alice", &["alice-pw", "000000"], NOW);
    assert_eq!(code, PamCode::AuthErr);
    assert_eq!(w.failures("alice"), 1);
    assert_eq!(w.last_audit().reason, "wrong verification code");
}

#[test]
fn replay_and_watermark_never_goes_back() {
    let w = World::new();
    assert_eq!(
        w.auth("alice", &["alice-pw", &code_at(NOW)], NOW).0,
        PamCode::Success
    );
    let (code, _) = w.auth("alice", &["alice-pw", &code_at(NOW)], NOW + 1);
    assert_eq!(code, PamCode::AuthErr);
    assert_eq!(
        w.last_audit().reason,
        "verification code already used (replay)"
    );
    // the previous step's code is inside the window but below the watermark
    let (code, _) = w.auth("alice", &["alice-pw", &code_at(NOW - 30)], NOW + 2);
    assert_eq!(code, PamCode::AuthErr);
    // the next step's code works
    assert_eq!(
        w.auth("alice", &["alice-pw", &code_at(NOW + 30)], NOW + 30)
            .0,
        PamCode::Success
    );
}

#[test]
fn totp_window() {
    let mut w = World::new();
    assert_eq!(
        w.auth("alice", &["alice-pw", &code_at(NOW - 60)], NOW).0,
        PamCode::AuthErr
    );
    w.opts.window = 2;
    assert_eq!(
        w.auth("alice", &["alice-pw", &code_at(NOW - 60)], NOW).0,
        PamCode::Success
    );
}

#[test]
fn recovery_code_once() {
    let w = World::new();
    let (code, pam) = w.auth("alice", &["alice-pw", RECOVERY], NOW);
    assert_eq!(code, PamCode::Success);
    assert_eq!(w.last_audit().reason, "password + recovery code");
    let facts = authfacts::open(
        &w.backend.auth_mac_key().unwrap(),
        &authfacts::Binding {
            user: "alice",
            service: "sshd",
            rhost: "10.0.0.5",
        },
        &pam.env[authfacts::ENV_NAME],
        NOW,
        600,
    );
    assert_eq!(
        facts,
        Some(authfacts::AuthFacts {
            auth_time: NOW,
            mfa: true,
            offline: false,
            expiry: None
        })
    );
    assert_eq!(
        w.auth("alice", &["alice-pw", RECOVERY], NOW).0,
        PamCode::AuthErr
    );
}

#[test]
fn unknown_user_looks_like_a_password_only_user() {
    let w = World::new();
    let (code, pam) = w.auth("root", &["root-pw"], NOW);
    assert_eq!(code, PamCode::UserUnknown);
    assert_eq!(pam.prompts, [PW]);
    assert_eq!(*w.crypto.dummies.borrow(), 1);
    // pam_unix try_first_pass gets the password
    assert_eq!(pam.authtok.as_deref(), Some("root-pw"));
    assert!(pam.env.is_empty());
}

#[test]
fn code_prompt_always_asks_everyone_the_same() {
    let mut w = World::new();
    w.opts.code_prompt_always = true;
    // Unknown, MFA, password-only, password-less: the same two prompts.
    for (user, answers, want) in [
        ("root", ["root-pw", "123456"], PamCode::UserUnknown),
        ("nopw", ["x", "123456"], PamCode::AuthErr),
        ("bob", ["bad", "123456"], PamCode::AuthErr),
        ("alice", ["bad", "123456"], PamCode::AuthErr),
    ] {
        let (code, pam) = w.auth(user, &answers, NOW);
        assert_eq!(code, want, "{user}");
        assert_eq!(pam.prompts, [PW, CODE], "{user}");
    }
    // A user without a device: whatever is typed as the code is ignored.
    let (code, _) = w.auth("bob", &["bob-pw", ""], NOW);
    assert_eq!(code, PamCode::Success);
    assert_eq!(w.last_audit().reason, "password");
    // pam_unix (try_first_pass) still gets the password of an unknown user.
    let (_, pam) = w.auth("root", &["root-pw", "x"], NOW);
    assert_eq!(pam.authtok.as_deref(), Some("root-pw"));
    // Locked: the same prompts again.
    for _ in 0..LOCK_AFTER {
        w.auth("bob", &["bad", ""], NOW);
    }
    let (code, pam) = w.auth("bob", &["bob-pw", ""], NOW);
    assert_eq!(code, PamCode::AuthErr);
    assert_eq!(pam.prompts, [PW, CODE]);
}

#[test]
fn unknown_users_ask_for_the_same_fail_delay() {
    let w = World::new();
    let (_, unknown) = w.auth("root", &["root-pw"], NOW);
    let (_, known) = w.auth("bob", &["bad"], NOW);
    assert_eq!(unknown.delays, known.delays);
}

#[test]
fn user_without_password_gets_the_usual_prompts_and_fails() {
    let w = World::new();
    let (code, pam) = w.auth("nopw", &["x", "123456"], NOW);
    assert_eq!(code, PamCode::AuthErr);
    assert_eq!(pam.prompts, [PW, CODE]);
    assert_eq!(*w.crypto.dummies.borrow(), 1);
    assert_eq!(w.last_audit().reason, "no login profile (password)");
}

#[test]
fn lockout_then_unlock() {
    let w = World::new();
    for _ in 0..LOCK_AFTER {
        assert_eq!(w.auth("bob", &["bad"], NOW).0, PamCode::AuthErr);
    }
    let (code, pam) = w.auth("bob", &["bob-pw"], NOW + 1);
    assert_eq!(
        code,
        PamCode::AuthErr,
        "locked: even the right password fails"
    );
    assert_eq!(pam.prompts, [PW], "same prompts while locked");
    assert!(w.last_audit().reason.starts_with("account locked until"));
    // after the lock expires (or an admin unlocks), the right password works
    assert_eq!(w.auth("bob", &["bob-pw"], NOW + 601).0, PamCode::Success);
    assert_eq!(w.failures("bob"), 0);
}

#[test]
fn a_lock_reached_during_the_prompts_wins_over_the_right_answers() {
    // Password only: the success is refused, counted, and does not reset the count.
    let w = World::new();
    w.crypto.locked_by_others.replace(Some("bob"));
    let (code, pam) = w.auth("bob", &["bob-pw"], NOW);
    assert_eq!(code, PamCode::AuthErr);
    assert!(pam.env.is_empty());
    assert_eq!(w.failures("bob"), LOCK_AFTER + 1);
    assert_eq!(w.password_last_used("bob"), None);
    assert!(
        w.last_audit().reason.contains("locked during this login"),
        "{}",
        w.last_audit().reason
    );
    // Password and code: refused at the code's admission, the code not spent.
    w.crypto.locked_by_others.replace(Some("alice"));
    let (code, pam) = w.auth("alice", &["alice-pw", &code_at(NOW)], NOW);
    assert_eq!(code, PamCode::AuthErr);
    assert!(pam.env.is_empty());
    assert_eq!(w.watermark("alice"), -1, "no code spent");
    assert_eq!(w.failures("alice"), LOCK_AFTER + 1);
    assert!(
        w.last_audit().reason.starts_with("account locked until"),
        "{}",
        w.last_audit().reason
    );
}

#[test]
fn first_pass_options() {
    let mut w = World::new();
    w.opts.use_first_pass = true;
    let mut pam = FakePam::new("bob", &[]);
    pam.authtok = Some("bob-pw".into());
    assert_eq!(w.run(&mut pam, Hook::Authenticate, NOW), PamCode::Success);
    assert!(pam.prompts.is_empty());
    let mut pam = FakePam::new("bob", &["bob-pw"]);
    assert_eq!(
        w.run(&mut pam, Hook::Authenticate, NOW),
        PamCode::AuthErr,
        "use_first_pass never prompts"
    );
    w.opts.use_first_pass = false;
    w.opts.try_first_pass = true;
    let mut pam = FakePam::new("bob", &["bob-pw"]);
    assert_eq!(w.run(&mut pam, Hook::Authenticate, NOW), PamCode::Success);
    assert_eq!(pam.prompts, [PW]);
}

#[test]
fn combined_answer() {
    let mut w = World::new();
    w.opts.mode = Mode::Combined;
    let answer = format!("alice-pw{}", code_at(NOW));
    let (code, pam) = w.auth("alice", &[&answer], NOW);
    assert_eq!(code, PamCode::Success);
    assert_eq!(pam.prompts, [PW]);
    assert_eq!(pam.authtok.as_deref(), Some("alice-pw"));
    assert_eq!(w.auth("alice", &["alice-pw"], NOW + 30).0, PamCode::AuthErr);
    assert_eq!(
        w.auth("bob", &["bob-pw"], NOW).0,
        PamCode::Success,
        "no MFA: the answer is the password"
    );
}

#[test]
fn code_only_mode_needs_sshds_publickey_first() {
    let mut w = World::new();
    w.opts.mode = Mode::CodeOnly;
    for info in [
        None,
        Some(""),
        Some("keyboard-interactive/pam\n"),
        Some("password\n"),
    ] {
        let mut pam = FakePam::new("alice", &[&code_at(NOW)]);
        if let Some(i) = info {
            pam.env.insert("SSH_AUTH_INFO_0".into(), i.into());
        }
        let code = w.run(&mut pam, Hook::Authenticate, NOW);
        assert_eq!(code, PamCode::AuthErr, "{info:?}");
        assert!(
            pam.prompts.is_empty(),
            "refused before any prompt: {info:?}"
        );
        assert!(
            pam.log
                .iter()
                .any(|l| l.contains("AuthenticationMethods publickey,keyboard-interactive")),
            "{:?}",
            pam.log
        );
        assert_eq!(w.last_audit().decision, Decision::Deny);
    }
    // The same code still works after publickey (it was never checked above).
    let (code, _) = auth_after_publickey(&w, "alice", &[&code_at(NOW)], NOW);
    assert_eq!(code, PamCode::Success);
}

#[test]
fn code_only_mode() {
    let mut w = World::new();
    w.opts.mode = Mode::CodeOnly;
    let (code, pam) = auth_after_publickey(&w, "alice", &[&code_at(NOW)], NOW);
    assert_eq!(code, PamCode::Success);
    assert_eq!(pam.prompts, [CODE]);
    assert_eq!(w.last_audit().reason, "publickey + verification code");
    let (code, pam) = auth_after_publickey(&w, "root", &[], NOW);
    assert_eq!((code, pam.prompts.len()), (PamCode::UserUnknown, 0));
    let (code, _) = auth_after_publickey(&w, "bob", &["123456"], NOW);
    assert_eq!(
        code,
        PamCode::AuthErr,
        "no MFA device: no second factor to check"
    );
    assert_eq!(
        auth_after_publickey(&w, "alice", &["000000"], NOW + 30).0,
        PamCode::AuthErr
    );
}

#[test]
fn store_errors_fail_closed() {
    let w = World::new();
    // A store whose tables are gone (a damaged file): every read fails.
    w.temp.sql("ALTER TABLE users RENAME TO users_gone");
    let (code, pam) = w.auth("alice", &["alice-pw", &code_at(NOW)], NOW);
    assert_eq!(code, PamCode::AuthinfoUnavail);
    assert!(pam.prompts.is_empty());
    let mut pam = FakePam::new("alice", &[]);
    assert_eq!(
        w.run(&mut pam, Hook::AcctMgmt, NOW),
        PamCode::AuthinfoUnavail
    );
    let mut pam = FakePam::new("alice", &[]);
    assert_eq!(w.run(&mut pam, Hook::OpenSession, NOW), PamCode::SessionErr);
}

#[test]
fn conversation_failure() {
    let w = World::new();
    let (code, _) = w.auth("alice", &["alice-pw"], NOW);
    assert_eq!(code, PamCode::ConvErr);
}

#[test]
fn an_allow_that_cannot_be_audited_is_one_deny_line() {
    let w = World::new();
    // The audit table refuses every row, as a full disk would.
    w.temp.sql(
        "CREATE TRIGGER full BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    );
    let (code, pam) = w.auth("bob", &["bob-pw"], NOW);
    assert_eq!(code, PamCode::SystemErr);
    assert_eq!(pam.log.len(), 1, "{:?}", pam.log);
    assert!(
        pam.log[0].starts_with("authenticate deny user=\"bob\"")
            && pam.log[0].contains(
                "cannot write the audit trail, so not allowing (password): store unavailable: "
            )
            && pam.log[0].ends_with("disk full\""),
        "{:?}",
        pam.log
    );
}

#[test]
fn an_allow_that_cannot_be_audited_spends_nothing_so_the_same_code_works_again() {
    let w = World::new();
    w.temp.sql(
        "CREATE TRIGGER full BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    );
    let code = code_at(NOW);
    let (rc, pam) = w.auth("alice", &["alice-pw", &code], NOW);
    assert_eq!(rc, PamCode::SystemErr);
    assert_eq!(pam.log.len(), 1, "{:?}", pam.log);
    assert!(
        pam.log[0].starts_with("authenticate deny user=\"alice\"")
            && pam.log[0].contains(
                "cannot write the audit trail, so not allowing (password + verification code)"
            ),
        "{:?}",
        pam.log
    );
    assert!(!pam.env.contains_key(authfacts::ENV_NAME));
    assert_eq!(w.watermark("alice"), -1, "the code is not spent");
    assert_eq!(w.password_last_used("alice"), None);
    // The same answers once the trail can be written again: one allow, one row.
    w.temp.sql("DROP TRIGGER full");
    let (rc, _) = w.auth("alice", &["alice-pw", &code], NOW);
    assert_eq!(rc, PamCode::Success);
    let rows = w.store().list_audit(&AuditFilter::default()).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0].decision, rows[0].reason.as_str()),
        (Decision::Allow, "password + verification code")
    );
}

#[test]
fn a_wrong_password_is_counted_with_its_audit_row_or_not_at_all() {
    let w = World::new();
    w.temp.sql(
        "CREATE TRIGGER full BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    );
    let (rc, pam) = w.auth("bob", &["nope"], NOW);
    // The answer a right password gets under the same fault: no oracle without a count.
    assert_eq!(rc, PamCode::SystemErr);
    assert_eq!(w.auth("bob", &["bob-pw"], NOW).0, rc);
    assert_eq!(w.failures("bob"), 0, "{:?}", pam.log);
    assert!(
        pam.log.iter().any(|l| l.contains("wrong password")),
        "{:?}",
        pam.log
    );
    w.temp.sql("DROP TRIGGER full");
    let (rc, _) = w.auth("bob", &["nope"], NOW);
    assert_eq!(rc, PamCode::AuthErr);
    assert_eq!(w.failures("bob"), 1);
    let rows = w.store().list_audit(&AuditFilter::default()).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].reason, "wrong password");
}
