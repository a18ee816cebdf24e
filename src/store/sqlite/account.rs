//! The account row, schema version, settings and the credential report in SQLite.

use super::*;

/// Settings key of the shortest role session (seconds); absent means AWS's 900.
const MIN_DURATION_KEY: &str = "sts.min_session_duration";

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
            .query_row("SELECT value FROM settings WHERE key = 'argon2'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match v {
            None => Ok(HashParams::default()),
            Some(s) => serde_json::from_str(&s)
                .map_err(|e| StoreError::Database(format!("bad argon2 setting: {e}"))),
        }
    }

    fn set_hash_params(&self, p: &HashParams) -> Result<()> {
        let json = serde_json::to_string(p).map_err(|e| StoreError::Database(e.to_string()))?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES ('argon2', ?1) ON CONFLICT DO UPDATE SET value = excluded.value",
                [json],
            )?;
            Ok(())
        })
    }

    fn account_summary(&self) -> Result<AccountSummary> {
        self.read(|tx| {
            let c = |sql: &str| -> Result<i64> { Ok(tx.query_row(sql, [], |r| r.get(0))?) };
            let entries = vec![
                ("Users", c("SELECT count(*) FROM users")?),
                ("UsersQuota", 5000),
                ("Groups", c("SELECT count(*) FROM groups")?),
                ("GroupsQuota", 300),
                ("GroupsPerUserQuota", MAX_GROUPS_PER_USER),
                ("Roles", c("SELECT count(*) FROM roles")?),
                ("RolesQuota", 1000),
                ("Policies", c("SELECT count(*) FROM policies")?),
                ("PoliciesQuota", 1500),
                ("PolicyVersionsInUse", c(
                    "SELECT (SELECT count(*) FROM user_attached) + (SELECT count(*) FROM group_attached) + (SELECT count(*) FROM role_attached)",
                )?),
                ("PolicyVersionsInUseQuota", 10000),
                ("VersionsPerPolicyQuota", MAX_POLICY_VERSIONS),
                ("AttachedPoliciesPerUserQuota", MAX_ATTACHED),
                ("AttachedPoliciesPerGroupQuota", MAX_ATTACHED),
                ("AttachedPoliciesPerRoleQuota", MAX_ATTACHED),
                ("MFADevices", c("SELECT count(*) FROM mfa_devices")?),
                ("MFADevicesInUse", c("SELECT count(*) FROM mfa_devices WHERE user_pk IS NOT NULL")?),
                ("AccessKeysPerUserQuota", MAX_ACCESS_KEYS),
                ("AccountAccessKeysPresent", 0),
                ("AccountMFAEnabled", 0),
            ];
            Ok(AccountSummary { entries })
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
            Ok(v.and_then(|s| s.parse::<i64>().ok()).filter(|n| *n >= 1))
        })
    }

    fn set_sts_min_session_duration(&self, seconds: Option<i64>) -> Result<()> {
        self.write(|tx| {
            match seconds {
                Some(n) if (1..=900).contains(&n) => {
                    tx.execute(
                        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT DO UPDATE SET value = excluded.value",
                        params![MIN_DURATION_KEY, n.to_string()],
                    )?;
                }
                Some(_) => {
                    return Err(StoreError::Validation(
                        "the shortest role session must be between 1 and 900 seconds".into(),
                    ));
                }
                None => {
                    tx.execute("DELETE FROM settings WHERE key = ?1", [MIN_DURATION_KEY])?;
                }
            }
            Ok(())
        })
    }
}
