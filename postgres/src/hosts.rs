//! Host tags and fleet mode in PostgreSQL: host credentials, the store version (in
//! commit order, migration 9) and a host's replica.

use super::*;
use pam_iam::store::replica::Replica;

impl HostStore for PgStore {
    fn tag_host(&self, host: &str, tags: &[Tag]) -> Result<()> {
        for t in tags {
            rules::check_tag(t)?;
        }
        self.write(Iso::Serializable, |db| {
            for t in tags {
                db.exec(
                    "INSERT INTO host_tags (host, key, value) VALUES ($1, $2, $3) ON CONFLICT (host, key) DO UPDATE SET value = excluded.value",
                    &[&host, &t.key, &t.value],
                )?;
            }
            let n = db.one("SELECT count(*) FROM host_tags WHERE host = $1", &[&host])?;
            rules::check_host_tag_count(g(&n, 0)?)
        })
    }

    fn untag_host(&self, host: &str, keys: &[String]) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            db.exec(
                "DELETE FROM host_tags WHERE host = $1 AND key = ANY($2::text[])",
                &[&host, &keys],
            )?;
            Ok(())
        })
    }

    fn list_host_tags(&self, host: &str) -> Result<Vec<Tag>> {
        self.read1(|db| {
            db.rows(
                "SELECT key, value FROM host_tags WHERE host = $1 ORDER BY key",
                &[&host],
            )?
            .iter()
            .map(|r| {
                Ok(Tag {
                    key: g(r, 0)?,
                    value: g(r, 1)?,
                })
            })
            .collect()
        })
    }

    fn create_host_credential(
        &self,
        host: &str,
        key_id: &str,
        secret_hash: &str,
        sealed: &[u8],
        now: i64,
    ) -> Result<HostCredential> {
        self.write(Iso::Serializable, |db| {
            if let Some(r) = db.opt(
                "SELECT key_id FROM host_credentials WHERE host = $1",
                &[&host],
            )? {
                let k: String = g(&r, 0)?;
                return Err(StoreError::EntityAlreadyExists(format!(
                    "Host {host} already has credentials ({k}); delete them first with iam delete-host-credentials --host-name {host}"
                )));
            }
            db.exec(
                "INSERT INTO host_credentials (host, key_id, secret_hash, secret_sealed, created) VALUES ($1, $2, $3, $4, $5)",
                &[&host, &key_id, &secret_hash, &sealed, &now],
            )?;
            Ok(HostCredential {
                host: host.to_string(),
                key_id: key_id.to_string(),
                created: now,
                last_used: None,
            })
        })
    }

    fn list_host_credentials(&self) -> Result<Vec<HostCredential>> {
        self.read1(|db| {
            db.rows(
                "SELECT host, key_id, created, last_used FROM host_credentials ORDER BY host",
                &[],
            )?
            .iter()
            .map(host_credential)
            .collect()
        })
    }

    fn delete_host_credential(&self, host: &str) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            let n = db.exec("DELETE FROM host_credentials WHERE host = $1", &[&host])?;
            found(n, || {
                StoreError::NoSuchEntity(format!("Host {host} has no credentials."))
            })
        })
    }

    fn host_credential(&self, key_id: &str) -> Result<(HostCredential, Vec<u8>)> {
        self.read1(|db| {
            match db.opt(
                "SELECT host, key_id, created, last_used, secret_sealed FROM host_credentials WHERE key_id = $1",
                &[&key_id],
            )? {
                Some(r) => Ok((host_credential(&r)?, g(&r, 4)?)),
                None => Err(StoreError::NoSuchEntity(format!(
                    "The host credential {key_id} does not exist."
                ))),
            }
        })
    }

    fn record_host_credential_use(&self, key_id: &str, now: i64) -> Result<()> {
        self.write(Iso::ReadCommitted, |db| {
            db.exec(
                "UPDATE host_credentials SET last_used = $2 WHERE key_id = $1",
                &[&key_id, &now],
            )?;
            Ok(())
        })
    }

    fn store_version(&self) -> Result<i64> {
        self.read1(|db| {
            let r = db.one(STORE_VERSION, &[])?;
            g(&r, 0)
        })
    }

    fn export_replica(&self, host: &str) -> Result<Replica> {
        self.read(|db| crate::fleet::export(db, &self.account_id, host))
    }

    fn import_replica(&self, r: &Replica) -> Result<()> {
        self.write(Iso::Serializable, |db| crate::fleet::import(db, r))
    }

    fn export_replica_since(
        &self,
        host: &str,
        held: Option<&pam_iam::store::replica::Held>,
    ) -> Result<pam_iam::store::replica::Pulled> {
        self.read(|db| crate::fleet::export_since(db, &self.account_id, host, held))
    }

    fn replica_mfa_device(&self, user: &str) -> Result<Option<ReplicaMfaDevice>> {
        self.read1(|db| {
            db.opt(
                "SELECT d.serial, d.enabled FROM replica_mfa_devices d JOIN users u ON u.pk = d.user_pk WHERE u.name = $1",
                &[&user],
            )?
            .map(|r| {
                Ok(ReplicaMfaDevice {
                    serial_number: g(&r, 0)?,
                    enable_date: g(&r, 1)?,
                })
            })
            .transpose()
        })
    }
}

/// The newest store version a statement's snapshot holds (migration 9).
pub(crate) const STORE_VERSION: &str =
    "SELECT coalesce(max(version), 0)::bigint FROM store_version";

fn host_credential(r: &postgres::Row) -> Result<HostCredential> {
    Ok(HostCredential {
        host: g(r, 0)?,
        key_id: g(r, 1)?,
        created: g(r, 2)?,
        last_used: g(r, 3)?,
    })
}
