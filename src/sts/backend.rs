//! What role sessions need from the store, the policy engine and the credential code:
//! [`Backend`], any `dyn Store` (opened through its safe-open checks) seen as
//! `assume-role`, the session commands and the sudo decision use it. No SQL here: every
//! method is one store call or one authz call. MFA codes are checked by
//! `credentials::second_factor` on [`Backend::store`], the one `FactorStore` every caller
//! shares.

use std::collections::HashMap;

use zeroize::Zeroizing;

use super::error::StsError;
use super::model;
use crate::audit::{self, Decision, Event};
use crate::authz::session::SessionStatus;
use crate::authz::{self, Request, Target, Verdict};
use crate::credentials;
use crate::credentials::second_factor::{Pacing, SystemPacing};
use crate::policy::{Policy, PolicyKind};
use crate::store::prelude::*;
use crate::store::{self, RoleSession, StoreError, absent_as_none};

/// The caller as an IAM user.
#[derive(Clone)]
pub struct StsUser {
    /// User name (= Linux user name).
    pub name: String,
    /// `arn:aws:iam::ACCT:user/NAME`.
    pub arn: String,
    /// `AIDA…`.
    pub id: String,
    /// The enabled MFA device: serial ARN and seed.
    pub mfa: Option<(String, Zeroizing<Vec<u8>>)>,
}

/// A role as `assume-role` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsRole {
    /// Role name.
    pub name: String,
    /// `arn:aws:iam::ACCT:role/NAME`.
    pub arn: String,
    /// `AROA…`.
    pub id: String,
    /// MaxSessionDuration in seconds (3600 unless set).
    pub max_session_duration: i64,
    /// The trust policy document (JSON).
    pub trust_policy: String,
}

/// A stored session as the session commands and the sudo decision list it: the one
/// [`RoleSession`], its role's ARN, and why it no longer counts when its role or user
/// was replaced since it was issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The stored session.
    pub session: RoleSession,
    /// The role's ARN (its path included while the role exists).
    pub role_arn: String,
    /// Why the session ended although it is neither expired nor revoked.
    pub ended: Option<String>,
}

impl Listed {
    /// The session's status at `now` (the one rule, [`authz::session::status`]).
    pub fn status(&self, now: i64) -> SessionStatus {
        authz::session::status(&self.session, self.ended.is_some(), now)
    }

    /// Usable at `now`: not expired, not revoked, and its role and user are still the
    /// ones it was issued for.
    pub fn active(&self, now: i64) -> bool {
        self.status(now) == SessionStatus::Active
    }
}

impl std::ops::Deref for Listed {
    type Target = RoleSession;
    fn deref(&self) -> &RoleSession {
        &self.session
    }
}

/// The store opened for role sessions, with this host's name and the second factor's
/// clock. It owns its store (iam-sts, the sudo decision) or borrows one (iamd's store
/// threads, [`Backend::borrowing`]).
pub struct Backend<'s> {
    store: StoreRef<'s>,
    syslog: bool,
    host: String,
    pacing: Box<dyn Pacing>,
}

/// An owned or a borrowed store.
enum StoreRef<'s> {
    Owned(Box<dyn Store>),
    Borrowed(&'s dyn Store),
}

fn store_err(e: StoreError) -> StsError {
    StsError::Store(e)
}

impl Backend<'static> {
    /// Opens the existing store at `path` through the store's safe-open checks (never
    /// creates one). `syslog`: also write audit lines to syslog (iam-sts; the PAM module
    /// logs through pam_syslog instead). `host`: the host name in ARNs (PAM's `host=`
    /// option), else the kernel's.
    ///
    /// # Errors
    /// [`StsError::NoStore`] when there is no store; the store's refusal to open.
    pub fn open(
        path: &str,
        syslog: bool,
        host: Option<&str>,
    ) -> Result<Backend<'static>, StsError> {
        let location = store::Location::parse(path);
        if location
            .sqlite_path()
            .is_some_and(|p| std::fs::symlink_metadata(p).is_err())
        {
            return Err(StsError::NoStore(path.to_string()));
        }
        let store = store::open_for_login(location).map_err(store_err)?;
        let host = match host {
            Some(h) => h.to_string(),
            None => nix::unistd::gethostname()
                .map_err(|e| StsError::Internal(format!("cannot read the host name: {e}")))?
                .into_string()
                .map_err(|_| StsError::Internal("the host name is not UTF-8".to_string()))?,
        };
        Ok(Backend::new(store, syslog, host, Box::new(SystemPacing)))
    }

    /// The role-session view of an open store.
    pub fn new(
        store: Box<dyn Store>,
        syslog: bool,
        host: String,
        pacing: Box<dyn Pacing>,
    ) -> Backend<'static> {
        Backend {
            store: StoreRef::Owned(store),
            syslog,
            host,
            pacing,
        }
    }
}

impl<'s> Backend<'s> {
    /// The role-session view of a store someone else holds open (iamd's store threads:
    /// the API's `AssumeRole` and `GetSessionToken`), with the real clock. Audit events
    /// go to the store only.
    pub fn borrowing(store: &'s dyn Store, host: String) -> Backend<'s> {
        Backend {
            store: StoreRef::Borrowed(store),
            syslog: false,
            host,
            pacing: Box::new(SystemPacing),
        }
    }

    /// The store: for the second-factor check.
    pub fn store(&self) -> &dyn Store {
        match &self.store {
            StoreRef::Owned(s) => &**s,
            StoreRef::Borrowed(s) => *s,
        }
    }

    /// The 12-digit account id of this store.
    pub fn account_id(&self) -> Result<String, StsError> {
        self.store().account_id().map_err(store_err)
    }

    /// Host name used in `arn:aws:iam::ACCT:host/NAME`.
    pub fn host_name(&self) -> Result<String, StsError> {
        Ok(self.host.clone())
    }

    /// An IAM user by name.
    pub fn user(&self, name: &str) -> Result<Option<StsUser>, StsError> {
        let u = match self.store().get_user(name) {
            Ok(u) => u,
            Err(StoreError::NoSuchEntity(_)) => return Ok(None),
            Err(e) => return Err(store_err(e)),
        };
        let mfa = self
            .store()
            .enabled_mfa(name)
            .map_err(store_err)?
            .map(|m| (m.serial_number.clone(), m.seed.clone()));
        Ok(Some(StsUser {
            name: u.name,
            arn: u.arn,
            id: u.user_id,
            mfa,
        }))
    }

    /// A role by name.
    pub fn role(&self, name: &str) -> Result<Option<StsRole>, StsError> {
        match self.store().get_role(name) {
            Ok(r) => Ok(Some(StsRole {
                name: r.name,
                arn: r.arn,
                id: r.role_id,
                max_session_duration: r.max_session_duration,
                trust_policy: r.assume_role_policy_document,
            })),
            Err(StoreError::NoSuchEntity(_)) => Ok(None),
            Err(e) => Err(store_err(e)),
        }
    }

    /// The shortest session allowed (900 unless root lowered it, for tests).
    pub fn min_session_duration(&self) -> Result<i64, StsError> {
        Ok(self
            .store()
            .sts_min_session_duration()
            .map_err(store_err)?
            .unwrap_or(model::MIN_DURATION))
    }

    /// The clock of the second-factor check (waits for attempt slots, the fail delay).
    pub fn pacing(&self) -> &dyn Pacing {
        &*self.pacing
    }

    /// Evaluate the principal's identity policies (user, or role + session policy); a
    /// session whose role or user was replaced is denied (authz checks it every time).
    pub fn authorize(&self, req: &Request) -> Result<Verdict, StsError> {
        let mut v = authz::authorize(self.store(), req)?;
        if v.explicit_deny {
            v.reason = format!("explicitly denied by {}", v.reason);
        }
        Ok(v)
    }

    /// Evaluate a role's trust policy for the user or role session asking.
    pub fn trust(&self, role: &StsRole, req: &Request) -> Result<Verdict, StsError> {
        let req = Request {
            target: Target::Arn(role.arn.clone()),
            ..req.clone()
        };
        Ok(authz::trust(
            self.store(),
            &role.name,
            &role.trust_policy,
            &req,
        )?)
    }

    /// What a stored session carries beyond its row (source identity, session tags,
    /// managed session policies), if anything.
    pub fn session_context(
        &self,
        session_id: &str,
    ) -> Result<Option<store::SessionContext>, StsError> {
        self.store()
            .role_session_context(session_id)
            .map_err(store_err)
    }

    /// [`Backend::insert_session`], with what the session carries beyond its row.
    pub fn insert_session_with(
        &self,
        s: &RoleSession,
        policy: Option<&str>,
        context: Option<&store::SessionContext>,
        audit: &Event,
    ) -> Result<(), StsError> {
        self.log(audit);
        store::issue_role_session_with(self.store(), s, policy, context, audit).map_err(store_err)
    }

    /// Store a new session, its `--policy` session policy and its audit event,
    /// atomically.
    pub fn insert_session(
        &self,
        s: &RoleSession,
        policy: Option<&str>,
        audit: &Event,
    ) -> Result<(), StsError> {
        self.log(audit);
        store::issue_role_session(self.store(), s, policy, audit).map_err(store_err)
    }

    /// Sessions of a user, newest first: only those active at `live_at` when given.
    pub fn sessions_of(&self, user: &str, live_at: Option<i64>) -> Result<Vec<Listed>, StsError> {
        let account = self.account_id()?;
        let rows = self
            .store()
            .list_role_sessions(Some(user), live_at)
            .map_err(store_err)?;
        let user_now = absent_as_none(self.store().get_user(user).map(|u| u.user_id))?;
        let mut roles: HashMap<String, Option<(String, String)>> = HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            if !roles.contains_key(&r.role_name) {
                let now = absent_as_none(
                    self.store()
                        .get_role(&r.role_name)
                        .map(|r| (r.arn, r.role_id)),
                )?;
                roles.insert(r.role_name.clone(), now);
            }
            let role_now = roles.get(&r.role_name).cloned().flatten();
            let role_arn = role_now
                .as_ref()
                .map(|(arn, _)| arn.clone())
                .unwrap_or_else(|| crate::arn::role(&account, "/", &r.role_name));
            let ended = authz::session::ended_given(
                &r,
                role_now.as_ref().map(|(_, id)| id.as_str()),
                user_now.as_deref(),
            );
            out.push(Listed {
                session: r,
                role_arn,
                ended,
            });
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.issued));
        Ok(out)
    }

    /// Mark a session revoked; false when the user has no such session (with `host`:
    /// none issued for that host).
    pub fn revoke_session(
        &self,
        user: &str,
        access_key_id: &str,
        host: Option<&str>,
        now: i64,
    ) -> Result<bool, StsError> {
        let mine = self
            .store()
            .list_role_sessions(Some(user), None)
            .map_err(store_err)?
            .iter()
            .any(|s| {
                s.session_id == access_key_id && (host.is_none() || s.host.as_deref() == host)
            });
        if !mine {
            return Ok(false);
        }
        self.store()
            .revoke_role_session(access_key_id, now)
            .map_err(store_err)?;
        Ok(true)
    }

    /// Record a fresh MFA proof in a session.
    pub fn set_session_mfa(&self, access_key_id: &str, t: i64) -> Result<(), StsError> {
        self.store()
            .set_role_session_mfa(access_key_id, t)
            .map_err(store_err)
    }

    /// Append to the audit trail (and syslog when this backend logs).
    pub fn audit(&self, e: &Event) -> Result<(), StsError> {
        self.log(e);
        self.store().append_audit(e).map_err(store_err)
    }

    /// The event's syslog line, when this backend logs (iam-sts; the PAM module logs
    /// through pam_syslog instead).
    fn log(&self, e: &Event) {
        if self.syslog {
            syslog_line(e.decision == Decision::Allow, &audit::line(e));
        }
    }

    /// Refuses a `--policy` that is not a valid session policy.
    pub fn validate_session_policy(&self, json: &str) -> Result<(), StsError> {
        Policy::parse(json, PolicyKind::Session)
            .map(|_| ())
            .map_err(|e| StsError::MalformedPolicy(e.to_string()))
    }

    /// The stored form of a session secret (SHA-256, hex).
    pub fn hash_secret(&self, secret: &[u8]) -> String {
        credentials::sha256_hex(secret)
    }

    /// `n` random bytes from the OS.
    pub fn random(&self, n: usize) -> Result<Zeroizing<Vec<u8>>, StsError> {
        let mut buf = Zeroizing::new(vec![0u8; n]);
        credentials::random_fill(&mut buf)
            .map_err(|e| StsError::Internal(format!("random generator: {e}")))?;
        Ok(buf)
    }
}

/// One authpriv line from iam-sts (a program of its own, so openlog is fine here).
fn syslog_line(allowed: bool, msg: &str) {
    let Ok(text) = std::ffi::CString::new(msg.replace('\0', " ")) else {
        return;
    };
    let prio = if allowed {
        libc::LOG_INFO
    } else {
        libc::LOG_NOTICE
    };
    // SAFETY: the ident is a 'static C string; the format is a constant "%s" and its one
    // argument a valid NUL-terminated string that outlives the call.
    unsafe {
        libc::openlog(c"iam-sts".as_ptr(), libc::LOG_PID, libc::LOG_AUTHPRIV);
        libc::syslog(libc::LOG_AUTHPRIV | prio, c"%s".as_ptr(), text.as_ptr());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::Principal;
    use crate::store::{NewRole, NewUser};

    /// A stored trust policy that no longer parses is reported as such (a policy to fix),
    /// not as "the IAM store is unavailable".
    #[test]
    fn a_malformed_trust_policy_is_not_a_store_outage() {
        use std::os::unix::fs::DirBuilderExt;
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("store");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&private)
            .unwrap();
        let path = private.join("iam.db");
        let store = store::open_path(&path, store::OpenMode::ReadWrite).unwrap();
        let account = store.account_id().unwrap();
        store
            .create_user(
                &NewUser {
                    name: "alice".into(),
                    path: "/".into(),
                    ..Default::default()
                },
                1,
            )
            .unwrap();
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        store
            .create_role(
                &NewRole {
                    name: "admin".into(),
                    path: "/".into(),
                    assume_role_policy_document: trust,
                    max_session_duration: 3600,
                    ..Default::default()
                },
                1,
            )
            .unwrap();
        drop(store);
        let b = Backend::open(path.to_str().unwrap(), false, Some("web1")).unwrap();
        let mut role = b.role("admin").unwrap().unwrap();
        role.trust_policy = r#"{"Version":"2012-10-17","Statement":"#.to_string();
        let q = Request::new(
            Principal::User("alice".into()),
            "sts:AssumeRole",
            Target::Arn(role.arn.clone()),
            2,
        );
        let e = b.trust(&role, &q).unwrap_err();
        assert!(matches!(e, StsError::BadPolicy { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("the trust policy of role admin is malformed"),
            "{msg}"
        );
        assert!(!msg.contains("unavailable"), "{msg}");
        assert_eq!(e.code(), "ServiceFailure");
    }

    /// A stored identity policy that does not parse keeps its name and the parser's
    /// message through the STS layer.
    #[test]
    fn a_malformed_identity_policy_keeps_its_name() {
        let e = StsError::from(authz::AuthzError::BadPolicy {
            policy: "arn:aws:iam::123456789012:policy/P".into(),
            error: "expected value".into(),
        });
        let msg = e.to_string();
        assert!(
            msg.starts_with("ServiceFailure: stored policy arn:aws:iam::123456789012:policy/P is malformed: expected value"),
            "{msg}"
        );
        assert!(!msg.contains("unavailable"), "{msg}");
    }
}
