//! Linux ids bound to IAM entities, for userdb (as SQLite: `space = 'uid'` for users and
//! groups alike, `name` = the entity's unique id; rows are never deleted).

use super::*;

const SPACE: &str = "uid";

fn id_of(v: i64) -> Result<u32> {
    u32::try_from(v)
        .map_err(|_| StoreError::Database(format!("stored Linux id {v} is out of range")))
}

impl LinuxIdStore for PgStore {
    fn allocate_id(&self, kind: IdSpace, name: &str, range: (u32, u32)) -> Result<u32> {
        let space = match kind {
            IdSpace::Uid => "uid",
            IdSpace::Gid => "gid",
        };
        let (lo, hi) = (i64::from(range.0), i64::from(range.1));
        self.write(Iso::Serializable, |db| {
            if let Some(r) = db.opt(
                "SELECT id FROM id_allocations WHERE space = $1 AND name = $2",
                &[&space, &name],
            )? {
                return id_of(g(&r, 0)?);
            }
            let r = db.one(
                "SELECT coalesce(max(id) + 1, $2) FROM id_allocations WHERE space = $1 AND id BETWEEN $2 AND $3",
                &[&space, &lo, &hi],
            )?;
            let next: i64 = g(&r, 0)?;
            let id = u32::try_from(next)
                .ok()
                .filter(|i| *i <= range.1)
                .ok_or_else(|| rules::ids_exhausted(space, range))?;
            db.exec(
                "INSERT INTO id_allocations (space, name, id) VALUES ($1, $2, $3)",
                &[&space, &name, &i64::from(id)],
            )?;
            Ok(id)
        })
    }

    fn linux_id(&self, entity_id: &str) -> Result<Option<u32>> {
        self.read1(|db| {
            match db.opt(
                "SELECT id FROM id_allocations WHERE space = $1 AND name = $2",
                &[&SPACE, &entity_id],
            )? {
                Some(r) => Ok(Some(id_of(g(&r, 0)?)?)),
                None => Ok(None),
            }
        })
    }

    fn linux_id_handed_out(&self, id: u32) -> Result<bool> {
        self.read1(|db| {
            let r = db.one(
                "SELECT EXISTS (SELECT 1 FROM id_allocations WHERE id = $1)",
                &[&i64::from(id)],
            )?;
            g(&r, 0)
        })
    }

    fn highest_linux_id(&self, range: (u32, u32)) -> Result<Option<u32>> {
        self.read1(|db| {
            let r = db.one(
                "SELECT max(id) FROM id_allocations WHERE id BETWEEN $1 AND $2",
                &[&i64::from(range.0), &i64::from(range.1)],
            )?;
            g::<Option<i64>>(&r, 0)?.map(id_of).transpose()
        })
    }

    fn bind_linux_id(&self, entity_id: &str, id: u32) -> Result<()> {
        self.write(Iso::Serializable, |db| {
            db.exec(
                "INSERT INTO id_allocations (space, name, id) VALUES ($1, $2, $3)",
                &[&SPACE, &entity_id, &i64::from(id)],
            )?;
            Ok(())
        })
    }
}
