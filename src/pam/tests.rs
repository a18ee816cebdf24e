//! Every login path, driven through a scripted PAM handle and a temporary store.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use zeroize::Zeroizing;

use super::authfacts;
use super::backend::*;
use super::handler::*;
use super::options::{Mode, Options};
use super::password::Pass;
use super::{Hook, run};
use crate::audit::Decision;
use crate::authz::{Principal, Request, Target};
use crate::credentials::second_factor::Pacing;
use crate::credentials::second_factor::memory::{self, FakeClock};
use crate::credentials::{self, LockoutSettings, PasswordPolicy};
use crate::store::prelude::*;
use crate::store::temp::TempStore;
use crate::store::{AuditEvent, AuditFilter, NewUser, PrincipalKind};

const NOW: i64 = 1_700_000_000;
const LOCK_AFTER: u32 = 3;

#[derive(Default)]
struct FakePam {
    user: String,
    service: Option<String>,
    rhost: Option<String>,
    answers: VecDeque<String>,
    prompts: Vec<String>,
    messages: Vec<String>,
    env: HashMap<String, String>,
    authtok: Option<String>,
    old_authtok: Option<String>,
    log: Vec<String>,
    delays: Vec<u32>,
    root: bool,
}

impl FakePam {
    fn new(user: &str, answers: &[&str]) -> FakePam {
        FakePam {
            user: user.into(),
            service: Some("sshd".into()),
            rhost: Some("10.0.0.5".into()),
            answers: answers.iter().map(|s| s.to_string()).collect(),
            root: true,
            ..FakePam::default()
        }
    }
}

impl PamHandler for FakePam {
    fn user(&mut self) -> Result<String, PamCode> {
        Ok(self.user.clone())
    }
    fn service(&self) -> Option<String> {
        self.service.clone()
    }
    fn tty(&self) -> Option<String> {
        Some("ssh".into())
    }
    fn rhost(&self) -> Option<String> {
        self.rhost.clone()
    }
    fn prompt(&mut self, _echo: Echo, msg: &str) -> Result<Secret, PamCode> {
        self.prompts.push(msg.into());
        self.answers
            .pop_front()
            .map(Zeroizing::new)
            .ok_or(PamCode::ConvErr)
    }
    fn info(&mut self, msg: &str) {
        self.messages.push(msg.into());
    }
    fn error(&mut self, msg: &str) {
        self.messages.push(msg.into());
    }
    fn authtok(&self) -> Option<Secret> {
        self.authtok.clone().map(Zeroizing::new)
    }
    fn set_authtok(&mut self, tok: &str) -> Result<(), PamCode> {
        self.authtok = Some(tok.into());
        Ok(())
    }
    fn old_authtok(&self) -> Option<Secret> {
        self.old_authtok.clone().map(Zeroizing::new)
    }
    fn set_old_authtok(&mut self, tok: &str) -> Result<(), PamCode> {
        self.old_authtok = Some(tok.into());
        Ok(())
    }
    fn getenv(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }
    fn putenv(&mut self, name: &str, value: Option<&str>) -> Result<(), PamCode> {
        match value {
            Some(v) => self.env.insert(name.into(), v.into()),
            None => self.env.remove(name),
        };
        Ok(())
    }
    fn syslog(&mut self, _prio: Priority, msg: &str) {
        self.log.push(msg.into());
    }
    fn fail_delay(&mut self, usec: u32) {
        self.delays.push(usec);
    }
    fn caller_is_root(&self) -> bool {
        self.root
    }
}

/// alice's and nopw's TOTP seed.
const SEED: &[u8] = b"pam-test-seed-20byte";
/// alice's one recovery code.
const RECOVERY: &str = "abcd-efgh-2345-6777";

/// The TOTP code of [`SEED`] at `now`.
fn code_at(now: i64) -> String {
    memory::code(SEED, now)
}

/// Lets every user log in and sudo.
const ALLOW: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"web","Effect":"Allow","Action":["host:Login","host:Sudo"],"Resource":"*"}]}"#;

/// A temporary store with alice (password, MFA device, one recovery code), bob
/// (password only) and nopw (MFA device, no password), each allowed by [`ALLOW`]; the
/// lockout after [`LOCK_AFTER`] failures for 600 s; reuse of the last 24 passwords
/// refused.
fn temp_store() -> TempStore {
    let t = TempStore::new();
    let s = t.open();
    s.put_lockout_settings(&LockoutSettings {
        max_failed_attempts: LOCK_AFTER,
        lockout_duration_seconds: 600,
    })
    .unwrap();
    s.put_password_policy(&PasswordPolicy {
        password_reuse_prevention: Some(24),
        ..PasswordPolicy::default()
    })
    .unwrap();
    let params = s.hash_params().unwrap();
    for (name, password, mfa) in [
        ("alice", Some("alice-pw"), true),
        ("bob", Some("bob-pw"), false),
        ("nopw", None, true),
    ] {
        s.create_user(
            &NewUser {
                name: name.into(),
                path: "/".into(),
                ..Default::default()
            },
            NOW - 86_400,
        )
        .unwrap();
        if let Some(pw) = password {
            let hash = credentials::hash_password(pw.as_bytes(), &params).unwrap();
            s.create_login_profile(name, &hash, false, NOW - 86_400)
                .unwrap();
        }
        if mfa {
            let d = s
                .create_virtual_mfa_device(name, "/", SEED, NOW - 86_400)
                .unwrap();
            let codes: Vec<String> = if name == "alice" {
                vec![credentials::recovery::hash(RECOVERY)]
            } else {
                vec![]
            };
            s.enable_mfa_device(name, &d.serial_number, -1, &codes, NOW - 86_400)
                .unwrap();
        }
        s.put_inline_policy(PrincipalKind::User, name, "web", ALLOW)
            .unwrap();
    }
    t
}

/// The real password check (cheap parameters in a temporary store), a counted dummy,
/// the fake clock, and other logins that lock a user while this one checks a password.
struct FakeCrypto {
    dummies: RefCell<u32>,
    clock: FakeClock,
    /// Another login's connection to the store.
    others: Box<dyn Store>,
    /// The user other logins lock (with [`LOCK_AFTER`] failures) while this login checks
    /// the password.
    locked_by_others: RefCell<Option<&'static str>>,
}

impl Crypto for FakeCrypto {
    fn verify_password(&self, phc: &str, password: &str) -> bool {
        if let Some(user) = self.locked_by_others.borrow().as_deref() {
            for _ in 0..LOCK_AFTER {
                self.others.record_failure(user, NOW).unwrap();
            }
        }
        credentials::verify_password(password.as_bytes(), phc)
    }
    fn verify_dummy(&self, _password: &str) {
        *self.dummies.borrow_mut() += 1;
    }
    fn pacing(&self) -> &dyn Pacing {
        &self.clock
    }
}

struct World {
    backend: Backend,
    crypto: FakeCrypto,
    opts: Options,
    temp: TempStore,
}

impl World {
    fn new() -> World {
        let temp = temp_store();
        World {
            backend: Backend::new(temp.open(), temp.path.with_file_name("auth.key")),
            crypto: FakeCrypto {
                dummies: RefCell::new(0),
                clock: FakeClock::at(NOW),
                others: temp.open(),
                locked_by_others: RefCell::new(None),
            },
            opts: Options {
                host: Some("web-1".into()),
                ..Options::default()
            },
            temp,
        }
    }
    fn store(&self) -> &dyn Store {
        self.backend.store()
    }
    fn run(&self, pam: &mut FakePam, hook: Hook, now: i64) -> PamCode {
        // The second factor's clock follows the login's (it moves on by itself only
        // while an attempt waits for its slot).
        let clock = &self.crypto.clock;
        clock.ms.set(clock.ms.get().max(now * 1000));
        run(pam, hook, &self.opts, &self.backend, &self.crypto, now)
    }
    fn auth(&self, user: &str, answers: &[&str], now: i64) -> (PamCode, FakePam) {
        let mut pam = FakePam::new(user, answers);
        let code = self.run(&mut pam, Hook::Authenticate, now);
        (code, pam)
    }
    fn last_audit(&self) -> AuditEvent {
        self.store()
            .list_audit(&AuditFilter::default())
            .unwrap()
            .into_iter()
            .max_by_key(|e| e.time)
            .unwrap()
    }
    fn failures(&self, user: &str) -> u32 {
        self.store().lock_state(user).unwrap().failed_attempts
    }
    /// The replay watermark of a user's device (-1: no code spent yet).
    fn watermark(&self, user: &str) -> i64 {
        self.store().enabled_mfa(user).unwrap().unwrap().watermark
    }
    fn password_last_used(&self, user: &str) -> Option<i64> {
        self.store().get_user(user).unwrap().password_last_used
    }
    fn asked(&self) -> Vec<Request> {
        self.backend.asked.borrow().clone()
    }
    fn set_expiry(&self, rules: ExpiryRules) {
        self.store()
            .put_password_policy(&PasswordPolicy {
                max_password_age: rules.max_password_age_days,
                hard_expiry: rules.hard_expiry,
                password_reuse_prevention: Some(24),
                ..PasswordPolicy::default()
            })
            .unwrap();
    }
    fn require_reset(&self, user: &str) {
        self.store()
            .update_login_profile(user, None, Some(true), NOW - 86_400)
            .unwrap();
    }
}

const PW: &str = "Password: ";
const CODE: &str = "Verification code: ";

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
            mfa: true
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
    assert_eq!(pam.messages, [super::password::LOCKED]);
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

/// `mode=code` behind sshd's publickey step: sshd's SSH_AUTH_INFO_0 lists it.
fn auth_after_publickey(w: &World, user: &str, answers: &[&str], now: i64) -> (PamCode, FakePam) {
    let mut pam = FakePam::new(user, answers);
    pam.env.insert(
        "SSH_AUTH_INFO_0".into(),
        "publickey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK\n".into(),
    );
    let code = w.run(&mut pam, Hook::Authenticate, now);
    (code, pam)
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

/// auth then account on the same handle, as sshd does in its child.
fn login(w: &World, user: &str, answers: &[&str], now: i64) -> (PamCode, PamCode, FakePam) {
    let mut pam = FakePam::new(user, answers);
    let a = w.run(&mut pam, Hook::Authenticate, now);
    let b = w.run(&mut pam, Hook::AcctMgmt, now + 2);
    (a, b, pam)
}

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

fn chauthtok(w: &World, pam: &mut FakePam, expired: bool) -> PamCode {
    let p = w.run(
        pam,
        Hook::Chauthtok {
            pass: Pass::Prelim,
            expired,
        },
        NOW,
    );
    if p != PamCode::Success {
        return p;
    }
    w.run(
        pam,
        Hook::Chauthtok {
            pass: Pass::Update,
            expired,
        },
        NOW,
    )
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
