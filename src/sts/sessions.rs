//! `get-caller-identity`, `list-sessions`, `revoke-session`: a user's view of their own
//! role sessions.

use serde_json::{Value, json};

use super::assume::CallContext;
use super::backend::{Backend, Listed};
use super::error::StsError;
use super::harden::SignalGuard;
use crate::audit::{Decision, Event};

/// AWS's GetCallerIdentity shape. In a terminal with a role session in effect the
/// caller is that session (as AWS answers for role credentials), else the IAM user.
pub fn get_caller_identity(b: &Backend, ctx: &CallContext) -> Result<Value, StsError> {
    let user = b
        .user(&ctx.user)?
        .ok_or_else(|| StsError::NotIamUser(ctx.user.clone()))?;
    let account = b.account_id()?;
    let key = ctx.scope.key();
    let here = b
        .sessions_of(&user.name, Some(ctx.now))?
        .into_iter()
        .filter(|s| s.scope == key && s.active(ctx.now))
        .max_by_key(|s| s.issued);
    Ok(match here {
        Some(s) => json!({
            "UserId": format!("{}:{}", s.role_id.as_deref().unwrap_or_default(), s.session_name),
            "Account": account,
            "Arn": crate::arn::assumed_role(&account, &s.role_name, &s.session_name),
        }),
        None => json!({ "UserId": user.id, "Account": account, "Arn": user.arn }),
    })
}

/// One session in `list-sessions` / `iam list-role-sessions` output.
pub fn session_json(account: &str, s: &Listed, now: i64, current_scope: Option<&str>) -> Value {
    let mut v = json!({
        "AccessKeyId": s.session_id,
        "UserName": s.user_name,
        "RoleArn": s.role_arn,
        "RoleSessionName": s.session_name,
        "Arn": crate::arn::assumed_role(account, &s.role_name, &s.session_name),
        "Terminal": super::scope::describe_key(&s.scope),
        "IssuedAt": crate::time::iso8601(s.issued),
        "Expiration": crate::time::iso8601(s.expires),
        "MultiFactorAuthTime": s.mfa_time.map(crate::time::iso8601),
        "Status": s.status(now).as_str(),
    });
    if s.of() != crate::store::SessionOf::Role {
        // A user's own session (iamd's GetSessionToken): no role.
        for k in ["RoleArn", "RoleSessionName", "Arn"] {
            v[k] = Value::Null;
        }
    }
    if let Some(why) = &s.ended {
        v["EndedBecause"] = json!(why);
    }
    if let Some(c) = current_scope {
        v["ThisTerminal"] = json!(s.scope == c);
    }
    v
}

/// The caller's own sessions, newest first (expired ones only with `all`).
pub fn list_sessions(b: &Backend, ctx: &CallContext, all: bool) -> Result<Value, StsError> {
    if b.user(&ctx.user)?.is_none() {
        return Err(StsError::NotIamUser(ctx.user.clone()));
    }
    let account = b.account_id()?;
    let key = ctx.scope.key();
    let list: Vec<Value> = b
        .sessions_of(&ctx.user, if all { None } else { Some(ctx.now) })?
        .iter()
        .filter(|s| all || s.active(ctx.now))
        .map(|s| session_json(&account, s, ctx.now, Some(&key)))
        .collect();
    Ok(json!({ "Sessions": list }))
}

/// Revokes one of the caller's own sessions (by access key id, or all of them), on this
/// store (`iam-sts revoke-session` on a local store).
pub fn revoke_session(
    b: &Backend,
    ctx: &CallContext,
    access_key_id: Option<&str>,
) -> Result<Value, StsError> {
    let who = Revoker {
        user: &ctx.user,
        now: ctx.now,
        tty: ctx.scope.describe(),
        host: None,
    };
    revoke_own(b, &who, access_key_id)
}

/// Who revokes: the one rule of `revoke-session` takes it from iam-sts on a local store
/// and from `iamd` serving a host in fleet mode (`POST /host/v1/revoke-session`).
pub struct Revoker<'a> {
    /// The caller: only this IAM user's sessions can be revoked.
    pub user: &'a str,
    /// Unix seconds.
    pub now: i64,
    /// The terminal, for the audit trail (`host/NAME: …` in fleet mode).
    pub tty: String,
    /// Fleet mode: the host the request came from (the credential's). Only sessions
    /// issued for that host are the caller's there; `None` on a local store.
    pub host: Option<&'a str>,
}

/// The one rule of `revoke-session`: the caller's own sessions only (on a host in fleet
/// mode, those issued for that host), each revocation audited. With no id, every active
/// session of the caller (there).
///
/// # Errors
/// [`StsError::NotIamUser`], [`StsError::NoSuchSession`] for an id that is not the
/// caller's (another user's included), or the store's failure.
pub fn revoke_own(
    b: &Backend,
    who: &Revoker<'_>,
    access_key_id: Option<&str>,
) -> Result<Value, StsError> {
    if b.user(who.user)?.is_none() {
        return Err(StsError::NotIamUser(who.user.to_string()));
    }
    let targets: Vec<String> = match access_key_id {
        Some(id) => vec![id.to_string()],
        None => b
            .sessions_of(who.user, Some(who.now))?
            .into_iter()
            .filter(|s| s.active(who.now))
            .filter(|s| who.host.is_none() || s.session.host.as_deref() == who.host)
            .map(|s| s.session.session_id)
            .collect(),
    };
    let mut revoked = Vec::new();
    for id in targets {
        let done = {
            let _hold = SignalGuard::block();
            b.revoke_session(who.user, &id, who.host, who.now)?
        };
        if !done {
            return Err(StsError::NoSuchSession(id));
        }
        b.audit(&Event {
            time: who.now,
            action: "sts:RevokeSession".to_string(),
            user: who.user.to_string(),
            decision: Decision::Allow,
            reason: format!("revoked own role session {id}"),
            service: "iam-sts".to_string(),
            rhost: None,
            tty: Some(who.tty.clone()),
        })?;
        revoked.push(id);
    }
    Ok(json!({ "RevokedAccessKeyIds": revoked }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sts::assume::{AssumeRoleArgs, assume_role};
    use crate::sts::testing::{World, ctx};

    fn assume(f: &World) -> String {
        let a = AssumeRoleArgs {
            role_arn: "arn:aws:iam::123456789012:role/admin".to_string(),
            session_name: "s1".to_string(),
            ..Default::default()
        };
        match assume_role(f, &ctx("alice"), &a, &mut |_| None) {
            Ok(o) => o.access_key_id,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn caller_identity_is_user_then_session() {
        let f = World::new();
        let v = get_caller_identity(&f, &ctx("alice")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["Arn"], "arn:aws:iam::123456789012:user/alice");
        assume(&f);
        let v = get_caller_identity(&f, &ctx("alice")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["Arn"], "arn:aws:sts::123456789012:assumed-role/admin/s1");
        assert_eq!(v["UserId"], format!("{}:s1", f.role_id("admin")));
    }

    #[test]
    fn a_session_of_a_replaced_role_is_not_the_caller_and_shows_why() {
        let f = World::new();
        assume(&f);
        f.recreate_role("admin");
        let v = get_caller_identity(&f, &ctx("alice")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["Arn"], "arn:aws:iam::123456789012:user/alice");
        let v = list_sessions(&f, &ctx("alice"), true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["Sessions"][0]["Status"], "Ended");
        let why = v["Sessions"][0]["EndedBecause"]
            .as_str()
            .unwrap_or_default();
        assert!(why.contains(&f.role_id("admin")), "{why}");
        let v = list_sessions(&f, &ctx("alice"), false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["Sessions"].as_array().map(Vec::len), Some(0));
    }

    #[test]
    fn list_and_revoke_own() {
        let f = World::new();
        let id = assume(&f);
        let v = list_sessions(&f, &ctx("alice"), false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["Sessions"][0]["AccessKeyId"], id.as_str());
        assert_eq!(v["Sessions"][0]["ThisTerminal"], true);
        let v = list_sessions(&f, &ctx("bob"), false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["Sessions"].as_array().map(Vec::len), Some(0));
        // bob cannot revoke alice's session.
        assert!(matches!(
            revoke_session(&f, &ctx("bob"), Some(&id)),
            Err(StsError::NoSuchSession(_))
        ));
        let v = revoke_session(&f, &ctx("alice"), Some(&id)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["RevokedAccessKeyIds"][0], id.as_str());
        let v = list_sessions(&f, &ctx("alice"), true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["Sessions"][0]["Status"], "Revoked");
    }

    #[test]
    fn a_host_revokes_only_the_sessions_issued_for_it() {
        let f = World::new();
        // A session of no host (a local store's): not alice's on host web-a.
        let id = assume(&f);
        let on = |host| Revoker {
            user: "alice",
            now: ctx("alice").now,
            tty: "host/web-a: tty".to_string(),
            host: Some(host),
        };
        assert!(matches!(
            revoke_own(&f, &on("web-a"), Some(&id)),
            Err(StsError::NoSuchSession(_))
        ));
        let v = revoke_own(&f, &on("web-a"), None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["RevokedAccessKeyIds"].as_array().map(Vec::len), Some(0));
        let v = list_sessions(&f, &ctx("alice"), false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["Sessions"][0]["Status"], "Active");
    }
}
