//! Host tags in SQLite.

use super::*;

impl HostStore for SqliteStore {
    fn tag_host(&self, host: &str, tags: &[Tag]) -> Result<()> {
        self.write(|tx| {
            for t in tags {
                rules::check_tag(t)?;
                tx.execute(
                    "INSERT INTO host_tags (host, key, value) VALUES (?1, ?2, ?3) ON CONFLICT DO UPDATE SET value = excluded.value",
                    params![host, t.key, t.value],
                )?;
            }
            let n: i64 = tx.query_row("SELECT count(*) FROM host_tags WHERE host = ?1", [host], |r| r.get(0))?;
            rules::check_host_tag_count(n)
        })
    }

    fn untag_host(&self, host: &str, keys: &[String]) -> Result<()> {
        self.write(|tx| {
            for k in keys {
                tx.execute(
                    "DELETE FROM host_tags WHERE host = ?1 AND key = ?2",
                    params![host, k],
                )?;
            }
            Ok(())
        })
    }

    fn list_host_tags(&self, host: &str) -> Result<Vec<Tag>> {
        self.read(|tx| {
            let mut st =
                tx.prepare("SELECT key, value FROM host_tags WHERE host = ?1 ORDER BY key")?;
            let rows = st.query_map([host], |r| {
                Ok(Tag {
                    key: r.get(0)?,
                    value: r.get(1)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
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
        self.fleet_create_credential(host, key_id, secret_hash, sealed, now)
    }

    fn list_host_credentials(&self) -> Result<Vec<HostCredential>> {
        self.fleet_list_credentials()
    }

    fn delete_host_credential(&self, host: &str) -> Result<()> {
        self.fleet_delete_credential(host)
    }

    fn host_credential(&self, key_id: &str) -> Result<(HostCredential, Vec<u8>)> {
        self.fleet_credential(key_id)
    }

    fn record_host_credential_use(&self, key_id: &str, now: i64) -> Result<()> {
        self.fleet_record_use(key_id, now)
    }

    fn store_version(&self) -> Result<i64> {
        self.fleet_store_version()
    }

    fn export_replica(&self, host: &str) -> Result<crate::store::replica::Replica> {
        self.fleet_export(host)
    }

    fn import_replica(&self, r: &crate::store::replica::Replica) -> Result<()> {
        self.fleet_import(r, None)
    }

    fn import_replica_of(
        &self,
        r: &crate::store::replica::Replica,
        store_id: &str,
        key_id: &str,
    ) -> Result<()> {
        self.fleet_import(r, Some((store_id, key_id)))
    }

    fn replica_origin(&self) -> Result<Option<crate::store::replica::ReplicaOrigin>> {
        self.fleet_origin()
    }

    fn export_replica_since(
        &self,
        host: &str,
        held: Option<&crate::store::replica::Held>,
    ) -> Result<crate::store::replica::Pulled> {
        self.fleet_export_since(host, held)
    }

    fn apply_replica_delta(&self, d: &crate::store::replica::ReplicaDelta) -> Result<()> {
        self.fleet_apply_delta(d)
    }

    fn replica_mfa_device(&self, user: &str) -> Result<Option<ReplicaMfaDevice>> {
        self.read(|tx| {
            Ok(tx
                .query_row(
                    "SELECT d.serial, d.enabled FROM replica_mfa_devices d JOIN users u ON u.pk = d.user_pk WHERE u.name = ?1",
                    [user],
                    |r| {
                        Ok(ReplicaMfaDevice {
                            serial_number: r.get(0)?,
                            enable_date: r.get(1)?,
                        })
                    },
                )
                .optional()?)
        })
    }
}
