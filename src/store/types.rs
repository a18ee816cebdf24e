//! Domain types the store hands out: no SQLite types, AWS field meanings.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A key/value tag (AWS `Tag`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Tag key (case-insensitive unique per entity).
    pub key: String,
    /// Tag value.
    pub value: String,
}

/// Which kind of entity carries tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagTarget {
    /// An IAM user.
    User,
    /// A role.
    Role,
}

/// Principals that hold policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// IAM user.
    User,
    /// IAM group.
    Group,
    /// IAM role.
    Role,
}

impl PrincipalKind {
    /// Lower-case word used in messages and ARNs.
    pub fn word(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Group => "group",
            PrincipalKind::Role => "role",
        }
    }
}

/// Active/Inactive, for access keys and SSH keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Usable.
    Active,
    /// Kept but refused.
    Inactive,
}

impl Status {
    /// AWS spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "Active",
            Status::Inactive => "Inactive",
        }
    }

    /// Parse AWS spelling.
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "Active" => Some(Status::Active),
            "Inactive" => Some(Status::Inactive),
            _ => None,
        }
    }
}

/// Input of `create_user`.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// Linux-valid user name.
    pub name: String,
    /// IAM path (`/` by default).
    pub path: String,
    /// Managed policy ARN used as permissions boundary.
    pub permissions_boundary: Option<String>,
    /// Initial tags.
    pub tags: Vec<Tag>,
}

/// An IAM user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Name (= Linux login name).
    pub name: String,
    /// `AIDA…`
    pub user_id: String,
    /// `arn:aws:iam::ACCT:user/PATHNAME`
    pub arn: String,
    /// IAM path.
    pub path: String,
    /// Unix time of creation.
    pub create_date: i64,
    /// Boundary policy ARN.
    pub permissions_boundary: Option<String>,
    /// Last successful password login.
    pub password_last_used: Option<i64>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// A user's password.
#[derive(Debug, Clone)]
pub struct LoginProfile {
    /// Owner.
    pub user_name: String,
    /// Unix time of creation.
    pub create_date: i64,
    /// The user must choose a new password at next login.
    pub password_reset_required: bool,
    /// Unix time of the last change (for MaxPasswordAge).
    pub password_last_changed: i64,
    /// argon2id PHC string.
    pub password_hash: Zeroizing<String>,
}

/// What PAM needs to authenticate one user, read at once.
#[derive(Debug, Clone)]
pub struct AuthInfo {
    /// The user.
    pub user: User,
    /// Password, if any.
    pub login_profile: Option<LoginProfile>,
    /// Failure counter and lock.
    pub lock: crate::credentials::LockState,
    /// Enabled MFA device, if any.
    pub mfa: Option<MfaSecret>,
}

/// A virtual MFA device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaDevice {
    /// `arn:aws:iam::ACCT:mfa/PATHNAME`
    pub serial_number: String,
    /// Device name.
    pub name: String,
    /// IAM path.
    pub path: String,
    /// User it is enabled for.
    pub user_name: Option<String>,
    /// When it was enabled.
    pub enable_date: Option<i64>,
    /// When it was created.
    pub create_date: i64,
}

/// What a host's replica knows of a user's enabled MFA device (migration 16): enough
/// for the offline rules to refuse material made before the device was enabled, or for
/// another device, and nothing of its seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaMfaDevice {
    /// Serial number (ARN).
    pub serial_number: String,
    /// When it was enabled (Unix seconds, the server's clock).
    pub enable_date: i64,
}

/// Seed and replay watermark of a device.
#[derive(Debug, Clone)]
pub struct MfaSecret {
    /// Serial number (ARN).
    pub serial_number: String,
    /// Raw TOTP seed.
    pub seed: Zeroizing<Vec<u8>>,
    /// Last accepted time step (-1: none yet).
    pub watermark: i64,
    /// User it is enabled for.
    pub user_name: Option<String>,
}

/// An access key (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// `AKIA…`
    pub access_key_id: String,
    /// Owner.
    pub user_name: String,
    /// Active/Inactive.
    pub status: Status,
    /// Unix time of creation.
    pub create_date: i64,
    /// Unix time of last use.
    pub last_used_date: Option<i64>,
    /// Service of last use.
    pub last_used_service: Option<String>,
}

/// What verifying a request signed with an access key needs: the key, whose it is,
/// and its secret sealed under the server's key file (`None` for keys made before
/// secrets were sealed: they cannot sign requests and must be rotated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCredential {
    /// The key (`user_name` is empty for a root key).
    pub key: AccessKey,
    /// A key of the account root user (`arn:aws:iam::ACCT:root`).
    pub root: bool,
    /// `credentials::sealed` bytes, bound to the key id.
    pub sealed_secret: Option<Vec<u8>>,
    /// The user the key belongs to, read with it (`None` for a root key): whom a
    /// request signed with it acts as, without another read.
    pub user: Option<User>,
    /// The store version of the snapshot the key and user were read in: a policy set
    /// read at the same version is the one this snapshot holds (every change to what
    /// decides a principal's policies takes a new, commit-ordered version).
    pub version: i64,
}

/// An SSH public key of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshKey {
    /// `APKA…`
    pub ssh_public_key_id: String,
    /// Owner.
    pub user_name: String,
    /// The OpenSSH public key line.
    pub body: String,
    /// `SHA256:…` fingerprint.
    pub fingerprint: String,
    /// Active/Inactive.
    pub status: Status,
    /// Unix time of upload.
    pub upload_date: i64,
}

/// An IAM group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Name.
    pub name: String,
    /// `AGPA…`
    pub group_id: String,
    /// ARN.
    pub arn: String,
    /// IAM path.
    pub path: String,
    /// Unix time of creation.
    pub create_date: i64,
}

/// Input of `create_policy`.
#[derive(Debug, Clone, Default)]
pub struct NewPolicy {
    /// Name.
    pub name: String,
    /// IAM path.
    pub path: String,
    /// Description.
    pub description: Option<String>,
    /// Validated JSON document (v1).
    pub document: String,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// A customer managed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicy {
    /// Name.
    pub name: String,
    /// `ANPA…`
    pub policy_id: String,
    /// ARN.
    pub arn: String,
    /// IAM path.
    pub path: String,
    /// Description.
    pub description: Option<String>,
    /// `vN` of the default version.
    pub default_version_id: String,
    /// Number of users, groups and roles it is attached to.
    pub attachment_count: i64,
    /// Number of users and roles using it as boundary.
    pub permissions_boundary_usage_count: i64,
    /// Creation time.
    pub create_date: i64,
    /// Last time the default version changed.
    pub update_date: i64,
}

/// One version of a managed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    /// `vN`
    pub version_id: String,
    /// JSON document.
    pub document: String,
    /// Whether this is the default version.
    pub is_default_version: bool,
    /// Creation time.
    pub create_date: i64,
}

/// A policy attached to a principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedPolicy {
    /// Name.
    pub policy_name: String,
    /// ARN.
    pub policy_arn: String,
}

/// Who a policy is attached to (names and ids).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyEntities {
    /// (name, id)
    pub groups: Vec<(String, String)>,
    /// (name, id)
    pub users: Vec<(String, String)>,
    /// (name, id)
    pub roles: Vec<(String, String)>,
}

/// Where a policy that applies to a principal comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyOrigin {
    /// Inline policy of the user or role itself.
    Inline,
    /// Managed policy attached to the user or role itself.
    Attached,
    /// Inline policy of a group (its name).
    GroupInline(String),
    /// Managed policy attached to a group (its name).
    GroupAttached(String),
    /// The permissions boundary.
    Boundary,
}

/// A policy document that applies, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicablePolicy {
    /// The managed policy ARN, or the inline policy's name.
    pub source: String,
    /// Policy name.
    pub name: String,
    /// Origin.
    pub origin: PolicyOrigin,
    /// JSON document (default version for managed policies).
    pub document: String,
}

/// Everything that decides what a principal may do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrincipalPolicies {
    /// Identity policies.
    pub identity: Vec<ApplicablePolicy>,
    /// Permissions boundary.
    pub boundary: Option<ApplicablePolicy>,
}

/// Input of `create_role`.
#[derive(Debug, Clone, Default)]
pub struct NewRole {
    /// Name.
    pub name: String,
    /// IAM path.
    pub path: String,
    /// Trust policy (validated).
    pub assume_role_policy_document: String,
    /// Description.
    pub description: Option<String>,
    /// 3600..=43200 seconds.
    pub max_session_duration: i64,
    /// Boundary policy ARN.
    pub permissions_boundary: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Name.
    pub name: String,
    /// `AROA…`
    pub role_id: String,
    /// ARN.
    pub arn: String,
    /// IAM path.
    pub path: String,
    /// Trust policy document.
    pub assume_role_policy_document: String,
    /// Description.
    pub description: Option<String>,
    /// Seconds.
    pub max_session_duration: i64,
    /// Boundary ARN.
    pub permissions_boundary: Option<String>,
    /// Creation time.
    pub create_date: i64,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// What an API role session carries beyond its row (`AssumeRole`'s `SourceIdentity`,
/// `Tags`, `TransitiveTagKeys` and `PolicyArns`, and what a chained session inherits):
/// kept for the session's decisions and passed on by role chaining.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionContext {
    /// `aws:SourceIdentity`: set once, kept by every session chained from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
    /// Session tags (`aws:PrincipalTag/K`, over the role's tags of the same key).
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Keys of the tags passed on to sessions chained from this one.
    #[serde(default)]
    pub transitive_tag_keys: Vec<String>,
    /// Managed session policies, by ARN (their default version, read at each decision).
    #[serde(default)]
    pub policy_arns: Vec<String>,
}

impl SessionContext {
    /// Nothing beyond the row.
    pub fn is_empty(&self) -> bool {
        *self == SessionContext::default()
    }
}

/// A session of temporary (`ASIA…`) credentials: a role session issued by iam-sts (bound
/// to a terminal, its secret and token stored only as a hash) or by iamd's `AssumeRole`,
/// or a user's (or the account root's) own session from iamd's `GetSessionToken` (no role:
/// `role_name` empty; root: `user_name` empty too). See [`RoleSession::of`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleSession {
    /// Session id (`ASIA…` access key id of the session).
    pub session_id: String,
    /// User who assumed the role.
    pub user_name: String,
    /// Role name.
    pub role_name: String,
    /// `--role-session-name`.
    pub session_name: String,
    /// SHA-256 of the session token.
    pub token_hash: String,
    /// Issue time.
    pub issued: i64,
    /// Expiry time.
    pub expires: i64,
    /// What the session is bound to (tty or login session id).
    pub scope: String,
    /// Revocation time.
    pub revoked: Option<i64>,
    /// Time of the MFA authentication behind it.
    pub mfa_time: Option<i64>,
    /// `AROA…` id of the role it was issued for: a role deleted and created again under
    /// the same name has a new id, and the session no longer counts. `None` only for
    /// sessions from before schema 4 whose role could not be proven the same; they never
    /// count.
    pub role_id: Option<String>,
    /// `AIDA…` id of the user who assumed it (same rule as `role_id`).
    pub user_id: Option<String>,
    /// API sessions (iamd): the secret access key sealed under the server's key
    /// (`credentials::sealed`, bound to `session_id`), so SigV4 signatures can be
    /// checked; `token_hash` is then the SHA-256 of the session token alone. `None` for
    /// terminal-bound sessions (iam-sts), which are never usable over the API.
    pub secret_sealed: Option<Vec<u8>>,
    /// Fleet mode: the host the session was issued for (iam-sts → iam-agent → iamd);
    /// that host's replica carries it, so sudo there decides on it. `None` elsewhere.
    pub host: Option<String>,
}

/// Whose credentials a [`RoleSession`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionOf {
    /// A role (`AssumeRole`, `iam-sts assume-role`).
    Role,
    /// The user itself (`GetSessionToken`).
    User,
    /// The account root user (`GetSessionToken` with a root key).
    Root,
}

impl RoleSession {
    /// Whose credentials these are (see the type's doc).
    pub fn of(&self) -> SessionOf {
        match (self.role_name.is_empty(), self.user_name.is_empty()) {
            (false, _) => SessionOf::Role,
            (true, false) => SessionOf::User,
            (true, true) => SessionOf::Root,
        }
    }

    /// Issued by iamd for use over the API (it has a sealed secret).
    pub fn is_api(&self) -> bool {
        self.secret_sealed.is_some()
    }
}

/// The store's name for the one audit event type, [`crate::audit::Event`].
pub use crate::audit::Event as AuditEvent;

/// A use of an access key (a user's or the root user's) to note as its last use: what
/// [`AccessKeyStore::record_access_key_use`] takes one at a time, batched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    /// The key id.
    pub key_id: String,
    /// The service it signed for (`iam`, `sts`).
    pub service: String,
    /// Unix seconds.
    pub time: i64,
}

/// Filter for `list_audit`.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Exact user name.
    pub user: Option<String>,
    /// Earliest time (inclusive).
    pub since: Option<i64>,
    /// Latest time (inclusive).
    pub until: Option<i64>,
    /// Exact decision.
    pub decision: Option<String>,
    /// Exact service.
    pub service: Option<String>,
    /// Most recent N only.
    pub limit: Option<u32>,
}

/// Counts for `get-account-summary` (AWS SummaryMap keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountSummary {
    /// (AWS key, value)
    pub entries: Vec<(&'static str, i64)>,
}

/// uid or gid space for `allocate_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSpace {
    /// Linux uids.
    Uid,
    /// Linux gids.
    Gid,
}

/// A host's credentials in fleet mode (never the secret): the agent on `host` signs its
/// requests to `iamd` with them, as the principal `arn:aws:iam::ACCT:host/HOST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCredential {
    /// Host name.
    pub host: String,
    /// `HKIA…` key id.
    pub key_id: String,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds of the last request signed with it.
    pub last_used: Option<i64>,
}

/// One accepted TOTP step of a device (fleet mode): where and when it was spent, online
/// (`iamd`'s login check) or offline (a host's journal). Two acceptances of one
/// (serial, step) are a replay incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpentStep {
    /// The device ARN.
    pub serial: String,
    /// The TOTP time step.
    pub step: i64,
    /// The host that accepted it (its name in `host/NAME`).
    pub host: String,
    /// The IAM user who presented it.
    pub user: String,
    /// Unix seconds of the acceptance.
    pub time: i64,
    /// Decided offline by the host.
    pub offline: bool,
}

/// The spent step of an online login's accepted code (the settle of the one
/// second-factor check records it in the same transaction).
pub fn spent_online(user: &str, serial: &str, step: i64, host: &str, now: i64) -> SpentStep {
    SpentStep {
        serial: serial.to_string(),
        step,
        host: host.to_string(),
        user: user.to_string(),
        time: now,
        offline: false,
    }
}

/// A (device, step) accepted twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayIncident {
    /// Store-assigned id (0 before it is recorded).
    pub id: i64,
    /// Unix seconds it was found (the journal's arrival).
    pub time: i64,
    /// The IAM user.
    pub user: String,
    /// The device ARN.
    pub serial: String,
    /// The step accepted twice.
    pub step: i64,
    /// The acceptance recorded first.
    pub first: SpentStep,
    /// The one that revealed the incident.
    pub second: SpentStep,
    /// What `iamd` did (`on_replay`: `audit`, `lock`, `lock-and-revoke-sessions`).
    pub action: String,
}
