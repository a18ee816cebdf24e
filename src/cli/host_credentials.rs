//! Fleet-mode host credentials: `iam create-host-credentials` issues a host's key id
//! and secret (the secret sealed under the store's secrets key, as access keys are, so
//! `iamd` verifies the agent's SigV4 signatures; only a hash besides), shown or written
//! to a root-only file once; `delete-host-credentials` cuts the host off.

use super::output::iso8601;
use super::{CliError, Ctx, Out};
use crate::credentials::{self, ids};
use crate::store::HostCredential;
use serde_json::{Value, json};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// A DNS host name (labels of letters, digits and `-`, dot-separated): it is the last
/// part of the host's ARN.
fn check_host_name(h: &str) -> Result<(), CliError> {
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(CliError::validation(format!(
            "--host-name {h:?} is not a host name (letters, digits and '-' in dot-separated labels)"
        )))
    }
}

fn credential_json(acct: &str, c: &HostCredential) -> Value {
    let mut v = json!({
        "HostName": c.host,
        "HostArn": crate::arn::host(acct, &c.host),
        "AccessKeyId": c.key_id,
        "CreateDate": iso8601(c.created),
    });
    if let Some(t) = c.last_used {
        v["LastUsedDate"] = json!(iso8601(t));
    }
    v
}

/// Write `body` to a new file at `path`, mode 0600 (refusing an existing file).
fn write_new_file(path: &Path, body: &[u8]) -> Result<(), CliError> {
    let fail = |e: std::io::Error| {
        CliError::new(
            "ServiceFailure",
            format!("cannot write the credentials file {}: {e}", path.display()),
        )
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    f.write_all(body).map_err(fail)?;
    f.sync_all().map_err(fail)
}

/// `iam create-host-credentials`.
pub(super) fn create(ctx: &Ctx, host: &str, file: Option<&Path>) -> Out {
    check_host_name(host)?;
    let id = ids::new_id(ids::IdKind::HostKey)?;
    let secret = ids::new_secret_access_key()?;
    let key = credentials::key_file::load_or_create(&ctx.secrets_key)
        .map_err(|e| CliError::new("ServiceFailure", format!("the secrets key: {e}")))?;
    let sealed = credentials::sealed::seal(&key, &id, secret.as_bytes())?;
    let hash = credentials::sha256_hex(secret.as_bytes());
    let acct = ctx.store.account_id()?;
    let mut file_err = None;
    let mut written = false;
    // The file is written inside the transaction: when it cannot be, nothing is stored.
    // A store may run the body again (PostgreSQL, on a serialization failure): the file
    // of an earlier run holds the same credential and is kept, not written twice.
    let c = crate::store::atomically(ctx.store, |s| {
        let c = s.create_host_credential(host, &id, &hash, &sealed, ctx.now)?;
        if let (Some(path), false) = (file, written) {
            let mut v = credential_json(&acct, &c);
            v["SecretAccessKey"] = json!(secret.as_str());
            let body = zeroize::Zeroizing::new(serde_json::to_vec_pretty(&v).unwrap_or_default());
            if let Err(e) = write_new_file(path, &body) {
                file_err = Some(e);
                return Err(crate::store::StoreError::Database(
                    "the credentials file could not be written".into(),
                ));
            }
            written = true;
        }
        Ok(c)
    });
    if let Some(e) = file_err {
        return Err(e);
    }
    // Nothing stored: the file written for it names a credential that does not exist.
    if let (Err(_), Some(path), true) = (&c, file, written) {
        let _ = std::fs::remove_file(path);
    }
    let c = c?;
    let mut v = credential_json(&acct, &c);
    match file {
        Some(p) => v["CredentialsFile"] = json!(p.display().to_string()),
        None => v["SecretAccessKey"] = json!(secret.as_str()),
    }
    Ok(Some(json!({ "HostCredentials": v })))
}

/// `iam list-host-credentials`.
pub(super) fn list(ctx: &Ctx) -> Out {
    let acct = ctx.store.account_id()?;
    let list: Vec<Value> = ctx
        .store
        .list_host_credentials()?
        .iter()
        .map(|c| credential_json(&acct, c))
        .collect();
    Ok(Some(json!({ "HostCredentials": list })))
}
