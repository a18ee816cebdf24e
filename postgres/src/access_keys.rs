//! Access keys in PostgreSQL.

use super::*;

const KEY_SELECT: &str =
    "SELECT k.key_id, u.name, k.status, k.created, k.last_used, k.last_used_service
     FROM access_keys k JOIN users u ON u.pk = k.user_pk";

fn key_row(r: &postgres::Row) -> Result<AccessKey> {
    let status: String = g(r, 2)?;
    Ok(AccessKey {
        access_key_id: g(r, 0)?,
        user_name: g(r, 1)?,
        status: Status::parse(&status).unwrap_or(Status::Inactive),
        create_date: g(r, 3)?,
        last_used_date: g(r, 4)?,
        last_used_service: g(r, 5)?,
    })
}

impl AccessKeyStore for PgStore {
    fn create_access_key(
        &self,
        user: &str,
        key_id: &str,
        secret_hash: &str,
        now: i64,
    ) -> Result<AccessKey> {
        self.write(Iso::Serializable, |db| {
            let pk = user_pk(db, user)?;
            rules::check_access_keys(count(
                db,
                "SELECT count(*) FROM access_keys WHERE user_pk = $1",
                pk,
            )?)?;
            db.exec(
                "INSERT INTO access_keys (key_id, user_pk, secret_hash, status, created) VALUES ($1, $2, $3, 'Active', $4)",
                &[&key_id, &pk, &secret_hash, &now],
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
        self.read(|db| {
            let pk = user_pk(db, user)?;
            db.rows(
                &format!("{KEY_SELECT} WHERE k.user_pk = $1 ORDER BY k.created, k.key_id"),
                &[&pk],
            )?
            .iter()
            .map(key_row)
            .collect()
        })
    }

    fn get_access_key(&self, key_id: &str) -> Result<AccessKey> {
        self.read1(
            |db| match db.opt(&format!("{KEY_SELECT} WHERE k.key_id = $1"), &[&key_id])? {
                Some(r) => key_row(&r),
                None => Err(rules::no_such_access_key(key_id)),
            },
        )
    }

    fn access_key_secret_hash(&self, key_id: &str) -> Result<String> {
        self.read1(|db| {
            match db.opt(
                "SELECT secret_hash FROM access_keys WHERE key_id = $1 AND status = 'Active'",
                &[&key_id],
            )? {
                Some(r) => g(&r, 0),
                None => Err(rules::no_such_access_key(key_id)),
            }
        })
    }

    fn update_access_key(&self, user: &str, key_id: &str, status: Status) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            let pk = user_pk(db, user)?;
            let n = db.exec(
                "UPDATE access_keys SET status = $1 WHERE key_id = $2 AND user_pk = $3",
                &[&status.as_str(), &key_id, &pk],
            )?;
            found(n, || rules::no_such_access_key(key_id))
        })
    }

    fn delete_access_key(&self, user: &str, key_id: &str) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            let pk = user_pk(db, user)?;
            let n = db.exec(
                "DELETE FROM access_keys WHERE key_id = $1 AND user_pk = $2",
                &[&key_id, &pk],
            )?;
            found(n, || rules::no_such_access_key(key_id))
        })
    }

    fn record_access_key_use(&self, key_id: &str, service: &str, now: i64) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            let mut n = db.exec(
                "UPDATE access_keys SET last_used = $1, last_used_service = $2 WHERE key_id = $3",
                &[&now, &service, &key_id],
            )?;
            if n == 0 {
                n = db.exec(
                    "UPDATE root_access_keys SET last_used = $1, last_used_service = $2 WHERE key_id = $3",
                    &[&now, &service, &key_id],
                )?;
            }
            found(n, || rules::no_such_access_key(key_id))
        })
    }
    fn set_access_key_secret(&self, key_id: &str, sealed: &[u8]) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            let n = db.exec(
                "UPDATE access_keys SET secret_sealed = $1 WHERE key_id = $2",
                &[&sealed, &key_id],
            )?;
            found(n, || rules::no_such_access_key(key_id))
        })
    }

    fn access_key_credential(&self, key_id: &str) -> Result<KeyCredential> {
        // The key, its user (with tags and boundary) and the store version in one
        // statement: an API request's first read.
        let sql = format!(
            "SELECT k.key_id, coalesce(u.name, ''), k.status, k.created, k.last_used, k.last_used_service, k.secret_sealed, k.root, ({STORE_VERSION}), {}
             FROM (SELECT key_id, user_pk, status, created, last_used, last_used_service, secret_sealed, false AS root
                     FROM access_keys WHERE key_id = $1
                   UNION ALL
                   SELECT key_id, NULL, status, created, last_used, last_used_service, secret_sealed, true
                     FROM root_access_keys WHERE key_id = $1) k
             LEFT JOIN users u ON u.pk = k.user_pk LEFT JOIN policies p ON p.pk = u.boundary_pk",
            Self::user_select()
        );
        self.read1(|db| {
            let r = db.opt(&sql, &[&key_id])?;
            let Some(r) = r else {
                return Err(rules::no_such_access_key(key_id));
            };
            let root: bool = g(&r, 7)?;
            let user = match g::<Option<i64>>(&r, 9)? {
                Some(_) if !root => Some(self.user_row(&r, 9)?.1),
                _ => None,
            };
            Ok(KeyCredential {
                key: key_row(&r)?,
                sealed_secret: g(&r, 6)?,
                root,
                user,
                version: g(&r, 8)?,
            })
        })
    }

    fn create_root_access_key(
        &self,
        key_id: &str,
        secret_hash: &str,
        sealed: &[u8],
        now: i64,
    ) -> Result<AccessKey> {
        self.write(Iso::Serializable, |db| {
            let r = db.one("SELECT count(*) FROM root_access_keys", &[])?;
            rules::check_root_access_keys(g(&r, 0)?)?;
            db.exec(
                "INSERT INTO root_access_keys (key_id, secret_hash, secret_sealed, status, created) VALUES ($1, $2, $3, 'Active', $4)",
                &[&key_id, &secret_hash, &sealed, &now],
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
        self.read1(|db| {
            db.rows(
                "SELECT key_id, '', status, created, last_used, last_used_service FROM root_access_keys ORDER BY created, key_id",
                &[],
            )?
            .iter()
            .map(key_row)
            .collect()
        })
    }

    fn unsealed_access_keys(&self) -> Result<Vec<AccessKey>> {
        self.read1(|db| {
            db.rows(
                "SELECT k.key_id, u.name, k.status, k.created, k.last_used, k.last_used_service
                 FROM access_keys k JOIN users u ON u.pk = k.user_pk WHERE k.secret_sealed IS NULL
                 UNION ALL
                 SELECT key_id, '', status, created, last_used, last_used_service
                 FROM root_access_keys WHERE secret_sealed IS NULL
                 ORDER BY 1",
                &[],
            )?
            .iter()
            .map(key_row)
            .collect()
        })
    }

    fn update_root_access_key(&self, key_id: &str, status: Status) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            let n = db.exec(
                "UPDATE root_access_keys SET status = $1 WHERE key_id = $2",
                &[&status.as_str(), &key_id],
            )?;
            found(n, || rules::no_such_access_key(key_id))
        })
    }

    fn delete_root_access_key(&self, key_id: &str) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            let n = db.exec("DELETE FROM root_access_keys WHERE key_id = $1", &[&key_id])?;
            found(n, || rules::no_such_access_key(key_id))
        })
    }
}
