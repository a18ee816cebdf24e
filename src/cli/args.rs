//! Command-line grammar: AWS IAM CLI operation names and flags (`aws iam X` → `iam X`).
//! Each noun's commands, handlers and effect on the store live in that noun's module;
//! this file holds the global flags and the order the nouns appear in `iam --help`.

use super::{Op, access_keys, account, audit, groups, hosts, lockout, login_profile, mfa, migrate};
use super::{policies, roles, sessions, simulator, ssh_keys, userdb, users};
use crate::store::Status;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Administer pam-iam: AWS IAM users, credentials, groups, policies and roles for
/// this host's PAM module. Subcommands and flags follow `aws iam`.
///
/// Secrets never go on the command line: passwords are read from the terminal or, with
/// --password-stdin, from the first line of standard input.
///
/// Errors print one line on stderr, `An error occurred (CODE) when calling the OP
/// operation: MESSAGE`, exit with status 254, and change nothing. Usage errors exit 252.
#[derive(Debug, Parser)]
#[command(name = "iam", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    /// Store location (default /var/lib/pam-iam/iam.db): a path or sqlite:PATH, or a
    /// PostgreSQL URL postgres://USER@HOST[:PORT][,HOST[:PORT]…]/DB?… (passwords from
    /// a passfile or client certificates, never in the URL). PAM_IAM_INSECURE_STORE=1
    /// skips a SQLite file's owner/mode checks (development only; PAM and iam-sts
    /// ignore it).
    #[arg(long, global = true, env = "PAM_IAM_DB", value_name = "LOCATION")]
    pub db: Option<PathBuf>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Output::Json)]
    pub output: Output,
    /// The operation.
    #[command(subcommand)]
    pub command: Command,
}

/// `--output` values, as the AWS CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Pretty JSON with AWS's keys.
    Json,
    /// Tab-separated lines.
    Text,
    /// Boxed tables.
    Table,
}

/// `--status` of access keys and SSH keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyStatusArg {
    /// Usable.
    #[value(name = "Active")]
    Active,
    /// Refused.
    #[value(name = "Inactive")]
    Inactive,
}

impl From<KeyStatusArg> for Status {
    fn from(s: KeyStatusArg) -> Status {
        match s {
            KeyStatusArg::Active => Status::Active,
            KeyStatusArg::Inactive => Status::Inactive,
        }
    }
}

/// Every operation: each noun's commands, flattened into AWS's flat names
/// (`iam create-user`, not `iam user create`), in the order `iam --help` lists them.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Users, their tags and boundaries.
    #[command(flatten)]
    Users(users::UserCommand),
    /// Login profiles, the password policy and the hash cost.
    #[command(flatten)]
    Passwords(login_profile::PasswordCommand),
    /// The lockout policy and each user's lock.
    #[command(flatten)]
    Lockout(lockout::LockoutCommand),
    /// MFA devices and recovery codes.
    #[command(flatten)]
    Mfa(mfa::MfaCommand),
    /// Access keys.
    #[command(flatten)]
    AccessKeys(access_keys::AccessKeyCommand),
    /// SSH public keys.
    #[command(flatten)]
    SshKeys(ssh_keys::SshKeyCommand),
    /// Groups and members.
    #[command(flatten)]
    Groups(groups::GroupCommand),
    /// Managed and inline policies.
    #[command(flatten)]
    Policies(policies::PolicyCommand),
    /// Roles.
    #[command(flatten)]
    Roles(roles::RoleCommand),
    /// Role sessions issued by iam-sts.
    #[command(flatten)]
    Sessions(sessions::SessionCommand),
    /// Host tags.
    #[command(flatten)]
    Hosts(hosts::HostCommand),
    /// Account summary, details and credential report.
    #[command(flatten)]
    Account(account::AccountCommand),
    /// The audit trail.
    #[command(flatten)]
    Audit(audit::AuditCommand),
    /// The userdb directory and SSH key export.
    #[command(flatten)]
    Userdb(userdb::UserdbCommand),
    /// The policy simulator.
    #[command(flatten)]
    Simulator(simulator::SimulatorCommand),
    /// Moving a store between backends.
    #[command(flatten)]
    Migrate(migrate::MigrateCommand),
}

impl Command {
    /// The command's handler and its effect on the store, as its noun decides them.
    pub(crate) fn op(self) -> Op {
        match self {
            Command::Users(c) => c.op(),
            Command::Passwords(c) => c.op(),
            Command::Lockout(c) => c.op(),
            Command::Mfa(c) => c.op(),
            Command::AccessKeys(c) => c.op(),
            Command::SshKeys(c) => c.op(),
            Command::Groups(c) => c.op(),
            Command::Policies(c) => c.op(),
            Command::Roles(c) => c.op(),
            Command::Sessions(c) => c.op(),
            Command::Hosts(c) => c.op(),
            Command::Account(c) => c.op(),
            Command::Audit(c) => c.op(),
            Command::Userdb(c) => c.op(),
            Command::Simulator(c) => c.op(),
            Command::Migrate(c) => c.op(),
        }
    }
}
