//! The `iam` admin CLI: parses AWS-style arguments, calls the store and the credential
//! and policy cores, prints AWS-shaped results. No SQL and no policy logic here.

mod account;
pub mod args;
mod audit;
mod creds;
mod input;
pub mod output;
mod policies;
mod qr;
pub mod sessions;
mod userdb;
mod users;

use crate::store::{self, OpenMode, OpenOptions, Store, StoreError};
use args::{Cli, Command};
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
pub(crate) struct Ctx {
    store: Box<dyn Store>,
    now: i64,
    output: args::Output,
}

/// Result of a handler: JSON to print, or nothing (AWS prints nothing for many writes).
pub(crate) type Out = Result<Option<Value>, CliError>;

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

fn reads_only(c: &Command) -> bool {
    use Command::*;
    matches!(
        c,
        GetUser { .. }
            | ListUsers { .. }
            | ListUserTags { .. }
            | GetLoginProfile { .. }
            | GetAccountPasswordPolicy
            | GetAccountLockoutPolicy
            | GetUserLockoutStatus { .. }
            | ListMfaDevices { .. }
            | ListVirtualMfaDevices { .. }
            | ListAccessKeys { .. }
            | GetAccessKeyLastUsed { .. }
            | ListSshPublicKeys { .. }
            | GetSshPublicKey { .. }
            | GetGroup { .. }
            | ListGroups { .. }
            | ListGroupsForUser { .. }
            | GetPolicy { .. }
            | ListPolicies { .. }
            | GetPolicyVersion { .. }
            | ListPolicyVersions { .. }
            | ListAttachedUserPolicies { .. }
            | ListAttachedGroupPolicies { .. }
            | ListAttachedRolePolicies { .. }
            | ListEntitiesForPolicy { .. }
            | GetUserPolicy { .. }
            | GetGroupPolicy { .. }
            | GetRolePolicy { .. }
            | ListUserPolicies { .. }
            | ListGroupPolicies { .. }
            | ListRolePolicies { .. }
            | GetRole { .. }
            | ListRoles { .. }
            | ListRoleTags { .. }
            | ListHostTags { .. }
            | GetAccountSummary
            | GetAccountAuthorizationDetails
            | GetCredentialReport
            | ListAuditEvents { .. }
            | SimulatePrincipalPolicy { .. }
            | Sessions(sessions::SessionCommand::ListRoleSessions { .. })
    )
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

fn run(cli: Cli, op: &str) -> Result<(), CliError> {
    // The simulator of custom policies needs no store.
    if let Command::SimulateCustomPolicy { .. } = &cli.command {
        let v = policies::simulate_custom(&cli.command)?;
        return print(&v, cli.output, op);
    }
    let path = cli.db.clone().unwrap_or_else(|| store::DEFAULT_PATH.into());
    let store_path = path.clone();
    if matches!(cli.command, Command::SyncUserdb { .. }) {
        userdb::store_must_exist(&store_path)?;
    }
    // userdb: every change refreshes /etc/userdb and the SSH key export (not the sync
    // command itself, whose --check must change nothing).
    let refresh_userdb =
        !reads_only(&cli.command) && !matches!(cli.command, Command::SyncUserdb { .. });
    let insecure_ok = std::env::var(store::ENV_INSECURE).is_ok_and(|v| v == "1");
    // Readers that are not root open read-only, so they never create or migrate a store.
    let mode = if reads_only(&cli.command) && !nix::unistd::geteuid().is_root() {
        OpenMode::ReadOnly
    } else {
        OpenMode::ReadWrite
    };
    let store = store::open(&OpenOptions {
        insecure_ok,
        ..OpenOptions::new(path, mode)
    })?;
    let ctx = Ctx {
        store,
        now: now(),
        output: cli.output,
    };
    let changes = !reads_only(&cli.command) && !matches!(cli.command, Command::SyncUserdb { .. });
    let out = dispatch(&ctx, cli.command)?;
    if changes {
        audit::record(&ctx, op);
    }
    if refresh_userdb {
        userdb::after_change(&ctx, &store_path);
    }
    if let Some(v) = out {
        print(&v, cli.output, op)?;
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

fn dispatch(ctx: &Ctx, cmd: Command) -> Out {
    use Command::*;
    use store::PrincipalKind as K;
    match cmd {
        Sessions(c) => Ok(Some(sessions::run(ctx.store.as_ref(), &c, ctx.now)?)),
        CreateUser {
            user_name,
            path,
            permissions_boundary,
            tags,
            uid,
        } => userdb::with_explicit_uid(ctx, &user_name, uid, |ctx| {
            users::create_user(ctx, &user_name, &path, permissions_boundary, &tags)
        }),
        SyncUserdb { check } => userdb::sync_userdb(ctx, check),
        GetUser { user_name } => users::get_user(ctx, &user_name),
        ListUsers { path_prefix } => users::list_users(ctx, &path_prefix),
        UpdateUser {
            user_name,
            new_user_name,
            new_path,
        } => users::update_user(ctx, &user_name, new_user_name, new_path),
        DeleteUser { user_name } => users::delete_user(ctx, &user_name),
        TagUser { user_name, tags } => users::tag(ctx, store::TagTarget::User, &user_name, &tags),
        UntagUser {
            user_name,
            tag_keys,
        } => users::untag(ctx, store::TagTarget::User, &user_name, &tag_keys),
        ListUserTags { user_name } => users::list_tags(ctx, store::TagTarget::User, &user_name),
        PutUserPermissionsBoundary {
            user_name,
            permissions_boundary,
        } => users::user_boundary(ctx, &user_name, Some(&permissions_boundary)),
        DeleteUserPermissionsBoundary { user_name } => users::user_boundary(ctx, &user_name, None),

        CreateLoginProfile {
            user_name,
            password_stdin,
            password_reset_required,
            ..
        } => creds::create_login_profile(ctx, &user_name, password_stdin, password_reset_required),
        GetLoginProfile { user_name } => creds::get_login_profile(ctx, &user_name),
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
            creds::update_login_profile(ctx, &user_name, password, password_stdin, reset)
        }
        DeleteLoginProfile { user_name } => creds::delete_login_profile(ctx, &user_name),
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
        } => creds::update_password_policy(
            ctx,
            crate::credentials::PasswordPolicy {
                minimum_password_length: minimum_password_length.unwrap_or(6),
                require_symbols,
                require_numbers,
                require_uppercase_characters,
                require_lowercase_characters,
                allow_users_to_change_password,
                max_password_age,
                password_reuse_prevention,
                hard_expiry,
            },
        ),
        GetAccountPasswordPolicy => creds::get_password_policy(ctx),
        DeleteAccountPasswordPolicy => creds::delete_password_policy(ctx),
        UpdateAccountLockoutPolicy {
            max_failed_attempts,
            lockout_duration_seconds,
        } => creds::update_lockout(ctx, max_failed_attempts, lockout_duration_seconds),
        GetAccountLockoutPolicy => creds::get_lockout(ctx),
        GetUserLockoutStatus { user_name } => creds::lockout_status(ctx, &user_name),
        UnlockUser { user_name } => creds::unlock_user(ctx, &user_name),
        SetPasswordHashParameters {
            memory_kib,
            iterations,
            parallelism,
        } => creds::set_hash_params(
            ctx,
            crate::credentials::HashParams {
                memory_kib,
                iterations,
                parallelism,
            },
        ),

        CreateVirtualMfaDevice {
            virtual_mfa_device_name,
            path,
            outfile,
            bootstrap_method,
        } => creds::create_virtual_mfa_device(
            ctx,
            &virtual_mfa_device_name,
            &path,
            outfile,
            bootstrap_method,
        ),
        EnableMfaDevice {
            user_name,
            serial_number,
            authentication_code1,
            authentication_code2,
        } => creds::enable_mfa_device(
            ctx,
            &user_name,
            &serial_number,
            &authentication_code1,
            &authentication_code2,
        ),
        ResyncMfaDevice {
            user_name,
            serial_number,
            authentication_code1,
            authentication_code2,
        } => creds::resync_mfa_device(
            ctx,
            &user_name,
            &serial_number,
            &authentication_code1,
            &authentication_code2,
        ),
        DeactivateMfaDevice {
            user_name,
            serial_number,
        } => creds::deactivate_mfa_device(ctx, &user_name, &serial_number),
        DeleteVirtualMfaDevice { serial_number } => {
            creds::delete_virtual_mfa_device(ctx, &serial_number)
        }
        ListMfaDevices { user_name } => creds::list_mfa_devices(ctx, &user_name),
        ListVirtualMfaDevices { assignment_status } => {
            creds::list_virtual_mfa_devices(ctx, assignment_status)
        }
        CreateRecoveryCodes { user_name } => creds::create_recovery_codes(ctx, &user_name),

        CreateAccessKey { user_name } => creds::create_access_key(ctx, &user_name),
        ListAccessKeys { user_name } => creds::list_access_keys(ctx, &user_name),
        UpdateAccessKey {
            access_key_id,
            status,
            user_name,
        } => creds::update_access_key(ctx, &access_key_id, status, user_name),
        DeleteAccessKey {
            access_key_id,
            user_name,
        } => creds::delete_access_key(ctx, &access_key_id, user_name),
        GetAccessKeyLastUsed { access_key_id } => creds::access_key_last_used(ctx, &access_key_id),

        UploadSshPublicKey {
            user_name,
            ssh_public_key_body,
        } => creds::upload_ssh_key(ctx, &user_name, &ssh_public_key_body),
        ListSshPublicKeys { user_name } => creds::list_ssh_keys(ctx, &user_name),
        GetSshPublicKey {
            user_name,
            ssh_public_key_id,
            ..
        } => creds::get_ssh_key(ctx, &user_name, &ssh_public_key_id),
        UpdateSshPublicKey {
            user_name,
            ssh_public_key_id,
            status,
        } => creds::update_ssh_key(ctx, &user_name, &ssh_public_key_id, status),
        DeleteSshPublicKey {
            user_name,
            ssh_public_key_id,
        } => creds::delete_ssh_key(ctx, &user_name, &ssh_public_key_id),

        CreateGroup { group_name, path } => users::create_group(ctx, &group_name, &path),
        GetGroup { group_name } => users::get_group(ctx, &group_name),
        ListGroups { path_prefix } => users::list_groups(ctx, &path_prefix),
        ListGroupsForUser { user_name } => users::list_groups_for_user(ctx, &user_name),
        AddUserToGroup {
            group_name,
            user_name,
        } => users::add_user_to_group(ctx, &group_name, &user_name),
        RemoveUserFromGroup {
            group_name,
            user_name,
        } => users::remove_user_from_group(ctx, &group_name, &user_name),
        UpdateGroup {
            group_name,
            new_group_name,
            new_path,
        } => users::update_group(ctx, &group_name, new_group_name, new_path),
        DeleteGroup { group_name } => users::delete_group(ctx, &group_name),

        CreatePolicy {
            policy_name,
            policy_document,
            path,
            description,
        } => policies::create_policy(ctx, &policy_name, &policy_document, &path, description),
        GetPolicy { policy_arn } => policies::get_policy(ctx, &policy_arn),
        ListPolicies {
            scope,
            only_attached,
            path_prefix,
        } => policies::list_policies(ctx, scope, only_attached, &path_prefix),
        DeletePolicy { policy_arn } => policies::delete_policy(ctx, &policy_arn),
        CreatePolicyVersion {
            policy_arn,
            policy_document,
            set_as_default,
        } => policies::create_policy_version(ctx, &policy_arn, &policy_document, set_as_default),
        GetPolicyVersion {
            policy_arn,
            version_id,
        } => policies::get_policy_version(ctx, &policy_arn, &version_id),
        ListPolicyVersions { policy_arn } => policies::list_policy_versions(ctx, &policy_arn),
        DeletePolicyVersion {
            policy_arn,
            version_id,
        } => policies::delete_policy_version(ctx, &policy_arn, &version_id),
        SetDefaultPolicyVersion {
            policy_arn,
            version_id,
        } => policies::set_default_version(ctx, &policy_arn, &version_id),
        AttachUserPolicy {
            user_name,
            policy_arn,
        } => policies::attach(ctx, K::User, &user_name, &policy_arn),
        AttachGroupPolicy {
            group_name,
            policy_arn,
        } => policies::attach(ctx, K::Group, &group_name, &policy_arn),
        AttachRolePolicy {
            role_name,
            policy_arn,
        } => policies::attach(ctx, K::Role, &role_name, &policy_arn),
        DetachUserPolicy {
            user_name,
            policy_arn,
        } => policies::detach(ctx, K::User, &user_name, &policy_arn),
        DetachGroupPolicy {
            group_name,
            policy_arn,
        } => policies::detach(ctx, K::Group, &group_name, &policy_arn),
        DetachRolePolicy {
            role_name,
            policy_arn,
        } => policies::detach(ctx, K::Role, &role_name, &policy_arn),
        ListAttachedUserPolicies { user_name } => policies::list_attached(ctx, K::User, &user_name),
        ListAttachedGroupPolicies { group_name } => {
            policies::list_attached(ctx, K::Group, &group_name)
        }
        ListAttachedRolePolicies { role_name } => policies::list_attached(ctx, K::Role, &role_name),
        ListEntitiesForPolicy { policy_arn } => policies::list_entities(ctx, &policy_arn),

        PutUserPolicy {
            user_name,
            policy_name,
            policy_document,
        } => policies::put_inline(ctx, K::User, &user_name, &policy_name, &policy_document),
        PutGroupPolicy {
            group_name,
            policy_name,
            policy_document,
        } => policies::put_inline(ctx, K::Group, &group_name, &policy_name, &policy_document),
        PutRolePolicy {
            role_name,
            policy_name,
            policy_document,
        } => policies::put_inline(ctx, K::Role, &role_name, &policy_name, &policy_document),
        GetUserPolicy {
            user_name,
            policy_name,
        } => policies::get_inline(ctx, K::User, &user_name, &policy_name),
        GetGroupPolicy {
            group_name,
            policy_name,
        } => policies::get_inline(ctx, K::Group, &group_name, &policy_name),
        GetRolePolicy {
            role_name,
            policy_name,
        } => policies::get_inline(ctx, K::Role, &role_name, &policy_name),
        DeleteUserPolicy {
            user_name,
            policy_name,
        } => policies::delete_inline(ctx, K::User, &user_name, &policy_name),
        DeleteGroupPolicy {
            group_name,
            policy_name,
        } => policies::delete_inline(ctx, K::Group, &group_name, &policy_name),
        DeleteRolePolicy {
            role_name,
            policy_name,
        } => policies::delete_inline(ctx, K::Role, &role_name, &policy_name),
        ListUserPolicies { user_name } => policies::list_inline(ctx, K::User, &user_name),
        ListGroupPolicies { group_name } => policies::list_inline(ctx, K::Group, &group_name),
        ListRolePolicies { role_name } => policies::list_inline(ctx, K::Role, &role_name),

        CreateRole {
            role_name,
            assume_role_policy_document,
            path,
            description,
            max_session_duration,
            permissions_boundary,
            tags,
        } => policies::create_role(
            ctx,
            policies::RoleInput {
                name: role_name,
                trust: assume_role_policy_document,
                path,
                description,
                max_session_duration,
                permissions_boundary,
                tags,
            },
        ),
        GetRole { role_name } => policies::get_role(ctx, &role_name),
        ListRoles { path_prefix } => policies::list_roles(ctx, &path_prefix),
        UpdateRole {
            role_name,
            description,
            max_session_duration,
        } => policies::update_role(ctx, &role_name, description, max_session_duration),
        UpdateAssumeRolePolicy {
            role_name,
            policy_document,
        } => policies::update_trust(ctx, &role_name, &policy_document),
        DeleteRole { role_name } => policies::delete_role(ctx, &role_name),
        TagRole { role_name, tags } => users::tag(ctx, store::TagTarget::Role, &role_name, &tags),
        UntagRole {
            role_name,
            tag_keys,
        } => users::untag(ctx, store::TagTarget::Role, &role_name, &tag_keys),
        ListRoleTags { role_name } => users::list_tags(ctx, store::TagTarget::Role, &role_name),
        PutRolePermissionsBoundary {
            role_name,
            permissions_boundary,
        } => policies::role_boundary(ctx, &role_name, Some(&permissions_boundary)),
        DeleteRolePermissionsBoundary { role_name } => {
            policies::role_boundary(ctx, &role_name, None)
        }

        TagHost { host_name, tags } => account::tag_host(ctx, host_name, &tags),
        UntagHost {
            host_name,
            tag_keys,
        } => account::untag_host(ctx, host_name, &tag_keys),
        ListHostTags { host_name } => account::list_host_tags(ctx, host_name),
        GetAccountSummary => account::summary(ctx),
        GetAccountAuthorizationDetails => account::authorization_details(ctx),
        GenerateCredentialReport => account::generate_credential_report(ctx),
        GetCredentialReport => account::get_credential_report(ctx),
        ListAuditEvents {
            user_name,
            since,
            until,
            decision,
            service,
            max_items,
        } => account::list_audit(ctx, user_name, since, until, decision, service, max_items),
        c @ SimulateCustomPolicy { .. } => policies::simulate_custom(&c).map(Some),
        c @ SimulatePrincipalPolicy { .. } => policies::simulate_principal(ctx, &c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
