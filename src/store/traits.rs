//! The store interface, one sub-trait per aggregate; [`Store`] is their sum. A backend
//! implements every sub-trait (SQLite: `sqlite/`, one file per aggregate) and calls
//! [`super::rules`] for AWS quotas, conflicts and messages, so every backend answers alike.
//! Every method is one transaction: it happens completely or not at all. Times are unix
//! seconds passed in by the caller.

use super::*;
use crate::credentials::second_factor::{Admission, Proof, Record, Settled, Throttle};

/// The account itself: its id, schema version, hashing parameters, summary counts and the stored credential report.
pub trait AccountStore {
    /// The 12-digit account id fixed at creation.
    fn account_id(&self) -> Result<String>;
    /// Schema version after migrations.
    fn schema_version(&self) -> Result<i64>;
    /// argon2 parameters for new password hashes (and the dummy hash).
    fn hash_params(&self) -> Result<crate::credentials::HashParams>;
    /// Change the argon2 parameters used for new hashes.
    fn set_hash_params(&self, p: &crate::credentials::HashParams) -> Result<()>;
    /// Counts for `get-account-summary`.
    fn account_summary(&self) -> Result<AccountSummary>;

    /// Store a generated report.
    fn put_credential_report(&self, csv: &str, now: i64) -> Result<()>;
    /// The last report and when it was generated.
    fn get_credential_report(&self) -> Result<Option<(String, i64)>>;
    /// The shortest role session root allowed (for tests); `None`: AWS's 900 s.
    fn sts_min_session_duration(&self) -> Result<Option<i64>>;
    /// Sets (root only: the store is root's) or clears the shortest role session.
    fn set_sts_min_session_duration(&self, seconds: Option<i64>) -> Result<()>;
}

/// IAM users.
pub trait UserStore {
    /// Create a user; the name must already be a valid Linux user name.
    fn create_user(&self, u: &NewUser, now: i64) -> Result<User>;
    /// A user by name.
    fn get_user(&self, name: &str) -> Result<User>;
    /// A user by unique id (`AIDA…`).
    fn get_user_by_id(&self, user_id: &str) -> Result<User>;
    /// Users whose path starts with `path_prefix`, by name.
    fn list_users(&self, path_prefix: &str) -> Result<Vec<User>>;
    /// Rename and/or move a user.
    fn update_user(&self, name: &str, new_name: Option<&str>, new_path: Option<&str>)
    -> Result<()>;
    /// Delete a user that has no credentials, groups or policies left (else DeleteConflict).
    fn delete_user(&self, name: &str) -> Result<()>;
    /// Set the user's permissions boundary (a managed policy ARN) or remove it.
    fn set_user_boundary(&self, name: &str, policy_arn: Option<&str>) -> Result<()>;
}

/// Tags of users and roles.
pub trait TagStore {
    /// Add or overwrite tags (at most 50 per entity).
    fn tag(&self, target: TagTarget, name: &str, tags: &[Tag]) -> Result<()>;
    /// Remove tags by key (case-insensitive).
    fn untag(&self, target: TagTarget, name: &str, keys: &[String]) -> Result<()>;
    /// Tags of an entity.
    fn list_tags(&self, target: TagTarget, name: &str) -> Result<Vec<Tag>>;
}

/// Passwords: login profiles, their history, the account password policy, and the one read a login needs.
pub trait LoginProfileStore {
    /// Give a user a password (hash already computed and policy-checked).
    fn create_login_profile(
        &self,
        user: &str,
        hash: &str,
        reset_required: bool,
        now: i64,
    ) -> Result<LoginProfile>;
    /// The login profile, hash included.
    fn get_login_profile(&self, user: &str) -> Result<LoginProfile>;
    /// Change the password (pushing the old hash into the history) and/or reset flag.
    fn update_login_profile(
        &self,
        user: &str,
        hash: Option<&str>,
        reset_required: Option<bool>,
        now: i64,
    ) -> Result<()>;
    /// Remove the password.
    fn delete_login_profile(&self, user: &str) -> Result<()>;
    /// The current and up to `depth - 1` previous hashes, newest first, for reuse checks.
    fn password_history(&self, user: &str, depth: usize) -> Result<Vec<String>>;
    /// Everything PAM needs to authenticate `user` in one read; `None` if unknown.
    fn auth_info(&self, user: &str) -> Result<Option<AuthInfo>>;
    /// Account password policy (`None` when unset: AWS defaults apply).
    fn get_password_policy(&self) -> Result<Option<PasswordPolicy>>;
    /// Set the account password policy.
    fn put_password_policy(&self, p: &PasswordPolicy) -> Result<()>;
    /// Remove the account password policy (NoSuchEntity if none).
    fn delete_password_policy(&self) -> Result<()>;
}

/// Failed-login counting, locks and the second-factor attempt limit (the store half of `credentials::second_factor::FactorStore`).
pub trait LockoutStore {
    /// Lockout settings (defaults: disabled).
    fn get_lockout_settings(&self) -> Result<LockoutSettings>;
    /// Change lockout settings.
    fn put_lockout_settings(&self, s: &LockoutSettings) -> Result<()>;
    /// Count one failed login and lock per the settings, atomically, with the audit row
    /// `audit` makes of the state after (in the same transaction).
    fn record_failure(
        &self,
        user: &str,
        now: i64,
        audit: Record<'_, LockState>,
    ) -> Result<LockState>;
    /// Admit one second-factor attempt (see `credentials::second_factor::FactorStore`):
    /// refuse and count it when the user is locked, else take a slot of the per-user
    /// rate limit, atomically, with the audit row `audit` makes of the answer.
    fn admit_attempt(
        &self,
        user: &str,
        now_ms: i64,
        throttle: &Throttle,
        audit: Record<'_, Admission>,
    ) -> Result<Admission>;
    /// A successful authentication, atomically (`BEGIN IMMEDIATE`): refused and counted
    /// when the user is locked at `now`; else spend `proof` (refused and counted when it
    /// is already spent), clear failures and, for a password login, note
    /// `PasswordLastUsed`; and the audit row `audit` makes of the answer. One
    /// transaction: a row that cannot be written leaves the proof unspent.
    fn settle_success(
        &self,
        user: &str,
        proof: &Proof<'_>,
        password_login: bool,
        now: i64,
        audit: Record<'_, Settled>,
    ) -> Result<Settled>;
    /// Clear failures and any lock (`iam unlock-user`).
    fn unlock_user(&self, user: &str) -> Result<()>;
    /// Lock a user until `until` (a replay incident's response), keeping its failure
    /// count; a later lock already in place stays.
    fn lock_user_until(&self, user: &str, until: i64) -> Result<()>;
    /// Failure counter and lock of a user.
    fn lock_state(&self, user: &str) -> Result<LockState>;
}

/// Virtual MFA devices, their seeds and watermarks, and recovery codes.
pub trait MfaStore {
    /// Create an unassigned virtual MFA device holding `seed`.
    fn create_virtual_mfa_device(
        &self,
        name: &str,
        path: &str,
        seed: &[u8],
        now: i64,
    ) -> Result<MfaDevice>;
    /// Assign and enable a device for a user, set its watermark and store the recovery
    /// code hashes, all at once.
    fn enable_mfa_device(
        &self,
        user: &str,
        serial: &str,
        watermark: i64,
        recovery_hashes: &[String],
        now: i64,
    ) -> Result<()>;
    /// Unassign a device from a user (the device survives, unassigned) and drop its codes.
    fn deactivate_mfa_device(&self, user: &str, serial: &str) -> Result<()>;
    /// Delete an unassigned virtual device (DeleteConflict while assigned).
    fn delete_virtual_mfa_device(&self, serial: &str) -> Result<()>;
    /// Devices assigned to a user.
    fn list_mfa_devices(&self, user: &str) -> Result<Vec<MfaDevice>>;
    /// All virtual devices, optionally only assigned (`Some(true)`) or unassigned.
    fn list_virtual_mfa_devices(&self, assigned: Option<bool>) -> Result<Vec<MfaDevice>>;
    /// A device's seed and watermark (for enable/resync, and PAM).
    fn mfa_secret(&self, serial: &str) -> Result<MfaSecret>;
    /// The enabled device of a user, if any.
    fn enabled_mfa(&self, user: &str) -> Result<Option<MfaSecret>>;
    /// Set the watermark unconditionally (resync-mfa-device).
    fn set_totp_watermark(&self, serial: &str, step: i64) -> Result<()>;
    /// Raise the watermark to `step` if it is below (merging a host's offline steps:
    /// watermarks only ever move up); whether it moved. An unknown device is no change.
    fn raise_totp_watermark(&self, serial: &str, step: i64) -> Result<bool>;
    /// Replace a user's recovery codes.
    fn replace_recovery_codes(&self, user: &str, hashes: &[String]) -> Result<()>;
    /// Unused recovery codes left.
    fn recovery_codes_left(&self, user: &str) -> Result<u32>;
    /// The hashes of the user's unused recovery codes, in a stable order: `iamd` keys
    /// offline material to them (fleet mode), never handing out the hashes themselves.
    fn unused_recovery_hashes(&self, user: &str) -> Result<Vec<String>>;
    /// Spend an unused code at `time` (a host's journal: it was accepted offline);
    /// whether it was unused. No failure is counted and none cleared: the journal entry
    /// is the decision, already made.
    fn use_recovery_code(&self, user: &str, code_hash: &str, time: i64) -> Result<bool>;
}

/// Access keys (secret hashes only).
pub trait AccessKeyStore {
    /// Store a new key (LimitExceeded at 2 per user).
    fn create_access_key(
        &self,
        user: &str,
        key_id: &str,
        secret_hash: &str,
        now: i64,
    ) -> Result<AccessKey>;
    /// Keys of a user.
    fn list_access_keys(&self, user: &str) -> Result<Vec<AccessKey>>;
    /// A key with its owner.
    fn get_access_key(&self, key_id: &str) -> Result<AccessKey>;
    /// The stored secret hash of an active key (for verification by iam-sts).
    fn access_key_secret_hash(&self, key_id: &str) -> Result<String>;
    /// Activate or deactivate a key.
    fn update_access_key(&self, user: &str, key_id: &str, status: Status) -> Result<()>;
    /// Delete a key.
    fn delete_access_key(&self, user: &str, key_id: &str) -> Result<()>;
    /// Note a use of a key (a user's or the root user's).
    fn record_access_key_use(&self, key_id: &str, service: &str, now: i64) -> Result<()>;

    // Sealed secrets and root keys (migration 6). The defaults refuse, so a backend
    // without that migration still builds and says what it lacks.

    /// Store the sealed secret of a user's key (compose with
    /// [`AccessKeyStore::create_access_key`] in one [`Store::atomically`]).
    fn set_access_key_secret(&self, key_id: &str, sealed: &[u8]) -> Result<()> {
        let _ = (key_id, sealed);
        Err(no_root_keys())
    }
    /// A key of a user or of the root user, with its sealed secret (NoSuchEntity if
    /// there is no such key).
    fn access_key_credential(&self, key_id: &str) -> Result<KeyCredential> {
        let _ = key_id;
        Err(no_root_keys())
    }
    /// Store a new root access key (LimitExceeded at 2).
    fn create_root_access_key(
        &self,
        key_id: &str,
        secret_hash: &str,
        sealed: &[u8],
        now: i64,
    ) -> Result<AccessKey> {
        let _ = (key_id, secret_hash, sealed, now);
        Err(no_root_keys())
    }
    /// The root user's keys.
    fn list_root_access_keys(&self) -> Result<Vec<AccessKey>> {
        Err(no_root_keys())
    }
    /// Activate or deactivate a root key.
    fn update_root_access_key(&self, key_id: &str, status: Status) -> Result<()> {
        let _ = (key_id, status);
        Err(no_root_keys())
    }
    /// Delete a root key.
    fn delete_root_access_key(&self, key_id: &str) -> Result<()> {
        let _ = key_id;
        Err(no_root_keys())
    }
    /// Keys (a user's or the root user's) made before secrets were sealed (migration 6):
    /// only their hash is kept, so they cannot sign requests and must be rotated.
    fn unsealed_access_keys(&self) -> Result<Vec<AccessKey>> {
        Err(no_root_keys())
    }
}

/// What a backend without sealed secrets and root keys answers.
fn no_root_keys() -> StoreError {
    StoreError::Unsupported(
        "this store backend does not keep sealed access-key secrets or root keys yet".into(),
    )
}

/// SSH public keys of users.
pub trait SshKeyStore {
    /// Upload a key (fingerprint computed by the caller).
    fn upload_ssh_public_key(
        &self,
        user: &str,
        key_id: &str,
        body: &str,
        fingerprint: &str,
        now: i64,
    ) -> Result<SshKey>;
    /// Keys of a user.
    fn list_ssh_public_keys(&self, user: &str) -> Result<Vec<SshKey>>;
    /// One key.
    fn get_ssh_public_key(&self, user: &str, key_id: &str) -> Result<SshKey>;
    /// Activate or deactivate a key.
    fn update_ssh_public_key(&self, user: &str, key_id: &str, status: Status) -> Result<()>;
    /// Delete a key.
    fn delete_ssh_public_key(&self, user: &str, key_id: &str) -> Result<()>;
}

/// IAM groups and their members.
pub trait GroupStore {
    /// Create a group.
    fn create_group(&self, name: &str, path: &str, now: i64) -> Result<Group>;
    /// A group.
    fn get_group(&self, name: &str) -> Result<Group>;
    /// Members of a group.
    fn group_members(&self, name: &str) -> Result<Vec<User>>;
    /// Groups under a path prefix.
    fn list_groups(&self, path_prefix: &str) -> Result<Vec<Group>>;
    /// Groups a user belongs to.
    fn list_groups_for_user(&self, user: &str) -> Result<Vec<Group>>;
    /// Add a member (no-op if already a member, as AWS).
    fn add_user_to_group(&self, group: &str, user: &str) -> Result<()>;
    /// Remove a member.
    fn remove_user_from_group(&self, group: &str, user: &str) -> Result<()>;
    /// Rename and/or move a group.
    fn update_group(
        &self,
        name: &str,
        new_name: Option<&str>,
        new_path: Option<&str>,
    ) -> Result<()>;
    /// Delete an empty group without policies.
    fn delete_group(&self, name: &str) -> Result<()>;
}

/// Managed policies and their versions, attachments, inline policies, and the policy set that applies to a principal.
pub trait PolicyStore {
    /// Create a policy with version v1 as default (document already validated).
    fn create_policy(&self, p: &NewPolicy, now: i64) -> Result<ManagedPolicy>;
    /// A policy by ARN.
    fn get_policy(&self, arn: &str) -> Result<ManagedPolicy>;
    /// Policies under a path prefix, optionally only attached ones.
    fn list_policies(&self, path_prefix: &str, only_attached: bool) -> Result<Vec<ManagedPolicy>>;
    /// Delete an unattached policy whose only version is the default.
    fn delete_policy(&self, arn: &str) -> Result<()>;
    /// Add a version (LimitExceeded beyond 5).
    fn create_policy_version(
        &self,
        arn: &str,
        document: &str,
        set_default: bool,
        now: i64,
    ) -> Result<PolicyVersion>;
    /// One version (`v3`).
    fn get_policy_version(&self, arn: &str, version_id: &str) -> Result<PolicyVersion>;
    /// All versions, newest first.
    fn list_policy_versions(&self, arn: &str) -> Result<Vec<PolicyVersion>>;
    /// Delete a non-default version.
    fn delete_policy_version(&self, arn: &str, version_id: &str) -> Result<()>;
    /// Make a version the default.
    fn set_default_policy_version(&self, arn: &str, version_id: &str, now: i64) -> Result<()>;
    /// Attach a managed policy to a user, group or role (no-op if attached).
    fn attach_policy(&self, kind: PrincipalKind, name: &str, arn: &str) -> Result<()>;
    /// Detach it.
    fn detach_policy(&self, kind: PrincipalKind, name: &str, arn: &str) -> Result<()>;
    /// Managed policies attached to a principal.
    fn list_attached_policies(
        &self,
        kind: PrincipalKind,
        name: &str,
    ) -> Result<Vec<AttachedPolicy>>;
    /// Who a policy is attached to.
    fn list_entities_for_policy(&self, arn: &str) -> Result<PolicyEntities>;

    /// Create or replace an inline policy.
    fn put_inline_policy(
        &self,
        kind: PrincipalKind,
        name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<()>;
    /// One inline policy document.
    fn get_inline_policy(
        &self,
        kind: PrincipalKind,
        name: &str,
        policy_name: &str,
    ) -> Result<String>;
    /// Delete an inline policy.
    fn delete_inline_policy(
        &self,
        kind: PrincipalKind,
        name: &str,
        policy_name: &str,
    ) -> Result<()>;
    /// Names of a principal's inline policies.
    fn list_inline_policies(&self, kind: PrincipalKind, name: &str) -> Result<Vec<String>>;

    /// A user's identity policies (inline, attached, and each group's) and boundary.
    fn user_policies(&self, user: &str) -> Result<PrincipalPolicies>;
    /// [`PolicyStore::user_policies`] and the store version, read in one snapshot: what
    /// a server may keep and reuse while the store stays at that version.
    fn versioned_user_policies(&self, user: &str) -> Result<(PrincipalPolicies, i64)>;
    /// A role's identity policies and boundary.
    fn role_policies(&self, role: &str) -> Result<PrincipalPolicies>;
}

/// IAM roles.
pub trait RoleStore {
    /// Create a role (trust document already validated).
    fn create_role(&self, r: &NewRole, now: i64) -> Result<Role>;
    /// A role by name.
    fn get_role(&self, name: &str) -> Result<Role>;
    /// Roles under a path prefix.
    fn list_roles(&self, path_prefix: &str) -> Result<Vec<Role>>;
    /// Change description and/or maximum session duration.
    fn update_role(
        &self,
        name: &str,
        description: Option<&str>,
        max_session_duration: Option<i64>,
    ) -> Result<()>;
    /// Replace the trust policy.
    fn update_assume_role_policy(&self, name: &str, document: &str) -> Result<()>;
    /// Set or remove the role's permissions boundary.
    fn set_role_boundary(&self, name: &str, policy_arn: Option<&str>) -> Result<()>;
    /// Delete a role with no policies left.
    fn delete_role(&self, name: &str) -> Result<()>;
}

/// Role sessions issued by iam-sts.
pub trait SessionStore {
    /// Record an issued session.
    fn create_role_session(&self, s: &RoleSession) -> Result<()>;
    /// A session by token hash.
    fn get_role_session(&self, token_hash: &str) -> Result<RoleSession>;
    /// Sessions of a user (all, or only those live at `now`).
    fn list_role_sessions(
        &self,
        user: Option<&str>,
        live_at: Option<i64>,
    ) -> Result<Vec<RoleSession>>;
    /// Revoke a session by id.
    fn revoke_role_session(&self, session_id: &str, now: i64) -> Result<()>;
    /// Deletes the role sessions issued for hosts (fleet mode) that expired before
    /// `expired_before`, with their session policies; returns how many. They ride their
    /// host's replica until then, so without this every snapshot would grow with every
    /// session ever issued. `iamd` runs it periodically
    /// ([`super::rules::HOST_SESSIONS_KEPT`] after expiry).
    fn prune_host_sessions(&self, expired_before: i64) -> Result<u64>;
    /// Stores the `--policy` session policy of a session (compose with
    /// [`SessionStore::create_role_session`] through [`super::issue_role_session`]).
    fn put_role_session_policy(&self, session_id: &str, document: &str) -> Result<()>;
    /// The session policy of a session, if it was given one.
    fn role_session_policy(&self, session_id: &str) -> Result<Option<String>>;
    /// Records a fresh MFA proof (sudo's re-prompt) in a session.
    fn set_role_session_mfa(&self, session_id: &str, t: i64) -> Result<()>;
    /// Stores what an API session carries beyond its row (compose with
    /// [`SessionStore::create_role_session`] through [`super::issue_role_session_with`]).
    /// The default refuses, so a session that needs it is never issued without it.
    fn put_role_session_context(&self, session_id: &str, c: &SessionContext) -> Result<()> {
        let _ = (session_id, c);
        Err(StoreError::Unsupported(
            "this store backend does not keep session tags, source identities or managed session policies yet".into(),
        ))
    }
    /// What [`SessionStore::put_role_session_context`] stored for a session.
    fn role_session_context(&self, session_id: &str) -> Result<Option<SessionContext>> {
        let _ = session_id;
        Ok(None)
    }
}

/// Tags of hosts (for host-scoped policies).
pub trait HostStore {
    /// Add or overwrite host tags.
    fn tag_host(&self, host: &str, tags: &[Tag]) -> Result<()>;
    /// Remove host tags by key.
    fn untag_host(&self, host: &str, keys: &[String]) -> Result<()>;
    /// Tags of a host (empty if none).
    fn list_host_tags(&self, host: &str) -> Result<Vec<Tag>>;

    // Fleet mode (migration 8). The defaults refuse, so a backend without it still
    // builds and says what it lacks.

    /// Store the credentials of `host` (EntityAlreadyExists if it has some).
    fn create_host_credential(
        &self,
        host: &str,
        key_id: &str,
        secret_hash: &str,
        sealed: &[u8],
        now: i64,
    ) -> Result<HostCredential> {
        let _ = (host, key_id, secret_hash, sealed, now);
        Err(no_fleet())
    }
    /// Every host's credentials, by host name.
    fn list_host_credentials(&self) -> Result<Vec<HostCredential>> {
        Err(no_fleet())
    }
    /// Delete the credentials of `host` (NoSuchEntity if it has none): cuts it off.
    fn delete_host_credential(&self, host: &str) -> Result<()> {
        let _ = host;
        Err(no_fleet())
    }
    /// The credentials with key id `key_id` and their sealed secret (NoSuchEntity).
    fn host_credential(&self, key_id: &str) -> Result<(HostCredential, Vec<u8>)> {
        let _ = key_id;
        Err(no_fleet())
    }
    /// Note a request signed with `key_id`.
    fn record_host_credential_use(&self, key_id: &str, now: i64) -> Result<()> {
        let _ = (key_id, now);
        Err(no_fleet())
    }
    /// The store version: bumped by every change to what a replica carries.
    fn store_version(&self) -> Result<i64> {
        Err(no_fleet())
    }
    /// `host`'s view of the store ([`super::replica::REPLICA_TABLES`]), in one snapshot.
    fn export_replica(&self, host: &str) -> Result<super::replica::Replica> {
        let _ = host;
        Err(no_fleet())
    }
    /// Replace this store's replicated tables with `r` in one transaction and set its
    /// store version to `r`'s (an agent's replica: a store holding no other rows that
    /// refer to replicated ones, such as access keys or login profiles).
    fn import_replica(&self, r: &super::replica::Replica) -> Result<()> {
        let _ = r;
        Err(no_fleet())
    }
    /// `host`'s view for a pull from a host holding `held` (migration 17), in one
    /// snapshot: the tables changed since `held` when it is of this store and within the
    /// change log ([`super::replica::delta_base`]), else the whole view.
    fn export_replica_since(
        &self,
        host: &str,
        held: Option<&super::replica::Held>,
    ) -> Result<super::replica::Pulled> {
        let _ = (host, held);
        Err(no_fleet())
    }
    /// In an agent's replica (SQLite): apply `d` in one transaction, row by row (rows of
    /// the listed tables the delta lacks deleted, changed ones updated, new ones
    /// inserted; other tables untouched), and set the store version to the delta's. The
    /// replica must be at `d.from_version`; any error leaves it as it was (the agent then
    /// resyncs fully).
    fn apply_replica_delta(&self, d: &super::replica::ReplicaDelta) -> Result<()> {
        let _ = d;
        Err(no_fleet())
    }
    /// In a host's replica: the MFA device `user` has enabled at the server (from the
    /// replica-only `replica_mfa_devices`, migration 16), which the agent's offline
    /// rules compare with the material they hold. `None` on a server's own store, where
    /// that table stays empty.
    fn replica_mfa_device(&self, user: &str) -> Result<Option<ReplicaMfaDevice>> {
        let _ = user;
        Err(no_fleet())
    }
}

/// Fleet mode's record of accepted MFA steps and of hosts' journals (migration 14):
/// what reconnect ([`crate::fleet::reconnect`]) merges. The defaults refuse, like
/// [`HostStore`]'s fleet methods.
pub trait ReconnectStore {
    /// Highest `Seq` of `host`'s journal `journal` applied (0: none).
    fn journal_position(&self, host: &str, journal: &str) -> Result<i64> {
        let _ = (host, journal);
        Err(no_fleet())
    }
    /// Note `seq` as the highest applied of `host`'s journal `journal`.
    fn set_journal_position(&self, host: &str, journal: &str, seq: i64, now: i64) -> Result<()> {
        let _ = (host, journal, seq, now);
        Err(no_fleet())
    }
    /// Record an accepted step; answers the acceptances of the same (serial, step)
    /// recorded before it (each one a replay incident). Recording the same (serial,
    /// step, host) again keeps the first row.
    fn record_spent_step(&self, s: &SpentStep) -> Result<Vec<SpentStep>> {
        let _ = s;
        Err(no_fleet())
    }
    /// Forget steps accepted before `before`; how many.
    fn prune_spent_steps(&self, before: i64) -> Result<u64> {
        let _ = before;
        Err(no_fleet())
    }
    /// Every recorded step of a device, oldest first.
    fn spent_steps(&self, serial: &str) -> Result<Vec<SpentStep>> {
        let _ = serial;
        Err(no_fleet())
    }
    /// Record an incident (its `id` is assigned).
    fn record_replay_incident(&self, i: &ReplayIncident) -> Result<()> {
        let _ = i;
        Err(no_fleet())
    }
    /// Incidents found at or after `since` (all: `None`), oldest first.
    fn list_replay_incidents(&self, since: Option<i64>) -> Result<Vec<ReplayIncident>> {
        let _ = since;
        Err(no_fleet())
    }
}

/// What a backend without fleet mode answers.
fn no_fleet() -> StoreError {
    StoreError::Unsupported("this store backend does not serve fleet mode (hosts) yet".into())
}

/// The audit trail.
pub trait AuditStore {
    /// Append one event.
    fn append_audit(&self, e: &AuditEvent) -> Result<()>;
    /// Append `events` in order and note `uses` (the latest per key; a key deleted
    /// meanwhile is skipped), all in one transaction: the API server's audit batch, in
    /// a fixed few round trips however many requests it covers.
    fn append_audit_batch(&self, events: &[AuditEvent], uses: &[KeyUse]) -> Result<()>;
    /// Events matching a filter, oldest first.
    fn list_audit(&self, f: &AuditFilter) -> Result<Vec<AuditEvent>>;
}

/// Linux uids/gids bound to IAM entities (userdb).
pub trait LinuxIdStore {
    /// The uid/gid allocated to a user or group name, allocating the next free one in
    /// `range` on first use.
    fn allocate_id(&self, kind: IdSpace, name: &str, range: (u32, u32)) -> Result<u32>;
    /// userdb: the Linux id bound to an entity's unique id (`AIDA…`/`AGPA…`), if any.
    fn linux_id(&self, entity_id: &str) -> Result<Option<u32>>;
    /// userdb: whether `id` was ever handed out (to any entity; ids are never reused).
    fn linux_id_handed_out(&self, id: u32) -> Result<bool>;
    /// userdb: the highest id ever handed out inside `range`.
    fn highest_linux_id(&self, range: (u32, u32)) -> Result<Option<u32>>;
    /// userdb: bind `id` to an entity's unique id (compose through
    /// [`super::assign_linux_id`], which checks first).
    fn bind_linux_id(&self, entity_id: &str, id: u32) -> Result<()>;
}

/// The whole store as rows, for `iam migrate-store` (see [`super::snapshot`]).
pub trait SnapshotStore {
    /// Every row of every table in [`super::snapshot::TABLES`], read as one consistent
    /// snapshot. Refuses a store holding a table that list does not know.
    fn export_snapshot(&self) -> Result<super::snapshot::Snapshot>;
    /// Writes every row of `s` into this store, whose account row it replaces; refuses
    /// (`EntityAlreadyExists`) a store holding anything beyond its account row. Compose
    /// with a verifying export in one [`Store::atomically`] (as `migrate-store` does).
    fn import_snapshot(&self, s: &super::snapshot::Snapshot) -> Result<()>;
}

/// The whole store: every aggregate. Object-safe: callers hold a `Box<dyn Store>` from
/// [`super::open`] and never name a backend.
pub trait Store:
    AccountStore
    + UserStore
    + TagStore
    + LoginProfileStore
    + LockoutStore
    + MfaStore
    + AccessKeyStore
    + SshKeyStore
    + GroupStore
    + PolicyStore
    + RoleStore
    + SessionStore
    + HostStore
    + ReconnectStore
    + AuditStore
    + LinuxIdStore
    + SnapshotStore
{
    /// Runs `f` as one transaction (SQLite: `BEGIN IMMEDIATE`, so the write lock is
    /// taken first): every step `f` takes through the `&dyn Store` it is given commits
    /// together, or none does when `f` or a step fails. Each step stays atomic on its
    /// own. Multi-step operations use this (see [`super::issue_role_session`]) instead
    /// of one-off methods; [`super::atomically`] returns a value.
    ///
    /// # Errors
    /// `f`'s error or the store's; a read-only store refuses.
    fn atomically(&self, f: &mut dyn FnMut(&dyn Store) -> Result<()>) -> Result<()>;
}
