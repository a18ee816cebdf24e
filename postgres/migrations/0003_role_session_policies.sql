-- Migration 3 (twin of SQLite's V3): role-session policies (iam-sts assume-role --policy).
CREATE TABLE IF NOT EXISTS role_session_policies (
  session_id TEXT COLLATE "C" PRIMARY KEY REFERENCES role_sessions(session_id) ON DELETE CASCADE,
  document TEXT COLLATE "C" NOT NULL
);
CREATE INDEX IF NOT EXISTS group_members_user ON group_members(user_pk);
CREATE INDEX IF NOT EXISTS password_history_user ON password_history(user_pk);
