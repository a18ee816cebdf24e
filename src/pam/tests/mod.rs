//! Every PAM path, driven through a scripted PAM handle and a temporary store: the
//! world they share here, the cases by phase in `auth`, `account` and `password`.

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
                self.others.record_failure(user, NOW, None).unwrap();
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

/// auth then account on the same handle, as sshd does in its child.
fn login(w: &World, user: &str, answers: &[&str], now: i64) -> (PamCode, PamCode, FakePam) {
    let mut pam = FakePam::new(user, answers);
    let a = w.run(&mut pam, Hook::Authenticate, now);
    let b = w.run(&mut pam, Hook::AcctMgmt, now + 2);
    (a, b, pam)
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

mod account;
mod auth;
mod password;
