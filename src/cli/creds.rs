//! Passwords, the password and lockout policies, MFA devices and recovery codes, access
//! keys and SSH public keys.

use super::args::{Assignment, Bootstrap, KeyStatusArg, Output};
use super::output::iso8601;
use super::{CliError, Ctx, Out, input, qr};
use crate::credentials::{self, HashParams, LockoutSettings, PasswordPolicy, ids, recovery, totp};
use crate::store::{MfaDevice, Status};
use serde_json::{Value, json};
use zeroize::Zeroizing;

fn violation(msg: impl Into<String>) -> CliError {
    CliError::new("PasswordPolicyViolation", msg)
}

/// Check a new password against the account policy and the user's history, then hash it.
fn new_password_hash(ctx: &Ctx, user: &str, password: &str) -> Result<String, CliError> {
    let policy = ctx.store.get_password_policy()?.unwrap_or_default();
    policy
        .check(password)
        .map_err(|e| violation(e.to_string()))?;
    let depth = policy.reuse_depth();
    if depth > 0 {
        for old in ctx.store.password_history(user, depth)? {
            if credentials::verify_password(password.as_bytes(), &old) {
                return Err(violation(format!(
                    "Password was used recently and cannot be reused (PasswordReusePrevention is {depth})"
                )));
            }
        }
    }
    Ok(credentials::hash_password(
        password.as_bytes(),
        &ctx.store.hash_params()?,
    )?)
}

fn read_password(stdin: bool) -> Result<Zeroizing<String>, CliError> {
    if stdin {
        input::password_from_stdin()
    } else {
        input::password_from_tty("New password: ")
    }
}

fn login_profile_json(user: &str, create_date: i64, reset: bool) -> Value {
    json!({ "LoginProfile": { "UserName": user, "CreateDate": iso8601(create_date), "PasswordResetRequired": reset } })
}

pub(super) fn create_login_profile(ctx: &Ctx, user: &str, stdin: bool, reset: bool) -> Out {
    ctx.store.get_user(user)?;
    let password = read_password(stdin)?;
    let hash = new_password_hash(ctx, user, &password)?;
    let lp = ctx
        .store
        .create_login_profile(user, &hash, reset, ctx.now)?;
    Ok(Some(login_profile_json(
        user,
        lp.create_date,
        lp.password_reset_required,
    )))
}

pub(super) fn get_login_profile(ctx: &Ctx, user: &str) -> Out {
    let lp = ctx.store.get_login_profile(user)?;
    Ok(Some(login_profile_json(
        user,
        lp.create_date,
        lp.password_reset_required,
    )))
}

pub(super) fn update_login_profile(
    ctx: &Ctx,
    user: &str,
    prompt: bool,
    stdin: bool,
    reset: Option<bool>,
) -> Out {
    ctx.store.get_login_profile(user)?;
    let hash = if prompt || stdin {
        let password = read_password(stdin)?;
        Some(new_password_hash(ctx, user, &password)?)
    } else {
        None
    };
    if hash.is_none() && reset.is_none() {
        return Err(CliError::validation(
            "Nothing to change: give --password, --password-stdin or --[no-]password-reset-required",
        ));
    }
    ctx.store
        .update_login_profile(user, hash.as_deref(), reset, ctx.now)?;
    Ok(None)
}

pub(super) fn delete_login_profile(ctx: &Ctx, user: &str) -> Out {
    ctx.store.delete_login_profile(user)?;
    Ok(None)
}

pub(super) fn update_password_policy(ctx: &Ctx, p: PasswordPolicy) -> Out {
    p.validate().map_err(CliError::validation)?;
    ctx.store.put_password_policy(&p)?;
    Ok(None)
}

pub(super) fn get_password_policy(ctx: &Ctx) -> Out {
    let p = ctx.store.get_password_policy()?.ok_or_else(|| {
        CliError::new(
            "NoSuchEntity",
            format!(
                "The Password Policy with domain name {} cannot be found.",
                ctx.store.account_id().unwrap_or_default()
            ),
        )
    })?;
    let mut v =
        serde_json::to_value(&p).map_err(|e| CliError::new("ServiceFailure", e.to_string()))?;
    v["ExpirePasswords"] = json!(p.max_password_age.is_some());
    Ok(Some(json!({ "PasswordPolicy": v })))
}

pub(super) fn delete_password_policy(ctx: &Ctx) -> Out {
    ctx.store.delete_password_policy()?;
    Ok(None)
}

pub(super) fn update_lockout(ctx: &Ctx, max: u32, duration: i64) -> Out {
    ctx.store.put_lockout_settings(&LockoutSettings {
        max_failed_attempts: max,
        lockout_duration_seconds: duration,
    })?;
    Ok(None)
}

pub(super) fn get_lockout(ctx: &Ctx) -> Out {
    let s = ctx.store.get_lockout_settings()?;
    Ok(Some(json!({ "LockoutPolicy": {
        "MaxFailedAttempts": s.max_failed_attempts,
        "LockoutDurationSeconds": s.lockout_duration_seconds,
        "Enabled": s.max_failed_attempts > 0,
    }})))
}

pub(super) fn lockout_status(ctx: &Ctx, user: &str) -> Out {
    let st = ctx.store.lock_state(user)?;
    let mut v = json!({ "UserName": user, "FailedAttempts": st.failed_attempts, "Locked": st.is_locked(ctx.now) });
    if let Some(t) = st.last_failure {
        v["LastFailure"] = json!(iso8601(t));
    }
    if let Some(t) = st.locked_until.filter(|t| *t > ctx.now) {
        v["LockedUntil"] = json!(iso8601(t));
    }
    Ok(Some(json!({ "LockoutStatus": v })))
}

pub(super) fn unlock_user(ctx: &Ctx, user: &str) -> Out {
    ctx.store.unlock_user(user)?;
    Ok(None)
}

pub(super) fn set_hash_params(ctx: &Ctx, p: HashParams) -> Out {
    // Prove the parameters work before storing them.
    credentials::hash_password(b"probe", &p).map_err(|e| CliError::validation(e.to_string()))?;
    ctx.store.set_hash_params(&p)?;
    Ok(None)
}

// ---- MFA ------------------------------------------------------------------------------------

fn device_json(d: &MfaDevice, with_user: bool, ctx: &Ctx) -> Value {
    let mut v = json!({ "SerialNumber": d.serial_number });
    if let Some(u) = &d.user_name {
        if with_user {
            if let Ok(user) = ctx.store.get_user(u) {
                v["User"] = super::users::user_json(&user);
            }
        } else {
            v["UserName"] = json!(u);
        }
    }
    if let Some(t) = d.enable_date {
        v["EnableDate"] = json!(iso8601(t));
    }
    v
}

pub(super) fn create_virtual_mfa_device(
    ctx: &Ctx,
    name: &str,
    path: &str,
    outfile: Option<std::path::PathBuf>,
    bootstrap: Option<Bootstrap>,
) -> Out {
    input::entity_name("device name", name, 128)?;
    input::path(path)?;
    let seed = totp::new_seed()?;
    let account = format!("{name}@{}", ctx.store.account_id()?);
    let uri = totp::otpauth_uri(&seed, "pam-iam", &account);
    let b32 = totp::base32(&seed);
    let png = qr::png(uri.as_bytes()).map_err(|e| CliError::new("ServiceFailure", e))?;
    let png_b64 = Zeroizing::new(<base64ct::Base64 as base64ct::Encoding>::encode_string(
        &png,
    ));
    // Open --outfile before the store changes, so a bad path fails with nothing changed.
    let out = match &outfile {
        Some(file) => Some((file, open_private(file)?)),
        None => None,
    };
    let d = ctx
        .store
        .create_virtual_mfa_device(name, path, &seed, ctx.now)?;
    if let (Some((file, mut f)), Some(method)) = (out, bootstrap) {
        let bytes: &[u8] = match method {
            Bootstrap::QrCodePng => &png,
            Bootstrap::Base32StringSeed => b32.as_bytes(),
        };
        use std::io::Write;
        f.set_len(0)
            .and_then(|()| f.write_all(bytes))
            .map_err(|e| CliError::validation(format!("--outfile {}: {e}", file.display())))?;
    }
    if ctx.output == Output::Json {
        return Ok(Some(json!({ "VirtualMFADevice": {
            "SerialNumber": d.serial_number,
            "Base32StringSeed": b32.as_str(),
            "QRCodePNG": png_b64.as_str(),
        }})));
    }
    let art = qr::terminal(uri.as_bytes()).map_err(|e| CliError::new("ServiceFailure", e))?;
    println!(
        "SerialNumber\t{}\nBase32StringSeed\t{}\nURI\t{}\n{art}",
        d.serial_number,
        b32.as_str(),
        uri.as_str()
    );
    Ok(None)
}

fn open_private(file: &std::path::Path) -> Result<std::fs::File, CliError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(file)
        .map_err(|e| CliError::validation(format!("--outfile {}: {e}", file.display())))
}

fn invalid_code() -> CliError {
    CliError::new(
        "InvalidAuthenticationCode",
        "Authentication code for device is not valid.",
    )
}

fn recovery_output(ctx: &Ctx, codes: &[Zeroizing<String>]) -> Out {
    let list: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
    if ctx.output == Output::Json {
        return Ok(Some(json!({ "RecoveryCodes": list })));
    }
    println!("Recovery codes (each works once; they are not shown again):");
    for c in list {
        println!("{c}");
    }
    Ok(None)
}

fn new_recovery_codes() -> Result<(Vec<Zeroizing<String>>, Vec<String>), CliError> {
    let codes = recovery::generate()?;
    let hashes = codes.iter().map(|c| recovery::hash(c)).collect();
    Ok((codes, hashes))
}

pub(super) fn enable_mfa_device(ctx: &Ctx, user: &str, serial: &str, c1: &str, c2: &str) -> Out {
    ctx.store.get_user(user)?;
    let secret = ctx.store.mfa_secret(serial)?;
    if secret.user_name.is_some() {
        return Err(CliError::new(
            "EntityAlreadyExists",
            "MFA device is already in use.",
        ));
    }
    let step = totp::verify_consecutive(&secret.seed, c1, c2, ctx.now)?.ok_or_else(invalid_code)?;
    if step <= secret.watermark {
        return Err(invalid_code());
    }
    let (codes, hashes) = new_recovery_codes()?;
    ctx.store
        .enable_mfa_device(user, serial, step, &hashes, ctx.now)?;
    recovery_output(ctx, &codes)
}

pub(super) fn resync_mfa_device(ctx: &Ctx, user: &str, serial: &str, c1: &str, c2: &str) -> Out {
    let secret = ctx.store.mfa_secret(serial)?;
    if secret.user_name.as_deref() != Some(user) {
        return Err(CliError::new(
            "NoSuchEntity",
            format!("MFA Device with serial number {serial} for user {user} cannot be found."),
        ));
    }
    let step = totp::verify_consecutive(&secret.seed, c1, c2, ctx.now)?.ok_or_else(invalid_code)?;
    if step <= secret.watermark {
        return Err(invalid_code());
    }
    ctx.store.set_totp_watermark(serial, step)?;
    Ok(None)
}

pub(super) fn deactivate_mfa_device(ctx: &Ctx, user: &str, serial: &str) -> Out {
    ctx.store.deactivate_mfa_device(user, serial)?;
    Ok(None)
}

pub(super) fn delete_virtual_mfa_device(ctx: &Ctx, serial: &str) -> Out {
    ctx.store.delete_virtual_mfa_device(serial)?;
    Ok(None)
}

pub(super) fn list_mfa_devices(ctx: &Ctx, user: &str) -> Out {
    let list: Vec<Value> = ctx
        .store
        .list_mfa_devices(user)?
        .iter()
        .map(|d| device_json(d, false, ctx))
        .collect();
    Ok(Some(json!({ "MFADevices": list, "IsTruncated": false })))
}

pub(super) fn list_virtual_mfa_devices(ctx: &Ctx, a: Assignment) -> Out {
    let filter = match a {
        Assignment::Assigned => Some(true),
        Assignment::Unassigned => Some(false),
        Assignment::Any => None,
    };
    let list: Vec<Value> = ctx
        .store
        .list_virtual_mfa_devices(filter)?
        .iter()
        .map(|d| device_json(d, true, ctx))
        .collect();
    Ok(Some(
        json!({ "VirtualMFADevices": list, "IsTruncated": false }),
    ))
}

pub(super) fn create_recovery_codes(ctx: &Ctx, user: &str) -> Out {
    if ctx.store.enabled_mfa(user)?.is_none() {
        return Err(CliError::new(
            "NoSuchEntity",
            format!("User {user} has no enabled MFA device."),
        ));
    }
    let (codes, hashes) = new_recovery_codes()?;
    ctx.store.replace_recovery_codes(user, &hashes)?;
    recovery_output(ctx, &codes)
}

// ---- access keys ----------------------------------------------------------------------------

fn status(s: KeyStatusArg) -> Status {
    match s {
        KeyStatusArg::Active => Status::Active,
        KeyStatusArg::Inactive => Status::Inactive,
    }
}

pub(super) fn create_access_key(ctx: &Ctx, user: &str) -> Out {
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

pub(super) fn list_access_keys(ctx: &Ctx, user: &str) -> Out {
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

fn key_owner(ctx: &Ctx, key_id: &str, user: Option<String>) -> Result<String, CliError> {
    match user {
        Some(u) => Ok(u),
        None => Ok(ctx.store.get_access_key(key_id)?.user_name),
    }
}

pub(super) fn update_access_key(
    ctx: &Ctx,
    key_id: &str,
    s: KeyStatusArg,
    user: Option<String>,
) -> Out {
    let user = key_owner(ctx, key_id, user)?;
    ctx.store.update_access_key(&user, key_id, status(s))?;
    Ok(None)
}

pub(super) fn delete_access_key(ctx: &Ctx, key_id: &str, user: Option<String>) -> Out {
    let user = key_owner(ctx, key_id, user)?;
    ctx.store.delete_access_key(&user, key_id)?;
    Ok(None)
}

pub(super) fn access_key_last_used(ctx: &Ctx, key_id: &str) -> Out {
    let k = ctx.store.get_access_key(key_id)?;
    let mut last = json!({ "ServiceName": k.last_used_service.clone().unwrap_or_else(|| "N/A".into()), "Region": "N/A" });
    if let Some(t) = k.last_used_date {
        last["LastUsedDate"] = json!(iso8601(t));
    }
    Ok(Some(
        json!({ "UserName": k.user_name, "AccessKeyLastUsed": last }),
    ))
}

// ---- SSH public keys --------------------------------------------------------------------------

use crate::credentials::SSH_KEY_TYPES;

/// Check an OpenSSH public key line and compute its `SHA256:` fingerprint (as
/// `ssh-keygen -l` prints it). Returns (normalised line, fingerprint).
pub(super) fn ssh_fingerprint(body: &str) -> Result<(String, String), CliError> {
    use base64ct::Encoding;
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
    if !SSH_KEY_TYPES.contains(&kind) {
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

fn ssh_json(k: &crate::store::SshKey, full: bool) -> Value {
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

pub(super) fn upload_ssh_key(ctx: &Ctx, user: &str, body: &str) -> Out {
    let body = input::load(body)?;
    let (line, fp) = ssh_fingerprint(body.trim())?;
    let id = ids::new_id(ids::IdKind::SshKey)?;
    let k = ctx
        .store
        .upload_ssh_public_key(user, &id, &line, &fp, ctx.now)?;
    Ok(Some(json!({ "SSHPublicKey": ssh_json(&k, true) })))
}

pub(super) fn list_ssh_keys(ctx: &Ctx, user: &str) -> Out {
    let list: Vec<Value> = ctx
        .store
        .list_ssh_public_keys(user)?
        .iter()
        .map(|k| ssh_json(k, false))
        .collect();
    Ok(Some(json!({ "SSHPublicKeys": list, "IsTruncated": false })))
}

pub(super) fn get_ssh_key(ctx: &Ctx, user: &str, id: &str) -> Out {
    let k = ctx.store.get_ssh_public_key(user, id)?;
    Ok(Some(json!({ "SSHPublicKey": ssh_json(&k, true) })))
}

pub(super) fn update_ssh_key(ctx: &Ctx, user: &str, id: &str, s: KeyStatusArg) -> Out {
    ctx.store.update_ssh_public_key(user, id, status(s))?;
    Ok(None)
}

pub(super) fn delete_ssh_key(ctx: &Ctx, user: &str, id: &str) -> Out {
    ctx.store.delete_ssh_public_key(user, id)?;
    Ok(None)
}
