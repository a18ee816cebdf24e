//! Virtual (TOTP) MFA devices: create, enable, resync, deactivate, delete, list; and
//! the one-time recovery codes that go with an enabled device.

use super::args::Output;
use super::output::iso8601;
use super::users::user_json;
use super::{CliError, Ctx, Op, Out, input, qr};
use crate::credentials::{recovery, totp};
use crate::store::{MfaDevice, MfaSecret};
use clap::{Subcommand, ValueEnum};
use serde_json::{Value, json};
use std::path::PathBuf;
use zeroize::Zeroizing;

/// MFA operations of `iam`.
#[derive(Debug, Subcommand)]
#[command(rename_all = "kebab-case")]
pub enum MfaCommand {
    /// Create a virtual (TOTP) MFA device: prints the otpauth URI, the Base32 seed and a QR
    /// code (json: Base32StringSeed and QRCodePNG, base64, as AWS).
    CreateVirtualMfaDevice {
        /// Device name (usually the user name).
        #[arg(long)]
        virtual_mfa_device_name: String,
        /// IAM path.
        #[arg(long, default_value = "/")]
        path: String,
        /// Also write the QR PNG or the seed to this file (mode 0600).
        #[arg(long, requires = "bootstrap_method")]
        outfile: Option<PathBuf>,
        /// What --outfile receives.
        #[arg(long, value_enum)]
        bootstrap_method: Option<Bootstrap>,
    },
    /// Enable a device for a user with two consecutive codes; prints 10 one-time recovery
    /// codes, shown only this once.
    EnableMfaDevice {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Device serial number (its ARN).
        #[arg(long)]
        serial_number: String,
        /// A code.
        #[arg(long)]
        authentication_code1: String,
        /// The next code.
        #[arg(long)]
        authentication_code2: String,
    },
    /// Resynchronise a device with two consecutive codes.
    ResyncMfaDevice {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Serial number.
        #[arg(long)]
        serial_number: String,
        /// A code.
        #[arg(long)]
        authentication_code1: String,
        /// The next code.
        #[arg(long)]
        authentication_code2: String,
    },
    /// Disable a user's device (it stays, unassigned) and void its recovery codes.
    DeactivateMfaDevice {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Serial number.
        #[arg(long)]
        serial_number: String,
    },
    /// Delete an unassigned virtual device.
    DeleteVirtualMfaDevice {
        /// Serial number.
        #[arg(long)]
        serial_number: String,
    },
    /// List a user's MFA devices.
    ListMfaDevices {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// List virtual MFA devices.
    ListVirtualMfaDevices {
        /// Filter.
        #[arg(long, value_enum, default_value_t = Assignment::Any)]
        assignment_status: Assignment,
    },
    /// Replace a user's recovery codes with 10 new ones (shown once).
    CreateRecoveryCodes {
        /// User name (must have an enabled MFA device).
        #[arg(long)]
        user_name: String,
    },
}

/// `--assignment-status` of list-virtual-mfa-devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Assignment {
    /// Enabled for a user.
    #[value(name = "Assigned")]
    Assigned,
    /// Not enabled for anyone.
    #[value(name = "Unassigned")]
    Unassigned,
    /// Both.
    #[value(name = "Any")]
    Any,
}

/// `--bootstrap-method` of create-virtual-mfa-device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Bootstrap {
    /// A PNG QR code.
    #[value(name = "QRCodePNG")]
    QrCodePng,
    /// The Base32 seed.
    #[value(name = "Base32StringSeed")]
    Base32StringSeed,
}

impl MfaCommand {
    /// The handler and whether it writes.
    pub(super) fn op(self) -> Op {
        use MfaCommand::*;
        match self {
            CreateVirtualMfaDevice {
                virtual_mfa_device_name,
                path,
                outfile,
                bootstrap_method,
            } => Op::write(move |ctx| {
                create_virtual_mfa_device(
                    ctx,
                    &virtual_mfa_device_name,
                    &path,
                    outfile,
                    bootstrap_method,
                )
            }),
            EnableMfaDevice {
                user_name,
                serial_number,
                authentication_code1,
                authentication_code2,
            } => Op::write(move |ctx| {
                enable(
                    ctx,
                    &user_name,
                    &serial_number,
                    &authentication_code1,
                    &authentication_code2,
                )
            }),
            ResyncMfaDevice {
                user_name,
                serial_number,
                authentication_code1,
                authentication_code2,
            } => Op::write(move |ctx| {
                resync(
                    ctx,
                    &user_name,
                    &serial_number,
                    &authentication_code1,
                    &authentication_code2,
                )
            }),
            DeactivateMfaDevice {
                user_name,
                serial_number,
            } => Op::write(move |ctx| {
                ctx.store
                    .deactivate_mfa_device(&user_name, &serial_number)?;
                Ok(None)
            }),
            DeleteVirtualMfaDevice { serial_number } => Op::write(move |ctx| {
                ctx.store.delete_virtual_mfa_device(&serial_number)?;
                Ok(None)
            }),
            ListMfaDevices { user_name } => Op::read(move |ctx| list_mfa_devices(ctx, &user_name)),
            ListVirtualMfaDevices { assignment_status } => {
                Op::read(move |ctx| list_virtual_mfa_devices(ctx, assignment_status))
            }
            CreateRecoveryCodes { user_name } => {
                Op::write(move |ctx| create_recovery_codes(ctx, &user_name))
            }
        }
    }
}

fn device_json(d: &MfaDevice, with_user: bool, ctx: &Ctx) -> Value {
    let mut v = json!({ "SerialNumber": d.serial_number });
    if let Some(u) = &d.user_name {
        if with_user {
            if let Ok(user) = ctx.store.get_user(u) {
                v["User"] = user_json(&user);
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

fn create_virtual_mfa_device(
    ctx: &Ctx,
    name: &str,
    path: &str,
    outfile: Option<PathBuf>,
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

/// The step of two consecutive codes, refused when they are not valid now or not newer
/// than the device's watermark (codes already used).
fn consecutive_step(secret: &MfaSecret, c1: &str, c2: &str, now: i64) -> Result<i64, CliError> {
    totp::verify_consecutive(&secret.seed, c1, c2, now)?
        .filter(|step| *step > secret.watermark)
        .ok_or_else(invalid_code)
}

fn enable(ctx: &Ctx, user: &str, serial: &str, c1: &str, c2: &str) -> Out {
    ctx.store.get_user(user)?;
    let secret = ctx.store.mfa_secret(serial)?;
    if secret.user_name.is_some() {
        return Err(CliError::new(
            "EntityAlreadyExists",
            "MFA device is already in use.",
        ));
    }
    let step = consecutive_step(&secret, c1, c2, ctx.now)?;
    let (codes, hashes) = new_recovery_codes()?;
    ctx.store
        .enable_mfa_device(user, serial, step, &hashes, ctx.now)?;
    recovery_output(ctx, &codes)
}

fn resync(ctx: &Ctx, user: &str, serial: &str, c1: &str, c2: &str) -> Out {
    let secret = ctx.store.mfa_secret(serial)?;
    if secret.user_name.as_deref() != Some(user) {
        return Err(CliError::new(
            "NoSuchEntity",
            format!("MFA Device with serial number {serial} for user {user} cannot be found."),
        ));
    }
    let step = consecutive_step(&secret, c1, c2, ctx.now)?;
    ctx.store.set_totp_watermark(serial, step)?;
    Ok(None)
}

fn list_mfa_devices(ctx: &Ctx, user: &str) -> Out {
    let list: Vec<Value> = ctx
        .store
        .list_mfa_devices(user)?
        .iter()
        .map(|d| device_json(d, false, ctx))
        .collect();
    Ok(Some(json!({ "MFADevices": list, "IsTruncated": false })))
}

fn list_virtual_mfa_devices(ctx: &Ctx, a: Assignment) -> Out {
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

fn create_recovery_codes(ctx: &Ctx, user: &str) -> Out {
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
