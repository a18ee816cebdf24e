//! Access keys: create (the secret is shown once), list, activate or deactivate,
//! delete, and when each was last used.

use super::args::KeyStatusArg;
use super::output::iso8601;
use super::{CliError, Ctx, Op, Out};
use crate::credentials::{self, ids};
use crate::store::{AccessKey, StoreError};
use clap::Subcommand;
use serde_json::{Value, json};

/// Access-key operations of `iam`.
#[derive(Debug, Subcommand)]
#[command(rename_all = "kebab-case")]
pub enum AccessKeyCommand {
    /// Create an access key; the secret is shown only now (at most 2 per user). Without
    /// --user-name: a key of the account root user (arn:aws:iam::ACCT:root), the
    /// break-glass credential for iamd, allowed every action (at most 2).
    CreateAccessKey {
        /// User name (default: the account root user).
        #[arg(long)]
        user_name: Option<String>,
    },
    /// List a user's access keys (without --user-name: the root user's).
    ListAccessKeys {
        /// User name (default: the account root user).
        #[arg(long)]
        user_name: Option<String>,
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
            CreateAccessKey { user_name } => {
                Op::write(move |ctx| create(ctx, user_name.as_deref()))
            }
            ListAccessKeys { user_name } => Op::read(move |ctx| list(ctx, user_name.as_deref())),
            UpdateAccessKey {
                access_key_id,
                status,
                user_name,
            } => Op::write(move |ctx| {
                match owner(ctx, &access_key_id, user_name)? {
                    Some(user) => {
                        ctx.store
                            .update_access_key(&user, &access_key_id, status.into())?
                    }
                    None => ctx
                        .store
                        .update_root_access_key(&access_key_id, status.into())?,
                }
                Ok(None)
            }),
            DeleteAccessKey {
                access_key_id,
                user_name,
            } => Op::write(move |ctx| {
                match owner(ctx, &access_key_id, user_name)? {
                    Some(user) => ctx.store.delete_access_key(&user, &access_key_id)?,
                    None => ctx.store.delete_root_access_key(&access_key_id)?,
                }
                Ok(None)
            }),
            GetAccessKeyLastUsed { access_key_id } => {
                Op::read(move |ctx| last_used(ctx, &access_key_id))
            }
        }
    }
}

/// A new key of `user` (`None`: of the root user), its secret sealed under the store's
/// secrets key so `iamd` can verify the key's signatures; only a hash is kept besides.
fn create(ctx: &Ctx, user: Option<&str>) -> Out {
    let id = ids::new_id(ids::IdKind::AccessKey)?;
    let secret = ids::new_secret_access_key()?;
    let key = credentials::key_file::load_or_create(&ctx.secrets_key)
        .map_err(|e| CliError::new("ServiceFailure", format!("the secrets key: {e}")))?;
    let sealed = credentials::sealed::seal(&key, &id, secret.as_bytes())?;
    let hash = credentials::sha256_hex(secret.as_bytes());
    let k = match user {
        Some(user) => crate::store::atomically(ctx.store, |s| {
            let k = s.create_access_key(user, &id, &hash, ctx.now)?;
            s.set_access_key_secret(&id, &sealed)?;
            Ok(k)
        })?,
        None => ctx
            .store
            .create_root_access_key(&id, &hash, &sealed, ctx.now)?,
    };
    let mut v = key_json(&k);
    v["SecretAccessKey"] = json!(secret.as_str());
    Ok(Some(json!({ "AccessKey": v })))
}

/// AWS `AccessKeyMetadata` (a root key has no `UserName`).
fn key_json(k: &AccessKey) -> Value {
    let mut v = json!({
        "UserName": k.user_name,
        "AccessKeyId": k.access_key_id,
        "Status": k.status.as_str(),
        "CreateDate": iso8601(k.create_date),
    });
    if k.user_name.is_empty() {
        v.as_object_mut().map(|o| o.remove("UserName"));
    }
    v
}

/// Keys made before secrets were sealed (migration 6): only a hash is kept, they cannot
/// sign requests, and listings and the credential report say they need rotation.
pub(crate) fn needs_rotation(ctx: &Ctx, key_id: &str) -> Result<bool, CliError> {
    Ok(ctx
        .store
        .access_key_credential(key_id)?
        .sealed_secret
        .is_none())
}

/// The warning for keys that need rotation, naming them (`None` when there are none).
pub fn rotation_warning(keys: &[AccessKey]) -> Option<String> {
    if keys.is_empty() {
        return None;
    }
    let names: Vec<String> = keys
        .iter()
        .map(|k| {
            let owner = if k.user_name.is_empty() {
                "root"
            } else {
                &k.user_name
            };
            format!("{} ({owner})", k.access_key_id)
        })
        .collect();
    Some(format!(
        "{} access key(s) made before secrets were sealed keep only a hash and cannot sign requests: {}; rotate them (iam create-access-key, then iam delete-access-key)",
        keys.len(),
        names.join(", ")
    ))
}

fn list(ctx: &Ctx, user: Option<&str>) -> Out {
    let keys = match user {
        Some(user) => ctx.store.list_access_keys(user)?,
        None => ctx.store.list_root_access_keys()?,
    };
    let mut list = Vec::with_capacity(keys.len());
    for k in &keys {
        let mut v = key_json(k);
        if needs_rotation(ctx, &k.access_key_id)? {
            v["NeedsRotation"] = json!(true);
        }
        list.push(v);
    }
    Ok(Some(
        json!({ "AccessKeyMetadata": list, "IsTruncated": false }),
    ))
}

/// `--user-name`, or the key's owner when it is left out (`None`: the root user).
fn owner(ctx: &Ctx, key_id: &str, user: Option<String>) -> Result<Option<String>, CliError> {
    match user {
        Some(u) => Ok(Some(u)),
        None => {
            let c = ctx.store.access_key_credential(key_id)?;
            Ok((!c.root).then_some(c.key.user_name))
        }
    }
}

fn last_used(ctx: &Ctx, key_id: &str) -> Out {
    let k = match ctx.store.get_access_key(key_id) {
        Ok(k) => k,
        // A root key answers too, as on AWS (its user is `root`).
        Err(e @ StoreError::NoSuchEntity(_)) => {
            let root = ctx
                .store
                .list_root_access_keys()
                .unwrap_or_default()
                .into_iter()
                .find(|k| k.access_key_id == key_id);
            match root {
                Some(k) => AccessKey {
                    user_name: "root".into(),
                    ..k
                },
                None => return Err(e.into()),
            }
        }
        Err(e) => return Err(e.into()),
    };
    let mut last = json!({ "ServiceName": k.last_used_service.clone().unwrap_or_else(|| "N/A".into()), "Region": "N/A" });
    if let Some(t) = k.last_used_date {
        last["LastUsedDate"] = json!(iso8601(t));
    }
    Ok(Some(
        json!({ "UserName": k.user_name, "AccessKeyLastUsed": last }),
    ))
}
