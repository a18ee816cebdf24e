//! SSH public keys: upload (checked and fingerprinted), list, show, activate or
//! deactivate, delete. iam-authorized-keys serves them to sshd.

use super::args::KeyStatusArg;
use super::output::iso8601;
use super::{CliError, Ctx, Op, Out, input};
use crate::credentials::ids;
use crate::store::SshKey;
use crate::userdb::keys::KEY_TYPES;
use clap::{Subcommand, ValueEnum};
use serde_json::{Value, json};

/// SSH-key operations of `iam`.
#[derive(Debug, Subcommand)]
#[command(rename_all = "kebab-case")]
pub enum SshKeyCommand {
    /// Upload an OpenSSH public key for a user (served by iam-authorized-keys).
    UploadSshPublicKey {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// The key line, or file://PATH.
        #[arg(long)]
        ssh_public_key_body: String,
    },
    /// List a user's SSH public keys.
    ListSshPublicKeys {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// Show one SSH public key.
    GetSshPublicKey {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Key id (APKA…).
        #[arg(long)]
        ssh_public_key_id: String,
        /// Output encoding.
        #[arg(long, value_enum, default_value_t = Encoding::Ssh)]
        encoding: Encoding,
    },
    /// Activate or deactivate an SSH public key.
    UpdateSshPublicKey {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Key id.
        #[arg(long)]
        ssh_public_key_id: String,
        /// Active or Inactive.
        #[arg(long, value_enum)]
        status: KeyStatusArg,
    },
    /// Delete an SSH public key.
    DeleteSshPublicKey {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Key id.
        #[arg(long)]
        ssh_public_key_id: String,
    },
}

/// `--encoding` of get-ssh-public-key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Encoding {
    /// OpenSSH one-line format.
    #[value(name = "SSH")]
    Ssh,
    /// PEM (returned as the OpenSSH line; PEM conversion is not supported).
    #[value(name = "PEM")]
    Pem,
}

impl SshKeyCommand {
    /// The handler and whether it writes.
    pub(super) fn op(self) -> Op {
        use SshKeyCommand::*;
        match self {
            UploadSshPublicKey {
                user_name,
                ssh_public_key_body,
            } => Op::write(move |ctx| upload(ctx, &user_name, &ssh_public_key_body)),
            ListSshPublicKeys { user_name } => Op::read(move |ctx| list(ctx, &user_name)),
            GetSshPublicKey {
                user_name,
                ssh_public_key_id,
                ..
            } => Op::read(move |ctx| {
                let k = ctx
                    .store
                    .get_ssh_public_key(&user_name, &ssh_public_key_id)?;
                Ok(Some(json!({ "SSHPublicKey": ssh_json(&k, true) })))
            }),
            UpdateSshPublicKey {
                user_name,
                ssh_public_key_id,
                status,
            } => Op::write(move |ctx| {
                ctx.store
                    .update_ssh_public_key(&user_name, &ssh_public_key_id, status.into())?;
                Ok(None)
            }),
            DeleteSshPublicKey {
                user_name,
                ssh_public_key_id,
            } => Op::write(move |ctx| {
                ctx.store
                    .delete_ssh_public_key(&user_name, &ssh_public_key_id)?;
                Ok(None)
            }),
        }
    }
}

/// Check an OpenSSH public key line and compute its `SHA256:` fingerprint (as
/// `ssh-keygen -l` prints it). Returns (normalised line, fingerprint).
fn fingerprint(body: &str) -> Result<(String, String), CliError> {
    use base64ct::Encoding as _;
    use sha2::Digest;
    let bad = |why: &str| {
        CliError::new(
            "InvalidPublicKey",
            format!("The public key is invalid: {why}"),
        )
    };
    let mut parts = body.split_whitespace();
    let (Some(kind), Some(b64)) = (parts.next(), parts.next()) else {
        return Err(bad("expected `TYPE BASE64 [COMMENT]`"));
    };
    if !KEY_TYPES.contains(&kind) {
        return Err(CliError::new(
            "UnrecognizedPublicKeyEncoding",
            format!("Unsupported key type {kind}"),
        ));
    }
    let blob = base64ct::Base64::decode_vec(b64).map_err(|_| bad("the key data is not base64"))?;
    let name_len = blob
        .get(..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let inner = name_len.and_then(|n| blob.get(4..4 + n));
    if inner != Some(kind.as_bytes()) {
        return Err(bad("the key data does not match its type"));
    }
    let digest = sha2::Sha256::digest(&blob);
    let fp = base64ct::Base64Unpadded::encode_string(&digest);
    let comment: Vec<&str> = parts.collect();
    let line = if comment.is_empty() {
        format!("{kind} {b64}")
    } else {
        format!("{kind} {b64} {}", comment.join(" "))
    };
    Ok((line, format!("SHA256:{fp}")))
}

fn ssh_json(k: &SshKey, full: bool) -> Value {
    let mut v = json!({
        "UserName": k.user_name,
        "SSHPublicKeyId": k.ssh_public_key_id,
        "Status": k.status.as_str(),
        "UploadDate": iso8601(k.upload_date),
    });
    if full {
        v["Fingerprint"] = json!(k.fingerprint);
        v["SSHPublicKeyBody"] = json!(k.body);
    }
    v
}

fn upload(ctx: &Ctx, user: &str, body: &str) -> Out {
    let body = input::load(body)?;
    let (line, fp) = fingerprint(body.trim())?;
    let id = ids::new_id(ids::IdKind::SshKey)?;
    let k = ctx
        .store
        .upload_ssh_public_key(user, &id, &line, &fp, ctx.now)?;
    Ok(Some(json!({ "SSHPublicKey": ssh_json(&k, true) })))
}

fn list(ctx: &Ctx, user: &str) -> Out {
    let list: Vec<Value> = ctx
        .store
        .list_ssh_public_keys(user)?
        .iter()
        .map(|k| ssh_json(k, false))
        .collect();
    Ok(Some(json!({ "SSHPublicKeys": list, "IsTruncated": false })))
}
