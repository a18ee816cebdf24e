-- Migration 4 (twin of SQLite's V4): role sessions remember the ids of their role and
-- user, so a role (or user) deleted and created again under the same name does not
-- inherit live sessions. Existing sessions keep an id only where the role (user) was
-- created no later than the session was issued; the others get NULL and end.
ALTER TABLE role_sessions ADD COLUMN role_id TEXT COLLATE "C";
ALTER TABLE role_sessions ADD COLUMN user_id TEXT COLLATE "C";
UPDATE role_sessions SET
  role_id = (SELECT r.role_id FROM roles r
             WHERE r.name = role_sessions.role_name AND r.created <= role_sessions.issued),
  user_id = (SELECT u.user_id FROM users u
             WHERE u.name = role_sessions.user_name AND u.created <= role_sessions.issued);
