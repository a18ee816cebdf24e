-- Migration 18 (twin of SQLite's V18, fleet resume): a no-op here. SQLite's V18 makes
-- replica_origin, what an agent's replica is of (store, host, host credential, store
-- and schema versions), so a restarted agent resumes with a delta; replicas are SQLite
-- files only, and a PostgreSQL store never holds one.
SELECT 1;
