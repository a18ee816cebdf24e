-- Migration 5 (twin of SQLite's V5): the per-user attempt slot of the second-factor
-- rate limit (credentials::second_factor::Throttle), in milliseconds.
CREATE TABLE factor_throttle (
  user_pk BIGINT PRIMARY KEY REFERENCES users(pk) ON DELETE CASCADE,
  next_free_ms BIGINT NOT NULL
);
