-- Migration 11 (twin of SQLite's V11, iamd STS): temporary credentials issued over the
-- API (AssumeRole, GetSessionToken) are role sessions whose secret is sealed like access
-- keys', so iamd can verify their SigV4 signatures (iam-sts sessions keep NULL).
ALTER TABLE role_sessions ADD COLUMN secret_sealed BYTEA;
