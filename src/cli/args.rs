//! Command-line grammar: AWS IAM CLI operation names and flags (`aws iam X` → `iam X`).

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
    /// Store path (default /var/lib/pam-iam/iam.db). PAM_IAM_INSECURE_STORE=1 skips the
    /// owner/mode checks (development only; PAM and iam-sts ignore it).
    #[arg(long, global = true, env = "PAM_IAM_DB", value_name = "PATH")]
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

/// `--scope` of list-policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scope {
    /// All policies.
    #[value(name = "All")]
    All,
    /// AWS managed (none in pam-iam).
    #[value(name = "AWS")]
    Aws,
    /// Customer managed.
    #[value(name = "Local")]
    Local,
}

/// `--encoding` of get-ssh-public-key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Encoding {
    /// OpenSSH one-line format.
    #[value(name = "SSH")]
    Ssh,
    /// PEM (returned as the OpenSSH line; PEM conversion is not supported).
    #[value(name = "PEM")]
    Pem,
}

/// Every operation.
#[derive(Debug, Subcommand)]
#[command(rename_all = "kebab-case")]
pub enum Command {
    // ---- role sessions (src/cli/sessions.rs, sts) -------------------------------------------
    /// Role sessions issued by iam-sts: list, revoke one, revoke a role's active sessions.
    #[command(flatten)]
    Sessions(super::sessions::SessionCommand),
    // ---- userdb (Linux accounts) -------------------------------------------------------------
    /// Compare the userdb directory (/etc/userdb) and the SSH key export with the store,
    /// print the drift, and repair it.
    SyncUserdb {
        /// Only report the drift (non-zero exit when something would change).
        #[arg(long)]
        check: bool,
    },
    // ---- users -----------------------------------------------------------------------------
    /// Create an IAM user; the name must be a valid Linux user name (it is the login name).
    CreateUser {
        /// Linux-valid name: lower-case letters, digits, `_`, `-`; at most 32 characters.
        #[arg(long)]
        user_name: String,
        /// IAM path, `/` or `/a/b/`.
        #[arg(long, default_value = "/")]
        path: String,
        /// Managed policy ARN to use as permissions boundary.
        #[arg(long)]
        permissions_boundary: Option<String>,
        /// Tags: `Key=k,Value=v ...` or JSON `[{"Key":"k","Value":"v"}]`.
        #[arg(long, num_args = 1..)]
        tags: Vec<String>,
        /// Linux uid for this user (fleets that must agree); default: the next free id
        /// of the range (see docs/userdb.md).
        #[arg(long)]
        uid: Option<u32>,
    },
    /// Show a user.
    GetUser {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// List users.
    ListUsers {
        /// Only users whose path starts with this.
        #[arg(long, default_value = "/")]
        path_prefix: String,
    },
    /// Rename a user or change its path.
    UpdateUser {
        /// Current name.
        #[arg(long)]
        user_name: String,
        /// New Linux-valid name.
        #[arg(long)]
        new_user_name: Option<String>,
        /// New path.
        #[arg(long)]
        new_path: Option<String>,
    },
    /// Delete a user (DeleteConflict while credentials, groups or policies remain).
    DeleteUser {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// Add or overwrite tags on a user (they become aws:PrincipalTag/KEY).
    TagUser {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Tags: `Key=k,Value=v ...` or JSON.
        #[arg(long, num_args = 1.., required = true)]
        tags: Vec<String>,
    },
    /// Remove tags from a user.
    UntagUser {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Keys to remove.
        #[arg(long, num_args = 1.., required = true)]
        tag_keys: Vec<String>,
    },
    /// List a user's tags.
    ListUserTags {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// Set a user's permissions boundary.
    PutUserPermissionsBoundary {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Managed policy ARN.
        #[arg(long)]
        permissions_boundary: String,
    },
    /// Remove a user's permissions boundary.
    DeleteUserPermissionsBoundary {
        /// User name.
        #[arg(long)]
        user_name: String,
    },

    // ---- passwords -------------------------------------------------------------------------
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

    // ---- MFA -------------------------------------------------------------------------------
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

    // ---- access keys -------------------------------------------------------------------------
    /// Create an access key; the secret is shown only now (at most 2 per user).
    CreateAccessKey {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// List a user's access keys.
    ListAccessKeys {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// Activate or deactivate an access key.
    UpdateAccessKey {
        /// Key id.
        #[arg(long)]
        access_key_id: String,
        /// Active or Inactive.
        #[arg(long, value_enum)]
        status: KeyStatusArg,
        /// Owner (default: found from the key).
        #[arg(long)]
        user_name: Option<String>,
    },
    /// Delete an access key.
    DeleteAccessKey {
        /// Key id.
        #[arg(long)]
        access_key_id: String,
        /// Owner (default: found from the key).
        #[arg(long)]
        user_name: Option<String>,
    },
    /// When and where an access key was last used.
    GetAccessKeyLastUsed {
        /// Key id.
        #[arg(long)]
        access_key_id: String,
    },

    // ---- SSH public keys -----------------------------------------------------------------------
    /// Upload an OpenSSH public key for a user (served by iam-authorized-keys).
    UploadSshPublicKey {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// The key line, or file://PATH.
        #[arg(long)]
        ssh_public_key_body: String,
    },
    /// List a user's SSH public keys.
    ListSshPublicKeys {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// Show one SSH public key.
    GetSshPublicKey {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Key id (APKA…).
        #[arg(long)]
        ssh_public_key_id: String,
        /// Output encoding.
        #[arg(long, value_enum, default_value_t = Encoding::Ssh)]
        encoding: Encoding,
    },
    /// Activate or deactivate an SSH public key.
    UpdateSshPublicKey {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Key id.
        #[arg(long)]
        ssh_public_key_id: String,
        /// Active or Inactive.
        #[arg(long, value_enum)]
        status: KeyStatusArg,
    },
    /// Delete an SSH public key.
    DeleteSshPublicKey {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Key id.
        #[arg(long)]
        ssh_public_key_id: String,
    },

    // ---- groups --------------------------------------------------------------------------------
    /// Create a group.
    CreateGroup {
        /// Group name.
        #[arg(long)]
        group_name: String,
        /// IAM path.
        #[arg(long, default_value = "/")]
        path: String,
    },
    /// Show a group and its members.
    GetGroup {
        /// Group name.
        #[arg(long)]
        group_name: String,
    },
    /// List groups.
    ListGroups {
        /// Path prefix.
        #[arg(long, default_value = "/")]
        path_prefix: String,
    },
    /// List the groups a user is in.
    ListGroupsForUser {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// Add a user to a group.
    AddUserToGroup {
        /// Group name.
        #[arg(long)]
        group_name: String,
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// Remove a user from a group.
    RemoveUserFromGroup {
        /// Group name.
        #[arg(long)]
        group_name: String,
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// Rename a group or change its path.
    UpdateGroup {
        /// Group name.
        #[arg(long)]
        group_name: String,
        /// New name.
        #[arg(long)]
        new_group_name: Option<String>,
        /// New path.
        #[arg(long)]
        new_path: Option<String>,
    },
    /// Delete an empty group without policies.
    DeleteGroup {
        /// Group name.
        #[arg(long)]
        group_name: String,
    },

    // ---- managed policies -------------------------------------------------------------------------
    /// Create a customer managed policy (validated).
    CreatePolicy {
        /// Policy name.
        #[arg(long)]
        policy_name: String,
        /// JSON document, inline or file://PATH.
        #[arg(long)]
        policy_document: String,
        /// IAM path.
        #[arg(long, default_value = "/")]
        path: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Show a managed policy.
    GetPolicy {
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// List managed policies.
    ListPolicies {
        /// All, AWS (none here) or Local.
        #[arg(long, value_enum, default_value_t = Scope::All)]
        scope: Scope,
        /// Only policies attached to something.
        #[arg(long)]
        only_attached: bool,
        /// Path prefix.
        #[arg(long, default_value = "/")]
        path_prefix: String,
    },
    /// Delete an unattached managed policy with a single version.
    DeletePolicy {
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// Add a version to a managed policy (at most 5).
    CreatePolicyVersion {
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
        /// JSON document, inline or file://PATH.
        #[arg(long)]
        policy_document: String,
        /// Make it the default version.
        #[arg(long)]
        set_as_default: bool,
    },
    /// Show one version of a managed policy.
    GetPolicyVersion {
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
        /// `v1`, `v2`, …
        #[arg(long)]
        version_id: String,
    },
    /// List the versions of a managed policy.
    ListPolicyVersions {
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// Delete a non-default version.
    DeletePolicyVersion {
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
        /// Version id.
        #[arg(long)]
        version_id: String,
    },
    /// Make a version the default.
    SetDefaultPolicyVersion {
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
        /// Version id.
        #[arg(long)]
        version_id: String,
    },
    /// Attach a managed policy to a user.
    AttachUserPolicy {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// Attach a managed policy to a group.
    AttachGroupPolicy {
        /// Group name.
        #[arg(long)]
        group_name: String,
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// Attach a managed policy to a role.
    AttachRolePolicy {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// Detach a managed policy from a user.
    DetachUserPolicy {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// Detach a managed policy from a group.
    DetachGroupPolicy {
        /// Group name.
        #[arg(long)]
        group_name: String,
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// Detach a managed policy from a role.
    DetachRolePolicy {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },
    /// List managed policies attached to a user.
    ListAttachedUserPolicies {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// List managed policies attached to a group.
    ListAttachedGroupPolicies {
        /// Group name.
        #[arg(long)]
        group_name: String,
    },
    /// List managed policies attached to a role.
    ListAttachedRolePolicies {
        /// Role name.
        #[arg(long)]
        role_name: String,
    },
    /// List the users, groups and roles a managed policy is attached to.
    ListEntitiesForPolicy {
        /// Policy ARN.
        #[arg(long)]
        policy_arn: String,
    },

    // ---- inline policies ----------------------------------------------------------------------------
    /// Create or replace a user's inline policy.
    PutUserPolicy {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Policy name.
        #[arg(long)]
        policy_name: String,
        /// JSON document, inline or file://PATH.
        #[arg(long)]
        policy_document: String,
    },
    /// Create or replace a group's inline policy.
    PutGroupPolicy {
        /// Group name.
        #[arg(long)]
        group_name: String,
        /// Policy name.
        #[arg(long)]
        policy_name: String,
        /// JSON document, inline or file://PATH.
        #[arg(long)]
        policy_document: String,
    },
    /// Create or replace a role's inline policy.
    PutRolePolicy {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Policy name.
        #[arg(long)]
        policy_name: String,
        /// JSON document, inline or file://PATH.
        #[arg(long)]
        policy_document: String,
    },
    /// Show a user's inline policy.
    GetUserPolicy {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Policy name.
        #[arg(long)]
        policy_name: String,
    },
    /// Show a group's inline policy.
    GetGroupPolicy {
        /// Group name.
        #[arg(long)]
        group_name: String,
        /// Policy name.
        #[arg(long)]
        policy_name: String,
    },
    /// Show a role's inline policy.
    GetRolePolicy {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Policy name.
        #[arg(long)]
        policy_name: String,
    },
    /// Delete a user's inline policy.
    DeleteUserPolicy {
        /// User name.
        #[arg(long)]
        user_name: String,
        /// Policy name.
        #[arg(long)]
        policy_name: String,
    },
    /// Delete a group's inline policy.
    DeleteGroupPolicy {
        /// Group name.
        #[arg(long)]
        group_name: String,
        /// Policy name.
        #[arg(long)]
        policy_name: String,
    },
    /// Delete a role's inline policy.
    DeleteRolePolicy {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Policy name.
        #[arg(long)]
        policy_name: String,
    },
    /// List a user's inline policy names.
    ListUserPolicies {
        /// User name.
        #[arg(long)]
        user_name: String,
    },
    /// List a group's inline policy names.
    ListGroupPolicies {
        /// Group name.
        #[arg(long)]
        group_name: String,
    },
    /// List a role's inline policy names.
    ListRolePolicies {
        /// Role name.
        #[arg(long)]
        role_name: String,
    },

    // ---- roles ----------------------------------------------------------------------------------------
    /// Create a role users can assume with iam-sts.
    CreateRole {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Trust policy, inline or file://PATH.
        #[arg(long)]
        assume_role_policy_document: String,
        /// IAM path.
        #[arg(long, default_value = "/")]
        path: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// 3600..=43200 seconds.
        #[arg(long, default_value_t = 3600)]
        max_session_duration: i64,
        /// Managed policy ARN used as boundary.
        #[arg(long)]
        permissions_boundary: Option<String>,
        /// Tags.
        #[arg(long, num_args = 1..)]
        tags: Vec<String>,
    },
    /// Show a role.
    GetRole {
        /// Role name.
        #[arg(long)]
        role_name: String,
    },
    /// List roles.
    ListRoles {
        /// Path prefix.
        #[arg(long, default_value = "/")]
        path_prefix: String,
    },
    /// Change a role's description or maximum session duration.
    UpdateRole {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// 3600..=43200 seconds.
        #[arg(long)]
        max_session_duration: Option<i64>,
    },
    /// Replace a role's trust policy.
    UpdateAssumeRolePolicy {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Trust policy, inline or file://PATH.
        #[arg(long)]
        policy_document: String,
    },
    /// Delete a role without policies.
    DeleteRole {
        /// Role name.
        #[arg(long)]
        role_name: String,
    },
    /// Add or overwrite tags on a role.
    TagRole {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Tags.
        #[arg(long, num_args = 1.., required = true)]
        tags: Vec<String>,
    },
    /// Remove tags from a role.
    UntagRole {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Keys.
        #[arg(long, num_args = 1.., required = true)]
        tag_keys: Vec<String>,
    },
    /// List a role's tags.
    ListRoleTags {
        /// Role name.
        #[arg(long)]
        role_name: String,
    },
    /// Set a role's permissions boundary.
    PutRolePermissionsBoundary {
        /// Role name.
        #[arg(long)]
        role_name: String,
        /// Managed policy ARN.
        #[arg(long)]
        permissions_boundary: String,
    },
    /// Remove a role's permissions boundary.
    DeleteRolePermissionsBoundary {
        /// Role name.
        #[arg(long)]
        role_name: String,
    },

    // ---- hosts ------------------------------------------------------------------------------------------
    /// Tag a host (its tags are aws:ResourceTag/KEY when it is the resource).
    TagHost {
        /// Host name (default: this host).
        #[arg(long)]
        host_name: Option<String>,
        /// Tags.
        #[arg(long, num_args = 1.., required = true)]
        tags: Vec<String>,
    },
    /// Remove tags from a host.
    UntagHost {
        /// Host name (default: this host).
        #[arg(long)]
        host_name: Option<String>,
        /// Keys.
        #[arg(long, num_args = 1.., required = true)]
        tag_keys: Vec<String>,
    },
    /// List a host's tags.
    ListHostTags {
        /// Host name (default: this host).
        #[arg(long)]
        host_name: Option<String>,
    },

    // ---- account -------------------------------------------------------------------------------------------
    /// Counts and quotas.
    GetAccountSummary,
    /// Every user, group, role and policy with their policies, in AWS's shape.
    GetAccountAuthorizationDetails,
    /// Build the credential report.
    GenerateCredentialReport,
    /// Show the credential report (json: base64 Content as AWS; text: the CSV).
    GetCredentialReport,
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

    // ---- simulator -----------------------------------------------------------------------------------------
    /// Evaluate policy documents against actions and resources, as AWS's simulator.
    SimulateCustomPolicy {
        /// Identity policy documents (inline JSON or file://PATH).
        #[arg(long, num_args = 1.., required = true)]
        policy_input_list: Vec<String>,
        /// Permissions boundary documents.
        #[arg(long, num_args = 1..)]
        permissions_boundary_policy_input_list: Vec<String>,
        /// Actions such as host:Login.
        #[arg(long, num_args = 1.., required = true)]
        action_names: Vec<String>,
        /// Resource ARNs (default `*`).
        #[arg(long, num_args = 1..)]
        resource_arns: Vec<String>,
        /// Context entries: JSON or `ContextKeyName=k,ContextKeyValues=v,ContextKeyType=t`.
        #[arg(long, num_args = 1..)]
        context_entries: Vec<String>,
        /// The principal ARN used for policy variables.
        #[arg(long)]
        caller_arn: Option<String>,
    },
    /// Evaluate the policies of a user, group or role of this store.
    SimulatePrincipalPolicy {
        /// ARN of the user, group or role.
        #[arg(long)]
        policy_source_arn: String,
        /// Extra identity policy documents.
        #[arg(long, num_args = 1..)]
        policy_input_list: Vec<String>,
        /// Boundary documents (override the principal's boundary).
        #[arg(long, num_args = 1..)]
        permissions_boundary_policy_input_list: Vec<String>,
        /// Actions.
        #[arg(long, num_args = 1.., required = true)]
        action_names: Vec<String>,
        /// Resource ARNs (default `*`).
        #[arg(long, num_args = 1..)]
        resource_arns: Vec<String>,
        /// Context entries.
        #[arg(long, num_args = 1..)]
        context_entries: Vec<String>,
        /// Caller ARN (default: the source ARN for users).
        #[arg(long)]
        caller_arn: Option<String>,
    },
}
