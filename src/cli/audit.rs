//! The audit trail: `iam list-audit-events` reads it, and every successful change made
//! with `iam` is recorded in it as `iam:<Operation>` beside the PAM module's login and
//! sudo decisions, so it answers "who changed what" as well as "who logged in".

use super::output::{iso8601, parse_time};
use super::{CliError, Ctx, Op, Out};
use crate::store::{AuditEvent, AuditFilter};
use clap::Subcommand;
use serde_json::{Value, json};

/// Audit-trail operations of `iam`.
#[derive(Debug, Subcommand)]
#[command(rename_all = "kebab-case")]
pub enum AuditCommand {
    /// Read the audit trail written by the PAM module, iam-sts and this CLI.
    ListAuditEvents {
        /// Only this user.
        #[arg(long)]
        user_name: Option<String>,
        /// Not before: RFC 3339 time, unix seconds, or an age like 30m, 2h, 7d.
        #[arg(long)]
        since: Option<String>,
        /// Not after (same forms).
        #[arg(long)]
        until: Option<String>,
        /// Only this decision (allow, deny, …).
        #[arg(long)]
        decision: Option<String>,
        /// Only this service (sshd, sudo, iam-sts, iam, …).
        #[arg(long)]
        service: Option<String>,
        /// Only the most recent N.
        #[arg(long)]
        max_items: Option<u32>,
    },
}

impl AuditCommand {
    /// The handler and whether it writes.
    pub(super) fn op(self) -> Op {
        match self {
            AuditCommand::ListAuditEvents {
                user_name,
                since,
                until,
                decision,
                service,
                max_items,
            } => Op::read(move |ctx| {
                let filter = AuditFilter {
                    user: user_name,
                    since: time_arg("--since", since, ctx.now)?,
                    until: time_arg("--until", until, ctx.now)?,
                    decision,
                    service,
                    limit: max_items,
                };
                list_audit(ctx, &filter)
            }),
        }
    }
}

/// Flags whose values name the entity a command touched (never secrets: those are
/// never on the command line).
const TARGET_FLAGS: &[&str] = &[
    "--user-name",
    "--new-user-name",
    "--group-name",
    "--new-group-name",
    "--role-name",
    "--policy-name",
    "--policy-arn",
    "--version-id",
    "--serial-number",
    "--virtual-mfa-device-name",
    "--access-key-id",
    "--ssh-public-key-id",
    "--host-name",
];

/// Who ran the command: the real user, and the sudo caller when there is one.
fn caller() -> String {
    let uid = nix::unistd::getuid();
    let name = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| format!("uid {uid}"), |u| u.name);
    match std::env::var("SUDO_USER") {
        Ok(s) if !s.is_empty() && s != name => format!("{name} (sudo by {s})"),
        _ => name,
    }
}

/// `--user-name alice --policy-arn arn:…` from the command line.
fn targets(args: &[String]) -> String {
    let mut out = Vec::new();
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (a.as_str(), None),
        };
        if TARGET_FLAGS.contains(&flag) {
            let value = inline.or_else(|| it.peek().map(|v| v.to_string()));
            if let Some(v) = value {
                out.push(format!("{flag} {v}"));
            }
        }
    }
    out.join(" ")
}

/// Record a successful change. A failure to record is reported, not fatal: the change
/// itself is already committed.
pub(super) fn record(ctx: &Ctx, op: &str) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tty = nix::unistd::ttyname(std::io::stdin())
        .ok()
        .map(|p| p.display().to_string());
    let event = AuditEvent {
        time: ctx.now,
        user: caller(),
        service: "iam".into(),
        rhost: None,
        tty,
        action: format!("iam:{op}"),
        decision: crate::audit::Decision::Allow,
        reason: targets(&args),
    };
    if let Err(e) = ctx.store.append_audit(&event) {
        eprintln!("iam: warning: the change was made but not recorded in the audit trail: {e}");
    }
}

/// A `--since`/`--until` value as unix seconds.
pub(super) fn time_arg(flag: &str, s: Option<String>, now: i64) -> Result<Option<i64>, CliError> {
    s.map(|s| {
        parse_time(&s, now).ok_or_else(|| {
            CliError::validation(format!(
                "{flag}: cannot read {s:?}: use RFC 3339, unix seconds or an age like 2h"
            ))
        })
    })
    .transpose()
}

fn list_audit(ctx: &Ctx, filter: &AuditFilter) -> Out {
    let events: Vec<Value> = ctx
        .store
        .list_audit(filter)?
        .iter()
        .map(|e| {
            json!({
                "EventTime": iso8601(e.time),
                "UserName": e.user,
                "Service": e.service,
                "RemoteHost": e.rhost,
                "Tty": e.tty,
                "Action": e.action,
                "Decision": e.decision,
                "Reason": e.reason,
            })
        })
        .collect();
    Ok(Some(json!({ "Events": events })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_from_argv() {
        let a: Vec<String> = [
            "create-user",
            "--user-name",
            "alice",
            "--tags",
            "Key=a,Value=b",
            "--policy-arn=arn:x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(targets(&a), "--user-name alice --policy-arn arn:x");
    }
}
