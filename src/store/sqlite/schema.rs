//! Versioned schema. `PRAGMA user_version` holds the number of migrations applied; each
//! migration runs once, in order, inside the opening `BEGIN IMMEDIATE` transaction.
//! Never edit a released migration: add a new one (tests/fixtures keeps an old store).

/// Migration 1: the core identity model.
pub(crate) const V1: &str = r#"
CREATE TABLE account (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  account_id TEXT NOT NULL CHECK (length(account_id) = 12)
);
CREATE TABLE users (
  pk INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  user_id TEXT NOT NULL UNIQUE,
  path TEXT NOT NULL DEFAULT '/',
  created INTEGER NOT NULL,
  boundary_pk INTEGER REFERENCES policies(pk) ON DELETE RESTRICT
);
CREATE TABLE user_tags (
  user_pk INTEGER NOT NULL REFERENCES users(pk) ON DELETE CASCADE,
  key TEXT NOT NULL COLLATE NOCASE,
  value TEXT NOT NULL,
  PRIMARY KEY (user_pk, key)
);
CREATE TABLE login_profiles (
  user_pk INTEGER PRIMARY KEY REFERENCES users(pk) ON DELETE CASCADE,
  hash TEXT NOT NULL,
  reset_required INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL,
  changed INTEGER NOT NULL
);
CREATE TABLE password_history (
  id INTEGER PRIMARY KEY,
  user_pk INTEGER NOT NULL REFERENCES users(pk) ON DELETE CASCADE,
  hash TEXT NOT NULL,
  retired INTEGER NOT NULL
);
CREATE TABLE password_policy (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  json TEXT NOT NULL
);
CREATE TABLE lockout_settings (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  max_failed_attempts INTEGER NOT NULL,
  lockout_duration INTEGER NOT NULL
);
CREATE TABLE login_failures (
  user_pk INTEGER PRIMARY KEY REFERENCES users(pk) ON DELETE CASCADE,
  failed_attempts INTEGER NOT NULL DEFAULT 0,
  last_failure INTEGER,
  locked_until INTEGER
);
CREATE TABLE mfa_devices (
  pk INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  serial TEXT NOT NULL UNIQUE,
  path TEXT NOT NULL DEFAULT '/',
  seed BLOB NOT NULL,
  user_pk INTEGER UNIQUE REFERENCES users(pk) ON DELETE RESTRICT,
  enabled INTEGER,
  watermark INTEGER NOT NULL DEFAULT -1,
  created INTEGER NOT NULL
);
CREATE TABLE recovery_codes (
  id INTEGER PRIMARY KEY,
  user_pk INTEGER NOT NULL REFERENCES users(pk) ON DELETE CASCADE,
  code_hash TEXT NOT NULL,
  used INTEGER,
  UNIQUE (user_pk, code_hash)
);
CREATE TABLE access_keys (
  pk INTEGER PRIMARY KEY,
  key_id TEXT NOT NULL UNIQUE,
  user_pk INTEGER NOT NULL REFERENCES users(pk) ON DELETE RESTRICT,
  secret_hash TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
  created INTEGER NOT NULL,
  last_used INTEGER,
  last_used_service TEXT
);
CREATE TABLE ssh_keys (
  pk INTEGER PRIMARY KEY,
  key_id TEXT NOT NULL UNIQUE,
  user_pk INTEGER NOT NULL REFERENCES users(pk) ON DELETE RESTRICT,
  body TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
  uploaded INTEGER NOT NULL,
  UNIQUE (user_pk, fingerprint)
);
CREATE TABLE groups (
  pk INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  group_id TEXT NOT NULL UNIQUE,
  path TEXT NOT NULL DEFAULT '/',
  created INTEGER NOT NULL
);
CREATE TABLE group_members (
  group_pk INTEGER NOT NULL REFERENCES groups(pk) ON DELETE RESTRICT,
  user_pk INTEGER NOT NULL REFERENCES users(pk) ON DELETE RESTRICT,
  PRIMARY KEY (group_pk, user_pk)
);
CREATE TABLE policies (
  pk INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  policy_id TEXT NOT NULL UNIQUE,
  arn TEXT NOT NULL UNIQUE,
  path TEXT NOT NULL DEFAULT '/',
  description TEXT,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  default_version INTEGER NOT NULL,
  next_version INTEGER NOT NULL
);
CREATE TABLE policy_versions (
  policy_pk INTEGER NOT NULL REFERENCES policies(pk) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  document TEXT NOT NULL,
  created INTEGER NOT NULL,
  PRIMARY KEY (policy_pk, version)
);
CREATE TABLE roles (
  pk INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  role_id TEXT NOT NULL UNIQUE,
  path TEXT NOT NULL DEFAULT '/',
  trust TEXT NOT NULL,
  description TEXT,
  max_session INTEGER NOT NULL DEFAULT 3600,
  boundary_pk INTEGER REFERENCES policies(pk) ON DELETE RESTRICT,
  created INTEGER NOT NULL
);
CREATE TABLE role_tags (
  role_pk INTEGER NOT NULL REFERENCES roles(pk) ON DELETE CASCADE,
  key TEXT NOT NULL COLLATE NOCASE,
  value TEXT NOT NULL,
  PRIMARY KEY (role_pk, key)
);
CREATE TABLE user_attached (
  owner_pk INTEGER NOT NULL REFERENCES users(pk) ON DELETE RESTRICT,
  policy_pk INTEGER NOT NULL REFERENCES policies(pk) ON DELETE RESTRICT,
  PRIMARY KEY (owner_pk, policy_pk)
);
CREATE TABLE group_attached (
  owner_pk INTEGER NOT NULL REFERENCES groups(pk) ON DELETE RESTRICT,
  policy_pk INTEGER NOT NULL REFERENCES policies(pk) ON DELETE RESTRICT,
  PRIMARY KEY (owner_pk, policy_pk)
);
CREATE TABLE role_attached (
  owner_pk INTEGER NOT NULL REFERENCES roles(pk) ON DELETE RESTRICT,
  policy_pk INTEGER NOT NULL REFERENCES policies(pk) ON DELETE RESTRICT,
  PRIMARY KEY (owner_pk, policy_pk)
);
CREATE TABLE user_inline (
  owner_pk INTEGER NOT NULL REFERENCES users(pk) ON DELETE RESTRICT,
  name TEXT NOT NULL COLLATE NOCASE,
  document TEXT NOT NULL,
  PRIMARY KEY (owner_pk, name)
);
CREATE TABLE group_inline (
  owner_pk INTEGER NOT NULL REFERENCES groups(pk) ON DELETE RESTRICT,
  name TEXT NOT NULL COLLATE NOCASE,
  document TEXT NOT NULL,
  PRIMARY KEY (owner_pk, name)
);
CREATE TABLE role_inline (
  owner_pk INTEGER NOT NULL REFERENCES roles(pk) ON DELETE RESTRICT,
  name TEXT NOT NULL COLLATE NOCASE,
  document TEXT NOT NULL,
  PRIMARY KEY (owner_pk, name)
);
CREATE TABLE host_tags (
  host TEXT NOT NULL COLLATE NOCASE,
  key TEXT NOT NULL COLLATE NOCASE,
  value TEXT NOT NULL,
  PRIMARY KEY (host, key)
);
CREATE TABLE audit_events (
  id INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  user TEXT NOT NULL,
  service TEXT NOT NULL,
  rhost TEXT,
  tty TEXT,
  action TEXT NOT NULL,
  decision TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX audit_time ON audit_events(time);
CREATE INDEX audit_user ON audit_events(user, time);
"#;

/// Migration 2: role sessions, Linux id allocation, credential report, settings, and
/// `PasswordLastUsed` on users.
pub(crate) const V2: &str = r#"
ALTER TABLE users ADD COLUMN password_last_used INTEGER;
CREATE TABLE role_sessions (
  session_id TEXT PRIMARY KEY,
  user_name TEXT NOT NULL,
  role_name TEXT NOT NULL,
  session_name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  issued INTEGER NOT NULL,
  expires INTEGER NOT NULL,
  scope TEXT NOT NULL,
  revoked INTEGER,
  mfa_time INTEGER
);
CREATE INDEX role_sessions_user ON role_sessions(user_name, expires);
CREATE TABLE id_allocations (
  space TEXT NOT NULL CHECK (space IN ('uid', 'gid')),
  name TEXT NOT NULL,
  id INTEGER NOT NULL,
  PRIMARY KEY (space, name),
  UNIQUE (space, id)
);
CREATE TABLE credential_report (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  generated INTEGER NOT NULL,
  content TEXT NOT NULL
);
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
"#;

/// Migration 3: role-session policies (`iam-sts assume-role --policy`). `IF NOT EXISTS`:
/// stores written before this migration may already hold the table, created on first use.
pub(crate) const V3: &str = r#"
CREATE TABLE IF NOT EXISTS role_session_policies (
  session_id TEXT PRIMARY KEY REFERENCES role_sessions(session_id) ON DELETE CASCADE,
  document TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS group_members_user ON group_members(user_pk);
CREATE INDEX IF NOT EXISTS password_history_user ON password_history(user_pk);
"#;

/// Migration 4: role sessions remember the ids of their role and user, so a role (or
/// user) deleted and created again under the same name does not inherit live sessions.
/// Existing sessions keep an id only where the role (user) was created no later than the
/// session was issued, so it is provably the same one; the others get NULL and end.
pub(crate) const V4: &str = r#"
ALTER TABLE role_sessions ADD COLUMN role_id TEXT;
ALTER TABLE role_sessions ADD COLUMN user_id TEXT;
UPDATE role_sessions SET
  role_id = (SELECT r.role_id FROM roles r
             WHERE r.name = role_sessions.role_name AND r.created <= role_sessions.issued),
  user_id = (SELECT u.user_id FROM users u
             WHERE u.name = role_sessions.user_name AND u.created <= role_sessions.issued);
"#;

/// Migration 5: the per-user attempt slot of the second-factor rate limit
/// (`credentials::second_factor::Throttle`), in milliseconds.
pub(crate) const V5: &str = r#"
CREATE TABLE factor_throttle (
  user_pk INTEGER PRIMARY KEY REFERENCES users(pk) ON DELETE CASCADE,
  next_free_ms INTEGER NOT NULL
);
"#;

/// Migration 6 (iamd): access-key secrets sealed at rest (`credentials::sealed`, so the
/// server can verify SigV4 signatures; keys made before have none and must be rotated),
/// and the account root user's access keys (at most two, no user row).
pub(crate) const V6: &str = r#"
ALTER TABLE access_keys ADD COLUMN secret_sealed BLOB;
CREATE TABLE root_access_keys (
  pk INTEGER PRIMARY KEY,
  key_id TEXT NOT NULL UNIQUE,
  secret_hash TEXT NOT NULL,
  secret_sealed BLOB,
  status TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
  created INTEGER NOT NULL,
  last_used INTEGER,
  last_used_service TEXT
);
"#;

/// Migration 7: reserved (core); a no-op here so numbering stays aligned.
pub(crate) const V7: &str = "";

/// Migration 8 (fleet mode): host credentials (`iam create-host-credentials`: the secret
/// sealed like access keys, so `iamd` verifies the agent's SigV4 signatures), and the
/// store version that every change to what a host's replica carries bumps (triggers), so
/// agents wait for a change and resync.
pub(crate) const V8: &str = r#"
CREATE TABLE host_credentials (
  pk INTEGER PRIMARY KEY,
  host TEXT NOT NULL UNIQUE COLLATE NOCASE,
  key_id TEXT NOT NULL UNIQUE,
  secret_hash TEXT NOT NULL,
  secret_sealed BLOB NOT NULL,
  created INTEGER NOT NULL,
  last_used INTEGER
);
CREATE TABLE store_version (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
);
INSERT INTO store_version (id, version) VALUES (1, 1);
CREATE TRIGGER store_version_users_insert AFTER INSERT ON users BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_users_update AFTER UPDATE ON users BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_users_delete AFTER DELETE ON users BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_user_tags_insert AFTER INSERT ON user_tags BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_user_tags_update AFTER UPDATE ON user_tags BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_user_tags_delete AFTER DELETE ON user_tags BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_groups_insert AFTER INSERT ON groups BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_groups_update AFTER UPDATE ON groups BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_groups_delete AFTER DELETE ON groups BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_group_members_insert AFTER INSERT ON group_members BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_group_members_update AFTER UPDATE ON group_members BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_group_members_delete AFTER DELETE ON group_members BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_policies_insert AFTER INSERT ON policies BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_policies_update AFTER UPDATE ON policies BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_policies_delete AFTER DELETE ON policies BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_policy_versions_insert AFTER INSERT ON policy_versions BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_policy_versions_update AFTER UPDATE ON policy_versions BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_policy_versions_delete AFTER DELETE ON policy_versions BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_roles_insert AFTER INSERT ON roles BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_roles_update AFTER UPDATE ON roles BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_roles_delete AFTER DELETE ON roles BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_role_tags_insert AFTER INSERT ON role_tags BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_role_tags_update AFTER UPDATE ON role_tags BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_role_tags_delete AFTER DELETE ON role_tags BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_user_attached_insert AFTER INSERT ON user_attached BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_user_attached_update AFTER UPDATE ON user_attached BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_user_attached_delete AFTER DELETE ON user_attached BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_group_attached_insert AFTER INSERT ON group_attached BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_group_attached_update AFTER UPDATE ON group_attached BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_group_attached_delete AFTER DELETE ON group_attached BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_role_attached_insert AFTER INSERT ON role_attached BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_role_attached_update AFTER UPDATE ON role_attached BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_role_attached_delete AFTER DELETE ON role_attached BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_user_inline_insert AFTER INSERT ON user_inline BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_user_inline_update AFTER UPDATE ON user_inline BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_user_inline_delete AFTER DELETE ON user_inline BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_group_inline_insert AFTER INSERT ON group_inline BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_group_inline_update AFTER UPDATE ON group_inline BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_group_inline_delete AFTER DELETE ON group_inline BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_role_inline_insert AFTER INSERT ON role_inline BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_role_inline_update AFTER UPDATE ON role_inline BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_role_inline_delete AFTER DELETE ON role_inline BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_host_tags_insert AFTER INSERT ON host_tags BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_host_tags_update AFTER UPDATE ON host_tags BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_host_tags_delete AFTER DELETE ON host_tags BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_ssh_keys_insert AFTER INSERT ON ssh_keys BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_ssh_keys_update AFTER UPDATE ON ssh_keys BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_ssh_keys_delete AFTER DELETE ON ssh_keys BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_id_allocations_insert AFTER INSERT ON id_allocations BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_id_allocations_update AFTER UPDATE ON id_allocations BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_id_allocations_delete AFTER DELETE ON id_allocations BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_account_insert AFTER INSERT ON account BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_account_update AFTER UPDATE ON account BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_account_delete AFTER DELETE ON account BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
"#;

/// Migration 9: PostgreSQL's store version moves to commit order (its twin); a no-op
/// here, where writers are serialized and the triggers of V8 already count in commit
/// order.
pub(crate) const V9: &str = "";

/// Migration 10: TOTP seeds sealed at rest (`credentials::mfa_seed`, under the secrets
/// key like access-key secrets). The SQL adds the sealed column; `migrate` finishes it in
/// the same transaction ([`SEALED_SEEDS`]): every plain seed sealed, then the plain
/// column dropped, so no seed stays in plain text, or nothing changes.
pub(crate) const V10: &str = r#"
ALTER TABLE mfa_devices ADD COLUMN seed_sealed BLOB;
"#;

/// The migration whose SQL `migrate` completes by sealing the plain seeds.
pub(crate) const SEALED_SEEDS: usize = 10;

/// Migration 11 (iamd STS): temporary credentials issued over the API (`AssumeRole`,
/// `GetSessionToken`) are role sessions whose secret is sealed like access keys', so
/// iamd can verify their SigV4 signatures (terminal-bound iam-sts sessions keep NULL).
pub(crate) const V11: &str = r#"
ALTER TABLE role_sessions ADD COLUMN secret_sealed BLOB;
"#;

/// Migration 12 (iamd STS): what an API role session carries beyond its row, as one
/// JSON document (`store::SessionContext`): `AssumeRole`'s `SourceIdentity`, session
/// `Tags`, `TransitiveTagKeys` and managed session policies (`PolicyArns`), kept for the
/// session's decisions and passed on by role chaining.
pub(crate) const V12: &str = r#"
CREATE TABLE IF NOT EXISTS role_session_context (
  session_id TEXT PRIMARY KEY REFERENCES role_sessions(session_id) ON DELETE CASCADE,
  document TEXT NOT NULL
);
"#;

/// Migration 13 (fleet role sessions): a session issued for a host in fleet mode
/// (iam-sts → iam-agent → iamd) names that host; that host's replica carries it (token
/// hash, never a secret), and a change to it moves the store version like every
/// replicated change, so a revocation reaches the host by the normal sync. Sessions of
/// no host (local iam-sts, iamd's API sessions) leave the version alone.
pub(crate) const V13: &str = r#"
ALTER TABLE role_sessions ADD COLUMN host TEXT;
CREATE INDEX role_sessions_host ON role_sessions(host) WHERE host IS NOT NULL;
CREATE TRIGGER store_version_role_sessions_insert AFTER INSERT ON role_sessions WHEN NEW.host IS NOT NULL BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_role_sessions_update AFTER UPDATE ON role_sessions WHEN NEW.host IS NOT NULL OR OLD.host IS NOT NULL BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_role_sessions_delete AFTER DELETE ON role_sessions WHEN OLD.host IS NOT NULL BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
"#;

/// Migration 14 (fleet reconnect): every accepted TOTP step per (device, step, host),
/// online or from a host's offline journal, kept for the longest offline window; the
/// highest entry applied of each host's journal; and the replay incidents found (one
/// (device, step) accepted twice). None of it is replicated to hosts.
pub(crate) const V14: &str = r#"
CREATE TABLE mfa_spent_steps (
  serial TEXT NOT NULL,
  step INTEGER NOT NULL,
  host TEXT NOT NULL,
  user_name TEXT NOT NULL,
  time INTEGER NOT NULL,
  offline INTEGER NOT NULL,
  PRIMARY KEY (serial, step, host)
);
CREATE INDEX mfa_spent_steps_time ON mfa_spent_steps (time);
CREATE TABLE host_journals (
  host TEXT NOT NULL,
  journal TEXT NOT NULL,
  seq INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  PRIMARY KEY (host, journal)
);
CREATE TABLE replay_incidents (
  id INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  user_name TEXT NOT NULL,
  serial TEXT NOT NULL,
  step INTEGER NOT NULL,
  first_host TEXT NOT NULL,
  first_time INTEGER NOT NULL,
  first_offline INTEGER NOT NULL,
  second_host TEXT NOT NULL,
  second_time INTEGER NOT NULL,
  second_offline INTEGER NOT NULL,
  action TEXT NOT NULL
);
"#;

/// Migration 15: a login's writes take no store version. A password login sets
/// `users.password_last_used`, and V8's update trigger on `users` fired for any column,
/// so each login moved the version and every host pulled a whole snapshot. It now fires
/// only for the columns a replica carries (`replica::columns`; `password_last_used` is
/// no longer replicated). A login's other writes are in tables no replica carries.
pub(crate) const V15: &str = r#"
DROP TRIGGER store_version_users_update;
CREATE TRIGGER store_version_users_update AFTER UPDATE OF pk, name, user_id, path, created, boundary_pk ON users BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
"#;

/// Migration 16 (fleet offline logins): a host's replica learns which MFA device each
/// user has enabled (serial and enable date, never the seed), so the agent refuses an
/// offline login whose material was made before the user's current device, or for a
/// device no longer enabled. `replica_mfa_devices` stays empty on a server's store; an
/// export fills it from `mfa_devices` ([`crate::store::replica::REPLICA_ONLY`]).
/// Enabling, deactivating or deleting an assigned device moves the store version; a
/// login's watermark update does not.
pub(crate) const V16: &str = r#"
CREATE TABLE replica_mfa_devices (
  serial TEXT PRIMARY KEY,
  user_pk INTEGER NOT NULL UNIQUE REFERENCES users(pk) ON DELETE CASCADE,
  enabled INTEGER NOT NULL
);
CREATE TRIGGER store_version_mfa_devices_insert AFTER INSERT ON mfa_devices WHEN NEW.user_pk IS NOT NULL BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_mfa_devices_update AFTER UPDATE OF serial, user_pk, enabled ON mfa_devices WHEN OLD.serial IS NOT NEW.serial OR OLD.user_pk IS NOT NEW.user_pk OR OLD.enabled IS NOT NEW.enabled BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_mfa_devices_delete AFTER DELETE ON mfa_devices WHEN OLD.user_pk IS NOT NULL BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; END;
"#;

/// Migration 17 (fleet deltas): which replicated tables each store version changed
/// (`store_changes`, one row per row-level bump: every version trigger also logs its
/// table), so a host holding version V is sent only the tables changed since
/// ([`crate::store::replica::delta_tables`]); the log keeps the last
/// [`crate::store::replica::CHANGE_LOG_VERSIONS`] versions (the prune trigger), a host
/// further behind gets a full snapshot. `store_identity` names this store (random, made
/// here, never copied by migrate-store): a delta only goes to a replica of this store.
pub(crate) const V17: &str = r#"
CREATE TABLE store_changes (
  version INTEGER NOT NULL,
  tbl TEXT NOT NULL,
  PRIMARY KEY (version, tbl)
) WITHOUT ROWID;
CREATE TABLE store_identity (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  store_id TEXT NOT NULL
);
INSERT INTO store_identity (id, store_id) VALUES (1, lower(hex(randomblob(16))));
CREATE TRIGGER store_changes_prune AFTER UPDATE OF version ON store_version WHEN NEW.version % 100 = 0 BEGIN DELETE FROM store_changes WHERE version <= NEW.version - 1000; END;
DROP TRIGGER store_version_users_insert;
CREATE TRIGGER store_version_users_insert AFTER INSERT ON users BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'users' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_users_update;
CREATE TRIGGER store_version_users_update AFTER UPDATE OF pk, name, user_id, path, created, boundary_pk ON users BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'users' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_users_delete;
CREATE TRIGGER store_version_users_delete AFTER DELETE ON users BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'users' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_user_tags_insert;
CREATE TRIGGER store_version_user_tags_insert AFTER INSERT ON user_tags BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'user_tags' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_user_tags_update;
CREATE TRIGGER store_version_user_tags_update AFTER UPDATE ON user_tags BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'user_tags' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_user_tags_delete;
CREATE TRIGGER store_version_user_tags_delete AFTER DELETE ON user_tags BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'user_tags' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_groups_insert;
CREATE TRIGGER store_version_groups_insert AFTER INSERT ON groups BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'groups' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_groups_update;
CREATE TRIGGER store_version_groups_update AFTER UPDATE ON groups BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'groups' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_groups_delete;
CREATE TRIGGER store_version_groups_delete AFTER DELETE ON groups BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'groups' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_group_members_insert;
CREATE TRIGGER store_version_group_members_insert AFTER INSERT ON group_members BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'group_members' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_group_members_update;
CREATE TRIGGER store_version_group_members_update AFTER UPDATE ON group_members BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'group_members' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_group_members_delete;
CREATE TRIGGER store_version_group_members_delete AFTER DELETE ON group_members BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'group_members' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_policies_insert;
CREATE TRIGGER store_version_policies_insert AFTER INSERT ON policies BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'policies' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_policies_update;
CREATE TRIGGER store_version_policies_update AFTER UPDATE ON policies BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'policies' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_policies_delete;
CREATE TRIGGER store_version_policies_delete AFTER DELETE ON policies BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'policies' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_policy_versions_insert;
CREATE TRIGGER store_version_policy_versions_insert AFTER INSERT ON policy_versions BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'policy_versions' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_policy_versions_update;
CREATE TRIGGER store_version_policy_versions_update AFTER UPDATE ON policy_versions BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'policy_versions' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_policy_versions_delete;
CREATE TRIGGER store_version_policy_versions_delete AFTER DELETE ON policy_versions BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'policy_versions' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_roles_insert;
CREATE TRIGGER store_version_roles_insert AFTER INSERT ON roles BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'roles' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_roles_update;
CREATE TRIGGER store_version_roles_update AFTER UPDATE ON roles BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'roles' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_roles_delete;
CREATE TRIGGER store_version_roles_delete AFTER DELETE ON roles BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'roles' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_role_tags_insert;
CREATE TRIGGER store_version_role_tags_insert AFTER INSERT ON role_tags BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'role_tags' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_role_tags_update;
CREATE TRIGGER store_version_role_tags_update AFTER UPDATE ON role_tags BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'role_tags' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_role_tags_delete;
CREATE TRIGGER store_version_role_tags_delete AFTER DELETE ON role_tags BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'role_tags' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_user_attached_insert;
CREATE TRIGGER store_version_user_attached_insert AFTER INSERT ON user_attached BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'user_attached' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_user_attached_update;
CREATE TRIGGER store_version_user_attached_update AFTER UPDATE ON user_attached BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'user_attached' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_user_attached_delete;
CREATE TRIGGER store_version_user_attached_delete AFTER DELETE ON user_attached BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'user_attached' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_group_attached_insert;
CREATE TRIGGER store_version_group_attached_insert AFTER INSERT ON group_attached BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'group_attached' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_group_attached_update;
CREATE TRIGGER store_version_group_attached_update AFTER UPDATE ON group_attached BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'group_attached' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_group_attached_delete;
CREATE TRIGGER store_version_group_attached_delete AFTER DELETE ON group_attached BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'group_attached' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_role_attached_insert;
CREATE TRIGGER store_version_role_attached_insert AFTER INSERT ON role_attached BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'role_attached' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_role_attached_update;
CREATE TRIGGER store_version_role_attached_update AFTER UPDATE ON role_attached BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'role_attached' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_role_attached_delete;
CREATE TRIGGER store_version_role_attached_delete AFTER DELETE ON role_attached BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'role_attached' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_user_inline_insert;
CREATE TRIGGER store_version_user_inline_insert AFTER INSERT ON user_inline BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'user_inline' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_user_inline_update;
CREATE TRIGGER store_version_user_inline_update AFTER UPDATE ON user_inline BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'user_inline' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_user_inline_delete;
CREATE TRIGGER store_version_user_inline_delete AFTER DELETE ON user_inline BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'user_inline' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_group_inline_insert;
CREATE TRIGGER store_version_group_inline_insert AFTER INSERT ON group_inline BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'group_inline' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_group_inline_update;
CREATE TRIGGER store_version_group_inline_update AFTER UPDATE ON group_inline BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'group_inline' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_group_inline_delete;
CREATE TRIGGER store_version_group_inline_delete AFTER DELETE ON group_inline BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'group_inline' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_role_inline_insert;
CREATE TRIGGER store_version_role_inline_insert AFTER INSERT ON role_inline BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'role_inline' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_role_inline_update;
CREATE TRIGGER store_version_role_inline_update AFTER UPDATE ON role_inline BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'role_inline' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_role_inline_delete;
CREATE TRIGGER store_version_role_inline_delete AFTER DELETE ON role_inline BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'role_inline' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_host_tags_insert;
CREATE TRIGGER store_version_host_tags_insert AFTER INSERT ON host_tags BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'host_tags' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_host_tags_update;
CREATE TRIGGER store_version_host_tags_update AFTER UPDATE ON host_tags BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'host_tags' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_host_tags_delete;
CREATE TRIGGER store_version_host_tags_delete AFTER DELETE ON host_tags BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'host_tags' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_ssh_keys_insert;
CREATE TRIGGER store_version_ssh_keys_insert AFTER INSERT ON ssh_keys BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'ssh_keys' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_ssh_keys_update;
CREATE TRIGGER store_version_ssh_keys_update AFTER UPDATE ON ssh_keys BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'ssh_keys' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_ssh_keys_delete;
CREATE TRIGGER store_version_ssh_keys_delete AFTER DELETE ON ssh_keys BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'ssh_keys' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_id_allocations_insert;
CREATE TRIGGER store_version_id_allocations_insert AFTER INSERT ON id_allocations BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'id_allocations' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_id_allocations_update;
CREATE TRIGGER store_version_id_allocations_update AFTER UPDATE ON id_allocations BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'id_allocations' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_id_allocations_delete;
CREATE TRIGGER store_version_id_allocations_delete AFTER DELETE ON id_allocations BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'id_allocations' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_account_insert;
CREATE TRIGGER store_version_account_insert AFTER INSERT ON account BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'account' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_account_update;
CREATE TRIGGER store_version_account_update AFTER UPDATE ON account BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'account' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_account_delete;
CREATE TRIGGER store_version_account_delete AFTER DELETE ON account BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'account' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_role_sessions_insert;
CREATE TRIGGER store_version_role_sessions_insert AFTER INSERT ON role_sessions WHEN NEW.host IS NOT NULL BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'role_sessions' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_role_sessions_update;
CREATE TRIGGER store_version_role_sessions_update AFTER UPDATE ON role_sessions WHEN NEW.host IS NOT NULL OR OLD.host IS NOT NULL BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'role_sessions' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_role_sessions_delete;
CREATE TRIGGER store_version_role_sessions_delete AFTER DELETE ON role_sessions WHEN OLD.host IS NOT NULL BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'role_sessions' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_mfa_devices_insert;
CREATE TRIGGER store_version_mfa_devices_insert AFTER INSERT ON mfa_devices WHEN NEW.user_pk IS NOT NULL BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'mfa_devices' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_mfa_devices_update;
CREATE TRIGGER store_version_mfa_devices_update AFTER UPDATE OF serial, user_pk, enabled ON mfa_devices WHEN OLD.serial IS NOT NEW.serial OR OLD.user_pk IS NOT NEW.user_pk OR OLD.enabled IS NOT NEW.enabled BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'mfa_devices' FROM store_version WHERE id = 1; END;
DROP TRIGGER store_version_mfa_devices_delete;
CREATE TRIGGER store_version_mfa_devices_delete AFTER DELETE ON mfa_devices WHEN OLD.user_pk IS NOT NULL BEGIN UPDATE store_version SET version = version + 1 WHERE id = 1; INSERT INTO store_changes (version, tbl) SELECT version, 'mfa_devices' FROM store_version WHERE id = 1; END;
"#;

/// Migration 18 (fleet resume): what an agent's replica is of, so a restarted agent asks
/// for a delta from the version it holds instead of the whole view, and never decides on
/// a replica pulled for another host, with another host credential (perhaps of another
/// store), changed outside the agent or left by another schema
/// ([`crate::store::replica::resume`]). One row, written with each full snapshot an agent
/// writes, its version moved with each delta; empty on a server's store (derived, never
/// copied by migrate-store). PostgreSQL's migration 18 is a no-op: replicas are SQLite.
pub(crate) const V18: &str = r#"
CREATE TABLE replica_origin (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  store_id TEXT NOT NULL,
  host TEXT NOT NULL,
  key_id TEXT NOT NULL,
  store_version INTEGER NOT NULL,
  schema_version INTEGER NOT NULL
);
"#;

/// All migrations in order; `user_version` = how many are applied.
pub(crate) const MIGRATIONS: &[&str] = &[
    V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12, V13, V14, V15, V16, V17, V18,
];
