//! Groups and their members.

use super::output::iso8601;
use super::users::user_json;
use super::{CliError, Ctx, Op, Out, input};
use crate::store::Group;
use clap::Subcommand;
use serde_json::{Value, json};

/// Group operations of `iam`.
#[derive(Debug, Subcommand)]
#[command(rename_all = "kebab-case")]
pub enum GroupCommand {
    /// Create a group.
    CreateGroup {
        /// Group name.
        #[arg(long)]
        group_name: String,
        /// IAM path.
        #[arg(long, default_value = "/")]
        path: String,
    },
    /// Show a group and its members.
    GetGroup {
        /// Group name.
        #[arg(long)]
        group_name: String,
    },
    /// List groups.
    ListGroups {
        /// Path prefix.
        #[arg(long, default_value = "/")]
        path_prefix: String,
    },
    /// List the groups a user is in.
    ListGroupsForUser {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// Add a user to a group.
    AddUserToGroup {
        /// Group name.
        #[arg(long)]
        group_name: String,
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// Remove a user from a group.
    RemoveUserFromGroup {
        /// Group name.
        #[arg(long)]
        group_name: String,
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// Rename a group or change its path.
    UpdateGroup {
        /// Group name.
        #[arg(long)]
        group_name: String,
        /// New name.
        #[arg(long)]
        new_group_name: Option<String>,
        /// New path.
        #[arg(long)]
        new_path: Option<String>,
    },
    /// Delete an empty group without policies.
    DeleteGroup {
        /// Group name.
        #[arg(long)]
        group_name: String,
    },
}

impl GroupCommand {
    /// The handler and whether it writes.
    pub(super) fn op(self) -> Op {
        use GroupCommand::*;
        match self {
            CreateGroup { group_name, path } => {
                Op::write(move |ctx| create_group(ctx, &group_name, &path))
            }
            GetGroup { group_name } => Op::read(move |ctx| get_group(ctx, &group_name)),
            ListGroups { path_prefix } => Op::read(move |ctx| list_groups(ctx, &path_prefix)),
            ListGroupsForUser { user_name } => {
                Op::read(move |ctx| list_groups_for_user(ctx, &user_name))
            }
            AddUserToGroup {
                group_name,
                user_name,
            } => Op::write(move |ctx| {
                ctx.store.add_user_to_group(&group_name, &user_name)?;
                Ok(None)
            }),
            RemoveUserFromGroup {
                group_name,
                user_name,
            } => Op::write(move |ctx| {
                ctx.store.remove_user_from_group(&group_name, &user_name)?;
                Ok(None)
            }),
            UpdateGroup {
                group_name,
                new_group_name,
                new_path,
            } => Op::write(move |ctx| update_group(ctx, &group_name, new_group_name, new_path)),
            DeleteGroup { group_name } => Op::write(move |ctx| {
                ctx.store.delete_group(&group_name)?;
                Ok(None)
            }),
        }
    }
}

/// AWS `Group` shape.
pub(super) fn group_json(g: &Group) -> Value {
    json!({
        "Path": g.path,
        "GroupName": g.name,
        "GroupId": g.group_id,
        "Arn": g.arn,
        "CreateDate": iso8601(g.create_date),
    })
}

fn create_group(ctx: &Ctx, name: &str, path: &str) -> Out {
    input::entity_name("group name", name, 128)?;
    input::path(path)?;
    let g = ctx.store.create_group(name, path, ctx.now)?;
    Ok(Some(json!({ "Group": group_json(&g) })))
}

fn get_group(ctx: &Ctx, name: &str) -> Out {
    let g = ctx.store.get_group(name)?;
    let users: Vec<Value> = ctx
        .store
        .group_members(name)?
        .iter()
        .map(user_json)
        .collect();
    Ok(Some(
        json!({ "Users": users, "Group": group_json(&g), "IsTruncated": false }),
    ))
}

fn groups_json(groups: &[Group]) -> Out {
    let groups: Vec<Value> = groups.iter().map(group_json).collect();
    Ok(Some(json!({ "Groups": groups })))
}

fn list_groups(ctx: &Ctx, prefix: &str) -> Out {
    groups_json(&ctx.store.list_groups(prefix)?)
}

fn list_groups_for_user(ctx: &Ctx, user: &str) -> Out {
    groups_json(&ctx.store.list_groups_for_user(user)?)
}

fn update_group(ctx: &Ctx, name: &str, new_name: Option<String>, new_path: Option<String>) -> Out {
    if let Some(n) = &new_name {
        input::entity_name("group name", n, 128)?;
    }
    if let Some(p) = &new_path {
        input::path(p)?;
    }
    if new_name.is_none() && new_path.is_none() {
        return Err(CliError::validation(
            "Give --new-group-name and/or --new-path",
        ));
    }
    ctx.store
        .update_group(name, new_name.as_deref(), new_path.as_deref())?;
    Ok(None)
}
