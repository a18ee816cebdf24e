//! SSH public keys in SQLite.

use super::*;

pub(super) fn ssh_key_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SshKey> {
    let status: String = r.get(4)?;
    Ok(SshKey {
        ssh_public_key_id: r.get(0)?,
        user_name: r.get(1)?,
        body: r.get(2)?,
        fingerprint: r.get(3)?,
        status: Status::parse(&status).unwrap_or(Status::Inactive),
        upload_date: r.get(5)?,
    })
}

impl SshKeyStore for SqliteStore {
    fn upload_ssh_public_key(
        &self,
        user: &str,
        key_id: &str,
        body: &str,
        fingerprint: &str,
        now: i64,
    ) -> Result<SshKey> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            if tx
                .query_row("SELECT 1 FROM ssh_keys WHERE user_pk = ?1 AND fingerprint = ?2", params![pk, fingerprint], |_| Ok(()))
                .optional()?
                .is_some()
            {
                return Err(rules::duplicate_ssh_key());
            }
            rules::check_ssh_keys(count(tx, "SELECT count(*) FROM ssh_keys WHERE user_pk = ?1", pk)?)?;
            tx.execute(
                "INSERT INTO ssh_keys (key_id, user_pk, body, fingerprint, status, uploaded) VALUES (?1, ?2, ?3, ?4, 'Active', ?5)",
                params![key_id, pk, body, fingerprint, now],
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
        self.read(|tx| {
            let pk = user_pk(tx, user)?;
            let mut st = tx.prepare(
                "SELECT k.key_id, u.name, k.body, k.fingerprint, k.status, k.uploaded
                 FROM ssh_keys k JOIN users u ON u.pk = k.user_pk WHERE k.user_pk = ?1 ORDER BY k.uploaded, k.key_id",
            )?;
            let rows = st.query_map([pk], ssh_key_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn get_ssh_public_key(&self, user: &str, key_id: &str) -> Result<SshKey> {
        self.list_ssh_public_keys(user)?
            .into_iter()
            .find(|k| k.ssh_public_key_id == key_id)
            .ok_or_else(|| rules::no_such_ssh_key(key_id))
    }

    fn update_ssh_public_key(&self, user: &str, key_id: &str, status: Status) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            let changed = tx.execute(
                "UPDATE ssh_keys SET status = ?1 WHERE key_id = ?2 AND user_pk = ?3",
                params![status.as_str(), key_id, pk],
            )?;
            found(changed, || rules::no_such_ssh_key(key_id))
        })
    }

    fn delete_ssh_public_key(&self, user: &str, key_id: &str) -> Result<()> {
        self.write(|tx| {
            let pk = user_pk(tx, user)?;
            let changed = tx.execute(
                "DELETE FROM ssh_keys WHERE key_id = ?1 AND user_pk = ?2",
                params![key_id, pk],
            )?;
            found(changed, || rules::no_such_ssh_key(key_id))
        })
    }
}
