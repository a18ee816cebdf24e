//! The CLI's own audit events: every successful change made with `iam` is recorded as
//! `iam:<Operation>` beside the PAM module's login and sudo decisions, so
//! `iam list-audit-events` answers "who changed what" as well as "who logged in".

use super::Ctx;
use crate::store::AuditEvent;

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
        decision: "allow".into(),
        reason: targets(&args),
    };
    if let Err(e) = ctx.store.append_audit(&event) {
        eprintln!("iam: warning: the change was made but not recorded in the audit trail: {e}");
    }
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
