-- Migration 12 (twin of SQLite's V12, iamd STS): what an API role session carries
-- beyond its row, as one JSON document: AssumeRole's SourceIdentity, session Tags,
-- TransitiveTagKeys and managed session policies (PolicyArns), kept for the session's
-- decisions and passed on by role chaining.
CREATE TABLE IF NOT EXISTS role_session_context (
  session_id TEXT COLLATE "C" PRIMARY KEY REFERENCES role_sessions(session_id) ON DELETE CASCADE,
  document TEXT COLLATE "C" NOT NULL
);
