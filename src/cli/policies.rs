//! Policies: customer managed policies and their versions, attaching them to users,
//! groups and roles, and the inline policies of users, groups and roles.

use super::output::iso8601;
use super::{Ctx, Op, Out, input};
use crate::policy::PolicyKind;
use crate::store::{ManagedPolicy, NewPolicy, PolicyVersion, PrincipalKind};
use clap::{Subcommand, ValueEnum};
use serde_json::{Value, json};

/// Policy operations of `iam`.
#[derive(Debug, Subcommand)]
#[command(rename_all = "kebab-case")]
pub enum PolicyCommand {
    /// Create a customer managed policy (validated).
    CreatePolicy {
        /// Policy name.
        #[arg(long)]
        policy_name: String,
        /// JSON document, inline or file://PATH.
        #[arg(long)]
        policy_document: String,
        /// IAM path.
        #[arg(long, default_value = "/")]
        path: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Show a managed policy.
    GetPolicy {
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// List managed policies.
    ListPolicies {
        /// All, AWS (none here) or Local.
        #[arg(long, value_enum, default_value_t = Scope::All)]
        scope: Scope,
        /// Only policies attached to something.
        #[arg(long)]
        only_attached: bool,
        /// Path prefix.
        #[arg(long, default_value = "/")]
        path_prefix: String,
    },
    /// Delete an unattached managed policy with a single version.
    DeletePolicy {
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// Add a version to a managed policy (at most 5).
    CreatePolicyVersion {
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
        /// JSON document, inline or file://PATH.
        #[arg(long)]
        policy_document: String,
        /// Make it the default version.
        #[arg(long)]
        set_as_default: bool,
    },
    /// Show one version of a managed policy.
    GetPolicyVersion {
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
        /// `v1`, `v2`, …
        #[arg(long)]
        version_id: String,
    },
    /// List the versions of a managed policy.
    ListPolicyVersions {
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// Delete a non-default version.
    DeletePolicyVersion {
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
        /// Version id.
        #[arg(long)]
        version_id: String,
    },
    /// Make a version the default.
    SetDefaultPolicyVersion {
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
        /// Version id.
        #[arg(long)]
        version_id: String,
    },
    /// Attach a managed policy to a user.
    AttachUserPolicy {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// Attach a managed policy to a group.
    AttachGroupPolicy {
        /// Group name.
        #[arg(long)]
        group_name: String,
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// Attach a managed policy to a role.
    AttachRolePolicy {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// Detach a managed policy from a user.
    DetachUserPolicy {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// Detach a managed policy from a group.
    DetachGroupPolicy {
        /// Group name.
        #[arg(long)]
        group_name: String,
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// Detach a managed policy from a role.
    DetachRolePolicy {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// List managed policies attached to a user.
    ListAttachedUserPolicies {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// List managed policies attached to a group.
    ListAttachedGroupPolicies {
        /// Group name.
        #[arg(long)]
        group_name: String,
    },
    /// List managed policies attached to a role.
    ListAttachedRolePolicies {
        /// Role name.
        #[arg(long)]
        role_name: String,
    },
    /// List the users, groups and roles a managed policy is attached to.
    ListEntitiesForPolicy {
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// Create or replace a user's inline policy.
    PutUserPolicy {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Policy name.
        #[arg(long)]
        policy_name: String,
        /// JSON document, inline or file://PATH.
        #[arg(long)]
        policy_document: String,
    },
    /// Create or replace a group's inline policy.
    PutGroupPolicy {
        /// Group name.
        #[arg(long)]
        group_name: String,
        /// Policy name.
        #[arg(long)]
        policy_name: String,
        /// JSON document, inline or file://PATH.
        #[arg(long)]
        policy_document: String,
    },
    /// Create or replace a role's inline policy.
    PutRolePolicy {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Policy name.
        #[arg(long)]
        policy_name: String,
        /// JSON document, inline or file://PATH.
        #[arg(long)]
        policy_document: String,
    },
    /// Show a user's inline policy.
    GetUserPolicy {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Policy name.
        #[arg(long)]
        policy_name: String,
    },
    /// Show a group's inline policy.
    GetGroupPolicy {
        /// Group name.
        #[arg(long)]
        group_name: String,
        /// Policy name.
        #[arg(long)]
        policy_name: String,
    },
    /// Show a role's inline policy.
    GetRolePolicy {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Policy name.
        #[arg(long)]
        policy_name: String,
    },
    /// Delete a user's inline policy.
    DeleteUserPolicy {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Policy name.
        #[arg(long)]
        policy_name: String,
    },
    /// Delete a group's inline policy.
    DeleteGroupPolicy {
        /// Group name.
        #[arg(long)]
        group_name: String,
        /// Policy name.
        #[arg(long)]
        policy_name: String,
    },
    /// Delete a role's inline policy.
    DeleteRolePolicy {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Policy name.
        #[arg(long)]
        policy_name: String,
    },
    /// List a user's inline policy names.
    ListUserPolicies {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// List a group's inline policy names.
    ListGroupPolicies {
        /// Group name.
        #[arg(long)]
        group_name: String,
    },
    /// List a role's inline policy names.
    ListRolePolicies {
        /// Role name.
        #[arg(long)]
        role_name: String,
    },
}

/// `--scope` of list-policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scope {
    /// All policies.
    #[value(name = "All")]
    All,
    /// AWS managed (none in pam-iam).
    #[value(name = "AWS")]
    Aws,
    /// Customer managed.
    #[value(name = "Local")]
    Local,
}

impl PolicyCommand {
    /// The handler and whether it writes.
    pub(super) fn op(self) -> Op {
        use PolicyCommand::*;
        use PrincipalKind::{Group, Role, User};
        match self {
            CreatePolicy {
                policy_name,
                policy_document,
                path,
                description,
            } => Op::write(move |ctx| {
                create_policy(ctx, &policy_name, &policy_document, &path, description)
            }),
            GetPolicy { policy_arn } => Op::read(move |ctx| {
                Ok(Some(
                    json!({ "Policy": policy_json(&ctx.store.get_policy(&policy_arn)?) }),
                ))
            }),
            ListPolicies {
                scope,
                only_attached,
                path_prefix,
            } => Op::read(move |ctx| list_policies(ctx, scope, only_attached, &path_prefix)),
            DeletePolicy { policy_arn } => Op::write(move |ctx| {
                ctx.store.delete_policy(&policy_arn)?;
                Ok(None)
            }),
            CreatePolicyVersion {
                policy_arn,
                policy_document,
                set_as_default,
            } => Op::write(move |ctx| {
                create_version(ctx, &policy_arn, &policy_document, set_as_default)
            }),
            GetPolicyVersion {
                policy_arn,
                version_id,
            } => Op::read(move |ctx| {
                let v = ctx.store.get_policy_version(&policy_arn, &version_id)?;
                Ok(Some(json!({ "PolicyVersion": version_json(&v, true) })))
            }),
            ListPolicyVersions { policy_arn } => {
                Op::read(move |ctx| list_versions(ctx, &policy_arn))
            }
            DeletePolicyVersion {
                policy_arn,
                version_id,
            } => Op::write(move |ctx| {
                ctx.store.delete_policy_version(&policy_arn, &version_id)?;
                Ok(None)
            }),
            SetDefaultPolicyVersion {
                policy_arn,
                version_id,
            } => Op::write(move |ctx| {
                ctx.store
                    .set_default_policy_version(&policy_arn, &version_id, ctx.now)?;
                Ok(None)
            }),
            AttachUserPolicy {
                user_name,
                policy_arn,
            } => Op::write(attach(User, user_name, policy_arn)),
            AttachGroupPolicy {
                group_name,
                policy_arn,
            } => Op::write(attach(Group, group_name, policy_arn)),
            AttachRolePolicy {
                role_name,
                policy_arn,
            } => Op::write(attach(Role, role_name, policy_arn)),
            DetachUserPolicy {
                user_name,
                policy_arn,
            } => Op::write(detach(User, user_name, policy_arn)),
            DetachGroupPolicy {
                group_name,
                policy_arn,
            } => Op::write(detach(Group, group_name, policy_arn)),
            DetachRolePolicy {
                role_name,
                policy_arn,
            } => Op::write(detach(Role, role_name, policy_arn)),
            ListAttachedUserPolicies { user_name } => Op::read(list_attached(User, user_name)),
            ListAttachedGroupPolicies { group_name } => Op::read(list_attached(Group, group_name)),
            ListAttachedRolePolicies { role_name } => Op::read(list_attached(Role, role_name)),
            ListEntitiesForPolicy { policy_arn } => {
                Op::read(move |ctx| list_entities(ctx, &policy_arn))
            }

            PutUserPolicy {
                user_name,
                policy_name,
                policy_document,
            } => Op::write(put_inline(User, user_name, policy_name, policy_document)),
            PutGroupPolicy {
                group_name,
                policy_name,
                policy_document,
            } => Op::write(put_inline(Group, group_name, policy_name, policy_document)),
            PutRolePolicy {
                role_name,
                policy_name,
                policy_document,
            } => Op::write(put_inline(Role, role_name, policy_name, policy_document)),
            GetUserPolicy {
                user_name,
                policy_name,
            } => Op::read(get_inline(User, user_name, policy_name)),
            GetGroupPolicy {
                group_name,
                policy_name,
            } => Op::read(get_inline(Group, group_name, policy_name)),
            GetRolePolicy {
                role_name,
                policy_name,
            } => Op::read(get_inline(Role, role_name, policy_name)),
            DeleteUserPolicy {
                user_name,
                policy_name,
            } => Op::write(delete_inline(User, user_name, policy_name)),
            DeleteGroupPolicy {
                group_name,
                policy_name,
            } => Op::write(delete_inline(Group, group_name, policy_name)),
            DeleteRolePolicy {
                role_name,
                policy_name,
            } => Op::write(delete_inline(Role, role_name, policy_name)),
            ListUserPolicies { user_name } => Op::read(list_inline(User, user_name)),
            ListGroupPolicies { group_name } => Op::read(list_inline(Group, group_name)),
            ListRolePolicies { role_name } => Op::read(list_inline(Role, role_name)),
        }
    }
}

/// A stored document as JSON (AWS CLI prints documents decoded).
pub(super) fn doc_value(doc: &str) -> Value {
    serde_json::from_str(doc).unwrap_or_else(|_| Value::String(doc.to_string()))
}

/// AWS `Policy` shape.
pub(super) fn policy_json(p: &ManagedPolicy) -> Value {
    let mut v = json!({
        "PolicyName": p.name,
        "PolicyId": p.policy_id,
        "Arn": p.arn,
        "Path": p.path,
        "DefaultVersionId": p.default_version_id,
        "AttachmentCount": p.attachment_count,
        "PermissionsBoundaryUsageCount": p.permissions_boundary_usage_count,
        "IsAttachable": true,
        "CreateDate": iso8601(p.create_date),
        "UpdateDate": iso8601(p.update_date),
    });
    if let Some(d) = &p.description {
        v["Description"] = json!(d);
    }
    v
}

/// AWS `PolicyVersion` shape, with the document for get-policy-version.
fn version_json(v: &PolicyVersion, with_doc: bool) -> Value {
    let mut o = json!({ "VersionId": v.version_id, "IsDefaultVersion": v.is_default_version, "CreateDate": iso8601(v.create_date) });
    if with_doc {
        o["Document"] = doc_value(&v.document);
    }
    o
}

fn inline_kind(k: PrincipalKind) -> PolicyKind {
    match k {
        PrincipalKind::User => PolicyKind::UserInline,
        PrincipalKind::Group => PolicyKind::GroupInline,
        PrincipalKind::Role => PolicyKind::RoleInline,
    }
}

fn name_key(k: PrincipalKind) -> &'static str {
    match k {
        PrincipalKind::User => "UserName",
        PrincipalKind::Group => "GroupName",
        PrincipalKind::Role => "RoleName",
    }
}

fn create_policy(ctx: &Ctx, name: &str, doc: &str, path: &str, description: Option<String>) -> Out {
    input::entity_name("policy name", name, 128)?;
    input::path(path)?;
    let document = input::policy_document(doc, PolicyKind::Managed)?;
    let p = ctx.store.create_policy(
        &NewPolicy {
            name: name.into(),
            path: path.into(),
            description,
            document,
            tags: Vec::new(),
        },
        ctx.now,
    )?;
    Ok(Some(json!({ "Policy": policy_json(&p) })))
}

fn list_policies(ctx: &Ctx, scope: Scope, only_attached: bool, prefix: &str) -> Out {
    let list: Vec<Value> = if scope == Scope::Aws {
        Vec::new()
    } else {
        ctx.store
            .list_policies(prefix, only_attached)?
            .iter()
            .map(policy_json)
            .collect()
    };
    Ok(Some(json!({ "Policies": list, "IsTruncated": false })))
}

fn create_version(ctx: &Ctx, arn: &str, doc: &str, set_default: bool) -> Out {
    let document = input::policy_document(doc, PolicyKind::Managed)?;
    let v = ctx
        .store
        .create_policy_version(arn, &document, set_default, ctx.now)?;
    Ok(Some(json!({ "PolicyVersion": version_json(&v, false) })))
}

fn list_versions(ctx: &Ctx, arn: &str) -> Out {
    let list: Vec<Value> = ctx
        .store
        .list_policy_versions(arn)?
        .iter()
        .map(|v| version_json(v, false))
        .collect();
    Ok(Some(json!({ "Versions": list, "IsTruncated": false })))
}

fn attach(kind: PrincipalKind, name: String, arn: String) -> impl FnOnce(&Ctx) -> Out {
    move |ctx: &Ctx| {
        ctx.store.attach_policy(kind, &name, &arn)?;
        Ok(None)
    }
}

fn detach(kind: PrincipalKind, name: String, arn: String) -> impl FnOnce(&Ctx) -> Out {
    move |ctx: &Ctx| {
        ctx.store.detach_policy(kind, &name, &arn)?;
        Ok(None)
    }
}

fn list_attached(kind: PrincipalKind, name: String) -> impl FnOnce(&Ctx) -> Out {
    move |ctx: &Ctx| {
        let list: Vec<Value> = ctx
            .store
            .list_attached_policies(kind, &name)?
            .iter()
            .map(|a| json!({ "PolicyName": a.policy_name, "PolicyArn": a.policy_arn }))
            .collect();
        Ok(Some(
            json!({ "AttachedPolicies": list, "IsTruncated": false }),
        ))
    }
}

fn list_entities(ctx: &Ctx, arn: &str) -> Out {
    let e = ctx.store.list_entities_for_policy(arn)?;
    let pairs = |v: &[(String, String)], n: &str, i: &str| -> Vec<Value> {
        v.iter()
            .map(|(name, id)| json!({ n: name, i: id }))
            .collect()
    };
    Ok(Some(json!({
        "PolicyGroups": pairs(&e.groups, "GroupName", "GroupId"),
        "PolicyUsers": pairs(&e.users, "UserName", "UserId"),
        "PolicyRoles": pairs(&e.roles, "RoleName", "RoleId"),
        "IsTruncated": false,
    })))
}

fn put_inline(
    kind: PrincipalKind,
    name: String,
    policy_name: String,
    doc: String,
) -> impl FnOnce(&Ctx) -> Out {
    move |ctx: &Ctx| {
        input::entity_name("policy name", &policy_name, 128)?;
        let document = input::policy_document(&doc, inline_kind(kind))?;
        ctx.store
            .put_inline_policy(kind, &name, &policy_name, &document)?;
        Ok(None)
    }
}

fn get_inline(kind: PrincipalKind, name: String, policy_name: String) -> impl FnOnce(&Ctx) -> Out {
    move |ctx: &Ctx| {
        let doc = ctx.store.get_inline_policy(kind, &name, &policy_name)?;
        Ok(Some(
            json!({ name_key(kind): name, "PolicyName": policy_name, "PolicyDocument": doc_value(&doc) }),
        ))
    }
}

fn delete_inline(
    kind: PrincipalKind,
    name: String,
    policy_name: String,
) -> impl FnOnce(&Ctx) -> Out {
    move |ctx: &Ctx| {
        ctx.store.delete_inline_policy(kind, &name, &policy_name)?;
        Ok(None)
    }
}

fn list_inline(kind: PrincipalKind, name: String) -> impl FnOnce(&Ctx) -> Out {
    move |ctx: &Ctx| {
        Ok(Some(
            json!({ "PolicyNames": ctx.store.list_inline_policies(kind, &name)?, "IsTruncated": false }),
        ))
    }
}
