//! The AWS rules every backend applies alike, pure (no storage): quotas, what blocks a
//! delete, tag rules, id allocation, and the exact AWS message text of every error a
//! store returns. A backend counts and looks up; it asks here what the answer is.

use super::{AccountSummary, PrincipalKind, StoreError, Tag};

/// Tags per user, role or host.
pub const MAX_TAGS: i64 = 50;
/// Access keys per user.
pub const MAX_ACCESS_KEYS: i64 = 2;
/// SSH public keys per user.
pub const MAX_SSH_KEYS: i64 = 5;
/// Versions per managed policy.
pub const MAX_POLICY_VERSIONS: i64 = 5;
/// Managed policies attached per user, group or role.
pub const MAX_ATTACHED: i64 = 10;
/// Groups per user.
pub const MAX_GROUPS_PER_USER: i64 = 10;
/// Retired password hashes kept per user (AWS's maximum PasswordReusePrevention).
pub const PASSWORD_HISTORY_KEPT: i64 = 24;

/// How long a role session issued for a host (fleet mode) is kept past its expiry
/// before `iamd` deletes it (`SessionStore::prune_host_sessions`): a day, so
/// `iam list-role-sessions --all` still shows yesterday's sessions while the replicas
/// do not grow with every session ever issued.
pub const HOST_SESSIONS_KEPT: i64 = 86_400;

type Result<T> = std::result::Result<T, StoreError>;

fn nse(msg: String) -> StoreError {
    StoreError::NoSuchEntity(msg)
}

// ---- the account ------------------------------------------------------------------------

/// What a backend counts for `get-account-summary`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    /// Users.
    pub users: i64,
    /// Groups.
    pub groups: i64,
    /// Roles.
    pub roles: i64,
    /// Managed policies.
    pub policies: i64,
    /// Managed-policy attachments to users, groups and roles.
    pub attachments: i64,
    /// Virtual MFA devices.
    pub mfa_devices: i64,
    /// Devices assigned to a user.
    pub mfa_devices_in_use: i64,
}

/// The AWS SummaryMap: counts beside the quotas.
pub fn account_summary(c: Counts) -> AccountSummary {
    AccountSummary {
        entries: vec![
            ("Users", c.users),
            ("UsersQuota", 5000),
            ("Groups", c.groups),
            ("GroupsQuota", 300),
            ("GroupsPerUserQuota", MAX_GROUPS_PER_USER),
            ("Roles", c.roles),
            ("RolesQuota", 1000),
            ("Policies", c.policies),
            ("PoliciesQuota", 1500),
            ("PolicyVersionsInUse", c.attachments),
            ("PolicyVersionsInUseQuota", 10000),
            ("VersionsPerPolicyQuota", MAX_POLICY_VERSIONS),
            ("AttachedPoliciesPerUserQuota", MAX_ATTACHED),
            ("AttachedPoliciesPerGroupQuota", MAX_ATTACHED),
            ("AttachedPoliciesPerRoleQuota", MAX_ATTACHED),
            ("MFADevices", c.mfa_devices),
            ("MFADevicesInUse", c.mfa_devices_in_use),
            ("AccessKeysPerUserQuota", MAX_ACCESS_KEYS),
            ("AccountAccessKeysPresent", 0),
            ("AccountMFAEnabled", 0),
        ],
    }
}

/// No password policy set.
pub fn no_password_policy() -> StoreError {
    nse("The account policy with name PasswordPolicy cannot be found.".into())
}

/// Lockout settings a store accepts.
///
/// # Errors
/// [`StoreError::Validation`] for a lock shorter than a second.
pub fn check_lockout_settings(s: &crate::credentials::LockoutSettings) -> Result<()> {
    if s.lockout_duration_seconds < 1 {
        return Err(StoreError::Validation(
            "LockoutDurationSeconds must be at least 1".into(),
        ));
    }
    Ok(())
}

/// The shortest role session root may set (seconds), if valid.
///
/// # Errors
/// [`StoreError::Validation`] outside 1..=900.
pub fn check_min_session_duration(n: i64) -> Result<()> {
    if !(1..=900).contains(&n) {
        return Err(StoreError::Validation(
            "the shortest role session must be between 1 and 900 seconds".into(),
        ));
    }
    Ok(())
}

// ---- stored settings (the same text in every backend) --------------------------------------

/// Settings key of the shortest role session (seconds); absent means AWS's 900.
pub const MIN_DURATION_KEY: &str = "sts.min_session_duration";

/// Settings key of the argon2 parameters.
pub const HASH_PARAMS_KEY: &str = "argon2";

/// The stored shortest role session, if set and sane.
pub fn decode_min_session_duration(v: Option<String>) -> Option<i64> {
    v.and_then(|s| s.parse::<i64>().ok()).filter(|n| *n >= 1)
}

/// The argon2 parameters as stored (JSON).
///
/// # Errors
/// [`StoreError::Database`] if they cannot be serialised.
pub fn encode_hash_params(p: &crate::credentials::HashParams) -> Result<String> {
    serde_json::to_string(p).map_err(|e| StoreError::Database(e.to_string()))
}

/// The stored argon2 parameters (the default when unset).
///
/// # Errors
/// [`StoreError::Database`] for a corrupt setting.
pub fn decode_hash_params(v: Option<String>) -> Result<crate::credentials::HashParams> {
    match v {
        None => Ok(crate::credentials::HashParams::default()),
        Some(s) => serde_json::from_str(&s)
            .map_err(|e| StoreError::Database(format!("bad argon2 setting: {e}"))),
    }
}

/// A password policy as stored (JSON), after validating it.
///
/// # Errors
/// [`StoreError::Validation`] for an invalid policy.
pub fn encode_password_policy(p: &crate::credentials::PasswordPolicy) -> Result<String> {
    p.validate().map_err(StoreError::Validation)?;
    serde_json::to_string(p).map_err(|e| StoreError::Database(e.to_string()))
}

/// The stored password policy, if any.
///
/// # Errors
/// [`StoreError::Database`] for a corrupt one.
pub fn decode_password_policy(
    v: Option<String>,
) -> Result<Option<crate::credentials::PasswordPolicy>> {
    v.map(|s| {
        serde_json::from_str(&s)
            .map_err(|e| StoreError::Database(format!("bad password policy: {e}")))
    })
    .transpose()
}

// ---- principals ---------------------------------------------------------------------------

/// An unknown user name.
pub fn no_such_user(name: &str) -> StoreError {
    nse(format!("The user with name {name} cannot be found."))
}

/// An unknown user, looked up by `what` (`name alice`, `id AIDA…`).
pub fn no_such_user_with(what: &str) -> StoreError {
    nse(format!("The user with {what} cannot be found."))
}

/// An unknown group name.
pub fn no_such_group(name: &str) -> StoreError {
    nse(format!("The group with name {name} cannot be found."))
}

/// An unknown role name.
pub fn no_such_role(name: &str) -> StoreError {
    nse(format!("The role with name {name} cannot be found."))
}

/// A user name taken.
pub fn user_exists(name: &str) -> StoreError {
    StoreError::EntityAlreadyExists(format!("User with name {name} already exists."))
}

/// A group name taken.
pub fn group_exists(name: &str) -> StoreError {
    StoreError::EntityAlreadyExists(format!("Group with name {name} already exists."))
}

/// A role name taken.
pub fn role_exists(name: &str) -> StoreError {
    StoreError::EntityAlreadyExists(format!("Role with name {name} already exists."))
}

/// What must be gone before a user can be deleted, in the order AWS checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserPart {
    /// The password.
    LoginProfile,
    /// Access keys.
    AccessKeys,
    /// SSH public keys.
    SshKeys,
    /// An assigned MFA device.
    MfaDevices,
    /// Group memberships.
    Groups,
    /// Attached managed policies.
    AttachedPolicies,
    /// Inline policies.
    InlinePolicies,
}

impl UserPart {
    /// Every part, in the order a delete checks them.
    pub const ALL: [UserPart; 7] = [
        UserPart::LoginProfile,
        UserPart::AccessKeys,
        UserPart::SshKeys,
        UserPart::MfaDevices,
        UserPart::Groups,
        UserPart::AttachedPolicies,
        UserPart::InlinePolicies,
    ];

    /// The DeleteConflict while this part is left.
    pub fn conflict(self) -> StoreError {
        let msg = match self {
            UserPart::LoginProfile => "must delete login profile first",
            UserPart::AccessKeys => "must delete access keys first",
            UserPart::SshKeys => "must delete SSH public keys first",
            UserPart::MfaDevices => "must deactivate MFA devices first",
            UserPart::Groups => "must remove user from all groups first",
            UserPart::AttachedPolicies => "must detach all policies first",
            UserPart::InlinePolicies => "must delete policies first",
        };
        StoreError::DeleteConflict(format!("Cannot delete entity, {msg}."))
    }
}

/// A group with members left.
pub fn group_has_members() -> StoreError {
    StoreError::DeleteConflict("Cannot delete entity, must remove users from group first.".into())
}

/// A group with policies left.
pub fn group_has_policies() -> StoreError {
    StoreError::DeleteConflict("Cannot delete entity, must delete policies first.".into())
}

/// A role with policies left.
pub fn role_has_policies() -> StoreError {
    StoreError::DeleteConflict("Cannot delete entity, must detach all policies first.".into())
}

/// A membership added beyond the quota (`members_after`: the user's groups after).
///
/// # Errors
/// [`StoreError::LimitExceeded`].
pub fn check_groups_per_user(groups_after: i64) -> Result<()> {
    if groups_after > MAX_GROUPS_PER_USER {
        return Err(StoreError::LimitExceeded(format!(
            "Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}"
        )));
    }
    Ok(())
}

/// A user that is not a member.
pub fn not_in_group(user: &str, group: &str) -> StoreError {
    nse(format!("User {user} is not in group {group}."))
}

// ---- tags ------------------------------------------------------------------------------------

/// One tag AWS accepts: key 1-128 characters not starting with `aws:`, value ≤ 256.
///
/// # Errors
/// [`StoreError::Validation`].
pub fn check_tag(t: &Tag) -> Result<()> {
    if t.key.is_empty() || t.key.chars().count() > 128 || t.value.chars().count() > 256 {
        return Err(StoreError::Validation(format!(
            "Tag key must be 1-128 characters and value at most 256 characters: {}",
            t.key
        )));
    }
    if t.key.to_ascii_lowercase().starts_with("aws:") {
        return Err(StoreError::Validation(format!(
            "Tag keys may not start with aws: ({})",
            t.key
        )));
    }
    Ok(())
}

/// The tag quota of a user or role (`tags_after`: its tags after the change).
///
/// # Errors
/// [`StoreError::LimitExceeded`].
pub fn check_tag_count(tags_after: i64) -> Result<()> {
    if tags_after > MAX_TAGS {
        return Err(StoreError::LimitExceeded(format!(
            "An entity can have at most {MAX_TAGS} tags."
        )));
    }
    Ok(())
}

/// The tag quota of a host.
///
/// # Errors
/// [`StoreError::LimitExceeded`].
pub fn check_host_tag_count(tags_after: i64) -> Result<()> {
    if tags_after > MAX_TAGS {
        return Err(StoreError::LimitExceeded(format!(
            "A host can have at most {MAX_TAGS} tags."
        )));
    }
    Ok(())
}

// ---- passwords -------------------------------------------------------------------------------

/// A user with a password already.
pub fn login_profile_exists(user: &str) -> StoreError {
    StoreError::EntityAlreadyExists(format!("Login Profile for user {user} already exists."))
}

/// A user without a password.
pub fn no_login_profile(user: &str) -> StoreError {
    nse(format!("Login Profile for User {user} cannot be found."))
}

// ---- MFA ---------------------------------------------------------------------------------------

/// A device name taken.
pub fn mfa_device_exists(name: &str) -> StoreError {
    StoreError::EntityAlreadyExists(format!(
        "MFADevice entity at the same path and name already exists: {name}."
    ))
}

/// An unknown serial number.
pub fn no_such_mfa_device(serial: &str) -> StoreError {
    nse(format!(
        "VirtualMFADevice with serial number {serial} doesn't exist."
    ))
}

/// A device that is not the user's.
pub fn no_such_user_mfa_device(user: &str, serial: &str) -> StoreError {
    nse(format!(
        "MFA Device with serial number {serial} for user {user} cannot be found."
    ))
}

/// Enabling a device assigned already.
pub fn mfa_device_in_use() -> StoreError {
    StoreError::EntityAlreadyExists("MFA device is already in use.".into())
}

/// Deleting a device still assigned.
pub fn mfa_device_assigned() -> StoreError {
    StoreError::DeleteConflict("MFA Device is in use; deactivate it first.".into())
}

/// pam-iam's rule: one device per user (`devices`: the user's devices now).
///
/// # Errors
/// [`StoreError::LimitExceeded`].
pub fn check_one_mfa_device(user: &str, devices: i64) -> Result<()> {
    if devices > 0 {
        return Err(StoreError::LimitExceeded(format!(
            "User {user} already has an MFA device; pam-iam supports one per user."
        )));
    }
    Ok(())
}

// ---- keys ----------------------------------------------------------------------------------------

/// The access-key quota (`existing`: the user's keys before this one).
///
/// # Errors
/// [`StoreError::LimitExceeded`].
pub fn check_access_keys(existing: i64) -> Result<()> {
    if existing >= MAX_ACCESS_KEYS {
        return Err(StoreError::LimitExceeded(format!(
            "Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS}"
        )));
    }
    Ok(())
}

/// An unknown access key.
pub fn no_such_access_key(key_id: &str) -> StoreError {
    nse(format!("The Access Key with id {key_id} cannot be found."))
}

/// The root user's access-key quota (`existing`: root keys before this one), as AWS.
///
/// # Errors
/// [`StoreError::LimitExceeded`].
pub fn check_root_access_keys(existing: i64) -> Result<()> {
    if existing >= MAX_ACCESS_KEYS {
        return Err(StoreError::LimitExceeded(format!(
            "Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS} (the root user has at most {MAX_ACCESS_KEYS} access keys)"
        )));
    }
    Ok(())
}

/// The SSH-key quota (`existing`: the user's keys before this one).
///
/// # Errors
/// [`StoreError::LimitExceeded`].
pub fn check_ssh_keys(existing: i64) -> Result<()> {
    if existing >= MAX_SSH_KEYS {
        return Err(StoreError::LimitExceeded(format!(
            "Cannot exceed quota for PublicKeysPerUser: {MAX_SSH_KEYS}"
        )));
    }
    Ok(())
}

/// The same public key uploaded twice for a user.
pub fn duplicate_ssh_key() -> StoreError {
    StoreError::Other(
        "DuplicateSSHPublicKey",
        "The public key is already associated with this user.".into(),
    )
}

/// An unknown SSH key.
pub fn no_such_ssh_key(key_id: &str) -> StoreError {
    nse(format!("The Public Key with id {key_id} cannot be found."))
}

// ---- policies -----------------------------------------------------------------------------------

/// A policy name taken.
pub fn policy_exists(name: &str) -> StoreError {
    StoreError::EntityAlreadyExists(format!(
        "A policy called {name} already exists. Duplicate names are not allowed."
    ))
}

/// An unknown policy ARN where a policy is attached or named as a boundary.
pub fn policy_not_attachable(arn: &str) -> StoreError {
    nse(format!("Policy {arn} does not exist or is not attachable."))
}

/// An unknown policy ARN.
pub fn no_such_policy(arn: &str) -> StoreError {
    nse(format!("Policy {arn} was not found."))
}

/// Deleting a policy still in use.
pub fn policy_in_use() -> StoreError {
    StoreError::DeleteConflict("Cannot delete a policy attached to entities.".into())
}

/// Deleting a policy with versions besides the default.
pub fn policy_has_versions() -> StoreError {
    StoreError::DeleteConflict(
        "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.".into(),
    )
}

/// The version quota (`existing`: versions before this one).
///
/// # Errors
/// [`StoreError::LimitExceeded`].
pub fn check_policy_versions(existing: i64) -> Result<()> {
    if existing >= MAX_POLICY_VERSIONS {
        return Err(StoreError::LimitExceeded(
            "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.".into(),
        ));
    }
    Ok(())
}

/// The number of a version id (`v3` → 3).
///
/// # Errors
/// [`StoreError::Validation`] for anything else.
pub fn version_number(version_id: &str) -> Result<i64> {
    version_id
        .strip_prefix('v')
        .and_then(|n| n.parse::<i64>().ok())
        .ok_or_else(|| {
            StoreError::Validation(format!(
                "Invalid version id {version_id}: expected v1, v2, …"
            ))
        })
}

/// An unknown version, where it is read.
pub fn no_such_policy_version_attachable(arn: &str, version_id: &str) -> StoreError {
    nse(format!(
        "Policy {arn} version {version_id} does not exist or is not attachable."
    ))
}

/// An unknown version, where it is changed.
pub fn no_such_policy_version(arn: &str, version_id: &str) -> StoreError {
    nse(format!("Policy {arn} version {version_id} does not exist."))
}

/// Deleting the default version.
pub fn default_version_delete() -> StoreError {
    StoreError::DeleteConflict("Cannot delete the default version of a policy.".into())
}

/// The attachment quota (`attached_after`: the principal's attachments after).
///
/// # Errors
/// [`StoreError::LimitExceeded`].
pub fn check_attached(kind: PrincipalKind, attached_after: i64) -> Result<()> {
    if attached_after > MAX_ATTACHED {
        return Err(StoreError::LimitExceeded(format!(
            "Cannot exceed quota for PoliciesPer{}: {MAX_ATTACHED}",
            match kind {
                PrincipalKind::User => "User",
                PrincipalKind::Group => "Group",
                PrincipalKind::Role => "Role",
            }
        )));
    }
    Ok(())
}

/// Detaching a policy that is not attached.
pub fn policy_not_attached(arn: &str, kind: PrincipalKind, name: &str) -> StoreError {
    nse(format!(
        "Policy {arn} was not found attached to {} {name}.",
        kind.word()
    ))
}

/// An unknown inline policy.
pub fn no_such_inline_policy(kind: PrincipalKind, policy_name: &str) -> StoreError {
    nse(format!(
        "The {} policy with name {policy_name} cannot be found.",
        kind.word()
    ))
}

// ---- role sessions --------------------------------------------------------------------------------

/// An unknown session token.
pub fn no_such_role_session() -> StoreError {
    nse("The role session cannot be found.".into())
}

/// An unknown session id.
pub fn no_such_role_session_id(session_id: &str) -> StoreError {
    nse(format!("The role session {session_id} cannot be found."))
}

/// The role or user of a session being issued was deleted or replaced meanwhile.
pub fn session_principal_replaced(role: &str, user: &str) -> StoreError {
    nse(format!(
        "The role {role} or the user {user} was deleted or replaced while the session was being issued; assume the role again."
    ))
}

// ---- Linux ids -------------------------------------------------------------------------------------

/// Never handed out: the ids `nobody`/`nogroup` and `(uid_t)-1` use.
const RESERVED_IDS: [u32; 2] = [65534, 65535];

/// The next Linux id to hand out: above every id ever handed out in `range`
/// (`highest`), skipping reserved ids and ids `in_use` reports.
///
/// # Errors
/// [`StoreError::LimitExceeded`] when `range` is exhausted.
pub fn next_linux_id(
    highest: Option<u32>,
    range: (u32, u32),
    in_use: &dyn Fn(u32) -> bool,
) -> Result<u32> {
    let start = match highest {
        Some(h) => h.checked_add(1),
        None => Some(range.0),
    };
    start
        .and_then(|s| (s..=range.1).find(|id| !RESERVED_IDS.contains(id) && !in_use(*id)))
        .ok_or_else(|| {
            StoreError::LimitExceeded(format!(
                "the UID/GID range {}-{} is exhausted (ids are never reused); widen it with PAM_IAM_ID_RANGE",
                range.0, range.1
            ))
        })
}

/// An entity's id asked to change.
pub fn linux_id_fixed(entity_id: &str, id: u32) -> StoreError {
    StoreError::EntityAlreadyExists(format!("{entity_id} already has id {id}; ids never change"))
}

/// An explicit id handed out before.
pub fn linux_id_reused(id: u32) -> StoreError {
    StoreError::EntityAlreadyExists(format!(
        "id {id} was already handed out by this store (ids are never reused)"
    ))
}

/// `allocate_id`'s range used up.
pub fn ids_exhausted(space: &str, range: (u32, u32)) -> StoreError {
    StoreError::LimitExceeded(format!("no free {space} left in {}..={}", range.0, range.1))
}
