//! Virtual MFA devices and recovery codes in SQLite.

use super::*;

impl SqliteStore {
    pub(super) fn mfa_where(
        &self,
        tx: &Connection,
        cond: &str,
        arg: Value,
    ) -> Result<Vec<MfaDevice>> {
        let mut st = tx.prepare(&format!(
            "SELECT d.serial, d.name, d.path, u.name, d.enabled, d.created
             FROM mfa_devices d LEFT JOIN users u ON u.pk = d.user_pk WHERE {cond} ORDER BY d.name"
        ))?;
        let rows = st.query_map([arg], |r| {
            Ok(MfaDevice {
                serial_number: r.get(0)?,
                name: r.get(1)?,
                path: r.get(2)?,
                user_name: r.get(3)?,
                enable_date: r.get(4)?,
                create_date: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

/// A device's secret, its seed opened with the secrets key (`credentials::mfa_seed`).
pub(super) fn mfa_secret_where(
    tx: &Connection,
    secrets_key: &std::path::Path,
    cond: &str,
    arg: Value,
) -> Result<Option<MfaSecret>> {
    let row = tx
        .query_row(
            &format!(
                "SELECT d.serial, d.seed_sealed, d.watermark, u.name FROM mfa_devices d
                 LEFT JOIN users u ON u.pk = d.user_pk WHERE {cond}"
            ),
            [arg],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<Vec<u8>>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            },
        )
        .optional()?;
    let Some((serial_number, sealed, watermark, user_name)) = row else {
        return Ok(None);
    };
    let seed = crate::credentials::mfa_seed::open(
        secrets_key,
        &serial_number,
        sealed.as_deref().unwrap_or_default(),
    )?;
    Ok(Some(MfaSecret {
        serial_number,
        seed,
        watermark,
        user_name,
    }))
}

impl MfaStore for SqliteStore {
    fn create_virtual_mfa_device(
        &self,
        name: &str,
        path: &str,
        seed: &[u8],
        now: i64,
    ) -> Result<MfaDevice> {
        self.write(|tx| {
            if tx.query_row("SELECT 1 FROM mfa_devices WHERE name = ?1", [name], |_| Ok(())).optional()?.is_some() {
                return Err(rules::mfa_device_exists(name));
            }
            let serial = self.arn("mfa", path, name);
            let sealed = crate::credentials::mfa_seed::seal(&self.secrets_key, &serial, seed)?;
            tx.execute(
                "INSERT INTO mfa_devices (name, serial, path, seed_sealed, created) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, serial, path, sealed, now],
            )?;
            self.mfa_where(tx, "d.serial = ?1", Value::Text(serial))?
                .into_iter()
                .next()
                .ok_or_else(|| StoreError::Database("device vanished".into()))
        })
    }

    fn enable_mfa_device(
        &self,
        user: &str,
        serial: &str,
        watermark: i64,
        recovery_hashes: &[String],
        now: i64,
    ) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            let dev: Option<Option<i64>> = tx
                .query_row("SELECT user_pk FROM mfa_devices WHERE serial = ?1", [serial], |r| r.get(0))
                .optional()?;
            match dev {
                None => return Err(rules::no_such_mfa_device(serial)),
                Some(Some(_)) => return Err(rules::mfa_device_in_use()),
                Some(None) => {}
            }
            rules::check_one_mfa_device(user, count(tx, "SELECT count(*) FROM mfa_devices WHERE user_pk = ?1", pk)?)?;
            tx.execute(
                "UPDATE mfa_devices SET user_pk = ?1, enabled = ?2, watermark = max(watermark, ?3) WHERE serial = ?4",
                params![pk, now, watermark, serial],
            )?;
            tx.execute("DELETE FROM recovery_codes WHERE user_pk = ?1", [pk])?;
            for h in recovery_hashes {
                tx.execute("INSERT INTO recovery_codes (user_pk, code_hash) VALUES (?1, ?2)", params![pk, h])?;
            }
            Ok(())
        })
    }

    fn deactivate_mfa_device(&self, user: &str, serial: &str) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            let n = tx.execute(
                "UPDATE mfa_devices SET user_pk = NULL, enabled = NULL WHERE serial = ?1 AND user_pk = ?2",
                params![serial, pk],
            )?;
            if n == 0 {
                return Err(rules::no_such_user_mfa_device(user, serial));
            }
            tx.execute("DELETE FROM recovery_codes WHERE user_pk = ?1", [pk])?;
            Ok(())
        })
    }

    fn delete_virtual_mfa_device(&self, serial: &str) -> Result<()> {
        self.write(|tx| {
            let dev: Option<Option<i64>> = tx
                .query_row(
                    "SELECT user_pk FROM mfa_devices WHERE serial = ?1",
                    [serial],
                    |r| r.get(0),
                )
                .optional()?;
            match dev {
                None => Err(rules::no_such_mfa_device(serial)),
                Some(Some(_)) => Err(rules::mfa_device_assigned()),
                Some(None) => {
                    tx.execute("DELETE FROM mfa_devices WHERE serial = ?1", [serial])?;
                    Ok(())
                }
            }
        })
    }

    fn list_mfa_devices(&self, user: &str) -> Result<Vec<MfaDevice>> {
        self.read(|tx| {
            let pk = user_pk(tx, user)?;
            self.mfa_where(tx, "d.user_pk = ?1", Value::Integer(pk))
        })
    }

    fn list_virtual_mfa_devices(&self, assigned: Option<bool>) -> Result<Vec<MfaDevice>> {
        self.read(|tx| {
            let cond = match assigned {
                None => "?1 IS NOT NULL",
                Some(true) => "?1 IS NOT NULL AND d.user_pk IS NOT NULL",
                Some(false) => "?1 IS NOT NULL AND d.user_pk IS NULL",
            };
            self.mfa_where(tx, cond, Value::Integer(1))
        })
    }

    fn mfa_secret(&self, serial: &str) -> Result<MfaSecret> {
        self.read(|tx| {
            mfa_secret_where(
                tx,
                &self.secrets_key,
                "d.serial = ?1",
                Value::Text(serial.into()),
            )?
            .ok_or_else(|| rules::no_such_mfa_device(serial))
        })
    }

    fn enabled_mfa(&self, user: &str) -> Result<Option<MfaSecret>> {
        self.read(|tx| {
            let pk = user_pk(tx, user)?;
            mfa_secret_where(
                tx,
                &self.secrets_key,
                "d.user_pk = ?1 AND d.enabled IS NOT NULL",
                Value::Integer(pk),
            )
        })
    }

    fn set_totp_watermark(&self, serial: &str, step: i64) -> Result<()> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE mfa_devices SET watermark = ?1 WHERE serial = ?2",
                params![step, serial],
            )?;
            found(changed, || rules::no_such_mfa_device(serial))
        })
    }

    fn raise_totp_watermark(&self, serial: &str, step: i64) -> Result<bool> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE mfa_devices SET watermark = ?1 WHERE serial = ?2 AND watermark < ?1",
                params![step, serial],
            )?;
            Ok(n > 0)
        })
    }

    fn replace_recovery_codes(&self, user: &str, hashes: &[String]) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            tx.execute("DELETE FROM recovery_codes WHERE user_pk = ?1", [pk])?;
            for h in hashes {
                tx.execute(
                    "INSERT INTO recovery_codes (user_pk, code_hash) VALUES (?1, ?2)",
                    params![pk, h],
                )?;
            }
            Ok(())
        })
    }

    fn recovery_codes_left(&self, user: &str) -> Result<u32> {
        self.read(|tx| {
            let pk = user_pk(tx, user)?;
            Ok(tx.query_row(
                "SELECT count(*) FROM recovery_codes WHERE user_pk = ?1 AND used IS NULL",
                [pk],
                |r| r.get(0),
            )?)
        })
    }

    fn unused_recovery_hashes(&self, user: &str) -> Result<Vec<String>> {
        self.read(|tx| {
            let pk = user_pk(tx, user)?;
            let mut st = tx.prepare(
                "SELECT code_hash FROM recovery_codes WHERE user_pk = ?1 AND used IS NULL ORDER BY code_hash",
            )?;
            let hashes = st
                .query_map([pk], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(hashes)
        })
    }

    fn use_recovery_code(&self, user: &str, code_hash: &str, time: i64) -> Result<bool> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            let n = tx.execute(
                "UPDATE recovery_codes SET used = ?1 WHERE user_pk = ?2 AND code_hash = ?3 AND used IS NULL",
                params![time, pk, code_hash],
            )?;
            Ok(n == 1)
        })
    }
}
