-- Migration 13 (twin of SQLite's V13, fleet role sessions): a role session issued for a
-- host in fleet mode (iam-sts → iam-agent → iamd) names that host, so the host's replica
-- carries its own sessions (never another host's, never a secret: the secret column of
-- API sessions is not replicated) and sudo there decides on them; a change to such a
-- session (issued, revoked, MFA added) takes a store version like every replicated
-- change, so revocations reach the host by the normal sync. Sessions of no host
-- (iam-sts on a local store, iamd's API sessions) still never take the version lock.
ALTER TABLE role_sessions ADD COLUMN host TEXT;
CREATE INDEX role_sessions_host ON role_sessions(host) WHERE host IS NOT NULL;
CREATE CONSTRAINT TRIGGER store_version_role_sessions_insert AFTER INSERT ON role_sessions DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.host IS NOT NULL) EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_role_sessions_update AFTER UPDATE ON role_sessions DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.host IS NOT NULL OR OLD.host IS NOT NULL) EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_role_sessions_delete AFTER DELETE ON role_sessions DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.host IS NOT NULL) EXECUTE FUNCTION pam_iam_stamp_store_version();
