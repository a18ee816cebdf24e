//! A temporary store for unit tests of assume-role, the session commands and the sudo
//! decision, behind the real [`Backend`].
//!
//! Users: alice (MFA device, identity policy allows sts:AssumeRole), bob (no MFA, allowed
//! by identity but trusted by no role). Roles: `admin` (trusts alice, allows host:Sudo),
//! `mfa-admin` (trust needs MFA, allows host:Sudo), `viewer` (trusts alice, no
//! host:Sudo), `recent-mfa` (host:Sudo only with an MFA proof younger than 300 s).
//! MFA: alice's device has seed [`SEED`]; [`good_code`] is its code at the fake clock's
//! time (1000 s); lockout off unless [`World::set_lockout`].

use std::ops::Deref;
use std::rc::Rc;

use zeroize::Zeroizing;

use super::assume::CallContext;
use super::backend::{Backend, Listed};
use super::scope::{Scope, TerminalScope};
use crate::credentials::LockoutSettings;
use crate::credentials::second_factor::memory::{self, FakeClock};
use crate::store::prelude::*;
use crate::store::temp::{ACCOUNT, TempStore};
use crate::store::{AuditEvent, AuditFilter, NewRole, NewUser, PrincipalKind};

/// alice's TOTP seed.
pub(crate) const SEED: &[u8] = b"fake-seed-of-alice-20";

/// alice's code at the fake clock's time.
pub(crate) fn good_code() -> Zeroizing<String> {
    Zeroizing::new(memory::code(SEED, 1000))
}

pub(crate) fn scope(tty: u32) -> TerminalScope {
    TerminalScope {
        boot_id: "boot".to_string(),
        scope: Scope::Tty {
            tty,
            session: 10,
            session_start: 20,
        },
    }
}

pub(crate) fn ctx(user: &str) -> CallContext {
    CallContext {
        user: user.to_string(),
        scope: scope(34816),
        now: 1000,
    }
}

fn statement(action: &str, condition: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"{condition}}}]}}"#
    )
}

fn trust(condition: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/alice"}},"Action":"sts:AssumeRole"{condition}}}]}}"#
    )
}

/// The roles: name, trust condition, identity policy.
fn roles() -> [(&'static str, String, Option<String>); 4] {
    let sudo = statement("host:Sudo", "");
    [
        ("admin", trust(""), Some(sudo.clone())),
        (
            "mfa-admin",
            trust(r#","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}"#),
            Some(sudo),
        ),
        ("viewer", trust(""), None),
        (
            "recent-mfa",
            trust(""),
            Some(statement(
                "host:Sudo",
                r#","Condition":{"NumericLessThanEquals":{"aws:MultiFactorAuthAge":"300"}}"#,
            )),
        ),
    ]
}

fn create_role(s: &dyn Store, name: &str) {
    let (_, trust, policy) = roles().into_iter().find(|r| r.0 == name).unwrap();
    s.create_role(
        &NewRole {
            name: name.into(),
            path: "/".into(),
            assume_role_policy_document: trust,
            max_session_duration: 3600,
            ..Default::default()
        },
        1,
    )
    .unwrap();
    if let Some(p) = policy {
        s.put_inline_policy(PrincipalKind::Role, name, "sudo", &p)
            .unwrap();
    }
}

/// The backend over a temporary store, the fake clock it waits on, and the store file.
pub(crate) struct World {
    backend: Backend<'static>,
    pub clock: Rc<FakeClock>,
    _temp: TempStore,
}

impl Deref for World {
    type Target = Backend<'static>;
    fn deref(&self) -> &Backend<'static> {
        &self.backend
    }
}

impl World {
    pub fn new() -> World {
        let temp = TempStore::new();
        let s = temp.open();
        for name in ["alice", "bob"] {
            s.create_user(
                &NewUser {
                    name: name.into(),
                    path: "/".into(),
                    ..Default::default()
                },
                1,
            )
            .unwrap();
            s.put_inline_policy(
                PrincipalKind::User,
                name,
                "assume",
                &statement("sts:AssumeRole", ""),
            )
            .unwrap();
        }
        let d = s.create_virtual_mfa_device("alice", "/", SEED, 1).unwrap();
        s.enable_mfa_device("alice", &d.serial_number, -1, &[], 1)
            .unwrap();
        for (name, _, _) in roles() {
            create_role(&*s, name);
        }
        let clock = Rc::new(FakeClock::at(1000));
        World {
            backend: Backend::new(s, false, "web1".into(), Box::new(clock.clone())),
            clock,
            _temp: temp,
        }
    }

    /// Deletes the role and creates it again: same name, new id.
    pub fn recreate_role(&self, name: &str) {
        let s = self.store();
        for p in s.list_inline_policies(PrincipalKind::Role, name).unwrap() {
            s.delete_inline_policy(PrincipalKind::Role, name, &p)
                .unwrap();
        }
        s.delete_role(name).unwrap();
        create_role(s, name);
    }

    /// The role's current id (`AROA…`).
    pub fn role_id(&self, name: &str) -> String {
        self.store().get_role(name).unwrap().role_id
    }

    /// Every user's sessions (alice's first), each user's newest first.
    pub fn sessions(&self) -> Vec<Listed> {
        let mut all = self.sessions_of("alice", None).unwrap();
        all.extend(self.sessions_of("bob", None).unwrap());
        all
    }

    /// The audit trail, oldest first.
    pub fn audits(&self) -> Vec<AuditEvent> {
        self.store().list_audit(&AuditFilter::default()).unwrap()
    }

    pub fn failures(&self, user: &str) -> u32 {
        self.store().lock_state(user).unwrap().failed_attempts
    }

    /// The replay watermark of alice's device (-1: no code spent yet).
    pub fn watermark(&self) -> i64 {
        self.store()
            .enabled_mfa("alice")
            .unwrap()
            .unwrap()
            .watermark
    }

    pub fn set_lockout(&self, max_failed_attempts: u32, lockout_duration_seconds: i64) {
        self.store()
            .put_lockout_settings(&LockoutSettings {
                max_failed_attempts,
                lockout_duration_seconds,
            })
            .unwrap();
    }

    pub fn set_min_duration(&self, seconds: i64) {
        self.store()
            .set_sts_min_session_duration(Some(seconds))
            .unwrap();
    }
}
