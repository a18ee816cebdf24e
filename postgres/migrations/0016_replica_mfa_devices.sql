-- Migration 16 (twin of SQLite's V16, fleet offline logins): a host's replica learns
-- which MFA device each user has enabled (serial and enable date, never the seed), so the
-- agent refuses an offline login whose material was made before the user's current
-- device, or for a device no longer enabled. replica_mfa_devices stays empty on a
-- server's store; an export fills it from mfa_devices (store::replica::REPLICA_ONLY).
-- Enabling, deactivating or deleting an assigned device takes a store version; a
-- login's watermark update does not.
CREATE TABLE replica_mfa_devices (
  serial TEXT COLLATE "C" PRIMARY KEY,
  user_pk BIGINT NOT NULL UNIQUE REFERENCES users(pk) ON DELETE CASCADE,
  enabled BIGINT NOT NULL
);
CREATE CONSTRAINT TRIGGER store_version_mfa_devices_insert AFTER INSERT ON mfa_devices DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.user_pk IS NOT NULL) EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_mfa_devices_update AFTER UPDATE OF serial, user_pk, enabled ON mfa_devices DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.serial IS DISTINCT FROM NEW.serial OR OLD.user_pk IS DISTINCT FROM NEW.user_pk OR OLD.enabled IS DISTINCT FROM NEW.enabled) EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_mfa_devices_delete AFTER DELETE ON mfa_devices DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.user_pk IS NOT NULL) EXECUTE FUNCTION pam_iam_stamp_store_version();
