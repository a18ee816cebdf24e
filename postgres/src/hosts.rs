//! Host tags in PostgreSQL.

use super::*;

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
}
