//! Linux ids bound to IAM entities, for userdb.
//!
//! Uses the existing `id_allocations` table with `space = 'uid'` for users *and*
//! groups (one sequence: a user's personal group has gid = uid, so an IAM group can
//! never get a user's gid) and `name` = the entity's unique id (`AIDA…`, `AGPA…`), not
//! its name: a rename keeps the id, and a deleted-then-recreated user gets a new unique
//! id, hence a new uid. Rows are never deleted, so an id is never handed out twice.

use super::*;

const SPACE: &str = "uid";

impl LinuxIdStore for SqliteStore {
    fn allocate_id(&self, kind: IdSpace, name: &str, range: (u32, u32)) -> Result<u32> {
        let space = match kind {
            IdSpace::Uid => "uid",
            IdSpace::Gid => "gid",
        };
        self.write(|tx| {
            if let Some(id) = tx
                .query_row("SELECT id FROM id_allocations WHERE space = ?1 AND name = ?2", params![space, name], |r| r.get::<_, u32>(0))
                .optional()?
            {
                return Ok(id);
            }
            let next: i64 = tx.query_row(
                "SELECT coalesce(max(id) + 1, ?2) FROM id_allocations WHERE space = ?1 AND id BETWEEN ?2 AND ?3",
                params![space, range.0, range.1],
                |r| r.get(0),
            )?;
            let id = u32::try_from(next)
                .ok()
                .filter(|i| *i <= range.1)
                .ok_or_else(|| rules::ids_exhausted(space, range))?;
            tx.execute("INSERT INTO id_allocations (space, name, id) VALUES (?1, ?2, ?3)", params![space, name, id])?;
            Ok(id)
        })
    }

    fn linux_id(&self, entity_id: &str) -> Result<Option<u32>> {
        self.read(|tx| {
            Ok(tx
                .query_row(
                    "SELECT id FROM id_allocations WHERE space = ?1 AND name = ?2",
                    params![SPACE, entity_id],
                    |r| r.get::<_, u32>(0),
                )
                .optional()?)
        })
    }

    fn linux_id_handed_out(&self, id: u32) -> Result<bool> {
        self.read(|tx| {
            Ok(tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM id_allocations WHERE id = ?1)",
                params![id],
                |r| r.get(0),
            )?)
        })
    }

    fn highest_linux_id(&self, range: (u32, u32)) -> Result<Option<u32>> {
        self.read(|tx| {
            Ok(tx.query_row(
                "SELECT max(id) FROM id_allocations WHERE id BETWEEN ?1 AND ?2",
                params![range.0, range.1],
                |r| r.get(0),
            )?)
        })
    }

    fn bind_linux_id(&self, entity_id: &str, id: u32) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO id_allocations (space, name, id) VALUES (?1, ?2, ?3)",
                params![SPACE, entity_id, id],
            )?;
            Ok(())
        })
    }
}
