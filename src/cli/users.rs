//! Users, their tags and boundaries, and groups.

use super::output::iso8601;
use super::{CliError, Ctx, Out, input};
use crate::store::{Group, NewUser, TagTarget, User};
use serde_json::{Value, json};

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

pub(super) fn create_user(
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

pub(super) fn get_user(ctx: &Ctx, name: &str) -> Out {
    Ok(Some(
        json!({ "User": user_json(&ctx.store.get_user(name)?) }),
    ))
}

pub(super) fn list_users(ctx: &Ctx, prefix: &str) -> Out {
    let users: Vec<Value> = ctx
        .store
        .list_users(prefix)?
        .iter()
        .map(user_json)
        .collect();
    Ok(Some(json!({ "Users": users })))
}

pub(super) fn update_user(
    ctx: &Ctx,
    name: &str,
    new_name: Option<String>,
    new_path: Option<String>,
) -> Out {
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

pub(super) fn delete_user(ctx: &Ctx, name: &str) -> Out {
    ctx.store.delete_user(name)?;
    Ok(None)
}

pub(super) fn tag(ctx: &Ctx, target: TagTarget, name: &str, tags: &[String]) -> Out {
    let tags = input::tags(tags)?;
    ctx.store.tag(target, name, &tags)?;
    Ok(None)
}

pub(super) fn untag(ctx: &Ctx, target: TagTarget, name: &str, keys: &[String]) -> Out {
    ctx.store.untag(target, name, keys)?;
    Ok(None)
}

pub(super) fn list_tags(ctx: &Ctx, target: TagTarget, name: &str) -> Out {
    Ok(Some(
        json!({ "Tags": ctx.store.list_tags(target, name)?, "IsTruncated": false }),
    ))
}

pub(super) fn user_boundary(ctx: &Ctx, name: &str, arn: Option<&str>) -> Out {
    ctx.store.set_user_boundary(name, arn)?;
    Ok(None)
}

pub(super) fn create_group(ctx: &Ctx, name: &str, path: &str) -> Out {
    input::entity_name("group name", name, 128)?;
    input::path(path)?;
    let g = ctx.store.create_group(name, path, ctx.now)?;
    Ok(Some(json!({ "Group": group_json(&g) })))
}

pub(super) fn get_group(ctx: &Ctx, name: &str) -> Out {
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

pub(super) fn list_groups(ctx: &Ctx, prefix: &str) -> Out {
    let groups: Vec<Value> = ctx
        .store
        .list_groups(prefix)?
        .iter()
        .map(group_json)
        .collect();
    Ok(Some(json!({ "Groups": groups })))
}

pub(super) fn list_groups_for_user(ctx: &Ctx, user: &str) -> Out {
    let groups: Vec<Value> = ctx
        .store
        .list_groups_for_user(user)?
        .iter()
        .map(group_json)
        .collect();
    Ok(Some(json!({ "Groups": groups })))
}

pub(super) fn add_user_to_group(ctx: &Ctx, group: &str, user: &str) -> Out {
    ctx.store.add_user_to_group(group, user)?;
    Ok(None)
}

pub(super) fn remove_user_from_group(ctx: &Ctx, group: &str, user: &str) -> Out {
    ctx.store.remove_user_from_group(group, user)?;
    Ok(None)
}

pub(super) fn update_group(
    ctx: &Ctx,
    name: &str,
    new_name: Option<String>,
    new_path: Option<String>,
) -> Out {
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

pub(super) fn delete_group(ctx: &Ctx, name: &str) -> Out {
    ctx.store.delete_group(name)?;
    Ok(None)
}
