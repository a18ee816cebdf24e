//! Passwords: a user's login profile, the account password policy, and the argon2id
//! cost of new password hashes.

use super::output::iso8601;
use super::{CliError, Ctx, Op, Out, input};
use crate::credentials::{self, HashParams, PasswordPolicy};
use clap::Subcommand;
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// Password operations of `iam`.
#[derive(Debug, Subcommand)]
#[command(rename_all = "kebab-case")]
pub enum PasswordCommand {
    /// Give a user a password (read from the terminal, or stdin with --password-stdin).
    CreateLoginProfile {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// The user must choose a new password at the next login.
        #[arg(long, conflicts_with = "no_password_reset_required")]
        password_reset_required: bool,
        /// The user keeps this password (default).
        #[arg(long)]
        no_password_reset_required: bool,
    },
    /// Show a user's login profile (never the hash).
    GetLoginProfile {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// Change a user's password and/or the reset-required flag.
    UpdateLoginProfile {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Set a new password, read from the terminal.
        #[arg(long)]
        password: bool,
        /// Set a new password read from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Require a new password at the next login.
        #[arg(long, conflicts_with = "no_password_reset_required")]
        password_reset_required: bool,
        /// Clear the reset requirement.
        #[arg(long)]
        no_password_reset_required: bool,
    },
    /// Remove a user's password.
    DeleteLoginProfile {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// Set the account password policy; flags left out take AWS's defaults.
    UpdateAccountPasswordPolicy {
        /// 6..=128 (default 6).
        #[arg(long)]
        minimum_password_length: Option<u32>,
        /// Require one of ! @ # $ % ^ & * ( ) _ + - = [ ] { } | '
        #[arg(long)]
        require_symbols: bool,
        /// Require a digit.
        #[arg(long)]
        require_numbers: bool,
        /// Require an upper-case letter.
        #[arg(long)]
        require_uppercase_characters: bool,
        /// Require a lower-case letter.
        #[arg(long)]
        require_lowercase_characters: bool,
        /// Let users change their own password (PAM chauthtok).
        #[arg(long)]
        allow_users_to_change_password: bool,
        /// Days before a password expires (1..=1095).
        #[arg(long)]
        max_password_age: Option<u32>,
        /// Previous passwords that may not be reused (1..=24).
        #[arg(long)]
        password_reuse_prevention: Option<u32>,
        /// Expired passwords can only be reset by an administrator.
        #[arg(long)]
        hard_expiry: bool,
    },
    /// Show the account password policy.
    GetAccountPasswordPolicy,
    /// Remove the account password policy (defaults apply again).
    DeleteAccountPasswordPolicy,
    /// Change the argon2id cost of new password hashes (existing hashes keep theirs).
    SetPasswordHashParameters {
        /// Memory in KiB (default 19456).
        #[arg(long, default_value_t = 19456)]
        memory_kib: u32,
        /// Iterations (default 2).
        #[arg(long, default_value_t = 2)]
        iterations: u32,
        /// Lanes (default 1).
        #[arg(long, default_value_t = 1)]
        parallelism: u32,
    },
}

impl PasswordCommand {
    /// The handler and whether it writes.
    pub(super) fn op(self) -> Op {
        use PasswordCommand::*;
        match self {
            CreateLoginProfile {
                user_name,
                password_stdin,
                password_reset_required,
                ..
            } => Op::write(move |ctx| {
                create_login_profile(ctx, &user_name, password_stdin, password_reset_required)
            }),
            GetLoginProfile { user_name } => {
                Op::read(move |ctx| get_login_profile(ctx, &user_name))
            }
            UpdateLoginProfile {
                user_name,
                password,
                password_stdin,
                password_reset_required,
                no_password_reset_required,
            } => {
                let reset = if password_reset_required {
                    Some(true)
                } else if no_password_reset_required {
                    Some(false)
                } else {
                    None
                };
                Op::write(move |ctx| {
                    update_login_profile(ctx, &user_name, password, password_stdin, reset)
                })
            }
            DeleteLoginProfile { user_name } => Op::write(move |ctx| {
                ctx.store.delete_login_profile(&user_name)?;
                Ok(None)
            }),
            UpdateAccountPasswordPolicy {
                minimum_password_length,
                require_symbols,
                require_numbers,
                require_uppercase_characters,
                require_lowercase_characters,
                allow_users_to_change_password,
                max_password_age,
                password_reuse_prevention,
                hard_expiry,
            } => {
                let p = PasswordPolicy {
                    minimum_password_length: minimum_password_length.unwrap_or(6),
                    require_symbols,
                    require_numbers,
                    require_uppercase_characters,
                    require_lowercase_characters,
                    allow_users_to_change_password,
                    max_password_age,
                    password_reuse_prevention,
                    hard_expiry,
                };
                Op::write(move |ctx| update_password_policy(ctx, &p))
            }
            GetAccountPasswordPolicy => Op::read(get_password_policy),
            DeleteAccountPasswordPolicy => Op::write(|ctx| {
                ctx.store.delete_password_policy()?;
                Ok(None)
            }),
            SetPasswordHashParameters {
                memory_kib,
                iterations,
                parallelism,
            } => {
                let p = HashParams {
                    memory_kib,
                    iterations,
                    parallelism,
                };
                Op::write(move |ctx| set_hash_params(ctx, &p))
            }
        }
    }
}

fn violation(msg: impl Into<String>) -> CliError {
    CliError::new("PasswordPolicyViolation", msg)
}

/// The one new-password check (policy, reuse), then the hash.
fn new_password_hash(ctx: &Ctx, user: &str, password: &str) -> Result<Zeroizing<String>, CliError> {
    crate::store::new_password_hash(ctx.store, user, password).map_err(|e| match e {
        crate::store::NewPasswordError::Refused(why) => violation(why),
        crate::store::NewPasswordError::Store(e) => e.into(),
    })
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

fn create_login_profile(ctx: &Ctx, user: &str, stdin: bool, reset: bool) -> Out {
    ctx.store.get_user(user)?;
    let password = read_password(stdin)?;
    create_with(ctx, user, &password, reset)
}

/// `CreateLoginProfile` with the password given as a value (the terminal's, or a
/// remote caller's through [`remote`]).
fn create_with(ctx: &Ctx, user: &str, password: &str, reset: bool) -> Out {
    ctx.store.get_user(user)?;
    // An existing profile is refused as such, not as a reuse of its password.
    if crate::store::absent_as_none(ctx.store.get_login_profile(user))?.is_some() {
        return Err(crate::store::rules::login_profile_exists(user).into());
    }
    let hash = new_password_hash(ctx, user, password)?;
    let lp = ctx
        .store
        .create_login_profile(user, &hash, reset, ctx.now)?;
    Ok(Some(login_profile_json(
        user,
        lp.create_date,
        lp.password_reset_required,
    )))
}

fn get_login_profile(ctx: &Ctx, user: &str) -> Out {
    let lp = ctx.store.get_login_profile(user)?;
    Ok(Some(login_profile_json(
        user,
        lp.create_date,
        lp.password_reset_required,
    )))
}

fn update_login_profile(
    ctx: &Ctx,
    user: &str,
    prompt: bool,
    stdin: bool,
    reset: Option<bool>,
) -> Out {
    ctx.store.get_login_profile(user)?;
    let password = if prompt || stdin {
        Some(read_password(stdin)?)
    } else {
        None
    };
    update_with(ctx, user, password.as_deref().map(String::as_str), reset)
}

/// `UpdateLoginProfile` with the new password (if any) given as a value.
fn update_with(ctx: &Ctx, user: &str, password: Option<&str>, reset: Option<bool>) -> Out {
    ctx.store.get_login_profile(user)?;
    let hash = match password {
        Some(p) => Some(new_password_hash(ctx, user, p)?),
        None => None,
    };
    if hash.is_none() && reset.is_none() {
        return Err(CliError::validation(
            "Nothing to change: give --password, --password-stdin or --[no-]password-reset-required",
        ));
    }
    ctx.store
        .update_login_profile(user, hash.as_ref().map(|h| h.as_str()), reset, ctx.now)?;
    Ok(None)
}

/// `ChangePassword`: `user` (the caller) changes its own password, proving the current
/// one. The lockout rule is the login's: a locked user is refused before the current
/// password is checked (a check would let guessing go on around the lock), a wrong one
/// counts as a failed attempt, a right one settles as a successful authentication. A
/// password that hard-expired can only be reset by an administrator.
fn change_password(ctx: &Ctx, user: &str, old: &str, new: &str) -> Out {
    use crate::credentials::second_factor::{FactorStore, Proof, Settled};
    let locked = |until: i64| {
        CliError::new(
            "EntityTemporarilyUnmodifiable",
            format!(
                "User {user} is locked after too many failed attempts until {}; try again later",
                iso8601(until)
            ),
        )
    };
    ctx.store.get_user(user)?;
    let lp = ctx.store.get_login_profile(user)?;
    if let Some(until) = ctx
        .store
        .lock_state(user)?
        .locked_until
        .filter(|t| *t > ctx.now)
    {
        return Err(locked(until));
    }
    let policy = ctx.store.get_password_policy()?.unwrap_or_default();
    if policy.state(
        lp.password_last_changed,
        lp.password_reset_required,
        ctx.now,
    ) == credentials::PasswordState::HardExpired
    {
        return Err(CliError::new(
            "EntityTemporarilyUnmodifiable",
            format!(
                "The password of user {user} has expired and the account password policy (HardExpiry) lets only an administrator reset it (UpdateLoginProfile)"
            ),
        ));
    }
    if !credentials::verify_password(old.as_bytes(), &lp.password_hash) {
        ctx.store.count_failure(user, ctx.now, None)?;
        return Err(CliError::new(
            "AccessDenied",
            format!("The current password of user {user} is incorrect"),
        ));
    }
    match ctx
        .store
        .settle(user, &Proof::Nothing, false, ctx.now, None)?
    {
        Settled::Accepted => {}
        Settled::Locked { until } => return Err(locked(until)),
        Settled::Spent(_) => {
            return Err(CliError::new(
                "ServiceFailure",
                "nothing to spend was spent",
            ));
        }
    }
    let hash = new_password_hash(ctx, user, new)?;
    ctx.store
        .update_login_profile(user, Some(&hash), Some(false), ctx.now)?;
    Ok(None)
}

/// The password operations as a remote caller makes them (`iamd`): the passwords come
/// as values of the call, never from a terminal, and go through the same handlers as
/// the CLI's. `op` is `CreateLoginProfile`, `UpdateLoginProfile` or `ChangePassword`
/// (the caller's own: `user` is the caller); `None` for any other operation.
pub(super) fn remote(ctx: &Ctx, op: &str, m: &RemoteMembers<'_>) -> Option<Out> {
    Some(match op {
        "CreateLoginProfile" => (|| {
            let user = m.required("UserName")?;
            let password = m.required("Password")?;
            create_with(
                ctx,
                user,
                password,
                m.flag("PasswordResetRequired")?.unwrap_or(false),
            )
        })(),
        "UpdateLoginProfile" => (|| {
            let user = m.required("UserName")?;
            update_with(
                ctx,
                user,
                m.get("Password"),
                m.flag("PasswordResetRequired")?,
            )
        })(),
        "ChangePassword" => (|| {
            let user = m.required("UserName")?;
            change_password(
                ctx,
                user,
                m.required("OldPassword")?,
                m.required("NewPassword")?,
            )
        })(),
        _ => return None,
    })
}

/// The scalar members of a remote call, by AWS name.
pub(super) struct RemoteMembers<'a>(pub(super) Vec<(&'a str, &'a str)>);

impl<'a> RemoteMembers<'a> {
    fn get(&self, name: &str) -> Option<&'a str> {
        self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    fn required(&self, name: &str) -> Result<&'a str, CliError> {
        self.get(name).ok_or_else(|| {
            let mut c = name.chars();
            let lower: String = c.next().map_or(String::new(), |f| f.to_lowercase().chain(c).collect());
            CliError::validation(format!(
                "1 validation error detected: Value null at '{lower}' failed to satisfy constraint: Member must not be null"
            ))
        })
    }

    fn flag(&self, name: &str) -> Result<Option<bool>, CliError> {
        match self.get(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(CliError::validation(format!(
                "{name}: expected true or false, got {v:?}"
            ))),
        }
    }
}

fn update_password_policy(ctx: &Ctx, p: &PasswordPolicy) -> Out {
    p.validate().map_err(CliError::validation)?;
    ctx.store.put_password_policy(p)?;
    Ok(None)
}

fn get_password_policy(ctx: &Ctx) -> Out {
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

fn set_hash_params(ctx: &Ctx, p: &HashParams) -> Out {
    // Prove the parameters work before storing them.
    credentials::hash_password(b"probe", p).map_err(|e| CliError::validation(e.to_string()))?;
    ctx.store.set_hash_params(p)?;
    Ok(None)
}
