//! The real backend: the SQLite store (opened through its safe-open checks), the policy
//! engine and the credential code, behind [`StsBackend`].

use std::collections::HashMap;

use zeroize::Zeroizing;

use super::backend::{
    Principal, Question, RoleSession, StsAudit, StsBackend, StsRole, StsUser, Verdict,
};
use super::error::StsError;
use super::model;
use crate::authz::{self, Facts, Subject, Target};
use crate::credentials::second_factor::{
    Admission, FactorStore, Pacing, Proof, Settled, SystemPacing, Throttle,
};
use crate::credentials::{self, LockState};
use crate::policy::{self, Effect, Policy, PolicyKind, Request};
use crate::store::prelude::*;
use crate::store::{self, StoreError, TagTarget};

/// The store opened for role sessions.
pub struct StoreBackend {
    store: Box<dyn Store>,
    syslog: bool,
    host: String,
}

fn store_err(e: StoreError) -> StsError {
    StsError::Store(e.to_string())
}

impl StoreBackend {
    /// Opens the existing store at `path` through the store's safe-open checks (never
    /// creates one). `syslog`: also write audit lines to syslog (iam-sts; the PAM module
    /// logs through pam_syslog instead).
    pub fn open(path: &str, syslog: bool) -> Result<Box<dyn StsBackend>, StsError> {
        Ok(Box::new(Self::open_concrete(path, syslog, None)?))
    }

    /// [`StoreBackend::open`] with the host name given (PAM's `host=` option).
    pub fn open_concrete(
        path: &str,
        syslog: bool,
        host: Option<&str>,
    ) -> Result<StoreBackend, StsError> {
        let location = store::Location::parse(path);
        if location
            .sqlite_path()
            .is_some_and(|p| std::fs::symlink_metadata(p).is_err())
        {
            return Err(StsError::Store(format!(
                "{path} does not exist (create it with: iam create-account)"
            )));
        }
        let store = store::open_for_login(location).map_err(store_err)?;
        let host = match host {
            Some(h) => h.to_string(),
            None => nix::unistd::gethostname()
                .map_err(|e| StsError::Internal(format!("cannot read the host name: {e}")))?
                .into_string()
                .map_err(|_| StsError::Internal("the host name is not UTF-8".to_string()))?,
        };
        Ok(StoreBackend {
            store,
            syslog,
            host,
        })
    }

    /// The authz question for one of our questions: the host of this machine becomes
    /// `Target::Host` (host ARN, host tags, host:Name), anything else an ARN.
    fn facts(&self, q: &Question) -> Result<Facts, StsError> {
        let account = self.account_id()?;
        let target = if q.resource == authz::host_arn(&account, &self.host) {
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
    StsError::Store(e.to_string())
}

impl FactorStore for StoreBackend {
    type Error = StsError;

    fn admit(&self, user: &str, now_ms: i64, throttle: &Throttle) -> Result<Admission, StsError> {
        self.store
            .admit_attempt(user, now_ms, throttle)
            .map_err(store_err)
    }

    fn count_failure(&self, user: &str, now: i64) -> Result<LockState, StsError> {
        self.store.record_failure(user, now).map_err(store_err)
    }

    fn settle(
        &self,
        user: &str,
        proof: &Proof<'_>,
        password_login: bool,
        now: i64,
    ) -> Result<Settled, StsError> {
        self.store
            .settle_success(user, proof, password_login, now)
            .map_err(store_err)
    }
}

impl StsBackend for StoreBackend {
    fn account_id(&self) -> Result<String, StsError> {
        self.store.account_id().map_err(store_err)
    }

    fn host_name(&self) -> Result<String, StsError> {
        Ok(self.host.clone())
    }

    fn user(&self, name: &str) -> Result<Option<StsUser>, StsError> {
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

    fn role(&self, name: &str) -> Result<Option<StsRole>, StsError> {
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

    fn min_session_duration(&self) -> Result<i64, StsError> {
        Ok(self
            .store
            .sts_min_session_duration()
            .map_err(store_err)?
            .unwrap_or(model::MIN_DURATION))
    }

    fn pacing(&self) -> &dyn Pacing {
        &SystemPacing
    }

    fn authorize(&self, q: &Question) -> Result<Verdict, StsError> {
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

    fn trust(&self, role: &StsRole, q: &Question) -> Result<Verdict, StsError> {
        let Principal::User(name) = &q.principal else {
            return Err(StsError::Internal(
                "only IAM users assume roles here".into(),
            ));
        };
        let u = self.store.get_user(name).map_err(store_err)?;
        let who = authz::Principal::user(&u);
        let role_tags = self
            .store
            .list_tags(TagTarget::Role, &role.name)
            .map_err(store_err)?;
        let facts = Facts {
            target: Target::Arn(role.arn.clone()),
            ..self.facts(q)?
        };
        let trust = Policy::parse(&role.trust_policy, PolicyKind::Trust).map_err(|e| {
            StsError::Store(format!(
                "trust policy of role {} does not parse: {e}",
                role.name
            ))
        })?;
        let req = Request {
            action: q.action.clone(),
            resource: role.arn.clone(),
            principal_arn: who.arn.clone(),
            context: authz::build_context(&who, &role_tags, &facts),
        };
        let uses_mfa = role
            .trust_policy
            .to_ascii_lowercase()
            .contains("aws:multifactorauth");
        let d = policy::evaluate_trust(&trust, &req);
        let reason = if d.matched.is_empty() {
            "no statement of the trust policy allows it".to_string()
        } else {
            d.matched
                .iter()
                .map(|m| {
                    format!(
                        "trust policy statement {}{}",
                        m.index,
                        m.sid
                            .as_ref()
                            .map(|s| format!(" ({s})"))
                            .unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        Ok(Verdict {
            allowed: d.effect == Effect::Allowed,
            explicit_deny: d.effect == Effect::ExplicitDeny,
            reason,
            missing_context: d.missing_context.clone(),
            uses_mfa,
        })
    }

    fn insert_session(&self, s: &RoleSession, audit: &StsAudit) -> Result<(), StsError> {
        let event = self.audit_event(audit);
        store::issue_role_session(
            &*self.store,
            &Self::to_store_session(s),
            s.session_policy.as_deref(),
            &event,
        )
        .map_err(store_err)
    }

    fn sessions_of(&self, user: &str, live_at: Option<i64>) -> Result<Vec<RoleSession>, StsError> {
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
                .unwrap_or_else(|| format!("arn:aws:iam::{account}:role/{}", r.role_name));
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

    fn revoke_session(&self, user: &str, access_key_id: &str, now: i64) -> Result<bool, StsError> {
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

    fn set_session_mfa(&self, access_key_id: &str, t: i64) -> Result<(), StsError> {
        self.store
            .set_role_session_mfa(access_key_id, t)
            .map_err(store_err)
    }

    fn audit(&self, rec: &StsAudit) -> Result<(), StsError> {
        let event = self.audit_event(rec);
        self.store.append_audit(&event).map_err(store_err)
    }

    fn validate_session_policy(&self, json: &str) -> Result<(), StsError> {
        Policy::parse(json, PolicyKind::Session)
            .map(|_| ())
            .map_err(|e| StsError::MalformedPolicy(e.to_string()))
    }

    fn hash_secret(&self, secret: &[u8]) -> String {
        credentials::sha256_hex(secret)
    }

    fn random(&self, n: usize) -> Result<Zeroizing<Vec<u8>>, StsError> {
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
