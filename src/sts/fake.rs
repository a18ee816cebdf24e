//! A scripted backend for unit tests of assume-role and the sudo decision.
//!
//! Users: alice (MFA device, identity policy allows sts:AssumeRole), bob (no MFA, allowed
//! by identity but not trusted by `admin`). Roles: `admin` (trusts alice, allows
//! host:Sudo), `mfa-admin` (trust needs MFA), `viewer` (trusts alice, no host:Sudo),
//! `recent-mfa` (host:Sudo only with an MFA proof younger than 300 s).
//! MFA: alice's device has seed [`SEED`]; [`good_code`] is its code at the fake clock's
//! time (1000 s); the lockout state is a `MemoryFactors` (lockout off unless set).
//! A role named in `recreated` was deleted and created again: it has a new id.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;

use zeroize::Zeroizing;

use super::assume::CallContext;
use super::backend::{
    Principal, Question, RoleSession, StsAudit, StsBackend, StsRole, StsUser, Verdict,
};
use super::error::StsError;
use super::scope::{Scope, TerminalScope};
use crate::credentials::LockState;
use crate::credentials::second_factor::memory::{self, FakeClock, MemoryFactors};
use crate::credentials::second_factor::{Admission, FactorStore, Pacing, Proof, Settled, Throttle};

pub(crate) struct Fake {
    pub sessions: RefCell<Vec<RoleSession>>,
    pub audits: RefCell<Vec<StsAudit>>,
    pub factors: MemoryFactors,
    pub clock: FakeClock,
    pub min: Cell<i64>,
    pub recreated: RefCell<HashSet<String>>,
    counter: Cell<u8>,
}

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

fn verdict(allowed: bool, uses_mfa: bool) -> Verdict {
    Verdict {
        allowed,
        explicit_deny: false,
        reason: if allowed {
            "allowed by fake".to_string()
        } else {
            "no statement allows".to_string()
        },
        missing_context: vec![],
        uses_mfa,
    }
}

impl Fake {
    pub fn new() -> Self {
        Fake {
            sessions: RefCell::new(vec![]),
            audits: RefCell::new(vec![]),
            factors: MemoryFactors::default(),
            clock: FakeClock::at(1000),
            min: Cell::new(900),
            recreated: RefCell::new(HashSet::new()),
            counter: Cell::new(0),
        }
    }
}

impl FactorStore for Fake {
    type Error = StsError;
    fn admit(&self, user: &str, now_ms: i64, t: &Throttle) -> Result<Admission, StsError> {
        self.factors.admit(user, now_ms, t).map_err(|e| match e {})
    }
    fn count_failure(&self, user: &str, now: i64) -> Result<LockState, StsError> {
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
    ) -> Result<Settled, StsError> {
        self.factors
            .settle(user, proof, password_login, now)
            .map_err(|e| match e {})
    }
}

impl StsBackend for Fake {
    fn account_id(&self) -> Result<String, StsError> {
        Ok("123456789012".to_string())
    }
    fn host_name(&self) -> Result<String, StsError> {
        Ok("web1".to_string())
    }
    fn user(&self, name: &str) -> Result<Option<StsUser>, StsError> {
        let mfa = (name == "alice").then(|| {
            (
                "arn:aws:iam::123456789012:mfa/alice".to_string(),
                Zeroizing::new(SEED.to_vec()),
            )
        });
        Ok(["alice", "bob"].contains(&name).then(|| StsUser {
            name: name.to_string(),
            arn: format!("arn:aws:iam::123456789012:user/{name}"),
            id: format!("AIDA{}", name.to_uppercase()),
            mfa,
        }))
    }
    fn role(&self, name: &str) -> Result<Option<StsRole>, StsError> {
        let trust = match name {
            "mfa-admin" => r#"{"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}"#,
            "admin" | "viewer" | "recent-mfa" => "{}",
            _ => return Ok(None),
        };
        Ok(Some(StsRole {
            name: name.to_string(),
            arn: format!("arn:aws:iam::123456789012:role/{name}"),
            id: format!(
                "AROA{}{}",
                name.to_uppercase(),
                if self.recreated.borrow().contains(name) {
                    "2"
                } else {
                    ""
                }
            ),
            max_session_duration: 3600,
            trust_policy: trust.to_string(),
        }))
    }
    fn min_session_duration(&self) -> Result<i64, StsError> {
        Ok(self.min.get())
    }
    fn pacing(&self) -> &dyn Pacing {
        &self.clock
    }
    fn authorize(&self, q: &Question) -> Result<Verdict, StsError> {
        Ok(match &q.principal {
            Principal::User(_) => verdict(q.action == "sts:AssumeRole", false),
            Principal::Session(s) => match s.role.as_str() {
                "admin" | "mfa-admin" => verdict(q.action == "host:Sudo", false),
                "recent-mfa" => verdict(q.mfa_time.is_some_and(|t| q.now - t <= 300), true),
                _ => verdict(false, false),
            },
        })
    }
    fn trust(&self, role: &StsRole, q: &Question) -> Result<Verdict, StsError> {
        let Principal::User(u) = &q.principal else {
            return Ok(verdict(false, false));
        };
        Ok(match role.name.as_str() {
            "mfa-admin" => verdict(u == "alice" && q.mfa_time.is_some(), true),
            _ => verdict(u == "alice", false),
        })
    }
    fn insert_session(&self, s: &RoleSession, audit: &StsAudit) -> Result<(), StsError> {
        self.sessions.borrow_mut().push(s.clone());
        self.audits.borrow_mut().push(audit.clone());
        Ok(())
    }
    fn sessions_of(&self, user: &str, live_at: Option<i64>) -> Result<Vec<RoleSession>, StsError> {
        let mut v: Vec<RoleSession> = self
            .sessions
            .borrow()
            .iter()
            .filter(|s| s.user == user)
            .cloned()
            .map(|mut s| {
                let now_id = self.role(&s.role).ok().flatten().map(|r| r.id);
                s.ended = super::sessions::ended_because(
                    "role",
                    &s.role,
                    Some(&s.role_id),
                    now_id.as_deref(),
                );
                s
            })
            .filter(|s| live_at.is_none_or(|t| s.revoked.is_none() && t < s.expires))
            .collect();
        v.sort_by_key(|s| std::cmp::Reverse(s.issued));
        Ok(v)
    }
    fn revoke_session(&self, user: &str, id: &str, now: i64) -> Result<bool, StsError> {
        let mut all = self.sessions.borrow_mut();
        match all
            .iter_mut()
            .find(|s| s.user == user && s.access_key_id == id)
        {
            Some(s) => {
                s.revoked = Some(now);
                Ok(true)
            }
            None => Ok(false),
        }
    }
    fn set_session_mfa(&self, id: &str, t: i64) -> Result<(), StsError> {
        if let Some(s) = self
            .sessions
            .borrow_mut()
            .iter_mut()
            .find(|s| s.access_key_id == id)
        {
            s.mfa_time = Some(t);
        }
        Ok(())
    }
    fn audit(&self, rec: &StsAudit) -> Result<(), StsError> {
        self.audits.borrow_mut().push(rec.clone());
        Ok(())
    }
    fn validate_session_policy(&self, json: &str) -> Result<(), StsError> {
        if json.starts_with('{') {
            Ok(())
        } else {
            Err(StsError::AccessDenied(
                "MalformedPolicyDocument".to_string(),
            ))
        }
    }
    fn hash_secret(&self, secret: &[u8]) -> String {
        format!("hash-of-{}-bytes", secret.len())
    }
    fn random(&self, n: usize) -> Result<Zeroizing<Vec<u8>>, StsError> {
        let c = self.counter.get().wrapping_add(1);
        self.counter.set(c);
        Ok(Zeroizing::new(vec![c; n]))
    }
}
