-- Migration 17 (twin of SQLite's V17, fleet deltas): which replicated tables each store
-- version changed, so a host holding version V is sent only the tables changed since
-- (store::replica, "Deltas" in docs/fleet.md), and a notification of each new version,
-- so iamd's long polls wake without polling.
--
-- store_changes gets one row per (version, table) from the commit-time stamp of
-- migration 9: in the same transaction as the version, under the same lock, so a
-- snapshot that holds version V holds every change row of every version <= V, and a
-- change committed later gets a higher version and its own rows (a delta never skips a
-- change committed late). Rows are appended, never updated (no conflicts between
-- concurrent SERIALIZABLE writers). The log keeps the last 1000 versions
-- (store::replica::CHANGE_LOG_VERSIONS): each version that is a multiple of 100 deletes
-- the window of 100 versions that fell out of it (disjoint windows: two prunes never
-- touch the same rows); a host further behind is sent a full snapshot.
--
-- store_identity names this store (random, made here): a delta is only ever applied to
-- a replica of the same store. It is derived, never copied by migrate-store, so a
-- copy's hosts resync fully.
CREATE TABLE store_changes (
  version BIGINT NOT NULL,
  tbl TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (version, tbl)
);
CREATE TABLE store_identity (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  store_id TEXT COLLATE "C" NOT NULL
);
INSERT INTO store_identity (id, store_id) VALUES (1, replace(gen_random_uuid()::text, '-', ''));
CREATE OR REPLACE FUNCTION pam_iam_stamp_store_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  stamped TEXT := current_setting('pam_iam.version_stamped', true);
  logged TEXT;
  v BIGINT;
BEGIN
  -- An import sets the version itself ('on'): no stamp, no change rows.
  IF stamped = 'on' THEN
    RETURN NULL;
  END IF;
  IF stamped IS NULL OR stamped = '' THEN
    -- Once per transaction: "pam-vers" in ASCII, held until this transaction has
    -- committed (migration 9).
    PERFORM pg_advisory_xact_lock(8097873647016178291);
    v := nextval('store_version_seq');
    PERFORM set_config('pam_iam.version_stamped', v::text, true);
    PERFORM set_config('pam_iam.version_tables', ',', true);
    INSERT INTO store_version (version) VALUES (v);
    IF v % 1000 = 0 THEN
      DELETE FROM store_version WHERE version < v;
    END IF;
    IF v % 100 = 0 THEN
      DELETE FROM store_changes WHERE version > v - 1100 AND version <= v - 1000;
    END IF;
    -- Delivered when (and only if) this transaction commits.
    PERFORM pg_notify('pam_iam_store_version', v::text);
  ELSE
    v := stamped::bigint;
  END IF;
  -- Once per table per transaction.
  logged := current_setting('pam_iam.version_tables', true);
  IF position(',' || TG_TABLE_NAME || ',' IN logged) = 0 THEN
    INSERT INTO store_changes (version, tbl) VALUES (v, TG_TABLE_NAME);
    PERFORM set_config('pam_iam.version_tables', logged || TG_TABLE_NAME || ',', true);
  END IF;
  RETURN NULL;
END
$$;
