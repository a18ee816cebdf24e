//! The account row, schema version, settings and the credential report in PostgreSQL.

use super::*;
use pam_iam::credentials::HashParams;

use rules::{HASH_PARAMS_KEY, MIN_DURATION_KEY};

const UPSERT_SETTING: &str = "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";

fn setting(db: &mut Db<'_>, key: &str) -> Result<Option<String>> {
    match db.opt("SELECT value FROM settings WHERE key = $1", &[&key])? {
        Some(r) => Ok(Some(g(&r, 0)?)),
        None => Ok(None),
    }
}

impl AccountStore for PgStore {
    fn account_id(&self) -> Result<String> {
        Ok(self.account_id.clone())
    }

    fn schema_version(&self) -> Result<i64> {
        self.read1(migrate::version)
    }

    fn hash_params(&self) -> Result<HashParams> {
        rules::decode_hash_params(self.read1(|db| setting(db, HASH_PARAMS_KEY))?)
    }

    fn set_hash_params(&self, p: &HashParams) -> Result<()> {
        let json = rules::encode_hash_params(p)?;
        self.write(Iso::ReadCommitted, |db| {
            db.exec(UPSERT_SETTING, &[&HASH_PARAMS_KEY, &json])?;
            Ok(())
        })
    }

    fn account_summary(&self) -> Result<AccountSummary> {
        self.read1(|db| {
            let r = db.one(
                "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM groups), (SELECT count(*) FROM roles),
                        (SELECT count(*) FROM policies),
                        (SELECT count(*) FROM user_attached) + (SELECT count(*) FROM group_attached) + (SELECT count(*) FROM role_attached),
                        (SELECT count(*) FROM mfa_devices), (SELECT count(*) FROM mfa_devices WHERE user_pk IS NOT NULL)",
                &[],
            )?;
            Ok(rules::account_summary(rules::Counts {
                users: g(&r, 0)?,
                groups: g(&r, 1)?,
                roles: g(&r, 2)?,
                policies: g(&r, 3)?,
                attachments: g(&r, 4)?,
                mfa_devices: g(&r, 5)?,
                mfa_devices_in_use: g(&r, 6)?,
            }))
        })
    }

    fn put_credential_report(&self, csv: &str, now: i64) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            db.exec(
                "INSERT INTO credential_report (id, generated, content) VALUES (1, $1, $2)
                 ON CONFLICT (id) DO UPDATE SET generated = excluded.generated, content = excluded.content",
                &[&now, &csv],
            )?;
            Ok(())
        })
    }

    fn get_credential_report(&self) -> Result<Option<(String, i64)>> {
        self.read1(|db| {
            match db.opt(
                "SELECT content, generated FROM credential_report WHERE id = 1",
                &[],
            )? {
                Some(r) => Ok(Some((g(&r, 0)?, g(&r, 1)?))),
                None => Ok(None),
            }
        })
    }

    fn sts_min_session_duration(&self) -> Result<Option<i64>> {
        Ok(rules::decode_min_session_duration(
            self.read1(|db| setting(db, MIN_DURATION_KEY))?,
        ))
    }

    fn set_sts_min_session_duration(&self, seconds: Option<i64>) -> Result<()> {
        if let Some(n) = seconds {
            rules::check_min_session_duration(n)?;
        }
        self.write(Iso::ReadCommitted, |db| {
            match seconds {
                Some(n) => {
                    db.exec(UPSERT_SETTING, &[&MIN_DURATION_KEY, &n.to_string()])?;
                }
                None => {
                    db.exec("DELETE FROM settings WHERE key = $1", &[&MIN_DURATION_KEY])?;
                }
            }
            Ok(())
        })
    }
}
