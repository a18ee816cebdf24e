//! `iam-sts` argument parsing, terminal prompt and printing. Everything else is in the
//! library parts (`assume`, `sessions`), reached through the store backend. Printing is
//! the `iam` CLI's (`--output json|text|table`, as the AWS CLI).

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nix::sys::termios::{self, LocalFlags, SetArg};
use zeroize::Zeroizing;

use super::assume::{self, AssumeRoleArgs, CallContext};
use super::error::StsError;
use super::harden::{self, Inherited};
use super::passed::Passed;
use super::scope::CallerFacts;
use super::{backend, fleet, sessions};
use crate::cli::args::Output;
use crate::cli::output;
use crate::fleet::conf::{DEFAULT_CONF, HostMode};
use crate::store::Tag;
use std::path::Path;

/// Where the store lives.
pub const DEFAULT_DB: &str = "/var/lib/pam-iam/iam.db";
/// Longest answer read at the code prompt.
const MAX_ANSWER: usize = 64;

/// `iam-sts`: assume IAM roles on this host (aws sts … for Linux).
#[derive(Debug, Parser)]
#[command(name = "iam-sts", version, disable_help_subcommand = true)]
struct Cli {
    /// Store path (root only; everyone else always uses the host's store).
    #[arg(long, global = true)]
    db: Option<String>,
    /// Output format, as the AWS CLI's.
    #[arg(long, global = true, value_enum, default_value_t = Output::Json)]
    output: Output,
    #[command(subcommand)]
    cmd: Command,
}

// One command is parsed per run: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Assume a role for this terminal session (then `sudo` works through it).
    AssumeRole {
        /// ARN of the role, arn:aws:iam::ACCOUNT:role/NAME.
        #[arg(long)]
        role_arn: String,
        /// A name for the session (2-64 of letters, digits, +=,.@_-).
        #[arg(long)]
        role_session_name: String,
        /// Session length, 900 up to the role's MaxSessionDuration (default 3600).
        #[arg(long)]
        duration_seconds: Option<i64>,
        /// Your MFA device ARN (asks for the code when --token-code is not given).
        #[arg(long)]
        serial_number: Option<String>,
        /// The current 6-digit code of that device.
        #[arg(long)]
        token_code: Option<String>,
        /// A session policy (JSON) that further limits the session.
        #[arg(long)]
        policy: Option<String>,
        /// Managed session policies that further limit the session: `arn=ARN` …
        #[arg(long, num_args = 1.., value_parser = policy_arn)]
        policy_arns: Vec<String>,
        /// The value the role's trust policy asks for in `sts:ExternalId`.
        #[arg(long)]
        external_id: Option<String>,
        /// A source identity that stays with the session and any it assumes.
        #[arg(long)]
        source_identity: Option<String>,
        /// Session tags: `Key=K,Value=V` …
        #[arg(long, num_args = 1.., value_parser = session_tag)]
        tags: Vec<Tag>,
        /// Keys of the session tags that pass on to sessions this one assumes.
        #[arg(long, num_args = 1..)]
        transitive_tag_keys: Vec<String>,
    },
    /// Who you are to IAM here: the role session of this terminal, else your IAM user.
    GetCallerIdentity,
    /// Your role sessions (active ones unless --all).
    ListSessions {
        /// Include expired and revoked sessions.
        #[arg(long)]
        all: bool,
    },
    /// End one of your role sessions now (all your active ones without --access-key-id).
    RevokeSession {
        /// The session's ASIA… access key id (see list-sessions).
        #[arg(long)]
        access_key_id: Option<String>,
    },
}

impl Command {
    /// The AWS operation name (the title of `--output table`).
    fn operation(&self) -> &'static str {
        match self {
            Command::AssumeRole { .. } => "AssumeRole",
            Command::GetCallerIdentity => "GetCallerIdentity",
            Command::ListSessions { .. } => "ListSessions",
            Command::RevokeSession { .. } => "RevokeSession",
        }
    }
}

/// Parses, runs and prints; the only place that writes to stdout/stderr.
pub fn run(facts: CallerFacts, inherited: Inherited) -> ExitCode {
    let args = match harden::bounded_args(std::env::args_os()) {
        Ok(a) => a,
        Err(e) => return fail(&e.into()),
    };
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let (format, op) = (cli.output, cli.cmd.operation());
    // The store is closed (dropped with `execute`) before anything is printed: a caller
    // that never reads its pipe blocks the helper on a write holding no lock.
    match execute(facts, inherited, cli) {
        Ok(v) => {
            let mut out = std::io::stdout().lock();
            if out
                .write_all(output::render(&v, format, op).as_bytes())
                .is_err()
            {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn fail(e: &StsError) -> ExitCode {
    eprintln!("iam-sts: {e}");
    ExitCode::FAILURE
}

fn execute(
    facts: CallerFacts,
    inherited: Inherited,
    cli: Cli,
) -> Result<serde_json::Value, StsError> {
    let explicit = cli.db.is_some() || inherited.db_override.is_some();
    let db = match (cli.db.clone(), facts.uid) {
        (Some(_), uid) if uid != 0 => return Err(StsError::DbNotAllowed),
        (Some(p), _) => p,
        (None, _) => inherited
            .db_override
            .unwrap_or_else(|| DEFAULT_DB.to_string()),
    };
    let ctx = CallContext {
        user: facts.caller?.name,
        scope: facts.scope?,
        now: now(),
    };
    // The host's mode (read while still the caller's real uid: the file must be root's).
    // In fleet mode the store is iamd's: new sessions come through the agent, the other
    // commands read this host's replica. A root caller's --db or PAM_IAM_DB still names
    // a local store.
    let agent = match (explicit, crate::fleet::conf::load(Path::new(DEFAULT_CONF))) {
        (true, _) | (false, Ok(HostMode::Local)) => None,
        (false, Ok(HostMode::Agent(a))) => Some(a),
        (false, Err(e)) => return Err(StsError::Internal(e.to_string())),
    };
    // Fully root from here on: the caller can no longer stop or slow the helper while it
    // holds the store's write lock (or waits for the agent).
    harden::become_root()?;
    if let Some(a) = &agent {
        if let Command::AssumeRole { .. } = &cli.cmd {
            return assume_args(cli.cmd)
                .and_then(|args| fleet::assume_role(a, &ctx, &args, &mut prompt_tty))
                .map(|o| o.to_json());
        }
        if let Command::RevokeSession { access_key_id } = &cli.cmd {
            return fleet::revoke_session(a, &ctx, access_key_id.as_deref());
        }
    }
    let db = agent.map_or(db, |a| a.replica.display().to_string());
    let backend = backend::Backend::open(&db, true, None)?;
    match cli.cmd {
        cmd @ Command::AssumeRole { .. } => {
            let args = assume_args(cmd)?;
            let out = assume::assume_role(&backend, &ctx, &args, &mut prompt_tty)?;
            Ok(out.to_json())
        }
        Command::GetCallerIdentity => sessions::get_caller_identity(&backend, &ctx),
        Command::ListSessions { all } => sessions::list_sessions(&backend, &ctx, all),
        Command::RevokeSession { access_key_id } => {
            sessions::revoke_session(&backend, &ctx, access_key_id.as_deref())
        }
    }
}

/// The arguments of `assume-role`.
fn assume_args(cmd: Command) -> Result<AssumeRoleArgs, StsError> {
    match cmd {
        Command::AssumeRole {
            role_arn,
            role_session_name,
            duration_seconds,
            serial_number,
            token_code,
            policy,
            policy_arns,
            external_id,
            source_identity,
            tags,
            transitive_tag_keys,
        } => Ok(AssumeRoleArgs {
            role_arn,
            session_name: role_session_name,
            duration: duration_seconds,
            serial: serial_number,
            code: token_code.map(Zeroizing::new),
            policy,
            external_id,
            passed: Passed {
                source_identity,
                tags,
                transitive_tag_keys,
                policy_arns,
            },
            ..AssumeRoleArgs::default()
        }),
        _ => Err(StsError::Internal("not assume-role".to_string())),
    }
}

/// `--policy-arns arn=ARN` (the AWS CLI's shorthand for `PolicyDescriptorType`).
fn policy_arn(s: &str) -> Result<String, String> {
    s.strip_prefix("arn=")
        .filter(|a| !a.is_empty() && !a.contains(','))
        .map(str::to_string)
        .ok_or_else(|| format!("{s:?}: give arn=ARN"))
}

/// `--tags Key=K,Value=V` (the AWS CLI's shorthand for `Tag`; the value may be empty).
fn session_tag(s: &str) -> Result<Tag, String> {
    let bad = || format!("{s:?}: give Key=K,Value=V");
    let (k, v) = s.split_once(",Value=").ok_or_else(bad)?;
    let key = k
        .strip_prefix("Key=")
        .filter(|k| !k.is_empty())
        .ok_or_else(bad)?;
    Ok(Tag {
        key: key.to_string(),
        value: v.to_string(),
    })
}

/// Unix seconds now; the only clock of iam-sts.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Asks on the controlling terminal (never stdin, which a script may feed), echo off,
/// reading at most `MAX_ANSWER` bytes. `None` without a terminal.
pub fn prompt_tty(msg: &str) -> Option<Zeroizing<String>> {
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    // ^C or ^Z while echo is off must not leave the terminal silent: the signals wait
    // until the terminal is restored (then ^C still ends the program).
    let _hold = harden::SignalGuard::block();
    let saved = termios::tcgetattr(tty.as_fd()).ok();
    if let Some(t) = &saved {
        let mut quiet = t.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        quiet.local_flags.insert(LocalFlags::ECHONL);
        let _ = termios::tcsetattr(tty.as_fd(), SetArg::TCSAFLUSH, &quiet);
    }
    let _ = tty.write_all(msg.as_bytes());
    let _ = tty.flush();
    let mut answer = Zeroizing::new(Vec::with_capacity(MAX_ANSWER));
    let mut byte = [0u8; 1];
    while answer.len() < MAX_ANSWER {
        match tty.read(&mut byte) {
            Ok(1) if byte[0] != b'\n' => answer.push(byte[0]),
            _ => break,
        }
    }
    if let Some(t) = &saved {
        let _ = termios::tcsetattr(tty.as_fd(), SetArg::TCSAFLUSH, t);
    }
    let text = Zeroizing::new(String::from_utf8(std::mem::take(&mut *answer)).ok()?);
    Some(Zeroizing::new(text.trim().to_string()))
}
