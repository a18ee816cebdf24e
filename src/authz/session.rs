//! Whether a role session still counts: the one rule behind the sudo decision, iam-sts's
//! session commands and `iam list-role-sessions`. A session counts while it is neither
//! revoked nor expired and its role and user are still the ones it was issued for (a
//! role deleted and created again under the same name is another role).

use crate::store::{RoleSession, SessionOf, Store, StoreError, absent_as_none};

/// Where a role session stands, in the words both CLIs print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    /// Usable.
    Active,
    /// Revoked by its user or an administrator.
    Revoked,
    /// Past its expiry.
    Expired,
    /// Its role or user was deleted (perhaps created again) since it was issued.
    Ended,
}

impl SessionStatus {
    /// `Active`, `Revoked`, `Expired`, `Ended`.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Active => "Active",
            SessionStatus::Revoked => "Revoked",
            SessionStatus::Expired => "Expired",
            SessionStatus::Ended => "Ended",
        }
    }
}

/// The status of `s` at `now`; `ended` is [`ended`]'s answer for it. Revoked first, then
/// expired, then ended.
pub fn status(s: &RoleSession, ended: bool, now: i64) -> SessionStatus {
    if s.revoked.is_some() {
        SessionStatus::Revoked
    } else if now >= s.expires {
        SessionStatus::Expired
    } else if ended {
        SessionStatus::Ended
    } else {
        SessionStatus::Active
    }
}

/// Why a session no longer counts, if its role (`kind` "role") or user ("user") named
/// `name` is not the one it was issued for: `issued_for` is the id stored with the
/// session (`None` for sessions older than that record), `now_id` the current id of that
/// name (`None` when it no longer exists).
pub fn ended_because(
    kind: &str,
    name: &str,
    issued_for: Option<&str>,
    now_id: Option<&str>,
) -> Option<String> {
    match (issued_for, now_id) {
        (Some(a), Some(b)) if a == b => None,
        (Some(a), Some(b)) => Some(format!(
            "{kind} {name} was deleted and created again since the session was issued (the session is for {kind} id {a}, {name} is now {b})"
        )),
        (Some(a), None) => Some(format!("{kind} {name} (id {a}) was deleted")),
        (None, _) => Some(format!(
            "the session does not record which {kind} {name} it was issued for (issued before this version), so it cannot be proven to be the current one"
        )),
    }
}

/// [`ended_because`] for the session's role, then its user, given their current ids (a
/// user's own session has no role to check; root's neither a role nor a user).
pub fn ended_given(
    s: &RoleSession,
    role_id_now: Option<&str>,
    user_id_now: Option<&str>,
) -> Option<String> {
    let user = || ended_because("user", &s.user_name, s.user_id.as_deref(), user_id_now);
    match s.of() {
        SessionOf::Role => {
            ended_because("role", &s.role_name, s.role_id.as_deref(), role_id_now).or_else(user)
        }
        SessionOf::User => user(),
        SessionOf::Root => None,
    }
}

/// Why `s` no longer counts because its role or user was replaced or deleted; `None`
/// while both are the ones it was issued for.
///
/// # Errors
/// The store failed.
pub fn ended(store: &dyn Store, s: &RoleSession) -> Result<Option<String>, StoreError> {
    let role_now = match s.of() {
        SessionOf::Role => absent_as_none(store.get_role(&s.role_name).map(|r| r.role_id))?,
        SessionOf::User | SessionOf::Root => None,
    };
    let user_now = match s.of() {
        SessionOf::Role | SessionOf::User => {
            absent_as_none(store.get_user(&s.user_name).map(|u| u.user_id))?
        }
        SessionOf::Root => None,
    };
    Ok(ended_given(s, role_now.as_deref(), user_now.as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ended_because_compares_ids() {
        assert_eq!(ended_because("role", "r", Some("A"), Some("A")), None);
        assert!(ended_because("role", "r", Some("A"), Some("B")).is_some());
        assert!(ended_because("user", "u", Some("A"), None).is_some());
        assert!(ended_because("role", "r", None, Some("A")).is_some());
    }

    #[test]
    fn own_sessions_have_no_role_to_check() {
        let user = RoleSession {
            user_name: "alice".into(),
            user_id: Some("AIDA1".into()),
            ..RoleSession::default()
        };
        assert_eq!(ended_given(&user, None, Some("AIDA1")), None);
        assert!(ended_given(&user, None, Some("AIDA2")).is_some());
        assert!(ended_given(&user, None, None).is_some());
        assert_eq!(
            ended_given(&RoleSession::default(), None, None),
            None,
            "root"
        );
    }

    #[test]
    fn revoked_then_expired_then_ended() {
        let s = RoleSession {
            expires: 100,
            ..RoleSession::default()
        };
        assert_eq!(status(&s, false, 99), SessionStatus::Active);
        assert_eq!(status(&s, true, 99), SessionStatus::Ended);
        assert_eq!(status(&s, true, 100), SessionStatus::Expired);
        let r = RoleSession {
            revoked: Some(50),
            ..s
        };
        assert_eq!(status(&r, true, 100), SessionStatus::Revoked);
    }
}
