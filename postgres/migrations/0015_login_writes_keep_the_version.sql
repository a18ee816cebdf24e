-- Migration 15 (twin of SQLite's V15): a login's writes take no store version. Every
-- password login sets users.password_last_used, and migration 9's trigger on users
-- fired for any UPDATE, so each login drew a new version (taking the commit-order lock,
-- behind every other writer) and every host pulled a whole snapshot. The trigger now
-- fires only for the columns a replica carries (store::replica::columns: every users
-- column but password_last_used, which a replica no longer carries). The other writes
-- of a login (watermark, recovery code, failures and lock, factor throttle, audit,
-- access-key and host-credential last use) are in tables no replica carries and have
-- no version trigger.
DROP TRIGGER store_version_users ON users;
CREATE CONSTRAINT TRIGGER store_version_users AFTER INSERT OR DELETE OR UPDATE OF pk, name, user_id, path, created, boundary_pk ON users DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pam_iam_stamp_store_version();
