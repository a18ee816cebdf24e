//! Access keys: create (the secret is shown once), list, activate or deactivate,
//! delete, and when each was last used.

use super::args::KeyStatusArg;
use super::output::iso8601;
use super::{CliError, Ctx, Op, Out};
use crate::credentials::{self, ids};
use clap::Subcommand;
use serde_json::{Value, json};

/// Access-key operations of `iam`.
#[derive(Debug, Subcommand)]
#[command(rename_all = "kebab-case")]
pub enum AccessKeyCommand {
    /// Create an access key; the secret is shown only now (at most 2 per user).
    CreateAccessKey {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// List a user's access keys.
    ListAccessKeys {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// Activate or deactivate an access key.
    UpdateAccessKey {
        /// Key id.
        #[arg(long)]
        access_key_id: String,
        /// Active or Inactive.
        #[arg(long, value_enum)]
        status: KeyStatusArg,
        /// Owner (default: found from the key).
        #[arg(long)]
        user_name: Option<String>,
    },
    /// Delete an access key.
    DeleteAccessKey {
        /// Key id.
        #[arg(long)]
        access_key_id: String,
        /// Owner (default: found from the key).
        #[arg(long)]
        user_name: Option<String>,
    },
    /// When and where an access key was last used.
    GetAccessKeyLastUsed {
        /// Key id.
        #[arg(long)]
        access_key_id: String,
    },
}

impl AccessKeyCommand {
    /// The handler and whether it writes.
    pub(super) fn op(self) -> Op {
        use AccessKeyCommand::*;
        match self {
            CreateAccessKey { user_name } => Op::write(move |ctx| create(ctx, &user_name)),
            ListAccessKeys { user_name } => Op::read(move |ctx| list(ctx, &user_name)),
            UpdateAccessKey {
                access_key_id,
                status,
                user_name,
            } => Op::write(move |ctx| {
                let user = owner(ctx, &access_key_id, user_name)?;
                ctx.store
                    .update_access_key(&user, &access_key_id, status.into())?;
                Ok(None)
            }),
            DeleteAccessKey {
                access_key_id,
                user_name,
            } => Op::write(move |ctx| {
                let user = owner(ctx, &access_key_id, user_name)?;
                ctx.store.delete_access_key(&user, &access_key_id)?;
                Ok(None)
            }),
            GetAccessKeyLastUsed { access_key_id } => {
                Op::read(move |ctx| last_used(ctx, &access_key_id))
            }
        }
    }
}

fn create(ctx: &Ctx, user: &str) -> Out {
    let id = ids::new_id(ids::IdKind::AccessKey)?;
    let secret = ids::new_secret_access_key()?;
    let k = ctx.store.create_access_key(
        user,
        &id,
        &credentials::sha256_hex(secret.as_bytes()),
        ctx.now,
    )?;
    Ok(Some(json!({ "AccessKey": {
        "UserName": k.user_name,
        "AccessKeyId": k.access_key_id,
        "Status": k.status.as_str(),
        "SecretAccessKey": secret.as_str(),
        "CreateDate": iso8601(k.create_date),
    }})))
}

fn list(ctx: &Ctx, user: &str) -> Out {
    let list: Vec<Value> = ctx
        .store
        .list_access_keys(user)?
        .iter()
        .map(|k| json!({ "UserName": k.user_name, "AccessKeyId": k.access_key_id, "Status": k.status.as_str(), "CreateDate": iso8601(k.create_date) }))
        .collect();
    Ok(Some(
        json!({ "AccessKeyMetadata": list, "IsTruncated": false }),
    ))
}

/// `--user-name`, or the key's owner when it is left out.
fn owner(ctx: &Ctx, key_id: &str, user: Option<String>) -> Result<String, CliError> {
    match user {
        Some(u) => Ok(u),
        None => Ok(ctx.store.get_access_key(key_id)?.user_name),
    }
}

fn last_used(ctx: &Ctx, key_id: &str) -> Out {
    let k = ctx.store.get_access_key(key_id)?;
    let mut last = json!({ "ServiceName": k.last_used_service.clone().unwrap_or_else(|| "N/A".into()), "Region": "N/A" });
    if let Some(t) = k.last_used_date {
        last["LastUsedDate"] = json!(iso8601(t));
    }
    Ok(Some(
        json!({ "UserName": k.user_name, "AccessKeyLastUsed": last }),
    ))
}
