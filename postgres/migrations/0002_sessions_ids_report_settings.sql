-- Migration 2 (twin of SQLite's V2): role sessions, Linux id allocation, credential
-- report, settings, and PasswordLastUsed on users.
ALTER TABLE users ADD COLUMN password_last_used BIGINT;
CREATE TABLE role_sessions (
  session_id TEXT COLLATE "C" PRIMARY KEY,
  user_name TEXT COLLATE "C" NOT NULL,
  role_name TEXT COLLATE "C" NOT NULL,
  session_name TEXT COLLATE "C" NOT NULL,
  token_hash TEXT COLLATE "C" NOT NULL UNIQUE,
  issued BIGINT NOT NULL,
  expires BIGINT NOT NULL,
  scope TEXT COLLATE "C" NOT NULL,
  revoked BIGINT,
  mfa_time BIGINT
);
CREATE INDEX role_sessions_user ON role_sessions(user_name, expires);
CREATE TABLE id_allocations (
  space TEXT COLLATE "C" NOT NULL CHECK (space IN ('uid', 'gid')),
  name TEXT COLLATE "C" NOT NULL,
  id BIGINT NOT NULL,
  PRIMARY KEY (space, name),
  UNIQUE (space, id)
);
CREATE INDEX id_allocations_id ON id_allocations(id);
CREATE TABLE credential_report (
  id BIGINT PRIMARY KEY CHECK (id = 1),
  generated BIGINT NOT NULL,
  content TEXT COLLATE "C" NOT NULL
);
CREATE TABLE settings (
  key TEXT COLLATE "C" PRIMARY KEY,
  value TEXT COLLATE "C" NOT NULL
);
