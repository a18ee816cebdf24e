//! The `iam` admin CLI: parses AWS-style arguments, calls the store and the credential
//! and policy cores, prints AWS-shaped results. No SQL and no policy logic here.
//!
//! One module per noun (`users`, `groups`, `policies`, `roles`, …) holds that noun's
//! clap sub-enum, flattened into AWS's flat command names in `args`, its handlers, and
//! for each command its [`Effect`] on the store, stated beside the handler in the noun's
//! `op()`. This file opens the store as the effect requires, runs the handler, audits
//! changes and prints.

mod access_keys;
pub use access_keys::rotation_warning;
mod account;
pub mod api;
pub mod args;
mod audit;
mod groups;
mod host_credentials;
mod hosts;
mod input;
mod lockout;
mod login_profile;
mod mfa;
mod migrate;
pub mod output;
mod policies;
mod qr;
mod roles;
pub mod sessions;
mod simulator;
mod ssh_keys;
mod tags;
mod userdb;
mod users;

use crate::store::{self, OpenMode, OpenOptions, Store, StoreError};
use args::Cli;
use clap::{CommandFactory, FromArgMatches};
use serde_json::Value;
use std::io::Write;
use std::process::ExitCode;

/// Exit status of an AWS service error (as the AWS CLI).
const EXIT_SERVICE_ERROR: u8 = 254;
/// Exit status of a usage error (as the AWS CLI).
const EXIT_USAGE: u8 = 252;

/// An error the user sees: AWS error code plus message.
#[derive(Debug)]
pub struct CliError {
    /// AWS error code (`NoSuchEntity`, `ValidationError`, …).
    pub code: String,
    /// What is wrong.
    pub message: String,
}

impl CliError {
    /// An error with a code and message.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        CliError {
            code: code.to_string(),
            message: message.into(),
        }
    }

    /// A `ValidationError`.
    pub fn validation(message: impl Into<String>) -> Self {
        CliError::new("ValidationError", message)
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError::new(e.code(), e.to_string())
    }
}

impl From<crate::credentials::CredError> for CliError {
    fn from(e: crate::credentials::CredError) -> Self {
        CliError::new("ServiceFailure", e.to_string())
    }
}

/// What every handler gets: the open store and the time of the call.
pub(crate) struct Ctx<'a> {
    store: &'a dyn Store,
    now: i64,
    output: args::Output,
    /// The key file sealing access-key secrets.
    secrets_key: std::path::PathBuf,
}

/// Result of a handler: JSON to print, or nothing (AWS prints nothing for many writes).
pub(crate) type Out = Result<Option<Value>, CliError>;

/// What a command does to the store. Each noun's `op()` states it beside the command's
/// handler, so there is no separate list of read-only commands to keep in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Only reads: callers that are not root open the store read-only (never creating
    /// or migrating it), and nothing is audited.
    Read,
    /// Changes the store: on success it is recorded in the audit trail as
    /// `iam:<Operation>` and the userdb directory and SSH key export are refreshed.
    Write,
    /// `sync-userdb`: needs an existing store and writes the userdb files itself, so it
    /// is neither audited nor followed by a refresh (its `--check` changes nothing).
    SyncUserdb,
}

/// A command's handler, given the open store.
pub(crate) type Handler = Box<dyn FnOnce(&Ctx<'_>) -> Out>;

/// A parsed command, ready to run: its effect on the store and its handler.
pub(crate) enum Op {
    /// Works on its arguments alone; no store is opened (simulate-custom-policy).
    NoStore(Box<dyn FnOnce() -> Out>),
    /// Runs against the store opened as the effect requires.
    Store(Effect, Handler),
}

impl Op {
    /// A command that only reads the store.
    pub(crate) fn read(handler: impl FnOnce(&Ctx<'_>) -> Out + 'static) -> Op {
        Op::Store(Effect::Read, Box::new(handler))
    }

    /// A command that changes the store (audited, followed by the userdb refresh).
    pub(crate) fn write(handler: impl FnOnce(&Ctx<'_>) -> Out + 'static) -> Op {
        Op::Store(Effect::Write, Box::new(handler))
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `get-user` → `GetUser`, with AWS's MFA/SSH capitalisation.
fn operation_name(sub: &str) -> String {
    sub.split('-')
        .map(|w| match w {
            "mfa" => "MFA".to_string(),
            "ssh" => "SSH".to_string(),
            _ => {
                let mut c = w.chars();
                c.next()
                    .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
            }
        })
        .collect()
}

/// `iam list-users | head` must end quietly, as other Unix tools do, not panic on a
/// closed pipe: Rust starts programs with SIGPIPE ignored, so put the default back.
fn restore_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_DFL at start-up, before any thread
    // exists, has no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Entry point of the `iam` binary.
pub fn main() -> ExitCode {
    restore_sigpipe();
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let op = operation_name(matches.subcommand_name().unwrap_or(""));
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match run(cli, &op) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, whatever the message holds.
            let msg = e.message.replace('\n', " ");
            eprintln!(
                "An error occurred ({}) when calling the {op} operation: {msg}",
                e.code
            );
            ExitCode::from(EXIT_SERVICE_ERROR)
        }
    }
}

fn run(cli: Cli, name: &str) -> Result<(), CliError> {
    let (effect, handler) = match cli.command.op() {
        Op::NoStore(handler) => {
            return match handler()? {
                Some(v) => print(&v, cli.output, name),
                None => Ok(()),
            };
        }
        Op::Store(effect, handler) => (effect, handler),
    };
    let path = cli.db.unwrap_or_else(|| store::DEFAULT_PATH.into());
    if effect == Effect::SyncUserdb {
        userdb::store_must_exist(&path)?;
    }
    let insecure_ok = std::env::var(store::ENV_INSECURE).is_ok_and(|v| v == "1");
    // Readers that are not root open read-only, so they never create or migrate a store.
    let mode = if effect == Effect::Read && !nix::unistd::geteuid().is_root() {
        OpenMode::ReadOnly
    } else {
        OpenMode::ReadWrite
    };
    let secrets_key = std::env::var_os(store::ENV_SECRETS_KEY)
        .filter(|v| !v.is_empty())
        .map_or_else(
            || store::Location::from(&path).default_secrets_key(),
            std::path::PathBuf::from,
        );
    let store = store::open(&OpenOptions {
        insecure_ok,
        secrets_key: secrets_key.clone(),
        ..OpenOptions::new(path.clone(), mode)
    })?;
    let ctx = Ctx {
        store: &*store,
        now: now(),
        output: cli.output,
        secrets_key,
    };
    let out = handler(&ctx)?;
    if effect == Effect::Write {
        audit::record(&ctx, name);
        // userdb: every change refreshes /etc/userdb and the SSH key export.
        userdb::after_change(&ctx, &path);
    }
    if let Some(v) = out {
        print(&v, cli.output, name)?;
    }
    Ok(())
}

fn print(v: &Value, fmt: args::Output, op: &str) -> Result<(), CliError> {
    let s = output::render(v, fmt, op);
    let mut out = std::io::stdout().lock();
    out.write_all(s.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CliError::new("ServiceFailure", format!("stdout: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn operation_names() {
        assert_eq!(operation_name("get-user"), "GetUser");
        assert_eq!(operation_name("enable-mfa-device"), "EnableMFADevice");
        assert_eq!(
            operation_name("upload-ssh-public-key"),
            "UploadSSHPublicKey"
        );
    }

    #[test]
    fn clap_is_consistent() {
        // The grammar is large: debug builds need more than a test thread's 2 MiB stack.
        std::thread::Builder::new()
            .stack_size(32 << 20)
            .spawn(|| Cli::command().debug_assert())
            .unwrap()
            .join()
            .unwrap();
    }

    /// The effect each noun states for a command, run with its required flags.
    fn effect_of(sub: &clap::Command) -> Option<Effect> {
        let mut argv = vec!["iam".to_string(), sub.get_name().to_string()];
        for a in sub.get_arguments().filter(|a| a.is_required_set()) {
            let value = a
                .get_possible_values()
                .first()
                .map_or_else(|| "1".to_string(), |v| v.get_name().to_string());
            argv.push(format!("--{}", a.get_long().unwrap_or_default()));
            argv.push(value);
        }
        let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        match cli.command.op() {
            Op::NoStore(_) => None,
            Op::Store(effect, _) => Some(effect),
        }
    }

    /// AWS's rule, which the read-only open and the audit trail rely on: Get and List
    /// operations (and the principal simulator) only read; every other operation writes.
    #[test]
    fn get_and_list_read_everything_else_writes() {
        let check = || {
            let cli = Cli::command();
            let mut reads = 0;
            for sub in cli.get_subcommands() {
                let name = sub.get_name();
                let want = match name {
                    "simulate-custom-policy" | "migrate-store" => None,
                    "sync-userdb" => Some(Effect::SyncUserdb),
                    "simulate-principal-policy" => Some(Effect::Read),
                    n if n.starts_with("get-") || n.starts_with("list-") => Some(Effect::Read),
                    _ => Some(Effect::Write),
                };
                reads += usize::from(want == Some(Effect::Read));
                assert_eq!(effect_of(sub), want, "{name}");
            }
            assert_eq!(reads, 43);
        };
        std::thread::Builder::new()
            .stack_size(32 << 20)
            .spawn(check)
            .unwrap()
            .join()
            .unwrap();
    }
}
