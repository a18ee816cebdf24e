//! Roles users assume with iam-sts: create, show, list, change, delete; their trust
//! policy, tags and permissions boundary. A role's policies are in `policies`, its
//! sessions in `sessions`.

use super::output::iso8601;
use super::policies::doc_value;
use super::{CliError, Ctx, Op, Out, input, tags};
use crate::policy::PolicyKind;
use crate::store::{NewRole, Role, TagTarget};
use clap::Subcommand;
use serde_json::{Value, json};

/// Role operations of `iam`.
#[derive(Debug, Subcommand)]
#[command(rename_all = "kebab-case")]
pub enum RoleCommand {
    /// Create a role users can assume with iam-sts.
    CreateRole {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Trust policy, inline or file://PATH.
        #[arg(long)]
        assume_role_policy_document: String,
        /// IAM path.
        #[arg(long, default_value = "/")]
        path: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// 3600..=43200 seconds.
        #[arg(long, default_value_t = 3600)]
        max_session_duration: i64,
        /// Managed policy ARN used as boundary.
        #[arg(long)]
        permissions_boundary: Option<String>,
        /// Tags.
        #[arg(long, num_args = 1..)]
        tags: Vec<String>,
    },
    /// Show a role.
    GetRole {
        /// Role name.
        #[arg(long)]
        role_name: String,
    },
    /// List roles.
    ListRoles {
        /// Path prefix.
        #[arg(long, default_value = "/")]
        path_prefix: String,
    },
    /// Change a role's description or maximum session duration.
    UpdateRole {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// 3600..=43200 seconds.
        #[arg(long)]
        max_session_duration: Option<i64>,
    },
    /// Replace a role's trust policy.
    UpdateAssumeRolePolicy {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Trust policy, inline or file://PATH.
        #[arg(long)]
        policy_document: String,
    },
    /// Delete a role without policies.
    DeleteRole {
        /// Role name.
        #[arg(long)]
        role_name: String,
    },
    /// Add or overwrite tags on a role.
    TagRole {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Tags.
        #[arg(long, num_args = 1.., required = true)]
        tags: Vec<String>,
    },
    /// Remove tags from a role.
    UntagRole {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Keys.
        #[arg(long, num_args = 1.., required = true)]
        tag_keys: Vec<String>,
    },
    /// List a role's tags.
    ListRoleTags {
        /// Role name.
        #[arg(long)]
        role_name: String,
    },
    /// List the instance profiles of a role: always none (pam-iam has no EC2 instance
    /// profiles); clients such as Terraform's AWS provider ask before deleting a role.
    ListInstanceProfilesForRole {
        /// Role name.
        #[arg(long)]
        role_name: String,
    },
    /// Set a role's permissions boundary.
    PutRolePermissionsBoundary {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Managed policy ARN.
        #[arg(long)]
        permissions_boundary: String,
    },
    /// Remove a role's permissions boundary.
    DeleteRolePermissionsBoundary {
        /// Role name.
        #[arg(long)]
        role_name: String,
    },
}

impl RoleCommand {
    /// The handler and whether it writes.
    pub(super) fn op(self) -> Op {
        use RoleCommand::*;
        match self {
            CreateRole {
                role_name,
                assume_role_policy_document,
                path,
                description,
                max_session_duration,
                permissions_boundary,
                tags,
            } => {
                let r = RoleInput {
                    name: role_name,
                    trust: assume_role_policy_document,
                    path,
                    description,
                    max_session_duration,
                    permissions_boundary,
                    tags,
                };
                Op::write(move |ctx| create_role(ctx, r))
            }
            GetRole { role_name } => Op::read(move |ctx| {
                Ok(Some(
                    json!({ "Role": role_json(&ctx.store.get_role(&role_name)?) }),
                ))
            }),
            ListRoles { path_prefix } => Op::read(move |ctx| list_roles(ctx, &path_prefix)),
            UpdateRole {
                role_name,
                description,
                max_session_duration,
            } => Op::write(move |ctx| {
                update_role(ctx, &role_name, description, max_session_duration)
            }),
            UpdateAssumeRolePolicy {
                role_name,
                policy_document,
            } => Op::write(move |ctx| {
                let trust = input::policy_document(&policy_document, PolicyKind::Trust)?;
                ctx.store.update_assume_role_policy(&role_name, &trust)?;
                Ok(None)
            }),
            DeleteRole { role_name } => Op::write(move |ctx| {
                ctx.store.delete_role(&role_name)?;
                Ok(None)
            }),
            TagRole { role_name, tags } => {
                Op::write(move |ctx| tags::tag(ctx, TagTarget::Role, &role_name, &tags))
            }
            UntagRole {
                role_name,
                tag_keys,
            } => Op::write(move |ctx| tags::untag(ctx, TagTarget::Role, &role_name, &tag_keys)),
            ListRoleTags { role_name } => {
                Op::read(move |ctx| tags::list(ctx, TagTarget::Role, &role_name))
            }
            ListInstanceProfilesForRole { role_name } => Op::read(move |ctx| {
                ctx.store.get_role(&role_name)?;
                Ok(Some(
                    json!({ "InstanceProfiles": [], "IsTruncated": false }),
                ))
            }),
            PutRolePermissionsBoundary {
                role_name,
                permissions_boundary,
            } => Op::write(move |ctx| {
                ctx.store
                    .set_role_boundary(&role_name, Some(&permissions_boundary))?;
                Ok(None)
            }),
            DeleteRolePermissionsBoundary { role_name } => Op::write(move |ctx| {
                ctx.store.set_role_boundary(&role_name, None)?;
                Ok(None)
            }),
        }
    }
}

/// AWS `Role` shape.
pub(super) fn role_json(r: &Role) -> Value {
    let mut v = json!({
        "Path": r.path,
        "RoleName": r.name,
        "RoleId": r.role_id,
        "Arn": r.arn,
        "CreateDate": iso8601(r.create_date),
        "AssumeRolePolicyDocument": doc_value(&r.assume_role_policy_document),
        "MaxSessionDuration": r.max_session_duration,
    });
    if let Some(d) = &r.description {
        v["Description"] = json!(d);
    }
    if let Some(b) = &r.permissions_boundary {
        v["PermissionsBoundary"] =
            json!({"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": b});
    }
    if !r.tags.is_empty() {
        v["Tags"] = json!(r.tags);
    }
    v
}

/// create-role's arguments.
struct RoleInput {
    name: String,
    trust: String,
    path: String,
    description: Option<String>,
    max_session_duration: i64,
    permissions_boundary: Option<String>,
    tags: Vec<String>,
}

fn check_duration(d: i64) -> Result<(), CliError> {
    if (3600..=43200).contains(&d) {
        Ok(())
    } else {
        Err(CliError::validation(format!(
            "MaxSessionDuration {d} must be between 3600 and 43200 seconds"
        )))
    }
}

fn create_role(ctx: &Ctx, r: RoleInput) -> Out {
    input::entity_name("role name", &r.name, 64)?;
    input::path(&r.path)?;
    check_duration(r.max_session_duration)?;
    let trust = input::policy_document(&r.trust, PolicyKind::Trust)?;
    let tags = input::tags(&r.tags)?;
    let role = ctx.store.create_role(
        &NewRole {
            name: r.name,
            path: r.path,
            assume_role_policy_document: trust,
            description: r.description,
            max_session_duration: r.max_session_duration,
            permissions_boundary: r.permissions_boundary,
            tags,
        },
        ctx.now,
    )?;
    Ok(Some(json!({ "Role": role_json(&role) })))
}

fn list_roles(ctx: &Ctx, prefix: &str) -> Out {
    let list: Vec<Value> = ctx
        .store
        .list_roles(prefix)?
        .iter()
        .map(role_json)
        .collect();
    Ok(Some(json!({ "Roles": list, "IsTruncated": false })))
}

fn update_role(ctx: &Ctx, name: &str, description: Option<String>, max: Option<i64>) -> Out {
    if let Some(d) = max {
        check_duration(d)?;
    }
    ctx.store.update_role(name, description.as_deref(), max)?;
    Ok(None)
}
