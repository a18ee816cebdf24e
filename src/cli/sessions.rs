//! Role sessions issued by iam-sts: list them, revoke one, and AWS's "Revoke active
//! sessions" for a role.

use clap::Subcommand;
use serde_json::{Value, json};

use super::{Ctx, Op, Out};
use crate::store::PrincipalKind;
use crate::sts::model;

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
            "Condition": { "DateLessThan": { "aws:TokenIssueTime": model::iso8601(now) } }
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
        let status = if s.revoked.is_some() {
            "Revoked"
        } else if now >= s.expires {
            "Expired"
        } else {
            "Active"
        };
        list.push(json!({
            "AccessKeyId": s.session_id,
            "UserName": s.user_name,
            "RoleName": s.role_name,
            "RoleSessionName": s.session_name,
            "Arn": model::assumed_role_arn(&account, &s.role_name, &s.session_name),
            "Terminal": crate::sts::scope::describe_key(&s.scope),
            "IssuedAt": model::iso8601(s.issued),
            "Expiration": model::iso8601(s.expires),
            "MultiFactorAuthTime": s.mfa_time.map(model::iso8601),
            "Status": status,
        }));
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

    #[test]
    fn revoke_policy_is_a_valid_role_policy() {
        let doc = revoke_older_sessions_policy(1_795_852_800);
        assert!(doc.contains("2026-11-28T08:00:00Z"));
        assert!(Policy::parse(&doc, PolicyKind::RoleInline).is_ok(), "{doc}");
    }
}
