//! Role sessions issued by iam-sts: list them, revoke one, and AWS's "Revoke active
//! sessions" for a role.

use clap::Subcommand;
use serde_json::{Value, json};

use super::{Ctx, Op, Out};
use crate::authz::session;
use crate::store::PrincipalKind;

/// The inline policy name AWS's console uses for "Revoke active sessions".
pub const REVOKE_POLICY_NAME: &str = "AWSRevokeOlderSessions";

/// Role-session operations of `iam`.
#[derive(Debug, Subcommand)]
#[command(rename_all = "kebab-case")]
pub enum SessionCommand {
    /// List role sessions issued by iam-sts (active ones unless --all).
    ListRoleSessions {
        /// Only sessions of this role.
        #[arg(long)]
        role_name: Option<String>,
        /// Only sessions of this user.
        #[arg(long)]
        user_name: Option<String>,
        /// Include expired and revoked sessions.
        #[arg(long)]
        all: bool,
    },
    /// End one role session now (sudo through it stops at once).
    RevokeRoleSession {
        /// The session's ASIA… access key id (see list-role-sessions).
        #[arg(long)]
        access_key_id: String,
    },
    /// AWS's "Revoke active sessions": deny everything to the role's sessions issued
    /// before now (inline policy AWSRevokeOlderSessions on aws:TokenIssueTime).
    RevokeRoleSessions {
        /// Role name.
        #[arg(long)]
        role_name: String,
    },
}

/// The deny-older-sessions policy, as the AWS console writes it.
pub fn revoke_older_sessions_policy(now: i64) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": ["*"],
            "Resource": ["*"],
            "Condition": { "DateLessThan": { "aws:TokenIssueTime": crate::time::iso8601(now) } }
        }]
    })
    .to_string()
}

impl SessionCommand {
    /// The handler and whether it writes.
    pub(super) fn op(self) -> Op {
        match self {
            SessionCommand::ListRoleSessions {
                role_name,
                user_name,
                all,
            } => Op::read(move |ctx| list(ctx, role_name.as_deref(), user_name.as_deref(), all)),
            SessionCommand::RevokeRoleSession { access_key_id } => Op::write(move |ctx| {
                ctx.store.revoke_role_session(&access_key_id, ctx.now)?;
                Ok(Some(json!({ "RevokedAccessKeyId": access_key_id })))
            }),
            SessionCommand::RevokeRoleSessions { role_name } => {
                Op::write(move |ctx| revoke_older(ctx, &role_name))
            }
        }
    }
}

fn list(ctx: &Ctx, role_name: Option<&str>, user_name: Option<&str>, all: bool) -> Out {
    let (store, now) = (&ctx.store, ctx.now);
    let account = store.account_id()?;
    let live = if all { None } else { Some(now) };
    let mut list = Vec::new();
    for s in store.list_role_sessions(user_name, live)? {
        if role_name.is_some_and(|r| !r.eq_ignore_ascii_case(&s.role_name)) {
            continue;
        }
        // The one rule of iam-sts and sudo: a session whose role or user was replaced
        // since it was issued is not active, whatever its expiry says.
        let ended = session::ended(&**store, &s)?;
        let status = session::status(&s, ended.is_some(), now).as_str();
        let mut v = json!({
            "AccessKeyId": s.session_id,
            "UserName": s.user_name,
            "RoleName": s.role_name,
            "RoleSessionName": s.session_name,
            "Arn": crate::arn::assumed_role(&account, &s.role_name, &s.session_name),
            "Terminal": crate::sts::scope::describe_key(&s.scope),
            "IssuedAt": crate::time::iso8601(s.issued),
            "Expiration": crate::time::iso8601(s.expires),
            "MultiFactorAuthTime": s.mfa_time.map(crate::time::iso8601),
            "Status": status,
        });
        if s.of() != crate::store::SessionOf::Role {
            // A user's (or root's) own session from iamd's GetSessionToken: no role.
            for k in ["RoleName", "RoleSessionName", "Arn"] {
                v[k] = Value::Null;
            }
        }
        if let Some(why) = ended {
            v["EndedBecause"] = json!(why);
        }
        list.push(v);
    }
    Ok(Some(json!({ "RoleSessions": list })))
}

fn revoke_older(ctx: &Ctx, role_name: &str) -> Out {
    let doc = revoke_older_sessions_policy(ctx.now);
    ctx.store
        .put_inline_policy(PrincipalKind::Role, role_name, REVOKE_POLICY_NAME, &doc)?;
    Ok(Some(json!({
        "RoleName": role_name,
        "PolicyName": REVOKE_POLICY_NAME,
        "PolicyDocument": serde_json::from_str::<Value>(&doc).unwrap_or(Value::Null),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Policy, PolicyKind};

    /// `iam list-role-sessions` applies the rule iam-sts and sudo apply: a session of a
    /// role deleted and created again since is "Ended", never "Active".
    #[test]
    fn a_session_of_a_replaced_role_is_listed_as_ended() {
        use crate::store::prelude::*;
        use crate::store::{NewRole, NewUser, RoleSession, temp::TempStore};
        let t = TempStore::new();
        let s = t.open();
        let now = 1_800_000_000;
        let alice = s
            .create_user(
                &NewUser {
                    name: "alice".into(),
                    path: "/".into(),
                    ..Default::default()
                },
                now,
            )
            .unwrap();
        let role = |s: &dyn Store| {
            s.create_role(
                &NewRole {
                    name: "admin".into(),
                    path: "/".into(),
                    assume_role_policy_document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#.into(),
                    max_session_duration: 3600,
                    ..Default::default()
                },
                now,
            )
            .unwrap()
        };
        let old = role(&*s);
        s.create_role_session(&RoleSession {
            session_id: "ASIAAAAAAAAAAAAAAAA1".into(),
            user_name: "alice".into(),
            role_name: "admin".into(),
            session_name: "s1".into(),
            token_hash: "hash".into(),
            issued: now,
            expires: now + 900,
            scope: "tty:boot:34816:100:200".into(),
            role_id: Some(old.role_id),
            user_id: Some(alice.user_id),
            ..RoleSession::default()
        })
        .unwrap();
        let c = Ctx {
            store: &*s,
            now: now + 1,
            output: super::super::args::Output::Json,
            secrets_key: std::path::PathBuf::new(),
        };
        let listed =
            |c: &Ctx| list(c, None, None, false).unwrap().unwrap()["RoleSessions"][0].clone();
        assert_eq!(listed(&c)["Status"], "Active");
        c.store.delete_role("admin").unwrap();
        let new = role(c.store);
        let v = listed(&c);
        assert_eq!(v["Status"], "Ended", "{v}");
        let why = v["EndedBecause"].as_str().unwrap_or_default();
        assert!(
            why.contains("deleted and created again") && why.contains(&new.role_id),
            "{why}"
        );
    }

    #[test]
    fn revoke_policy_is_a_valid_role_policy() {
        let doc = revoke_older_sessions_policy(1_795_852_800);
        assert!(doc.contains("2026-11-28T08:00:00Z"));
        assert!(Policy::parse(&doc, PolicyKind::RoleInline).is_ok(), "{doc}");
    }
}
