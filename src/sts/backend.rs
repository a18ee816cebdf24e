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
use crate::authz::{self, Facts, Subject, Target};
use crate::credentials;
use crate::credentials::second_factor::{Pacing, SystemPacing};
use crate::policy::{Policy, PolicyKind};
use crate::store::prelude::*;
use crate::store::{self, StoreError};

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

/// A stored role session. The secret access key and token are kept only as a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSession {
    /// `ASIA…`, the session's public id.
    pub access_key_id: String,
    /// IAM user who assumed it.
    pub user: String,
    /// Role name.
    pub role: String,
    /// Role ARN.
    pub role_arn: String,
    /// `AROA…` of the role it was issued for.
    pub role_id: String,
    /// `AIDA…` of the user who assumed it.
    pub user_id: String,
    /// Why the session no longer counts although it is neither expired nor revoked: its
    /// role or user was deleted (perhaps created again under the same name) since.
    pub ended: Option<String>,
    /// `--role-session-name`.
    pub session_name: String,
    /// `TerminalScope::key()` of the terminal it was assumed in.
    pub scope: String,
    /// People-readable scope (`tty 136:3 (session 1234)`).
    pub scope_label: String,
    /// Unix seconds (aws:TokenIssueTime).
    pub issued: i64,
    /// Unix seconds.
    pub expires: i64,
    /// Unix seconds of the last MFA proof in this session.
    pub mfa_time: Option<i64>,
    /// SHA-256 (hex) of the secret access key and session token.
    pub secret_hash: String,
    /// The `--policy` session policy, if any.
    pub session_policy: Option<String>,
    /// Unix seconds of revocation.
    pub revoked: Option<i64>,
}

impl RoleSession {
    /// Usable at `now`: not expired, not revoked, and its role and user are still the
    /// ones it was issued for.
    pub fn active(&self, now: i64) -> bool {
        self.revoked.is_none() && self.ended.is_none() && now < self.expires
    }
}

/// Who a policy question is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An IAM user with long-term credentials.
    User(String),
    /// A role session (policies of the role, plus its session policy).
    Session(Box<RoleSession>),
}

/// One policy question, context facts included; authz turns it into a policy request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Who asks.
    pub principal: Principal,
    /// `sts:AssumeRole`, `host:Sudo`.
    pub action: String,
    /// Role or host ARN.
    pub resource: String,
    /// Unix seconds of the MFA proof behind this request.
    pub mfa_time: Option<i64>,
    /// PAM_SERVICE, `None` for iam-sts.
    pub service: Option<String>,
    /// PAM_TTY or the terminal name.
    pub tty: Option<String>,
    /// Client address (PAM_RHOST) when it is an address.
    pub source_ip: Option<String>,
    /// Unix seconds.
    pub now: i64,
}

/// The policy engine's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Allowed and not explicitly denied.
    pub allowed: bool,
    /// Explicitly denied.
    pub explicit_deny: bool,
    /// Which statements decided, for audit and messages.
    pub reason: String,
    /// Condition keys the policies used that the request did not have.
    pub missing_context: Vec<String>,
    /// Some evaluated policy has a condition on `aws:MultiFactorAuth*`, so a fresh
    /// TOTP proof could change the answer.
    pub uses_mfa: bool,
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsAudit {
    /// Unix seconds.
    pub time: i64,
    /// `assume-role`, `sudo`, `revoke-session`.
    pub event: String,
    /// IAM user.
    pub user: String,
    /// `allow`, `deny`, `error`.
    pub decision: String,
    /// Why, with the role / session.
    pub reason: String,
    /// PAM service (`sudo`) or `iam-sts`.
    pub service: String,
    /// Terminal scope description.
    pub tty: Option<String>,
}

/// The store opened for role sessions, with this host's name and the second factor's
/// clock.
pub struct Backend {
    store: Box<dyn Store>,
    syslog: bool,
    host: String,
    pacing: Box<dyn Pacing>,
}

fn store_err(e: StoreError) -> StsError {
    StsError::Store(e)
}

impl Backend {
    /// Opens the existing store at `path` through the store's safe-open checks (never
    /// creates one). `syslog`: also write audit lines to syslog (iam-sts; the PAM module
    /// logs through pam_syslog instead). `host`: the host name in ARNs (PAM's `host=`
    /// option), else the kernel's.
    ///
    /// # Errors
    /// [`StsError::NoStore`] when there is no store; the store's refusal to open.
    pub fn open(path: &str, syslog: bool, host: Option<&str>) -> Result<Backend, StsError> {
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
    ) -> Backend {
        Backend {
            store,
            syslog,
            host,
            pacing,
        }
    }

    /// The store: for the second-factor check.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// The authz question for one of our questions: the host of this machine becomes
    /// `Target::Host` (host ARN, host tags, host:Name), anything else an ARN.
    fn facts(&self, q: &Question) -> Result<Facts, StsError> {
        let account = self.account_id()?;
        let target = if q.resource == crate::arn::host(&account, &self.host) {
            Target::Host(self.host.clone())
        } else {
            Target::Arn(q.resource.clone())
        };
        Ok(Facts {
            action: q.action.clone(),
            target,
            mfa_time: q.mfa_time,
            service: q.service.clone(),
            tty: q.tty.clone(),
            rhost: q.source_ip.clone(),
            now: q.now,
        })
    }

    /// The store's audit row for an event; also its syslog line when this backend logs.
    fn audit_event(&self, rec: &StsAudit) -> store::AuditEvent {
        let action = match rec.event.as_str() {
            "assume-role" => "sts:AssumeRole",
            "sudo" => "host:Sudo",
            "revoke-session" => "sts:RevokeSession",
            other => other,
        };
        if self.syslog {
            syslog_line(
                rec.decision == "allow",
                &format!(
                    "{action} user={} decision={} tty={:?}: {}",
                    rec.user,
                    rec.decision,
                    rec.tty.as_deref().unwrap_or("-"),
                    rec.reason
                ),
            );
        }
        store::AuditEvent {
            time: rec.time,
            user: rec.user.clone(),
            service: rec.service.clone(),
            rhost: None,
            tty: rec.tty.clone(),
            action: action.to_string(),
            decision: rec.decision.clone(),
            reason: rec.reason.clone(),
        }
    }

    fn to_store_session(s: &RoleSession) -> store::RoleSession {
        store::RoleSession {
            session_id: s.access_key_id.clone(),
            user_name: s.user.clone(),
            role_name: s.role.clone(),
            session_name: s.session_name.clone(),
            token_hash: s.secret_hash.clone(),
            issued: s.issued,
            expires: s.expires,
            scope: s.scope.clone(),
            revoked: s.revoked,
            mfa_time: s.mfa_time,
            role_id: Some(s.role_id.clone()),
            user_id: Some(s.user_id.clone()),
        }
    }

    /// The current id of a role, `None` when there is no such role.
    fn role_id_now(&self, name: &str) -> Result<Option<(String, String)>, StsError> {
        match self.store.get_role(name) {
            Ok(r) => Ok(Some((r.arn, r.role_id))),
            Err(StoreError::NoSuchEntity(_)) => Ok(None),
            Err(e) => Err(store_err(e)),
        }
    }

    /// The current id of a user, `None` when there is no such user.
    fn user_id_now(&self, name: &str) -> Result<Option<String>, StsError> {
        match self.store.get_user(name) {
            Ok(u) => Ok(Some(u.user_id)),
            Err(StoreError::NoSuchEntity(_)) => Ok(None),
            Err(e) => Err(store_err(e)),
        }
    }
}

fn verdict(v: authz::Verdict) -> Verdict {
    Verdict {
        allowed: v.allowed,
        explicit_deny: v.explicit_deny,
        reason: if v.explicit_deny {
            format!("explicitly denied by {}", v.reason)
        } else {
            v.reason
        },
        missing_context: v.missing_context,
        uses_mfa: v.uses_mfa,
    }
}

fn authz_err(e: authz::AuthzError) -> StsError {
    StsError::from(e)
}

impl Backend {
    /// The 12-digit account id of this store.
    pub fn account_id(&self) -> Result<String, StsError> {
        self.store.account_id().map_err(store_err)
    }

    /// Host name used in `arn:aws:iam::ACCT:host/NAME`.
    pub fn host_name(&self) -> Result<String, StsError> {
        Ok(self.host.clone())
    }

    /// An IAM user by name.
    pub fn user(&self, name: &str) -> Result<Option<StsUser>, StsError> {
        let u = match self.store.get_user(name) {
            Ok(u) => u,
            Err(StoreError::NoSuchEntity(_)) => return Ok(None),
            Err(e) => return Err(store_err(e)),
        };
        let mfa = self
            .store
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
        match self.store.get_role(name) {
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
            .store
            .sts_min_session_duration()
            .map_err(store_err)?
            .unwrap_or(model::MIN_DURATION))
    }

    /// The clock of the second-factor check (waits for attempt slots, the fail delay).
    pub fn pacing(&self) -> &dyn Pacing {
        &*self.pacing
    }

    /// Evaluate the principal's identity policies (user, or role + session policy).
    pub fn authorize(&self, q: &Question) -> Result<Verdict, StsError> {
        let facts = self.facts(q)?;
        let v = match &q.principal {
            Principal::User(name) => authz::authorize(&*self.store, Subject::User(name), &facts),
            Principal::Session(s) => {
                // Checked again here, not only when listing: a role replaced in between
                // must not lend its policies to the old session.
                let role_now = self.role_id_now(&s.role)?.map(|(_, id)| id);
                let user_now = self.user_id_now(&s.user)?;
                let ended = super::sessions::ended_because(
                    "role",
                    &s.role,
                    Some(&s.role_id),
                    role_now.as_deref(),
                )
                .or_else(|| {
                    super::sessions::ended_because(
                        "user",
                        &s.user,
                        Some(&s.user_id),
                        user_now.as_deref(),
                    )
                });
                if let Some(why) = ended {
                    return Ok(Verdict {
                        allowed: false,
                        explicit_deny: false,
                        reason: format!("the role session ended: {why}"),
                        missing_context: Vec::new(),
                        uses_mfa: false,
                    });
                }
                let doc = match &s.session_policy {
                    Some(d) => Some(d.clone()),
                    None => self
                        .store
                        .role_session_policy(&s.access_key_id)
                        .map_err(store_err)?,
                };
                let row = Self::to_store_session(s);
                authz::authorize(&*self.store, Subject::Session(&row, doc.as_deref()), &facts)
            }
        }
        .map_err(authz_err)?;
        Ok(verdict(v))
    }

    /// Evaluate a role's trust policy for a user.
    pub fn trust(&self, role: &StsRole, q: &Question) -> Result<Verdict, StsError> {
        let Principal::User(name) = &q.principal else {
            return Err(StsError::Internal(
                "only IAM users assume roles here".into(),
            ));
        };
        let facts = Facts {
            target: Target::Arn(role.arn.clone()),
            ..self.facts(q)?
        };
        let v = authz::trust(&*self.store, name, &role.name, &role.trust_policy, &facts)?;
        Ok(Verdict {
            allowed: v.allowed,
            explicit_deny: v.explicit_deny,
            reason: v.reason,
            missing_context: v.missing_context,
            uses_mfa: v.uses_mfa,
        })
    }

    /// Store a new session together with its audit event, atomically.
    pub fn insert_session(&self, s: &RoleSession, audit: &StsAudit) -> Result<(), StsError> {
        let event = self.audit_event(audit);
        store::issue_role_session(
            &*self.store,
            &Self::to_store_session(s),
            s.session_policy.as_deref(),
            &event,
        )
        .map_err(store_err)
    }

    /// Sessions of a user, newest first: only those active at `live_at` when given.
    /// `session_policy` is left unset here; `authorize` looks it up itself.
    pub fn sessions_of(
        &self,
        user: &str,
        live_at: Option<i64>,
    ) -> Result<Vec<RoleSession>, StsError> {
        let account = self.account_id()?;
        let rows = self
            .store
            .list_role_sessions(Some(user), live_at)
            .map_err(store_err)?;
        let user_now = self.user_id_now(user)?;
        let mut roles: HashMap<String, Option<(String, String)>> = HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            if !roles.contains_key(&r.role_name) {
                roles.insert(r.role_name.clone(), self.role_id_now(&r.role_name)?);
            }
            let role_now = roles.get(&r.role_name).cloned().flatten();
            let role_arn = role_now
                .as_ref()
                .map(|(arn, _)| arn.clone())
                .unwrap_or_else(|| crate::arn::role(&account, "/", &r.role_name));
            let ended = super::sessions::ended_because(
                "role",
                &r.role_name,
                r.role_id.as_deref(),
                role_now.as_ref().map(|(_, id)| id.as_str()),
            )
            .or_else(|| {
                super::sessions::ended_because(
                    "user",
                    &r.user_name,
                    r.user_id.as_deref(),
                    user_now.as_deref(),
                )
            });
            out.push(RoleSession {
                scope_label: super::scope::describe_key(&r.scope),
                access_key_id: r.session_id,
                user: r.user_name,
                role: r.role_name,
                role_arn,
                role_id: r.role_id.unwrap_or_default(),
                user_id: r.user_id.unwrap_or_default(),
                ended,
                session_name: r.session_name,
                scope: r.scope,
                issued: r.issued,
                expires: r.expires,
                mfa_time: r.mfa_time,
                secret_hash: r.token_hash,
                session_policy: None,
                revoked: r.revoked,
            });
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.issued));
        Ok(out)
    }

    /// Mark a session revoked; false when the user has no such session.
    pub fn revoke_session(
        &self,
        user: &str,
        access_key_id: &str,
        now: i64,
    ) -> Result<bool, StsError> {
        let mine = self
            .store
            .list_role_sessions(Some(user), None)
            .map_err(store_err)?
            .iter()
            .any(|s| s.session_id == access_key_id);
        if !mine {
            return Ok(false);
        }
        self.store
            .revoke_role_session(access_key_id, now)
            .map_err(store_err)?;
        Ok(true)
    }

    /// Record a fresh MFA proof in a session.
    pub fn set_session_mfa(&self, access_key_id: &str, t: i64) -> Result<(), StsError> {
        self.store
            .set_role_session_mfa(access_key_id, t)
            .map_err(store_err)
    }

    /// Append to the audit trail (and syslog when this backend logs).
    pub fn audit(&self, rec: &StsAudit) -> Result<(), StsError> {
        let event = self.audit_event(rec);
        self.store.append_audit(&event).map_err(store_err)
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
        let q = Question {
            principal: Principal::User("alice".into()),
            action: "sts:AssumeRole".into(),
            resource: role.arn.clone(),
            mfa_time: None,
            service: None,
            tty: None,
            source_ip: None,
            now: 2,
        };
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
