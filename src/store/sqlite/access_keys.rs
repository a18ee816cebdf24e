//! Access keys in SQLite.

use super::*;

pub(super) fn access_key_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AccessKey> {
    let status: String = r.get(2)?;
    Ok(AccessKey {
        access_key_id: r.get(0)?,
        user_name: r.get(1)?,
        status: Status::parse(&status).unwrap_or(Status::Inactive),
        create_date: r.get(3)?,
        last_used_date: r.get(4)?,
        last_used_service: r.get(5)?,
    })
}

impl AccessKeyStore for SqliteStore {
    fn create_access_key(
        &self,
        user: &str,
        key_id: &str,
        secret_hash: &str,
        now: i64,
    ) -> Result<AccessKey> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            rules::check_access_keys(count(
                tx,
                "SELECT count(*) FROM access_keys WHERE user_pk = ?1",
                pk,
            )?)?;
            tx.execute(
                "INSERT INTO access_keys (key_id, user_pk, secret_hash, status, created) VALUES (?1, ?2, ?3, 'Active', ?4)",
                params![key_id, pk, secret_hash, now],
            )?;
            Ok(AccessKey {
                access_key_id: key_id.to_string(),
                user_name: user.to_string(),
                status: Status::Active,
                create_date: now,
                last_used_date: None,
                last_used_service: None,
            })
        })
    }

    fn list_access_keys(&self, user: &str) -> Result<Vec<AccessKey>> {
        self.read(|tx| {
            let pk = user_pk(tx, user)?;
            let mut st = tx.prepare(
                "SELECT k.key_id, u.name, k.status, k.created, k.last_used, k.last_used_service
                 FROM access_keys k JOIN users u ON u.pk = k.user_pk WHERE k.user_pk = ?1 ORDER BY k.created, k.key_id",
            )?;
            let rows = st.query_map([pk], access_key_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn get_access_key(&self, key_id: &str) -> Result<AccessKey> {
        self.read(|tx| {
            tx.query_row(
                "SELECT k.key_id, u.name, k.status, k.created, k.last_used, k.last_used_service
                 FROM access_keys k JOIN users u ON u.pk = k.user_pk WHERE k.key_id = ?1",
                [key_id],
                access_key_row,
            )
            .optional()?
            .ok_or_else(|| rules::no_such_access_key(key_id))
        })
    }

    fn access_key_secret_hash(&self, key_id: &str) -> Result<String> {
        self.read(|tx| {
            tx.query_row(
                "SELECT secret_hash FROM access_keys WHERE key_id = ?1 AND status = 'Active'",
                [key_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| rules::no_such_access_key(key_id))
        })
    }

    fn update_access_key(&self, user: &str, key_id: &str, status: Status) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            let changed = tx.execute(
                "UPDATE access_keys SET status = ?1 WHERE key_id = ?2 AND user_pk = ?3",
                params![status.as_str(), key_id, pk],
            )?;
            found(changed, || rules::no_such_access_key(key_id))
        })
    }

    fn delete_access_key(&self, user: &str, key_id: &str) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            let changed = tx.execute(
                "DELETE FROM access_keys WHERE key_id = ?1 AND user_pk = ?2",
                params![key_id, pk],
            )?;
            found(changed, || rules::no_such_access_key(key_id))
        })
    }

    fn record_access_key_use(&self, key_id: &str, service: &str, now: i64) -> Result<()> {
        self.write(|tx| {
            let mut changed = tx.execute(
                "UPDATE access_keys SET last_used = ?1, last_used_service = ?2 WHERE key_id = ?3",
                params![now, service, key_id],
            )?;
            if changed == 0 {
                changed = tx.execute(
                    "UPDATE root_access_keys SET last_used = ?1, last_used_service = ?2 WHERE key_id = ?3",
                    params![now, service, key_id],
                )?;
            }
            found(changed, || rules::no_such_access_key(key_id))
        })
    }

    fn set_access_key_secret(&self, key_id: &str, sealed: &[u8]) -> Result<()> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE access_keys SET secret_sealed = ?1 WHERE key_id = ?2",
                params![sealed, key_id],
            )?;
            found(changed, || rules::no_such_access_key(key_id))
        })
    }

    fn access_key_credential(&self, key_id: &str) -> Result<KeyCredential> {
        self.read(|tx| {
            let version = store_version_in(tx)?;
            let row = |root: bool| {
                move |r: &rusqlite::Row<'_>| {
                    Ok(KeyCredential {
                        key: access_key_row(r)?,
                        root,
                        sealed_secret: r.get(6)?,
                        user: None,
                        version,
                    })
                }
            };
            let user = tx
                .prepare_cached(
                    "SELECT k.key_id, u.name, k.status, k.created, k.last_used, k.last_used_service, k.secret_sealed
                     FROM access_keys k JOIN users u ON u.pk = k.user_pk WHERE k.key_id = ?1",
                )?
                .query_row([key_id], row(false))
                .optional()?;
            if let Some(mut c) = user {
                let name = c.key.user_name.clone();
                c.user = Some(self.one_user(
                    tx,
                    "u.name = ?1",
                    Value::Text(name.clone()),
                    &format!("name {name}"),
                )?);
                return Ok(c);
            }
            tx.prepare_cached(&format!(
                "{ROOT_KEY_COLUMNS}, secret_sealed FROM root_access_keys WHERE key_id = ?1"
            ))?
            .query_row([key_id], row(true))
            .optional()?
            .ok_or_else(|| rules::no_such_access_key(key_id))
        })
    }

    fn create_root_access_key(
        &self,
        key_id: &str,
        secret_hash: &str,
        sealed: &[u8],
        now: i64,
    ) -> Result<AccessKey> {
        self.write(|tx| {
            let n: i64 = tx.query_row("SELECT count(*) FROM root_access_keys", [], |r| r.get(0))?;
            rules::check_root_access_keys(n)?;
            tx.execute(
                "INSERT INTO root_access_keys (key_id, secret_hash, secret_sealed, status, created) VALUES (?1, ?2, ?3, 'Active', ?4)",
                params![key_id, secret_hash, sealed, now],
            )?;
            Ok(AccessKey {
                access_key_id: key_id.to_string(),
                user_name: String::new(),
                status: Status::Active,
                create_date: now,
                last_used_date: None,
                last_used_service: None,
            })
        })
    }

    fn list_root_access_keys(&self) -> Result<Vec<AccessKey>> {
        self.read(|tx| {
            let mut st = tx.prepare(&format!(
                "{ROOT_KEY_COLUMNS} FROM root_access_keys ORDER BY created, key_id"
            ))?;
            let rows = st.query_map([], access_key_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn unsealed_access_keys(&self) -> Result<Vec<AccessKey>> {
        self.read(|tx| {
            let mut st = tx.prepare(&format!(
                "SELECT k.key_id, u.name, k.status, k.created, k.last_used, k.last_used_service
                 FROM access_keys k JOIN users u ON u.pk = k.user_pk WHERE k.secret_sealed IS NULL
                 UNION ALL {ROOT_KEY_COLUMNS} FROM root_access_keys WHERE secret_sealed IS NULL
                 ORDER BY 1"
            ))?;
            let rows = st.query_map([], access_key_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn update_root_access_key(&self, key_id: &str, status: Status) -> Result<()> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE root_access_keys SET status = ?1 WHERE key_id = ?2",
                params![status.as_str(), key_id],
            )?;
            found(changed, || rules::no_such_access_key(key_id))
        })
    }

    fn delete_root_access_key(&self, key_id: &str) -> Result<()> {
        self.write(|tx| {
            let changed = tx.execute("DELETE FROM root_access_keys WHERE key_id = ?1", [key_id])?;
            found(changed, || rules::no_such_access_key(key_id))
        })
    }
}

/// The [`access_key_row`] columns of a root key (no owner name).
const ROOT_KEY_COLUMNS: &str = "SELECT key_id, '', status, created, last_used, last_used_service";
