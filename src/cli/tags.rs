//! Tags of users and roles (`tag-user`, `tag-role`, …): one set of handlers for both,
//! since the store keeps them alike. Host tags are in `hosts`.

use super::{Ctx, Out, input};
use crate::store::TagTarget;
use serde_json::json;

/// Add or overwrite tags (`Key=k,Value=v` or JSON).
pub(super) fn tag(ctx: &Ctx, target: TagTarget, name: &str, tags: &[String]) -> Out {
    let tags = input::tags(tags)?;
    ctx.store.tag(target, name, &tags)?;
    Ok(None)
}

/// Remove tags by key.
pub(super) fn untag(ctx: &Ctx, target: TagTarget, name: &str, keys: &[String]) -> Out {
    ctx.store.untag(target, name, keys)?;
    Ok(None)
}

/// AWS `ListUserTags` / `ListRoleTags` shape.
pub(super) fn list(ctx: &Ctx, target: TagTarget, name: &str) -> Out {
    Ok(Some(
        json!({ "Tags": ctx.store.list_tags(target, name)?, "IsTruncated": false }),
    ))
}
