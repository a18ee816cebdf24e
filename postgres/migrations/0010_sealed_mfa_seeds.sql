-- Migration 10 (twin of SQLite's V10): TOTP seeds sealed at rest (credentials::mfa_seed,
-- under the secrets key like access-key secrets). This adds the sealed column; migrate.rs
-- finishes the migration in the same transaction (SEALED_SEEDS): every plain seed sealed,
-- then the plain column dropped, so no seed stays in plain text, or nothing changes.
ALTER TABLE mfa_devices ADD COLUMN seed_sealed BYTEA;
