//! The lockout policy and each user's failed-login counter and lock.

use super::output::iso8601;
use super::{Ctx, Op, Out};
use crate::credentials::LockoutSettings;
use clap::Subcommand;
use serde_json::json;

/// Lockout operations of `iam`.
#[derive(Debug, Subcommand)]
#[command(rename_all = "kebab-case")]
pub enum LockoutCommand {
    /// Set the lockout policy: lock a user after N failed logins for S seconds (0 = off).
    UpdateAccountLockoutPolicy {
        /// Failed attempts in a row before the lock (0 disables lockout).
        #[arg(long)]
        max_failed_attempts: u32,
        /// Lock duration in seconds.
        #[arg(long, default_value_t = 900)]
        lockout_duration_seconds: i64,
    },
    /// Show the lockout policy.
    GetAccountLockoutPolicy,
    /// Show a user's failed-login counter and lock.
    GetUserLockoutStatus {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// Clear a user's failed-login counter and lock.
    UnlockUser {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
}

impl LockoutCommand {
    /// The handler and whether it writes.
    pub(super) fn op(self) -> Op {
        use LockoutCommand::*;
        match self {
            UpdateAccountLockoutPolicy {
                max_failed_attempts,
                lockout_duration_seconds,
            } => Op::write(move |ctx| {
                ctx.store.put_lockout_settings(&LockoutSettings {
                    max_failed_attempts,
                    lockout_duration_seconds,
                })?;
                Ok(None)
            }),
            GetAccountLockoutPolicy => Op::read(get_lockout),
            GetUserLockoutStatus { user_name } => Op::read(move |ctx| status(ctx, &user_name)),
            UnlockUser { user_name } => Op::write(move |ctx| {
                ctx.store.unlock_user(&user_name)?;
                Ok(None)
            }),
        }
    }
}

fn get_lockout(ctx: &Ctx) -> Out {
    let s = ctx.store.get_lockout_settings()?;
    Ok(Some(json!({ "LockoutPolicy": {
        "MaxFailedAttempts": s.max_failed_attempts,
        "LockoutDurationSeconds": s.lockout_duration_seconds,
        "Enabled": s.max_failed_attempts > 0,
    }})))
}

fn status(ctx: &Ctx, user: &str) -> Out {
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
