//! Every login path, driven through a scripted PAM handle and an in-memory store.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use zeroize::Zeroizing;

use super::authfacts;
use super::backend::*;
use super::handler::*;
use super::options::{Mode, Options};
use super::password::Pass;
use super::{Hook, run};
use crate::credentials::LockState;
use crate::credentials::second_factor::memory::{self, FakeClock, MemoryFactors};
use crate::credentials::second_factor::{Admission, FactorStore, Pacing, Proof, Settled, Throttle};

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

type PolicyFn = Box<dyn Fn(&AccessRequest) -> Result<AccessDecision, BackendError>>;

struct FakeStore {
    users: RefCell<HashMap<String, LoginUser>>,
    factors: MemoryFactors,
    history: RefCell<HashMap<String, Vec<String>>>,
    audit: RefCell<Vec<AuditRecord>>,
    requests: RefCell<Vec<AccessRequest>>,
    policy: PolicyFn,
    expiry: ExpiryRules,
    broken: Option<BackendError>,
    audit_broken: Option<BackendError>,
    /// Other logins lock the user right after this one looked it up (while it waits at
    /// its prompts).
    locked_by_others: std::cell::Cell<bool>,
}

fn user(name: &str, password: Option<&str>, mfa: bool) -> LoginUser {
    LoginUser {
        name: name.into(),
        password_hash: password.map(|p| Zeroizing::new(format!("plain:{p}"))),
        password_reset_required: false,
        password_last_changed: Some(NOW - 86_400),
        locked_until: None,
        mfa: mfa.then(|| MfaDevice {
            serial: format!("arn:aws:iam::123456789012:mfa/{name}"),
            seed: Zeroizing::new(SEED.to_vec()),
        }),
    }
}

impl FakeStore {
    fn new() -> FakeStore {
        let mut users = HashMap::new();
        for u in [
            user("alice", Some("alice-pw"), true),
            user("bob", Some("bob-pw"), false),
            user("nopw", None, true),
        ] {
            users.insert(u.name.clone(), u);
        }
        let factors = MemoryFactors::with_lockout(LOCK_AFTER, 600);
        factors.add_recovery("alice", RECOVERY);
        FakeStore {
            users: RefCell::new(users),
            factors,
            history: RefCell::default(),
            audit: RefCell::default(),
            requests: RefCell::default(),
            policy: Box::new(|_| {
                Ok(AccessDecision {
                    allowed: true,
                    reason: "allowed by web/0".into(),
                })
            }),
            expiry: ExpiryRules::default(),
            broken: None,
            audit_broken: None,
            locked_by_others: std::cell::Cell::new(false),
        }
    }
    fn check(&self) -> Result<(), BackendError> {
        self.broken.clone().map_or(Ok(()), Err)
    }
    fn last_audit(&self) -> AuditRecord {
        self.audit.borrow().last().cloned().unwrap()
    }
}

impl FactorStore for FakeStore {
    type Error = BackendError;
    fn admit(&self, user: &str, now_ms: i64, t: &Throttle) -> Result<Admission, BackendError> {
        self.factors.admit(user, now_ms, t).map_err(|e| match e {})
    }
    fn count_failure(&self, user: &str, now: i64) -> Result<LockState, BackendError> {
        self.factors
            .count_failure(user, now)
            .map_err(|e| match e {})
    }
    fn settle(
        &self,
        user: &str,
        proof: &Proof<'_>,
        password_login: bool,
        now: i64,
    ) -> Result<Settled, BackendError> {
        self.factors
            .settle(user, proof, password_login, now)
            .map_err(|e| match e {})
    }
}

impl Backend for FakeStore {
    fn login_user(&self, name: &str) -> Result<Option<LoginUser>, BackendError> {
        self.check()?;
        let found = self.users.borrow().get(name).cloned().map(|mut u| {
            u.locked_until = self.factors.lock(name).locked_until;
            u
        });
        if self.locked_by_others.get() {
            for _ in 0..LOCK_AFTER {
                self.factors
                    .count_failure(name, NOW)
                    .unwrap_or_else(|e| match e {});
            }
        }
        Ok(found)
    }
    fn expiry_rules(&self) -> Result<ExpiryRules, BackendError> {
        Ok(self.expiry)
    }
    fn change_password(&self, user: &str, new: &str, now: i64) -> Result<(), BackendError> {
        let mut h = self.history.borrow_mut();
        let hist = h.entry(user.into()).or_default();
        if hist.iter().any(|p| p == new) {
            return Err(BackendError::Refused("Password was used recently".into()));
        }
        if new.len() < 8 {
            return Err(BackendError::Refused(
                "Password should have at least 8 characters".into(),
            ));
        }
        let mut users = self.users.borrow_mut();
        let u = users.get_mut(user).unwrap();
        hist.push(
            u.password_hash
                .as_ref()
                .unwrap()
                .trim_start_matches("plain:")
                .to_string(),
        );
        u.password_hash = Some(Zeroizing::new(format!("plain:{new}")));
        u.password_reset_required = false;
        u.password_last_changed = Some(now);
        Ok(())
    }
    fn authorize(&self, req: &AccessRequest) -> Result<AccessDecision, BackendError> {
        self.requests.borrow_mut().push(req.clone());
        (self.policy)(req)
    }
    fn audit(&self, rec: &AuditRecord) -> Result<(), BackendError> {
        if let Some(e) = &self.audit_broken {
            return Err(e.clone());
        }
        self.audit.borrow_mut().push(rec.clone());
        Ok(())
    }
    fn auth_mac_key(&self) -> Result<Zeroizing<Vec<u8>>, BackendError> {
        Ok(Zeroizing::new(b"0123456789abcdef0123456789abcdef".to_vec()))
    }
}

struct FakeCrypto {
    dummies: RefCell<u32>,
    clock: FakeClock,
}

/// alice's and nopw's TOTP seed.
const SEED: &[u8] = b"pam-test-seed-20byte";
/// alice's one recovery code.
const RECOVERY: &str = "abcd-efgh-2345-6777";

/// The TOTP code of [`SEED`] at `now`.
fn code_at(now: i64) -> String {
    memory::code(SEED, now)
}

impl Crypto for FakeCrypto {
    fn verify_password(&self, phc: &str, password: &str) -> bool {
        phc == format!("plain:{password}")
    }
    fn verify_dummy(&self, _password: &str) {
        *self.dummies.borrow_mut() += 1;
    }
    fn pacing(&self) -> &dyn Pacing {
        &self.clock
    }
}

struct World {
    store: FakeStore,
    crypto: FakeCrypto,
    opts: Options,
}

impl World {
    fn new() -> World {
        World {
            store: FakeStore::new(),
            crypto: FakeCrypto {
                dummies: RefCell::new(0),
                clock: FakeClock::at(NOW),
            },
            opts: Options {
                host: Some("web-1".into()),
                ..Options::default()
            },
        }
    }
    fn run(&self, pam: &mut FakePam, hook: Hook, now: i64) -> PamCode {
        // The second factor's clock follows the login's (it moves on by itself only
        // while an attempt waits for its slot).
        let clock = &self.crypto.clock;
        clock.ms.set(clock.ms.get().max(now * 1000));
        run(pam, hook, &self.opts, &self.store, &self.crypto, now)
    }
    fn auth(&self, user: &str, answers: &[&str], now: i64) -> (PamCode, FakePam) {
        let mut pam = FakePam::new(user, answers);
        let code = self.run(&mut pam, Hook::Authenticate, now);
        (code, pam)
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
    let a = w.store.last_audit();
    assert_eq!(
        (a.event.as_str(), a.decision.as_str(), a.reason.as_str()),
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
    assert_eq!(w.store.last_audit().reason, "password + verification code");
}

#[test]
fn wrong_password_still_asks_code_and_burns_nothing() {
    let w = World::new();
    let (code, pam) = w.auth("alice", &["nope", &code_at(NOW)], NOW);
    assert_eq!(code, PamCode::AuthErr);
    assert_eq!(pam.prompts, [PW, CODE]);
    assert_eq!(pam.delays, [2_000_000]);
    assert!(pam.env.is_empty());
    assert_eq!(w.store.factors.failures("alice"), 1);
    assert!(w.store.factors.watermarks.borrow().is_empty());
    assert_eq!(w.store.last_audit().reason, "wrong password");
    // the same code still works with the right password
    assert_eq!(
        w.auth("alice", &["alice-pw", &code_at(NOW)], NOW).0,
        PamCode::Success
    );
    assert!(
        w.store.factors.failures("alice") == 0,
        "success clears failures"
    );
}

#[test]
fn wrong_code_counts() {
    let w = World::new();
    let (code, _) = w.auth("alice", &["alice-pw", "000000"], NOW);
    assert_eq!(code, PamCode::AuthErr);
    assert_eq!(w.store.factors.failures("alice"), 1);
    assert_eq!(w.store.last_audit().reason, "wrong verification code");
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
        w.store.last_audit().reason,
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
    assert_eq!(w.store.last_audit().reason, "password + recovery code");
    let facts = authfacts::open(
        b"0123456789abcdef0123456789abcdef",
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
    assert_eq!(w.store.last_audit().reason, "password");
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
    assert_eq!(w.store.last_audit().reason, "no login profile (password)");
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
    assert!(
        w.store
            .last_audit()
            .reason
            .starts_with("account locked until")
    );
    // after the lock expires (or an admin unlocks), the right password works
    assert_eq!(w.auth("bob", &["bob-pw"], NOW + 601).0, PamCode::Success);
    assert_eq!(w.store.factors.failures("bob"), 0);
}

#[test]
fn a_lock_reached_during_the_prompts_wins_over_the_right_answers() {
    // Password only: the success is refused, counted, and does not reset the count.
    let w = World::new();
    w.store.locked_by_others.set(true);
    let (code, pam) = w.auth("bob", &["bob-pw"], NOW);
    assert_eq!(code, PamCode::AuthErr);
    assert!(pam.env.is_empty());
    assert_eq!(w.store.factors.failures("bob"), LOCK_AFTER + 1);
    assert!(w.store.factors.password_used.borrow().is_empty());
    assert!(
        w.store
            .last_audit()
            .reason
            .contains("locked during this login"),
        "{}",
        w.store.last_audit().reason
    );
    // Password and code: refused at the code's admission, the code not spent.
    let (code, pam) = w.auth("alice", &["alice-pw", &code_at(NOW)], NOW);
    assert_eq!(code, PamCode::AuthErr);
    assert!(pam.env.is_empty());
    assert!(w.store.factors.watermarks.borrow().is_empty());
    assert_eq!(w.store.factors.failures("alice"), LOCK_AFTER + 1);
    assert!(
        w.store
            .last_audit()
            .reason
            .starts_with("account locked until"),
        "{}",
        w.store.last_audit().reason
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
    assert!(
        w.store
            .last_audit()
            .reason
            .starts_with("account locked until")
    );
    // Locked while the current password was being typed: refused at that moment.
    let w = World::new();
    w.store.locked_by_others.set(true);
    let mut pam = FakePam::new("bob", &["bob-pw", "new-password-1", "new-password-1"]);
    pam.root = false;
    let update = Hook::Chauthtok {
        pass: Pass::Update,
        expired: false,
    };
    assert_eq!(w.run(&mut pam, update, NOW), PamCode::PermDenied);
    assert_eq!(pam.prompts, ["Current password: "]);
    assert!(w.store.history.borrow().is_empty(), "password unchanged");
    assert_eq!(w.store.factors.failures("bob"), LOCK_AFTER + 1);
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
        assert_eq!(w.store.last_audit().decision, "deny");
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
    assert_eq!(w.store.last_audit().reason, "publickey + verification code");
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
    let mut w = World::new();
    w.store.broken = Some(BackendError::Unavailable("locked".into()));
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
    let req = w.store.requests.borrow()[0].clone();
    assert_eq!(
        req,
        AccessRequest {
            user: "alice".into(),
            action: "host:Login".into(),
            host: "web-1".into(),
            service: Some("sshd".into()),
            tty: Some("ssh".into()),
            rhost: Some("10.0.0.5".into()),
            mfa_auth_time: Some(NOW),
            now: NOW + 2,
        }
    );
    let a = w.store.last_audit();
    assert_eq!(
        (a.event.as_str(), a.decision.as_str()),
        ("host:Login", "allow")
    );
}

#[test]
fn account_without_mfa_or_with_forged_facts() {
    let w = World::new();
    let (_, b, _) = login(&w, "bob", &["bob-pw"], NOW);
    assert_eq!(b, PamCode::Success);
    assert_eq!(w.store.requests.borrow()[0].mfa_auth_time, None);
    // publickey login: no facts at all
    let mut pam = FakePam::new("alice", &[]);
    assert_eq!(w.run(&mut pam, Hook::AcctMgmt, NOW), PamCode::Success);
    assert_eq!(w.store.requests.borrow()[1].mfa_auth_time, None);
    // a user-supplied value claiming MFA is ignored
    let mut pam = FakePam::new("alice", &[]);
    pam.env.insert(
        authfacts::ENV_NAME.into(),
        format!("v1:{NOW}:1:{}", "00".repeat(32)),
    );
    assert_eq!(w.run(&mut pam, Hook::AcctMgmt, NOW), PamCode::Success);
    assert_eq!(w.store.requests.borrow()[2].mfa_auth_time, None);
    assert!(pam.env.is_empty());
    // facts sealed for another rhost do not count
    let mut pam = FakePam::new("alice", &["alice-pw", &code_at(NOW)]);
    w.run(&mut pam, Hook::Authenticate, NOW);
    pam.rhost = Some("10.9.9.9".into());
    w.run(&mut pam, Hook::AcctMgmt, NOW);
    assert_eq!(w.store.requests.borrow()[3].mfa_auth_time, None);
}

#[test]
fn account_denial_names_the_deciding_statement() {
    let mut w = World::new();
    w.store.policy = Box::new(|r| {
        Ok(AccessDecision {
            allowed: false,
            reason: if r.rhost.as_deref() == Some("10.0.0.5") {
                "explicit deny by arn:aws:iam::123456789012:policy/no-lab statement 0 (DenyLab)"
                    .into()
            } else {
                "no statement allows".into()
            },
        })
    });
    let (a, b, _) = login(&w, "bob", &["bob-pw"], NOW);
    assert_eq!((a, b), (PamCode::Success, PamCode::PermDenied));
    let rec = w.store.last_audit();
    assert_eq!(rec.decision, "deny");
    assert!(
        rec.reason.contains("DenyLab") && rec.reason.contains("host:Login on host web-1"),
        "{}",
        rec.reason
    );
}

#[test]
fn an_allow_that_cannot_be_audited_is_one_deny_line() {
    let mut w = World::new();
    w.store.audit_broken = Some(BackendError::Unavailable("disk full".into()));
    let (code, pam) = w.auth("bob", &["bob-pw"], NOW);
    assert_eq!(code, PamCode::SystemErr);
    assert_eq!(pam.log.len(), 1, "{:?}", pam.log);
    assert!(
        pam.log[0].starts_with("authenticate deny user=\"bob\"")
            && pam.log[0]
                .contains("cannot write the audit trail, so not allowing (password): store unavailable: disk full"),
        "{:?}",
        pam.log
    );
}

#[test]
fn account_unknown_user_and_errors() {
    let mut w = World::new();
    let mut pam = FakePam::new("root", &[]);
    assert_eq!(w.run(&mut pam, Hook::AcctMgmt, NOW), PamCode::UserUnknown);
    w.store.policy = Box::new(|_| Err(BackendError::BadPolicy("policy/web: not JSON".into())));
    let mut pam = FakePam::new("bob", &[]);
    assert_eq!(w.run(&mut pam, Hook::AcctMgmt, NOW), PamCode::SystemErr);
    assert_eq!(w.store.last_audit().decision, "error");
}

#[test]
fn sudo_service_asks_host_sudo() {
    let w = World::new();
    let mut pam = FakePam::new("bob", &[]);
    pam.service = Some("sudo".into());
    w.run(&mut pam, Hook::AcctMgmt, NOW);
    assert_eq!(w.store.requests.borrow()[0].action, "host:Sudo");
}

#[test]
fn expired_passwords() {
    let mut w = World::new();
    w.store.expiry = ExpiryRules {
        max_password_age_days: Some(1),
        hard_expiry: false,
    };
    let mut pam = FakePam::new("bob", &[]);
    assert_eq!(
        w.run(&mut pam, Hook::AcctMgmt, NOW),
        PamCode::NewAuthtokReqd
    );
    w.store.expiry.hard_expiry = true;
    let mut pam = FakePam::new("bob", &[]);
    assert_eq!(w.run(&mut pam, Hook::AcctMgmt, NOW), PamCode::AcctExpired);
    // not yet expired
    let mut pam = FakePam::new("bob", &[]);
    assert_eq!(w.run(&mut pam, Hook::AcctMgmt, NOW - 10), PamCode::Success);
    // an administrator's reset request always allows the change
    w.store
        .users
        .borrow_mut()
        .get_mut("bob")
        .unwrap()
        .password_reset_required = true;
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
    let mut w = World::new();
    w.store
        .users
        .borrow_mut()
        .get_mut("bob")
        .unwrap()
        .password_reset_required = true;
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
    assert_eq!(w.store.last_audit().reason, "password changed");
    w.store.expiry = ExpiryRules::default();
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
    assert!(pam.messages.iter().any(|m| m.contains("at least 8")));
    // reuse prevention: change once, then back to the old one
    let mut pam = FakePam::new("bob", &["bob-pw", "new-password-1", "new-password-1"]);
    assert_eq!(chauthtok(&w, &mut pam, true), PamCode::Success);
    let mut pam = FakePam::new("bob", &["new-password-1", "bob-pw", "bob-pw"]);
    pam.root = false;
    assert_eq!(chauthtok(&w, &mut pam, false), PamCode::AuthtokErr);
    assert_eq!(w.store.last_audit().reason, "Password was used recently");
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
    assert_eq!(w.store.last_audit().event, "open_session");
    assert_eq!(
        w.run(&mut pam, Hook::CloseSession, NOW + 5),
        PamCode::Success
    );
    let a = w.store.last_audit();
    assert_eq!(
        (a.event.as_str(), a.time, a.tty.as_deref()),
        ("close_session", NOW + 5, Some("ssh"))
    );
    let mut pam = FakePam::new("root", &[]);
    assert_eq!(w.run(&mut pam, Hook::OpenSession, NOW), PamCode::Ignore);
    assert_eq!(w.run(&mut pam, Hook::Setcred, NOW), PamCode::Success);
}
