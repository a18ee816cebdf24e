//! SSH public keys in PostgreSQL.

use super::*;

fn ssh_row(r: &postgres::Row) -> Result<SshKey> {
    let status: String = g(r, 4)?;
    Ok(SshKey {
        ssh_public_key_id: g(r, 0)?,
        user_name: g(r, 1)?,
        body: g(r, 2)?,
        fingerprint: g(r, 3)?,
        status: Status::parse(&status).unwrap_or(Status::Inactive),
        upload_date: g(r, 5)?,
    })
}

impl SshKeyStore for PgStore {
    fn upload_ssh_public_key(
        &self,
        user: &str,
        key_id: &str,
        body: &str,
        fingerprint: &str,
        now: i64,
    ) -> Result<SshKey> {
        self.write(Iso::Serializable, |db| {
            let pk = user_pk(db, user)?;
            if db
                .opt(
                    "SELECT 1 FROM ssh_keys WHERE user_pk = $1 AND fingerprint = $2",
                    &[&pk, &fingerprint],
                )?
                .is_some()
            {
                return Err(rules::duplicate_ssh_key());
            }
            rules::check_ssh_keys(count(db, "SELECT count(*) FROM ssh_keys WHERE user_pk = $1", pk)?)?;
            db.exec(
                "INSERT INTO ssh_keys (key_id, user_pk, body, fingerprint, status, uploaded) VALUES ($1, $2, $3, $4, 'Active', $5)",
                &[&key_id, &pk, &body, &fingerprint, &now],
            )?;
            Ok(SshKey {
                ssh_public_key_id: key_id.to_string(),
                user_name: user.to_string(),
                body: body.to_string(),
                fingerprint: fingerprint.to_string(),
                status: Status::Active,
                upload_date: now,
            })
        })
    }

    fn list_ssh_public_keys(&self, user: &str) -> Result<Vec<SshKey>> {
        self.read(|db| {
            let pk = user_pk(db, user)?;
            db.rows(
                "SELECT k.key_id, u.name, k.body, k.fingerprint, k.status, k.uploaded
                 FROM ssh_keys k JOIN users u ON u.pk = k.user_pk WHERE k.user_pk = $1 ORDER BY k.uploaded, k.key_id",
                &[&pk],
            )?
            .iter()
            .map(ssh_row)
            .collect()
        })
    }

    fn get_ssh_public_key(&self, user: &str, key_id: &str) -> Result<SshKey> {
        self.list_ssh_public_keys(user)?
            .into_iter()
            .find(|k| k.ssh_public_key_id == key_id)
            .ok_or_else(|| rules::no_such_ssh_key(key_id))
    }

    fn update_ssh_public_key(&self, user: &str, key_id: &str, status: Status) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            let pk = user_pk(db, user)?;
            let n = db.exec(
                "UPDATE ssh_keys SET status = $1 WHERE key_id = $2 AND user_pk = $3",
                &[&status.as_str(), &key_id, &pk],
            )?;
            found(n, || rules::no_such_ssh_key(key_id))
        })
    }

    fn delete_ssh_public_key(&self, user: &str, key_id: &str) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            let pk = user_pk(db, user)?;
            let n = db.exec(
                "DELETE FROM ssh_keys WHERE key_id = $1 AND user_pk = $2",
                &[&key_id, &pk],
            )?;
            found(n, || rules::no_such_ssh_key(key_id))
        })
    }
}
