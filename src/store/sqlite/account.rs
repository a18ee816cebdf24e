//! The account row, schema version, settings and the credential report in SQLite.

use super::*;

use rules::{HASH_PARAMS_KEY, MIN_DURATION_KEY};

impl AccountStore for SqliteStore {
    fn account_id(&self) -> Result<String> {
        Ok(self.account_id.clone())
    }

    fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn hash_params(&self) -> Result<HashParams> {
        let v: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                [HASH_PARAMS_KEY],
                |r| r.get(0),
            )
            .optional()?;
        rules::decode_hash_params(v)
    }

    fn set_hash_params(&self, p: &HashParams) -> Result<()> {
        let json = rules::encode_hash_params(p)?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT DO UPDATE SET value = excluded.value",
                [HASH_PARAMS_KEY, json.as_str()],
            )?;
            Ok(())
        })
    }

    fn account_summary(&self) -> Result<AccountSummary> {
        self.read(|tx| {
            let c = |sql: &str| -> Result<i64> { Ok(tx.query_row(sql, [], |r| r.get(0))?) };
            Ok(rules::account_summary(rules::Counts {
                users: c("SELECT count(*) FROM users")?,
                groups: c("SELECT count(*) FROM groups")?,
                roles: c("SELECT count(*) FROM roles")?,
                policies: c("SELECT count(*) FROM policies")?,
                attachments: c(
                    "SELECT (SELECT count(*) FROM user_attached) + (SELECT count(*) FROM group_attached) + (SELECT count(*) FROM role_attached)",
                )?,
                mfa_devices: c("SELECT count(*) FROM mfa_devices")?,
                mfa_devices_in_use: c("SELECT count(*) FROM mfa_devices WHERE user_pk IS NOT NULL")?,
            }))
        })
    }

    fn put_credential_report(&self, csv: &str, now: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO credential_report (id, generated, content) VALUES (1, ?1, ?2)
                 ON CONFLICT DO UPDATE SET generated = excluded.generated, content = excluded.content",
                params![now, csv],
            )?;
            Ok(())
        })
    }

    fn get_credential_report(&self) -> Result<Option<(String, i64)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT content, generated FROM credential_report WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    fn sts_min_session_duration(&self) -> Result<Option<i64>> {
        self.read(|tx| {
            let v: Option<String> = tx
                .query_row(
                    "SELECT value FROM settings WHERE key = ?1",
                    [MIN_DURATION_KEY],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(rules::decode_min_session_duration(v))
        })
    }

    fn set_sts_min_session_duration(&self, seconds: Option<i64>) -> Result<()> {
        self.write(|tx| {
            match seconds {
                Some(n) => {
                    rules::check_min_session_duration(n)?;
                    tx.execute(
                        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT DO UPDATE SET value = excluded.value",
                        params![MIN_DURATION_KEY, n.to_string()],
                    )?;
                }
                None => {
                    tx.execute("DELETE FROM settings WHERE key = ?1", [MIN_DURATION_KEY])?;
                }
            }
            Ok(())
        })
    }
}
