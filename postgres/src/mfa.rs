//! Virtual MFA devices and recovery codes in PostgreSQL.

use super::*;
use postgres::types::ToSql;
use zeroize::Zeroizing;

const DEVICE_SELECT: &str = "SELECT d.serial, d.name, d.path, u.name, d.enabled, d.created
     FROM mfa_devices d LEFT JOIN users u ON u.pk = d.user_pk";

fn devices(db: &mut Db<'_>, cond: &str, p: &[&(dyn ToSql + Sync)]) -> Result<Vec<MfaDevice>> {
    db.rows(&format!("{DEVICE_SELECT} WHERE {cond} ORDER BY d.name"), p)?
        .iter()
        .map(|r| {
            Ok(MfaDevice {
                serial_number: g(r, 0)?,
                name: g(r, 1)?,
                path: g(r, 2)?,
                user_name: g(r, 3)?,
                enable_date: g(r, 4)?,
                create_date: g(r, 5)?,
            })
        })
        .collect()
}

/// A device's secret, its seed opened with the secrets key (`credentials::mfa_seed`).
fn secret(
    db: &mut Db<'_>,
    secrets_key: &std::path::Path,
    cond: &str,
    p: &[&(dyn ToSql + Sync)],
) -> Result<Option<MfaSecret>> {
    let r = db.opt(
        &format!(
            "SELECT d.serial, d.seed_sealed, d.watermark, u.name FROM mfa_devices d
             LEFT JOIN users u ON u.pk = d.user_pk WHERE {cond}"
        ),
        p,
    )?;
    match r {
        Some(r) => {
            let serial_number: String = g(&r, 0)?;
            let sealed: Option<Vec<u8>> = g(&r, 1)?;
            Ok(Some(MfaSecret {
                seed: open_seed(secrets_key, &serial_number, sealed.as_deref())?,
                serial_number,
                watermark: g(&r, 2)?,
                user_name: g(&r, 3)?,
            }))
        }
        None => Ok(None),
    }
}

/// The seed of device `serial` out of its sealed bytes (never a plain seed).
pub(crate) fn open_seed(
    secrets_key: &std::path::Path,
    serial: &str,
    sealed: Option<&[u8]>,
) -> Result<Zeroizing<Vec<u8>>> {
    Ok(pam_iam::credentials::mfa_seed::open(
        secrets_key,
        serial,
        sealed.unwrap_or_default(),
    )?)
}

fn put_codes(db: &mut Db<'_>, pk: i64, hashes: &[String]) -> Result<()> {
    db.exec("DELETE FROM recovery_codes WHERE user_pk = $1", &[&pk])?;
    if !hashes.is_empty() {
        db.exec(
            "INSERT INTO recovery_codes (user_pk, code_hash) SELECT $1, h FROM unnest($2::text[]) WITH ORDINALITY AS x(h, n) ORDER BY n",
            &[&pk, &hashes],
        )?;
    }
    Ok(())
}

impl MfaStore for PgStore {
    fn create_virtual_mfa_device(
        &self,
        name: &str,
        path: &str,
        seed: &[u8],
        now: i64,
    ) -> Result<MfaDevice> {
        self.write(Iso::Serializable, |db| {
            if db.opt("SELECT 1 FROM mfa_devices WHERE name = $1", &[&name])?.is_some() {
                return Err(rules::mfa_device_exists(name));
            }
            let serial = self.arn("mfa", path, name);
            let sealed = pam_iam::credentials::mfa_seed::seal(&self.secrets_key, &serial, seed)?;
            db.exec(
                "INSERT INTO mfa_devices (name, serial, path, seed_sealed, created) VALUES ($1, $2, $3, $4, $5)",
                &[&name, &serial, &path, &sealed, &now],
            )?;
            devices(db, "d.serial = $1", &[&serial])?
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
        self.write(Iso::Serializable, |db| {
            let pk = user_pk(db, user)?;
            let dev = db.opt("SELECT user_pk FROM mfa_devices WHERE serial = $1", &[&serial])?;
            match dev {
                None => return Err(rules::no_such_mfa_device(serial)),
                Some(r) if g::<Option<i64>>(&r, 0)?.is_some() => {
                    return Err(rules::mfa_device_in_use());
                }
                Some(_) => {}
            }
            rules::check_one_mfa_device(
                user,
                count(db, "SELECT count(*) FROM mfa_devices WHERE user_pk = $1", pk)?,
            )?;
            db.exec(
                "UPDATE mfa_devices SET user_pk = $1, enabled = $2, watermark = greatest(watermark, $3) WHERE serial = $4",
                &[&pk, &now, &watermark, &serial],
            )?;
            put_codes(db, pk, recovery_hashes)
        })
    }

    fn deactivate_mfa_device(&self, user: &str, serial: &str) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let pk = user_pk(db, user)?;
            let n = db.exec(
                "UPDATE mfa_devices SET user_pk = NULL, enabled = NULL WHERE serial = $1 AND user_pk = $2",
                &[&serial, &pk],
            )?;
            if n == 0 {
                return Err(rules::no_such_user_mfa_device(user, serial));
            }
            db.exec("DELETE FROM recovery_codes WHERE user_pk = $1", &[&pk])?;
            Ok(())
        })
    }

    fn delete_virtual_mfa_device(&self, serial: &str) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let dev = db.opt(
                "SELECT user_pk FROM mfa_devices WHERE serial = $1",
                &[&serial],
            )?;
            match dev {
                None => Err(rules::no_such_mfa_device(serial)),
                Some(r) if g::<Option<i64>>(&r, 0)?.is_some() => Err(rules::mfa_device_assigned()),
                Some(_) => {
                    db.exec("DELETE FROM mfa_devices WHERE serial = $1", &[&serial])?;
                    Ok(())
                }
            }
        })
    }

    fn list_mfa_devices(&self, user: &str) -> Result<Vec<MfaDevice>> {
        self.read(|db| {
            let pk = user_pk(db, user)?;
            devices(db, "d.user_pk = $1", &[&pk])
        })
    }

    fn list_virtual_mfa_devices(&self, assigned: Option<bool>) -> Result<Vec<MfaDevice>> {
        self.read1(|db| {
            let cond = match assigned {
                None => "true",
                Some(true) => "d.user_pk IS NOT NULL",
                Some(false) => "d.user_pk IS NULL",
            };
            devices(db, cond, &[])
        })
    }

    fn mfa_secret(&self, serial: &str) -> Result<MfaSecret> {
        self.read1(|db| {
            secret(db, &self.secrets_key, "d.serial = $1", &[&serial])?
                .ok_or_else(|| rules::no_such_mfa_device(serial))
        })
    }

    fn enabled_mfa(&self, user: &str) -> Result<Option<MfaSecret>> {
        self.read(|db| {
            let pk = user_pk(db, user)?;
            secret(
                db,
                &self.secrets_key,
                "d.user_pk = $1 AND d.enabled IS NOT NULL",
                &[&pk],
            )
        })
    }

    fn set_totp_watermark(&self, serial: &str, step: i64) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            let n = db.exec(
                "UPDATE mfa_devices SET watermark = $1 WHERE serial = $2",
                &[&step, &serial],
            )?;
            found(n, || rules::no_such_mfa_device(serial))
        })
    }

    fn raise_totp_watermark(&self, serial: &str, step: i64) -> Result<bool> {
        self.write(Iso::ReadCommitted, |db| {
            let n = db.exec(
                "UPDATE mfa_devices SET watermark = $1 WHERE serial = $2 AND watermark < $1",
                &[&step, &serial],
            )?;
            Ok(n > 0)
        })
    }

    fn replace_recovery_codes(&self, user: &str, hashes: &[String]) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            let pk = user_pk(db, user)?;
            put_codes(db, pk, hashes)
        })
    }

    fn recovery_codes_left(&self, user: &str) -> Result<u32> {
        self.read(|db| {
            let pk = user_pk(db, user)?;
            let n = count(
                db,
                "SELECT count(*) FROM recovery_codes WHERE user_pk = $1 AND used IS NULL",
                pk,
            )?;
            Ok(u32::try_from(n).unwrap_or(u32::MAX))
        })
    }

    fn unused_recovery_hashes(&self, user: &str) -> Result<Vec<String>> {
        self.read(|db| {
            let pk = user_pk(db, user)?;
            db.rows(
                "SELECT code_hash FROM recovery_codes WHERE user_pk = $1 AND used IS NULL ORDER BY code_hash",
                &[&pk],
            )?
            .iter()
            .map(|r| g(r, 0))
            .collect()
        })
    }

    fn use_recovery_code(&self, user: &str, code_hash: &str, time: i64) -> Result<bool> {
        self.write(Iso::ReadCommitted, |db| {
            let pk = user_pk(db, user)?;
            let n = db.exec(
                "UPDATE recovery_codes SET used = $1 WHERE user_pk = $2 AND code_hash = $3 AND used IS NULL",
                &[&time, &pk, &code_hash],
            )?;
            Ok(n == 1)
        })
    }
}
