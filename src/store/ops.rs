//! Multi-step store operations, composed from the per-aggregate primitives inside one
//! [`Store::atomically`] transaction: written once here, so every backend runs the same
//! steps and only has to make `atomically` all-or-nothing.

use super::*;
use crate::credentials::second_factor::Record;

/// Records an issued role session, its `--policy` session policy and its audit event in
/// one transaction: no session exists without its limiting policy or its audit row,
/// whatever kills the caller. The session's role and user ids are checked against the
/// current ones in the same transaction, so a role (or user) replaced meanwhile is
/// refused.
///
/// # Errors
/// [`StoreError::NoSuchEntity`] when the role or user is gone or was replaced; store
/// errors. Nothing is written then.
pub fn issue_role_session(
    store: &dyn Store,
    s: &RoleSession,
    policy: Option<&str>,
    audit: &AuditEvent,
) -> Result<()> {
    issue_role_session_with(store, s, policy, None, audit)
}

/// [`issue_role_session`], with what the session carries beyond its row (source
/// identity, session tags, managed session policies) in the same transaction.
///
/// # Errors
/// As [`issue_role_session`]; `Unsupported` from a backend that cannot keep `context`.
pub fn issue_role_session_with(
    store: &dyn Store,
    s: &RoleSession,
    policy: Option<&str>,
    context: Option<&SessionContext>,
    audit: &AuditEvent,
) -> Result<()> {
    atomically(store, |tx| {
        let role_current = match &s.role_id {
            Some(id) => still_there(tx.get_role(&s.role_name).map(|r| r.role_id == *id))?,
            None => true,
        };
        let user_current = match &s.user_id {
            Some(id) => still_there(tx.get_user(&s.user_name).map(|u| u.user_id == *id))?,
            None => true,
        };
        if !role_current || !user_current {
            return Err(rules::session_principal_replaced(
                &s.role_name,
                &s.user_name,
            ));
        }
        tx.create_role_session(s)?;
        if let Some(doc) = policy {
            tx.put_role_session_policy(&s.session_id, doc)?;
        }
        if let Some(c) = context.filter(|c| !c.is_empty()) {
            tx.put_role_session_context(&s.session_id, c)?;
        }
        tx.append_audit(audit)
    })
}

/// `Ok(false)` for an entity that is not there, its answer otherwise.
fn still_there(r: Result<bool>) -> Result<bool> {
    absent_as_none(r).map(|b| b.unwrap_or(false))
}

/// `Ok(None)` for an entity that is not there (`NoSuchEntity`), the answer otherwise.
///
/// # Errors
/// Any other store error.
pub fn absent_as_none<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::NoSuchEntity(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Binds a Linux id to an entity's unique id (`AIDA…`/`AGPA…`) once, returning the
/// existing one if already bound (renames keep it; ids are never reused): `explicit`
/// (`--uid`) when given, which must never have been handed out, else the next id above
/// every id ever handed out inside `range`, skipping 65534/65535 and ids `in_use` reports
/// (local accounts). Checked and bound in one transaction.
///
/// # Errors
/// [`StoreError::EntityAlreadyExists`] for an explicit id already handed out or a change
/// of id; [`StoreError::LimitExceeded`] when `range` is exhausted.
pub fn assign_linux_id(
    store: &dyn Store,
    entity_id: &str,
    explicit: Option<u32>,
    range: (u32, u32),
    in_use: &dyn Fn(u32) -> bool,
) -> Result<u32> {
    atomically(store, |tx| {
        if let Some(id) = tx.linux_id(entity_id)? {
            return match explicit {
                Some(e) if e != id => Err(rules::linux_id_fixed(entity_id, id)),
                _ => Ok(id),
            };
        }
        let id = match explicit {
            Some(id) if tx.linux_id_handed_out(id)? => return Err(rules::linux_id_reused(id)),
            Some(id) => id,
            None => rules::next_linux_id(tx.highest_linux_id(range)?, range, in_use)?,
        };
        tx.bind_linux_id(entity_id, id)?;
        Ok(id)
    })
}

/// Every store is the second-factor check's store: its lockout sub-trait already holds
/// the three atomic steps, so PAM, iam-sts and sudo all reach them through this one
/// impl (no adapter of theirs forwards them).
impl crate::credentials::second_factor::FactorStore for dyn Store + '_ {
    type Error = StoreError;

    fn admit(
        &self,
        user: &str,
        now_ms: i64,
        throttle: &crate::credentials::second_factor::Throttle,
        audit: Record<'_, crate::credentials::second_factor::Admission>,
    ) -> Result<crate::credentials::second_factor::Admission> {
        self.admit_attempt(user, now_ms, throttle, audit)
    }

    fn count_failure(
        &self,
        user: &str,
        now: i64,
        audit: Record<'_, LockState>,
    ) -> Result<LockState> {
        self.record_failure(user, now, audit)
    }

    fn settle(
        &self,
        user: &str,
        proof: &crate::credentials::second_factor::Proof<'_>,
        password_login: bool,
        now: i64,
        audit: Record<'_, crate::credentials::second_factor::Settled>,
    ) -> Result<crate::credentials::second_factor::Settled> {
        self.settle_success(user, proof, password_login, now, audit)
    }
}

/// A new password that may not be set, or a store that could not tell.
#[derive(Debug, thiserror::Error)]
pub enum NewPasswordError {
    /// The account password policy refuses it; the text is for the person choosing it.
    #[error("{0}")]
    Refused(String),
    /// The store failed (or hashing did).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The one check of a new password, for administrators (`iam create-login-profile`,
/// `update-login-profile`) and users (`passwd` through PAM): the account password
/// policy's rules, then reuse of the current password or, with
/// `PasswordReusePrevention` N, of any of the last N (the stricter of the two checks this
/// replaces: a new password always differs from the current one); then its argon2id hash
/// with the store's parameters.
///
/// # Errors
/// [`NewPasswordError::Refused`] saying which rule; the store's errors.
pub fn new_password_hash(
    store: &dyn Store,
    user: &str,
    password: &str,
) -> std::result::Result<zeroize::Zeroizing<String>, NewPasswordError> {
    let policy = store.get_password_policy()?.unwrap_or_default();
    policy
        .check(password)
        .map_err(|v| NewPasswordError::Refused(v.to_string()))?;
    let depth = policy.reuse_depth().max(1);
    if store
        .password_history(user, depth)?
        .iter()
        .any(|h| crate::credentials::verify_password(password.as_bytes(), h))
    {
        return Err(NewPasswordError::Refused(format!(
            "Password does not conform to the account password policy: it must differ from the last {depth} password(s)"
        )));
    }
    let params = store.hash_params()?;
    Ok(zeroize::Zeroizing::new(
        crate::credentials::hash_password(password.as_bytes(), &params)
            .map_err(StoreError::from)?,
    ))
}
