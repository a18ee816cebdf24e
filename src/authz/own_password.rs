//! Who may change an IAM user's own password, for every caller (the PAM `password`
//! phase and iamd's `ChangePassword`): an explicit Deny in the user's identity policies
//! refuses; an identity policy allowing `iam:ChangePassword` on the user, or the account
//! password policy's `AllowUsersToChangePassword`, allows (AWS's rule). The one case the
//! callers word differently is an account with no custom password policy: AWS grants
//! nothing then (iamd), while a host keeps `passwd` working for its users, as Linux
//! does, until an administrator sets a policy ([`NoAccountPolicy`]).

use super::{AuthzError, Principal, Request, Verdict, authorize};
use crate::store::Store;

/// What an account with no custom password policy lets users do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAccountPolicy {
    /// Nothing beyond their identity policies (AWS's API).
    GrantsNothing,
    /// Change their own password (a host's `passwd`).
    LetsUsersChange,
}

/// Decide `req` (a user's own `iam:ChangePassword` or `iam:GetAccountPasswordPolicy`)
/// with the account password policy's grant; any other request is decided by the
/// policies alone.
///
/// # Errors
/// [`AuthzError`] when the store fails or a stored policy does not parse.
pub fn authorize_with_account_policy(
    store: &dyn Store,
    req: &Request,
    unset: NoAccountPolicy,
) -> Result<Verdict, AuthzError> {
    let mut v = authorize(store, req)?;
    if v.allowed || v.explicit_deny || !own_password_action(req) {
        return Ok(v);
    }
    let grants = match store.get_password_policy()? {
        Some(p) => p.allow_users_to_change_password,
        None => unset == NoAccountPolicy::LetsUsersChange,
    };
    if grants {
        v.allowed = true;
        v.reason = "allowed by the account password policy (AllowUsersToChangePassword)".into();
    }
    Ok(v)
}

/// The actions `AllowUsersToChangePassword` grants a user, on itself.
fn own_password_action(req: &Request) -> bool {
    matches!(req.principal, Principal::User(_))
        && matches!(
            req.action.as_str(),
            "iam:ChangePassword" | "iam:GetAccountPasswordPolicy"
        )
}
