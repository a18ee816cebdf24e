-- Migration 9 (twin of SQLite's no-op V9): the store version in commit order.
--
-- Migration 8 bumped a sequence from statement triggers, so a version was taken when a
-- statement ran, not when its transaction committed: T1 takes 5, T2 takes 6 and
-- commits, a host pulls and holds version 6 without T1's change, T1 commits and the
-- version stays 6: the host never learns of T1's change. Now a transaction that changed
-- a replicated table takes its version at COMMIT (a deferred constraint trigger, once
-- per transaction) while holding a transaction-level advisory lock, and appends it to
-- the table store_version. PostgreSQL releases the lock only after the commit is
-- visible, so a transaction with a higher version committed after every one with a
-- lower version: a snapshot that holds version V (max(version) read in the snapshot)
-- holds every change with a version <= V, and any change it lacks gets a higher one.
-- The lock is held from the version's nextval to the end of COMMIT (including a
-- synchronous standby's acknowledgement): commits that change replicated tables are
-- serialized; other writes (counters, audit, sessions) never take it. Appending rows
-- (rather than updating one) keeps concurrent SERIALIZABLE writers free of conflicts.

DROP TRIGGER store_version_users ON users;
DROP TRIGGER store_version_user_tags ON user_tags;
DROP TRIGGER store_version_groups ON groups;
DROP TRIGGER store_version_group_members ON group_members;
DROP TRIGGER store_version_policies ON policies;
DROP TRIGGER store_version_policy_versions ON policy_versions;
DROP TRIGGER store_version_roles ON roles;
DROP TRIGGER store_version_role_tags ON role_tags;
DROP TRIGGER store_version_user_attached ON user_attached;
DROP TRIGGER store_version_group_attached ON group_attached;
DROP TRIGGER store_version_role_attached ON role_attached;
DROP TRIGGER store_version_user_inline ON user_inline;
DROP TRIGGER store_version_group_inline ON group_inline;
DROP TRIGGER store_version_role_inline ON role_inline;
DROP TRIGGER store_version_host_tags ON host_tags;
DROP TRIGGER store_version_ssh_keys ON ssh_keys;
DROP TRIGGER store_version_id_allocations ON id_allocations;
DROP TRIGGER store_version_account ON account;
DROP FUNCTION pam_iam_bump_store_version();
ALTER SEQUENCE store_version RENAME TO store_version_seq;
CREATE TABLE store_version (version BIGINT PRIMARY KEY);
INSERT INTO store_version (version) VALUES (nextval('store_version_seq'));
CREATE FUNCTION pam_iam_stamp_store_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v BIGINT;
BEGIN
  -- Once per transaction (and never in an import that sets the version itself).
  IF current_setting('pam_iam.version_stamped', true) = 'on' THEN
    RETURN NULL;
  END IF;
  PERFORM set_config('pam_iam.version_stamped', 'on', true);
  -- "pam-vers" in ASCII; held until this transaction has committed.
  PERFORM pg_advisory_xact_lock(8097873647016178291);
  v := nextval('store_version_seq');
  INSERT INTO store_version (version) VALUES (v);
  IF v % 1000 = 0 THEN
    DELETE FROM store_version WHERE version < v;
  END IF;
  RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER store_version_users AFTER INSERT OR UPDATE OR DELETE ON users DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_user_tags AFTER INSERT OR UPDATE OR DELETE ON user_tags DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_groups AFTER INSERT OR UPDATE OR DELETE ON groups DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_group_members AFTER INSERT OR UPDATE OR DELETE ON group_members DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_policies AFTER INSERT OR UPDATE OR DELETE ON policies DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_policy_versions AFTER INSERT OR UPDATE OR DELETE ON policy_versions DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_roles AFTER INSERT OR UPDATE OR DELETE ON roles DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_role_tags AFTER INSERT OR UPDATE OR DELETE ON role_tags DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_user_attached AFTER INSERT OR UPDATE OR DELETE ON user_attached DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_group_attached AFTER INSERT OR UPDATE OR DELETE ON group_attached DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_role_attached AFTER INSERT OR UPDATE OR DELETE ON role_attached DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_user_inline AFTER INSERT OR UPDATE OR DELETE ON user_inline DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_group_inline AFTER INSERT OR UPDATE OR DELETE ON group_inline DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_role_inline AFTER INSERT OR UPDATE OR DELETE ON role_inline DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_host_tags AFTER INSERT OR UPDATE OR DELETE ON host_tags DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_ssh_keys AFTER INSERT OR UPDATE OR DELETE ON ssh_keys DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_id_allocations AFTER INSERT OR UPDATE OR DELETE ON id_allocations DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pam_iam_stamp_store_version();
CREATE CONSTRAINT TRIGGER store_version_account AFTER INSERT OR UPDATE OR DELETE ON account DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pam_iam_stamp_store_version();
