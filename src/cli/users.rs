//! Users: create, show, list, rename, delete; their tags and permissions boundary.

use super::output::iso8601;
use super::{Ctx, Op, Out, input, tags, userdb};
use crate::store::{NewUser, TagTarget, User};
use clap::Subcommand;
use serde_json::{Value, json};

/// User operations of `iam`.
#[derive(Debug, Subcommand)]
#[command(rename_all = "kebab-case")]
pub enum UserCommand {
    /// Create an IAM user; the name must be a valid Linux user name (it is the login name).
    CreateUser {
        /// Linux-valid name: lower-case letters, digits, `_`, `-`; at most 32 characters.
        #[arg(long)]
        user_name: String,
        /// IAM path, `/` or `/a/b/`.
        #[arg(long, default_value = "/")]
        path: String,
        /// Managed policy ARN to use as permissions boundary.
        #[arg(long)]
        permissions_boundary: Option<String>,
        /// Tags: `Key=k,Value=v ...` or JSON `[{"Key":"k","Value":"v"}]`.
        #[arg(long, num_args = 1..)]
        tags: Vec<String>,
        /// Linux uid for this user (fleets that must agree); default: the next free id
        /// of the range (see docs/userdb.md).
        #[arg(long)]
        uid: Option<u32>,
    },
    /// Show a user.
    GetUser {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// List users.
    ListUsers {
        /// Only users whose path starts with this.
        #[arg(long, default_value = "/")]
        path_prefix: String,
    },
    /// Rename a user or change its path.
    UpdateUser {
        /// Current name.
        #[arg(long)]
        user_name: String,
        /// New Linux-valid name.
        #[arg(long)]
        new_user_name: Option<String>,
        /// New path.
        #[arg(long)]
        new_path: Option<String>,
    },
    /// Delete a user (DeleteConflict while credentials, groups or policies remain).
    DeleteUser {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// Add or overwrite tags on a user (they become aws:PrincipalTag/KEY).
    TagUser {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Tags: `Key=k,Value=v ...` or JSON.
        #[arg(long, num_args = 1.., required = true)]
        tags: Vec<String>,
    },
    /// Remove tags from a user.
    UntagUser {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Keys to remove.
        #[arg(long, num_args = 1.., required = true)]
        tag_keys: Vec<String>,
    },
    /// List a user's tags.
    ListUserTags {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// Set a user's permissions boundary.
    PutUserPermissionsBoundary {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Managed policy ARN.
        #[arg(long)]
        permissions_boundary: String,
    },
    /// Remove a user's permissions boundary.
    DeleteUserPermissionsBoundary {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
}

impl UserCommand {
    /// The handler and whether it writes.
    pub(super) fn op(self) -> Op {
        use UserCommand::*;
        match self {
            CreateUser {
                user_name,
                path,
                permissions_boundary,
                tags,
                uid,
            } => Op::write(move |ctx| {
                userdb::with_explicit_uid(ctx, &user_name, uid, |ctx| {
                    create_user(ctx, &user_name, &path, permissions_boundary, &tags)
                })
            }),
            GetUser { user_name } => Op::read(move |ctx| get_user(ctx, &user_name)),
            ListUsers { path_prefix } => Op::read(move |ctx| list_users(ctx, &path_prefix)),
            UpdateUser {
                user_name,
                new_user_name,
                new_path,
            } => Op::write(move |ctx| update_user(ctx, &user_name, new_user_name, new_path)),
            DeleteUser { user_name } => Op::write(move |ctx| delete_user(ctx, &user_name)),
            TagUser { user_name, tags } => {
                Op::write(move |ctx| tags::tag(ctx, TagTarget::User, &user_name, &tags))
            }
            UntagUser {
                user_name,
                tag_keys,
            } => Op::write(move |ctx| tags::untag(ctx, TagTarget::User, &user_name, &tag_keys)),
            ListUserTags { user_name } => {
                Op::read(move |ctx| tags::list(ctx, TagTarget::User, &user_name))
            }
            PutUserPermissionsBoundary {
                user_name,
                permissions_boundary,
            } => Op::write(move |ctx| boundary(ctx, &user_name, Some(&permissions_boundary))),
            DeleteUserPermissionsBoundary { user_name } => {
                Op::write(move |ctx| boundary(ctx, &user_name, None))
            }
        }
    }
}

/// AWS `User` shape.
pub(super) fn user_json(u: &User) -> Value {
    let mut v = json!({
        "Path": u.path,
        "UserName": u.name,
        "UserId": u.user_id,
        "Arn": u.arn,
        "CreateDate": iso8601(u.create_date),
    });
    if let Some(t) = u.password_last_used {
        v["PasswordLastUsed"] = json!(iso8601(t));
    }
    if let Some(b) = &u.permissions_boundary {
        v["PermissionsBoundary"] =
            json!({"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": b});
    }
    if !u.tags.is_empty() {
        v["Tags"] = json!(u.tags);
    }
    v
}

fn create_user(
    ctx: &Ctx,
    name: &str,
    path: &str,
    boundary: Option<String>,
    tags: &[String],
) -> Out {
    input::user_name(name)?;
    input::path(path)?;
    let tags = input::tags(tags)?;
    let u = ctx.store.create_user(
        &NewUser {
            name: name.into(),
            path: path.into(),
            permissions_boundary: boundary,
            tags,
        },
        ctx.now,
    )?;
    Ok(Some(json!({ "User": user_json(&u) })))
}

fn get_user(ctx: &Ctx, name: &str) -> Out {
    Ok(Some(
        json!({ "User": user_json(&ctx.store.get_user(name)?) }),
    ))
}

fn list_users(ctx: &Ctx, prefix: &str) -> Out {
    let users: Vec<Value> = ctx
        .store
        .list_users(prefix)?
        .iter()
        .map(user_json)
        .collect();
    Ok(Some(json!({ "Users": users })))
}

fn update_user(ctx: &Ctx, name: &str, new_name: Option<String>, new_path: Option<String>) -> Out {
    if let Some(n) = &new_name {
        input::user_name(n)?;
    }
    if let Some(p) = &new_path {
        input::path(p)?;
    }
    ctx.store
        .update_user(name, new_name.as_deref(), new_path.as_deref())?;
    Ok(None)
}

fn delete_user(ctx: &Ctx, name: &str) -> Out {
    ctx.store.delete_user(name)?;
    Ok(None)
}

fn boundary(ctx: &Ctx, name: &str, arn: Option<&str>) -> Out {
    ctx.store.set_user_boundary(name, arn)?;
    Ok(None)
}
